//! Path syntax: what is valid, `EINVAL` for malformed paths and `ENAMETOOLONG` for long or deep
//! ones, on every operation, and that path errors come before any other.

use integration::{expect_errno, expect_fails_unchanged, ok, open, show, stat, stats, Scratch};
use pathstore::{abi, Errno, Pathstore};

/// Asserts that every operation on `path` fails with `expected` and changes nothing (the
/// store's statistics and the paths in `watch`). Reads come first, so that a path wrongly
/// accepted is noticed before a set or delete acts on it.
#[track_caller]
pub(crate) fn every_operation_fails<P: AsRef<[u8]>>(
    store: &Pathstore,
    path: &[u8],
    expected: Errno,
    watch: &[P],
) {
    let p = show(path);
    let mut buf = [0u8; 64];
    expect_fails_unchanged(store, watch, format_args!("get {p}"), expected, || {
        store.get(path)
    });
    expect_fails_unchanged(store, watch, format_args!("get_into {p}"), expected, || {
        store.get_into(path, &mut buf)
    });
    expect_fails_unchanged(store, watch, format_args!("stat {p}"), expected, || {
        store.stat(path)
    });
    expect_fails_unchanged(store, watch, format_args!("exists {p}"), expected, || {
        store.exists(path)
    });
    expect_fails_unchanged(store, watch, format_args!("list {p}"), expected, || {
        store.list(path)
    });
    expect_fails_unchanged(
        store,
        watch,
        format_args!("list_page {p}"),
        expected,
        || store.list_page(path, "", &mut buf).map(|page| page.count),
    );
    expect_fails_unchanged(
        store,
        watch,
        format_args!("list_page {p} after x"),
        expected,
        || store.list_page(path, "x", &mut buf).map(|page| page.count),
    );
    expect_fails_unchanged(store, watch, format_args!("create {p}"), expected, || {
        store.create(path, "v")
    });
    expect_fails_unchanged(store, watch, format_args!("set {p}"), expected, || {
        store.set(path, "v")
    });
    expect_fails_unchanged(
        store,
        watch,
        format_args!("set {p} empty"),
        expected,
        || store.set(path, ""),
    );
    expect_fails_unchanged(store, watch, format_args!("delete {p}"), expected, || {
        store.delete(path)
    });
    expect_fails_unchanged(
        store,
        watch,
        format_args!("delete_recursive {p}"),
        expected,
        || store.delete_recursive(path),
    );
}

/// A path of exactly `total` bytes: `prefix` followed by components of at most `max_comp`
/// bytes (`max_comp` >= 2, `total` >= `prefix.len() + 2`).
pub(crate) fn path_of_len(prefix: &str, total: usize, max_comp: usize) -> String {
    assert!(max_comp >= 2 && total >= prefix.len() + 2);
    let mut p = prefix.to_owned();
    let mut i = 0u8;
    while p.len() < total {
        let room = total - p.len();
        let mut len = (room - 1).min(max_comp);
        // Never leave room for a lone "/".
        if room - 1 - len == 1 {
            len -= 1;
        }
        p.push('/');
        p.extend(std::iter::repeat_n(char::from(b'a' + i % 26), len));
        i = i.wrapping_add(1);
    }
    assert_eq!(p.len(), total);
    p
}

/// `prefix` followed by `depth` components `/d`.
pub(crate) fn path_of_depth(prefix: &str, depth: usize) -> String {
    let mut p = prefix.to_owned();
    for _ in 0..depth {
        p.push_str("/d");
    }
    p
}

