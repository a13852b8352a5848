//! Runs the plan: for each store, fills every backend in turn, measures the workloads on it and
//! empties it again.
//!
//! A measurement first calibrates (see `Meter::calibrate`): batches of 1, 4, 16, ... operations,
//! which also warm up, tell how many operations make one run last about the target (a few ms:
//! short runs keep most of them clear of the host descheduling the VM). It then times that many
//! operations `reps` times, on fresh random keys each time, and reports the median.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::backend::{
    context, Backend, KeyringBackend, PathstoreBackend, TmpfsBackend, BATCH_GETS, BATCH_WORKLOAD,
    LIST_BUF,
};
use crate::clock;
use crate::layout::{Layout, Rng, LEAF_KEYS};
use crate::memory::{self, Delta, Snapshot};
use crate::results::{
    figures, targets, Env, Measurement, MemoryResult, Results, Setup, Skip, StoreResult, StoreSpec,
    SCHEMA,
};

/// How a run is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// The pathstore device.
    pub device: PathBuf,
    /// Directory (on tmpfs) for the tmpfs backend.
    pub tmpfs_dir: PathBuf,
    /// The reduced set.
    pub quick: bool,
    /// Runs per measurement.
    pub reps: u32,
    /// Target length of one run, in milliseconds.
    pub target_ms: u64,
    /// Most operations in one run.
    pub max_ops: usize,
    /// Backends to run (`pathstore`, `tmpfs`, `keyring`).
    pub backends: Vec<String>,
    /// Only stores whose id contains one of these strings (all when empty).
    pub only: Vec<String>,
    /// Fraction of `MemAvailable` a store may be estimated to take.
    pub mem_fraction: f64,
    /// The TSC's rate measured on the host, GHz.
    pub tsc_ghz: Option<f64>,
    /// The host's load average when the run started, as the host reported it.
    pub host_loadavg: Option<String>,
    /// The host's CPU count, as the host reported it.
    pub host_cpus: Option<u32>,
}

/// The stores of a run, in order.
pub fn plan(quick: bool) -> Vec<StoreSpec> {
    let spec = |depth, keys, value| StoreSpec { depth, keys, value };
    if quick {
        return vec![
            spec(1, 1000, 256),
            spec(8, 1000, 256),
            spec(4, 100_000, 256),
            spec(1, 1_000_000, 256),
        ];
    }
    let mut out = Vec::new();
    for keys in [1000, 100_000, 1_000_000] {
        for depth in [1, 4, 8] {
            if depth == 4 && keys != 100_000 {
                continue;
            }
            for value in [16, 256, 4096] {
                out.push(spec(depth, keys, value));
            }
        }
    }
    out
}

/// Prints one progress line (the guest's stdout is the host's terminal).
fn say(line: impl AsRef<str>) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "[bench] {}", line.as_ref());
    let _ = out.flush();
}

/// `1.23 µs` style latency: three significant digits.
pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = match ns {
        n if !n.is_finite() => return "–".to_string(),
        n if n < 1e3 => return format!("{n:.0} ns"),
        n if n < 1e6 => (n / 1e3, "µs"),
        n if n < 1e9 => (n / 1e6, "ms"),
        n => (n / 1e9, "s"),
    };
    let decimals = if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.decimals$} {unit}")
}

/// `812k/s` style throughput.
pub fn fmt_rate(ops: f64) -> String {
    if !ops.is_finite() {
        "–".to_string()
    } else if ops >= 1e6 {
        format!("{:.2}M/s", ops / 1e6)
    } else if ops >= 1e3 {
        format!("{:.0}k/s", ops / 1e3)
    } else {
        format!("{ops:.1}/s")
    }
}

fn median(samples: &[f64]) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Times one batch of operations, in ns.
fn time(mut batch: impl FnMut() -> io::Result<()>) -> io::Result<f64> {
    let start = clock::now_ns();
    batch()?;
    Ok(clock::now_ns() - start)
}

