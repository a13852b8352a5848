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
use pathstore::{abi, Conditional, Pathstore};

use crate::access::{as_user, name, shared_scratch, steps, ALICE, BOB};

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

/// The median time of a get of `path`, measured for `window`: in samples of at least 50 ms
/// (the debug guest's clock ticks in jiffies, so a get is too short to time alone), each the
/// mean of the gets it holds.
fn get_latency(store: &Pathstore, path: &str, window: Duration) -> Duration {
    const SAMPLE: Duration = Duration::from_millis(50);
    let end = Instant::now() + window;
    let mut times = Vec::new();
    while times.is_empty() || Instant::now() < end {
        let start = Instant::now();
        let mut gets = 0u32;
        while gets == 0 || start.elapsed() < SAMPLE {
            ok("get", store.get(path));
            gets += 1;
        }
        times.push(start.elapsed() / gets);
    }
    median(&mut times)
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
    // The workers run for `seconds`; the reader measures for `window` once they have started.
    let (seconds, window) = (6, Duration::from_secs(4));
    // Two other users load the CPUs as much as the attack will, without the store's lock: the
    // guest has two CPUs, so the reader's "idle" latency is measured beside the same load.
    let idle = beside(&[ALICE, BOB], &format!("access spin {seconds}"), || {
        get_latency(&store, &key, window)
    });
    // Two other users loop recursive deletes of the subtree at a version it does not have.
    let spec = format!("access rmr-stale {big} {} {seconds}", version + 1000);
    let loaded = beside(&[ALICE, BOB], &spec, || get_latency(&store, &key, window));
    let ratio = loaded.as_secs_f64() / idle.as_secs_f64();
    println!(
        "get median: beside a load off the store {idle:?}, beside failing recursive deletes \
         {loaded:?}: {ratio:.2}x"
    );
    assert!(
        ratio <= 3.0,
        "a get beside two users' failing recursive deletes of a {nodes}-node subtree took \
         {ratio:.2}x its idle median ({idle:?} -> {loaded:?}); the version is checked before \
         the subtree is walked, so it should stay within 3x"
    );
    assert_eq!(stat_version(&store, &big), version, "nothing was deleted");
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
