//! Concurrency: threads (sharing a handle or with their own) and processes (this binary run
//! again as `worker_process`) doing random operations
//!
//! - on disjoint subtrees, each checked against an in-process [`Model`] after every operation
//!   and in full at the end;
//! - on one shared subtree, where each result must be one the semantics allow, and the final
//!   state must be internally consistent: every listed child stat-able, every value one some
//!   writer wrote (at the version its set returned), the store's node and byte counts equal to a
//!   full walk, and the sequence number advanced by exactly the number of successful changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use integration::{
    check_tagged, digest, expect_errno, ok, open, read_entries, scaled, show, spawn_worker, stat,
    stats, tagged_value, test_seed, usage, wait_worker, Model, Rng, Scratch,
};
use pathstore::{abi, path, Errno, Pathstore};

/// Names of the random paths: short, one with a space and one with a byte above 0x7f, so that
/// byte order matters.
const MODEL_NAMES: &[&[u8]] = &[b"a", b"b", b"c", b"a b", b"\xffz"];

/// Names of the random paths in the shared subtree.
const SHARED_NAMES: &[&[u8]] = &[b"a", b"b", b"c"];

/// A random path of 1 to `max_depth` components from `names` below `base`, sometimes with a
/// trailing slash.
fn random_path(rng: &mut Rng, base: &[u8], names: &[&[u8]], max_depth: u64) -> Vec<u8> {
    let depth = rng.range(1, max_depth);
    let mut p = base.to_vec();
    for _ in 0..depth {
        p.push(b'/');
        let name = names[rng.index(names.len())];
        p.extend_from_slice(name);
    }
    if rng.chance(1, 10) {
        p.push(b'/');
    }
    p
}

/// What `list_page` must return for `children` (sorted), a cursor and a buffer size: the names
/// that fit and whether more follow, or `ERANGE` with the size the next name needs.
fn expected_page(
    children: &[Vec<u8>],
    after: &[u8],
    buf_len: usize,
) -> Result<(Vec<Vec<u8>>, bool), usize> {
    let start = if after.is_empty() {
        0
    } else {
        children.partition_point(|n| n.as_slice() <= after)
    };
    let mut used = 0;
    let mut page = Vec::new();
    for n in &children[start..] {
        if used + n.len() + 1 > buf_len {
            if page.is_empty() {
                return Err(n.len() + 1);
            }
            return Ok((page, true));
        }
        used += n.len() + 1;
        page.push(n.clone());
    }
    Ok((page, false))
}

/// Checks the node at `path` against the model with stat (and get when it has a value).
#[track_caller]
fn check_node(store: &Pathstore, model: &Model, path: &[u8], ctx: &str) {
    let p = show(path);
    match model.node(path) {
        None => expect_errno(
            format_args!("{ctx}: stat {p}"),
            store.stat(path),
            Errno::NOENT,
        ),
        Some((value, version)) => {
            let st = ok(format_args!("{ctx}: stat {p}"), store.stat(path));
            let children = model.children(path).len() as u64;
            let want_flags = if value.is_some() {
                abi::STAT_HAS_VALUE
            } else {
                0
            };
            let want_len = value.as_ref().map_or(0, |v| v.len() as u32);
            assert_eq!(
                (st.version, st.num_children, st.flags, st.value_len),
                (*version, children, want_flags, want_len),
                "{ctx}: stat {p}: expected (version, num_children, flags, value_len)"
            );
        }
    }
}

/// What a [`model_run`] did.
pub(crate) struct ModelRun {
    /// The final model of the subtree.
    pub(crate) model: Model,
    /// Successful changes made (each takes one sequence number).
    pub(crate) mutations: u64,
}

/// Runs `ops` random operations in the subtree `base`, which nothing else changes meanwhile,
/// checking each result against a model, one more random path after every operation, and the
/// whole subtree every 200 operations and at the end.
pub(crate) fn model_run(store: &Pathstore, base: &str, seed: u64, ops: usize) -> ModelRun {
    let mut runner = ModelRunner::start(store, base, seed);
    for _ in 0..ops {
        runner.step(store);
    }
    runner.finish(store)
}

