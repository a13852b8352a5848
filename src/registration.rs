// SPDX-License-Identifier: GPL-2.0

//! A misc device registration whose file operations hold a reference on this module.
//!
//! `kernel::miscdevice::MiscDeviceRegistration` registers file operations without an `owner`,
//! so the VFS takes no module reference while the device is open and `rmmod` could unload the
//! module under an open file. This registration uses the same file operations (those that
//! `MiscDeviceOptions::into_raw` builds for the [`MiscDevice`] implementation), copied with
//! `owner` set to this module: `misc_open()` then pins the module for as long as a file is open,
//! and `rmmod` fails with `EBUSY` meanwhile.

use core::marker::PhantomData;

use kernel::{
    bindings,
    error::to_result,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    types::Opaque, //
};

/// File operations that can live in a `static`.
#[repr(transparent)]
pub(crate) struct FileOperations(bindings::file_operations);

// SAFETY: The file operations are immutable after construction and only hold function pointers
// and the module pointer, which may be used from any thread.
unsafe impl Sync for FileOperations {}

impl FileOperations {
    /// The file operations of `T`'s misc device, owned by this module.
    pub(crate) const fn owned<T: MiscDevice>(name: &'static CStr) -> Self {
        let raw = MiscDeviceOptions { name }.into_raw::<T>();
        // SAFETY: `into_raw` points `fops` at a `static` vtable, valid for reads forever.
        let mut fops = unsafe { raw.fops.read() };
        fops.owner = (&raw const bindings::__this_module).cast_mut();
        Self(fops)
    }
}

/// A registered misc device whose open files pin this module.
///
/// # Invariants
///
/// `inner` is registered with `misc_register` from creation until drop, with its `fops` pointing
/// at a `'static` [`FileOperations`] built for `T`.
#[repr(transparent)]
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: The registration is only used to deregister the device, which may happen on any thread.
unsafe impl<T> Send for Registration<T> {}
// SAFETY: `&Registration` exposes nothing that is unsafe to share.
unsafe impl<T> Sync for Registration<T> {}

impl<T> Registration<T> {
    /// The open callback of `T`'s file operations reads the registered `struct miscdevice` as a
    /// `MiscDeviceRegistration<T>`, a `#[repr(transparent)]` wrapper of `Opaque<miscdevice>`
    /// (`inner`, a private field, so only its size and alignment can be compared). `Self` must
    /// have that layout too: the same size and alignment, with `inner` at offset 0. Evaluating
    /// this constant checks it at compile time for the `T` it is used with.
    const SAME_LAYOUT: () = {
        type Inner = Opaque<bindings::miscdevice>;
        assert!(size_of::<Self>() == size_of::<Inner>());
        assert!(align_of::<Self>() == align_of::<Inner>());
        assert!(core::mem::offset_of!(Self, inner) == 0);
        assert!(size_of::<MiscDeviceRegistration<T>>() == size_of::<Inner>());
        assert!(align_of::<MiscDeviceRegistration<T>>() == align_of::<Inner>());
    };
}

impl<T: MiscDevice> Registration<T> {
    /// Registers the misc device `name` with the file operations `fops`; its node in `/dev` gets
    /// the permissions `mode`.
    pub(crate) fn register(
        name: &'static CStr,
        fops: &'static FileOperations,
        mode: u16,
    ) -> impl PinInit<Self, Error> {
        #[allow(clippy::let_unit_value)]
        let () = Self::SAME_LAYOUT;
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc = MiscDeviceOptions { name }.into_raw::<T>();
                misc.fops = &fops.0;
                misc.mode = mode;
                // SAFETY: `slot` is valid for writes (guaranteed by `try_ffi_init`).
                unsafe { slot.write(misc) };
                // SAFETY: `slot` holds an initialized `miscdevice` and is pinned, so it stays at
                // this address until `drop` deregisters it. Its `fops` are `T`'s own, whose open
                // callback reads the device as a `MiscDeviceRegistration<T>`, which has the
                // layout of `Self` (`SAME_LAYOUT`, evaluated above).
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant, `inner` was registered and is not yet deregistered.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}
