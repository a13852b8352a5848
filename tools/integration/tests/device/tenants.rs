//! A shared host: attacks one user can make on another, each asserting the bound that stops it
//! (docs/semantics.md, "Threat model").
//!
//! These run in the access pass (`dev_mode=0666 uid_max_nodes=16 uid_max_bytes=1024`): root
//! prepares each case, and the other users' steps run in worker processes as those users (see
//! [`as_user`]).

use std::{
    fs::File,
    io::{Read, Write},
    process::Command,
    time::{Duration, Instant},
};

use integration::{clip, ok, open, scaled, Scratch, WORKER_ENV};
use pathstore::{abi, Conditional, Errno, Pathstore};

use crate::access::{as_user, check_consistent, name, shared_scratch, steps, ALICE, BOB};

/// Worker step `watchall P AFTER`: every change a subtree watch of `P` reports after version
/// `AFTER`, without waiting, as `KIND:PATH` joined by `,` (`none` when there is none).
pub(crate) fn watch_all(store: &Pathstore, path: &str, after: &str) -> String {
    let mut after: u64 = after.parse().expect("a version");
    let mut seen = Vec::new();
    loop {
        match store.watch(path, true, after, Some(Duration::ZERO)) {
            Ok(Some(event)) => {
                seen.push(format!(
                    "{}:{}",
                    event.kind.name(),
                    String::from_utf8_lossy(&event.path)
                ));
                after = event.version;
            }
            Ok(None) if seen.is_empty() => return "ok none".to_owned(),
            Ok(None) => return format!("ok {}", seen.join(",")),
            Err(e) => return name(e.errno()),
        }
    }
}

/// Worker step `rmr-stale P VERSION SECONDS`: for `SECONDS`, recursive deletes of `P` at a
/// version it does not have, each of which must fail with `ESTALE`. Reports how many ran.
pub(crate) fn stale_deletes(store: &Pathstore, path: &str, version: &str, seconds: &str) -> String {
    let version: u64 = version.parse().expect("a version");
    let seconds: u64 = seconds.parse().expect("seconds");
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut count = 0u64;
    while Instant::now() < end {
        match store.delete_if_version(path, version, true) {
            Ok(Conditional::Stale(_)) => count += 1,
            Ok(Conditional::Done(())) => return "DELETED".to_owned(),
            Err(e) => return name(e.errno()),
        }
    }
    format!("ok {count}")
}

/// Worker step `rmr-denied P SECONDS`: for `SECONDS`, recursive deletes of `P`, each of which
/// must fail with `EACCES`. Reports how many ran.
pub(crate) fn denied_deletes(store: &Pathstore, path: &str, seconds: &str) -> String {
    let seconds: u64 = seconds.parse().expect("seconds");
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut count = 0u64;
    while Instant::now() < end {
        match store.delete_recursive(path) {
            Err(e) if e.errno() == Errno::ACCESS => count += 1,
            Ok(()) => return "DELETED".to_owned(),
            Err(e) => return name(e.errno()),
        }
    }
    format!("ok {count}")
}

/// Worker step `spin SECONDS`: for `SECONDS`, calls that take no lock of the store
/// (`PATHSTORE_IOC_VERSION`), as a load on the CPUs like the attacks' but not on the store.
pub(crate) fn spin(store: &Pathstore, seconds: &str) -> String {
    let seconds: u64 = seconds.parse().expect("seconds");
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut count = 0u64;
    while Instant::now() < end {
        if let Err(e) = store.version() {
            return name(e.errno());
        }
        count += 1;
    }
    format!("ok {count}")
}

/// Writes `command` to `file` and reads the whole response.
fn text(file: &mut File, command: &[u8]) -> Vec<u8> {
    file.write_all(command)
        .unwrap_or_else(|e| panic!("text command {:?}: {e}", String::from_utf8_lossy(command)));
    let mut response = Vec::new();
    file.read_to_end(&mut response)
        .unwrap_or_else(|e| panic!("reading the response: {e}"));
    response
}

/// An open file of the device for the text interface.
fn text_file() -> File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(integration::device())
        .expect("open the device for reading and writing")
}