/// [`model_run`] one operation at a time, so that a caller can interleave it with other work
/// or run it for a fixed time.
pub(crate) struct ModelRunner {
    rng: Rng,
    seed: u64,
    base: Vec<u8>,
    model: Model,
    mutations: u64,
    last_version: u64,
    ops: usize,
    buf: [u8; 64],
}

impl ModelRunner {
    /// Clears the subtree `base` (which nothing else may change until [`ModelRunner::finish`])
    /// and creates it afresh with an empty value.
    pub(crate) fn start(store: &Pathstore, base: &str, seed: u64) -> Self {
        let mut mutations = 0;
        match store.delete_recursive(base) {
            Ok(()) => mutations += 1,
            Err(e) if e.errno() == Errno::NOENT => {}
            Err(e) => panic!("seed {seed:#x}: clearing {base}: {e}"),
        }
        let v0 = ok(
            format_args!("seed {seed:#x}: creating {base}"),
            store.set(base, ""),
        );
        mutations += 1;
        ModelRunner {
            rng: Rng::new(seed),
            seed,
            base: base.as_bytes().to_vec(),
            model: Model::new(base.as_bytes(), Some(Vec::new()), v0),
            mutations,
            last_version: v0,
            ops: 0,
            buf: [0; 64],
        }
    }

    /// Operations run so far.
    pub(crate) fn ops(&self) -> usize {
        self.ops
    }

    /// Checks the whole subtree against the model and returns the result.
    pub(crate) fn finish(self, store: &Pathstore) -> ModelRun {
        let seed = self.seed;
        assert_subtree_matches(store, &self.model, &format!("seed {seed:#x} at the end"));
        ModelRun {
            model: self.model,
            mutations: self.mutations,
        }
    }

