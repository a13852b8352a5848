//! Where the keys of a store live: flat (one wide directory) or nested to a fixed depth.
//!
//! Paths are the same for every backend: pathstore uses them as they are, tmpfs appends them to
//! its directory, the keyring uses them as key descriptions.
//!
//! Key `i` of a store of depth `D` has `D` components. In a flat store (`D = 1`) it is `/k{i}`.
//! In a nested store, keys come in groups of [`LEAF_KEYS`] that share a leaf directory; leaf
//! directory `j = i / LEAF_KEYS` hangs under `D - 1` levels of directories `d0 .. d{b-1}`, its
//! index written in base `b` (the fanout), least significant digit first. So the first level
//! spreads keys evenly over `b` subtrees, which is what the two-reader workloads use.

use std::collections::HashSet;

/// Keys that share one leaf directory in a nested store.
pub const LEAF_KEYS: u64 = 16;

/// The shape and size of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of keys (nodes with values).
    pub keys: u64,
    /// Components in each key's path (1: flat).
    pub depth: u32,
    /// Children per directory level above the leaf directories (0 when flat).
    pub fanout: u64,
}

impl Layout {
    /// The layout of `keys` keys at `depth` components (at least 1).
    pub fn new(keys: u64, depth: u32) -> Self {
        let depth = depth.max(1);
        let fanout = if depth == 1 {
            0
        } else {
            let leaves = keys.div_ceil(LEAF_KEYS).max(1);
            let mut b = 2u64;
            while b.saturating_pow(depth - 1) < leaves {
                b += 1;
            }
            b
        };
        Self {
            keys,
            depth,
            fanout,
        }
    }

    /// Whether every key sits directly under the root.
    pub fn is_flat(&self) -> bool {
        self.depth == 1
    }

    /// The directory of key `i`: empty for the root (flat), else `/d../d..`.
    pub fn dir_of(&self, i: u64) -> String {
        let mut dir = String::new();
        if !self.is_flat() {
            let mut j = i / LEAF_KEYS;
            for _ in 1..self.depth {
                dir.push_str("/d");
                dir.push_str(&(j % self.fanout).to_string());
                j /= self.fanout;
            }
        }
        dir
    }

    /// The path of key `i`.
    pub fn key_path(&self, i: u64) -> String {
        format!("{}/k{i}", self.dir_of(i))
    }

    /// The path of a key that is not in the store: `k{i}_{tag}`, next to key `i` in its
    /// directory (and right after it in byte order, so that new keys land all over an ordered
    /// index rather than together at one end).
    pub fn new_key_path(&self, i: u64, tag: u64) -> String {
        format!("{}/k{i}_{tag}", self.dir_of(i))
    }

    /// The subtree key `i` belongs to, as the two-reader workloads split the store: the first
    /// directory level's digit when nested, the parity of `i` when flat (a flat store has no
    /// subtrees, so "disjoint" means disjoint halves of one directory).
    pub fn subtree_of(&self, i: u64) -> u64 {
        if self.is_flat() {
            i % 2
        } else {
            (i / LEAF_KEYS) % self.fanout
        }
    }

    /// Every directory of the store except the root, each after its parent.
    pub fn dirs(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        if self.is_flat() {
            return out;
        }
        let mut i = 0;
        while i < self.keys {
            let dir = self.dir_of(i);
            let ends = dir.match_indices('/').skip(1).map(|(pos, _)| pos);
            for end in ends.chain([dir.len()]) {
                if seen.insert(dir[..end].to_string()) {
                    out.push(dir[..end].to_string());
                }
            }
            i += LEAF_KEYS;
        }
        out
    }

    /// Number of directories below the root.
    pub fn dir_count(&self) -> u64 {
        let leaves = self.keys.div_ceil(LEAF_KEYS);
        // A directory at level k is named by the first k digits of its leaf index: there are
        // as many as distinct values of (leaf mod fanout^k).
        (1..self.depth)
            .map(|k| leaves.min(self.fanout.saturating_pow(k)))
            .sum()
    }
}

