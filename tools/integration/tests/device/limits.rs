//! The limits at and past their bounds. Run only in the second pass, with the module loaded as
//! `max_value_len=64 max_path_len=128 max_depth=8 max_nodes=64 max_bytes=2048 watch_events=16
//! reserve_nodes=0 reserve_bytes=0` (`BINARY --test-threads=1 limits::`). Each test first checks those limits and empties the
//! store.

use std::time::Duration;

use integration::{expect_fails_unchanged, ok, open, stat, stats, Scratch};
use pathstore::{Errno, EventKind, Pathstore};

use crate::paths::{every_operation_fails, path_of_depth, path_of_len};

const MAX_VALUE_LEN: u32 = 64;
const MAX_PATH_LEN: u32 = 128;
const MAX_DEPTH: u32 = 8;
const MAX_NODES: u64 = 64;
const MAX_BYTES: u64 = 2048;

/// Opens the store, asserts that the module runs with this pass's limits, and empties it.
#[track_caller]
fn small_store() -> Pathstore {
    let store = open();
    let st = stats(&store);
    let found = (
        st.max_value_len,
        st.max_path_len,
        st.max_depth,
        st.max_nodes,
        st.max_bytes,
    );
    assert_eq!(
        found,
        (MAX_VALUE_LEN, MAX_PATH_LEN, MAX_DEPTH, MAX_NODES, MAX_BYTES),
        "the limits:: tests need the module loaded with max_value_len=64 max_path_len=128 \
         max_depth=8 max_nodes=64 max_bytes=2048; store_stats reports (max_value_len, \
         max_path_len, max_depth, max_nodes, max_bytes) = {found:?}"
    );
    ok("delete_recursive /", store.delete_recursive("/"));
    let st = stats(&store);
    assert_eq!((st.nodes, st.bytes), (1, 0), "the store should start empty");
    store
}

/// Asserts the store's node and byte counts.
#[track_caller]
fn assert_usage(store: &Pathstore, nodes: u64, bytes: u64, what: &str) {
    let st = stats(store);
    assert_eq!(
        (st.nodes, st.bytes),
        (nodes, bytes),
        "{what}: expected (nodes, bytes)"
    );
}

#[test]
fn module_reports_the_configured_limits() {
    // The pass's other parameters (`watch_events=16 reserve_nodes=0 reserve_bytes=0`, the
    // default dev_mode and watch_bytes), which sysfs cannot show (see docs/abi.md).
    let store = small_store();
    let st = stats(&store);
    assert_eq!(
        (
            st.dev_mode,
            st.reserve_nodes,
            st.reserve_bytes,
            st.watch_events,
            st.watch_bytes
        ),
        (0o600, 0, 0, 16, 1 << 20),
        "(dev_mode, reserve_nodes, reserve_bytes, watch_events, watch_bytes)"
    );
}

#[test]
fn value_of_max_value_len_fits_and_one_more_is_e2big() {
    let store = small_store();
    let max = MAX_VALUE_LEN as usize;
    let value: Vec<u8> = (0..max as u8).collect();
    ok("set 64 bytes", store.set("/v", &value));
    assert_eq!(ok("get", store.get("/v")), value);
    assert_usage(&store, 2, 1 + 64, "a 64-byte value");
    let watch = ["/v", "/w", "/w/x"];
    let too_big = vec![b'x'; max + 1];
    expect_fails_unchanged(&store, &watch, "set /v to 65 bytes", Errno::TOOBIG, || {
        store.set("/v", &too_big)
    });
    expect_fails_unchanged(
        &store,
        &watch,
        "set /w/x to 65 bytes",
        Errno::TOOBIG,
        || store.set("/w/x", &too_big),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "create /w to 65 bytes",
        Errno::TOOBIG,
        || store.create("/w", &too_big),
    );
    expect_fails_unchanged(&store, &["/"], "set / to 65 bytes", Errno::TOOBIG, || {
        store.set("/", &too_big)
    });
    assert_eq!(ok("get", store.get("/v")), value, "the old value stays");
    ok("set 63 bytes", store.set("/v", &value[..63]));
    assert_usage(&store, 2, 1 + 63, "a 63-byte value");
}

