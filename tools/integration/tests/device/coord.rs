//! Coordination: compare-and-set, conditional deletes, sequential and ephemeral nodes, and a
//! leader election between processes that get killed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration::{
    assert_same_snapshot, expect_errno, ok, open, snapshot, stat, worker_command, Scratch,
};
use pathstore::{Conditional, Errno, EventKind, Pathstore, TxnOutcome, TxnStep, WatchEvent};

/// How long a killed process's ephemeral node may outlive it (it is normally gone as soon as
/// the process is reaped).
const TAKEOVER_BOUND: Duration = Duration::from_secs(5);

/// The worker half of the tests that need other processes. Specs:
/// - `hold PATH`: create the ephemeral node PATH, then wait to be killed;
/// - `candidate PATH ID`: try to create the ephemeral node PATH with value ID until it succeeds
///   (every 5 ms), then hold it until killed.
pub(crate) fn run_worker(spec: &str) {
    let store = open();
    let words: Vec<&str> = spec.split(' ').collect();
    let (path, value) = match words.as_slice() {
        ["hold", path] => (*path, "held"),
        ["candidate", path, id] => (*path, *id),
        _ => panic!("unknown coord worker spec {spec:?}"),
    };
    loop {
        match store.create_ephemeral(path, value) {
            Ok(_) => break,
            Err(e) if e.errno() == Errno::EXIST && words[0] == "candidate" => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{spec}: {e}"),
        }
    }
    loop {
        std::thread::park();
    }
}

/// A worker process that is killed (SIGKILL) and reaped when dropped.
struct Process(Child);

impl Process {
    /// Starts this test binary again as a coordination worker running `spec`.
    fn start(spec: &str) -> Self {
        let child = worker_command(&format!("coord {spec}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting worker {spec:?}: {e}"));
        Self(child)
    }

