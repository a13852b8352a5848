// SPDX-License-Identifier: MIT OR Apache-2.0

//! The error type of the client library.

use std::fmt;

use rustix::io::Errno;

/// The operation that failed, as shown at the start of an error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// Opening the device.
    Open,
    /// The version handshake done when the device is opened.
    Handshake,
    /// [`IOC_VERSION`](crate::abi::IOC_VERSION).
    Version,
    /// [`IOC_SET`](crate::abi::IOC_SET) without flags.
    Set,
    /// [`IOC_SET`](crate::abi::IOC_SET) with [`SET_CREATE`](crate::abi::SET_CREATE).
    Create,
    /// [`IOC_GET`](crate::abi::IOC_GET).
    Get,
    /// [`IOC_DELETE`](crate::abi::IOC_DELETE), recursive or not.
    Delete,
    /// [`IOC_LIST`](crate::abi::IOC_LIST).
    List,
    /// [`IOC_STAT`](crate::abi::IOC_STAT).
    Stat,
    /// [`IOC_STORE_STATS`](crate::abi::IOC_STORE_STATS).
    StoreStats,
    /// [`IOC_CHECK`](crate::abi::IOC_CHECK).
    Check,
    /// [`IOC_WATCH`](crate::abi::IOC_WATCH).
    Watch,
    /// [`IOC_TXN`](crate::abi::IOC_TXN).
    Txn,
    /// [`IOC_GET_BATCH`](crate::abi::IOC_GET_BATCH), when the call as a whole fails (each get
    /// of the batch fails as [`Op::Get`]).
    GetBatch,
}

impl Op {
    /// The operation's name in messages, e.g. `"get"`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::Handshake => "handshake",
            Op::Version => "version",
            Op::Set => "set",
            Op::Create => "create",
            Op::Get => "get",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Stat => "stat",
            Op::StoreStats => "stats",
            Op::Check => "check",
            Op::Watch => "watch",
            Op::Txn => "txn",
            Op::GetBatch => "get-batch",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error of the client library.
///
/// Every error carries an [`Errno`], so tests can assert the exact one:
///
/// ```no_run
/// # fn main() -> pathstore::Result<()> {
/// use pathstore::{Errno, Pathstore};
/// let store = Pathstore::open()?;
/// let err = store.get("/missing").unwrap_err();
/// assert_eq!(err.errno(), Errno::NOENT);
/// assert_eq!(err.to_string(), "get /missing: no such node (ENOENT)");
/// assert_eq!(err.class(), pathstore::ErrorClass::NotFound);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed. Displays as `OP PATH: MESSAGE (ENAME)`, the message in the store's
    /// terms ([`store_message`]), e.g. `get /a/b: no such node (ENOENT)`; without a path as
    /// `OP: MESSAGE (ENAME)`. Errors of opening the device keep the system's text:
    /// `open /dev/pathstore: No such file or directory (ENOENT)`.
    #[error("{op}{}: {}", PathSuffix(.path.as_deref()), OpErrno(Some(*.op), *.errno))]
    Os {
        /// What was being done.
        op: Op,
        /// The node path (or, for [`Op::Open`] and [`Op::Handshake`], the device path), if any.
        path: Option<Vec<u8>>,
        /// The error number.
        errno: Errno,
        /// For `ERANGE` from a get or list: the buffer size the call needs.
        needed: Option<usize>,
        /// For `ESTALE` from a conditional set or delete: the node's current version.
        current: Option<u64>,
    },
    /// The module speaks another ABI version than this library ([`Error::errno`] is `EPROTO`).
    #[error(
        "handshake {device}: module speaks ABI version {found}, this program speaks {expected}"
    )]
    AbiMismatch {
        /// The device path.
        device: String,
        /// The module's `abi_version`.
        found: u32,
        /// [`ABI_VERSION`](crate::abi::ABI_VERSION) of this library.
        expected: u32,
    },
}

