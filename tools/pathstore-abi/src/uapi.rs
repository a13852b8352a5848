// SPDX-License-Identifier: GPL-2.0 OR MIT OR Apache-2.0

//! The pathstore ioctl ABI: the one definition of its numbers and structures.
//!
//! This file belongs to the userspace crate `pathstore-abi` (`tools/pathstore-abi/src/uapi.rs`),
//! and the kernel module compiles it too (as `crate::uapi`, by `#[path]` from
//! `src/pathstore.rs`). It therefore depends on `core` alone. The C header
//! `include/uapi/linux/pathstore.h` mirrors it; a test in `tools/pathstore-abi` compiles the header
//! and checks that every size, offset and number agrees with this file.
//!
//! Rules every structure follows:
//! - `#[repr(C)]`, only fixed-width integer fields, explicit padding named `pad*` and `reserved`
//!   arrays; the module rejects a non-zero padding or reserved field with `EINVAL`, so they can
//!   gain a meaning later.
//! - User buffers are passed as a 64-bit address plus a 32-bit length, so that 32-bit and 64-bit
//!   processes share one layout.
//! - Sizes are part of the ioctl numbers: a structure that grows (at its end only) gets a new
//!   number, and the old number, with the old size, stays accepted ([`IOC_STORE_STATS_V1`]).
//!
//! Paths are byte strings (not NUL-terminated) passed by address and length.

/// Version of this ABI. Bumped on any incompatible change; compatible additions keep it.
pub const ABI_VERSION: u32 = 2;

/// The ioctl "magic" (type) byte of pathstore.
pub const IOC_MAGIC: u32 = 0xB9;

/// Name of the misc device (`/dev/pathstore`).
pub const DEVICE_NAME: &str = "pathstore";

/// Longest component of a path, in bytes.
pub const MAX_NAME_LEN: u32 = 255;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Encodes an ioctl number as the kernel's `_IOC()` does on x86, arm64 and most architectures.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    // The size field holds 14 bits; every structure here is far smaller (checked below).
    (dir << IOC_DIRSHIFT) | ((size as u32) << IOC_SIZESHIFT) | (IOC_MAGIC << IOC_TYPESHIFT) | nr
}

const fn ior<T>(nr: u32) -> u32 {
    ioc(IOC_READ, nr, core::mem::size_of::<T>())
}

const fn iowr<T>(nr: u32) -> u32 {
    ioc(IOC_READ | IOC_WRITE, nr, core::mem::size_of::<T>())
}

/// `PATHSTORE_IOC_VERSION`: the handshake. Fills [`VersionArgs`]; never fails on a valid pointer.
pub const IOC_VERSION: u32 = ior::<VersionArgs>(0x00);
/// `PATHSTORE_IOC_SET`: create or replace a node's value ([`SetArgs`]).
pub const IOC_SET: u32 = iowr::<SetArgs>(0x01);
/// `PATHSTORE_IOC_GET`: read a node's value ([`GetArgs`]).
pub const IOC_GET: u32 = iowr::<GetArgs>(0x02);
/// `PATHSTORE_IOC_DELETE`: delete a node, or a subtree ([`DeleteArgs`]).
pub const IOC_DELETE: u32 = iowr::<DeleteArgs>(0x03);
/// `PATHSTORE_IOC_LIST`: list the children of a node, in byte order, from a cursor ([`ListArgs`]).
pub const IOC_LIST: u32 = iowr::<ListArgs>(0x04);
/// `PATHSTORE_IOC_STAT`: a node's metadata ([`StatArgs`]).
pub const IOC_STAT: u32 = iowr::<StatArgs>(0x05);
/// `PATHSTORE_IOC_STORE_STATS`: whole-store usage and limits, every module parameter included
/// ([`StoreStats`]).
pub const IOC_STORE_STATS: u32 = ior::<StoreStats>(0x06);
/// `PATHSTORE_IOC_STORE_STATS_V1`: the same call with the first [`STORE_STATS_V1_SIZE`] bytes of
/// [`StoreStats`], as modules before `dev_mode`, `reserve_*` and `watch_*` were reported knew it
/// (and their programs still use): the module writes those bytes only, with `dev_mode` zero as
/// the `pad` it replaced.
pub const IOC_STORE_STATS_V1: u32 = ioc(IOC_READ, 0x06, STORE_STATS_V1_SIZE as usize);
/// `PATHSTORE_IOC_WATCH`: wait for a change of a node or of a subtree after a given version
/// ([`WatchArgs`]).
pub const IOC_WATCH: u32 = iowr::<WatchArgs>(0x08);
/// `PATHSTORE_IOC_TXN`: apply a list of checks and changes all or nothing ([`TxnArgs`]).
pub const IOC_TXN: u32 = iowr::<TxnArgs>(0x09);
/// `PATHSTORE_IOC_GET_BATCH`: up to [`GET_BATCH_MAX`] independent gets in one call
/// ([`GetBatchArgs`]).
pub const IOC_GET_BATCH: u32 = iowr::<GetBatchArgs>(0x0A);
/// `PATHSTORE_IOC_CHECK`: walk the whole store and verify every counter and invariant
/// ([`CheckArgs`]). Needs `CAP_SYS_ADMIN`; fails with `EUCLEAN` if anything is inconsistent.
pub const IOC_CHECK: u32 = ior::<CheckArgs>(0x07);

