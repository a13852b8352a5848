// SPDX-License-Identifier: GPL-2.0

//! One node of the tree, and the walk over a subtree.

use core::mem;

use kernel::{
    bindings,
    prelude::*,
    rbtree::{
        Iter as RBTreeIter,
        RBTree,
        RBTreeNode, //
    },
};

use super::Value;
use crate::{
    bytes::Name,
    error::euclean,
    num::{
        FromSafeCast,
        IntoSafeCast, //
    },
    sched::Resched,
    uapi,
};

/// The current time for node timestamps, in nanoseconds since the epoch.
pub(super) fn now_ns() -> u64 {
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
    pub(super) value: Option<Value>,
    /// Children and the rarer attributes. Allocated when the node gets its first child or is
    /// created ephemeral, and kept until the node goes (so the sequential counter never goes
    /// back). A node without it has no children and is persistent.
    pub(super) ext: Option<KBox<Ext>>,
    pub(super) version: u64,
    pub(super) ctime_ns: u64,
    pub(super) mtime_ns: u64,
    /// The kernel uid of the user that created the node.
    pub(super) owner: u32,
    /// The access mode ([`crate::access`]): what users other than the owner may do.
    pub(super) mode: u32,
}

/// The part of a [`Node`] that leaves do without.
#[derive(Default)]
pub(super) struct Ext {
    pub(super) children: RBTree<Name, Node>,
    pub(super) num_children: u64,
    /// The version of the last change to the set of children.
    pub(super) child_version: u64,
    /// The session (open file) an ephemeral node belongs to; 0 for a persistent node.
    pub(super) session: u64,
    /// The number the next sequential child gets.
    pub(super) seq_next: u32,
    /// For an ephemeral node, the length of its path, which its session keeps a copy of (to
    /// remove it) and which it is charged for instead of its name; 0 otherwise.
    pub(super) path_len: u32,
    /// The nodes below this one that others may not write, summed ([`Guarded`]).
    pub(super) below: Guarded,
}

/// The owners of a set of nodes that users other than their owners may not write (without
/// `MODE_OTHERS_WRITE`), summed: how many, the sum of their uids and the sum of their squares.
///
/// Every node below a node keeps this for its descendants, so that a recursive delete knows
/// without walking the subtree whether its caller may delete all of it: they all belong to one
/// uid `u` exactly when `sum == count * u` and `squares == count * u * u`, since the squares of
/// their differences from `u` then sum to zero. The sums cannot overflow (`count` stays far below
/// 2^32, a uid squared below 2^64); they wrap rather than panic, and the consistency check
/// verifies every node's against its children.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Guarded {
    count: u64,
    sum: u128,
    squares: u128,
}

impl Guarded {
    /// A node's own share: itself, unless others may write it.
    pub(super) fn of(owner: u32, mode: u32) -> Self {
        if mode & uapi::MODE_OTHERS_WRITE != 0 {
            return Self::default();
        }
        let uid = u128::from(owner);
        Self {
            count: 1,
            sum: uid,
            squares: uid.wrapping_mul(uid),
        }
    }

    /// Both sets together.
    pub(super) fn plus(self, other: Self) -> Self {
        Self {
            count: self.count.wrapping_add(other.count),
            sum: self.sum.wrapping_add(other.sum),
            squares: self.squares.wrapping_add(other.squares),
        }
    }

    /// This set without `other`, which it holds.
    pub(super) fn minus(self, other: Self) -> Self {
        Self {
            count: self.count.wrapping_sub(other.count),
            sum: self.sum.wrapping_sub(other.sum),
            squares: self.squares.wrapping_sub(other.squares),
        }
    }

    /// Whether every node of the set belongs to `uid` (so does the empty set).
    pub(super) fn all_owned_by(&self, uid: u32) -> bool {
        let (count, uid) = (u128::from(self.count), u128::from(uid));
        self.sum == count.wrapping_mul(uid) && self.squares == count.wrapping_mul(uid * uid)
    }
}

/// A node's metadata, as `stat` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeStat {
    /// The version of the node's creation or last change.
    pub(crate) version: u64,
    /// The version of the last change to the set of its children.
    pub(crate) child_version: u64,
    /// Creation time, nanoseconds since the epoch.
    pub(crate) ctime_ns: u64,
    /// Time of the last change of the value, nanoseconds since the epoch.
    pub(crate) mtime_ns: u64,
    /// Number of children.
    pub(crate) num_children: u64,
    /// Length of the value (0 without one).
    pub(crate) value_len: u64,
    /// Whether the node holds a value (possibly empty).
    pub(crate) has_value: bool,
    /// The owner's kernel uid, which the caller translates to the requester's user namespace.
    pub(crate) owner: u32,
    /// The access mode.
    pub(crate) mode: u32,
    /// For an ephemeral node, its session; 0 otherwise.
    pub(crate) session: u64,
}

