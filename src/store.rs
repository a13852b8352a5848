// SPDX-License-Identifier: GPL-2.0

//! The store that every open file shares: the tree under its reader-writer lock, and the
//! condition that watchers wait on.

use kernel::{
    new_condvar,
    new_mutex,
    prelude::*,
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
    rwsem::{
        new_rwsem,
        RwSem,
        WriteGuard, //
    },
    tree::Tree, //
};

/// The tree, and the condition its watchers wait on.
#[pin_data]
pub(crate) struct Store {
    /// The tree. Requests hold the lock only while they touch the tree, never across an access
    /// to user memory: readers (gets, stats, listings, checks) share it, changes have it alone.
    /// Waits for it end when the task is killed.
    #[pin]
    tree: RwSem<Tree>,
    /// The version of the last change whose watchers have been woken. A change, after it has
    /// released `tree`, sets it and notifies `changed` while holding it; a watcher, after it has
    /// released `tree`, checks it before sleeping on `changed`. Neither lock is ever held while
    /// taking the other, and no wake-up falls between a watcher's look and its sleep.
    #[pin]
    published: Mutex<u64>,
    /// Notified after every change of the tree; watchers wait on it with `published`.
    #[pin]
    changed: CondVar,
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
        Arc::pin_init(
            try_pin_init!(Self {
                tree <- new_rwsem!(Tree::new(limits)?),
                published <- new_mutex!(0),
                changed <- new_condvar!(),
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
        drop(tree);
        if after != before {
            let mut published = self.published.lock();
            *published = (*published).max(after);
            self.changed.notify_all();
        }
        result
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
            let mut published = self.published.lock();
            // Sleep only while no change past what was scanned has been published.
            while *published <= scanned {
                let jiffies = match wait {
                    Wait::For(jiffies) => jiffies,
                    Wait::No | Wait::Forever => Jiffies::MAX,
                };
                match self
                    .changed
                    .wait_interruptible_timeout(&mut published, jiffies)
                {
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
                        return Err(match wait {
                            Wait::Forever => ERESTARTSYS,
                            _ => EINTR,
                        });
                    }
                }
            }
        }
    }
}
