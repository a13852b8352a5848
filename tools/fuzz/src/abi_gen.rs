//! The whole-ABI operation generator: random requests of every kind over a small alphabet of
//! names, from several files opened as several users, aimed (by reading the model) at nodes
//! that exist, versions that are current, changes that are in the watch log, and buffers around
//! the sizes needed; mixed with invalid paths, flags, fields and text commands.
//!
//! It reads the model but never the device: a seed gives the same operations as long as the
//! device agrees with the model.

use pathstore::abi;

use crate::abi_model::{AbiModel, Node};
use crate::abi_op::{AOp, BatchGet, FileId, TxnStep};
use crate::model::{join, MAX_NAME_LEN};
use crate::rng::Rng;

/// What the generator may produce.
#[derive(Clone, Debug)]
pub struct AbiGenConfig {
    /// Keep every kernel allocation within a page (fault injection: a failed vmalloc warns).
    pub page_sized: bool,
    /// Users that files are opened as.
    pub uids: Vec<u32>,
    /// Most files open at once.
    pub max_files: usize,
    /// Beyond this many nodes, recursive deletes become frequent.
    pub soft_max_nodes: u64,
    /// Hand files to child processes now and then.
    pub hand_off: bool,
    /// Kinds of operations never generated ([`AOp::kind`] names).
    pub exclude: Vec<String>,
}

const NAMES: &[&[u8]] = &[b"a", b"b", b"c", b"d"];
const MORE: &[&[u8]] = &[
    b"e", b"q", b"aa", b"ab", b"a b", b"\xff", b"x\n", b".a", b"...", b"a\\b", b"~\x7f",
];
const PAGE: usize = 4096;

/// The generator.
#[derive(Debug)]
pub struct AbiGenerator {
    rng: Rng,
    cfg: AbiGenConfig,
    next_file: FileId,
}

impl AbiGenerator {
    /// A generator for `seed`; file numbers start at `first_file`.
    pub fn new(seed: u64, cfg: AbiGenConfig, first_file: FileId) -> Self {
        AbiGenerator {
            rng: Rng::new(seed, 0xAB1),
            cfg,
            next_file: first_file,
        }
    }

