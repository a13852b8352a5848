//! The operation generator: random operations over a small alphabet of names, so that paths
//! collide, chains grow deep and deletes meet non-empty nodes often, mixed with invalid paths,
//! oversize values, create-only sets, bad flags and list calls with cursors and small buffers.
//!
//! The generator reads the model (to aim at nodes that exist, and at buffer sizes around what a
//! call needs) but never the device, so a seed always yields the same operations as long as the
//! device agrees with the model.

use pathstore::abi;

use crate::model::{join, Model, LIST_CHUNK, MAX_NAME_LEN};
use crate::op::Op;
use crate::rng::Rng;

/// What the generator may produce.
#[derive(Clone, Copy, Debug)]
pub struct GenConfig {
    /// Keep every kernel allocation at most a page (values, list buffers): under fault
    /// injection, a larger `kvmalloc` falls back to vmalloc, whose failure the kernel reports
    /// with a stack dump.
    pub page_sized: bool,
    /// Beyond this many nodes in the subtree, recursive deletes become frequent.
    pub soft_max_nodes: u64,
    /// Largest output buffer the device offers.
    pub max_buf_len: u32,
}

/// Names that make up most paths: few, so that operations meet each other's nodes.
const COMMON: &[&[u8]] = &[b"a", b"b", b"c"];
const OTHER: &[&[u8]] = &[b"d", b"e", b"aa", b"ab", b"ba", b"a0"];
/// Valid names that are easy to get wrong.
const ODD: &[&[u8]] = &[
    b"a b",
    b"\xff",
    b"b\x01",
    b"...",
    b".a",
    b"..a",
    b"a.",
    b"\n",
    b"\\",
    b"-r",
    b"*",
    b"A",
    b"\xc3\xa9",
];

/// The size of a kernel page, the largest allocation made under fault injection.
const PAGE: usize = 4096;

/// The random operation generator.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    cfg: GenConfig,
}

impl Generator {
    /// A generator for `seed`.
    pub fn new(seed: u64, cfg: GenConfig) -> Self {
        Generator {
            rng: Rng::new(seed, 0x0905),
            cfg,
        }
    }

    /// The next operation, given the model's current state.
    pub fn next_op(&mut self, model: &Model) -> Op {
        let crowded = model.subtree_nodes() > self.cfg.soft_max_nodes;
        // Weights of: set, create, get, delete, delete -r, list, stat, stats, bad flags, and a
        // reset of the whole subtree when it is crowded. Each call that copies a path costs the
        // debug kernel most of a millisecond (KASAN and kmemleak on every allocation), a set
        // three times that and more per node it creates; the mix keeps a run of 100k calls
        // within a few minutes.
        let weights = [
            12,
            4,
            16,
            6,
            if crowded { 30 } else { 3 },
            12,
            16,
            6,
            4,
            if crowded { 2 } else { 0 },
        ];
        match self.rng.weighted(&weights) {
            kind @ (0 | 1) => {
                let path = self.path(model);
                let value = self.value(model);
                Op::Set {
                    path,
                    value,
                    flags: if kind == 1 { abi::SET_CREATE } else { 0 },
                }
            }
            2 => {
                let (path, rel) = self.path_and_rel(model);
                let buf_len = self.get_buf_len(model, rel.as_deref());
                Op::Get {
                    path,
                    buf_len,
                    flags: 0,
                }
            }
            3 => Op::Delete {
                path: self.path(model),
                flags: 0,
            },
            4 => {
                let path = if crowded && self.rng.percent(60) {
                    self.shallow_path(model)
                } else {
                    self.path(model)
                };
                Op::Delete {
                    path,
                    flags: abi::DELETE_RECURSIVE,
                }
            }
            5 => self.list(model),
            6 => Op::Stat {
                path: self.path(model),
                flags: 0,
            },
            7 => Op::Stats,
            8 => self.bad_flags(model),
            _ => Op::Delete {
                path: model.prefix_path(),
                flags: abi::DELETE_RECURSIVE,
            },
        }
    }

    /// A name for a path component.
    fn name(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        match r.weighted(&[60, 25, 8, 3, 1]) {
            0 => r.pick(COMMON).to_vec(),
            1 => r.pick(OTHER).to_vec(),
            2 => r.pick(ODD).to_vec(),
            3 => {
                let len = r.range_usize(1, 12);
                (0..len)
                    .map(|_| loop {
                        let b = r.below(256) as u8;
                        if b != 0 && b != b'/' {
                            break b;
                        }
                    })
                    .collect()
            }
            _ => {
                let len = if r.percent(70) {
                    MAX_NAME_LEN
                } else {
                    r.range_usize(100, MAX_NAME_LEN)
                };
                vec![b'L'; len]
            }
        }
    }