/// [`SetArgs::flags`]: fail with `EEXIST` if the node already exists (with or without a value).
pub const SET_CREATE: u32 = 1 << 0;
/// [`SetArgs::flags`]: give the nodes this call creates the access mode [`SetArgs::mode`], and
/// set the mode of the node itself if it exists (only its owner or `CAP_SYS_ADMIN` may: `EPERM`).
/// Without it, created nodes get [`MODE_DEFAULT`] and an existing node keeps its mode.
pub const SET_MODE: u32 = 1 << 1;
/// [`SetArgs::flags`]: compare-and-set. Replace the value only if the node exists (else `ENOENT`)
/// and its version is [`SetArgs::expected_version`] (else `ESTALE`, with the current version in
/// [`SetArgs::version`]). Not with `SET_CREATE`, `SET_EPHEMERAL` or `SET_SEQUENTIAL`.
pub const SET_IF_VERSION: u32 = 1 << 2;
/// [`SetArgs::flags`]: create the node (never replace: `EEXIST`) as an ephemeral node, removed
/// when the open file that created it is released. Ephemeral nodes cannot have children.
pub const SET_EPHEMERAL: u32 = 1 << 3;
/// [`SetArgs::flags`]: create a new node named the path's last component followed by ten or more
/// decimal digits of a counter kept by its parent, which only increases
/// (`/queue/item-` creates `/queue/item-0000000042`); the number is returned in
/// [`SetArgs::sequence`].
pub const SET_SEQUENTIAL: u32 = 1 << 4;
/// Every flag [`SetArgs::flags`] accepts.
pub const SET_FLAGS_ALL: u32 =
    SET_CREATE | SET_MODE | SET_IF_VERSION | SET_EPHEMERAL | SET_SEQUENTIAL;

/// Node access mode: users other than the node's owner may read its value and list its children.
pub const MODE_OTHERS_READ: u32 = 1 << 0;
/// Node access mode: users other than the node's owner may replace its value, delete it and
/// create children under it.
pub const MODE_OTHERS_WRITE: u32 = 1 << 1;
/// Every valid access mode bit.
pub const MODE_ALL: u32 = MODE_OTHERS_READ | MODE_OTHERS_WRITE;
/// The mode of nodes created without [`SET_MODE`]: readable by all, changed by the owner only.
pub const MODE_DEFAULT: u32 = MODE_OTHERS_READ;
/// The mode of the root node: every user may read it and create nodes under it.
pub const MODE_ROOT: u32 = MODE_OTHERS_READ | MODE_OTHERS_WRITE;

/// [`DeleteArgs::flags`]: delete the node together with all its descendants.
pub const DELETE_RECURSIVE: u32 = 1 << 0;
/// [`DeleteArgs::flags`]: delete only if the node's version is [`DeleteArgs::expected_version`]
/// (else `ESTALE`, with the current version in [`DeleteArgs::version`]).
pub const DELETE_IF_VERSION: u32 = 1 << 1;
/// Every flag [`DeleteArgs::flags`] accepts.
pub const DELETE_FLAGS_ALL: u32 = DELETE_RECURSIVE | DELETE_IF_VERSION;

