// SPDX-License-Identifier: GPL-2.0

//! [`RwSem`]: data behind the kernel's `struct rw_semaphore`, for many readers or one writer.
//!
//! The 7.2 `kernel::sync` module has mutexes and spinlocks but no reader-writer lock. Gets,
//! stats and checks only read the tree, and two of them on two CPUs should not wait for each
//! other: this is the smallest safe wrapper that lets them share it.

use core::{
    cell::UnsafeCell,
    marker::{
        PhantomData,
        PhantomPinned, //
    },
    ops::{
        Deref,
        DerefMut, //
    },
};

use kernel::{
    bindings,
    error::to_result,
    prelude::*,
    str::CStr,
    sync::LockClassKey,
    types::Opaque, //
};

/// Creates an [`RwSem`] initialiser with a lock class of its own, named after the place it is
/// created at.
macro_rules! new_rwsem {
    ($inner:expr $(,)?) => {
        $crate::rwsem::RwSem::new(
            $inner,
            kernel::optional_name!(),
            kernel::sync::static_lock_class!(),
        )
    };
}
pub(crate) use new_rwsem;

/// Data of type `T` behind a reader-writer semaphore: shared access for any number of readers
/// ([`RwSem::read_killable`]) or exclusive access for one writer ([`RwSem::write`]). Both may sleep.
///
/// # Invariants
///
/// `sem` is an initialised `rw_semaphore`, and `data` is only accessed through the guards, which
/// hold it for reading (shared access) or for writing (exclusive access).
#[pin_data]
pub(crate) struct RwSem<T> {
    #[pin]
    sem: Opaque<bindings::rw_semaphore>,
    /// The semaphore's wait list points into it: it must not move.
    #[pin]
    _pin: PhantomPinned,
    data: UnsafeCell<T>,
}

// SAFETY: An `RwSem` can move to another thread with its data, if the data can.
unsafe impl<T: Send> Send for RwSem<T> {}

// SAFETY: Through a shared `RwSem`, several threads get `&T` at once (readers), so `T` must be
// `Sync`, and one at a time gets `&mut T` (writers), so `T` must be `Send`.
unsafe impl<T: Send + Sync> Sync for RwSem<T> {}

impl<T> RwSem<T> {
    /// An initialiser for a semaphore guarding `data`, in lock class `key` named `name`.
    pub(crate) fn new(
        data: T,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        // INVARIANT: `sem` is initialised by `__init_rwsem` below.
        pin_init!(Self {
            data: UnsafeCell::new(data),
            _pin: PhantomPinned,
            // SAFETY: `slot` is valid while the closure is called, and `name` and `key` are static,
            // so they outlive the semaphore.
            sem <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_rwsem(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }

    /// Waits until no writer holds the data, then gives shared access to it; a fatal signal
    /// (the task being killed) ends the wait with `EINTR`.
    pub(crate) fn read_killable(&self) -> Result<ReadGuard<'_, T>> {
        // SAFETY: By the type invariant, `sem` is an initialised `rw_semaphore`.
        to_result(unsafe { bindings::down_read_killable(self.sem.get()) })?;
        // INVARIANT: The semaphore is now held for reading.
        Ok(ReadGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// Like [`RwSem::write`], but a fatal signal (the task being killed) ends the wait with
    /// `EINTR`.
    pub(crate) fn write_killable(&self) -> Result<WriteGuard<'_, T>> {
        // SAFETY: By the type invariant, `sem` is an initialised `rw_semaphore`.
        to_result(unsafe { bindings::down_write_killable(self.sem.get()) })?;
        // INVARIANT: The semaphore is now held for writing.
        Ok(WriteGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// Waits until nobody holds the data, then gives exclusive access to it.
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        // SAFETY: By the type invariant, `sem` is an initialised `rw_semaphore`.
        unsafe { bindings::down_write(self.sem.get()) };
        // INVARIANT: The semaphore is now held for writing.
        WriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }
}

/// Shared access to the data of an [`RwSem`], until dropped.
///
/// # Invariants
///
/// The guard holds `lock` for reading. It stays with the task that took it.
pub(crate) struct ReadGuard<'a, T> {
    lock: &'a RwSem<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariant, the semaphore is held for reading, so no writer has the
        // data; readers only share it.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, this task holds the semaphore for reading.
        unsafe { bindings::up_read(self.lock.sem.get()) };
    }
}

/// Exclusive access to the data of an [`RwSem`], until dropped.
///
/// # Invariants
///
/// The guard holds `lock` for writing. It stays with the task that took it.
pub(crate) struct WriteGuard<'a, T> {
    lock: &'a RwSem<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariant, the semaphore is held for writing, so nobody else has the
        // data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: By the type invariant, the semaphore is held for writing, so nobody else has the
        // data, and `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, this task holds the semaphore for writing.
        unsafe { bindings::up_write(self.lock.sem.get()) };
    }
}

#[kunit_tests(pathstore_rwsem)]
mod tests {
    use super::*;
    use kernel::sync::Arc;

    #[test]
    fn reads_and_writes() -> Result {
        // One task takes it once at a time: a second read while holding one could deadlock
        // behind a waiting writer (and lockdep says so).
        let sem = Arc::pin_init(new_rwsem!(1u32), GFP_KERNEL)?;
        assert_eq!(*sem.read_killable()?, 1);
        *sem.write() += 1;
        assert_eq!(*sem.read_killable()?, 2);
        Ok(())
    }
}
