// SPDX-License-Identifier: GPL-2.0

//! The store that every open file shares: the tree under its reader-writer lock, the queues
//! that watchers wait on ([`crate::watchers`]), and what pending text responses are charged
//! ([`crate::quota::Pending`]).

use kernel::{
    bindings,
    new_condvar,
    new_mutex,
    prelude::*,
    rbtree::RBTreeNodeReservation,
    sync::{
        Arc,
        CondVar,
        CondVarTimeoutResult,
        Mutex, //
    },
    time::Jiffies, //
};

use crate::{
    access::Caller,
    events::{
        EventKind,
        Lookup, //
    },
    limits::Limits,
    path::Path,
    quota::Pending,
    rwsem::{
        new_rwsem,
        RwSem,
        WriteGuard, //
    },
    sched::cond_resched,
    tree::{
        Drain,
        Tree, //
    },
    watchers::{
        Wake,
        Watchers,
        QUEUES, //
    },
};

/// The tree, and the condition its watchers wait on.
#[pin_data]
pub(crate) struct Store {
    /// The tree. Requests hold the lock only while they touch the tree, never across an access
    /// to user memory: readers (gets, stats, listings, checks) share it, changes have it alone.
    /// Waits for it end when the task is killed.
    #[pin]
    tree: RwSem<Tree>,
    /// The sleeping watchers and the version of the last change whose watchers have been
    /// woken. A change, after it has released `tree`, publishes its version here and learns
    /// which queues to notify; a watcher, after it has released `tree`, checks the version and
    /// counts itself in before sleeping on its queue. Neither lock is ever held while taking the
    /// other, and no wake-up falls between a watcher's look and its sleep.
    #[pin]
    watchers: Mutex<Watchers>,
    /// The queues watchers sleep on, with `watchers`, chosen by the path they watch.
    #[pin]
    queues: [CondVar; QUEUES],
    /// The key of the hash that chooses a path's queue: random, drawn at load.
    key: u64,
    /// What the open files' pending text responses are charged, by account. Never held while
    /// taking another lock.
    #[pin]
    pending: Mutex<Pending>,
}

/// How long a watch waits for a change.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// Not at all: report what already happened.
    No,
    /// At most this long.
    For(Jiffies),
    /// Until a change comes (or a signal).
    Forever,
}

/// The change a watch reports.
pub(crate) struct Change {
    /// What the change did.
    pub(crate) kind: EventKind,
    /// The version of the change; for [`EventKind::Lost`], the store's current version.
    pub(crate) version: u64,
}

impl Store {
    /// A store holding an empty tree under `limits`.
    pub(crate) fn new(limits: Limits) -> Result<Arc<Self>> {
        // SAFETY: `get_random_u64` may be called from any context once the random pool is up,
        // which it is before modules load.
        let key = unsafe { bindings::get_random_u64() };
        Arc::pin_init(
            try_pin_init!(Self {
                tree <- new_rwsem!(Tree::new(limits)?),
                watchers <- new_mutex!(Watchers::new(key)?),
                queues <- pin_init::pin_init_array_from_fn(|_| new_condvar!()),
                key,
                pending <- new_mutex!(Pending::new()),
            }),
            GFP_KERNEL,
        )
    }

    /// Runs `f`, which only reads, on the tree, sharing it with other readers. Fails with
    /// `EINTR` if the task is killed while it waits for the tree.
    pub(crate) fn read<R, E: From<Error>>(
        &self,
        f: impl FnOnce(&Tree) -> Result<R, E>,
    ) -> Result<R, E> {
        f(&*self.tree.read_killable()?)
    }

