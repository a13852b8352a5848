// SPDX-License-Identifier: GPL-2.0

//! Who may do what: the identity of a caller and the per-node access rule.
//!
//! A caller is identified by the credentials of the process that opened the file (`f_cred`), as
//! for files: a descriptor passed to another process keeps its opener's identity, and
//! `setuid()` after `open()` changes nothing. The rule:
//!
//! - every node records the user that created it (its owner) and an access mode;
//! - the owner and holders of `CAP_SYS_ADMIN` may do anything to a node;
//! - other users may read its value and list its children only with [`uapi::MODE_OTHERS_READ`],
//!   and replace its value, delete it or create children under it only with
//!   [`uapi::MODE_OTHERS_WRITE`] (otherwise `EACCES`);
//! - only the owner and `CAP_SYS_ADMIN` may change a node's mode (otherwise `EPERM`);
//! - metadata (`stat`) is visible to every user.
//!
//! Owners are shown to a caller as the user namespace of the file's opener maps them, and as the
//! overflow uid (65534 unless changed through `/proc/sys/kernel/overflowuid`) when it does not map
//! them, as `stat(2)` does.

use kernel::{
    bindings,
    cred::Credential,
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

use crate::uapi;

/// The identity a request is made with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    /// The opener's effective uid, as a kernel uid (global, not namespaced).
    pub(crate) uid: u32,
    /// The kernel uid of the account the opener's nodes are charged to ([`crate::quota`]): the
    /// opener itself in the initial user namespace, otherwise the owner of the outermost user
    /// namespace below the initial one that the opener is in.
    pub(crate) account: u32,
    /// The opener held `CAP_SYS_ADMIN` in the initial user namespace.
    pub(crate) admin: bool,
}

/// Uid 0 in the initial user namespace: root, which no per-user quota limits.
pub(crate) const ROOT_UID: u32 = 0;

impl Caller {
    /// The identity of the process that opened `file`. Call it from `open()`, where the
    /// current task is the opener and its credentials are the file's.
    pub(crate) fn of_opener(file: &File) -> Self {
        let cred = file.cred();
        let uid = cred.euid().into_raw().val;
        let init = &raw mut bindings::init_user_ns;
        // SAFETY: `cred` is the file's credentials, valid while the file is open; they hold a
        // reference on their user namespace, and every namespace holds one on its parent, so
        // each namespace on the way up to `init_user_ns` (where the chain ends: every namespace
        // descends from it) is valid here. `parent` and `owner` are set when a namespace is
        // made and never change.
        let account = unsafe {
            let mut ns = (*cred.as_ptr()).user_ns;
            if ns == init {
                uid
            } else {
                while (*ns).parent != init {
                    ns = (*ns).parent;
                }
                (*ns).owner.val
            }
        };
        // SAFETY: `file` is a valid open file for the duration of the call, and `init_user_ns`
        // is a static that lives forever, which the function only reads.
        let admin = unsafe {
            bindings::file_ns_capable(
                file.as_ptr(),
                &raw mut bindings::init_user_ns,
                CAP_SYS_ADMIN,
            )
        };
        Self {
            uid,
            account,
            admin,
        }
    }

    /// A caller with every right, for tests.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) const fn root() -> Self {
        Self {
            uid: ROOT_UID,
            account: ROOT_UID,
            admin: true,
        }
    }

    /// The caller owns a node of owner `owner`, or holds `CAP_SYS_ADMIN`.
    pub(crate) fn owns(&self, owner: u32) -> bool {
        self.admin || self.uid == owner
    }

    /// Checks that the caller may read the value or the children of a node.
    pub(crate) fn may_read(&self, owner: u32, mode: u32) -> Result {
        self.may(owner, mode, uapi::MODE_OTHERS_READ)
    }

    /// Checks that the caller may change a node or its children.
    pub(crate) fn may_write(&self, owner: u32, mode: u32) -> Result {
        self.may(owner, mode, uapi::MODE_OTHERS_WRITE)
    }

    fn may(&self, owner: u32, mode: u32, others: u32) -> Result {
        if self.owns(owner) || mode & others != 0 {
            Ok(())
        } else {
            Err(EACCES)
        }
    }
}

/// `CAP_SYS_ADMIN`, as the capability functions take it.
const CAP_SYS_ADMIN: i32 = {
    assert!(bindings::CAP_SYS_ADMIN <= i32::MAX as u32);
    bindings::CAP_SYS_ADMIN as i32
};

/// The credentials a file was opened with, for showing uids as its opener's user namespace
/// maps them.
pub(crate) struct Viewer(ARef<Credential>);

impl Viewer {
    /// The credentials of `file`'s opener, kept (referenced) while the file is open.
    pub(crate) fn of_opener(file: &File) -> Self {
        Self(ARef::from(file.cred()))
    }

    /// The kernel uid `kuid` as the opener's user namespace maps it, or the overflow uid when
    /// it does not (what `from_kuid_munged()` returns).
    pub(crate) fn uid(&self, kuid: u32) -> u32 {
        // SAFETY: `self.0` holds a reference on a valid `cred`, whose `user_ns` is set when the
        // credentials are made and never changes; `from_kuid` only reads the namespace's map.
        let uid = unsafe {
            bindings::from_kuid((*self.0.as_ptr()).user_ns, bindings::kuid_t { val: kuid })
        };
        if uid != u32::MAX {
            return uid;
        }
        // SAFETY: `overflowuid` is an `int` the kernel exports and never frees; it only changes
        // through its sysctl, and a racing read sees the old or the new value.
        let overflow = unsafe { core::ptr::read_volatile(&raw const bindings::overflowuid) };
        u32::try_from(overflow).unwrap_or(65534)
    }
}
