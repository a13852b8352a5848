//! The whole-ABI fuzzing loop: generate an operation, issue it on one of several files opened as
//! several users, apply it to [`AbiModel`], compare; compare the store stats after every change,
//! the whole store now and then and at the end; and, from watcher threads that follow the
//! change log with blocking watches the whole time, check that every change a watcher received
//! is the one the model logged (none missing, none invented, in order).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pathstore::{abi, errno_name, Errno, Pathstore};

use crate::abi_dev::{full_stat, open_as, Files, Injector};
use crate::abi_gen::{AbiGenConfig, AbiGenerator};
use crate::abi_model::{AbiLimits, AbiModel, Caller};
use crate::abi_op::{AOp, AReply, FileId, FullStats, StatsParams};
use crate::fault::{FaultMode, Faults};
use crate::fuzzer::{FaultConfig, Limit};
use crate::model::{join, parse_path, Limits};
use crate::op::Bytes;

/// Everything a whole-ABI run depends on.
#[derive(Clone, Debug)]
pub struct AbiConfig {
    /// The seed.
    pub seed: u64,
    /// When to stop.
    pub limit: Limit,
    /// Fault injection, if any.
    pub fault: Option<FaultConfig>,
    /// The device node.
    pub device: String,
    /// Users to open files as (empty: root, and 1000 and 1001 if the device lets them open it).
    pub uids: Vec<u32>,
    /// `watch_events` of the module (`None`: read from sysfs, else the default 4096).
    pub watch_events: Option<u64>,
    /// `watch_bytes` of the module (`None`: read from sysfs, else the default 1048576).
    pub watch_bytes: Option<u64>,
    /// Compare the whole store every this many operations (0: only at the end).
    pub check_every: u64,
    /// Soft limit on the store's size.
    pub soft_max_nodes: u64,
    /// Print every operation.
    pub trace: bool,
    /// Kinds of operations never generated.
    pub exclude: Vec<String>,
}

