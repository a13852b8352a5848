// SPDX-License-Identifier: GPL-2.0

//! The path tree: nodes, their ordered children, values and the store's accounting.
//!
//! Every operation checks everything that can fail (the path, the limits, the allocations it
//! needs) before it changes anything, so a failed operation leaves the tree exactly as it was.
//! The caller holds the store's lock for the duration of each call: shared for the reads in this
//! file, exclusive for the changes. A get copies the value out under the lock, into a buffer that
//! the caller owns.
//!
//! The counters are kept by invariants that [`Tree::check`] verifies; where a subtraction relies
//! on one it saturates, so that a broken invariant shows in the check rather than as a panic.
//!
//! The code is split by purpose: `node` (a node and the walk over a subtree), `change` (sets and
//! deletes, and the one step that commits a prepared change), `teardown` (freeing subtrees
//! without recursion, and draining deleted ones a batch at a time), `check` (the consistency
//! check) and `txn` (transactions).

use kernel::{
    prelude::*,
    rbtree::RBTree, //
};

use crate::{
    access::{
        Caller,
        ROOT_UID, //
    },
    bytes::{
        Name,
        StackBuf, //
    },
    error::enodata,
    events::{
        EventLog,
        Visibility, //
    },
    limits::Limits,
    num::FromSafeCast,
    path::Path,
    quota::Ledger,
    uapi,
    value::Value, //
};

mod change;
mod check;
mod node;
mod teardown;
mod txn;

pub(crate) use change::SetOptions;
pub(crate) use check::CheckReport;
pub(crate) use node::NodeStat;
pub(crate) use teardown::Drain;
pub(crate) use txn::TxnOp;

use node::{
    now_ns,
    Node, //
};

/// Room for any name.
const NAME_BUF: usize = 256;
const _: () = assert!(uapi::MAX_NAME_LEN as usize <= NAME_BUF);

/// Usage of the whole store, and what one user owns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Nodes in the store, the root included.
    pub(crate) nodes: u64,
    /// Bytes of all names and values.
    pub(crate) bytes: u64,
    /// The store-wide sequence number: the version of the last change.
    pub(crate) sequence: u64,
    /// Nodes the user owns.
    pub(crate) uid_nodes: u64,
    /// Bytes of the names and values of the nodes the user owns.
    pub(crate) uid_bytes: u64,
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
    /// Subtrees deletes took out of the tree and have yet to drain (see [`Drain`]): still
    /// counted in `nodes` and `bytes`, and charged in `ledger`.
    draining: KVVec<teardown::Draining>,
}

