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
/// assert_eq!(err.to_string(), "get /missing: No such file or directory (ENOENT)");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed. Displays as `OP PATH: MESSAGE (ENAME)`, e.g.
    /// `get /a/b: No such file or directory (ENOENT)`; without a path as `OP: MESSAGE (ENAME)`.
    #[error("{op}{}: {}", PathSuffix(.path.as_deref()), ErrnoDisplay(*.errno))]
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

/// Displays an [`Errno`] as `MESSAGE (ENAME)`, e.g. `No such file or directory (ENOENT)`, or as
/// `MESSAGE (errno N)` when the name is unknown.
#[derive(Clone, Copy, Debug)]
pub struct ErrnoDisplay(pub Errno);

impl fmt::Display for ErrnoDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.0.raw_os_error();
        let message = std::io::Error::from_raw_os_error(code).to_string();
        // std formats OS errors as "MESSAGE (os error N)".
        let suffix = format!(" (os error {code})");
        let message = message.strip_suffix(&suffix).unwrap_or(&message);
        match errno_name(self.0) {
            Some(name) => write!(f, "{message} ({name})"),
            None => write!(f, "{message} (errno {code})"),
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
        assert_eq!(
            err.to_string(),
            "get /a/b: No such file or directory (ENOENT)"
        );
        assert_eq!(err.errno(), Errno::NOENT);
        assert_eq!(err.op(), Op::Get);
        assert_eq!(err.path(), Some(&b"/a/b"[..]));
    }

    #[test]
    fn display_without_path() {
        let err = Error::os(Op::StoreStats, None, Errno::FAULT);
        assert_eq!(err.to_string(), "stats: Bad address (EFAULT)");
    }

    #[test]
    fn display_unknown_errno() {
        let text = ErrnoDisplay(Errno::from_raw_os_error(4000)).to_string();
        assert!(text.ends_with(" (errno 4000)"), "{text}");
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
