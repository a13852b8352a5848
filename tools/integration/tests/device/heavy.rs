//! Heavy use, run last (`BINARY --test-threads=1 heavy::`, default parameters) right before the
//! module is unloaded and kmemleak looks for leaks: 100,000 children of one node and 2,000
//! chains 40 to 60 deep (over 100,000 nodes), trees built and torn down in several ways, big
//! values replaced many times, concurrent churn from threads and processes, a recursive delete
//! of the whole store, and finally a populated store left for the unload to free.
//!
//! On the guest's debug kernel each node costs about a millisecond to create and to free, so
//! this pass takes several minutes; `PATHSTORE_IT_SCALE` (percent) shrinks it.

use std::time::Instant;

use integration::{
    expect_errno, expect_fails_unchanged, ok, open, scaled, spawn_worker, stat, stats, test_seed,
    usage, wait_worker, Model, Rng, Scratch,
};
use pathstore::{abi, Errno, Pathstore};

use crate::big::{deep_chains, wide_tree};
use crate::concurrency::{
    assert_subtree_matches, hammer_shared, join_all, model_run, WorkerResults,
};

/// Nodes and bytes a builder added, and the successful changes it made.
#[derive(Clone, Copy, Debug, Default)]
struct Built {
    nodes: u64,
    bytes: u64,
    sets: u64,
}

impl Built {
    fn add(&mut self, other: Built) {
        self.nodes += other.nodes;
        self.bytes += other.bytes;
        self.sets += other.sets;
    }
}

/// `base/w`: `n` children with random values of up to 64 bytes.
fn build_wide(store: &Pathstore, base: &str, rng: &mut Rng, n: usize) -> Built {
    let mut b = Built {
        nodes: 1,
        bytes: 1,
        sets: 0,
    };
    for i in 0..n {
        let name = format!("x{i}");
        let value = rng.bytes_below(65);
        ok(
            "set a wide child",
            store.set(format!("{base}/w/{name}"), &value),
        );
        b.nodes += 1;
        b.bytes += (name.len() + value.len()) as u64;
        b.sets += 1;
    }
    b
}

/// `base/c/k<i>/l1/.../l<d>`: `n` chains 30 to 60 deep (`base` at most 2 deep), one set each.
fn build_chains(store: &Pathstore, base: &str, rng: &mut Rng, n: usize) -> Built {
    let mut b = Built {
        nodes: 1,
        bytes: 1,
        sets: 0,
    };
    for i in 0..n {
        let d = rng.range(30, 60) as usize;
        let head = format!("k{i}");
        let mut p = format!("{base}/c/{head}");
        b.bytes += head.len() as u64;
        for l in 1..=d {
            let name = format!("l{l}");
            b.bytes += name.len() as u64;
            p.push('/');
            p.push_str(&name);
        }
        let value = rng.bytes_below(101);
        ok("set a chain", store.set(&p, &value));
        b.nodes += d as u64 + 1;
        b.bytes += value.len() as u64;
        b.sets += 1;
    }
    b
}

/// `base/f`: a full tree of `fanout` (at most 10) children per node, `levels` deep, one set
/// per leaf.
fn build_fan(store: &Pathstore, base: &str, fanout: u32, levels: u32) -> Built {
    let mut b = Built {
        nodes: 1,
        bytes: 1,
        sets: 0,
    };
    for k in 1..=levels {
        let count = u64::from(fanout.pow(k));
        b.nodes += count;
        b.bytes += count; // one-digit names
    }
    for leaf in 0..fanout.pow(levels) {
        let mut p = format!("{base}/f");
        let mut x = leaf;
        for _ in 0..levels {
            p.push('/');
            p.push(char::from(b'0' + (x % fanout) as u8));
            x /= fanout;
        }
        let value = leaf.to_string();
        ok("set a fan-out leaf", store.set(&p, &value));
        b.bytes += value.len() as u64;
        b.sets += 1;
    }
    b
}

#[test]
fn wide_node_with_100k_children() {
    let store = open();
    let seed = test_seed("wide_node_with_100k_children", 0x4ea5_0006);
    wide_tree(&store, "heavy_wide", scaled(100_000), seed);
}

