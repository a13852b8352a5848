// SPDX-License-Identifier: GPL-2.0

//! Changes: sets, sequential creates, deletes and the removal of ephemeral nodes.
//!
//! Each change first checks everything that can fail and allocates everything it needs into a
//! [`Prepared`] change, then applies it in one step that cannot fail ([`Tree::commit`]): the quota
//! charge, the event for watchers, the node and byte totals and the sequence number.

use core::mem;

use kernel::{
    prelude::*,
    rbtree::{
        Entry as RBTreeEntry,
        RBTreeNode, //
    },
};

use super::{
    node::{
        now_ns,
        Guarded,
        Node, //
    },
    teardown::{
        Chain,
        Drain,
        NewNodes, //
    },
    Tree,
};
use crate::{
    access::Caller,
    bytes::Name,
    error::{
        enotempty,
        StoreError,
        StoreResult, //
    },
    events::{
        Event,
        EventKind, //
    },
    num::{
        FromSafeCast,
        IntoSafeCast, //
    },
    path::Path,
    quota::{
        Charge,
        Delta, //
    },
    uapi,
    value::Value, //
};

/// What [`Tree::set`] may do beyond setting a value.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SetOptions {
    /// Fail with `EEXIST` if the node exists.
    pub(crate) create_only: bool,
    /// The access mode of the nodes created, and of the node itself (valid mode bits only: the
    /// ABI layer checks them).
    pub(crate) mode: Option<u32>,
    /// Replace the value only if the node has this version (`ESTALE` otherwise, `ENOENT` if it
    /// does not exist).
    pub(crate) if_version: Option<u64>,
    /// Create the node as an ephemeral node of this session (implies `create_only`).
    pub(crate) ephemeral: Option<u64>,
}

/// What [`Tree::set_sequential`] created.
pub(crate) struct Sequential {
    /// The new node's version.
    pub(crate) version: u64,
    /// The number appended to its name.
    pub(crate) number: u64,
    /// Its path.
    pub(crate) path: KVVec<u8>,
}

/// A change that has been checked and has everything it needs allocated: committing it cannot
/// fail.
struct Prepared {
    /// The version the change takes.
    seq: u64,
    /// The node total after it.
    nodes: u64,
    /// The byte total after it.
    bytes: u64,
    /// The quota charge it makes, if any.
    charge: Option<Charge>,
    /// What watchers are told.
    event: Event,
}

/// What [`Tree::replace`] did.
enum Replace {
    /// The node existed and has this new version.
    Done(u64),
    /// The node does not exist: the value is handed back.
    Absent(Value),
}

/// Checks that `caller` may delete every node below `top` (`EACCES`): that it holds
/// `CAP_SYS_ADMIN`, or owns every node below that others may not write. Known from `top`'s
/// [`Guarded`], without a walk.
fn may_delete_below(top: &Node, caller: &Caller) -> Result {
    if caller.admin || top.guarded_below().all_owned_by(caller.uid) {
        Ok(())
    } else {
        Err(EACCES)
    }
}

/// How much of a store limit of `max`, of which `reserve` is kept for `CAP_SYS_ADMIN`, `caller`
/// may fill.
fn room_for(caller: &Caller, max: u64, reserve: u64) -> u64 {
    if caller.admin {
        max
    } else {
        max.saturating_sub(reserve)
    }
}

/// Keeping each node's [`Guarded`], the nodes below it that others may not write.
impl Tree {
    /// Adds `share` to (with `add` false, takes it from) the [`Guarded`] of every ancestor of the
    /// node at depth `depth` of `path`: the root and the components before the node's. O(depth).
    pub(super) fn guard_ancestors(
        &mut self,
        path: &Path<'_>,
        depth: usize,
        share: Guarded,
        add: bool,
    ) {
        if depth == 0 || share == Guarded::default() {
            return;
        }
        let update = |node: &mut Node| {
            if let Some(ext) = node.ext.as_mut() {
                ext.below = if add {
                    ext.below.plus(share)
                } else {
                    ext.below.minus(share)
                };
            }
        };
        let mut node = &mut self.root;
        update(node);
        for c in path.components().take(depth - 1) {
            let Some(child) = node.child_mut(c) else {
                return;
            };
            node = child;
            update(node);
        }
    }

