//! The in-process model of the store: a tree of `BTreeMap`s that follows `docs/semantics.md`
//! (and, where the document leaves an order open, the order in which the module checks things:
//! flags, then the path left to right, then the operation's own errors).
//!
//! The model covers one subtree of the store, rooted at a prefix (`/fuzz` by default, or the whole
//! store for `/`); everything outside it is a constant that the model measures once (node and
//! byte counts) and otherwise leaves alone. Versions are predicted exactly: the model knows the
//! store's sequence counter, which only the fuzzer moves while it runs.

use std::collections::BTreeMap;

use pathstore::abi;
use pathstore::Errno;

use crate::op::{Op, Reply, StatView, StatsView};

/// Longest name of one component.
pub const MAX_NAME_LEN: usize = abi::MAX_NAME_LEN as usize;

/// Most bytes of names one list call returns, whatever its buffer's size (the module's
/// `LIST_CHUNK`).
pub const LIST_CHUNK: u32 = 64 * 1024;

/// The store's limits (module parameters), as store stats report them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest value.
    pub max_value_len: u32,
    /// Longest path.
    pub max_path_len: u32,
    /// Deepest path.
    pub max_depth: u32,
    /// Most nodes, the root included.
    pub max_nodes: u64,
    /// Most bytes of names and values.
    pub max_bytes: u64,
}

impl Limits {
    /// The limits reported in `stats`.
    pub fn from_stats(stats: &StatsView) -> Self {
        Limits {
            max_value_len: stats.max_value_len,
            max_path_len: stats.max_path_len,
            max_depth: stats.max_depth,
            max_nodes: stats.max_nodes,
            max_bytes: stats.max_bytes,
        }
    }

    /// The module's defaults.
    pub fn defaults() -> Self {
        Limits {
            max_value_len: 65536,
            max_path_len: 4096,
            max_depth: 64,
            max_nodes: 4 << 20,
            max_bytes: 256 << 20,
        }
    }
}

/// Checks one component (or a list cursor) as the module does.
pub fn check_name(name: &[u8]) -> Result<(), Errno> {
    if name.is_empty() || name == b"." || name == b".." || name.iter().any(|&b| b == 0 || b == b'/')
    {
        return Err(Errno::INVAL);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Errno::NAMETOOLONG);
    }
    Ok(())
}

/// Parses a path into its components, with the module's errors and their order: empty path,
/// length, leading `/`, then each component from left to right, then the depth.
pub fn parse_path(bytes: &[u8], limits: &Limits) -> Result<Vec<Vec<u8>>, Errno> {
    if bytes.is_empty() {
        return Err(Errno::INVAL);
    }
    if bytes.len() > limits.max_path_len as usize {
        return Err(Errno::NAMETOOLONG);
    }
    if bytes[0] != b'/' {
        return Err(Errno::INVAL);
    }
    // One trailing `/` is ignored; `//` at the end leaves an empty component.
    let bytes = match bytes {
        [rest @ .., b'/'] if !rest.is_empty() && !rest.ends_with(b"/") => rest,
        _ => bytes,
    };
    let mut components = Vec::new();
    if bytes.len() > 1 {
        for name in bytes[1..].split(|&b| b == b'/') {
            check_name(name)?;
            components.push(name.to_vec());
        }
    }
    if components.len() > limits.max_depth as usize {
        return Err(Errno::NAMETOOLONG);
    }
    Ok(components)
}

/// Joins components into a path (`/` for none).
pub fn join(components: &[Vec<u8>]) -> Vec<u8> {
    if components.is_empty() {
        return b"/".to_vec();
    }
    let mut path = Vec::new();
    for c in components {
        path.push(b'/');
        path.extend_from_slice(c);
    }
    path
}

