//! The fuzzing loop: generate an operation, issue it to the device, apply it to the model,
//! compare; check the store stats after every change and the whole subtree now and then.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use pathstore::{errno_name, Errno};

use crate::device::{Device, Outcome};
use crate::fault::{FaultMode, Faults};
use crate::gen::{GenConfig, Generator};
use crate::model::{join, parse_path, Limits, Model, ParentView};
use crate::op::{Op, Reply, StatView};

/// How long a run lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// This many operations.
    Ops(u64),
    /// Until this much time has passed.
    Seconds(u64),
}

/// Fault-injection settings of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultConfig {
    /// How failures are chosen.
    pub mode: FaultMode,
    /// Random mode: the percentage of the task's allocations that fail.
    pub probability: u32,
    /// Seeded mode: the percentage of calls armed with failures.
    pub rate: u32,
}

/// Everything a run depends on.
#[derive(Clone, Debug)]
pub struct Config {
    /// The seed: with the same module parameters, the same seed gives the same operations.
    pub seed: u64,
    /// When to stop.
    pub limit: Limit,
    /// Fault injection, if any.
    pub fault: Option<FaultConfig>,
    /// The subtree fuzzed (deleted first); `/` is the whole store.
    pub root: String,
    /// The device node.
    pub device: String,
    /// Compare the whole subtree every this many operations (0: only at the end).
    pub check_every: u64,
    /// Soft limit on the subtree's size.
    pub soft_max_nodes: u64,
    /// Print every operation.
    pub trace: bool,
}

impl Config {
    /// The command line that repeats this run's first `ops` operations.
    pub fn command_line(&self, ops: u64) -> String {
        let mut cmd = format!(
            "pathstore-fuzz --seed {} --ops {ops} --root {} --max-nodes {}",
            self.seed, self.root, self.soft_max_nodes
        );
        if self.device != pathstore::DEFAULT_DEVICE {
            let _ = write!(cmd, " --device {}", self.device);
        }
        if let Some(f) = &self.fault {
            match f.mode {
                FaultMode::Random => {
                    let _ = write!(
                        cmd,
                        " --fault-inject --fault-mode random --fault-probability {}",
                        f.probability
                    );
                }
                FaultMode::Seeded => {
                    let _ = write!(
                        cmd,
                        " --fault-inject --fault-mode seeded --fault-rate {}",
                        f.rate
                    );
                }
            }
        }
        cmd
    }
}

/// Counts of a run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Operations generated and issued.
    pub ops: u64,
    /// Operations that failed with `ENOMEM` under fault injection (and changed nothing).
    pub enomem: u64,
    /// Calls armed with allocation failures (every call in the random mode).
    pub armed: u64,
    /// Mismatches found (the run stops at the first).
    pub mismatches: u64,
    /// Full comparisons of the subtree.
    pub full_checks: u64,
    /// Calls made to check the state (stats, stats and walks), on top of the operations.
    pub check_calls: u64,
    /// Nodes in the subtree at the end.
    pub nodes: u64,
    /// Largest subtree seen.
    pub peak_nodes: u64,
    /// Wall-clock time of the operations and checks.
    pub elapsed: Duration,
    /// Per kind of call (and `check` for the check calls): calls and time spent in them.
    pub profile: BTreeMap<&'static str, (u64, Duration)>,
    /// Replies to the generated calls, by kind of call and outcome (`ok` or the errno's name).
    pub replies: BTreeMap<(&'static str, &'static str), u64>,
}

/// Why a run failed.
#[derive(Debug)]
pub enum Failure {
    /// The device could not be set up or used (not a finding about the module).
    Setup(String),
    /// The device and the model disagree: the report says how.
    Mismatch(String),
}

/// Timestamps seen for one node incarnation.
#[derive(Clone, Copy, Debug)]
struct Times {
    ctime: u64,
    mtime: u64,
    version: u64,
}

/// How many recent operations a mismatch report shows.
const HISTORY: usize = 40;
/// A fault-injected run of at least this many operations must see an injected `ENOMEM`.
const MIN_OPS_FOR_ENOMEM: u64 = 1000;
/// Buffer size for listing children in full checks.
const WALK_LIST_BUF: u32 = 4096;

