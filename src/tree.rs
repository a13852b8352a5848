// SPDX-License-Identifier: GPL-2.0

//! The path tree: nodes, their ordered children, values and the store's accounting.
//!
//! Every operation checks everything that can fail (the path, the limits, the allocations it
//! needs) before it changes anything, so a failed operation leaves the tree exactly as it was.
//! The caller holds the store's lock for the duration of each call; values are reference
//! counted so that readers copy them to userspace after dropping the lock.
//!
//! The counters are kept by invariants that [`Tree::check`] verifies; where a subtraction relies
//! on one it saturates, so that a broken invariant shows in the check rather than as a panic.

use core::mem;

use kernel::{
    bindings,
    prelude::*,
    rbtree::{
        Entry as RBTreeEntry,
        Iter as RBTreeIter,
        RBTree,
        RBTreeNode,
        RBTreeNodeReservation, //
    },
};

use crate::{
    abi::{
        enodata,
        enotempty,
        estale,
        euclean, //
    },
    access::{
        Caller,
        ROOT_UID, //
    },
    bytes::{
        Bytes,
        Name, //
    },
    events::{
        Event,
        EventLog, //
    },
    limits::Limits,
    path::Path,
    quota::{
        Charge,
        Ledger,
        Usage, //
    },
    uapi, //
};

/// A stored value: immutable once stored, a set replaces it whole.
pub(crate) type Value = Bytes;

mod txn;

pub(crate) use txn::TxnOp;

/// The current time for node timestamps, in nanoseconds since the epoch.
fn now_ns() -> u64 {
    // SAFETY: `ktime_get_real` has no preconditions.
    let t = unsafe { bindings::ktime_get_real() };
    u64::try_from(t).unwrap_or(0)
}

/// One node of the tree.
///
/// Most nodes are leaves, so what only parents and ephemeral nodes need lives in an [`Ext`]
/// allocated on demand: with the `RBTree` links and the name, a leaf takes one 96-byte slab
/// object, plus its name and its value.
pub(crate) struct Node {
    value: Option<Value>,
    /// Children and the rarer attributes. Allocated when the node gets its first child or is
    /// created ephemeral, and kept until the node goes (so the sequential counter never goes
    /// back). A node without it has no children and is persistent.
    ext: Option<KBox<Ext>>,
    version: u64,
    ctime_ns: u64,
    mtime_ns: u64,
    /// The kernel uid of the user that created the node.
    owner: u32,
    /// `uapi::MODE_*` bits: what users other than the owner may do.
    mode: u32,
}

/// The part of a [`Node`] that leaves do without.
#[derive(Default)]
struct Ext {
    children: RBTree<Name, Node>,
    num_children: u64,
    /// The version of the last change to the set of children.
    child_version: u64,
    /// The session (open file) an ephemeral node belongs to; 0 for a persistent node.
    session: u64,
    /// The number the next sequential child gets.
    seq_next: u32,
}

impl Node {
    fn new(value: Option<Value>, version: u64, now: u64, owner: u32, mode: u32) -> Self {
        Self {
            value,
            ext: None,
            version,
            ctime_ns: now,
            mtime_ns: now,
            owner,
            mode,
        }
    }

    fn value_len(&self) -> u64 {
        self.value.as_ref().map_or(0, |v| v.len() as u64)
    }

    fn num_children(&self) -> u64 {
        self.ext.as_ref().map_or(0, |e| e.num_children)
    }

    fn child_version(&self) -> u64 {
        self.ext.as_ref().map_or(0, |e| e.child_version)
    }

    fn session(&self) -> u64 {
        self.ext.as_ref().map_or(0, |e| e.session)
    }

    fn seq_next(&self) -> u32 {
        self.ext.as_ref().map_or(0, |e| e.seq_next)
    }

    /// The children, if the node ever had any.
    fn children(&self) -> Option<&RBTree<Name, Node>> {
        self.ext.as_ref().map(|e| &e.children)
    }

    /// The [`Ext`], allocated if the node has none yet (which changes nothing observable).
    fn ext_mut(&mut self) -> Result<&mut Ext> {
        let ext = match self.ext.take() {
            Some(ext) => ext,
            None => KBox::new(Ext::default(), GFP_KERNEL)?,
        };
        Ok(self.ext.insert(ext))
    }

    /// Takes all the children out (for freeing them), leaving none.
    fn take_children(&mut self) -> RBTree<Name, Node> {
        self.ext
            .as_mut()
            .map(|e| {
                e.num_children = 0;
                mem::take(&mut e.children)
            })
            .unwrap_or_default()
    }

    /// The child called `name`.
    fn child(&self, name: &[u8]) -> Option<&Node> {
        let children = self.children()?;
        Name::with_borrowed(name, |k| children.get(k))
    }

    /// The child called `name`, for changing it.
    fn child_mut(&mut self, name: &[u8]) -> Option<&mut Node> {
        let children = &mut self.ext.as_mut()?.children;
        Name::with_borrowed(name, move |k| children.get_mut(k))
    }

    /// Unlinks the child called `name` as the change `seq`; returns it and the child version
    /// the node had before.
    fn remove_child(&mut self, name: &[u8], seq: u64) -> Option<(RBTreeNode<Name, Node>, u64)> {
        let ext = self.ext.as_mut()?;
        let removed = Name::with_borrowed(name, |k| ext.children.remove_node(k))?;
        ext.num_children = ext.num_children.saturating_sub(1);
        Some((removed, mem::replace(&mut ext.child_version, seq)))
    }

    /// The descendant reached through `components`, if it exists.
    fn descend<'a, 'p>(&'a self, components: impl Iterator<Item = &'p [u8]>) -> Option<&'a Node> {
        let mut node = self;
        for c in components {
            node = node.child(c)?;
        }
        Some(node)
    }

    /// The descendant reached through `components`, if it exists, for changing it.
    fn descend_mut<'a, 'p>(
        &'a mut self,
        components: impl Iterator<Item = &'p [u8]>,
    ) -> Option<&'a mut Node> {
        let mut node = self;
        for c in components {
            node = node.child_mut(c)?;
        }
        Some(node)
    }

    /// Fills the ABI's view of this node. `uid` is the owner's kernel uid, which the caller
    /// translates to the requester's user namespace.
    pub(crate) fn stat(&self) -> uapi::NodeStat {
        uapi::NodeStat {
            version: self.version,
            child_version: self.child_version(),
            ctime_ns: self.ctime_ns,
            mtime_ns: self.mtime_ns,
            num_children: self.num_children(),
            value_len: self.value_len() as u32,
            flags: if self.value.is_some() {
                uapi::STAT_HAS_VALUE
            } else {
                0
            },
            uid: self.owner,
            mode: self.mode,
            session: self.session(),
        }
    }
}