impl Error {
    pub(crate) fn os(op: Op, path: Option<&[u8]>, errno: Errno) -> Self {
        Error::Os {
            op,
            path: path.map(<[u8]>::to_vec),
            errno,
            needed: None,
            current: None,
        }
    }

    /// `ESTALE` from a conditional call on `path`, whose node has version `current`.
    pub(crate) fn stale(op: Op, path: &[u8], current: u64) -> Self {
        Error::Os {
            op,
            path: Some(path.to_vec()),
            errno: Errno::STALE,
            needed: None,
            current: Some(current),
        }
    }

    /// For `ESTALE` from a conditional set or delete: the version the node has.
    pub fn current_version(&self) -> Option<u64> {
        match self {
            Error::Os { current, .. } => *current,
            Error::AbiMismatch { .. } => None,
        }
    }

    /// The error number: the one the system call failed with, or `EPROTO` for
    /// [`Error::AbiMismatch`].
    pub fn errno(&self) -> Errno {
        match self {
            Error::Os { errno, .. } => *errno,
            Error::AbiMismatch { .. } => Errno::PROTO,
        }
    }

    /// What kind of failure this is ([`ErrorClass::of`] its operation and errno).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Os { op, errno, .. } => ErrorClass::of(*op, *errno),
            Error::AbiMismatch { .. } => ErrorClass::Unavailable,
        }
    }

    /// The operation that failed.
    pub fn op(&self) -> Op {
        match self {
            Error::Os { op, .. } => *op,
            Error::AbiMismatch { .. } => Op::Handshake,
        }
    }

    /// The path the failed operation was given, if any.
    pub fn path(&self) -> Option<&[u8]> {
        match self {
            Error::Os { path, .. } => path.as_deref(),
            Error::AbiMismatch { device, .. } => Some(device.as_bytes()),
        }
    }

    /// For `ERANGE` from [`get_into`](crate::Pathstore::get_into) or
    /// [`list_page`](crate::Pathstore::list_page): the buffer size the call needs.
    pub fn needed_len(&self) -> Option<usize> {
        match self {
            Error::Os { needed, .. } => *needed,
            Error::AbiMismatch { .. } => None,
        }
    }
}

/// Shorthand for results of this library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Displays `" PATH"` (lossily decoded), or nothing.
struct PathSuffix<'a>(Option<&'a [u8]>);

impl fmt::Display for PathSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, " {}", String::from_utf8_lossy(path)),
            None => Ok(()),
        }
    }
}

/// What an error number means for a store operation, in the store's terms (`"no such node"`
/// rather than `"No such file or directory"`), or `None` for an error number the store does not
/// give a meaning of its own (its C library text is used then).
///
/// `op` refines some messages: `E2BIG` is a value too long for a set but too many steps for a
/// transaction. [`Op::Open`] has no store terms: opening the device is opening a file.
pub fn store_message(op: Option<Op>, errno: Errno) -> Option<&'static str> {
    if op == Some(Op::Open) {
        return None;
    }
    Some(match errno {
        Errno::NOENT => "no such node",
        Errno::NODATA => "node has no value",
        Errno::EXIST => "node exists",
        Errno::STALE => "version mismatch",
        Errno::NOTEMPTY => "node has children",
        Errno::NOTDIR => "parent is ephemeral",
        Errno::ACCESS => "permission denied",
        Errno::PERM => match op {
            Some(Op::Check) => "needs CAP_SYS_ADMIN",
            Some(Op::Set | Op::Create) => "only the node's owner may change its mode",
            _ => "operation not permitted",
        },
        Errno::DQUOT => "quota exceeded",
        Errno::NOSPC => "store full",
        Errno::TOOBIG => match op {
            Some(Op::Txn) => "too many steps",
            Some(Op::GetBatch) => "too many paths",
            _ => "value too long",
        },
        Errno::NAMETOOLONG => "path or name too long",
        Errno::INVAL => match op {
            Some(Op::Txn) => "invalid step",
            _ => "invalid path or argument",
        },
        Errno::OVERFLOW => "sequence counter exhausted",
        Errno::RANGE => "buffer too small",
        Errno::TIMEDOUT => "timed out",
        Errno::INTR => "interrupted",
        Errno::UCLEAN => "store is inconsistent",
        Errno::NOMEM => "out of memory",
        Errno::FAULT => "bad address",
        Errno::NOTTY => match op {
            Some(Op::Handshake) => "not a pathstore device",
            _ => "unknown request",
        },
        Errno::PROTO => "unexpected reply from the module",
        _ => return None,
    })
}

