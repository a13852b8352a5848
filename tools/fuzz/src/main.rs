//! `pathstore-fuzz`: see the library's documentation, or `pathstore-fuzz --help`.

use std::process::ExitCode;

use clap::Parser;

use pathstore_fuzz::abi_fuzz::{self, AbiConfig};
use pathstore_fuzz::failnth::{self, FailNthConfig};
use pathstore_fuzz::fault::FaultMode;
use pathstore_fuzz::fuzzer::{self, Config, Failure, FaultConfig, Limit, Summary};
use pathstore_fuzz::linear::{self, LinConfig};

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// The whole ABI against the model: every ioctl and text command, several users and files,
    /// watches checked against the change log. Empties the whole store first.
    Abi,
    /// The first fuzzer: set, create, get, delete, list, stat and stats as root in --root.
    Classic,
    /// Threads racing on a few keys; each round's history is checked for linearizability.
    Linearize,
    /// Systematic fault injection: fail the 1st, 2nd, ... allocation of one call of each kind.
    FailNth,
}

/// Seeded random-operation fuzzer of pathstore: drives /dev/pathstore and a model of the store
/// side by side and compares every result and the final state.
///
/// Prints the seed at the start (a random one without --seed) and, on a mismatch, a report and
/// the command that repeats the run; exits 1 on a mismatch and 2 when it cannot run. The last
/// line is `fuzz: seed=S ops=N enomem=M mismatches=K ...` (`fail-nth: ...` and
/// `linearize: ...` in those modes).
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// What to run.
    #[arg(long, value_enum, default_value = "abi")]
    mode: Mode,
    /// abi: the users to open files as, comma-separated (default: 0,1000,1001 when the device
    /// lets others open it, else 0).
    #[arg(long, value_delimiter = ',')]
    uids: Vec<u32>,
    /// abi: kinds of operations never to generate, comma-separated (the names of the
    /// `--profile` table: set, set-seq, t-seq, txn, ...).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// abi: the module's watch_events (default: from /sys/module/pathstore/parameters, else
    /// 4096).
    #[arg(long)]
    watch_events: Option<u64>,
    /// abi: the module's watch_bytes (default: from /sys/module/pathstore/parameters, else
    /// 1048576).
    #[arg(long)]
    watch_bytes: Option<u64>,
    /// linearize: threads.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=8))]
    threads: u32,
    /// linearize: keys.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    keys: u32,
    /// linearize: operations per thread per round (threads x this is at most 32, so that a
    /// key's history stays within what the checker handles fast).
    #[arg(long, default_value_t = 10)]
    round_ops: u32,
    /// fail-nth: include the operations whose allocations exceed a page (a failed vmalloc
    /// warns unless the module passes __GFP_NOWARN).
    #[arg(long)]
    large: bool,
    /// fail-nth: only the operations whose names contain this.
    #[arg(long)]
    only: Option<String>,
    /// fail-nth: most points failed per operation.
    #[arg(long, default_value_t = 400)]
    max_sites: u32,
    /// Seed of the operations (default: random). The same seed gives the same operations.
    #[arg(long)]
    seed: Option<u64>,
    /// Number of operations [default: 10000] (linearize: rounds [default: 300]).
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
    /// classic: the subtree to fuzz; it is deleted first. `/` fuzzes the whole store (and wipes
    /// it).
    #[arg(long, default_value = "/fuzz")]
    root: String,
    /// The device node.
    #[arg(long, default_value = pathstore::DEFAULT_DEVICE)]
    device: String,
    /// Compare the whole subtree with the model every N operations (0: only at the start and
    /// the end) [default: 10000; abi: 2000].
    #[arg(long)]
    check_every: Option<u64>,
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
    let seed = cli.seed.unwrap_or_else(random_seed);
    if cli.seed.is_none() {
        // The random-seed segment: the seed first, so that any failure can be replayed.
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        args.insert(0, format!("--seed {seed}"));
        println!(
            "fuzz: random seed {seed}; replay: pathstore-fuzz {}",
            args.join(" ")
        );
    }
    let limit = match cli.seconds {
        Some(s) => Limit::Seconds(s),
        None => Limit::Ops(cli.ops.unwrap_or(match cli.mode {
            Mode::Linearize => 300,
            _ => 10_000,
        })),
    };
    let fault = cli.fault_inject.then_some(FaultConfig {
        mode: cli.fault_mode,
        probability: cli.fault_probability,
        rate: cli.fault_rate,
    });
    match cli.mode {
        Mode::Classic => {}
        Mode::Abi => return run_abi(&cli, seed, limit, fault),
        Mode::Linearize => return run_linearize(&cli, seed, limit),
        Mode::FailNth => return run_fail_nth(&cli),
    }
    let cfg = Config {
        seed,
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
        check_every: cli.check_every.unwrap_or(10_000),
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

fn exit_for(failure: Option<Failure>) -> ExitCode {
    match failure {
        None => ExitCode::SUCCESS,
        Some(Failure::Mismatch(report)) => {
            println!("{report}");
            ExitCode::from(1)
        }
        Some(Failure::Setup(message)) => {
            eprintln!("fuzz: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_abi(cli: &Cli, seed: u64, limit: Limit, fault: Option<FaultConfig>) -> ExitCode {
    let cfg = AbiConfig {
        seed,
        limit,
        fault,
        device: cli.device.clone(),
        uids: cli.uids.clone(),
        watch_events: cli.watch_events,
        watch_bytes: cli.watch_bytes,
        check_every: cli.check_every.unwrap_or(2000),
        soft_max_nodes: cli.max_nodes,
        trace: cli.trace,
        exclude: cli.exclude.clone(),
    };
    println!(
        "fuzz: seed={seed} (whole ABI, {} on {}{})",
        match limit {
            Limit::Ops(n) => format!("{n} operations"),
            Limit::Seconds(s) => format!("{s} seconds"),
        },
        cfg.device,
        if fault.is_some() {
            ", with allocation fault injection"
        } else {
            ""
        }
    );
    let (s, result) = abi_fuzz::run(&cfg);
    if cli.profile {
        for ((kind, result), n) in &s.replies {
            println!("fuzz: replies {kind:<12} {result}={n}");
        }
    }
    let failure = result.err();
    let secs = s.elapsed.as_secs_f64();
    let uids: Vec<String> = s.uids.iter().map(u32::to_string).collect();
    let mode = match &fault {
        None => "abi".to_string(),
        Some(f) => match f.mode {
            FaultMode::Random => format!("abi+random-faults({}%)", f.probability),
            FaultMode::Seeded => format!("abi+seeded-faults({}% of calls)", f.rate),
        },
    };
    let code = exit_for(failure);
    println!(
        "fuzz: seed={seed} ops={} enomem={} mismatches={} mode={mode} secs={secs:.1} \
         ops_per_sec={:.0} checks={} watched_events={} uids={} peak_nodes={} \
         user_watched_events={} user_watch_hidden={} user_watch_denied={} ancestor_denied={} subtree_hidden={} subtree_owner_shown={}",
        s.ops,
        s.enomem,
        u32::from(code != ExitCode::SUCCESS),
        s.ops as f64 / secs.max(1e-9),
        s.full_checks,
        s.watched,
        uids.join(","),
        s.peak_nodes,
        s.user_watched,
        s.user_watch_hidden,
        s.user_watch_denied,
        s.rules.0,
        s.rules.1,
        s.rules.2
    );
    code
}

fn run_linearize(cli: &Cli, seed: u64, limit: Limit) -> ExitCode {
    if cli.threads * cli.round_ops > 32 {
        eprintln!("fuzz: --threads x --round-ops must be at most 32");
        return ExitCode::from(2);
    }
    let cfg = LinConfig {
        seed,
        threads: cli.threads as usize,
        keys: cli.keys as usize,
        ops_per_round: cli.round_ops as usize,
        limit,
        device: cli.device.clone(),
    };
    println!(
        "linearize: seed={seed} threads={} keys={} ops per thread per round={}",
        cfg.threads, cfg.keys, cfg.ops_per_round
    );
    let (s, result) = linear::run(&cfg);
    let code = exit_for(result.err());
    println!(
        "linearize: seed={seed} rounds={} calls={} overlapping={} secs={:.1} ok={}",
        s.rounds,
        s.calls,
        s.overlapping,
        s.elapsed.as_secs_f64(),
        code == ExitCode::SUCCESS
    );
    code
}

fn run_fail_nth(cli: &Cli) -> ExitCode {
    let cfg = FailNthConfig {
        device: cli.device.clone(),
        large: cli.large,
        only: cli.only.clone(),
        max_sites: cli.max_sites,
    };
    let (results, result) = failnth::run(&cfg);
    let code = exit_for(result.err());
    let sites: u32 = results.iter().map(|r| r.sites).sum();
    println!(
        "fail-nth: operations={} sites={sites} ok={}",
        results.len(),
        code == ExitCode::SUCCESS
    );
    if code == ExitCode::SUCCESS && results.is_empty() {
        eprintln!("fuzz: fail-nth: no operation matched");
        return ExitCode::from(2);
    }
    code
}