    /// Moves the node at `path` (of owner `owner`) from mode `old` to mode `new` in its
    /// ancestors' [`Guarded`].
    pub(super) fn guard_mode_change(&mut self, path: &Path<'_>, owner: u32, old: u32, new: u32) {
        let (before, after) = (Guarded::of(owner, old), Guarded::of(owner, new));
        if before != after {
            self.guard_ancestors(path, path.depth(), before, false);
            self.guard_ancestors(path, path.depth(), after, true);
        }
    }
}

/// Committing: the one step that applies a prepared change.
impl Tree {
    /// The version the next change takes.
    fn next_version(&self) -> u64 {
        self.sequence + 1
    }

    /// Applies a prepared quota charge, noting in a transaction what it replaces.
    fn commit_charge(&mut self, charge: Charge) {
        match self.txn.as_mut() {
            Some(txn) => {
                txn.note_usage(self.ledger.snapshot(&charge));
                self.ledger.commit_keeping(charge);
            }
            None => self.ledger.commit(charge),
        }
    }

    /// Records a change for watchers; a transaction records its changes when it commits.
    fn record(&mut self, event: Event) {
        match self.txn.as_mut() {
            Some(txn) => txn.note_event(event),
            None => self.events.record(event),
        }
    }

    /// Applies a prepared change. Cannot fail.
    fn commit(&mut self, change: Prepared) {
        if let Some(charge) = change.charge {
            self.commit_charge(charge);
        }
        let mut event = change.event;
        event.visibility = self.visibility(&event.path);
        self.record(event);
        self.nodes = change.nodes;
        self.bytes = change.bytes;
        self.sequence = change.seq;
    }

    /// Commits the removal of `freed` nodes and bytes (already returned to their owners'
    /// quotas) as the change `seq`.
    fn commit_removal(&mut self, seq: u64, freed: (u64, u64), event: Event) {
        let (nodes, bytes) = freed;
        self.commit(Prepared {
            seq,
            nodes: self.nodes.saturating_sub(nodes),
            bytes: self.bytes.saturating_sub(bytes),
            charge: None,
            event,
        });
    }
}

/// Setting: create or replace a value.
impl Tree {
    /// Sets the value of the node at `path` for `caller`, creating it and its missing parents,
    /// as `opts` allow (see [`SetOptions`]). With a mode, the nodes created get that access mode,
    /// and so does the node itself if it exists. Returns the node's new version.
    pub(crate) fn set(
        &mut self,
        path: &Path<'_>,
        value: Value,
        opts: SetOptions,
        caller: &Caller,
    ) -> StoreResult<u64> {
        let seq = self.next_version();
        let now = now_ns();
        match self.replace(path, value, opts, caller, seq, now)? {
            Replace::Done(version) => Ok(version),
            Replace::Absent(value) => self.create(path, value, opts, caller, seq, now),
        }
    }

