//! Owners, access modes and per-user quotas, exercised by unprivileged users.
//!
//! These tests need the module loaded with `dev_mode=0666 uid_max_nodes=16 uid_max_bytes=1024`
//! (the guest runs them in a pass of their own) and a test binary that other users may execute.
//! Root prepares each case; the unprivileged steps run in worker processes started as another
//! uid (see [`as_user`]), which report the outcome of every step.

use std::os::unix::fs::PermissionsExt;

use integration::{
    assert_same_snapshot, ok, open, snapshot, spawn_worker_as, stat, wait_worker, Scratch,
};
use pathstore::{abi, errno_name, Errno, Pathstore};

/// The per-user node quota this pass loads the module with.
const UID_MAX_NODES: u64 = 16;
/// The per-user byte quota this pass loads the module with.
const UID_MAX_BYTES: u64 = 1024;

pub(crate) const ALICE: u32 = 1000;
pub(crate) const BOB: u32 = 1001;

/// Runs `steps` as `uid` in a worker process and returns the outcome of each: `ok`, `ok DETAIL`
/// or an errno name. The steps are those of [`run_worker`].
pub(crate) fn as_user(uid: u32, steps: &[String]) -> Vec<String> {
    let spec = format!("access {}", steps.join(" ; "));
    let worker = spawn_worker_as(&spec, Some(uid));
    let results = wait_worker(worker);
    assert_eq!(
        results.len(),
        steps.len(),
        "uid {uid} should report one outcome per step of {steps:?}, got {results:?}"
    );
    results
}

/// The worker half of [`as_user`]: runs the `;`-separated steps of `spec` on one open file and
/// prints a `WORKER-RESULT` line per step. Steps: `get P`, `set P V`, `create P V`,
/// `ephemeral P V` (removed when the worker's file is released),
/// `mode P V private|read|rw`, `rm P`, `rmr P`, `ls P`, `stat P`, `stats`, `check`, `text LINE`
/// (a command through the text interface, on a file of its own), and the steps of
/// [`crate::tenants`]: `watchall P AFTER`, `rmr-stale P VERSION SECONDS`, `spin SECONDS`,
/// `await-map`, `watchers N P SECONDS READY`.
pub(crate) fn run_worker(spec: &str) {
    let mut store = Pathstore::open_path(integration::device());
    for step in spec.split(" ; ") {
        let result = match (step.split_once(' '), &store) {
            (_, _) if step == "reopen" => {
                store = Pathstore::open_path(integration::device());
                match &store {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => name(e.errno()),
                }
            }
            (Some(("setuid", uid)), _) => setuid(uid.parse().expect("a uid")),
            (_, Ok(store)) => run_step(store, step),
            (_, Err(e)) => name(e.errno()),
        };
        println!("WORKER-RESULT {result}");
    }
}

/// Changes every uid and gid of this process to `uid`.
fn setuid(uid: u32) -> String {
    // SAFETY: Plain system calls; glibc applies them to every thread of the process.
    let ret = unsafe {
        if libc::setresgid(uid, uid, uid) != 0 {
            -1
        } else {
            libc::setresuid(uid, uid, uid)
        }
    };
    if ret == 0 {
        "ok".to_owned()
    } else {
        name(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
    }
}

pub(crate) fn name(errno: Errno) -> String {
    errno_name(errno).map_or_else(|| format!("errno {}", errno.raw_os_error()), str::to_owned)
}

pub(crate) fn outcome<T>(result: pathstore::Result<T>, detail: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => {
            let detail = detail(value);
            if detail.is_empty() {
                "ok".to_owned()
            } else {
                format!("ok {detail}")
            }
        }
        Err(e) => name(e.errno()),
    }
}

