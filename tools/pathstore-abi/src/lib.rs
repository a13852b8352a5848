//! The pathstore ioctl ABI for userspace: ioctl numbers, flags and `#[repr(C)]` argument
//! structures of `/dev/pathstore`.
//!
//! There is exactly one definition of the ABI: the kernel module's `src/uapi.rs`, which this
//! crate compiles as its own module and re-exports unchanged. Nothing here may define a number
//! or a structure of its own. The semantics of every call are described in `docs/semantics.md`.
#![no_std]

#[path = "../../../src/uapi.rs"]
mod uapi;

pub use uapi::*;
