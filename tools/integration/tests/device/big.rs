//! Big trees: many children of one node, and many deep chains; listed, paged, spot-checked, then
//! removed with one recursive delete, after which the store's statistics are back where they
//! were.
//!
//! The checks are in [`wide_tree`] and [`deep_chains`]. Here, in the default pass, they run at a
//! size that keeps the pass short on the guest's debug kernel (each node costs about a
//! millisecond there, to create and to free); `heavy::` runs them with 100,000 nodes and more.

use std::time::Instant;

use integration::{
    expect_fails_unchanged, ok, open, scaled, show, stat, stats, test_seed, Rng, Scratch,
};
use pathstore::{abi, Errno, Pathstore};

/// Creates `count` children of one node (`/it/<name>`) in random order, with names whose byte
/// order is not their numeric order; checks them through list, paging with several buffer
/// sizes, random cursors and gets; then deletes the node recursively and checks that the
/// store's statistics are back.
pub(crate) fn wide_tree(store: &Pathstore, name: &str, count: usize, seed: u64) {
    let s = Scratch::new(store, name);
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let before = stats(store);

    let mut order: Vec<usize> = (0..count).collect();
    rng.shuffle(&mut order);
    let child = |i: usize| format!("n{i}");
    // Every third child holds an empty value (the cheapest node the store has).
    let value = |i: usize| {
        if i % 3 == 0 {
            String::new()
        } else {
            i.to_string()
        }
    };
    let mut versions = vec![0u64; count];
    for (k, &i) in order.iter().enumerate() {
        let v = ok("set", store.set(s.path(&child(i)), value(i)));
        assert_eq!(
            v,
            before.sequence + 1 + k as u64,
            "each set takes the next number"
        );
        versions[i] = v;
    }
    let names_len: u64 = (0..count).map(|i| child(i).len() as u64).sum();
    let values_len: u64 = (0..count).map(|i| value(i).len() as u64).sum();
    let full = stats(store);
    assert_eq!(full.nodes, before.nodes + count as u64);
    assert_eq!(full.bytes, before.bytes + names_len + values_len);
    let st = stat(store, s.base());
    assert_eq!(st.num_children, count as u64);
    assert_eq!(st.child_version, full.sequence);
    println!("created {count} children in {:?}", started.elapsed());

    let mut expected: Vec<Vec<u8>> = (0..count).map(|i| child(i).into_bytes()).collect();
    expected.sort();
    let listed = ok("list", store.list(s.base()));
    assert!(
        listed == expected,
        "list should return all {count} children in byte order (got {} names)",
        listed.len()
    );
    drop(listed);

    // Paging: every page as full as possible, LIST_MORE exactly until the last, and the pages
    // add up to every child. (The module may return less than a large buffer holds.)
    for buf_len in [256usize, 4096, 1 << 20] {
        let mut buf = vec![0u8; buf_len];
        let mut after: Vec<u8> = Vec::new();
        let (mut pos, mut pages) = (0usize, 0usize);
        loop {
            let page = ok("list_page", store.list_page(s.base(), &after, &mut buf));
            pages += 1;
            assert_eq!(page.names().count(), page.count);
            assert!(
                page.count > 0 || !page.more,
                "a page with LIST_MORE should hold names"
            );
            for n in page.names() {
                assert!(
                    expected.get(pos).map(Vec::as_slice) == Some(n),
                    "{buf_len}-byte page {pages}: name {pos} should be {:?}, got {}",
                    expected.get(pos).map(|e| show(e)),
                    show(n)
                );
                pos += 1;
            }
            assert_eq!(
                page.more,
                pos < count,
                "LIST_MORE exactly while names remain"
            );
            if !page.more {
                break;
            }
            if buf_len <= 4096 {
                assert!(
                    page.bytes().len() + expected[pos].len() + 1 > buf_len,
                    "{buf_len}-byte page {pages} should be full: the next name would have fit"
                );
            }
            after = expected[pos - 1].clone();
        }
        assert_eq!(
            pos, count,
            "{buf_len}-byte pages should add up to every child"
        );
        println!("{count} children in {pages} pages of {buf_len} bytes");
    }

    // Random cursors, existing or not, and random gets.
    let mut small = [0u8; 64];
    for _ in 0..300 {
        let mut cursor = expected[rng.index(count)].clone();
        if rng.chance(1, 2) {
            cursor.push(b'~');
        }
        let next = expected.partition_point(|n| n.as_slice() <= cursor.as_slice());
        let page = ok(
            "list_page after a cursor",
            store.list_page(s.base(), &cursor, &mut small),
        );
        assert_eq!(
            page.names().next(),
            expected.get(next).map(Vec::as_slice),
            "first name after {}",
            show(&cursor)
        );
    }
    for _ in 0..1000 {
        let i = rng.index(count);
        assert_eq!(
            ok("get", store.get_with_version(s.path(&child(i)))),
            (value(i).into_bytes(), versions[i]),
            "child {}",
            child(i)
        );
    }
    expect_fails_unchanged(
        store,
        &[s.base()],
        "delete of the wide node",
        Errno::NOTEMPTY,
        || store.delete(s.base()),
    );

    let deleting = Instant::now();
    ok("delete_recursive", store.delete_recursive(s.base()));
    println!("deleted {count} children in {:?}", deleting.elapsed());
    let end = stats(store);
    assert_eq!(
        (end.nodes, end.bytes),
        (before.nodes - 1, before.bytes - name.len() as u64),
        "deleting the subtree should give back every node and byte"
    );
    assert_eq!(end.sequence, full.sequence + 1);
    println!("wide tree of {count} took {:?}", started.elapsed());
}

