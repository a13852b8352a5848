// SPDX-License-Identifier: GPL-2.0

//! The consistency check: every counter and invariant of the tree, verified by a full walk.

use kernel::prelude::*;

use super::{
    node::{
        walk,
        Guarded,
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
        for (&uid, owned) in self.ledger.owners() {
            if owned.usage == Usage::default() {
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
        } else {
            check_guarded(root)?;
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
            let own = node.charged_bytes(name.len());
            nodes += 1;
            bytes += own;
            self.check_node(node, &mut owners, own, 1)
        })?;
        self.check_draining(&mut nodes, &mut bytes, &mut owners)?;
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

    /// Counts what deletes took out of the tree and have yet to drain, which is still counted
    /// in the totals and charged to its owners, and checks each node's own invariants.
    fn check_draining(&self, nodes: &mut u64, bytes: &mut u64, owners: &mut Owners) -> Result {
        for forest in self.draining.iter().flat_map(|d| d.forests()) {
            for (name, top) in forest.iter() {
                let own = top.charged_bytes(name.len());
                *nodes += 1;
                *bytes += own;
                self.check_node(top, owners, own, 1)?;
                walk(top, self.limits.max_depth, |name, node, _| {
                    let own = node.charged_bytes(name.len());
                    *nodes += 1;
                    *bytes += own;
                    self.check_node(node, owners, own, 1)
                })?;
            }
        }
        Ok(())
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
        check_guarded(node)?;
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
        for (&(uid, counted), (_, owned)) in owners.iter().zip(self.ledger.owners()) {
            if counted != owned.usage {
                return Err(broken("ledger differs from the nodes for uid", uid.into()));
            }
        }
        self.check_accounts()
    }

    /// Checks that each account is charged exactly what its users own.
    fn check_accounts(&self) -> Result {
        let mut accounts = Owners::new();
        for (&account, usage) in self.ledger.accounts() {
            if *usage == Usage::default() {
                return Err(broken("ledger keeps an empty account", account.into()));
            }
            accounts.push((account, Usage::default()), GFP_KERNEL)?;
        }
        for (_, owned) in self.ledger.owners() {
            let i = accounts
                .binary_search_by_key(&owned.account, |&(account, _)| account)
                .map_err(|_| broken("account missing from the ledger", owned.account.into()))?;
            if let Some((_, usage)) = accounts.get_mut(i) {
                usage.nodes += owned.usage.nodes;
                usage.bytes += owned.usage.bytes;
            }
        }
        for (&(account, counted), (_, &usage)) in accounts.iter().zip(self.ledger.accounts()) {
            if counted != usage {
                return Err(broken("account differs from its users", account.into()));
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

/// Checks that what `node` keeps of the nodes below it that others may not write ([`Guarded`])
/// is what its children add up to.
fn check_guarded(node: &Node) -> Result {
    let counted = node.children().map_or(Guarded::default(), |children| {
        children.iter().fold(Guarded::default(), |sum, (_, child)| {
            sum.plus(child.guarded_share())
        })
    });
    if counted != node.guarded_below() {
        return Err(broken(
            "guarded summary differs from the children",
            node.num_children(),
        ));
    }
    Ok(())
}

/// The number of children `node` really has (not the count it keeps).
fn count_children(node: &Node) -> u64 {
    u64::from_safe_cast(node.children().map_or(0, |c| c.iter().count()))
}

#[kunit_tests(pathstore_check)]
mod tests {
    use kernel::rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    };

    use super::*;
    use crate::{
        access::Caller,
        bytes::Name,
        limits::Limits,
        path::Path,
        tree::SetOptions,
        value::Value, //
    };

    fn limits() -> Limits {
        Limits::from_params(16, 256, 8, 100, 1000)
    }

    /// A small consistent tree: `/a/b` (root's), `/u/x` and `/u/y` (uid 1000's), and an
    /// ephemeral `/e`.
    fn sample() -> Result<Tree> {
        let mut t = Tree::new(limits())?;
        let user = Caller {
            uid: 1000,
            account: 1000,
            admin: false,
        };
        let set = |t: &mut Tree, path: &[u8], who: &Caller, opts: SetOptions| -> Result {
            let path = Path::parse(path, &limits())?;
            t.set(&path, Value::copy(b"v", &limits())?, opts, who)?;
            Ok(())
        };
        let all = SetOptions {
            mode: Some(uapi::MODE_ALL),
            ..Default::default()
        };
        set(&mut t, b"/a/b", &Caller::root(), SetOptions::default())?;
        set(&mut t, b"/u", &Caller::root(), all)?;
        set(&mut t, b"/u/x", &user, SetOptions::default())?;
        set(&mut t, b"/u/y", &user, SetOptions::default())?;
        let session = t.new_session();
        let ephemeral = SetOptions {
            ephemeral: Some(session),
            ..Default::default()
        };
        set(&mut t, b"/e", &Caller::root(), ephemeral)?;
        t.check()?;
        Ok(t)
    }

    /// The node at `path`, for breaking it.
    fn node<'a>(t: &'a mut Tree, path: &[u8]) -> Result<&'a mut Node> {
        let path = Path::parse(path, &limits())?;
        t.root.descend_mut(path.components()).ok_or(ENOENT)
    }

    /// Breaks a fresh sample tree with `corrupt` and checks that the check fails with `EUCLEAN`.
    fn caught(corrupt: impl FnOnce(&mut Tree) -> Result) -> Result {
        let mut t = sample()?;
        corrupt(&mut t)?;
        assert_eq!(t.check().err(), Some(euclean()));
        Ok(())
    }

    #[test]
    fn totals() -> Result {
        caught(|t| {
            t.nodes += 1;
            Ok(())
        })?;
        caught(|t| {
            t.bytes -= 1;
            Ok(())
        })?;
        // Over the limits, with totals that agree.
        caught(|t| {
            t.limits.max_nodes = 2;
            Ok(())
        })?;
        caught(|t| {
            t.limits.max_bytes = 1;
            Ok(())
        })
    }

    #[test]
    fn ledger() -> Result {
        // A user charged less than it owns.
        caught(|t| {
            t.ledger.uncharge(1000, 0, 1);
            Ok(())
        })?;
        caught(|t| {
            t.ledger.uncharge(1000, 1, 0);
            Ok(())
        })?;
        // A user charged more than it owns.
        caught(|t| {
            let charge = t.ledger.prepare(
                1000,
                1000,
                crate::quota::Delta {
                    nodes: 1,
                    ..Default::default()
                },
                &limits(),
                false,
            )?;
            t.ledger.commit(charge);
            Ok(())
        })?;
        // An account charged more than its users own.
        caught(|t| {
            t.ledger.charge_account(1000, 1);
            Ok(())
        })?;
        // An account charged that none of its users own.
        caught(|t| {
            t.ledger.charge_account(77, 1);
            Ok(())
        })?;
        // A node whose owner has no ledger entry (one all may write: the summaries of the nodes
        // others may not write stay right).
        caught(|t| {
            node(t, b"/u")?.owner = 4242;
            Ok(())
        })
    }

    #[test]
    fn counts_and_versions() -> Result {
        caught(|t| {
            if let Some(ext) = node(t, b"/u")?.ext.as_mut() {
                ext.num_children += 1;
            }
            Ok(())
        })?;
        caught(|t| {
            let ahead = t.sequence + 1;
            node(t, b"/a/b")?.version = ahead;
            Ok(())
        })?;
        caught(|t| {
            let ahead = t.sequence + 1;
            if let Some(ext) = node(t, b"/a")?.ext.as_mut() {
                ext.child_version = ahead;
            }
            Ok(())
        })
    }

    #[test]
    fn guarded_summaries() -> Result {
        // A node below /u counted for another owner.
        caught(|t| {
            if let Some(ext) = node(t, b"/u")?.ext.as_mut() {
                ext.below = ext.below.plus(Guarded::of(1001, 0));
            }
            Ok(())
        })?;
        // The root's summary missing one of uid 1000's nodes.
        caught(|t| {
            if let Some(ext) = t.root.ext.as_mut() {
                ext.below = ext.below.minus(Guarded::of(1000, 0));
            }
            Ok(())
        })
    }

    #[test]
    fn node_rules() -> Result {
        // Unknown mode bits.
        caught(|t| {
            node(t, b"/u/x")?.mode = 1 << 7;
            Ok(())
        })?;
        // A value over max_value_len.
        caught(|t| {
            t.limits.max_value_len = 0;
            Ok(())
        })?;
        // An ephemeral node with children.
        caught(|t| {
            node(t, b"/u")?.ext_mut()?.session = 7;
            Ok(())
        })?;
        // A node deeper than max_depth.
        caught(|t| {
            t.limits.max_depth = 1;
            Ok(())
        })?;
        // A name holding `/`.
        caught(|t| {
            let name = Name::copy(b"x/y")?;
            let reservation = RBTreeNodeReservation::new(GFP_KERNEL)?;
            let child = Node::new(None, t.sequence, 0, 0, uapi::MODE_ALL);
            let parent = node(t, b"/a")?.ext_mut()?;
            parent.children.insert(reservation.into_node(name, child));
            parent.num_children += 1;
            t.nodes += 1;
            t.bytes += 3;
            Ok(())
        })
    }

    #[test]
    fn events_and_teardown() -> Result {
        // The sequence moved past the last event.
        caught(|t| {
            t.sequence += 1;
            Ok(())
        })?;
        // The work stack of teardowns left with a level in it.
        caught(|t| {
            t.teardown.push(RBTree::new(), GFP_KERNEL)?;
            Ok(())
        })
    }
}