#[test]
fn a_private_node_hides_its_whole_subtree() {
    let store = open();
    let s = shared_scratch(&store, "ten_private");
    let secret = s.path("secret");
    ok(
        "root creates a private node",
        store.set_mode(&secret, "", 0, 0),
    );
    // Children created with the default mode, readable by others on their own.
    ok(
        "and a child below it",
        store.set(format!("{secret}/inner/c"), "c"),
    );
    let out = as_user(
        BOB,
        &[
            format!("get {secret}/inner/c"),
            format!("stat {secret}/inner/c"),
            format!("ls {secret}/inner"),
            format!("get {secret}/missing"),
            format!("text get {secret}/inner/c"),
            format!("stat {secret}"),
        ],
    );
    assert_eq!(
        out,
        steps(&[
            "EACCES",
            "EACCES",
            "EACCES",
            "EACCES",
            "EACCES",
            "ok uid=0 mode=0"
        ]),
        "nothing below a private node may be read, listed or stat'ed by another user, and a \
         missing node there is EACCES too (its absence is not revealed)"
    );
    // The text interface can create private nodes, private from their first moment.
    let mine = s.path("alice-secret");
    let out = as_user(
        ALICE,
        &[
            format!("text create -m private {mine} v"),
            format!("get {mine}"),
        ],
    );
    assert_eq!(out, steps(&["ok", "ok v"]));
    let out = as_user(BOB, &[format!("get {mine}"), format!("stat {mine}")]);
    assert_eq!(out, steps(&["EACCES", "ok uid=1000 mode=0"]));
    assert_eq!(ok("root reads it", store.get(&mine)), b"v");
}

#[test]
fn a_subtree_watch_reports_nothing_below_another_users_private_node() {
    let store = open();
    let s = shared_scratch(&store, "ten_watch");
    let base = s.base().to_owned();
    let before = ok("store stats", store.store_stats()).sequence;
    let out = as_user(
        ALICE,
        &[
            format!("mode {base}/alice x private"),
            format!("set {base}/alice/hidden-name 1"),
            format!("set {base}/public 1"),
        ],
    );
    assert_eq!(out, steps(&["ok", "ok", "ok"]));
    let bob = as_user(BOB, &[format!("watchall {base} {before}")]);
    assert_eq!(
        bob,
        vec![format!("ok created:{base}/alice,created:{base}/public")],
        "Bob may see that Alice's private node was made (he can list its parent), but not what \
         was made below it"
    );
    let alice = as_user(ALICE, &[format!("watchall {base} {before}")]);
    assert_eq!(
        alice,
        vec![format!(
            "ok created:{base}/alice,created:{base}/alice/hidden-name,created:{base}/public"
        )],
        "the owner sees every change below her own private node"
    );
}

#[test]
fn names_cannot_forge_lines_of_text_responses() {
    let store = open();
    let s = Scratch::new(&store, "ten_names");
    let before = ok("store stats", store.store_stats()).sequence;
    for name in [&b"a b"[..], b"c\\d", b"x\n1 created forged"] {
        ok("set an odd name", store.set(s.bpath(name), "v"));
    }
    let mut file = text_file();
    let listing = text(&mut file, format!("ls {}", s.base()).as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&listing),
        "a\\x20b\nc\\\\d\nx\\x0a1\\x20created\\x20forged\n",
        "each name is one line, escaped"
    );
    let event = text(
        &mut file,
        format!("watch -r {} {before}", s.base()).as_bytes(),
    );
    assert_eq!(
        String::from_utf8_lossy(&event),
        format!("{} created {}/a\\x20b\n", before + 1, s.base()),
        "an event is one line of three fields"
    );
}

