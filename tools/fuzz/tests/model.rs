//! Host tests of the model and the generator (no device needed).

use pathstore::{abi, Errno};
use pathstore_fuzz::gen::{GenConfig, Generator};
use pathstore_fuzz::model::{parse_path, Limits, Model, ParentView};
use pathstore_fuzz::op::{Op, Reply, StatView, StatsView};

fn stats(limits: Limits, nodes: u64, bytes: u64, sequence: u64) -> StatsView {
    StatsView {
        nodes,
        bytes,
        sequence,
        max_nodes: limits.max_nodes,
        max_bytes: limits.max_bytes,
        max_value_len: limits.max_value_len,
        max_path_len: limits.max_path_len,
        max_depth: limits.max_depth,
    }
}

fn small() -> Limits {
    Limits {
        max_value_len: 16,
        max_path_len: 64,
        max_depth: 4,
        max_nodes: 20,
        max_bytes: 200,
    }
}

/// A model of `/fuzz` in a store that holds only the root (sequence 10).
fn prefixed(limits: Limits) -> Model {
    Model::new(
        vec![b"fuzz".to_vec()],
        &stats(limits, 1, 0, 10),
        None,
        Some(ParentView {
            other_children: 0,
            child_version: 3,
        }),
    )
}

/// A model of the whole store, empty (sequence 10).
fn whole(limits: Limits) -> Model {
    let root = StatView {
        version: 10,
        child_version: 9,
        num_children: 0,
        value_len: 0,
        flags: 0,
    };
    Model::new(Vec::new(), &stats(limits, 1, 0, 10), Some(root), None)
}

fn set(path: &str, value: &str) -> Op {
    Op::Set {
        path: path.into(),
        value: value.into(),
        flags: 0,
    }
}

fn create(path: &str, value: &str) -> Op {
    Op::Set {
        path: path.into(),
        value: value.into(),
        flags: abi::SET_CREATE,
    }
}

fn get(path: &str) -> Op {
    Op::Get {
        path: path.into(),
        buf_len: 1000,
        flags: 0,
    }
}

fn delete(path: &str, recursive: bool) -> Op {
    Op::Delete {
        path: path.into(),
        flags: if recursive { abi::DELETE_RECURSIVE } else { 0 },
    }
}

fn stat(path: &str) -> Op {
    Op::Stat {
        path: path.into(),
        flags: 0,
    }
}

fn list(path: &str, after: &str, buf_len: u32) -> Op {
    Op::List {
        path: path.into(),
        after: after.into(),
        buf_len,
        flags: 0,
    }
}

fn err(e: Errno) -> Reply {
    Reply::Err(e)
}

#[test]
fn path_errors_follow_the_module() {
    let l = small();
    let p = |s: &[u8]| parse_path(s, &l).map(|c| c.len());
    assert_eq!(p(b"/"), Ok(0));
    assert_eq!(p(b"/a/b/"), Ok(2));
    for bad in [
        &b""[..],
        b"a/b",
        b"//",
        b"/a//b",
        b"/a/./b",
        b"/..",
        b"/a\0b",
        b"/a//",
    ] {
        assert_eq!(p(bad), Err(Errno::INVAL), "{bad:?}");
    }
    assert_eq!(p(b"/a/b/c/d"), Ok(4));
    assert_eq!(p(b"/a/b/c/d/e"), Err(Errno::NAMETOOLONG));
    // Components are checked left to right before the depth.
    assert_eq!(p(b"/a/b/c/d/./e"), Err(Errno::INVAL));
    let long = [b'/']
        .iter()
        .chain([b'a'; 64].iter())
        .copied()
        .collect::<Vec<_>>();
    assert_eq!(p(&long), Err(Errno::NAMETOOLONG));
    // The length is checked before the leading `/`.
    assert_eq!(p(&[b'a'; 65]), Err(Errno::NAMETOOLONG));
    let big = Limits {
        max_path_len: 4096,
        ..small()
    };
    let mut name = vec![b'/'];
    name.extend([b'x'; 256]);
    assert_eq!(parse_path(&name, &big), Err(Errno::NAMETOOLONG));
    assert_eq!(parse_path(&name[..256], &big).map(|c| c.len()), Ok(1));
}

