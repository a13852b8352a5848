// SPDX-License-Identifier: GPL-2.0

//! [`Value`]: a stored value, at most `max_value_len` bytes long.
//!
//! The length limit is checked in one place, where a value is made: a [`Value`] that exists is
//! within the limit, so the tree takes one without checking it again.

use kernel::{
    prelude::*,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    bytes::{
        user_gfp,
        Bytes, //
    },
    limits::Limits,
    num::FromSafeCast, //
};

/// A stored value: immutable once stored (a set replaces it whole), at most `max_value_len`
/// bytes long.
pub(crate) struct Value(Bytes);

impl Value {
    /// Fails with `E2BIG` when a value of `len` bytes is longer than `limits` allow.
    fn check_len(len: usize, limits: &Limits) -> Result {
        if len > usize::from_safe_cast(limits.max_value_len) {
            return Err(E2BIG);
        }
        Ok(())
    }

    /// Copies `bytes` into a new value (`E2BIG` when they are too long for `limits`).
    pub(crate) fn copy(bytes: &[u8], limits: &Limits) -> Result<Self> {
        Self::check_len(bytes.len(), limits)?;
        Ok(Self(Bytes::copy(bytes)?))
    }

    /// Copies `len` bytes at the user address `ptr` into a new value: `E2BIG` when they are too
    /// long for `limits` (checked before anything is allocated), `EFAULT` when they cannot be
    /// read.
    pub(crate) fn from_user(ptr: UserPtr, len: u32, limits: &Limits) -> Result<Self> {
        let len = usize::from_safe_cast(len);
        Self::check_len(len, limits)?;
        let mut buf = KVVec::with_capacity(len, user_gfp())?;
        UserSlice::new(ptr, len).read_all(&mut buf, user_gfp())?;
        Ok(Self(Bytes::from_vec(buf)?))
    }

    /// The value's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The value's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