    /// Runs `f`, which may change the tree, with the tree to itself, and wakes the watchers if
    /// it did. Fails with `EINTR` if the task is killed while it waits for the tree.
    pub(crate) fn change<R, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut Tree) -> Result<R, E>,
    ) -> Result<R, E> {
        let tree = self.tree.write_killable()?;
        self.changed_by(tree, f)
    }

    /// Like [`Store::change`], but waits for the tree whatever happens: for the cleanup of a
    /// released file, which must run even when its process was killed.
    pub(crate) fn change_uninterruptible<R, E>(
        &self,
        f: impl FnOnce(&mut Tree) -> Result<R, E>,
    ) -> Result<R, E> {
        self.changed_by(self.tree.write(), f)
    }

    /// Runs `f` on the tree held by `tree`, releases it, and wakes the watchers if `f`
    /// changed it.
    fn changed_by<R, E>(
        &self,
        mut tree: WriteGuard<'_, Tree>,
        f: impl FnOnce(&mut Tree) -> Result<R, E>,
    ) -> Result<R, E> {
        let before = tree.sequence();
        let result = f(&mut tree);
        let after = tree.sequence();
        if after == before {
            return result;
        }
        // What to wake, from the log, while it still holds the changes.
        let key = self.key;
        let wake = match tree.events().since(before) {
            Some(events) => events.fold(Wake::default(), |mut wake, event| {
                wake.add(key, event);
                wake
            }),
            None => Wake::ALL,
        };
        drop(tree);
        let queues = self.watchers.lock().publish(after, wake);
        for queue in queues.iter().filter_map(|i| self.queues.get(i)) {
            queue.notify_all();
        }
        result
    }

    /// Drains what a delete took out of the tree (see [`Drain`]): takes a batch of its nodes out
    /// under the lock, frees them after releasing it, and yields the CPU, until none are left.
    /// Waits for the lock whatever happens, as the nodes must go: each wait is only as long as
    /// another holder's one step.
    pub(crate) fn drain(&self, mut drain: Drain) {
        while !drain.is_done() {
            self.tree.write().drain(&mut drain);
            drain.free_batch();
            cond_resched();
        }
    }

    /// Charges `bytes` of a pending text response to `caller`'s account, within its
    /// `uid_max_bytes` unless it holds `CAP_SYS_ADMIN` (`EDQUOT`).
    pub(crate) fn charge_pending(&self, caller: &Caller, bytes: u64, limits: &Limits) -> Result {
        let room = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        self.pending.lock().charge(
            caller.account,
            bytes,
            limits.uid_max_bytes,
            caller.admin,
            room,
        )
    }

    /// Returns `bytes` of pending text responses that `account` no longer holds.
    pub(crate) fn release_pending(&self, account: u32, bytes: u64) {
        self.pending.lock().release(account, bytes);
    }

    /// Waits as `wait` says for the first change after version `after` of the node at `path`
    /// (with `subtree`, of anything below it too), for `caller`, who must be allowed to read the
    /// node if it exists (`EACCES`). The changed node's path is written to `changed`, whose
    /// capacity must hold any path of the store (it is not grown).
    ///
    /// Fails with `ETIMEDOUT` when no change comes in time, and when a signal arrives with
    /// `EINTR` (after a finite wait) or `ERESTARTSYS` (waiting forever: the call is restarted
    /// under `SA_RESTART`, which is safe as it asks for the same changes again).
    pub(crate) fn watch(
        &self,
        path: &Path<'_>,
        subtree: bool,
        after: u64,
        wait: Wait,
        caller: &Caller,
        changed: &mut KVVec<u8>,
    ) -> Result<Change> {
        let mut wait = wait;
        // Changes up to this version are known not to concern the watch.
        let mut scanned = after;
        loop {
            {
                let tree = self.tree.read_killable()?;
                tree.may_watch(path, caller)?;
                changed.clear();
                let current = tree.sequence();
                match tree
                    .events()
                    .find(path.as_bytes(), subtree, scanned, current, caller)
                {
                    Lookup::Event(event) => {
                        for &b in event.path.iter() {
                            changed.push_within_capacity(b).map_err(|_| ENOMEM)?;
                        }
                        return Ok(Change {
                            kind: event.kind,
                            version: event.version,
                        });
                    }
                    Lookup::Lost(current) => {
                        return Ok(Change {
                            kind: EventKind::Lost,
                            version: current,
                        })
                    }
                    Lookup::Nothing => scanned = scanned.max(current),
                }
            }
            if let Wait::No = wait {
                return Err(ETIMEDOUT);
            }
            let mut watchers = self.watchers.lock();
            // Counted in, the watcher is woken by every change that may concern it.
            let queue = watchers.count(path.as_bytes(), true);
            let slept: Result = 'sleep: {
                let Some(queue) = self.queues.get(queue) else {
                    break 'sleep Err(EINVAL);
                };
                // Sleep only while no change past what was scanned has been published.
                while watchers.published <= scanned {
                    let jiffies = match wait {
                        Wait::For(jiffies) => jiffies,
                        Wait::No | Wait::Forever => Jiffies::MAX,
                    };
                    match queue.wait_interruptible_timeout(&mut watchers, jiffies) {
                        CondVarTimeoutResult::Woken { jiffies } => {
                            if let Wait::For(_) = wait {
                                wait = Wait::For(jiffies);
                            }
                        }
                        // Look once more: a change may have come with the timeout.
                        CondVarTimeoutResult::Timeout => {
                            wait = Wait::No;
                            break;
                        }
                        CondVarTimeoutResult::Signal { .. } => {
                            break 'sleep Err(match wait {
                                Wait::Forever => ERESTARTSYS,
                                _ => EINTR,
                            });
                        }
                    }
                }
                Ok(())
            };
            watchers.count(path.as_bytes(), false);
            drop(watchers);
            slept?;
        }
    }
}
