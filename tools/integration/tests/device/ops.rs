//! Every operation when it succeeds: set, create, get, delete, list, stat, store stats, version,
//! and their effects on versions, `child_version`, times and the store's accounting.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use integration::{
    assert_same_snapshot, expect_errno, expect_fails_unchanged, ok, open, show, snapshot, stat,
    stats, usage, Scratch,
};
use pathstore::{abi, Errno};

const HAS_VALUE: u32 = abi::STAT_HAS_VALUE;

/// Tolerance between the kernel's and this process's reading of `CLOCK_REALTIME`.
const CLOCK_SLACK_NS: u64 = 1_000_000_000;

fn now_ns() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock should be after 1970");
    u64::try_from(since.as_nanos()).expect("nanoseconds since 1970 fit in u64")
}

/// Asserts that `t` (ns) was taken between `lo` and `hi` (ns), give or take [`CLOCK_SLACK_NS`].
#[track_caller]
fn assert_time_between(what: &str, t: u64, lo: u64, hi: u64) {
    assert!(
        t != 0 && t + CLOCK_SLACK_NS >= lo && t <= hi + CLOCK_SLACK_NS,
        "{what}: expected a CLOCK_REALTIME time in [{lo}, {hi}] ns, got {t}"
    );
}

#[test]
fn set_then_get_returns_value_and_version() {
    let store = open();
    let s = Scratch::new(&store, "set_then_get");
    let p = s.path("key");
    let before = stats(&store);
    let v1 = ok("set", store.set(&p, "hello"));
    assert_eq!(
        v1,
        before.sequence + 1,
        "set should return the store's next sequence number"
    );
    assert_eq!(ok("get", store.get(&p)), b"hello");
    assert_eq!(
        ok("get_with_version", store.get_with_version(&p)),
        (b"hello".to_vec(), v1),
        "get should return the value and the version set returned"
    );
    let st = stat(&store, &p);
    assert_eq!(st.version, v1, "stat version should be the set's version");
    assert_eq!(
        st.value_len, 5,
        "stat value_len should be the value's length"
    );
    assert_eq!(
        st.flags, HAS_VALUE,
        "stat flags should be exactly HAS_VALUE"
    );
    assert_eq!(st.num_children, 0, "a new leaf has no children");
    assert_eq!(
        st.child_version, 0,
        "a node that never had children has child_version 0"
    );
    assert_eq!(st.session, 0, "a persistent node has no session");
    assert!(
        ok("exists", store.exists(&p)),
        "exists should say the node exists"
    );
    let after = stats(&store);
    assert_eq!(after.nodes, before.nodes + 1, "a new leaf adds one node");
    assert_eq!(
        after.bytes,
        before.bytes + 3 + 5,
        "a new leaf adds its name and value bytes"
    );
    assert_eq!(
        after.sequence, v1,
        "the sequence number should be the last version"
    );

    let v2 = ok("second set", store.set(&p, "a longer value"));
    assert_eq!(v2, v1 + 1, "a replacing set takes the next sequence number");
    assert_eq!(ok("get", store.get(&p)), b"a longer value");
    let st2 = stat(&store, &p);
    assert_eq!(
        st2.version, v2,
        "the version should follow the replacing set"
    );
    assert_eq!(st2.value_len, 14);
    let replaced = stats(&store);
    assert_eq!(
        replaced.nodes, after.nodes,
        "replacing a value adds no node"
    );
    assert_eq!(
        replaced.bytes,
        after.bytes - 5 + 14,
        "replacing a value accounts the new length instead of the old"
    );
}