    /// Runs one random operation and checks its result against the model, then one more random
    /// path, and every 200 operations the whole subtree.
    pub(crate) fn step(&mut self, store: &Pathstore) {
        let ModelRunner {
            rng,
            seed,
            base,
            model,
            mutations,
            last_version,
            ops,
            buf,
        } = self;
        let (seed, base_b, i) = (*seed, base.as_slice(), *ops);
        *ops += 1;
        let p = random_path(rng, base_b, MODEL_NAMES, 3);
        let t = path::trim(&p).to_vec();
        let roll = rng.below(100);
        let ctx = format!("seed {seed:#x} op {i} roll {roll} on {}", show(&p));
        match roll {
            0..=29 => {
                let len = rng.index(40);
                let value = rng.bytes(len);
                let v = ok(format_args!("{ctx}: set"), store.set(&p, &value));
                assert!(
                    v > *last_version,
                    "{ctx}: versions increase ({last_version} then {v})"
                );
                *last_version = v;
                *mutations += 1;
                model.set(&t, value, v);
            }
            30..=37 => {
                let value = rng.bytes_below(10);
                if model.node(&t).is_some() {
                    expect_errno(
                        format_args!("{ctx}: create"),
                        store.create(&p, &value),
                        Errno::EXIST,
                    );
                } else {
                    let v = ok(format_args!("{ctx}: create"), store.create(&p, &value));
                    assert!(v > *last_version, "{ctx}: versions increase");
                    *last_version = v;
                    *mutations += 1;
                    model.set(&t, value, v);
                }
            }
            38..=51 => match model.get(&t) {
                Ok((value, version)) => {
                    let got = ok(format_args!("{ctx}: get"), store.get_with_version(&p));
                    assert!(
                        got.0 == value && got.1 == version,
                        "{ctx}: get should return {} at version {version}, got {} at {}",
                        show(value),
                        show(&got.0),
                        got.1
                    );
                }
                Err(errno) => expect_errno(
                    format_args!("{ctx}: get"),
                    store.get_with_version(&p),
                    errno,
                ),
            },
            52..=61 => match model.delete(&t, false) {
                Ok(()) => {
                    ok(format_args!("{ctx}: delete"), store.delete(&p));
                    *mutations += 1;
                }
                Err(errno) => expect_errno(format_args!("{ctx}: delete"), store.delete(&p), errno),
            },
            62..=65 => match model.delete(&t, true) {
                Ok(()) => {
                    ok(
                        format_args!("{ctx}: delete_recursive"),
                        store.delete_recursive(&p),
                    );
                    *mutations += 1;
                }
                Err(errno) => expect_errno(
                    format_args!("{ctx}: delete_recursive"),
                    store.delete_recursive(&p),
                    errno,
                ),
            },
            66..=75 => match model.node(&t) {
                None => expect_errno(format_args!("{ctx}: list"), store.list(&p), Errno::NOENT),
                Some(_) => assert_eq!(
                    ok(format_args!("{ctx}: list"), store.list(&p)),
                    model.children(&t),
                    "{ctx}: list"
                ),
            },
            76..=81 => {
                let buf_len = rng.range(0, 8) as usize;
                let after: &[u8] = if rng.chance(1, 2) {
                    MODEL_NAMES[rng.index(MODEL_NAMES.len())]
                } else {
                    b""
                };
                let result = store.list_page(&p, after, &mut buf[..buf_len]);
                match model.node(&t) {
                    None => expect_errno(format_args!("{ctx}: list_page"), result, Errno::NOENT),
                    Some(_) => match expected_page(&model.children(&t), after, buf_len) {
                        Ok((names, more)) => {
                            let page = ok(format_args!("{ctx}: list_page"), result);
                            let got: Vec<Vec<u8>> = page.names().map(<[u8]>::to_vec).collect();
                            assert_eq!((got, page.more), (names, more), "{ctx}: list_page");
                        }
                        Err(needed) => {
                            let err = integration::expect_err(
                                format_args!("{ctx}: list_page with {buf_len} bytes"),
                                result,
                                Errno::RANGE,
                            );
                            assert_eq!(err.needed_len(), Some(needed), "{ctx}: needed size");
                        }
                    },
                }
            }
            82..=91 => check_node(store, model, &p, &ctx),
            _ => {
                let buf_len = rng.range(0, 40) as usize;
                let result = store.get_into(&p, &mut buf[..buf_len]);
                match model.get(&t) {
                    Ok((value, version)) if value.len() <= buf_len => {
                        let got = ok(format_args!("{ctx}: get_into"), result);
                        assert_eq!((got.len, got.version), (value.len(), version), "{ctx}");
                        assert_eq!(&buf[..got.len], value, "{ctx}: get_into");
                    }
                    Ok((value, _)) => {
                        let err = integration::expect_err(
                            format_args!("{ctx}: get_into with {buf_len} bytes"),
                            result,
                            Errno::RANGE,
                        );
                        assert_eq!(err.needed_len(), Some(value.len()), "{ctx}: needed size");
                    }
                    Err(errno) => expect_errno(format_args!("{ctx}: get_into"), result, errno),
                }
            }
        }
        // After every operation, one more path, and now and then the whole subtree.
        let other = random_path(rng, base_b, MODEL_NAMES, 3);
        check_node(store, model, &other, &ctx);
        if i % 200 == 199 {
            assert_subtree_matches(store, model, &ctx);
        }
    }
}

/// Asserts that the subtree of `model` in the store is exactly the model.
#[track_caller]
pub(crate) fn assert_subtree_matches(store: &Pathstore, model: &Model, ctx: &str) {
    let found = read_entries(store, model.root());
    if &found == model.entries() {
        return;
    }
    let mut diff = String::new();
    for (k, v) in model.entries() {
        if found.get(k) != Some(v) {
            diff.push_str(&format!(
                "\n  {}: expected {:?}, found {:?}",
                show(k),
                v,
                found.get(k)
            ));
        }
    }
    for (k, v) in &found {
        if !model.entries().contains_key(k) {
            diff.push_str(&format!("\n  {}: unexpected {v:?}", show(k)));
        }
    }
    panic!(
        "{ctx}: the subtree {} should match the model:{diff}",
        show(model.root())
    );
}

