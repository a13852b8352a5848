// SPDX-License-Identifier: GPL-2.0

//! pathstore: an ephemeral, hierarchical key-value store in kernel memory.
//!
//! Values are indexed by paths such as `/net/eth0/mtu` and served through the misc device
//! `/dev/pathstore`: ioctls for programs (the ABI is in [`uapi`]) and plain `read()`/`write()`
//! for the shell (see [`text`]). The store lives until the module is unloaded.
//!
//! The crate root only declares modules and the module entry point.

mod abi;
mod access;
mod bytes;
mod device;
mod error;
mod events;
mod file;
mod ioctl;
mod limits;
mod num;
mod path;
mod quota;
mod registration;
mod rwsem;
mod sched;
mod store;
mod text;
mod tree;
// The ABI's one definition belongs to the userspace crate `pathstore-abi`, which compiles the
// same file; it depends on `core` alone.
#[path = "../tools/pathstore-abi/src/uapi.rs"]
pub mod uapi;
mod value;
mod watchers;

use kernel::prelude::*;

module! {
    type: PathstoreModule,
    name: "pathstore",
    authors: ["The pathstore developers"],
    description: "Ephemeral hierarchical key-value store served at /dev/pathstore",
    license: "GPL",
    params: {
        max_value_len: u32 {
            default: 65536,
            description: "Largest value in bytes (E2BIG beyond it)",
        },
        max_path_len: u32 {
            default: 4096,
            description: "Longest path in bytes (ENAMETOOLONG beyond it)",
        },
        max_depth: u32 {
            default: 64,
            description: "Deepest path in components (ENAMETOOLONG beyond it)",
        },
        max_nodes: u64 {
            default: 4194304,
            description: "Most nodes in the store, the root included (ENOSPC beyond it)",
        },
        max_bytes: u64 {
            default: 268435456,
            description: "Most bytes of names and values in the store (ENOSPC beyond it)",
        },
        reserve_nodes: u64 {
            default: 4096,
            description: "Nodes of max_nodes only CAP_SYS_ADMIN may use (ENOSPC for others)",
        },
        reserve_bytes: u64 {
            default: 4194304,
            description: "Bytes of max_bytes only CAP_SYS_ADMIN may use (ENOSPC for others)",
        },
        uid_max_nodes: u64 {
            default: 65536,
            description: "Most nodes one user may own, unless CAP_SYS_ADMIN (EDQUOT beyond it)",
        },
        uid_max_bytes: u64 {
            default: 16777216,
            description: "Most bytes one user may own, unless CAP_SYS_ADMIN (EDQUOT beyond it)",
        },
        watch_events: u32 {
            default: 4096,
            description: "Changes kept for watches (older ones are reported as lost)",
        },
        watch_bytes: u32 {
            default: 1048576,
            description: "Bytes of paths kept for watches (older changes are reported as lost)",
        },
        dev_mode: u32 {
            default: 0o600,
            description: "Permissions of /dev/pathstore (0600: root only; 0666: every user)",
        },
    },
}

/// The version of the module, reported by `PATHSTORE_IOC_VERSION` as `major << 16 | minor << 8 |
/// patch`.
pub(crate) const MODULE_VERSION: (u32, u32, u32) = (0, 3, 0);

/// The `version` that `modinfo` shows. 7.2's `module!` has no `version` field, so the entry is
/// placed in `.modinfo` here, as `module!` places the others of a loadable module.
#[cfg(MODULE)]
#[link_section = ".modinfo"]
#[used]
static MODINFO_VERSION: [u8; 14] = MODINFO_VERSION_ENTRY;

/// The modinfo entry of [`MODINFO_VERSION`].
const MODINFO_VERSION_ENTRY: [u8; 14] = *b"version=0.3.0\0";

/// The numbers of a `version=MAJOR.MINOR.PATCH\0` modinfo entry.
const fn modinfo_version(entry: &[u8]) -> (u32, u32, u32) {
    let mut numbers = [0u32; 3];
    let (mut i, mut n) = (b"version=".len(), 0);
    while i < entry.len() && entry[i] != 0 {
        match entry[i] {
            b'.' => n += 1,
            d => numbers[n] = numbers[n] * 10 + (d - b'0') as u32,
        }
        i += 1;
    }
    (numbers[0], numbers[1], numbers[2])
}

// The modinfo entry states `MODULE_VERSION`.
const _: () = {
    let (major, minor, patch) = modinfo_version(&MODINFO_VERSION_ENTRY);
    assert!(major == MODULE_VERSION.0 && minor == MODULE_VERSION.1 && patch == MODULE_VERSION.2);
};

#[pin_data]
struct PathstoreModule {
    #[pin]
    device: device::Device,
}

impl kernel::InPlaceModule for PathstoreModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            device <- device::Device::new(limits::Limits::from_module_params()?),
        })
    }
}