#[test]
fn deep_chains_totalling_100k_nodes() {
    let store = open();
    let seed = test_seed("deep_chains_totalling_100k_nodes", 0x4ea5_0007);
    let nodes = deep_chains(&store, "heavy_deep", scaled(2_000), seed);
    assert!(
        nodes >= scaled(100_000) as u64,
        "the chains should total at least 100k nodes (scaled), not {nodes}"
    );
}

#[test]
fn trees_built_and_torn_down_in_several_ways() {
    let store = open();
    let s = Scratch::new(&store, "heavy_trees");
    let mut rng = Rng::new(test_seed(
        "trees_built_and_torn_down_in_several_ways",
        0x4ea5_0001,
    ));
    let (wide, chains) = (scaled(1_000), scaled(60));
    let before = stats(&store);
    for round in 0..2 {
        let started = Instant::now();
        let round_start = stats(&store).sequence;
        let mut built = build_wide(&store, s.base(), &mut rng, wide);
        built.add(build_chains(&store, s.base(), &mut rng, chains));
        built.add(build_fan(&store, s.base(), 6, 4));
        let full = stats(&store);
        assert_eq!(
            (full.nodes - before.nodes, full.bytes - before.bytes),
            (built.nodes, built.bytes),
            "round {round}: the store should account every node and byte built"
        );
        assert_eq!(
            full.sequence - round_start,
            built.sets,
            "one sequence number per set"
        );
        println!(
            "round {round}: built {} nodes in {:?}",
            built.nodes,
            started.elapsed()
        );
        assert_eq!(stat(&store, s.path("f")).num_children, 6);
        assert_eq!(ok("list", store.list(s.path("f/3/5/1"))).len(), 6);
        expect_fails_unchanged(
            &store,
            &[s.path("f")],
            "delete of a big subtree",
            Errno::NOTEMPTY,
            || store.delete(s.path("f")),
        );
        if round == 0 {
            // Piece by piece: every chain, every fan-out branch, then the rest at once.
            for i in 0..chains {
                ok(
                    "delete_recursive a chain",
                    store.delete_recursive(s.path(&format!("c/k{i}"))),
                );
            }
            ok("delete c", store.delete(s.path("c")));
            for d in 0..6 {
                ok(
                    "delete_recursive a branch",
                    store.delete_recursive(s.path(&format!("f/{d}"))),
                );
            }
            ok("delete f", store.delete(s.path("f")));
            ok("delete_recursive w", store.delete_recursive(s.path("w")));
        } else {
            // All at once, with the subtree's root.
            ok("delete_recursive base", store.delete_recursive(s.base()));
            ok("set base", store.set(s.base(), ""));
        }
        let end = stats(&store);
        assert_eq!(
            (end.nodes, end.bytes),
            (before.nodes, before.bytes),
            "round {round}: tearing down should give back every node and byte"
        );
        println!("round {round} took {:?}", started.elapsed());
    }
}

