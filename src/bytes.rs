// SPDX-License-Identifier: GPL-2.0

//! [`Bytes`]: an immutable byte string in an allocation of its own, behind a thin pointer.
//!
//! Every node keeps a name and most keep a value, so their handles are most of a node's size. A
//! `KVVec<u8>` handle takes 24 bytes; `Bytes` keeps the same allocation in 16 (a pointer and two
//! `u32` lengths), which is what lets a node fit in a 96-byte slab object.

use core::{
    cmp::Ordering,
    mem::ManuallyDrop,
    ptr::NonNull,
    slice, //
};

use kernel::prelude::*;

/// An immutable byte string, at most `u32::MAX` bytes long, in a `kvmalloc` allocation that it
/// owns. Ordered byte by byte, as names are listed.
///
/// # Invariants
///
/// `ptr`, `len` and `cap` are the raw parts of a `KVVec<u8>` (from [`KVVec::into_raw_parts`]) that
/// `Bytes` owns, so the first `len` bytes at `ptr` are initialized and live as long as `self`; or
/// `self` is a borrowed view made by [`Bytes::with_borrowed`], which is never dropped and does not
/// outlive the bytes it views.
pub(crate) struct Bytes {
    ptr: NonNull<u8>,
    len: u32,
    cap: u32,
}

// SAFETY: `Bytes` owns its buffer as a `KVVec<u8>` does, and `KVVec<u8>` is `Send`.
unsafe impl Send for Bytes {}

// SAFETY: `Bytes` only ever hands out shared references to its bytes, as `&[u8]` (which is `Sync`)
// does.
unsafe impl Sync for Bytes {}

impl Bytes {
    /// Takes over the buffer of `vec`. Fails with `E2BIG` past `u32::MAX` bytes.
    pub(crate) fn from_vec(vec: KVVec<u8>) -> Result<Self> {
        let len = u32::try_from(vec.len()).map_err(|_| E2BIG)?;
        let cap = u32::try_from(vec.capacity()).map_err(|_| E2BIG)?;
        let (ptr, _, _) = vec.into_raw_parts();
        // A `Vec`'s pointer is never null (it dangles when nothing is allocated).
        let ptr = NonNull::new(ptr).ok_or(EINVAL)?;
        // INVARIANT: `ptr`, `len` and `cap` are the raw parts of `vec`, now owned by `Self`.
        Ok(Self { ptr, len, cap })
    }

    /// Copies `bytes` into a buffer of exactly their size.
    pub(crate) fn copy(bytes: &[u8]) -> Result<Self> {
        let mut vec = KVVec::with_capacity(bytes.len(), GFP_KERNEL)?;
        vec.extend_from_slice(bytes, GFP_KERNEL)?;
        Self::from_vec(vec)
    }

    /// Calls `f` with a `Bytes` that views `bytes` without copying them, for looking up a key.
    pub(crate) fn with_borrowed<R>(bytes: &[u8], f: impl for<'k> FnOnce(&'k Bytes) -> R) -> R {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        // INVARIANT: A borrowed view: `ManuallyDrop` keeps it from being dropped, and `f` cannot
        // keep the reference past this call, during which `bytes` stays borrowed.
        let view = ManuallyDrop::new(Self {
            ptr: NonNull::from(bytes).cast(),
            len,
            cap: len,
        });
        f(&view)
    }

    /// The bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        // SAFETY: By the type invariant, `ptr` points at `len` initialized bytes that live at
        // least as long as `self`, and nothing changes them.
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }

    /// The number of bytes.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, a `Bytes` that is dropped is not a borrowed view (those are
        // never dropped), so `ptr`, `len` and `cap` are the raw parts of a `KVVec<u8>` that `self`
        // owns; nothing uses them after this.
        let vec = unsafe {
            KVVec::from_raw_parts(self.ptr.as_ptr(), self.len as usize, self.cap as usize)
        };
        drop(vec);
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Bytes {}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

#[kunit_tests(pathstore_bytes)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() -> Result {
        let a = Bytes::copy(b"alpha")?;
        let empty = Bytes::copy(b"")?;
        assert_eq!(a.as_bytes(), b"alpha");
        assert_eq!(a.len(), 5);
        assert_eq!(empty.as_bytes(), b"");
        assert!(empty < a);
        let found = Bytes::with_borrowed(b"alpha", |k| *k == a);
        assert!(found);
        assert!(Bytes::with_borrowed(b"alph", |k| *k < a));
        assert_eq!(core::mem::size_of::<Option<Bytes>>(), 16);
        Ok(())
    }
}
