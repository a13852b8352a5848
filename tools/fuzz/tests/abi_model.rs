//! Host tests of the whole-ABI model and generator (no device needed).

use pathstore::{abi, Errno};
use pathstore_fuzz::abi_gen::{AbiGenConfig, AbiGenerator};
use pathstore_fuzz::abi_model::{AbiLimits, AbiModel, Caller, Found};
use pathstore_fuzz::abi_op::{AOp, AReply, TxnStep};
use pathstore_fuzz::model::Limits;

fn limits(uid_max_nodes: u64, uid_max_bytes: u64, watch_events: u64) -> AbiLimits {
    AbiLimits {
        store: Limits {
            max_value_len: 64,
            max_path_len: 128,
            max_depth: 8,
            max_nodes: 100,
            max_bytes: 4000,
        },
        uid_max_nodes,
        uid_max_bytes,
        watch_events,
    }
}

/// A model at sequence 100 with files 0 (root), 1 (uid 1000) and 2 (uid 1001).
fn model(l: AbiLimits) -> AbiModel {
    let mut m = AbiModel::new(l, 100, 100, 99, 0);
    for (file, uid) in [(0usize, 0u32), (1, 1000), (2, 1001)] {
        m.open(
            file,
            Caller {
                uid,
                admin: uid == 0,
            },
            10 + file as u64,
        );
    }
    m
}

fn set(file: usize, path: &str, value: &str, flags: u32, mode: u32) -> AOp {
    AOp::Set {
        file,
        path: path.into(),
        value: value.into(),
        flags,
        mode,
        expected: 0,
    }
}

fn get(file: usize, path: &str) -> AOp {
    AOp::Get {
        file,
        path: path.into(),
        buf_len: 100,
        flags: 0,
    }
}

fn text(file: usize, cmd: &str) -> AOp {
    AOp::Text {
        file,
        command: cmd.into(),
    }
}

fn read(m: &mut AbiModel, file: usize) -> Vec<u8> {
    match m.apply(&AOp::Read { file, len: 4096 }) {
        AReply::Read(bytes) => bytes,
        other => panic!("{other}"),
    }
}

#[test]
fn owners_modes_and_quotas() {
    let mut m = model(limits(3, 20, 4096));
    assert_eq!(
        m.apply(&set(1, "/u/a", "1", abi::SET_MODE, abi::MODE_DEFAULT)),
        AReply::Set {
            version: 101,
            sequence: 0
        }
    );
    // Another user may read but not write a MODE_DEFAULT node, nor create under it.
    assert!(matches!(m.apply(&get(2, "/u/a")), AReply::Value { .. }));
    assert_eq!(
        m.apply(&set(2, "/u/a", "2", 0, 0)),
        AReply::Err(Errno::ACCESS)
    );
    assert_eq!(
        m.apply(&set(2, "/u/a/x", "2", 0, 0)),
        AReply::Err(Errno::ACCESS)
    );
    // Only the owner changes the mode; root may do anything.
    assert_eq!(
        m.apply(&set(2, "/u/a", "2", abi::SET_MODE, 0)),
        AReply::Err(Errno::ACCESS)
    );
    assert!(matches!(
        m.apply(&set(1, "/u/a", "p", abi::SET_MODE, 0)),
        AReply::Set { .. }
    ));
    assert_eq!(m.apply(&get(2, "/u/a")), AReply::Err(Errno::ACCESS));
    assert!(matches!(m.apply(&get(0, "/u/a")), AReply::Value { .. }));
    // Quota: uid 1000 owns /u and /u/a (2 nodes); one more fits, two do not.
    assert!(matches!(
        m.apply(&set(1, "/v", "", 0, 0)),
        AReply::Set { .. }
    ));
    assert_eq!(m.apply(&set(1, "/w", "", 0, 0)), AReply::Err(Errno::DQUOT));
    match m.apply(&AOp::Stats { file: 1 }) {
        AReply::Stats(s) => assert_eq!((s.uid_nodes, s.uid_bytes), (3, 1 + 1 + 1 + 1)),
        other => panic!("{other}"),
    }
    // Root replaces uid 1000's value: charged to the owner.
    assert_eq!(
        m.apply(&set(0, "/u/a", &"x".repeat(30), 0, 0)),
        AReply::Err(Errno::DQUOT)
    );
    // Recursive delete needs the right on every node.
    assert!(matches!(
        m.apply(&set(2, "/open", "", abi::SET_MODE, abi::MODE_ALL)),
        AReply::Set { .. }
    ));
    assert!(matches!(
        m.apply(&set(0, "/open/mine", "", 0, 0)),
        AReply::Set { .. }
    ));
    assert_eq!(
        m.apply(&AOp::Delete {
            file: 1,
            path: b"/open".to_vec(),
            flags: abi::DELETE_RECURSIVE,
            expected: 0
        }),
        AReply::Err(Errno::ACCESS)
    );
    assert_eq!(m.apply(&AOp::Check { file: 1 }), AReply::Err(Errno::PERM));
    assert_eq!(
        m.apply(&AOp::Check { file: 0 }),
        AReply::Check {
            nodes: 6,
            bytes: 3 + 1 + 4 + 4,
            owners: 3
        }
    );
    m.self_check().unwrap();
}

