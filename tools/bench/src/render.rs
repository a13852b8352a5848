//! The human-readable outputs of a run: a Markdown table (`table.md`) and a chart
//! (`chart.svg`), both made from [`Results`] alone so that `render` can redo them later.

use std::fmt::Write as _;

use crate::results::{floor_workload, ns, Results, StoreResult, REFERENCE, WORKLOADS};
use crate::run::{fmt_ns, fmt_rate};

/// Backends in table order.
const BACKENDS: [&str; 3] = ["pathstore", "tmpfs", "keyring"];

fn workload_label(w: &str) -> &str {
    match w {
        "create_delete" => "create+delete",
        "get_batch64" => "64 gets in one batch call (per call)",
        "get_2t_disjoint" => "get, 2 threads, disjoint",
        "get_2t_shared" => "get, 2 threads, shared",
        other => other,
    }
}

fn cell(store: &StoreResult, backend: &str, workload: &str) -> String {
    if workload == "create_delete" {
        return ns(store, backend, workload).map_or("–".to_string(), fmt_ns);
    }
    match store.find(backend, workload) {
        Some(m) => format!("{} ({})", fmt_ns(m.ns_per_op), fmt_rate(m.ops_per_s)),
        None => "–".to_string(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".to_string(),
    }
}

fn measured(t: &crate::results::Target) -> String {
    match t.measured {
        Some(v) if t.unit == "B" => format!("{v:.0} B"),
        Some(v) => format!("{v:.2}{}", t.unit),
        None => "–".to_string(),
    }
}

/// The Markdown report: targets, latencies, memory, what was skipped.
pub fn markdown(r: &Results) -> String {
    let mut md = String::new();
    let env = &r.env;
    let _ = writeln!(md, "### pathstore benchmark\n");
    let _ = writeln!(
        md,
        "{} run of {}, {:.0} s{}. Guest: Linux {} under QEMU TCG, {} CPU online, {} MiB; module \
         {}. Each figure is the median of {} runs of about {} ms each; latency is ns per \
         operation as one thread sees it, throughput is operations per second of all threads. \
         Ratios are pathstore's ns/op divided by the other's (below 1: pathstore is faster). \
         The floor is `PATHSTORE_IOC_VERSION`, an ioctl that does no work.\n",
        if r.quick { "QUICK (reduced)" } else { "Full" },
        r.started_utc,
        r.duration_s,
        if env.host_loadavg.is_empty() {
            String::new()
        } else {
            format!(
                " (host: {} CPUs, load average {})",
                env.host_cpus, env.host_loadavg
            )
        },
        env.kernel,
        env.cpus_online,
        env.mem_total >> 20,
        env.module_version,
        env.reps,
        env.target_ms,
    );

    let _ = writeln!(
        md,
        "#### Targets (informational: a miss does not fail the bench)\n"
    );
    let _ = writeln!(
        md,
        "| target | measured | goal | result |\n|---|---|---|---|"
    );
    for t in &r.targets {
        let goal = if t.unit == "B" {
            format!(
                "{} {} B",
                t.compare.replace("<=", "≤").replace(">=", "≥"),
                t.threshold
            )
        } else {
            format!(
                "{} {}{}",
                t.compare.replace("<=", "≤").replace(">=", "≥"),
                t.threshold,
                t.unit
            )
        };
        let _ = writeln!(
            md,
            "| {} | {} | {goal} | **{}** |",
            t.description,
            measured(t),
            t.status
        );
    }
    md.push('\n');
    for t in &r.targets {
        let _ = writeln!(md, "- {}: {}", t.id, t.detail);
    }
    md.push('\n');

    let _ = writeln!(md, "#### Latency (throughput)\n");
    let _ = writeln!(
        md,
        "| store | workload | pathstore | tmpfs | keyring | floor | ÷ tmpfs | ÷ keyring | ÷ floor |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for s in &r.stores {
        for w in WORKLOADS {
            if BACKENDS.iter().all(|b| ns(s, b, w).is_none()) {
                continue;
            }
            let ps = ns(s, "pathstore", w);
            let floor = if w == "create_delete" {
                "–".to_string()
            } else {
                cell(s, "floor", floor_workload(w))
            };
            let floor_ratio = if w == "create_delete" {
                "–".to_string()
            } else {
                ratio(ps, ns(s, "floor", floor_workload(w)))
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {floor} | {} | {} | {floor_ratio} |",
                s.spec.label(),
                workload_label(w),
                cell(s, "pathstore", w),
                cell(s, "tmpfs", w),
                cell(s, "keyring", w),
                ratio(ps, ns(s, "tmpfs", w)),
                ratio(ps, ns(s, "keyring", w)),
            );
        }
    }
    md.push('\n');

    let _ = writeln!(md, "#### Memory per key\n");
    let _ = writeln!(
        md,
        "pathstore: the module's counters (`store_stats`: nodes, bytes of names and values) \
         against the slab objects allocated while filling the store ({}), and the `Slab:` line \
         of /proc/meminfo. tmpfs and keyring: slab objects / the fall of MemAvailable (which \
         includes tmpfs's page per file).\n",
        env.slab_source
    );
    let _ = writeln!(
        md,
        "| store | nodes/key | names+values | slab | beyond name+value | meminfo Slab | tmpfs: slab / MemAvailable | keyring: slab / MemAvailable |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for s in &r.stores {
        let mem = |b: &str| s.memory.iter().find(|m| m.backend == b);
        let per = |v: f64, keys: u64| format!("{:.0} B", v / keys as f64);
        let (nodes, names, slab, beyond, meminfo) = match mem("pathstore") {
            Some(m) => (
                format!("{:.3}", m.module_nodes as f64 / m.keys as f64),
                per(m.module_bytes as f64, m.keys),
                per(m.delta.slab_active as f64, m.keys),
                per(m.delta.slab_active as f64 - m.module_bytes as f64, m.keys),
                per(m.delta.meminfo_slab as f64, m.keys),
            ),
            None => Default::default(),
        };
        let other = |b: &str| {
            mem(b).map_or("–".to_string(), |m| {
                format!(
                    "{} / {}",
                    per(m.delta.slab_active as f64, m.keys),
                    per(m.delta.mem_available_used as f64, m.keys)
                )
            })
        };
        let _ = writeln!(
            md,
            "| {} | {nodes} | {names} | {slab} | {beyond} | {meminfo} | {} | {} |",
            s.spec.label(),
            other("tmpfs"),
            other("keyring")
        );
    }
    md.push('\n');

    if !r.skipped.is_empty() {
        let _ = writeln!(md, "#### Not run\n");
        for s in &r.skipped {
            let what = [s.store.as_str(), s.backend.as_str(), s.workload.as_str()]
                .iter()
                .filter(|x| !x.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            let what = if what.is_empty() {
                "all".to_string()
            } else {
                what
            };
            let _ = writeln!(md, "- {what}: {}", s.reason);
        }
        md.push('\n');
    }
    md
}

/// A line of the size chart: its label, its backend, its dash pattern and its (keys, ns/op)
/// points.
type Series<'a> = (String, &'a str, &'static str, Vec<(f64, f64)>);

/// Colours of the backends in the chart.
fn colour(backend: &str) -> &'static str {
    match backend {
        "pathstore" => "#1f77b4",
        "tmpfs" => "#ff7f0e",
        "keyring" => "#2ca02c",
        _ => "#7f7f7f",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A log-scale axis from `lo` to `hi` (powers of ten) mapped onto `x0..x1`.
struct LogAxis {
    lo: f64,
    hi: f64,
    x0: f64,
    x1: f64,
}

impl LogAxis {
    fn new(values: impl Iterator<Item = f64>, x0: f64, x1: f64) -> Self {
        let (mut lo, mut hi) = (f64::INFINITY, 0f64);
        for v in values.filter(|v| v.is_finite() && *v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = (1.0, 10.0);
        }
        Self {
            lo: 10f64.powf(lo.log10().floor()),
            hi: 10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0)),
            x0,
            x1,
        }
    }

    fn at(&self, v: f64) -> f64 {
        let t = (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10());
        self.x0 + t * (self.x1 - self.x0)
    }

    fn ticks(&self) -> Vec<f64> {
        let mut v = self.lo;
        let mut out = Vec::new();
        while v <= self.hi * 1.0001 {
            out.push(v);
            v *= 10.0;
        }
        out
    }
}

/// The chart: ns/op per workload and backend at the reference store (or the first store run),
/// and get latency against store size.
pub fn svg(r: &Results) -> String {
    let reference = r
        .stores
        .iter()
        .find(|s| s.spec == REFERENCE)
        .or_else(|| r.stores.first());
    let width = 960.0;
    let (left, right) = (200.0, width - 30.0);
    let workloads: Vec<&str> = WORKLOADS
        .iter()
        .copied()
        // A batch call is 64 gets: its bar would dwarf the others.
        .filter(|w| *w != "create_delete" && *w != "get_batch64")
        .filter(|w| reference.is_some_and(|s| BACKENDS.iter().any(|b| ns(s, b, w).is_some())))
        .collect();
    let bar = 12.0;
    let group = bar * 3.0 + 14.0;
    let top_a = 70.0;
    let height_a = group * workloads.len() as f64;
    let top_b = top_a + height_a + 110.0;
    let height_b = 260.0;
    let height = top_b + height_b + 70.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let legend = |s: &mut String, y: f64| {
        let mut x = left;
        for b in BACKENDS.iter().chain(["floor"].iter()) {
            if *b == "floor" {
                let _ = writeln!(
                    s,
                    r##"<line x1="{x}" y1="{}" x2="{}" y2="{}" stroke="#d62728" stroke-dasharray="4,3" stroke-width="2"/>"##,
                    y - 4.0,
                    x + 18.0,
                    y - 4.0
                );
            } else {
                let _ = writeln!(
                    s,
                    r#"<rect x="{x}" y="{}" width="18" height="10" fill="{}"/>"#,
                    y - 9.0,
                    colour(b)
                );
            }
            let _ = writeln!(s, r#"<text x="{}" y="{y}">{b}</text>"#, x + 24.0);
            x += 110.0;
        }
    };

    // Panel A
    if let Some(store) = reference {
        let title = format!(
            "Latency per operation, {} (median ns/op, log scale; shorter is faster)",
            store.spec.label()
        );
        let _ = writeln!(
            s,
            r#"<text x="20" y="24" font-size="15" font-weight="bold">{}</text>"#,
            escape(&title)
        );
        legend(&mut s, 48.0);
        let values = workloads
            .iter()
            .flat_map(|w| BACKENDS.iter().chain(["floor"].iter()).map(move |b| (w, b)))
            .filter_map(|(w, b)| ns(store, b, if *b == "floor" { floor_workload(w) } else { w }));
        let axis = LogAxis::new(values, left, right);
        let bottom = top_a + height_a;
        for t in axis.ticks() {
            let x = axis.at(t);
            let _ = writeln!(
                s,
                r##"<line x1="{x}" y1="{top_a}" x2="{x}" y2="{bottom}" stroke="#ddd"/><text x="{x}" y="{}" text-anchor="middle">{}</text>"##,
                bottom + 16.0,
                fmt_ns(t)
            );
        }
        for (gi, w) in workloads.iter().enumerate() {
            let y0 = top_a + gi as f64 * group + 7.0;
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                left - 8.0,
                y0 + bar * 1.5 + 4.0,
                escape(workload_label(w))
            );
            for (bi, b) in BACKENDS.iter().enumerate() {
                if let Some(v) = ns(store, b, w) {
                    let y = y0 + bi as f64 * bar;
                    let _ = writeln!(
                        s,
                        r#"<rect x="{left}" y="{y}" width="{:.1}" height="{}" fill="{}"><title>{b} {}: {}</title></rect>"#,
                        (axis.at(v) - left).max(1.0),
                        bar - 2.0,
                        colour(b),
                        escape(w),
                        fmt_ns(v)
                    );
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{}" font-size="10">{}</text>"#,
                        axis.at(v) + 4.0,
                        y + bar - 3.0,
                        fmt_ns(v)
                    );
                }
            }
            if let Some(f) = ns(store, "floor", floor_workload(w)) {
                let x = axis.at(f);
                let _ = writeln!(
                    s,
                    r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#d62728" stroke-dasharray="4,3" stroke-width="2"/>"##,
                    y0 - 3.0,
                    y0 + bar * 3.0 + 1.0
                );
            }
        }
    }

    // Panel B: get latency against store size, one line per backend and shape. Values of
    // 256 B when the run has them (else the value size of the most stores).
    let value = if r.stores.iter().any(|s| s.spec.value == 256) {
        256
    } else {
        r.stores.first().map_or(256, |s| s.spec.value)
    };
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" font-size="15" font-weight="bold">get latency against store size, {} values (median ns/op; log–log)</text>"#,
        top_b - 40.0,
        crate::layout::value_name(value)
    );
    let mut depths: Vec<u32> = r.stores.iter().map(|s| s.spec.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut series: Vec<Series> = Vec::new();
    let dashes = ["", "6,3", "2,3", "8,3,2,3"];
    for b in BACKENDS {
        for (di, &depth) in depths.iter().enumerate() {
            let pts: Vec<(f64, f64)> = r
                .stores
                .iter()
                .filter(|s| s.spec.depth == depth && s.spec.value == value)
                .filter_map(|s| Some((s.spec.keys as f64, ns(s, b, "get")?)))
                .collect();
            if !pts.is_empty() {
                let label = format!("{b} {}", crate::layout::shape_name(depth));
                series.push((label, b, dashes[di % dashes.len()], pts));
            }
        }
    }
    let xs = LogAxis::new(
        series.iter().flat_map(|s| s.3.iter().map(|p| p.0)),
        left,
        right - 220.0,
    );
    let mut ys = LogAxis::new(
        series.iter().flat_map(|s| s.3.iter().map(|p| p.1)),
        top_b + height_b,
        top_b,
    );
    if let Some(f) = r.floor.iter().find(|m| m.workload == "version") {
        ys = LogAxis::new(
            series
                .iter()
                .flat_map(|s| s.3.iter().map(|p| p.1))
                .chain([f.ns_per_op]),
            top_b + height_b,
            top_b,
        );
        let y = ys.at(f.ns_per_op);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#d62728" stroke-dasharray="4,3" stroke-width="2"/><text x="{}" y="{:.1}" fill="#d62728">floor (IOC_VERSION) {}</text>"##,
            right - 220.0,
            left + 6.0,
            y - 6.0,
            fmt_ns(f.ns_per_op)
        );
    }
    for t in xs.ticks() {
        let x = xs.at(t);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{top_b}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{} keys</text>"##,
            top_b + height_b,
            top_b + height_b + 16.0,
            crate::layout::keys_name(t as u64)
        );
    }
    for t in ys.ticks() {
        let y = ys.at(t);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            right - 220.0,
            left - 8.0,
            y + 4.0,
            fmt_ns(t)
        );
    }
    for (si, (label, b, dash, pts)) in series.iter().enumerate() {
        let path: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", xs.at(*x), ys.at(*y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            path.join(" "),
            colour(b)
        );
        for (x, y) in pts {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"><title>{}: {} at {} keys</title></circle>"#,
                xs.at(*x),
                ys.at(*y),
                colour(b),
                escape(label),
                fmt_ns(*y),
                *x as u64
            );
        }
        let ly = top_b + 10.0 + si as f64 * 18.0;
        let lx = right - 200.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{}</text>"#,
            lx + 24.0,
            colour(b),
            lx + 30.0,
            ly + 4.0,
            escape(label)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="20" y="{}" fill="#555">{} · {} · Linux {} (QEMU TCG, {} CPU) · module {}</text>"##,
        height - 16.0,
        if r.quick { "QUICK run" } else { "full run" },
        escape(&r.started_utc),
        escape(&r.env.kernel),
        r.env.cpus_online,
        escape(&r.env.module_version)
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{figures, targets, Measurement, StoreSpec};

    fn sample() -> Results {
        let m = |backend: &str, workload: &str, ns: f64| Measurement {
            backend: backend.into(),
            workload: workload.into(),
            threads: 1,
            ops_per_rep: 10,
            ns_per_op: ns,
            ops_per_s: 1e9 / ns,
            samples_ns_per_op: vec![ns],
        };
        let store = |spec: StoreSpec, f: f64| StoreResult {
            spec,
            measurements: vec![
                m("floor", "version", 900.0),
                m("pathstore", "get", 1500.0 * f),
                m("pathstore", "create", 2500.0),
                m("pathstore", "delete", 2000.0),
                m("tmpfs", "get", 8000.0),
                m("tmpfs", "create", 12000.0),
                m("tmpfs", "delete", 6000.0),
                m("keyring", "get", 5000.0),
            ],
            ..Default::default()
        };
        let mut r = Results {
            stores: vec![
                store(
                    StoreSpec {
                        depth: 1,
                        keys: 1000,
                        value: 256,
                    },
                    1.0,
                ),
                store(REFERENCE, 1.2),
            ],
            floor: vec![m("floor", "version", 900.0)],
            ..Default::default()
        };
        r.figures = figures(&r);
        r.targets = targets(&r);
        r
    }

    #[test]
    fn markdown_has_the_tables() {
        let md = markdown(&sample());
        assert!(md.contains("| depth4 · 100k · 256B | get | 1.80 µs (556k/s) | 8.00 µs (125k/s)"));
        assert!(md.contains("| depth4 · 100k · 256B | create+delete | 4.50 µs | 18.0 µs |"));
        assert!(md.contains("#### Targets"));
        assert!(md.contains("**MISS**") || md.contains("**PASS**"));
    }

    #[test]
    fn svg_is_well_formed_enough() {
        let svg = svg(&sample());
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(svg.contains("pathstore flat"));
        assert!(svg.contains("256B values"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn log_axis_spans_powers_of_ten() {
        let a = LogAxis::new([1500.0, 80_000.0].into_iter(), 0.0, 100.0);
        assert_eq!(a.ticks(), vec![1000.0, 10_000.0, 100_000.0]);
        assert!((a.at(1000.0) - 0.0).abs() < 1e-9);
        assert!((a.at(100_000.0) - 100.0).abs() < 1e-9);
    }
}
