//! Integration tests of pathstore against a live `/dev/pathstore`.
//!
//! The tests are in `tests/device/` (the test target `device`); they need the module loaded, so
//! they run inside the test VM and not on the host. This library is the home of helpers shared
//! between those tests: opening the device, checking errnos and that failed operations change
//! nothing, per-test subtrees, a small seeded PRNG, an in-process model of a subtree, and the
//! protocol of worker processes. Its own unit tests run on the host with the other crates' tests
//! (`scripts/test.sh` runs every test target of the workspace but `device` there).

pub mod args;

use std::collections::BTreeMap;
use std::fmt::{Debug, Display};
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;

use pathstore::{path, Errno, ErrnoDisplay, NodeStat, Pathstore, StoreStats};

/// Every test of the default-limits pass works below this node, in `/it/<test name>`.
pub const TEST_ROOT: &str = "/it";

/// Environment variable telling the test `worker_process` what to do (see [`spawn_worker`]).
pub const WORKER_ENV: &str = "PATHSTORE_IT_WORKER";

/// Environment variable overriding the seeds of the randomised tests (decimal or `0x` hex).
pub const SEED_ENV: &str = "PATHSTORE_SEED";

/// Environment variable scaling the sizes of the big and concurrent tests, in percent (default
/// 100): the guest's debug kernel (KASAN, kmemleak, lockdep under TCG) takes about half a
/// millisecond per allocation, so sizes are what bounds the tests' time.
pub const SCALE_ENV: &str = "PATHSTORE_IT_SCALE";

/// `n` scaled by [`SCALE_ENV`] (at least 1).
pub fn scaled(n: usize) -> usize {
    let percent: usize = std::env::var(SCALE_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(100);
    (n * percent / 100).max(1)
}

/// The device the tests use: `$PATHSTORE_DEVICE` when set, else `/dev/pathstore`.
pub fn device() -> String {
    std::env::var("PATHSTORE_DEVICE").unwrap_or_else(|_| pathstore::DEFAULT_DEVICE.to_owned())
}

/// Opens [`device`] (with the ABI handshake), panicking with the reason when that fails.
#[track_caller]
pub fn open() -> Pathstore {
    let device = device();
    Pathstore::open_path(&device)
        .unwrap_or_else(|e| panic!("expected to open {device} (is the module loaded?): {e}"))
}

/// Shortens a debug rendering to at most `max` characters, for assertion messages.
pub fn clip(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str("...");
    out
}

/// A byte string as lossy text, clipped, for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    clip(format!("{:?}", String::from_utf8_lossy(bytes)), 120)
}

/// Asserts that `result` failed with `expected`, returning the error.
#[track_caller]
pub fn expect_err<T: Debug>(
    what: impl Display,
    result: pathstore::Result<T>,
    expected: Errno,
) -> pathstore::Error {
    match result {
        Ok(value) => panic!(
            "{what}: expected {}, but it succeeded with {}",
            ErrnoDisplay(expected),
            clip(format!("{value:?}"), 200)
        ),
        Err(err) if err.errno() == expected => err,
        Err(err) => panic!("{what}: expected {}, got {err}", ErrnoDisplay(expected)),
    }
}

/// Asserts that `result` failed with `expected`.
#[track_caller]
pub fn expect_errno<T: Debug>(what: impl Display, result: pathstore::Result<T>, expected: Errno) {
    expect_err(what, result, expected);
}

/// Asserts that a raw ioctl failed with `expected`.
#[track_caller]
pub fn expect_raw_errno(what: impl Display, result: Result<i32, Errno>, expected: Errno) {
    match result {
        Ok(ret) => panic!(
            "{what}: expected {}, but the ioctl returned {ret}",
            ErrnoDisplay(expected)
        ),
        Err(errno) if errno == expected => {}
        Err(errno) => panic!(
            "{what}: expected {}, got {}",
            ErrnoDisplay(expected),
            ErrnoDisplay(errno)
        ),
    }
}