#[test]
fn owners_unmapped_in_a_user_namespace_show_as_the_overflow_uid_and_its_root_is_no_admin() {
    let store = open();
    let s = shared_scratch(&store, "ten_userns");
    let node = s.path("root-owned");
    ok("root creates a node", store.set(&node, "v"));
    // A worker in a new user namespace without any uid mapping: container root, as far as the
    // namespace is concerned, and nobody the store's owners map to.
    let spec = format!("access stat {node} ; check");
    let worker = integration::worker_command(&spec);
    let out = Command::new("unshare")
        .arg("--user")
        .arg("--")
        .arg(worker.get_program())
        .args(worker.get_args())
        .arg("--nocapture")
        .env(WORKER_ENV, &spec)
        .output()
        .expect("run unshare --user (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the worker in a user namespace should succeed: {}\n{}",
        out.status,
        clip(String::from_utf8_lossy(&out.stderr).into_owned(), 4000)
    );
    assert!(
        stdout.contains("WORKER-DONE"),
        "the worker should have run: {}",
        clip(stdout.to_string(), 4000)
    );
    // libtest prints "test worker_process ... " without a newline before the test's output.
    const PREFIX: &str = "WORKER-RESULT ";
    let results: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.find(PREFIX).map(|i| &l[i + PREFIX.len()..]))
        .collect();
    let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "65534".to_owned());
    assert_eq!(
        results,
        [
            format!("ok uid={overflow} mode={}", abi::MODE_DEFAULT),
            "EPERM".to_owned()
        ],
        "stat shows an unmapped owner as the overflow uid, as stat(2) does, and root inside a \
         user namespace does not hold CAP_SYS_ADMIN over the store"
    );
}

/// The median of `samples`.
fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// The median time of `op` (a get, a set), measured for `window`: in samples of at least 50 ms
/// (the debug guest's clock ticks in jiffies, so one call is too short to time alone), each the
/// mean of the calls it holds.
fn latency(window: Duration, mut op: impl FnMut()) -> Duration {
    const SAMPLE: Duration = Duration::from_millis(50);
    let end = Instant::now() + window;
    let mut times = Vec::new();
    while times.is_empty() || Instant::now() < end {
        let start = Instant::now();
        let mut calls = 0u32;
        while calls == 0 || start.elapsed() < SAMPLE {
            op();
            calls += 1;
        }
        times.push(start.elapsed() / calls);
    }
    median(&mut times)
}

/// The median time of a get of `path`, measured for `window` (see [`latency`]).
fn get_latency(store: &Pathstore, path: &str, window: Duration) -> Duration {
    latency(window, || {
        ok("get", store.get(path));
    })
}

#[test]
fn failing_recursive_deletes_do_not_hold_up_other_readers() {
    let store = open();
    let s = shared_scratch(&store, "ten_stale_rm");
    let big = s.path("big");
    ok(
        "a subtree others may write",
        store.set_mode(&big, "", 0, abi::MODE_ALL),
    );
    let nodes = scaled(20_000);
    let fanout = 100;
    for i in 0..nodes {
        ok(
            "build the subtree",
            store.set_mode(
                format!("{big}/{}/{}", i / fanout, i % fanout),
                "",
                0,
                abi::MODE_ALL,
            ),
        );
    }
    let version = stat_version(&store, &big);
    let key = s.path("key");
    ok("the reader's key", store.set(&key, "value"));
    // The workers run for `seconds`; the reader measures for `window` once they have started
    // (half as long in the fast tier, which scales the tests down).
    let (seconds, window) = if scaled(100) < 100 {
        (3, Duration::from_secs(2))
    } else {
        (6, Duration::from_secs(4))
    };
    let under = |attack: &str| {
        best_of_trials(3.0, || {
            // Two other users load the CPUs as much as the attack will, without the store's
            // lock: the guest has two CPUs, so the reader's "idle" latency is measured beside
            // the same load.
            let idle = beside(&[ALICE, BOB], &format!("access spin {seconds}"), || {
                get_latency(&store, &key, window)
            });
            let loaded = beside(&[ALICE, BOB], attack, || get_latency(&store, &key, window));
            println!(
                "get median: beside a load off the store {idle:?}, beside {attack:?} \
                 {loaded:?}: {:.2}x",
                loaded.as_secs_f64() / idle.as_secs_f64()
            );
            (idle, loaded)
        })
    };
    // Two other users loop recursive deletes of the subtree at a version it does not have.
    let ratio = under(&format!(
        "access rmr-stale {big} {} {seconds}",
        version + 1000
    ));
    assert!(
        ratio <= 3.0,
        "a get beside two users' failing recursive deletes of a {nodes}-node subtree took \
         {ratio:.2}x its idle median, in the best of {TRIALS} trials; the version is checked \
         before the subtree is walked, so it should stay within 3x"
    );
    // Then recursive deletes they have no right to: every node of the subtree but one, which
    // root keeps private and the walk in name order would reach last.
    ok(
        "root's private node, last of the subtree",
        store.set_mode(format!("{big}/zzz/last"), "", 0, 0),
    );
    let version = stat_version(&store, &big);
    let ratio = under(&format!("access rmr-denied {big} {seconds}"));
    assert!(
        ratio <= 3.0,
        "a get beside two users' recursive deletes of a {nodes}-node subtree holding one node \
         they may not delete took {ratio:.2}x its idle median, in the best of {TRIALS} trials; \
         each node keeps a summary of the owners below it that others may not write, so the \
         right is known without walking the subtree, and it should stay within 3x"
    );
    assert_eq!(stat_version(&store, &big), version, "nothing was deleted");
}