#[test]
fn malformed_paths_are_einval_for_every_operation() {
    let store = open();
    let s = Scratch::new(&store, "malformed");
    ok("set", store.set(s.path("a/b"), "v"));
    let base = s.base().as_bytes();
    let join = |rest: &[u8]| [base, rest].concat();
    let bad: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"a".to_vec(),
        base[1..].to_vec(),
        b" /a".to_vec(),
        b"\0/a".to_vec(),
        b"///".to_vec(),
        b"/a//b".to_vec(),
        join(b"//a"),
        join(b"/a//b"),
        join(b"//"),
        join(b"/a//"),
        b"/.".to_vec(),
        b"/..".to_vec(),
        b"/./".to_vec(),
        b"/../".to_vec(),
        join(b"/."),
        join(b"/.."),
        join(b"/a/."),
        join(b"/a/.."),
        join(b"/./a"),
        join(b"/../a"),
        join(b"/a/./b"),
        join(b"/a/../b"),
        b"/\0".to_vec(),
        b"/a\0b".to_vec(),
        join(b"/a\0"),
        join(b"/a/\0"),
        join(b"/\0/b"),
        join(b"/a/b\0/"),
    ];
    let watch = [s.path("a"), s.path("a/b"), s.base().to_owned()];
    for path in &bad {
        every_operation_fails(&store, path, Errno::INVAL, &watch);
    }
}

#[test]
fn double_slash_is_einval_not_the_root() {
    // docs/semantics.md: "an empty component (`//`)" is EINVAL; `//` is not a spelling of `/`.
    let store = open();
    every_operation_fails(&store, b"//", Errno::INVAL, &["/"]);
}

#[test]
fn unusual_but_valid_names_work() {
    let store = open();
    let s = Scratch::new(&store, "unusual_names");
    let long_x = vec![b'x'; 255];
    let long_ff = vec![0xffu8; 255];
    let names: Vec<&[u8]> = vec![
        b"...",
        b".a",
        b"a.",
        b"..a",
        b"a..",
        b" ",
        b"a b",
        b"\n",
        b"\t\r",
        b"\x01",
        b"\x7f",
        b"\xff\xfe",
        "\u{e9}\u{1f600}".as_bytes(),
        b"-",
        b"*",
        b"\\",
        b"%s%n",
        &long_x,
        &long_ff,
    ];
    for name in &names {
        let p = s.bpath(name);
        let v = ok(format_args!("set {}", show(&p)), store.set(&p, name));
        assert_eq!(
            ok("get_with_version", store.get_with_version(&p)),
            (name.to_vec(), v),
            "{} should hold its own name",
            show(&p)
        );
        assert_eq!(stat(&store, &p).value_len as usize, name.len());
        let mut child = p.clone();
        child.extend_from_slice(b"/child");
        ok("set a child", store.set(&child, ""));
        assert_eq!(ok("list", store.list(&p)), [b"child".to_vec()]);
    }
    let mut sorted: Vec<Vec<u8>> = names.iter().map(|n| n.to_vec()).collect();
    sorted.sort();
    assert_eq!(ok("list", store.list(s.base())), sorted);
    for name in &names {
        ok("delete_recursive", store.delete_recursive(s.bpath(name)));
    }
}

#[test]
fn component_of_256_bytes_is_enametoolong() {
    let store = open();
    let s = Scratch::new(&store, "long_component");
    let c255 = "n".repeat(abi::MAX_NAME_LEN as usize);
    let c256 = "n".repeat(abi::MAX_NAME_LEN as usize + 1);
    let watch = [s.base().to_owned()];
    for path in [
        s.path(&c256),
        s.path(&format!("{c256}/leaf")),
        s.path(&format!("missing/{c256}")),
        format!("/{c256}"),
        s.path(&format!("{c256}/")),
    ] {
        every_operation_fails(&store, path.as_bytes(), Errno::NAMETOOLONG, &watch);
    }
    let ok_path = s.path(&format!("{c255}/{c255}"));
    let before = stats(&store);
    ok("set two 255-byte components", store.set(&ok_path, "v"));
    assert_eq!(ok("get", store.get(&ok_path)), b"v");
    assert_eq!(stats(&store).bytes, before.bytes + 255 + 255 + 1);
    ok("delete_recursive", store.delete_recursive(s.path(&c255)));
}