#[test]
fn ephemeral_sequential_and_release() {
    let mut m = model(limits(100, 1000, 4096));
    assert_eq!(
        m.apply(&set(1, "/q/job-", "a", abi::SET_SEQUENTIAL, 0)),
        AReply::Set {
            version: 101,
            sequence: 0
        }
    );
    assert!(matches!(
        m.apply(&set(1, "/q/job-0000000002", "", 0, 0)),
        AReply::Set { .. }
    ));
    assert_eq!(
        m.apply(&set(
            1,
            "/q/job-",
            "b",
            abi::SET_SEQUENTIAL | abi::SET_EPHEMERAL,
            0
        )),
        AReply::Set {
            version: 103,
            sequence: 1
        }
    );
    // The next number skips the name taken by hand.
    assert_eq!(m.apply(&text(1, "seq /q/job- c")), AReply::Done);
    assert_eq!(read(&mut m, 1), b"/q/job-0000000003\n");
    // Nothing under an ephemeral node.
    assert_eq!(
        m.apply(&set(0, "/q/job-0000000001/x", "", 0, 0)),
        AReply::Err(Errno::NOTDIR)
    );
    assert_eq!(m.apply(&text(2, "ephemeral /e x")), AReply::Done);
    let seq = m.sequence();
    assert_eq!(m.apply(&AOp::Close { file: 1 }), AReply::Done);
    assert_eq!(m.sequence(), seq + 1);
    assert_eq!(
        m.apply(&get(0, "/q/job-0000000001")),
        AReply::Err(Errno::NOENT)
    );
    // A handed-off file keeps its nodes until the child ends.
    assert_eq!(m.apply(&AOp::HandOff { file: 2 }), AReply::Done);
    assert!(matches!(m.apply(&get(0, "/e")), AReply::Value { .. }));
    assert_eq!(m.apply(&AOp::Close { file: 2 }), AReply::Done);
    assert_eq!(m.apply(&get(0, "/e")), AReply::Err(Errno::NOENT));
    let last = m.log().last().unwrap();
    assert_eq!(
        (last.kind, &last.path[..]),
        (abi::EVENT_DELETED, &b"/e"[..])
    );
    m.self_check().unwrap();
}

fn step(op: u32, path: &str, value: &str, flags: u32, expected: u64) -> TxnStep {
    TxnStep {
        op,
        path: path.into(),
        value: value.into(),
        flags,
        expected,
        mode: 0,
        pad: 0,
    }
}

#[test]
fn transactions_all_or_nothing() {
    let mut m = model(limits(100, 1000, 4096));
    m.apply(&set(0, "/t/a", "1", 0, 0));
    let before = m.clone();
    let bad = AOp::Txn {
        file: 0,
        steps: vec![
            step(abi::TXN_SET, "/t/b", "2", 0, 0),
            step(abi::TXN_DELETE, "/t/a", "", 0, 0),
            step(abi::TXN_CHECK_VERSION, "/t/a", "", 0, 101),
        ],
        flags: 0,
    };
    // The deleted node is back after the rollback: ENOENT, nothing changed.
    assert_eq!(
        m.apply(&bad),
        AReply::TxnErr {
            errno: Errno::NOENT,
            failed: 2,
            current: 0
        }
    );
    assert_eq!(m.sequence(), before.sequence());
    assert_eq!(m.log(), before.log());
    let stale = AOp::Txn {
        file: 0,
        steps: vec![
            step(abi::TXN_SET, "/t/a", "2", 0, 0),
            step(abi::TXN_CHECK_VERSION, "/t/a", "", 0, 101),
        ],
        flags: 0,
    };
    // `current` is the version once the transaction is undone.
    assert_eq!(
        m.apply(&stale),
        AReply::TxnErr {
            errno: Errno::STALE,
            failed: 1,
            current: 101
        }
    );
    // Malformed steps fail before any runs, flags first, then paths.
    let malformed = AOp::Txn {
        file: 0,
        steps: vec![
            step(abi::TXN_SET, "//", "", 0, 0),
            step(abi::TXN_SET, "/x", "", abi::SET_EPHEMERAL, 0),
        ],
        flags: 0,
    };
    assert_eq!(
        m.apply(&malformed),
        AReply::TxnErr {
            errno: Errno::INVAL,
            failed: 1,
            current: 0
        }
    );
    let good = AOp::Txn {
        file: 0,
        steps: vec![
            step(abi::TXN_CHECK_VERSION, "/t/a", "", 0, 101),
            step(abi::TXN_SET, "/t/b/c", "2", 0, 0),
            step(abi::TXN_DELETE, "/t/a", "", 0, 0),
        ],
        flags: 0,
    };
    assert_eq!(m.apply(&good), AReply::TxnOk { version: 103 });
    let kinds: Vec<u32> = m.log().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [abi::EVENT_CREATED, abi::EVENT_CREATED, abi::EVENT_DELETED]
    );
    m.self_check().unwrap();
}