/// Most runs of an operation that alone lasts longer than a run.
const SLOW_REPS: u32 = 5;

/// Most runs of a two-thread measurement (each runs both threads).
const TWO_THREAD_REPS: u32 = 11;

/// How many times one reader's run length each thread of a two-thread run lasts.
const TWO_THREAD_LENGTH: usize = 4;

/// The measuring machinery shared by all workloads.
struct Meter {
    reps: u32,
    target_ns: f64,
    max_ops: usize,
}

impl Meter {
    /// How many operations make one run last about the target, and how many runs to do:
    /// `trial(n)` runs `n` operations and returns the ns they took. Batches of 1, 4, 16, ...
    /// operations run (warming up) until one lasts an eighth of the target and all together half
    /// of it; the batch that gets there is run once more, and the fastest batch per operation
    /// sets the count, so that one batch slowed down by the host (or a cold first call) does
    /// not. Operations that alone last longer than a run (listing a huge directory) get at most
    /// [`SLOW_REPS`] runs.
    fn calibrate(
        &self,
        mut trial: impl FnMut(usize) -> io::Result<f64>,
    ) -> io::Result<(usize, u32)> {
        let mut n = 1;
        let (mut spent, mut per_op) = (0.0, f64::INFINITY);
        let mut long_enough = 0;
        loop {
            let t = trial(n)?;
            spent += t;
            per_op = per_op.min((t / n as f64).max(1.0));
            let enough = t >= self.target_ns / 8.0 && spent >= self.target_ns / 2.0;
            long_enough += u32::from(enough);
            if long_enough >= 2 || n >= self.max_ops {
                let ops = ((self.target_ns / per_op) as usize).clamp(1, self.max_ops);
                let reps = if per_op > self.target_ns {
                    self.reps.min(SLOW_REPS)
                } else {
                    self.reps
                };
                return Ok((ops, reps));
            }
            if !enough {
                n = (n * 4).min(self.max_ops);
            }
        }
    }

    fn finish(
        backend: &str,
        workload: &str,
        threads: u32,
        n: usize,
        samples: Vec<f64>,
        rates: Vec<f64>,
    ) -> Measurement {
        Measurement {
            backend: backend.to_string(),
            workload: workload.to_string(),
            threads,
            ops_per_rep: n as u64,
            ns_per_op: median(&samples),
            ops_per_s: median(&rates),
            samples_ns_per_op: samples,
        }
    }