fn run_step(store: &Pathstore, step: &str) -> String {
    let words: Vec<&str> = step.split(' ').collect();
    let none = |_| String::new();
    match words.as_slice() {
        ["get", p] => outcome(store.get(p), |v| String::from_utf8_lossy(&v).into_owned()),
        ["set", p, v] => outcome(store.set(p, v), none),
        ["create", p, v] => outcome(store.create(p, v), none),
        ["ephemeral", p, v] => outcome(store.create_ephemeral(p, v), |_| String::new()),
        ["mode", p, v, mode] => {
            let bits = match *mode {
                "private" => 0,
                "read" => abi::MODE_OTHERS_READ,
                "rw" => abi::MODE_ALL,
                other => panic!("unknown mode {other:?}"),
            };
            outcome(store.set_mode(p, v, 0, bits), none)
        }
        ["rm", p] => outcome(store.delete(p), |()| String::new()),
        ["rmr", p] => outcome(store.delete_recursive(p), |()| String::new()),
        ["ls", p] => outcome(store.list(p), |names| {
            let names: Vec<_> = names.iter().map(|n| String::from_utf8_lossy(n)).collect();
            names.join(",")
        }),
        ["stat", p] => outcome(store.stat(p), |st| {
            format!("uid={} mode={}", st.uid, st.mode)
        }),
        ["stats"] => outcome(store.store_stats(), |st| {
            format!("nodes={} bytes={}", st.uid_nodes, st.uid_bytes)
        }),
        ["check"] => outcome(store.check(), |_| String::new()),
        ["watchall", p, after] => crate::tenants::watch_all(store, p, after),
        ["rmr-stale", p, version, seconds] => {
            crate::tenants::stale_deletes(store, p, version, seconds)
        }
        ["rmr-denied", p, seconds] => crate::tenants::denied_deletes(store, p, seconds),
        ["spin", seconds] => crate::tenants::spin(store, seconds),
        ["await-map"] => crate::tenants::await_map(),
        ["watchers", n, p, seconds, ready] => {
            crate::tenants::sleeping_watchers(store, n, p, seconds, ready)
        }
        ["pending", n, line @ ..] => crate::tenants::pending_responses(n, &line.join(" ")),
        ["text", line @ ..] => text(&format!("{}\n", line.join(" "))),
        _ => panic!("unknown step {step:?}"),
    }
}

/// Writes one command to a new open file of the device; `ok` or the errno of the write.
fn text(line: &str) -> String {
    use std::io::Write;
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(integration::device())
    {
        Ok(file) => file,
        Err(e) => return name(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
    };
    match file.write(line.as_bytes()) {
        Ok(n) if n == line.len() => "ok".to_owned(),
        Ok(n) => format!("short write {n}"),
        Err(e) => name(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
    }
}

/// Steps from string slices.
pub(crate) fn steps(steps: &[&str]) -> Vec<String> {
    steps.iter().map(|s| (*s).to_owned()).collect()
}

/// A scratch subtree whose root every user may create nodes under.
pub(crate) fn shared_scratch<'s>(store: &'s Pathstore, name: &str) -> Scratch<'s> {
    let s = Scratch::new(store, name);
    ok(
        "make the scratch root writable by all",
        store.set_mode(s.base(), "", 0, abi::MODE_ALL),
    );
    s
}

/// Checks the store's consistency after a case, as root.
pub(crate) fn check_consistent(store: &Pathstore) {
    let report = ok("IOC_CHECK", store.check());
    let stats = ok("store stats", store.store_stats());
    assert_eq!(
        (report.nodes, report.bytes),
        (stats.nodes, stats.bytes),
        "the consistency walk should count what store stats report"
    );
}

#[test]
fn device_node_mode_follows_dev_mode() {
    let meta = std::fs::metadata(integration::device()).expect("stat /dev/pathstore");
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o666,
        "this pass loads the module with dev_mode=0666"
    );
    let st = ok("store stats", open().store_stats());
    assert_eq!(
        (st.uid_max_nodes, st.uid_max_bytes),
        (UID_MAX_NODES, UID_MAX_BYTES)
    );
}

#[test]
fn others_may_read_default_nodes_but_not_change_them() {
    let store = open();
    let s = shared_scratch(&store, "acc_default");
    let (node, child) = (s.path("pub"), s.path("pub/child"));
    ok("root sets the child", store.set(&child, "c"));
    ok("root sets the node", store.set(&node, "v"));
    assert_eq!(stat(&store, &node).mode, abi::MODE_DEFAULT);
    let before = snapshot(&store, &[&node, &child]);
    let out = as_user(
        ALICE,
        &[
            format!("get {node}"),
            format!("ls {node}"),
            format!("stat {node}"),
            format!("set {node} x"),
            format!("create {node}/new x"),
            format!("rm {child}"),
            format!("rmr {node}"),
            format!("mode {node} x rw"),
        ],
    );
    assert_eq!(
        out,
        steps(&[
            "ok v",
            "ok child",
            "ok uid=0 mode=1",
            "EACCES",
            "EACCES",
            "EACCES",
            "EACCES",
            "EACCES",
        ])
    );
    assert_same_snapshot(
        "after the refused changes",
        &before,
        &snapshot(&store, &[&node, &child]),
    );
    check_consistent(&store);
}

