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

use kernel::{
    bindings,
    fs::File,
    prelude::*,
    task::Kuid, //
};

use crate::uapi;

/// The identity a request is made with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    /// The opener's effective uid, as a kernel uid (global, not namespaced).
    pub(crate) uid: u32,
    /// The opener held `CAP_SYS_ADMIN` in the initial user namespace.
    pub(crate) admin: bool,
}

/// Uid 0 in the initial user namespace: root, which no per-user quota limits.
pub(crate) const ROOT_UID: u32 = 0;

impl Caller {
    /// The identity of the process that opened `file`. Call it from `open()`, where the
    /// current task is the opener and its credentials are the file's.
    pub(crate) fn of_opener(file: &File) -> Self {
        let uid = file.cred().euid().into_raw().val;
        // Without auditing (an open by an unprivileged user is not a denied privileged request),
        // of the current task: the opener.
        // SAFETY: `init_user_ns` is a static that lives forever, which the function only reads.
        let admin = unsafe {
            bindings::ns_capable_noaudit(
                &raw mut bindings::init_user_ns,
                bindings::CAP_SYS_ADMIN as i32,
            )
        };
        Self { uid, admin }
    }

    /// A caller with every right, for tests.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) const fn root() -> Self {
        Self {
            uid: ROOT_UID,
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

/// The uid `kuid` (a kernel uid) as the calling task sees it.
pub(crate) fn uid_for_current(kuid: u32) -> u32 {
    Kuid::from_raw(bindings::kuid_t { val: kuid }).into_uid_in_current_ns()
}