    /// The node at `path` exists: checks and prepares, then changes it in place, in one walk.
    fn replace(
        &mut self,
        path: &Path<'_>,
        value: Value,
        opts: SetOptions,
        caller: &Caller,
        seq: u64,
        now: u64,
    ) -> StoreResult<Replace> {
        let Some(node) = self.root.descend_mut(path.components()) else {
            return Ok(Replace::Absent(value));
        };
        if opts.create_only || opts.ephemeral.is_some() {
            return Err(EEXIST.into());
        }
        caller.may_write(node.owner, node.mode)?;
        if opts.mode.is_some() && !caller.owns(node.owner) {
            return Err(EPERM.into());
        }
        if opts.if_version.is_some_and(|v| v != node.version) {
            return Err(StoreError::Stale {
                current: node.version,
            });
        }
        let old_len = node.value_len();
        let value_len = value.len().into_safe_cast();
        let bytes = self
            .bytes
            .saturating_sub(old_len)
            .checked_add(value_len)
            .filter(|&b| b <= self.limits.max_bytes)
            .ok_or(ENOSPC)?;
        if bytes > room_for(caller, self.limits.max_bytes, self.limits.reserve_bytes)
            && bytes > self.bytes
        {
            return Err(ENOSPC.into());
        }
        let charge = self.ledger.prepare(
            node.owner,
            node.owner,
            Delta {
                nodes: 0,
                add: value_len,
                sub: old_len,
            },
            &self.limits,
            caller.admin,
        )?;
        let event = Event::new(seq, EventKind::Changed, path)?;
        let old = super::txn::Replaced {
            value: node.value.replace(value),
            version: node.version,
            mtime_ns: node.mtime_ns,
            mode: node.mode,
        };
        node.version = seq;
        node.mtime_ns = now;
        if let Some(mode) = opts.mode {
            node.mode = mode;
        }
        let (owner, old_mode, new_mode) = (node.owner, old.mode, node.mode);
        self.guard_mode_change(path, owner, old_mode, new_mode);
        if let Some(txn) = self.txn.as_mut() {
            txn.note_replaced(old);
        }
        self.commit(Prepared {
            seq,
            nodes: self.nodes,
            bytes,
            charge: Some(charge),
            event,
        });
        Ok(Replace::Done(seq))
    }

    /// The node at `path` does not exist: checks the permission and the limits, builds the
    /// missing nodes as a detached [`Chain`] (the only step that allocates), then links the chain
    /// in, which cannot fail.
    fn create(
        &mut self,
        path: &Path<'_>,
        value: Value,
        opts: SetOptions,
        caller: &Caller,
        seq: u64,
        now: u64,
    ) -> StoreResult<u64> {
        if opts.if_version.is_some() {
            return Err(ENOENT.into());
        }
        let existing = self.may_create_below(path, caller)?;
        let new_nodes = u64::from_safe_cast(path.depth() - existing);
        let mut names_len: u64 = path
            .components()
            .skip(existing)
            .map(|c| u64::from_safe_cast(c.len()))
            .sum();
        // An ephemeral node is charged its whole path rather than its name: its session keeps
        // a copy, to remove it.
        if opts.ephemeral.is_some() {
            let name_len = path.name().map_or(0, |name| name.len());
            names_len = names_len - u64::from_safe_cast(name_len)
                + u64::from_safe_cast(path.as_bytes().len());
        }
        let nodes = self
            .nodes
            .checked_add(new_nodes)
            .filter(|&n| n <= room_for(caller, self.limits.max_nodes, self.limits.reserve_nodes))
            .ok_or(ENOSPC)?;
        let added = names_len
            .checked_add(value.len().into_safe_cast())
            .ok_or(ENOSPC)?;
        let bytes = self
            .bytes
            .checked_add(added)
            .filter(|&b| b <= room_for(caller, self.limits.max_bytes, self.limits.reserve_bytes))
            .ok_or(ENOSPC)?;
        let charge = self.ledger.prepare(
            caller.uid,
            caller.account,
            Delta {
                nodes: new_nodes,
                add: added,
                sub: 0,
            },
            &self.limits,
            caller.admin,
        )?;
        let event = Event::created(seq, path, existing)?;
        let new = NewNodes {
            version: seq,
            now,
            owner: caller.uid,
            mode: opts.mode.unwrap_or(uapi::MODE_DEFAULT),
        };
        let (name, reservation, chain) = Chain::build(path, existing, value, new, opts.ephemeral)?;
        let share = chain.guarded_share();

        // The parent was found above and the lock has been held since. It may need its `Ext`
        // (the last allocation); nothing has changed yet if that fails, and the chain frees
        // itself.
        let parent = self
            .root
            .descend_mut(path.components().take(existing))
            .ok_or(ENOENT)?
            .ext_mut()?;
        match parent.children.entry(name) {
            RBTreeEntry::Vacant(entry) => {
                entry.insert(chain.into_node(), reservation);
            }
            // The lookup above found no child of this name.
            RBTreeEntry::Occupied(_) => return Err(EEXIST.into()),
        }
        parent.num_children += 1;
        let child_version = mem::replace(&mut parent.child_version, seq);
        self.guard_ancestors(path, existing + 1, share, true);
        if let Some(txn) = self.txn.as_mut() {
            txn.note_created(existing, child_version);
        }
        self.commit(Prepared {
            seq,
            nodes,
            bytes,
            charge: Some(charge),
            event,
        });
        Ok(seq)
    }