/// How many times a latency comparison is measured at most.
const TRIALS: usize = 3;

/// Measures `(baseline, loaded)` latencies with `trial` until their ratio is at most `bound`, at
/// most [`TRIALS`] times, and returns the best ratio. Timing under TCG is noisy (the host's other
/// work shows in the guest), so one slow trial is not taken for a slow store; a store that is
/// slow is slow in every trial (the bugs these tests catch cost 10x and more).
fn best_of_trials(bound: f64, mut trial: impl FnMut() -> (Duration, Duration)) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..TRIALS {
        let (baseline, loaded) = trial();
        best = best.min(loaded.as_secs_f64() / baseline.as_secs_f64());
        if best <= bound {
            break;
        }
    }
    best
}

/// Runs `measure` while users `uids` each run the worker `spec`, after they have started;
/// checks that every worker reported success.
fn beside<R>(uids: &[u32], spec: &str, measure: impl FnOnce() -> R) -> R {
    let workers: Vec<_> = uids
        .iter()
        .map(|&uid| integration::spawn_worker_as(spec, Some(uid)))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let result = measure();
    for worker in workers {
        let out = integration::wait_worker(worker);
        assert!(
            out.len() == 1 && out[0].starts_with("ok "),
            "{spec}: every call should have gone as expected (a stale delete fails with \
             ESTALE): {out:?}"
        );
    }
    result
}

/// The version of the node at `path`.
fn stat_version(store: &Pathstore, path: &str) -> u64 {
    ok("stat", store.stat(path)).version
}

/// The cgroup v2 hierarchy, mounted at `/sys/fs/cgroup` if it is not yet.
fn cgroup_root() -> &'static str {
    const ROOT: &str = "/sys/fs/cgroup";
    if !std::path::Path::new(ROOT).join("cgroup.procs").exists() {
        let status = Command::new("mount")
            .args(["-t", "cgroup2", "none", ROOT])
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t cgroup2 none {ROOT}: {status}");
    }
    ROOT
}

/// Writes `value` to the cgroup file `path`.
fn cgroup_write(path: &str, value: &str) {
    std::fs::write(path, value).unwrap_or_else(|e| panic!("write {value:?} to {path}: {e}"));
}

/// The memory charged to the cgroup at `dir`, in bytes.
fn memory_current(dir: &str) -> u64 {
    let text = std::fs::read_to_string(format!("{dir}/memory.current"))
        .unwrap_or_else(|e| panic!("read {dir}/memory.current: {e}"));
    text.trim().parse().expect("memory.current holds a number")
}

#[test]
fn the_memory_a_user_stores_is_charged_to_its_memory_cgroup() {
    let store = open();
    let s = Scratch::new(&store, "ten_memcg");
    let root = cgroup_root();
    cgroup_write(&format!("{root}/cgroup.subtree_control"), "+memory");
    let dir = format!("{root}/pathstore-tenant");
    let _ = std::fs::create_dir(&dir);
    let pid = std::process::id().to_string();
    // This process joins the cgroup, stores values, and returns to the root cgroup.
    cgroup_write(&format!("{dir}/cgroup.procs"), &pid);
    let before = memory_current(&dir);
    let (count, len) = (200u64, 16 * 1024usize);
    let value = vec![b'm'; len];
    for i in 0..count {
        ok("set a value", store.set(s.path(&format!("v{i}")), &value));
    }
    let after = memory_current(&dir);
    cgroup_write(&format!("{root}/cgroup.procs"), &pid);
    let stored = count * len as u64;
    let charged = after.saturating_sub(before);
    println!("stored {stored} bytes of values; the cgroup was charged {charged} bytes");
    // memory.current lags the charges a little (they are batched per CPU).
    assert!(
        charged >= stored / 10 * 9,
        "the {stored} bytes of values this process stored should be charged to its memory \
         cgroup (__GFP_ACCOUNT), but memory.current grew by {charged}"
    );
    drop(s);
    let _ = std::fs::remove_dir(&dir);
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn mem_available() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
    let kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemAvailable in /proc/meminfo");
    kb * 1024
}