#[test]
fn set_creates_missing_parents_without_values() {
    let store = open();
    let s = Scratch::new(&store, "parents");
    let (a, ab, abc) = (s.path("a"), s.path("a/b"), s.path("a/b/c"));
    let before = stats(&store);
    let v = ok("set a/b/c", store.set(&abc, "x"));
    let after = stats(&store);
    assert_eq!(
        after.nodes,
        before.nodes + 3,
        "a, a/b and a/b/c are created"
    );
    assert_eq!(
        after.bytes,
        before.bytes + 4,
        "three 1-byte names and a 1-byte value"
    );
    for parent in [&a, &ab] {
        expect_errno(
            format_args!("get of the parent {parent}"),
            store.get(parent),
            Errno::NODATA,
        );
        let st = stat(&store, parent);
        assert_eq!(
            st.flags & HAS_VALUE,
            0,
            "{parent} was created without a value"
        );
        assert_eq!(st.value_len, 0, "{parent} has no value, so value_len 0");
        assert_eq!(
            st.version, v,
            "{parent} was created by the set, at its version"
        );
        assert_eq!(st.num_children, 1, "{parent} has one child");
        assert_eq!(
            st.child_version, v,
            "{parent}'s child was created by the set"
        );
        assert_eq!(
            st.ctime_ns, st.mtime_ns,
            "{parent}: mtime equals ctime at creation"
        );
    }
    let base = stat(&store, s.base());
    assert_eq!(base.num_children, 1);
    assert_eq!(
        base.child_version, v,
        "the base's child a was created by the set"
    );
    assert_eq!(stat(&store, &abc).child_version, 0);
    assert_eq!(ok("list a", store.list(&a)), [b"b".to_vec()]);
    assert!(!ok("exists a/x", store.exists(s.path("a/x"))));

    // Giving a parent a value changes its version, not its child_version.
    let v2 = ok("set a/b", store.set(&ab, "mid"));
    assert_eq!(ok("get a/b", store.get(&ab)), b"mid");
    let st = stat(&store, &ab);
    assert_eq!((st.version, st.child_version), (v2, v));
    assert_eq!(st.flags, HAS_VALUE);
    assert_eq!(
        stat(&store, &abc).version,
        v,
        "the child's version is untouched"
    );

    // A second chain below an existing parent: only the new nodes are created.
    let before = stats(&store);
    let v3 = ok("set a/b2/c2", store.set(s.path("a/b2/c2"), ""));
    let after = stats(&store);
    assert_eq!(after.nodes, before.nodes + 2);
    assert_eq!(after.bytes, before.bytes + 2 + 2);
    assert_eq!(stat(&store, &a).child_version, v3, "a got a new child b2");
    assert_eq!(stat(&store, &a).version, v, "a's own version is unchanged");
    assert_eq!(
        stat(&store, &ab).child_version,
        v,
        "a/b's children did not change"
    );
}

#[test]
fn versions_are_store_wide_sequence_numbers() {
    let store = open();
    let s = Scratch::new(&store, "versions");
    let keys = [s.path("k0"), s.path("k1"), s.path("sub/k2")];
    let mut last = stats(&store).sequence;
    let mut versions = [0u64; 3];
    for i in 0..30 {
        let k = i % 3;
        let v = ok("set", store.set(&keys[k], format!("value {i}")));
        assert_eq!(v, last + 1, "set {i} should take the next sequence number");
        assert!(v > versions[k], "a node's version only increases");
        assert_eq!(
            stats(&store).sequence,
            v,
            "store_stats sequence is the last version"
        );
        versions[k] = v;
        last = v;
        for (j, key) in keys.iter().enumerate().take(i + 1) {
            assert_eq!(
                stat(&store, key).version,
                versions[j],
                "{key} keeps the version of its own last set"
            );
        }
    }

    // Reads take no sequence number.
    let _ = ok("get", store.get(&keys[0]));
    let _ = ok("stat", store.stat(&keys[1]));
    let _ = ok("list", store.list(s.base()));
    let _ = ok("exists", store.exists(&keys[2]));
    let _ = ok("version", store.version());
    expect_errno(
        "get of a missing node",
        store.get(s.path("missing")),
        Errno::NOENT,
    );
    assert_eq!(
        stats(&store).sequence,
        last,
        "reads and failures leave the sequence alone"
    );

    // A delete takes one, a failed call none, a recursive delete one whatever its size.
    ok("delete k0", store.delete(&keys[0]));
    assert_eq!(
        stats(&store).sequence,
        last + 1,
        "a delete takes one sequence number"
    );
    last += 1;
    expect_fails_unchanged(
        &store,
        &keys,
        "create of an existing node",
        Errno::EXIST,
        || store.create(&keys[1], "again"),
    );
    let v = ok("create k0", store.create(&keys[0], "new"));
    assert_eq!(
        v,
        last + 1,
        "after a failure the next change takes the next number"
    );
    last = v;
    for i in 0..5 {
        last = ok("set", store.set(s.path(&format!("big/n{i}/leaf")), "x"));
    }
    ok(
        "delete_recursive big",
        store.delete_recursive(s.path("big")),
    );
    assert_eq!(
        stats(&store).sequence,
        last + 1,
        "a recursive delete takes exactly one sequence number"
    );
}

