//! What a run measured (`results.json`), the named figures and ratios derived from it, and the
//! targets they are checked against.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::layout::{keys_name, shape_name, value_name};
use crate::memory::Delta;

/// Version of the `results.json` layout.
pub const SCHEMA: u32 = 1;

/// Everything one run measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Results {
    /// [`SCHEMA`].
    pub schema: u32,
    /// When the run started (UTC, ISO 8601).
    pub started_utc: String,
    /// Wall-clock length of the run, in seconds.
    pub duration_s: f64,
    /// Whether this was the reduced (`QUICK=1`) set.
    pub quick: bool,
    /// The machine and settings.
    pub env: Env,
    /// The floor measured once before the stores: `version` and `version_2t`.
    pub floor: Vec<Measurement>,
    /// One entry per store shape, size and value size, in run order.
    pub stores: Vec<StoreResult>,
    /// Combinations not run, and why.
    pub skipped: Vec<Skip>,
    /// The targets, checked (informational only).
    pub targets: Vec<Target>,
    /// Every figure by name (see [`figures`]); derived from the rest, kept for readers.
    pub figures: BTreeMap<String, f64>,
}

/// The machine and the run's settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Env {
    /// `uname -r` of the guest.
    pub kernel: String,
    /// CPUs online in the guest.
    pub cpus_online: u32,
    /// `MemTotal`, bytes.
    pub mem_total: u64,
    /// The module's version (`major.minor.patch`) and ABI version.
    pub module_version: String,
    /// The store's `max_nodes`.
    pub max_nodes: u64,
    /// The store's `max_bytes`.
    pub max_bytes: u64,
    /// The directory the tmpfs backend used, and whether it is on tmpfs.
    pub tmpfs_dir: String,
    /// Whether [`Env::tmpfs_dir`] is on tmpfs.
    pub tmpfs_is_tmpfs: bool,
    /// Runs per measurement (the median is reported).
    pub reps: u32,
    /// Target duration of one run of a measurement, in milliseconds.
    pub target_ms: u64,
    /// Where slab figures come from.
    pub slab_source: String,
    /// The clock measurements use.
    pub clock: String,
    /// The host's load average (1, 5, 15 minutes) when the run started, if the host said.
    pub host_loadavg: String,
    /// The host's CPU count (0: unknown).
    pub host_cpus: u32,
    /// At the end of the run, how far the guest's `CLOCK_MONOTONIC` ran from the TSC in use
    /// (relative; 0 when the TSC is not used).
    pub clock_drift: f64,
}

/// A store's parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSpec {
    /// Components per key path (1: flat).
    pub depth: u32,
    /// Number of keys.
    pub keys: u64,
    /// Value size, bytes.
    pub value: usize,
}

impl StoreSpec {
    /// The name figures use: `{shape}.{keys}.{value}`, e.g. `depth4.100k.256B`.
    pub fn id(&self) -> String {
        format!(
            "{}.{}.{}",
            shape_name(self.depth),
            keys_name(self.keys),
            value_name(self.value)
        )
    }

    /// The name tables use: `depth4 · 100k · 256B`.
    pub fn label(&self) -> String {
        self.id().replace('.', " · ")
    }
}

/// What was measured on one store.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreResult {
    /// The store.
    pub spec: StoreSpec,
    /// Directory fanout above the leaf directories (0: flat).
    pub fanout: u64,
    /// Directories below the root.
    pub dirs: u64,
    /// Every measurement, all backends.
    pub measurements: Vec<Measurement>,
    /// Memory taken by each backend's populated store.
    pub memory: Vec<MemoryResult>,
    /// Populate and clear times per backend.
    pub setup: Vec<Setup>,
}

impl StoreResult {
    /// The measurement of `workload` on `backend`, if any.
    pub fn find(&self, backend: &str, workload: &str) -> Option<&Measurement> {
        self.measurements
            .iter()
            .find(|m| m.backend == backend && m.workload == workload)
    }
}

/// How long a backend took to fill and to empty a store.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Setup {
    /// Backend name.
    pub backend: String,
    /// Seconds to create every key.
    pub populate_s: f64,
    /// Seconds to remove everything.
    pub clear_s: f64,
}