#[test]
fn pending_text_listings_pin_one_page_per_open_file() {
    let store = open();
    let s = Scratch::new(&store, "ten_listing");
    let dir = s.path("d");
    let names = scaled(20_000);
    for i in 0..names {
        ok(
            "a child with a 100-byte name",
            store.set(format!("{dir}/{i:0>100}"), ""),
        );
    }
    // Each of many open files starts a listing and leaves it pending.
    const FILES: usize = 1000;
    const PER_FILE: u64 = 32 * 1024;
    let before = mem_available();
    let mut files = Vec::with_capacity(FILES);
    for _ in 0..FILES {
        let mut file = text_file();
        file.write_all(format!("ls {dir}").as_bytes())
            .expect("start a listing");
        files.push(file);
    }
    let after = mem_available();
    let pinned = before.saturating_sub(after);
    println!(
        "{FILES} open files with a pending listing of {names} 100-byte names pin {} KiB ({} B \
         a file)",
        pinned / 1024,
        pinned / FILES as u64
    );
    assert!(
        pinned <= FILES as u64 * PER_FILE,
        "{FILES} pending listings of {names} names pinned {pinned} bytes: more than {PER_FILE} \
         bytes a file (one page of names, the open file and its state)"
    );
    // A listing read to its end is whole and in order, page after page.
    let mut listing = Vec::new();
    files[0]
        .read_to_end(&mut listing)
        .expect("read a listing to its end");
    let lines: Vec<&[u8]> = listing
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), names, "every name, once");
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "in byte order");
    drop(files);
}

/// Worker step `await-map`: waits (up to 20 s) until the test has written the uid and gid maps
/// of this process's new user namespace.
pub(crate) fn await_map() -> String {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        let mapped =
            |file: &str| std::fs::read_to_string(file).is_ok_and(|map| !map.trim().is_empty());
        if mapped("/proc/self/uid_map") && mapped("/proc/self/gid_map") {
            return "ok".to_owned();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    "no uid map".to_owned()
}

/// Runs in the worker process between fork and exec, as [`NS_OWNER`]: enters a new user
/// namespace, and keeps `CAP_SETUID` and `CAP_SETGID` in it across the exec (as ambient
/// capabilities: the worker's uid is not mapped yet, so the exec would drop them), for the
/// worker's `setuid` steps.
fn enter_new_user_namespace() -> std::io::Result<()> {
    /// `struct __user_cap_header_struct`.
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }
    /// `struct __user_cap_data_struct`.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    const CAP_SETGID: u32 = 6;
    const CAP_SETUID: u32 = 7;
    let fail = || Err(std::io::Error::last_os_error());
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: unshare(2), capget(2), capset(2) and prctl(2) with valid arguments: the header
    // and the two data structs that version 3 reads and writes.
    unsafe {
        if libc::unshare(libc::CLONE_NEWUSER) != 0 {
            return fail();
        }
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
            return fail();
        }
        data[0].inheritable |= (1 << CAP_SETGID) | (1 << CAP_SETUID);
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0 {
            return fail();
        }
        for cap in [CAP_SETGID, CAP_SETUID] {
            let raise = libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                libc::c_ulong::from(cap),
                0,
                0,
            );
            if raise != 0 {
                return fail();
            }
        }
    }
    Ok(())
}

/// The uid that creates the user namespace of
/// [`users_of_a_user_namespace_share_its_owners_quota`], used by no other test.
const NS_OWNER: u32 = 3000;
/// The kernel uid that uid 0 of that namespace maps to.
const NS_FIRST_KUID: u32 = 300_000;

