//! Kernel memory snapshots: slab caches (`/proc/slabinfo`, else `/sys/kernel/slab`) and
//! `/proc/meminfo`, to check the module's own accounting against what the allocator holds.

use std::collections::BTreeMap;
use std::fs;

use serde::{Deserialize, Serialize};

/// Kernel memory at one moment, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Where the slab figures came from: `/proc/slabinfo`, `/sys/kernel/slab` or `none`.
    pub slab_source: String,
    /// Bytes of allocated slab objects: the sum over caches of active objects × object size.
    pub slab_active: u64,
    /// Bytes of the slabs themselves (pages held by slab caches), free objects included.
    pub slab_pages: u64,
    /// `/proc/meminfo` fields (`MemAvailable`, `Slab`, `Shmem`, ...), in bytes.
    pub meminfo: BTreeMap<String, u64>,
}

impl Snapshot {
    /// Reads the current state (missing sources leave their fields at zero).
    pub fn take() -> Self {
        let mut snap = Snapshot {
            slab_source: "none".to_string(),
            ..Default::default()
        };
        if let Ok(text) = fs::read_to_string("/proc/slabinfo") {
            if let Some((active, pages)) = parse_slabinfo(&text) {
                snap.slab_source = "/proc/slabinfo".to_string();
                snap.slab_active = active;
                snap.slab_pages = pages;
            }
        } else if let Some((active, pages)) = read_sys_slab() {
            snap.slab_source = "/sys/kernel/slab".to_string();
            snap.slab_active = active;
            snap.slab_pages = pages;
        }
        if let Ok(text) = fs::read_to_string("/proc/meminfo") {
            snap.meminfo = parse_meminfo(&text);
        }
        snap
    }

    /// A `/proc/meminfo` field in bytes (0 when missing).
    pub fn meminfo(&self, field: &str) -> u64 {
        self.meminfo.get(field).copied().unwrap_or(0)
    }
}

/// The change from `before` to `after`, in bytes (negative when memory was freed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Change of [`Snapshot::slab_active`].
    pub slab_active: i64,
    /// Change of [`Snapshot::slab_pages`].
    pub slab_pages: i64,
    /// Change of `Slab:` in `/proc/meminfo`.
    pub meminfo_slab: i64,
    /// Change of `Shmem:` (tmpfs pages).
    pub meminfo_shmem: i64,
    /// Fall of `MemAvailable:` (positive when memory was taken).
    pub mem_available_used: i64,
}

impl Delta {
    /// What changed between two snapshots.
    pub fn between(before: &Snapshot, after: &Snapshot) -> Self {
        let d = |a: u64, b: u64| b as i64 - a as i64;
        Delta {
            slab_active: d(before.slab_active, after.slab_active),
            slab_pages: d(before.slab_pages, after.slab_pages),
            meminfo_slab: d(before.meminfo("Slab"), after.meminfo("Slab")),
            meminfo_shmem: d(before.meminfo("Shmem"), after.meminfo("Shmem")),
            mem_available_used: d(
                after.meminfo("MemAvailable"),
                before.meminfo("MemAvailable"),
            ),
        }
    }
}

/// Makes SLUB's counts exact: objects freed into a CPU's slab still count as active in
/// `/proc/slabinfo` until that slab is flushed, which writing to each cache's `shrink` file does
/// (it also gives empty slabs back). Errors are ignored: without the files the counts are just
/// coarser.
pub fn flush_slabs() {
    let Ok(dir) = fs::read_dir("/sys/kernel/slab") else {
        return;
    };
    for entry in dir.flatten() {
        // Merged caches appear as links to one directory: shrink each once.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::write(entry.path().join("shrink"), "1");
        }
    }
}

/// The page size the slab page counts are in.
fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

/// Sums `/proc/slabinfo` (version 2.1): active objects × object size, and slabs × pages per
/// slab × page size.
pub fn parse_slabinfo(text: &str) -> Option<(u64, u64)> {
    parse_slabinfo_with_page(text, page_size())
}

fn parse_slabinfo_with_page(text: &str, page: u64) -> Option<(u64, u64)> {
    let mut lines = text.lines();
    if !lines.next()?.starts_with("slabinfo - version: 2.") {
        return None;
    }
    let (mut active, mut pages) = (0u64, 0u64);
    for line in lines.filter(|l| !l.starts_with('#')) {
        // name active_objs num_objs objsize objperslab pagesperslab : tunables .. : slabdata
        // active_slabs num_slabs sharedavail
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
        let (Some(objs), Some(size), Some(per_slab)) = (num(1), num(3), num(5)) else {
            continue;
        };
        active += objs * size;
        let slabs = f
            .iter()
            .position(|&s| s == "slabdata")
            .and_then(|p| f.get(p + 2)?.parse::<u64>().ok())
            .unwrap_or(0);
        pages += slabs * per_slab * page;
    }
    Some((active, pages))
}

/// Sums `/sys/kernel/slab/*/{objects,object_size,slabs,order}` (SLUB without slabinfo). Merged
/// caches appear as links to one directory; each directory is counted once.
fn read_sys_slab() -> Option<(u64, u64)> {
    let (mut active, mut pages) = (0u64, 0u64);
    for entry in fs::read_dir("/sys/kernel/slab").ok()?.flatten() {
        if entry.file_type().ok()?.is_symlink() {
            continue;
        }
        let read = |f: &str| -> Option<u64> {
            let text = fs::read_to_string(entry.path().join(f)).ok()?;
            text.split_whitespace().next()?.parse().ok()
        };
        if let (Some(objects), Some(size)) = (read("objects"), read("object_size")) {
            active += objects * size;
        }
        if let (Some(slabs), Some(order)) = (read("slabs"), read("order")) {
            pages += slabs * (page_size() << order);
        }
    }
    Some((active, pages))
}

/// `/proc/meminfo` as field → bytes.
pub fn parse_meminfo(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let mut parts = rest.split_whitespace();
            let n: u64 = parts.next()?.parse().ok()?;
            let scale = if parts.next() == Some("kB") { 1024 } else { 1 };
            Some((name.to_string(), n * scale))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLABINFO: &str = "slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
kmalloc-128         1000   1024    128   32    1 : tunables    0    0    0 : slabdata     32     32      0
kmalloc-4k            10     16   4096    8    8 : tunables    0    0    0 : slabdata      2      2      0
";

    #[test]
    fn slabinfo_sums() {
        let (active, pages) = parse_slabinfo_with_page(SLABINFO, 4096).unwrap();
        assert_eq!(active, 1000 * 128 + 10 * 4096);
        assert_eq!(pages, 32 * 4096 + 2 * 8 * 4096);
        assert!(parse_slabinfo_with_page("nonsense", 4096).is_none());
    }

    #[test]
    fn meminfo_fields() {
        let m = parse_meminfo(
            "MemTotal:        2047592 kB\nSlab:               4200 kB\nHugePages_Total:       0\n",
        );
        assert_eq!(m["MemTotal"], 2047592 * 1024);
        assert_eq!(m["Slab"], 4200 * 1024);
        assert_eq!(m["HugePages_Total"], 0);
    }

    #[test]
    fn delta_signs() {
        let mut a = Snapshot::default();
        let mut b = Snapshot::default();
        a.slab_active = 100;
        b.slab_active = 300;
        a.meminfo.insert("MemAvailable".into(), 1000);
        b.meminfo.insert("MemAvailable".into(), 400);
        let d = Delta::between(&a, &b);
        assert_eq!(d.slab_active, 200);
        assert_eq!(d.mem_available_used, 600);
    }
}