#[test]
fn big_values_replaced_and_freed() {
    const KEYS: usize = 100;
    let ops = scaled(800);
    let store = open();
    let max = stats(&store).max_value_len as usize;
    let s = Scratch::new(&store, "heavy_values");
    let mut rng = Rng::new(test_seed("big_values_replaced_and_freed", 0x4ea5_0002));
    let pool = rng.bytes(2 * max + 1);
    let before = stats(&store);
    let key = |k: usize| s.path(&format!("k{k}"));
    // (offset in the pool, length, version) of each key's value.
    let mut expected: Vec<Option<(usize, usize, u64)>> = vec![None; KEYS];
    let edges = [0, 1, 4095, 4096, 4097, max - 1, max];
    let check = |k: usize, e: &Option<(usize, usize, u64)>, ctx: &str| match e {
        None => expect_errno(
            format_args!("{ctx}: get k{k}"),
            store.get(key(k)),
            Errno::NOENT,
        ),
        Some((off, len, version)) => {
            let (value, v) = ok(
                format_args!("{ctx}: get k{k}"),
                store.get_with_version(key(k)),
            );
            assert!(
                value == pool[*off..off + len],
                "{ctx}: k{k} should hold its {len} bytes"
            );
            assert_eq!(v, *version, "{ctx}: version of k{k}");
        }
    };
    for op in 0..ops {
        let k = rng.index(KEYS);
        if rng.chance(1, 10) && expected[k].is_some() {
            ok("delete", store.delete(key(k)));
            expected[k] = None;
        } else {
            let len = if rng.chance(3, 10) {
                *rng.pick(&edges)
            } else {
                rng.index(max + 1)
            };
            let off = rng.index(max + 1);
            let v = ok(
                format_args!("set {len} bytes"),
                store.set(key(k), &pool[off..off + len]),
            );
            expected[k] = Some((off, len, v));
        }
        if op % 100 == 99 {
            for _ in 0..10 {
                let k = rng.index(KEYS);
                check(k, &expected[k], &format!("op {op}"));
            }
        }
    }
    for (k, e) in expected.iter().enumerate() {
        check(k, e, "at the end");
    }
    let names: u64 = (0..KEYS)
        .filter(|&k| expected[k].is_some())
        .map(|k| format!("k{k}").len() as u64)
        .sum();
    let values: u64 = expected.iter().flatten().map(|e| e.1 as u64).sum();
    let mid = stats(&store);
    assert_eq!(
        (mid.nodes - before.nodes, mid.bytes - before.bytes),
        (expected.iter().flatten().count() as u64, names + values),
        "the store should account every live value"
    );
    let some = (0..KEYS)
        .find(|&k| expected[k].is_some())
        .expect("some key is set");
    let too_big = vec![0u8; max + 1];
    expect_fails_unchanged(
        &store,
        &[key(some)],
        "a value one byte too big",
        Errno::TOOBIG,
        || store.set(key(some), &too_big),
    );
    ok("delete_recursive", store.delete_recursive(s.base()));
    let end = stats(&store);
    assert_eq!(
        (end.nodes, end.bytes),
        (before.nodes - 1, before.bytes - "heavy_values".len() as u64),
        "every value should be freed"
    );
}

/// Builds and removes `rounds` times a subtree of 100 chains 10 deep with values, checking
/// each round. Returns the number of successful changes.
fn churn(store: &Pathstore, base: &str, seed: u64, rounds: usize) -> u64 {
    let mut rng = Rng::new(seed);
    let mut changes = 0;
    for round in 0..rounds {
        let mut nodes = 0;
        for i in 0..100 {
            let mut p = format!("{base}/r{i}");
            for l in 0..10 {
                p.push_str(&format!("/{l}"));
            }
            let value = rng.bytes_below(2000);
            ok("churn set", store.set(&p, &value));
            changes += 1;
            nodes += 11;
        }
        let used = usage(store, base);
        assert_eq!(
            used.nodes,
            nodes + 1,
            "churn round {round}: nodes of {base}"
        );
        ok("churn delete_recursive", store.delete_recursive(base));
        changes += 1;
        expect_errno("churn: the subtree is gone", store.stat(base), Errno::NOENT);
    }
    changes
}