/// What [`Tree::list`] wrote.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Names written.
    pub(crate) count: u32,
    /// More children follow the last name written.
    pub(crate) more: bool,
    /// When nothing fit: the size the next name needs (with its NUL).
    pub(crate) needed: usize,
}

/// Calls `f` on every node below `top` (not `top` itself), parents before children, with the
/// node's name and its depth below `top` (1 for the children of `top`). Stops at the first error
/// `f` returns. Walks without recursion; its stack holds `max_depth + 1` levels and a deeper
/// tree (which the store never builds) fails with `EUCLEAN`.
fn walk<'a>(
    top: &'a Node,
    max_depth: u32,
    mut f: impl FnMut(&'a Name, &'a Node, u32) -> Result,
) -> Result {
    let Some(children) = top.children() else {
        return Ok(());
    };
    let mut stack: KVVec<RBTreeIter<'a, Name, Node>> =
        KVVec::with_capacity(max_depth as usize + 1, GFP_KERNEL)?;
    stack
        .push_within_capacity(children.iter())
        .map_err(|_| EINVAL)?;
    while let Some(level) = stack.last_mut() {
        let Some((name, node)) = level.next() else {
            stack.pop();
            continue;
        };
        // `stack.len()` is at most `max_depth + 1`, a `u32`.
        let depth = stack.len() as u32;
        f(name, node, depth)?;
        if let Some(children) = node.children().filter(|c| !c.is_empty()) {
            stack
                .push_within_capacity(children.iter())
                .map_err(|_| euclean())?;
        }
    }
    Ok(())
}

/// Checks that `caller` may delete every node below `top`, a tree at most `max_depth` deep.
fn may_delete_below(top: &Node, caller: &Caller, max_depth: u32) -> Result {
    if caller.admin || top.num_children() == 0 {
        return Ok(());
    }
    walk(top, max_depth, |_, node, _| {
        caller.may_write(node.owner, node.mode)
    })
}

/// Reports a broken invariant found by [`Tree::check`].
fn broken(what: &str, detail: u64) -> Error {
    pr_err!("consistency check failed: {} ({})\n", what, detail);
    euclean()
}

/// What [`Tree::set`] may do beyond setting a value.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SetOptions {
    /// Fail with `EEXIST` if the node exists.
    pub(crate) create_only: bool,
    /// The access mode of the nodes created, and of the node itself.
    pub(crate) mode: Option<u32>,
    /// Replace the value only if the node has this version (`ESTALE` otherwise, `ENOENT` if it
    /// does not exist).
    pub(crate) if_version: Option<u64>,
    /// Create the node as an ephemeral node of this session (implies `create_only`).
    pub(crate) ephemeral: Option<u64>,
}

/// The whole store: the root node and the accounting that the limits apply to.
pub(crate) struct Tree {
    root: Node,
    /// Nodes in the tree, the root included.
    nodes: u64,
    /// Bytes of all names and values.
    bytes: u64,
    /// The store-wide change counter; every change takes the next value.
    sequence: u64,
    limits: Limits,
    /// What each user owns, for the per-user quotas.
    ledger: Ledger,
    /// The last changes, for watches.
    events: EventLog,
    /// The last session id handed out to an open file.
    last_session: u64,
    /// The transaction being applied, if any (see [`Tree::transaction`]).
    txn: Option<txn::Txn>,
    /// Work stack for tearing subtrees down without recursion: the children of each level.
    /// Always empty between calls; its capacity (`max_depth + 1`) is reserved up front so that
    /// deletes never allocate.
    teardown: KVVec<RBTree<Name, Node>>,
}

impl Tree {
    /// Creates an empty store (just the root, owned by root) under `limits`.
    pub(crate) fn new(limits: Limits) -> Result<Self> {
        let depth = limits.max_depth as usize + 1;
        Ok(Self {
            root: Node::new(None, 0, now_ns(), ROOT_UID, uapi::MODE_ROOT),
            nodes: 1,
            bytes: 0,
            sequence: 0,
            limits,
            ledger: Ledger::new(),
            events: EventLog::new(limits.watch_events)?,
            last_session: 0,
            txn: None,
            teardown: KVVec::with_capacity(depth, GFP_KERNEL)?,
        })
    }

    /// The store-wide sequence number: the version of the last change.
    pub(crate) fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The last changes, for watches.
    pub(crate) fn events(&self) -> &EventLog {
        &self.events
    }

    /// Checks that `caller` may watch the node at `path`: it must be allowed to read the node
    /// if it exists.
    pub(crate) fn may_watch(&self, path: &Path<'_>, caller: &Caller) -> Result {
        match self.root.descend(path.components()) {
            Some(node) => caller.may_read(node.owner, node.mode),
            None => Ok(()),
        }
    }

    /// The version the next change takes.
    fn next_version(&self) -> u64 {
        self.sequence + 1
    }