#[test]
fn path_of_max_path_len_fits_and_one_more_is_enametoolong() {
    let store = small_store();
    let max = MAX_PATH_LEN as usize;
    // One component of 127 bytes, then 8 components (the deepest allowed) adding up to 128.
    let single = path_of_len("", max, 255);
    assert_eq!(single.matches('/').count(), 1);
    let deep = format!("/{}", vec!["a".repeat(15); 8].join("/"));
    assert_eq!((deep.len(), deep.matches('/').count()), (max, 8));
    for p in [&single, &deep] {
        ok(format_args!("set a {max}-byte path"), store.set(p, "v"));
        assert_eq!(ok("get", store.get(p)), b"v");
        let _ = ok("stat", store.stat(p));
        let _ = ok("list", store.list(p));
    }
    let st = stats(&store);
    let watch = [single.clone(), deep.clone()];
    for over in [
        path_of_len("", max + 1, 255),
        format!("{deep}x"),
        format!("{single}/"),
        format!("{deep}/"),
        path_of_len("", 5000, 200),
    ] {
        every_operation_fails(&store, over.as_bytes(), Errno::NAMETOOLONG, &watch);
    }
    assert_eq!(stats(&store), st);
    ok("delete", store.delete(&single));
    ok(
        "delete_recursive",
        store.delete_recursive("/aaaaaaaaaaaaaaa"),
    );
    assert_usage(&store, 1, 0, "after deleting both");
}

#[test]
fn depth_of_max_depth_fits_and_one_more_is_enametoolong() {
    let store = small_store();
    let depth = MAX_DEPTH as usize;
    let deepest = path_of_depth("", depth);
    ok("set at depth 8", store.set(&deepest, "bottom"));
    assert_usage(&store, 1 + 8, 8 + 6, "a chain 8 deep");
    assert_eq!(ok("get", store.get(format!("{deepest}/"))), b"bottom");
    let watch = [deepest.clone(), "/d".to_owned()];
    for p in [
        path_of_depth("", depth + 1),
        format!("{deepest}/x/"),
        path_of_depth("", 40),
        "/a/b/c/d/e/f/g/h/i".to_owned(),
    ] {
        every_operation_fails(&store, p.as_bytes(), Errno::NAMETOOLONG, &watch);
    }
    assert_usage(&store, 1 + 8, 8 + 6, "after the failures");
}

#[test]
fn max_nodes_reached_then_enospc_changes_nothing() {
    let store = small_store();
    // The root plus 63 nodes.
    for i in 0..MAX_NODES - 1 {
        ok(
            format_args!("set node {i}"),
            store.set(format!("/n{i:02}"), ""),
        );
    }
    assert_usage(&store, MAX_NODES, 3 * (MAX_NODES - 1), "a full store");
    let watch = ["/n00", "/n62", "/n63", "/x"];
    expect_fails_unchanged(&store, &watch, "set of a 65th node", Errno::NOSPC, || {
        store.set("/n63", "")
    });
    expect_fails_unchanged(
        &store,
        &watch,
        "create of a 65th node",
        Errno::NOSPC,
        || store.create("/n63", "v"),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "set of a child of an existing node",
        Errno::NOSPC,
        || store.set("/n00/x", ""),
    );
    expect_fails_unchanged(&store, &watch, "set of a chain", Errno::NOSPC, || {
        store.set("/x/y/z", "")
    });
    // Changes that add no node still work; existing nodes are EEXIST rather than ENOSPC.
    ok("replace a value", store.set("/n00", "value"));
    ok("set /", store.set("/", "root"));
    expect_fails_unchanged(
        &store,
        &watch,
        "create of an existing node",
        Errno::EXIST,
        || store.create("/n01", "v"),
    );
    assert_eq!(ok("list", store.list("/")).len(), 63);
    let _ = ok("stat", store.stat("/n62"));
    // Freeing one node makes room for exactly one.
    ok("delete", store.delete("/n62"));
    expect_fails_unchanged(
        &store,
        &["/x"],
        "set of a 2-node chain with room for 1",
        Errno::NOSPC,
        || store.set("/x/y", ""),
    );
    ok("set one node", store.set("/x", ""));
    assert_eq!(stats(&store).nodes, MAX_NODES);
    expect_fails_unchanged(
        &store,
        &watch,
        "set past max_nodes again",
        Errno::NOSPC,
        || store.set("/n62", ""),
    );
}

