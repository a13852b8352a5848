//! Host tests of the whole-ABI model and generator (no device needed).

use pathstore::{abi, Errno};
use pathstore_fuzz::abi_gen::{AbiGenConfig, AbiGenerator};
use pathstore_fuzz::abi_model::{AbiLimits, AbiModel, Caller, Found};
use pathstore_fuzz::abi_op::{AOp, AReply, StatsParams, TxnStep};
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
        watch_bytes: 1 << 20,
        params: StatsParams::default(),
    }
}

const ROOT: Caller = Caller {
    uid: 0,
    admin: true,
};

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
    // Root replaces uid 1000's value: charged to the owner, past its quota, since only changes
    // made without CAP_SYS_ADMIN are held to the quota.
    assert!(matches!(
        m.apply(&set(0, "/u/a", &"x".repeat(30), 0, 0)),
        AReply::Set { .. }
    ));
    match m.apply(&AOp::Stats { file: 1 }) {
        AReply::Stats(s) => assert_eq!((s.uid_nodes, s.uid_bytes), (3, 1 + 1 + 30 + 1)),
        other => panic!("{other}"),
    }
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
            bytes: 3 + 30 + 4 + 4,
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
    let found = |m: &AbiModel, p: &[u8], sub: bool, after: u64| match m.find(p, sub, after, ROOT) {
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

fn delete(file: usize, path: &str, flags: u32, expected: u64) -> AOp {
    AOp::Delete {
        file,
        path: path.into(),
        flags,
        expected,
    }
}

/// A private node hides its subtree: EACCES at the first ancestor the caller may not read, before
/// ENOENT below it; stat needs only the ancestors; transaction checks walk the same way.
#[test]
fn private_ancestors_hide_their_subtree() {
    let mut m = model(limits(100, 1000, 100));
    // uid 1000 makes /p private (mode 0) with a readable child.
    assert!(matches!(
        m.apply(&set(1, "/p", "v", abi::SET_MODE, 0)),
        AReply::Set { .. }
    ));
    assert!(matches!(
        m.apply(&set(1, "/p/c", "w", abi::SET_MODE, abi::MODE_ALL)),
        AReply::Set { .. }
    ));
    for path in ["/p/c", "/p/missing", "/p/missing/deeper"] {
        assert_eq!(m.apply(&get(2, path)), AReply::Err(Errno::ACCESS), "{path}");
        let stat = AOp::Stat {
            file: 2,
            path: path.into(),
        };
        assert_eq!(m.apply(&stat), AReply::Err(Errno::ACCESS), "{path}");
    }
    // The owner and root reach it; the node itself needs only its ancestors for stat.
    assert!(matches!(m.apply(&get(1, "/p/c")), AReply::Value { .. }));
    assert!(matches!(m.apply(&get(0, "/p/c")), AReply::Value { .. }));
    assert!(matches!(
        m.apply(&AOp::Stat {
            file: 2,
            path: b"/p".to_vec()
        }),
        AReply::Stat(_)
    ));
    assert_eq!(m.apply(&get(2, "/p")), AReply::Err(Errno::ACCESS));
    assert_eq!(m.apply(&get(2, "/q/x")), AReply::Err(Errno::NOENT));
    // Text: ls, stat and get alike.
    for cmd in ["ls /p", "stat /p/c", "get /p/c", "stat /p/none"] {
        assert_eq!(m.apply(&text(2, cmd)), AReply::Err(Errno::ACCESS), "{cmd}");
    }
    // A watch of a node below it, existing or not.
    let watch = |path: &str| AOp::Watch {
        file: 2,
        path: path.into(),
        after: 0,
        flags: 0,
        buf_len: 100,
    };
    assert_eq!(m.apply(&watch("/p/c")), AReply::Err(Errno::ACCESS));
    assert_eq!(m.apply(&watch("/p/none")), AReply::Err(Errno::ACCESS));
    // Transaction checks: EACCES at the ancestor, for a present or an absent node.
    let txn = |op, path: &str| AOp::Txn {
        file: 2,
        steps: vec![step(op, path, "", 0, 0)],
        flags: 0,
    };
    for (op, path) in [
        (abi::TXN_CHECK_VERSION, "/p/c"),
        (abi::TXN_CHECK_ABSENT, "/p/none"),
    ] {
        assert_eq!(
            m.apply(&txn(op, path)),
            AReply::TxnErr {
                errno: Errno::ACCESS,
                failed: 0,
                current: 0
            }
        );
    }
    // Below readable ancestors, CHECK_ABSENT of a missing node is fine.
    assert!(matches!(
        m.apply(&txn(abi::TXN_CHECK_ABSENT, "/q/none")),
        AReply::TxnOk { .. }
    ));
    assert!(m.rules.ancestor_denied.get() > 0);
    m.self_check().unwrap();
}

/// A delete checks the version and the children before the right to delete below.
#[test]
fn delete_checks_in_order() {
    let mut m = model(limits(100, 1000, 100));
    // /d (uid 1000, writable by all) with a child of uid 1000 only writable by its owner.
    assert!(matches!(
        m.apply(&set(1, "/d", "v", abi::SET_MODE, abi::MODE_ALL)),
        AReply::Set { .. }
    ));
    assert!(matches!(
        m.apply(&set(1, "/d/e", "v", abi::SET_MODE, abi::MODE_OTHERS_READ)),
        AReply::Set { .. }
    ));
    let version = m.node(b"/d").unwrap().version;
    // uid 1001: a stale version is ESTALE, not EACCES; no -r is ENOTEMPTY; then EACCES.
    assert_eq!(
        m.apply(&delete(
            2,
            "/d",
            abi::DELETE_RECURSIVE | abi::DELETE_IF_VERSION,
            version + 1
        )),
        AReply::Stale { current: version }
    );
    assert_eq!(
        m.apply(&delete(2, "/d", 0, 0)),
        AReply::Err(Errno::NOTEMPTY)
    );
    assert_eq!(
        m.apply(&delete(2, "/d", abi::DELETE_RECURSIVE, 0)),
        AReply::Err(Errno::ACCESS)
    );
    assert_eq!(m.apply(&text(2, "rm /d")), AReply::Err(Errno::NOTEMPTY));
    assert_eq!(
        m.apply(&text(2, &format!("rm-if -r /d {}", version + 1))),
        AReply::Err(Errno::STALE)
    );
}

/// A subtree watch sees a change below a private ancestor only if its caller could read every
/// proper ancestor when it changed; a node watch is not filtered.
#[test]
fn subtree_watches_follow_visibility() {
    let mut m = model(limits(100, 1000, 100));
    m.apply(&set(1, "/s", "", abi::SET_MODE, abi::MODE_ALL)); // 101
    m.apply(&set(1, "/s/p", "", abi::SET_MODE, 0)); // 102: private, uid 1000
    m.apply(&set(1, "/s/p/x", "1", 0, 0)); // 103: below a private ancestor
    m.apply(&set(1, "/s/p/x/y", "2", 0, 0)); // 104
    let u1000 = Caller {
        uid: 1000,
        admin: false,
    };
    let u1001 = Caller {
        uid: 1001,
        admin: false,
    };
    let found =
        |m: &AbiModel, p: &[u8], sub: bool, after: u64, c: Caller| match m.find(p, sub, after, c) {
            Found::Event(e) => e.version,
            Found::Lost(v) => v,
            Found::Nothing => 0,
        };
    // /s/p itself (a change below /s, its ancestors readable) is seen by everyone.
    assert_eq!(found(&m, b"/s", true, 101, u1001), 102);
    // What is below /s/p: its owner and root, not 1001.
    assert_eq!(found(&m, b"/s", true, 102, u1000), 103);
    assert_eq!(found(&m, b"/s", true, 102, ROOT), 103);
    assert_eq!(found(&m, b"/s", true, 102, u1001), 0);
    assert_eq!(found(&m, b"/", true, 102, u1001), 0);
    // The node watch of /s/p sees its deletion as an ancestor's: not filtered.
    m.apply(&delete(1, "/s/p", abi::DELETE_RECURSIVE, 0)); // 105
    assert_eq!(found(&m, b"/s/p/x", false, 104, u1001), 105);
    assert_eq!(found(&m, b"/s", true, 102, u1001), 105);
    // Private ancestors of two owners: root's only. Visibility is that of the time of the
    // change: opening /r afterwards does not show it.
    m.apply(&set(1, "/r", "", abi::SET_MODE, abi::MODE_OTHERS_WRITE)); // 106: 1000's, private
    m.apply(&set(0, "/r/a", "", abi::SET_MODE, 0)); // 107: root's, private
    m.apply(&set(0, "/r/a/b", "", 0, 0)); // 108
    assert_eq!(found(&m, b"/r", true, 107, u1000), 0);
    assert_eq!(found(&m, b"/r", true, 107, ROOT), 108);
    assert_eq!(found(&m, b"/r", true, 106, u1000), 107);
    m.apply(&set(0, "/r/a", "", abi::SET_MODE, abi::MODE_ALL)); // 109
    assert_eq!(found(&m, b"/r", true, 107, u1000), 109);
    assert!(m.rules.watch_hidden.get() > 0);
    assert!(m.rules.watch_owner_shown.get() > 0);
    m.self_check().unwrap();
}

/// Text responses escape names; a listing is paged and goes on from its last name.
#[test]
fn text_escapes_and_pages() {
    let mut m = model(limits(100, 4000, 100));
    assert_eq!(m.apply(&text(0, "set /a\\b v")), AReply::Done);
    assert_eq!(m.apply(&text(0, "ls /")), AReply::Done);
    assert_eq!(read(&mut m, 0), b"a\\\\b\n");
    assert_eq!(m.apply(&text(0, "seq -m read /q\x7f- v")), AReply::Done);
    let seq = read(&mut m, 0);
    assert!(
        seq.starts_with(b"/q\\x7f-00000"),
        "{}",
        String::from_utf8_lossy(&seq)
    );
    assert_eq!(
        m.apply(&text(0, "set -m write /a v")),
        AReply::Err(Errno::INVAL)
    );
    assert_eq!(m.apply(&text(0, "set -m read")), AReply::Err(Errno::INVAL));
    assert_eq!(m.apply(&text(0, "create -m private /m v")), AReply::Done);
    assert_eq!(m.node(b"/m").unwrap().mode, 0);
    // Forty names of 100 bytes: two pages of 2048 bytes and a third.
    let mut l = limits(100, 1 << 20, 100);
    l.store.max_nodes = 100;
    l.store.max_bytes = 1 << 20;
    l.store.max_path_len = 256;
    let mut m = model(l);
    for i in 0..40 {
        let name = format!("{i:03}{}", "n".repeat(97));
        assert_eq!(m.apply(&text(0, &format!("set /l/{name} v"))), AReply::Done);
    }
    assert_eq!(m.apply(&text(0, "ls /l")), AReply::Done);
    let first = read(&mut m, 0);
    assert_eq!(first.len(), 20 * 101);
    // Another command replaces the listing.
    assert_eq!(m.apply(&text(0, "set /other v")), AReply::Done);
    assert_eq!(read(&mut m, 0), b"", "another command replaced the listing");
    // The listing is not a snapshot: a name added after the first page shows up.
    assert_eq!(m.apply(&text(0, "ls /l")), AReply::Done);
    read(&mut m, 0);
    assert!(matches!(
        m.apply(&set(0, "/l/zz", "w", 0, 0)),
        AReply::Set { .. }
    ));
    let second = read(&mut m, 0);
    assert_eq!(second.len(), 20 * 101 + 3);
    assert!(second.ends_with(b"zz\n"));
    assert_eq!(read(&mut m, 0), b"");
    // An error of a later page comes from read().
    assert_eq!(m.apply(&text(0, "ls /l")), AReply::Done);
    read(&mut m, 0);
    assert_eq!(
        m.apply(&delete(0, "/l", abi::DELETE_RECURSIVE, 0)),
        AReply::Done
    );
    assert_eq!(
        m.apply(&AOp::Read { file: 0, len: 10 }),
        AReply::Err(Errno::NOENT)
    );
    assert_eq!(read(&mut m, 0), b"");
}

/// The change log forgets the oldest events past `watch_bytes` bytes of paths.
#[test]
fn watch_bytes_bound() {
    let mut l = limits(100, 4000, 100);
    l.watch_bytes = 130; // at least max_path_len (128)
    let mut m = model(l);
    m.prime_log();
    assert_eq!(m.forgotten(), 0);
    for i in 0..5 {
        m.apply(&set(0, &format!("/{}", "k".repeat(39 + i)), "", 0, 0)); // 40..44 bytes
    }
    // 101..105: 40+41+42+43+44 bytes, after 100 one-byte primed events: the oldest are forgotten
    // as each comes, and once 105 is in only 103 to 105 (129 bytes) are left.
    assert_eq!(m.forgotten(), 102);
    assert_eq!(m.forgotten_when(100), 0);
    assert_eq!(m.forgotten_when(105), 102);
    assert!(m.forgotten_when(101) < m.forgotten_when(104));
    let found = m.find(b"/", true, 102, ROOT);
    assert!(
        matches!(found, Found::Event(ref e) if e.version == 103),
        "{found:?}"
    );
    assert!(matches!(m.find(b"/", true, 101, ROOT), Found::Lost(105)));
}

/// The generator against the model alone: nothing panics, the counts stay right, a seed always
/// gives the same operations, and every kind of reply shows up.
#[test]
fn generator_covers_the_abi() {
    for (seed, page_sized) in [(3u64, false), (2, true)] {
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
            "write \"set -m ",
            "write \"seq -m ",
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