/// A run in progress.
struct Fuzzer<'c> {
    cfg: &'c Config,
    dev: Device,
    model: Model,
    faults: Option<Faults>,
    times: HashMap<u64, Times>,
    /// The last operations: number, call, reply, and whether the reply was an injected
    /// failure (formatted only for a report).
    history: VecDeque<(u64, Op, Reply, bool)>,
    summary: Summary,
    /// The operation being checked, for reports.
    current: u64,
}

fn setup_err(what: impl std::fmt::Display) -> Failure {
    Failure::Setup(what.to_string())
}

/// Runs the fuzzer as configured: the counts, and the failure that stopped the run, if any.
pub fn run(cfg: &Config) -> (Summary, Option<Failure>) {
    let mut fuzzer = match Fuzzer::setup(cfg) {
        Ok(f) => f,
        Err(e) => return (Summary::default(), Some(e)),
    };
    let start = Instant::now();
    let mut result = fuzzer.run(start);
    fuzzer.summary.elapsed = start.elapsed();
    fuzzer.summary.nodes = fuzzer.model.subtree_nodes();
    if let Some(faults) = &mut fuzzer.faults {
        fuzzer.summary.armed = faults.armed();
        faults.restore();
        // A fault-injected run in which no call failed proves nothing about the error paths:
        // the injection did not reach the module (a filter, a kernel without the attributes).
        let s = &fuzzer.summary;
        if result.is_ok() && s.ops >= MIN_OPS_FOR_ENOMEM && s.enomem == 0 {
            result = Err(setup_err(format_args!(
                "fault injection: {} calls armed, none failed with ENOMEM: the injected \
                 failures did not reach the module",
                s.armed
            )));
        }
    }
    if matches!(result, Err(Failure::Mismatch(_))) {
        fuzzer.summary.mismatches += 1;
    }
    (fuzzer.summary, result.err())
}

impl<'c> Fuzzer<'c> {
    fn setup(cfg: &'c Config) -> Result<Self, Failure> {
        let mut dev = Device::open(&cfg.device, Limits::defaults().max_value_len)
            .map_err(|e| setup_err(format_args!("{e}")))?;
        let stats = match dev.exec(&Op::Stats, None).map_err(setup_err)?.reply {
            Reply::Stats(s) => s,
            other => return Err(setup_err(format_args!("store stats: {other}"))),
        };
        let limits = Limits::from_stats(&stats);
        dev.resize(limits.max_value_len);
        let prefix = parse_path(cfg.root.as_bytes(), &limits).map_err(|e| {
            setup_err(format_args!(
                "--root {}: not a valid path ({})",
                cfg.root,
                crate::op::ErrnoName(e)
            ))
        })?;
        let prefix_path = join(&prefix);
        let store = dev.store();
        let fail = |e: pathstore::Error| setup_err(format_args!("setting up {}: {e}", cfg.root));
        if prefix.is_empty() {
            store.delete_recursive("/").map_err(fail)?;
        } else {
            let parent = join(&prefix[..prefix.len() - 1]);
            if !store.exists(&parent).map_err(fail)? {
                // Create the parents (without values) and nothing else.
                let mut probe = prefix_path.clone();
                probe.extend_from_slice(b"/x");
                store.set(&probe, "").map_err(fail)?;
            }
            match store.delete_recursive(&prefix_path) {
                Err(e) if e.errno() == Errno::NOENT => {}
                r => r.map_err(fail)?,
            }
        }
        let stats = match dev.exec(&Op::Stats, None).map_err(setup_err)?.reply {
            Reply::Stats(s) => s,
            other => return Err(setup_err(format_args!("store stats: {other}"))),
        };
        let stat_of = |dev: &mut Device, path: Vec<u8>| -> Result<StatView, Failure> {
            match dev
                .exec(&Op::Stat { path, flags: 0 }, None)
                .map_err(setup_err)?
                .reply
            {
                Reply::Stat(s) => Ok(s),
                other => Err(setup_err(format_args!("stat: {other}"))),
            }
        };
        let (root, parent) = if prefix.is_empty() {
            (Some(stat_of(&mut dev, b"/".to_vec())?), None)
        } else {
            let s = stat_of(&mut dev, join(&prefix[..prefix.len() - 1]))?;
            (
                None,
                Some(ParentView {
                    other_children: s.num_children,
                    child_version: s.child_version,
                }),
            )
        };
        let model = Model::new(prefix, &stats, root, parent);

        let faults = match &cfg.fault {
            None => None,
            Some(f) => {
                // Fault in and lock every page of the process, so that its own page faults
                // never allocate while failures are armed.
                if let Err(e) = rustix::mm::mlockall(
                    rustix::mm::MlockAllFlags::CURRENT | rustix::mm::MlockAllFlags::FUTURE,
                ) {
                    eprintln!("fuzz: mlockall failed ({e}); continuing without it");
                }
                Some(
                    Faults::setup(f.mode, f.probability, f.rate, cfg.seed)
                        .map_err(|e| setup_err(format_args!("fault injection: {e}")))?,
                )
            }
        };
        Ok(Fuzzer {
            cfg,
            dev,
            model,
            faults,
            times: HashMap::new(),
            history: VecDeque::with_capacity(HISTORY),
            summary: Summary::default(),
            current: 0,
        })
    }

