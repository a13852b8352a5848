// SPDX-License-Identifier: GPL-2.0

//! The change log that watches read: the most recent changes of the store, one per version.
//!
//! Every change of the store takes the next version (the store-wide sequence number) and leaves
//! one [`Event`] here: the node created, changed or deleted. The log keeps the last
//! `watch_events` of them (a module parameter); a watcher that asks for changes older than that
//! learns that some were lost ([`Lookup::Lost`]) and re-reads what it watches.

use kernel::{
    alloc::kvec::PushError,
    prelude::*, //
};

use crate::{
    access::Caller,
    bytes::user_gfp,
    num::FromSafeCast,
    path::Path, //
};

/// What a change did to the node it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// The node was created (with its missing parents).
    Created,
    /// The node's value (or mode) was replaced.
    Changed,
    /// The node was deleted, with everything below it.
    Deleted,
    /// Changes were lost: the watcher must re-read what it watches.
    Lost,
}

/// Who may learn of a change through a subtree watch: those who may read every ancestor of the
/// changed node, as they could list their way to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Visibility {
    /// Everyone: every ancestor is readable by all.
    All,
    /// The owner of the ancestors that others may not read (and `CAP_SYS_ADMIN`).
    Owner(u32),
    /// `CAP_SYS_ADMIN` only: private ancestors of different owners.
    Admin,
}

impl Visibility {
    /// The visibility of a node below this one and an ancestor owned by `owner` that others
    /// may or may not read.
    pub(crate) fn below(self, owner: u32, others_read: bool) -> Self {
        match (self, others_read) {
            (visibility, true) => visibility,
            (Self::All, false) => Self::Owner(owner),
            (Self::Owner(uid), false) if uid == owner => self,
            (_, false) => Self::Admin,
        }
    }

    fn allows(self, caller: &Caller) -> bool {
        match self {
            Self::All => true,
            Self::Owner(uid) => caller.owns(uid),
            Self::Admin => caller.admin,
        }
    }
}

/// One change of the store.
pub(crate) struct Event {
    /// The version the change took.
    pub(crate) version: u64,
    /// What the change did.
    pub(crate) kind: EventKind,
    /// The path of the node (without a trailing `/`); empty for [`EventKind::Lost`].
    pub(crate) path: KVVec<u8>,
    /// For [`EventKind::Created`]: how many leading components of the path existed before; the
    /// change created the others (the node and its missing parents).
    existed: usize,
    /// Who may learn of it through a subtree watch (set when the change is committed).
    pub(crate) visibility: Visibility,
}

impl Event {
    /// A change of kind `kind` to the node at `path`, as version `version`. Allocates the copy of
    /// the path, so call it before changing anything.
    pub(crate) fn new(version: u64, kind: EventKind, path: &Path<'_>) -> Result<Self> {
        let bytes = path.as_bytes();
        let mut copy = KVVec::with_capacity(bytes.len(), user_gfp())?;
        copy.extend_from_slice(bytes, user_gfp())?;
        Ok(Self {
            version,
            kind,
            path: copy,
            existed: path.depth(),
            visibility: Visibility::All,
        })
    }

    /// The creation of the node at `path` and of its parents from component `existed` on.
    pub(crate) fn created(version: u64, path: &Path<'_>, existed: usize) -> Result<Self> {
        let mut event = Self::new(version, EventKind::Created, path)?;
        event.existed = existed;
        Ok(event)
    }

    /// A change whose path could not be recorded (no memory for it, in a cleanup that cannot
    /// fail): every watcher that reaches it is told that it lost changes.
    pub(crate) fn unknown(version: u64) -> Self {
        Self {
            version,
            kind: EventKind::Lost,
            path: KVVec::new(),
            existed: 0,
            visibility: Visibility::All,
        }
    }

    /// Whether a watch of `watched` by `caller` (with `subtree`, of everything below it too)
    /// sees this change: a change of the node, its deletion with an ancestor, its creation as a
    /// parent of the node created, or with `subtree` any change below it that `caller` may see.
    fn concerns(&self, watched: &[u8], subtree: bool, caller: &Caller) -> bool {
        let path = &self.path[..];
        self.kind == EventKind::Lost
            || path == watched
            || (self.kind == EventKind::Deleted && is_below(watched, path))
            || (self.kind == EventKind::Created
                && is_below(path, watched)
                && depth(watched) > self.existed)
            || (subtree && is_below(path, watched) && self.visibility.allows(caller))
    }
}

/// The number of components of `path` (without a trailing `/`; 0 for the root).
fn depth(path: &[u8]) -> usize {
    if path == b"/" {
        0
    } else {
        path.iter().filter(|&&b| b == b'/').count()
    }
}

/// Whether `path` is strictly below `ancestor` (both without a trailing `/`).
fn is_below(path: &[u8], ancestor: &[u8]) -> bool {
    if ancestor == b"/" {
        return path.len() > 1;
    }
    path.len() > ancestor.len() && path.starts_with(ancestor) && path[ancestor.len()] == b'/'
}