    /// A single-thread workload: `keys(n)` makes the operands of `n` operations (untimed),
    /// `op` is one operation.
    fn simple(
        &self,
        backend: &str,
        workload: &str,
        mut keys: impl FnMut(usize) -> Vec<Vec<u8>>,
        mut op: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Measurement> {
        let mut run = |ks: &[Vec<u8>]| time(|| ks.iter().try_for_each(|k| op(k)));
        let (n, reps) = self.calibrate(|n| run(&keys(n)))?;
        let mut samples = Vec::new();
        for _ in 0..reps {
            let ks = keys(n);
            samples.push(run(&ks)? / n as f64);
        }
        let rates = samples.iter().map(|ns| 1e9 / ns).collect();
        Ok(Self::finish(backend, workload, 1, n, samples, rates))
    }

    /// Two threads at once, thread `t` on the operands `keys(t, n)`. Reports the latency each
    /// thread saw and the total throughput.
    fn two_threads<O>(
        &self,
        backend: &str,
        workload: &str,
        n: usize,
        mut keys: impl FnMut(u64, usize) -> Vec<Vec<u8>>,
        op: O,
    ) -> io::Result<Measurement>
    where
        O: Fn(&[u8], &mut Vec<u8>) -> io::Result<()> + Sync,
    {
        let mut samples = Vec::new();
        let mut rates = Vec::new();
        // One unmeasured round warms both threads up.
        for rep in 0..=self.reps.min(TWO_THREAD_REPS) {
            let per_thread = [keys(0, n), keys(1, n)];
            let barrier = Barrier::new(2);
            let spans = std::thread::scope(|scope| {
                let handles: Vec<_> = per_thread
                    .iter()
                    .map(|ks| {
                        let (barrier, op) = (&barrier, &op);
                        scope.spawn(move || -> io::Result<(f64, f64)> {
                            let mut buf = vec![0u8; LIST_BUF];
                            barrier.wait();
                            let start = clock::now_ns();
                            for k in ks {
                                op(k, &mut buf)?;
                            }
                            Ok((start, clock::now_ns()))
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("benchmark thread panicked"))
                    .collect::<io::Result<Vec<_>>>()
            })?;
            if rep == 0 {
                continue;
            }
            let first = spans.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
            let last = spans.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
            let mean_ns = spans.iter().map(|(a, b)| b - a).sum::<f64>() / spans.len() as f64;
            samples.push(mean_ns / n as f64);
            rates.push(2.0 * n as f64 * 1e9 / (last - first));
        }
        Ok(Self::finish(backend, workload, 2, n, samples, rates))
    }
}

/// Rough memory a backend needs for a store, in bytes, for deciding what fits.
fn estimate_bytes(backend: &str, layout: &Layout, value: usize) -> u64 {
    let kmalloc = |n: usize| -> u64 {
        match n {
            0..=8 => 8,
            9..=16 => 16,
            17..=32 => 32,
            33..=64 => 64,
            65..=96 => 96,
            97..=128 => 128,
            129..=192 => 192,
            _ => n.next_power_of_two() as u64,
        }
    };
    let (keys, dirs) = (layout.keys, layout.dir_count());
    match backend {
        "pathstore" => keys * (kmalloc(value) + 200) + dirs * 200,
        "tmpfs" => keys * ((value as u64).div_ceil(4096) * 4096 + 1200) + dirs * 1200,
        _ => keys * (kmalloc(value + 24) + 700),
    }
}

/// Why a backend cannot hold a store, if it cannot.
fn does_not_fit(
    backend: &dyn Backend,
    opts: &Options,
    layout: &Layout,
    spec: &StoreSpec,
    ps_limits: (u64, u64),
    tmpfs_dir: &std::path::Path,
) -> Option<String> {
    let available = Snapshot::take().meminfo("MemAvailable");
    let need = estimate_bytes(backend.name(), layout, spec.value);
    let budget = (available as f64 * opts.mem_fraction) as u64;
    if need > budget {
        return Some(format!(
            "needs about {} MiB of kernel memory; {:.0}% of MemAvailable is {} MiB",
            need >> 20,
            opts.mem_fraction * 100.0,
            budget >> 20
        ));
    }
    match backend.name() {
        "pathstore" => {
            let nodes = layout.keys + layout.dir_count() + 1;
            let digits = (layout.keys.max(1) as f64).log10().ceil() as u64 + 1;
            let bytes = layout.keys * (spec.value as u64 + digits) + layout.dir_count() * 3;
            let (max_nodes, max_bytes) = ps_limits;
            if nodes > max_nodes || bytes > max_bytes {
                return Some(format!(
                    "needs max_nodes ≥ {nodes} and max_bytes ≥ {bytes}; the module has \
                     max_nodes={max_nodes} max_bytes={max_bytes}"
                ));
            }
        }
        "tmpfs" => {
            if let Ok(st) = rustix::fs::statvfs(tmpfs_dir) {
                let files = layout.keys + layout.dir_count() + 64;
                let blocks = layout.keys * (spec.value as u64).div_ceil(st.f_bsize.max(1));
                if st.f_favail < files || st.f_bavail < blocks {
                    return Some(format!(
                        "{} has {} free inodes and {} MiB free; the store needs {files} inodes \
                         and {} MiB",
                        tmpfs_dir.display(),
                        st.f_favail,
                        (st.f_bavail * st.f_bsize) >> 20,
                        (blocks * st.f_bsize) >> 20
                    ));
                }
            }
        }
        _ => {}
    }
    None
}

/// Why a backend sits out a store for the sake of the run's length, if it does. Filling a
/// 1M-key store takes about a minute for the keyring (whose garbage collector then needs about
/// as long again), so only one such store has it; QUICK has pathstore alone there, and the
/// keyring on the 1k-key stores only.
fn left_out(quick: bool, spec: &StoreSpec, backend: &str) -> Option<String> {
    if quick && backend == "keyring" && spec.keys > 1000 {
        return Some("QUICK: the keyring fills the 1k-key stores only".to_string());
    }
    if spec.keys < 1_000_000 || backend == "pathstore" {
        return None;
    }
    if quick {
        return Some("QUICK: only pathstore fills a 1M-key store".to_string());
    }
    (backend == "keyring" && !(spec.depth == 1 && spec.value == 16)).then(|| {
        "the keyring fills one 1M-key store only (flat, 16 B), to keep the run short".to_string()
    })
}

/// Waits (up to 10 s) for memory freed by the last clear to come back: inodes, dentries and keys
/// are freed after an RCU grace period or by a work item, which would otherwise be counted
/// against the next store. Done when slab usage (with the CPUs' slabs flushed) moves by less than
/// 32 KiB in 200 ms.
fn settle() {
    let deadline = Instant::now() + Duration::from_secs(10);
    memory::flush_slabs();
    let mut last = Snapshot::take().slab_active;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        memory::flush_slabs();
        let now = Snapshot::take().slab_active;
        if now.abs_diff(last) < 32 << 10 {
            break;
        }
        last = now;
    }
}

/// Raises root's key quotas so that the keyring can hold a 100k-key store.
fn raise_key_quota() {
    for (file, value) in [
        ("/proc/sys/kernel/keys/root_maxkeys", "4000000"),
        ("/proc/sys/kernel/keys/root_maxbytes", "2000000000"),
    ] {
        if let Err(e) = std::fs::write(file, value) {
            say(format!("could not raise {file}: {e}"));
        }
    }
}

/// Number of CPUs online (from `/sys/devices/system/cpu/online`, e.g. `0-1`).
fn cpus_online() -> u32 {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let count = text
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|range| match range.split_once('-') {
            Some((a, b)) => b.parse::<u32>().unwrap_or(0) + 1 - a.parse::<u32>().unwrap_or(0),
            None => 1,
        })
        .sum::<u32>();
    if count > 0 {
        count
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
    }
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Runs everything and returns the results (figures and targets filled in).
pub fn run(opts: &Options) -> io::Result<Results> {
    let clock = clock::init(Duration::from_millis(1000), opts.tsc_ghz);
    let started_ns = clock::now_ns();
    say(format!("clock: {}", clock.description));
    let ps = PathstoreBackend::open(&opts.device)?;
    let version = ps.store().version().map_err(|e| {
        context(
            io::Error::from_raw_os_error(e.errno().raw_os_error()),
            "version",
        )
    })?;
    let stats = ps.store().store_stats().map_err(|e| {
        context(
            io::Error::from_raw_os_error(e.errno().raw_os_error()),
            "stats",
        )
    })?;
    let want = |name: &str| opts.backends.iter().any(|b| b == name);
    let tmpfs = if want("tmpfs") {
        Some(TmpfsBackend::new(&opts.tmpfs_dir)?)
    } else {
        None
    };
    let keyring = if want("keyring") {
        raise_key_quota();
        Some(KeyringBackend::new(c"pathstore-bench").map_err(|e| context(e, "add_key keyring"))?)
    } else {
        None
    };
    let snapshot = Snapshot::take();
    let mv = version.module_version;
    let env = Env {
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        cpus_online: cpus_online(),
        mem_total: snapshot.meminfo("MemTotal"),
        module_version: format!(
            "{}.{}.{} (ABI {})",
            mv >> 16,
            (mv >> 8) & 0xff,
            mv & 0xff,
            version.abi_version
        ),
        max_nodes: stats.max_nodes,
        max_bytes: stats.max_bytes,
        tmpfs_dir: opts.tmpfs_dir.display().to_string(),
        tmpfs_is_tmpfs: tmpfs.as_ref().is_some_and(TmpfsBackend::is_tmpfs),
        reps: opts.reps,
        target_ms: opts.target_ms,
        slab_source: snapshot.slab_source.clone(),
        clock: clock.description,
        clock_drift: 0.0,
        host_loadavg: opts.host_loadavg.clone().unwrap_or_default(),
        host_cpus: opts.host_cpus.unwrap_or(0),
    };
    say(format!(
        "kernel {}, {} CPU(s) online, {} MiB RAM, module {}, max_nodes={} max_bytes={}, slab \
         figures from {}",
        env.kernel,
        env.cpus_online,
        env.mem_total >> 20,
        env.module_version,
        env.max_nodes,
        env.max_bytes,
        env.slab_source
    ));
    if tmpfs.is_some() && !env.tmpfs_is_tmpfs {
        say(format!("warning: {} is not on tmpfs", env.tmpfs_dir));
    }

    let meter = Meter {
        reps: opts.reps,
        target_ns: opts.target_ms as f64 * 1e6,
        max_ops: opts.max_ops,
    };
    let mut results = Results {
        schema: SCHEMA,
        started_utc: utc_now(),
        quick: opts.quick,
        env,
        ..Default::default()
    };
    if results.env.cpus_online < 2 {
        results.skipped.push(Skip {
            reason: format!(
                "the guest has {} CPU online: two-thread workloads run, but the threads take \
                 turns on one CPU, so they show contention costs, not scaling",
                results.env.cpus_online
            ),
            workload: "get_2t_*".to_string(),
            ..Default::default()
        });
    }

    // Start from an empty store.
    ps.clear()?;
    results.floor = measure_floor(&meter, &ps)?;

    let mut backends: Vec<&dyn Backend> = Vec::new();
    if want("pathstore") {
        backends.push(&ps);
    }
    if let Some(t) = &tmpfs {
        backends.push(t);
    }
    if let Some(k) = &keyring {
        backends.push(k);
    }

    let mut rng = Rng::new(0x5eed);
    let mut tag = 0u64;
    for spec in plan(opts.quick) {
        let id = spec.id();
        if !opts.only.is_empty() && !opts.only.iter().any(|o| id.contains(o.as_str())) {
            continue;
        }
        let layout = Layout::new(spec.keys, spec.depth);
        say(format!(
            "store {id}: {} keys, depth {}, fanout {}, {} directories",
            spec.keys,
            spec.depth,
            layout.fanout,
            layout.dir_count()
        ));
        let mut store = StoreResult {
            spec,
            fanout: layout.fanout,
            dirs: layout.dir_count(),
            ..Default::default()
        };
        store.measurements.extend(measure_floor(&meter, &ps)?);
        let value: Vec<u8> = (0..spec.value).map(|i| b'a' + (i % 26) as u8).collect();
        for &b in &backends {
            let skip = does_not_fit(
                b,
                opts,
                &layout,
                &spec,
                (stats.max_nodes, stats.max_bytes),
                &opts.tmpfs_dir,
            )
            .or_else(|| left_out(opts.quick, &spec, b.name()));
            if let Some(reason) = skip {
                say(format!("  {}: skipped: {reason}", b.name()));
                results.skipped.push(Skip {
                    store: id.clone(),
                    backend: b.name().to_string(),
                    workload: String::new(),
                    reason,
                });
                continue;
            }
            settle();
            let before = Snapshot::take();
            let ps_before = ps.store().store_stats().ok();
            let populate = time(|| b.populate(&layout, &value))
                .map_err(|e| context(e, format!("{} populate {id}", b.name())))?;
            memory::flush_slabs();
            let after = Snapshot::take();
            let ps_after = ps.store().store_stats().ok();
            let mut mem = MemoryResult {
                backend: b.name().to_string(),
                keys: spec.keys,
                delta: Delta::between(&before, &after),
                ..Default::default()
            };
            if b.name() == "pathstore" {
                if let (Some(a), Some(z)) = (ps_before, ps_after) {
                    mem.module_nodes = z.nodes - a.nodes;
                    mem.module_bytes = z.bytes - a.bytes;
                }
            }
            say(format!(
                "  {}: populated in {:.1} s; slab {:+.0} B/key, MemAvailable {:+.0} B/key{}",
                b.name(),
                populate / 1e9,
                mem.delta.slab_active as f64 / spec.keys as f64,
                -(mem.delta.mem_available_used as f64) / spec.keys as f64,
                if b.name() == "pathstore" {
                    format!(
                        ", module: {:.2} nodes/key, {:.1} B/key names+values",
                        mem.module_nodes as f64 / spec.keys as f64,
                        mem.module_bytes as f64 / spec.keys as f64
                    )
                } else {
                    String::new()
                }
            ));
            store.memory.push(mem);

            let ms = workloads(
                &meter,
                b,
                &layout,
                &value,
                &mut rng,
                &mut tag,
                &mut results.skipped,
                &id,
            )
            .map_err(|e| context(e, format!("{} on {id}", b.name())))?;
            for m in &ms {
                say(format!(
                    "  {:9} {:16} {:>10}/op  {:>10}",
                    m.backend,
                    m.workload,
                    fmt_ns(m.ns_per_op),
                    fmt_rate(m.ops_per_s)
                ));
            }
            store.measurements.extend(ms);
            let clear =
                time(|| b.clear()).map_err(|e| context(e, format!("{} clear", b.name())))?;
            store.setup.push(Setup {
                backend: b.name().to_string(),
                populate_s: populate / 1e9,
                clear_s: clear / 1e9,
            });
        }
        results.stores.push(store);
    }
    results.env.clock_drift = clock::drift(Duration::from_millis(1000));
    say(format!(
        "guest CLOCK_MONOTONIC against the TSC at the end: {:+.2}%",
        results.env.clock_drift * 100.0
    ));
    results.duration_s = (clock::now_ns() - started_ns) / 1e9;
    results.figures = figures(&results);
    results.targets = targets(&results);
    Ok(results)
}

/// The floor with one thread and with two.
fn measure_floor(meter: &Meter, ps: &PathstoreBackend) -> io::Result<Vec<Measurement>> {
    let one = meter.simple(
        "floor",
        "version",
        |n| vec![Vec::new(); n],
        |_| ps.version(),
    )?;
    let two = meter.two_threads(
        "floor",
        "version_2t",
        one.ops_per_rep as usize * TWO_THREAD_LENGTH,
        |_, n| vec![Vec::new(); n],
        |_, _| ps.version(),
    )?;
    Ok(vec![one, two])
}

/// Every workload of one backend on its populated store.
#[allow(clippy::too_many_arguments)]
fn workloads(
    meter: &Meter,
    b: &dyn Backend,
    layout: &Layout,
    value: &[u8],
    rng: &mut Rng,
    tag: &mut u64,
    skipped: &mut Vec<Skip>,
    id: &str,
) -> io::Result<Vec<Measurement>> {
    let name = b.name();
    let keys = layout.keys;
    let vlen = value.len();
    let mut out = Vec::new();
    let mut buf = vec![0u8; LIST_BUF];
    let rng_cell = std::cell::RefCell::new(rng);
    let random_keys = |n: usize| -> Vec<Vec<u8>> {
        let mut rng = rng_cell.borrow_mut();
        (0..n)
            .map(|_| b.key(&layout.key_path(rng.below(keys))))
            .collect()
    };
    let wrong_len = || io::Error::new(io::ErrorKind::InvalidData, "get returned a wrong length");

    // get
    let get = meter.simple(name, "get", random_keys, |k| {
        if b.get(k, &mut buf)? == vlen {
            Ok(())
        } else {
            Err(wrong_len())
        }
    })?;
    let get_n = get.ops_per_rep as usize;
    out.push(get);

    // set (replace), with a value of the same size that differs from the stored one
    let mut other = value.to_vec();
    if let Some(first) = other.first_mut() {
        *first = b'Z';
    }
    out.push(meter.simple(name, "set", random_keys, |k| b.set(k, &other))?);

    // create, then delete the same keys: new names in the directories of random keys
    let fresh_keys = |n: usize| -> Vec<Vec<u8>> {
        let mut rng = rng_cell.borrow_mut();
        (0..n)
            .map(|_| {
                *tag += 1;
                b.key(&layout.new_key_path(rng.below(keys), *tag))
            })
            .collect()
    };
    let fresh = std::cell::RefCell::new(fresh_keys);
    let create_delete = |ks: &[Vec<u8>]| -> io::Result<(f64, f64)> {
        let c = time(|| ks.iter().try_for_each(|k| b.create(k, value)))?;
        let d = time(|| ks.iter().try_for_each(|k| b.delete(k)))?;
        Ok((c, d))
    };
    let (n, reps) = meter.calibrate(|n| {
        let ks = (fresh.borrow_mut())(n);
        create_delete(&ks).map(|(c, d)| (c + d) / 2.0)
    })?;
    let (mut cs, mut ds) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let ks = (fresh.borrow_mut())(n);
        let (c, d) = create_delete(&ks)?;
        cs.push(c / n as f64);
        ds.push(d / n as f64);
    }
    let rates = |s: &[f64]| s.iter().map(|ns| 1e9 / ns).collect::<Vec<_>>();
    out.push(Meter::finish(name, "create", 1, n, cs.clone(), rates(&cs)));
    out.push(Meter::finish(name, "delete", 1, n, ds.clone(), rates(&ds)));

    // list the children of the directory of a random key
    if let Some(reason) = b.unsupported("list", layout) {
        skipped.push(Skip {
            store: id.to_string(),
            backend: name.to_string(),
            workload: "list".to_string(),
            reason,
        });
    } else {
        // A flat store lists every key; a leaf directory holds 1 to LEAF_KEYS keys.
        let (least, most) = if layout.is_flat() {
            (keys, keys)
        } else {
            (1, LEAF_KEYS)
        };
        let random_dirs = |n: usize| -> Vec<Vec<u8>> {
            let mut rng = rng_cell.borrow_mut();
            (0..n)
                .map(|_| b.key(&layout.dir_of(rng.below(keys))))
                .collect()
        };
        out.push(meter.simple(name, "list", random_dirs, |k| {
            let count = b.list(k, &mut buf)? as u64;
            if !(least..=most).contains(&count) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("list returned {count} children"),
                ));
            }
            Ok(())
        })?);
    }

    // 64 random keys in one batched call (per call), where the backend has one
    if let Some(reason) = b.unsupported(BATCH_WORKLOAD, layout) {
        skipped.push(Skip {
            store: id.to_string(),
            backend: name.to_string(),
            workload: BATCH_WORKLOAD.to_string(),
            reason,
        });
    } else {
        let mut bufs = vec![vec![0u8; vlen.max(1)]; BATCH_GETS];
        let mut run = |calls: &[Vec<Vec<u8>>]| {
            let mut slices: Vec<&mut [u8]> = bufs.iter_mut().map(Vec::as_mut_slice).collect();
            time(|| {
                calls.iter().try_for_each(|ks| {
                    let lens = b.get_batch(ks, &mut slices)?;
                    if lens.len() == ks.len() && lens.iter().all(|&len| len == vlen) {
                        Ok(())
                    } else {
                        Err(wrong_len())
                    }
                })
            })
        };
        let calls =
            |n: usize| -> Vec<Vec<Vec<u8>>> { (0..n).map(|_| random_keys(BATCH_GETS)).collect() };
        let (n, reps) = meter.calibrate(|n| run(&calls(n)))?;
        let mut samples = Vec::new();
        for _ in 0..reps {
            let cs = calls(n);
            samples.push(run(&cs)? / n as f64);
        }
        let rates = samples.iter().map(|ns| 1e9 / ns).collect();
        out.push(Meter::finish(name, BATCH_WORKLOAD, 1, n, samples, rates));
    }

    // two readers, on disjoint subtrees (0 and 1) and on a shared one (0)
    let subtree_keys = |subtree: u64, n: usize| -> Vec<Vec<u8>> {
        let mut rng = rng_cell.borrow_mut();
        (0..n)
            .map(|_| loop {
                let i = rng.below(keys);
                if layout.subtree_of(i) == subtree {
                    break b.key(&layout.key_path(i));
                }
            })
            .collect()
    };
    let read = |k: &[u8], buf: &mut Vec<u8>| {
        if b.get(k, buf)? == vlen {
            Ok(())
        } else {
            Err(wrong_len())
        }
    };
    // Each thread runs four times as long as one reader's run, so that waking the second
    // thread is a small part of it.
    let n2 = get_n * TWO_THREAD_LENGTH;
    out.push(meter.two_threads(name, "get_2t_disjoint", n2, subtree_keys, read)?);
    out.push(meter.two_threads(name, "get_2t_shared", n2, |_, n| subtree_keys(0, n), read)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_ns(850.0), "850 ns");
        assert_eq!(fmt_ns(1234.0), "1.23 µs");
        assert_eq!(fmt_ns(12345.0), "12.3 µs");
        assert_eq!(fmt_ns(123_456.0), "123 µs");
        assert_eq!(fmt_ns(2_500_000.0), "2.50 ms");
        assert_eq!(fmt_rate(812_345.0), "812k/s");
        assert_eq!(fmt_rate(1_500_000.0), "1.50M/s");
        assert_eq!(fmt_rate(12.0), "12.0/s");
    }

    #[test]
    fn utc_format() {
        let now = utc_now();
        assert_eq!(now.len(), 20);
        assert!(now.starts_with("20"));
        assert!(now.ends_with('Z'));
    }

    #[test]
    fn plans() {
        let full = plan(false);
        assert_eq!(full.len(), 21);
        assert!(full.contains(&crate::results::REFERENCE));
        let quick = plan(true);
        assert!(quick.contains(&crate::results::REFERENCE));
        assert!(quick.len() < full.len());
    }

    #[test]
    fn estimates_rule_out_the_largest_stores() {
        let big = Layout::new(1_000_000, 1);
        assert!(estimate_bytes("pathstore", &big, 4096) > 4 << 30);
        assert!(estimate_bytes("pathstore", &big, 256) < 600 << 20);
        assert!(estimate_bytes("tmpfs", &big, 16) > 4 << 30);
    }

    #[test]
    fn meter_calibrates_to_the_target() {
        let meter = Meter {
            reps: 3,
            target_ns: 1e6,
            max_ops: 1 << 20,
        };
        // 1 µs per operation: a 1 ms run is 1000 operations.
        let (n, reps) = meter.calibrate(|n| Ok(n as f64 * 1000.0)).unwrap();
        assert_eq!((n, reps), (1000, 3));
        // 10 ms per operation: one per run, and few runs.
        let slow = Meter { reps: 21, ..meter };
        assert_eq!(
            slow.calibrate(|n| Ok(n as f64 * 1e7)).unwrap(),
            (1, SLOW_REPS)
        );
        // A first call that the host stalls for 20 ms does not make a 1 µs operation "slow".
        let mut calls = 0;
        let stalled_first = meter
            .calibrate(|n| {
                calls += 1;
                Ok(n as f64 * 1000.0 + if calls == 1 { 2e7 } else { 0.0 })
            })
            .unwrap();
        assert_eq!(stalled_first, (1000, 3));
        let m = meter
            .simple("x", "noop", |n| vec![Vec::new(); n], |_| Ok(()))
            .unwrap();
        assert_eq!(m.samples_ns_per_op.len(), 3);
        assert!(m.ops_per_s > 0.0);
    }
}
