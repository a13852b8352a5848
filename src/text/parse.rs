// SPDX-License-Identifier: GPL-2.0

//! Parsing of text commands: one command per `write()`, in the grammar of [`crate::text`].
//!
//! Anything that does not follow the grammar is malformed and fails with `EINVAL`.

use kernel::prelude::*;

use crate::uapi;

/// A parsed command. Paths are still unvalidated bytes: [`crate::path::Path`] checks them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    /// `set` (`create: false`) or `create` (`create: true`).
    Set {
        path: &'a [u8],
        value: &'a [u8],
        create: bool,
        /// With `-m MODE`: the access mode (`MODE_*` bits) of the nodes created and the node.
        mode: Option<u32>,
    },
    /// `get PATH`.
    Get { path: &'a [u8] },
    /// `rm PATH` or `rm -r PATH`.
    Delete { path: &'a [u8], recursive: bool },
    /// `ls PATH`.
    List { path: &'a [u8] },
    /// `stat PATH`.
    Stat { path: &'a [u8] },
    /// `stats`.
    Stats,
    /// `set-if PATH VERSION [VALUE]`.
    SetIfVersion {
        path: &'a [u8],
        version: u64,
        value: &'a [u8],
    },
    /// `rm-if [-r] PATH VERSION`.
    DeleteIfVersion {
        path: &'a [u8],
        recursive: bool,
        version: u64,
    },
    /// `ephemeral PATH [VALUE]` (`sequential: false`) or `seq PATH [VALUE]`.
    Create {
        path: &'a [u8],
        value: &'a [u8],
        ephemeral: bool,
        sequential: bool,
        /// With `-m MODE`: the access mode of the nodes created.
        mode: Option<u32>,
    },
    /// `watch [-r] PATH VERSION`.
    Watch {
        path: &'a [u8],
        subtree: bool,
        after: u64,
    },
}

/// A version argument: decimal digits only.
fn version(text: &[u8]) -> Result<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return Err(EINVAL);
    }
    text.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(EINVAL)
    })
}

/// `[-r] PATH VERSION`: the flag, the path and the version.
fn flagged_path_version(rest: Option<&[u8]>) -> Result<(bool, &[u8], u64)> {
    let rest = rest.ok_or(EINVAL)?;
    let (recursive, rest) = match rest.strip_prefix(b"-r ") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let (path, v) = split_space(rest);
    if path.is_empty() {
        return Err(EINVAL);
    }
    Ok((recursive, path, version(v.ok_or(EINVAL)?)?))
}

/// `[-m MODE] PATH [VALUE]`: the mode (`private`, `read` or `read-write`), the path and the
/// value (the rest of the line, possibly empty).
fn mode_path_value(rest: Option<&[u8]>) -> Result<(Option<u32>, &[u8], &[u8])> {
    let rest = rest.ok_or(EINVAL)?;
    let (mode, rest) = match rest.strip_prefix(b"-m ") {
        Some(rest) => {
            let (word, rest) = split_space(rest);
            let mode = match word {
                b"private" => 0,
                b"read" => uapi::MODE_OTHERS_READ,
                b"read-write" => uapi::MODE_ALL,
                _ => return Err(EINVAL),
            };
            (Some(mode), rest.ok_or(EINVAL)?)
        }
        None => (None, rest),
    };
    let (path, value) = split_space(rest);
    if path.is_empty() {
        return Err(EINVAL);
    }
    Ok((mode, path, value.unwrap_or(&[])))
}

/// Splits `s` at the first space: `(head, Some(tail))`, or `(s, None)` without a space.
fn split_space(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// A path argument: the whole remaining text, which must not be empty or hold a space.
fn path_only(rest: Option<&[u8]>) -> Result<&[u8]> {
    match rest {
        Some(path) if !path.is_empty() && !path.contains(&b' ') => Ok(path),
        _ => Err(EINVAL),
    }
}

impl<'a> Command<'a> {
    /// Parses one written command.
    pub(crate) fn parse(line: &'a [u8]) -> Result<Self> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.contains(&b'\n') {
            return Err(EINVAL);
        }
        let (verb, rest) = split_space(line);
        match verb {
            b"set" | b"create" => {
                let (mode, path, value) = mode_path_value(rest)?;
                Ok(Self::Set {
                    path,
                    value,
                    create: verb == b"create",
                    mode,
                })
            }
            b"get" => Ok(Self::Get {
                path: path_only(rest)?,
            }),
            b"rm" => match rest.map(split_space) {
                Some((b"-r", path)) => Ok(Self::Delete {
                    path: path_only(path)?,
                    recursive: true,
                }),
                _ => Ok(Self::Delete {
                    path: path_only(rest)?,
                    recursive: false,
                }),
            },
            b"ls" => Ok(Self::List {
                path: path_only(rest)?,
            }),
            b"stat" => Ok(Self::Stat {
                path: path_only(rest)?,
            }),
            b"stats" if rest.is_none() => Ok(Self::Stats),
            b"set-if" => {
                let (path, rest) = split_space(rest.ok_or(EINVAL)?);
                let (v, value) = split_space(rest.ok_or(EINVAL)?);
                if path.is_empty() {
                    return Err(EINVAL);
                }
                Ok(Self::SetIfVersion {
                    path,
                    version: version(v)?,
                    value: value.unwrap_or(&[]),
                })
            }
            b"rm-if" => {
                let (recursive, path, version) = flagged_path_version(rest)?;
                Ok(Self::DeleteIfVersion {
                    path,
                    recursive,
                    version,
                })
            }
            b"ephemeral" | b"seq" => {
                let (mode, path, value) = mode_path_value(rest)?;
                Ok(Self::Create {
                    path,
                    value,
                    ephemeral: verb == b"ephemeral",
                    sequential: verb == b"seq",
                    mode,
                })
            }
            b"watch" => {
                let (subtree, path, after) = flagged_path_version(rest)?;
                Ok(Self::Watch {
                    path,
                    subtree,
                    after,
                })
            }
            _ => Err(EINVAL),
        }
    }
}