#[test]
fn users_of_a_user_namespace_share_its_owners_quota() {
    use std::os::unix::process::CommandExt;

    let store = open();
    let s = shared_scratch(&store, "ten_ns_quota");
    let quota = ok("store stats", store.store_stats()).uid_max_nodes as usize;
    // Uids 0 and 1 of a user namespace that uid NS_OWNER creates each try to create `quota`
    // nodes: together they get `quota`, the owner's account, and no more.
    let mut steps = vec!["await-map".to_owned()];
    for ns_uid in 0..2 {
        steps.push(format!("setuid {ns_uid}"));
        steps.push("reopen".to_owned());
        for i in 0..quota {
            steps.push(format!("create {} v", s.path(&format!("u{ns_uid}-{i}"))));
        }
    }
    let spec = format!("access {}", steps.join(" ; "));
    let (worker, pid) = integration::spawn_worker_with(&spec, |command| {
        command.uid(NS_OWNER).gid(NS_OWNER);
        // SAFETY: the closure makes only async-signal-safe system calls, on memory of its own.
        unsafe {
            command.pre_exec(enter_new_user_namespace);
        }
    });
    // Root maps 8 uids and gids of the new namespace, as newuidmap does for subuids.
    for map in ["uid_map", "gid_map"] {
        std::fs::write(
            format!("/proc/{pid}/{map}"),
            format!("0 {NS_FIRST_KUID} 8\n"),
        )
        .unwrap_or_else(|e| panic!("write /proc/{pid}/{map}: {e}"));
    }
    let results = integration::wait_worker(worker);
    assert_eq!(
        results.len(),
        steps.len(),
        "one outcome per step: {results:?}"
    );
    let created = results.iter().filter(|r| *r == "ok").count() - 5;
    let refused: Vec<_> = results.iter().filter(|r| *r != "ok").collect();
    assert_eq!(
        (created, refused.len()),
        (quota, quota),
        "two users of one user namespace should share its owner's quota of {quota} nodes \
         (EDQUOT past it), as ucounts do: {results:?}"
    );
    assert!(refused.iter().all(|r| *r == "EDQUOT"), "{results:?}");
    // Their nodes are theirs (access and stat), the charge is the namespace owner's: the owner
    // itself has nothing left.
    assert_eq!(
        ok("stat", store.stat(s.path("u0-0"))).uid,
        NS_FIRST_KUID,
        "a node belongs to the kernel uid that created it"
    );
    assert_eq!(
        as_user(NS_OWNER, &[format!("create {} v", s.path("owner"))]),
        ["EDQUOT"],
        "the namespace's users used up their owner's quota"
    );
    // Deleting their nodes gives the quota back.
    ok("root deletes them", store.delete_recursive(s.base()));
    let again = shared_scratch(&store, "ten_ns_quota");
    assert_eq!(
        as_user(NS_OWNER, &[format!("create {} v", again.path("owner"))]),
        ["ok"]
    );
    check_consistent(&store);
}