/// Displays an [`Errno`] of a store operation as `MESSAGE (ENAME)`, the message in the store's
/// terms ([`store_message`]), e.g. `no such node (ENOENT)`, `version mismatch (ESTALE)`; as
/// `MESSAGE (errno N)` when the name is unknown.
///
/// For errors of ordinary files, [`OsErrnoDisplay`] keeps the C library's text.
#[derive(Clone, Copy, Debug)]
pub struct ErrnoDisplay(pub Errno);

impl fmt::Display for ErrnoDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        OpErrno(None, self.0).fmt(f)
    }
}

/// Displays an [`Errno`] as the C library's text and the name, e.g.
/// `No such file or directory (ENOENT)`: for errors of files (the device's `open`, a dump file),
/// where the file-system text is the right one.
#[derive(Clone, Copy, Debug)]
pub struct OsErrnoDisplay(pub Errno);

impl fmt::Display for OsErrnoDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        OpErrno(Some(Op::Open), self.0).fmt(f)
    }
}

/// Displays the errno of operation `op` (if known) as `MESSAGE (ENAME)`.
struct OpErrno(Option<Op>, Errno);

impl fmt::Display for OpErrno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let OpErrno(op, errno) = *self;
        let code = errno.raw_os_error();
        match store_message(op, errno) {
            Some(message) => f.write_str(message)?,
            None => {
                let message = std::io::Error::from_raw_os_error(code).to_string();
                // std formats OS errors as "MESSAGE (os error N)".
                let suffix = format!(" (os error {code})");
                f.write_str(message.strip_suffix(&suffix).unwrap_or(&message))?;
            }
        }
        match errno_name(errno) {
            Some(name) => write!(f, " ({name})"),
            None => write!(f, " (errno {code})"),
        }
    }
}

/// What kind of failure an error is, for callers that react by kind (the CLI's exit status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// No such node (`ENOENT`), or a node without a value (`ENODATA`).
    NotFound,
    /// The store is not in the state the operation requires: another version (`ESTALE`), the
    /// node exists (`EEXIST`), it has children (`ENOTEMPTY`), its parent is ephemeral
    /// (`ENOTDIR`).
    ConditionFailed,
    /// Not allowed, or over a limit: no right to the node (`EACCES`), not its owner or no
    /// `CAP_SYS_ADMIN` (`EPERM`), the owner's quota (`EDQUOT`), the store's limits (`ENOSPC`);
    /// also no permission to open the device.
    Denied,
    /// A watch saw no change in time (`ETIMEDOUT`).
    Timeout,
    /// The store cannot be used: the device does not open (missing, no module: `ENOENT`,
    /// `ENODEV`, `ENXIO`, ...), is not a pathstore device (the handshake fails, e.g. `ENOTTY`),
    /// or the module speaks another ABI version ([`Error::AbiMismatch`], `EPROTO`).
    Unavailable,
    /// Anything else: invalid paths or arguments (`EINVAL`, `ENAMETOOLONG`, `E2BIG`),
    /// `EOVERFLOW`, `ENOMEM`, `EFAULT`, `EINTR`, `EUCLEAN`, `EPROTO`, ...
    Other,
}

