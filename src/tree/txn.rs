// SPDX-License-Identifier: GPL-2.0

//! Transactions: a list of checks and changes applied all or nothing.
//!
//! The operations run one after the other through the tree's ordinary [`Tree::set`] and
//! [`Tree::delete`], which note in the [`Txn`] how to undo what they did: the value a set
//! replaced, the first node a set created, the subtree a delete took out (kept, not freed), and
//! each user's usage before a charge. When an operation fails, the notes are undone in reverse
//! order, which never allocates; when all succeed, each deleted node is returned to its owner's
//! quota, what was below it is handed back to be drained after the store's lock is released (as
//! a single delete's is, see [`Drain`]), and the changes are recorded for watchers. The changes
//! take consecutive versions, as they would one by one; nobody sees the store between them,
//! since the tree's lock is held throughout. Until it is drained, what a transaction's deletes
//! took out of the tree stays counted in the store's totals, for its later operations too.

use kernel::{
    prelude::*,
    rbtree::RBTreeNode, //
};

use super::{
    node::{
        Guarded,
        Node, //
    },
    teardown::Drain,
    SetOptions,
    Tree, //
};
use crate::{
    access::Caller,
    bytes::Name,
    error::{
        StoreError,
        StoreResult, //
    },
    events::Event,
    path::Path,
    quota::Snapshot,
    value::Value, //
};