/// What a watch found in the log.
pub(crate) enum Lookup<'a> {
    /// The first change after the watch's version that concerns it.
    Event(&'a Event),
    /// Changes after the watch's version are no longer in the log (or one was not recorded):
    /// the watcher must re-read what it watches. Holds the current version.
    Lost(u64),
    /// No change after the watch's version concerns it (yet).
    Nothing,
}

/// The last changes of the store, oldest first.
///
/// It keeps at most `capacity` events and `max_bytes` bytes of their paths: past either, the
/// oldest are forgotten (an event past the byte bound keeps its place in the ring, without its
/// path, until it is overwritten). Every version up to `forgotten` is reported as lost.
pub(crate) struct EventLog {
    /// A ring of at most `capacity` events; once full, `oldest` is the index of the oldest.
    ring: KVVec<Event>,
    oldest: usize,
    /// The newest version of an event the log forgot (0 while it forgot none).
    forgotten: u64,
    /// Bytes of the paths of the events not forgotten.
    bytes: usize,
    /// Most bytes of paths kept.
    max_bytes: usize,
}

impl EventLog {
    /// An empty log that keeps `capacity` events (at least one) and `max_bytes` bytes of their
    /// paths (at least as many as the longest path).
    pub(crate) fn new(capacity: u32, max_bytes: usize) -> Result<Self> {
        Ok(Self {
            ring: KVVec::with_capacity(usize::from_safe_cast(capacity.max(1)), user_gfp())?,
            oldest: 0,
            forgotten: 0,
            bytes: 0,
            max_bytes,
        })
    }

    /// Records `event`, forgetting the oldest ones when the log is full or holds too many bytes
    /// of paths. Never allocates.
    pub(crate) fn record(&mut self, event: Event) {
        let len = event.path.len();
        if let Err(PushError(event)) = self.ring.push_within_capacity(event) {
            if let Some(slot) = self.ring.get_mut(self.oldest) {
                if slot.version > self.forgotten {
                    self.bytes = self.bytes.saturating_sub(slot.path.len());
                    self.forgotten = slot.version;
                }
                *slot = event;
                self.oldest = (self.oldest + 1) % self.ring.len();
            }
        }
        self.bytes += len;
        while self.bytes > self.max_bytes && self.forget_oldest() {}
    }

    /// Forgets the oldest event still remembered, freeing its path. Returns whether there was
    /// one other than the newest.
    fn forget_oldest(&mut self) -> bool {
        let forgotten = self.forgotten;
        let newest = self.ring.len().saturating_sub(1);
        let (newer, older) = self.ring.split_at_mut(self.oldest);
        let older_len = older.len();
        // Both halves are in version order, and the forgotten events come first.
        let i = older.partition_point(|e| e.version <= forgotten);
        let (index, event) = if i < older_len {
            (i, older.get_mut(i))
        } else {
            let i = newer.partition_point(|e| e.version <= forgotten);
            (older_len + i, newer.get_mut(i))
        };
        let Some(event) = event.filter(|_| index < newest) else {
            return false;
        };
        self.bytes = self.bytes.saturating_sub(event.path.len());
        self.forgotten = event.version;
        event.path = KVVec::new();
        true
    }

    /// The events after version `after`, oldest first; `None` when the log forgot some of them.
    pub(crate) fn since(&self, after: u64) -> Option<impl Iterator<Item = &Event>> {
        if after < self.forgotten {
            return None;
        }
        let (newer, older) = self.ring.split_at(self.oldest);
        let older = &older[older.partition_point(|e| e.version <= after)..];
        let newer = &newer[newer.partition_point(|e| e.version <= after)..];
        Some(Iterator::chain(older.iter(), newer.iter()))
    }

    /// The events, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Event> {
        let (newer, older) = self.ring.split_at(self.oldest);
        Iterator::chain(older.iter(), newer.iter())
    }

    /// The first change after version `after` that concerns a watch of `watched` by `caller`
    /// (with `subtree`, of everything below it too), given that the store is at version
    /// `current`.
    pub(crate) fn find(
        &self,
        watched: &[u8],
        subtree: bool,
        after: u64,
        current: u64,
        caller: &Caller,
    ) -> Lookup<'_> {
        if after >= current {
            return Lookup::Nothing;
        }
        // Some change after `after` may be among the forgotten ones.
        if after < self.forgotten {
            return Lookup::Lost(current);
        }
        // Both halves of the ring are in version order: find where each passes `after`.
        let (newer, older) = self.ring.split_at(self.oldest);
        let older = &older[older.partition_point(|e| e.version <= after)..];
        let newer = &newer[newer.partition_point(|e| e.version <= after)..];
        for event in Iterator::chain(older.iter(), newer.iter()) {
            if event.concerns(watched, subtree, caller) {
                return if event.kind == EventKind::Lost {
                    Lookup::Lost(current)
                } else {
                    Lookup::Event(event)
                };
            }
        }
        Lookup::Nothing
    }
}

