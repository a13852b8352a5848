//! The model of the whole store behind the whole-ABI fuzzer: owners, modes, per-user quotas,
//! ephemeral nodes and the open files (sessions) they belong to, sequential counters,
//! compare-and-set, transactions, batched gets, the change log that watches read, and the text
//! interface with each file's pending response.
//!
//! It follows `docs/semantics.md` and, where the document leaves an order open, the order in
//! which the module (`src/device.rs`, `src/tree.rs`, `src/tree/txn.rs`, `src/text.rs`) checks
//! things, so that it predicts every result and errno exactly. The model covers the whole store
//! (the fuzzer empties it first).

use std::collections::{BTreeMap, VecDeque};

use pathstore::{abi, Errno};

use crate::abi_op::{
    AOp, AReply, BatchGet, BatchResult, FileId, FullStat, FullStats, StatsParams, TxnStep,
};
use crate::model::{check_name, join, parse_path, Limits, LIST_CHUNK, MAX_NAME_LEN};

/// The module's parameters as far as the model needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbiLimits {
    /// The store-wide limits.
    pub store: Limits,
    /// `uid_max_nodes`.
    pub uid_max_nodes: u64,
    /// `uid_max_bytes`.
    pub uid_max_bytes: u64,
    /// `watch_events`: how many changes the log keeps.
    pub watch_events: u64,
    /// `watch_bytes`: how many bytes of paths the log keeps.
    pub watch_bytes: u64,
    /// The module parameters as store stats report them (`watch_events` and `watch_bytes` may
    /// differ from the fields above, which are the log the model keeps).
    pub params: StatsParams,
}

/// Bytes of names one page of a text listing holds (`LIST_PAGE` in `src/text.rs`).
pub const TEXT_LIST_PAGE: usize = 2048;

/// Appends `bytes` (a name or a path) to `out` as text responses escape them
/// (`push_escaped` in `src/text.rs`): bytes from `!` to `~` stand for themselves except `\`,
/// written `\\`; every other byte is written `\xHH` in lower-case hex.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'!'..=b'~' => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
}

/// How many bytes [`push_escaped`] writes for `bytes`.
pub fn escaped_len(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    push_escaped(&mut out, bytes);
    out.len()
}

/// Bytes of a pending text response each open file holds free of charge; what a response's
/// buffer holds past it counts against its opener's `uid_max_bytes`, over all its files.
pub const PENDING_FREE: usize = 8192;

/// Who may learn of a change through a subtree watch (`Visibility` in `src/events.rs`): those
/// who may read every proper ancestor of the changed node when it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone.
    All,
    /// This uid (and `CAP_SYS_ADMIN`).
    Owner(u32),
    /// `CAP_SYS_ADMIN` only.
    Admin,
}

impl Visibility {
    fn below(self, owner: u32, others_read: bool) -> Self {
        match (self, others_read) {
            (v, true) => v,
            (Self::All, false) => Self::Owner(owner),
            (Self::Owner(uid), false) if uid == owner => self,
            (_, false) => Self::Admin,
        }
    }

    /// Whether `caller` may learn of the change.
    pub fn allows(self, caller: Caller) -> bool {
        match self {
            Self::All => true,
            Self::Owner(uid) => caller.owns(uid),
            Self::Admin => caller.admin,
        }
    }
}

/// Who makes a request: the opener of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Effective uid.
    pub uid: u32,
    /// Whether it held `CAP_SYS_ADMIN`.
    pub admin: bool,
}

impl Caller {
    fn owns(&self, owner: u32) -> bool {
        self.admin || self.uid == owner
    }

    fn may(&self, owner: u32, mode: u32, bit: u32) -> Result<(), Errno> {
        if self.owns(owner) || mode & bit != 0 {
            Ok(())
        } else {
            Err(Errno::ACCESS)
        }
    }

    fn may_read(&self, n: &Node) -> Result<(), Errno> {
        self.may(n.owner, n.mode, abi::MODE_OTHERS_READ)
    }

    fn may_write(&self, n: &Node) -> Result<(), Errno> {
        self.may(n.owner, n.mode, abi::MODE_OTHERS_WRITE)
    }
}

/// One node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The value.
    pub value: Option<Vec<u8>>,
    /// The children, in byte order.
    pub children: BTreeMap<Vec<u8>, Node>,
    /// `version`.
    pub version: u64,
    /// `child_version`.
    pub child_version: u64,
    /// Owner uid.
    pub owner: u32,
    /// `MODE_*`.
    pub mode: u32,
    /// Session of an ephemeral node (0: persistent).
    pub session: u64,
    /// The number the next sequential child gets.
    pub seq_next: u32,
    /// For an ephemeral node, the length of its path: what it is charged for instead of its
    /// name (its session keeps a copy of the path).
    pub path_len: u64,
}

impl Node {
    fn new(value: Option<Vec<u8>>, version: u64, owner: u32, mode: u32) -> Self {
        Node {
            value,
            children: BTreeMap::new(),
            version,
            child_version: 0,
            owner,
            mode,
            session: 0,
            seq_next: 0,
            path_len: 0,
        }
    }

    /// The bytes it is charged for under `name`: its name (an ephemeral node: its path) and
    /// its value.
    fn charged(&self, name: &[u8]) -> u64 {
        let name = if self.path_len > 0 {
            self.path_len
        } else {
            name.len() as u64
        };
        name + self.value_len()
    }

    fn value_len(&self) -> u64 {
        self.value.as_ref().map_or(0, |v| v.len() as u64)
    }

    /// What stat reports.
    pub fn stat(&self) -> FullStat {
        FullStat {
            version: self.version,
            child_version: self.child_version,
            num_children: self.children.len() as u64,
            value_len: self.value_len() as u32,
            flags: if self.value.is_some() {
                abi::STAT_HAS_VALUE
            } else {
                0
            },
            uid: self.owner,
            mode: self.mode,
            session: self.session,
        }
    }

    fn descend(&self, comps: &[Vec<u8>]) -> Option<&Node> {
        let mut n = self;
        for c in comps {
            n = n.children.get(c)?;
        }
        Some(n)
    }

    fn descend_mut(&mut self, comps: &[Vec<u8>]) -> Option<&mut Node> {
        let mut n = self;
        for c in comps {
            n = n.children.get_mut(c)?;
        }
        Some(n)
    }

    /// Calls `f` on every node below this one with its name.
    fn each_below(&self, f: &mut impl FnMut(&[u8], &Node)) {
        for (name, child) in &self.children {
            f(name, child);
            child.each_below(f);
        }
    }
}

/// One change of the store, as the module's event log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its version.
    pub version: u64,
    /// `EVENT_*`.
    pub kind: u32,
    /// The node's path (normalised).
    pub path: Vec<u8>,
    /// For a creation: how many leading components existed before.
    pub existed: usize,
    /// Who may see it through a subtree watch.
    pub visibility: Visibility,
}

fn depth(path: &[u8]) -> usize {
    if path == b"/" {
        0
    } else {
        path.iter().filter(|&&b| b == b'/').count()
    }
}

fn is_below(path: &[u8], ancestor: &[u8]) -> bool {
    if ancestor == b"/" {
        return path.len() > 1;
    }
    path.len() > ancestor.len() && path.starts_with(ancestor) && path[ancestor.len()] == b'/'
}

impl Event {
    /// Whether a watch of `watched` (normalised; with `subtree`, of all below it) by `caller`
    /// sees it.
    pub fn concerns(&self, watched: &[u8], subtree: bool, caller: Caller) -> bool {
        let path = &self.path[..];
        self.kind == abi::EVENT_LOST
            || path == watched
            || (self.kind == abi::EVENT_DELETED && is_below(watched, path))
            || (self.kind == abi::EVENT_CREATED
                && is_below(path, watched)
                && depth(watched) > self.existed)
            || (subtree && is_below(path, watched) && self.visibility.allows(caller))
    }
}

