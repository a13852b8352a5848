//! Concurrency stress for a fixed time, run in the last pass (`BINARY --test-threads=1 heavy::
//! stress::`, default module parameters) so that kmemleak looks at what it leaves behind.
//!
//! For `PATHSTORE_STRESS_SECONDS` seconds (default 60; fractions allowed), at the same time:
//!
//! - [`THREADS`] threads of this process (even ones on the test's handle, odd ones on their own)
//!   each mix random operations (set, create, get, list, stat, delete, recursive delete,
//!   store_stats) on one shared subtree ([`Hammerer`]: every result one the semantics allow,
//!   values tagged by their writer, each writer's versions increasing) and on a subtree of their
//!   own ([`ModelRunner`]: every result checked against a model, the whole subtree every 200
//!   operations); thread 0 also runs the consistency check (`PATHSTORE_IOC_CHECK`) a few times;
//! - [`CHURNERS`] worker processes open and close `/dev/pathstore` over and over, each time doing a
//!   few text commands (write a command, read the reply) and ioctls on the open file in a subtree
//!   of their own, checked against a small model, and sometimes closing with a reply unread;
//! - worker processes, [`EXITERS`] at a time, open the device, set a node (by ioctl or text
//!   command), leave a text reply pending and exit without closing anything.
//!
//! Afterwards: every private subtree equals its model, the shared subtree is consistent (values
//! some writer wrote, at the version that write returned), the sequence number advanced by
//! exactly the number of successful changes, the consistency check passes and agrees with
//! `store_stats()` and a full walk; the same again after removing the test's subtree.

use std::collections::btree_map::{BTreeMap, Entry};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use integration::{
    device, digest, ok, open, read_entries, show, spawn_worker, stats, test_seed, usage,
    wait_worker, Rng, Scratch, Worker,
};
use pathstore::{path, Errno, ErrnoDisplay, Pathstore};

use crate::concurrency::{
    assert_subtree_matches, check_shared_subtree, join_all, num, Hammer, Hammerer, ModelRun,
    ModelRunner, StopOnDrop, WorkerResults,
};

/// Environment variable setting the duration of the stress, in seconds (default 60).
pub(crate) const SECONDS_ENV: &str = "PATHSTORE_STRESS_SECONDS";

/// Threads of the test process.
const THREADS: u32 = 6;

/// Long-lived worker processes opening and closing the device.
const CHURNERS: u32 = 2;

/// Short-lived worker processes (exiting without closing) running at any time.
const EXITERS: usize = 2;

/// Consistency checks thread 0 runs during the stress (about evenly spaced).
const CHECKS_DURING: u32 = 5;

/// The duration of the stress: `$PATHSTORE_STRESS_SECONDS`, default 60 s.
fn duration() -> Duration {
    match std::env::var(SECONDS_ENV) {
        Ok(text) => {
            let secs: f64 = text
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{SECONDS_ENV}={text:?} is not a number of seconds"));
            assert!(
                secs.is_finite() && secs > 0.0,
                "{SECONDS_ENV}={text:?} should be positive"
            );
            Duration::from_secs_f64(secs)
        }
        Err(_) => Duration::from_secs(60),
    }
}

/// Milliseconds since the Unix epoch: a clock that every process of the guest agrees on.
fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    u64::try_from(since.as_millis()).expect("milliseconds fit u64")
}

/// What one stress thread did.
struct ThreadRun {
    /// Its private subtree and what [`ModelRunner`] made of it.
    base: String,
    private: ModelRun,
    /// What it did in the shared subtree.
    shared: Hammer,
    /// Operations, all kinds together (checks included).
    ops: u64,
    /// Consistency checks run during the stress.
    checks: u32,
}