#[test]
fn private_nodes_hide_their_value_and_children() {
    let store = open();
    let s = shared_scratch(&store, "acc_private");
    let node = s.path("secret");
    ok(
        "root creates a private node",
        store.set_mode(&node, "hush", 0, 0),
    );
    ok("and a child", store.set(format!("{node}/c"), "c"));
    let out = as_user(
        BOB,
        &[
            format!("get {node}"),
            format!("ls {node}"),
            format!("stat {node}"),
            format!("text get {node}"),
        ],
    );
    assert_eq!(
        out,
        steps(&["EACCES", "EACCES", "ok uid=0 mode=0", "EACCES"])
    );
    assert_eq!(ok("root reads it", store.get(&node)), b"hush");
}

#[test]
fn users_own_the_nodes_they_create() {
    let store = open();
    let s = shared_scratch(&store, "acc_owner");
    let (dir, x) = (s.path("u"), s.path("u/x"));
    let out = as_user(
        ALICE,
        &[
            format!("set {x} 1"),
            format!("stat {dir}"),
            format!("stat {x}"),
            format!("set {x} 2"),
            "stats".to_owned(),
        ],
    );
    let own = format!("nodes=2 bytes={}", "u".len() + "x".len() + 1);
    let expected = [
        "ok".to_owned(),
        format!("ok uid={ALICE} mode=1"),
        format!("ok uid={ALICE} mode=1"),
        "ok".to_owned(),
        format!("ok {own}"),
    ];
    assert_eq!(out, expected);
    assert_eq!(stat(&store, &x).uid, ALICE);

    let before = snapshot(&store, &[&dir, &x]);
    let out = as_user(
        BOB,
        &[
            format!("get {x}"),
            format!("set {x} 3"),
            format!("rm {x}"),
            format!("create {dir}/y 1"),
            format!("text set {x} 3"),
        ],
    );
    assert_eq!(
        out,
        steps(&["ok 2", "EACCES", "EACCES", "EACCES", "EACCES"])
    );
    assert_same_snapshot(
        "after Bob's refused changes",
        &before,
        &snapshot(&store, &[&dir, &x]),
    );

    // CAP_SYS_ADMIN may change anything; the node keeps its owner.
    ok("root replaces Alice's value", store.set(&x, "root"));
    assert_eq!(stat(&store, &x).uid, ALICE);
    let out = as_user(
        ALICE,
        &[format!("rm {x}"), format!("rm {dir}"), "stats".into()],
    );
    assert_eq!(out, steps(&["ok", "ok", "ok nodes=0 bytes=0"]));
    check_consistent(&store);
}

#[test]
fn read_write_nodes_are_shared_but_only_the_owner_changes_the_mode() {
    let store = open();
    let s = shared_scratch(&store, "acc_rw");
    let (node, y) = (s.path("shared"), s.path("shared/y"));
    let out = as_user(ALICE, &[format!("mode {node} a rw")]);
    assert_eq!(out, steps(&["ok"]));
    let out = as_user(
        BOB,
        &[
            format!("set {node} b"),
            format!("create {y} 1"),
            format!("mode {node} b private"),
            format!("stat {y}"),
        ],
    );
    let expected = [
        "ok".to_owned(),
        "ok".to_owned(),
        "EPERM".to_owned(),
        format!("ok uid={BOB} mode=1"),
    ];
    assert_eq!(out, expected);
    assert_eq!(stat(&store, &node).mode, abi::MODE_ALL);
    let out = as_user(
        ALICE,
        &[format!("mode {node} a private"), format!("get {node}")],
    );
    assert_eq!(out, steps(&["ok", "ok a"]));
    let out = as_user(
        BOB,
        &[
            format!("get {node}"),
            format!("set {node} c"),
            format!("rm {y}"),
        ],
    );
    assert_eq!(out, steps(&["EACCES", "EACCES", "ok"]));
    check_consistent(&store);
}

#[test]
fn a_recursive_delete_needs_the_right_to_delete_every_node() {
    let store = open();
    let s = shared_scratch(&store, "acc_rmr");
    let (dir, x) = (s.path("d"), s.path("d/x"));
    assert_eq!(
        as_user(ALICE, &[format!("mode {dir} a rw")]),
        steps(&["ok"])
    );
    assert_eq!(as_user(BOB, &[format!("set {x} b")]), steps(&["ok"]));
    let before = snapshot(&store, &[&dir, &x]);
    let out = as_user(ALICE, &[format!("rmr {dir}"), "rmr /".to_owned()]);
    assert_eq!(out, steps(&["EACCES", "EACCES"]));
    assert_same_snapshot(
        "after the refused deletes",
        &before,
        &snapshot(&store, &[&dir, &x]),
    );
    assert_eq!(as_user(BOB, &[format!("rm {x}")]), steps(&["ok"]));
    assert_eq!(as_user(ALICE, &[format!("rmr {dir}")]), steps(&["ok"]));
    assert!(!ok("exists", store.exists(&dir)));
    check_consistent(&store);
}