/// What a [`hammer`] did.
#[derive(Debug, Default)]
pub(crate) struct Hammer {
    /// Successful changes made (each takes one sequence number).
    pub(crate) mutations: u64,
    /// The version each successful set or create of a tagged value returned.
    pub(crate) versions: HashMap<(u32, u32), u64>,
}

/// Runs `ops` random operations on the subtree `base`, which others change at the same time:
/// every result must be one the semantics allow whatever the others did. `base` itself must
/// exist and is never deleted. Values are [`tagged_value`]s of `writer`. With `until`, goes on
/// past `ops` until that flag is set (at most `50 * ops` operations).
pub(crate) fn hammer(
    store: &Pathstore,
    base: &str,
    writer: u32,
    seed: u64,
    ops: usize,
    until: Option<&AtomicBool>,
) -> Hammer {
    let mut hammerer = Hammerer::new(base, writer, seed);
    for i in 0..ops * 50 {
        if i >= ops && until.is_none_or(|flag| flag.load(Ordering::Relaxed)) {
            break;
        }
        hammerer.step(store);
    }
    hammerer.finish()
}

/// [`hammer`] one operation at a time, so that a caller can interleave it with other work or
/// run it for a fixed time.
pub(crate) struct Hammerer {
    rng: Rng,
    base: String,
    writer: u32,
    seed: u64,
    out: Hammer,
    last_version: u64,
    last_sequence: u64,
    ops: usize,
    buf: [u8; 96],
}

impl Hammerer {
    /// A hammerer of `base` (which must exist, and which nobody deletes) writing as `writer`.
    pub(crate) fn new(base: &str, writer: u32, seed: u64) -> Self {
        Hammerer {
            rng: Rng::new(seed),
            base: base.to_owned(),
            writer,
            seed,
            out: Hammer::default(),
            last_version: 0,
            last_sequence: 0,
            ops: 0,
            buf: [0; 96],
        }
    }

    /// Operations run so far.
    pub(crate) fn ops(&self) -> usize {
        self.ops
    }

    /// What the operations so far did.
    pub(crate) fn finish(self) -> Hammer {
        self.out
    }

