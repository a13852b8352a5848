//! The concurrent mode: several threads, each with its own open file, race on a few keys with
//! set, get, delete, compare-and-set, conditional delete and batched gets; every call's
//! invocation and return times and its result are recorded, and each history is checked for
//! linearizability with a Wing–Gong search (with Lowe's memoisation of visited states, as
//! Porcupine does), key by key: every operation here touches one key (a batched get is split into
//! its single gets, each of which is atomic, the batch being no snapshot).
//!
//! The sequential specification of one key: the node is absent or holds a value and a version.
//! A set succeeds with a version above every version the key had before (versions come from the
//! store-wide sequence); compare-and-set succeeds only at the current version and fails with
//! `ESTALE` reporting it, or `ENOENT`; a get returns the current value and version, or
//! `ENOENT`; a delete succeeds only on a present node (at the version, for a conditional one).
//! Across keys, successful changes must have distinct versions.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use pathstore::{abi, user_addr, user_addr_mut, Errno, Pathstore};

use crate::rng::Rng;

/// One operation on a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LOp {
    /// Set to a value (unique in the run).
    Set(u64),
    /// Compare-and-set: the value, at the expected version.
    Cas(u64, u64),
    /// Get.
    Get,
    /// Delete.
    Delete,
    /// Delete at the expected version.
    DeleteIf(u64),
}

/// A result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LRes {
    /// A set or compare-and-set succeeded with this version.
    Set(u64),
    /// A get returned the value (decoded) and version.
    Value(u64, u64),
    /// A delete succeeded.
    Deleted,
    /// `ESTALE` with the node's version.
    Stale(u64),
    /// Another errno.
    Err(Errno),
}

/// One recorded call.
#[derive(Clone, Debug)]
pub struct Call {
    /// The thread.
    pub thread: usize,
    /// The key.
    pub key: usize,
    /// The operation.
    pub op: LOp,
    /// The result.
    pub res: LRes,
    /// Invocation time (ns since the round started).
    pub start: u64,
    /// Return time.
    pub end: u64,
}

/// The state of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct KeyState {
    /// The value and version, when present.
    node: Option<(u64, u64)>,
    /// The highest version the key ever had (a set must go above it).
    last: u64,
}