/// One stress thread: until `deadline` (or `stop`), random operations on `shared` and on its
/// own subtree `base`; thread 0 also runs [`CHECKS_DURING`] consistency checks.
#[allow(clippy::too_many_arguments)]
fn stress_thread(
    store: &Pathstore,
    k: u32,
    base: String,
    shared: &str,
    seed: u64,
    started: Instant,
    deadline: Instant,
    stop: &AtomicBool,
) -> ThreadRun {
    let _stop = StopOnDrop(stop);
    let own;
    let store = if k % 2 == 0 {
        store
    } else {
        own = open();
        &own
    };
    let seed = seed.wrapping_add(u64::from(k) << 16);
    let mut private = ModelRunner::start(store, &base, seed);
    let mut hammerer = Hammerer::new(shared, k, seed ^ 0x5a5a);
    let mut rng = Rng::new(seed ^ 0xa5a5);
    let (mut extra, mut checks, mut last_sequence) = (0u64, 0u32, 0u64);
    let total = deadline - started;
    let mut next_check = started + total / (CHECKS_DURING + 1);
    loop {
        let now = Instant::now();
        if now >= deadline || stop.load(Ordering::Relaxed) {
            break;
        }
        if k == 0 && checks < CHECKS_DURING && now >= next_check {
            let report = ok(
                format_args!("consistency check {} during the stress", checks + 1),
                store.check(),
            );
            assert!(
                report.nodes >= 1 && report.owners >= 1 && report.reserved == [0],
                "check during the stress reported {report:?}"
            );
            checks += 1;
            next_check += total / (CHECKS_DURING + 1);
            continue;
        }
        match rng.below(100) {
            0..=44 => private.step(store),
            45..=89 => hammerer.step(store),
            _ => {
                let st = stats(store);
                assert!(
                    st.sequence >= last_sequence,
                    "thread {k}: the sequence went back from {last_sequence} to {}",
                    st.sequence
                );
                assert!(
                    st.nodes >= 1 && st.nodes <= st.max_nodes && st.bytes <= st.max_bytes,
                    "thread {k}: store_stats out of bounds: {st:?}"
                );
                last_sequence = st.sequence;
                extra += 1;
            }
        }
    }
    let ops = (private.ops() + hammerer.ops()) as u64 + extra + u64::from(checks);
    ThreadRun {
        private: private.finish(store),
        base,
        shared: hammerer.finish(),
        ops,
        checks,
    }
}

/// Writes one text command in one `write()` and reads the whole reply (empty when there is
/// none); on failure, the command's errno.
fn text(file: &mut File, command: &str) -> Result<Vec<u8>, Errno> {
    let errno = |e: std::io::Error| {
        Errno::from_io_error(&e).unwrap_or_else(|| panic!("{command:?}: not an errno: {e}"))
    };
    let written = file.write(command.as_bytes()).map_err(errno)?;
    assert_eq!(
        written,
        command.len(),
        "{command:?}: a write carries one whole command"
    );
    let mut reply = Vec::new();
    file.read_to_end(&mut reply).map_err(errno)?;
    Ok(reply)
}

/// Asserts that a text command succeeded, returning its reply.
#[track_caller]
fn text_ok(file: &mut File, command: &str) -> Vec<u8> {
    text(file, command)
        .unwrap_or_else(|e| panic!("{command:?}: expected success, got {}", ErrnoDisplay(e)))
}

/// Asserts that a text command failed with `expected`.
#[track_caller]
fn text_err(file: &mut File, command: &str, expected: Errno) {
    match text(file, command) {
        Err(e) if e == expected => {}
        other => panic!(
            "{command:?}: expected {}, got {:?}",
            ErrnoDisplay(expected),
            other.map(|r| show(&r))
        ),
    }
}

/// The `key=value` fields of a `stat` or `stats` reply.
fn fields(reply: &[u8]) -> BTreeMap<String, u64> {
    let line = std::str::from_utf8(reply).expect("a text reply is UTF-8");
    let line = line
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("reply {line:?} ends in a newline"));
    line.split(' ')
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .unwrap_or_else(|| panic!("field {f:?} of {line:?}"));
            (k.to_owned(), num(v))
        })
        .collect()
}

/// Opens the device for the text interface (read and write).
fn open_text() -> File {
    let device = device();
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(&device)
        .unwrap_or_else(|e| panic!("opening {device}: {e}"))
}