#[kunit_tests(pathstore_text)]
mod tests {
    use super::*;

    #[test]
    fn commands() -> Result {
        assert_eq!(
            Command::parse(b"set /a/b hello world\n")?,
            Command::Set {
                path: b"/a/b",
                value: b"hello world",
                create: false,
                mode: None
            }
        );
        assert_eq!(
            Command::parse(b"set /a")?,
            Command::Set {
                path: b"/a",
                value: b"",
                create: false,
                mode: None
            }
        );
        assert_eq!(
            Command::parse(b"create /a x")?,
            Command::Set {
                path: b"/a",
                value: b"x",
                create: true,
                mode: None
            }
        );
        assert_eq!(Command::parse(b"get /a\n")?, Command::Get { path: b"/a" });
        assert_eq!(
            Command::parse(b"rm -r /a")?,
            Command::Delete {
                path: b"/a",
                recursive: true
            }
        );
        assert_eq!(
            Command::parse(b"rm /a")?,
            Command::Delete {
                path: b"/a",
                recursive: false
            }
        );
        assert_eq!(Command::parse(b"ls /")?, Command::List { path: b"/" });
        assert_eq!(Command::parse(b"stat /a")?, Command::Stat { path: b"/a" });
        assert_eq!(Command::parse(b"stats\n")?, Command::Stats);
        assert_eq!(
            Command::parse(b"set-if /a 12 new value")?,
            Command::SetIfVersion {
                path: b"/a",
                version: 12,
                value: b"new value"
            }
        );
        assert_eq!(
            Command::parse(b"rm-if -r /a 7\n")?,
            Command::DeleteIfVersion {
                path: b"/a",
                recursive: true,
                version: 7
            }
        );
        assert_eq!(
            Command::parse(b"seq /q/item- x")?,
            Command::Create {
                path: b"/q/item-",
                value: b"x",
                ephemeral: false,
                sequential: true,
                mode: None
            }
        );
        assert_eq!(
            Command::parse(b"watch -r /svc 0")?,
            Command::Watch {
                path: b"/svc",
                subtree: true,
                after: 0
            }
        );
        Ok(())
    }

    #[test]
    fn modes() -> Result {
        assert_eq!(
            Command::parse(b"create -m private /a/s x y")?,
            Command::Set {
                path: b"/a/s",
                value: b"x y",
                create: true,
                mode: Some(0)
            }
        );
        assert_eq!(
            Command::parse(b"set -m read /a")?,
            Command::Set {
                path: b"/a",
                value: b"",
                create: false,
                mode: Some(uapi::MODE_OTHERS_READ)
            }
        );
        assert_eq!(
            Command::parse(b"ephemeral -m read-write /e")?,
            Command::Create {
                path: b"/e",
                value: b"",
                ephemeral: true,
                sequential: false,
                mode: Some(uapi::MODE_ALL)
            }
        );
        Ok(())
    }

    #[test]
    fn malformed() {
        for bad in [
            &b""[..],
            b"\n",
            b"frobnicate /a",
            b"get",
            b"get ",
            b"get /a b",
            b"get  /a",
            b"set",
            b"set  /a x",
            b"rm",
            b"rm -r",
            b"rm -r /a /b",
            b"stats x",
            b"ls",
            b"get /a\n\n",
            b"set /a x\ny",
            b"set-if /a",
            b"set-if /a x y",
            b"set-if /a 99999999999999999999999 v",
            b"rm-if /a",
            b"rm-if /a -1",
            b"watch /a",
            b"watch -r /a 1 2",
            b"ephemeral",
            b"set -m /a",
            b"set -m secret /a x",
            b"set -m private",
            b"create -m read",
        ] {
            assert_eq!(Command::parse(bad).err(), Some(EINVAL));
        }
    }
}