/// One node of the model.
#[derive(Clone, Debug)]
pub struct Node {
    /// The value, if any.
    pub value: Option<Vec<u8>>,
    /// The children by name (byte order, as the module lists them).
    pub children: BTreeMap<Vec<u8>, Node>,
    /// `version`.
    pub version: u64,
    /// `child_version`.
    pub child_version: u64,
    /// A number unique to this incarnation of the node, to follow its timestamps.
    pub id: u64,
    /// The sequence number of the node's creation (`u64::MAX`: unknown, for the store's root).
    pub created: u64,
}

impl Node {
    /// The metadata the module reports for this node.
    pub fn stat(&self) -> StatView {
        StatView {
            version: self.version,
            child_version: self.child_version,
            num_children: self.children.len() as u64,
            value_len: self.value.as_ref().map_or(0, |v| v.len() as u32),
            flags: if self.value.is_some() {
                abi::STAT_HAS_VALUE
            } else {
                0
            },
        }
    }

    fn value_len(&self) -> u64 {
        self.value.as_ref().map_or(0, |v| v.len() as u64)
    }

    /// Nodes and bytes (values, and the names of the nodes below this one) of the subtree.
    fn usage(&self) -> (u64, u64) {
        let mut nodes = 1;
        let mut bytes = self.value_len();
        for (name, child) in &self.children {
            let (n, b) = child.usage();
            nodes += n;
            bytes += b + name.len() as u64;
        }
        (nodes, bytes)
    }

    /// Appends the ids of this node and all below it.
    fn collect_ids(&self, out: &mut Vec<u64>) {
        out.push(self.id);
        for child in self.children.values() {
            child.collect_ids(out);
        }
    }

    fn descend(&self, rel: &[Vec<u8>]) -> Option<&Node> {
        let mut node = self;
        for c in rel {
            node = node.children.get(c)?;
        }
        Some(node)
    }

    fn descend_mut(&mut self, rel: &[Vec<u8>]) -> Option<&mut Node> {
        let mut node = self;
        for c in rel {
            node = node.children.get_mut(c)?;
        }
        Some(node)
    }
}

/// What the model knows of the parent of its prefix (when the prefix is not `/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentView {
    /// Children of the parent other than the prefix node.
    pub other_children: u64,
    /// The parent's `child_version`.
    pub child_version: u64,
}

/// The model of the store.
#[derive(Clone, Debug)]
pub struct Model {
    limits: Limits,
    /// Components of the subtree's root (empty: the whole store).
    prefix: Vec<Vec<u8>>,
    /// The node at the prefix, if it exists (always, for the whole store).
    root: Option<Node>,
    /// The store's sequence counter.
    sequence: u64,
    /// Nodes and bytes of the store outside the subtree.
    base_nodes: u64,
    base_bytes: u64,
    /// Nodes and bytes of the subtree, the prefix's own name included.
    nodes: u64,
    bytes: u64,
    /// The prefix's parent, when there is a prefix.
    parent: Option<ParentView>,
    next_id: u64,
    /// Ids of nodes removed since [`Model::take_removed`] was last called.
    removed: Vec<u64>,
}

