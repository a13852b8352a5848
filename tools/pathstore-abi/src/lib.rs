// SPDX-License-Identifier: MIT OR Apache-2.0

//! The pathstore ioctl ABI for userspace: ioctl numbers, flags and `#[repr(C)]` argument
//! structures of `/dev/pathstore`.
//!
//! There is exactly one definition of the ABI: this crate's `src/uapi.rs`, which the kernel
//! module compiles too (`#[path]` from its `src/pathstore.rs`) and which this crate re-exports
//! unchanged. Nothing else may define a number or a structure of its own. The semantics of every
//! call are described in `docs/semantics.md`.
#![no_std]

mod uapi;

pub use uapi::*;