/// Creates `chains` chains 40 to 60 deep below `/it/<name>`, each with one set of its leaf;
/// spot-checks the levels, deletes parts of some chains, then the whole subtree, and checks
/// that the store's statistics are back. Returns the number of nodes the chains had.
pub(crate) fn deep_chains(store: &Pathstore, name: &str, chains: usize, seed: u64) -> u64 {
    let s = Scratch::new(store, name);
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let before = stats(store);
    // /it/<name>/c<i>/l1/.../l<d>: at most 3 + 60 = 63 components; depths spread over 40..=60.
    let depth = |i: usize| 40 + (i * 13) % 21;
    let chain = |i: usize, d: usize| {
        let mut p = s.path(&format!("c{i}"));
        for l in 1..=d {
            p.push_str(&format!("/l{l}"));
        }
        p
    };
    let mut versions = vec![0u64; chains];
    let (mut nodes, mut bytes) = (0u64, 0u64);
    for (i, version) in versions.iter_mut().enumerate() {
        let d = depth(i);
        let value = if i % 2 == 0 {
            String::new()
        } else {
            format!("leaf {i}")
        };
        *version = ok("set a chain's leaf", store.set(chain(i, d), &value));
        nodes += d as u64 + 1;
        bytes += format!("c{i}").len() as u64
            + (1..=d).map(|l| format!("l{l}").len() as u64).sum::<u64>()
            + value.len() as u64;
    }
    let full = stats(store);
    assert_eq!(
        (full.nodes - before.nodes, full.bytes - before.bytes),
        (nodes, bytes)
    );
    assert_eq!(
        full.sequence,
        before.sequence + chains as u64,
        "one set per chain"
    );
    println!(
        "created {chains} chains, {nodes} nodes, in {:?}",
        started.elapsed()
    );

    let mut heads: Vec<Vec<u8>> = (0..chains).map(|i| format!("c{i}").into_bytes()).collect();
    heads.sort();
    assert_eq!(ok("list", store.list(s.base())), heads);

    // Every level of a chain was created by its one set, without a value but the leaf's.
    for _ in 0..300 {
        let i = rng.index(chains);
        let d = depth(i);
        let level = rng.index(d + 1);
        let p = chain(i, level);
        let st = stat(store, &p);
        assert_eq!(
            st.version, versions[i],
            "{p} was created by its chain's set"
        );
        assert_eq!(st.ctime_ns, st.mtime_ns);
        if level == d {
            assert_eq!((st.num_children, st.child_version), (0, 0));
            assert_eq!(st.flags, abi::STAT_HAS_VALUE, "{p} is a leaf with a value");
        } else {
            assert_eq!((st.num_children, st.child_version), (1, versions[i]));
            assert_eq!(st.flags & abi::STAT_HAS_VALUE, 0, "{p} has no value");
            assert_eq!(
                ok("list", store.list(&p)),
                [format!("l{}", level + 1).into_bytes()]
            );
        }
    }
    // A walk of one chain meets every level in order (chain 7, or the last one when
    // PATHSTORE_IT_SCALE leaves fewer).
    let w = 7.min(chains - 1);
    let walked: Vec<_> = store.walk(chain(w, 0)).map(|n| ok("walk", n)).collect();
    assert_eq!(walked.len(), depth(w) + 1);
    for (level, node) in walked.iter().enumerate() {
        assert_eq!(node.depth, level);
        assert_eq!(node.path, chain(w, level).into_bytes());
    }

    // Partial deletes: a leaf, then from a middle level down.
    let mut removed = 0u64;
    for i in (0..chains).step_by(chains.div_ceil(20)) {
        let d = depth(i);
        expect_fails_unchanged(
            store,
            &[chain(i, 0)],
            "delete of a chain's head",
            Errno::NOTEMPTY,
            || store.delete(chain(i, 0)),
        );
        ok("delete a leaf", store.delete(chain(i, d)));
        let cut = d / 2;
        ok(
            "delete_recursive a middle level",
            store.delete_recursive(chain(i, cut)),
        );
        removed += (d - cut + 1) as u64;
        assert!(!ok("exists", store.exists(chain(i, cut))));
        assert_eq!(stat(store, chain(i, cut - 1)).num_children, 0);
    }
    assert_eq!(stats(store).nodes, full.nodes - removed);

    let deleting = Instant::now();
    ok("delete_recursive", store.delete_recursive(s.base()));
    println!("deleted the chains in {:?}", deleting.elapsed());
    let end = stats(store);
    assert_eq!(
        (end.nodes, end.bytes),
        (before.nodes - 1, before.bytes - name.len() as u64),
        "deleting the subtree should give back every node and byte"
    );
    println!("{chains} deep chains took {:?}", started.elapsed());
    nodes
}

#[test]
fn wide_node_with_many_children() {
    let store = open();
    let seed = test_seed("wide_node_with_many_children", 0x00de_ad00_0001);
    wide_tree(&store, "wide", scaled(5_000), seed);
}

#[test]
fn deep_chains_40_to_60_levels() {
    let store = open();
    let seed = test_seed("deep_chains_40_to_60_levels", 0x00de_ad00_0002);
    deep_chains(&store, "deep", scaled(200), seed);
}