/// The worker `churn BASE K SEED DEADLINE_MS`: until the deadline, opens the device, does a
/// few text commands and ioctls (on the same open file) in `BASE/p<K>`, checked against a model
/// of that subtree, and closes it (now and then with a reply unread). Prints the subtree's
/// digest, its changes, and the counts `opens` and `ops`.
fn churn(base: &str, k: u64, seed: u64, deadline_ms: u64) {
    let dir = format!("{base}/p{k}");
    let mut rng = Rng::new(seed);
    // Children of `dir`: name to value.
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    let (mut opens, mut ops, mut mutations) = (0u64, 0u64, 0u64);
    while opens == 0 || now_ms() < deadline_ms {
        let mut file = open_text();
        let store = ok(
            "handshake on the text file",
            Pathstore::from_fd(OwnedFd::from(file.try_clone().expect("dup"))),
        );
        opens += 1;
        if opens == 1 {
            text_ok(&mut file, &format!("set {dir}"));
            mutations += 1;
            ops += 1;
        }
        for _ in 0..rng.range(1, 6) {
            let name = format!("i{}", rng.below(6));
            let p = format!("{dir}/{name}");
            let ctx = format!("churn {k} open {opens}");
            ops += 1;
            match rng.below(10) {
                0 | 1 => {
                    let value = format!("v{ops} {}", rng.below(1000));
                    text_ok(&mut file, &format!("set {p} {value}"));
                    model.insert(name, value);
                    mutations += 1;
                }
                2 => {
                    let value = format!("c{ops}");
                    let cmd = format!("create {p} {value}");
                    match model.entry(name) {
                        Entry::Occupied(_) => text_err(&mut file, &cmd, Errno::EXIST),
                        Entry::Vacant(slot) => {
                            text_ok(&mut file, &cmd);
                            slot.insert(value);
                            mutations += 1;
                        }
                    }
                }
                3 => match model.get(&name) {
                    Some(v) => assert_eq!(
                        show(&text_ok(&mut file, &format!("get {p}"))),
                        show(format!("{v}\n").as_bytes()),
                        "{ctx}: text get {p}"
                    ),
                    None => text_err(&mut file, &format!("get {p}"), Errno::NOENT),
                },
                4 => {
                    let cmd = format!("rm {p}");
                    if model.remove(&name).is_some() {
                        assert_eq!(text_ok(&mut file, &cmd), b"", "{ctx}: {cmd}");
                        mutations += 1;
                    } else {
                        text_err(&mut file, &cmd, Errno::NOENT);
                    }
                }
                5 => {
                    let mut want = String::new();
                    for n in model.keys() {
                        want.push_str(n);
                        want.push('\n');
                    }
                    let got = text_ok(&mut file, &format!("ls {dir}"));
                    assert_eq!(show(&got), show(want.as_bytes()), "{ctx}: text ls {dir}");
                }
                6 => match model.get(&name) {
                    Some(v) => {
                        let f = fields(&text_ok(&mut file, &format!("stat {p}")));
                        assert_eq!(
                            (f["has_value"], f["value_len"], f["children"]),
                            (1, v.len() as u64, 0),
                            "{ctx}: text stat {p}: {f:?}"
                        );
                    }
                    None => text_err(&mut file, &format!("stat {p}"), Errno::NOENT),
                },
                7 => {
                    let f = fields(&text_ok(&mut file, "stats"));
                    assert!(
                        f["nodes"] >= 1 && f["sequence"] >= 1,
                        "{ctx}: text stats {f:?}"
                    );
                }
                8 => match model.get(&name) {
                    Some(v) => assert_eq!(
                        show(&ok(format_args!("{ctx}: get {p}"), store.get(&p))),
                        show(v.as_bytes()),
                        "{ctx}: ioctl get {p}"
                    ),
                    None => integration::expect_errno(
                        format_args!("{ctx}: get {p}"),
                        store.get(&p),
                        Errno::NOENT,
                    ),
                },
                _ => {
                    let value = format!("b{ops}");
                    ok(format_args!("{ctx}: set {p}"), store.set(&p, &value));
                    model.insert(name, value);
                    mutations += 1;
                }
            }
        }
        if rng.chance(1, 3) {
            // Close with a reply pending: the module must free it on release.
            file.write_all(format!("ls {dir}").as_bytes())
                .expect("ls before closing");
            ops += 1;
        }
        drop(store);
        drop(file);
    }
    let store = open();
    println!(
        "WORKER-RESULT digest {dir} {:#x}",
        digest(&read_entries(&store, &dir))
    );
    println!("WORKER-RESULT mutations {mutations}");
    println!("WORKER-RESULT count opens {opens}");
    println!("WORKER-RESULT count ops {ops}");
}

