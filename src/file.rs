// SPDX-License-Identifier: GPL-2.0

//! One open file of `/dev/pathstore`: who opened it, its session and ephemeral nodes, the
//! pending response of its text interface, and the operations its two interfaces (the ioctls in
//! [`crate::ioctl`] and the text commands in [`crate::text`]) share.

use kernel::{
    fs::File,
    new_mutex,
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
};

use crate::{
    access::{
        Caller,
        Viewer, //
    },
    bytes::{
        user_gfp,
        StackBuf, //
    },
    error::StoreResult,
    limits::Limits,
    num::FromSafeCast,
    path::Path,
    quota::PENDING_FREE,
    store::Store,
    tree::SetOptions,
    value::Value, //
};

/// Values up to this long are copied out of the tree through the stack.
pub(crate) const STACK_VALUE: usize = 256;

/// The state of one open file.
#[pin_data(PinnedDrop)]
pub(crate) struct OpenFile {
    pub(crate) store: Arc<Store>,
    pub(crate) limits: Limits,
    pub(crate) caller: Caller,
    /// The opener's credentials, for showing owners as its user namespace maps them.
    pub(crate) viewer: Viewer,
    /// The id the ephemeral nodes this file creates carry.
    pub(crate) session: u64,
    /// Paths of the ephemeral nodes this file created, removed when it is released (if they
    /// still belong to it).
    #[pin]
    ephemerals: Mutex<KVVec<KVVec<u8>>>,
    /// The output of the last text command, consumed by `read()`.
    #[pin]
    pub(crate) response: Mutex<Response>,
}

/// Output of the last text command, consumed by `read()`.
pub(crate) struct Response {
    /// What `read()` returns next (for a listing, the current page).
    pub(crate) bytes: KVVec<u8>,
    pub(crate) pos: usize,
    /// For a listing read in pages, where its next page starts.
    pub(crate) next: Option<ListCursor>,
    /// What `bytes` is charged to the opener's account, if anything.
    pub(crate) charge: Option<PendingCharge>,
}

/// Bytes of a pending text response charged to an account ([`crate::quota::Pending`]), given
/// back when dropped with the response.
pub(crate) struct PendingCharge {
    store: Arc<Store>,
    account: u32,
    bytes: u64,
}

impl Drop for PendingCharge {
    fn drop(&mut self) {
        self.store.release_pending(self.account, self.bytes);
    }
}

/// Where the next page of a listing starts: after the name `after` among the children of the
/// node at `path`.
pub(crate) struct ListCursor {
    pub(crate) path: KVVec<u8>,
    pub(crate) after: KVVec<u8>,
}

/// A value copied out of the tree.
pub(crate) enum Copied<'a> {
    /// The value, in the stack buffer given, and the node's version.
    Stack(&'a [u8], u64),
    /// The value in a new buffer, and the node's version.
    Owned(KVVec<u8>, u64),
    /// The value is longer than the room the caller has: its length and the node's version.
    TooLong(usize, u64),
}

/// What a set did.
pub(crate) struct SetDone {
    /// The node's new version.
    pub(crate) version: u64,
    /// For a sequential create, the number appended to the name (0 otherwise).
    pub(crate) sequence: u64,
}

impl OpenFile {
    /// The state of `file`, just opened, sharing `store`.
    pub(crate) fn new(file: &File, store: Arc<Store>) -> Result<Pin<KBox<Self>>> {
        let session = store.change(|t| Ok::<_, Error>(t.new_session()))?;
        KBox::try_pin_init(
            try_pin_init!(OpenFile {
                store,
                limits: Limits::from_module_params()?,
                caller: Caller::of_opener(file),
                viewer: Viewer::of_opener(file),
                session,
                ephemerals <- new_mutex!(KVVec::new()),
                response <- new_mutex!(Response {
                    bytes: KVVec::new(),
                    pos: 0,
                    next: None,
                    charge: None,
                }),
            }),
            user_gfp(),
        )
    }

    /// Charges what a text response of `response`'s capacity holds beyond [`PENDING_FREE`] to
    /// the opener's account, for as long as the returned charge lives (`EDQUOT`).
    pub(crate) fn charge_response(&self, response: &KVVec<u8>) -> Result<Option<PendingCharge>> {
        let bytes = response.capacity().saturating_sub(PENDING_FREE);
        if bytes == 0 {
            return Ok(None);
        }
        let bytes = u64::from_safe_cast(bytes);
        self.store
            .charge_pending(&self.caller, bytes, &self.limits)?;
        Ok(Some(PendingCharge {
            store: self.store.clone(),
            account: self.caller.account,
            bytes,
        }))
    }