    /// Finds how many leading components of `path` exist, and checks that `caller` may create
    /// the others under the last of them: `ENOTDIR` under an ephemeral node, `EACCES` without
    /// the right to write it.
    fn may_create_below(&self, path: &Path<'_>, caller: &Caller) -> Result<usize> {
        let mut existing = 0;
        let mut parent = &self.root;
        for c in path.components() {
            match parent.child(c) {
                Some(child) => {
                    parent = child;
                    existing += 1;
                }
                None => break,
            }
        }
        if parent.session() != 0 {
            return Err(ENOTDIR);
        }
        caller.may_write(parent.owner, parent.mode)?;
        Ok(existing)
    }

    /// Creates a node named `path`'s last component followed by the next number of its parent's
    /// sequential counter (see [`uapi::SET_SEQUENTIAL`]), as [`Tree::set`] with `opts` does.
    pub(crate) fn set_sequential(
        &mut self,
        path: &Path<'_>,
        value: Value,
        opts: SetOptions,
        caller: &Caller,
    ) -> StoreResult<Sequential> {
        if path.is_root() {
            return Err(EINVAL.into());
        }
        // Names someone made by hand are skipped, a few at a time.
        const SKIP: u32 = 64;
        const DIGITS: usize = 10;
        let prefix = path.as_bytes();
        let mut name_buf = KVVec::with_capacity(prefix.len() + DIGITS, GFP_KERNEL_ACCOUNT)?;
        let write_name = |number: u32, name_buf: &mut KVVec<u8>| -> Result {
            let mut digits = [b'0'; DIGITS];
            let mut n = number;
            for d in digits.iter_mut().rev() {
                *d = b'0' + u8::try_from(n % 10).map_err(|_| EINVAL)?;
                n /= 10;
            }
            name_buf.clear();
            for &b in Iterator::chain(prefix.iter(), digits.iter()) {
                name_buf.push_within_capacity(b).map_err(|_| ENOMEM)?;
            }
            Ok(())
        };
        let parent = self.root.descend(path.components().take(path.depth() - 1));
        let mut number = parent.map_or(0, |parent| parent.seq_next());
        for _ in 0..SKIP {
            if number == u32::MAX {
                return Err(EOVERFLOW.into());
            }
            write_name(number, &mut name_buf)?;
            let name = Path::parse(&name_buf, &self.limits)?.name().ok_or(EINVAL)?;
            let taken = parent.is_some_and(|p| p.child(name).is_some());
            if !taken {
                break;
            }
            number += 1;
        }
        write_name(number, &mut name_buf)?;
        let new_path = Path::parse(&name_buf, &self.limits)?;
        let opts = SetOptions {
            create_only: true,
            ..opts
        };
        let result = self.set(&new_path, value, opts, caller);
        // Past this number (and any that exists), so that the next call does not try them again.
        let advance = match &result {
            Ok(_) => true,
            Err(StoreError::Errno(e)) => *e == EEXIST,
            Err(StoreError::Stale { .. } | StoreError::Range { .. }) => false,
        };
        if advance {
            let parents = new_path.components().take(new_path.depth() - 1);
            if let Some(ext) = self.root.descend_mut(parents).and_then(|p| p.ext.as_mut()) {
                ext.seq_next = number.saturating_add(1);
            }
        }
        Ok(Sequential {
            version: result?,
            number: number.into(),
            path: name_buf,
        })
    }
}

