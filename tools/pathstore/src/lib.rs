// SPDX-License-Identifier: MIT OR Apache-2.0

//! A safe client for pathstore, the kernel module that serves a ZooKeeper-like tree of values at
//! `/dev/pathstore`.
//!
//! ```no_run
//! # fn main() -> pathstore::Result<()> {
//! use pathstore::{Errno, Pathstore};
//!
//! let store = Pathstore::open()?; // opens /dev/pathstore and checks the ABI version
//! let version = store.set("/svc/api/leader", "host-a")?;
//! assert_eq!(store.get("/svc/api/leader")?, b"host-a");
//! assert_eq!(store.list("/svc")?, [b"api".to_vec()]);
//! assert!(store.stat("/svc/api/leader")?.version >= version);
//! assert_eq!(store.get("/svc").unwrap_err().errno(), Errno::NODATA); // a parent without value
//! store.delete_recursive("/svc")?;
//! # Ok(())
//! # }
//! ```
//!
//! Every call is one or a few ioctls (see [`abi`] and `docs/semantics.md` for their exact
//! semantics); every failure is an [`Error`] that names the operation, the path and the errno.
//! [`Walk`] traverses a subtree and [`dump`] reads and writes JSON backups of one.

mod client;
pub mod dump;
mod error;
pub mod path;
mod walk;

pub use client::{
    sequential_path, user_addr, user_addr_mut, Conditional, EventKind, GetResult, ListPage,
    Pathstore, TxnOutcome, TxnStep, WatchEvent, DEFAULT_DEVICE,
};
pub use error::{
    errno_name, store_message, ErrnoDisplay, Error, ErrorClass, Op, OsErrnoDisplay, Result,
};
pub use walk::{Node, Walk};

/// The ioctl ABI: numbers, flags and structures (the crate `pathstore-abi`).
pub use pathstore_abi as abi;
pub use pathstore_abi::{NodeStat, StoreStats, VersionArgs};
/// The error numbers of [`Error::errno`] (from `rustix`).
pub use rustix::io::Errno;