/// Short name of a shape of `depth` components: `flat` or `depth{D}`.
pub fn shape_name(depth: u32) -> String {
    if depth <= 1 {
        "flat".to_string()
    } else {
        format!("depth{depth}")
    }
}

/// A store size as the tables show it: `1k`, `100k`, `1M`.
pub fn keys_name(keys: u64) -> String {
    if keys >= 1_000_000 && keys % 1_000_000 == 0 {
        format!("{}M", keys / 1_000_000)
    } else if keys >= 1000 && keys % 1000 == 0 {
        format!("{}k", keys / 1000)
    } else {
        keys.to_string()
    }
}

/// A value size as the tables show it: `16B`, `256B`, `4KiB`.
pub fn value_name(len: usize) -> String {
    if len >= 1024 && len % 1024 == 0 {
        format!("{}KiB", len / 1024)
    } else {
        format!("{len}B")
    }
}

/// A small, fast, seeded pseudo-random generator (xorshift64*): the key sequences are the same
/// on every run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_paths() {
        let l = Layout::new(1000, 1);
        assert!(l.is_flat());
        assert_eq!(l.key_path(7), "/k7");
        assert_eq!(l.dir_of(7), "");
        assert_eq!(l.new_key_path(7, 3), "/k7_3");
        assert!(l.dirs().is_empty());
        assert_eq!(l.dir_count(), 0);
        assert_eq!(l.subtree_of(5), 1);
    }

    #[test]
    fn nested_paths_have_depth_components() {
        for (keys, depth) in [(1000, 8), (100_000, 4), (100_000, 8), (1_000_000, 8)] {
            let l = Layout::new(keys, depth);
            assert!(l.fanout.pow(depth - 1) >= keys.div_ceil(LEAF_KEYS));
            assert!((l.fanout - 1).pow(depth - 1) < keys.div_ceil(LEAF_KEYS) || l.fanout == 2);
            for i in [0, 1, keys / 2, keys - 1] {
                let p = l.key_path(i);
                assert_eq!(p.matches('/').count(), depth as usize, "{p}");
            }
        }
        let l = Layout::new(100_000, 4);
        assert_eq!(l.fanout, 19);
        assert_eq!(l.key_path(0), "/d0/d0/d0/k0");
        assert_eq!(l.key_path(16), "/d1/d0/d0/k16");
        assert_eq!(l.key_path(16 * 19), "/d0/d1/d0/k304");
    }

    #[test]
    fn dirs_are_parents_first_and_complete() {
        let l = Layout::new(1000, 8);
        let dirs = l.dirs();
        let set: HashSet<_> = dirs.iter().cloned().collect();
        assert_eq!(set.len(), dirs.len());
        assert_eq!(dirs.len() as u64, l.dir_count());
        for (n, d) in dirs.iter().enumerate() {
            if let Some(pos) = d.rfind('/').filter(|&p| p > 0) {
                let parent = &d[..pos];
                assert!(dirs[..n].iter().any(|x| x == parent), "{d} before {parent}");
            }
        }
        for i in 0..l.keys {
            assert!(set.contains(&l.dir_of(i)));
        }
    }

    #[test]
    fn subtrees_split_on_the_first_level() {
        let l = Layout::new(100_000, 4);
        for i in [0, 16, 17 * 16, 99_999] {
            let first = l.key_path(i)[2..].split('/').next().unwrap().to_string();
            assert_eq!(first, l.subtree_of(i).to_string());
        }
    }

    #[test]
    fn names() {
        assert_eq!(keys_name(1000), "1k");
        assert_eq!(keys_name(100_000), "100k");
        assert_eq!(keys_name(1_000_000), "1M");
        assert_eq!(keys_name(1234), "1234");
        assert_eq!(value_name(16), "16B");
        assert_eq!(value_name(4096), "4KiB");
        assert_eq!(shape_name(1), "flat");
        assert_eq!(shape_name(8), "depth8");
    }

    #[test]
    fn rng_below_is_in_range() {
        let mut r = Rng::new(0);
        for n in [1, 2, 3, 1000, 1 << 40] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
    }
}