#[test]
fn path_longer_than_max_path_len_is_enametoolong() {
    let store = open();
    let max = stats(&store).max_path_len as usize;
    let s = Scratch::new(&store, "path_len");
    let exact = path_of_len(s.base(), max, 200);
    let depth = exact.matches('/').count();
    assert!(
        depth <= 64,
        "the test path should respect max_depth ({depth})"
    );

    ok(
        "set a path of exactly max_path_len bytes",
        store.set(&exact, "v"),
    );
    assert_eq!(ok("get", store.get(&exact)), b"v");
    let _ = ok("stat", store.stat(&exact));
    let _ = ok("list", store.list(&exact));
    ok("delete", store.delete(&exact));
    let first = exact[s.base().len() + 1..]
        .split('/')
        .next()
        .expect("a component");
    ok("delete_recursive", store.delete_recursive(s.path(first)));

    let watch = [s.base().to_owned()];
    let over = path_of_len(s.base(), max + 1, 200);
    every_operation_fails(&store, over.as_bytes(), Errno::NAMETOOLONG, &watch);
    // The length is that of the path as given: a trailing slash counts.
    let over_slash = format!("{exact}/");
    every_operation_fails(&store, over_slash.as_bytes(), Errno::NAMETOOLONG, &watch);
    let huge = path_of_len(s.base(), 70_000, 250);
    every_operation_fails(&store, huge.as_bytes(), Errno::NAMETOOLONG, &watch);
    assert_eq!(ok("list", store.list(s.base())), Vec::<Vec<u8>>::new());
}

#[test]
fn deeper_than_max_depth_is_enametoolong() {
    let store = open();
    let max = stats(&store).max_depth as usize;
    let s = Scratch::new(&store, "depth");
    // The base, /it/depth, is 2 deep.
    let deepest = path_of_depth(s.base(), max - 2);
    let before = stats(&store);
    ok("set at max_depth", store.set(&deepest, "bottom"));
    assert_eq!(
        stats(&store).nodes,
        before.nodes + (max - 2) as u64,
        "every missing level is created"
    );
    assert_eq!(ok("get", store.get(format!("{deepest}/"))), b"bottom");
    let watch = [s.base().to_owned(), deepest.clone()];
    for path in [
        format!("{deepest}/d"),
        format!("{deepest}/d/"),
        format!("{deepest}/d/d/d"),
        path_of_depth("", max + 1),
    ] {
        every_operation_fails(&store, path.as_bytes(), Errno::NAMETOOLONG, &watch);
    }
    ok("delete_recursive", store.delete_recursive(s.path("d")));
    assert_eq!(stats(&store).nodes, before.nodes);
}

#[test]
fn path_errors_come_before_other_errors() {
    let store = open();
    let s = Scratch::new(&store, "path_errors_first");
    ok("set", store.set(s.path("full/child"), "v"));
    let max_value = stats(&store).max_value_len as usize;
    let watch = [s.path("full"), s.path("full/child")];
    let long = "n".repeat(256);
    expect_fails_unchanged(
        &store,
        &watch,
        "get of missing/.. (not ENOENT)",
        Errno::INVAL,
        || store.get(s.path("missing/..")),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "stat of a 256-byte name below a missing node (not ENOENT)",
        Errno::NAMETOOLONG,
        || store.stat(s.path(&format!("missing/{long}"))),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "set of a malformed path with a too long value (not E2BIG)",
        Errno::INVAL,
        || store.set(s.path("a//b"), vec![0u8; max_value + 1]),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "create of an existing node spelled with /. (not EEXIST)",
        Errno::INVAL,
        || store.create(s.path("full/."), "v"),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "delete of a non-empty node spelled with a NUL (not ENOTEMPTY)",
        Errno::INVAL,
        || store.delete(s.path("full\0")),
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "list_page of a malformed path with an empty buffer (not ERANGE)",
        Errno::INVAL,
        || {
            store
                .list_page(s.path("full/../full"), "", &mut [])
                .map(|p| p.count)
        },
    );
    expect_fails_unchanged(
        &store,
        &watch,
        "get_into of a malformed path with an empty buffer (not ERANGE)",
        Errno::INVAL,
        || store.get_into(s.path("full/./child"), &mut []),
    );
    expect_errno(
        "exists of a malformed path",
        store.exists("/a//b"),
        Errno::INVAL,
    );
}