    /// Components below the prefix: an existing node (often), random names, or a deep chain.
    fn rel(&mut self, model: &Model) -> Vec<Vec<u8>> {
        let limits = *model.limits();
        match self.rng.weighted(&[55, 44, 1]) {
            0 => {
                let mut rel = Vec::new();
                if let Some(mut node) = model.root() {
                    // Rarely the subtree's root itself: a recursive delete of it wipes all.
                    while !node.children.is_empty()
                        && !self.rng.percent(if rel.is_empty() { 1 } else { 30 })
                    {
                        let i = self.rng.below(node.children.len() as u64) as usize;
                        let (name, child) = node.children.iter().nth(i).unwrap();
                        rel.push(name.clone());
                        node = child;
                    }
                }
                if self.rng.percent(25) {
                    for _ in 0..self.rng.range(1, 2) {
                        rel.push(self.name());
                    }
                }
                rel
            }
            1 => {
                let depth = match self.rng.weighted(&[1, 35, 35, 17, 7, 5]) {
                    5 => self.rng.range_usize(5, 8),
                    d => d,
                };
                (0..depth).map(|_| self.name()).collect()
            }
            _ => {
                let room = (limits.max_depth as usize).saturating_sub(model.prefix().len());
                let depth = room.saturating_sub(self.rng.range_usize(0, 3)).max(1);
                let name = self.rng.pick(&[&b"a"[..], b"d"]).to_vec();
                let mut rel = vec![name; depth];
                if self.rng.percent(30) {
                    *rel.last_mut().unwrap() = self.name();
                }
                rel
            }
        }
    }

    /// A node near the top of the subtree (for recursive deletes when it grows large).
    fn shallow_path(&mut self, model: &Model) -> Vec<u8> {
        let mut rel = Vec::new();
        if let Some(root) = model.root() {
            if !root.children.is_empty() {
                let i = self.rng.below(root.children.len() as u64) as usize;
                rel.push(root.children.keys().nth(i).unwrap().clone());
            }
        }
        self.full(model, &rel)
    }

    fn full(&self, model: &Model, rel: &[Vec<u8>]) -> Vec<u8> {
        let mut components = model.prefix().to_vec();
        components.extend(rel.iter().cloned());
        join(&components)
    }

    /// A path: mostly valid (sometimes with a trailing `/`), sometimes invalid.
    fn path(&mut self, model: &Model) -> Vec<u8> {
        self.path_and_rel(model).0
    }

    /// A path, and its components below the prefix when it is valid by construction.
    fn path_and_rel(&mut self, model: &Model) -> (Vec<u8>, Option<Vec<Vec<u8>>>) {
        let rel = self.rel(model);
        let mut path = self.full(model, &rel);
        if self.rng.percent(7) {
            return (self.invalid(model, path, &rel), None);
        }
        if path != b"/" && self.rng.percent(5) {
            path.push(b'/');
        }
        (path, Some(rel))
    }

