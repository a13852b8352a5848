// SPDX-License-Identifier: GPL-2.0

//! Per-user quotas: how many nodes and bytes each user owns.
//!
//! As with the kernel keyring's `maxkeys`/`maxbytes`, every node (but the root) and the bytes of
//! its name and value are charged to the node's owner, and a change that would take a user
//! other than root past `uid_max_nodes` or `uid_max_bytes` fails with `EDQUOT`. A change is
//! charged in two steps: [`Ledger::prepare`] checks the quota and allocates what the ledger needs
//! (it changes nothing), and [`Ledger::commit`] applies it and cannot fail.

use kernel::{
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
};

use crate::{
    access::ROOT_UID,
    error::edquot,
    limits::Limits, //
};

/// What one user owns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Nodes the user owns.
    pub(crate) nodes: u64,
    /// Bytes of the names and values of those nodes.
    pub(crate) bytes: u64,
}

impl Usage {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The usage of every user that owns something. Users that own nothing have no entry.
pub(crate) struct Ledger {
    owners: RBTree<u32, Usage>,
}

/// A charge checked against the quota, ready to be applied by [`Ledger::commit`].
pub(crate) struct Charge {
    uid: u32,
    after: Usage,
    /// Room for the user's entry when it has none yet.
    reservation: Option<RBTreeNodeReservation<u32, Usage>>,
}

impl Charge {
    /// The user charged.
    pub(crate) fn uid(&self) -> u32 {
        self.uid
    }
}

impl Ledger {
    /// An empty ledger.
    pub(crate) fn new() -> Self {
        Self {
            owners: RBTree::new(),
        }
    }

    /// What `uid` owns.
    pub(crate) fn usage(&self, uid: u32) -> Usage {
        self.owners.get(&uid).copied().unwrap_or_default()
    }

    /// Every user that owns something, in uid order, with what it owns.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&u32, &Usage)> {
        self.owners.iter()
    }

    /// Checks that `uid` may own `nodes` more nodes and `add` more bytes once `sub` bytes it owns
    /// are freed, and prepares the charge. Changes nothing.
    pub(crate) fn prepare(
        &self,
        uid: u32,
        nodes: u64,
        add: u64,
        sub: u64,
        limits: &Limits,
    ) -> Result<Charge> {
        let before = self.usage(uid);
        let after = Usage {
            nodes: before.nodes.checked_add(nodes).ok_or_else(edquot)?,
            bytes: before
                .bytes
                .checked_sub(sub)
                .and_then(|b| b.checked_add(add))
                .ok_or_else(edquot)?,
        };
        if uid != ROOT_UID
            && ((after.nodes > limits.uid_max_nodes && after.nodes > before.nodes)
                || (after.bytes > limits.uid_max_bytes && after.bytes > before.bytes))
        {
            return Err(edquot());
        }
        let reservation = if self.owners.get(&uid).is_none() && !after.is_empty() {
            Some(RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?)
        } else {
            None
        };
        Ok(Charge {
            uid,
            after,
            reservation,
        })
    }

    /// Applies a prepared charge. Nothing may have changed the user's usage since
    /// [`Ledger::prepare`]: the caller holds the store's lock throughout.
    pub(crate) fn commit(&mut self, charge: Charge) {
        let uid = charge.uid;
        self.commit_keeping(charge);
        self.prune(uid);
    }

    /// Applies a prepared charge like [`Ledger::commit`], but keeps the user's entry even when
    /// it becomes empty, so that a transaction can restore it without allocating; the
    /// transaction then calls [`Ledger::restore`] or [`Ledger::prune`].
    pub(crate) fn commit_keeping(&mut self, charge: Charge) {
        match self.owners.get_mut(&charge.uid) {
            Some(usage) => *usage = charge.after,
            None => {
                if let Some(reservation) = charge.reservation {
                    self.owners
                        .insert(reservation.into_node(charge.uid, charge.after));
                }
            }
        }
    }

    /// Sets what `uid` owns back to `usage` (removing the entry when empty). Never allocates:
    /// an entry that is missing is left missing, which only happens for an empty `usage`.
    pub(crate) fn restore(&mut self, uid: u32, usage: Usage) {
        if usage.is_empty() {
            self.owners.remove(&uid);
        } else if let Some(entry) = self.owners.get_mut(&uid) {
            *entry = usage;
        }
    }

    /// Removes the entry of `uid` if it owns nothing.
    pub(crate) fn prune(&mut self, uid: u32) {
        if self.usage(uid).is_empty() {
            self.owners.remove(&uid);
        }
    }

    /// Returns `nodes` nodes and `bytes` bytes that `uid` no longer owns. Never fails; an entry
    /// that would go below zero is clamped, which the consistency check then reports.
    pub(crate) fn uncharge(&mut self, uid: u32, nodes: u64, bytes: u64) {
        let Some(usage) = self.owners.get_mut(&uid) else {
            return;
        };
        usage.nodes = usage.nodes.saturating_sub(nodes);
        usage.bytes = usage.bytes.saturating_sub(bytes);
        if usage.is_empty() {
            self.owners.remove(&uid);
        }
    }
}
