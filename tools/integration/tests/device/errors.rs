//! The documented errors other than path syntax and bad addresses: `ENOENT`, `ENODATA`,
//! `EEXIST`, `ENOTEMPTY`, `E2BIG`, `ERANGE` (with the size needed), and `EINVAL` for unknown
//! flags and invalid list cursors. Each failing call must leave the store unchanged.

use integration::{expect_errno, expect_fails_unchanged, ok, open, stat, stats, Scratch};
use pathstore::{abi, Errno};

#[test]
fn missing_nodes_are_enoent() {
    let store = open();
    let s = Scratch::new(&store, "enoent");
    ok("set", store.set(s.path("leaf"), "v"));
    let watch = [s.base().to_owned(), s.path("leaf")];
    let mut buf = [0u8; 32];
    for missing in [
        s.path("missing"),
        s.path("missing/child"),
        s.path("leaf/below"),
        s.path("missing/"),
    ] {
        let m = &missing;
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("get {m}"),
            Errno::NOENT,
            || store.get(m),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("get_into {m}"),
            Errno::NOENT,
            || store.get_into(m, &mut buf),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("stat {m}"),
            Errno::NOENT,
            || store.stat(m),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("list {m}"),
            Errno::NOENT,
            || store.list(m),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("list_page {m}"),
            Errno::NOENT,
            || store.list_page(m, "a", &mut buf).map(|p| p.count),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("delete {m}"),
            Errno::NOENT,
            || store.delete(m),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("delete_recursive {m}"),
            Errno::NOENT,
            || store.delete_recursive(m),
        );
        assert!(
            !ok("exists", store.exists(m)),
            "exists({m}) should be false"
        );
    }
    ok("delete leaf", store.delete(s.path("leaf")));
    expect_fails_unchanged(
        &store,
        &watch,
        "get of a deleted node",
        Errno::NOENT,
        || store.get(s.path("leaf")),
    );
    expect_fails_unchanged(&store, &watch, "second delete", Errno::NOENT, || {
        store.delete(s.path("leaf"))
    });
}

#[test]
fn node_without_value_is_enodata() {
    let store = open();
    let s = Scratch::new(&store, "enodata");
    ok("set p/c", store.set(s.path("p/c"), "v"));
    let p = s.path("p");
    let watch = [p.clone(), s.path("p/c")];
    expect_fails_unchanged(&store, &watch, "get of a parent", Errno::NODATA, || {
        store.get(&p)
    });
    expect_fails_unchanged(
        &store,
        &watch,
        "get_with_version of a parent",
        Errno::NODATA,
        || store.get_with_version(&p),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "get_into of a parent",
        Errno::NODATA,
        || store.get_into(&p, &mut []),
    );
    let st = stat(&store, &p);
    assert_eq!((st.flags & abi::STAT_HAS_VALUE, st.value_len), (0, 0));
    // Still without a value once its only child is gone.
    ok("delete p/c", store.delete(s.path("p/c")));
    expect_fails_unchanged(
        &store,
        &watch,
        "get of an emptied parent",
        Errno::NODATA,
        || store.get(&p),
    );
    assert_eq!(stat(&store, &p).num_children, 0);
}

#[test]
fn create_of_existing_node_is_eexist() {
    let store = open();
    let s = Scratch::new(&store, "eexist");
    let v = ok("set", store.set(s.path("p/leaf"), "old"));
    let watch = [s.path("p"), s.path("p/leaf")];
    for path in [
        s.path("p/leaf"),
        s.path("p/leaf/"),
        s.path("p"),
        s.base().to_owned(),
    ] {
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("create {path}"),
            Errno::EXIST,
            || store.create(&path, "new"),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("create {path} with an empty value"),
            Errno::EXIST,
            || store.create(&path, ""),
        );
    }
    assert_eq!(
        ok("get", store.get_with_version(s.path("p/leaf"))),
        (b"old".to_vec(), v)
    );
    expect_fails_unchanged(&store, &watch, "create /", Errno::EXIST, || {
        store.create("/", "x")
    });
}

#[test]
fn delete_with_children_is_enotempty() {
    let store = open();
    let s = Scratch::new(&store, "enotempty");
    ok("set p/c/g", store.set(s.path("p/c/g"), "v"));
    ok("set p", store.set(s.path("p"), "has a value too"));
    let watch = [s.path("p"), s.path("p/c"), s.path("p/c/g")];
    for path in [
        s.path("p"),
        s.path("p/"),
        s.path("p/c"),
        s.base().to_owned(),
    ] {
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("delete {path}"),
            Errno::NOTEMPTY,
            || store.delete(&path),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("delete {path} with flags 0"),
            Errno::NOTEMPTY,
            || store.delete_with_flags(&path, 0),
        );
    }
    ok("delete p/c/g", store.delete(s.path("p/c/g")));
    ok("delete p/c", store.delete(s.path("p/c")));
    ok("delete p", store.delete(s.path("p")));
}

