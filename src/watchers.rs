// SPDX-License-Identifier: GPL-2.0

//! Who waits for which change: the wait queues of watches, chosen by path.
//!
//! A watcher sleeps on one of [`QUEUES`] queues, chosen by a hash of the path it watches, and a
//! change wakes only the queues of watchers it may concern: those of the changed path and of its
//! ancestors (watches of the node, subtree watches above it, and watches of a node the change
//! created as a parent), and for a deletion those of every watched path below the deleted one.
//! Each queue counts its sleepers by a second part of the hash of their path (a signature), and
//! a change of a path wakes its queue only when a sleeper has the path's signature: a change and
//! an unrelated watch share a queue once in 64, and then wake it once in 4096.
//!
//! So a change costs the watchers of unrelated paths nothing, however many there are; a watcher
//! woken for a change that does not concern it (it shares a queue with one that does) looks at
//! the log and sleeps again. The hash is keyed with a random number drawn at load, so that no
//! user can choose paths that share another user's queue.

use kernel::prelude::*;

use crate::events::{
    Event,
    EventKind, //
};

/// The number of wait queues.
pub(crate) const QUEUES: usize = 64;

/// A set of queues: bit `i` for queue `i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueueSet(u64);

impl QueueSet {
    /// Every queue.
    pub(crate) const ALL: Self = Self(u64::MAX);

    fn add(&mut self, queue: usize) {
        self.0 |= 1 << (queue % QUEUES);
    }

    /// The queues in the set, in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = usize> {
        (0..QUEUES).filter(move |&i| self.0 & (1 << i) != 0)
    }
}

/// Where the watchers of a path sleep: a queue, and the path's signature in it (both less than
/// [`QUEUES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    queue: usize,
    sig: usize,
}

/// Calls `f` with the slot of each ancestor of `path` (a normalised path: `/` or components
/// without a trailing `/`), root first, and then with the slot of `path` itself and `true`.
fn for_each_prefix(key: u64, path: &[u8], mut f: impl FnMut(Slot, bool)) {
    // FNV-1a over the bytes, from a keyed start: the hash of each prefix is the running hash
    // where the prefix ends.
    const PRIME: u64 = 0x100_0000_01b3;
    let queue = |h: u64| -> Slot {
        let mixed = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        // The top 6 bits and the 6 below them: each less than `QUEUES`.
        Slot {
            queue: usize::try_from(mixed >> 58).unwrap_or(0),
            sig: usize::try_from((mixed >> 52) & 63).unwrap_or(0),
        }
    };
    let mut h = key ^ 0xcbf2_9ce4_8422_2325;
    for (i, &b) in path.iter().enumerate() {
        if b == b'/' && i > 0 {
            f(queue(h), false);
        }
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        if i == 0 && path.len() > 1 {
            // The root, an ancestor of every other path.
            f(queue(h), false);
        }
    }
    f(queue(h), true);
}

/// The watchers that sleep, by queue, and the version of the last change whose watchers have
/// been woken. Kept under the store's `watchers` mutex.
pub(crate) struct Watchers {
    /// The version of the last change whose watchers have been woken.
    pub(crate) published: u64,
    /// The key of the path hash.
    key: u64,
    /// `sleeping[i][s]`: sleeping watchers on queue `i` whose path has the signature `s`.
    sleeping: KBox<[[u32; QUEUES]; QUEUES]>,
    /// `below[i][j]`: sleeping watchers on queue `j` whose path is below a path of queue `i`.
    below: KBox<[[u32; QUEUES]; QUEUES]>,
}

/// The queues a change must wake, found in the tree's log while its lock is held, and resolved
/// against the sleeping watchers by [`Watchers::publish`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wake {
    /// `paths[i]`: the signatures of the changed paths and their ancestors in queue `i`.
    paths: [QueueSet; QUEUES],
    /// The queues of the deleted paths: watchers below them are woken too.
    deleted: QueueSet,
    /// Every queue: for changes the log no longer holds.
    all: bool,
}

impl Default for Wake {
    /// Nothing to wake.
    fn default() -> Self {
        Self {
            all: false,
            ..Self::ALL
        }
    }
}

impl Wake {
    /// Every watcher: for changes the log no longer holds.
    pub(crate) const ALL: Self = Self {
        paths: [QueueSet(0); QUEUES],
        deleted: QueueSet(0),
        all: true,
    };

    /// Adds the queues that `event` concerns.
    pub(crate) fn add(&mut self, key: u64, event: &Event) {
        if event.kind == EventKind::Lost || event.path.is_empty() {
            *self = Self::ALL;
            return;
        }
        let deleted = event.kind == EventKind::Deleted;
        for_each_prefix(key, &event.path, |slot, itself| {
            if let Some(sigs) = self.paths.get_mut(slot.queue) {
                sigs.add(slot.sig);
            }
            if itself && deleted {
                self.deleted.add(slot.queue);
            }
        });
    }
}

impl Watchers {
    /// No watcher sleeps yet; paths are hashed with `key`.
    pub(crate) fn new(key: u64) -> Result<Self> {
        Ok(Self {
            published: 0,
            key,
            sleeping: KBox::init(pin_init::init_zeroed(), GFP_KERNEL)?,
            below: KBox::init(pin_init::init_zeroed(), GFP_KERNEL)?,
        })
    }