/// Deleting.
impl Tree {
    /// Deletes the node at `path` for `caller`; with `recursive`, also everything below it, which
    /// `caller` must be allowed to delete node by node. With `if_version`, only if the node has
    /// that version (`ESTALE` otherwise).
    ///
    /// The root is never removed: deleting `/` removes its value (and with `recursive` all other
    /// nodes).
    ///
    /// The node itself is returned to its owner's quota and counted out of the store here;
    /// everything below it is taken out of the tree but stays counted and charged until the
    /// returned [`Drain`] is drained, which the caller does after releasing the store's lock
    /// ([`crate::store::Store::drain`]). (In a transaction, the subtree is kept until the
    /// transaction ends, and nothing is returned to drain.)
    pub(crate) fn delete(
        &mut self,
        path: &Path<'_>,
        recursive: bool,
        if_version: Option<u64>,
        caller: &Caller,
    ) -> StoreResult<Drain> {
        let seq = self.next_version();
        let Some(name) = path.name() else {
            return self.delete_root(path, recursive, if_version, caller, seq);
        };
        let max_depth = self.limits.max_depth;
        // Room on the draining list first, while the tree may still be borrowed whole: it
        // allocates only the first time, as the list never shrinks.
        self.reserve_draining()?;
        let parent = self
            .root
            .descend_mut(path.components().take(path.depth() - 1))
            .ok_or(ENOENT)?;
        let node = parent.child(name).ok_or(ENOENT)?;
        caller.may_write(node.owner, node.mode)?;
        // The cheap checks first: only a delete that can succeed walks the subtree.
        if if_version.is_some_and(|v| v != node.version) {
            return Err(StoreError::Stale {
                current: node.version,
            });
        }
        if !recursive && node.num_children() > 0 {
            return Err(enotempty().into());
        }
        if recursive {
            may_delete_below(node, caller)?;
        }
        let event = Event::new(seq, EventKind::Deleted, path)?;
        if self.txn.is_some() {
            let freed = self.detach(path, name, seq)?;
            self.commit_removal(seq, freed, event);
            return Ok(Drain::none());
        }
        let mut drain = if node.num_children() > 0 {
            Drain::reserve(max_depth, 1)?
        } else {
            Drain::none()
        };
        let own = node.charged_bytes(name.len());
        let owner = node.owner;
        let share = node.guarded_share();
        let (removed, _) = parent.remove_child(name, seq).ok_or(ENOENT)?;
        self.guard_ancestors(path, path.depth(), share, false);
        let (_, mut removed) = removed.to_key_value();
        drain.hold(removed.take_children());
        self.ledger.uncharge(owner, 1, own);
        self.start_drain(&mut drain, seq);
        self.commit_removal(seq, (1, own), event);
        Ok(drain)
    }