/// The value the exiting worker `k` sets.
fn exit_value(k: u64) -> String {
    format!("exited {k}")
}

/// The worker `exit BASE K`: opens the device, sets `BASE/x<K>` (by ioctl for even K, by text
/// command for odd K), leaves a text reply pending, and exits without closing anything.
fn exit_without_close(base: &str, k: u64) -> ! {
    let p = format!("{base}/x{k}");
    let store = open();
    let mut file = open_text();
    if k % 2 == 0 {
        ok(format_args!("set {p}"), store.set(&p, exit_value(k)));
    } else {
        text_ok(&mut file, &format!("set {p} {}", exit_value(k)));
    }
    file.write_all(format!("get {p}").as_bytes())
        .expect("get, left unread");
    println!("WORKER-RESULT mutations 1");
    println!("WORKER-RESULT count ops 2");
    println!("WORKER-DONE");
    std::io::stdout().flush().expect("flushing stdout");
    // Neither `store` nor `file` is dropped: the process's exit closes them.
    std::process::exit(0);
}

/// The body of `worker_process` for the specs of this module (`churn ...`, `exit ...`).
pub(crate) fn run_worker(spec: &str) {
    let words: Vec<&str> = spec.split_whitespace().collect();
    match words.as_slice() {
        ["churn", base, k, seed, deadline_ms] => churn(base, num(k), num(seed), num(deadline_ms)),
        ["exit", base, k] => exit_without_close(base, num(k)),
        _ => panic!("unknown stress worker spec {spec:?}"),
    }
}

/// Spawns exiting workers, [`EXITERS`] at a time, until `deadline` (or `stop`). Returns how many
/// ran and their results.
fn spawn_exiters(base: &str, deadline: Instant, stop: &AtomicBool) -> (u64, WorkerResults) {
    let _stop = StopOnDrop(stop);
    let mut results = WorkerResults::default();
    let mut spawned = 0u64;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let batch: Vec<Worker> = (0..EXITERS as u64)
            .map(|i| spawn_worker(&format!("exit {base} {}", spawned + i)))
            .collect();
        spawned += batch.len() as u64;
        for w in batch {
            results.add(&wait_worker(w));
        }
    }
    (spawned, results)
}