#[test]
fn concurrent_churn_with_threads_and_processes() {
    let store = open();
    let s = Scratch::new(&store, "heavy_conc");
    let seed = test_seed("concurrent_churn_with_threads_and_processes", 0x4ea5_0003);
    let started = Instant::now();
    let ops = scaled(600);

    // Phase 1: disjoint subtrees, each checked against its model; and churn. Every change is
    // counted, so the sequence number must advance by exactly their number.
    let before = stats(&store);
    let specs: Vec<String> = (0..2u64)
        .map(|w| {
            format!(
                "model {} {:#x} {ops} 2",
                s.path(&format!("pm{w}")),
                seed + 1000 * (w + 1)
            )
        })
        .collect();
    let children: Vec<_> = specs.iter().map(|spec| spawn_worker(spec)).collect();
    let (runs, churned): (Vec<(String, Model, u64)>, u64) = std::thread::scope(|scope| {
        let store = &store;
        let models = (0..3u64)
            .map(|t| {
                let base = s.path(&format!("tm{t}"));
                scope.spawn(move || {
                    let own = open();
                    let store = if t == 0 { store } else { &own };
                    let run = model_run(store, &base, seed.wrapping_add(t), ops);
                    (base, run.model, run.mutations)
                })
            })
            .collect();
        let churner = {
            let base = s.path("churn");
            scope.spawn(move || churn(store, &base, seed ^ 0xc4, 3))
        };
        let runs = join_all(models);
        let churned = churner
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (runs, churned)
    });
    let mut results = WorkerResults::default();
    for child in children {
        results.add(&wait_worker(child));
    }
    for (base, model, _) in &runs {
        assert_subtree_matches(&store, model, &format!("{base} after phase 1"));
    }
    let mutations: u64 = runs.iter().map(|r| r.2).sum::<u64>() + churned + results.mutations;
    assert_eq!(
        stats(&store).sequence - before.sequence,
        mutations,
        "phase 1: every successful change takes exactly one sequence number"
    );
    println!("phase 1: {mutations} changes in {:?}", started.elapsed());

    // Phase 2: one shared subtree hammered by 6 threads and 2 processes.
    let shared = s.path("shared");
    ok("create the shared base", store.set(&shared, ""));
    let nodes = hammer_shared(&store, &shared, seed ^ 0x5a, 6, 2, ops);
    println!(
        "phase 2: {nodes} nodes left, {:?} in all",
        started.elapsed()
    );

    let before_delete = stats(&store);
    let sub = usage(&store, s.base());
    ok("delete_recursive", store.delete_recursive(s.base()));
    let end = stats(&store);
    assert_eq!(
        (end.nodes, end.bytes),
        (
            before_delete.nodes - sub.nodes,
            before_delete.bytes - sub.bytes - "heavy_conc".len() as u64
        ),
        "deleting everything the threads and processes left should give back its nodes and bytes"
    );
}

#[test]
fn recursive_delete_of_the_root_frees_a_big_store() {
    // Resets the whole store (allowed: the tests run one at a time).
    let store = open();
    let mut rng = Rng::new(test_seed(
        "recursive_delete_of_the_root_frees_a_big_store",
        0x4ea5_0004,
    ));
    ok("delete_recursive /", store.delete_recursive("/"));
    let started = Instant::now();
    let mut built = Built::default();
    for top in 0..4 {
        let base = format!("/r{top}");
        built.add(build_wide(&store, &base, &mut rng, scaled(500)));
        built.add(build_chains(&store, &base, &mut rng, scaled(40)));
        built.add(build_fan(&store, &base, 6, 3));
        built.nodes += 1;
        built.bytes += 2;
    }
    ok("set /", store.set("/", "root value"));
    let full = stats(&store);
    assert_eq!(
        (full.nodes, full.bytes),
        (1 + built.nodes, built.bytes + 10),
        "the store should hold exactly what was built"
    );
    println!("built {} nodes in {:?}", full.nodes, started.elapsed());
    expect_fails_unchanged(
        &store,
        &["/", "/r0"],
        "delete / with children",
        Errno::NOTEMPTY,
        || store.delete("/"),
    );
    ok("delete_recursive /", store.delete_recursive("/"));
    let end = stats(&store);
    assert_eq!(
        (end.nodes, end.bytes),
        (1, 0),
        "only the root should remain"
    );
    assert_eq!(ok("list /", store.list("/")), Vec::<Vec<u8>>::new());
    expect_errno(
        "get / after delete_recursive",
        store.get("/"),
        Errno::NODATA,
    );
    let root = stat(&store, "/");
    assert_eq!((root.num_children, root.flags), (0, 0));
    println!("tore down in {:?}", started.elapsed());
}

