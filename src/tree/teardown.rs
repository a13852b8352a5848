// SPDX-License-Identifier: GPL-2.0

//! Freeing nodes without recursion: subtrees through the tree's reserved work stack, and
//! [`Chain`]s of new nodes that were never linked in.

use core::mem;

use kernel::{
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
};

use super::{
    node::Node,
    Tree, //
};
use crate::{
    bytes::Name,
    num::FromSafeCast,
    path::Path,
    sched::Resched,
    value::Value, //
};

/// The attributes every node of a new [`Chain`] gets.
pub(super) struct NewNodes {
    /// The version of the change that creates them.
    pub(super) version: u64,
    /// Their creation time.
    pub(super) now: u64,
    /// Their owner's kernel uid.
    pub(super) owner: u32,
    /// Their access mode.
    pub(super) mode: u32,
}

/// New nodes built for a create before they are linked into the tree: each is the only child
/// of the one above it. A chain that is dropped without being linked frees itself, without
/// recursion, so an error while building or linking it needs no cleanup of its own.
pub(super) struct Chain {
    top: Node,
}

impl Chain {
    /// Builds the nodes of the components of `path` from index `existing` on (at least one): the
    /// last holds `value` (and belongs to the session `ephemeral`, if given), the others are
    /// parents without a value. Returns the first new component's name and a reservation to link
    /// the chain under its parent with.
    pub(super) fn build(
        path: &Path<'_>,
        existing: usize,
        value: Value,
        new: NewNodes,
        ephemeral: Option<u64>,
    ) -> Result<(Name, RBTreeNodeReservation<Name, Node>, Self)> {
        let mut missing = path.components().rev().take(path.depth() - existing);
        let mut chain_name = missing.next().ok_or(EINVAL)?;
        let mut chain = Self {
            top: Node::new(Some(value), new.version, new.now, new.owner, new.mode),
        };
        if let Some(session) = ephemeral {
            let ext = chain.top.ext_mut()?;
            ext.session = session;
            ext.path_len = u32::try_from(path.as_bytes().len()).map_err(|_| EINVAL)?;
        }
        loop {
            let name = Name::copy(chain_name)?;
            let reservation = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
            // `chain_name` is the first missing component: its parent exists in the tree.
            let Some(parent_name) = missing.next() else {
                return Ok((name, reservation, chain));
            };
            let mut parent = Node::new(None, new.version, new.now, new.owner, new.mode);
            let ext = parent.ext_mut()?;
            ext.children
                .insert(reservation.into_node(name, chain.into_node()));
            ext.num_children = 1;
            ext.child_version = new.version;
            chain = Self { top: parent };
            chain_name = parent_name;
        }
    }

    /// Takes the nodes out of the chain, to link them into the tree.
    pub(super) fn into_node(mut self) -> Node {
        mem::replace(&mut self.top, Node::new(None, 0, 0, 0, 0))
    }
}

impl From<Node> for Chain {
    /// A chain of nodes unlinked from the tree (a transaction's create being undone).
    fn from(top: Node) -> Self {
        Self { top }
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        // Each node has at most one child: free them from the top down, one at a time.
        let mut children = self.top.take_children();
        while let Some(cursor) = children.cursor_front_mut() {
            let (_, removed) = cursor.remove_current();
            let (_, mut node) = removed.to_key_value();
            children = node.take_children();
        }
    }
}

/// Frees every node of `children` and below without recursion, keeping the children of each
/// level on `stack` (which is left empty), and calls `f` with each node's name and the node
/// before it goes.
fn free_levels(
    stack: &mut KVVec<RBTree<Name, Node>>,
    children: RBTree<Name, Node>,
    mut f: impl FnMut(&Name, &Node),
) {
    let mut pending = Some(children);
    let mut resched = Resched::default();
    loop {
        resched.tick();
        if let Some(children) = pending.take() {
            if let Err(full) = stack.push_within_capacity(children) {
                // Deeper than `max_depth`, which the tree never is: free it recursively.
                drop(full);
            }
        }
        let Some(top) = stack.last_mut() else {
            break;
        };
        match top.cursor_front_mut() {
            Some(cursor) => {
                let (_, child) = cursor.remove_current();
                let (name, mut child) = child.to_key_value();
                f(&name, &child);
                let grandchildren = child.take_children();
                if !grandchildren.is_empty() {
                    pending = Some(grandchildren);
                }
            }
            None => {
                stack.pop();
            }
        }
    }
}

/// The nodes a delete took out of the tree, already returned to their owners' quotas and
/// counted out of the store's totals. They are freed when this is dropped: by the caller, after
/// it has released the store's lock, so that freeing a large subtree holds up nobody.
pub(crate) struct Subtree {
    /// The children of each level, for freeing without recursion: room for `max_depth + 1`
    /// levels is reserved before anything is taken out.
    stack: KVVec<RBTree<Name, Node>>,
}

impl Subtree {
    /// Nothing to free.
    pub(super) fn empty() -> Self {
        Self {
            stack: KVVec::new(),
        }
    }

    /// Room to free a subtree at most `max_depth` deep; allocated before the subtree is taken
    /// out, so that taking it out cannot fail.
    pub(super) fn reserve(max_depth: u32) -> Result<Self> {
        let levels = usize::from_safe_cast(max_depth) + 1;
        Ok(Self {
            stack: KVVec::with_capacity(levels, GFP_KERNEL_ACCOUNT)?,
        })
    }

    /// Room to free `subtrees` subtrees, each at most `max_depth` deep.
    pub(super) fn reserve_for(max_depth: u32, subtrees: usize) -> Result<Self> {
        let levels = usize::from_safe_cast(max_depth) + 1 + subtrees;
        Ok(Self {
            stack: KVVec::with_capacity(levels, GFP_KERNEL_ACCOUNT)?,
        })
    }

    /// Takes `children`, to be freed with everything below them.
    pub(super) fn hold(&mut self, children: RBTree<Name, Node>) {
        if children.is_empty() {
            return;
        }
        if let Err(full) = self.stack.push_within_capacity(children) {
            // There was room; otherwise they are freed here, recursively.
            drop(full);
        }
    }
}

impl Drop for Subtree {
    fn drop(&mut self) {
        while let Some(children) = self.stack.pop() {
            free_levels(&mut self.stack, children, |_, _| ());
        }
    }
}

/// Freeing subtrees.
impl Tree {
    /// Frees every node of `children` and below without recursion, using the reserved work
    /// stack, and with `account` returns each to its owner's quota. Returns the number of nodes
    /// and bytes (names and values) freed.
    pub(super) fn destroy_children(
        &mut self,
        children: RBTree<Name, Node>,
        account: bool,
    ) -> (u64, u64) {
        let mut nodes = 0u64;
        let mut bytes = 0u64;
        let ledger = &mut self.ledger;
        free_levels(&mut self.teardown, children, |name, child| {
            let own = child.charged_bytes(name.len());
            nodes += 1;
            bytes += own;
            if account {
                ledger.uncharge(child.owner, 1, own);
            }
        });
        (nodes, bytes)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let children = self.root.take_children();
        self.destroy_children(children, false);
    }
}