#[test]
fn threads_and_processes_for_a_fixed_time_keep_the_store_consistent() {
    let secs = duration();
    let store = open();
    let seed = test_seed(
        "threads_and_processes_for_a_fixed_time_keep_the_store_consistent",
        0x5eed_0005,
    );
    let s = Scratch::new(&store, "stress");
    let at_start = stats(&store);
    let (shared, procs, exits) = (s.path("shared"), s.path("procs"), s.path("exits"));
    for p in [&shared, &procs, &exits] {
        ok(format_args!("creating {p}"), store.set(p, ""));
    }
    let before = stats(&store);

    let started = Instant::now();
    let deadline = started + secs;
    let deadline_ms = now_ms() + u64::try_from(secs.as_millis()).expect("a sane duration");
    let churners: Vec<Worker> = (0..u64::from(CHURNERS))
        .map(|k| {
            spawn_worker(&format!(
                "churn {procs} {k} {:#x} {deadline_ms}",
                seed.wrapping_add(200 + k)
            ))
        })
        .collect();
    let stop = AtomicBool::new(false);
    let (runs, (exiters, exit_results)) = std::thread::scope(|scope| {
        let (stop, store, shared, exits) = (&stop, &store, shared.as_str(), exits.as_str());
        let spawner = scope.spawn(move || spawn_exiters(exits, deadline, stop));
        let handles = (0..THREADS)
            .map(|k| {
                let base = s.path(&format!("t{k}"));
                scope.spawn(move || {
                    stress_thread(store, k, base, shared, seed, started, deadline, stop)
                })
            })
            .collect();
        let runs = join_all(handles);
        let exiters = spawner
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (runs, exiters)
    });
    let mut results = exit_results;
    for w in churners {
        results.add(&wait_worker(w));
    }
    let elapsed = started.elapsed();

    // Each private subtree is what its thread's model says, whatever the others did since.
    let mut versions = std::collections::HashMap::new();
    let (mut mutations, mut thread_ops, mut checks) = (results.mutations, 0, 0);
    for run in &runs {
        assert_subtree_matches(
            &store,
            &run.private.model,
            &format!("{} after the stress", run.base),
        );
        mutations += run.private.mutations + run.shared.mutations;
        versions.extend(run.shared.versions.iter().map(|(k, v)| (*k, *v)));
        thread_ops += run.ops;
        checks += run.checks;
    }
    assert!(
        checks >= 1,
        "thread 0 should have run consistency checks during the stress"
    );
    let shared_nodes = check_shared_subtree(&store, &shared, &versions);
    // Each churning process's subtree is what its model said at its end.
    assert_eq!(results.digests.len(), CHURNERS as usize);
    for (sub, expected) in &results.digests {
        assert_eq!(
            digest(&read_entries(&store, sub)),
            *expected,
            "{sub} should hold what its worker's model says"
        );
    }
    // Every exiting process's set is there, and nothing else.
    let mut want: Vec<Vec<u8>> = (0..exiters).map(|k| format!("x{k}").into_bytes()).collect();
    want.sort();
    assert_eq!(
        ok("list the exiting workers' nodes", store.list(&exits)),
        want,
        "one node per exiting worker"
    );
    for k in 0..exiters {
        let p = path::join(exits.as_bytes(), format!("x{k}").as_bytes());
        assert_eq!(
            show(&ok(format_args!("get {}", show(&p)), store.get(&p))),
            show(exit_value(k).as_bytes())
        );
    }

    let after = stats(&store);
    assert_eq!(
        after.sequence - before.sequence,
        mutations,
        "every successful change, by any thread or process, takes exactly one sequence number"
    );
    let report = ok("the consistency check after the stress", store.check());
    assert_eq!(
        (report.nodes, report.bytes),
        (after.nodes, after.bytes),
        "the consistency check should count what store_stats reports"
    );
    let walked = usage(&store, "/");
    assert_eq!(
        (walked.nodes, walked.bytes),
        (after.nodes, after.bytes),
        "a full walk should count what store_stats reports"
    );
    let proc_ops = results.counts.get("ops").copied().unwrap_or(0);
    let opens = results.counts.get("opens").copied().unwrap_or(0);
    println!(
        "stress: {THREADS} threads, {} processes ({CHURNERS} churning with {opens} opens, \
         {exiters} exiting without closing), {:.1} s, {} operations ({thread_ops} by threads, \
         {proc_ops} by processes), {mutations} changes, {checks} checks during the run; \
         {shared_nodes} nodes left in the shared subtree; check after: {} nodes, {} bytes, {} \
         owners",
        u64::from(CHURNERS) + exiters,
        elapsed.as_secs_f64(),
        thread_ops + proc_ops,
        report.nodes,
        report.bytes,
        report.owners
    );

    // Clean up, and check again: the store is back to what it was with an empty scratch root.
    ok(
        "removing the stress subtree",
        store.delete_recursive(s.base()),
    );
    let end = stats(&store);
    assert_eq!(
        (end.nodes, end.bytes),
        (
            at_start.nodes - 1,
            at_start.bytes - path::name(s.base().as_bytes()).len() as u64
        ),
        "removing the stress subtree should leave the store as it was before the test"
    );
    let report = ok("the consistency check after the cleanup", store.check());
    assert_eq!(
        (report.nodes, report.bytes),
        (end.nodes, end.bytes),
        "the consistency check after the cleanup should count what store_stats reports"
    );
    assert_eq!(report.reserved, [0]);
}