#[test]
fn value_longer_than_max_value_len_is_e2big() {
    let store = open();
    let max = stats(&store).max_value_len as usize;
    let s = Scratch::new(&store, "e2big");
    let v = ok("set", store.set(s.path("old"), "keep"));
    let watch = [s.path("old"), s.path("new"), s.path("new/leaf")];
    for len in [max + 1, max + 4096, 1 << 20] {
        let value = vec![b'v'; len];
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("set new/leaf to {len} bytes"),
            Errno::TOOBIG,
            || store.set(s.path("new/leaf"), &value),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("set old to {len} bytes"),
            Errno::TOOBIG,
            || store.set(s.path("old"), &value),
        );
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("create new to {len} bytes"),
            Errno::TOOBIG,
            || store.create(s.path("new"), &value),
        );
        // The module checks the value's size before it looks at the tree.
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("create of the existing old with {len} bytes"),
            Errno::TOOBIG,
            || store.create(s.path("old"), &value),
        );
    }
    assert_eq!(
        ok("get old", store.get_with_version(s.path("old"))),
        (b"keep".to_vec(), v)
    );
    let value: Vec<u8> = (0..max).map(|i| (i * 7 % 251) as u8).collect();
    ok(
        "set max_value_len bytes",
        store.set(s.path("new/leaf"), &value),
    );
    assert_eq!(ok("get", store.get(s.path("new/leaf"))), value);
    assert_eq!(stat(&store, s.path("new/leaf")).value_len as usize, max);
}

#[test]
fn get_into_small_buffer_is_erange_with_needed_size() {
    let store = open();
    let s = Scratch::new(&store, "get_erange");
    let value: Vec<u8> = (0..100u8).collect();
    ok("set", store.set(s.path("k"), &value));
    let watch = [s.path("k")];
    for size in [0usize, 1, 50, 99] {
        let mut buf = vec![0u8; size];
        let err = expect_fails_unchanged(
            &store,
            &watch,
            format_args!("get_into with {size} bytes"),
            Errno::RANGE,
            || store.get_into(s.path("k"), &mut buf),
        );
        assert_eq!(
            err.needed_len(),
            Some(100),
            "ERANGE should report the value's length as the size needed"
        );
    }
    let mut buf = [0u8; 100];
    let got = ok(
        "get_into with exactly the size",
        store.get_into(s.path("k"), &mut buf),
    );
    assert_eq!((got.len, &buf[..]), (100, value.as_slice()));
    // get() retries with the size reported, from a 4 KiB first try.
    let max = stats(&store).max_value_len as usize;
    let big: Vec<u8> = (0..max).map(|i| (i % 253) as u8).collect();
    ok("set big", store.set(s.path("big"), &big));
    assert_eq!(ok("get big", store.get(s.path("big"))), big);
    let mut buf = vec![0u8; 4096];
    let err = expect_fails_unchanged(
        &store,
        &watch,
        "get_into big with 4 KiB",
        Errno::RANGE,
        || store.get_into(s.path("big"), &mut buf),
    );
    assert_eq!(err.needed_len(), Some(max));
}

#[test]
fn list_page_small_buffer_is_erange_with_needed_size() {
    let store = open();
    let s = Scratch::new(&store, "list_erange");
    let long = "L".repeat(abi::MAX_NAME_LEN as usize);
    for name in ["abc", "de", long.as_str()] {
        ok("set", store.set(s.path(name), ""));
    }
    let watch = [s.base().to_owned()];
    let base = s.base();
    // Byte order: "L...L" < "abc" < "de".
    for size in [0usize, 1, 255] {
        let mut buf = vec![0u8; size];
        let err = expect_fails_unchanged(
            &store,
            &watch,
            format_args!("list_page with {size} bytes"),
            Errno::RANGE,
            || store.list_page(base, "", &mut buf).map(|p| p.count),
        );
        assert_eq!(
            err.needed_len(),
            Some(256),
            "the 255-byte name needs 256 bytes"
        );
    }
    let mut buf = vec![0u8; 256];
    let page = ok(
        "list_page with 256 bytes",
        store.list_page(base, "", &mut buf),
    );
    assert_eq!((page.count, page.more), (1, true));
    for size in [0usize, 1, 3] {
        let mut buf = vec![0u8; size];
        let err = expect_fails_unchanged(
            &store,
            &watch,
            format_args!("list_page after the long name with {size} bytes"),
            Errno::RANGE,
            || store.list_page(base, &long, &mut buf).map(|p| p.count),
        );
        assert_eq!(err.needed_len(), Some(4), "abc needs 4 bytes");
    }
    let mut buf = [0u8; 6];
    let page = ok(
        "list_page with 6 bytes",
        store.list_page(base, &long, &mut buf),
    );
    assert_eq!(
        (page.count, page.more, page.bytes()),
        (1, true, &b"abc\0"[..])
    );
    let mut buf = [0u8; 7];
    let page = ok(
        "list_page with 7 bytes",
        store.list_page(base, &long, &mut buf),
    );
    assert_eq!(
        (page.count, page.more, page.bytes()),
        (2, false, &b"abc\0de\0"[..])
    );
    // Nothing left to list: no ERANGE, whatever the buffer.
    let page = ok(
        "list_page after the last",
        store.list_page(base, "de", &mut []),
    );
    assert_eq!((page.count, page.more), (0, false));
    let page = ok(
        "list_page of a leaf",
        store.list_page(s.path("de"), "", &mut []),
    );
    assert_eq!((page.count, page.more), (0, false));
}