/// [`WatchArgs::flags`]: watch the node and everything below it.
pub const WATCH_SUBTREE: u32 = 1 << 0;
/// Every flag [`WatchArgs::flags`] accepts.
pub const WATCH_FLAGS_ALL: u32 = WATCH_SUBTREE;
/// [`WatchArgs::timeout_ms`]: wait until a change comes (or a signal).
pub const WATCH_FOREVER: u32 = u32::MAX;

/// [`WatchArgs::event`]: the node was created.
pub const EVENT_CREATED: u32 = 1;
/// [`WatchArgs::event`]: the node's value (or mode) was set.
pub const EVENT_CHANGED: u32 = 2;
/// [`WatchArgs::event`]: the node was deleted, with everything below it (the path may be an
/// ancestor of the watched node).
pub const EVENT_DELETED: u32 = 3;
/// [`WatchArgs::event`]: changes after the given version are no longer known (the module keeps
/// the last `watch_events`): re-read what you watch and watch again after
/// [`WatchArgs::version`], the current version.
pub const EVENT_LOST: u32 = 4;

/// [`TxnOp::op`]: the node must exist with version [`TxnOp::expected_version`] (else `ENOENT`,
/// `ESTALE`).
pub const TXN_CHECK_VERSION: u32 = 1;
/// [`TxnOp::op`]: the node must not exist (else `EEXIST`).
pub const TXN_CHECK_ABSENT: u32 = 2;
/// [`TxnOp::op`]: a set, with `SET_CREATE`, `SET_MODE` and `SET_IF_VERSION` as flags.
pub const TXN_SET: u32 = 3;
/// [`TxnOp::op`]: a delete (not of `/`), with `DELETE_RECURSIVE` and `DELETE_IF_VERSION`.
pub const TXN_DELETE: u32 = 4;
/// Most operations in one transaction.
pub const TXN_MAX_OPS: u32 = 64;

/// Most gets in one [`IOC_GET_BATCH`] call.
pub const GET_BATCH_MAX: u32 = 64;

/// Digits of the number [`SET_SEQUENTIAL`] appends (more once the counter needs them).
pub const SEQUENTIAL_DIGITS: u32 = 10;

/// [`ListArgs::result_flags`]: more children follow the last one returned; call again with it as
/// the cursor.
pub const LIST_MORE: u32 = 1 << 0;

/// [`NodeStat::flags`]: the node holds a value (possibly empty).
pub const STAT_HAS_VALUE: u32 = 1 << 0;

/// Argument of [`IOC_VERSION`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VersionArgs {
    /// Out: [`ABI_VERSION`] of the running module.
    pub abi_version: u32,
    /// Out: the module's version, `major << 16 | minor << 8 | patch`.
    pub module_version: u32,
    /// Out: this open file's session: the id its ephemeral nodes carry (never 0).
    pub session: u64,
    /// Out: zero.
    pub reserved: [u64; 2],
}

/// Argument of [`IOC_SET`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetArgs {
    /// In: address of the path.
    pub path: u64,
    /// In: address of the value (may be 0 when `value_len` is 0).
    pub value: u64,
    /// In: length of the path in bytes.
    pub path_len: u32,
    /// In: length of the value in bytes.
    pub value_len: u32,
    /// In: `SET_*` flags.
    pub flags: u32,
    /// In: with [`SET_MODE`], the access mode (`MODE_*` bits); must be zero without it.
    pub mode: u32,
    /// Out: the node's version after the change; its current version when the call fails with
    /// `ESTALE`.
    pub version: u64,
    /// In: with [`SET_IF_VERSION`], the version the node must have; must be zero without it.
    pub expected_version: u64,
    /// Out: with [`SET_SEQUENTIAL`], the number appended to the name.
    pub sequence: u64,
}