    /// Runs one random operation and checks that its result is one the semantics allow.
    pub(crate) fn step(&mut self, store: &Pathstore) {
        let Hammerer {
            rng,
            base,
            writer,
            seed,
            out,
            last_version,
            last_sequence,
            ops,
            buf,
        } = self;
        let (writer, seed, i) = (*writer, *seed, *ops);
        *ops += 1;
        let valid_name = |n: &[u8]| SHARED_NAMES.contains(&n);
        let p = random_path(rng, base.as_bytes(), SHARED_NAMES, 3);
        let roll = rng.below(100);
        let ctx = format!(
            "writer {writer} seed {seed:#x} op {i} roll {roll} on {}",
            show(&p)
        );
        let n = u32::try_from(i).expect("fewer than 2^32 operations");
        match roll {
            0..=37 => {
                let value = tagged_value(writer, n, rng.index(48));
                let result = if roll < 30 {
                    store.set(&p, &value)
                } else {
                    store.create(&p, &value)
                };
                match result {
                    Ok(v) => {
                        assert!(
                            v > *last_version,
                            "{ctx}: versions increase ({last_version} then {v})"
                        );
                        *last_version = v;
                        out.mutations += 1;
                        out.versions.insert((writer, n), v);
                    }
                    Err(e) if roll >= 30 && e.errno() == Errno::EXIST => {}
                    Err(e) => panic!("{ctx}: set/create: expected success (or EEXIST), got {e}"),
                }
            }
            38..=49 => match store.get(&p) {
                Ok(value) => assert!(
                    check_tagged(&value).is_some(),
                    "{ctx}: get returned {}, which no writer wrote",
                    show(&value)
                ),
                Err(e) if matches!(e.errno(), Errno::NOENT | Errno::NODATA) => {}
                Err(e) => panic!("{ctx}: get: expected a value, ENOENT or ENODATA, got {e}"),
            },
            50..=59 => match store.delete(&p) {
                Ok(()) => out.mutations += 1,
                Err(e) if matches!(e.errno(), Errno::NOENT | Errno::NOTEMPTY) => {}
                Err(e) => panic!("{ctx}: delete: expected success, ENOENT or ENOTEMPTY, got {e}"),
            },
            60..=63 => match store.delete_recursive(&p) {
                Ok(()) => out.mutations += 1,
                Err(e) if e.errno() == Errno::NOENT => {}
                Err(e) => panic!("{ctx}: delete_recursive: expected success or ENOENT, got {e}"),
            },
            64..=73 => match store.list(&p) {
                Ok(names) => {
                    assert!(
                        names.windows(2).all(|w| w[0] < w[1]),
                        "{ctx}: list sorted, no duplicates"
                    );
                    assert!(
                        names.iter().all(|n| valid_name(n)),
                        "{ctx}: list returned unknown names {names:?}"
                    );
                }
                Err(e) if e.errno() == Errno::NOENT => {}
                Err(e) => panic!("{ctx}: list: expected success or ENOENT, got {e}"),
            },
            74..=81 => {
                let buf_len = rng.range(0, 6) as usize;
                match store.list_page(&p, "", &mut buf[..buf_len]) {
                    Ok(page) => {
                        let names: Vec<&[u8]> = page.names().collect();
                        assert_eq!(names.len(), page.count, "{ctx}: list_page count");
                        assert!(
                            names.windows(2).all(|w| w[0] < w[1]),
                            "{ctx}: list_page sorted"
                        );
                        assert!(
                            names.iter().all(|n| valid_name(n)),
                            "{ctx}: list_page names"
                        );
                        assert!(
                            page.count > 0 || !page.more,
                            "{ctx}: LIST_MORE without names"
                        );
                    }
                    Err(e) if e.errno() == Errno::NOENT => {}
                    Err(e) if e.errno() == Errno::RANGE => {
                        assert!(
                            buf_len < 2,
                            "{ctx}: ERANGE with {buf_len} bytes, every name needs 2"
                        );
                        assert_eq!(e.needed_len(), Some(2), "{ctx}: needed size");
                    }
                    Err(e) => {
                        panic!("{ctx}: list_page: expected success, ENOENT or ERANGE, got {e}")
                    }
                }
            }
            82..=91 => match store.stat(&p) {
                Ok(st) => {
                    let has_value = st.flags & abi::STAT_HAS_VALUE != 0;
                    assert_eq!(
                        st.flags & !abi::STAT_HAS_VALUE,
                        0,
                        "{ctx}: unknown stat flags"
                    );
                    assert!(
                        has_value || st.value_len == 0,
                        "{ctx}: value_len without a value"
                    );
                    assert!(
                        st.num_children <= SHARED_NAMES.len() as u64,
                        "{ctx}: too many children"
                    );
                    assert!(st.mtime_ns >= st.ctime_ns, "{ctx}: mtime >= ctime");
                    assert_eq!(st.session, 0, "{ctx}: session");
                    let seq = ok("store_stats", store.store_stats()).sequence;
                    assert!(
                        st.version <= seq && st.child_version <= seq,
                        "{ctx}: versions ({}, {}) should not exceed the sequence {seq}",
                        st.version,
                        st.child_version
                    );
                    assert!(seq >= *last_sequence, "{ctx}: the sequence never goes back");
                    *last_sequence = seq;
                }
                Err(e) if e.errno() == Errno::NOENT => {}
                Err(e) => panic!("{ctx}: stat: expected success or ENOENT, got {e}"),
            },
            _ => {
                let buf_len = rng.range(0, 96) as usize;
                match store.get_into(&p, &mut buf[..buf_len]) {
                    Ok(got) => assert!(
                        check_tagged(&buf[..got.len]).is_some(),
                        "{ctx}: get_into returned a value no writer wrote"
                    ),
                    Err(e) if e.errno() == Errno::RANGE => {
                        let needed = e.needed_len().unwrap_or(0);
                        assert!(
                            needed > buf_len,
                            "{ctx}: ERANGE needs more than {buf_len}, said {needed}"
                        );
                    }
                    Err(e) if matches!(e.errno(), Errno::NOENT | Errno::NODATA) => {}
                    Err(e) => panic!("{ctx}: get_into: unexpected {e}"),
                }
            }
        }
    }
}