    /// Counts a watcher of `path` going to sleep (`sleeps`) or waking up; returns its queue.
    pub(crate) fn count(&mut self, path: &[u8], sleeps: bool) -> usize {
        let step = |count: &mut u32| {
            *count = if sleeps {
                count.saturating_add(1)
            } else {
                count.saturating_sub(1)
            }
        };
        let mut own = Slot { queue: 0, sig: 0 };
        for_each_prefix(self.key, path, |slot, itself| {
            if itself {
                own = slot;
            }
        });
        let sleeping = self.sleeping.get_mut(own.queue);
        if let Some(count) = sleeping.and_then(|row| row.get_mut(own.sig)) {
            step(count);
        }
        let below = &mut *self.below;
        for_each_prefix(self.key, path, |slot, itself| {
            let row = below.get_mut(slot.queue).filter(|_| !itself);
            if let Some(count) = row.and_then(|row| row.get_mut(own.queue)) {
                step(count);
            }
        });
        own.queue
    }

    /// Publishes the change `version`, which concerns `wake`, and returns the queues that have
    /// watchers to wake.
    pub(crate) fn publish(&mut self, version: u64, wake: Wake) -> QueueSet {
        self.published = self.published.max(version);
        if wake.all {
            return QueueSet::ALL;
        }
        let mut queues = QueueSet::default();
        for (queue, (sigs, sleeping)) in wake.paths.iter().zip(self.sleeping.iter()).enumerate() {
            if sigs
                .iter()
                .any(|sig| sleeping.get(sig).is_some_and(|&n| n > 0))
            {
                queues.add(queue);
            }
        }
        for deleted in wake.deleted.iter() {
            if let Some(row) = self.below.get(deleted) {
                for (queue, &n) in row.iter().enumerate() {
                    if n > 0 {
                        queues.add(queue);
                    }
                }
            }
        }
        queues
    }
}

#[kunit_tests(pathstore_watchers)]
mod tests {
    use super::*;
    use crate::{
        limits::Limits,
        path::Path, //
    };

    const KEY: u64 = 0x5eed;

    fn event(kind: EventKind, path: &[u8]) -> Result<Event> {
        Event::new(
            1,
            kind,
            &Path::parse(path, &Limits::from_params(16, 256, 8, 20, 200))?,
        )
    }

    /// The queues woken by one change `kind` of `path`.
    fn woken(w: &mut Watchers, kind: EventKind, path: &[u8]) -> Result<QueueSet> {
        let mut wake = Wake::default();
        wake.add(KEY, &event(kind, path)?);
        Ok(w.publish(1, wake))
    }

    #[test]
    fn prefixes() {
        // The queue of a path is the queue it has as an ancestor of a longer path.
        let mut own = Slot { queue: 0, sig: 0 };
        for_each_prefix(KEY, b"/a/bc", |q, itself| {
            if itself {
                own = q;
            }
        });
        let mut seen = KVVec::<(Slot, bool)>::new();
        for_each_prefix(KEY, b"/a/bc/d", |q, itself| {
            let _ = seen.push((q, itself), GFP_KERNEL);
        });
        assert_eq!(seen.len(), 4);
        assert_eq!(seen.get(2).copied(), Some((own, false)));
        assert_eq!(seen.get(3).map(|s| s.1), Some(true));
        let mut root = KVVec::<(Slot, bool)>::new();
        for_each_prefix(KEY, b"/", |q, itself| {
            let _ = root.push((q, itself), GFP_KERNEL);
        });
        assert_eq!(root.len(), 1);
        assert_eq!(seen.first().map(|s| s.0), root.first().map(|s| s.0));
    }

    #[test]
    fn wakes_only_the_concerned() -> Result {
        let mut w = Watchers::new(KEY)?;
        let nobody = QueueSet::default();
        assert_eq!(woken(&mut w, EventKind::Changed, b"/m/x")?, nobody);
        let q = w.count(b"/m/x", true);
        let mut mine = QueueSet::default();
        mine.add(q);
        // The node, a node created below it (it may have been created as a parent), an
        // ancestor deleted.
        assert_eq!(woken(&mut w, EventKind::Changed, b"/m/x")?, mine);
        assert_eq!(woken(&mut w, EventKind::Created, b"/m/x/y/z")?, mine);
        assert_eq!(woken(&mut w, EventKind::Deleted, b"/m")?, mine);
        assert_eq!(woken(&mut w, EventKind::Deleted, b"/")?, mine);
        // Other paths (these do not share the queue under this key).
        assert_eq!(woken(&mut w, EventKind::Changed, b"/other/key")?, nobody);
        assert_eq!(woken(&mut w, EventKind::Deleted, b"/other")?, nobody);
        assert_eq!(woken(&mut w, EventKind::Changed, b"/m")?, nobody);
        // A change the log lost wakes everyone.
        assert_eq!(w.publish(2, Wake::ALL), QueueSet::ALL);
        // Counted out, the watcher is woken by nothing.
        assert_eq!(w.count(b"/m/x", false), q);
        assert_eq!(woken(&mut w, EventKind::Changed, b"/m/x")?, nobody);
        assert_eq!(woken(&mut w, EventKind::Deleted, b"/m")?, nobody);
        assert_eq!(w.published, 2);
        Ok(())
    }
}
