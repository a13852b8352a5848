//! The operations the fuzzer issues and the replies it compares.

use std::fmt;

use pathstore::{abi, errno_name, Errno};

/// One request to the store, as the device and the model both receive it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `IOC_SET` (`flags` 0 or `SET_CREATE`; anything else is invalid).
    Set {
        /// The path, raw.
        path: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// `SET_*` flags.
        flags: u32,
    },
    /// `IOC_GET` into a buffer of `buf_len` bytes.
    Get {
        /// The path, raw.
        path: Vec<u8>,
        /// Size of the value buffer.
        buf_len: u32,
        /// The request's `flags` (0 is the only valid value).
        flags: u32,
    },
    /// `IOC_DELETE`.
    Delete {
        /// The path, raw.
        path: Vec<u8>,
        /// `DELETE_*` flags.
        flags: u32,
    },
    /// One `IOC_LIST` call.
    List {
        /// The path, raw.
        path: Vec<u8>,
        /// The cursor (empty: from the first child).
        after: Vec<u8>,
        /// Size of the name buffer.
        buf_len: u32,
        /// The request's `flags` (0 is the only valid value).
        flags: u32,
    },
    /// `IOC_STAT`.
    Stat {
        /// The path, raw.
        path: Vec<u8>,
        /// The request's `flags` (0 is the only valid value).
        flags: u32,
    },
    /// `IOC_STORE_STATS`.
    Stats,
}

impl Op {
    /// The path the operation names, if any.
    pub fn path(&self) -> Option<&[u8]> {
        match self {
            Op::Set { path, .. }
            | Op::Get { path, .. }
            | Op::Delete { path, .. }
            | Op::List { path, .. }
            | Op::Stat { path, .. } => Some(path),
            Op::Stats => None,
        }
    }

    /// A short name of the kind of call, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Set { flags, .. } if *flags == abi::SET_CREATE => "create",
            Op::Set { .. } => "set",
            Op::Get { .. } => "get",
            Op::Delete { flags, .. } if *flags == abi::DELETE_RECURSIVE => "delete-r",
            Op::Delete { .. } => "delete",
            Op::List { .. } => "list",
            Op::Stat { .. } => "stat",
            Op::Stats => "stats",
        }
    }

    /// Whether a successful call changes the store.
    pub fn mutates(&self) -> bool {
        matches!(self, Op::Set { .. } | Op::Delete { .. })
    }
}

/// The metadata of a node that the model predicts (everything but the timestamps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatView {
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
}

/// Usage and limits of the store, as `IOC_STORE_STATS` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsView {
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
}

/// The observable result of one [`Op`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A delete succeeded.
    Done,
    /// A set succeeded with this version.
    Set {
        /// The version returned.
        version: u64,
    },
    /// A get succeeded.
    Value {
        /// The value.
        value: Vec<u8>,
        /// The node's version.
        version: u64,
    },
    /// A get failed with `ERANGE`; the call still reports the size and version.
    GetRange {
        /// `value_len`: the buffer size needed.
        needed: u32,
        /// `version`.
        version: u64,
    },
    /// A list call succeeded.
    List {
        /// The names, in the order returned.
        names: Vec<Vec<u8>>,
        /// `LIST_MORE`.
        more: bool,
    },
    /// A list call failed with `ERANGE`.
    ListRange {
        /// `buf_used`: the size the next name needs.
        needed: u32,
    },
    /// A stat succeeded.
    Stat(StatView),
    /// Store stats.
    Stats(StatsView),
    /// The call failed with this errno.
    Err(Errno),
    /// The device answered something self-contradictory (never predicted by the model).
    Malformed(String),
}

/// Shows bytes as a quoted string, escaping everything but printable ASCII.
pub struct Bytes<'a>(pub &'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 96;
        f.write_str("\"")?;
        for &b in self.0.iter().take(SHOWN) {
            match b {
                b'"' | b'\\' => write!(f, "\\{}", b as char)?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")?;
        if self.0.len() > SHOWN {
            write!(f, "...({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// Shows an errno by name.
pub struct ErrnoName(pub Errno);

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match errno_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "errno {}", self.0.raw_os_error()),
        }
    }
}

/// A short fingerprint of a value for logs: its length and an FNV-1a hash.
fn fingerprint(value: &[u8]) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for &b in value {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    if value.len() <= 16 {
        format!("{}", Bytes(value))
    } else {
        format!("[{} bytes, fnv {h:08x}]", value.len())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Set { path, value, flags } => write!(
                f,
                "set{} {} {}",
                match flags {
                    0 => String::new(),
                    1 => "(create)".into(),
                    _ => format!("(flags={flags:#x})"),
                },
                Bytes(path),
                fingerprint(value)
            ),
            Op::Get {
                path,
                buf_len,
                flags,
            } => {
                write!(f, "get {} buf={buf_len}", Bytes(path))?;
                if *flags != 0 {
                    write!(f, " flags={flags:#x}")?;
                }
                Ok(())
            }
            Op::Delete { path, flags } => write!(
                f,
                "delete{} {}",
                match flags {
                    0 => String::new(),
                    1 => "(recursive)".into(),
                    _ => format!("(flags={flags:#x})"),
                },
                Bytes(path)
            ),
            Op::List {
                path,
                after,
                buf_len,
                flags,
            } => {
                write!(
                    f,
                    "list {} after={} buf={buf_len}",
                    Bytes(path),
                    Bytes(after)
                )?;
                if *flags != 0 {
                    write!(f, " flags={flags:#x}")?;
                }
                Ok(())
            }
            Op::Stat { path, flags } => {
                write!(f, "stat {}", Bytes(path))?;
                if *flags != 0 {
                    write!(f, " flags={flags:#x}")?;
                }
                Ok(())
            }
            Op::Stats => f.write_str("stats"),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Done => f.write_str("ok"),
            Reply::Set { version } => write!(f, "ok version={version}"),
            Reply::Value { value, version } => {
                write!(f, "ok value={} version={version}", fingerprint(value))
            }
            Reply::GetRange { needed, version } => {
                write!(f, "ERANGE value_len={needed} version={version}")
            }
            Reply::List { names, more } => {
                write!(f, "ok [")?;
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if i == 16 {
                        write!(f, "...{} more", names.len() - i)?;
                        break;
                    }
                    write!(f, "{}", Bytes(name))?;
                }
                write!(f, "] more={more}")
            }
            Reply::ListRange { needed } => write!(f, "ERANGE buf_used={needed}"),
            Reply::Stat(s) => write!(
                f,
                "ok version={} child_version={} children={} value_len={} flags={:#x}",
                s.version, s.child_version, s.num_children, s.value_len, s.flags
            ),
            Reply::Stats(s) => write!(
                f,
                "ok nodes={} bytes={} sequence={} max_nodes={} max_bytes={} max_value_len={} \
                 max_path_len={} max_depth={}",
                s.nodes,
                s.bytes,
                s.sequence,
                s.max_nodes,
                s.max_bytes,
                s.max_value_len,
                s.max_path_len,
                s.max_depth
            ),
            Reply::Err(e) => write!(f, "{}", ErrnoName(*e)),
            Reply::Malformed(what) => write!(f, "malformed reply: {what}"),
        }
    }
}