/// Checks the shared subtree after the hammering: every listed child is stat-able and agrees
/// with its listing and value, every value was written by some writer at the version its set
/// returned. `versions` holds every writer's successful sets.
pub(crate) fn check_shared_subtree(
    store: &Pathstore,
    base: &str,
    versions: &HashMap<(u32, u32), u64>,
) -> usize {
    let mut nodes = 0;
    for node in store.walk(base) {
        let node = ok("walking the shared subtree", node);
        nodes += 1;
        let p = show(&node.path);
        let st = ok(
            format_args!("stat of the listed node {p}"),
            store.stat(&node.path),
        );
        let children = ok(format_args!("list {p}"), store.list(&node.path));
        assert_eq!(
            st.num_children,
            children.len() as u64,
            "{p}: num_children vs list"
        );
        for c in &children {
            let child = path::join(&node.path, c);
            let _ = ok(
                format_args!("stat of the listed child {}", show(&child)),
                store.stat(&child),
            );
        }
        match &node.value {
            None => assert_eq!((st.flags, st.value_len), (0, 0), "{p}: no value"),
            Some(value) => {
                assert_eq!(
                    (st.flags, st.value_len as usize),
                    (abi::STAT_HAS_VALUE, value.len()),
                    "{p}"
                );
                if node.depth == 0 {
                    assert_eq!(value, b"", "the shared base keeps its empty value");
                    continue;
                }
                let tag = check_tagged(value)
                    .unwrap_or_else(|| panic!("{p} holds {}, which no writer wrote", show(value)));
                assert_eq!(
                    Some(&st.version),
                    versions.get(&tag),
                    "{p} holds the value of writer {} op {}: its version should be what that set returned",
                    tag.0,
                    tag.1
                );
            }
        }
    }
    nodes
}

/// Parses a number in decimal or `0x` hex.
pub(crate) fn num(text: &str) -> u64 {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .unwrap_or_else(|_| panic!("worker spec: {text:?} is not a number"))
}

/// The body of `worker_process`: `model BASE SEED OPS THREADS` runs [`model_run`] in
/// `BASE/t<k>` on THREADS threads and prints the digest of each final model and the number of
/// changes; `hammer BASE WRITER SEED OPS` runs [`hammer`] and prints its changes and versions.
pub(crate) fn run_worker(spec: &str) {
    let words: Vec<&str> = spec.split_whitespace().collect();
    let store = open();
    match words.as_slice() {
        ["model", base, seed, ops, threads] => {
            let (seed, ops, threads) = (num(seed), num(ops) as usize, num(threads));
            let runs: Vec<(String, ModelRun)> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let store = &store;
                        scope.spawn(move || {
                            let sub = format!("{base}/t{t}");
                            let run = model_run(store, &sub, seed.wrapping_add(t), ops);
                            (sub, run)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            });
            let mut mutations = 0;
            for (sub, run) in &runs {
                println!(
                    "WORKER-RESULT digest {sub} {:#x}",
                    digest(run.model.entries())
                );
                mutations += run.mutations;
            }
            println!("WORKER-RESULT mutations {mutations}");
        }
        ["hammer", base, writer, seed, ops] => {
            let writer = u32::try_from(num(writer)).expect("writer id fits u32");
            let result = hammer(&store, base, writer, num(seed), num(ops) as usize, None);
            for ((w, n), v) in &result.versions {
                println!("WORKER-RESULT version {w} {n} {v}");
            }
            println!("WORKER-RESULT mutations {}", result.mutations);
        }
        _ => panic!("unknown worker spec {spec:?}"),
    }
}