/// Argument of [`IOC_GET`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetArgs {
    /// In: address of the path.
    pub path: u64,
    /// In: address of the buffer the value is copied to.
    pub buf: u64,
    /// In: length of the path in bytes.
    pub path_len: u32,
    /// In: size of the buffer.
    pub buf_len: u32,
    /// Out: length of the value. Also set when the call fails with `ERANGE` (buffer too small),
    /// so the caller can retry with a buffer this large.
    pub value_len: u32,
    /// In: must be zero (no flags defined yet).
    pub flags: u32,
    /// Out: the node's version.
    pub version: u64,
    /// Must be zero.
    pub reserved: [u64; 2],
}

/// Argument of [`IOC_DELETE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteArgs {
    /// In: address of the path.
    pub path: u64,
    /// In: length of the path in bytes.
    pub path_len: u32,
    /// In: `DELETE_*` flags.
    pub flags: u32,
    /// In: with [`DELETE_IF_VERSION`], the version the node must have; must be zero without it.
    pub expected_version: u64,
    /// Out: the node's current version when the call fails with `ESTALE`.
    pub version: u64,
}

/// Argument of [`IOC_LIST`].
///
/// The children's names are written to `buf` one after the other, each followed by a NUL byte
/// (names never contain NUL or `/`). Listing starts after the name `after` (exclusive) or, when
/// `after_len` is 0, at the first child; pass the last name returned to continue.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListArgs {
    /// In: address of the path of the parent.
    pub path: u64,
    /// In: address of the cursor name (may be 0 when `after_len` is 0).
    pub after: u64,
    /// In: address of the output buffer.
    pub buf: u64,
    /// In: length of the path in bytes.
    pub path_len: u32,
    /// In: length of the cursor name in bytes.
    pub after_len: u32,
    /// In: size of the output buffer.
    pub buf_len: u32,
    /// Out: bytes written to `buf`. When the call fails with `ERANGE` (not even the next name
    /// fits), the size that name needs.
    pub buf_used: u32,
    /// Out: number of names written.
    pub count: u32,
    /// In: must be zero.
    pub flags: u32,
    /// Out: `LIST_*` flags.
    pub result_flags: u32,
    /// Must be zero.
    pub pad: u32,
    /// Must be zero.
    pub reserved: [u64; 2],
}

/// A node's metadata, as returned by [`IOC_STAT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStat {
    /// Version of the node: a store-wide sequence number taken when the node was created or its
    /// value last changed. It only ever increases.
    pub version: u64,
    /// Sequence number of the last creation or deletion of a direct child (0 if none yet).
    pub child_version: u64,
    /// Creation time, nanoseconds since the epoch (`CLOCK_REALTIME`).
    pub ctime_ns: u64,
    /// Time of the last change of the value, nanoseconds since the epoch.
    pub mtime_ns: u64,
    /// Number of direct children.
    pub num_children: u64,
    /// Length of the value in bytes (0 without a value).
    pub value_len: u32,
    /// `STAT_*` flags.
    pub flags: u32,
    /// The user that created the node (its owner), in the caller's user namespace. The root
    /// node belongs to uid 0.
    pub uid: u32,
    /// The node's access mode (`MODE_*` bits).
    pub mode: u32,
    /// For an ephemeral node, the session (open file) that owns it, as [`VersionArgs::session`]
    /// reports it to that file; 0 for a persistent node.
    pub session: u64,
}

/// Argument of [`IOC_STAT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatArgs {
    /// In: address of the path.
    pub path: u64,
    /// In: length of the path in bytes.
    pub path_len: u32,
    /// In: must be zero.
    pub flags: u32,
    /// Out: the node's metadata.
    pub stat: NodeStat,
}

/// Size of the first version of [`StoreStats`] (up to `uid_max_bytes`), the size in
/// [`IOC_STORE_STATS_V1`].
pub const STORE_STATS_V1_SIZE: u32 = 88;