/// What a watch finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// This change.
    Event(Event),
    /// Changes were forgotten: the current version.
    Lost(u64),
    /// Nothing yet.
    Nothing,
}

/// Per-user usage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    nodes: u64,
    bytes: u64,
}

/// An open file of the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    /// Its opener.
    pub caller: Caller,
    /// Its session.
    pub session: u64,
    /// The paths of the ephemeral nodes it created (raw, in order).
    pub ephemerals: Vec<Vec<u8>>,
    /// The pending text response (times masked) and the read position.
    pub pending: Vec<u8>,
    /// Read position in `pending`.
    pub pos: usize,
    /// Held by a child process only (no more requests on it; closing it ends the child).
    pub held: bool,
    /// A text listing's next page: the listed path's components and the last name listed.
    pub next: Option<(Vec<Vec<u8>>, Vec<u8>)>,
    /// What the pending response is charged to its opener (what it holds past
    /// [`PENDING_FREE`]).
    pub charged: u64,
}

/// A transaction in progress: what its deletes will return to the quotas when it commits, and
/// its events.
#[derive(Clone, Debug, Default)]
struct TxnState {
    uncharge: Vec<(u32, u64, u64)>,
    events: Vec<Event>,
    /// Nodes and bytes below the nodes its deletes took out: still counted in the store's
    /// totals until the transaction ends (the module drains them after it).
    draining: (u64, u64),
}

/// Options of a set, as the tree sees them.
#[derive(Clone, Copy, Debug, Default)]
struct SetOpts {
    create_only: bool,
    mode: Option<u32>,
    if_version: Option<u64>,
    ephemeral: Option<u64>,
}

/// The model of the store.
#[derive(Clone, Debug)]
pub struct AbiModel {
    limits: AbiLimits,
    root: Node,
    nodes: u64,
    bytes: u64,
    sequence: u64,
    usage: BTreeMap<u32, Usage>,
    /// Every change since the model started, oldest first.
    log: Vec<Event>,
    /// The sequence when the model started (the log holds the changes after it).
    start: u64,
    files: BTreeMap<FileId, FileState>,
    txn: Option<TxnState>,
    /// The module's ring of events: (version, bytes of its path), oldest first, at most
    /// `watch_events`; those up to `forgotten` have lost their path.
    ring: VecDeque<(u64, u64)>,
    /// Bytes of the paths of the events in `ring` not forgotten.
    ring_bytes: u64,
    /// The newest version forgotten (0: none).
    forgotten: u64,
    /// `(sequence, forgotten)` each time `forgotten` changed, for the watchers' check.
    forgotten_at: Vec<(u64, u64)>,
    /// How often the rules of reading reached a decision (so that a run shows it checked them).
    pub rules: RuleCounts,
    /// `(version, owner, mode)` of the root from each version on where they changed.
    root_history: Vec<(u64, u32, u32)>,
}

/// How often the model predicted a result through the rules of reading: a private ancestor
/// refusing a caller, and a subtree watch by a user other than `CAP_SYS_ADMIN` shown or not
/// shown a change below a private ancestor.
#[derive(Clone, Debug, Default)]
pub struct RuleCounts {
    /// `EACCES` at a proper ancestor of the node asked for.
    pub ancestor_denied: std::cell::Cell<u64>,
    /// Changes below the watched node hidden from a non-admin subtree watcher.
    pub watch_hidden: std::cell::Cell<u64>,
    /// Changes below a private ancestor shown to its (non-admin) owner's subtree watch.
    pub watch_owner_shown: std::cell::Cell<u64>,
}

fn bump(c: &std::cell::Cell<u64>) {
    c.set(c.get() + 1);
}

/// Longest text command the module accepts.
pub fn longest_text(limits: &Limits) -> usize {
    limits.max_path_len as usize + limits.max_value_len as usize + 40
}

impl AbiModel {
    /// A model of an empty store (only the root, without a value, owned by root with
    /// `MODE_ROOT`) at `sequence`, whose root has `root_version`, `root_child_version` and the
    /// sequential counter `root_seq_next`.
    pub fn new(
        limits: AbiLimits,
        sequence: u64,
        root_version: u64,
        root_child_version: u64,
        root_seq_next: u32,
    ) -> Self {
        let mut root = Node::new(None, root_version, 0, abi::MODE_ROOT);
        root.child_version = root_child_version;
        root.seq_next = root_seq_next;
        AbiModel {
            limits,
            root,
            nodes: 1,
            bytes: 0,
            sequence,
            usage: BTreeMap::new(),
            log: Vec::new(),
            start: sequence,
            files: BTreeMap::new(),
            txn: None,
            ring: VecDeque::new(),
            ring_bytes: 0,
            forgotten: 0,
            forgotten_at: Vec::new(),
            rules: RuleCounts::default(),
            root_history: vec![(sequence, 0, abi::MODE_ROOT)],
        }
    }

    /// The limits.
    pub fn limits(&self) -> &AbiLimits {
        &self.limits
    }

    /// The store's sequence.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The sequence when the model started.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Every change since the start.
    pub fn log(&self) -> &[Event] {
        &self.log
    }

    /// The root node.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Nodes in the store, the root included.
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    /// The open files.
    pub fn files(&self) -> &BTreeMap<FileId, FileState> {
        &self.files
    }

    /// The node at a (valid) path.
    pub fn node(&self, path: &[u8]) -> Option<&Node> {
        let comps = parse_path(path, &self.limits.store).ok()?;
        self.root.descend(&comps)
    }