/// One workload on one backend: the median over repeated runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Measurement {
    /// `pathstore`, `tmpfs`, `keyring` or `floor`.
    pub backend: String,
    /// `get`, `set`, `create`, `delete`, `list`, `get_2t_disjoint`, `get_2t_shared`,
    /// `version` (floor), `version_2t` (floor, two threads).
    pub workload: String,
    /// Threads issuing operations at once.
    pub threads: u32,
    /// Operations per run (per thread).
    pub ops_per_rep: u64,
    /// Median latency of one operation, as each thread sees it, in ns.
    pub ns_per_op: f64,
    /// Median throughput of all threads together, operations per second.
    pub ops_per_s: f64,
    /// Latency of each run, ns per operation.
    pub samples_ns_per_op: Vec<f64>,
}

/// Memory a populated store took.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryResult {
    /// Backend name.
    pub backend: String,
    /// Keys stored.
    pub keys: u64,
    /// pathstore only: change of `store_stats.nodes`.
    pub module_nodes: u64,
    /// pathstore only: change of `store_stats.bytes` (names plus values).
    pub module_bytes: u64,
    /// Kernel memory change while populating.
    pub delta: Delta,
}

/// A combination that was not run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Skip {
    /// Store id, or empty for the whole run.
    pub store: String,
    /// Backend, or empty for all.
    pub backend: String,
    /// Workload, or empty for all.
    pub workload: String,
    /// Why.
    pub reason: String,
}

/// One target from the issue, checked against the figures.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Target {
    /// Short id (`get_vs_floor`, ...).
    pub id: String,
    /// The target as the issue states it.
    pub description: String,
    /// Figure the value comes from.
    pub figure: String,
    /// The measured value, when it could be measured.
    pub measured: Option<f64>,
    /// `<=` or `>=`.
    pub compare: String,
    /// The threshold.
    pub threshold: f64,
    /// Unit of `measured` and `threshold` (`×`, `B`).
    pub unit: String,
    /// `PASS`, `MISS` or `N/A`.
    pub status: String,
    /// How it was measured, and anything that qualifies it.
    pub detail: String,
}

/// Workloads that have a single-thread latency to compare across backends, in table order.
pub const WORKLOADS: [&str; 9] = [
    "get",
    "get_batch64",
    "set",
    "create",
    "delete",
    "create_delete",
    "list",
    "get_2t_disjoint",
    "get_2t_shared",
];

/// The store whose figures the latency targets use: 256 B values at depth 4, 100k keys.
pub const REFERENCE: StoreSpec = StoreSpec {
    depth: 4,
    keys: 100_000,
    value: 256,
};

/// Nanoseconds per operation of `workload` on `backend` in `store`, `create_delete` being the
/// sum of `create` and `delete`.
pub fn ns(store: &StoreResult, backend: &str, workload: &str) -> Option<f64> {
    if workload == "create_delete" {
        return Some(ns(store, backend, "create")? + ns(store, backend, "delete")?);
    }
    store.find(backend, workload).map(|m| m.ns_per_op)
}

/// The floor workload matching `workload`'s thread count.
pub fn floor_workload(workload: &str) -> &'static str {
    if workload.contains("_2t") {
        "version_2t"
    } else {
        "version"
    }
}