#[test]
fn set_creates_parents_and_predicts_versions() {
    let mut m = prefixed(Limits::defaults());
    assert_eq!(m.apply(&set("/fuzz/a/b", "x")), Reply::Set { version: 11 });
    // /fuzz, /fuzz/a and /fuzz/a/b: 3 nodes; names 4+1+1, value 1.
    let s = m.stats();
    assert_eq!((s.nodes, s.bytes, s.sequence), (4, 7, 11));
    assert_eq!(m.apply(&get("/fuzz/a")), err(Errno::NODATA));
    assert_eq!(m.apply(&get("/fuzz/x")), err(Errno::NOENT));
    assert_eq!(
        m.apply(&stat("/fuzz/a")),
        Reply::Stat(StatView {
            version: 11,
            child_version: 11,
            num_children: 1,
            value_len: 0,
            flags: 0
        })
    );
    assert_eq!(
        m.parent(),
        Some(ParentView {
            other_children: 0,
            child_version: 11
        })
    );
    assert_eq!(m.apply(&create("/fuzz/a", "")), err(Errno::EXIST));
    assert_eq!(m.apply(&set("/fuzz/a/", "yy")), Reply::Set { version: 12 });
    assert_eq!(
        m.apply(&get("/fuzz/a")),
        Reply::Value {
            value: b"yy".to_vec(),
            version: 12
        }
    );
    // Setting a value does not touch the parent's child_version.
    assert_eq!(
        m.apply(&stat("/fuzz")),
        Reply::Stat(StatView {
            version: 11,
            child_version: 11,
            num_children: 1,
            value_len: 0,
            flags: 0
        })
    );
    assert_eq!(
        m.apply(&Op::Get {
            path: "/fuzz/a".into(),
            buf_len: 1,
            flags: 0
        }),
        Reply::GetRange {
            needed: 2,
            version: 12
        }
    );
    assert_eq!(m.recount(), m.counts());
}

#[test]
fn deletes() {
    let mut m = prefixed(Limits::defaults());
    m.apply(&set("/fuzz/d/b", "v"));
    m.apply(&set("/fuzz/d/a", "v"));
    m.apply(&set("/fuzz/d/c/x", "v"));
    assert_eq!(m.apply(&delete("/fuzz/d/c", false)), err(Errno::NOTEMPTY));
    assert_eq!(m.apply(&delete("/fuzz/d/c", true)), Reply::Done);
    assert_eq!(m.apply(&delete("/fuzz/d/c", true)), err(Errno::NOENT));
    assert_eq!(m.apply(&delete("/fuzz/q/c", true)), err(Errno::NOENT));
    let seq = m.stats().sequence;
    match m.apply(&stat("/fuzz/d")) {
        Reply::Stat(s) => assert_eq!((s.child_version, s.num_children), (seq, 2)),
        other => panic!("{other}"),
    }
    assert_eq!(m.apply(&delete("/fuzz", false)), err(Errno::NOTEMPTY));
    assert_eq!(m.apply(&delete("/fuzz", true)), Reply::Done);
    let s = m.stats();
    assert_eq!((s.nodes, s.bytes), (1, 0));
    assert_eq!(m.parent().unwrap().child_version, s.sequence);
    assert_eq!(m.apply(&stat("/fuzz")), err(Errno::NOENT));
    assert_eq!(m.recount(), (0, 0));
}

#[test]
fn the_store_root() {
    let mut m = whole(Limits::defaults());
    assert_eq!(m.apply(&create("/", "x")), err(Errno::EXIST));
    assert_eq!(m.apply(&set("/", "x")), Reply::Set { version: 11 });
    assert_eq!(m.stats().bytes, 1);
    m.apply(&set("/a/b", "1"));
    assert_eq!(m.apply(&delete("/", false)), err(Errno::NOTEMPTY));
    assert_eq!(m.apply(&delete("/", true)), Reply::Done);
    assert_eq!(
        m.apply(&stat("/")),
        Reply::Stat(StatView {
            version: 13,
            child_version: 13,
            num_children: 0,
            value_len: 0,
            flags: 0
        })
    );
    let s = m.stats();
    assert_eq!((s.nodes, s.bytes), (1, 0));
    // Deleting an empty root without a value still counts as a change.
    assert_eq!(m.apply(&delete("/", false)), Reply::Done);
    assert_eq!(m.stats().sequence, 14);
    assert_eq!(m.apply(&get("/")), err(Errno::NODATA));
}

#[test]
fn limits() {
    let mut m = whole(small());
    assert_eq!(m.apply(&set("/big", &"v".repeat(17))), err(Errno::TOOBIG));
    for i in 0..19u8 {
        let path = format!("/{}", (b'a' + i) as char);
        assert_eq!(
            m.apply(&set(&path, "")),
            Reply::Set {
                version: 11 + u64::from(i)
            }
        );
    }
    let before = m.stats();
    assert_eq!(m.apply(&set("/z/y", "")), err(Errno::NOSPC));
    assert_eq!(m.stats(), before);
    // Bytes: 19 names so far; 200 - 19 = 181 left, values at most 16 each.
    assert_eq!(
        m.apply(&set("/a", &"v".repeat(16))),
        Reply::Set { version: 30 }
    );
    // The store is full (20 nodes): no new node, whatever else is right or wrong.
    assert_eq!(m.apply(&set("/a/b/c", "x")), err(Errno::NOSPC));
    assert_eq!(m.apply(&create("/a", "x")), err(Errno::EXIST));
    assert_eq!(m.apply(&set("/a/b/c/d/e", "x")), err(Errno::NAMETOOLONG));
}