#[test]
fn child_version_follows_creation_and_deletion_of_children() {
    let store = open();
    let s = Scratch::new(&store, "child_version");
    let base = s.base();
    let own_version = stat(&store, base).version;
    assert_eq!(
        stat(&store, base).child_version,
        0,
        "a fresh node has child_version 0"
    );

    let v1 = ok("set a", store.set(s.path("a"), "1"));
    assert_eq!(
        stat(&store, base).child_version,
        v1,
        "creating a child sets child_version"
    );
    let _ = ok("set a again", store.set(s.path("a"), "2"));
    assert_eq!(
        stat(&store, base).child_version,
        v1,
        "changing a child's value is not a creation or deletion"
    );
    let v3 = ok("set b/c", store.set(s.path("b/c"), ""));
    assert_eq!(stat(&store, base).child_version, v3);
    assert_eq!(stat(&store, s.path("b")).child_version, v3);
    let v4 = ok("set b/d", store.set(s.path("b/d"), ""));
    assert_eq!(stat(&store, s.path("b")).child_version, v4);
    assert_eq!(
        stat(&store, base).child_version,
        v3,
        "a grandchild is not a direct child"
    );

    ok("delete b/d", store.delete(s.path("b/d")));
    let seq = stats(&store).sequence;
    assert_eq!(
        stat(&store, s.path("b")).child_version,
        seq,
        "deleting a child"
    );
    assert_eq!(
        stat(&store, s.path("b")).version,
        v3,
        "b's own version is unchanged"
    );
    assert_eq!(stat(&store, base).child_version, v3);

    ok("delete_recursive b", store.delete_recursive(s.path("b")));
    let seq = stats(&store).sequence;
    assert_eq!(stat(&store, base).child_version, seq, "deleting a subtree");
    assert_eq!(
        stat(&store, base).version,
        own_version,
        "base's version is unchanged"
    );
    assert_eq!(stat(&store, base).num_children, 1);
}

#[test]
fn ctime_and_mtime_are_sane() {
    let store = open();
    let s = Scratch::new(&store, "times");
    let p = s.path("leaf");
    let t0 = now_ns();
    ok("set", store.set(&p, "1"));
    let t1 = now_ns();
    let st = stat(&store, &p);
    assert_time_between("ctime of a new node", st.ctime_ns, t0, t1);
    assert_eq!(
        st.mtime_ns, st.ctime_ns,
        "mtime equals ctime when the node is created"
    );

    std::thread::sleep(Duration::from_millis(20));
    let t2 = now_ns();
    ok("second set", store.set(&p, "2"));
    let t3 = now_ns();
    let st2 = stat(&store, &p);
    assert_eq!(st2.ctime_ns, st.ctime_ns, "a set does not change ctime");
    assert!(
        st2.mtime_ns > st.mtime_ns,
        "a set should advance mtime ({} then {})",
        st.mtime_ns,
        st2.mtime_ns
    );
    assert!(st2.mtime_ns >= st2.ctime_ns, "mtime >= ctime");
    assert_time_between("mtime after a set", st2.mtime_ns, t2, t3);

    // A parent created without a value, then given children and a value.
    let t4 = now_ns();
    ok("set x/y", store.set(s.path("x/y"), ""));
    let t5 = now_ns();
    let x = stat(&store, s.path("x"));
    assert_time_between("ctime of a created parent", x.ctime_ns, t4, t5);
    assert_eq!(x.mtime_ns, x.ctime_ns);
    std::thread::sleep(Duration::from_millis(20));
    ok("set x/z", store.set(s.path("x/z"), "v"));
    ok("delete x/y", store.delete(s.path("x/y")));
    assert_eq!(
        stat(&store, s.path("x")).mtime_ns,
        x.mtime_ns,
        "mtime is about the node's own value: children do not change it"
    );
    ok("set x", store.set(s.path("x"), "now with a value"));
    let x2 = stat(&store, s.path("x"));
    assert_eq!(x2.ctime_ns, x.ctime_ns);
    assert!(
        x2.mtime_ns > x.mtime_ns,
        "setting x's value advances its mtime"
    );
}