impl Model {
    /// A model of a store whose subtree at `prefix` does not exist (`parent` describes the
    /// prefix's parent), or, for the prefix `/`, whose root has no value and no children and
    /// has the metadata `root`. `stats` are the store's stats at that moment.
    pub fn new(
        prefix: Vec<Vec<u8>>,
        stats: &StatsView,
        root: Option<StatView>,
        parent: Option<ParentView>,
    ) -> Self {
        let limits = Limits::from_stats(stats);
        let mut model = Model {
            limits,
            prefix,
            root: None,
            sequence: stats.sequence,
            base_nodes: stats.nodes,
            base_bytes: stats.bytes,
            nodes: 0,
            bytes: 0,
            parent,
            next_id: 1,
            removed: Vec::new(),
        };
        if model.prefix.is_empty() {
            let root = root.expect("the whole store's model needs the root's metadata");
            model.root = Some(Node {
                value: None,
                children: BTreeMap::new(),
                version: root.version,
                child_version: root.child_version,
                id: model.fresh_id(),
                created: u64::MAX,
            });
            // The root is part of the model: one node, no name.
            model.base_nodes -= 1;
            model.nodes = 1;
        }
        model
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// The limits the model applies.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The prefix's components.
    pub fn prefix(&self) -> &[Vec<u8>] {
        &self.prefix
    }

    /// The prefix as a path.
    pub fn prefix_path(&self) -> Vec<u8> {
        join(&self.prefix)
    }

    /// The node at the prefix, if it exists.
    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// What the model knows of the prefix's parent.
    pub fn parent(&self) -> Option<ParentView> {
        self.parent
    }

    /// Nodes in the subtree.
    pub fn subtree_nodes(&self) -> u64 {
        self.nodes
    }

    /// The store stats the model predicts.
    pub fn stats(&self) -> StatsView {
        StatsView {
            nodes: self.base_nodes + self.nodes,
            bytes: self.base_bytes + self.bytes,
            sequence: self.sequence,
            max_nodes: self.limits.max_nodes,
            max_bytes: self.limits.max_bytes,
            max_value_len: self.limits.max_value_len,
            max_path_len: self.limits.max_path_len,
            max_depth: self.limits.max_depth,
        }
    }

    /// Ids of the nodes removed since the last call.
    pub fn take_removed(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.removed)
    }

    /// Parses `path` and returns its components below the prefix.
    ///
    /// # Panics
    ///
    /// When a valid path lies outside the subtree: the generator never makes one.
    pub fn resolve(&self, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        let components = parse_path(path, &self.limits)?;
        assert!(
            components.starts_with(&self.prefix),
            "generated a valid path outside the subtree: {}",
            crate::op::Bytes(path)
        );
        Ok(components[self.prefix.len()..].to_vec())
    }

    /// The node at `rel` (components below the prefix), if it exists.
    pub fn node(&self, rel: &[Vec<u8>]) -> Option<&Node> {
        self.root.as_ref()?.descend(rel)
    }

    /// The reply the module must give to `op`, which must not be a set or delete.
    pub fn query(&self, op: &Op) -> Reply {
        let result = match op {
            Op::Set { .. } | Op::Delete { .. } => panic!("Model::query({op}) changes the store"),
            Op::Get {
                path,
                buf_len,
                flags,
            } => self.get(path, *buf_len, *flags),
            Op::List {
                path,
                after,
                buf_len,
                flags,
            } => self.list(path, after, *buf_len, *flags),
            Op::Stat { path, flags } => self.stat(path, *flags),
            Op::Stats => Ok(Reply::Stats(self.stats())),
        };
        result.unwrap_or_else(Reply::Err)
    }

    /// Applies `op` and returns the reply the module must give.
    pub fn apply(&mut self, op: &Op) -> Reply {
        let result = match op {
            Op::Set { path, value, flags } => self.set(path, value, *flags),
            Op::Delete { path, flags } => self.delete(path, *flags),
            _ => return self.query(op),
        };
        result.unwrap_or_else(Reply::Err)
    }