impl Node {
    pub(super) fn new(value: Option<Value>, version: u64, now: u64, owner: u32, mode: u32) -> Self {
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

    pub(super) fn value_len(&self) -> u64 {
        self.value.as_ref().map_or(0, |v| v.len().into_safe_cast())
    }

    /// The bytes the node is charged for (to its owner and in the store's total) under a name
    /// of `name_len` bytes: its name, or for an ephemeral node its whole path (its session keeps
    /// a copy), and its value.
    pub(super) fn charged_bytes(&self, name_len: usize) -> u64 {
        let name = match self.ext.as_ref().map(|e| e.path_len).filter(|&len| len > 0) {
            Some(path_len) => u64::from(path_len),
            None => u64::from_safe_cast(name_len),
        };
        name + self.value_len()
    }

    /// The nodes below this one that others may not write.
    pub(super) fn guarded_below(&self) -> Guarded {
        self.ext.as_ref().map_or(Guarded::default(), |e| e.below)
    }

    /// What this node and those below it add to its ancestors' [`Guarded`].
    pub(super) fn guarded_share(&self) -> Guarded {
        Guarded::of(self.owner, self.mode).plus(self.guarded_below())
    }

    pub(super) fn num_children(&self) -> u64 {
        self.ext.as_ref().map_or(0, |e| e.num_children)
    }

    pub(super) fn child_version(&self) -> u64 {
        self.ext.as_ref().map_or(0, |e| e.child_version)
    }

    pub(super) fn session(&self) -> u64 {
        self.ext.as_ref().map_or(0, |e| e.session)
    }

    pub(super) fn seq_next(&self) -> u32 {
        self.ext.as_ref().map_or(0, |e| e.seq_next)
    }

    /// The children, if the node ever had any.
    pub(super) fn children(&self) -> Option<&RBTree<Name, Node>> {
        self.ext.as_ref().map(|e| &e.children)
    }

    /// The [`Ext`], allocated if the node has none yet (which changes nothing observable).
    pub(super) fn ext_mut(&mut self) -> Result<&mut Ext> {
        let ext = match self.ext.take() {
            Some(ext) => ext,
            None => KBox::new(Ext::default(), GFP_KERNEL_ACCOUNT)?,
        };
        Ok(self.ext.insert(ext))
    }

    /// Takes all the children out (for freeing them), leaving none.
    pub(super) fn take_children(&mut self) -> RBTree<Name, Node> {
        self.ext
            .as_mut()
            .map(|e| {
                e.num_children = 0;
                mem::take(&mut e.children)
            })
            .unwrap_or_default()
    }

    /// The child called `name`.
    pub(super) fn child(&self, name: &[u8]) -> Option<&Node> {
        let children = self.children()?;
        Name::with_borrowed(name, |k| children.get(k))
    }

    /// The child called `name`, for changing it.
    pub(super) fn child_mut(&mut self, name: &[u8]) -> Option<&mut Node> {
        let children = &mut self.ext.as_mut()?.children;
        Name::with_borrowed(name, move |k| children.get_mut(k))
    }

    /// Unlinks the child called `name` as the change `seq`; returns it and the child version
    /// the node had before.
    pub(super) fn remove_child(
        &mut self,
        name: &[u8],
        seq: u64,
    ) -> Option<(RBTreeNode<Name, Node>, u64)> {
        let ext = self.ext.as_mut()?;
        let removed = Name::with_borrowed(name, |k| ext.children.remove_node(k))?;
        ext.num_children = ext.num_children.saturating_sub(1);
        Some((removed, mem::replace(&mut ext.child_version, seq)))
    }

    /// The descendant reached through `components`, if it exists.
    pub(super) fn descend<'a, 'p>(
        &'a self,
        components: impl Iterator<Item = &'p [u8]>,
    ) -> Option<&'a Node> {
        let mut node = self;
        for c in components {
            node = node.child(c)?;
        }
        Some(node)
    }

    /// The descendant reached through `components`, if it exists, for changing it.
    pub(super) fn descend_mut<'a, 'p>(
        &'a mut self,
        components: impl Iterator<Item = &'p [u8]>,
    ) -> Option<&'a mut Node> {
        let mut node = self;
        for c in components {
            node = node.child_mut(c)?;
        }
        Some(node)
    }

    /// The node's metadata.
    pub(super) fn stat(&self) -> NodeStat {
        NodeStat {
            version: self.version,
            child_version: self.child_version(),
            ctime_ns: self.ctime_ns,
            mtime_ns: self.mtime_ns,
            num_children: self.num_children(),
            value_len: self.value_len(),
            has_value: self.value.is_some(),
            owner: self.owner,
            mode: self.mode,
            session: self.session(),
        }
    }
}

/// Calls `f` on every node below `top` (not `top` itself), parents before children, with the
/// node's name and its depth below `top` (1 for the children of `top`). Stops at the first error
/// `f` returns. Walks without recursion; its stack holds `max_depth + 1` levels and a deeper
/// tree (which the store never builds) fails with `EUCLEAN`.
pub(super) fn walk<'a>(
    top: &'a Node,
    max_depth: u32,
    mut f: impl FnMut(&'a Name, &'a Node, u32) -> Result,
) -> Result {
    let Some(children) = top.children() else {
        return Ok(());
    };
    let levels = usize::from_safe_cast(max_depth) + 1;
    let mut stack: KVVec<RBTreeIter<'a, Name, Node>> =
        KVVec::with_capacity(levels, GFP_KERNEL_ACCOUNT)?;
    stack
        .push_within_capacity(children.iter())
        .map_err(|_| EINVAL)?;
    let mut depth = 1u32;
    let mut resched = Resched::default();
    while let Some(level) = stack.last_mut() {
        resched.tick();
        let Some((name, node)) = level.next() else {
            stack.pop();
            depth = depth.saturating_sub(1);
            continue;
        };
        f(name, node, depth)?;
        if let Some(children) = node.children().filter(|c| !c.is_empty()) {
            stack
                .push_within_capacity(children.iter())
                .map_err(|_| euclean())?;
            depth += 1;
        }
    }
    Ok(())
}