impl AbiConfig {
    /// The command line that repeats this run's first `ops` operations.
    pub fn command_line(&self, ops: u64, uids: &[u32], watch: (u64, u64)) -> String {
        let uids: Vec<String> = uids.iter().map(u32::to_string).collect();
        let (watch_events, watch_bytes) = watch;
        let mut cmd = format!(
            "pathstore-fuzz --mode abi --seed {} --ops {ops} --uids {} --watch-events \
             {watch_events} --watch-bytes {watch_bytes} --max-nodes {}",
            self.seed,
            uids.join(","),
            self.soft_max_nodes
        );
        if self.device != pathstore::DEFAULT_DEVICE {
            let _ = write!(cmd, " --device {}", self.device);
        }
        if !self.exclude.is_empty() {
            let _ = write!(cmd, " --exclude {}", self.exclude.join(","));
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
pub struct AbiSummary {
    /// Operations issued.
    pub ops: u64,
    /// Calls that failed with an injected `ENOMEM` (and changed nothing).
    pub enomem: u64,
    /// Full comparisons of the store.
    pub full_checks: u64,
    /// Events the watcher threads received and checked.
    pub watched: u64,
    /// Of those, events the watcher of a user other than root received.
    pub user_watched: u64,
    /// Changes below private nodes that the user's watcher was (rightly) not told of.
    pub user_watch_hidden: u64,
    /// Whether the user's watcher stopped at an `EACCES` (the root made private).
    pub user_watch_denied: u64,
    /// Predictions made through the rules of reading (private ancestors, subtree watches).
    pub rules: (u64, u64, u64),
    /// Users that files were opened as.
    pub uids: Vec<u32>,
    /// Largest store seen (nodes).
    pub peak_nodes: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Replies by kind of call and outcome.
    pub replies: BTreeMap<(&'static str, String), u64>,
}

/// The watchers: (path, subtree).
const WATCHERS: &[(&[u8], bool)] = &[
    (b"/", true),
    (b"/a", false),
    (b"/b", true),
    (b"/a/b", false),
];
/// A user other than root whose subtree watch of `/` also follows the run (when it may open
/// the device): it is told only of the changes below private nodes that it could read.
const USER_WATCHER: u32 = 1000;
/// How many recent operations a report shows.
const HISTORY: usize = 40;

/// One watcher thread's record: what it received, in order.
#[derive(Debug)]
enum Seen {
    Event {
        kind: u32,
        version: u64,
        path: Vec<u8>,
    },
    Lost {
        current: u64,
    },
    /// `EACCES`: the watcher may no longer read what it watches (the root made private); it
    /// stops.
    Denied,
}

struct Watcher {
    path: &'static [u8],
    subtree: bool,
    caller: Caller,
    thread: std::thread::JoinHandle<Result<Vec<Seen>, String>>,
}

fn spawn_watcher(
    device: &str,
    (path, subtree): (&'static [u8], bool),
    uid: u32,
    after: u64,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Watcher> {
    let store = open_as(device, uid)?;
    let thread = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut after = after;
        let mut buf = vec![0u8; 70_000];
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            let mut a = abi::WatchArgs {
                path: pathstore::user_addr(path),
                path_len: path.len() as u32,
                buf: pathstore::user_addr_mut(&mut buf),
                buf_len: buf.len() as u32,
                after,
                timeout_ms: 100,
                flags: if subtree { abi::WATCH_SUBTREE } else { 0 },
                ..Default::default()
            };
            // SAFETY: `a` is a `WatchArgs` whose path and buffer live for the call.
            let r = unsafe { store.ioctl_raw(abi::IOC_WATCH, (&raw mut a).cast()) };
            match r {
                Ok(_) if a.event == abi::EVENT_LOST => {
                    seen.push(Seen::Lost { current: a.version });
                    after = a.version;
                }
                Ok(_) => {
                    seen.push(Seen::Event {
                        kind: a.event,
                        version: a.version,
                        path: buf[..a.changed_len as usize].to_vec(),
                    });
                    after = a.version;
                }
                // Nothing new since the fuzzer stopped: the watcher has seen everything.
                Err(Errno::TIMEDOUT) if stopping => return Ok(seen),
                Err(Errno::TIMEDOUT) => {}
                Err(Errno::ACCESS) if uid != 0 => {
                    seen.push(Seen::Denied);
                    return Ok(seen);
                }
                Err(e) => return Err(format!("watch failed with {e:?}")),
            }
        }
    });
    Ok(Watcher {
        caller: Caller {
            uid,
            admin: uid == 0,
        },
        path,
        subtree,
        thread,
    })
}

/// A run in progress.
struct Run<'c> {
    cfg: &'c AbiConfig,
    files: Files,
    /// A root file outside the model, for checks.
    checker: Pathstore,
    model: AbiModel,
    faults: Option<Faults>,
    uids: Vec<u32>,
    history: std::collections::VecDeque<(u64, String, String)>,
    summary: AbiSummary,
    current: u64,
    /// The module's `watch_events` and `watch_bytes`.
    watch: (u64, u64),
}

/// Empties the store and gives the root its initial mode back (`MODE_ROOT`, which a fuzzed set
/// with `SET_MODE` may have changed), leaving it without a value.
pub fn reset_root(store: &Pathstore) -> pathstore::Result<()> {
    store.delete_recursive("/")?;
    store.set_with(
        b"/",
        b"",
        abi::SetArgs {
            flags: abi::SET_MODE,
            mode: abi::MODE_ROOT,
            ..Default::default()
        },
    )?;
    store.delete("/")
}

/// A parameter of the module (`watch_events`, `watch_bytes`): from sysfs when the module
/// exposes it, else from the line the module logs when it loads (the last one in the kernel
/// log).
fn module_param(name: &str) -> Option<u64> {
    sysfs_param(name).or_else(|| logged_param(name))
}

/// `name=N` from the last load line of the module in `/dev/kmsg` (read without blocking).
fn logged_param(name: &str) -> Option<u64> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut kmsg = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open("/dev/kmsg")
        .ok()?;
    let mut buf = vec![0u8; 8192];
    let mut last = None;
    loop {
        match kmsg.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let record = String::from_utf8_lossy(&buf[..n]);
                let text = record.split_once(';').map_or(&*record, |(_, t)| t);
                if text.contains("(ABI ") && text.contains(" watch_bytes=") {
                    last = Some(text.trim_end().to_string());
                }
            }
            // EPIPE: records were overwritten; keep reading.
            Err(e) if e.raw_os_error() == Some(Errno::PIPE.raw_os_error()) => continue,
            Err(_) => break,
        }
    }
    let key = format!("{name}=");
    last?
        .split(' ')
        .find_map(|w| w.strip_prefix(&key))?
        .parse()
        .ok()
}