#[test]
fn trailing_slash_names_the_same_node() {
    let store = open();
    let s = Scratch::new(&store, "trailing_slash");
    let a = s.path("a");
    let a_slash = format!("{a}/");
    let v = ok("set a/", store.set(&a_slash, "v"));
    assert_eq!(ok("get a", store.get_with_version(&a)), (b"v".to_vec(), v));
    assert_eq!(
        ok("get a/", store.get_with_version(&a_slash)),
        (b"v".to_vec(), v)
    );
    assert_eq!(stat(&store, &a), stat(&store, &a_slash));
    let base_slash = format!("{}/", s.base());
    assert_eq!(ok("list base/", store.list(&base_slash)), [b"a".to_vec()]);
    assert_eq!(ok("list base", store.list(s.base())), [b"a".to_vec()]);
    expect_fails_unchanged(&store, &[&a], "create a/", Errno::EXIST, || {
        store.create(&a_slash, "w")
    });
    expect_fails_unchanged(&store, &[&a], "create a", Errno::EXIST, || {
        store.create(&a, "w")
    });
    ok("set a/b/", store.set(format!("{a}/b/"), "w"));
    assert_eq!(ok("list a/", store.list(&a_slash)), [b"b".to_vec()]);
    expect_fails_unchanged(&store, &[&a], "delete a/", Errno::NOTEMPTY, || {
        store.delete(&a_slash)
    });
    ok("delete a/b/", store.delete(format!("{a}/b/")));
    assert!(!ok("exists a/b", store.exists(format!("{a}/b"))));
    ok("delete_recursive a/", store.delete_recursive(&a_slash));
    assert!(!ok("exists a", store.exists(&a)));
}

#[test]
fn create_only_set() {
    let store = open();
    let s = Scratch::new(&store, "create_only");
    let before = stats(&store);
    let v = ok("create new/leaf", store.create(s.path("new/leaf"), "1"));
    assert_eq!(v, before.sequence + 1);
    assert_eq!(
        stats(&store).nodes,
        before.nodes + 2,
        "create also creates parents"
    );
    assert_eq!(ok("get", store.get(s.path("new/leaf"))), b"1");
    let watch = [s.path("new"), s.path("new/leaf")];
    expect_fails_unchanged(
        &store,
        &watch,
        "create of a node with a value",
        Errno::EXIST,
        || store.create(s.path("new/leaf"), "2"),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "create of a node without a value",
        Errno::EXIST,
        || store.create(s.path("new"), "2"),
    );
    expect_fails_unchanged(&store, &["/"], "create of /", Errno::EXIST, || {
        store.create("/", "2")
    });
    let v2 = ok("create a sibling", store.create(s.path("new/other"), ""));
    assert!(v2 > v);
    assert_eq!(ok("get sibling", store.get(s.path("new/other"))), b"");
}

#[test]
fn delete_leaf_and_subtree() {
    let store = open();
    let s = Scratch::new(&store, "delete");
    let before = stats(&store);
    ok("set leaf", store.set(s.path("leaf"), "12345"));
    ok("delete leaf", store.delete(s.path("leaf")));
    let after = stats(&store);
    assert_eq!((after.nodes, after.bytes), (before.nodes, before.bytes));
    assert!(!ok("exists", store.exists(s.path("leaf"))));
    expect_errno(
        "get of a deleted node",
        store.get(s.path("leaf")),
        Errno::NOENT,
    );

    // A node without value nor children can be deleted like a leaf.
    ok("set p/c", store.set(s.path("p/c"), "v"));
    ok("delete p/c", store.delete(s.path("p/c")));
    ok("delete p", store.delete(s.path("p")));

    // A subtree.
    for rel in ["t/a/1", "t/a/2", "t/b", "t/c/d/e/f"] {
        ok("set", store.set(s.path(rel), rel));
    }
    ok("set t", store.set(s.path("t"), "top"));
    let sub = usage(&store, s.path("t"));
    assert_eq!(sub.nodes, 9, "t, a, 1, 2, b, c, d, e, f");
    let mid = stats(&store);
    assert_eq!(mid.nodes, before.nodes + 9);
    assert_eq!(mid.bytes, before.bytes + 1 + sub.bytes);
    expect_fails_unchanged(&store, &[s.path("t")], "delete t", Errno::NOTEMPTY, || {
        store.delete(s.path("t"))
    });
    ok(
        "delete_recursive t/c/d",
        store.delete_recursive(s.path("t/c/d")),
    );
    assert_eq!(stats(&store).nodes, mid.nodes - 3);
    ok("delete_recursive t", store.delete_recursive(s.path("t")));
    let end = stats(&store);
    assert_eq!((end.nodes, end.bytes), (before.nodes, before.bytes));
    // A recursive delete of a leaf is a plain delete.
    ok("set leaf", store.set(s.path("leaf"), "x"));
    ok(
        "delete_recursive leaf",
        store.delete_recursive(s.path("leaf")),
    );
    assert_eq!(stats(&store).nodes, before.nodes);
    assert_eq!(ok("list base", store.list(s.base())), Vec::<Vec<u8>>::new());
}