    fn run(&mut self, start: Instant) -> Result<(), Failure> {
        let mut generator = Generator::new(
            self.cfg.seed,
            GenConfig {
                page_sized: self.cfg.fault.is_some(),
                soft_max_nodes: self.cfg.soft_max_nodes,
                max_buf_len: self.dev.max_buf_len(),
            },
        );
        let mut last_progress = Instant::now();
        self.check_tree()?;
        loop {
            let done = match self.cfg.limit {
                Limit::Ops(n) => self.summary.ops >= n,
                Limit::Seconds(s) => start.elapsed() >= Duration::from_secs(s),
            };
            if done {
                break;
            }
            let op = generator.next_op(&self.model);
            self.summary.ops += 1;
            self.current = self.summary.ops;
            self.step(&op)?;
            let nodes = self.model.subtree_nodes();
            self.summary.peak_nodes = self.summary.peak_nodes.max(nodes);
            if self.cfg.check_every > 0 && self.summary.ops % self.cfg.check_every == 0 {
                self.check_tree()?;
            }
            if last_progress.elapsed() >= Duration::from_secs(30) {
                last_progress = Instant::now();
                println!(
                    "fuzz: progress ops={} enomem={} nodes={nodes} secs={}",
                    self.summary.ops,
                    self.summary.enomem,
                    start.elapsed().as_secs()
                );
            }
        }
        self.check_tree()?;
        let (nodes, bytes) = self.model.counts();
        if self.model.recount() != (nodes, bytes) {
            return Err(self.mismatch(
                "the model's own counts drifted (a fuzzer bug)",
                &Op::Stats,
                None,
                None,
            ));
        }
        Ok(())
    }

    /// Issues one generated operation and checks it.
    fn step(&mut self, op: &Op) -> Result<(), Failure> {
        let t = Instant::now();
        let outcome = self.dev.exec(op, self.faults.as_mut()).map_err(setup_err)?;
        let p = self.summary.profile.entry(op.kind()).or_default();
        p.0 += 1;
        p.1 += t.elapsed();
        // Only a call armed with failures may fail with ENOMEM (a call that met an injected
        // failure may also succeed: `kvmalloc` retries once, kmemleak has a reserve pool).
        if outcome.reply == Reply::Err(Errno::NOMEM) && outcome.armed {
            self.summary.enomem += 1;
            *self
                .summary
                .replies
                .entry((op.kind(), "ENOMEM(injected)"))
                .or_default() += 1;
            self.remember(op, &outcome.reply, true);
            if self.cfg.trace {
                println!("#{} {op} -> ENOMEM (injected)", self.current);
            }
            return self.verify_unchanged(op);
        }
        let want = self.model.apply(op);
        let result = match &outcome.reply {
            Reply::Err(e) => errno_name(*e).unwrap_or("other errno"),
            Reply::GetRange { .. } | Reply::ListRange { .. } => "ERANGE",
            Reply::List { more: true, .. } => "ok(more)",
            Reply::Malformed(_) => "malformed",
            _ => "ok",
        };
        *self.summary.replies.entry((op.kind(), result)).or_default() += 1;
        self.remember(op, &outcome.reply, false);
        if self.cfg.trace {
            println!("#{} {op} -> {}", self.current, outcome.reply);
        }
        if outcome.reply != want {
            return Err(self.mismatch("reply differs", op, Some(&outcome), Some(&want)));
        }
        self.check_times(op, &outcome)?;
        for id in self.model.take_removed() {
            self.times.remove(&id);
        }
        if op.mutates() {
            self.check_stats()?;
        }
        Ok(())
    }