/// One operation of a transaction.
pub(crate) enum TxnOp<'p> {
    /// The node must exist with this version (`ENOENT`, `ESTALE`).
    CheckVersion(Path<'p>, u64),
    /// The node must not exist (`EEXIST`).
    CheckAbsent(Path<'p>),
    /// [`Tree::set`] (neither ephemeral nor sequential).
    Set(Path<'p>, Option<Value>, SetOptions),
    /// [`Tree::delete`], not of `/`: recursive or not, at a version or not.
    Delete(Path<'p>, bool, Option<u64>),
}

impl TxnOp<'_> {
    fn path(&self) -> &Path<'_> {
        match self {
            Self::CheckVersion(path, _)
            | Self::CheckAbsent(path)
            | Self::Set(path, _, _)
            | Self::Delete(path, _, _) => path,
        }
    }

    fn changes(&self) -> bool {
        matches!(self, Self::Set(..) | Self::Delete(..))
    }
}

/// Why a transaction failed: which operation, and with what.
#[derive(Debug)]
pub(crate) struct TxnFailure {
    /// Index of the operation that failed; `None` when it failed before any ran (`ENOMEM`).
    pub(crate) index: Option<usize>,
    /// The operation's error. For `ESTALE`, the version the node has in the store as the failed
    /// transaction left it (that is, as before it).
    pub(crate) error: StoreError,
}

impl From<Error> for TxnFailure {
    /// A failure before any operation ran.
    fn from(error: Error) -> Self {
        Self {
            index: None,
            error: error.into(),
        }
    }
}

/// What a set replaced in an existing node.
pub(super) struct Replaced {
    pub(super) value: Option<Value>,
    pub(super) version: u64,
    pub(super) mtime_ns: u64,
    pub(super) mode: u32,
}

/// How to undo one change. The path is the operation's, found again by its index.
enum Undo {
    /// A set replaced the value of the node at the path.
    Replaced(usize, Replaced),
    /// A set created the path's components from this index on; their parent's `child_version`
    /// was this.
    Created(usize, usize, u64),
    /// A delete took this subtree out of its parent, whose `child_version` was this; the
    /// deleted node's owner and what it is charged, returned when the transaction commits; and
    /// its share of its ancestors' [`Guarded`].
    Deleted(usize, RBTreeNode<Name, Node>, u64, (u32, u64), Guarded),
}

/// A transaction in progress.
pub(crate) struct Txn {
    /// The operation running.
    op: usize,
    /// The store's counters before it.
    saved: (u64, u64, u64),
    /// One note per change, in order. Room for every change is reserved up front.
    undo: KVVec<Undo>,
    /// Each charged user's usage before the charge, in order.
    usages: KVVec<Snapshot>,
    /// The changes, recorded for watchers when it commits.
    events: KVVec<Event>,
    /// Room to drain every subtree it deletes, after the lock is released.
    freed: Drain,
}

impl Txn {
    pub(super) fn note_replaced(&mut self, old: Replaced) {
        let _ = self.undo.push_within_capacity(Undo::Replaced(self.op, old));
    }

    pub(super) fn note_created(&mut self, first_new: usize, child_version: u64) {
        let _ = self
            .undo
            .push_within_capacity(Undo::Created(self.op, first_new, child_version));
    }

    pub(super) fn note_deleted(
        &mut self,
        node: RBTreeNode<Name, Node>,
        child_version: u64,
        charged: (u32, u64),
        share: Guarded,
    ) {
        // Room was reserved for one note per change, so this keeps the subtree.
        let undo = Undo::Deleted(self.op, node, child_version, charged, share);
        if let Err(full) = self.undo.push_within_capacity(undo) {
            drop(full);
        }
    }

    pub(super) fn note_usage(&mut self, before: Snapshot) {
        let _ = self.usages.push_within_capacity(before);
    }

    pub(super) fn note_event(&mut self, event: Event) {
        let _ = self.events.push_within_capacity(event);
    }
}

impl Tree {
    /// Applies `ops` in order for `caller`, all or nothing. Returns the version of its last
    /// change (the current version if it only checks), and what it deleted, to be drained after
    /// the store's lock is released.
    pub(crate) fn transaction(
        &mut self,
        ops: &mut [TxnOp<'_>],
        caller: &Caller,
    ) -> Result<(u64, Drain), TxnFailure> {
        let early = |_| TxnFailure {
            index: None,
            error: ENOMEM.into(),
        };
        let changes = ops.iter().filter(|op| op.changes()).count();
        let deletes = ops
            .iter()
            .filter(|op| matches!(op, TxnOp::Delete(..)))
            .count();
        let freed = if deletes > 0 {
            self.reserve_draining()?;
            Drain::reserve(self.limits.max_depth, deletes)?
        } else {
            Drain::none()
        };
        let txn = Txn {
            op: 0,
            saved: (self.nodes, self.bytes, self.sequence),
            undo: KVVec::with_capacity(changes, GFP_KERNEL_ACCOUNT).map_err(early)?,
            usages: KVVec::with_capacity(changes, GFP_KERNEL_ACCOUNT).map_err(early)?,
            events: KVVec::with_capacity(changes, GFP_KERNEL_ACCOUNT).map_err(early)?,
            freed,
        };
        self.txn = Some(txn);
        for index in 0..ops.len() {
            let Some(op) = ops.get_mut(index) else {
                break;
            };
            if let Some(txn) = self.txn.as_mut() {
                txn.op = index;
            }
            if let Err(error) = self.apply(op, caller) {
                self.rollback(ops);
                let error = match error {
                    // The version the node has in the store, as the transaction left it.
                    StoreError::Stale { .. } => StoreError::Stale {
                        current: ops
                            .get(index)
                            .and_then(|op| self.version_of(op.path()))
                            .unwrap_or(0),
                    },
                    error => error,
                };
                return Err(TxnFailure {
                    index: Some(index),
                    error,
                });
            }
        }
        Ok((self.sequence, self.finish()))
    }

    fn apply(&mut self, op: &mut TxnOp<'_>, caller: &Caller) -> StoreResult {
        match op {
            TxnOp::CheckVersion(path, version) => {
                // Like stat, a check needs only the right to read the node's ancestors.
                let node = self.find(path, caller)?.ok_or(ENOENT)?;
                if node.version != *version {
                    return Err(StoreError::Stale {
                        current: node.version,
                    });
                }
                Ok(())
            }
            TxnOp::CheckAbsent(path) => match self.find(path, caller)? {
                Some(_) => Err(EEXIST.into()),
                None => Ok(()),
            },
            TxnOp::Set(path, value, opts) => {
                if opts.ephemeral.is_some() {
                    return Err(EINVAL.into());
                }
                // Each op is applied once: the value moves into the tree.
                let value = value.take().ok_or(EINVAL)?;
                self.set(path, value, *opts, caller).map(drop)
            }
            TxnOp::Delete(path, recursive, if_version) => {
                self.delete(path, *recursive, *if_version, caller).map(drop)
            }
        }
    }

    /// Undoes the changes noted so far, newest first. Never allocates.
    fn rollback(&mut self, ops: &[TxnOp<'_>]) {
        let Some(mut txn) = self.txn.take() else {
            return;
        };
        while let Some(undo) = txn.undo.pop() {
            match undo {
                Undo::Replaced(op, old) => {
                    let Some(op) = ops.get(op) else { continue };
                    if let Some(node) = self.root.descend_mut(op.path().components()) {
                        let (owner, mode) = (node.owner, node.mode);
                        node.value = old.value;
                        node.version = old.version;
                        node.mtime_ns = old.mtime_ns;
                        node.mode = old.mode;
                        self.guard_mode_change(op.path(), owner, mode, old.mode);
                    }
                }
                Undo::Created(op, first_new, child_version) => {
                    let Some(op) = ops.get(op) else { continue };
                    let path = op.path();
                    let Some(name) = path.components().nth(first_new) else {
                        continue;
                    };
                    let Some(parent) = self.root.descend_mut(path.components().take(first_new))
                    else {
                        continue;
                    };
                    if let Some((removed, _)) = parent.remove_child(name, child_version) {
                        let (_, mut chain) = removed.to_key_value();
                        self.guard_ancestors(path, first_new + 1, chain.guarded_share(), false);
                        let children = chain.take_children();
                        self.destroy_children(children, false);
                    }
                }
                Undo::Deleted(op, node, child_version, _, share) => {
                    let Some(op) = ops.get(op) else { continue };
                    let path = op.path();
                    let parents = path.components().take(path.depth().saturating_sub(1));
                    // The parent had the node as a child, so it has its `Ext`.
                    if let Some(parent) =
                        self.root.descend_mut(parents).and_then(|p| p.ext.as_mut())
                    {
                        // Its name is free again: what the transaction created there is undone.
                        if parent.children.insert(node).is_none() {
                            parent.num_children += 1;
                        }
                        parent.child_version = child_version;
                        self.guard_ancestors(path, path.depth(), share, true);
                    }
                }
            }
        }
        while let Some(snapshot) = txn.usages.pop() {
            self.ledger.restore(snapshot);
        }
        (self.nodes, self.bytes, self.sequence) = txn.saved;
    }

    /// Makes the transaction's changes final: returns the nodes it deleted to the quotas, and
    /// records its changes for watchers. Returns what was below them, to be drained after the
    /// lock is released.
    fn finish(&mut self) -> Drain {
        let Some(mut txn) = self.txn.take() else {
            return Drain::none();
        };
        while let Some(undo) = txn.undo.pop() {
            if let Undo::Deleted(_, node, _, (owner, bytes), _) = undo {
                self.ledger.uncharge(owner, 1, bytes);
                let (_, mut node) = node.to_key_value();
                txn.freed.hold(node.take_children());
            }
        }
        let sequence = self.sequence;
        self.start_drain(&mut txn.freed, sequence);
        for snapshot in txn.usages.iter() {
            self.ledger.prune_snapshot(snapshot);
        }
        for event in txn.events.drain_all() {
            self.events.record(event);
        }
        txn.freed
    }
}