#[kunit_tests(pathstore_events)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn event(version: u64, kind: EventKind, path: &[u8]) -> Result<Event> {
        Event::new(
            version,
            kind,
            &Path::parse(path, &Limits::from_params(16, 256, 8, 20, 200))?,
        )
    }

    fn found(
        log: &EventLog,
        watched: &[u8],
        subtree: bool,
        after: u64,
        now: u64,
    ) -> (Option<EventKind>, u64) {
        match log.find(watched, subtree, after, now, &Caller::root()) {
            Lookup::Event(e) => (Some(e.kind), e.version),
            Lookup::Lost(current) => (Some(EventKind::Lost), current),
            Lookup::Nothing => (None, 0),
        }
    }

    #[test]
    fn matching_and_loss() -> Result {
        let mut log = EventLog::new(3, 1 << 20)?;
        log.record(event(1, EventKind::Created, b"/a/b")?);
        log.record(event(2, EventKind::Changed, b"/a")?);
        log.record(event(3, EventKind::Deleted, b"/a")?);
        // A node watch sees its own changes and the deletion of an ancestor.
        assert_eq!(
            found(&log, b"/a/b", false, 0, 3),
            (Some(EventKind::Created), 1)
        );
        assert_eq!(
            found(&log, b"/a/b", false, 1, 3),
            (Some(EventKind::Deleted), 3)
        );
        assert_eq!(
            found(&log, b"/a", false, 0, 3),
            (Some(EventKind::Changed), 2)
        );
        // A subtree watch sees what is below; `/ab` is not below `/a`.
        assert_eq!(found(&log, b"/", true, 0, 3), (Some(EventKind::Created), 1));
        assert_eq!(found(&log, b"/ab", true, 0, 3), (None, 0));
        assert_eq!(
            found(&log, b"/a/b/c", false, 0, 3),
            (Some(EventKind::Deleted), 3)
        );
        assert_eq!(found(&log, b"/a", false, 3, 3), (None, 0));
        // The ring forgets version 1: asking from 0 has lost changes.
        log.record(event(4, EventKind::Created, b"/x")?);
        assert_eq!(found(&log, b"/x", false, 0, 4), (Some(EventKind::Lost), 4));
        assert_eq!(
            found(&log, b"/x", false, 1, 4),
            (Some(EventKind::Created), 4)
        );
        let versions: KVec<u64> = {
            let mut v = KVec::new();
            for e in log.iter() {
                v.push(e.version, user_gfp())?;
            }
            v
        };
        assert_eq!(&versions[..], &[2, 3, 4]);
        // Creating `/p/q/r` where only `/p` existed creates `/p/q` too.
        log.record(Event::created(
            5,
            &Path::parse(b"/p/q/r", &Limits::from_params(16, 256, 8, 20, 200))?,
            1,
        )?);
        assert_eq!(
            found(&log, b"/p/q", false, 4, 5),
            (Some(EventKind::Created), 5)
        );
        assert_eq!(found(&log, b"/p", false, 4, 5), (None, 0));
        // An unrecorded change reaches every watcher as a loss.
        log.record(Event::unknown(6));
        assert_eq!(found(&log, b"/q", false, 5, 6), (Some(EventKind::Lost), 6));
        Ok(())
    }

    #[test]
    fn byte_bound() -> Result {
        // Room for ten events but only eight bytes of paths: two paths of four bytes.
        let mut log = EventLog::new(10, 8)?;
        log.record(event(1, EventKind::Created, b"/abc")?);
        log.record(event(2, EventKind::Created, b"/def")?);
        assert_eq!(
            found(&log, b"/abc", false, 0, 2),
            (Some(EventKind::Created), 1)
        );
        // A third path forgets the oldest event's.
        log.record(event(3, EventKind::Created, b"/ghi")?);
        assert_eq!(log.bytes, 8);
        assert_eq!(
            found(&log, b"/abc", false, 0, 3),
            (Some(EventKind::Lost), 3)
        );
        assert_eq!(
            found(&log, b"/def", false, 1, 3),
            (Some(EventKind::Created), 2)
        );
        assert_eq!(
            found(&log, b"/ghi", false, 1, 3),
            (Some(EventKind::Created), 3)
        );
        // A long path forgets as many as it needs; the newest is always kept.
        log.record(event(4, EventKind::Created, b"/jklmnop")?);
        assert_eq!(log.bytes, 8);
        assert_eq!(
            found(&log, b"/ghi", false, 2, 4),
            (Some(EventKind::Lost), 4)
        );
        assert_eq!(
            found(&log, b"/jklmnop", false, 3, 4),
            (Some(EventKind::Created), 4)
        );
        Ok(())
    }
}
