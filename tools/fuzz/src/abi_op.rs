//! The operations of the whole-ABI fuzzer ([`crate::abi_fuzz`]) and their replies: every ioctl,
//! the text interface (a `write()` of one command, a `read()` of its response), unknown ioctl
//! numbers, and opening and closing files as one of several users.

use std::fmt;

use crate::op::{Bytes, ErrnoName};
use pathstore::Errno;

/// An open file of the fuzzer, by number (numbers are never reused within a run).
pub type FileId = usize;

/// One operation of a transaction (`struct pathstore_txn_op`), raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnStep {
    /// `TXN_*` (anything else is invalid).
    pub op: u32,
    /// The path, raw.
    pub path: Vec<u8>,
    /// The value (`value_len` is its length; non-empty outside `TXN_SET` is invalid).
    pub value: Vec<u8>,
    /// `SET_*` or `DELETE_*` flags.
    pub flags: u32,
    /// `expected_version`.
    pub expected: u64,
    /// `mode`.
    pub mode: u32,
    /// `pad` (non-zero is invalid).
    pub pad: u32,
}

/// One get of a batch (`struct pathstore_get_op`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchGet {
    /// The path, raw.
    pub path: Vec<u8>,
    /// Size of the value buffer.
    pub buf_len: u32,
}

/// One request of the whole-ABI fuzzer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AOp {
    /// Opens a new file as `uid` (root with `CAP_SYS_ADMIN` for 0).
    Open {
        /// The file's number.
        file: FileId,
        /// The opener's effective uid.
        uid: u32,
    },
    /// Closes a file: its ephemeral nodes go. For a file handed off, ends the child process
    /// that holds it.
    Close {
        /// The file.
        file: FileId,
    },
    /// Hands the file to a child process and closes it here: its ephemeral nodes stay while
    /// the child holds the inherited descriptor.
    HandOff {
        /// The file.
        file: FileId,
    },
    /// `IOC_VERSION`.
    Version {
        /// The file.
        file: FileId,
    },
    /// `IOC_SET`.
    Set {
        /// The file.
        file: FileId,
        /// The path, raw.
        path: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// `SET_*` flags.
        flags: u32,
        /// `mode`.
        mode: u32,
        /// `expected_version`.
        expected: u64,
    },
    /// `IOC_GET`.
    Get {
        /// The file.
        file: FileId,
        /// The path, raw.
        path: Vec<u8>,
        /// Size of the value buffer.
        buf_len: u32,
        /// `flags` (0 is the only valid value).
        flags: u32,
    },
    /// `IOC_DELETE`.
    Delete {
        /// The file.
        file: FileId,
        /// The path, raw.
        path: Vec<u8>,
        /// `DELETE_*` flags.
        flags: u32,
        /// `expected_version`.
        expected: u64,
    },
    /// One `IOC_LIST` call.
    List {
        /// The file.
        file: FileId,
        /// The path, raw.
        path: Vec<u8>,
        /// The cursor.
        after: Vec<u8>,
        /// Size of the name buffer.
        buf_len: u32,
        /// `flags` (0 is the only valid value).
        flags: u32,
    },
    /// `IOC_STAT`.
    Stat {
        /// The file.
        file: FileId,
        /// The path, raw.
        path: Vec<u8>,
    },
    /// `IOC_STORE_STATS`.
    Stats {
        /// The file.
        file: FileId,
    },
    /// `IOC_CHECK`.
    Check {
        /// The file.
        file: FileId,
    },
    /// `IOC_WATCH` with a timeout of 0 (the answer is in the log, or `ETIMEDOUT`).
    Watch {
        /// The file.
        file: FileId,
        /// The path, raw.
        path: Vec<u8>,
        /// `after`.
        after: u64,
        /// `WATCH_*` flags.
        flags: u32,
        /// Size of the changed-path buffer.
        buf_len: u32,
    },
    /// `IOC_TXN`.
    Txn {
        /// The file.
        file: FileId,
        /// The operations (`count` is their number).
        steps: Vec<TxnStep>,
        /// The header's `flags` (0 is the only valid value).
        flags: u32,
    },
    /// `IOC_GET_BATCH`.
    Batch {
        /// The file.
        file: FileId,
        /// The gets (`count` is their number).
        gets: Vec<BatchGet>,
        /// The header's `flags` (0 is the only valid value).
        flags: u32,
    },
    /// A `write()` of one text command.
    Text {
        /// The file.
        file: FileId,
        /// The bytes written.
        command: Vec<u8>,
    },
    /// A `read()` of the pending text response.
    Read {
        /// The file.
        file: FileId,
        /// Size of the buffer.
        len: u32,
    },
    /// An ioctl number the module does not know (`ENOTTY`).
    BadIoctl {
        /// The file.
        file: FileId,
        /// The number.
        cmd: u32,
    },
}

