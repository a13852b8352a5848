// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`Walk`]: a depth-first traversal of a subtree, for `tree` and `dump`.

use rustix::io::Errno;

use crate::client::Pathstore;
use crate::error::Result;
use crate::path;

/// A node met by a [`Walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The node's full path (the root of the walk as given, without a trailing `/`).
    pub path: Vec<u8>,
    /// Depth below the root of the walk (0 for the root itself).
    pub depth: usize,
    /// Whether this is the last child of its parent (true for the root of the walk).
    pub last: bool,
    /// The value, or `None` for a node without one.
    pub value: Option<Vec<u8>>,
}

impl Node {
    /// The node's name: the last component of its path (empty for `/`).
    pub fn name(&self) -> &[u8] {
        path::name(&self.path)
    }
}

/// The children of one node still to be visited.
#[derive(Debug)]
struct Level {
    parent: Vec<u8>,
    names: std::vec::IntoIter<Vec<u8>>,
}

/// A depth-first, pre-order traversal of a subtree: every node comes before its children, and
/// children come in byte order. Created by [`Pathstore::walk`].
///
/// Each node costs one get and one list. The walk is not a snapshot: nodes that disappear while
/// it runs are skipped silently (only the root of the walk must exist), nodes that appear may or
/// may not be seen. After the first error the iterator ends.
#[derive(Debug)]
pub struct Walk<'s> {
    store: &'s Pathstore,
    /// The root of the walk, until it has been visited.
    root: Option<Vec<u8>>,
    stack: Vec<Level>,
}

impl<'s> Walk<'s> {
    pub(crate) fn new(store: &'s Pathstore, root: &[u8]) -> Self {
        Walk {
            store,
            root: Some(path::trim(root).to_vec()),
            stack: Vec::new(),
        }
    }

    /// Reads the value and the children of `path`; `None` if it vanished (`ENOENT`) and
    /// `vanish_ok`.
    fn visit(&mut self, path: Vec<u8>, last: bool, vanish_ok: bool) -> Result<Option<Node>> {
        let vanished = |err: &crate::Error| vanish_ok && err.errno() == Errno::NOENT;
        let value = match self.store.get(&path) {
            Ok(value) => Some(value),
            Err(err) if err.errno() == Errno::NODATA => None,
            Err(err) if vanished(&err) => return Ok(None),
            Err(err) => return Err(err),
        };
        let names = match self.store.list(&path) {
            Ok(names) => names,
            Err(err) if vanished(&err) => return Ok(None),
            Err(err) => return Err(err),
        };
        let depth = self.stack.len();
        if !names.is_empty() {
            self.stack.push(Level {
                parent: path.clone(),
                names: names.into_iter(),
            });
        }
        Ok(Some(Node {
            path,
            depth,
            last,
            value,
        }))
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<Node>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(root) = self.root.take() {
            return self.visit(root, true, false).transpose();
        }
        loop {
            let level = self.stack.last_mut()?;
            let Some(name) = level.names.next() else {
                self.stack.pop();
                continue;
            };
            let last = level.names.len() == 0;
            let path = path::join(&level.parent, &name);
            match self.visit(path, last, true) {
                Ok(None) => continue,
                Ok(Some(node)) => return Some(Ok(node)),
                Err(err) => {
                    self.stack.clear();
                    return Some(Err(err));
                }
            }
        }
    }
}