#[test]
fn zz_leave_a_populated_store_for_unload() {
    // Sorts last. Leaves a populated store on purpose: unloading the module must free it, and
    // kmemleak checks that it did.
    let store = open();
    let mut rng = Rng::new(test_seed(
        "zz_leave_a_populated_store_for_unload",
        0x4ea5_0005,
    ));
    let base = "/leftover";
    let _ = store.delete_recursive(base);
    let before = stats(&store);
    let mut built = build_wide(&store, base, &mut rng, scaled(1_000));
    built.add(build_chains(&store, base, &mut rng, scaled(50)));
    built.add(build_fan(&store, base, 6, 4));
    let max = before.max_value_len as usize;
    for i in 0..40 {
        let len = if i % 2 == 0 { max } else { rng.index(max) };
        let value = rng.bytes(len);
        ok(
            "set a big value",
            store.set(format!("{base}/big/v{i}"), &value),
        );
        built.add(Built {
            nodes: 1,
            bytes: (format!("v{i}").len() + value.len()) as u64,
            sets: 1,
        });
    }
    built.add(Built {
        nodes: 2,
        bytes: "leftover".len() as u64 + 3,
        sets: 0,
    });
    let had_root_value = store.get("/").map(|v| v.len() as u64).unwrap_or(0);
    ok("set /", store.set("/", "left for the unload"));
    let end = stats(&store);
    assert_eq!(
        (
            end.nodes - before.nodes,
            end.bytes + had_root_value - before.bytes
        ),
        (built.nodes, built.bytes + 19),
        "the store should hold exactly what was built"
    );
    assert!(stat(&store, base).num_children >= 4);
    assert_eq!(stat(&store, "/").flags, abi::STAT_HAS_VALUE);
    println!(
        "left {} nodes and {} bytes in the store for the unload",
        end.nodes, end.bytes
    );
}

#[test]
fn a_reader_is_not_held_up_while_root_deletes_a_big_tree() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    let store = open();
    let base = "/bigdelete";
    let _ = store.delete_recursive(base);
    // 100,000 nodes under 100 parents (scaled): the debug guest creates one in about a
    // millisecond, so a million would take a quarter of an hour to build.
    let nodes = scaled(100_000);
    let started = Instant::now();
    for i in 0..nodes {
        ok(
            "build the tree",
            store.set(format!("{base}/{}/{}", i / 1000, i % 1000), ""),
        );
    }
    println!("built {nodes} nodes in {:?}", started.elapsed());
    ok("the reader's key", store.set("/bigdelete-reader", "v"));
    // A task blocked for 10 s is reported as hung, and the kernel log then fails the run.
    const HUNG: &str = "/proc/sys/kernel/hung_task_timeout_secs";
    let hung_before = std::fs::read_to_string(HUNG).expect("read hung_task_timeout_secs");
    std::fs::write(HUNG, "10").expect("lower hung_task_timeout_secs");
    let stop = AtomicBool::new(false);
    let (took, (longest, gets)) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let reader = open();
            let (mut longest, mut gets) = (Duration::ZERO, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                ok("the reader's get", reader.get("/bigdelete-reader"));
                longest = longest.max(start.elapsed());
                gets += 1;
            }
            (longest, gets)
        });
        std::thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        ok("root deletes the tree", store.delete_recursive(base));
        let took = start.elapsed();
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        (took, reader.join().expect("the reader"))
    });
    std::fs::write(HUNG, hung_before.trim()).expect("restore hung_task_timeout_secs");
    println!(
        "deleting {nodes} nodes took {took:?}; beside it, {gets} gets, the longest {longest:?}"
    );
    expect_errno("the tree is gone", store.stat(base), Errno::NOENT);
    // Generous by default, for the debug kernel on a busy host; `make heavy` (a million nodes,
    // the lean kernel) asks for 50 ms, which holding the lock for the whole subtree's walk
    // (170 ms there) breaks.
    let bound = std::env::var("PATHSTORE_HEAVY_LONGEST_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(2), Duration::from_millis);
    assert!(
        longest <= bound,
        "a get waited {longest:?} (more than {bound:?}) while root deleted {nodes} nodes (in \
         {took:?}): the tree is taken out under the lock, and drained a batch at a time"
    );
    ok("delete the reader's key", store.delete("/bigdelete-reader"));
}