impl AOp {
    /// The file the operation uses.
    pub fn file(&self) -> FileId {
        match self {
            AOp::Open { file, .. }
            | AOp::Close { file }
            | AOp::HandOff { file }
            | AOp::Version { file }
            | AOp::Set { file, .. }
            | AOp::Get { file, .. }
            | AOp::Delete { file, .. }
            | AOp::List { file, .. }
            | AOp::Stat { file, .. }
            | AOp::Stats { file }
            | AOp::Check { file }
            | AOp::Watch { file, .. }
            | AOp::Txn { file, .. }
            | AOp::Batch { file, .. }
            | AOp::Text { file, .. }
            | AOp::Read { file, .. }
            | AOp::BadIoctl { file, .. } => *file,
        }
    }

    /// A short name of the kind of call, for statistics.
    pub fn kind(&self) -> &'static str {
        use pathstore::abi;
        match self {
            AOp::Open { .. } => "open",
            AOp::Close { .. } => "close",
            AOp::HandOff { .. } => "handoff",
            AOp::Version { .. } => "version",
            AOp::Set { flags, .. } if flags & abi::SET_SEQUENTIAL != 0 => "set-seq",
            AOp::Set { flags, .. } if flags & abi::SET_EPHEMERAL != 0 => "set-eph",
            AOp::Set { flags, .. } if flags & abi::SET_IF_VERSION != 0 => "set-if",
            AOp::Set { flags, .. } if flags & abi::SET_CREATE != 0 => "create",
            AOp::Set { flags, .. } if flags & abi::SET_MODE != 0 => "set-mode",
            AOp::Set { .. } => "set",
            AOp::Get { .. } => "get",
            AOp::Delete { flags, .. } if flags & abi::DELETE_IF_VERSION != 0 => "delete-if",
            AOp::Delete { flags, .. } if flags & abi::DELETE_RECURSIVE != 0 => "delete-r",
            AOp::Delete { .. } => "delete",
            AOp::List { .. } => "list",
            AOp::Stat { .. } => "stat",
            AOp::Stats { .. } => "stats",
            AOp::Check { .. } => "check",
            AOp::Watch { .. } => "watch",
            AOp::Txn { .. } => "txn",
            AOp::Batch { .. } => "batch",
            AOp::Text { command, .. } => text_verb(command),
            AOp::Read { .. } => "read",
            AOp::BadIoctl { .. } => "bad-ioctl",
        }
    }

    /// The valid-looking paths the operation names (for checks after an injected failure).
    pub fn paths(&self) -> Vec<Vec<u8>> {
        match self {
            AOp::Set { path, .. }
            | AOp::Get { path, .. }
            | AOp::Delete { path, .. }
            | AOp::List { path, .. }
            | AOp::Stat { path, .. }
            | AOp::Watch { path, .. } => vec![path.clone()],
            AOp::Txn { steps, .. } => steps.iter().map(|s| s.path.clone()).collect(),
            AOp::Batch { gets, .. } => gets.iter().map(|g| g.path.clone()).collect(),
            AOp::Text { command, .. } => command
                .split(|&b| b == b' ' || b == b'\n')
                .filter(|w| w.first() == Some(&b'/'))
                .map(<[u8]>::to_vec)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The kind of a text command, for statistics.
fn text_verb(command: &[u8]) -> &'static str {
    let verb = command.split(|&b| b == b' ').next().unwrap_or(b"");
    match verb {
        b"set" => "t-set",
        b"create" => "t-create",
        b"get" | b"get\n" => "t-get",
        b"rm" => "t-rm",
        b"ls" => "t-ls",
        b"stat" => "t-stat",
        b"stats" | b"stats\n" => "t-stats",
        b"set-if" => "t-set-if",
        b"rm-if" => "t-rm-if",
        b"ephemeral" => "t-ephemeral",
        b"seq" => "t-seq",
        b"watch" => "t-watch",
        _ => "t-junk",
    }
}

/// What a stat reports, but the times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullStat {
    /// `version`.
    pub version: u64,
    /// `child_version`.
    pub child_version: u64,
    /// `num_children`.
    pub num_children: u64,
    /// `value_len`.
    pub value_len: u32,
    /// `flags`.
    pub flags: u32,
    /// `uid`.
    pub uid: u32,
    /// `mode`.
    pub mode: u32,
    /// `session`.
    pub session: u64,
}

