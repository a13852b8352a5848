// SPDX-License-Identifier: GPL-2.0

//! Freeing nodes without recursion: subtrees through the tree's reserved work stack, deleted
//! subtrees a batch at a time ([`Drain`]), and [`Chain`]s of new nodes that were never linked
//! in.

use core::mem;

use kernel::{
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
};

use super::{
    node::{
        Guarded,
        Node, //
    },
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
            ext.below = chain.guarded_share();
            ext.children
                .insert(reservation.into_node(name, chain.into_node()));
            ext.num_children = 1;
            ext.child_version = new.version;
            chain = Self { top: parent };
            chain_name = parent_name;
        }
    }

    /// What the chain adds to the [`Guarded`] of the nodes it is linked below.
    pub(super) fn guarded_share(&self) -> Guarded {
        self.top.guarded_share()
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

/// Nodes a drain step takes out of a subtree, at most, while it holds the store's lock.
pub(crate) const DRAIN_BATCH: usize = 256;

/// A subtree a delete took out of the tree, whose nodes are still counted in the store's totals
/// and charged to their owners until [`Tree::drain`] takes them out, a batch at a time.
pub(super) struct Draining {
    /// The version of the delete that took it out: which [`Drain`] drains it.
    id: u64,
    /// The children of each level still to drain, for draining without recursion: room for
    /// every level is reserved before anything is taken out.
    stack: KVVec<RBTree<Name, Node>>,
}

impl Draining {
    /// The subtrees still to drain.
    pub(super) fn forests(&self) -> impl Iterator<Item = &RBTree<Name, Node>> {
        self.stack.iter()
    }
}

/// What a delete leaves to its caller once the store's lock is released: draining the subtree
/// it took out of the tree ([`crate::store::Store::drain`]), and the room that is done in.
///
/// The delete returns only the deleted node itself to its owner's quota and counts only it out
/// of the store's totals; everything below it stays counted and charged, on the tree's list of
/// subtrees being drained, until a drain step takes it out. So the lock is never held for a walk
/// of the subtree: each step takes at most [`DRAIN_BATCH`] nodes, and frees them after releasing
/// the lock.
#[must_use = "what a delete took out stays charged until it is drained"]
pub(crate) struct Drain {
    /// The delete's version, under which its subtree is on the tree's list; 0 once nothing is
    /// left to drain.
    id: u64,
    /// Until the delete commits, the subtree's entry for the tree's list, with its room.
    entry: Option<Draining>,
    /// The nodes the last step took out, to free without the lock.
    batch: KVVec<(Name, Node)>,
}

impl Drain {
    /// Nothing to drain.
    pub(super) fn none() -> Self {
        Self {
            id: 0,
            entry: None,
            batch: KVVec::new(),
        }
    }

    /// Room to drain `subtrees` subtrees, each at most `max_depth` deep, as one: allocated before
    /// the delete changes anything, so that taking them out cannot fail.
    pub(super) fn reserve(max_depth: u32, subtrees: usize) -> Result<Self> {
        let levels = usize::from_safe_cast(max_depth) + 1 + subtrees;
        Ok(Self {
            id: 0,
            entry: Some(Draining {
                id: 0,
                stack: KVVec::with_capacity(levels, GFP_KERNEL_ACCOUNT)?,
            }),
            batch: KVVec::with_capacity(DRAIN_BATCH, GFP_KERNEL_ACCOUNT)?,
        })
    }

    /// Takes `children`, taken out of the tree but still counted and charged, to be drained.
    pub(super) fn hold(&mut self, children: RBTree<Name, Node>) {
        if children.is_empty() {
            return;
        }
        if let Some(entry) = self.entry.as_mut() {
            if let Err(full) = entry.stack.push_within_capacity(children) {
                // There was room; otherwise they are freed here, recursively.
                drop(full);
            }
        }
    }

    /// Whether nothing is left to drain.
    pub(crate) fn is_done(&self) -> bool {
        self.id == 0
    }

    /// Frees the nodes the last step took out. Call it without the store's lock.
    pub(crate) fn free_batch(&mut self) {
        self.batch.clear();
    }
}

/// Draining deleted subtrees.
impl Tree {
    /// Room on the list of subtrees being drained for one more, made before a delete changes
    /// anything.
    pub(super) fn reserve_draining(&mut self) -> Result {
        Ok(self.draining.reserve(1, GFP_KERNEL_ACCOUNT)?)
    }

    /// Puts what `drain` holds on the list of subtrees being drained, as the delete `id` (which
    /// made room for it with [`Tree::reserve_draining`]).
    pub(super) fn start_drain(&mut self, drain: &mut Drain, id: u64) {
        let Some(mut entry) = drain.entry.take().filter(|e| !e.stack.is_empty()) else {
            return;
        };
        entry.id = id;
        if let Err(full) = self.draining.push_within_capacity(entry) {
            // There was room; otherwise it is freed here, still charged, which CHECK reports.
            drop(full);
            return;
        }
        drain.id = id;
    }

    /// Takes up to [`DRAIN_BATCH`] nodes of the subtree `drain` drains out of the tree's list,
    /// returns them to their owners' quotas and counts them out of the store's totals, and moves
    /// them to `drain`'s batch, to be freed once the lock is released. Marks `drain` done when
    /// nothing is left.
    pub(crate) fn drain(&mut self, drain: &mut Drain) {
        let Some(i) = self.draining.iter().position(|d| d.id == drain.id) else {
            drain.id = 0;
            return;
        };
        let Some(entry) = self.draining.get_mut(i) else {
            return;
        };
        while drain.batch.len() < DRAIN_BATCH {
            let Some(top) = entry.stack.last_mut() else {
                break;
            };
            let Some(cursor) = top.cursor_front_mut() else {
                entry.stack.pop();
                continue;
            };
            let (_, child) = cursor.remove_current();
            let (name, mut child) = child.to_key_value();
            let own = child.charged_bytes(name.len());
            self.ledger.uncharge(child.owner, 1, own);
            self.nodes = self.nodes.saturating_sub(1);
            self.bytes = self.bytes.saturating_sub(own);
            let grandchildren = child.take_children();
            if !grandchildren.is_empty() {
                if let Err(full) = entry.stack.push_within_capacity(grandchildren) {
                    // Deeper than was reserved for, which the tree never is.
                    drop(full);
                }
            }
            if let Err(full) = drain.batch.push_within_capacity((name, child)) {
                // The batch has room for a step.
                drop(full);
            }
        }
        if entry.stack.is_empty() {
            let _ = self.draining.remove(i);
            drain.id = 0;
        }
    }
}

/// Deleting and draining at once, for tests.
#[cfg(CONFIG_KUNIT)]
impl Tree {
    /// Drains all of `drain` without releasing anything in between.
    pub(super) fn drain_all(&mut self, mut drain: Drain) {
        while !drain.is_done() {
            self.drain(&mut drain);
            drain.free_batch();
        }
    }

    /// [`Tree::delete`], and drains what it took out.
    pub(super) fn delete_drained(
        &mut self,
        path: &Path<'_>,
        recursive: bool,
        if_version: Option<u64>,
        caller: &crate::access::Caller,
    ) -> crate::error::StoreResult {
        let drain = self.delete(path, recursive, if_version, caller)?;
        self.drain_all(drain);
        Ok(())
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
        while let Some(mut entry) = self.draining.pop() {
            while let Some(children) = entry.stack.pop() {
                self.destroy_children(children, false);
            }
        }
    }
}
