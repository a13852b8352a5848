// SPDX-License-Identifier: GPL-2.0

//! [`Bytes`], an immutable byte string in an allocation of its own behind a thin pointer, and
//! [`Name`], which keeps short names inline.
//!
//! Every node keeps a name and most keep a value, so their handles are most of a node's size. A
//! `KVVec<u8>` handle takes 24 bytes; `Bytes` keeps the same allocation in 16 (a pointer and two
//! `u32` lengths), which is what lets a node fit in a 96-byte slab object. A [`Name`] takes the
//! same 16 bytes and holds names of up to [`Name::INLINE`] bytes in them: no allocation, and a
//! lookup compares them without following a pointer.

use core::{
    cmp::Ordering,
    mem::{
        ManuallyDrop,
        MaybeUninit, //
    },
    ptr::{
        self,
        NonNull, //
    },
    slice, //
};

use kernel::{
    alloc::Flags,
    prelude::*,
    uaccess::UserSliceReader, //
};

use crate::num::FromSafeCast;

/// Allocation flags for memory a user causes, sized by what the user sent or stored: charged to
/// the user's memory cgroup, and without a warning when a large buffer cannot be had (the caller
/// fails with `ENOMEM`, which is no kernel problem).
pub(crate) fn user_gfp() -> Flags {
    GFP_KERNEL_ACCOUNT | __GFP_NOWARN
}

/// An immutable byte string, at most `u32::MAX` bytes long, in a `kvmalloc` allocation that it
/// owns.
///
/// # Invariants
///
/// `ptr`, `len` and `cap` are the raw parts of a `KVVec<u8>` (from [`KVVec::into_raw_parts`]) that
/// `Bytes` owns, so the first `len` bytes at `ptr` are initialized and live as long as `self`; or
/// `self` is a borrowed view made by [`Name::with_borrowed`], which is never dropped and does not
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
        let mut vec = KVVec::with_capacity(bytes.len(), user_gfp())?;
        vec.extend_from_slice(bytes, user_gfp())?;
        Self::from_vec(vec)
    }

    /// The bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        // SAFETY: By the type invariant, `ptr` points at `len` initialized bytes that live at least
        // as long as `self`, and nothing changes them.
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), usize::from_safe_cast(self.len)) }
    }

    /// The number of bytes.
    pub(crate) fn len(&self) -> usize {
        usize::from_safe_cast(self.len)
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, a `Bytes` that is dropped is not a borrowed view (those
        // are never dropped), so `ptr`, `len` and `cap` are the raw parts of a `KVVec<u8>` that
        // `self` owns; nothing uses them after this.
        let vec = unsafe {
            KVVec::from_raw_parts(
                self.ptr.as_ptr(),
                usize::from_safe_cast(self.len),
                usize::from_safe_cast(self.cap),
            )
        };
        drop(vec);
    }
}

/// The name of a node: its key among its parent's children, ordered byte by byte.
pub(crate) enum Name {
    /// A name of at most [`Name::INLINE`] bytes: its length and its bytes, zero-padded.
    Inline(u8, [u8; Name::INLINE]),
    /// A longer name.
    Long(Bytes),
}

// `Inline` fits beside the pointer of `Long`, whose null value tells the two apart.
const _: () = assert!(core::mem::size_of::<Name>() == core::mem::size_of::<Bytes>());

impl Name {
    /// Names up to this long are kept inline.
    pub(crate) const INLINE: usize = 7;

    /// Copies `bytes` into a new name.
    pub(crate) fn copy(bytes: &[u8]) -> Result<Self> {
        match Self::inline(bytes) {
            Some(name) => Ok(name),
            None => Ok(Self::Long(Bytes::copy(bytes)?)),
        }
    }