#[test]
fn list_returns_children_in_byte_order() {
    let store = open();
    let s = Scratch::new(&store, "list_order");
    let names: [&[u8]; 12] = [
        b"b",
        b"a",
        b"B",
        b"a0",
        b"a-",
        b"\xff",
        b"\x01x",
        "\u{e9}".as_bytes(),
        b"~",
        b"aa",
        b"a b",
        b"0",
    ];
    for name in names {
        ok("set", store.set(s.bpath(name), name));
    }
    let mut sorted: Vec<Vec<u8>> = names.iter().map(|n| n.to_vec()).collect();
    sorted.sort();
    assert_eq!(
        ok("list", store.list(s.base())),
        sorted,
        "list should return every child, in byte order"
    );
    assert_eq!(
        ok("list base/", store.list(format!("{}/", s.base()))),
        sorted
    );
    // Grandchildren are not children.
    ok("set a/deep/er", store.set(s.path("a/deep/er"), ""));
    assert_eq!(ok("list", store.list(s.base())), sorted);
    assert_eq!(ok("list a", store.list(s.path("a"))), [b"deep".to_vec()]);
    assert_eq!(
        ok("list of a leaf", store.list(s.path("b"))),
        Vec::<Vec<u8>>::new(),
        "a leaf has no children"
    );
    assert_eq!(stat(&store, s.base()).num_children, names.len() as u64);
}

/// What `list_page` must return for children `names` (sorted), a cursor and a buffer size:
/// the names that fit and whether more follow.
fn expected_page(names: &[Vec<u8>], after: &[u8], buf_len: usize) -> (Vec<Vec<u8>>, bool) {
    let start = if after.is_empty() {
        0
    } else {
        names.partition_point(|n| n.as_slice() <= after)
    };
    let mut used = 0;
    let mut page = Vec::new();
    for n in &names[start..] {
        if used + n.len() + 1 > buf_len {
            return (page, true);
        }
        used += n.len() + 1;
        page.push(n.clone());
    }
    (page, false)
}