/// Store stats as one caller sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullStats {
    /// `nodes`.
    pub nodes: u64,
    /// `bytes`.
    pub bytes: u64,
    /// `sequence`.
    pub sequence: u64,
    /// `max_nodes`.
    pub max_nodes: u64,
    /// `max_bytes`.
    pub max_bytes: u64,
    /// `max_value_len`.
    pub max_value_len: u32,
    /// `max_path_len`.
    pub max_path_len: u32,
    /// `max_depth`.
    pub max_depth: u32,
    /// `uid_nodes`.
    pub uid_nodes: u64,
    /// `uid_bytes`.
    pub uid_bytes: u64,
    /// `uid_max_nodes`.
    pub uid_max_nodes: u64,
    /// `uid_max_bytes`.
    pub uid_max_bytes: u64,
    /// The other module parameters.
    pub params: StatsParams,
}

/// The module parameters store stats report besides the limits: constant while the module is
/// loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsParams {
    /// `dev_mode`.
    pub dev_mode: u32,
    /// `reserve_nodes`.
    pub reserve_nodes: u64,
    /// `reserve_bytes`.
    pub reserve_bytes: u64,
    /// `watch_events`.
    pub watch_events: u32,
    /// `watch_bytes`.
    pub watch_bytes: u32,
}

impl StatsParams {
    /// The parameters `s` reports.
    pub fn of(s: &pathstore::StoreStats) -> Self {
        Self {
            dev_mode: s.dev_mode,
            reserve_nodes: s.reserve_nodes,
            reserve_bytes: s.reserve_bytes,
            watch_events: s.watch_events,
            watch_bytes: s.watch_bytes,
        }
    }
}

/// The outcome of one get of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchResult {
    /// `error` (0 or a negative errno).
    pub error: i32,
    /// `value_len`.
    pub value_len: u32,
    /// `version`.
    pub version: u64,
    /// The bytes copied to the buffer (on success).
    pub value: Vec<u8>,
}

/// The observable result of one [`AOp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AReply {
    /// Success without anything to report (delete, close, a text command).
    Done,
    /// The call failed with this errno (and reported nothing else).
    Err(Errno),
    /// A file was opened; its session.
    Opened,
    /// `IOC_VERSION`.
    Version {
        /// `abi_version`.
        abi: u32,
        /// `session`.
        session: u64,
    },
    /// A set succeeded.
    Set {
        /// `version`.
        version: u64,
        /// `sequence` (the number of a sequential node).
        sequence: u64,
    },
    /// `ESTALE` from a set or delete, with the node's current version.
    Stale {
        /// `version`.
        current: u64,
    },
    /// A get succeeded.
    Value {
        /// The value.
        value: Vec<u8>,
        /// `version`.
        version: u64,
    },
    /// `ERANGE` from a get.
    GetRange {
        /// `value_len`.
        needed: u32,
        /// `version`.
        version: u64,
    },
    /// A list page.
    List {
        /// The names.
        names: Vec<Vec<u8>>,
        /// `LIST_MORE`.
        more: bool,
    },
    /// `ERANGE` from a list.
    ListRange {
        /// `buf_used`.
        needed: u32,
    },
    /// A stat.
    Stat(FullStat),
    /// Store stats.
    Stats(FullStats),
    /// `IOC_CHECK`.
    Check {
        /// `nodes`.
        nodes: u64,
        /// `bytes`.
        bytes: u64,
        /// `owners`.
        owners: u64,
    },
    /// A watch found a change.
    Watch {
        /// `event`.
        event: u32,
        /// `version`.
        version: u64,
        /// The changed path.
        path: Vec<u8>,
    },
    /// `ERANGE` from a watch.
    WatchRange {
        /// `event`.
        event: u32,
        /// `version`.
        version: u64,
        /// `changed_len`.
        needed: u32,
    },
    /// A transaction committed.
    TxnOk {
        /// `version`.
        version: u64,
    },
    /// A transaction failed in (or before) an operation.
    TxnErr {
        /// The errno.
        errno: Errno,
        /// `failed`.
        failed: u32,
        /// `current`.
        current: u64,
    },
    /// A batch ran.
    Batch(Vec<BatchResult>),
    /// A `read()` returned these bytes (times in `stat` lines masked).
    Read(Vec<u8>),
    /// The device answered something self-contradictory.
    Malformed(String),
}