impl ErrorClass {
    /// The class of `errno` from operation `op`.
    pub fn of(op: Op, errno: Errno) -> Self {
        match (op, errno) {
            (Op::Open, Errno::ACCESS | Errno::PERM) => ErrorClass::Denied,
            (Op::Open | Op::Handshake, _) => ErrorClass::Unavailable,
            (_, Errno::NOENT | Errno::NODATA) => ErrorClass::NotFound,
            (_, Errno::STALE | Errno::EXIST | Errno::NOTEMPTY | Errno::NOTDIR) => {
                ErrorClass::ConditionFailed
            }
            (_, Errno::ACCESS | Errno::PERM | Errno::DQUOT | Errno::NOSPC) => ErrorClass::Denied,
            (_, Errno::TIMEDOUT) => ErrorClass::Timeout,
            _ => ErrorClass::Other,
        }
    }
}

/// The symbolic name of an error number (`"ENOENT"`), for the ones a pathstore client meets.
pub fn errno_name(errno: Errno) -> Option<&'static str> {
    const NAMES: &[(Errno, &str)] = &[
        (Errno::PERM, "EPERM"),
        (Errno::NOENT, "ENOENT"),
        (Errno::INTR, "EINTR"),
        (Errno::IO, "EIO"),
        (Errno::NXIO, "ENXIO"),
        (Errno::TOOBIG, "E2BIG"),
        (Errno::BADF, "EBADF"),
        (Errno::AGAIN, "EAGAIN"),
        (Errno::NOMEM, "ENOMEM"),
        (Errno::ACCESS, "EACCES"),
        (Errno::FAULT, "EFAULT"),
        (Errno::BUSY, "EBUSY"),
        (Errno::EXIST, "EEXIST"),
        (Errno::NODEV, "ENODEV"),
        (Errno::NOTDIR, "ENOTDIR"),
        (Errno::ISDIR, "EISDIR"),
        (Errno::INVAL, "EINVAL"),
        (Errno::MFILE, "EMFILE"),
        (Errno::NOTTY, "ENOTTY"),
        (Errno::NOSPC, "ENOSPC"),
        (Errno::ROFS, "EROFS"),
        (Errno::RANGE, "ERANGE"),
        (Errno::NAMETOOLONG, "ENAMETOOLONG"),
        (Errno::NOSYS, "ENOSYS"),
        (Errno::NOTEMPTY, "ENOTEMPTY"),
        (Errno::NODATA, "ENODATA"),
        (Errno::PROTO, "EPROTO"),
        (Errno::OVERFLOW, "EOVERFLOW"),
        (Errno::OPNOTSUPP, "EOPNOTSUPP"),
        (Errno::DQUOT, "EDQUOT"),
        (Errno::UCLEAN, "EUCLEAN"),
        (Errno::STALE, "ESTALE"),
        (Errno::TIMEDOUT, "ETIMEDOUT"),
    ];
    NAMES
        .iter()
        .find(|(e, _)| *e == errno)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_path() {
        let err = Error::os(Op::Get, Some(b"/a/b"), Errno::NOENT);
        assert_eq!(err.to_string(), "get /a/b: no such node (ENOENT)");
        assert_eq!(err.errno(), Errno::NOENT);
        assert_eq!(err.op(), Op::Get);
        assert_eq!(err.path(), Some(&b"/a/b"[..]));
    }

    #[test]
    fn display_without_path() {
        let err = Error::os(Op::StoreStats, None, Errno::FAULT);
        assert_eq!(err.to_string(), "stats: bad address (EFAULT)");
    }

    #[test]
    fn display_unknown_errno() {
        let text = ErrnoDisplay(Errno::from_raw_os_error(4000)).to_string();
        assert!(text.ends_with(" (errno 4000)"), "{text}");
    }

    #[test]
    fn messages_are_in_the_stores_terms() {
        let cases = [
            (Op::Set, Errno::STALE, "version mismatch (ESTALE)"),
            (Op::Set, Errno::DQUOT, "quota exceeded (EDQUOT)"),
            (Op::Create, Errno::NOTDIR, "parent is ephemeral (ENOTDIR)"),
            (Op::Create, Errno::EXIST, "node exists (EEXIST)"),
            (Op::Get, Errno::NODATA, "node has no value (ENODATA)"),
            (Op::Delete, Errno::NOTEMPTY, "node has children (ENOTEMPTY)"),
            (Op::Set, Errno::TOOBIG, "value too long (E2BIG)"),
            (Op::Txn, Errno::TOOBIG, "too many steps (E2BIG)"),
            (Op::Check, Errno::PERM, "needs CAP_SYS_ADMIN (EPERM)"),
            (
                Op::Handshake,
                Errno::NOTTY,
                "not a pathstore device (ENOTTY)",
            ),
        ];
        for (op, errno, text) in cases {
            let err = Error::os(op, Some(b"/p"), errno);
            assert_eq!(err.to_string(), format!("{op} /p: {text}"));
        }
        assert_eq!(
            ErrnoDisplay(Errno::STALE).to_string(),
            "version mismatch (ESTALE)"
        );
    }

    #[test]
    fn every_named_errno_but_file_ones_has_a_store_message() {
        // The errnos a pathstore operation can give (docs/semantics.md) all read in the store's
        // terms; the rest are errors of files, which keep the C library's text.
        let file_only = [
            Errno::IO,
            Errno::NXIO,
            Errno::BADF,
            Errno::AGAIN,
            Errno::BUSY,
            Errno::NODEV,
            Errno::ISDIR,
            Errno::MFILE,
            Errno::ROFS,
            Errno::NOSYS,
            Errno::OPNOTSUPP,
        ];
        for raw in 1..200 {
            let errno = Errno::from_raw_os_error(raw);
            let Some(name) = errno_name(errno) else {
                continue;
            };
            assert_eq!(
                store_message(Some(Op::Get), errno).is_some(),
                !file_only.contains(&errno),
                "{name}"
            );
        }
    }

    #[test]
    fn opening_the_device_keeps_the_system_text() {
        let err = Error::os(Op::Open, Some(b"/dev/pathstore"), Errno::NOENT);
        assert_eq!(
            err.to_string(),
            "open /dev/pathstore: No such file or directory (ENOENT)"
        );
        assert_eq!(
            OsErrnoDisplay(Errno::ACCESS).to_string(),
            "Permission denied (EACCES)"
        );
    }

    #[test]
    fn classes() {
        use ErrorClass::*;
        let cases = [
            (Op::Get, Errno::NOENT, NotFound),
            (Op::Get, Errno::NODATA, NotFound),
            (Op::Set, Errno::STALE, ConditionFailed),
            (Op::Create, Errno::EXIST, ConditionFailed),
            (Op::Delete, Errno::NOTEMPTY, ConditionFailed),
            (Op::Create, Errno::NOTDIR, ConditionFailed),
            (Op::Set, Errno::ACCESS, Denied),
            (Op::Set, Errno::PERM, Denied),
            (Op::Set, Errno::DQUOT, Denied),
            (Op::Set, Errno::NOSPC, Denied),
            (Op::Watch, Errno::TIMEDOUT, Timeout),
            (Op::Open, Errno::NOENT, Unavailable),
            (Op::Open, Errno::NODEV, Unavailable),
            (Op::Open, Errno::ACCESS, Denied),
            (Op::Handshake, Errno::NOTTY, Unavailable),
            (Op::Set, Errno::INVAL, Other),
            (Op::Set, Errno::TOOBIG, Other),
            (Op::Get, Errno::NOMEM, Other),
            (Op::Check, Errno::UCLEAN, Other),
        ];
        for (op, errno, class) in cases {
            assert_eq!(Error::os(op, None, errno).class(), class, "{op} {errno:?}");
        }
        let mismatch = Error::AbiMismatch {
            device: "/dev/pathstore".into(),
            found: 2,
            expected: 1,
        };
        assert_eq!(mismatch.class(), Unavailable);
    }

    #[test]
    fn abi_mismatch_is_eproto() {
        let err = Error::AbiMismatch {
            device: "/dev/pathstore".into(),
            found: 2,
            expected: 1,
        };
        assert_eq!(err.errno(), Errno::PROTO);
        assert_eq!(
            err.to_string(),
            "handshake /dev/pathstore: module speaks ABI version 2, this program speaks 1"
        );
    }
}
