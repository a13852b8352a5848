//! Coordination: compare-and-set, conditional deletes, sequential and ephemeral nodes, and a
//! leader election between processes that get killed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration::{
    assert_same_snapshot, expect_errno, ok, open, snapshot, stat, Scratch, WORKER_ENV,
};
use pathstore::{Conditional, Errno, Pathstore};

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
        let exe = std::env::current_exe().expect("the path of the test binary");
        let child = Command::new(exe)
            .args(["--exact", "worker_process", "--test-threads=1"])
            .env(WORKER_ENV, format!("coord {spec}"))
            .stdin(Stdio::null())
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
}

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
                        loop {
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
