// SPDX-License-Identifier: GPL-2.0

//! Errors: the errnos that `kernel::error::code` does not name, and [`StoreError`], a failed store
//! operation with what the caller reports alongside its errno.

use kernel::{
    alloc::AllocError,
    bindings,
    error::Error, //
};

/// Builds an [`Error`] from one of the errno constants that bindgen generates.
fn errno(code: u32) -> Error {
    // The errno constants are small positive numbers; a value out of range becomes `EINVAL`,
    // as `Error::from_errno` documents.
    Error::from_errno(i32::try_from(code).map_or(i32::MIN, |code| -code))
}

/// `ENAMETOOLONG`: a path, a component or a depth past its limit.
pub(crate) fn enametoolong() -> Error {
    errno(bindings::ENAMETOOLONG)
}

/// `ENODATA`: the node exists but holds no value.
pub(crate) fn enodata() -> Error {
    errno(bindings::ENODATA)
}

/// `ENOTEMPTY`: the node has children and recursion was not asked for.
pub(crate) fn enotempty() -> Error {
    errno(bindings::ENOTEMPTY)
}

/// `EDQUOT`: the change would take the owner of a node past its per-user quota.
pub(crate) fn edquot() -> Error {
    errno(bindings::EDQUOT)
}

/// `EUCLEAN`: the consistency check found a broken invariant.
pub(crate) fn euclean() -> Error {
    errno(bindings::EUCLEAN)
}

/// `ESTALE`: a compare-and-set or conditional delete found another version.
pub(crate) fn estale() -> Error {
    errno(bindings::ESTALE)
}

/// A failed store operation.
///
/// Most failures are only an errno. Some tell the caller more, which the ioctl writes back into
/// its argument: the version a node really has when a compare-and-set or conditional delete finds
/// another (so that the caller can retry without a racy `stat`), and the length of a value too
/// long for the caller's buffer (so that it can retry with one large enough).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// `ESTALE`: the node exists at version `current`, not at the one asked for.
    Stale {
        /// The version the node has.
        current: u64,
    },
    /// `ERANGE`: a value does not fit the caller's buffer.
    Range {
        /// The value's length.
        value_len: u32,
        /// The node's version.
        version: u64,
    },
    /// Any other failure.
    Errno(Error),
}

/// The result of a store operation.
pub(crate) type StoreResult<T = ()> = core::result::Result<T, StoreError>;

impl From<Error> for StoreError {
    fn from(error: Error) -> Self {
        Self::Errno(error)
    }
}

impl From<AllocError> for StoreError {
    fn from(_: AllocError) -> Self {
        Self::Errno(kernel::error::code::ENOMEM)
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Stale { .. } => estale(),
            StoreError::Range { .. } => kernel::error::code::ERANGE,
            StoreError::Errno(error) => error,
        }
    }
}
