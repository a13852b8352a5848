//! Allocation fault injection for the fuzzer's own task, through failslab and fail_page_alloc.
//!
//! Two ways to decide which allocation fails:
//!
//! - [`FaultMode::Random`]: the kernel decides. Both fault attributes get `task-filter` Y,
//!   `probability` P, `interval` 1, `times` -1, `space` 0, `verbose` 0 (so the kernel log stays
//!   quiet) and `ignore-gfp-wait` N (so that `GFP_KERNEL` allocations can fail), and the fuzzer
//!   sets its own `make-it-fail` around each call to the device only, so that nothing else it
//!   does (page faults, `malloc`, reading its binary over 9p) meets a failure. Not reproducible:
//!   the kernel's random choices differ from run to run.
//! - [`FaultMode::Seeded`]: the seed decides. Both attributes get `task-filter` Y, `probability`
//!   100 and `verbose` 0; before some calls (`--fault-rate` percent) the fuzzer writes a `space`
//!   (a budget of bytes the call may allocate before failures start) and a `times` (how many
//!   allocations in a row then fail), both drawn from the seed, and sets `make-it-fail` for that
//!   call. The allocations of a call do not depend on chance, so neither do the failures: a seed
//!   repeats its run, and a call that was not armed must never fail with `ENOMEM`.
//!   (`/proc/thread-self/fail-nth` would fail a single allocation only, which `kvmalloc` always
//!   survives by retrying.)
//!
//! Every debugfs setting changed is restored when the [`Faults`] is dropped.

use std::fs::{File, OpenOptions};
use std::io;
use std::io::Write;
use std::path::{Path, PathBuf};

use pathstore::Errno;

use crate::rng::Rng;

/// Where debugfs is mounted.
pub const DEBUGFS: &str = "/sys/kernel/debug";

/// The fault attributes used: slab allocations and page allocations.
pub const ATTRIBUTES: [&str; 2] = ["failslab", "fail_page_alloc"];

/// How failures are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultMode {
    /// The kernel fails each allocation of the task with a probability (`task-filter`).
    Random,
    /// The seed picks, for some calls, where failures start and how many allocations fail.
    Seeded,
}

/// Fault injection, set up for the current thread.
#[derive(Debug)]
pub struct Faults {
    mode: FaultMode,
    /// Seeded mode: percentage of calls armed.
    rate: u32,
    rng: Rng,
    make_it_fail: Option<File>,
    /// Seeded mode: the `space` and `times` files of each attribute.
    budgets: Vec<(File, File)>,
    /// Calls armed so far.
    armed: u64,
    /// Original contents of the debugfs files changed, in the order to restore them.
    saved: Vec<(PathBuf, String)>,
    /// What [`Faults::arm`] did for the call in progress (for the [`crate::abi_dev::Injector`]).
    pub(crate) pending: Option<Armed>,
}

/// What [`Faults::arm`] did for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Armed {
    /// Nothing: the call cannot meet an injected failure.
    No,
    /// `make-it-fail` is set: each allocation may fail.
    Random,
    /// `make-it-fail` is set, and failures start after `space` bytes, `times` in a row.
    Seeded {
        /// Bytes allocated before the first failure.
        space: u32,
        /// Allocations that fail.
        times: u32,
    },
}