/// Worker step `watchers N P SECONDS READY`: `N` threads each watch `P` (which does not exist)
/// for `SECONDS`; once all have started, and a moment more for them to sleep, sets `READY`.
/// Reports how many watches ended as expected: timed out, or woken by the creation of `P` (or
/// told they lost changes).
pub(crate) fn sleeping_watchers(
    store: &Pathstore,
    n: &str,
    path: &str,
    seconds: &str,
    ready: &str,
) -> String {
    let n: usize = n.parse().expect("a number of watchers");
    let timeout = Duration::from_secs(seconds.parse().expect("seconds"));
    let after = match store.store_stats() {
        Ok(stats) => stats.sequence,
        Err(e) => return name(e.errno()),
    };
    let outcomes: Vec<String> = std::thread::scope(|scope| {
        let mut threads = Vec::with_capacity(n);
        for _ in 0..n {
            let thread = std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn_scoped(scope, || {
                    match store.watch(path, false, after, Some(timeout)) {
                        Ok(None) => "timeout".to_owned(),
                        Ok(Some(event)) => format!("event {}", event.kind.name()),
                        Err(e) => name(e.errno()),
                    }
                });
            match thread {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    eprintln!("started {} watcher threads, then: {e}", threads.len());
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_secs(2));
        if let Err(e) = store.set(ready, "") {
            return vec![format!("set ready: {}", name(e.errno()))];
        }
        threads
            .into_iter()
            .map(|t| t.join().expect("a watcher thread"))
            .collect()
    });
    // Each either timed out or saw the watched path created (which ends the test early), or,
    // when the test's sets pushed its version out of the change log meanwhile, learned that it
    // lost changes (a resynchronisation).
    let expected = |o: &&String| matches!(o.as_str(), "timeout" | "event created" | "event lost");
    let done = outcomes.iter().filter(expected).count();
    if done == n && outcomes.len() == n {
        format!("ok {done}")
    } else {
        let other = outcomes.iter().find(|o| !expected(o));
        format!("{done} of {n} ended as expected; another: {other:?}")
    }
}

/// The user that starts the watchers of
/// [`thousands_of_sleeping_watchers_do_not_slow_another_users_sets`], used by no other test.
const WATCHER: u32 = 3001;

/// The median time of a set of `path`, measured for `window` (see [`latency`]).
fn set_latency(store: &Pathstore, path: &str, window: Duration) -> Duration {
    latency(window, || {
        ok("set", store.set(path, "v"));
    })
}

#[test]
fn thousands_of_sleeping_watchers_do_not_slow_another_users_sets() {
    let store = open();
    let s = shared_scratch(&store, "ten_watchers");
    let key = s.path("victim/key");
    let (missing, ready) = (s.path("missing/x"), s.path("ready"));
    ok("the victim's key", store.set(&key, "v"));
    let window = Duration::from_secs(4);
    let idle = set_latency(&store, &key, window);
    // A user starts 2000 threads that watch a path nobody changes, for long enough.
    let watchers = scaled(2000).max(200);
    let spec = format!("access watchers {watchers} {missing} 120 {ready}");
    let worker = integration::spawn_worker_as(&spec, Some(WATCHER));
    let started = Instant::now();
    while store.stat(&ready).is_err() && started.elapsed() < Duration::from_secs(80) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if store.stat(&ready).is_err() {
        panic!(
            "the watchers did not start within 80 s: {:?}",
            integration::wait_worker(worker)
        );
    }
    println!("{watchers} watchers started in {:?}", started.elapsed());
    // The sets are measured again after a slow trial (the baseline is the one before the
    // watchers started).
    let ratio = best_of_trials(2.0, || {
        let loaded = set_latency(&store, &key, window);
        println!(
            "set median: alone {idle:?}, beside {watchers} sleeping watchers of another path \
             {loaded:?}: {:.2}x",
            loaded.as_secs_f64() / idle.as_secs_f64()
        );
        (idle, loaded)
    });
    // Creating the watched path wakes them all.
    ok("create the watched path", store.set(&missing, "now"));
    let out = integration::wait_worker(worker);
    assert_eq!(
        out,
        [format!("ok {watchers}")],
        "every watch should end with the creation of its path (or time out)"
    );
    assert!(
        ratio <= 2.0,
        "a set beside {watchers} watchers of an unrelated path took {ratio:.2}x its idle \
         median, in the best of {TRIALS} trials; a change should wake only the watchers it may \
         concern"
    );
}

#[test]
fn a_value_written_into_roots_writable_node_is_held_to_the_quota() {
    let store = open();
    let s = shared_scratch(&store, "ten_around");
    let node = s.path("shared");
    ok(
        "a node of root's that all may write",
        store.set_mode(&node, "0123456789", 0, abi::MODE_ALL),
    );
    // A value is charged to the node's owner, as a file's blocks are; a change by someone
    // without CAP_SYS_ADMIN is held to the quota of whoever it charges, root included.
    let big = "x".repeat(2000);
    let results = as_user(
        BOB,
        &[
            format!("set {node} {big}"),
            format!("set / {big}"),
            format!("set {node} abcdefghij"),
        ],
    );
    assert_eq!(
        results,
        ["EDQUOT", "EDQUOT", "ok"],
        "2000 bytes are past the 1024-byte quota, whoever's node holds them; a value of the \
         same size charges nothing more"
    );
    assert_eq!(ok("get", store.get(&node)), b"abcdefghij");
    assert_eq!(
        ok("stat", store.stat(&node)).uid,
        0,
        "the node stays root's"
    );
    // Root itself is not limited.
    ok("root sets a big value", store.set(&node, &big));
    check_consistent(&store);
}

#[test]
fn the_paths_an_open_file_keeps_for_its_ephemeral_nodes_count_against_the_quota() {
    let store = open();
    let s = shared_scratch(&store, "ten_eph_paths");
    // A parent with a long name, which root owns and all may write: an ephemeral node below it
    // has a short name but a long path, which its file keeps a copy of.
    let parent = s.path(&"p".repeat(250));
    ok(
        "a long-named parent all may write",
        store.set_mode(&parent, "", 0, abi::MODE_ALL),
    );
    let len = format!("{parent}/e0").len();
    let fits = 1024 / (len + 1);
    let steps: Vec<String> = (0..=fits)
        .map(|i| format!("ephemeral {parent}/e{i} v"))
        .collect();
    let results = as_user(EPHEMERAL_USER, &steps);
    let mut expected = vec!["ok".to_owned(); fits];
    expected.push("EDQUOT".to_owned());
    assert_eq!(
        results, expected,
        "each ephemeral node is charged its {len}-byte path (and its value): {fits} fit in \
         the 1024-byte quota"
    );
    // The worker's file is gone, and its nodes with it.
    assert_eq!(ok("ls", store.list(&parent)), Vec::<Vec<u8>>::new());
    check_consistent(&store);
}

/// The user of
/// [`the_paths_an_open_file_keeps_for_its_ephemeral_nodes_count_against_the_quota`], used by no
/// other test.
const EPHEMERAL_USER: u32 = 3002;

/// Worker step `pending N COMMAND...`: writes the text command to N new open files, keeping every
/// response unread; then reads the first file's response to its end and writes the command to
/// one more file. Returns the N outcomes (`ok` or an errno), comma-separated, then `read LEN`
/// and the last outcome.
pub(crate) fn pending_responses(n: &str, line: &str) -> String {
    let n: usize = n.parse().expect("a count of files");
    let outcome = |file: &mut File| match file.write(line.as_bytes()) {
        Ok(_) => "ok".to_owned(),
        Err(e) => name(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
    };
    let mut files: Vec<File> = (0..n).map(|_| text_file()).collect();
    let outcomes: Vec<String> = files.iter_mut().map(outcome).collect();
    let mut response = Vec::new();
    if let Err(e) = files[0].read_to_end(&mut response) {
        return format!("reading a response: {e}");
    }
    let last = outcome(&mut text_file());
    format!("{} read {} {last}", outcomes.join(","), response.len())
}

/// The user of
/// [`pending_text_responses_past_what_a_file_holds_free_count_against_the_quota`], used by no
/// other test.
const PENDING_USER: u32 = 3003;

#[test]
fn pending_text_responses_past_what_a_file_holds_free_count_against_the_quota() {
    let store = open();
    let s = Scratch::new(&store, "ten_pending");
    // A get's response holds the value and a newline; a file holds 8 KiB of it free of charge,
    // and what a user's files hold past that counts against its byte quota (1024 in this pass).
    let (free, big) = (s.path("free"), s.path("big"));
    let read = abi::MODE_OTHERS_READ;
    ok(
        "a value of 8191 bytes",
        store.set_mode(&free, "f".repeat(8191), 0, read),
    );
    ok(
        "a value of 9000 bytes",
        store.set_mode(&big, "b".repeat(9000), 0, read),
    );
    let results = as_user(
        PENDING_USER,
        &[
            format!("pending 3 get {free}"),
            format!("pending 3 get {big}"),
        ],
    );
    assert_eq!(
        results,
        ["ok,ok,ok read 8192 ok", "ok,EDQUOT,EDQUOT read 9001 ok"],
        "a response of 8192 bytes is free; one of 9001 is charged 809 bytes, so a second does \
         not fit in the 1024-byte quota until the first is read"
    );
    // Root (CAP_SYS_ADMIN) is not limited.
    let mut files: Vec<File> = (0..3).map(|_| text_file()).collect();
    for file in &mut files {
        file.write_all(format!("get {big}").as_bytes())
            .expect("root leaves a big response pending");
    }
    drop(files);
    check_consistent(&store);
}