    /// Turns a valid path into an invalid one (every variant is invalid whatever the path, so
    /// that no valid path outside the subtree is ever made).
    fn invalid(&mut self, model: &Model, mut path: Vec<u8>, rel: &[Vec<u8>]) -> Vec<u8> {
        let limits = *model.limits();
        let slashes: Vec<usize> = path
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'/')
            .map(|(i, _)| i)
            .collect();
        match self.rng.below(10) {
            0 => Vec::new(),
            1 => path[1..].to_vec(),
            2 => {
                let at = *self.rng.pick(&slashes);
                path.insert(at, b'/');
                path
            }
            3 => {
                path.extend_from_slice(if path == b"/" { b"/" } else { b"//" });
                path
            }
            4 => {
                // A `.` or `..` component before one of the `/`.
                let dots = *self.rng.pick(&[&b"."[..], b".."]);
                let at = *self.rng.pick(&slashes);
                let mut out = path[..at].to_vec();
                out.push(b'/');
                out.extend_from_slice(dots);
                out.extend_from_slice(&path[at..]);
                out
            }
            5 => {
                if path != b"/" {
                    let at = self.rng.range_usize(1, path.len());
                    path.insert(at, 0);
                } else {
                    path.extend_from_slice(b"a\0b");
                }
                path
            }
            6 => {
                if path != b"/" {
                    path.push(b'/');
                }
                let len = self.rng.range_usize(MAX_NAME_LEN + 1, MAX_NAME_LEN + 40);
                path.extend(std::iter::repeat_n(b'N', len));
                path
            }
            7 => {
                let want = limits.max_path_len as usize + self.rng.range_usize(1, 8);
                while path.len() < want {
                    if path != b"/" {
                        path.push(b'/');
                    }
                    path.push(b'x');
                }
                path
            }
            8 => {
                let depth = model.prefix().len() + rel.len();
                let want = limits.max_depth as usize + self.rng.range_usize(1, 3);
                for _ in depth..want {
                    if path != b"/" {
                        path.push(b'/');
                    }
                    path.push(b'z');
                }
                path
            }
            _ => {
                // An invalid component early, a depth past the limit later: EINVAL wins.
                if path != b"/" {
                    path.push(b'/');
                }
                path.extend_from_slice(b"./y");
                let depth = model.prefix().len() + rel.len() + 2;
                for _ in depth..limits.max_depth as usize + 2 {
                    path.extend_from_slice(b"/y");
                }
                path
            }
        }
    }

    /// A value: mostly small, sometimes large, sometimes one byte past the limit.
    fn value(&mut self, model: &Model) -> Vec<u8> {
        let max = model.limits().max_value_len as usize;
        let cap = if self.cfg.page_sized {
            max.min(PAGE)
        } else {
            max
        };
        let r = &mut self.rng;
        let len = match r.weighted(&[8, 52, 24, 10, 2, 1, 3]) {
            0 => 0,
            1 => r.range_usize(1, 8),
            2 => r.range_usize(9, 64),
            3 => r.range_usize(65, 1024),
            4 => r.range_usize(1025, 16384),
            5 => cap,
            _ => max + r.range_usize(1, 16),
        };
        let len = if len > max { len } else { len.min(cap) };
        let mut value = vec![0; len];
        if r.percent(50) {
            r.fill(&mut value);
        } else {
            let b = b'a' + r.below(26) as u8;
            value.fill(b);
        }
        value
    }

    /// A get buffer: usually large enough, sometimes exactly or one byte too small.
    fn get_buf_len(&mut self, model: &Model, rel: Option<&[Vec<u8>]>) -> u32 {
        let value_len = rel
            .and_then(|rel| model.node(rel))
            .and_then(|n| n.value.as_ref())
            .map(|v| v.len() as u32);
        let max = model.limits().max_value_len.min(self.cfg.max_buf_len);
        let r = &mut self.rng;
        match (r.weighted(&[60, 15, 10, 15]), value_len) {
            (1, Some(len)) => len,
            (2, Some(len)) => len.saturating_sub(1),
            (3, _) => r.range(0, 64) as u32,
            _ => r.range(u64::from(value_len.unwrap_or(0).min(max)), u64::from(max)) as u32,
        }
    }

    fn list(&mut self, model: &Model) -> Op {
        let (path, rel) = self.path_and_rel(model);
        let node = rel.as_deref().and_then(|rel| model.node(rel));
        let names: Vec<&Vec<u8>> = node
            .map(|n| n.children.keys().collect())
            .unwrap_or_default();
        let r = &mut self.rng;
        let after: Vec<u8> = match r.weighted(&[45, 25, 15, 10, 5]) {
            1 if !names.is_empty() => (*r.pick(&names)).clone(),
            2 => self.name(),
            3 if !names.is_empty() => {
                let mut name = (*r.pick(&names)).clone();
                if r.percent(50) && name.len() > 1 {
                    name.pop();
                } else {
                    name.push(b'0');
                }
                name
            }
            4 => r
                .pick(&[
                    &b"."[..],
                    b"..",
                    b"a/b",
                    b"/",
                    b"a\0",
                    &[b'c'; MAX_NAME_LEN + 1],
                    &[b'c'; MAX_NAME_LEN + 60],
                ])
                .to_vec(),
            _ => Vec::new(),
        };
        // What listing everything after the cursor would take.
        let needed: u32 = names
            .iter()
            .filter(|n| after.is_empty() || n.as_slice() > after.as_slice())
            .map(|n| n.len() as u32 + 1)
            .sum();
        let r = &mut self.rng;
        let big = if self.cfg.page_sized {
            PAGE as u32
        } else {
            match r.below(3) {
                0 => LIST_CHUNK,
                1 => LIST_CHUNK + 1,
                _ => self.cfg.max_buf_len,
            }
        };
        let buf_len = match r.weighted(&[40, 20, 20, 10, 10]) {
            0 => PAGE as u32,
            1 => r.range(0, 8) as u32,
            2 => r.range(9, 64) as u32,
            3 => (needed + r.below(3) as u32).saturating_sub(1),
            _ => big,
        };
        let buf_len = if self.cfg.page_sized {
            buf_len.min(PAGE as u32)
        } else {
            buf_len.min(self.cfg.max_buf_len)
        };
        Op::List {
            path,
            after,
            buf_len,
            flags: 0,
        }
    }

    /// An operation with flags the module does not know (or a non-zero flags field where none
    /// are defined): `EINVAL` before anything else.
    fn bad_flags(&mut self, model: &Model) -> Op {
        let path = self.path(model);
        // Bits no `SET_*` or `DELETE_*` flag uses, alone or next to a known one.
        let bogus = *self.rng.pick(&[0x20u32, 0x40, 0x100, 0x8000_0000, 0x21]);
        match self.rng.below(5) {
            0 => Op::Set {
                path,
                value: b"x".to_vec(),
                flags: bogus,
            },
            1 => Op::Delete { path, flags: bogus },
            2 => Op::Get {
                path,
                buf_len: 16,
                flags: bogus | 1,
            },
            3 => Op::List {
                path,
                after: Vec::new(),
                buf_len: 16,
                flags: bogus | 1,
            },
            _ => Op::Stat {
                path,
                flags: bogus | 1,
            },
        }
    }
}