fn short(value: &[u8]) -> String {
    if value.len() <= 24 {
        format!("{}", Bytes(value))
    } else {
        let mut h: u32 = 0x811c_9dc5;
        for &b in value {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        format!("[{} bytes, fnv {h:08x}]", value.len())
    }
}

impl fmt::Display for AOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AOp::Open { file, uid } => write!(f, "open f{file} uid={uid}"),
            AOp::Close { file } => write!(f, "close f{file}"),
            AOp::HandOff { file } => write!(f, "handoff f{file} (to a child process, then end it)"),
            AOp::Version { file } => write!(f, "f{file} version"),
            AOp::Set {
                file,
                path,
                value,
                flags,
                mode,
                expected,
            } => write!(
                f,
                "f{file} set {} {} flags={flags:#x} mode={mode} expected={expected}",
                Bytes(path),
                short(value)
            ),
            AOp::Get {
                file,
                path,
                buf_len,
                flags,
            } => write!(
                f,
                "f{file} get {} buf={buf_len} flags={flags:#x}",
                Bytes(path)
            ),
            AOp::Delete {
                file,
                path,
                flags,
                expected,
            } => write!(
                f,
                "f{file} delete {} flags={flags:#x} expected={expected}",
                Bytes(path)
            ),
            AOp::List {
                file,
                path,
                after,
                buf_len,
                flags,
            } => write!(
                f,
                "f{file} list {} after={} buf={buf_len} flags={flags:#x}",
                Bytes(path),
                Bytes(after)
            ),
            AOp::Stat { file, path } => write!(f, "f{file} stat {}", Bytes(path)),
            AOp::Stats { file } => write!(f, "f{file} stats"),
            AOp::Check { file } => write!(f, "f{file} check"),
            AOp::Watch {
                file,
                path,
                after,
                flags,
                buf_len,
            } => write!(
                f,
                "f{file} watch {} after={after} flags={flags:#x} buf={buf_len}",
                Bytes(path)
            ),
            AOp::Txn { file, steps, flags } => {
                write!(f, "f{file} txn flags={flags:#x} [")?;
                for (i, s) in steps.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(
                        f,
                        "op={} {} {} flags={:#x} v={} mode={} pad={}",
                        s.op,
                        Bytes(&s.path),
                        short(&s.value),
                        s.flags,
                        s.expected,
                        s.mode,
                        s.pad
                    )?;
                }
                f.write_str("]")
            }
            AOp::Batch { file, gets, flags } => {
                write!(f, "f{file} batch flags={flags:#x} [")?;
                for (i, g) in gets.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} buf={}", Bytes(&g.path), g.buf_len)?;
                }
                f.write_str("]")
            }
            AOp::Text { file, command } => write!(f, "f{file} write {}", Bytes(command)),
            AOp::Read { file, len } => write!(f, "f{file} read {len}"),
            AOp::BadIoctl { file, cmd } => write!(f, "f{file} ioctl {cmd:#x}"),
        }
    }
}

impl fmt::Display for AReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AReply::Done => f.write_str("ok"),
            AReply::Err(e) => write!(f, "{}", ErrnoName(*e)),
            AReply::Opened => f.write_str("opened"),
            AReply::Version { abi, session } => write!(f, "ok abi={abi} session={session}"),
            AReply::Set { version, sequence } => {
                write!(f, "ok version={version} sequence={sequence}")
            }
            AReply::Stale { current } => write!(f, "ESTALE version={current}"),
            AReply::Value { value, version } => {
                write!(f, "ok value={} version={version}", short(value))
            }
            AReply::GetRange { needed, version } => {
                write!(f, "ERANGE value_len={needed} version={version}")
            }
            AReply::List { names, more } => {
                f.write_str("ok [")?;
                for (i, n) in names.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Bytes(n))?;
                }
                write!(f, "] more={more}")
            }
            AReply::ListRange { needed } => write!(f, "ERANGE buf_used={needed}"),
            AReply::Stat(s) => write!(f, "ok {s:?}"),
            AReply::Stats(s) => write!(f, "ok {s:?}"),
            AReply::Check {
                nodes,
                bytes,
                owners,
            } => write!(f, "ok nodes={nodes} bytes={bytes} owners={owners}"),
            AReply::Watch {
                event,
                version,
                path,
            } => write!(f, "ok event={event} version={version} path={}", Bytes(path)),
            AReply::WatchRange {
                event,
                version,
                needed,
            } => write!(
                f,
                "ERANGE event={event} version={version} changed_len={needed}"
            ),
            AReply::TxnOk { version } => write!(f, "ok version={version}"),
            AReply::TxnErr {
                errno,
                failed,
                current,
            } => write!(f, "{} failed={failed} current={current}", ErrnoName(*errno)),
            AReply::Batch(results) => {
                f.write_str("ok [")?;
                for (i, r) in results.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(
                        f,
                        "error={} len={} v={} {}",
                        r.error,
                        r.value_len,
                        r.version,
                        short(&r.value)
                    )?;
                }
                f.write_str("]")
            }
            AReply::Read(bytes) => write!(f, "read {}", Bytes(bytes)),
            AReply::Malformed(what) => write!(f, "malformed reply: {what}"),
        }
    }
}

/// Replaces the numbers after `ctime_ns=` and `mtime_ns=` with `T` (the model does not
/// predict times).
pub fn mask_times(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let key = [&b"ctime_ns="[..], b"mtime_ns="]
            .into_iter()
            .find(|k| rest.starts_with(k));
        if let Some(key) = key {
            out.extend_from_slice(key);
            out.push(b'T');
            i += key.len();
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