    fn set(&mut self, path: &[u8], value: &[u8], flags: u32) -> Result<Reply, Errno> {
        if flags & !abi::SET_FLAGS_ALL != 0 {
            return Err(Errno::INVAL);
        }
        let rel = self.resolve(path)?;
        if value.len() > self.limits.max_value_len as usize {
            return Err(Errno::TOOBIG);
        }
        let create = flags & abi::SET_CREATE != 0;
        let seq = self.sequence + 1;
        let value_len = value.len() as u64;
        let total_nodes = self.base_nodes + self.nodes;
        let total_bytes = self.base_bytes + self.bytes;

        // Components of the full path that exist: the prefix's ancestors always do.
        let (existing, old_len) = match &self.root {
            None => (None, 0),
            Some(root) => {
                let mut node = root;
                let mut n = 0;
                for c in &rel {
                    match node.children.get(c) {
                        Some(child) => {
                            node = child;
                            n += 1;
                        }
                        None => break,
                    }
                }
                (Some(n), node.value_len())
            }
        };

        if existing == Some(rel.len()) {
            if create {
                return Err(Errno::EXIST);
            }
            let bytes = total_bytes - old_len + value_len;
            if bytes > self.limits.max_bytes {
                return Err(Errno::NOSPC);
            }
            let node = self
                .root
                .as_mut()
                .and_then(|r| r.descend_mut(&rel))
                .unwrap();
            node.value = Some(value.to_vec());
            node.version = seq;
            self.bytes = self.bytes - old_len + value_len;
            self.sequence = seq;
            return Ok(Reply::Set { version: seq });
        }

        // The components to create, below the deepest existing node.
        let (first_missing, mut names): (usize, Vec<Vec<u8>>) = match existing {
            Some(n) => (n, rel[n..].to_vec()),
            None => {
                let mut names = vec![self.prefix.last().unwrap().clone()];
                names.extend(rel.iter().cloned());
                (0, names)
            }
        };
        let new_nodes = names.len() as u64;
        let names_len: u64 = names.iter().map(|n| n.len() as u64).sum();
        if total_nodes + new_nodes > self.limits.max_nodes {
            return Err(Errno::NOSPC);
        }
        if total_bytes + names_len + value_len > self.limits.max_bytes {
            return Err(Errno::NOSPC);
        }

        // Build the chain from the leaf up.
        let leaf_name = names.pop().unwrap();
        let mut chain = Node {
            value: Some(value.to_vec()),
            children: BTreeMap::new(),
            version: seq,
            child_version: 0,
            id: self.fresh_id(),
            created: seq,
        };
        let mut chain_name = leaf_name;
        while let Some(parent_name) = names.pop() {
            let mut parent = Node {
                value: None,
                children: BTreeMap::new(),
                version: seq,
                child_version: seq,
                id: self.fresh_id(),
                created: seq,
            };
            parent.children.insert(chain_name, chain);
            chain = parent;
            chain_name = parent_name;
        }
        match existing {
            None => {
                // `chain_name` is the prefix's own name.
                self.root = Some(chain);
                if let Some(parent) = &mut self.parent {
                    parent.child_version = seq;
                }
            }
            Some(_) => {
                let parent = self
                    .root
                    .as_mut()
                    .and_then(|r| r.descend_mut(&rel[..first_missing]))
                    .unwrap();
                parent.children.insert(chain_name, chain);
                parent.child_version = seq;
            }
        }
        self.nodes += new_nodes;
        self.bytes += names_len + value_len;
        self.sequence = seq;
        Ok(Reply::Set { version: seq })
    }

    fn get(&self, path: &[u8], buf_len: u32, flags: u32) -> Result<Reply, Errno> {
        if flags != 0 {
            return Err(Errno::INVAL);
        }
        let rel = self.resolve(path)?;
        let node = self.node(&rel).ok_or(Errno::NOENT)?;
        let value = node.value.as_ref().ok_or(Errno::NODATA)?;
        if value.len() > buf_len as usize {
            return Ok(Reply::GetRange {
                needed: value.len() as u32,
                version: node.version,
            });
        }
        Ok(Reply::Value {
            value: value.clone(),
            version: node.version,
        })
    }