/// Writes a setting to an open control file (debugfs attributes cannot seek: no `pwrite`).
fn write_at(mut file: &File, text: &str) -> io::Result<()> {
    // These writes allocate nothing, but retry an injected failure all the same.
    let mut tries = 0;
    loop {
        match file.write(text.as_bytes()) {
            Ok(_) => return Ok(()),
            Err(e) if Errno::from_io_error(&e) == Some(Errno::NOMEM) && tries < 100 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

fn read_setting(path: &Path) -> io::Result<String> {
    Ok(std::fs::read_to_string(path)?.trim().to_string())
}

fn write_setting(path: &Path, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl Faults {
    /// Sets fault injection up for the calling thread (which must be the only one calling the
    /// device). `probability` (percent) is the random mode's, `rate` (percent of calls armed)
    /// the seeded mode's; `seed` drives the seeded mode's choices.
    pub fn setup(mode: FaultMode, probability: u32, rate: u32, seed: u64) -> io::Result<Self> {
        let mut faults = Faults {
            mode,
            rate,
            rng: Rng::new(seed, 0xFA17),
            make_it_fail: None,
            budgets: Vec::new(),
            armed: 0,
            saved: Vec::new(),
            pending: None,
        };
        for attr in ATTRIBUTES {
            let dir = Path::new(DEBUGFS).join(attr);
            if !dir.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "{} missing: fault injection needs CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC \
                         and CONFIG_FAULT_INJECTION_DEBUG_FS, with debugfs mounted at {DEBUGFS}",
                        dir.display()
                    ),
                ));
            }
        }
        let (times, probability) = match mode {
            FaultMode::Random => ("-1".to_string(), probability.to_string()),
            // No failure until a call is armed with a budget.
            FaultMode::Seeded => ("0".to_string(), "100".to_string()),
        };
        // `probability` last, once the filter is in place.
        let settings: [(&str, String); 7] = [
            ("verbose", "0".into()),
            ("task-filter", "Y".into()),
            ("ignore-gfp-wait", "N".into()),
            ("interval", "1".into()),
            ("times", times),
            ("space", "0".into()),
            ("probability", probability),
        ];
        for attr in ATTRIBUTES {
            for (name, value) in &settings {
                let path = Path::new(DEBUGFS).join(attr).join(name);
                let old = read_setting(&path)?;
                // Restore in reverse order: `probability` first.
                faults.saved.insert(0, (path.clone(), old));
                write_setting(&path, value)?;
            }
        }
        let open = |path: PathBuf| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        };
        let file = open(Path::new("/proc/thread-self/make-it-fail").to_path_buf())?;
        write_at(&file, "0")?;
        faults.make_it_fail = Some(file);
        if mode == FaultMode::Seeded {
            for attr in ATTRIBUTES {
                let dir = Path::new(DEBUGFS).join(attr);
                faults
                    .budgets
                    .push((open(dir.join("space"))?, open(dir.join("times"))?));
            }
        }
        Ok(faults)
    }

    /// The mode in use.
    pub fn mode(&self) -> FaultMode {
        self.mode
    }

    /// Arms fault injection for the next call (the caller makes no other system call until
    /// [`Faults::disarm`]).
    pub fn arm(&mut self) -> io::Result<Armed> {
        let armed = match self.mode {
            FaultMode::Random => Armed::Random,
            FaultMode::Seeded => {
                if !self.rng.percent(self.rate) {
                    return Ok(Armed::No);
                }
                // Either fail from the very first allocation, or let roughly the first k
                // through: under the debug kernel each allocation is followed by one of
                // kmemleak's (232 bytes), so k times 260 bytes is about k allocations, whatever
                // their sizes.
                let space = if self.rng.percent(25) {
                    0
                } else {
                    let k = self.rng.range(0, 10) as u32;
                    k * 260 + self.rng.below(260) as u32
                };
                let times = match self.rng.weighted(&[50, 35, 15]) {
                    0 => 1,
                    1 => 2,
                    _ => self.rng.range(3, 6) as u32,
                };
                for (space_file, times_file) in &self.budgets {
                    write_at(space_file, &space.to_string())?;
                    write_at(times_file, &times.to_string())?;
                }
                Armed::Seeded { space, times }
            }
        };
        write_at(self.make_it_fail.as_ref().unwrap(), "1")?;
        Ok(armed)
    }

    /// Disarms after the call.
    pub fn disarm(&mut self, armed: Armed) -> io::Result<()> {
        if armed == Armed::No {
            return Ok(());
        }
        self.armed += 1;
        write_at(self.make_it_fail.as_ref().unwrap(), "0")?;
        for (_, times_file) in &self.budgets {
            write_at(times_file, "0")?;
        }
        Ok(())
    }

    /// Calls armed so far.
    pub fn armed(&self) -> u64 {
        self.armed
    }

    /// Turns injection off and puts every debugfs setting back (also done on drop).
    pub fn restore(&mut self) {
        if let Some(file) = self.make_it_fail.take() {
            let _ = write_at(&file, "0");
        }
        for (_, times_file) in self.budgets.drain(..) {
            let _ = write_at(&times_file, "0");
        }
        for (path, old) in self.saved.drain(..) {
            if let Err(e) = write_setting(&path, &old) {
                eprintln!("fuzz: could not restore {}: {e}", path.display());
            }
        }
    }
}

impl Drop for Faults {
    fn drop(&mut self) {
        self.restore();
    }
}
