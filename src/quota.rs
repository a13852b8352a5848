// SPDX-License-Identifier: GPL-2.0

//! Per-user quotas: how many nodes and bytes each user owns, and each account is charged.
//!
//! As with the kernel keyring's `maxkeys`/`maxbytes`, every node (but the root) and the bytes of
//! its name and value are charged to the node's owner, as a file's blocks are charged to the
//! file's owner: a value written into another user's writable node is the node owner's.
//!
//! Users are charged through their account, as the kernel's per-namespace counters (`ucounts`)
//! charge a user namespace to its owner: a user of the initial user namespace is its own
//! account, and every user of a user namespace (and of the namespaces below it) is charged to the
//! user that created the outermost namespace below the initial one. So the 65536 subuids of a
//! rootless container share their creator's quota. A user's account is recorded when the user
//! first owns something, and kept while it owns anything.
//!
//! A change made by a caller without `CAP_SYS_ADMIN` that would take the account charged past
//! `uid_max_nodes` or `uid_max_bytes` fails with `EDQUOT`, whoever the account is (root's
//! included); `CAP_SYS_ADMIN` is not limited. A change is charged in two steps:
//! [`Ledger::prepare`] checks the quota and allocates what the ledger needs (it changes nothing),
//! and [`Ledger::commit`] applies it and cannot fail.

use kernel::{
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
};

use crate::{
    error::edquot,
    limits::Limits, //
};

/// What one user owns, or one account is charged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Nodes.
    pub(crate) nodes: u64,
    /// Bytes of the names and values of those nodes.
    pub(crate) bytes: u64,
}

impl Usage {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// This usage after `delta`.
    fn after(self, delta: Delta) -> Result<Self> {
        Ok(Self {
            nodes: self.nodes.checked_add(delta.nodes).ok_or_else(edquot)?,
            bytes: self
                .bytes
                .checked_sub(delta.sub)
                .and_then(|b| b.checked_add(delta.add))
                .ok_or_else(edquot)?,
        })
    }

    fn less(&mut self, nodes: u64, bytes: u64) {
        self.nodes = self.nodes.saturating_sub(nodes);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

/// A change of usage: `nodes` nodes and `add` bytes more, `sub` bytes less.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Delta {
    /// Nodes added.
    pub(crate) nodes: u64,
    /// Bytes added.
    pub(crate) add: u64,
    /// Bytes freed.
    pub(crate) sub: u64,
}

/// What one user owns, and the account it is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owned {
    /// What the user owns.
    pub(crate) usage: Usage,
    /// The kernel uid of the account the user is charged to.
    pub(crate) account: u32,
}

/// The usage of every user that owns something, and of every account charged for something.
/// Users and accounts without anything have no entry.
pub(crate) struct Ledger {
    owners: RBTree<u32, Owned>,
    accounts: RBTree<u32, Usage>,
}

/// A charge checked against the quota, ready to be applied by [`Ledger::commit`].
pub(crate) struct Charge {
    uid: u32,
    account: u32,
    owner_after: Usage,
    account_after: Usage,
    /// Room for the user's entry when it has none yet.
    owner_room: Option<RBTreeNodeReservation<u32, Owned>>,
    /// Room for the account's entry when it has none yet.
    account_room: Option<RBTreeNodeReservation<u32, Usage>>,
}

/// A user's and its account's usage before a charge, to put back with [`Ledger::restore`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    uid: u32,
    account: u32,
    owner: Usage,
    charged: Usage,
}

impl Ledger {
    /// An empty ledger.
    pub(crate) fn new() -> Self {
        Self {
            owners: RBTree::new(),
            accounts: RBTree::new(),
        }
    }

    /// What `uid` owns.
    pub(crate) fn usage(&self, uid: u32) -> Usage {
        self.owners.get(&uid).map(|o| o.usage).unwrap_or_default()
    }

    /// What the account `account` is charged.
    pub(crate) fn charged(&self, account: u32) -> Usage {
        self.accounts.get(&account).copied().unwrap_or_default()
    }

    /// Every user that owns something, in uid order, with what it owns and its account.
    pub(crate) fn owners(&self) -> impl Iterator<Item = (&u32, &Owned)> {
        self.owners.iter()
    }

    /// Every account charged for something, in uid order, with what it is charged.
    pub(crate) fn accounts(&self) -> impl Iterator<Item = (&u32, &Usage)> {
        self.accounts.iter()
    }