/// Unwraps `result`, panicking with `what` and the error when the call failed.
#[track_caller]
pub fn ok<T>(what: impl Display, result: pathstore::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{what}: expected success, got {e}"))
}

/// The store's statistics, panicking when they cannot be read.
#[track_caller]
pub fn stats(store: &Pathstore) -> StoreStats {
    ok("store_stats", store.store_stats())
}

/// The metadata of `path`, panicking when it cannot be read.
#[track_caller]
pub fn stat(store: &Pathstore, path: impl AsRef<[u8]>) -> NodeStat {
    let path = path.as_ref();
    ok(format_args!("stat {}", show(path)), store.stat(path))
}

/// What a [`Snapshot`] records of one watched path: its metadata and its value (or errnos).
pub type Watched = (Vec<u8>, Result<NodeStat, Errno>, Result<Vec<u8>, Errno>);

/// The store's statistics and the state of some paths, to compare before and after a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// `store_stats()`, the sequence number included.
    pub stats: StoreStats,
    /// For each watched path: its metadata and its value.
    pub nodes: Vec<Watched>,
}

/// Takes a [`Snapshot`] of the store and of the paths in `watch`.
pub fn snapshot<P: AsRef<[u8]>>(store: &Pathstore, watch: &[P]) -> Snapshot {
    let nodes = watch
        .iter()
        .map(|p| {
            let p = p.as_ref();
            (
                p.to_vec(),
                store.stat(p).map_err(|e| e.errno()),
                store.get(p).map_err(|e| e.errno()),
            )
        })
        .collect();
    Snapshot {
        stats: stats(store),
        nodes,
    }
}

/// An empty watch list for [`expect_fails_unchanged`] and [`snapshot`].
pub const NOTHING: &[&str] = &[];

/// Asserts that `after` equals `before`, describing the differences otherwise.
#[track_caller]
pub fn assert_same_snapshot(what: impl Display, before: &Snapshot, after: &Snapshot) {
    if before == after {
        return;
    }
    let mut diff = String::new();
    if before.stats != after.stats {
        diff.push_str(&format!(
            "\n  store_stats before: {:?}\n  store_stats after:  {:?}",
            before.stats, after.stats
        ));
    }
    for (b, a) in before.nodes.iter().zip(&after.nodes) {
        if b != a {
            diff.push_str(&format!(
                "\n  {} before: stat {:?} value {}\n  {} after:  stat {:?} value {}",
                show(&b.0),
                b.1,
                clip(format!("{:?}", b.2), 100),
                show(&a.0),
                a.1,
                clip(format!("{:?}", a.2), 100)
            ));
        }
    }
    panic!("{what}: expected the store to be unchanged, but:{diff}");
}

/// Runs `op`, which must fail with `expected` and leave the store (its statistics, sequence
/// number included, and the paths in `watch`) exactly as it was. Returns the error.
#[track_caller]
pub fn expect_fails_unchanged<T: Debug, P: AsRef<[u8]>>(
    store: &Pathstore,
    watch: &[P],
    what: impl Display,
    expected: Errno,
    op: impl FnOnce() -> pathstore::Result<T>,
) -> pathstore::Error {
    let before = snapshot(store, watch);
    let err = expect_err(&what, op(), expected);
    let after = snapshot(store, watch);
    assert_same_snapshot(
        format_args!("{what} (failed with {})", ErrnoDisplay(expected)),
        &before,
        &after,
    );
    err
}

/// Like [`expect_fails_unchanged`], for a raw ioctl.
#[track_caller]
pub fn expect_raw_fails_unchanged<P: AsRef<[u8]>>(
    store: &Pathstore,
    watch: &[P],
    what: impl Display,
    expected: Errno,
    op: impl FnOnce() -> Result<i32, Errno>,
) {
    let before = snapshot(store, watch);
    expect_raw_errno(&what, op(), expected);
    let after = snapshot(store, watch);
    assert_same_snapshot(
        format_args!("{what} (failed with {})", ErrnoDisplay(expected)),
        &before,
        &after,
    );
}