#[test]
fn watches_follow_the_log() {
    let mut m = model(limits(100, 1000, 3));
    m.apply(&set(0, "/w/x/y", "1", 0, 0)); // 101: creates /w, /w/x, /w/x/y
    m.apply(&set(0, "/w/x", "2", 0, 0)); // 102
    m.apply(&AOp::Delete {
        file: 0,
        path: b"/w".to_vec(),
        flags: abi::DELETE_RECURSIVE,
        expected: 0,
    }); // 103
    let found = |m: &AbiModel, p: &[u8], sub: bool, after: u64| match m.find(p, sub, after) {
        Found::Event(e) => (e.kind, e.version),
        Found::Lost(v) => (abi::EVENT_LOST, v),
        Found::Nothing => (0, 0),
    };
    assert_eq!(found(&m, b"/w/x", false, 100), (abi::EVENT_CREATED, 101));
    assert_eq!(found(&m, b"/w/x", false, 101), (abi::EVENT_CHANGED, 102));
    assert_eq!(found(&m, b"/w/x/y", false, 101), (abi::EVENT_DELETED, 103));
    assert_eq!(found(&m, b"/w/x/y", false, 103), (0, 0));
    // Three changes kept: after 99 is lost... but the log was full before the start.
    assert_eq!(found(&m, b"/w", true, 99), (abi::EVENT_LOST, 103));
    assert_eq!(m.apply(&text(0, "watch -r /w 101")), AReply::Done);
    assert_eq!(read(&mut m, 0), b"102 changed /w/x\n");
    assert!(m.text_blocks(0, b"watch /w 103"));
}

/// The generator against the model alone: nothing panics, the counts stay right, a seed always
/// gives the same operations, and every kind of reply shows up.
#[test]
fn generator_covers_the_abi() {
    for (seed, page_sized) in [(1u64, false), (2, true)] {
        let run = |n: usize| {
            let mut l = limits(8, 300, 64);
            l.store.max_nodes = 20;
            let mut m = model(l);
            let cfg = AbiGenConfig {
                page_sized,
                uids: vec![0, 1000, 1001],
                max_files: 6,
                soft_max_nodes: 60,
                hand_off: true,
                exclude: Vec::new(),
            };
            let mut g = AbiGenerator::new(seed, cfg, 3);
            let mut session = 100;
            let mut trace = Vec::new();
            for i in 0..n {
                let usable: Vec<usize> = m
                    .files()
                    .iter()
                    .filter(|(_, f)| !f.held)
                    .map(|(&k, _)| k)
                    .collect();
                let op = g.next_op(&m, &usable, m.files().len());
                let reply = match &op {
                    AOp::Open { file, uid } => {
                        session += 1;
                        m.open(
                            *file,
                            Caller {
                                uid: *uid,
                                admin: *uid == 0,
                            },
                            session,
                        );
                        AReply::Opened
                    }
                    _ => m.apply(&op),
                };
                trace.push(format!("{} {op} -> {reply}", op.kind()));
                if i % 500 == 0 {
                    m.self_check().unwrap();
                }
            }
            m.self_check().unwrap();
            trace
        };
        let a = run(30_000);
        assert_eq!(a, run(30_000));
        for needle in [
            "EEXIST",
            "ENOTEMPTY",
            "ENODATA",
            "ENOENT",
            "EINVAL",
            "ENAMETOOLONG",
            "E2BIG",
            "ERANGE",
            "EACCES",
            "EPERM",
            "EDQUOT",
            "ESTALE",
            "ENOTDIR",
            "ENOTTY",
            "ETIMEDOUT",
            "ENOSPC",
            "more=true",
            "set-seq",
            "set-eph",
            "handoff",
            "t-seq ",
            "t-watch",
            "batch",
            "txn",
            "event=4",
        ] {
            assert!(
                a.iter().any(|l| l.contains(needle)),
                "seed {seed}: no {needle}"
            );
        }
        assert!(a
            .iter()
            .any(|l| l.starts_with("txn") && l.contains("-> ok")));
        assert!(a
            .iter()
            .any(|l| l.starts_with("read") && l.contains("version=")));
    }
}