impl Tree {
    /// Creates an empty store (just the root, owned by root) under `limits`.
    pub(crate) fn new(limits: Limits) -> Result<Self> {
        let depth = usize::from_safe_cast(limits.max_depth) + 1;
        Ok(Self {
            root: Node::new(None, 0, now_ns(), ROOT_UID, uapi::MODE_ROOT),
            nodes: 1,
            bytes: 0,
            sequence: 0,
            limits,
            ledger: Ledger::new(),
            events: EventLog::new(
                limits.watch_events,
                usize::from_safe_cast(limits.watch_bytes),
            )?,
            last_session: 0,
            txn: None,
            teardown: KVVec::with_capacity(depth, GFP_KERNEL_ACCOUNT)?,
            draining: KVVec::new(),
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

    /// A new session id for an open file (never 0).
    pub(crate) fn new_session(&mut self) -> u64 {
        self.last_session += 1;
        self.last_session
    }
}

/// Reading: what gets, stats, listings and watches see. These only need the lock shared.
///
/// Reaching a node to read it needs the right to read each of its ancestors, as searching a
/// directory does: a private node hides its whole subtree.
impl Tree {
    /// The node at `path`, if it exists and `caller` may read each of its ancestors: `EACCES`
    /// at the first ancestor it may not read (whether or not the node exists below it, which
    /// the caller must not learn), `Ok(None)` when the node does not exist.
    pub(crate) fn find(&self, path: &Path<'_>, caller: &Caller) -> Result<Option<&Node>> {
        let mut node = &self.root;
        for c in path.components() {
            caller.may_read(node.owner, node.mode)?;
            match node.child(c) {
                Some(child) => node = child,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    /// The node at `path`, as [`Tree::find`] reaches it: `ENOENT` when it does not exist.
    fn reach(&self, path: &Path<'_>, caller: &Caller) -> Result<&Node> {
        self.find(path, caller)?.ok_or(ENOENT)
    }

    /// Checks that `caller` may watch the node at `path`: it must be allowed to read its
    /// ancestors, and the node if it exists.
    pub(crate) fn may_watch(&self, path: &Path<'_>, caller: &Caller) -> Result {
        match self.find(path, caller)? {
            Some(node) => caller.may_read(node.owner, node.mode),
            None => Ok(()),
        }
    }

    /// Calls `f` with the value of the node at `path` and the node's version, if `caller` may
    /// read it. `f` runs under the store's lock: it should only copy the value.
    pub(crate) fn get<R>(
        &self,
        path: &Path<'_>,
        caller: &Caller,
        f: impl FnOnce(&[u8], u64) -> R,
    ) -> Result<R> {
        let node = self.reach(path, caller)?;
        caller.may_read(node.owner, node.mode)?;
        let value = node.value.as_ref().ok_or_else(enodata)?;
        Ok(f(value.as_bytes(), node.version))
    }

    /// The metadata of the node at `path`, visible to every user who may read its ancestors.
    pub(crate) fn stat(&self, path: &Path<'_>, caller: &Caller) -> Result<NodeStat> {
        Ok(self.reach(path, caller)?.stat())
    }

    /// The version of the node at `path`, if it exists.
    pub(crate) fn version_of(&self, path: &Path<'_>) -> Option<u64> {
        self.root
            .descend(path.components())
            .map(|node| node.version)
    }

    /// Who may learn of a change of the node at `path` (bytes of a valid path) through a
    /// subtree watch: those who may read each of its ancestors that exists.
    pub(crate) fn visibility(&self, path: &[u8]) -> Visibility {
        let mut visibility = Visibility::All;
        let Ok(path) = Path::parse(path, &self.limits) else {
            return visibility;
        };
        let mut node = &self.root;
        for c in path.components() {
            let others_read = node.mode & uapi::MODE_OTHERS_READ != 0;
            visibility = visibility.below(node.owner, others_read);
            match node.child(c) {
                Some(child) => node = child,
                None => break,
            }
        }
        visibility
    }

    /// Usage of the whole store, and what `uid` owns.
    pub(crate) fn stats(&self, uid: u32) -> Stats {
        let usage = self.ledger.usage(uid);
        Stats {
            nodes: self.nodes,
            bytes: self.bytes,
            sequence: self.sequence,
            uid_nodes: usage.nodes,
            uid_bytes: usage.bytes,
        }
    }

    /// Whether the node at `path` is an ephemeral node of `session`.
    pub(crate) fn is_ephemeral_of(&self, path: &Path<'_>, session: u64) -> bool {
        self.root
            .descend(path.components())
            .is_some_and(|node| node.session() == session)
    }

    /// Appends the names of the children of `path` that sort after `after` to `out`, each
    /// followed by NUL, while `out` stays within `room` bytes, if `caller` may read the node.
    /// Give `out` a capacity of `room` so that nothing here allocates. Only reads the tree: each
    /// name is found with one search from the one before (7.2's read-only cursors do not move).
    pub(crate) fn list(
        &self,
        path: &Path<'_>,
        after: Option<&[u8]>,
        out: &mut KVVec<u8>,
        room: usize,
        caller: &Caller,
    ) -> Result<Listing> {
        let node = self.reach(path, caller)?;
        caller.may_read(node.owner, node.mode)?;
        let mut listing = Listing::default();
        let Some(children) = node.children() else {
            return Ok(listing);
        };
        // The last name listed, as the cursor of the next search.
        let mut last = StackBuf::<NAME_BUF>::new();
        let mut listed: Option<usize> = None;
        loop {
            if let Some(start) = listed {
                let name = out.get(start..out.len().saturating_sub(1)).unwrap_or(&[]);
                if !last.fill(name) {
                    return Err(EINVAL);
                }
            }
            let cursor = if listed.is_some() {
                Some(last.as_bytes())
            } else {
                after
            };
            let start = out.len();
            let step = next_child(children, cursor, |name| -> Result<Option<usize>> {
                let need = name.len() + 1;
                if out.len() + need > room {
                    return Ok(Some(need));
                }
                out.extend_from_slice(name, GFP_KERNEL_ACCOUNT)?;
                out.push(0, GFP_KERNEL_ACCOUNT)?;
                Ok(None)
            });
            match step.transpose()? {
                None => return Ok(listing),
                Some(None) => {
                    listing.count += 1;
                    listed = Some(start);
                }
                Some(Some(need)) => {
                    listing.more = true;
                    if listing.count == 0 {
                        listing.needed = need;
                    }
                    return Ok(listing);
                }
            }
        }
    }
}

/// Calls `f` with the name of the first of `children` after the name `after` (the first of
/// them without one), if there is one.
fn next_child<R>(
    children: &RBTree<Name, Node>,
    after: Option<&[u8]>,
    f: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    match after {
        None => children.cursor_front().map(|c| f(c.current().0.as_bytes())),
        Some(after) => Name::with_borrowed(after, |k| {
            let cursor = children.cursor_lower_bound(k)?;
            let (name, _) = cursor.current();
            if name == k {
                cursor.peek_next().map(|(next, _)| f(next.as_bytes()))
            } else {
                Some(f(name.as_bytes()))
            }
        }),
    }
}

#[kunit_tests(pathstore_tree)]
mod tests {
    use super::*;
    use crate::{
        bytes::Bytes,
        error::{
            edquot,
            enotempty,
            StoreError,
            StoreResult, //
        },
    };

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
        Caller {
            uid,
            account: uid,
            admin: false,
        }
    }

    fn value(bytes: &[u8]) -> Result<Value> {
        Value::copy(bytes, &limits())
    }

    /// The errno a change failed with, if it failed.
    trait Errno {
        fn errno(self) -> Option<Error>;
    }

    impl<T> Errno for StoreResult<T> {
        fn errno(self) -> Option<Error> {
            self.err().map(Error::from)
        }
    }

    /// The value and version of the node at `path`, as `who` reads it.
    fn get(t: &Tree, path: &Path<'_>, who: &Caller) -> Result<(Bytes, u64)> {
        t.get(path, who, |value, version| {
            Ok((Bytes::copy(value)?, version))
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
        let st = t.stat(&p(b"/a", &t)?, &ROOT)?;
        assert_eq!(st.num_children, 1);
        assert!(!st.has_value);
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
                .errno(),
            Some(EEXIST)
        );
        assert_eq!(t.stats(0).bytes, 3);
        Ok(())
    }

    #[test]
    fn limits_leave_store_unchanged() -> Result {
        let mut t = Tree::new(limits())?;
        // A value longer than max_value_len cannot be made, so it never reaches the tree.
        assert_eq!(value(&[0; 17]).err(), Some(E2BIG));
        // 20 nodes at most: the root plus 19.
        for i in 0..19u8 {
            let name = [b'/', b'a' + i];
            t.set(&p(&name, &t)?, value(b"")?, o(false, None), &ROOT)?;
        }
        let before = t.stats(0);
        assert_eq!(
            t.set(&p(b"/z/y", &t)?, value(b"")?, o(false, None), &ROOT)
                .errno(),
            Some(ENOSPC)
        );
        assert_eq!(t.stats(0), before);
        assert_eq!(t.stat(&p(b"/z", &t)?, &ROOT).err(), Some(ENOENT));
        Ok(())
    }

    #[test]
    fn delete_and_list() -> Result {
        let mut t = Tree::new(limits())?;
        for path in [&b"/d/b"[..], b"/d/a", b"/d/c/x"] {
            t.set(&p(path, &t)?, value(b"v")?, o(false, None), &ROOT)?;
        }
        let mut out = KVVec::with_capacity(64, GFP_KERNEL_ACCOUNT)?;
        let l = t.list(&p(b"/d", &t)?, None, &mut out, 64, &ROOT)?;
        assert_eq!(l.count, 3);
        assert!(!l.more);
        assert_eq!(&out[..], b"a\0b\0c\0");
        let mut out = KVVec::with_capacity(2, GFP_KERNEL_ACCOUNT)?;
        let l = t.list(&p(b"/d", &t)?, Some(b"a"), &mut out, 2, &ROOT)?;
        assert_eq!((l.count, l.more), (1, true));
        assert_eq!(&out[..], b"b\0");

        assert_eq!(
            t.delete_drained(&p(b"/d/c", &t)?, false, None, &ROOT)
                .errno(),
            Some(enotempty())
        );
        t.delete_drained(&p(b"/d/c", &t)?, true, None, &ROOT)?;
        t.delete_drained(&p(b"/d/a", &t)?, false, None, &ROOT)?;
        assert_eq!(
            t.delete_drained(&p(b"/d/a", &t)?, false, None, &ROOT)
                .errno(),
            Some(ENOENT)
        );
        assert_eq!(t.stats(0).nodes, 3);
        t.delete_drained(&p(b"/", &t)?, true, None, &ROOT)?;
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
        assert_eq!(t.stat(&p(b"/a", &t)?, &ROOT)?.owner, 1000);
        assert_eq!(t.stat(&p(b"/a", &t)?, &ROOT)?.mode, uapi::MODE_DEFAULT);
        let before = t.stats(1000);
        // Bob may read a default-mode node, but neither change it nor create under it.
        assert_eq!(get(&t, &p(b"/a/x", &t)?, &bob)?.0.as_bytes(), b"1");
        assert_eq!(get(&t, &p(b"/a/secret", &t)?, &bob).err(), Some(EACCES));
        let set = |t: &mut Tree, path: &[u8], who: &Caller| -> Result<u64> {
            let path = Path::parse(path, &t.limits)?;
            Ok(t.set(&path, value(b"2")?, o(false, None), who)?)
        };
        assert_eq!(set(&mut t, b"/a/x", &bob).err(), Some(EACCES));
        assert_eq!(set(&mut t, b"/a/new", &bob).err(), Some(EACCES));
        assert_eq!(
            t.delete_drained(&p(b"/a/x", &t)?, false, None, &bob)
                .errno(),
            Some(EACCES)
        );
        assert_eq!(
            t.delete_drained(&p(b"/", &t)?, true, None, &bob).errno(),
            Some(EACCES)
        );
        assert_eq!(
            t.set(&p(b"/a/x", &t)?, value(b"3")?, o(false, Some(3)), &bob)
                .errno(),
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
                .errno(),
            Some(EPERM)
        );
        // A recursive delete needs the right to delete every node below.
        assert_eq!(
            t.delete_drained(&p(b"/a", &t)?, true, None, &bob).errno(),
            Some(EACCES)
        );
        // Nor may Alice delete Bob's node under her own.
        assert_eq!(
            t.delete_drained(&p(b"/a", &t)?, true, None, &alice).errno(),
            Some(EACCES)
        );
        t.delete_drained(&p(b"/a/new", &t)?, false, None, &bob)?;
        t.delete_drained(&p(b"/a", &t)?, true, None, &alice)?;
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
                .errno(),
            Some(edquot())
        );
        assert_eq!(
            t.set(
                &p(b"/q/a", &t)?,
                value(b"123456789")?,
                o(false, None),
                &alice
            )
            .errno(),
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
        t.delete_drained(&p(b"/", &t)?, true, None, &ROOT)?;
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
            Some(StoreError::Stale { current: v2 })
        );
        assert_eq!(
            t.set(&p(b"/d", &t)?, value(b"3")?, cas(v1), &ROOT).errno(),
            Some(ENOENT)
        );
        assert_eq!(
            t.delete_drained(&p(b"/c", &t)?, false, Some(v1), &ROOT)
                .err(),
            Some(StoreError::Stale { current: v2 })
        );
        t.delete_drained(&p(b"/c", &t)?, false, Some(v2), &ROOT)?;

        let session = t.new_session();
        let eph = SetOptions {
            ephemeral: Some(session),
            ..Default::default()
        };
        t.set(&p(b"/e/x", &t)?, value(b"")?, eph, &ROOT)?;
        assert_eq!(t.stat(&p(b"/e/x", &t)?, &ROOT)?.session, session);
        assert_eq!(t.stat(&p(b"/e", &t)?, &ROOT)?.session, 0);
        assert_eq!(
            t.set(&p(b"/e/x", &t)?, value(b"")?, eph, &ROOT).errno(),
            Some(EEXIST)
        );
        assert_eq!(
            t.set(&p(b"/e/x/y", &t)?, value(b"")?, o(false, None), &ROOT)
                .errno(),
            Some(ENOTDIR)
        );
        t.remove_ephemeral(&p(b"/e/x", &t)?, session + 1);
        assert!(t.stat(&p(b"/e/x", &t)?, &ROOT).is_ok());
        t.remove_ephemeral(&p(b"/e/x", &t)?, session);
        assert_eq!(t.stat(&p(b"/e/x", &t)?, &ROOT).err(), Some(ENOENT));

        let mut buf = KVVec::new();
        for n in 0..3u64 {
            let made = t.set_sequential(&p(b"/q/i-", &t)?, value(b"")?, o(false, None), &ROOT)?;
            assert_eq!(made.number, n);
            buf = made.path;
        }
        assert_eq!(&buf[..], b"/q/i-0000000002");
        t.delete_drained(&p(b"/q/i-0000000002", &t)?, false, None, &ROOT)?;
        let made = t.set_sequential(&p(b"/q/i-", &t)?, value(b"")?, o(false, None), &ROOT)?;
        assert_eq!(made.number, 3);
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
        let a_before = t.stat(&p(b"/a", &t)?, &ROOT)?;
        let d_before = t.stat(&p(b"/d", &t)?, &ROOT)?;
        let (pa, pn, pd) = (p(b"/a", &t)?, p(b"/n/m", &t)?, p(b"/d", &t)?);
        let mut failing = [
            TxnOp::Set(pa, Some(value(b"22")?), o(false, None)),
            TxnOp::Set(pn, Some(value(b"new")?), o(false, None)),
            TxnOp::Delete(pd, true, None),
            TxnOp::CheckVersion(pa, 12345),
        ];
        let failure = t.transaction(&mut failing, &alice).err().ok_or(EINVAL)?;
        assert_eq!(failure.index, Some(3));
        assert_eq!(
            failure.error,
            StoreError::Stale {
                current: a_before.version
            }
        );
        // Exactly as before: counters, usage, values, versions, the deleted subtree.
        assert_eq!(t.stats(1000), before);
        assert_eq!(t.stat(&p(b"/a", &t)?, &ROOT)?, a_before);
        assert_eq!(t.stat(&p(b"/d", &t)?, &ROOT)?, d_before);
        assert_eq!(get(&t, &p(b"/a", &t)?, &alice)?.0.as_bytes(), b"1");
        assert_eq!(get(&t, &p(b"/d/x", &t)?, &alice)?.0.as_bytes(), b"x");
        assert_eq!(t.stat(&p(b"/n", &t)?, &ROOT).err(), Some(ENOENT));
        t.check()?;

        let mut working = [
            TxnOp::CheckVersion(pa, a_before.version),
            TxnOp::Set(pa, Some(value(b"22")?), o(false, None)),
            TxnOp::Set(pn, Some(value(b"new")?), o(false, None)),
            TxnOp::Delete(pd, true, None),
            TxnOp::CheckAbsent(pd),
        ];
        let (version, drain) = t
            .transaction(&mut working, &alice)
            .map_err(|f| Error::from(f.error))?;
        t.drain_all(drain);
        // Its three changes take consecutive versions.
        assert_eq!(version, before.sequence + 3);
        assert_eq!(t.stat(&p(b"/a", &t)?, &ROOT)?.version, version - 2);
        assert_eq!(t.stat(&p(b"/n/m", &t)?, &ROOT)?.version, version - 1);
        assert_eq!(t.stat(&p(b"/d", &t)?, &ROOT).err(), Some(ENOENT));
        assert_eq!(t.stats(1000).uid_nodes, 3);
        let check = t.check()?;
        assert_eq!(check.nodes, t.stats(0).nodes);
        Ok(())
    }

    #[test]
    fn a_deleted_subtree_stays_counted_until_drained() -> Result {
        let mut t = Tree::new(Limits::from_params(16, 256, 8, 2000, 20000))?;
        let alice = user(1000);
        // 600 nodes of alice's below /a (and /a itself), three levels deep, and one elsewhere.
        for i in 0..30u32 {
            for j in 0..20u32 {
                let digit = |n: u32, d: u32| b'0' + u8::try_from(n / d % 10).unwrap_or(0);
                let path = [
                    b'/',
                    b'a',
                    b'/',
                    digit(i, 10),
                    digit(i, 1),
                    b'/',
                    digit(j, 10),
                    digit(j, 1),
                ];
                t.set(&p(&path, &t)?, value(b"v")?, o(false, None), &alice)?;
            }
        }
        t.set(&p(b"/b", &t)?, value(b"w")?, o(false, None), &alice)?;
        let before = t.stats(1000);
        assert_eq!(before.nodes, 633);
        assert_eq!(before.uid_nodes, 632);
        let mut drain = t.delete(&p(b"/a", &t)?, true, None, &alice)?;
        // Only /a is counted out; the rest waits for the drain, and the check counts it.
        assert_eq!(t.stats(1000).nodes, 632);
        assert_eq!(t.stats(1000).uid_nodes, 631);
        assert_eq!(t.stat(&p(b"/a", &t)?, &ROOT).err(), Some(ENOENT));
        assert_eq!(t.check()?.nodes, 632);
        // A step takes a batch, and no more.
        t.drain(&mut drain);
        assert!(!drain.is_done());
        assert_eq!(t.stats(1000).nodes, 632 - teardown::DRAIN_BATCH as u64);
        drain.free_batch();
        t.check()?;
        t.drain_all(drain);
        let after = t.stats(1000);
        assert_eq!((after.nodes, after.uid_nodes, after.uid_bytes), (2, 1, 2));
        assert_eq!(t.check()?.owners, 1);
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
        let made = t.set_sequential(&p(b"/q/i-", &t)?, value(b"")?, o(false, None), &ROOT)?;
        assert_eq!(made.number, 1);
        t.check()?;
        Ok(())
    }
}
