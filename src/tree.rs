// SPDX-License-Identifier: GPL-2.0

//! The path tree: nodes, their ordered children, values and the store's accounting.
//!
//! Every operation checks everything that can fail (the path, the limits, the allocations it
//! needs) before it changes anything, so a failed operation leaves the tree exactly as it was.
//! The caller holds the store's lock for the duration of each call; values are reference
//! counted so that readers copy them to userspace after dropping the lock.

use core::{
    cmp::Ordering,
    mem,
    ptr::NonNull, //
};

use kernel::{
    bindings,
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
    sync::Arc, //
};

use crate::{
    abi::{
        enodata,
        enotempty, //
    },
    limits::Limits,
    path::Path,
    uapi, //
};

/// A stored value. Immutable once stored: a set replaces the whole [`Arc`].
pub(crate) struct Value {
    bytes: KVVec<u8>,
}

impl Value {
    /// Wraps `bytes` as a shareable value.
    pub(crate) fn new(bytes: KVVec<u8>) -> Result<Arc<Self>> {
        Ok(Arc::new(Self { bytes }, GFP_KERNEL)?)
    }

    /// The value's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// The name of a node: its key in the parent's children.
///
/// Lookups compare a name from a request against the stored names without copying it: see
/// [`Name::lookup`].
pub(crate) struct Name(NameRepr);

enum NameRepr {
    /// A name stored in the tree.
    Owned(KVec<u8>),
    /// A name borrowed for one lookup. Only [`Name::lookup`] creates it, and the reference it
    /// hands out cannot outlive the borrowed bytes.
    Borrowed(NonNull<[u8]>),
}

// SAFETY: `Owned` is a `KVec<u8>`, which is `Send`; `Borrowed` behaves as a `&[u8]` (which is
// `Send`) whose lifetime `Name::lookup` enforces.
unsafe impl Send for Name {}
// SAFETY: As above, both representations are shared-immutable byte slices.
unsafe impl Sync for Name {}

impl Name {
    /// Copies `bytes` into a new owned name.
    fn new(bytes: &[u8]) -> Result<Self> {
        let mut v = KVec::with_capacity(bytes.len(), GFP_KERNEL)?;
        v.extend_from_slice(bytes, GFP_KERNEL)?;
        Ok(Self(NameRepr::Owned(v)))
    }

    /// Calls `f` with a temporary name for `bytes`, for looking up a child without allocating.
    fn lookup<R>(bytes: &[u8], f: impl for<'k> FnOnce(&'k Name) -> R) -> R {
        f(&Self(NameRepr::Borrowed(NonNull::from(bytes))))
    }

    /// The name's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            NameRepr::Owned(v) => v,
            // A borrowed name only exists inside `Name::lookup`, which borrows the slice it was
            // made from for the whole time.
            // SAFETY: So the slice is alive and unchanged, as explained above.
            NameRepr::Borrowed(p) => unsafe { p.as_ref() },
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// The current time for node timestamps, in nanoseconds since the epoch.
fn now_ns() -> u64 {
    // SAFETY: `ktime_get_real` has no preconditions.
    let t = unsafe { bindings::ktime_get_real() };
    u64::try_from(t).unwrap_or(0)
}

/// One node of the tree.
pub(crate) struct Node {
    value: Option<Arc<Value>>,
    children: RBTree<Name, Node>,
    num_children: u64,
    version: u64,
    child_version: u64,
    ctime_ns: u64,
    mtime_ns: u64,
}

impl Node {
    fn new(value: Option<Arc<Value>>, version: u64, now: u64) -> Self {
        Self {
            value,
            children: RBTree::new(),
            num_children: 0,
            version,
            child_version: 0,
            ctime_ns: now,
            mtime_ns: now,
        }
    }

    fn value_len(&self) -> u64 {
        self.value.as_ref().map_or(0, |v| v.len())
    }

    /// The descendant reached through `components`, if it exists.
    fn descend<'a, 'p>(&'a self, components: impl Iterator<Item = &'p [u8]>) -> Option<&'a Node> {
        let mut node = self;
        for c in components {
            node = Name::lookup(c, |k| node.children.get(k))?;
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
            node = Name::lookup(c, move |k| node.children.get_mut(k))?;
        }
        Some(node)
    }

