// SPDX-License-Identifier: GPL-2.0

//! Yielding the CPU in long loops.

/// Loops over nodes call [`cond_resched`] once every this many.
pub(crate) const RESCHED_EVERY: u32 = 256;

/// Gives the CPU to another task if one is due to run: `cond_resched()`, for loops over up to
/// millions of nodes. Call it only where sleeping is allowed (no spinlock held; the store's
/// sleeping locks may be).
///
/// A preemptible kernel without dynamic preemption (`CONFIG_PREEMPTION` without
/// `CONFIG_PREEMPT_DYNAMIC`, as the test guests are built) preempts such loops by itself and has
/// no `__cond_resched()`: there this does nothing, as `cond_resched()` does in C.
#[inline]
pub(crate) fn cond_resched() {
    #[cfg(any(not(CONFIG_PREEMPTION), CONFIG_PREEMPT_DYNAMIC))]
    // SAFETY: `__cond_resched` may be called from any context that may sleep, which callers
    // guarantee (see above).
    unsafe {
        kernel::bindings::__cond_resched();
    }
}

/// Counts the iterations of a loop and calls [`cond_resched`] every [`RESCHED_EVERY`].
#[derive(Default)]
pub(crate) struct Resched(u32);

impl Resched {
    /// One more iteration.
    #[inline]
    pub(crate) fn tick(&mut self) {
        self.0 += 1;
        if self.0 >= RESCHED_EVERY {
            self.0 = 0;
            cond_resched();
        }
    }
}
