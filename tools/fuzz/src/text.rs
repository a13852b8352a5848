//! The text interface's grammar, as the model needs it: one command per `write()`, fields
//! separated by exactly one space, an optional trailing `\n` (the rules of `docs/semantics.md`,
//! "Text interface").

use pathstore::{abi, Errno};

/// One parsed text command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `set [-m MODE] PATH VALUE` / `create [-m MODE] PATH VALUE`.
    Set {
        /// The path.
        path: &'a [u8],
        /// The value.
        value: &'a [u8],
        /// `create`.
        create: bool,
        /// `-m MODE`: the mode, as `SET_MODE` gives it.
        mode: Option<u32>,
    },
    /// `get PATH`.
    Get {
        /// The path.
        path: &'a [u8],
    },
    /// `rm [-r] PATH`.
    Delete {
        /// The path.
        path: &'a [u8],
        /// `-r`.
        recursive: bool,
    },
    /// `ls PATH`.
    List {
        /// The path.
        path: &'a [u8],
    },
    /// `stat PATH`.
    Stat {
        /// The path.
        path: &'a [u8],
    },
    /// `stats`.
    Stats,
    /// `set-if PATH VERSION VALUE`.
    SetIfVersion {
        /// The path.
        path: &'a [u8],
        /// The version.
        version: u64,
        /// The value.
        value: &'a [u8],
    },
    /// `rm-if [-r] PATH VERSION`.
    DeleteIfVersion {
        /// The path.
        path: &'a [u8],
        /// `-r`.
        recursive: bool,
        /// The version.
        version: u64,
    },
    /// `ephemeral [-m MODE] PATH VALUE` / `seq [-m MODE] PATH VALUE`.
    Create {
        /// The path.
        path: &'a [u8],
        /// The value.
        value: &'a [u8],
        /// `ephemeral`.
        ephemeral: bool,
        /// `seq`.
        sequential: bool,
        /// `-m MODE`.
        mode: Option<u32>,
    },
    /// `watch [-r] PATH VERSION`.
    Watch {
        /// The path.
        path: &'a [u8],
        /// `-r`.
        subtree: bool,
        /// The version.
        after: u64,
    },
}

fn version(text: &[u8]) -> Result<u64, Errno> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return Err(Errno::INVAL);
    }
    text.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(Errno::INVAL)
    })
}

/// The mode (if given), path and value of a command that creates nodes.
type ModePathValue<'a> = (Option<u32>, &'a [u8], &'a [u8]);

/// `[-m MODE] PATH [VALUE]`: MODE is `private`, `read` or `read-write`.
fn mode_path_value(rest: Option<&[u8]>) -> Result<ModePathValue<'_>, Errno> {
    let rest = rest.ok_or(Errno::INVAL)?;
    let (mode, rest) = match rest.strip_prefix(b"-m ") {
        Some(rest) => {
            let (word, rest) = split_space(rest);
            let mode = match word {
                b"private" => 0,
                b"read" => abi::MODE_OTHERS_READ,
                b"read-write" => abi::MODE_ALL,
                _ => return Err(Errno::INVAL),
            };
            (Some(mode), rest.ok_or(Errno::INVAL)?)
        }
        None => (None, rest),
    };
    let (path, value) = split_space(rest);
    if path.is_empty() {
        return Err(Errno::INVAL);
    }
    Ok((mode, path, value.unwrap_or(&[])))
}

fn split_space(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

fn path_only(rest: Option<&[u8]>) -> Result<&[u8], Errno> {
    match rest {
        Some(path) if !path.is_empty() && !path.contains(&b' ') => Ok(path),
        _ => Err(Errno::INVAL),
    }
}

fn flagged_path_version(rest: Option<&[u8]>) -> Result<(bool, &[u8], u64), Errno> {
    let rest = rest.ok_or(Errno::INVAL)?;
    let (recursive, rest) = match rest.strip_prefix(b"-r ") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let (path, v) = split_space(rest);
    if path.is_empty() {
        return Err(Errno::INVAL);
    }
    Ok((recursive, path, version(v.ok_or(Errno::INVAL)?)?))
}

/// Parses one command (`EINVAL` when malformed).
pub fn parse(line: &[u8]) -> Result<Command<'_>, Errno> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.contains(&b'\n') {
        return Err(Errno::INVAL);
    }
    let (verb, rest) = split_space(line);
    match verb {
        b"set" | b"create" => {
            let (mode, path, value) = mode_path_value(rest)?;
            Ok(Command::Set {
                path,
                value,
                create: verb == b"create",
                mode,
            })
        }
        b"get" => Ok(Command::Get {
            path: path_only(rest)?,
        }),
        b"rm" => match rest.map(split_space) {
            Some((b"-r", path)) => Ok(Command::Delete {
                path: path_only(path)?,
                recursive: true,
            }),
            _ => Ok(Command::Delete {
                path: path_only(rest)?,
                recursive: false,
            }),
        },
        b"ls" => Ok(Command::List {
            path: path_only(rest)?,
        }),
        b"stat" => Ok(Command::Stat {
            path: path_only(rest)?,
        }),
        b"stats" if rest.is_none() => Ok(Command::Stats),
        b"set-if" => {
            let (path, rest) = split_space(rest.ok_or(Errno::INVAL)?);
            let (v, value) = split_space(rest.ok_or(Errno::INVAL)?);
            if path.is_empty() {
                return Err(Errno::INVAL);
            }
            Ok(Command::SetIfVersion {
                path,
                version: version(v)?,
                value: value.unwrap_or(&[]),
            })
        }
        b"rm-if" => {
            let (recursive, path, version) = flagged_path_version(rest)?;
            Ok(Command::DeleteIfVersion {
                path,
                recursive,
                version,
            })
        }
        b"ephemeral" | b"seq" => {
            let (mode, path, value) = mode_path_value(rest)?;
            Ok(Command::Create {
                path,
                value,
                ephemeral: verb == b"ephemeral",
                sequential: verb == b"seq",
                mode,
            })
        }
        b"watch" => {
            let (subtree, path, after) = flagged_path_version(rest)?;
            Ok(Command::Watch {
                path,
                subtree,
                after,
            })
        }
        _ => Err(Errno::INVAL),
    }
}
