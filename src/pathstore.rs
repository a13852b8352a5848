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
mod store;
mod text;
mod tree;
pub mod uapi;
mod value;

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
        uid_max_nodes: u64 {
            default: 65536,
            description: "Most nodes one user other than root may own (EDQUOT beyond it)",
        },
        uid_max_bytes: u64 {
            default: 16777216,
            description: "Most bytes one user other than root may own (EDQUOT beyond it)",
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

#[pin_data]
struct PathstoreModule {
    #[pin]
    device: device::Device,
}

impl kernel::InPlaceModule for PathstoreModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            device <- device::Device::new(limits::Limits::from_module_params()),
        })
    }
}
