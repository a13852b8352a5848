//! `pathstore-fuzz`: see the library's documentation, or `pathstore-fuzz --help`.

use std::process::ExitCode;

use clap::Parser;

use pathstore_fuzz::fault::FaultMode;
use pathstore_fuzz::fuzzer::{self, Config, Failure, FaultConfig, Limit, Summary};

/// Seeded random-operation fuzzer of pathstore: drives /dev/pathstore and a model of the store
/// side by side and compares every result and the final state.
///
/// Works in the subtree --root (deleted first). Prints the seed at the start and, on a mismatch,
/// a report and the command that repeats the run; exits 1 on a mismatch and 2 when it cannot
/// run. The last line is `fuzz: seed=S ops=N enomem=M mismatches=K ...`.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Seed of the operations (default: random). The same seed gives the same operations.
    #[arg(long)]
    seed: Option<u64>,
    /// Number of operations [default: 10000].
    #[arg(long, conflicts_with = "seconds")]
    ops: Option<u64>,
    /// Run for this many seconds instead of a number of operations.
    #[arg(long)]
    seconds: Option<u64>,
    /// Inject allocation failures (failslab and fail_page_alloc, this task only): any call may
    /// then fail with ENOMEM, and must leave the store unchanged.
    #[arg(long)]
    fault_inject: bool,
    /// How failures are chosen: `random` (the kernel fails each allocation of the task with
    /// --fault-probability; not reproducible) or `seeded` (in --fault-rate % of calls, the seed
    /// picks where failures start and how many allocations in a row fail: reproducible).
    #[arg(long, value_enum, default_value = "random", requires = "fault_inject")]
    fault_mode: FaultMode,
    /// Random mode: percentage of allocations that fail.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    fault_probability: u32,
    /// Seeded mode: percentage of calls armed with failures.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
    fault_rate: u32,
    /// The subtree to fuzz; it is deleted first. `/` fuzzes the whole store (and wipes it).
    #[arg(long, default_value = "/fuzz")]
    root: String,
    /// The device node.
    #[arg(long, default_value = pathstore::DEFAULT_DEVICE)]
    device: String,
    /// Compare the whole subtree with the model every N operations (0: only at the start and
    /// the end).
    #[arg(long, default_value_t = 10000)]
    check_every: u64,
    /// Soft limit on the subtree's nodes: beyond it, recursive deletes become frequent.
    #[arg(long, default_value_t = 250)]
    max_nodes: u64,
    /// Print every operation and its reply.
    #[arg(long)]
    trace: bool,
    /// Print the number of calls of each kind, the time they took and how they ended.
    #[arg(long)]
    profile: bool,
}

/// A seed from the kernel's random pool (`getrandom(2)`), or the clock if that fails.
fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    if rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty()) == Ok(8) {
        return u64::from_le_bytes(bytes);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
}

fn summary_line(cfg: &Config, s: &Summary) -> String {
    let mode = match &cfg.fault {
        None => "plain".to_string(),
        Some(f) => match f.mode {
            FaultMode::Random => format!("random-faults({}%)", f.probability),
            FaultMode::Seeded => format!("seeded-faults({}% of calls)", f.rate),
        },
    };
    let mut line = format!(
        "fuzz: seed={} ops={} enomem={} mismatches={} mode={mode} secs={:.1} checks={} \
         check_calls={} nodes={} peak_nodes={}",
        cfg.seed,
        s.ops,
        s.enomem,
        s.mismatches,
        s.elapsed.as_secs_f64(),
        s.full_checks,
        s.check_calls,
        s.nodes,
        s.peak_nodes
    );
    if cfg.fault.is_some() {
        line.push_str(&format!(" armed={}", s.armed));
    }
    line
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = Config {
        seed: cli.seed.unwrap_or_else(random_seed),
        limit: match cli.seconds {
            Some(s) => Limit::Seconds(s),
            None => Limit::Ops(cli.ops.unwrap_or(10_000)),
        },
        fault: cli.fault_inject.then_some(FaultConfig {
            mode: cli.fault_mode,
            probability: cli.fault_probability,
            rate: cli.fault_rate,
        }),
        root: cli.root,
        device: cli.device,
        check_every: cli.check_every,
        soft_max_nodes: cli.max_nodes,
        trace: cli.trace,
    };
    let profile = cli.profile;
    let planned = match cfg.limit {
        Limit::Ops(n) => format!("{n} operations"),
        Limit::Seconds(s) => format!("{s} seconds"),
    };
    println!(
        "fuzz: seed={} ({planned} on {} under {}{})",
        cfg.seed,
        cfg.device,
        cfg.root,
        if cfg.fault.is_some() {
            ", with allocation fault injection"
        } else {
            ""
        }
    );
    let seed = cfg.seed;
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("fuzz: panicked (seed={seed})");
    }));
    let (summary, failure) = fuzzer::run(&cfg);
    match failure {
        None => {
            if profile {
                for (kind, (calls, time)) in &summary.profile {
                    println!(
                        "fuzz: profile {kind:<8} calls={calls:<8} secs={:.2} us/call={:.0}",
                        time.as_secs_f64(),
                        time.as_secs_f64() * 1e6 / (*calls).max(1) as f64
                    );
                }
                let mut line = String::new();
                let mut last = "";
                for ((kind, result), n) in &summary.replies {
                    if *kind != last && !line.is_empty() {
                        println!("fuzz: replies {line}");
                        line.clear();
                    }
                    last = kind;
                    if line.is_empty() {
                        line = format!("{kind:<8}");
                    }
                    line.push_str(&format!(" {result}={n}"));
                }
                if !line.is_empty() {
                    println!("fuzz: replies {line}");
                }
            }
            println!("{}", summary_line(&cfg, &summary));
            ExitCode::SUCCESS
        }
        Some(Failure::Mismatch(report)) => {
            println!("{report}");
            println!("{}", summary_line(&cfg, &summary));
            ExitCode::from(1)
        }
        Some(Failure::Setup(message)) => {
            eprintln!("fuzz: {message}");
            println!("{}", summary_line(&cfg, &summary));
            ExitCode::from(2)
        }
    }
}
