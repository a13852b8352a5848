// SPDX-License-Identifier: GPL-2.0

//! Lossless integer conversions, after nova-core's `num.rs`.
//!
//! Lengths arrive from the ABI as `u32`, are used as `usize` and are accounted as `u64`. On the
//! kernel's 64-bit targets each of these conversions keeps every value, but the standard library
//! does not implement `From` for them (a `usize` may some day be wider than a `u64`). Rather than
//! `as`, which would silently truncate on a target where that stops being true, these traits exist
//! only where the conversion is lossless for the target built, so such a target fails to compile.

/// Guaranteed lossless conversion to `Self` from `T`, on the target the module is built for.
pub(crate) trait FromSafeCast<T> {
    /// `value` as a `Self`; never loses information.
    fn from_safe_cast(value: T) -> Self;
}

/// The reverse of [`FromSafeCast`], for method-call syntax.
pub(crate) trait IntoSafeCast<T> {
    /// `self` as a `T`; never loses information.
    fn into_safe_cast(self) -> T;
}

impl<S, T: FromSafeCast<S>> IntoSafeCast<T> for S {
    fn into_safe_cast(self) -> T {
        T::from_safe_cast(self)
    }
}

macro_rules! impl_safe_cast {
    ($($from:ty => $to:ty),+ $(,)?) => {
        $(
            const _: () = assert!(core::mem::size_of::<$from>() <= core::mem::size_of::<$to>());
            impl FromSafeCast<$from> for $to {
                fn from_safe_cast(value: $from) -> Self {
                    // Lossless: the assertion above shows `$to` holds every `$from`, and both
                    // are unsigned.
                    value as $to
                }
            }
        )+
    };
}

impl_safe_cast!(u32 => usize, usize => u64);

#[cfg(CONFIG_64BIT)]
impl_safe_cast!(u64 => usize);