/// Argument of [`IOC_STORE_STATS`]: usage and limits of the whole store, and every module
/// parameter. Fields after `uid_max_bytes` were added later (with `dev_mode` in place of a
/// `pad`); [`IOC_STORE_STATS_V1`] reports the structure without them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Nodes in the store, the root included.
    pub nodes: u64,
    /// Bytes accounted: the sum of all names (an ephemeral node: its whole path) and values.
    pub bytes: u64,
    /// Limit on `nodes` (module parameter `max_nodes`).
    pub max_nodes: u64,
    /// Limit on `bytes` (module parameter `max_bytes`).
    pub max_bytes: u64,
    /// The store-wide sequence number: the version the next change will exceed.
    pub sequence: u64,
    /// Largest value, in bytes (module parameter `max_value_len`).
    pub max_value_len: u32,
    /// Longest path, in bytes (module parameter `max_path_len`).
    pub max_path_len: u32,
    /// Deepest path, in components (module parameter `max_depth`).
    pub max_depth: u32,
    /// Permissions of `/dev/pathstore` (module parameter `dev_mode`, `0o000` to `0o777`); zero
    /// through [`IOC_STORE_STATS_V1`].
    pub dev_mode: u32,
    /// Nodes owned by the caller (the user that opened the file).
    pub uid_nodes: u64,
    /// Bytes of names and values of the nodes the caller owns.
    pub uid_bytes: u64,
    /// Limit on `uid_nodes` for users other than root (module parameter `uid_max_nodes`).
    pub uid_max_nodes: u64,
    /// Limit on `uid_bytes` for users other than root (module parameter `uid_max_bytes`).
    pub uid_max_bytes: u64,
    /// Nodes of `max_nodes` only `CAP_SYS_ADMIN` may use (module parameter `reserve_nodes`).
    pub reserve_nodes: u64,
    /// Bytes of `max_bytes` only `CAP_SYS_ADMIN` may use (module parameter `reserve_bytes`).
    pub reserve_bytes: u64,
    /// Changes the event log keeps for watches (module parameter `watch_events`).
    pub watch_events: u32,
    /// Bytes of paths the event log keeps (module parameter `watch_bytes`).
    pub watch_bytes: u32,
}

/// Argument of [`IOC_WATCH`].
///
/// Reports the first change with a version greater than `after` of the node at `path` (the
/// node created, its value set, or it deleted, possibly with an ancestor) or, with
/// [`WATCH_SUBTREE`], of any node below it; waits up to `timeout_ms` for one. Watch again with
/// the reported `version` as `after` to see every change, in order, without missing any.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchArgs {
    /// In: address of the path of the watched node (which need not exist).
    pub path: u64,
    /// In: address of the buffer the changed node's path is written to.
    pub buf: u64,
    /// In: report changes with a version greater than this (the version from a get, a stat,
    /// store stats, or the previous watch).
    pub after: u64,
    /// Out: the version of the change; for [`EVENT_LOST`], the current version.
    pub version: u64,
    /// In: length of the path in bytes.
    pub path_len: u32,
    /// In: size of the buffer.
    pub buf_len: u32,
    /// In: how long to wait, in milliseconds: 0 does not wait, [`WATCH_FOREVER`] has no limit.
    pub timeout_ms: u32,
    /// In: `WATCH_*` flags.
    pub flags: u32,
    /// Out: `EVENT_*`.
    pub event: u32,
    /// Out: length of the changed node's path (0 for [`EVENT_LOST`]). When the call fails with
    /// `ERANGE` (the buffer is too small), the size it needs.
    pub changed_len: u32,
    /// Must be zero.
    pub reserved: [u64; 2],
}

/// One operation of a transaction ([`TxnArgs`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxnOp {
    /// In: address of the node's path.
    pub path: u64,
    /// In: [`TXN_SET`]: address of the value.
    pub value: u64,
    /// In: length of the path in bytes.
    pub path_len: u32,
    /// In: [`TXN_SET`]: length of the value in bytes; zero for the others.
    pub value_len: u32,
    /// In: `TXN_*`: what to do.
    pub op: u32,
    /// In: `SET_*` flags for [`TXN_SET`], `DELETE_*` flags for [`TXN_DELETE`], zero for checks.
    pub flags: u32,
    /// In: the version for [`TXN_CHECK_VERSION`], `SET_IF_VERSION` and `DELETE_IF_VERSION`;
    /// zero otherwise.
    pub expected_version: u64,
    /// In: with `SET_MODE`, the access mode; zero otherwise.
    pub mode: u32,
    /// Must be zero.
    pub pad: u32,
    /// Must be zero.
    pub reserved: [u64; 2],
}