#[test]
fn list_page_pages_with_cursor_and_list_more() {
    let store = open();
    let s = Scratch::new(&store, "list_page");
    let mut names: Vec<Vec<u8>> = (0..26u8)
        .map(|i| vec![b'a' + i; usize::from(i % 5) + 1])
        .collect();
    for n in &names {
        ok("set", store.set(s.bpath(n), ""));
    }
    names.sort();

    let mut big = vec![0u8; 4096];
    let page = ok("list_page", store.list_page(s.base(), "", &mut big));
    assert_eq!((page.count, page.more), (names.len(), false));
    let mut all = Vec::new();
    for n in &names {
        all.extend_from_slice(n);
        all.push(0);
    }
    assert_eq!(page.bytes(), all, "the names, each followed by a NUL byte");

    // Every buffer size from the longest name's need to 40: pages are as full as possible,
    // LIST_MORE is set exactly when names remain, and the pages add up to the whole list.
    for buf_len in 6..=40 {
        let mut buf = vec![0u8; buf_len];
        let mut after: Vec<u8> = Vec::new();
        let mut got: Vec<Vec<u8>> = Vec::new();
        loop {
            let (want, want_more) = expected_page(&names, &after, buf_len);
            let page = ok("list_page", store.list_page(s.base(), &after, &mut buf));
            let page_names: Vec<Vec<u8>> = page.names().map(<[u8]>::to_vec).collect();
            assert_eq!(
                (&page_names, page.more),
                (&want, want_more),
                "buffer of {buf_len} bytes after {}",
                show(&after)
            );
            assert_eq!(page.count, page_names.len());
            got.extend(page_names);
            if !page.more {
                break;
            }
            after = got.last().expect("a page with LIST_MORE has names").clone();
        }
        assert_eq!(
            got, names,
            "pages of {buf_len} bytes should add up to all children"
        );
    }

    // Cursors: the last name, names that are not children, before the first, after the last.
    let cursors: [&[u8]; 7] = [b"zzzzz", b"aa", b"ab", b"0", b"zzzzzz", b"\xff", b"m"];
    for after in cursors {
        let (want, want_more) = expected_page(&names, after, 4096);
        let page = ok("list_page", store.list_page(s.base(), after, &mut big));
        let got: Vec<Vec<u8>> = page.names().map(<[u8]>::to_vec).collect();
        assert_eq!(
            (got, page.more),
            (want, want_more),
            "after the cursor {}",
            show(after)
        );
    }

    // A node without children: an empty page, even with an empty buffer.
    let mut empty: [u8; 0] = [];
    let page = ok(
        "list_page of a leaf",
        store.list_page(s.bpath(b"a"), "", &mut empty),
    );
    assert_eq!((page.count, page.more, page.bytes().len()), (0, false, 0));
}

#[test]
fn stat_reports_node_metadata() {
    let store = open();
    let s = Scratch::new(&store, "stat");
    for rel in ["n/a", "n/b", "n/c/d"] {
        ok("set", store.set(s.path(rel), "val"));
    }
    let v = ok("set n", store.set(s.path("n"), vec![0u8; 300]));
    let st = stat(&store, s.path("n"));
    assert_eq!(
        st.num_children, 3,
        "a, b and c are direct children; d is not"
    );
    assert_eq!(st.value_len, 300);
    assert_eq!(st.flags, HAS_VALUE);
    assert_eq!(st.version, v);
    assert_eq!(st.session, 0);
    let c = stat(&store, s.path("n/c"));
    assert_eq!((c.num_children, c.value_len, c.flags), (1, 0, 0));
    ok("set empty", store.set(s.path("n/c"), ""));
    let c = stat(&store, s.path("n/c"));
    assert_eq!(
        (c.value_len, c.flags),
        (0, HAS_VALUE),
        "an empty value is a value"
    );
    let root = stat(&store, "/");
    assert!(root.num_children >= 1, "/ has at least the child /it");
}

#[test]
fn store_stats_reports_default_limits_and_usage() {
    let store = open();
    let st = stats(&store);
    assert_eq!(
        (
            st.max_value_len,
            st.max_path_len,
            st.max_depth,
            st.max_nodes,
            st.max_bytes
        ),
        (65536, 4096, 64, 4_194_304, 268_435_456),
        "this pass expects the module's default parameters"
    );
    assert_eq!(
        (
            st.dev_mode,
            st.reserve_nodes,
            st.reserve_bytes,
            st.watch_events,
            st.watch_bytes
        ),
        (0o600, 4096, 4 << 20, 4096, 1 << 20),
        "this pass expects the default dev_mode, reserves and event log \
         (dev_mode, reserve_nodes, reserve_bytes, watch_events, watch_bytes)"
    );
    assert_eq!(
        (st.uid_max_nodes, st.uid_max_bytes),
        (65536, 16 << 20),
        "this pass expects the default per-user quotas"
    );
    assert!(st.uid_nodes < st.nodes && st.uid_bytes <= st.bytes);
    assert!(st.nodes >= 1 && st.nodes <= st.max_nodes);
    assert!(st.bytes <= st.max_bytes);
    let walked = usage(&store, "/");
    assert_eq!(
        (walked.nodes, walked.bytes),
        (st.nodes, st.bytes),
        "store_stats nodes and bytes should match a walk of the whole store"
    );
}