#[test]
fn missing_parents_crossing_max_nodes_fail_atomically() {
    let store = small_store();
    // The root plus 59 nodes: room for 4.
    for i in 0..MAX_NODES - 5 {
        ok("set", store.set(format!("/n{i:02}"), ""));
    }
    let before = stats(&store);
    assert_eq!(before.nodes, MAX_NODES - 4);
    let watch = ["/p", "/p/q", "/p/q/r", "/p/q/r/s", "/p/q/r/s/t"];
    expect_fails_unchanged(
        &store,
        &watch,
        "set of 5 new nodes with room for 4",
        Errno::NOSPC,
        || store.set("/p/q/r/s/t", "v"),
    );
    assert!(
        !ok("exists", store.exists("/p")),
        "no partial parents are left"
    );
    // With /p and /p/q in place, 3 more nodes are still one too many.
    ok("set /p/q", store.set("/p/q", ""));
    expect_fails_unchanged(
        &store,
        &watch,
        "set of 3 new nodes with room for 2",
        Errno::NOSPC,
        || store.set("/p/q/r/s/t", "v"),
    );
    assert!(
        !ok("exists", store.exists("/p/q/r")),
        "no partial parents below /p/q"
    );
    ok(
        "set of 2 new nodes with room for 2",
        store.set("/p/q/r/s", "v"),
    );
    assert_eq!(stats(&store).nodes, MAX_NODES);
    assert_eq!(stat(&store, "/p/q/r").num_children, 1);
    // And with a deeper chain up to max_depth.
    ok("delete_recursive /p", store.delete_recursive("/p"));
    expect_fails_unchanged(
        &store,
        &["/d"],
        "set of an 8-node chain with room for 4",
        Errno::NOSPC,
        || store.set(path_of_depth("", 8), ""),
    );
    assert!(!ok("exists", store.exists("/d")));
    ok("set of a 4-node chain", store.set(path_of_depth("", 4), ""));
    assert_eq!(stats(&store).nodes, MAX_NODES);
}