/// The results of workers: total changes, digests by subtree, versions of tagged values, and
/// named counters (summed).
#[derive(Debug, Default)]
pub(crate) struct WorkerResults {
    pub(crate) mutations: u64,
    pub(crate) digests: Vec<(String, u64)>,
    pub(crate) versions: HashMap<(u32, u32), u64>,
    pub(crate) counts: HashMap<String, u64>,
}

impl WorkerResults {
    pub(crate) fn add(&mut self, lines: &[String]) {
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["mutations", n] => self.mutations += num(n),
                ["digest", sub, d] => self.digests.push(((*sub).to_owned(), num(d))),
                ["version", w, n, v] => {
                    let key = (num(w) as u32, num(n) as u32);
                    self.versions.insert(key, num(v));
                }
                ["count", name, n] => *self.counts.entry((*name).to_owned()).or_default() += num(n),
                _ => panic!("unexpected worker result line {line:?}"),
            }
        }
    }
}

/// Joins scoped threads, all of them, then re-raises the first panic with its own message.
pub(crate) fn join_all<T>(handles: Vec<std::thread::ScopedJoinHandle<'_, T>>) -> Vec<T> {
    let results: Vec<std::thread::Result<T>> = handles.into_iter().map(|h| h.join()).collect();
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect()
}

/// Sets a flag when dropped: tells a helper thread to stop even when the code that would have
/// told it panicked.
pub(crate) struct StopOnDrop<'a>(pub(crate) &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn threads_on_disjoint_subtrees_match_a_model() {
    const THREADS: u64 = 6;
    let ops = scaled(600);
    let store = open();
    let s = Scratch::new(&store, "conc_threads");
    let seed = test_seed("threads_on_disjoint_subtrees_match_a_model", 0x5eed_0001);
    let runs = std::thread::scope(|scope| {
        let handles = (0..THREADS)
            .map(|t| {
                let shared = &store;
                let base = s.path(&format!("t{t}"));
                scope.spawn(move || {
                    // Even threads share the test's handle, odd ones open their own.
                    let own;
                    let store = if t % 2 == 0 {
                        shared
                    } else {
                        own = open();
                        &own
                    };
                    let run = model_run(store, &base, seed.wrapping_add(t), ops);
                    (base, run)
                })
            })
            .collect();
        join_all(handles)
    });
    // Nothing changed any subtree after its thread finished with it.
    for (base, run) in &runs {
        assert_subtree_matches(
            &store,
            &run.model,
            &format!("{base} after all threads ended"),
        );
    }
}

#[test]
fn processes_on_disjoint_subtrees_match_a_model() {
    const WORKERS: u64 = 3;
    const THREADS_PER_WORKER: u64 = 2;
    let ops = scaled(400);
    let store = open();
    let s = Scratch::new(&store, "conc_processes");
    let seed = test_seed("processes_on_disjoint_subtrees_match_a_model", 0x5eed_0002);
    let before = stats(&store);
    let specs: Vec<String> = (0..WORKERS)
        .map(|w| {
            format!(
                "model {} {:#x} {ops} {THREADS_PER_WORKER}",
                s.path(&format!("p{w}")),
                seed.wrapping_add(w * 100)
            )
        })
        .collect();
    let children: Vec<_> = specs.iter().map(|spec| spawn_worker(spec)).collect();
    // Meanwhile, this process works in its own subtree too.
    let mine = model_run(&store, &s.path("parent"), seed ^ 0xffff, ops);
    let mut results = WorkerResults::default();
    for child in children {
        results.add(&wait_worker(child));
    }
    assert_eq!(
        results.digests.len() as u64,
        WORKERS * THREADS_PER_WORKER,
        "every worker thread should report its subtree's digest"
    );
    for (sub, expected) in &results.digests {
        let found = digest(&read_entries(&store, sub));
        assert_eq!(
            found, *expected,
            "{sub} should hold what its worker's model says"
        );
    }
    assert_subtree_matches(
        &store,
        &mine.model,
        "the parent's subtree after the workers",
    );
    assert_eq!(
        stats(&store).sequence - before.sequence,
        results.mutations + mine.mutations,
        "every successful change, in any process, takes exactly one sequence number"
    );
}