    /// Deletes the root's value and, with `recursive`, every other node.
    fn delete_root(
        &mut self,
        path: &Path<'_>,
        recursive: bool,
        if_version: Option<u64>,
        caller: &Caller,
        seq: u64,
    ) -> StoreResult<Drain> {
        if self.txn.is_some() {
            // A transaction cannot undo emptying the whole store.
            return Err(EINVAL.into());
        }
        caller.may_write(self.root.owner, self.root.mode)?;
        if if_version.is_some_and(|v| v != self.root.version) {
            return Err(StoreError::Stale {
                current: self.root.version,
            });
        }
        let had_children = self.root.num_children() > 0;
        if !recursive && had_children {
            return Err(enotempty().into());
        }
        if recursive {
            may_delete_below(&self.root, caller)?;
        }
        // Without children to delete, only the root's value goes: a change of the root.
        let kind = if had_children {
            EventKind::Deleted
        } else {
            EventKind::Changed
        };
        let event = Event::new(seq, kind, path)?;
        let mut drain = if had_children {
            Drain::reserve(self.limits.max_depth, 1)?
        } else {
            Drain::none()
        };
        self.reserve_draining()?;
        drain.hold(self.root.take_children());
        if let Some(ext) = self.root.ext.as_mut() {
            ext.below = Guarded::default();
        }
        let mut bytes = 0;
        if let Some(value) = self.root.value.take() {
            let len = value.len().into_safe_cast();
            self.ledger.uncharge(self.root.owner, 0, len);
            bytes += len;
        }
        self.start_drain(&mut drain, seq);
        if let Some(ext) = self.root.ext.as_mut().filter(|_| had_children) {
            ext.child_version = seq;
        }
        self.root.version = seq;
        self.root.mtime_ns = now_ns();
        self.commit_removal(seq, (0, bytes), event);
        Ok(drain)
    }

    /// Removes the ephemeral node at `path` if it still belongs to `session`: the cleanup when
    /// that session's file is released. Needs no permission; an ephemeral node has no children.
    pub(crate) fn remove_ephemeral(&mut self, path: &Path<'_>, session: u64) {
        let Some(name) = path.name() else {
            return;
        };
        let Some(share) = self
            .root
            .descend(path.components())
            .filter(|node| node.session() == session && node.num_children() == 0)
            .map(Node::guarded_share)
        else {
            return;
        };
        let seq = self.next_version();
        // Without memory for the path, watchers are told that they lost changes.
        let event =
            Event::new(seq, EventKind::Deleted, path).unwrap_or_else(|_| Event::unknown(seq));
        let parent = self
            .root
            .descend_mut(path.components().take(path.depth() - 1));
        // Cannot fail: the node was just found.
        if let Some((removed, _)) = parent.and_then(|p| p.remove_child(name, seq)) {
            self.guard_ancestors(path, path.depth(), share, false);
            let freed = self.release(removed);
            self.commit_removal(seq, freed, event);
        }
    }

    /// Frees a node just unlinked from the tree, and everything below it, and returns it all to
    /// the owners' quotas. Returns the number of nodes and bytes freed.
    fn release(&mut self, removed: RBTreeNode<Name, Node>) -> (u64, u64) {
        let (name, mut node) = removed.to_key_value();
        let own = node.charged_bytes(name.len());
        self.ledger.uncharge(node.owner, 1, own);
        let (nodes, bytes) = self.destroy_children(node.take_children(), true);
        (nodes + 1, bytes + own)
    }

    /// In a transaction: takes the node `name` at `path` and everything below it out of the tree
    /// as the change `seq`, but keeps it, to be drained when the transaction commits or put back
    /// if it fails. Only the node itself is counted out of the store here (everything below it
    /// stays counted until it is drained), and returned to its owner's quota when the
    /// transaction commits. Returns the number of nodes and bytes counted out.
    fn detach(&mut self, path: &Path<'_>, name: &[u8], seq: u64) -> Result<(u64, u64)> {
        let node = self.root.descend(path.components()).ok_or(ENOENT)?;
        let charged = (node.owner, node.charged_bytes(name.len()));
        let share = node.guarded_share();
        let parent = self
            .root
            .descend_mut(path.components().take(path.depth() - 1))
            .ok_or(ENOENT)?;
        let (removed, child_version) = parent.remove_child(name, seq).ok_or(ENOENT)?;
        self.guard_ancestors(path, path.depth(), share, false);
        if let Some(txn) = self.txn.as_mut() {
            txn.note_deleted(removed, child_version, charged, share);
        }
        Ok((1, charged.1))
    }
}