#[test]
fn list_pages() {
    let mut m = prefixed(Limits::defaults());
    for name in ["b", "a", "ccc", "\u{e9}"] {
        m.apply(&set(&format!("/fuzz/{name}"), ""));
    }
    let names = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    assert_eq!(
        m.apply(&list("/fuzz", "", 4096)),
        Reply::List {
            names: names(&["a", "b", "ccc", "\u{e9}"]),
            more: false
        }
    );
    assert_eq!(
        m.apply(&list("/fuzz", "a", 5)),
        Reply::List {
            names: names(&["b"]),
            more: true
        }
    );
    assert_eq!(
        m.apply(&list("/fuzz", "b", 3)),
        Reply::ListRange { needed: 4 }
    );
    assert_eq!(
        m.apply(&list("/fuzz", "bb", 4)),
        Reply::List {
            names: names(&["ccc"]),
            more: true
        }
    );
    assert_eq!(
        m.apply(&list("/fuzz", "\u{e9}", 0)),
        Reply::List {
            names: Vec::new(),
            more: false
        }
    );
    assert_eq!(m.apply(&list("/fuzz", ".", 10)), err(Errno::INVAL));
    assert_eq!(
        m.apply(&list("/fuzz", &"c".repeat(256), 10)),
        err(Errno::NAMETOOLONG)
    );
    // Cursor errors come before a missing node.
    assert_eq!(m.apply(&list("/fuzz/zz", "a/b", 10)), err(Errno::INVAL));
    assert_eq!(m.apply(&list("/fuzz/zz", "a", 10)), err(Errno::NOENT));
}

#[test]
fn bad_flags_come_first() {
    let mut m = prefixed(Limits::defaults());
    let bad = Op::Set {
        path: b"//".to_vec(),
        value: Vec::new(),
        flags: 0x20,
    };
    assert_eq!(m.apply(&bad), err(Errno::INVAL));
    let bad = Op::Delete {
        path: vec![b'x'; 5000],
        flags: 0x40,
    };
    assert_eq!(m.apply(&bad), err(Errno::INVAL));
}

/// Runs the generator against the model alone: nothing panics (no valid path outside the
/// subtree), the incremental counts stay right, and a seed always gives the same operations.
#[test]
fn generator_is_deterministic_and_stays_inside() {
    for (seed, page_sized) in [(1u64, false), (2, true), (3, false)] {
        let cfg = GenConfig {
            page_sized,
            soft_max_nodes: 200,
            max_buf_len: 200_000,
        };
        let run = |n: usize| {
            let mut m = prefixed(Limits::defaults());
            let mut g = Generator::new(seed, cfg);
            let mut trace = Vec::new();
            for _ in 0..n {
                let op = g.next_op(&m);
                let reply = m.apply(&op);
                trace.push(format!("{op} -> {reply}"));
                if page_sized {
                    if let Op::Set { value, .. } = &op {
                        assert!(value.len() <= 4096 || value.len() > 65536);
                    }
                    if let Op::List { buf_len, .. } = &op {
                        assert!(*buf_len <= 4096);
                    }
                }
            }
            assert_eq!(m.recount(), m.counts());
            trace
        };
        let a = run(20_000);
        assert_eq!(a, run(20_000));
        // Every kind of reply shows up.
        for needle in [
            "EEXIST",
            "ENOTEMPTY",
            "ENODATA",
            "ENOENT",
            "EINVAL",
            "ENAMETOOLONG",
            "E2BIG",
            "ERANGE",
            "more=true",
        ] {
            assert!(
                a.iter().any(|l| l.contains(needle)),
                "seed {seed}: no {needle}"
            );
        }
    }
    // The whole store, small limits: ENOSPC too.
    let mut m = whole(small());
    let mut g = Generator::new(
        9,
        GenConfig {
            page_sized: false,
            soft_max_nodes: 200,
            max_buf_len: 200_000,
        },
    );
    let mut nospc = 0;
    for _ in 0..20_000 {
        let op = g.next_op(&m);
        if m.apply(&op) == err(Errno::NOSPC) {
            nospc += 1;
        }
    }
    assert!(nospc > 0);
    assert_eq!(m.recount(), m.counts());
}
