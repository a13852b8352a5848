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
        RwSem, //
    },
    tree::Tree, //
};

/// The tree and its waiters.
#[pin_data]
pub(crate) struct Store {
    /// The tree. Requests hold the lock only while they touch the tree, never across an access
    /// to user memory: readers (gets, stats, checks) share it, changes have it alone.
    #[pin]
    tree: RwSem<Tree>,
    /// Held by a watcher from its look at the changes until it sleeps on `changed`, and taken by
    /// a change (after it released `tree`) to notify, so that no wake-up falls in between.
    #[pin]
    waiters: Mutex<()>,
    /// Notified after every change of the tree; watchers wait on it with `waiters`.
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
                waiters <- new_mutex!(()),
                changed <- new_condvar!(),
            }),
            GFP_KERNEL,
        )
    }

    /// Runs `f`, which only reads, on the tree, sharing it with other readers.
    pub(crate) fn read<R, E>(&self, f: impl FnOnce(&Tree) -> Result<R, E>) -> Result<R, E> {
        f(&self.tree.read())
    }

    /// Runs `f`, which may change the tree, with the tree to itself, and wakes the watchers if
    /// it did.
    pub(crate) fn change<R, E>(&self, f: impl FnOnce(&mut Tree) -> Result<R, E>) -> Result<R, E> {
        let (result, changed) = {
            let mut tree = self.tree.write();
            let before = tree.sequence();
            let result = f(&mut tree);
            (result, tree.sequence() != before)
        };
        if changed {
            // Once every watcher that looked before this change sleeps.
            let _waiters = self.waiters.lock();
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
        let mut waiters = self.waiters.lock();
        let mut wait = wait;
        // Changes up to this version are known not to concern the watch.
        let mut scanned = after;
        loop {
            let tree = self.tree.read();
            tree.may_watch(path, caller)?;
            changed.clear();
            let current = tree.sequence();
            match tree
                .events()
                .find(path.as_bytes(), subtree, scanned, current)
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
            drop(tree);
            let jiffies = match wait {
                Wait::No => return Err(ETIMEDOUT),
                Wait::For(jiffies) => jiffies,
                Wait::Forever => Jiffies::MAX,
            };
            match self
                .changed
                .wait_interruptible_timeout(&mut waiters, jiffies)
            {
                CondVarTimeoutResult::Woken { jiffies } => {
                    if let Wait::For(_) = wait {
                        wait = Wait::For(jiffies);
                    }
                }
                // Look once more: a change may have come with the timeout.
                CondVarTimeoutResult::Timeout => wait = Wait::No,
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
