//! The reserve: a store full to users still takes changes from `CAP_SYS_ADMIN`.
//!
//! These run in a pass of their own (`BINARY reserve::`), with the module loaded with
//! `dev_mode=0666 max_nodes=600 reserve_nodes=64 max_bytes=65536 reserve_bytes=4096
//! uid_max_nodes=16 uid_max_bytes=1024`: 40 users at their quota would own 640 nodes, more than
//! the 536 that users may fill.

use integration::{expect_errno, ok, open, stats};
use pathstore::{abi, Errno};

use crate::access::{as_user, steps};

/// `max_nodes` of this pass.
const MAX_NODES: u64 = 600;
/// `reserve_nodes` of this pass.
const RESERVE_NODES: u64 = 64;
/// `uid_max_nodes` of this pass.
const UID_MAX_NODES: usize = 16;
/// The first of the 40 users that fill the store.
const FIRST_UID: u32 = 4000;

#[test]
fn root_can_still_write_after_40_users_fill_the_store() {
    let store = open();
    ok("/full", store.set_mode("/full", "", 0, abi::MODE_ALL));
    // Each user creates nodes under a subtree of its own until it is refused.
    let mut refusals = Vec::new();
    for uid in FIRST_UID..FIRST_UID + 40 {
        let creates: Vec<String> = (0..UID_MAX_NODES)
            .map(|i| format!("create /full/u{uid}/n{i} v"))
            .collect();
        let results = as_user(uid, &creates);
        if let Some(refused) = results.iter().find(|r| *r != "ok") {
            refusals.push(refused.clone());
        }
    }
    let full = stats(&store);
    println!(
        "40 users filled the store to {} nodes ({} refused: {:?})",
        full.nodes,
        refusals.len(),
        refusals.iter().filter(|r| *r == "ENOSPC").count()
    );
    assert_eq!(
        full.nodes,
        MAX_NODES - RESERVE_NODES,
        "users fill the store up to max_nodes - reserve_nodes and no further"
    );
    assert!(
        refusals.iter().any(|r| r == "ENOSPC"),
        "the store, not only the quotas, should have refused users: {refusals:?}"
    );
    assert!(
        refusals.iter().all(|r| r == "ENOSPC" || r == "EDQUOT"),
        "{refusals:?}"
    );
    // A user with no node yet is refused too, with ENOSPC.
    assert_eq!(
        as_user(4100, &steps(&["create /full/late v"])),
        ["ENOSPC"],
        "a full store refuses every user"
    );
    // Root (CAP_SYS_ADMIN) writes into the reserve, up to max_nodes.
    for i in 0..RESERVE_NODES {
        ok(
            "root creates a node in the reserve",
            store.set(format!("/full/root{i}"), "r"),
        );
    }
    assert_eq!(stats(&store).nodes, MAX_NODES);
    expect_errno(
        "root past max_nodes",
        store.set("/full/root-past", "r"),
        Errno::NOSPC,
    );
    // Freeing room below the users' share gives it back to them.
    ok("root deletes everything", store.delete_recursive("/full"));
    assert_eq!(
        as_user(4100, &steps(&["create /late v", "rm /late"])),
        ["ok", "ok"],
        "once the store has room, users may write again"
    );
    ok("IOC_CHECK", store.check());
}