/// Every named figure: latencies, throughputs, ratios and memory per key.
///
/// - `{backend}.{workload}.{store}.ns_per_op` and `.ops_per_s` for every measurement
///   (`floor.version.{store}` is the floor measured with that store loaded;
///   `floor.version.global` the one measured first);
/// - `ratio.pathstore_over_{tmpfs,keyring,floor}.{workload}.{store}`: pathstore's ns/op divided
///   by the other's (below 1: pathstore is faster);
/// - `ratio.pathstore_2t_over_1t.{disjoint,shared}.{store}`: two readers' total ops/s over one
///   reader's;
/// - `ratio.pathstore_batch64_over_64_gets.{store}`: one `get_batch64` call (64 gets) over 64
///   single gets (below 1: the batch is cheaper);
/// - `memory.{backend}.{store}.*_per_key`: bytes (or nodes) per key.
pub fn figures(r: &Results) -> BTreeMap<String, f64> {
    let mut f = BTreeMap::new();
    for m in &r.floor {
        f.insert(
            format!("floor.{}.global.ns_per_op", m.workload),
            m.ns_per_op,
        );
        f.insert(
            format!("floor.{}.global.ops_per_s", m.workload),
            m.ops_per_s,
        );
    }
    for s in &r.stores {
        let id = s.spec.id();
        for m in &s.measurements {
            let base = format!("{}.{}.{id}", m.backend, m.workload);
            f.insert(format!("{base}.ns_per_op"), m.ns_per_op);
            f.insert(format!("{base}.ops_per_s"), m.ops_per_s);
        }
        for backend in ["pathstore", "tmpfs", "keyring"] {
            if let Some(cd) = ns(s, backend, "create_delete") {
                f.insert(format!("{backend}.create_delete.{id}.ns_per_op"), cd);
            }
        }
        for w in WORKLOADS {
            let Some(ps) = ns(s, "pathstore", w) else {
                continue;
            };
            for other in ["tmpfs", "keyring"] {
                if let Some(o) = ns(s, other, w) {
                    f.insert(format!("ratio.pathstore_over_{other}.{w}.{id}"), ps / o);
                }
            }
            if w != "create_delete" {
                if let Some(fl) = ns(s, "floor", floor_workload(w)) {
                    f.insert(format!("ratio.pathstore_over_floor.{w}.{id}"), ps / fl);
                }
            }
        }
        if let (Some(batch), Some(get)) =
            (ns(s, "pathstore", "get_batch64"), ns(s, "pathstore", "get"))
        {
            f.insert(
                format!("ratio.pathstore_batch64_over_64_gets.{id}"),
                batch / (64.0 * get),
            );
        }
        if let Some(one) = s.find("pathstore", "get") {
            for sharing in ["disjoint", "shared"] {
                if let Some(two) = s.find("pathstore", &format!("get_2t_{sharing}")) {
                    f.insert(
                        format!("ratio.pathstore_2t_over_1t.{sharing}.{id}"),
                        two.ops_per_s / one.ops_per_s,
                    );
                }
            }
        }
        for m in &s.memory {
            if m.keys == 0 {
                continue;
            }
            let keys = m.keys as f64;
            let base = format!("memory.{}.{id}", m.backend);
            f.insert(
                format!("{base}.slab_bytes_per_key"),
                m.delta.slab_active as f64 / keys,
            );
            f.insert(
                format!("{base}.meminfo_slab_bytes_per_key"),
                m.delta.meminfo_slab as f64 / keys,
            );
            f.insert(
                format!("{base}.mem_available_bytes_per_key"),
                m.delta.mem_available_used as f64 / keys,
            );
            if m.backend == "pathstore" {
                f.insert(
                    format!("{base}.module_bytes_per_key"),
                    m.module_bytes as f64 / keys,
                );
                f.insert(
                    format!("{base}.module_nodes_per_key"),
                    m.module_nodes as f64 / keys,
                );
                f.insert(
                    format!("{base}.overhead_bytes_per_key"),
                    (m.delta.slab_active as f64 - m.module_bytes as f64) / keys,
                );
                if m.module_nodes > 0 {
                    f.insert(
                        format!("{base}.overhead_bytes_per_node"),
                        (m.delta.slab_active as f64 - m.module_bytes as f64)
                            / m.module_nodes as f64,
                    );
                }
            }
        }
    }
    f
}

fn store<'a>(r: &'a Results, spec: &StoreSpec) -> Option<&'a StoreResult> {
    r.stores.iter().find(|s| s.spec == *spec)
}

fn check(value: Option<f64>, compare: &str, threshold: f64) -> String {
    match value {
        None => "N/A".to_string(),
        Some(v)
            if v.is_finite()
                && ((compare == "<=" && v <= threshold) || (compare == ">=" && v >= threshold)) =>
        {
            "PASS".to_string()
        }
        Some(_) => "MISS".to_string(),
    }
}