#[test]
fn text_stats_reports_what_the_ioctl_does() {
    // The text `stats` line: every field of `StoreStats` under its name, in the documented order,
    // `dev_mode` in octal. Nothing changes the store between the two reads (one test at a time).
    let store = open();
    let st = stats(&store);
    let file = integration::open_text();
    if let Err(e) = integration::text_write(&file, b"stats") {
        panic!("write stats: {}", pathstore::ErrnoDisplay(e));
    }
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut &file, &mut reply).expect("read the stats line");
    let want = format!(
        "nodes={} bytes={} max_nodes={} max_bytes={} max_value_len={} max_path_len={} \
         max_depth={} sequence={} uid_nodes={} uid_bytes={} uid_max_nodes={} uid_max_bytes={} \
         dev_mode=0{:03o} reserve_nodes={} reserve_bytes={} watch_events={} watch_bytes={}\n",
        st.nodes,
        st.bytes,
        st.max_nodes,
        st.max_bytes,
        st.max_value_len,
        st.max_path_len,
        st.max_depth,
        st.sequence,
        st.uid_nodes,
        st.uid_bytes,
        st.uid_max_nodes,
        st.uid_max_bytes,
        st.dev_mode,
        st.reserve_nodes,
        st.reserve_bytes,
        st.watch_events,
        st.watch_bytes
    );
    assert_eq!(reply, want, "text stats against STORE_STATS");
    assert!(
        reply.contains(" dev_mode=0600 "),
        "the default dev_mode in octal: {reply}"
    );
}

#[test]
fn root_node_handling() {
    // Resets the whole store (allowed: the tests run one at a time).
    let store = open();
    ok("delete_recursive /", store.delete_recursive("/"));
    let st = stats(&store);
    assert_eq!(
        (st.nodes, st.bytes),
        (1, 0),
        "an emptied store holds only the root"
    );
    let root = stat(&store, "/");
    assert_eq!((root.flags, root.num_children, root.value_len), (0, 0, 0));
    expect_errno("get / without a value", store.get("/"), Errno::NODATA);
    assert_eq!(ok("list /", store.list("/")), Vec::<Vec<u8>>::new());

    let v = ok("set /", store.set("/", "rootval"));
    assert_eq!(
        ok("get /", store.get_with_version("/")),
        (b"rootval".to_vec(), v)
    );
    let st = stats(&store);
    assert_eq!(
        (st.nodes, st.bytes),
        (1, 7),
        "the root's value counts, its name is empty"
    );
    assert_eq!(stat(&store, "/").flags, HAS_VALUE);
    expect_fails_unchanged(&store, &["/"], "create /", Errno::EXIST, || {
        store.create("/", "x")
    });

    // Deleting / without children removes its value.
    ok("delete /", store.delete("/"));
    expect_errno("get / after delete", store.get("/"), Errno::NODATA);
    let st = stats(&store);
    assert_eq!((st.nodes, st.bytes), (1, 0));
    assert!(ok("exists /", store.exists("/")), "the root always exists");
    expect_fails_unchanged(
        &store,
        &["/"],
        "create / without a value",
        Errno::EXIST,
        || store.create("/", ""),
    );
    ok("delete / again", store.delete("/"));

    ok("set /", store.set("/", "r"));
    ok("set /x/y", store.set("/x/y", "1"));
    ok("set /z", store.set("/z", "2"));
    let watch = ["/", "/x", "/x/y", "/z"];
    expect_fails_unchanged(
        &store,
        &watch,
        "delete / with children",
        Errno::NOTEMPTY,
        || store.delete("/"),
    );
    ok("delete_recursive /", store.delete_recursive("/"));
    let st = stats(&store);
    assert_eq!(
        (st.nodes, st.bytes),
        (1, 0),
        "delete_recursive / leaves only the root"
    );
    expect_errno(
        "get / after delete_recursive",
        store.get("/"),
        Errno::NODATA,
    );
    assert_eq!(ok("list /", store.list("/")), Vec::<Vec<u8>>::new());
    assert!(!ok("exists /x", store.exists("/x")));
    let root = stat(&store, "/");
    assert_eq!(root.num_children, 0);
    assert_eq!(
        root.child_version, st.sequence,
        "the delete removed the root's children"
    );
    ok(
        "delete_recursive / of an empty store",
        store.delete_recursive("/"),
    );
    let st = stats(&store);
    assert_eq!((st.nodes, st.bytes), (1, 0));
}