    /// The newest version of a forgotten change (0: none forgotten yet; before the model's
    /// start, every version up to where `watch_events` reaches back counts as forgotten). The
    /// module records exactly one change per version from its start.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
            .max(self.sequence.saturating_sub(self.limits.watch_events))
    }

    /// Fills the model's view of the module's change log after the fuzzer made `watch_events`
    /// changes of `/` (one byte of path each) just before the model's start: the ring then
    /// holds only those, and remembers the newest `min(watch_events, watch_bytes)` of them,
    /// whatever it held before.
    pub fn prime_log(&mut self) {
        let w = self.limits.watch_events.max(1);
        let max = self
            .limits
            .watch_bytes
            .max(u64::from(self.limits.store.max_path_len));
        let first = self.start.saturating_sub(w) + 1;
        self.ring = (first..=self.start).map(|v| (v, 1)).collect();
        let kept = w.min(max).min(self.ring.len() as u64);
        self.forgotten = self.start - kept;
        self.ring_bytes = kept;
        if self.forgotten > 0 {
            self.forgotten_at.push((self.start, self.forgotten));
        }
    }

    /// What [`AbiModel::forgotten`] was when the store was at version `sequence`.
    pub fn forgotten_when(&self, sequence: u64) -> u64 {
        let i = self.forgotten_at.partition_point(|&(s, _)| s <= sequence);
        let f = i.checked_sub(1).map_or(0, |i| self.forgotten_at[i].1);
        f.max(sequence.saturating_sub(self.limits.watch_events))
    }

    /// `EventLog::record`: the event enters the ring, which forgets the oldest when it is full
    /// or holds more than `watch_bytes` bytes of paths (never the newest).
    fn log_push(&mut self, event: Event) {
        let len = event.path.len() as u64;
        if self.ring.len() as u64 >= self.limits.watch_events.max(1) {
            if let Some((version, old)) = self.ring.pop_front() {
                if version > self.forgotten {
                    self.ring_bytes -= old;
                    self.forgotten = version;
                }
            }
        }
        self.ring.push_back((event.version, len));
        self.ring_bytes += len;
        let max = self
            .limits
            .watch_bytes
            .max(u64::from(self.limits.store.max_path_len));
        while self.ring_bytes > max {
            let forgotten = self.forgotten;
            let newest = self.ring.len() - 1;
            match self.ring.iter().position(|&(v, _)| v > forgotten) {
                Some(i) if i < newest => {
                    self.ring_bytes -= self.ring[i].1;
                    self.forgotten = self.ring[i].0;
                }
                _ => break,
            }
        }
        if self.forgotten_at.last().map(|&(_, f)| f) != Some(self.forgotten) && self.forgotten > 0 {
            self.forgotten_at.push((event.version, self.forgotten));
        }
        self.log.push(event);
    }

    /// `Tree::visibility` of a change of the node at `path` (normalised), in the tree as it is.
    fn visibility(&self, path: &[u8]) -> Visibility {
        let mut v = Visibility::All;
        let Ok(comps) = parse_path(path, &self.limits.store) else {
            return v;
        };
        let mut node = &self.root;
        for c in &comps {
            v = v.below(node.owner, node.mode & abi::MODE_OTHERS_READ != 0);
            match node.children.get(c) {
                Some(child) => node = child,
                None => break,
            }
        }
        v
    }

    /// `Tree::find`: the node at `comps` if `caller` may read each of its ancestors (`EACCES`
    /// at the first it may not), `None` when it does not exist.
    fn find_node(&self, comps: &[Vec<u8>], caller: Caller) -> Result<Option<&Node>, Errno> {
        let mut node = &self.root;
        for c in comps {
            if let Err(e) = caller.may_read(node) {
                bump(&self.rules.ancestor_denied);
                return Err(e);
            }
            match node.children.get(c) {
                Some(child) => node = child,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    /// `Tree::reach`: [`AbiModel::find_node`], `ENOENT` when the node does not exist.
    fn reach(&self, comps: &[Vec<u8>], caller: Caller) -> Result<&Node, Errno> {
        self.find_node(comps, caller)?.ok_or(Errno::NOENT)
    }

    /// Registers a file opened as `caller` with the session the module gave it.
    pub fn open(&mut self, file: FileId, caller: Caller, session: u64) {
        self.files.insert(
            file,
            FileState {
                caller,
                session,
                ephemerals: Vec::new(),
                pending: Vec::new(),
                pos: 0,
                held: false,
                next: None,
                charged: 0,
            },
        );
    }

    /// Store stats as `uid` sees them.
    pub fn stats(&self, uid: u32) -> FullStats {
        let u = self.usage.get(&uid).copied().unwrap_or_default();
        let l = &self.limits;
        FullStats {
            nodes: self.nodes,
            bytes: self.bytes,
            sequence: self.sequence,
            max_nodes: l.store.max_nodes,
            max_bytes: l.store.max_bytes,
            max_value_len: l.store.max_value_len,
            max_path_len: l.store.max_path_len,
            max_depth: l.store.max_depth,
            uid_nodes: u.nodes,
            uid_bytes: u.bytes,
            uid_max_nodes: l.uid_max_nodes,
            uid_max_bytes: l.uid_max_bytes,
            params: l.params,
        }
    }

    /// What `IOC_CHECK` reports.
    pub fn check_counts(&self) -> (u64, u64, u64) {
        (self.nodes, self.bytes, self.usage.len() as u64)
    }

    /// Recounts nodes, bytes and usage from the tree (a self-check of the incremental counts).
    pub fn self_check(&self) -> Result<(), String> {
        let mut nodes = 1;
        let mut bytes = self.root.value_len();
        let mut usage: BTreeMap<u32, Usage> = BTreeMap::new();
        if self.root.value_len() > 0 || self.root.value.is_some() {
            usage.entry(self.root.owner).or_default().bytes += self.root.value_len();
        }
        self.root.each_below(&mut |name, n| {
            nodes += 1;
            let own = n.charged(name);
            bytes += own;
            let u = usage.entry(n.owner).or_default();
            u.nodes += 1;
            u.bytes += own;
        });
        usage.retain(|_, u| *u != Usage::default());
        if (nodes, bytes) != (self.nodes, self.bytes) || usage != self.usage {
            return Err(format!(
                "model counts drifted: nodes {nodes}/{} bytes {bytes}/{} usage {usage:?}/{:?}",
                self.nodes, self.bytes, self.usage
            ));
        }
        Ok(())
    }

    fn caller(&self, file: FileId) -> Caller {
        self.files[&file].caller
    }

    /// Records a change made to the tree (its visibility as the tree now is).
    fn record(&mut self, mut event: Event) {
        event.visibility = self.visibility(&event.path);
        let root = (self.root.owner, self.root.mode);
        if self.root_history.last().map(|&(_, o, m)| (o, m)) != Some(root) {
            self.root_history.push((event.version, root.0, root.1));
        }
        match self.txn.as_mut() {
            Some(t) => t.events.push(event),
            None => self.log_push(event),
        }
    }

    fn uncharge(&mut self, uid: u32, nodes: u64, bytes: u64) {
        if let Some(u) = self.usage.get_mut(&uid) {
            u.nodes = u.nodes.saturating_sub(nodes);
            u.bytes = u.bytes.saturating_sub(bytes);
            if *u == Usage::default() {
                self.usage.remove(&uid);
            }
        }
    }

    /// The quota check of a charge to `uid`, made by a caller who is `admin` or not; returns
    /// the usage after it. The charge is the node owner's (its account: these users are all of
    /// the initial user namespace), and only `CAP_SYS_ADMIN` is exempt from the quota.
    fn prepare(
        &self,
        uid: u32,
        nodes: u64,
        add: u64,
        sub: u64,
        admin: bool,
    ) -> Result<Usage, Errno> {
        let before = self.usage.get(&uid).copied().unwrap_or_default();
        let after = Usage {
            nodes: before.nodes.checked_add(nodes).ok_or(Errno::DQUOT)?,
            bytes: before
                .bytes
                .checked_sub(sub)
                .and_then(|b| b.checked_add(add))
                .ok_or(Errno::DQUOT)?,
        };
        if !admin
            && ((after.nodes > self.limits.uid_max_nodes && after.nodes > before.nodes)
                || (after.bytes > self.limits.uid_max_bytes && after.bytes > before.bytes))
        {
            return Err(Errno::DQUOT);
        }
        Ok(after)
    }

    fn commit_charge(&mut self, uid: u32, after: Usage) {
        if after == Usage::default() {
            self.usage.remove(&uid);
        } else {
            self.usage.insert(uid, after);
        }
    }

    /// `Tree::set`.
    fn tree_set(
        &mut self,
        comps: &[Vec<u8>],
        value: &[u8],
        opts: SetOpts,
        caller: Caller,
    ) -> Result<u64, Errno> {
        let value_len = value.len() as u64;
        if value_len > u64::from(self.limits.store.max_value_len) {
            return Err(Errno::TOOBIG);
        }
        if opts.mode.is_some_and(|m| m & !abi::MODE_ALL != 0) {
            return Err(Errno::INVAL);
        }
        let seq = self.sequence + 1;
        let path = join(comps);
        if let Some(node) = self.root.descend(comps) {
            if opts.create_only || opts.ephemeral.is_some() {
                return Err(Errno::EXIST);
            }
            caller.may_write(node)?;
            if opts.mode.is_some() && !caller.owns(node.owner) {
                return Err(Errno::PERM);
            }
            if opts.if_version.is_some_and(|v| v != node.version) {
                return Err(Errno::STALE);
            }
            let old_len = node.value_len();
            let bytes = self.bytes - old_len + value_len;
            if bytes > self.limits.store.max_bytes {
                return Err(Errno::NOSPC);
            }
            let owner = node.owner;
            let after = self.prepare(owner, 0, value_len, old_len, caller.admin)?;
            let node = self.root.descend_mut(comps).unwrap();
            node.value = Some(value.to_vec());
            node.version = seq;
            if let Some(mode) = opts.mode {
                node.mode = mode;
            }
            self.commit_charge(owner, after);
            self.record(Event {
                version: seq,
                kind: abi::EVENT_CHANGED,
                path,
                existed: comps.len(),
                visibility: Visibility::All,
            });
            self.bytes = bytes;
            self.sequence = seq;
            return Ok(seq);
        }
        let mut existing = 0;
        let mut node = &self.root;
        for c in comps {
            match node.children.get(c) {
                Some(child) => {
                    node = child;
                    existing += 1;
                }
                None => break,
            }
        }
        if opts.if_version.is_some() {
            return Err(Errno::NOENT);
        }
        if node.session != 0 {
            return Err(Errno::NOTDIR);
        }
        caller.may_write(node)?;
        let new_nodes = (comps.len() - existing) as u64;
        let mut names_len: u64 = comps[existing..].iter().map(|c| c.len() as u64).sum();
        if opts.ephemeral.is_some() {
            names_len = names_len - comps.last().map_or(0, |c| c.len() as u64) + path.len() as u64;
        }
        let nodes = self.nodes + new_nodes;
        if nodes > self.limits.store.max_nodes {
            return Err(Errno::NOSPC);
        }
        let added = names_len + value_len;
        let bytes = self.bytes + added;
        if bytes > self.limits.store.max_bytes {
            return Err(Errno::NOSPC);
        }
        let after = self.prepare(caller.uid, new_nodes, added, 0, caller.admin)?;
        let mode = opts.mode.unwrap_or(abi::MODE_DEFAULT);
        let mut chain = Node::new(Some(value.to_vec()), seq, caller.uid, mode);
        if let Some(session) = opts.ephemeral {
            chain.session = session;
            chain.path_len = path.len() as u64;
        }
        for i in (existing + 1..comps.len()).rev() {
            let mut parent = Node::new(None, seq, caller.uid, mode);
            parent.child_version = seq;
            parent.children.insert(comps[i].clone(), chain);
            chain = parent;
        }
        let parent = self.root.descend_mut(&comps[..existing]).unwrap();
        parent.children.insert(comps[existing].clone(), chain);
        parent.child_version = seq;
        self.commit_charge(caller.uid, after);
        self.record(Event {
            version: seq,
            kind: abi::EVENT_CREATED,
            path,
            existed: existing,
            visibility: Visibility::All,
        });
        self.nodes = nodes;
        self.bytes = bytes;
        self.sequence = seq;
        Ok(seq)
    }

    fn may_delete_below(node: &Node, caller: Caller) -> Result<(), Errno> {
        if caller.admin || node.children.is_empty() {
            return Ok(());
        }
        let mut result = Ok(());
        node.each_below(&mut |_, n| {
            if result.is_ok() {
                result = caller.may_write(n);
            }
        });
        result
    }

    /// Returns the charges of a subtree taken out: (owner, nodes, bytes) per node.
    fn charges(name: &[u8], node: &Node, out: &mut Vec<(u32, u64, u64)>) {
        out.push((node.owner, 1, node.charged(name)));
        for (n, c) in &node.children {
            Self::charges(n, c, out);
        }
    }

    /// `Tree::delete`.
    fn tree_delete(
        &mut self,
        comps: &[Vec<u8>],
        recursive: bool,
        if_version: Option<u64>,
        caller: Caller,
    ) -> Result<(), Errno> {
        let seq = self.sequence + 1;
        let path = join(comps);
        if comps.is_empty() {
            if self.txn.is_some() {
                return Err(Errno::INVAL);
            }
            caller.may_write(&self.root)?;
            if if_version.is_some_and(|v| v != self.root.version) {
                return Err(Errno::STALE);
            }
            let had_children = !self.root.children.is_empty();
            if !recursive && had_children {
                return Err(Errno::NOTEMPTY);
            }
            if recursive {
                Self::may_delete_below(&self.root, caller)?;
            }
            let kind = if had_children {
                abi::EVENT_DELETED
            } else {
                abi::EVENT_CHANGED
            };
            let mut charges = Vec::new();
            for (n, c) in &self.root.children {
                Self::charges(n, c, &mut charges);
            }
            self.root.children.clear();
            for (uid, n, b) in charges {
                self.uncharge(uid, n, b);
            }
            if let Some(value) = self.root.value.take() {
                let owner = self.root.owner;
                self.uncharge(owner, 0, value.len() as u64);
            }
            if had_children {
                self.root.child_version = seq;
            }
            self.root.version = seq;
            self.nodes = 1;
            self.bytes = 0;
            self.record(Event {
                version: seq,
                kind,
                path,
                existed: 0,
                visibility: Visibility::All,
            });
            self.sequence = seq;
            return Ok(());
        }
        let (name, parents) = comps.split_last().unwrap();
        let parent = self.root.descend(parents).ok_or(Errno::NOENT)?;
        let node = parent.children.get(name).ok_or(Errno::NOENT)?;
        caller.may_write(node)?;
        // The cheap checks first: only a delete that can succeed walks the subtree.
        if if_version.is_some_and(|v| v != node.version) {
            return Err(Errno::STALE);
        }
        if !recursive && !node.children.is_empty() {
            return Err(Errno::NOTEMPTY);
        }
        if recursive {
            Self::may_delete_below(node, caller)?;
        }
        let parent = self.root.descend_mut(parents).unwrap();
        let node = parent.children.remove(name).unwrap();
        parent.child_version = seq;
        let mut charges = Vec::new();
        Self::charges(name, &node, &mut charges);
        for (i, &(_, n, b)) in charges.iter().enumerate() {
            match self.txn.as_mut() {
                // In a transaction, what is below the deleted node stays counted until it ends.
                Some(t) if i > 0 => {
                    t.draining.0 += n;
                    t.draining.1 += b;
                }
                _ => {
                    self.nodes -= n;
                    self.bytes -= b;
                }
            }
        }
        match self.txn.as_mut() {
            Some(t) => t.uncharge.extend(charges),
            None => {
                for (uid, n, b) in charges {
                    self.uncharge(uid, n, b);
                }
            }
        }
        self.record(Event {
            version: seq,
            kind: abi::EVENT_DELETED,
            path,
            existed: comps.len(),
            visibility: Visibility::All,
        });
        self.sequence = seq;
        Ok(())
    }

    /// `Tree::set_sequential`: the version and number.
    fn tree_set_sequential(
        &mut self,
        comps: &[Vec<u8>],
        value: &[u8],
        opts: SetOpts,
        caller: Caller,
    ) -> Result<(u64, u64, Vec<u8>), Errno> {
        if comps.is_empty() {
            return Err(Errno::INVAL);
        }
        let base = join(comps);
        let limits = self.limits.store;
        let name_of = |n: u32| {
            let mut p = base.clone();
            p.extend_from_slice(format!("{n:010}").as_bytes());
            p
        };
        let parents = &comps[..comps.len() - 1];
        let parent = self.root.descend(parents);
        let mut number = parent.map_or(0, |p| p.seq_next);
        for _ in 0..64 {
            if number == u32::MAX {
                return Err(Errno::OVERFLOW);
            }
            let candidate = parse_path(&name_of(number), &limits)?;
            let taken = parent.is_some_and(|p| p.children.contains_key(candidate.last().unwrap()));
            if !taken {
                break;
            }
            number += 1;
        }
        let new_path = name_of(number);
        let new_comps = parse_path(&new_path, &limits)?;
        let opts = SetOpts {
            create_only: true,
            ..opts
        };
        match self.tree_set(&new_comps, value, opts, caller) {
            Ok(version) => {
                if let Some(p) = self.root.descend_mut(parents) {
                    p.seq_next = number.saturating_add(1);
                }
                Ok((version, u64::from(number), new_path))
            }
            Err(e) => {
                if e == Errno::EXIST {
                    if let Some(p) = self.root.descend_mut(parents) {
                        // Only a node that has (had) children keeps a counter.
                        if !p.children.is_empty() || p.seq_next != 0 {
                            p.seq_next = number.saturating_add(1);
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// The checks of a path argument copied from userspace (`copy_path`), then its form.
    fn path_arg(&self, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        if path.is_empty() {
            return Err(Errno::INVAL);
        }
        if path.len() > self.limits.store.max_path_len as usize {
            return Err(Errno::NAMETOOLONG);
        }
        parse_path(path, &self.limits.store)
    }

    /// Whether an ephemeral set on `file` prunes its list of ephemeral paths first.
    pub fn prunes(&self, file: FileId) -> bool {
        let n = self.files[&file].ephemerals.len();
        n >= 16 && n.is_power_of_two()
    }

    /// `OpenFile::apply_set`.
    fn apply_set(
        &mut self,
        file: FileId,
        path_raw: &[u8],
        comps: &[Vec<u8>],
        value: &[u8],
        opts: SetOpts,
        sequential: bool,
    ) -> Result<(u64, u64), Errno> {
        let caller = self.caller(file);
        if let Some(session) = opts.ephemeral {
            // The module prunes the list of the file's ephemeral paths when it reaches 16, 32,
            // 64... entries, before the set, keeping those still ephemeral nodes of the file.
            // The order of removal at release depends on it.
            let list = &self.files[&file].ephemerals;
            if self.prunes(file) {
                let kept: Vec<Vec<u8>> = list
                    .iter()
                    .filter(|p| {
                        parse_path(p, &self.limits.store)
                            .ok()
                            .and_then(|c| self.root.descend(&c))
                            .is_some_and(|n| n.session == session)
                    })
                    .cloned()
                    .collect();
                self.files.get_mut(&file).unwrap().ephemerals = kept;
            }
        }
        let (version, number, created) = if sequential {
            self.tree_set_sequential(comps, value, opts, caller)?
        } else {
            let v = self.tree_set(comps, value, opts, caller)?;
            (v, 0, path_raw.to_vec())
        };
        if opts.ephemeral.is_some() {
            self.files.get_mut(&file).unwrap().ephemerals.push(created);
        }
        Ok((version, number))
    }

    fn ioc_set(
        &mut self,
        file: FileId,
        path: &[u8],
        value: &[u8],
        flags: u32,
        mode: u32,
        expected: u64,
    ) -> AReply {
        let flag = |f: u32| flags & f != 0;
        if flags & !abi::SET_FLAGS_ALL != 0
            || (flag(abi::SET_IF_VERSION)
                && (flag(abi::SET_CREATE) || flag(abi::SET_EPHEMERAL) || flag(abi::SET_SEQUENTIAL)))
            || (!flag(abi::SET_IF_VERSION) && expected != 0)
        {
            return AReply::Err(Errno::INVAL);
        }
        let mode_opt = flag(abi::SET_MODE).then_some(mode);
        if mode & !mode_opt.map_or(0, |_| abi::MODE_ALL) != 0 {
            return AReply::Err(Errno::INVAL);
        }
        let comps = match self.path_arg(path) {
            Ok(c) => c,
            Err(e) => return AReply::Err(e),
        };
        if value.len() > self.limits.store.max_value_len as usize {
            return AReply::Err(Errno::TOOBIG);
        }
        let session = self.files[&file].session;
        let opts = SetOpts {
            create_only: flag(abi::SET_CREATE),
            mode: mode_opt,
            if_version: flag(abi::SET_IF_VERSION).then_some(expected),
            ephemeral: flag(abi::SET_EPHEMERAL).then_some(session),
        };
        match self.apply_set(file, path, &comps, value, opts, flag(abi::SET_SEQUENTIAL)) {
            Ok((version, sequence)) => AReply::Set { version, sequence },
            Err(Errno::STALE) => AReply::Stale {
                current: self.root.descend(&comps).map_or(0, |n| n.version),
            },
            Err(e) => AReply::Err(e),
        }
    }

    /// The value of a get (the single get's checks after its path is copied).
    fn get_value(&self, caller: Caller, path: &[u8]) -> Result<(&[u8], u64), Errno> {
        let comps = parse_path(path, &self.limits.store)?;
        let node = self.reach(&comps, caller)?;
        caller.may_read(node)?;
        let value = node.value.as_ref().ok_or(Errno::NODATA)?;
        Ok((value, node.version))
    }

    /// A get's path length checks (`with_path`).
    fn path_len_ok(&self, path: &[u8]) -> Result<(), Errno> {
        if path.is_empty() {
            return Err(Errno::INVAL);
        }
        if path.len() > self.limits.store.max_path_len as usize {
            return Err(Errno::NAMETOOLONG);
        }
        Ok(())
    }

    fn ioc_get(&self, file: FileId, path: &[u8], buf_len: u32, flags: u32) -> AReply {
        if flags != 0 {
            return AReply::Err(Errno::INVAL);
        }
        match self
            .path_len_ok(path)
            .and_then(|()| self.get_value(self.caller(file), path))
        {
            Ok((value, version)) if value.len() > buf_len as usize => AReply::GetRange {
                needed: value.len() as u32,
                version,
            },
            Ok((value, version)) => AReply::Value {
                value: value.to_vec(),
                version,
            },
            Err(e) => AReply::Err(e),
        }
    }

    fn ioc_batch(&self, file: FileId, gets: &[BatchGet], flags: u32) -> AReply {
        if flags != 0 || gets.is_empty() {
            return AReply::Err(Errno::INVAL);
        }
        if gets.len() > abi::GET_BATCH_MAX as usize {
            return AReply::Err(Errno::TOOBIG);
        }
        let caller = self.caller(file);
        let results = gets
            .iter()
            .map(|g| {
                match self
                    .path_len_ok(&g.path)
                    .and_then(|()| self.get_value(caller, &g.path))
                {
                    Ok((value, version)) if value.len() > g.buf_len as usize => BatchResult {
                        error: -Errno::RANGE.raw_os_error(),
                        value_len: value.len() as u32,
                        version,
                        value: Vec::new(),
                    },
                    Ok((value, version)) => BatchResult {
                        error: 0,
                        value_len: value.len() as u32,
                        version,
                        value: value.to_vec(),
                    },
                    Err(e) => BatchResult {
                        error: -e.raw_os_error(),
                        value_len: 0,
                        version: 0,
                        value: Vec::new(),
                    },
                }
            })
            .collect();
        AReply::Batch(results)
    }

    fn ioc_delete(&mut self, file: FileId, path: &[u8], flags: u32, expected: u64) -> AReply {
        let if_version = flags & abi::DELETE_IF_VERSION != 0;
        if flags & !abi::DELETE_FLAGS_ALL != 0 || (!if_version && expected != 0) {
            return AReply::Err(Errno::INVAL);
        }
        let comps = match self.path_arg(path) {
            Ok(c) => c,
            Err(e) => return AReply::Err(e),
        };
        let caller = self.caller(file);
        match self.tree_delete(
            &comps,
            flags & abi::DELETE_RECURSIVE != 0,
            if_version.then_some(expected),
            caller,
        ) {
            Ok(()) => AReply::Done,
            Err(Errno::STALE) => AReply::Stale {
                current: self.root.descend(&comps).map_or(0, |n| n.version),
            },
            Err(e) => AReply::Err(e),
        }
    }

    /// The names of the children of the node at `comps` after `after`, within `room` bytes.
    fn list_names(
        &self,
        caller: Caller,
        comps: &[Vec<u8>],
        after: Option<&[u8]>,
        room: usize,
    ) -> Result<(Vec<Vec<u8>>, bool, usize), Errno> {
        let node = self.reach(comps, caller)?;
        caller.may_read(node)?;
        let start = match after {
            None => std::ops::Bound::Unbounded,
            Some(a) => std::ops::Bound::Excluded(a.to_vec()),
        };
        let mut used = 0;
        let mut names = Vec::new();
        for name in node
            .children
            .range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded))
            .map(|(k, _)| k)
        {
            let need = name.len() + 1;
            if used + need > room {
                return Ok((names, true, need));
            }
            used += need;
            names.push(name.clone());
        }
        Ok((names, false, 0))
    }

    fn ioc_list(
        &self,
        file: FileId,
        path: &[u8],
        after: &[u8],
        buf_len: u32,
        flags: u32,
    ) -> AReply {
        if flags != 0 {
            return AReply::Err(Errno::INVAL);
        }
        let comps = match self.path_arg(path) {
            Ok(c) => c,
            Err(e) => return AReply::Err(e),
        };
        let after = if after.is_empty() {
            None
        } else if after.len() > MAX_NAME_LEN {
            return AReply::Err(Errno::NAMETOOLONG);
        } else {
            if let Err(e) = check_name(after) {
                return AReply::Err(e);
            }
            Some(after)
        };
        let room = buf_len.min(LIST_CHUNK) as usize;
        match self.list_names(self.caller(file), &comps, after, room) {
            Ok((names, true, need)) if names.is_empty() => AReply::ListRange {
                needed: need as u32,
            },
            Ok((names, more, _)) => AReply::List { names, more },
            Err(e) => AReply::Err(e),
        }
    }

    /// A stat: needs only the right to read the node's ancestors.
    fn ioc_stat(&self, caller: Caller, path: &[u8]) -> AReply {
        match self
            .path_len_ok(path)
            .and_then(|()| parse_path(path, &self.limits.store))
            .and_then(|c| self.reach(&c, caller))
        {
            Ok(n) => AReply::Stat(n.stat()),
            Err(e) => AReply::Err(e),
        }
    }

    /// What a watch of `path` (normalised) by `caller` after `after` finds.
    pub fn find(&self, watched: &[u8], subtree: bool, after: u64, caller: Caller) -> Found {
        if after >= self.sequence {
            return Found::Nothing;
        }
        if after < self.forgotten() {
            return Found::Lost(self.sequence);
        }
        assert!(
            after >= self.start,
            "a watch after {after}, before the model's start {}",
            self.start
        );
        let first = self.log.partition_point(|e| e.version <= after);
        for e in &self.log[first..] {
            let below = subtree && is_below(&e.path, watched) && !caller.admin;
            if e.concerns(watched, subtree, caller) {
                if below && matches!(e.visibility, Visibility::Owner(_)) {
                    bump(&self.rules.watch_owner_shown);
                }
                return Found::Event(e.clone());
            }
            if below {
                bump(&self.rules.watch_hidden);
            }
        }
        Found::Nothing
    }

    /// A watch's checks and result, without waiting.
    pub fn watch(
        &self,
        caller: Caller,
        comps: &[Vec<u8>],
        subtree: bool,
        after: u64,
    ) -> Result<Found, Errno> {
        if let Some(node) = self.find_node(comps, caller)? {
            caller.may_read(node)?;
        }
        Ok(self.find(&join(comps), subtree, after, caller))
    }

    fn ioc_watch(&self, file: FileId, path: &[u8], after: u64, flags: u32, buf_len: u32) -> AReply {
        if flags & !abi::WATCH_FLAGS_ALL != 0 {
            return AReply::Err(Errno::INVAL);
        }
        let comps = match self.path_arg(path) {
            Ok(c) => c,
            Err(e) => return AReply::Err(e),
        };
        let subtree = flags & abi::WATCH_SUBTREE != 0;
        let (event, version, changed) = match self.watch(self.caller(file), &comps, subtree, after)
        {
            Err(e) => return AReply::Err(e),
            Ok(Found::Nothing) => return AReply::Err(Errno::TIMEDOUT),
            Ok(Found::Lost(current)) => (abi::EVENT_LOST, current, Vec::new()),
            Ok(Found::Event(e)) => (e.kind, e.version, e.path),
        };
        if changed.len() > buf_len as usize {
            return AReply::WatchRange {
                event,
                version,
                needed: changed.len() as u32,
            };
        }
        AReply::Watch {
            event,
            version,
            path: changed,
        }
    }

    /// `txn_input` of one step: flags and fields, the path's length, the value's length.
    fn txn_input(&self, s: &TxnStep) -> Result<(), Errno> {
        let (flags_allowed, version_allowed) = match s.op {
            abi::TXN_CHECK_VERSION => (0, true),
            abi::TXN_CHECK_ABSENT => (0, false),
            abi::TXN_SET => (
                abi::SET_CREATE | abi::SET_MODE | abi::SET_IF_VERSION,
                s.flags & abi::SET_IF_VERSION != 0,
            ),
            abi::TXN_DELETE => (
                abi::DELETE_RECURSIVE | abi::DELETE_IF_VERSION,
                s.flags & abi::DELETE_IF_VERSION != 0,
            ),
            _ => return Err(Errno::INVAL),
        };
        let is_set = s.op == abi::TXN_SET;
        let mode_allowed = if is_set && s.flags & abi::SET_MODE != 0 {
            abi::MODE_ALL
        } else {
            0
        };
        if s.flags & !flags_allowed != 0
            || (is_set && s.flags & abi::SET_IF_VERSION != 0 && s.flags & abi::SET_CREATE != 0)
            || (!version_allowed && s.expected != 0)
            || s.mode & !mode_allowed != 0
            || s.pad != 0
            || (!is_set && !s.value.is_empty())
        {
            return Err(Errno::INVAL);
        }
        if s.path.is_empty() {
            return Err(Errno::INVAL);
        }
        if s.path.len() > self.limits.store.max_path_len as usize {
            return Err(Errno::NAMETOOLONG);
        }
        if is_set && s.value.len() > self.limits.store.max_value_len as usize {
            return Err(Errno::TOOBIG);
        }
        Ok(())
    }

    fn txn_apply(&mut self, s: &TxnStep, comps: &[Vec<u8>], caller: Caller) -> Result<(), Errno> {
        match s.op {
            abi::TXN_CHECK_VERSION => {
                // Like stat, a check needs only the right to read the node's ancestors.
                let node = self.reach(comps, caller)?;
                if node.version != s.expected {
                    return Err(Errno::STALE);
                }
                Ok(())
            }
            abi::TXN_CHECK_ABSENT => match self.find_node(comps, caller)? {
                Some(_) => Err(Errno::EXIST),
                None => Ok(()),
            },
            abi::TXN_SET => {
                let flag = |f: u32| s.flags & f != 0;
                let opts = SetOpts {
                    create_only: flag(abi::SET_CREATE),
                    mode: flag(abi::SET_MODE).then_some(s.mode),
                    if_version: flag(abi::SET_IF_VERSION).then_some(s.expected),
                    ephemeral: None,
                };
                self.tree_set(comps, &s.value, opts, caller).map(drop)
            }
            _ => self.tree_delete(
                comps,
                s.flags & abi::DELETE_RECURSIVE != 0,
                (s.flags & abi::DELETE_IF_VERSION != 0).then_some(s.expected),
                caller,
            ),
        }
    }

    fn ioc_txn(&mut self, file: FileId, steps: &[TxnStep], flags: u32) -> AReply {
        if flags != 0 || steps.is_empty() {
            return AReply::Err(Errno::INVAL);
        }
        if steps.len() > abi::TXN_MAX_OPS as usize {
            return AReply::Err(Errno::TOOBIG);
        }
        let fail = |errno, i: usize| AReply::TxnErr {
            errno,
            failed: i as u32,
            current: 0,
        };
        for (i, s) in steps.iter().enumerate() {
            if let Err(e) = self.txn_input(s) {
                return fail(e, i);
            }
        }
        let mut all = Vec::with_capacity(steps.len());
        for (i, s) in steps.iter().enumerate() {
            match parse_path(&s.path, &self.limits.store) {
                Ok(c) if c.is_empty() && s.op == abi::TXN_DELETE => return fail(Errno::INVAL, i),
                Ok(c) => all.push(c),
                Err(e) => return fail(e, i),
            }
        }
        let caller = self.caller(file);
        let saved = self.clone();
        self.txn = Some(TxnState::default());
        for (i, (s, comps)) in steps.iter().zip(&all).enumerate() {
            if let Err(errno) = self.txn_apply(s, comps, caller) {
                *self = saved;
                // The version the node has once the transaction is undone.
                let current = if errno == Errno::STALE {
                    self.root.descend(comps).map_or(0, |n| n.version)
                } else {
                    0
                };
                return AReply::TxnErr {
                    errno,
                    failed: i as u32,
                    current,
                };
            }
        }
        let txn = self.txn.take().unwrap();
        for (uid, n, b) in txn.uncharge {
            self.uncharge(uid, n, b);
        }
        self.nodes -= txn.draining.0;
        self.bytes -= txn.draining.1;
        for event in txn.events {
            self.log_push(event);
        }
        AReply::TxnOk {
            version: self.sequence,
        }
    }

    /// Removes a file's ephemeral nodes (its release).
    fn release(&mut self, file: FileId) {
        let Some(state) = self.files.remove(&file) else {
            return;
        };
        for raw in &state.ephemerals {
            let Ok(comps) = parse_path(raw, &self.limits.store) else {
                continue;
            };
            let Some((name, parents)) = comps.split_last() else {
                continue;
            };
            let ours = self
                .root
                .descend(&comps)
                .is_some_and(|n| n.session == state.session && n.children.is_empty());
            if !ours {
                continue;
            }
            let seq = self.sequence + 1;
            let parent = self.root.descend_mut(parents).unwrap();
            let node = parent.children.remove(name).unwrap();
            parent.child_version = seq;
            let own = node.charged(name);
            self.uncharge(node.owner, 1, own);
            self.nodes -= 1;
            self.bytes -= own;
            self.record(Event {
                version: seq,
                kind: abi::EVENT_DELETED,
                path: join(&comps),
                existed: comps.len(),
                visibility: Visibility::All,
            });
            self.sequence = seq;
        }
    }

    /// What a pending response whose buffer holds `capacity` bytes is charged to the opener of
    /// `file`, on top of what its files' responses are charged now (`EDQUOT` past its
    /// `uid_max_bytes`, unless it holds `CAP_SYS_ADMIN`).
    fn charge_response(&self, file: FileId, capacity: usize) -> Result<u64, Errno> {
        let bytes = capacity.saturating_sub(PENDING_FREE) as u64;
        if bytes == 0 {
            return Ok(0);
        }
        let caller = self.caller(file);
        let charged: u64 = self
            .files
            .values()
            .filter(|f| f.caller.uid == caller.uid)
            .map(|f| f.charged)
            .sum();
        if !caller.admin && charged + bytes > self.limits.uid_max_bytes {
            return Err(Errno::DQUOT);
        }
        Ok(bytes)
    }

    /// Runs a text command: its response and what it is charged, or the errno of the `write()`.
    fn run_text(&mut self, file: FileId, line: &[u8]) -> Result<(Vec<u8>, u64), Errno> {
        let limits = self.limits.store;
        if line.len() > longest_text(&limits) {
            return Err(Errno::TOOBIG);
        }
        let cmd = crate::text::parse(line)?;
        let caller = self.caller(file);
        let parse = |p: &[u8]| parse_path(p, &limits);
        let too_big = |v: &[u8]| {
            if v.len() > limits.max_value_len as usize {
                Err(Errno::TOOBIG)
            } else {
                Ok(())
            }
        };
        let mut out = Vec::new();
        // The capacity of the response's buffer in the module, when it may be past
        // PENDING_FREE; and for `seq`, the charge made before the node is.
        let mut capacity = 0;
        let mut charged = None;
        use crate::text::Command as C;
        match cmd {
            C::Set {
                path,
                value,
                create,
                mode,
            } => {
                let comps = parse(path)?;
                too_big(value)?;
                let opts = SetOpts {
                    create_only: create,
                    mode,
                    ..Default::default()
                };
                self.tree_set(&comps, value, opts, caller)?;
            }
            C::Get { path } => {
                let (value, _) = self.get_value(caller, path)?;
                out.extend_from_slice(value);
                out.push(b'\n');
                capacity = out.len();
            }
            C::Delete { path, recursive } => {
                let comps = parse(path)?;
                self.tree_delete(&comps, recursive, None, caller)?;
            }
            C::List { path } => {
                let comps = parse(path)?;
                out = self.text_list_page(file, comps, None)?;
                capacity = out.len();
            }
            C::Stat { path } => {
                let comps = parse(path)?;
                let s = self.reach(&comps, caller)?.stat();
                out = format!(
                    "version={} child_version={} ctime_ns=T mtime_ns=T children={} \
                     value_len={} has_value={} uid={} mode={} session={}\n",
                    s.version,
                    s.child_version,
                    s.num_children,
                    s.value_len,
                    u32::from(s.flags & abi::STAT_HAS_VALUE != 0),
                    s.uid,
                    s.mode,
                    s.session
                )
                .into_bytes();
            }
            C::SetIfVersion {
                path,
                version,
                value,
            } => {
                let comps = parse(path)?;
                too_big(value)?;
                let opts = SetOpts {
                    if_version: Some(version),
                    ..Default::default()
                };
                self.tree_set(&comps, value, opts, caller)?;
            }
            C::DeleteIfVersion {
                path,
                recursive,
                version,
            } => {
                let comps = parse(path)?;
                self.tree_delete(&comps, recursive, Some(version), caller)?;
            }
            C::Create {
                path,
                value,
                ephemeral,
                sequential,
                mode,
            } => {
                let comps = parse(path)?;
                if sequential {
                    // Room for the response, charged before the node is made.
                    charged = Some(self.charge_response(file, join(&comps).len() * 4 + 11)?);
                }
                too_big(value)?;
                let session = self.files[&file].session;
                let opts = SetOpts {
                    create_only: true,
                    ephemeral: ephemeral.then_some(session),
                    mode,
                    ..Default::default()
                };
                let (_, number) = self.apply_set(file, path, &comps, value, opts, sequential)?;
                if sequential {
                    push_escaped(&mut out, &join(&comps));
                    out.extend_from_slice(format!("{number:010}\n").as_bytes());
                }
            }
            C::Watch {
                path,
                subtree,
                after,
            } => {
                let comps = parse(path)?;
                match self.watch(caller, &comps, subtree, after)? {
                    Found::Nothing => panic!("a text watch that would block was generated"),
                    Found::Lost(current) => out = format!("{current} lost\n").into_bytes(),
                    Found::Event(e) => {
                        let kind = match e.kind {
                            abi::EVENT_CREATED => "created",
                            abi::EVENT_CHANGED => "changed",
                            _ => "deleted",
                        };
                        out = format!("{} {kind} ", e.version).into_bytes();
                        push_escaped(&mut out, &e.path);
                        out.push(b'\n');
                        capacity = escaped_len(&e.path) + 30;
                    }
                }
            }
            C::Stats => {
                let s = self.stats(caller.uid);
                out = format!(
                    "nodes={} bytes={} max_nodes={} max_bytes={} max_value_len={} \
                     max_path_len={} max_depth={} sequence={} uid_nodes={} uid_bytes={} \
                     uid_max_nodes={} uid_max_bytes={} dev_mode=0{:03o} reserve_nodes={} \
                     reserve_bytes={} watch_events={} watch_bytes={}\n",
                    s.nodes,
                    s.bytes,
                    s.max_nodes,
                    s.max_bytes,
                    s.max_value_len,
                    s.max_path_len,
                    s.max_depth,
                    s.sequence,
                    s.uid_nodes,
                    s.uid_bytes,
                    s.uid_max_nodes,
                    s.uid_max_bytes,
                    s.params.dev_mode,
                    s.params.reserve_nodes,
                    s.params.reserve_bytes,
                    s.params.watch_events,
                    s.params.watch_bytes
                )
                .into_bytes();
            }
        }
        let charged = match charged {
            Some(charged) => charged,
            None => self.charge_response(file, capacity)?,
        };
        Ok((out, charged))
    }

    /// One page of a text listing (`list_page` in `src/text.rs`): the escaped names, one per
    /// line, of the children after `after`, as many as `TEXT_LIST_PAGE` bytes of names hold;
    /// notes where the next page starts in the file.
    fn text_list_page(
        &mut self,
        file: FileId,
        comps: Vec<Vec<u8>>,
        after: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, Errno> {
        let caller = self.caller(file);
        let (names, more, _) = self.list_names(caller, &comps, after.as_deref(), TEXT_LIST_PAGE)?;
        let mut out = Vec::new();
        for n in &names {
            push_escaped(&mut out, n);
            out.push(b'\n');
        }
        let next = match names.last() {
            Some(last) if more => Some((comps, last.clone())),
            _ => None,
        };
        self.files.get_mut(&file).unwrap().next = next;
        Ok(out)
    }

    /// Whether `caller` could not read the root at some version from `after` on (so that a
    /// watch of it could fail with `EACCES`).
    pub fn root_unreadable_after(&self, after: u64, caller: Caller) -> bool {
        let from = self
            .root_history
            .partition_point(|&(v, _, _)| v <= after)
            .saturating_sub(1);
        self.root_history[from..]
            .iter()
            .any(|&(_, owner, mode)| !(caller.owns(owner) || mode & abi::MODE_OTHERS_READ != 0))
    }

    /// Notes that `op` failed with an injected `ENOMEM` (and changed nothing in the store): a
    /// `read()` fails so only when it fetched a listing's next page, and the listing is then
    /// over (the module took its cursor).
    pub fn failed_with_enomem(&mut self, op: &AOp) {
        if let AOp::Read { file, .. } = op {
            if let Some(f) = self.files.get_mut(file) {
                f.next = None;
            }
        }
    }

    /// Whether a text command would block (a `watch` with nothing to report yet).
    pub fn text_blocks(&self, file: FileId, line: &[u8]) -> bool {
        if line.len() > longest_text(&self.limits.store) {
            return false;
        }
        let Ok(crate::text::Command::Watch {
            path,
            subtree,
            after,
        }) = crate::text::parse(line)
        else {
            return false;
        };
        let Ok(comps) = parse_path(path, &self.limits.store) else {
            return false;
        };
        matches!(
            self.watch(self.caller(file), &comps, subtree, after),
            Ok(Found::Nothing)
        )
    }

    /// A batch's reply under fault injection, with each get that failed with `-ENOMEM` where
    /// it needs a kernel buffer (a path over 128 bytes, a value over 256) replaced by what the
    /// model predicts for it, and how many were; other replies unchanged.
    pub fn merge_batch_enomem(&self, op: &AOp, got: AReply) -> (AReply, u32) {
        let (AOp::Batch { file, gets, flags }, AReply::Batch(mut results)) = (op, got.clone())
        else {
            return (got, 0);
        };
        let AReply::Batch(want) = self.ioc_batch(*file, gets, *flags) else {
            return (got, 0);
        };
        let mut n = 0;
        for (i, r) in results.iter_mut().enumerate() {
            let allocates = gets[i].path.len() > 128
                || want
                    .get(i)
                    .is_some_and(|w| w.error == 0 && w.value_len > 256);
            if allocates
                && r.error == -Errno::NOMEM.raw_os_error()
                && r.value_len == 0
                && r.version == 0
            {
                if let Some(w) = want.get(i) {
                    *r = w.clone();
                    n += 1;
                }
            }
        }
        (AReply::Batch(results), n)
    }

    /// The answer to a query (stats, check, stat or get) from root with `CAP_SYS_ADMIN`, on a
    /// file outside the model.
    pub fn admin_query(&self, op: &AOp) -> AReply {
        let admin = Caller {
            uid: 0,
            admin: true,
        };
        match op {
            AOp::Stats { .. } => AReply::Stats(self.stats(0)),
            AOp::Check { .. } => {
                let (nodes, bytes, owners) = self.check_counts();
                AReply::Check {
                    nodes,
                    bytes,
                    owners,
                }
            }
            AOp::Stat { path, .. } => self.ioc_stat(admin, path),
            AOp::Get { path, .. } => match self
                .path_len_ok(path)
                .and_then(|()| self.get_value(admin, path))
            {
                Ok((value, version)) => AReply::Value {
                    value: value.to_vec(),
                    version,
                },
                Err(e) => AReply::Err(e),
            },
            other => panic!("admin_query({other}) is not a query"),
        }
    }

    /// Applies `op` (except `Open`, which [`AbiModel::open`] registers) and returns the reply
    /// the module must give.
    pub fn apply(&mut self, op: &AOp) -> AReply {
        match op {
            AOp::Open { .. } => AReply::Opened,
            AOp::Close { file } => {
                self.release(*file);
                AReply::Done
            }
            AOp::HandOff { file } => {
                self.files.get_mut(file).unwrap().held = true;
                AReply::Done
            }
            AOp::Version { file } => AReply::Version {
                abi: abi::ABI_VERSION,
                session: self.files[file].session,
            },
            AOp::Set {
                file,
                path,
                value,
                flags,
                mode,
                expected,
            } => self.ioc_set(*file, path, value, *flags, *mode, *expected),
            AOp::Get {
                file,
                path,
                buf_len,
                flags,
            } => self.ioc_get(*file, path, *buf_len, *flags),
            AOp::Delete {
                file,
                path,
                flags,
                expected,
            } => self.ioc_delete(*file, path, *flags, *expected),
            AOp::List {
                file,
                path,
                after,
                buf_len,
                flags,
            } => self.ioc_list(*file, path, after, *buf_len, *flags),
            AOp::Stat { file, path } => self.ioc_stat(self.caller(*file), path),
            AOp::Stats { file } => AReply::Stats(self.stats(self.caller(*file).uid)),
            AOp::Check { file } => {
                if !self.caller(*file).admin {
                    return AReply::Err(Errno::PERM);
                }
                let (nodes, bytes, owners) = self.check_counts();
                AReply::Check {
                    nodes,
                    bytes,
                    owners,
                }
            }
            AOp::Watch {
                file,
                path,
                after,
                flags,
                buf_len,
            } => self.ioc_watch(*file, path, *after, *flags, *buf_len),
            AOp::Txn { file, steps, flags } => self.ioc_txn(*file, steps, *flags),
            AOp::Batch { file, gets, flags } => self.ioc_batch(*file, gets, *flags),
            AOp::Text { file, command } => {
                // A listing notes its next page; any other response has none; a failed
                // command leaves the pending response as it was.
                let old_next = self.files.get_mut(file).unwrap().next.take();
                match self.run_text(*file, command) {
                    Ok((out, charged)) => {
                        let f = self.files.get_mut(file).unwrap();
                        f.pending = out;
                        f.pos = 0;
                        f.charged = charged;
                        AReply::Done
                    }
                    Err(e) => {
                        self.files.get_mut(file).unwrap().next = old_next;
                        AReply::Err(e)
                    }
                }
            }
            AOp::Read { file, len } => {
                if *len == 0 {
                    return AReply::Read(Vec::new());
                }
                let f = &self.files[file];
                if f.pos == f.pending.len() {
                    // A listing's next page, fetched when the one before is consumed.
                    if let Some((comps, after)) = self.files.get_mut(file).unwrap().next.take() {
                        let page =
                            self.text_list_page(*file, comps, Some(after))
                                .and_then(|page| {
                                    let charged = self.charge_response(*file, page.len())?;
                                    Ok((page, charged))
                                });
                        match page {
                            Ok((page, charged)) => {
                                let f = self.files.get_mut(file).unwrap();
                                f.pending = page;
                                f.pos = 0;
                                f.charged = charged;
                            }
                            Err(e) => {
                                // The listing ends there.
                                self.files.get_mut(file).unwrap().next = None;
                                return AReply::Err(e);
                            }
                        }
                    }
                }
                let f = self.files.get_mut(file).unwrap();
                let rest = &f.pending[f.pos..];
                let n = rest.len().min(*len as usize);
                let out = rest[..n].to_vec();
                f.pos += n;
                if f.pos == f.pending.len() {
                    f.pending.clear();
                    f.pos = 0;
                    f.charged = 0;
                }
                AReply::Read(out)
            }
            AOp::BadIoctl { .. } => AReply::Err(Errno::NOTTY),
        }
    }
}