    fn delete(&mut self, path: &[u8], flags: u32) -> Result<Reply, Errno> {
        if flags & !abi::DELETE_FLAGS_ALL != 0 {
            return Err(Errno::INVAL);
        }
        let rel = self.resolve(path)?;
        let recursive = flags & abi::DELETE_RECURSIVE != 0;
        let seq = self.sequence + 1;

        if rel.is_empty() && self.prefix.is_empty() {
            // The store's root: never removed; loses its value and (recursively) its children.
            let root = self.root.as_mut().unwrap();
            if !recursive && !root.children.is_empty() {
                return Err(Errno::NOTEMPTY);
            }
            if !root.children.is_empty() {
                root.child_version = seq;
            }
            let children = std::mem::take(&mut root.children);
            root.value = None;
            root.version = seq;
            for child in children.values() {
                child.collect_ids(&mut self.removed);
            }
            self.nodes = 1;
            self.bytes = 0;
            self.sequence = seq;
            return Ok(Reply::Done);
        }

        if rel.is_empty() {
            // The prefix node itself, whose parent lies outside the model.
            let root = self.root.as_ref().ok_or(Errno::NOENT)?;
            if !recursive && !root.children.is_empty() {
                return Err(Errno::NOTEMPTY);
            }
            let root = self.root.take().unwrap();
            root.collect_ids(&mut self.removed);
            self.nodes = 0;
            self.bytes = 0;
            if let Some(parent) = &mut self.parent {
                parent.child_version = seq;
            }
            self.sequence = seq;
            return Ok(Reply::Done);
        }

        let (name, parent_rel) = rel.split_last().unwrap();
        let parent = self
            .root
            .as_mut()
            .and_then(|r| r.descend_mut(parent_rel))
            .ok_or(Errno::NOENT)?;
        let node = parent.children.get(name).ok_or(Errno::NOENT)?;
        if !recursive && !node.children.is_empty() {
            return Err(Errno::NOTEMPTY);
        }
        let node = parent.children.remove(name).unwrap();
        parent.child_version = seq;
        let (nodes, bytes) = node.usage();
        node.collect_ids(&mut self.removed);
        self.nodes -= nodes;
        self.bytes -= bytes + name.len() as u64;
        self.sequence = seq;
        Ok(Reply::Done)
    }

    fn list(&self, path: &[u8], after: &[u8], buf_len: u32, flags: u32) -> Result<Reply, Errno> {
        if flags != 0 {
            return Err(Errno::INVAL);
        }
        let rel = self.resolve(path)?;
        if !after.is_empty() {
            if after.len() > MAX_NAME_LEN {
                return Err(Errno::NAMETOOLONG);
            }
            check_name(after)?;
        }
        let node = self.node(&rel).ok_or(Errno::NOENT)?;
        let room = buf_len.min(LIST_CHUNK) as usize;
        let mut used = 0;
        let mut names = Vec::new();
        let mut more = false;
        let start = if after.is_empty() {
            std::ops::Bound::Unbounded
        } else {
            std::ops::Bound::Excluded(after.to_vec())
        };
        for name in node
            .children
            .range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded))
            .map(|(k, _)| k)
        {
            let need = name.len() + 1;
            if used + need > room {
                more = true;
                if names.is_empty() {
                    return Ok(Reply::ListRange {
                        needed: need as u32,
                    });
                }
                break;
            }
            used += need;
            names.push(name.clone());
        }
        Ok(Reply::List { names, more })
    }

    fn stat(&self, path: &[u8], flags: u32) -> Result<Reply, Errno> {
        if flags != 0 {
            return Err(Errno::INVAL);
        }
        let rel = self.resolve(path)?;
        Ok(Reply::Stat(self.node(&rel).ok_or(Errno::NOENT)?.stat()))
    }

    /// Recomputes the subtree's usage from scratch (a self-check of the incremental counts).
    pub fn recount(&self) -> (u64, u64) {
        match &self.root {
            None => (0, 0),
            Some(root) => {
                let (nodes, bytes) = root.usage();
                let name = self.prefix.last().map_or(0, |n| n.len() as u64);
                (nodes, bytes + name)
            }
        }
    }

    /// The counts the model keeps incrementally (compare with [`Model::recount`]).
    pub fn counts(&self) -> (u64, u64) {
        (self.nodes, self.bytes)
    }
}