#[test]
fn bytes_accounting_counts_names_and_values() {
    let store = open();
    let s = Scratch::new(&store, "bytes");
    let b0 = stats(&store);
    let check = |what: &str, nodes: u64, bytes: u64| {
        let st = stats(&store);
        assert_eq!(
            (st.nodes - b0.nodes, st.bytes - b0.bytes),
            (nodes, bytes),
            "after {what}: expected +{nodes} nodes and +{bytes} bytes"
        );
        let walked = usage(&store, s.base());
        assert_eq!(
            (walked.nodes - 1, walked.bytes),
            (nodes, bytes),
            "after {what}: a walk of the subtree should agree"
        );
    };
    ok("set", store.set(s.path("abc"), "12345"));
    check("a 3-byte name with a 5-byte value", 1, 8);
    ok("set", store.set(s.path("abc"), "1"));
    check("a shorter value", 1, 4);
    ok("set", store.set(s.path("abc"), ""));
    check("an empty value", 1, 3);
    ok("set", store.set(s.path("de/fgh"), "xy"));
    check("a chain", 3, 3 + 2 + 3 + 2);
    ok("set", store.set(s.path("de"), "zz"));
    check("a value on a parent", 3, 3 + 2 + 3 + 2 + 2);
    ok(
        "set",
        store.set(s.bpath("\u{e9}t\u{e9}".as_bytes()), "\u{e9}"),
    );
    check("multi-byte UTF-8 counted in bytes", 4, 12 + 5 + 2);
    ok("delete_recursive", store.delete_recursive(s.path("de")));
    check("a recursive delete", 2, 3 + 5 + 2);
    ok("delete", store.delete(s.path("abc")));
    check("a delete", 1, 7);
}

#[test]
fn get_into_copies_the_value_and_nothing_more() {
    let store = open();
    let s = Scratch::new(&store, "get_into");
    let value: Vec<u8> = (0..100u8).collect();
    let v = ok("set", store.set(s.path("k"), &value));
    for size in [100, 101, 200, 4096] {
        let mut buf = vec![0xAAu8; size];
        let got = ok("get_into", store.get_into(s.path("k"), &mut buf));
        assert_eq!((got.len, got.version), (100, v));
        assert_eq!(&buf[..100], value.as_slice());
        assert!(
            buf[100..].iter().all(|&b| b == 0xAA),
            "get_into with {size} bytes should not write past the value"
        );
    }
    ok("set empty", store.set(s.path("e"), ""));
    let mut empty: [u8; 0] = [];
    let got = ok(
        "get_into of an empty value",
        store.get_into(s.path("e"), &mut empty),
    );
    assert_eq!(got.len, 0);
}

#[test]
fn two_handles_share_one_store() {
    let (h1, h2) = (open(), open());
    let s = Scratch::new(&h1, "two_handles");
    let v = ok("set through h1", h1.set(s.path("k"), "shared"));
    assert_eq!(
        ok("get through h2", h2.get_with_version(s.path("k"))),
        (b"shared".to_vec(), v)
    );
    ok("delete through h2", h2.delete(s.path("k")));
    expect_errno("get through h1", h1.get(s.path("k")), Errno::NOENT);
    assert_eq!(stats(&h1), stats(&h2));
}

#[test]
fn reads_do_not_change_the_store() {
    let store = open();
    let s = Scratch::new(&store, "reads");
    ok("set", store.set(s.path("a/b"), "v"));
    ok("set", store.set(s.path("a"), "w"));
    let watch = [s.path("a"), s.path("a/b"), s.base().to_owned()];
    let before = snapshot(&store, &watch);
    let _ = ok("get", store.get(s.path("a")));
    let _ = ok("get_with_version", store.get_with_version(s.path("a/b")));
    let _ = ok("get_into", store.get_into(s.path("a"), &mut [0u8; 8]));
    let _ = ok("list", store.list(s.path("a")));
    let _ = ok("list_page", store.list_page(s.base(), "", &mut [0u8; 64]));
    let _ = ok("stat", store.stat(s.path("a")));
    let _ = ok("exists", store.exists(s.path("a/c")));
    let _ = ok("store_stats", store.store_stats());
    let _ = ok("version", store.version());
    for node in store.walk(s.base()) {
        let _ = ok("walk", node);
    }
    let after = snapshot(&store, &watch);
    assert_same_snapshot("reads", &before, &after);
}