    /// Checks that `uid` may own what `delta` adds once what it frees is freed, and prepares the
    /// charge. The user is charged to the account it already has,
    /// or else to `account`. Unless `exempt` (the caller holds `CAP_SYS_ADMIN`), the account
    /// must stay within the quota, or not grow (`EDQUOT`). Changes nothing.
    pub(crate) fn prepare(
        &self,
        uid: u32,
        account: u32,
        delta: Delta,
        limits: &Limits,
        exempt: bool,
    ) -> Result<Charge> {
        let owned = self.owners.get(&uid);
        let account = owned.map_or(account, |o| o.account);
        let owner_after = owned.map(|o| o.usage).unwrap_or_default().after(delta)?;
        let before = self.charged(account);
        let account_after = before.after(delta)?;
        if !exempt
            && ((account_after.nodes > limits.uid_max_nodes && account_after.nodes > before.nodes)
                || (account_after.bytes > limits.uid_max_bytes
                    && account_after.bytes > before.bytes))
        {
            return Err(edquot());
        }
        let owner_room = match owned {
            None if !owner_after.is_empty() => {
                Some(RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?)
            }
            _ => None,
        };
        let account_room = if self.accounts.get(&account).is_none() && !account_after.is_empty() {
            Some(RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?)
        } else {
            None
        };
        Ok(Charge {
            uid,
            account,
            owner_after,
            account_after,
            owner_room,
            account_room,
        })
    }

    /// The usage a charge would replace, for [`Ledger::restore`].
    pub(crate) fn snapshot(&self, charge: &Charge) -> Snapshot {
        Snapshot {
            uid: charge.uid,
            account: charge.account,
            owner: self.usage(charge.uid),
            charged: self.charged(charge.account),
        }
    }

    /// Applies a prepared charge. Nothing may have changed the ledger since
    /// [`Ledger::prepare`]: the caller holds the store's lock throughout.
    pub(crate) fn commit(&mut self, charge: Charge) {
        let (uid, account) = (charge.uid, charge.account);
        self.commit_keeping(charge);
        self.prune(uid, account);
    }

    /// Applies a prepared charge like [`Ledger::commit`], but keeps the entries even when they
    /// become empty, so that a transaction can restore them without allocating; the transaction
    /// then calls [`Ledger::restore`] or [`Ledger::prune`].
    pub(crate) fn commit_keeping(&mut self, charge: Charge) {
        let owned = Owned {
            usage: charge.owner_after,
            account: charge.account,
        };
        match self.owners.get_mut(&charge.uid) {
            Some(entry) => *entry = owned,
            None => {
                if let Some(room) = charge.owner_room {
                    self.owners.insert(room.into_node(charge.uid, owned));
                }
            }
        }
        match self.accounts.get_mut(&charge.account) {
            Some(entry) => *entry = charge.account_after,
            None => {
                if let Some(room) = charge.account_room {
                    self.accounts
                        .insert(room.into_node(charge.account, charge.account_after));
                }
            }
        }
    }

    /// Sets a user's and its account's usage back to a snapshot (removing entries that become
    /// empty). Never allocates: an entry that is missing is left missing, which only happens
    /// when its usage in the snapshot is empty.
    pub(crate) fn restore(&mut self, snapshot: Snapshot) {
        if snapshot.owner.is_empty() {
            self.owners.remove(&snapshot.uid);
        } else if let Some(entry) = self.owners.get_mut(&snapshot.uid) {
            entry.usage = snapshot.owner;
        }
        if snapshot.charged.is_empty() {
            self.accounts.remove(&snapshot.account);
        } else if let Some(entry) = self.accounts.get_mut(&snapshot.account) {
            *entry = snapshot.charged;
        }
    }

    /// Removes the entries of `uid` and `account` that are empty.
    fn prune(&mut self, uid: u32, account: u32) {
        if self.usage(uid).is_empty() {
            self.owners.remove(&uid);
        }
        if self.charged(account).is_empty() {
            self.accounts.remove(&account);
        }
    }

    /// Removes the entries of a snapshot's user and account that are empty.
    pub(crate) fn prune_snapshot(&mut self, snapshot: &Snapshot) {
        self.prune(snapshot.uid, snapshot.account);
    }

    /// Returns `nodes` nodes and `bytes` bytes that `uid` no longer owns, to it and to its
    /// account. Never fails; an entry that would go below zero is clamped, which the
    /// consistency check then reports.
    pub(crate) fn uncharge(&mut self, uid: u32, nodes: u64, bytes: u64) {
        let Some(owned) = self.owners.get_mut(&uid) else {
            return;
        };
        owned.usage.less(nodes, bytes);
        let account = owned.account;
        if let Some(charged) = self.accounts.get_mut(&account) {
            charged.less(nodes, bytes);
        }
        self.prune(uid, account);
    }