#[test]
fn the_node_quota_is_per_user_and_does_not_bind_root() {
    const USER: u32 = 2000;
    let store = open();
    let s = shared_scratch(&store, "acc_qnodes");
    let dir = s.path("q");
    // The first set creates `q` too: UID_MAX_NODES nodes in all.
    let mut fill: Vec<String> = (0..UID_MAX_NODES - 1)
        .map(|i| format!("set {dir}/n{i} v"))
        .collect();
    fill.push(format!("set {dir}/over v"));
    fill.push(format!("text set {dir}/over v"));
    fill.push("stats".to_owned());
    let out = as_user(USER, &fill);
    let mut expected = vec!["ok".to_owned(); (UID_MAX_NODES - 1) as usize];
    expected.push("EDQUOT".to_owned());
    expected.push("EDQUOT".to_owned());
    let names: u64 = 1
        + (0..UID_MAX_NODES - 1)
            .map(|i| format!("n{i}").len() as u64 + 1)
            .sum::<u64>();
    expected.push(format!("ok nodes={UID_MAX_NODES} bytes={names}"));
    assert_eq!(out, expected);
    assert!(!ok("exists", store.exists(format!("{dir}/over"))));

    // Another user has a quota of its own; root has none.
    assert_eq!(
        as_user(USER + 1, &[format!("set {dir}2/a v")]),
        steps(&["ok"])
    );
    for i in 0..UID_MAX_NODES + 4 {
        ok(
            "root is not bound by the quota",
            store.set(format!("{dir}3/n{i}"), "v"),
        );
    }
    // Freeing a node makes room again.
    let out = as_user(USER, &[format!("rm {dir}/n0"), format!("set {dir}/over v")]);
    assert_eq!(out, steps(&["ok", "ok"]));
    check_consistent(&store);
}

#[test]
fn the_byte_quota_is_charged_to_the_owner() {
    const USER: u32 = 2002;
    const OTHER: u32 = 2003;
    let store = open();
    let s = shared_scratch(&store, "acc_qbytes");
    let node = s.path("b");
    // Name "b" plus the value: the whole quota.
    let full = "x".repeat(UID_MAX_BYTES as usize - 1);
    let over = "x".repeat(UID_MAX_BYTES as usize);
    let out = as_user(
        USER,
        &[
            format!("set {node} {over}"),
            format!("mode {node} {full} rw"),
            "stats".to_owned(),
            format!("set {node}2 v"),
        ],
    );
    let expected = [
        "EDQUOT".to_owned(),
        "ok".to_owned(),
        format!("ok nodes=1 bytes={UID_MAX_BYTES}"),
        "EDQUOT".to_owned(),
    ];
    assert_eq!(out, expected);
    // Another user may replace the value, but it is charged to the node's owner.
    let before = snapshot(&store, &[&node]);
    let out = as_user(
        OTHER,
        &[
            format!("set {node} {over}x"),
            format!("set {node} y"),
            "stats".into(),
        ],
    );
    assert_eq!(out, steps(&["EDQUOT", "ok", "ok nodes=0 bytes=0"]));
    assert_ne!(
        before.stats.sequence,
        ok("stats", store.store_stats()).sequence
    );
    let out = as_user(USER, &["stats".to_owned()]);
    assert_eq!(out, steps(&["ok nodes=1 bytes=2"]));
    check_consistent(&store);
}

#[test]
fn the_consistency_check_needs_cap_sys_admin() {
    let store = open();
    let out = as_user(ALICE, &["check".to_owned(), "stats".to_owned()]);
    assert_eq!(out[0], "EPERM");
    check_consistent(&store);
}

#[test]
fn an_open_file_keeps_the_identity_of_its_opener() {
    let store = open();
    let s = shared_scratch(&store, "acc_opener");
    let node = s.path("private");
    ok(
        "root creates a private node",
        store.set_mode(&node, "v", 0, 0),
    );
    // A root process opens the device, then becomes Alice: the file it opened as root still
    // acts as root, as with files; a file it opens as Alice acts as Alice.
    let spec = format!("access get {node} ; setuid {ALICE} ; get {node} ; reopen ; get {node}");
    let out = wait_worker(spawn_worker_as(&spec, None));
    assert_eq!(out, steps(&["ok v", "ok", "ok v", "ok", "EACCES"]));
}