/// The subtree a test works in: `/it/<name>`, removed when created and when dropped.
///
/// The subtree's root is created holding an empty value, so that what the test does below it
/// changes the store's statistics by exactly what the test creates.
#[derive(Debug)]
pub struct Scratch<'s> {
    store: &'s Pathstore,
    base: String,
}

impl<'s> Scratch<'s> {
    /// Removes any leftover `/it/<name>` and creates it afresh with an empty value.
    #[track_caller]
    pub fn new(store: &'s Pathstore, name: &str) -> Self {
        let base = format!("{TEST_ROOT}/{name}");
        match store.delete_recursive(&base) {
            Ok(()) => {}
            Err(e) if e.errno() == Errno::NOENT => {}
            Err(e) => panic!("removing a leftover {base}: expected success or ENOENT, got {e}"),
        }
        ok(format_args!("creating {base}"), store.set(&base, ""));
        Scratch { store, base }
    }

    /// The subtree's root, `/it/<name>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `base/rel` (`rel` without a leading `/`).
    pub fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base)
    }

    /// `base/rel` for a binary `rel`.
    pub fn bpath(&self, rel: &[u8]) -> Vec<u8> {
        path::join(self.base.as_bytes(), rel)
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        // Best effort: a failing test must still report its own failure.
        let _ = self.store.delete_recursive(&self.base);
    }
}

/// Nodes and bytes of a subtree, as a walk counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Nodes, the subtree's root included.
    pub nodes: u64,
    /// Bytes of every value and of every name below the subtree's root (not its own name), so
    /// that the usage of `/` is what `store_stats()` reports.
    pub bytes: u64,
}

/// Walks the subtree at `root` and counts its [`Usage`], panicking on any error.
#[track_caller]
pub fn usage(store: &Pathstore, root: impl AsRef<[u8]>) -> Usage {
    let root = root.as_ref();
    let mut usage = Usage::default();
    for node in store.walk(root) {
        let node = node.unwrap_or_else(|e| panic!("walking {}: {e}", show(root)));
        usage.nodes += 1;
        if node.depth > 0 {
            usage.bytes += node.name().len() as u64;
        }
        usage.bytes += node.value.map_or(0, |v| v.len() as u64);
    }
    usage
}

/// The nodes of a subtree: path to (value, version).
pub type Entries = BTreeMap<Vec<u8>, (Option<Vec<u8>>, u64)>;

/// Reads every node of the subtree at `root` (which must not change meanwhile): its value and
/// its version.
#[track_caller]
pub fn read_entries(store: &Pathstore, root: impl AsRef<[u8]>) -> Entries {
    let root = root.as_ref();
    let mut entries = Entries::new();
    for node in store.walk(root) {
        let node = node.unwrap_or_else(|e| panic!("walking {}: {e}", show(root)));
        let st = stat(store, &node.path);
        assert_eq!(
            st.flags & pathstore::abi::STAT_HAS_VALUE != 0,
            node.value.is_some(),
            "stat of {} should report a value exactly when get returns one",
            show(&node.path)
        );
        entries.insert(node.path, (node.value, st.version));
    }
    entries
}

/// A 64-bit FNV-1a digest of entries, to compare subtrees across processes.
pub fn digest(entries: &Entries) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (path, (value, version)) in entries {
        eat(&(path.len() as u64).to_le_bytes());
        eat(path);
        match value {
            Some(v) => {
                eat(&[1]);
                eat(&(v.len() as u64).to_le_bytes());
                eat(v);
            }
            None => eat(&[0]),
        }
        eat(&version.to_le_bytes());
    }
    h
}

/// An in-process model of a subtree: what the store must hold there when only the model's
/// owner changes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    root: Vec<u8>,
    nodes: Entries,
}