    /// The random generator (for choices outside the operations).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    fn name(&mut self) -> Vec<u8> {
        match self.rng.weighted(&[80, 18, 2]) {
            0 => self.rng.pick(NAMES).to_vec(),
            1 => self.rng.pick(MORE).to_vec(),
            _ => vec![b'L'; self.rng.range_usize(200, MAX_NAME_LEN)],
        }
    }

    /// Components of a path: often an existing node, sometimes new names.
    fn comps(&mut self, m: &AbiModel) -> Vec<Vec<u8>> {
        let mut comps = Vec::new();
        if self.rng.percent(60) {
            let mut node: &Node = m.root();
            while !node.children.is_empty()
                && !self.rng.percent(if comps.is_empty() { 3 } else { 35 })
            {
                let i = self.rng.below(node.children.len() as u64) as usize;
                let (name, child) = node.children.iter().nth(i).unwrap();
                comps.push(name.clone());
                node = child;
            }
            if self.rng.percent(30) {
                comps.push(self.name());
            }
        } else {
            let depth = self.rng.weighted(&[2, 40, 35, 18, 5]);
            for _ in 0..depth {
                comps.push(self.name());
            }
            if self.rng.per_mille(5) {
                let room = m.limits().store.max_depth as usize;
                comps = vec![b"d".to_vec(); room.saturating_sub(self.rng.range_usize(0, 1)).max(1)];
            }
        }
        comps
    }

    /// A path: mostly valid, sometimes with a trailing `/`, sometimes invalid.
    fn path(&mut self, m: &AbiModel) -> Vec<u8> {
        let comps = self.comps(m);
        let mut path = join(&comps);
        if self.rng.percent(4) {
            return self.invalid(m, path);
        }
        if path != b"/" && self.rng.percent(4) {
            path.push(b'/');
        }
        path
    }

    fn invalid(&mut self, m: &AbiModel, mut path: Vec<u8>) -> Vec<u8> {
        let l = m.limits().store;
        match self.rng.below(7) {
            0 => Vec::new(),
            1 => path[1..].to_vec(),
            2 => {
                path.extend_from_slice(b"//x");
                path
            }
            3 => {
                path.extend_from_slice(b"/../x");
                path
            }
            4 => {
                path.extend_from_slice(b"/a\0");
                path
            }
            5 => {
                path.push(b'/');
                path.extend(std::iter::repeat_n(b'N', MAX_NAME_LEN + 1));
                path
            }
            _ => {
                while path.len() <= l.max_path_len as usize {
                    path.extend_from_slice(b"/x");
                }
                path
            }
        }
    }

    fn value(&mut self, m: &AbiModel) -> Vec<u8> {
        let max = m.limits().store.max_value_len as usize;
        // Under fault injection every kernel buffer stays within a page: a value of at most
        // 2048 bytes also keeps the text get's response (value and `\n`, a buffer that doubles
        // when it grows) within one.
        let cap = if self.cfg.page_sized {
            max.min(PAGE / 2)
        } else {
            max
        };
        let len = match self.rng.weighted(&[10, 60, 20, 6, 2, 2]) {
            0 => 0,
            1 => self.rng.range_usize(1, 8),
            2 => self.rng.range_usize(9, 300),
            3 => self.rng.range_usize(300, cap.max(300)),
            4 => cap,
            _ => max + self.rng.range_usize(1, 4),
        };
        let len = if len > max { len } else { len.min(cap) };
        let b = b'a' + self.rng.below(26) as u8;
        let mut v = vec![b; len];
        if self.rng.percent(20) {
            self.rng.fill(&mut v);
        }
        v
    }

    /// A text-safe value (no `\n`).
    fn text_value(&mut self, m: &AbiModel) -> Vec<u8> {
        let mut v = self.value(m);
        for b in &mut v {
            if *b == b'\n' {
                *b = b' ';
            }
        }
        let room = crate::abi_model::longest_text(&m.limits().store);
        let cap = if self.cfg.page_sized {
            PAGE - 300
        } else {
            room
        };
        if v.len() > cap && self.rng.percent(90) {
            v.truncate(cap);
        }
        v
    }

    /// A version to compare with: mostly the node's, sometimes another.
    fn version_for(&mut self, m: &AbiModel, path: &[u8]) -> u64 {
        let current = m.node(path).map(|n| n.version);
        match (self.rng.weighted(&[70, 15, 15]), current) {
            (0, Some(v)) => v,
            (1, Some(v)) => v.saturating_sub(self.rng.range(1, 3)),
            _ => self.rng.range(1, m.sequence() + 2),
        }
    }

    fn mode(&mut self) -> u32 {
        if self.rng.percent(3) {
            4
        } else {
            self.rng.below(4) as u32
        }
    }

    fn buf_len(&mut self, need: usize) -> u32 {
        let r = &mut self.rng;
        let len = match r.weighted(&[60, 15, 10, 15]) {
            0 => need + r.range_usize(0, 100),
            1 => need,
            2 => need.saturating_sub(1),
            _ => r.range_usize(0, 64),
        };
        let cap = if self.cfg.page_sized { PAGE } else { 70_000 };
        len.min(cap) as u32
    }

    /// A watch's `after`: recent, current, or (when changes were forgotten) forgotten.
    fn after(&mut self, m: &AbiModel) -> u64 {
        let seq = m.sequence();
        let low = m.start().max(m.forgotten());
        match self.rng.weighted(&[60, 25, 10, 5]) {
            0 => seq.saturating_sub(self.rng.range(1, 20)).max(low),
            1 => self.rng.range(low, seq),
            2 => seq + self.rng.below(2),
            _ if m.forgotten() > 0 => self.rng.below(m.forgotten()),
            _ => seq,
        }
    }

    /// The next operation. `usable` are the files open for requests (with their uids); `open`
    /// all files, handed off or not.
    pub fn next_op(&mut self, m: &AbiModel, usable: &[FileId], open: usize) -> AOp {
        loop {
            let op = self.any_op(m, usable, open);
            if !self.cfg.exclude.iter().any(|k| k == op.kind()) {
                return op;
            }
        }
    }

    fn any_op(&mut self, m: &AbiModel, usable: &[FileId], open: usize) -> AOp {
        let crowded = m.nodes() > self.cfg.soft_max_nodes;
        let can_open = open < self.cfg.max_files;
        let weights = [
            14,                                   // 0 set
            4,                                    // 1 create
            4,                                    // 2 set with mode
            6,                                    // 3 compare-and-set
            4,                                    // 4 ephemeral
            4,                                    // 5 sequential
            12,                                   // 6 get
            5,                                    // 7 delete
            if crowded { 30 } else { 3 },         // 8 delete -r
            4,                                    // 9 conditional delete
            7,                                    // 10 list
            6,                                    // 11 stat
            3,                                    // 12 stats
            1,                                    // 13 check
            1,                                    // 14 version
            6,                                    // 15 watch
            7,                                    // 16 txn
            5,                                    // 17 batch
            16,                                   // 18 text
            5,                                    // 19 read
            1,                                    // 20 bad ioctl
            2,                                    // 21 bad flags
            if can_open { 2 } else { 0 },         // 22 open
            if usable.len() > 1 { 2 } else { 0 }, // 23 close
            if self.cfg.hand_off && usable.len() > 1 {
                1
            } else {
                0
            }, // 24 hand off
        ];
        let file = *self.rng.pick(usable);
        match self.rng.weighted(&weights) {
            k @ 0..=5 => {
                let path = self.path(m);
                let value = self.value(m);
                let (flags, mode, expected) = match k {
                    0 => (0, 0, 0),
                    1 => (abi::SET_CREATE, 0, 0),
                    2 => (abi::SET_MODE | (self.rng.below(2) as u32), self.mode(), 0),
                    3 => (abi::SET_IF_VERSION, 0, self.version_for(m, &path)),
                    4 => {
                        let extra = if self.rng.percent(20) {
                            abi::SET_MODE
                        } else {
                            0
                        };
                        let mode = if extra != 0 { self.mode() } else { 0 };
                        (abi::SET_EPHEMERAL | extra, mode, 0)
                    }
                    _ => {
                        let extra = *self.rng.pick(&[0, 0, abi::SET_EPHEMERAL, abi::SET_MODE]);
                        let mode = if extra == abi::SET_MODE {
                            self.mode()
                        } else {
                            0
                        };
                        (abi::SET_SEQUENTIAL | extra, mode, 0)
                    }
                };
                AOp::Set {
                    file,
                    path,
                    value,
                    flags,
                    mode,
                    expected,
                }
            }
            6 => {
                let path = self.path(m);
                let need = m
                    .node(&path)
                    .and_then(|n| n.value.as_ref())
                    .map_or(0, Vec::len);
                let buf_len = self.buf_len(need);
                AOp::Get {
                    file,
                    path,
                    buf_len,
                    flags: 0,
                }
            }
            k @ 7..=9 => {
                let path = if k == 8 && crowded && self.rng.percent(50) {
                    let top = m.root().children.keys().next().cloned();
                    join(&top.into_iter().collect::<Vec<_>>())
                } else {
                    self.path(m)
                };
                let (flags, expected) = match k {
                    7 => (0, 0),
                    8 => (abi::DELETE_RECURSIVE, 0),
                    _ => (
                        abi::DELETE_IF_VERSION | (self.rng.below(2) as u32),
                        self.version_for(m, &path),
                    ),
                };
                AOp::Delete {
                    file,
                    path,
                    flags,
                    expected,
                }
            }
            10 => {
                let path = self.path(m);
                let names: Vec<Vec<u8>> = m
                    .node(&path)
                    .map(|n| n.children.keys().cloned().collect())
                    .unwrap_or_default();
                let after = match self.rng.weighted(&[50, 25, 15, 10]) {
                    1 if !names.is_empty() => self.rng.pick(&names).clone(),
                    2 => self.name(),
                    3 => self
                        .rng
                        .pick(&[&b"."[..], b"a/b", b"a\0", &[b'c'; MAX_NAME_LEN + 1]])
                        .to_vec(),
                    _ => Vec::new(),
                };
                let need: usize = names.iter().map(|n| n.len() + 1).sum();
                let buf_len = self.buf_len(need);
                AOp::List {
                    file,
                    path,
                    after,
                    buf_len,
                    flags: 0,
                }
            }
            11 => AOp::Stat {
                file,
                path: self.path(m),
            },
            12 => AOp::Stats { file },
            13 => AOp::Check { file },
            14 => AOp::Version { file },
            15 => {
                // Often a node that changed lately, so that watches find something.
                let recent = m.log().len().saturating_sub(20);
                let path = if m.log().len() > recent && self.rng.percent(50) {
                    let i = self.rng.range_usize(recent, m.log().len() - 1);
                    m.log()[i].path.clone()
                } else {
                    self.path(m)
                };
                let flags = if self.rng.percent(50) {
                    abi::WATCH_SUBTREE
                } else {
                    0
                };
                let after = self.after(m);
                let buf_len = self.buf_len(12);
                AOp::Watch {
                    file,
                    path,
                    after,
                    flags,
                    buf_len,
                }
            }
            16 => self.txn(m, file),
            17 => {
                let count = match self.rng.weighted(&[90, 4, 3, 3]) {
                    0 => self.rng.range_usize(1, 8),
                    1 => 0,
                    2 => abi::GET_BATCH_MAX as usize,
                    _ => abi::GET_BATCH_MAX as usize + 1,
                };
                let gets = (0..count)
                    .map(|_| {
                        let path = self.path(m);
                        let need = m
                            .node(&path)
                            .and_then(|n| n.value.as_ref())
                            .map_or(0, Vec::len);
                        let buf_len = self.buf_len(need).min(PAGE as u32);
                        BatchGet { path, buf_len }
                    })
                    .collect();
                AOp::Batch {
                    file,
                    gets,
                    flags: 0,
                }
            }
            18 => {
                let command = self.text(m, file);
                AOp::Text { file, command }
            }
            19 => {
                let pending = m.files()[&file].pending.len();
                let len = if m.files()[&file]
                    .pending
                    .windows(9)
                    .any(|w| w == b"ctime_ns=")
                {
                    PAGE as u32
                } else {
                    match self.rng.weighted(&[60, 30, 10]) {
                        0 => (pending + 10) as u32,
                        1 => self.rng.range(1, 8) as u32,
                        _ => 0,
                    }
                };
                AOp::Read { file, len }
            }
            20 => {
                let cmd = match self.rng.below(5) {
                    0 => abi::IOC_GET ^ (1 << 16),
                    1 => abi::IOC_SET & !(1u32 << 31),
                    2 => (abi::IOC_STAT & !0xff00) | (0x42 << 8),
                    3 => 0x5401,
                    _ => (abi::IOC_VERSION & !0xff) | 0x0B,
                };
                AOp::BadIoctl { file, cmd }
            }
            21 => self.bad_flags(m, file),
            22 => {
                let uid = *self.rng.pick(&self.cfg.uids.clone());
                self.next_file += 1;
                AOp::Open {
                    file: self.next_file - 1,
                    uid,
                }
            }
            23 => AOp::Close { file },
            _ => AOp::HandOff { file },
        }
    }

    fn bad_flags(&mut self, m: &AbiModel, file: FileId) -> AOp {
        let path = self.path(m);
        let bogus = *self.rng.pick(&[0x40u32, 0x100, 0x8000_0000]);
        match self.rng.below(9) {
            0 => AOp::Set {
                file,
                path,
                value: b"x".to_vec(),
                flags: bogus,
                mode: 0,
                expected: 0,
            },
            1 => AOp::Set {
                file,
                path,
                value: b"x".to_vec(),
                flags: *self.rng.pick(&[
                    abi::SET_IF_VERSION | abi::SET_CREATE,
                    abi::SET_IF_VERSION | abi::SET_SEQUENTIAL,
                    0,
                ]),
                mode: 0,
                expected: self.rng.below(3),
            },
            2 => AOp::Set {
                file,
                path,
                value: b"x".to_vec(),
                flags: 0,
                mode: 1,
                expected: 0,
            },
            3 => AOp::Delete {
                file,
                path,
                flags: bogus,
                expected: 0,
            },
            4 => AOp::Delete {
                file,
                path,
                flags: abi::DELETE_RECURSIVE,
                expected: 5,
            },
            5 => AOp::Get {
                file,
                path,
                buf_len: 16,
                flags: 1,
            },
            6 => AOp::List {
                file,
                path,
                after: Vec::new(),
                buf_len: 16,
                flags: 1,
            },
            7 => AOp::Watch {
                file,
                path,
                after: 0,
                flags: 2,
                buf_len: 16,
            },
            _ => AOp::Txn {
                file,
                steps: vec![TxnStep {
                    op: abi::TXN_CHECK_ABSENT,
                    path,
                    value: Vec::new(),
                    flags: 0,
                    expected: 0,
                    mode: 0,
                    pad: 0,
                }],
                flags: 1,
            },
        }
    }

    fn txn(&mut self, m: &AbiModel, file: FileId) -> AOp {
        let count = match self.rng.weighted(&[97, 1, 1, 1]) {
            0 => self.rng.range_usize(1, 6),
            1 => 0,
            2 => abi::TXN_MAX_OPS as usize,
            _ => abi::TXN_MAX_OPS as usize + 1,
        };
        // One transaction in ten gets a malformed step.
        let bad_at =
            (count > 0 && self.rng.below(10) == 0).then(|| self.rng.below(count as u64) as usize);
        let mut steps = Vec::with_capacity(count);
        for _ in 0..count {
            let path = self.path(m);
            let mut s = TxnStep {
                op: 0,
                path,
                value: Vec::new(),
                flags: 0,
                expected: 0,
                mode: 0,
                pad: 0,
            };
            let kind = if Some(steps.len()) == bad_at {
                4
            } else {
                self.rng.weighted(&[15, 10, 40, 25])
            };
            match kind {
                0 => {
                    s.op = abi::TXN_CHECK_VERSION;
                    s.expected = self.version_for(m, &s.path);
                }
                1 => s.op = abi::TXN_CHECK_ABSENT,
                2 => {
                    s.op = abi::TXN_SET;
                    s.value = self.value(m);
                    if s.value.len() > PAGE && self.cfg.page_sized {
                        s.value.truncate(PAGE);
                    }
                    s.flags = *self.rng.pick(&[
                        0,
                        0,
                        abi::SET_CREATE,
                        abi::SET_MODE,
                        abi::SET_IF_VERSION,
                        abi::SET_IF_VERSION | abi::SET_MODE,
                    ]);
                    if s.flags & abi::SET_MODE != 0 {
                        s.mode = self.mode();
                    }
                    if s.flags & abi::SET_IF_VERSION != 0 {
                        s.expected = self.version_for(m, &s.path);
                    }
                }
                3 => {
                    s.op = abi::TXN_DELETE;
                    s.flags = self.rng.below(4) as u32;
                    if s.flags & abi::DELETE_IF_VERSION != 0 {
                        s.expected = self.version_for(m, &s.path);
                    }
                }
                _ => {
                    // Malformed in one way.
                    s.op = abi::TXN_SET;
                    s.value = b"v".to_vec();
                    match self.rng.below(7) {
                        0 => s.op = 9,
                        1 => s.flags = abi::SET_EPHEMERAL,
                        2 => s.flags = abi::SET_SEQUENTIAL,
                        3 => s.pad = 1,
                        4 => {
                            s.op = abi::TXN_DELETE;
                            s.path = b"/".to_vec();
                            s.value.clear();
                        }
                        5 => s.op = abi::TXN_CHECK_ABSENT,
                        _ => {
                            s.op = abi::TXN_CHECK_ABSENT;
                            s.value.clear();
                            s.expected = 1;
                        }
                    }
                }
            }
            steps.push(s);
        }
        AOp::Txn {
            file,
            steps,
            flags: 0,
        }
    }

    /// A text command: mostly well-formed, sometimes malformed.
    fn text(&mut self, m: &AbiModel, file: FileId) -> Vec<u8> {
        let path = self.path(m);
        let mut c: Vec<u8> = Vec::new();
        let push = |c: &mut Vec<u8>, parts: &[&[u8]]| {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    c.push(b' ');
                }
                c.extend_from_slice(p);
            }
        };
        let kind = self
            .rng
            .weighted(&[14, 4, 12, 5, 3, 5, 6, 3, 5, 3, 4, 4, 3, 4]);
        // `-m MODE` before the path of set, create, ephemeral and seq.
        let mode: &[&[u8]] = match self.rng.weighted(&[70, 8, 8, 8, 3, 3]) {
            0 => &[],
            1 => &[b"-m", b"private"],
            2 => &[b"-m", b"read"],
            3 => &[b"-m", b"read-write"],
            4 => &[b"-m", b"write"],
            _ => &[b"-m"],
        };
        match kind {
            0 | 1 => {
                let v = self.text_value(m);
                let verb: &[u8] = if kind == 0 { b"set" } else { b"create" };
                let mut parts = vec![verb];
                parts.extend_from_slice(mode);
                parts.extend_from_slice(&[&path, &v]);
                push(&mut c, &parts);
            }
            2 => push(&mut c, &[b"get", &path]),
            3 => push(&mut c, &[b"rm", &path]),
            4 => push(&mut c, &[b"rm", b"-r", &path]),
            5 if !self.cfg.page_sized => push(&mut c, &[b"ls", &path]),
            6 => push(&mut c, &[b"stat", &path]),
            7 => c.extend_from_slice(b"stats"),
            8 => {
                let v = self.version_for(m, &path).to_string();
                let val = self.text_value(m);
                push(&mut c, &[b"set-if", &path, v.as_bytes(), &val]);
            }
            9 => {
                let v = self.version_for(m, &path).to_string();
                if self.rng.percent(30) {
                    push(&mut c, &[b"rm-if", b"-r", &path, v.as_bytes()]);
                } else {
                    push(&mut c, &[b"rm-if", &path, v.as_bytes()]);
                }
            }
            10 | 11 => {
                let val = self.text_value(m);
                let verb: &[u8] = if kind == 10 { b"ephemeral" } else { b"seq" };
                let mut parts = vec![verb];
                parts.extend_from_slice(mode);
                parts.extend_from_slice(&[&path, &val]);
                push(&mut c, &parts);
            }
            12 => {
                let after = self.after(m).to_string();
                let mut cmd = Vec::new();
                if self.rng.percent(50) {
                    push(&mut cmd, &[b"watch", b"-r", &path, after.as_bytes()]);
                } else {
                    push(&mut cmd, &[b"watch", &path, after.as_bytes()]);
                }
                if m.text_blocks(file, &cmd) {
                    push(&mut c, &[b"stat", &path]);
                } else {
                    c = cmd;
                }
            }
            _ => {
                c = self
                    .rng
                    .pick(&[
                        &b""[..],
                        b"\n",
                        b"SET /a 1",
                        b"get  /a",
                        b"get /a extra",
                        b"set",
                        b"stats ",
                        b"stats\r\n",
                        b"rm -r",
                        b"set-if /a x 1",
                        b"set-if /a 123456789012345678901 v",
                        b"watch /a",
                        b"get /a\n\n",
                        b"\t get /a",
                        b"set /a b\nc",
                        b"set -m",
                        b"set -m read",
                        b"create -m  /a v",
                        b"seq -m private",
                    ])
                    .to_vec();
            }
        }
        if !c.is_empty() && self.rng.percent(50) {
            c.push(b'\n');
        }
        if self.rng.per_mille(3) {
            // Longer than any valid command: E2BIG before anything is read.
            c = vec![b's'; crate::abi_model::longest_text(&m.limits().store) + 1];
        }
        c
    }
}