    fn remember(&mut self, op: &Op, reply: &Reply, injected: bool) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history
            .push_back((self.current, op.clone(), reply.clone(), injected));
    }

    /// Builds the report of a mismatch.
    fn mismatch(
        &self,
        what: &str,
        op: &Op,
        device: Option<&Outcome>,
        model: Option<&Reply>,
    ) -> Failure {
        let mut r = String::new();
        let _ = writeln!(
            r,
            "fuzz: MISMATCH at operation #{} (seed={}): {what}",
            self.current, self.cfg.seed
        );
        let _ = writeln!(r, "  call:   {op}");
        if let Some(d) = device {
            let _ = writeln!(r, "  device: {}", d.reply);
            if d.armed {
                let _ = writeln!(r, "  (allocation failures were armed for this call)");
            }
        }
        if let Some(m) = model {
            let _ = writeln!(r, "  model:  {m}");
        }
        let _ = writeln!(r, "fuzz: the last operations (newest last):");
        for (i, op, reply, injected) in &self.history {
            let note = if *injected { " (injected)" } else { "" };
            let _ = writeln!(r, "  #{i} {op} -> {reply}{note}");
        }
        let s = self.model.stats();
        let _ = writeln!(
            r,
            "fuzz: module parameters: max_value_len={} max_path_len={} max_depth={} \
             max_nodes={} max_bytes={}",
            s.max_value_len, s.max_path_len, s.max_depth, s.max_nodes, s.max_bytes
        );
        let _ = write!(
            r,
            "fuzz: reproduce (same module parameters; --trace prints every operation): {}",
            self.cfg.command_line(self.current)
        );
        if matches!(
            self.cfg.fault,
            Some(FaultConfig {
                mode: FaultMode::Random,
                ..
            })
        ) {
            let _ = write!(
                r,
                "\nfuzz: (random faults are the kernel's choice and differ between runs; \
                 --fault-mode seeded makes them follow the seed)"
            );
        }
        Failure::Mismatch(r)
    }

    /// Issues a check call (never armed) and compares it with the model.
    fn expect(&mut self, op: &Op, what: &str) -> Result<Outcome, Failure> {
        self.summary.check_calls += 1;
        let t = Instant::now();
        let outcome = self.dev.exec(op, None).map_err(setup_err)?;
        let p = self.summary.profile.entry("check").or_default();
        p.0 += 1;
        p.1 += t.elapsed();
        let want = self.model.query(op);
        if outcome.reply != want {
            return Err(self.mismatch(what, op, Some(&outcome), Some(&want)));
        }
        self.check_times(op, &outcome)?;
        Ok(outcome)
    }

    fn check_stats(&mut self) -> Result<(), Failure> {
        self.expect(&Op::Stats, "store stats differ").map(drop)
    }

    /// A node's timestamps: `ctime` never changes, `mtime` only with the version, and a node
    /// never set since its creation has `mtime == ctime`.
    fn check_times(&mut self, op: &Op, outcome: &Outcome) -> Result<(), Failure> {
        let (Some((ctime, mtime)), Some(path)) = (outcome.times, op.path()) else {
            return Ok(());
        };
        let Ok(rel) = self.model.resolve(path) else {
            return Ok(());
        };
        let Some(node) = self.model.node(&rel) else {
            return Ok(());
        };
        let (id, version, created) = (node.id, node.version, node.created);
        let problem = match self.times.get(&id) {
            _ if version == created && mtime != ctime => Some(format!(
                "mtime {mtime} != ctime {ctime} of a node never set since created"
            )),
            Some(t) if t.ctime != ctime => {
                Some(format!("ctime changed from {} to {ctime}", t.ctime))
            }
            Some(t) if t.version == version && t.mtime != mtime => Some(format!(
                "mtime changed from {} to {mtime} without a new version ({version})",
                t.mtime
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(self.mismatch(&problem, op, Some(outcome), None));
        }
        self.times.insert(
            id,
            Times {
                ctime,
                mtime,
                version,
            },
        );
        Ok(())
    }

    fn full_path(&self, rel: &[Vec<u8>]) -> Vec<u8> {
        let mut components = self.model.prefix().to_vec();
        components.extend(rel.iter().cloned());
        join(&components)
    }

    /// The prefix's parent: its child count and `child_version` follow the prefix node.
    fn check_parent(&mut self) -> Result<(), Failure> {
        let Some(ParentView {
            other_children,
            child_version,
        }) = self.model.parent()
        else {
            return Ok(());
        };
        let prefix = self.model.prefix();
        let op = Op::Stat {
            path: join(&prefix[..prefix.len() - 1]),
            flags: 0,
        };
        self.summary.check_calls += 1;
        let outcome = self.dev.exec(&op, None).map_err(setup_err)?;
        let children = other_children + u64::from(self.model.root().is_some());
        match outcome.reply {
            Reply::Stat(s) if s.num_children == children && s.child_version == child_version => {
                Ok(())
            }
            _ => Err(self.mismatch(
                &format!(
                    "the prefix's parent should have {children} children and child_version \
                     {child_version}"
                ),
                &op,
                Some(&outcome),
                None,
            )),
        }
    }

    /// After an `ENOMEM`: the store must be exactly as before. Checks the stats, the node the
    /// call named and each of its ancestors in the subtree, and the prefix's parent.
    fn verify_unchanged(&mut self, op: &Op) -> Result<(), Failure> {
        self.check_stats()?;
        self.check_parent()?;
        let Some(path) = op.path() else {
            return Ok(());
        };
        let Ok(rel) = self.model.resolve(path) else {
            return Ok(());
        };
        for depth in 0..=rel.len() {
            let stat = Op::Stat {
                path: self.full_path(&rel[..depth]),
                flags: 0,
            };
            let outcome = self.expect(&stat, "a call that failed with ENOMEM changed the store")?;
            if outcome.reply == Reply::Err(Errno::NOENT) {
                break;
            }
        }
        Ok(())
    }

    /// Compares the whole subtree: every node's metadata, value and children, page by page.
    fn check_tree(&mut self) -> Result<(), Failure> {
        self.summary.full_checks += 1;
        self.check_stats()?;
        self.check_parent()?;
        let max_get = self
            .model
            .limits()
            .max_value_len
            .min(self.dev.max_buf_len());
        let mut stack: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
        while let Some(rel) = stack.pop() {
            let path = self.full_path(&rel);
            let stat = Op::Stat {
                path: path.clone(),
                flags: 0,
            };
            let outcome = self.expect(&stat, "full check: stat differs")?;
            if outcome.reply == Reply::Err(Errno::NOENT) {
                continue;
            }
            let get = Op::Get {
                path: path.clone(),
                buf_len: max_get,
                flags: 0,
            };
            self.expect(&get, "full check: value differs")?;
            let mut after = Vec::new();
            loop {
                let list = Op::List {
                    path: path.clone(),
                    after: after.clone(),
                    buf_len: WALK_LIST_BUF,
                    flags: 0,
                };
                match self.expect(&list, "full check: children differ")?.reply {
                    Reply::List { names, more: true } if !names.is_empty() => {
                        after = names[names.len() - 1].clone();
                    }
                    _ => break,
                }
            }
            if let Some(node) = self.model.node(&rel) {
                for name in node.children.keys().rev() {
                    let mut child = rel.clone();
                    child.push(name.clone());
                    stack.push(child);
                }
            }
        }
        Ok(())
    }
}