impl Model {
    /// A model of the subtree at `root`, whose root holds `value` at `version`.
    pub fn new(root: &[u8], value: Option<Vec<u8>>, version: u64) -> Self {
        let root = path::trim(root).to_vec();
        let mut nodes = Entries::new();
        nodes.insert(root.clone(), (value, version));
        Model { root, nodes }
    }

    /// The subtree's root.
    pub fn root(&self) -> &[u8] {
        &self.root
    }

    /// Every node: path to (value, version).
    pub fn entries(&self) -> &Entries {
        &self.nodes
    }

    /// The node at `path`, if any.
    pub fn node(&self, path: &[u8]) -> Option<&(Option<Vec<u8>>, u64)> {
        self.nodes.get(path::trim(path))
    }

    /// What get must return: the value and version, or `ENOENT` / `ENODATA`.
    pub fn get(&self, path: &[u8]) -> Result<(&[u8], u64), Errno> {
        match self.node(path) {
            None => Err(Errno::NOENT),
            Some((None, _)) => Err(Errno::NODATA),
            Some((Some(v), version)) => Ok((v, *version)),
        }
    }

    /// The names of the children of `path`, in byte order.
    pub fn children(&self, path: &[u8]) -> Vec<Vec<u8>> {
        let mut prefix = path::trim(path).to_vec();
        prefix.push(b'/');
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| {
                let rest = &k[prefix.len()..];
                (!rest.contains(&b'/')).then(|| rest.to_vec())
            })
            .collect()
    }

    /// Sets `path` (below the root, or the root) to `value` at `version`, creating missing
    /// parents without values at the same version, as a successful set does.
    pub fn set(&mut self, path: &[u8], value: Vec<u8>, version: u64) {
        let path = path::trim(path);
        assert!(
            path == self.root.as_slice() || path::is_below(path, &self.root),
            "model of {}: {} is outside",
            show(&self.root),
            show(path)
        );
        for (i, &b) in path.iter().enumerate().skip(self.root.len() + 1) {
            if b == b'/' {
                self.nodes
                    .entry(path[..i].to_vec())
                    .or_insert((None, version));
            }
        }
        self.nodes.insert(path.to_vec(), (Some(value), version));
    }

    /// Deletes `path` (not the root), as delete does: `ENOENT` when missing, `ENOTEMPTY` when it
    /// has children and `recursive` is false.
    pub fn delete(&mut self, path: &[u8], recursive: bool) -> Result<(), Errno> {
        let path = path::trim(path).to_vec();
        assert!(
            path::is_below(&path, &self.root),
            "model of {}: cannot delete {}",
            show(&self.root),
            show(&path)
        );
        if !self.nodes.contains_key(&path) {
            return Err(Errno::NOENT);
        }
        let children = self.children(&path);
        if !children.is_empty() && !recursive {
            return Err(Errno::NOTEMPTY);
        }
        let mut prefix = path.clone();
        prefix.push(b'/');
        let below: Vec<Vec<u8>> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in below {
            self.nodes.remove(&k);
        }
        self.nodes.remove(&path);
        Ok(())
    }
}

/// A small, fast, seeded PRNG (xorshift64*), so that every random test can be replayed.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    seed: u64,
}

impl Rng {
    /// A generator started from `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, never 0 (xorshift's fixed point).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng { state: z | 1, seed }
    }

    /// The seed this generator started from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    /// An index in `0..n` (`n` > 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(&mut v);
        v
    }

    /// Random bytes, of a random length below `n`.
    pub fn bytes_below(&mut self, n: usize) -> Vec<u8> {
        let len = self.index(n);
        self.bytes(len)
    }

    /// Shuffles `items` (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

/// The seed of a randomised test: `$PATHSTORE_SEED` when set, else `default`. Prints it, so
/// that it shows in the output of a failing test.
pub fn test_seed(test: &str, default: u64) -> u64 {
    let seed = match std::env::var(SEED_ENV) {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{SEED_ENV}={text:?} is not a number"))
        }
        Err(_) => default,
    };
    println!("{test}: seed {seed:#x} (replay with {SEED_ENV}={seed:#x})");
    seed
}