    /// Sets the node at `path` as `opts` say, or with `sequential` creates a sequential node
    /// there, and records an ephemeral node in this file's list, so that releasing the file
    /// removes it.
    pub(crate) fn set_node(
        &self,
        path: &Path<'_>,
        value: Value,
        opts: SetOptions,
        sequential: bool,
    ) -> StoreResult<SetDone> {
        // Make room in the list first, and hold it until the node is in it.
        let mut ephemerals = match opts.ephemeral {
            Some(session) => {
                let mut list = self.ephemerals.lock();
                // Forget the nodes that are gone (deleted, or replaced by others) whenever the
                // list doubles, so that it stays within twice the nodes alive.
                if list.len() >= 16 && list.len().is_power_of_two() {
                    self.store.read(|t| {
                        list.retain(|path| {
                            Path::parse(path, &self.limits)
                                .is_ok_and(|path| t.is_ephemeral_of(&path, session))
                        });
                        Ok::<_, Error>(())
                    })?;
                }
                list.reserve(1, user_gfp())?;
                Some(list)
            }
            None => None,
        };
        // The path the list keeps, unless the sequential create makes it.
        let mut kept = KVVec::new();
        if ephemerals.is_some() && !sequential {
            kept.extend_from_slice(path.as_bytes(), user_gfp())?;
        }
        let done = self.store.change(|t| -> StoreResult<SetDone> {
            if sequential {
                let made = t.set_sequential(path, value, opts, &self.caller)?;
                kept = made.path;
                Ok(SetDone {
                    version: made.version,
                    sequence: made.number,
                })
            } else {
                let version = t.set(path, value, opts, &self.caller)?;
                Ok(SetDone {
                    version,
                    sequence: 0,
                })
            }
        })?;
        if let Some(list) = ephemerals.as_mut() {
            // Cannot fail: room was reserved above.
            let _ = list.push_within_capacity(kept);
        }
        Ok(done)
    }

    /// Copies the value of the node at `path` out of the tree, if it is at most `room` bytes
    /// long: into `stack` when it fits there, else into a new buffer with room for `spare` bytes
    /// more. The tree's lock is held only while copying within the kernel, never across an
    /// access to user memory.
    pub(crate) fn copy_value<'a>(
        &self,
        path: &Path<'_>,
        stack: &'a mut StackBuf<STACK_VALUE>,
        room: usize,
        spare: usize,
    ) -> Result<Copied<'a>> {
        let (mut len, version, copied) = self.store.read(|t| {
            t.get(path, &self.caller, |value, version| {
                let copied = value.len() <= room && stack.fill(value);
                (value.len(), version, copied)
            })
        })?;
        if len > room {
            return Ok(Copied::TooLong(len, version));
        }
        if copied {
            return Ok(Copied::Stack(stack.as_bytes(), version));
        }
        // Longer than the stack buffer: copy it into one of its size, allocated without the
        // lock. It may have been replaced by a longer one in between; then try again with that.
        let mut buf = KVVec::new();
        loop {
            buf.reserve(len.checked_add(spare).ok_or(ENOMEM)?, user_gfp())?;
            let (now, version) = self.store.read(|t| {
                t.get(path, &self.caller, |value, version| {
                    if value.len() <= room && value.len() <= buf.capacity() {
                        buf.clear();
                        // Cannot allocate: there is room.
                        let _ = buf.extend_from_slice(value, user_gfp());
                    }
                    (value.len(), version)
                })
            })?;
            if now > room {
                return Ok(Copied::TooLong(now, version));
            }
            if buf.len() == now {
                return Ok(Copied::Owned(buf, version));
            }
            len = now;
        }
    }
}

#[pinned_drop]
impl PinnedDrop for OpenFile {
    /// The file is released (its last descriptor closed, or its process gone): remove its
    /// ephemeral nodes.
    fn drop(self: Pin<&mut Self>) {
        let paths = core::mem::take(&mut *self.ephemerals.lock());
        for path in paths.iter() {
            if let Ok(path) = Path::parse(path, &self.limits) {
                let _ = self.store.change_uninterruptible(|t| {
                    t.remove_ephemeral(&path, self.session);
                    Ok::<_, Error>(())
                });
            }
        }
    }
}