#[test]
fn unknown_flags_are_einval() {
    let store = open();
    let s = Scratch::new(&store, "flags");
    ok("set", store.set(s.path("p/c"), "v"));
    let watch = [s.path("p"), s.path("p/c"), s.path("new")];
    let set_flags = [
        1u32 << 5,
        1 << 6,
        1 << 31,
        u32::MAX,
        abi::SET_CREATE | (1 << 5),
        !abi::SET_FLAGS_ALL,
    ];
    for flags in set_flags {
        for path in [s.path("new"), s.path("p/c")] {
            expect_fails_unchanged(
                &store,
                &watch,
                format_args!("set {path} with flags {flags:#x}"),
                Errno::INVAL,
                || store.set_with_flags(&path, "w", flags),
            );
        }
    }
    let delete_flags = [
        1u32 << 2,
        1 << 31,
        u32::MAX,
        abi::DELETE_RECURSIVE | (1 << 2),
        !abi::DELETE_FLAGS_ALL,
    ];
    for flags in delete_flags {
        for path in [s.path("p"), s.path("p/c"), s.path("missing")] {
            expect_fails_unchanged(
                &store,
                &watch,
                format_args!("delete {path} with flags {flags:#x}"),
                Errno::INVAL,
                || store.delete_with_flags(&path, flags),
            );
        }
    }
    // The known flags work through the same calls.
    ok(
        "set with flags 0",
        store.set_with_flags(s.path("p/c"), "w", 0),
    );
    ok(
        "set with SET_CREATE",
        store.set_with_flags(s.path("new"), "w", abi::SET_CREATE),
    );
    ok(
        "delete with DELETE_RECURSIVE",
        store.delete_with_flags(s.path("p"), abi::DELETE_RECURSIVE),
    );
}

#[test]
fn invalid_list_cursor_is_einval() {
    let store = open();
    let s = Scratch::new(&store, "cursor");
    for name in ["a", "b", "c"] {
        ok("set", store.set(s.path(name), ""));
    }
    let watch = [s.base().to_owned()];
    let mut buf = [0u8; 64];
    for cursor in [&b"."[..], b"..", b"\0", b"a\0", b"a\0b", b"\0a"] {
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("list_page after {cursor:?}"),
            Errno::INVAL,
            || store.list_page(s.base(), cursor, &mut buf).map(|p| p.count),
        );
    }
    // Valid names that are not children are fine cursors.
    let page = ok(
        "list_page after ...",
        store.list_page(s.base(), "...", &mut buf),
    );
    assert_eq!(page.count, 3, "every child sorts after ...");
    let page = ok(
        "list_page after aa",
        store.list_page(s.base(), "aa", &mut buf),
    );
    assert_eq!(page.names().collect::<Vec<_>>(), [&b"b"[..], b"c"]);
}

#[test]
fn list_cursor_with_slash_is_einval() {
    // A name never holds '/', so a cursor holding one is "not a valid name" (docs/semantics.md).
    let store = open();
    let s = Scratch::new(&store, "cursor_slash");
    for name in ["a", "b", "c"] {
        ok("set", store.set(s.path(name), ""));
    }
    let watch = [s.base().to_owned()];
    let mut buf = [0u8; 64];
    for cursor in [&b"/"[..], b"a/", b"a/b", b"/a"] {
        expect_fails_unchanged(
            &store,
            &watch,
            format_args!("list_page after {:?}", String::from_utf8_lossy(cursor)),
            Errno::INVAL,
            || store.list_page(s.base(), cursor, &mut buf).map(|p| p.count),
        );
    }
}

#[test]
fn list_cursor_longer_than_a_name_is_enametoolong() {
    let store = open();
    let s = Scratch::new(&store, "cursor_long");
    ok("set", store.set(s.path("z"), ""));
    let watch = [s.base().to_owned()];
    let mut buf = [0u8; 64];
    let long = vec![b'a'; abi::MAX_NAME_LEN as usize + 1];
    expect_fails_unchanged(
        &store,
        &watch,
        "list_page after a 256-byte cursor",
        Errno::NAMETOOLONG,
        || store.list_page(s.base(), &long, &mut buf).map(|p| p.count),
    );
    let page = ok(
        "list_page after a 255-byte cursor",
        store.list_page(s.base(), &long[1..], &mut buf),
    );
    assert_eq!(page.names().collect::<Vec<_>>(), [&b"z"[..]]);
    expect_errno(
        "list of a missing node",
        store.list(s.path("missing")),
        Errno::NOENT,
    );
}