#[test]
fn max_bytes_reached_then_enospc_and_smaller_values_still_fit() {
    let store = small_store();
    // 31 nodes of 3-byte names with 62-byte values (65 bytes each, 2015 in all), and one more
    // of 33 bytes: exactly 2048.
    for i in 0..31 {
        ok("set", store.set(format!("/b{i:02}"), vec![b'v'; 62]));
    }
    ok("set the last 33 bytes", store.set("/b31", vec![b'w'; 30]));
    assert_usage(&store, 33, MAX_BYTES, "a store at max_bytes");
    let watch = ["/b00", "/b31", "/z", "/"];
    expect_fails_unchanged(
        &store,
        &watch,
        "set of a new empty node (1 byte of name)",
        Errno::NOSPC,
        || store.set("/z", ""),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "growing a value by 1 byte",
        Errno::NOSPC,
        || store.set("/b00", vec![b'x'; 63]),
    );
    expect_fails_unchanged(&store, &watch, "a value on the root", Errno::NOSPC, || {
        store.set("/", "r")
    });
    expect_fails_unchanged(
        &store,
        &watch,
        "a 65-byte value (E2BIG first)",
        Errno::TOOBIG,
        || store.set("/b00", vec![b'x'; 65]),
    );
    // Replacing with a value of the same size, or smaller, works.
    ok("same size", store.set("/b00", vec![b'y'; 62]));
    assert_usage(&store, 33, MAX_BYTES, "after a same-size replacement");
    ok("smaller", store.set("/b00", vec![b'y'; 10]));
    assert_usage(&store, 33, MAX_BYTES - 52, "after a smaller replacement");
    ok("empty", store.set("/b01", ""));
    assert_usage(
        &store,
        33,
        MAX_BYTES - 52 - 62,
        "after an empty replacement",
    );
    ok("grow back", store.set("/b00", vec![b'y'; 62]));
    ok("refill", store.set("/b01", vec![b'y'; 62]));
    assert_usage(&store, 33, MAX_BYTES, "refilled");
    // The root's value counts: free 33 bytes, then give them to /.
    ok("delete /b31", store.delete("/b31"));
    ok("a 33-byte root value", store.set("/", vec![b'r'; 33]));
    assert_usage(&store, 32, MAX_BYTES, "with a root value");
    expect_fails_unchanged(&store, &watch, "a 34-byte root value", Errno::NOSPC, || {
        store.set("/", vec![b'r'; 34])
    });
    // A chain's names count too: with 2 bytes free, /c/d fits and /c/d/e does not.
    ok("delete_recursive /", store.delete_recursive("/"));
    for i in 0..31 {
        ok("set", store.set(format!("/b{i:02}"), vec![b'v'; 62]));
    }
    ok("set", store.set("/b31", vec![b'w'; 28]));
    assert_usage(&store, 33, MAX_BYTES - 2, "2 bytes free");
    expect_fails_unchanged(
        &store,
        &["/c", "/c/d"],
        "a chain needing 3 bytes",
        Errno::NOSPC,
        || store.set("/c/d/e", ""),
    );
    assert!(!ok("exists", store.exists("/c")), "no partial parents");
    ok("a chain needing 2 bytes", store.set("/c/d", ""));
    assert_usage(&store, 35, MAX_BYTES, "full again");
}

#[test]
fn full_store_recursive_delete_empties_it() {
    let store = small_store();
    for i in 0..7u8 {
        let leaf = format!("/t{i}/a/b/c/d/e/f/g");
        ok("set a deep chain", store.set(&leaf, vec![b'v'; 64]));
    }
    assert_eq!(stats(&store).nodes, 1 + 7 * 8);
    expect_fails_unchanged(
        &store,
        &["/t0"],
        "delete / with children",
        Errno::NOTEMPTY,
        || store.delete("/"),
    );
    ok("delete_recursive /", store.delete_recursive("/"));
    assert_usage(&store, 1, 0, "after delete_recursive /");
    // Everything can be used again.
    for i in 0..MAX_NODES - 1 {
        ok("set", store.set(format!("/r{i:02}"), ""));
    }
    assert_eq!(stats(&store).nodes, MAX_NODES);
    ok("delete_recursive /", store.delete_recursive("/"));
    assert_usage(&store, 1, 0, "emptied again");
}

/// The pass loads the module with `watch_events=16`: the log keeps the last 16 changes.
const WATCH_EVENTS: u64 = 16;

#[test]
fn a_watch_behind_the_event_log_reports_lost_changes() {
    let store = small_store();
    let s = Scratch::new(&store, "w");
    let node = s.path("k");
    let before = stats(&store).sequence;
    for n in 0..WATCH_EVENTS + 4 {
        ok("set", store.set(&node, n.to_string()));
    }
    let now = stats(&store).sequence;
    let lost = ok(
        "watch",
        store.watch(&node, false, before, Some(Duration::ZERO)),
    )
    .expect("changes happened");
    assert_eq!((lost.kind, lost.version), (EventKind::Lost, now));
    assert!(lost.path.is_empty());
    // From the reported version on, nothing is lost.
    ok("set", store.set(&node, "again"));
    let next = ok(
        "watch",
        store.watch(&node, false, lost.version, Some(Duration::ZERO)),
    )
    .expect("a change");
    assert_eq!((next.kind, next.version), (EventKind::Changed, now + 1));
    // The last 16 changes are still known.
    let recent = ok(
        "watch",
        store.watch(&node, false, now + 1 - WATCH_EVENTS, Some(Duration::ZERO)),
    )
    .expect("a change");
    assert_eq!(recent.kind, EventKind::Changed);
}
