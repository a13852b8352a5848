//! Values and names are byte strings: every byte value, embedded NULs, empty values (which are
//! not the absence of a value), and values of many sizes.

use integration::{expect_errno, ok, open, stat, stats, test_seed, Rng, Scratch};
use pathstore::{abi, Errno};

#[test]
fn all_256_byte_values_roundtrip() {
    let store = open();
    let s = Scratch::new(&store, "all_bytes");
    let value: Vec<u8> = (0..=255u8).collect();
    let reversed: Vec<u8> = value.iter().rev().copied().collect();
    let v = ok("set", store.set(s.path("k"), &value));
    assert_eq!(
        ok("get", store.get_with_version(s.path("k"))),
        (value.clone(), v)
    );
    assert_eq!(stat(&store, s.path("k")).value_len, 256);
    ok("set reversed", store.set(s.path("k"), &reversed));
    assert_eq!(ok("get", store.get(s.path("k"))), reversed);
    // Each byte alone.
    for b in 0..=255u8 {
        ok("set one byte", store.set(s.path("one"), [b]));
        assert_eq!(
            ok("get one byte", store.get(s.path("one"))),
            [b],
            "the byte {b:#04x}"
        );
    }
}

#[test]
fn values_with_embedded_nuls_roundtrip() {
    let store = open();
    let s = Scratch::new(&store, "nuls");
    let values: [&[u8]; 6] = [
        b"\0",
        b"\0\0\0\0",
        b"a\0b",
        b"\0leading",
        b"trailing\0",
        b"\0\xff\0\xfe\0",
    ];
    for (i, value) in values.iter().enumerate() {
        let p = s.path(&format!("v{i}"));
        ok("set", store.set(&p, value));
        assert_eq!(ok("get", store.get(&p)), *value);
        assert_eq!(
            stat(&store, &p).value_len as usize,
            value.len(),
            "NULs count"
        );
    }
    let zeros = vec![0u8; 10_000];
    ok("set zeros", store.set(s.path("zeros"), &zeros));
    assert_eq!(ok("get zeros", store.get(s.path("zeros"))), zeros);
}

#[test]
fn empty_value_differs_from_no_value() {
    let store = open();
    let s = Scratch::new(&store, "empty_value");
    ok("set parent/child", store.set(s.path("parent/child"), "x"));
    ok("set empty", store.set(s.path("empty"), ""));
    let empty = stat(&store, s.path("empty"));
    let parent = stat(&store, s.path("parent"));
    assert_eq!(
        (empty.flags, empty.value_len),
        (abi::STAT_HAS_VALUE, 0),
        "an empty value"
    );
    assert_eq!((parent.flags, parent.value_len), (0, 0), "no value");
    assert_eq!(ok("get empty", store.get(s.path("empty"))), b"");
    expect_errno(
        "get of a node without value",
        store.get(s.path("parent")),
        Errno::NODATA,
    );
    // Giving the parent an empty value makes get succeed.
    let before = stats(&store);
    ok("set parent empty", store.set(s.path("parent"), ""));
    assert_eq!(ok("get parent", store.get(s.path("parent"))), b"");
    assert_eq!(stat(&store, s.path("parent")).flags, abi::STAT_HAS_VALUE);
    assert_eq!(
        stats(&store).bytes,
        before.bytes,
        "an empty value adds no bytes"
    );
}

#[test]
fn names_hold_any_byte_but_slash_and_nul() {
    let store = open();
    let s = Scratch::new(&store, "binary_names");
    // Every byte from 1 to 255 except '/': 254 bytes, one valid component.
    let all: Vec<u8> = (1..=255u8).filter(|&b| b != b'/').collect();
    let mut names: Vec<Vec<u8>> = vec![all.clone(), all.iter().rev().copied().collect()];
    names.extend(
        (1..=255u8)
            .filter(|&b| b != b'/' && b != b'.')
            .map(|b| vec![b]),
    );
    for name in &names {
        let p = s.bpath(name);
        ok("set", store.set(&p, name));
        assert_eq!(ok("get", store.get(&p)), *name);
    }
    names.sort();
    assert_eq!(
        ok("list", store.list(s.base())),
        names,
        "list should return binary names in byte order"
    );
    let mut deep = s.bpath(&all);
    deep.push(b'/');
    deep.extend_from_slice(&all);
    ok("set two binary components", store.set(&deep, "deep"));
    assert_eq!(ok("list", store.list(s.bpath(&all))), [all]);
}

#[test]
fn values_of_many_sizes_roundtrip() {
    let store = open();
    let max = stats(&store).max_value_len as usize;
    let s = Scratch::new(&store, "value_sizes");
    let mut rng = Rng::new(test_seed("values_of_many_sizes_roundtrip", 0xb1_0b5));
    let mut sizes = vec![
        0usize, 1, 2, 7, 8, 9, 255, 256, 1000, 4095, 4096, 4097, 8192, 65535,
    ];
    sizes.extend((0..20).map(|_| rng.index(max + 1)));
    sizes.push(max);
    let before = stats(&store);
    for (i, &len) in sizes.iter().enumerate() {
        let value = rng.bytes(len);
        let p = s.path(&format!("s{i}"));
        let v = ok(format_args!("set {len} bytes"), store.set(&p, &value));
        let (got, version) = ok(format_args!("get {len} bytes"), store.get_with_version(&p));
        assert!(
            got == value,
            "a value of {len} bytes should come back unchanged"
        );
        assert_eq!(version, v);
        assert_eq!(stat(&store, &p).value_len as usize, len);
        let mut buf = vec![0u8; len];
        let got = ok("get_into an exact buffer", store.get_into(&p, &mut buf));
        assert!(got.len == len && buf == value, "get_into of {len} bytes");
    }
    let names: u64 = (0..sizes.len()).map(|i| format!("s{i}").len() as u64).sum();
    let values: u64 = sizes.iter().map(|&l| l as u64).sum();
    assert_eq!(stats(&store).bytes, before.bytes + names + values);
}

#[test]
fn replacing_a_value_replaces_it_wholly() {
    let store = open();
    let s = Scratch::new(&store, "replace");
    let p = s.path("k");
    ok("set long", store.set(&p, vec![b'L'; 5000]));
    ok("set short", store.set(&p, "short"));
    assert_eq!(
        ok("get", store.get(&p)),
        b"short",
        "no trace of the longer value"
    );
    ok("set empty", store.set(&p, ""));
    assert_eq!(ok("get", store.get(&p)), b"");
    ok("set long again", store.set(&p, vec![b'M'; 3000]));
    assert_eq!(ok("get", store.get(&p)), vec![b'M'; 3000]);
}