/// Checks the targets against the figures. Nothing here fails the run.
pub fn targets(r: &Results) -> Vec<Target> {
    let f = &r.figures;
    let rid = REFERENCE.id();
    let reference = store(r, &REFERENCE);
    let at_ref = if reference.is_some() {
        format!("at {}", REFERENCE.label())
    } else {
        format!("{} was not run", REFERENCE.label())
    };
    let mut out = Vec::new();
    let mut push = |id: &str,
                    description: &str,
                    figure: String,
                    measured: Option<f64>,
                    compare: &str,
                    threshold: f64,
                    unit: &str,
                    detail: String| {
        out.push(Target {
            id: id.to_string(),
            description: description.to_string(),
            status: check(measured, compare, threshold),
            figure,
            measured,
            compare: compare.to_string(),
            threshold,
            unit: unit.to_string(),
            detail,
        });
    };
    let inv = |name: String| f.get(&name).map(|r| 1.0 / r);

    let fig = format!("ratio.pathstore_over_floor.get.{rid}");
    push(
        "get_vs_floor",
        "get of a 256 B value at depth 4 in a 100k-key store ≤1.5× the floor",
        fig.clone(),
        f.get(&fig).copied(),
        "<=",
        1.5,
        "×",
        format!("pathstore get ns/op ÷ IOC_VERSION ns/op, {at_ref}"),
    );
    let fig = format!("ratio.pathstore_batch64_over_64_gets.{rid}");
    push(
        "get_batch64_vs_64_gets",
        "with batching: 64 gets in one call ≤0.25× of 64 single calls",
        fig.clone(),
        f.get(&fig).copied(),
        "<=",
        0.25,
        "×",
        format!(
            "pathstore get_batch64 ns/call (64 random keys, one PATHSTORE_IOC_GET_BATCH) ÷ \
             (64 × get ns/op), {at_ref}"
        ),
    );
    let fig = format!("ratio.pathstore_over_tmpfs.get.{rid}");
    push(
        "get_vs_tmpfs",
        "the same get ≥3× faster than tmpfs (open/read/close)",
        fig.clone(),
        inv(fig),
        ">=",
        3.0,
        "×",
        format!("tmpfs ns/op ÷ pathstore ns/op, {at_ref}"),
    );
    let fig = format!("ratio.pathstore_over_tmpfs.set.{rid}");
    push(
        "set_vs_tmpfs",
        "set (replace) ≥3× faster than tmpfs (open O_TRUNC/write/close)",
        fig.clone(),
        inv(fig),
        ">=",
        3.0,
        "×",
        format!("tmpfs ns/op ÷ pathstore ns/op, {at_ref}"),
    );
    let fig = format!("ratio.pathstore_over_tmpfs.create_delete.{rid}");
    push(
        "create_delete_vs_tmpfs",
        "create+delete ≥2× faster than tmpfs (open O_EXCL/write/close + unlink)",
        fig.clone(),
        inv(fig),
        ">=",
        2.0,
        "×",
        format!("tmpfs (create+delete) ÷ pathstore (create+delete), {at_ref}"),
    );

    // Scaling with store size: the largest store against 1k keys, same shape and value.
    let small = |depth, value| StoreSpec {
        depth,
        keys: 1000,
        value,
    };
    let scaling = |s: &StoreResult| -> Option<f64> {
        let base = store(r, &small(s.spec.depth, s.spec.value))?;
        Some(ns(s, "pathstore", "get")? / ns(base, "pathstore", "get")?)
    };
    let best = r
        .stores
        .iter()
        .filter(|s| s.spec.keys > 1000)
        .filter_map(|s| Some((s.spec, scaling(s)?)))
        .max_by_key(|(spec, _)| (spec.keys, spec.depth == 1, spec.value == 256));
    let (fig, measured, detail) = match best {
        Some((spec, ratio)) => {
            let mut detail = format!(
                "pathstore get ns/op at {} ÷ at {}",
                spec.label(),
                small(spec.depth, spec.value).label()
            );
            if spec.keys < 1_000_000 {
                detail.push_str(" (no 1M-key store in this run)");
            }
            // The other shapes and values at that size, for the record.
            for s in r.stores.iter().filter(|s| s.spec.keys == spec.keys) {
                if let Some(other) = scaling(s).filter(|_| s.spec != spec) {
                    detail.push_str(&format!("; {}: {other:.2}×", s.spec.label()));
                }
            }
            (
                format!("pathstore.get.{}.ns_per_op", spec.id()),
                Some(ratio),
                detail,
            )
        }
        None => (
            String::new(),
            None,
            "needs a 1k-key store and a larger one of the same shape and value".to_string(),
        ),
    };
    push(
        "get_scaling_1m_vs_1k",
        "get at 1M keys ≤1.5× the latency at 1k keys",
        fig,
        measured,
        "<=",
        1.5,
        "×",
        detail,
    );

    // Memory: the flat store with the most keys (256 B values preferred).
    let mem = r
        .stores
        .iter()
        .filter(|s| s.spec.depth == 1 && s.memory.iter().any(|m| m.backend == "pathstore"))
        .max_by_key(|s| (s.spec.keys, s.spec.value == 256));
    let (fig, measured, detail) = match mem {
        Some(s) => {
            let id = s.spec.id();
            let fig = format!("memory.pathstore.{id}.overhead_bytes_per_key");
            let slab = f.get(&format!("memory.pathstore.{id}.slab_bytes_per_key"));
            let meminfo = f.get(&format!("memory.pathstore.{id}.meminfo_slab_bytes_per_key"));
            let module = f.get(&format!("memory.pathstore.{id}.module_bytes_per_key"));
            let detail = format!(
                "(slab objects allocated − store_stats.bytes) ÷ keys at {}: slab {:.0} B/key, \
                 names+values {:.0} B/key; /proc/meminfo Slab: {:.0} B/key",
                s.spec.label(),
                slab.copied().unwrap_or(f64::NAN),
                module.copied().unwrap_or(f64::NAN),
                meminfo.copied().unwrap_or(f64::NAN)
            );
            (fig.clone(), f.get(&fig).copied(), detail)
        }
        None => (
            String::new(),
            None,
            "no flat pathstore store was populated".to_string(),
        ),
    };
    push(
        "memory_overhead_per_key",
        "≤96 bytes per key beyond name+value",
        fig,
        measured,
        "<=",
        96.0,
        "B",
        detail,
    );

    let fig = format!("ratio.pathstore_2t_over_1t.disjoint.{rid}");
    let cpus = r.env.cpus_online;
    let (measured, mut detail) = (
        f.get(&fig).copied(),
        format!("two readers' total ops/s ÷ one reader's, {at_ref}"),
    );
    if let Some(shared) = f.get(&format!("ratio.pathstore_2t_over_1t.shared.{rid}")) {
        detail.push_str(&format!("; shared subtree: {shared:.2}×"));
    }
    let load: f64 = r
        .env
        .host_loadavg
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0.0);
    // The load was read before the VM started: the guest's vCPUs come on top of it.
    if r.env.host_cpus > 0 && load + f64::from(cpus) > f64::from(r.env.host_cpus) + 1.0 {
        detail.push_str(&format!(
            "; the host had a load average of {load} on {} CPUs before the VM started, so the \
             guest's {cpus} vCPUs could not always run at once",
            r.env.host_cpus
        ));
    }
    let mut status_override = None;
    if cpus < 2 {
        detail.push_str(&format!(
            "; not measurable: the guest has {cpus} CPU online, so two threads take turns"
        ));
        status_override = Some("N/A");
    }
    push(
        "two_readers_disjoint",
        "2 readers on disjoint subtrees ≥1.6× one reader",
        fig,
        measured,
        ">=",
        1.6,
        "×",
        detail,
    );
    if let (Some(s), Some(t)) = (status_override, out.last_mut()) {
        t.status = s.to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(backend: &str, workload: &str, ns: f64) -> Measurement {
        Measurement {
            backend: backend.into(),
            workload: workload.into(),
            threads: if workload.contains("2t") { 2 } else { 1 },
            ops_per_rep: 10,
            ns_per_op: ns,
            ops_per_s: 1e9 / ns * if workload.contains("2t") { 2.0 } else { 1.0 },
            samples_ns_per_op: vec![ns],
        }
    }

    fn results() -> Results {
        let reference = StoreResult {
            spec: REFERENCE,
            measurements: vec![
                m("floor", "version", 1000.0),
                m("floor", "version_2t", 1000.0),
                m("pathstore", "get", 1400.0),
                m("pathstore", "get_batch64", 20_000.0),
                m("pathstore", "set", 2000.0),
                m("pathstore", "create", 2000.0),
                m("pathstore", "delete", 1000.0),
                m("pathstore", "get_2t_disjoint", 1500.0),
                m("tmpfs", "get", 6000.0),
                m("tmpfs", "set", 5000.0),
                m("tmpfs", "create", 4000.0),
                m("tmpfs", "delete", 2000.0),
            ],
            ..Default::default()
        };
        let small = StoreResult {
            spec: StoreSpec {
                depth: 1,
                keys: 1000,
                value: 256,
            },
            measurements: vec![m("pathstore", "get", 1000.0)],
            ..Default::default()
        };
        let big = StoreResult {
            spec: StoreSpec {
                depth: 1,
                keys: 1_000_000,
                value: 256,
            },
            measurements: vec![m("pathstore", "get", 2000.0)],
            memory: vec![MemoryResult {
                backend: "pathstore".into(),
                keys: 1_000_000,
                module_nodes: 1_000_000,
                module_bytes: 263_000_000,
                delta: Delta {
                    slab_active: 263_000_000 + 150_000_000,
                    ..Default::default()
                },
            }],
            ..Default::default()
        };
        let mut r = Results {
            env: Env {
                cpus_online: 2,
                ..Default::default()
            },
            stores: vec![small, reference, big],
            ..Default::default()
        };
        r.figures = figures(&r);
        r
    }

    #[test]
    fn figure_names_and_ratios() {
        let r = results();
        let f = &r.figures;
        assert_eq!(f["pathstore.get.depth4.100k.256B.ns_per_op"], 1400.0);
        assert_eq!(f["ratio.pathstore_over_floor.get.depth4.100k.256B"], 1.4);
        assert_eq!(
            f["ratio.pathstore_over_tmpfs.create_delete.depth4.100k.256B"],
            0.5
        );
        assert_eq!(
            f["pathstore.create_delete.depth4.100k.256B.ns_per_op"],
            3000.0
        );
        assert_eq!(
            f["memory.pathstore.flat.1M.256B.overhead_bytes_per_key"],
            150.0
        );
        let batch = f["ratio.pathstore_batch64_over_64_gets.depth4.100k.256B"];
        assert!((batch - 20_000.0 / (64.0 * 1400.0)).abs() < 1e-9);
        assert!(!f.contains_key("ratio.pathstore_batch64_over_64_gets.flat.1k.256B"));
        let scaling = f["ratio.pathstore_2t_over_1t.disjoint.depth4.100k.256B"];
        assert!((scaling - 2.0 * 1400.0 / 1500.0).abs() < 1e-9);
    }

    #[test]
    fn targets_pass_and_miss() {
        let r = results();
        let t = targets(&r);
        let status = |id: &str| t.iter().find(|t| t.id == id).unwrap().status.clone();
        assert_eq!(status("get_vs_floor"), "PASS");
        assert_eq!(status("get_vs_tmpfs"), "PASS");
        assert_eq!(status("get_batch64_vs_64_gets"), "PASS");
        assert_eq!(status("set_vs_tmpfs"), "MISS");
        assert_eq!(status("create_delete_vs_tmpfs"), "PASS");
        assert_eq!(status("get_scaling_1m_vs_1k"), "MISS");
        assert_eq!(status("memory_overhead_per_key"), "MISS");
        assert_eq!(status("two_readers_disjoint"), "PASS");
    }

    #[test]
    fn batch_target_misses_and_needs_both_figures() {
        let mut r = results();
        r.stores[1]
            .measurements
            .retain(|m| m.workload != "get_batch64");
        r.stores[1]
            .measurements
            .push(m("pathstore", "get_batch64", 64.0 * 1400.0 * 0.3));
        r.figures = figures(&r);
        let t = targets(&r);
        let batch = t.iter().find(|t| t.id == "get_batch64_vs_64_gets").unwrap();
        assert_eq!(batch.status, "MISS");
        r.stores[1]
            .measurements
            .retain(|m| m.workload != "get_batch64");
        r.figures = figures(&r);
        let t = targets(&r);
        let batch = t.iter().find(|t| t.id == "get_batch64_vs_64_gets").unwrap();
        assert_eq!(batch.status, "N/A");
    }

    #[test]
    fn one_cpu_makes_scaling_not_applicable() {
        let mut r = results();
        r.env.cpus_online = 1;
        let t = targets(&r);
        let two = t.iter().find(|t| t.id == "two_readers_disjoint").unwrap();
        assert_eq!(two.status, "N/A");
        assert!(two.detail.contains("1 CPU"));
    }
}