/// Hammers `base` (a node with an empty value) from `threads` threads (half of them on their
/// own handle) and `procs` worker processes while a reader walks it, then checks the result.
/// Returns the number of nodes left in the subtree.
pub(crate) fn hammer_shared(
    store: &Pathstore,
    base: &str,
    seed: u64,
    threads: u32,
    procs: u32,
    ops: usize,
) -> usize {
    let before = stats(store);
    let specs: Vec<String> = (0..procs)
        .map(|k| {
            format!(
                "hammer {base} {} {:#x} {ops}",
                100 + k,
                seed.wrapping_add(100 + u64::from(k))
            )
        })
        .collect();
    let children: Vec<_> = specs.iter().map(|spec| spawn_worker(spec)).collect();
    // The threads go on until the workers (slow to start) have finished, so that they overlap.
    let (done, workers_done) = (AtomicBool::new(false), AtomicBool::new(false));
    let (hammers, walks, results) = std::thread::scope(|scope| {
        let (done, workers_done) = (&done, &workers_done);
        let waiter = scope.spawn(move || {
            let _stop = StopOnDrop(workers_done);
            let mut results = WorkerResults::default();
            for child in children {
                results.add(&wait_worker(child));
            }
            results
        });
        let reader = scope.spawn(move || {
            let mut walks = 0u64;
            while !done.load(Ordering::Relaxed) {
                for node in store.walk(base) {
                    let node = ok("a concurrent walk", node);
                    if let Some(value) = &node.value {
                        assert!(
                            node.depth == 0 || check_tagged(value).is_some(),
                            "a concurrent walk found {} in {}, which no writer wrote",
                            show(value),
                            show(&node.path)
                        );
                    }
                }
                walks += 1;
            }
            walks
        });
        let stop = StopOnDrop(done);
        let handles = (0..threads)
            .map(|k| {
                scope.spawn(move || {
                    let own;
                    let store = if k % 2 == 0 {
                        store
                    } else {
                        own = open();
                        &own
                    };
                    let seed = seed.wrapping_add(u64::from(k));
                    hammer(store, base, k, seed, ops, Some(workers_done))
                })
            })
            .collect();
        let hammers = join_all(handles);
        drop(stop);
        let walks = reader
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        let results = waiter
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (hammers, walks, results)
    });
    let mut versions = results.versions;
    let mut mutations = results.mutations;
    for h in hammers {
        mutations += h.mutations;
        versions.extend(h.versions);
    }
    println!("{threads} threads and {procs} processes made {mutations} changes; {walks} concurrent walks");

    let after = stats(store);
    assert_eq!(
        after.sequence - before.sequence,
        mutations,
        "every successful change takes exactly one sequence number"
    );
    let nodes = check_shared_subtree(store, base, &versions);
    let walked = usage(store, "/");
    assert_eq!(
        (walked.nodes, walked.bytes),
        (after.nodes, after.bytes),
        "store_stats nodes and bytes should equal a full walk of the store"
    );
    assert!(stat(store, base).flags & abi::STAT_HAS_VALUE != 0);
    nodes
}

#[test]
fn threads_and_processes_hammering_a_shared_subtree_stay_consistent() {
    let store = open();
    let s = Scratch::new(&store, "conc_shared");
    let seed = test_seed(
        "threads_and_processes_hammering_a_shared_subtree_stay_consistent",
        0x5eed_0003,
    );
    let base = s.path("shared");
    ok("create the shared base", store.set(&base, ""));
    let nodes = hammer_shared(&store, &base, seed, 4, 2, scaled(800));
    println!("{nodes} nodes left in the shared subtree");
}
