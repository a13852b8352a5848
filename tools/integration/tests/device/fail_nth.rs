//! Allocation failures injected into one text command at a time, as syzkaller's fail-nth does:
//! for each command that changes the store, fail its 1st, 2nd, 3rd... allocation through
//! `/proc/thread-self/fail-nth` until it runs without meeting the failure. A command that failed
//! with `ENOMEM` must have left the store exactly as it was (its statistics, sequence number
//! included, and every node of the subtree it works in); one that succeeded all the same (the
//! kernel absorbed the failure) must have done what it does without one.
//!
//! Each command is swept twice: once failing the n-th allocation only, once failing the n-th and
//! every slab allocation after it (fail-from-nth). The second pass matters where the kernel has
//! a fallback: a `kvmalloc` whose `kmalloc` fails tries `vmalloc`, which then succeeds unless it
//! fails too, so a single failure there is absorbed and the error path behind it never runs.
//!
//! The fuzzer's `--mode fail-nth` sweeps every kind of call in the full tier; this test keeps the
//! text commands, whose response is built after the change (and must be allocated before it),
//! in the fast tier too. It needs the debug kernel's fault injection (failslab with debugfs), as
//! every guest run of the harness has it. It sets failslab's `ignore-gfp-wait` to N (so that
//! `GFP_KERNEL` allocations can fail), `verbose` to 0 (no stack trace per injected failure), and
//! `task-filter` Y with `probability` 100 (so that exactly the tasks with `make-it-fail` set, the
//! test's thread during a fail-from-nth call, fail every slab allocation once the n-th point has
//! failed), and restores them all.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;

use integration::{device, ok, open, read_entries, show, stats, Entries, Scratch};
use pathstore::{Errno, Pathstore};

const FAILSLAB: &str = "/sys/kernel/debug/failslab";

/// failslab settings changed for the test, restored on drop.
struct Settings(Vec<(String, String)>);

impl Settings {
    fn set(&mut self, name: &str, value: &str) {
        let path = format!("{FAILSLAB}/{name}");
        let old = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{path}: {e} (the debug kernel with failslab and debugfs is needed)")
        });
        self.0.push((path.clone(), old.trim().to_string()));
        std::fs::write(&path, value).unwrap_or_else(|e| panic!("writing {value} to {path}: {e}"));
    }
}

impl Drop for Settings {
    fn drop(&mut self) {
        for (path, old) in self.0.drain(..).rev() {
            if let Err(e) = std::fs::write(&path, &old) {
                eprintln!("could not restore {path} to {old}: {e}");
            }
        }
    }
}

/// `/proc/thread-self/fail-nth` and `make-it-fail` of the test's thread.
struct FailNth {
    nth: File,
    make_it_fail: File,
}

impl FailNth {
    fn open() -> Self {
        let open = |name: &str| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(format!("/proc/thread-self/{name}"))
                .unwrap_or_else(|e| {
                    panic!("/proc/thread-self/{name}: {e} (CONFIG_FAULT_INJECTION)")
                })
        };
        Self {
            nth: open("fail-nth"),
            make_it_fail: open("make-it-fail"),
        }
    }

    /// Runs `call` with the `n`-th injection point of this thread failing (with `from`, and
    /// every slab allocation after it); returns its result and whether the call reached that
    /// point. Nothing between arming and disarming allocates in this process: `call` is one
    /// system call.
    fn with_nth<T>(&mut self, n: u32, from: bool, call: impl FnOnce() -> T) -> (T, bool) {
        let armed = n.to_string();
        let mut buf = [0u8; 16];
        if from {
            // The kernel counts fail-nth down first: until the n-th point, nothing else fails.
            self.make_it_fail
                .write_all(b"1")
                .expect("setting make-it-fail");
        }
        self.nth
            .write_all(armed.as_bytes())
            .expect("arming fail-nth");
        let result = call();
        if from {
            self.make_it_fail
                .write_all(b"0")
                .expect("clearing make-it-fail");
        }
        // pread: the file cannot seek. 0 means the n-th point was reached, and failed.
        let len = self.nth.read_at(&mut buf, 0).expect("reading fail-nth");
        self.nth.write_all(b"0").expect("disarming fail-nth");
        let left = std::str::from_utf8(&buf[..len])
            .unwrap_or("?")
            .trim()
            .to_string();
        (result, left == "0")
    }
}

/// One command swept: the store it starts from (under a fresh base each time), and the command.
struct Case {
    name: &'static str,
    /// The command, with `{b}` for the base.
    command: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "set (replace)",
        command: "set {b}/a replaced",
    },
    Case {
        name: "set (create a chain)",
        command: "set {b}/n/m/o new",
    },
    Case {
        name: "create",
        command: "create -m read {b}/x/y new",
    },
    Case {
        name: "set-if",
        command: "set-if {b}/a {va} replaced",
    },
    Case {
        name: "seq",
        command: "seq {b}/q/item- s",
    },
    Case {
        name: "ephemeral",
        command: "ephemeral {b}/e/x e",
    },
    Case {
        name: "rm",
        command: "rm {b}/a",
    },
    Case {
        name: "rm -r",
        command: "rm -r {b}/t",
    },
    Case {
        name: "rm-if",
        command: "rm-if -r {b}/t {vt}",
    },
];

