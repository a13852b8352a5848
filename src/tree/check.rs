// SPDX-License-Identifier: GPL-2.0

//! The consistency check: every counter and invariant of the tree, verified by a full walk.

use kernel::prelude::*;

use super::{
    node::{
        walk,
        Node, //
    },
    Tree,
};
use crate::{
    access::ROOT_UID,
    error::euclean,
    num::{
        FromSafeCast,
        IntoSafeCast, //
    },
    quota::Usage,
    uapi, //
};

/// What [`Tree::check`] counted in a consistent tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CheckReport {
    /// Nodes, the root included.
    pub(crate) nodes: u64,
    /// Bytes of all names and values.
    pub(crate) bytes: u64,
    /// Users that own something.
    pub(crate) owners: u64,
}

/// Reports a broken invariant found by [`Tree::check`].
fn broken(what: &str, detail: u64) -> Error {
    pr_err!("consistency check failed: {} ({})\n", what, detail);
    euclean()
}

/// The usage counted afresh for each of the ledger's users, in uid order.
type Owners = KVVec<(u32, Usage)>;

/// The consistency check.
impl Tree {
    /// Walks the whole tree and verifies every counter and invariant: the node and byte totals,
    /// each user's usage, child counts, versions, names, modes, depths and limits. Fails with
    /// `EUCLEAN` (and logs what is broken) if anything is off.
    pub(crate) fn check(&self) -> Result<CheckReport> {
        // What each owner should own, in uid order: the ledger's users, counted afresh.
        let mut owners = Owners::new();
        for (&uid, usage) in self.ledger.iter() {
            if *usage == Usage::default() {
                return Err(broken("ledger keeps an empty entry for uid", uid.into()));
            }
            owners.push((uid, Usage::default()), GFP_KERNEL)?;
        }
        let root = &self.root;
        let mut nodes = 1u64;
        let mut bytes = root.value_len();
        if root.value.is_some() || root.owner != ROOT_UID {
            self.check_node(root, &mut owners, root.value_len(), 0)?;
        } else if count_children(root) != root.num_children() {
            return Err(broken("root child count differs", root.num_children()));
        }
        walk(root, self.limits.max_depth, |name, node, depth| {
            let name = name.as_bytes();
            if name.is_empty()
                || name.len() > usize::from_safe_cast(uapi::MAX_NAME_LEN)
                || name.iter().any(|&b| b == b'/' || b == 0)
            {
                return Err(broken(
                    "invalid name of length",
                    name.len().into_safe_cast(),
                ));
            }
            if depth > self.limits.max_depth {
                return Err(broken("node deeper than max_depth", depth.into()));
            }
            let own = u64::from_safe_cast(name.len()) + node.value_len();
            nodes += 1;
            bytes += own;
            self.check_node(node, &mut owners, own, 1)
        })?;
        self.check_totals(nodes, bytes, &owners)?;
        self.check_events()?;
        if !self.teardown.is_empty() {
            return Err(broken(
                "teardown stack not empty",
                self.teardown.len().into_safe_cast(),
            ));
        }
        Ok(CheckReport {
            nodes,
            bytes,
            owners: owners.len().into_safe_cast(),
        })
    }

    /// Checks one node's own invariants and counts what it holds (`counted` nodes, `own` bytes)
    /// for its owner.
    fn check_node(&self, node: &Node, owners: &mut Owners, own: u64, counted: u64) -> Result {
        let seq = self.sequence;
        if node.version > seq || node.child_version() > seq {
            return Err(broken("version ahead of the sequence", node.version));
        }
        if node.mode & !uapi::MODE_ALL != 0 {
            return Err(broken("unknown mode bits", node.mode.into()));
        }
        if node.value_len() > u64::from(self.limits.max_value_len) {
            return Err(broken("value over max_value_len", node.value_len()));
        }
        let children = count_children(node);
        if node.session() != 0 && children != 0 {
            return Err(broken("ephemeral node with children", children));
        }
        if children != node.num_children() {
            return Err(broken("child count differs from the children", children));
        }
        // The root's empty value is charged nothing, and needs no ledger entry.
        if counted == 0 && own == 0 {
            return Ok(());
        }
        let i = owners
            .binary_search_by_key(&node.owner, |&(uid, _)| uid)
            .map_err(|_| broken("owner missing from the ledger", node.owner.into()))?;
        if let Some((_, usage)) = owners.get_mut(i) {
            usage.nodes += counted;
            usage.bytes += own;
        }
        Ok(())
    }

    /// Checks the store's totals and the ledger against what the walk counted.
    fn check_totals(&self, nodes: u64, bytes: u64, owners: &Owners) -> Result {
        if nodes != self.nodes {
            return Err(broken("node total differs from the nodes", self.nodes));
        }
        if bytes != self.bytes {
            return Err(broken("byte total differs from the nodes", self.bytes));
        }
        if nodes > self.limits.max_nodes || bytes > self.limits.max_bytes {
            return Err(broken("store over its limits", nodes));
        }
        for (&(uid, counted), (_, &usage)) in owners.iter().zip(self.ledger.iter()) {
            if counted != usage {
                return Err(broken("ledger differs from the nodes for uid", uid.into()));
            }
        }
        Ok(())
    }

    /// Checks that the event log is in version order and ends at the sequence number.
    fn check_events(&self) -> Result {
        let seq = self.sequence;
        let mut version = 0;
        for event in self.events.iter() {
            if event.version < version || event.version > seq {
                return Err(broken("event log out of order at version", event.version));
            }
            version = event.version;
        }
        if version != 0 && version != seq {
            return Err(broken("last event differs from the sequence", version));
        }
        Ok(())
    }
}

/// The number of children `node` really has (not the count it keeps).
fn count_children(node: &Node) -> u64 {
    u64::from_safe_cast(node.children().map_or(0, |c| c.iter().count()))
}