    /// Kills the process with SIGKILL and waits for it.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits (polling every 2 ms) until `f` returns `Some`, at most `bound`; returns the value and
/// how long it took.
fn wait_for<T>(what: &str, bound: Duration, mut f: impl FnMut() -> Option<T>) -> (T, Duration) {
    let start = Instant::now();
    loop {
        if let Some(value) = f() {
            return (value, start.elapsed());
        }
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn compare_and_set_replaces_only_the_expected_version() {
    let store = open();
    let s = Scratch::new(&store, "coord_cas");
    let k = s.path("k");
    let v1 = ok("set", store.set(&k, "1"));
    let v2 = match ok("CAS with v1", store.set_if_version(&k, "2", v1)) {
        Conditional::Done(v) => v,
        stale => panic!("CAS with the current version should succeed, got {stale:?}"),
    };
    assert!(v2 > v1);
    let before = snapshot(&store, &[&k]);
    assert_eq!(
        ok("CAS with v1 again", store.set_if_version(&k, "3", v1)),
        Conditional::Stale(v2),
        "a stale CAS reports the current version"
    );
    assert_same_snapshot("after the stale CAS", &before, &snapshot(&store, &[&k]));
    expect_errno(
        "CAS of a missing node",
        store.set_if_version(s.path("missing"), "x", v1),
        Errno::NOENT,
    );
    assert!(!ok("exists", store.exists(s.path("missing"))));
    // The version compared is the node's own: a change of another node since does not matter.
    ok("set another node", store.set(s.path("other"), "x"));
    match ok(
        "CAS with v2 after another change",
        store.set_if_version(&k, "3", v2),
    ) {
        Conditional::Done(v3) => assert!(v3 > v2),
        stale => panic!("a CAS with the node's version should succeed, got {stale:?}"),
    }
}

/// Conflicts in a row after which a compare-and-set retry loop gives up: under the contention of
/// these tests a retry succeeds within a few; a CAS that can never succeed must fail the test
/// rather than hang it.
const MAX_RETRIES_IN_A_ROW: u64 = 1_000;

#[test]
fn concurrent_increments_by_compare_and_set_lose_nothing() {
    let store = open();
    let s = Scratch::new(&store, "coord_counter");
    let counter = s.path("counter");
    ok("set", store.set(&counter, "0"));
    const THREADS: u64 = 4;
    const EACH: u64 = 50;
    let conflicts: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let counter = &counter;
                scope.spawn(move || {
                    let store = open();
                    let mut conflicts = 0;
                    for _ in 0..EACH {
                        for tries in 0.. {
                            assert!(
                                tries < MAX_RETRIES_IN_A_ROW,
                                "{tries} CAS conflicts in a row: the CAS never succeeds"
                            );
                            let (value, version) = ok("get", store.get_with_version(counter));
                            let n: u64 = String::from_utf8(value).unwrap().parse().unwrap();
                            let next = (n + 1).to_string();
                            match ok("CAS", store.set_if_version(counter, next, version)) {
                                Conditional::Done(_) => break,
                                Conditional::Stale(_) => conflicts += 1,
                            }
                        }
                    }
                    conflicts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let total = ok("get", store.get(&counter));
    assert_eq!(total, (THREADS * EACH).to_string().as_bytes());
    println!(
        "{THREADS} threads, {} increments, {conflicts} conflicts retried",
        THREADS * EACH
    );
}

#[test]
fn a_conditional_delete_needs_the_current_version() {
    let store = open();
    let s = Scratch::new(&store, "coord_cdel");
    let dir = s.path("d");
    let v1 = ok("set", store.set(&dir, "1"));
    ok("set child", store.set(format!("{dir}/c"), "c"));
    let v2 = ok("set again", store.set(&dir, "2"));
    let before = snapshot(&store, &[&dir]);
    assert_eq!(
        ok("stale delete", store.delete_if_version(&dir, v1, true)),
        Conditional::Stale(v2)
    );
    assert_same_snapshot(
        "after the stale delete",
        &before,
        &snapshot(&store, &[&dir]),
    );
    expect_errno(
        "non-recursive conditional delete of a node with children",
        store.delete_if_version(&dir, v2, false),
        Errno::NOTEMPTY,
    );
    assert_eq!(
        ok("delete", store.delete_if_version(&dir, v2, true)),
        Conditional::Done(())
    );
    assert!(!ok("exists", store.exists(&dir)));
}

#[test]
fn sequential_nodes_are_numbered_per_parent_and_never_reused() {
    let store = open();
    let s = Scratch::new(&store, "coord_seq");
    let prefix = s.path("queue/item-");
    let mut made = Vec::new();
    for n in 0..3u64 {
        let (path, _) = ok("sequential", store.create_sequential(&prefix, "x", false));
        assert_eq!(path, format!("{prefix}{n:010}").into_bytes());
        made.push(path);
    }
    ok("delete the last", store.delete(&made[2]));
    let (path, _) = ok("sequential", store.create_sequential(&prefix, "x", false));
    assert_eq!(
        path,
        format!("{prefix}0000000003").into_bytes(),
        "numbers are not reused"
    );
    let (other, _) = ok(
        "another parent",
        store.create_sequential(s.path("other/item-"), "", false),
    );
    assert_eq!(other, s.path("other/item-0000000000").into_bytes());
    let names = ok("list", store.list(s.path("queue")));
    assert_eq!(names.len(), 3);
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "names sort in creation order"
    );
    expect_errno(
        "sequential name past 255 bytes",
        store.create_sequential(s.path(&"n".repeat(250)), "", false),
        Errno::NAMETOOLONG,
    );
}

#[test]
fn ephemeral_nodes_live_as_long_as_their_file() {
    let store = open();
    let s = Scratch::new(&store, "coord_eph");
    let (node, seq_prefix) = (s.path("e"), s.path("q/e-"));
    let session = {
        let owner = open();
        let session = ok("version", owner.version()).session;
        ok("create ephemeral", owner.create_ephemeral(&node, "v"));
        let (seq_node, _) = ok(
            "ephemeral sequential",
            owner.create_sequential(&seq_prefix, "", true),
        );
        let st = stat(&store, &node);
        assert_eq!(st.session, session, "the node carries its file's session");
        assert_eq!(stat(&store, &seq_node).session, session);
        assert_eq!(
            stat(&store, s.base()).session,
            0,
            "its parents are persistent"
        );
        expect_errno(
            "a child of an ephemeral node",
            store.set(format!("{node}/child"), "x"),
            Errno::NOTDIR,
        );
        expect_errno(
            "ephemeral create of an existing node",
            store.create_ephemeral(&node, "again"),
            Errno::EXIST,
        );
        ok("others may replace its value", store.set(&node, "w"));
        assert_eq!(stat(&store, &node).session, session);
        session
    };
    assert!(!ok("exists", store.exists(&node)), "released with its file");
    assert!(ok("list", store.list(s.path("q"))).is_empty());
    assert_ne!(session, ok("version", store.version()).session);
    ok("IOC_CHECK", store.check());
}

#[test]
fn an_ephemeral_node_recreated_by_another_file_survives_the_first() {
    let store = open();
    let s = Scratch::new(&store, "coord_eph_again");
    let node = s.path("e");
    let first = open();
    ok("first creates", first.create_ephemeral(&node, "1"));
    ok("someone deletes it", store.delete(&node));
    ok("and makes a persistent node there", store.set(&node, "2"));
    drop(first);
    assert_eq!(ok("still there", store.get(&node)), b"2");
    assert_eq!(stat(&store, &node).session, 0);
}

#[test]
fn the_ephemeral_node_of_a_killed_process_is_removed() {
    let store = open();
    let s = Scratch::new(&store, "coord_kill");
    let node = s.path("held");
    let mut holder = Process::start(&format!("hold {node}"));
    wait_for(
        "the worker creates its node",
        Duration::from_secs(30),
        || store.exists(&node).ok().filter(|&e| e),
    );
    let before = stat(&store, &node);
    assert_ne!(before.session, 0);
    holder.kill();
    let (_, took) = wait_for(
        "the node goes with the killed process",
        TAKEOVER_BOUND,
        || (!ok("exists", store.exists(&node))).then_some(()),
    );
    println!("ephemeral node removed {took:?} after SIGKILL was reaped");
    ok("IOC_CHECK", store.check());
}

/// The leader (the value of the election node), once there is one.
fn leader(store: &Pathstore, node: &str) -> Option<String> {
    store
        .get(node)
        .ok()
        .map(|v| String::from_utf8(v).expect("candidate ids are text"))
}

#[test]
fn a_leader_election_survives_killed_leaders() {
    const CANDIDATES: usize = 3;
    let store = open();
    let s = Scratch::new(&store, "coord_election");
    let node = s.path("leader");
    let mut candidates: Vec<Option<Process>> = (0..CANDIDATES)
        .map(|id| Some(Process::start(&format!("candidate {node} {id}"))))
        .collect();
    let mut previous: Option<String> = None;
    for round in 0..CANDIDATES {
        let (id, took) = wait_for("a leader is elected", Duration::from_secs(60), || {
            leader(&store, &node).filter(|id| Some(id) != previous.as_ref())
        });
        let index: usize = id.parse().expect("a candidate id");
        assert!(
            candidates[index].is_some(),
            "round {round}: leader {id} was killed already"
        );
        let st = stat(&store, &node);
        assert_ne!(st.session, 0, "the leader's node is ephemeral");
        if round > 0 {
            assert!(
                took < TAKEOVER_BOUND,
                "round {round}: takeover took {took:?}"
            );
            println!("round {round}: candidate {id} took over after {took:?}");
        }
        // Exactly one leader: every other live candidate is still waiting, so the node keeps
        // its version while nothing is killed.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            stat(&store, &node).version,
            st.version,
            "the leadership is stable"
        );
        if let Some(mut process) = candidates[index].take() {
            process.kill();
        }
        previous = Some(id);
    }
    wait_for(
        "no leader once every candidate is gone",
        TAKEOVER_BOUND,
        || (!ok("exists", store.exists(&node))).then_some(()),
    );
    ok("IOC_CHECK", store.check());
}

/// The changes a watch reports from version `after` on, without waiting, as
/// `(kind, version, path)`.
fn drain(
    store: &Pathstore,
    path: &str,
    subtree: bool,
    mut after: u64,
) -> Vec<(EventKind, u64, String)> {
    let mut seen = Vec::new();
    while let Some(event) = ok(
        "watch",
        store.watch(path, subtree, after, Some(Duration::ZERO)),
    ) {
        after = event.version;
        seen.push((
            event.kind,
            event.version,
            String::from_utf8(event.path).unwrap(),
        ));
    }
    seen
}

#[test]
fn a_watch_reports_every_change_in_order() {
    let store = open();
    let s = Scratch::new(&store, "coord_watch_order");
    let (k, c) = (s.path("k"), s.path("k/c"));
    let v0 = ok("stats", store.store_stats()).sequence;
    let v1 = ok("create k", store.set(&k, "1"));
    let v2 = ok("change k", store.set(&k, "2"));
    let v3 = ok("create k/c", store.set(&c, "3"));
    ok("delete k", store.delete_recursive(&k));
    let v4 = ok("stats", store.store_stats()).sequence;
    use EventKind::*;
    assert_eq!(
        drain(&store, &k, false, v0),
        [
            (Created, v1, k.clone()),
            (Changed, v2, k.clone()),
            (Deleted, v4, k.clone())
        ],
        "a node watch sees its node's changes, not its children's"
    );
    assert_eq!(
        drain(&store, &k, true, v0),
        [
            (Created, v1, k.clone()),
            (Changed, v2, k.clone()),
            (Created, v3, c.clone()),
            (Deleted, v4, k.clone()),
        ],
        "a subtree watch sees everything below too"
    );
    assert_eq!(
        drain(&store, &c, false, v3),
        [(Deleted, v4, k.clone())],
        "the deletion of an ancestor reaches a watch of the node"
    );
    assert!(drain(&store, &s.path("other"), true, v0).is_empty());
}

#[test]
fn many_waiters_wake_on_one_change() {
    const WAITERS: usize = 8;
    let store = open();
    let s = Scratch::new(&store, "coord_watch_many");
    let node = s.path("n");
    let after = ok("stats", store.store_stats()).sequence;
    let (events, took) = std::thread::scope(|scope| {
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let node = &node;
                scope.spawn(move || {
                    let store = open();
                    ok("watch", store.watch(node, false, after, None)).expect("no timeout")
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        ok("set", store.set(&node, "v"));
        let events: Vec<WatchEvent> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        (events, start.elapsed())
    });
    let version = stat(&store, &node).version;
    for event in &events {
        assert_eq!((event.kind, event.version), (EventKind::Created, version));
        assert_eq!(event.path, node.as_bytes());
    }
    println!("{WAITERS} waiters woken by one set within {took:?}");
    assert!(took < Duration::from_secs(10), "waking took {took:?}");
}

#[test]
fn a_watch_times_out_when_nothing_changes() {
    let store = open();
    let s = Scratch::new(&store, "coord_watch_timeout");
    let after = ok("stats", store.store_stats()).sequence;
    let start = Instant::now();
    let got = ok(
        "watch",
        store.watch(
            s.path("quiet"),
            true,
            after,
            Some(Duration::from_millis(300)),
        ),
    );
    let took = start.elapsed();
    assert!(got.is_none(), "nothing changed, got {got:?}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(10),
        "a 300 ms watch returned after {took:?}"
    );
}

extern "C" fn on_signal(_: libc::c_int) {}

/// Installs a handler for SIGUSR1, with or without `SA_RESTART`.
fn catch_sigusr1(restart: bool) {
    // SAFETY: A zeroed `sigaction` is valid; the handler does nothing, which is async-signal
    // safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// Runs a watch of `node` with `timeout` in a thread, signals it after 300 ms, then (if it is
/// still waiting) sets `node`; returns what the watch returned.
fn signal_a_watch(node: &str, timeout: Option<Duration>) -> pathstore::Result<Option<WatchEvent>> {
    let store = open();
    let after = ok("stats", store.store_stats()).sequence;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        let watcher = scope.spawn(move || {
            // SAFETY: `pthread_self` has no preconditions.
            tx.send(unsafe { libc::pthread_self() }).unwrap();
            open().watch(node, false, after, timeout)
        });
        let thread = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: `thread` is alive: the scope joins it below.
        assert_eq!(unsafe { libc::pthread_kill(thread, libc::SIGUSR1) }, 0);
        std::thread::sleep(Duration::from_millis(300));
        if !watcher.is_finished() {
            ok("set", store.set(node, "v"));
        }
        watcher.join().unwrap()
    })
}

#[test]
fn signals_interrupt_a_timed_watch_and_restart_an_endless_one() {
    let store = open();
    let s = Scratch::new(&store, "coord_watch_signal");
    catch_sigusr1(false);
    expect_errno(
        "a 10 s watch interrupted by a signal",
        signal_a_watch(&s.path("a"), Some(Duration::from_secs(10))),
        Errno::INTR,
    );
    expect_errno(
        "an endless watch interrupted by a signal without SA_RESTART",
        signal_a_watch(&s.path("b"), None),
        Errno::INTR,
    );
    catch_sigusr1(true);
    let event = ok(
        "an endless watch under SA_RESTART",
        signal_a_watch(&s.path("c"), None),
    )
    .expect("no timeout");
    assert_eq!(
        (event.kind, event.path),
        (EventKind::Created, s.path("c").into_bytes()),
        "the restarted watch reports the change that came after the signal"
    );
}

#[test]
fn a_work_queue_consumes_every_item_exactly_once() {
    const PRODUCERS: usize = 2;
    const CONSUMERS: usize = 3;
    const ITEMS: usize = 60;
    let store = open();
    let s = Scratch::new(&store, "coord_queue");
    let items = s.path("items");
    ok("create the queue", store.set(&items, ""));
    let done = std::sync::atomic::AtomicUsize::new(0);
    let consumed: Vec<Vec<String>> = std::thread::scope(|scope| {
        for p in 0..PRODUCERS {
            let (items, done) = (&items, &done);
            scope.spawn(move || {
                let store = open();
                for n in 0..ITEMS {
                    ok(
                        "enqueue",
                        store.create_sequential(
                            format!("{items}/item-"),
                            format!("p{p}-{n}"),
                            false,
                        ),
                    );
                    if n % 10 == 0 {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let (items, done) = (&items, &done);
                scope.spawn(move || {
                    let store = open();
                    let mut mine = Vec::new();
                    loop {
                        let finished = done.load(std::sync::atomic::Ordering::SeqCst) == PRODUCERS;
                        let seen = ok("stats", store.store_stats()).sequence;
                        let names = ok("list", store.list(items));
                        for name in &names {
                            let path = format!("{items}/{}", String::from_utf8_lossy(name));
                            // Claim the item: read it, then delete it at that version.
                            let Ok((value, version)) = store.get_with_version(&path) else {
                                continue;
                            };
                            if let Ok(Conditional::Done(())) =
                                store.delete_if_version(&path, version, false)
                            {
                                mine.push(String::from_utf8(value).unwrap());
                            }
                        }
                        if names.is_empty() && finished {
                            return mine;
                        }
                        if names.is_empty() {
                            // Sleep until something is enqueued after what the list saw.
                            let _ = ok(
                                "watch the queue",
                                store.watch(items, true, seen, Some(Duration::from_secs(1))),
                            );
                        }
                    }
                })
            })
            .collect();
        consumers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut all: Vec<&String> = consumed.iter().flatten().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "an item was consumed twice");
    assert_eq!(total, PRODUCERS * ITEMS, "every item is consumed");
    let counts: Vec<usize> = consumed.iter().map(Vec::len).collect();
    println!("{PRODUCERS} producers, {CONSUMERS} consumers: {counts:?} items each");
    assert!(ok("list", store.list(&items)).is_empty());
}

#[test]
fn a_transaction_applies_all_or_nothing() {
    let store = open();
    let s = Scratch::new(&store, "coord_txn");
    let (a, b, d, n) = (s.path("a"), s.path("b"), s.path("d"), s.path("n/m"));
    let va = ok("set a", store.set(&a, "1"));
    ok("set d/x", store.set(format!("{d}/x"), "x"));
    let watch = [a.clone(), b.clone(), d.clone(), format!("{d}/x"), n.clone()];
    // Each failing transaction changes things first, then fails at its last step.
    let changes = |last: TxnStep<'static>| {
        vec![
            TxnStep::set(a.as_bytes(), b"2"),
            TxnStep::create(n.as_bytes(), b"new"),
            TxnStep::delete(d.as_bytes(), true, None),
            TxnStep::set(b.as_bytes(), b"b"),
            last,
        ]
    };
    let cases: [(TxnStep<'static>, Errno); 4] = [
        (
            TxnStep::check_version(b"/it/coord_txn/a", va + 1000),
            Errno::STALE,
        ),
        (TxnStep::check_absent(b"/it/coord_txn/b"), Errno::EXIST),
        (TxnStep::check_version(b"/it/coord_txn/zz", 1), Errno::NOENT),
        (
            TxnStep::delete(b"/it/coord_txn", false, None),
            Errno::NOTEMPTY,
        ),
    ];
    assert_eq!(s.base(), "/it/coord_txn");
    for (last, errno) in cases {
        let before = snapshot(&store, &watch);
        let outcome = ok("txn", store.txn(&changes(last)));
        let expected_current = (errno == Errno::STALE).then_some(va);
        assert_eq!(
            outcome,
            TxnOutcome::Failed {
                index: 4,
                errno,
                current: expected_current
            }
        );
        assert_same_snapshot(
            format_args!("after a transaction failing with {errno:?}"),
            &before,
            &snapshot(&store, &watch),
        );
    }
    ok("IOC_CHECK", store.check());

    let before = ok("stats", store.store_stats()).sequence;
    let steps = [
        TxnStep::check_version(a.as_bytes(), va),
        TxnStep::set_if_version(a.as_bytes(), b"2", va),
        TxnStep::create(n.as_bytes(), b"new"),
        TxnStep::delete(d.as_bytes(), true, None),
        TxnStep::check_absent(d.as_bytes()),
    ];
    let version = match ok("txn", store.txn(&steps)) {
        TxnOutcome::Committed(version) => version,
        failed => panic!("the transaction should commit, got {failed:?}"),
    };
    assert_eq!(
        version,
        before + 3,
        "its three changes take consecutive versions"
    );
    assert_eq!(stat(&store, &a).version, before + 1);
    assert_eq!(stat(&store, &n).version, before + 2);
    assert!(!ok("exists", store.exists(&d)));
    let seen = drain(&store, s.base(), true, before);
    let kinds: Vec<_> = seen.iter().map(|(k, v, p)| (*k, *v, p.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Changed, before + 1, a.as_str()),
            (EventKind::Created, before + 2, n.as_str()),
            (EventKind::Deleted, version, d.as_str()),
        ],
        "watchers see each change of the transaction"
    );
    // A transaction that only checks changes nothing.
    let only_checks = [TxnStep::check_version(a.as_bytes(), before + 1)];
    assert_eq!(
        ok("txn", store.txn(&only_checks)),
        TxnOutcome::Committed(version)
    );
    ok("IOC_CHECK", store.check());
}

#[test]
fn concurrent_transfers_in_transactions_keep_the_sum() {
    const THREADS: usize = 4;
    const TRANSFERS: usize = 40;
    const ACCOUNTS: usize = 3;
    let store = open();
    let s = Scratch::new(&store, "coord_transfer");
    let accounts: Vec<String> = (0..ACCOUNTS).map(|i| s.path(&format!("acct{i}"))).collect();
    for account in &accounts {
        ok("open an account", store.set(account, "100"));
    }
    let read = |store: &Pathstore, path: &str| -> (i64, u64) {
        let (value, version) = ok("get", store.get_with_version(path));
        (String::from_utf8(value).unwrap().parse().unwrap(), version)
    };
    let retries: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let accounts = &accounts;
                scope.spawn(move || {
                    let store = open();
                    let mut retries = 0;
                    for n in 0..TRANSFERS {
                        let (from, to) = (
                            &accounts[(t + n) % ACCOUNTS],
                            &accounts[(t + n + 1) % ACCOUNTS],
                        );
                        for tries in 0.. {
                            assert!(
                                tries < MAX_RETRIES_IN_A_ROW,
                                "{tries} transfers in a row failed with ESTALE: they never succeed"
                            );
                            let ((a, va), (b, vb)) = (read(&store, from), read(&store, to));
                            let (a, b) = ((a - 1).to_string(), (b + 1).to_string());
                            let steps = [
                                TxnStep::set_if_version(from.as_bytes(), a.as_bytes(), va),
                                TxnStep::set_if_version(to.as_bytes(), b.as_bytes(), vb),
                            ];
                            match ok("transfer", store.txn(&steps)) {
                                TxnOutcome::Committed(_) => break,
                                TxnOutcome::Failed {
                                    errno: Errno::STALE,
                                    ..
                                } => retries += 1,
                                other => panic!("transfer failed: {other:?}"),
                            }
                        }
                    }
                    retries
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let total: i64 = accounts.iter().map(|a| read(&store, a).0).sum();
    assert_eq!(total, 100 * ACCOUNTS as i64, "transfers keep the sum");
    println!(
        "{} transfers by {THREADS} threads, {retries} retried after ESTALE",
        THREADS * TRANSFERS
    );
    ok("IOC_CHECK", store.check());
}

/// The `pathstore` CLI built next to this test binary.
fn cli() -> Command {
    let exe = std::env::current_exe().expect("the path of the test binary");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/release");
    Command::new(dir.join("pathstore"))
}

#[test]
fn the_cli_runs_transactions_and_watches() {
    use std::io::Write;
    let store = open();
    let s = Scratch::new(&store, "coord_cli");
    let (a, b) = (s.path("a"), s.path("b"));
    let va = ok("set a", store.set(&a, "1"));
    let run_txn = |steps: String| {
        let mut child = cli()
            .args(["txn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run pathstore txn");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(steps.as_bytes())
            .unwrap();
        child.wait_with_output().expect("pathstore txn")
    };
    let out = run_txn(format!("check {a} {}\nset {b} two words\nrm {a}\n", va + 1));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("step 1 (line 1)")
            && stderr.contains("ESTALE")
            && stderr.contains(&va.to_string()),
        "stderr: {stderr}"
    );
    assert!(!ok("exists", store.exists(&b)));
    let out = run_txn(format!("check {a} {va}\nset {b} two words\nrm {a}\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The version of its last change, the delete of `a`.
    let version = ok("stats", store.store_stats()).sequence;
    assert_eq!(stat(&store, &b).version, version - 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("committed {version}\n")
    );
    assert_eq!(ok("get", store.get(&b)), b"two words");

    let watcher = cli()
        .args([
            "watch",
            "-r",
            "--count",
            "2",
            "--after",
            &version.to_string(),
            s.base(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run pathstore watch");
    ok("set", store.set(&a, "back"));
    ok("delete", store.delete(&b));
    let out = watcher.wait_with_output().expect("pathstore watch");
    assert!(out.status.success());
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    let expected = format!("{} created {a}\n{} deleted {b}\n", version + 1, version + 2);
    assert_eq!(lines, expected);
}

#[test]
fn a_watch_sees_its_node_created_as_a_parent() {
    let store = open();
    let s = Scratch::new(&store, "coord_watch_parent");
    let (parent, leaf) = (s.path("p"), s.path("p/q/r"));
    let after = ok("stats", store.store_stats()).sequence;
    let v = ok("set a node below", store.set(&leaf, "x"));
    let event = ok(
        "watch",
        store.watch(&parent, false, after, Some(Duration::ZERO)),
    )
    .expect("the parent was created");
    assert_eq!((event.kind, event.version), (EventKind::Created, v));
    assert_eq!(
        event.path,
        leaf.as_bytes(),
        "the event names the node that was set"
    );
    // The base existed before: its watch sees nothing.
    assert!(drain(&store, s.base(), false, after).is_empty());
}