/// Argument of [`IOC_TXN`].
///
/// Applies the operations in order, each seeing the effects of those before it, all or nothing:
/// when one fails, the store is left exactly as it was and the call fails with that operation's
/// errno. Its changes take consecutive versions, and nobody sees the store between them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxnArgs {
    /// In: address of an array of `count` [`TxnOp`].
    pub ops: u64,
    /// In: number of operations, 1 to [`TXN_MAX_OPS`].
    pub count: u32,
    /// In: must be zero.
    pub flags: u32,
    /// Out: the version of the transaction's last change (the current version if it only
    /// checks).
    pub version: u64,
    /// Out: when an operation failed with `ESTALE`, the version its node has (in the store as
    /// the failed transaction left it, that is as before).
    pub current: u64,
    /// Out: the index of the operation that failed, or `u32::MAX` when none did (or the call
    /// failed before running any).
    pub failed: u32,
    /// Must be zero.
    pub pad: u32,
    /// Must be zero.
    pub reserved: [u64; 2],
}

/// One get of a batch ([`GetBatchArgs`]): the fields of [`GetArgs`], and the get's own result.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetOp {
    /// In: address of the path.
    pub path: u64,
    /// In: address of the buffer the value is copied to.
    pub buf: u64,
    /// In: length of the path in bytes.
    pub path_len: u32,
    /// In: size of the buffer.
    pub buf_len: u32,
    /// Out: length of the value; with `error` `-ERANGE` (buffer too small), the size needed.
    /// Zero when the get failed otherwise.
    pub value_len: u32,
    /// Out: 0 when the value was copied to `buf`, else the negative errno of this get alone
    /// (the one [`IOC_GET`] would fail with: `-ENOENT`, `-EACCES`, `-ENODATA`, `-ERANGE`,
    /// `-EINVAL`, `-ENAMETOOLONG`, `-EFAULT` for this get's own path or buffer).
    pub error: i32,
    /// Out: the node's version (also with `-ERANGE`); zero when the get failed otherwise.
    pub version: u64,
}

/// Argument of [`IOC_GET_BATCH`].
///
/// Runs every get of the array `ops`, in order, each exactly as [`IOC_GET`] would and each atomic
/// by itself; the batch as a whole is not one snapshot: a change may land between two of its
/// gets. A get that fails reports its errno in its [`GetOp::error`] and does not stop the others;
/// the call itself fails only on a bad argument or array (`EINVAL`, `E2BIG`, `EFAULT`) or with
/// `ENOMEM`, and then reports nothing in the array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetBatchArgs {
    /// In: address of an array of `count` [`GetOp`], read and written back whole.
    pub ops: u64,
    /// In: number of gets, 1 to [`GET_BATCH_MAX`].
    pub count: u32,
    /// In: must be zero.
    pub flags: u32,
    /// Out: the number of gets done: `count` when the call succeeds.
    pub done: u32,
    /// Must be zero.
    pub pad: u32,
    /// Must be zero.
    pub reserved: [u64; 2],
}

/// Argument of [`IOC_CHECK`]: what the consistency walk counted.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckArgs {
    /// Out: nodes visited, the root included.
    pub nodes: u64,
    /// Out: bytes of names and values visited.
    pub bytes: u64,
    /// Out: users owning at least one node.
    pub owners: u64,
    /// Zero.
    pub reserved: [u64; 1],
}

// Every argument must fit the 14-bit size field of an ioctl number.
const _: () = assert!(core::mem::size_of::<ListArgs>() < (1 << IOC_SIZEBITS));
const _: () = assert!(core::mem::size_of::<StoreStats>() < (1 << IOC_SIZEBITS));
// The first version of `StoreStats` ends with `uid_max_bytes`, and the structure only grows.
const STORE_STATS_V1_END: usize = core::mem::offset_of!(StoreStats, uid_max_bytes) + 8;
const _: () = assert!(STORE_STATS_V1_END == STORE_STATS_V1_SIZE as usize);
const _: () = assert!(core::mem::size_of::<StoreStats>() > STORE_STATS_V1_SIZE as usize);