/// Applies `op` with result `res` to `s`: the next state, if the result is possible.
fn step(s: KeyState, op: &LOp, res: &LRes) -> Option<KeyState> {
    match (op, res) {
        (LOp::Set(v), LRes::Set(ver)) if *ver > s.last => Some(KeyState {
            node: Some((*v, *ver)),
            last: *ver,
        }),
        (LOp::Cas(v, e), LRes::Set(ver)) if *ver > s.last => match s.node {
            Some((_, cur)) if cur == *e => Some(KeyState {
                node: Some((*v, *ver)),
                last: *ver,
            }),
            _ => None,
        },
        (LOp::Cas(_, e), LRes::Stale(cur)) => match s.node {
            Some((_, c)) if c == *cur && c != *e => Some(s),
            _ => None,
        },
        (LOp::Cas(..) | LOp::Get | LOp::Delete | LOp::DeleteIf(_), LRes::Err(Errno::NOENT)) => {
            s.node.is_none().then_some(s)
        }
        (LOp::Get, LRes::Value(v, ver)) => (s.node == Some((*v, *ver))).then_some(s),
        (LOp::Delete, LRes::Deleted) => s.node.map(|_| KeyState {
            node: None,
            last: s.last,
        }),
        (LOp::DeleteIf(e), LRes::Deleted) => match s.node {
            Some((_, cur)) if cur == *e => Some(KeyState {
                node: None,
                last: s.last,
            }),
            _ => None,
        },
        (LOp::DeleteIf(e), LRes::Stale(cur)) => match s.node {
            Some((_, c)) if c == *cur && c != *e => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the calls on one key (all of them completed) are linearizable from `init`: a
/// Wing–Gong search over the calls not yet linearized, trying each call that no pending call
/// precedes in real time, memoising (linearized set, state) pairs already explored.
pub fn linearizable(calls: &[Call], init: KeyStateInit) -> bool {
    let n = calls.len();
    assert!(n <= 128, "history too long for the checker: {n}");
    let init = KeyState {
        node: init.node,
        last: init.last,
    };
    let mut seen: HashSet<(u128, KeyState)> = HashSet::new();
    // Depth-first search with an explicit stack of (done set, state).
    let mut stack = vec![(0u128, init)];
    let full: u128 = if n == 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    };
    while let Some((done, state)) = stack.pop() {
        if done == full {
            return true;
        }
        if !seen.insert((done, state)) {
            continue;
        }
        // The earliest return among pending calls: a call invoked after it cannot go next.
        let min_end = (0..n)
            .filter(|&i| done & (1 << i) == 0)
            .map(|i| calls[i].end)
            .min()
            .unwrap();
        for (i, call) in calls.iter().enumerate() {
            if done & (1 << i) != 0 || call.start > min_end {
                continue;
            }
            if let Some(next) = step(state, &call.op, &call.res) {
                stack.push((done | (1 << i), next));
            }
        }
    }
    false
}

/// The state of a key before a round, as read back from the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyStateInit {
    /// Value (decoded) and version, when present.
    pub node: Option<(u64, u64)>,
    /// A lower bound for versions of later sets.
    pub last: u64,
}

/// Settings of the concurrent mode.
#[derive(Clone, Debug)]
pub struct LinConfig {
    /// The seed of the operations (the interleaving is the machine's).
    pub seed: u64,
    /// Threads.
    pub threads: usize,
    /// Keys.
    pub keys: usize,
    /// Operations per thread per round (the history of a round is checked, then the next
    /// starts).
    pub ops_per_round: usize,
    /// Rounds (or a time limit).
    pub limit: crate::fuzzer::Limit,
    /// The device.
    pub device: String,
}

/// Counts of a run.
#[derive(Clone, Debug, Default)]
pub struct LinSummary {
    /// Rounds checked.
    pub rounds: u64,
    /// Calls checked.
    pub calls: u64,
    /// Calls that overlapped another call on the same key.
    pub overlapping: u64,
    /// Time.
    pub elapsed: Duration,
}

fn key_path(k: usize) -> Vec<u8> {
    format!("/lin/k{k}").into_bytes()
}

fn decode(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn set(store: &Pathstore, path: &[u8], value: &[u8], flags: u32, expected: u64) -> LRes {
    let mut a = abi::SetArgs {
        path: user_addr(path),
        path_len: path.len() as u32,
        value: user_addr(value),
        value_len: value.len() as u32,
        flags,
        expected_version: expected,
        ..Default::default()
    };
    // SAFETY: `a` is a `SetArgs` whose path and value live for the call.
    match unsafe { store.ioctl_raw(abi::IOC_SET, (&raw mut a).cast()) } {
        Ok(_) => LRes::Set(a.version),
        Err(Errno::STALE) => LRes::Stale(a.version),
        Err(e) => LRes::Err(e),
    }
}

fn delete(store: &Pathstore, path: &[u8], flags: u32, expected: u64) -> LRes {
    let mut a = abi::DeleteArgs {
        path: user_addr(path),
        path_len: path.len() as u32,
        flags,
        expected_version: expected,
        ..Default::default()
    };
    // SAFETY: `a` is a `DeleteArgs` whose path lives for the call.
    match unsafe { store.ioctl_raw(abi::IOC_DELETE, (&raw mut a).cast()) } {
        Ok(_) => LRes::Deleted,
        Err(Errno::STALE) => LRes::Stale(a.version),
        Err(e) => LRes::Err(e),
    }
}

fn get_result(r: Result<(), Errno>, buf: &[u8], len: u32, version: u64) -> LRes {
    match r {
        Ok(()) => match decode(&buf[..len as usize]) {
            Some(v) => LRes::Value(v, version),
            None => LRes::Err(Errno::BADMSG),
        },
        Err(e) => LRes::Err(e),
    }
}

/// One thread's round: its calls.
fn thread_round(
    store: &Pathstore,
    rng: &mut Rng,
    thread: usize,
    keys: usize,
    n: usize,
    next_value: &mut u64,
    epoch: Instant,
) -> Vec<Call> {
    let mut calls = Vec::with_capacity(n);
    let mut known: Vec<u64> = vec![0; keys];
    let mut buf = [0u8; 64];
    let ns = |t: Instant| t.duration_since(epoch).as_nanos() as u64;
    for _ in 0..n {
        let kind = rng.weighted(&[30, 20, 25, 8, 10, 7]);
        if kind == 5 {
            // A batch of gets: one call, each get atomic by itself.
            let ks: Vec<usize> = (0..rng.range_usize(2, 4))
                .map(|_| rng.below(keys as u64) as usize)
                .collect();
            let paths: Vec<Vec<u8>> = ks.iter().map(|&k| key_path(k)).collect();
            let mut bufs = vec![[0u8; 64]; ks.len()];
            let mut ops: Vec<abi::GetOp> = paths
                .iter()
                .zip(bufs.iter_mut())
                .map(|(p, b)| abi::GetOp {
                    path: user_addr(p),
                    path_len: p.len() as u32,
                    buf: user_addr_mut(b),
                    buf_len: 64,
                    ..Default::default()
                })
                .collect();
            let mut a = abi::GetBatchArgs {
                ops: ops.as_mut_ptr() as u64,
                count: ops.len() as u32,
                ..Default::default()
            };
            let start = ns(Instant::now());
            // SAFETY: `a` points at `ops`, whose paths and buffers live for the call.
            let r = unsafe { store.ioctl_raw(abi::IOC_GET_BATCH, (&raw mut a).cast()) };
            let end = ns(Instant::now());
            for (i, &k) in ks.iter().enumerate() {
                let res = match r {
                    Err(e) => LRes::Err(e),
                    Ok(_) if ops[i].error == 0 => {
                        get_result(Ok(()), &bufs[i], ops[i].value_len, ops[i].version)
                    }
                    Ok(_) => LRes::Err(Errno::from_raw_os_error(-ops[i].error)),
                };
                calls.push(Call {
                    thread,
                    key: k,
                    op: LOp::Get,
                    res,
                    start,
                    end,
                });
            }
            continue;
        }
        let key = rng.below(keys as u64) as usize;
        let path = key_path(key);
        let expected = if rng.percent(75) {
            known[key]
        } else {
            rng.range(1, known[key] + 3)
        };
        *next_value += 1;
        let value = next_value.to_string().into_bytes();
        let op = match kind {
            0 => LOp::Set(*next_value),
            1 => LOp::Cas(*next_value, expected),
            2 => LOp::Get,
            3 => LOp::Delete,
            _ => LOp::DeleteIf(expected),
        };
        let start = ns(Instant::now());
        let res = match &op {
            LOp::Set(_) => set(store, &path, &value, 0, 0),
            LOp::Cas(_, e) => set(store, &path, &value, abi::SET_IF_VERSION, *e),
            LOp::Get => {
                let mut a = abi::GetArgs {
                    path: user_addr(&path),
                    path_len: path.len() as u32,
                    buf: user_addr_mut(&mut buf),
                    buf_len: buf.len() as u32,
                    ..Default::default()
                };
                // SAFETY: `a` is a `GetArgs` whose path and buffer live for the call.
                let r = unsafe { store.ioctl_raw(abi::IOC_GET, (&raw mut a).cast()) };
                get_result(r.map(drop), &buf, a.value_len, a.version)
            }
            LOp::Delete => delete(store, &path, 0, 0),
            LOp::DeleteIf(e) => delete(store, &path, abi::DELETE_IF_VERSION, *e),
        };
        let end = ns(Instant::now());
        match res {
            LRes::Set(v) | LRes::Value(_, v) | LRes::Stale(v) => known[key] = v,
            _ => {}
        }
        calls.push(Call {
            thread,
            key,
            op,
            res,
            start,
            end,
        });
    }
    calls
}

/// Runs the concurrent mode: the counts, or a report of a history that is not linearizable.
pub fn run(cfg: &LinConfig) -> (LinSummary, Result<(), crate::fuzzer::Failure>) {
    use crate::fuzzer::Failure;
    let mut summary = LinSummary::default();
    let setup = |e: pathstore::Error| Failure::Setup(format!("{e}"));
    let main = match Pathstore::open_path(&cfg.device) {
        Ok(s) => s,
        Err(e) => return (summary, Err(setup(e))),
    };
    if let Err(e) = main.delete_recursive("/lin") {
        if e.errno() != Errno::NOENT {
            return (summary, Err(setup(e)));
        }
    }
    let mut stores = Vec::new();
    for _ in 0..cfg.threads {
        match Pathstore::open_path(&cfg.device) {
            Ok(s) => stores.push(Arc::new(s)),
            Err(e) => return (summary, Err(setup(e))),
        }
    }
    let started = Instant::now();
    let mut rngs: Vec<Rng> = (0..cfg.threads)
        .map(|t| Rng::new(cfg.seed, 0x11_0000 + t as u64))
        .collect();
    let mut values: Vec<u64> = (0..cfg.threads).map(|t| (t as u64 + 1) << 40).collect();
    loop {
        let done = match cfg.limit {
            crate::fuzzer::Limit::Ops(n) => summary.rounds >= n,
            crate::fuzzer::Limit::Seconds(s) => started.elapsed() >= Duration::from_secs(s),
        };
        if done {
            break;
        }
        // The state of each key before the round.
        let mut init = Vec::new();
        for k in 0..cfg.keys {
            let st = match main.get_with_version(key_path(k)) {
                Ok((v, ver)) => KeyStateInit {
                    node: decode(&v).map(|d| (d, ver)),
                    last: ver,
                },
                Err(e) if e.errno() == Errno::NOENT => KeyStateInit {
                    node: None,
                    last: 0,
                },
                Err(e) => return (summary, Err(setup(e))),
            };
            init.push(st);
        }
        let seq = match main.store_stats() {
            Ok(s) => s.sequence,
            Err(e) => return (summary, Err(setup(e))),
        };
        for st in &mut init {
            // Versions of later sets are above the whole store's sequence now.
            st.last = st.last.max(seq);
        }
        let barrier = Arc::new(Barrier::new(cfg.threads));
        let epoch = Instant::now();
        let mut handles = Vec::new();
        for t in 0..cfg.threads {
            let store = stores[t].clone();
            let mut rng = rngs[t].clone();
            let mut next = values[t];
            let barrier = barrier.clone();
            let (keys, n) = (cfg.keys, cfg.ops_per_round);
            handles.push(std::thread::spawn(move || {
                barrier.wait();
                let calls = thread_round(&store, &mut rng, t, keys, n, &mut next, epoch);
                (calls, rng, next)
            }));
        }
        let mut calls = Vec::new();
        for (t, h) in handles.into_iter().enumerate() {
            let (c, rng, next) = h.join().expect("a worker thread panicked");
            calls.extend(c);
            rngs[t] = rng;
            values[t] = next;
        }
        summary.rounds += 1;
        summary.calls += calls.len() as u64;
        // Successful changes have distinct versions across keys.
        let mut versions = HashSet::new();
        for c in &calls {
            if let LRes::Set(v) = c.res {
                if !versions.insert(v) {
                    let report = format!(
                        "fuzz: LINEARIZABILITY (seed={}, round {}): version {v} returned by two \
                         sets",
                        cfg.seed, summary.rounds
                    );
                    return (summary, Err(Failure::Mismatch(report)));
                }
            }
        }
        for (k, st) in init.iter().enumerate() {
            let mine: Vec<Call> = calls.iter().filter(|c| c.key == k).cloned().collect();
            for (i, a) in mine.iter().enumerate() {
                if mine
                    .iter()
                    .enumerate()
                    .any(|(j, b)| i != j && a.start < b.end && b.start < a.end)
                {
                    summary.overlapping += 1;
                }
            }
            if !linearizable(&mine, *st) {
                let mut r = format!(
                    "fuzz: LINEARIZABILITY (seed={}, round {}): the history of {} is not \
                     linearizable from {st:?}:\n",
                    cfg.seed,
                    summary.rounds,
                    String::from_utf8_lossy(&key_path(k))
                );
                let mut sorted = mine.clone();
                sorted.sort_by_key(|c| c.start);
                for c in sorted {
                    r.push_str(&format!(
                        "  t{} [{:>9} .. {:>9}] {:?} -> {:?}\n",
                        c.thread, c.start, c.end, c.op, c.res
                    ));
                }
                r.push_str(&format!(
                    "fuzz: reproduce (the interleaving is the machine's): pathstore-fuzz --mode \
                     linearize --seed {} --threads {} --keys {} --round-ops {}",
                    cfg.seed, cfg.threads, cfg.keys, cfg.ops_per_round
                ));
                return (summary, Err(Failure::Mismatch(r)));
            }
        }
    }
    summary.elapsed = started.elapsed();
    if let Err(e) = main.delete_recursive("/lin") {
        return (summary, Err(setup(e)));
    }
    (summary, Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(thread: usize, op: LOp, res: LRes, start: u64, end: u64) -> Call {
        Call {
            thread,
            key: 0,
            op,
            res,
            start,
            end,
        }
    }

    const EMPTY: KeyStateInit = KeyStateInit {
        node: None,
        last: 10,
    };

    #[test]
    fn sequential_histories() {
        let h = vec![
            call(0, LOp::Set(1), LRes::Set(11), 0, 1),
            call(0, LOp::Get, LRes::Value(1, 11), 2, 3),
            call(0, LOp::Cas(2, 11), LRes::Set(12), 4, 5),
            call(0, LOp::Cas(3, 11), LRes::Stale(12), 6, 7),
            call(0, LOp::DeleteIf(11), LRes::Stale(12), 8, 9),
            call(0, LOp::Delete, LRes::Deleted, 10, 11),
            call(0, LOp::Get, LRes::Err(Errno::NOENT), 12, 13),
        ];
        assert!(linearizable(&h, EMPTY));
        // A get that sees a value overwritten before it started.
        let bad = vec![
            call(0, LOp::Set(1), LRes::Set(11), 0, 1),
            call(0, LOp::Set(2), LRes::Set(12), 2, 3),
            call(1, LOp::Get, LRes::Value(1, 11), 4, 5),
        ];
        assert!(!linearizable(&bad, EMPTY));
        // A version that does not increase.
        let bad = vec![
            call(0, LOp::Set(1), LRes::Set(12), 0, 1),
            call(0, LOp::Set(2), LRes::Set(11), 2, 3),
        ];
        assert!(!linearizable(&bad, EMPTY));
    }

    #[test]
    fn concurrent_histories() {
        // Overlapping set and get: the get may see either state.
        for seen in [LRes::Err(Errno::NOENT), LRes::Value(1, 11)] {
            let h = vec![
                call(0, LOp::Set(1), LRes::Set(11), 0, 10),
                call(1, LOp::Get, seen, 2, 5),
            ];
            assert!(linearizable(&h, EMPTY));
        }
        // Two overlapping deletes cannot both succeed.
        let h = vec![
            call(0, LOp::Set(1), LRes::Set(11), 0, 1),
            call(0, LOp::Delete, LRes::Deleted, 2, 10),
            call(1, LOp::Delete, LRes::Deleted, 3, 9),
        ];
        assert!(!linearizable(&h, EMPTY));
        // Two compare-and-sets at the same version: one wins, the other sees its version.
        let h = vec![
            call(0, LOp::Set(1), LRes::Set(11), 0, 1),
            call(0, LOp::Cas(2, 11), LRes::Stale(13), 2, 10),
            call(1, LOp::Cas(3, 11), LRes::Set(13), 3, 9),
        ];
        assert!(linearizable(&h, EMPTY));
        let h = vec![
            call(0, LOp::Set(1), LRes::Set(11), 0, 1),
            call(0, LOp::Cas(2, 11), LRes::Set(12), 2, 10),
            call(1, LOp::Cas(3, 11), LRes::Set(13), 3, 9),
        ];
        assert!(!linearizable(&h, EMPTY));
    }

    #[test]
    fn long_histories_stay_fast() {
        // 100 overlapping gets of an absent key and one set in the middle.
        let mut h: Vec<Call> = (0..100)
            .map(|i| {
                call(
                    i % 4,
                    LOp::Get,
                    if i < 50 {
                        LRes::Err(Errno::NOENT)
                    } else {
                        LRes::Value(7, 11)
                    },
                    i as u64 * 10,
                    i as u64 * 10 + 35,
                )
            })
            .collect();
        h.push(call(5, LOp::Set(7), LRes::Set(11), 480, 520));
        let t = Instant::now();
        assert!(linearizable(&h, EMPTY));
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