    /// `bytes` as an inline name, if they are short enough.
    fn inline(bytes: &[u8]) -> Option<Self> {
        let mut inline = [0u8; Self::INLINE];
        inline.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Self::Inline(u8::try_from(bytes.len()).ok()?, inline))
    }

    /// Calls `f` with a `Name` for `bytes` that does not copy them (short ones are copied inline),
    /// for looking up a key.
    pub(crate) fn with_borrowed<R>(bytes: &[u8], f: impl for<'k> FnOnce(&'k Name) -> R) -> R {
        match Self::inline(bytes) {
            Some(name) => f(&name),
            None => {
                let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                // INVARIANT: A borrowed view: `ManuallyDrop` keeps it from being dropped, and `f`
                // cannot keep the reference past this call, during which `bytes` stays borrowed.
                let view = ManuallyDrop::new(Self::Long(Bytes {
                    ptr: NonNull::from(bytes).cast(),
                    len,
                    cap: len,
                }));
                f(&view)
            }
        }
    }

    /// The name's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            // `len` is at most `INLINE`.
            Self::Inline(len, bytes) => bytes.get(..usize::from(*len)).unwrap_or(bytes),
            Self::Long(bytes) => bytes.as_bytes(),
        }
    }

    /// The length of the name in bytes.
    pub(crate) fn len(&self) -> usize {
        self.as_bytes().len()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// A buffer of `N` bytes on the stack that takes a copy of a short value without being zeroed
/// first (zeroing costs as much as the copy).
///
/// # Invariants
///
/// The first `len` bytes of `buf` are initialized, and `len <= N`.
pub(crate) struct StackBuf<const N: usize> {
    buf: [MaybeUninit<u8>; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    /// An empty buffer.
    pub(crate) fn new() -> Self {
        // INVARIANT: No byte is initialized, and none is claimed to be.
        Self {
            buf: [MaybeUninit::uninit(); N],
            len: 0,
        }
    }

    /// Copies `bytes` in, replacing what the buffer held, if they fit. Returns whether they did.
    pub(crate) fn fill(&mut self, bytes: &[u8]) -> bool {
        let Some(dst) = self.buf.get_mut(..bytes.len()) else {
            return false;
        };
        // SAFETY: `dst` and `bytes` are both `bytes.len()` long, `MaybeUninit<u8>` has the layout
        // of `u8`, and a shared and a unique borrow cannot overlap.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_mut_ptr().cast(), bytes.len()) };
        // INVARIANT: The first `bytes.len()` bytes were just initialized, and they fitted in `N`.
        self.len = bytes.len();
        true
    }

    /// Copies `len` bytes in from `reader`, replacing what the buffer held. Fails with `EINVAL`
    /// when they do not fit, and as `reader` does (`EFAULT`).
    pub(crate) fn fill_from_user(&mut self, reader: &mut UserSliceReader, len: usize) -> Result {
        let dst = self.buf.get_mut(..len).ok_or(EINVAL)?;
        reader.read_raw(dst)?;
        // INVARIANT: `read_raw` initialized all of `dst`, the first `len` bytes, which fitted.
        self.len = len;
        Ok(())
    }

    /// The bytes copied in last.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        // SAFETY: By the type invariant, the first `len` bytes of `buf` (which has at least `len`)
        // are initialized, and `MaybeUninit<u8>` has the layout of `u8`.
        unsafe { slice::from_raw_parts(self.buf.as_ptr().cast(), self.len) }
    }
}

#[kunit_tests(pathstore_bytes)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() -> Result {
        let value = Bytes::copy(b"a value")?;
        let empty = Bytes::copy(b"")?;
        assert_eq!(value.as_bytes(), b"a value");
        assert_eq!(value.len(), 7);
        assert_eq!(empty.as_bytes(), b"");
        assert_eq!(core::mem::size_of::<Option<Bytes>>(), 16);

        let short = Name::copy(b"alpha")?;
        let long = Name::copy(b"a longer name")?;
        assert!(matches!(short, Name::Inline(..)));
        assert!(matches!(long, Name::Long(..)));
        assert_eq!(short.as_bytes(), b"alpha");
        assert_eq!(long.as_bytes(), b"a longer name");
        assert_eq!(Name::copy(b"1234567")?.len(), Name::INLINE);
        // Byte order, whichever way each is kept.
        assert!(long < short);
        assert!(Name::with_borrowed(b"alpha", |k| *k == short));
        assert!(Name::with_borrowed(b"a longer name", |k| *k == long));
        assert!(Name::with_borrowed(b"a longer name, longest", |k| *k > long));
        assert!(Name::with_borrowed(b"alph", |k| *k < short));

        let mut stack = StackBuf::<8>::new();
        assert_eq!(stack.as_bytes(), b"");
        assert!(stack.fill(b"12345678"));
        assert_eq!(stack.as_bytes(), b"12345678");
        assert!(!stack.fill(b"123456789"));
        assert_eq!(stack.as_bytes(), b"12345678");
        assert!(stack.fill(b"ab"));
        assert_eq!(stack.as_bytes(), b"ab");
        Ok(())
    }
}