    /// Applies a prepared quota charge, noting in a transaction what it replaces.
    fn commit_charge(&mut self, charge: Charge) {
        match self.txn.as_mut() {
            Some(txn) => {
                txn.note_usage(charge.uid(), self.ledger.usage(charge.uid()));
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

    /// A new session id for an open file (never 0).
    pub(crate) fn new_session(&mut self) -> u64 {
        self.last_session += 1;
        self.last_session
    }

    /// Sets the value of the node at `path` for `caller`, creating it and its missing parents,
    /// as `opts` allow (see [`SetOptions`]). With a mode, the nodes created get that access mode,
    /// and so does the node itself if it exists. Returns the node's new version.
    pub(crate) fn set(
        &mut self,
        path: &Path<'_>,
        value: Value,
        opts: SetOptions,
        caller: &Caller,
    ) -> Result<u64> {
        let SetOptions {
            create_only,
            mode,
            if_version,
            ephemeral,
        } = opts;
        let value_len = value.len() as u64;
        if value_len > u64::from(self.limits.max_value_len) {
            return Err(E2BIG);
        }
        if mode.is_some_and(|m| m & !uapi::MODE_ALL != 0) {
            return Err(EINVAL);
        }
        let seq = self.next_version();
        let now = now_ns();

        // The node exists: check, prepare, then change it in place, in one walk.
        if let Some(node) = self.root.descend_mut(path.components()) {
            if create_only || ephemeral.is_some() {
                return Err(EEXIST);
            }
            caller.may_write(node.owner, node.mode)?;
            if mode.is_some() && !caller.owns(node.owner) {
                return Err(EPERM);
            }
            if if_version.is_some_and(|v| v != node.version) {
                return Err(estale());
            }
            let old_len = node.value_len();
            let bytes = self
                .bytes
                .saturating_sub(old_len)
                .checked_add(value_len)
                .filter(|&b| b <= self.limits.max_bytes)
                .ok_or(ENOSPC)?;
            let charge = self
                .ledger
                .prepare(node.owner, 0, value_len, old_len, &self.limits)?;
            let event = Event::new(seq, uapi::EVENT_CHANGED, path)?;
            let old = txn::Replaced {
                value: node.value.replace(value),
                version: node.version,
                mtime_ns: node.mtime_ns,
                mode: node.mode,
            };
            node.version = seq;
            node.mtime_ns = now;
            if let Some(mode) = mode {
                node.mode = mode;
            }
            if let Some(txn) = self.txn.as_mut() {
                txn.note_replaced(old);
            }
            self.commit_charge(charge);
            self.record(event);
            self.bytes = bytes;
            self.sequence = seq;
            return Ok(seq);
        }

        // How many leading components exist already.
        let mut existing = 0;
        let mut node = &self.root;
        for c in path.components() {
            match node.child(c) {
                Some(child) => {
                    node = child;
                    existing += 1;
                }
                None => break,
            }
        }

        // Create the missing nodes: check the permission and the limits, then build them as a
        // detached chain (the only step that allocates), then link the chain in, which cannot
        // fail.
        if if_version.is_some() {
            return Err(ENOENT);
        }
        if node.session() != 0 {
            return Err(ENOTDIR);
        }
        caller.may_write(node.owner, node.mode)?;
        let new_nodes = (path.depth() - existing) as u64;
        let names_len: u64 = path
            .components()
            .skip(existing)
            .map(|c| c.len() as u64)
            .sum();
        let nodes = self
            .nodes
            .checked_add(new_nodes)
            .filter(|&n| n <= self.limits.max_nodes)
            .ok_or(ENOSPC)?;
        let added = names_len.checked_add(value_len).ok_or(ENOSPC)?;
        let bytes = self
            .bytes
            .checked_add(added)
            .filter(|&b| b <= self.limits.max_bytes)
            .ok_or(ENOSPC)?;
        let charge = self
            .ledger
            .prepare(caller.uid, new_nodes, added, 0, &self.limits)?;
        let event = Event::created(seq, path, existing)?;
        let mode = mode.unwrap_or(uapi::MODE_DEFAULT);
        let mut missing = path.components().rev().take(path.depth() - existing);
        let mut chain_name = missing.next().ok_or(EINVAL)?;
        let mut chain = Node::new(Some(value), seq, now, caller.uid, mode);
        if let Some(session) = ephemeral {
            chain.ext_mut()?.session = session;
        }
        let (name, reservation) = loop {
            let link = Name::copy(chain_name).and_then(|name| {
                let reservation = RBTreeNodeReservation::new(GFP_KERNEL)?;
                Ok((name, reservation))
            });
            let (name, reservation) = match link {
                Ok(link) => link,
                Err(e) => {
                    self.free_detached(chain);
                    return Err(e);
                }
            };
            match missing.next() {
                // `chain_name` is the first missing component: link it to the tree below.
                None => break (name, reservation),
                Some(parent_name) => {
                    let mut parent = Node::new(None, seq, now, caller.uid, mode);
                    let ext = match parent.ext_mut() {
                        Ok(ext) => ext,
                        Err(e) => {
                            self.free_detached(chain);
                            return Err(e);
                        }
                    };
                    ext.children.insert(reservation.into_node(name, chain));
                    ext.num_children = 1;
                    ext.child_version = seq;
                    chain = parent;
                    chain_name = parent_name;
                }
            }
        };

        // The parent was found above and the lock has been held since. It may need its `Ext`
        // (the last allocation); nothing has changed yet if that fails.
        let parent = match self
            .root
            .descend_mut(path.components().take(existing))
            .map(Node::ext_mut)
        {
            Some(Ok(ext)) => ext,
            Some(Err(e)) => {
                self.free_detached(chain);
                return Err(e);
            }
            None => {
                self.free_detached(chain);
                return Err(ENOENT);
            }
        };
        match parent.children.entry(name) {
            RBTreeEntry::Vacant(entry) => {
                entry.insert(chain, reservation);
            }
            // The lookup above found no child of this name.
            RBTreeEntry::Occupied(_) => {
                self.free_detached(chain);
                return Err(EEXIST);
            }
        }
        parent.num_children += 1;
        let child_version = mem::replace(&mut parent.child_version, seq);
        if let Some(txn) = self.txn.as_mut() {
            txn.note_created(existing, child_version);
        }
        self.commit_charge(charge);
        self.record(event);
        self.nodes = nodes;
        self.bytes = bytes;
        self.sequence = seq;
        Ok(seq)
    }

    /// Calls `f` with the value of the node at `path` and the node's version, if `caller` may
    /// read it. `f` runs under the store's lock: it should only copy the value.
    pub(crate) fn get<R>(
        &self,
        path: &Path<'_>,
        caller: &Caller,
        f: impl FnOnce(&[u8], u64) -> R,
    ) -> Result<R> {
        let node = self.root.descend(path.components()).ok_or(ENOENT)?;
        caller.may_read(node.owner, node.mode)?;
        let value = node.value.as_ref().ok_or_else(enodata)?;
        Ok(f(value.as_bytes(), node.version))
    }

    /// The metadata of the node at `path` (visible to every user).
    pub(crate) fn stat(&self, path: &Path<'_>) -> Result<uapi::NodeStat> {
        Ok(self.root.descend(path.components()).ok_or(ENOENT)?.stat())
    }

    /// Usage and limits of the whole store, and what `uid` owns.
    pub(crate) fn stats(&self, uid: u32) -> uapi::StoreStats {
        let usage = self.ledger.usage(uid);
        let mut stats = uapi::StoreStats {
            nodes: self.nodes,
            bytes: self.bytes,
            sequence: self.sequence,
            uid_nodes: usage.nodes,
            uid_bytes: usage.bytes,
            ..Default::default()
        };
        self.limits.fill(&mut stats);
        stats
    }

    /// Deletes the node at `path` for `caller`; with `recursive`, also everything below it, which
    /// `caller` must be allowed to delete node by node. With `if_version`, only if the node has
    /// that version (`ESTALE` otherwise).
    ///
    /// The root is never removed: deleting `/` removes its value (and with `recursive` all other
    /// nodes).
    pub(crate) fn delete(
        &mut self,
        path: &Path<'_>,
        recursive: bool,
        if_version: Option<u64>,
        caller: &Caller,
    ) -> Result {
        let seq = self.next_version();
        let Some(name) = path.name() else {
            if self.txn.is_some() {
                // A transaction cannot undo emptying the whole store.
                return Err(EINVAL);
            }
            caller.may_write(self.root.owner, self.root.mode)?;
            if recursive {
                may_delete_below(&self.root, caller, self.limits.max_depth)?;
            }
            if if_version.is_some_and(|v| v != self.root.version) {
                return Err(estale());
            }
            let had_children = self.root.num_children() > 0;
            if !recursive && had_children {
                return Err(enotempty());
            }
            // Without children to delete, only the root's value goes: a change of the root.
            let kind = if had_children {
                uapi::EVENT_DELETED
            } else {
                uapi::EVENT_CHANGED
            };
            let event = Event::new(seq, kind, path)?;
            let children = self.root.take_children();
            let (nodes, mut bytes) = self.destroy_children(children, true);
            if let Some(value) = self.root.value.take() {
                let len = value.len() as u64;
                self.ledger.uncharge(self.root.owner, 0, len);
                bytes += len;
            }
            if let Some(ext) = self.root.ext.as_mut().filter(|_| had_children) {
                ext.child_version = seq;
            }
            self.root.version = seq;
            self.root.mtime_ns = now_ns();
            self.nodes = self.nodes.saturating_sub(nodes);
            self.bytes = self.bytes.saturating_sub(bytes);
            self.events.record(event);
            self.sequence = seq;
            return Ok(());
        };

        let max_depth = self.limits.max_depth;
        let parent = self
            .root
            .descend_mut(path.components().take(path.depth() - 1))
            .ok_or(ENOENT)?;
        let node = parent.child(name).ok_or(ENOENT)?;
        caller.may_write(node.owner, node.mode)?;
        if recursive {
            may_delete_below(node, caller, max_depth)?;
        }
        if if_version.is_some_and(|v| v != node.version) {
            return Err(estale());
        }
        if !recursive && node.num_children() > 0 {
            return Err(enotempty());
        }
        let event = Event::new(seq, uapi::EVENT_DELETED, path)?;
        if self.txn.is_some() {
            self.detach(path, name, seq)?;
        } else {
            let (removed, _) = parent.remove_child(name, seq).ok_or(ENOENT)?;
            self.release(removed, seq);
        }
        self.record(event);
        Ok(())
    }

    /// Whether the node at `path` is an ephemeral node of `session`.
    pub(crate) fn is_ephemeral_of(&self, path: &Path<'_>, session: u64) -> bool {
        self.root
            .descend(path.components())
            .is_some_and(|node| node.session() == session)
    }

    /// Removes the ephemeral node at `path` if it still belongs to `session`: the cleanup when
    /// that session's file is released. Needs no permission; an ephemeral node has no children.
    pub(crate) fn remove_ephemeral(&mut self, path: &Path<'_>, session: u64) {
        let Some(name) = path.name() else {
            return;
        };
        let ours = self
            .root
            .descend(path.components())
            .is_some_and(|node| node.session() == session && node.num_children() == 0);
        if ours {
            let seq = self.sequence + 1;
            // Without memory for the path, watchers are told that they lost changes.
            let event =
                Event::new(seq, uapi::EVENT_DELETED, path).unwrap_or_else(|_| Event::unknown(seq));
            // Cannot fail: the node was just found.
            if self.unlink(path, name, seq).is_ok() {
                self.events.record(event);
            }
        }
    }

    /// Removes the node `name` at `path` and everything below it, as the change `seq`.
    fn unlink(&mut self, path: &Path<'_>, name: &[u8], seq: u64) -> Result {
        let parent = self
            .root
            .descend_mut(path.components().take(path.depth() - 1))
            .ok_or(ENOENT)?;
        let (removed, _) = parent.remove_child(name, seq).ok_or(ENOENT)?;
        self.release(removed, seq);
        Ok(())
    }

    /// Frees a node just unlinked from the tree as the change `seq`, and everything below it,
    /// and returns it all to the owners' quotas.
    fn release(&mut self, removed: RBTreeNode<Name, Node>, seq: u64) {
        let (name, mut node) = removed.to_key_value();
        let own = name.len() as u64 + node.value_len();
        self.ledger.uncharge(node.owner, 1, own);
        let (nodes, bytes) = self.destroy_children(node.take_children(), true);
        self.nodes = self.nodes.saturating_sub(nodes + 1);
        self.bytes = self.bytes.saturating_sub(bytes + own);
        self.sequence = seq;
    }

    /// In a transaction: takes the node `name` at `path` and everything below it out of the tree
    /// as the change `seq`, but keeps it, to be freed when the transaction commits or put back
    /// if it fails. The quota is returned when it commits.
    fn detach(&mut self, path: &Path<'_>, name: &[u8], seq: u64) -> Result {
        // Count what goes before changing anything: the walk allocates.
        let node = self.root.descend(path.components()).ok_or(ENOENT)?;
        let mut nodes = 1u64;
        let mut bytes = name.len() as u64 + node.value_len();
        walk(node, self.limits.max_depth, |name, node, _| {
            nodes += 1;
            bytes += name.as_bytes().len() as u64 + node.value_len();
            Ok(())
        })?;
        let parent = self
            .root
            .descend_mut(path.components().take(path.depth() - 1))
            .ok_or(ENOENT)?;
        let (removed, child_version) = parent.remove_child(name, seq).ok_or(ENOENT)?;
        self.nodes = self.nodes.saturating_sub(nodes);
        self.bytes = self.bytes.saturating_sub(bytes);
        self.sequence = seq;
        if let Some(txn) = self.txn.as_mut() {
            txn.note_deleted(removed, child_version);
        }
        Ok(())
    }

    /// Creates a node named `path`'s last component followed by the next number of its parent's
    /// sequential counter (see [`uapi::SET_SEQUENTIAL`]), as [`Tree::set`] with `opts` does. The
    /// new path is written to `name_buf`, whose capacity must be at least `path`'s length plus
    /// 20 (it is not grown). Returns the new node's version and its number.
    pub(crate) fn set_sequential(
        &mut self,
        path: &Path<'_>,
        value: Value,
        opts: SetOptions,
        caller: &Caller,
        name_buf: &mut KVVec<u8>,
    ) -> Result<(u64, u64)> {
        if path.is_root() {
            return Err(EINVAL);
        }
        // Names someone made by hand are skipped, a few at a time.
        const SKIP: u32 = 64;
        let write_name = |number: u32, name_buf: &mut KVVec<u8>| -> Result {
            let mut digits = [b'0'; 10];
            let mut n = number;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
            name_buf.clear();
            for &b in Iterator::chain(path.as_bytes().iter(), digits.iter()) {
                name_buf.push_within_capacity(b).map_err(|_| ENOMEM)?;
            }
            Ok(())
        };
        let parent = self.root.descend(path.components().take(path.depth() - 1));
        let mut number = parent.map_or(0, |parent| parent.seq_next());
        for _ in 0..SKIP {
            if number == u32::MAX {
                return Err(EOVERFLOW);
            }
            write_name(number, name_buf)?;
            let name = Path::parse(name_buf, &self.limits)?.name().ok_or(EINVAL)?;
            let taken = parent.is_some_and(|p| p.child(name).is_some());
            if !taken {
                break;
            }
            number += 1;
        }
        write_name(number, name_buf)?;
        let new_path = Path::parse(name_buf, &self.limits)?;
        let opts = SetOptions {
            create_only: true,
            ..opts
        };
        let version = match self.set(&new_path, value, opts, caller) {
            Ok(version) => version,
            Err(e) => {
                // Past names that exist, so that the next call does not try them again.
                if e == EEXIST {
                    let parents = new_path.components().take(new_path.depth() - 1);
                    if let Some(ext) = self.root.descend_mut(parents).and_then(|p| p.ext.as_mut()) {
                        ext.seq_next = number.saturating_add(1);
                    }
                }
                return Err(e);
            }
        };
        if let Some(ext) = self
            .root
            .descend_mut(new_path.components().take(new_path.depth() - 1))
            .and_then(|p| p.ext.as_mut())
        {
            ext.seq_next = number.saturating_add(1);
        }
        Ok((version, number.into()))
    }

    /// Appends the names of the children of `path` that sort after `after` to `out`, each
    /// followed by NUL, while `out` stays within `room` bytes, if `caller` may read the node.
    /// Give `out` a capacity of `room` so that nothing here allocates.
    pub(crate) fn list(
        &mut self,
        path: &Path<'_>,
        after: Option<&[u8]>,
        out: &mut KVVec<u8>,
        room: usize,
        caller: &Caller,
    ) -> Result<Listing> {
        let node = self.root.descend_mut(path.components()).ok_or(ENOENT)?;
        caller.may_read(node.owner, node.mode)?;
        let mut listing = Listing::default();
        let Some(ext) = node.ext.as_mut() else {
            return Ok(listing);
        };
        // The kernel's `RBTree` only moves mutable cursors; nothing is changed through it.
        let mut cursor = match after {
            None => ext.children.cursor_front_mut(),
            Some(after) => Name::with_borrowed(after, move |k| {
                let cursor = ext.children.cursor_lower_bound_mut(k)?;
                if cursor.current().0 == k {
                    cursor.move_next()
                } else {
                    Some(cursor)
                }
            }),
        };
        while let Some(c) = cursor {
            let name = c.current().0.as_bytes();
            let need = name.len() + 1;
            if out.len() + need > room {
                listing.more = true;
                if listing.count == 0 {
                    listing.needed = need;
                }
                break;
            }
            out.extend_from_slice(name, GFP_KERNEL)?;
            out.push(0, GFP_KERNEL)?;
            listing.count += 1;
            cursor = c.move_next();
        }
        Ok(listing)
    }

    /// Walks the whole tree and verifies every counter and invariant: the node and byte totals,
    /// each user's usage, child counts, versions, names, modes, depths and limits. Fails with
    /// `EUCLEAN` (and logs what is broken) if anything is off.
    pub(crate) fn check(&self) -> Result<uapi::CheckArgs> {
        // What each owner should own, in uid order: the ledger's users, counted afresh.
        let mut owners: KVVec<(u32, Usage)> = KVVec::new();
        for (&uid, usage) in self.ledger.iter() {
            if *usage == Usage::default() {
                return Err(broken("ledger keeps an empty entry for uid", uid.into()));
            }
            owners.push((uid, Usage::default()), GFP_KERNEL)?;
        }
        let seq = self.sequence;
        let limits = &self.limits;
        let verify = |node: &Node, owners: &mut KVVec<(u32, Usage)>, own: u64, counted: u64| {
            if node.version > seq || node.child_version() > seq {
                return Err(broken("version ahead of the sequence", node.version));
            }
            if node.mode & !uapi::MODE_ALL != 0 {
                return Err(broken("unknown mode bits", node.mode.into()));
            }
            if node.value_len() > u64::from(limits.max_value_len) {
                return Err(broken("value over max_value_len", node.value_len()));
            }
            let children = node.children().map_or(0, |c| c.iter().count() as u64);
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
            owners[i].1.nodes += counted;
            owners[i].1.bytes += own;
            Ok(())
        };

        let root = &self.root;
        let mut nodes = 1u64;
        let mut bytes = root.value_len();
        if root.value.is_some() || root.owner != ROOT_UID {
            verify(root, &mut owners, root.value_len(), 0)?;
        } else if root.children().map_or(0, |c| c.iter().count() as u64) != root.num_children() {
            return Err(broken("root child count differs", root.num_children()));
        }
        walk(root, limits.max_depth, |name, node, depth| {
            let name = name.as_bytes();
            if name.is_empty()
                || name.len() > uapi::MAX_NAME_LEN as usize
                || name.iter().any(|&b| b == b'/' || b == 0)
            {
                return Err(broken("invalid name of length", name.len() as u64));
            }
            if depth > limits.max_depth {
                return Err(broken("node deeper than max_depth", depth.into()));
            }
            let own = name.len() as u64 + node.value_len();
            nodes += 1;
            bytes += own;
            verify(node, &mut owners, own, 1)
        })?;

        if nodes != self.nodes {
            return Err(broken("node total differs from the nodes", self.nodes));
        }
        if bytes != self.bytes {
            return Err(broken("byte total differs from the nodes", self.bytes));
        }
        if nodes > limits.max_nodes || bytes > limits.max_bytes {
            return Err(broken("store over its limits", nodes));
        }
        for (&(uid, counted), (_, &usage)) in owners.iter().zip(self.ledger.iter()) {
            if counted != usage {
                return Err(broken("ledger differs from the nodes for uid", uid.into()));
            }
        }
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
        if !self.teardown.is_empty() {
            return Err(broken(
                "teardown stack not empty",
                self.teardown.len() as u64,
            ));
        }
        Ok(uapi::CheckArgs {
            nodes,
            bytes,
            owners: owners.len() as u64,
            reserved: [0; 1],
        })
    }

    /// Frees a chain built by [`Tree::set`] that was never linked (nor charged).
    fn free_detached(&mut self, mut chain: Node) {
        let children = chain.take_children();
        self.destroy_children(children, false);
    }

    /// Frees every node of `children` and below without recursion, using the reserved work
    /// stack, and with `account` returns each to its owner's quota. Returns the number of nodes
    /// and bytes (names and values) freed.
    fn destroy_children(&mut self, children: RBTree<Name, Node>, account: bool) -> (u64, u64) {
        let mut nodes = 0u64;
        let mut bytes = 0u64;
        let stack = &mut self.teardown;
        let ledger = &mut self.ledger;
        let mut pending = Some(children);
        loop {
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
                    let own = name.len() as u64 + child.value_len();
                    nodes += 1;
                    bytes += own;
                    if account {
                        ledger.uncharge(child.owner, 1, own);
                    }
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
        (nodes, bytes)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let children = self.root.take_children();
        self.destroy_children(children, false);
    }
}

#[kunit_tests(pathstore_tree)]
mod tests {
    use super::*;
    use crate::abi::edquot;

    const ROOT: Caller = Caller::root();

    fn limits() -> Limits {
        Limits::from_params(16, 256, 8, 20, 200)
    }

    fn o(create_only: bool, mode: Option<u32>) -> SetOptions {
        SetOptions {
            create_only,
            mode,
            ..Default::default()
        }
    }

    fn user(uid: u32) -> Caller {
        Caller { uid, admin: false }
    }

    fn value(bytes: &[u8]) -> Result<Value> {
        Value::copy(bytes)
    }

    /// The value and version of the node at `path`, as `who` reads it.
    fn get(t: &Tree, path: &Path<'_>, who: &Caller) -> Result<(Value, u64)> {
        t.get(path, who, |value, version| {
            Ok((Value::copy(value)?, version))
        })?
    }

    fn p<'a>(s: &'a [u8], t: &Tree) -> Result<Path<'a>> {
        Path::parse(s, &t.limits)
    }

    #[test]
    fn set_creates_parents_without_values() -> Result {
        let mut t = Tree::new(limits())?;
        let v1 = t.set(&p(b"/a/b/c", &t)?, value(b"x")?, o(false, None), &ROOT)?;
        assert_eq!(t.stats(0).nodes, 4);
        assert_eq!(t.stats(0).bytes, 4);
        let (v, version) = get(&t, &p(b"/a/b/c", &t)?, &ROOT)?;
        assert_eq!(v.as_bytes(), b"x");
        assert_eq!(version, v1);
        assert_eq!(get(&t, &p(b"/a/b", &t)?, &ROOT).err(), Some(enodata()));
        assert_eq!(get(&t, &p(b"/a/x", &t)?, &ROOT).err(), Some(ENOENT));
        let st = t.stat(&p(b"/a", &t)?)?;
        assert_eq!(st.num_children, 1);
        assert_eq!(st.flags & uapi::STAT_HAS_VALUE, 0);
        Ok(())
    }

    #[test]
    fn versions_increase_and_create_only() -> Result {
        let mut t = Tree::new(limits())?;
        let v1 = t.set(&p(b"/k", &t)?, value(b"1")?, o(true, None), &ROOT)?;
        let v2 = t.set(&p(b"/k", &t)?, value(b"22")?, o(false, None), &ROOT)?;
        assert!(v2 > v1);
        assert_eq!(
            t.set(&p(b"/k", &t)?, value(b"3")?, o(true, None), &ROOT)
                .err(),
            Some(EEXIST)
        );
        assert_eq!(t.stats(0).bytes, 3);
        Ok(())
    }

    #[test]
    fn limits_leave_store_unchanged() -> Result {
        let mut t = Tree::new(limits())?;
        assert_eq!(
            t.set(&p(b"/big", &t)?, value(&[0; 17])?, o(false, None), &ROOT)
                .err(),
            Some(E2BIG)
        );
        // 20 nodes at most: the root plus 19.
        for i in 0..19u8 {
            let name = [b'/', b'a' + i];
            t.set(&p(&name, &t)?, value(b"")?, o(false, None), &ROOT)?;
        }
        let before = t.stats(0);
        assert_eq!(
            t.set(&p(b"/z/y", &t)?, value(b"")?, o(false, None), &ROOT)
                .err(),
            Some(ENOSPC)
        );
        assert_eq!(t.stats(0), before);
        assert_eq!(t.stat(&p(b"/z", &t)?).err(), Some(ENOENT));
        Ok(())
    }

    #[test]
    fn delete_and_list() -> Result {
        let mut t = Tree::new(limits())?;
        for path in [&b"/d/b"[..], b"/d/a", b"/d/c/x"] {
            t.set(&p(path, &t)?, value(b"v")?, o(false, None), &ROOT)?;
        }
        let mut out = KVVec::with_capacity(64, GFP_KERNEL)?;
        let l = t.list(&p(b"/d", &t)?, None, &mut out, 64, &ROOT)?;
        assert_eq!(l.count, 3);
        assert!(!l.more);
        assert_eq!(&out[..], b"a\0b\0c\0");
        let mut out = KVVec::with_capacity(2, GFP_KERNEL)?;
        let l = t.list(&p(b"/d", &t)?, Some(b"a"), &mut out, 2, &ROOT)?;
        assert_eq!((l.count, l.more), (1, true));
        assert_eq!(&out[..], b"b\0");

        assert_eq!(
            t.delete(&p(b"/d/c", &t)?, false, None, &ROOT).err(),
            Some(enotempty())
        );
        t.delete(&p(b"/d/c", &t)?, true, None, &ROOT)?;
        t.delete(&p(b"/d/a", &t)?, false, None, &ROOT)?;
        assert_eq!(
            t.delete(&p(b"/d/a", &t)?, false, None, &ROOT).err(),
            Some(ENOENT)
        );
        assert_eq!(t.stats(0).nodes, 3);
        t.delete(&p(b"/", &t)?, true, None, &ROOT)?;
        assert_eq!(t.stats(0).nodes, 1);
        assert_eq!(t.stats(0).bytes, 0);
        Ok(())
    }

    #[test]
    fn owners_and_modes() -> Result {
        let mut t = Tree::new(limits())?;
        let (alice, bob) = (user(1000), user(1001));
        t.set(&p(b"/a/x", &t)?, value(b"1")?, o(false, None), &alice)?;
        t.set(
            &p(b"/a/secret", &t)?,
            value(b"s")?,
            o(false, Some(0)),
            &alice,
        )?;
        assert_eq!(t.stat(&p(b"/a", &t)?)?.uid, 1000);
        assert_eq!(t.stat(&p(b"/a", &t)?)?.mode, uapi::MODE_DEFAULT);
        let before = t.stats(1000);
        // Bob may read a default-mode node, but neither change it nor create under it.
        assert_eq!(get(&t, &p(b"/a/x", &t)?, &bob)?.0.as_bytes(), b"1");
        assert_eq!(get(&t, &p(b"/a/secret", &t)?, &bob).err(), Some(EACCES));
        let set = |t: &mut Tree, path: &[u8], who: &Caller| -> Result<u64> {
            let path = Path::parse(path, &t.limits)?;
            t.set(&path, value(b"2")?, o(false, None), who)
        };
        assert_eq!(set(&mut t, b"/a/x", &bob).err(), Some(EACCES));
        assert_eq!(set(&mut t, b"/a/new", &bob).err(), Some(EACCES));
        assert_eq!(
            t.delete(&p(b"/a/x", &t)?, false, None, &bob).err(),
            Some(EACCES)
        );
        assert_eq!(
            t.delete(&p(b"/", &t)?, true, None, &bob).err(),
            Some(EACCES)
        );
        assert_eq!(
            t.set(&p(b"/a/x", &t)?, value(b"3")?, o(false, Some(3)), &bob)
                .err(),
            Some(EACCES)
        );
        assert_eq!(t.stats(1000), before);
        // Only the owner changes the mode; then Bob may write and create.
        t.set(
            &p(b"/a", &t)?,
            value(b"")?,
            o(false, Some(uapi::MODE_ALL)),
            &alice,
        )?;
        set(&mut t, b"/a/new", &bob)?;
        assert_eq!(t.stats(1001).uid_nodes, 1);
        assert_eq!(
            t.set(&p(b"/a", &t)?, value(b"")?, o(false, Some(0)), &bob)
                .err(),
            Some(EPERM)
        );
        // A recursive delete needs the right to delete every node below.
        assert_eq!(
            t.delete(&p(b"/a", &t)?, true, None, &bob).err(),
            Some(EACCES)
        );
        // Nor may Alice delete Bob's node under her own.
        assert_eq!(
            t.delete(&p(b"/a", &t)?, true, None, &alice).err(),
            Some(EACCES)
        );
        t.delete(&p(b"/a/new", &t)?, false, None, &bob)?;
        t.delete(&p(b"/a", &t)?, true, None, &alice)?;
        assert_eq!(t.stats(1000).uid_nodes, 0);
        assert_eq!(t.stats(1001).uid_nodes, 0);
        t.check()?;
        Ok(())
    }

    #[test]
    fn quotas_and_check() -> Result {
        let mut t = Tree::new(limits().with_uid_quota(3, 10))?;
        let alice = user(1000);
        t.set(&p(b"/q/a", &t)?, value(b"12345")?, o(false, None), &alice)?;
        assert_eq!(t.stats(1000).uid_nodes, 2);
        assert_eq!(t.stats(1000).uid_bytes, 7);
        let before = t.stats(1000);
        // A fourth node, or an eleventh byte, is over the quota.
        assert_eq!(
            t.set(&p(b"/q/b/c", &t)?, value(b"")?, o(false, None), &alice)
                .err(),
            Some(edquot())
        );
        assert_eq!(
            t.set(
                &p(b"/q/a", &t)?,
                value(b"123456789")?,
                o(false, None),
                &alice
            )
            .err(),
            Some(edquot())
        );
        assert_eq!(t.stats(1000), before);
        // Root is not limited by the per-user quota.
        t.set(
            &p(b"/r/s/t/u", &t)?,
            value(b"0123456789")?,
            o(false, None),
            &ROOT,
        )?;
        let check = t.check()?;
        assert_eq!(check.nodes, t.stats(0).nodes);
        assert_eq!(check.bytes, t.stats(0).bytes);
        assert_eq!(check.owners, 2);
        t.delete(&p(b"/", &t)?, true, None, &ROOT)?;
        assert_eq!(t.check()?.owners, 0);
        Ok(())
    }

    #[test]
    fn compare_and_set_ephemeral_and_sequential() -> Result {
        let mut t = Tree::new(limits())?;
        let v1 = t.set(&p(b"/c", &t)?, value(b"1")?, o(false, None), &ROOT)?;
        let cas = |v| SetOptions {
            if_version: Some(v),
            ..Default::default()
        };
        let v2 = t.set(&p(b"/c", &t)?, value(b"2")?, cas(v1), &ROOT)?;
        assert_eq!(
            t.set(&p(b"/c", &t)?, value(b"3")?, cas(v1), &ROOT).err(),
            Some(estale())
        );
        assert_eq!(
            t.set(&p(b"/d", &t)?, value(b"3")?, cas(v1), &ROOT).err(),
            Some(ENOENT)
        );
        assert_eq!(
            t.delete(&p(b"/c", &t)?, false, Some(v1), &ROOT).err(),
            Some(estale())
        );
        t.delete(&p(b"/c", &t)?, false, Some(v2), &ROOT)?;

        let session = t.new_session();
        let eph = SetOptions {
            ephemeral: Some(session),
            ..Default::default()
        };
        t.set(&p(b"/e/x", &t)?, value(b"")?, eph, &ROOT)?;
        assert_eq!(t.stat(&p(b"/e/x", &t)?)?.session, session);
        assert_eq!(t.stat(&p(b"/e", &t)?)?.session, 0);
        assert_eq!(
            t.set(&p(b"/e/x", &t)?, value(b"")?, eph, &ROOT).err(),
            Some(EEXIST)
        );
        assert_eq!(
            t.set(&p(b"/e/x/y", &t)?, value(b"")?, o(false, None), &ROOT)
                .err(),
            Some(ENOTDIR)
        );
        t.remove_ephemeral(&p(b"/e/x", &t)?, session + 1);
        assert!(t.stat(&p(b"/e/x", &t)?).is_ok());
        t.remove_ephemeral(&p(b"/e/x", &t)?, session);
        assert_eq!(t.stat(&p(b"/e/x", &t)?).err(), Some(ENOENT));

        let mut buf = KVVec::with_capacity(32, GFP_KERNEL)?;
        for n in 0..3u64 {
            let (_, number) = t.set_sequential(
                &p(b"/q/i-", &t)?,
                value(b"")?,
                o(false, None),
                &ROOT,
                &mut buf,
            )?;
            assert_eq!(number, n);
        }
        assert_eq!(&buf[..], b"/q/i-0000000002");
        t.delete(&p(b"/q/i-0000000002", &t)?, false, None, &ROOT)?;
        let (_, number) = t.set_sequential(
            &p(b"/q/i-", &t)?,
            value(b"")?,
            o(false, None),
            &ROOT,
            &mut buf,
        )?;
        assert_eq!(number, 3);
        t.check()?;
        Ok(())
    }

    #[test]
    fn transactions_apply_all_or_nothing() -> Result {
        let mut t = Tree::new(limits())?;
        let alice = user(1000);
        t.set(
            &p(b"/a", &t)?,
            value(b"1")?,
            o(false, Some(uapi::MODE_ALL)),
            &alice,
        )?;
        t.set(&p(b"/d/x", &t)?, value(b"x")?, o(false, None), &alice)?;
        let before = t.stats(1000);
        let a_before = t.stat(&p(b"/a", &t)?)?;
        let d_before = t.stat(&p(b"/d", &t)?)?;
        let (pa, pn, pd) = (p(b"/a", &t)?, p(b"/n/m", &t)?, p(b"/d", &t)?);
        let mut failing = [
            TxnOp::Set(pa, Some(value(b"22")?), o(false, None)),
            TxnOp::Set(pn, Some(value(b"new")?), o(false, None)),
            TxnOp::Delete(pd, true, None),
            TxnOp::CheckVersion(pa, 12345),
        ];
        let failure = t.transaction(&mut failing, &alice).err().ok_or(EINVAL)?;
        assert_eq!(failure.index, Some(3));
        assert_eq!(failure.error, estale());
        assert_eq!(failure.current, a_before.version);
        // Exactly as before: counters, usage, values, versions, the deleted subtree.
        assert_eq!(t.stats(1000), before);
        assert_eq!(t.stat(&p(b"/a", &t)?)?, a_before);
        assert_eq!(t.stat(&p(b"/d", &t)?)?, d_before);
        assert_eq!(get(&t, &p(b"/a", &t)?, &alice)?.0.as_bytes(), b"1");
        assert_eq!(get(&t, &p(b"/d/x", &t)?, &alice)?.0.as_bytes(), b"x");
        assert_eq!(t.stat(&p(b"/n", &t)?).err(), Some(ENOENT));
        t.check()?;

        let mut working = [
            TxnOp::CheckVersion(pa, a_before.version),
            TxnOp::Set(pa, Some(value(b"22")?), o(false, None)),
            TxnOp::Set(pn, Some(value(b"new")?), o(false, None)),
            TxnOp::Delete(pd, true, None),
            TxnOp::CheckAbsent(pd),
        ];
        let version = t.transaction(&mut working, &alice).map_err(|f| f.error)?;
        // Its three changes take consecutive versions.
        assert_eq!(version, before.sequence + 3);
        assert_eq!(t.stat(&p(b"/a", &t)?)?.version, version - 2);
        assert_eq!(t.stat(&p(b"/n/m", &t)?)?.version, version - 1);
        assert_eq!(t.stat(&p(b"/d", &t)?).err(), Some(ENOENT));
        assert_eq!(t.stats(1000).uid_nodes, 3);
        let check = t.check()?;
        assert_eq!(check.nodes, t.stats(0).nodes);
        Ok(())
    }

    #[test]
    fn root_value_and_sequential_skips() -> Result {
        let mut t = Tree::new(limits())?;
        // An empty value of the root is charged to nobody, and the check agrees.
        t.set(&p(b"/", &t)?, value(b"")?, o(false, None), &ROOT)?;
        t.check()?;
        // A sequential create skips a name someone made by hand.
        t.set(
            &p(b"/q/i-0000000000", &t)?,
            value(b"")?,
            o(false, None),
            &ROOT,
        )?;
        let mut buf = KVVec::with_capacity(32, GFP_KERNEL)?;
        let (_, number) = t.set_sequential(
            &p(b"/q/i-", &t)?,
            value(b"")?,
            o(false, None),
            &ROOT,
            &mut buf,
        )?;
        assert_eq!(number, 1);
        t.check()?;
        Ok(())
    }
}
