//! `pathstore-bench`: measures pathstore against tmpfs files, the kernel keyring and the floor
//! (the no-op `PATHSTORE_IOC_VERSION` ioctl), inside the VM that `scripts/bench.sh` boots.
//!
//! ```text
//! pathstore-bench run --out DIR [--quick]   # measure; write DIR/results.json, table.md, chart.svg
//! pathstore-bench render DIR                # rewrite table.md and chart.svg from results.json
//! pathstore-bench plan [--quick]            # list the stores a run would fill
//! pathstore-bench tsc-rate                  # the TSC's rate (GHz), measured on the host
//! ```
//!
//! Workloads, on stores of 1k, 100k and 1M keys, flat or nested to depth 8 (and depth 4 at
//! 100k keys), with values of 16 B, 256 B and 4 KiB: get, set (replace), create, delete, list
//! children, and get from two threads on disjoint and on shared subtrees. Each figure is the
//! median of repeated runs; `docs/benchmarks.md` describes the method and the outputs.

mod backend;
mod clock;
mod layout;
mod memory;
mod render;
mod results;
mod run;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::results::Results;

/// Command line of `pathstore-bench`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Benchmark pathstore against tmpfs, the keyring and a no-op ioctl"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the benchmark (in the VM, as root, with /dev/pathstore loaded).
    Run {
        /// Output folder for results.json, table.md and chart.svg (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// The reduced set (`make bench QUICK=1`).
        #[arg(long)]
        quick: bool,
        /// The pathstore device.
        #[arg(long, default_value = pathstore::DEFAULT_DEVICE)]
        device: PathBuf,
        /// Directory for the tmpfs backend; it must be on tmpfs and is emptied.
        #[arg(long, default_value = "/tmp/pathstore-bench")]
        tmpfs_dir: PathBuf,
        /// Runs per measurement (the median is reported) [default: 21, QUICK 11].
        #[arg(long)]
        reps: Option<u32>,
        /// Target length of one run of a measurement, ms [default: 5, QUICK 4]. Short runs
        /// keep most of them clear of the host descheduling the VM.
        #[arg(long)]
        target_ms: Option<u64>,
        /// Most operations in one run.
        #[arg(long, default_value_t = 200_000)]
        max_ops: usize,
        /// Backends to compare with the floor.
        #[arg(long, value_delimiter = ',', default_value = "pathstore,tmpfs,keyring")]
        backends: Vec<String>,
        /// Only stores whose id (e.g. `depth4.100k.256B`) contains one of these.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Largest fraction of MemAvailable a store may be estimated to need.
        #[arg(long, default_value_t = 0.7)]
        mem_fraction: f64,
        /// The TSC's rate in GHz as measured on the host (`pathstore-bench tsc-rate`); used
        /// when the guest's clock is too coarse.
        #[arg(long)]
        tsc_ghz: Option<f64>,
        /// The host's load average at the start (recorded with the results).
        #[arg(long)]
        host_loadavg: Option<String>,
        /// The host's CPU count (recorded with the results).
        #[arg(long)]
        host_cpus: Option<u32>,
    },
    /// Print the TSC's rate in GHz, measured against CLOCK_MONOTONIC (run on the host).
    TscRate {
        /// Measuring window, ms.
        #[arg(long, default_value_t = 500)]
        ms: u64,
    },
    /// Rewrite table.md and chart.svg of an output folder from its results.json.
    Render {
        /// The output folder of a run.
        dir: PathBuf,
    },
    /// Print the stores a run would fill.
    Plan {
        /// The reduced set.
        #[arg(long)]
        quick: bool,
    },
}

/// Writes `results.json`, `table.md` and `chart.svg` into `dir`.
fn write_outputs(dir: &Path, results: &Results) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(results).map_err(io::Error::other)?;
    fs::write(dir.join("results.json"), json + "\n")?;
    fs::write(dir.join("table.md"), render::markdown(results))?;
    fs::write(dir.join("chart.svg"), render::svg(results))?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run {
            out,
            quick,
            device,
            tmpfs_dir,
            reps,
            target_ms,
            max_ops,
            backends,
            only,
            mem_fraction,
            tsc_ghz,
            host_loadavg,
            host_cpus,
        } => {
            let opts = run::Options {
                device,
                tmpfs_dir,
                quick,
                reps: reps.unwrap_or(if quick { 11 } else { 21 }).max(1),
                target_ms: target_ms.unwrap_or(if quick { 4 } else { 5 }),
                max_ops: max_ops.max(1),
                backends,
                only,
                mem_fraction,
                tsc_ghz,
                host_loadavg,
                host_cpus,
            };
            run::run(&opts).and_then(|results| {
                write_outputs(&out, &results)?;
                for t in &results.targets {
                    println!(
                        "[bench] target {:5} {} ({})",
                        t.status, t.description, t.detail
                    );
                }
                println!(
                    "[bench] done in {:.0} s; wrote {}/results.json, table.md, chart.svg",
                    results.duration_s,
                    out.display()
                );
                Ok(())
            })
        }
        Command::Render { dir } => fs::read_to_string(dir.join("results.json"))
            .and_then(|text| serde_json::from_str::<Results>(&text).map_err(io::Error::other))
            .and_then(|mut results| {
                results.figures = results::figures(&results);
                results.targets = results::targets(&results);
                write_outputs(&dir, &results)
            }),
        Command::TscRate { ms } => match clock::measure_tsc_ghz(Duration::from_millis(ms)) {
            Some(rate) => {
                println!("{rate:.6}");
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no TSC on this architecture",
            )),
        },
        Command::Plan { quick } => {
            for spec in run::plan(quick) {
                let layout = layout::Layout::new(spec.keys, spec.depth);
                println!(
                    "{:20} fanout {:2}, {:6} directories",
                    spec.id(),
                    layout.fanout,
                    layout.dir_count()
                );
            }
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pathstore-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