    /// Fills the ABI's view of this node.
    pub(crate) fn stat(&self) -> uapi::NodeStat {
        uapi::NodeStat {
            version: self.version,
            child_version: self.child_version,
            ctime_ns: self.ctime_ns,
            mtime_ns: self.mtime_ns,
            num_children: self.num_children,
            value_len: self.value_len() as u32,
            flags: if self.value.is_some() {
                uapi::STAT_HAS_VALUE
            } else {
                0
            },
            reserved: [0; 2],
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
    /// Work stack for tearing subtrees down without recursion. Always empty between calls; its
    /// capacity (`max_depth + 1`) is reserved up front so that deletes never allocate.
    teardown: KVVec<Node>,
}

impl Tree {
    /// Creates an empty store (just the root) under `limits`.
    pub(crate) fn new(limits: Limits) -> Result<Self> {
        let depth = limits.max_depth as usize + 1;
        Ok(Self {
            root: Node::new(None, 0, now_ns()),
            nodes: 1,
            bytes: 0,
            sequence: 0,
            limits,
            teardown: KVVec::with_capacity(depth, GFP_KERNEL)?,
        })
    }

    /// Sets the value of the node at `path`, creating it and its missing parents.
    ///
    /// With `create_only`, fails with `EEXIST` when the node already exists. Returns the node's
    /// new version.
    pub(crate) fn set(
        &mut self,
        path: &Path<'_>,
        value: Arc<Value>,
        create_only: bool,
    ) -> Result<u64> {
        let value_len = value.len();
        if value_len > u64::from(self.limits.max_value_len) {
            return Err(E2BIG);
        }
        let seq = self.sequence + 1;
        let now = now_ns();

        // How many leading components exist already.
        let mut existing = 0;
        let mut node = &self.root;
        for c in path.components() {
            match Name::lookup(c, |k| node.children.get(k)) {
                Some(child) => {
                    node = child;
                    existing += 1;
                }
                None => break,
            }
        }

        if existing == path.depth() {
            if create_only {
                return Err(EEXIST);
            }
            let bytes = (self.bytes - node.value_len())
                .checked_add(value_len)
                .filter(|&b| b <= self.limits.max_bytes)
                .ok_or(ENOSPC)?;
            let node = self.root.descend_mut(path.components()).ok_or(ENOENT)?;
            node.value = Some(value);
            node.version = seq;
            node.mtime_ns = now;
            self.bytes = bytes;
            self.sequence = seq;
            return Ok(seq);
        }

        // Create the missing nodes: check the limits, then build them as a detached chain (the
        // only step that allocates), then link the chain in, which cannot fail.
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
        let bytes = self
            .bytes
            .checked_add(names_len)
            .and_then(|b| b.checked_add(value_len))
            .filter(|&b| b <= self.limits.max_bytes)
            .ok_or(ENOSPC)?;

        let mut missing = path.components().rev().take(path.depth() - existing);
        let mut chain_name = missing.next().ok_or(EINVAL)?;
        let mut chain = Node::new(Some(value), seq, now);
        let link = loop {
            let link = Name::new(chain_name).and_then(|name| {
                let reservation = RBTreeNodeReservation::new(GFP_KERNEL)?;
                Ok((name, reservation))
            });
            let (name, reservation) = match link {
                Ok(link) => link,
                Err(e) => {
                    self.destroy(chain);
                    return Err(e);
                }
            };
            match missing.next() {
                // `chain_name` is the first missing component: link it to the tree below.
                None => break reservation.into_node(name, chain),
                Some(parent_name) => {
                    let mut parent = Node::new(None, seq, now);
                    parent.children.insert(reservation.into_node(name, chain));
                    parent.num_children = 1;
                    parent.child_version = seq;
                    chain = parent;
                    chain_name = parent_name;
                }
            }
        };

        let parent = self
            .root
            .descend_mut(path.components().take(existing))
            .ok_or(ENOENT)?;
        // The lookup above found no child of this name, and the lock has been held since.
        if let Some(old) = parent.children.insert(link) {
            // Unreachable; put nothing at risk if it were not.
            let (_, old) = old.to_key_value();
            self.destroy(old);
            return Err(EEXIST);
        }
        parent.num_children += 1;
        parent.child_version = seq;
        self.nodes = nodes;
        self.bytes = bytes;
        self.sequence = seq;
        Ok(seq)
    }

    /// The value and version of the node at `path`.
    pub(crate) fn get(&self, path: &Path<'_>) -> Result<(Arc<Value>, u64)> {
        let node = self.root.descend(path.components()).ok_or(ENOENT)?;
        let value = node.value.as_ref().ok_or_else(enodata)?;
        Ok((value.clone(), node.version))
    }

    /// The metadata of the node at `path`.
    pub(crate) fn stat(&self, path: &Path<'_>) -> Result<uapi::NodeStat> {
        Ok(self.root.descend(path.components()).ok_or(ENOENT)?.stat())
    }

    /// Usage and limits of the whole store.
    pub(crate) fn stats(&self) -> uapi::StoreStats {
        let mut stats = uapi::StoreStats {
            nodes: self.nodes,
            bytes: self.bytes,
            sequence: self.sequence,
            ..Default::default()
        };
        self.limits.fill(&mut stats);
        stats
    }

    /// Deletes the node at `path`; with `recursive`, also everything below it.
    ///
    /// The root is never removed: deleting `/` removes its value (and with `recursive` all other
    /// nodes).
    pub(crate) fn delete(&mut self, path: &Path<'_>, recursive: bool) -> Result {
        let seq = self.sequence + 1;
        let Some(name) = path.name() else {
            if !recursive && self.root.num_children > 0 {
                return Err(enotempty());
            }
            let children = mem::take(&mut self.root.children);
            let value = self.root.value.take();
            let mut detached = Node::new(value, 0, 0);
            detached.children = children;
            detached.num_children = self.root.num_children;
            if detached.num_children > 0 {
                self.root.child_version = seq;
            }
            self.root.num_children = 0;
            self.root.version = seq;
            self.root.mtime_ns = now_ns();
            let (nodes, bytes) = self.destroy(detached);
            // `destroy` counted the detached copy of the root, which stays.
            self.nodes -= nodes - 1;
            self.bytes -= bytes;
            self.sequence = seq;
            return Ok(());
        };

        let parent_depth = path.depth() - 1;
        let parent = self
            .root
            .descend_mut(path.components().take(parent_depth))
            .ok_or(ENOENT)?;
        let node = Name::lookup(name, |k| parent.children.get(k)).ok_or(ENOENT)?;
        if !recursive && node.num_children > 0 {
            return Err(enotempty());
        }
        let removed = Name::lookup(name, |k| parent.children.remove_node(k)).ok_or(ENOENT)?;
        parent.num_children -= 1;
        parent.child_version = seq;
        let (name, node) = removed.to_key_value();
        let (nodes, bytes) = self.destroy(node);
        self.nodes -= nodes;
        self.bytes -= bytes + name.as_bytes().len() as u64;
        self.sequence = seq;
        Ok(())
    }

    /// Appends the names of the children of `path` that sort after `after` to `out`, each
    /// followed by NUL, while `out` stays within `room` bytes. Give `out` a capacity of `room`
    /// so that nothing here allocates.
    pub(crate) fn list(
        &mut self,
        path: &Path<'_>,
        after: Option<&[u8]>,
        out: &mut KVVec<u8>,
        room: usize,
    ) -> Result<Listing> {
        let node = self.root.descend_mut(path.components()).ok_or(ENOENT)?;
        let mut listing = Listing::default();
        // The kernel's `RBTree` only moves mutable cursors; nothing is changed through it.
        let mut cursor = match after {
            None => node.children.cursor_front_mut(),
            Some(after) => Name::lookup(after, move |k| {
                let cursor = node.children.cursor_lower_bound_mut(k)?;
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

    /// Frees `node` and everything below it without recursion, using the reserved work stack.
    /// Returns the number of nodes and bytes (values and the names below `node`) freed.
    fn destroy(&mut self, node: Node) -> (u64, u64) {
        let mut nodes = 0u64;
        let mut bytes = 0u64;
        let stack = &mut self.teardown;
        let mut pending = Some(node);
        loop {
            if let Some(node) = pending.take() {
                if let Err(full) = stack.push_within_capacity(node) {
                    // Deeper than `max_depth`, which the tree never is: free it recursively.
                    drop(full);
                }
            }
            let Some(top) = stack.last_mut() else {
                break;
            };
            match top.children.cursor_front_mut() {
                Some(cursor) => {
                    let (_, child) = cursor.remove_current();
                    top.num_children -= 1;
                    let (name, child) = child.to_key_value();
                    bytes += name.as_bytes().len() as u64;
                    pending = Some(child);
                }
                None => {
                    if let Some(leaf) = stack.pop() {
                        nodes += 1;
                        bytes += leaf.value_len();
                    }
                }
            }
        }
        (nodes, bytes)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let root = mem::replace(&mut self.root, Node::new(None, 0, 0));
        self.destroy(root);
    }
}

#[kunit_tests(pathstore_tree)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::from_params(16, 256, 8, 20, 200)
    }

    fn value(bytes: &[u8]) -> Result<Arc<Value>> {
        let mut v = KVVec::new();
        v.extend_from_slice(bytes, GFP_KERNEL)?;
        Value::new(v)
    }

    fn p<'a>(s: &'a [u8], t: &Tree) -> Result<Path<'a>> {
        Path::parse(s, &t.limits)
    }

    #[test]
    fn set_creates_parents_without_values() -> Result {
        let mut t = Tree::new(limits())?;
        let v1 = t.set(&p(b"/a/b/c", &t)?, value(b"x")?, false)?;
        assert_eq!(t.stats().nodes, 4);
        assert_eq!(t.stats().bytes, 4);
        let (v, version) = t.get(&p(b"/a/b/c", &t)?)?;
        assert_eq!(v.as_bytes(), b"x");
        assert_eq!(version, v1);
        assert_eq!(t.get(&p(b"/a/b", &t)?).err(), Some(enodata()));
        assert_eq!(t.get(&p(b"/a/x", &t)?).err(), Some(ENOENT));
        let st = t.stat(&p(b"/a", &t)?)?;
        assert_eq!(st.num_children, 1);
        assert_eq!(st.flags & uapi::STAT_HAS_VALUE, 0);
        Ok(())
    }

    #[test]
    fn versions_increase_and_create_only() -> Result {
        let mut t = Tree::new(limits())?;
        let v1 = t.set(&p(b"/k", &t)?, value(b"1")?, true)?;
        let v2 = t.set(&p(b"/k", &t)?, value(b"22")?, false)?;
        assert!(v2 > v1);
        assert_eq!(
            t.set(&p(b"/k", &t)?, value(b"3")?, true).err(),
            Some(EEXIST)
        );
        assert_eq!(t.stats().bytes, 3);
        Ok(())
    }

    #[test]
    fn limits_leave_store_unchanged() -> Result {
        let mut t = Tree::new(limits())?;
        assert_eq!(
            t.set(&p(b"/big", &t)?, value(&[0; 17])?, false).err(),
            Some(E2BIG)
        );
        // 20 nodes at most: the root plus 19.
        for i in 0..19u8 {
            let name = [b'/', b'a' + i];
            t.set(&p(&name, &t)?, value(b"")?, false)?;
        }
        let before = t.stats();
        assert_eq!(
            t.set(&p(b"/z/y", &t)?, value(b"")?, false).err(),
            Some(ENOSPC)
        );
        assert_eq!(t.stats(), before);
        assert_eq!(t.stat(&p(b"/z", &t)?).err(), Some(ENOENT));
        Ok(())
    }

    #[test]
    fn delete_and_list() -> Result {
        let mut t = Tree::new(limits())?;
        for path in [&b"/d/b"[..], b"/d/a", b"/d/c/x"] {
            t.set(&p(path, &t)?, value(b"v")?, false)?;
        }
        let mut out = KVVec::with_capacity(64, GFP_KERNEL)?;
        let l = t.list(&p(b"/d", &t)?, None, &mut out, 64)?;
        assert_eq!(l.count, 3);
        assert!(!l.more);
        assert_eq!(&out[..], b"a\0b\0c\0");
        let mut out = KVVec::with_capacity(2, GFP_KERNEL)?;
        let l = t.list(&p(b"/d", &t)?, Some(b"a"), &mut out, 2)?;
        assert_eq!((l.count, l.more), (1, true));
        assert_eq!(&out[..], b"b\0");

        assert_eq!(t.delete(&p(b"/d/c", &t)?, false).err(), Some(enotempty()));
        t.delete(&p(b"/d/c", &t)?, true)?;
        t.delete(&p(b"/d/a", &t)?, false)?;
        assert_eq!(t.delete(&p(b"/d/a", &t)?, false).err(), Some(ENOENT));
        assert_eq!(t.stats().nodes, 3);
        t.delete(&p(b"/", &t)?, true)?;
        assert_eq!(t.stats().nodes, 1);
        assert_eq!(t.stats().bytes, 0);
        Ok(())
    }
}