/// A value that says who wrote it: `w<writer>:<n>:` followed by `len` bytes that only
/// `(writer, n, len)` determines (any bytes, NUL included). [`check_tagged`] recognises it.
pub fn tagged_value(writer: u32, n: u32, len: usize) -> Vec<u8> {
    let mut v = format!("w{writer}:{n}:").into_bytes();
    let mut rng = Rng::new((u64::from(writer) << 32) | u64::from(n));
    let start = v.len();
    v.resize(start + len, 0);
    rng.fill(&mut v[start..]);
    v
}

/// The `(writer, n)` of a value made by [`tagged_value`], or `None` for any other value.
pub fn check_tagged(value: &[u8]) -> Option<(u32, u32)> {
    let rest = value.strip_prefix(b"w")?;
    let colon = rest.iter().position(|&b| b == b':')?;
    let writer: u32 = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    let rest = &rest[colon + 1..];
    let colon = rest.iter().position(|&b| b == b':')?;
    let n: u32 = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    let filler = &rest[colon + 1..];
    (tagged_value(writer, n, filler.len()) == value).then_some((writer, n))
}

/// A worker process started by [`spawn_worker`], whose output a thread collects.
#[derive(Debug)]
pub struct Worker {
    spec: String,
    output: JoinHandle<std::io::Result<Output>>,
}

/// The name of the test that holds the body of worker processes. It is `#[ignore]`d, so that a
/// plain run of the test binary never counts it, and fails when [`WORKER_ENV`] is not set.
pub const WORKER_TEST: &str = "worker_process";

/// A command that starts this test binary again, running only the test [`WORKER_TEST`] (an
/// ignored test, hence `--ignored`), with [`WORKER_ENV`] set to `spec`. Standard input is
/// null; the caller chooses what becomes of the output.
pub fn worker_command(spec: &str) -> Command {
    let exe = std::env::current_exe().expect("the path of the test binary");
    let mut command = Command::new(exe);
    command
        .args(["--exact", WORKER_TEST, "--ignored", "--test-threads=1"])
        .env(WORKER_ENV, spec)
        .stdin(Stdio::null());
    command
}

/// Starts this test binary again, running only the test `worker_process`, with
/// [`WORKER_ENV`] set to `spec` (see [`worker_command`]). A thread collects its standard output
/// and error as they come, so that the worker never blocks on a full pipe.
pub fn spawn_worker(spec: &str) -> Worker {
    spawn_worker_as(spec, None)
}

/// Like [`spawn_worker`], but with `uid` the worker runs as that user (and as the group of the
/// same number, with no supplementary groups): an unprivileged user when `uid` is not 0.
pub fn spawn_worker_as(spec: &str, uid: Option<u32>) -> Worker {
    use std::os::unix::process::CommandExt;

    spawn_worker_with(spec, |command| {
        if let Some(uid) = uid {
            // As root, `Command` also drops the supplementary groups (setgroups(0)).
            command.uid(uid).gid(uid);
        }
    })
    .0
}

/// Like [`spawn_worker`], with the command set up further by `configure` (a user, a `pre_exec`
/// step); returns the worker and its process id.
pub fn spawn_worker_with(spec: &str, configure: impl FnOnce(&mut Command)) -> (Worker, u32) {
    let mut command = worker_command(spec);
    configure(&mut command);
    let child = command
        .arg("--nocapture")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning a worker process for {spec:?}: {e}"));
    let pid = child.id();
    let worker = Worker {
        spec: spec.to_owned(),
        output: std::thread::spawn(move || child.wait_with_output()),
    };
    (worker, pid)
}

