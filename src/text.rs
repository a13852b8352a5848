// SPDX-License-Identifier: GPL-2.0

//! The text interface: one command per `write()`, its output returned by `read()`.
//!
//! Grammar (fields separated by exactly one space, one optional trailing `\n`):
//!
//! ```text
//! set PATH [VALUE]      create or replace; VALUE is the rest of the line, possibly empty
//! create PATH [VALUE]   like set, but EEXIST when PATH exists
//! get PATH              response: the value and "\n"
//! rm [-r] PATH          delete (recursively with -r)
//! ls PATH               response: the children's names, one per line
//! stat PATH             response: "version=N child_version=N ... has_value=0|1\n"
//! stats                 response: "nodes=N bytes=N ... sequence=N\n"
//! ```
//!
//! Anything else is malformed and fails with `EINVAL`.

use kernel::prelude::*;

/// A parsed command. Paths are still unvalidated bytes: [`crate::path::Path`] checks them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    /// `set` (`create: false`) or `create` (`create: true`).
    Set {
        path: &'a [u8],
        value: &'a [u8],
        create: bool,
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
                let (path, value) = split_space(rest.ok_or(EINVAL)?);
                if path.is_empty() {
                    return Err(EINVAL);
                }
                Ok(Self::Set {
                    path,
                    value: value.unwrap_or(&[]),
                    create: verb == b"create",
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
                create: false
            }
        );
        assert_eq!(
            Command::parse(b"set /a")?,
            Command::Set {
                path: b"/a",
                value: b"",
                create: false
            }
        );
        assert_eq!(
            Command::parse(b"create /a x")?,
            Command::Set {
                path: b"/a",
                value: b"x",
                create: true
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
        ] {
            assert_eq!(Command::parse(bad).err(), Some(EINVAL));
        }
    }
}