    /// Charges `account` `bytes` bytes more than its users own: a corruption, for the
    /// consistency check's tests.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn charge_account(&mut self, account: u32, bytes: u64) {
        if let Some(usage) = self.accounts.get_mut(&account) {
            usage.bytes += bytes;
        } else if let Ok(room) = RBTreeNodeReservation::new(GFP_KERNEL) {
            self.accounts
                .insert(room.into_node(account, Usage { nodes: 0, bytes }));
        }
    }
}

/// Bytes of each open file's pending text response that it holds free of charge: a listing's
/// page (2 KiB of names, at most four times as many once escaped) always fits, as do the
/// responses of `stat`, `stats`, `watch` and `seq` in any store of default limits.
pub(crate) const PENDING_FREE: usize = 8192;

/// The bytes of pending text responses each account is charged, beyond [`PENDING_FREE`] a file.
///
/// A caller without `CAP_SYS_ADMIN` whose account's pending responses would go past
/// `uid_max_bytes` gets `EDQUOT` for the command (apart from, and in addition to, what its nodes
/// are charged): one user's unread responses, however many files it opens, hold at most
/// `uid_max_bytes` plus [`PENDING_FREE`] a file. Kept under a lock of its own, apart from the
/// tree's: a response is charged and released without the tree.
pub(crate) struct Pending {
    accounts: RBTree<u32, u64>,
}

impl Pending {
    /// No pending response charged.
    pub(crate) fn new() -> Self {
        Self {
            accounts: RBTree::new(),
        }
    }

    /// What `account`'s pending responses are charged.
    pub(crate) fn charged(&self, account: u32) -> u64 {
        self.accounts.get(&account).copied().unwrap_or(0)
    }

    /// Charges `account` `bytes` more, within `limit` unless `exempt` (`EDQUOT`). `room`, made
    /// before the lock was taken, holds the account's entry when it has none yet.
    pub(crate) fn charge(
        &mut self,
        account: u32,
        bytes: u64,
        limit: u64,
        exempt: bool,
        room: RBTreeNodeReservation<u32, u64>,
    ) -> Result {
        let after = self
            .charged(account)
            .checked_add(bytes)
            .ok_or_else(edquot)?;
        if after > limit && !exempt {
            return Err(edquot());
        }
        match self.accounts.get_mut(&account) {
            Some(entry) => *entry = after,
            None => {
                self.accounts.insert(room.into_node(account, after));
            }
        }
        Ok(())
    }

    /// Returns `bytes` that `account`'s pending responses no longer hold.
    pub(crate) fn release(&mut self, account: u32, bytes: u64) {
        if let Some(entry) = self.accounts.get_mut(&account) {
            *entry = entry.saturating_sub(bytes);
            if *entry == 0 {
                self.accounts.remove(&account);
            }
        }
    }
}

#[kunit_tests(pathstore_quota)]
mod tests {
    use super::*;

    fn room() -> Result<RBTreeNodeReservation<u32, u64>> {
        RBTreeNodeReservation::new(GFP_KERNEL)
    }

    #[test]
    fn pending_responses_are_held_to_the_limit() -> Result {
        let mut p = Pending::new();
        p.charge(1000, 600, 1024, false, room()?)?;
        p.charge(1000, 424, 1024, false, room()?)?;
        assert_eq!(p.charged(1000), 1024);
        // One byte more fails and changes nothing; other accounts are apart.
        assert_eq!(p.charge(1000, 1, 1024, false, room()?), Err(edquot()));
        assert_eq!(p.charged(1000), 1024);
        p.charge(1001, 1024, 1024, false, room()?)?;
        // CAP_SYS_ADMIN is not limited.
        p.charge(1000, 4096, 1024, true, room()?)?;
        assert_eq!(p.charged(1000), 5120);
        Ok(())
    }

    #[test]
    fn released_pending_responses_leave_no_entry() -> Result {
        let mut p = Pending::new();
        p.charge(7, 100, 1024, false, room()?)?;
        p.release(7, 60);
        assert_eq!(p.charged(7), 40);
        p.release(7, 40);
        assert!(p.accounts.get(&7).is_none());
        // Releasing what is not charged is clamped, and leaves no entry either.
        p.release(7, 10);
        p.release(8, 10);
        assert!(p.accounts.iter().next().is_none());
        p.charge(7, 1024, 1024, false, room()?)?;
        Ok(())
    }
}