/// Waits for a worker started by [`spawn_worker`], asserts that it succeeded (and really ran
/// the worker), and returns its `WORKER-RESULT` lines without that prefix.
#[track_caller]
pub fn wait_worker(worker: Worker) -> Vec<String> {
    let spec = worker.spec;
    let out = worker
        .output
        .join()
        .unwrap_or_else(|_| panic!("collecting the output of worker {spec:?}"))
        .unwrap_or_else(|e| panic!("waiting for worker {spec:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "worker {spec:?} should exit successfully, got {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        clip(stdout.to_string(), 20_000),
        clip(stderr.to_string(), 5_000)
    );
    assert!(
        stdout.contains("WORKER-DONE"),
        "worker {spec:?} should have run the worker (no WORKER-DONE line)\n--- stdout\n{}",
        clip(stdout.to_string(), 5_000)
    );
    // libtest prints "test worker_process ... " without a newline before the test's output.
    const PREFIX: &str = "WORKER-RESULT ";
    stdout
        .lines()
        .filter_map(|l| l.find(PREFIX).map(|i| l[i + PREFIX.len()..].to_owned()))
        .collect()
}

/// Opens [`device`] for the text interface (read and write), panicking when that fails.
#[track_caller]
pub fn open_text() -> std::fs::File {
    let device = device();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&device)
        .unwrap_or_else(|e| panic!("expected to open {device} for reading and writing: {e}"))
}

/// Writes one text command in one `write()`: `Ok` when the whole command was taken, else the
/// errno. A short write is a failure of the module (a command is all or nothing) and panics.
pub fn text_write(file: &std::fs::File, command: &[u8]) -> Result<(), Errno> {
    use std::io::Write as _;
    let mut writer = file;
    let n = writer
        .write(command)
        .map_err(|e| Errno::from_raw_os_error(e.raw_os_error().unwrap_or(0)))?;
    assert_eq!(
        n,
        command.len(),
        "a write of a text command ({}) should take all of it or fail",
        show(command)
    );
    Ok(())
}

/// Reads the pending response of a text session until end of file (retrying on `EINTR`).
#[track_caller]
pub fn read_response(file: &std::fs::File) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let mut reader = file;
    reader
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("reading the pending response: {e}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_set_creates_parents_and_lists_children_in_byte_order() {
        let mut m = Model::new(b"/r", Some(Vec::new()), 1);
        m.set(b"/r/b/x", b"1".to_vec(), 2);
        m.set(b"/r/a", b"2".to_vec(), 3);
        m.set(b"/r/b0", b"3".to_vec(), 4);
        m.set(b"/r/b/x/y/z", b"4".to_vec(), 5);
        assert_eq!(m.children(b"/r"), [&b"a"[..], b"b", b"b0"]);
        assert_eq!(m.children(b"/r/b/"), [&b"x"[..]]);
        assert_eq!(m.get(b"/r/b"), Err(Errno::NODATA));
        assert_eq!(m.node(b"/r/b"), Some(&(None, 2)));
        assert_eq!(m.node(b"/r/b/x/y"), Some(&(None, 5)));
        assert_eq!(m.get(b"/r/b/x"), Ok((&b"1"[..], 2)));
        assert_eq!(m.get(b"/r/c"), Err(Errno::NOENT));
        assert_eq!(m.delete(b"/r/b", false), Err(Errno::NOTEMPTY));
        assert_eq!(m.delete(b"/r/c", true), Err(Errno::NOENT));
        assert_eq!(m.delete(b"/r/b", true), Ok(()));
        assert_eq!(m.entries().len(), 3);
        assert_eq!(m.delete(b"/r/a", false), Ok(()));
        assert_eq!(m.children(b"/r"), [&b"b0"[..]]);
    }

    #[test]
    fn tagged_values_are_recognised() {
        for len in [0, 1, 7, 100] {
            let v = tagged_value(3, 17, len);
            assert_eq!(check_tagged(&v), Some((3, 17)));
            let mut bad = v.clone();
            bad.push(0);
            assert_eq!(check_tagged(&bad), None);
        }
        assert_eq!(check_tagged(b"w1:2"), None);
        assert_eq!(check_tagged(b""), None);
    }

    #[test]
    fn rng_is_deterministic() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut v: Vec<u32> = (0..100).collect();
        a.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }
}