/// Builds the store a case starts from under `base`; returns the versions of `a` and `t`.
fn fixture(store: &Pathstore, base: &str) -> (u64, u64) {
    let va = ok("set a", store.set(format!("{base}/a"), "one"));
    ok("set t/u/v", store.set(format!("{base}/t/u/v"), "deep"));
    ok("set t/w", store.set(format!("{base}/t/w"), vec![b'w'; 300]));
    ok("set q", store.set(format!("{base}/q"), ""));
    let vt = integration::stat(store, format!("{base}/t")).version;
    (va, vt)
}

/// What a failed command must not change: the store's statistics and the subtree.
fn state(store: &Pathstore, base: &str) -> (pathstore::abi::StoreStats, Entries) {
    (stats(store), read_entries(store, base))
}

#[test]
fn text_commands_failing_for_memory_change_nothing() {
    let store = open();
    let s = Scratch::new(&store, "fail_nth");
    let mut settings = Settings(Vec::new());
    settings.set("ignore-gfp-wait", "N");
    settings.set("verbose", "0");
    settings.set("task-filter", "Y");
    settings.set("probability", "100");
    settings.set("interval", "1");
    settings.set("times", "-1");
    settings.set("space", "0");
    let mut nth = FailNth::open();
    let mut report = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let mut counts = Vec::new();
        for from in [false, true] {
            let (sites, enomem) = sweep(&store, &s, &mut nth, i, case, from);
            assert!(
                sites > 0,
                "{} (from: {from}): no allocation was failed: is fault injection working?",
                case.name
            );
            counts.push(format!("{sites} sites ({enomem} ENOMEM)"));
        }
        report.push(format!(
            "{} {} | from-nth {}",
            case.name, counts[0], counts[1]
        ));
    }
    drop(settings);
    println!("fail-nth of text commands: {}", report.join(", "));
}

/// One pass over `case`: fails its n-th allocation (with `from`, and every one after it) for
/// n = 1, 2, ... until it runs without meeting the failure; returns the points failed and how
/// many of them made the command fail with `ENOMEM`.
fn sweep(
    store: &Pathstore,
    s: &Scratch<'_>,
    nth: &mut FailNth,
    i: usize,
    case: &Case,
    from: bool,
) -> (u32, u32) {
    let (mut sites, mut enomem) = (0u32, 0u32);
    let pass = if from { "from" } else { "nth" };
    for n in 1u32.. {
        assert!(
            n <= 500,
            "{}: still meeting injected failures at the 500th point",
            case.name
        );
        let base = s.path(&format!("c{i}-{pass}-{n}"));
        let (va, vt) = fixture(store, &base);
        let command = case
            .command
            .replace("{b}", &base)
            .replace("{va}", &va.to_string())
            .replace("{vt}", &vt.to_string());
        // A file of its own: releasing it removes its ephemeral nodes, which is checked after.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(device())
            .expect("opening the device");
        let before = state(store, &base);
        let (result, injected) = nth.with_nth(n, from, || file.write(command.as_bytes()));
        let after = state(store, &base);
        match (&result, injected) {
            (Ok(_), false) => {
                assert_ne!(
                    before.0.sequence, after.0.sequence,
                    "{command:?} succeeded without changing the store"
                );
                if case.name == "seq" {
                    let mut response = String::new();
                    file.read_to_string(&mut response)
                        .expect("reading the response");
                    assert_eq!(response, format!("{base}/q/item-0000000000\n"));
                }
                break;
            }
            (Ok(_), true) => {
                // The kernel absorbed the failure (a kvmalloc's fallback): a plain success.
                sites += 1;
                assert_ne!(before.0.sequence, after.0.sequence, "{command:?} (nth {n})");
            }
            (Err(e), true) if e.raw_os_error() == Some(Errno::NOMEM.raw_os_error()) => {
                sites += 1;
                enomem += 1;
                assert!(
                    before == after,
                    "{command:?} failed with ENOMEM at allocation {n} ({pass}) but changed the store:\n\
                     stats before {:?}\n      after  {:?}\nnodes before {:?}\n      after  {:?}",
                    before.0,
                    after.0,
                    before.1.keys().map(|k| show(k)).collect::<Vec<_>>(),
                    after.1.keys().map(|k| show(k)).collect::<Vec<_>>()
                );
            }
            (Err(e), _) => panic!(
                "{command:?} with allocation {n} failing (reached: {injected}): {e}, \
                 expected ENOMEM or success"
            ),
        }
        drop(file);
        ok("rm -r the case's base", store.delete_recursive(&base));
    }
    (sites, enomem)
}