/// A parameter of the module from sysfs.
fn sysfs_param(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/sys/module/pathstore/parameters/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Runs the whole-ABI fuzzer: the counts, and the report of the failure that stopped it.
pub fn run(cfg: &AbiConfig) -> (AbiSummary, Result<(), crate::fuzzer::Failure>) {
    use crate::fuzzer::Failure;
    let mut r = match Run::setup(cfg) {
        Ok(r) => r,
        Err(e) => return (AbiSummary::default(), Err(Failure::Setup(e))),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut watchers = Vec::new();
    let mut specs: Vec<((&[u8], bool), u32)> = WATCHERS.iter().map(|&w| (w, 0)).collect();
    if r.uids.contains(&USER_WATCHER) {
        specs.push(((b"/", true), USER_WATCHER));
    }
    for (spec, uid) in specs {
        match spawn_watcher(&cfg.device, spec, uid, r.model.sequence(), stop.clone()) {
            Ok(w) => watchers.push(w),
            Err(e) => {
                return (
                    AbiSummary::default(),
                    Err(Failure::Setup(format!("watcher: {e}"))),
                )
            }
        }
    }
    let start = Instant::now();
    let mut result = r.run(start);
    stop.store(true, Ordering::SeqCst);
    for w in watchers {
        let seen = match w.thread.join() {
            Ok(Ok(seen)) => seen,
            Ok(Err(e)) => {
                result = result.and(Err(Failure::Mismatch(format!(
                    "fuzz: watcher of {}: {e}",
                    Bytes(w.path)
                ))));
                continue;
            }
            Err(_) => {
                result = result.and(Err(Failure::Setup("a watcher panicked".into())));
                continue;
            }
        };
        if result.is_ok() {
            result = r.check_watcher((w.path, w.subtree, w.caller), &seen);
        }
    }
    r.summary.elapsed = start.elapsed();
    // Leave an empty store with the root as it was.
    if let Err(e) = reset_root(&r.checker) {
        result = result.and(Err(Failure::Setup(format!("emptying the store: {e}"))));
    }
    if let Some(f) = &mut r.faults {
        f.restore();
        if result.is_ok() && r.summary.ops >= 1000 && r.summary.enomem == 0 {
            result = Err(Failure::Setup(
                "fault injection: no call failed with ENOMEM: the injected failures did not \
                 reach the module"
                    .into(),
            ));
        }
    }
    r.summary.uids = r.uids.clone();
    let rules = &r.model.rules;
    r.summary.rules = (
        rules.ancestor_denied.get(),
        rules.watch_hidden.get(),
        rules.watch_owner_shown.get(),
    );
    (r.summary, result)
}

impl<'c> Run<'c> {
    fn setup(cfg: &'c AbiConfig) -> Result<Self, String> {
        let checker = Pathstore::open_path(&cfg.device).map_err(|e| format!("{e}"))?;
        let uids = if cfg.uids.is_empty() {
            match open_as(&cfg.device, 1000) {
                Ok(_) => vec![0, 1000, 1001],
                Err(e) => {
                    println!(
                        "fuzz: as root only: uid 1000 cannot open {} ({e}; load the module \
                         with dev_mode=0666 for several users)",
                        cfg.device
                    );
                    vec![0]
                }
            }
        } else {
            for &uid in &cfg.uids {
                open_as(&cfg.device, uid)
                    .map_err(|e| format!("--uids: uid {uid} cannot open {}: {e}", cfg.device))?;
            }
            cfg.uids.clone()
        };
        let fail = |e: pathstore::Error| format!("emptying the store: {e}");
        reset_root(&checker).map_err(fail)?;
        // Learn the root's sequential counter (it survives emptying the store).
        let calib = checker
            .set_with(
                b"/fuzz-calibration-",
                b"",
                abi::SetArgs {
                    flags: abi::SET_SEQUENTIAL,
                    ..Default::default()
                },
            )
            .map_err(fail)?;
        reset_root(&checker).map_err(fail)?;
        let watch_events = cfg
            .watch_events
            .or_else(|| module_param("watch_events"))
            .unwrap_or(4096);
        let watch_bytes = cfg
            .watch_bytes
            .or_else(|| module_param("watch_bytes"))
            .unwrap_or(1 << 20);
        // Fill the change log with changes of `/` (deleting the empty root's missing value),
        // so that what it holds, and forgets past `watch_bytes`, is known.
        for _ in 0..watch_events.min(1 << 20) {
            checker.delete("/").map_err(fail)?;
        }
        let root_seq_next =
            u32::try_from(calib.sequence + 1).map_err(|_| "root counter".to_string())?;
        let s = checker.store_stats().map_err(fail)?;
        let root = checker.stat("/").map_err(fail)?;
        if s.nodes != 1 || s.bytes != 0 {
            return Err(format!(
                "the store is not empty after deleting /: {} nodes (an open file's ephemeral \
                 node cannot be, so another user's node that root could not delete?)",
                s.nodes
            ));
        }
        let limits = AbiLimits {
            store: Limits {
                max_value_len: s.max_value_len,
                max_path_len: s.max_path_len,
                max_depth: s.max_depth,
                max_nodes: s.max_nodes,
                max_bytes: s.max_bytes,
            },
            uid_max_nodes: s.uid_max_nodes,
            uid_max_bytes: s.uid_max_bytes,
            watch_events,
            watch_bytes,
            params: StatsParams::of(&s),
        };
        let mut model = AbiModel::new(
            limits,
            s.sequence,
            root.version,
            root.child_version,
            root_seq_next,
        );
        model.prime_log();
        let buf = (s.max_value_len as usize).max(70_000);
        let faults = match &cfg.fault {
            None => None,
            Some(f) => {
                if let Err(e) = rustix::mm::mlockall(
                    rustix::mm::MlockAllFlags::CURRENT | rustix::mm::MlockAllFlags::FUTURE,
                ) {
                    eprintln!("fuzz: mlockall failed ({e}); continuing without it");
                }
                Some(
                    Faults::setup(f.mode, f.probability, f.rate, cfg.seed)
                        .map_err(|e| format!("fault injection: {e}"))?,
                )
            }
        };
        let mut run = Run {
            cfg,
            files: Files::new(&cfg.device, buf),
            checker,
            model,
            faults,
            uids,
            history: Default::default(),
            summary: AbiSummary::default(),
            current: 0,
            watch: (watch_events, watch_bytes),
        };
        for (i, &uid) in run.uids.clone().iter().enumerate() {
            run.open(i, uid)
                .map_err(|e| format!("opening as {uid}: {e}"))?;
        }
        Ok(run)
    }

    fn open(&mut self, file: FileId, uid: u32) -> std::io::Result<()> {
        let session = self.files.open(file, uid)?;
        self.model.open(
            file,
            Caller {
                uid,
                admin: uid == 0,
            },
            session,
        );
        Ok(())
    }

    fn usable(&self) -> Vec<FileId> {
        self.model
            .files()
            .iter()
            .filter(|(_, f)| !f.held)
            .map(|(&id, _)| id)
            .collect()
    }

    fn run(&mut self, start: Instant) -> Result<(), crate::fuzzer::Failure> {
        let mut gen = AbiGenerator::new(
            self.cfg.seed,
            AbiGenConfig {
                // The module allocates buffers sized by users with __GFP_NOWARN: values,
                // buffers and listings of any size are fine under injection.
                page_sized: false,
                uids: self.uids.clone(),
                max_files: 6,
                soft_max_nodes: self.cfg.soft_max_nodes,
                hand_off: true,
                exclude: self.cfg.exclude.clone(),
            },
            self.uids.len(),
        );
        let mut last_progress = Instant::now();
        self.check_all()?;
        loop {
            let done = match self.cfg.limit {
                Limit::Ops(n) => self.summary.ops >= n,
                Limit::Seconds(s) => start.elapsed() >= Duration::from_secs(s),
            };
            if done {
                break;
            }
            let usable = self.usable();
            let op = gen.next_op(&self.model, &usable, self.model.files().len());
            self.summary.ops += 1;
            self.current = self.summary.ops;
            self.step(&op)?;
            self.summary.peak_nodes = self.summary.peak_nodes.max(self.model.nodes());
            if self.cfg.check_every > 0 && self.summary.ops % self.cfg.check_every == 0 {
                self.check_all()?;
            }
            if last_progress.elapsed() >= Duration::from_secs(30) {
                last_progress = Instant::now();
                println!(
                    "fuzz: progress ops={} enomem={} nodes={} files={} secs={}",
                    self.summary.ops,
                    self.summary.enomem,
                    self.model.nodes(),
                    self.model.files().len(),
                    start.elapsed().as_secs()
                );
            }
        }
        self.check_all()?;
        // Close every file: their ephemeral nodes go, as the model predicts.
        let open: Vec<FileId> = self.model.files().keys().copied().collect();
        for file in open {
            self.current += 1;
            self.step(&AOp::Close { file })?;
        }
        self.check_all()?;
        self.model
            .self_check()
            .map_err(|e| self.mismatch(&e, &AOp::Stats { file: 0 }, None, None))
    }

    fn step(&mut self, op: &AOp) -> Result<(), crate::fuzzer::Failure> {
        // An ephemeral set that prunes the file's list of ephemeral paths is not armed: an
        // allocation failure before the pruning or after it would leave the list (the order of
        // removal at release) in one of two states.
        let prunes = match op {
            AOp::Set { file, flags, .. } if flags & abi::SET_EPHEMERAL != 0 => {
                self.model.files().contains_key(file) && self.model.prunes(*file)
            }
            AOp::Text { file, command } if command.starts_with(b"ephemeral ") => {
                self.model.files().contains_key(file) && self.model.prunes(*file)
            }
            _ => false,
        };
        let inj: Option<&mut dyn Injector> = match self.faults.as_mut() {
            Some(f) if !prunes => Some(f),
            _ => None,
        };
        let got = match op {
            AOp::Open { file, uid } => match self.open(*file, *uid) {
                Ok(()) => AReply::Opened,
                Err(e) => AReply::Err(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
            },
            _ => self
                .files
                .exec(op, inj)
                .map_err(|e| crate::fuzzer::Failure::Setup(format!("{op}: {e}")))?,
        };
        let armed = self.faults.is_some()
            && !prunes
            && !matches!(
                op,
                AOp::Open { .. } | AOp::Close { .. } | AOp::HandOff { .. } | AOp::Read { .. }
            );
        let result = match &got {
            AReply::Err(e) | AReply::TxnErr { errno: e, .. } => {
                errno_name(*e).unwrap_or("errno").to_string()
            }
            AReply::Stale { .. } => "ESTALE".into(),
            AReply::GetRange { .. } | AReply::ListRange { .. } | AReply::WatchRange { .. } => {
                "ERANGE".into()
            }
            AReply::Watch { event, .. } if *event == abi::EVENT_LOST => "lost".into(),
            _ => "ok".into(),
        };
        let injected = armed
            && matches!(
                got,
                AReply::Err(Errno::NOMEM)
                    | AReply::TxnErr {
                        errno: Errno::NOMEM,
                        ..
                    }
            );
        // A batch under injection: single gets that need a kernel buffer may fail with
        // -ENOMEM; the others must be right.
        let got = if armed {
            let (merged, n) = self.model.merge_batch_enomem(op, got);
            self.summary.enomem += u64::from(n);
            merged
        } else {
            got
        };
        *self
            .summary
            .replies
            .entry((
                op.kind(),
                if injected {
                    "ENOMEM(injected)".into()
                } else {
                    result
                },
            ))
            .or_default() += 1;
        if self.cfg.trace {
            println!("#{} {op} -> {got}", self.current);
        }
        self.remember(op, &got, injected);
        if injected {
            self.summary.enomem += 1;
            self.model.failed_with_enomem(op);
            return self.verify_unchanged(op);
        }
        let want = self.model.apply(op);
        if got != want {
            return Err(self.mismatch("reply differs", op, Some(&got), Some(&want)));
        }
        if !matches!(
            op,
            AOp::Get { .. }
                | AOp::Stat { .. }
                | AOp::Stats { .. }
                | AOp::List { .. }
                | AOp::Read { .. }
                | AOp::Version { .. }
                | AOp::Batch { .. }
                | AOp::Watch { .. }
                | AOp::Check { .. }
                | AOp::BadIoctl { .. }
        ) {
            self.check_stats(op)?;
        }
        Ok(())
    }

    fn remember(&mut self, op: &AOp, reply: &AReply, injected: bool) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        let note = if injected { " (injected)" } else { "" };
        self.history
            .push_back((self.current, op.to_string(), format!("{reply}{note}")));
    }

    fn mismatch(
        &self,
        what: &str,
        op: &AOp,
        device: Option<&AReply>,
        model: Option<&AReply>,
    ) -> crate::fuzzer::Failure {
        let mut r = String::new();
        let _ = writeln!(
            r,
            "fuzz: MISMATCH at operation #{} (seed={}): {what}",
            self.current, self.cfg.seed
        );
        let _ = writeln!(r, "  call:   {op}");
        if let Some(d) = device {
            let _ = writeln!(r, "  device: {d}");
        }
        if let Some(m) = model {
            let _ = writeln!(r, "  model:  {m}");
        }
        let _ = writeln!(r, "fuzz: files:");
        for (id, f) in self.model.files() {
            let _ = writeln!(
                r,
                "  f{id}: uid={} admin={} session={} ephemerals={} held={}",
                f.caller.uid,
                f.caller.admin,
                f.session,
                f.ephemerals.len(),
                f.held
            );
        }
        let _ = writeln!(r, "fuzz: the last operations (newest last):");
        for (i, op, reply) in &self.history {
            let _ = writeln!(r, "  #{i} {op} -> {reply}");
        }
        let _ = write!(
            r,
            "fuzz: reproduce (same module parameters; --trace prints every operation): {}",
            self.cfg.command_line(self.current, &self.uids, self.watch)
        );
        crate::fuzzer::Failure::Mismatch(r)
    }

    fn expect(&mut self, op: &AOp, what: &str) -> Result<AReply, crate::fuzzer::Failure> {
        let got = match op {
            AOp::Stats { .. } | AOp::Check { .. } | AOp::Stat { .. } | AOp::Get { .. } => {
                self.checker_exec(op)
            }
            _ => unreachable!(),
        };
        let want = self.model.admin_query(op);
        if got != want {
            return Err(self.mismatch(what, op, Some(&got), Some(&want)));
        }
        Ok(got)
    }

    /// A query through the checker (root, outside the model).
    fn checker_exec(&mut self, op: &AOp) -> AReply {
        let c = &self.checker;
        let r = match op {
            AOp::Stats { .. } => c.store_stats().map(|s| {
                AReply::Stats(FullStats {
                    nodes: s.nodes,
                    bytes: s.bytes,
                    sequence: s.sequence,
                    max_nodes: s.max_nodes,
                    max_bytes: s.max_bytes,
                    max_value_len: s.max_value_len,
                    max_path_len: s.max_path_len,
                    max_depth: s.max_depth,
                    uid_nodes: s.uid_nodes,
                    uid_bytes: s.uid_bytes,
                    uid_max_nodes: s.uid_max_nodes,
                    uid_max_bytes: s.uid_max_bytes,
                    params: StatsParams::of(&s),
                })
            }),
            AOp::Check { .. } => c.check().map(|a| AReply::Check {
                nodes: a.nodes,
                bytes: a.bytes,
                owners: a.owners,
            }),
            AOp::Stat { path, .. } => c.stat(path).map(|s| AReply::Stat(full_stat(&s))),
            AOp::Get { path, .. } => c
                .get_with_version(path)
                .map(|(value, version)| AReply::Value { value, version }),
            _ => unreachable!(),
        };
        r.unwrap_or_else(|e| AReply::Err(e.errno()))
    }

    fn check_stats(&mut self, op: &AOp) -> Result<(), crate::fuzzer::Failure> {
        let got = self.checker_exec(&AOp::Stats { file: 0 });
        let want = AReply::Stats(self.model.stats(0));
        if got != want {
            return Err(self.mismatch(
                "store stats differ after the call",
                op,
                Some(&got),
                Some(&want),
            ));
        }
        Ok(())
    }

    /// After an injected `ENOMEM`: the store must be as the model (which did not apply the
    /// call) says: stats, the consistency check, and every node the call named with its
    /// ancestors.
    fn verify_unchanged(&mut self, op: &AOp) -> Result<(), crate::fuzzer::Failure> {
        self.check_stats(op)?;
        self.expect(&AOp::Check { file: 0 }, "check after ENOMEM")?;
        for path in op.paths() {
            let Ok(comps) = parse_path(&path, &self.model.limits().store) else {
                continue;
            };
            for depth in 0..=comps.len() {
                let stat = AOp::Stat {
                    file: 0,
                    path: join(&comps[..depth]),
                };
                let got = self.expect(&stat, "a call that failed with ENOMEM changed the store")?;
                if got == AReply::Err(Errno::NOENT) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Compares the whole store: stats, the consistency check, and every node's metadata,
    /// value and children.
    fn check_all(&mut self) -> Result<(), crate::fuzzer::Failure> {
        self.summary.full_checks += 1;
        self.check_stats(&AOp::Stats { file: 0 })?;
        self.expect(&AOp::Check { file: 0 }, "consistency check")?;
        let mut stack = vec![Vec::<Vec<u8>>::new()];
        while let Some(comps) = stack.pop() {
            let path = join(&comps);
            self.expect(
                &AOp::Stat {
                    file: 0,
                    path: path.clone(),
                },
                "full check: stat differs",
            )?;
            self.expect(
                &AOp::Get {
                    file: 0,
                    path: path.clone(),
                    buf_len: 0,
                    flags: 0,
                },
                "full check: value differs",
            )?;
            let names = self.checker.list(&path).unwrap_or_default();
            let node = self.model.node(&path).cloned();
            let want: Vec<Vec<u8>> = node
                .as_ref()
                .map(|n| n.children.keys().cloned().collect())
                .unwrap_or_default();
            if names != want {
                return Err(self.mismatch(
                    &format!(
                        "full check: children of {} differ: device {:?}, model {:?}",
                        Bytes(&path),
                        names
                            .iter()
                            .map(|n| Bytes(n).to_string())
                            .collect::<Vec<_>>(),
                        want.iter()
                            .map(|n| Bytes(n).to_string())
                            .collect::<Vec<_>>()
                    ),
                    &AOp::Stats { file: 0 },
                    None,
                    None,
                ));
            }
            for name in want.into_iter().rev() {
                let mut c = comps.clone();
                c.push(name);
                stack.push(c);
            }
        }
        Ok(())
    }

    /// Checks what one watcher received against the model's change log.
    fn check_watcher(
        &mut self,
        (path, subtree, caller): (&[u8], bool, Caller),
        seen: &[Seen],
    ) -> Result<(), crate::fuzzer::Failure> {
        let log = self.model.log().to_vec();
        let mut after = self.model.start();
        let problem = |what: String| {
            crate::fuzzer::Failure::Mismatch(format!(
                "fuzz: MISMATCH (seed={}): watcher of {}{} as uid {}: {what}\nfuzz: reproduce: {}",
                self.cfg.seed,
                Bytes(path),
                if subtree { " (subtree)" } else { "" },
                caller.uid,
                self.cfg
                    .command_line(self.summary.ops, &self.uids, self.watch)
            ))
        };
        let next = |after: u64| {
            log.iter()
                .find(|e| e.version > after && e.concerns(path, subtree, caller))
                .cloned()
        };
        for s in seen {
            match s {
                Seen::Event {
                    kind,
                    version,
                    path: changed,
                } => {
                    let want = next(after);
                    match want {
                        Some(e)
                            if e.kind == *kind && e.version == *version && e.path == *changed =>
                        {
                            self.summary.watched += 1;
                            if !caller.admin {
                                self.summary.user_watched += 1;
                            }
                            after = *version;
                        }
                        other => {
                            return Err(problem(format!(
                                "after version {after} it received event {kind} version \
                                 {version} path {}; the model's next change is {:?}",
                                Bytes(changed),
                                other.map(|e| (e.kind, e.version, Bytes(&e.path).to_string()))
                            )))
                        }
                    }
                }
                Seen::Lost { current } => {
                    let forgotten = self.model.forgotten_when(*current);
                    if after >= forgotten {
                        return Err(problem(format!(
                            "EVENT_LOST at {current} after version {after}, which the log \
                             still held (it had forgotten up to version {forgotten})"
                        )));
                    }
                    after = *current;
                }
                Seen::Denied => {
                    self.summary.user_watch_denied += 1;
                    if !self.model.root_unreadable_after(after, caller) {
                        return Err(problem(format!(
                            "EACCES after version {after}, but the root stayed readable"
                        )));
                    }
                    // The watcher stopped there.
                    return Ok(());
                }
            }
        }
        if !caller.admin {
            // The changes the user's watcher was right not to be told of.
            let admin = Caller {
                uid: 0,
                admin: true,
            };
            self.summary.user_watch_hidden += log
                .iter()
                .filter(|e| {
                    e.version > self.model.start()
                        && e.version <= after
                        && e.concerns(path, subtree, admin)
                        && !e.concerns(path, subtree, caller)
                })
                .count() as u64;
        }
        if let Some(e) = next(after) {
            return Err(problem(format!(
                "missed the change {} {} version {} (it stopped after version {after})",
                e.kind,
                Bytes(&e.path),
                e.version
            )));
        }
        Ok(())
    }
}
