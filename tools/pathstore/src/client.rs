// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`Pathstore`]: an open `/dev/pathstore` and the operations on it.

use std::ffi::c_void;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use pathstore_abi as abi;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};

use crate::error::{Error, Op, Result};
use crate::walk::Walk;

/// Where the device node lives by default: `/dev/` followed by
/// [`DEVICE_NAME`](abi::DEVICE_NAME).
pub const DEFAULT_DEVICE: &str = "/dev/pathstore";

/// First buffer size [`Pathstore::get`] tries; larger values cost one more call.
const INITIAL_VALUE_BUF: usize = 4096;
/// First buffer size [`Pathstore::list`] tries.
const INITIAL_LIST_BUF: usize = 4096;

/// A value and its node's version, as [`Pathstore::get_with_version`] returns them.
type Versioned = (Vec<u8>, u64);

/// An open pathstore device.
///
/// All methods take `&self`: the module serialises concurrent calls, so one handle can be shared
/// between threads. Paths are byte strings (`&str`, `&[u8]`, `Vec<u8>`, ...) and are not
/// validated here; the module answers `EINVAL` or `ENAMETOOLONG` for bad ones.
#[derive(Debug)]
pub struct Pathstore {
    fd: OwnedFd,
}

/// What [`Pathstore::get_into`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetResult {
    /// Length of the value, which now fills the start of the buffer.
    pub len: usize,
    /// The node's version.
    pub version: u64,
}

/// One page of children, as returned by [`Pathstore::list_page`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListPage<'b> {
    bytes: &'b [u8],
    /// Number of names in the page.
    pub count: usize,
    /// More children follow: call again with the last name as the cursor.
    pub more: bool,
}

impl<'b> ListPage<'b> {
    /// The bytes the module wrote: each name followed by a NUL byte.
    pub fn bytes(&self) -> &'b [u8] {
        self.bytes
    }

    /// The names in the page, in byte order.
    pub fn names(&self) -> impl Iterator<Item = &'b [u8]> + 'b {
        self.bytes.split(|&b| b == 0).take(self.count)
    }
}

/// An [`Ioctl`] made of a command number and an untyped argument pointer.
struct RawIoctl {
    cmd: Opcode,
    arg: *mut c_void,
}

// SAFETY: `RawIoctl` is only built by `Pathstore::ioctl_raw`, whose caller guarantees that `arg`
// is what `cmd` expects. It is marked mutating because pathstore's calls write to user memory;
// the output is the system call's return value and does not read `arg`.
unsafe impl Ioctl for RawIoctl {
    type Output = IoctlOutput;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        self.cmd
    }

    fn as_ptr(&mut self) -> *mut c_void {
        self.arg
    }

    unsafe fn output_from_ptr(out: IoctlOutput, _: *mut c_void) -> rustix::io::Result<IoctlOutput> {
        Ok(out)
    }
}

/// The user address of a buffer the module reads, as the ABI's `u64` address fields take it
/// (for argument structures built by hand, as for [`Pathstore::ioctl_raw`]).
pub fn user_addr(buf: &[u8]) -> u64 {
    buf.as_ptr().expose_provenance() as u64
}

/// The user address of a buffer the module writes, as the ABI's `u64` address fields take it.
pub fn user_addr_mut(buf: &mut [u8]) -> u64 {
    buf.as_mut_ptr().expose_provenance() as u64
}

/// The length of an input as the ABI's `u32`, or `errno` when it does not fit.
fn len32(len: usize, errno: Errno) -> Result<u32, Errno> {
    u32::try_from(len).map_err(|_| errno)
}

/// The size of an output buffer as the ABI's `u32`, using only its first 4 GiB if larger.
fn buf_len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl Pathstore {
    /// Opens [`DEFAULT_DEVICE`] and checks the ABI version (see [`Pathstore::open_path`]).
    pub fn open() -> Result<Self> {
        Self::open_path(DEFAULT_DEVICE)
    }

    /// Opens the device at `device` (`O_RDWR | O_CLOEXEC`) and does the version handshake.
    ///
    /// Fails with [`Op::Open`] when the file cannot be opened, with [`Op::Handshake`] when
    /// `IOC_VERSION` fails (`ENOTTY` for a file that is not a pathstore device), and with
    /// [`Error::AbiMismatch`] when the module's `abi_version` is not
    /// [`ABI_VERSION`](abi::ABI_VERSION).
    pub fn open_path(device: impl AsRef<Path>) -> Result<Self> {
        let device = device.as_ref();
        let name = device.as_os_str().as_bytes();
        let fd = rustix::fs::open(device, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::os(Op::Open, Some(name), e))?;
        Self::handshake(fd, name)
    }

    /// Wraps an already open device and does the version handshake, as
    /// [`Pathstore::open_path`] does.
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        let name = format!("fd {}", fd.as_raw_fd());
        Self::handshake(fd, name.as_bytes())
    }

    fn handshake(fd: OwnedFd, device: &[u8]) -> Result<Self> {
        let store = Pathstore { fd };
        let version = store
            .version()
            .map_err(|e| Error::os(Op::Handshake, Some(device), e.errno()))?;
        if version.abi_version != abi::ABI_VERSION {
            return Err(Error::AbiMismatch {
                device: String::from_utf8_lossy(device).into_owned(),
                found: version.abi_version,
                expected: abi::ABI_VERSION,
            });
        }
        Ok(store)
    }

    /// Issues any ioctl on the device, returning the system call's non-negative result.
    ///
    /// An escape hatch for tests of bad input: it passes `cmd` and `arg` to the kernel unchanged.
    ///
    /// # Safety
    ///
    /// The module may read from and write to `arg` as `cmd` says, and to every address inside the
    /// structure `arg` points at (for the lengths given there). The caller must make sure those
    /// accesses cannot break Rust's rules: the memory the kernel writes must be writable, not
    /// aliased by live shared references, and valid for whatever type it holds after any bytes
    /// were written. Addresses that are not mapped at all are fine: the module answers `EFAULT`.
    pub unsafe fn ioctl_raw(&self, cmd: u32, arg: *mut c_void) -> Result<i32, Errno> {
        // `Opcode` is `u32` or `c_ulong` depending on rustix's backend.
        let cmd = cmd as Opcode;
        // SAFETY: the caller upholds the contract above, which is `ioctl`'s.
        unsafe { rustix::ioctl::ioctl(&self.fd, RawIoctl { cmd, arg }) }
    }

    /// Issues `cmd` with `arg`.
    ///
    /// # Safety
    ///
    /// `T` must be the argument structure of `cmd`, and every address in `arg` must point at
    /// memory valid for its length (readable, or writable for output buffers) during the call.
    unsafe fn call<T>(&self, cmd: u32, arg: &mut T) -> Result<(), Errno> {
        // SAFETY: `arg` is an exclusive reference to the structure `cmd` expects; the caller
        // vouches for the addresses inside it.
        unsafe { self.ioctl_raw(cmd, (arg as *mut T).cast()) }.map(drop)
    }

    /// The module's version ([`IOC_VERSION`](abi::IOC_VERSION)).
    pub fn version(&self) -> Result<abi::VersionArgs> {
        let mut args = abi::VersionArgs::default();
        // SAFETY: `VersionArgs` is the argument of `IOC_VERSION` and holds no addresses.
        unsafe { self.call(abi::IOC_VERSION, &mut args) }
            .map_err(|e| Error::os(Op::Version, None, e))?;
        Ok(args)
    }

    /// Sets the value of `path`, creating it and its missing parents; returns the new version.
    pub fn set(&self, path: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<u64> {
        self.set_with_flags(path, value, 0)
    }

    /// Creates `path` with `value`, failing with `EEXIST` if the node exists (with or without a
    /// value; always for `/`); returns the new version.
    pub fn create(&self, path: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<u64> {
        self.set_with_flags(path, value, abi::SET_CREATE)
    }

    /// [`IOC_SET`](abi::IOC_SET) with any `SET_*` flags (unknown ones give `EINVAL`); returns the
    /// new version.
    pub fn set_with_flags(
        &self,
        path: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: u32,
    ) -> Result<u64> {
        self.set_with_mode(path, value, flags, 0)
    }

    /// Sets `path` to `value` giving the nodes it creates (and the node itself, which needs
    /// ownership or `CAP_SYS_ADMIN` if it exists) the access mode `mode` (`MODE_*` bits);
    /// `flags` are further `SET_*` flags. Returns the new version.
    pub fn set_mode(
        &self,
        path: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: u32,
        mode: u32,
    ) -> Result<u64> {
        self.set_with_mode(path, value, flags | abi::SET_MODE, mode)
    }

    fn set_with_mode(
        &self,
        path: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: u32,
        mode: u32,
    ) -> Result<u64> {
        let args = abi::SetArgs {
            flags,
            mode,
            ..Default::default()
        };
        self.set_with(path.as_ref(), value.as_ref(), args)
            .map(|a| a.version)
    }

    /// [`IOC_SET`](abi::IOC_SET) with any flags, mode and expected version in `args` (its path
    /// and value are filled in from `path` and `value`); returns the arguments as the module
    /// left them (`version`, and `sequence` for a sequential node). `ESTALE` carries the
    /// current version ([`Error::current_version`]).
    pub fn set_with(&self, path: &[u8], value: &[u8], args: abi::SetArgs) -> Result<abi::SetArgs> {
        let op = if args.flags & (abi::SET_CREATE | abi::SET_EPHEMERAL | abi::SET_SEQUENTIAL) != 0 {
            Op::Create
        } else {
            Op::Set
        };
        let fail = |errno| Error::os(op, Some(path), errno);
        let mut args = abi::SetArgs {
            path: user_addr(path),
            path_len: len32(path.len(), Errno::NAMETOOLONG).map_err(fail)?,
            value: user_addr(value),
            value_len: len32(value.len(), Errno::TOOBIG).map_err(fail)?,
            ..args
        };
        // SAFETY: `SetArgs` is the argument of `IOC_SET`; `path` and `value` are readable for
        // the lengths given and outlive the call.
        match unsafe { self.call(abi::IOC_SET, &mut args) } {
            Ok(()) => Ok(args),
            // The module reports the node's current version.
            Err(Errno::STALE) => Err(Error::stale(op, path, args.version)),
            Err(errno) => Err(fail(errno)),
        }
    }

    /// Compare-and-set: replaces the value of `path` only if its version is `expected`.
    /// Returns [`Conditional::Stale`] with the current version when it is not, and fails with
    /// `ENOENT` when the node does not exist.
    pub fn set_if_version(
        &self,
        path: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expected: u64,
    ) -> Result<Conditional<u64>> {
        let args = abi::SetArgs {
            flags: abi::SET_IF_VERSION,
            expected_version: expected,
            ..Default::default()
        };
        conditional(
            self.set_with(path.as_ref(), value.as_ref(), args)
                .map(|a| a.version),
        )
    }

    /// Creates `path` as an ephemeral node of this open file (`EEXIST` if it exists): it is
    /// removed when this [`Pathstore`] is dropped (its file released), or its process dies.
    /// Returns its version.
    pub fn create_ephemeral(&self, path: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<u64> {
        self.set_with_flags(path, value, abi::SET_EPHEMERAL)
    }

    /// Creates a sequential node: `prefix` followed by the next number of its parent's counter
    /// in ten digits (`/queue/item-` gives `/queue/item-0000000000`, then `...01`). With
    /// `ephemeral`, the node is also ephemeral. Returns the new node's path and version.
    pub fn create_sequential(
        &self,
        prefix: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ephemeral: bool,
    ) -> Result<(Vec<u8>, u64)> {
        let prefix = prefix.as_ref();
        let flags = abi::SET_SEQUENTIAL | if ephemeral { abi::SET_EPHEMERAL } else { 0 };
        let args = abi::SetArgs {
            flags,
            ..Default::default()
        };
        let args = self.set_with(prefix, value.as_ref(), args)?;
        Ok((sequential_path(prefix, args.sequence), args.version))
    }

    /// The value of `path`. Fails with `ENOENT` for no such node and `ENODATA` for a node
    /// without a value.
    pub fn get(&self, path: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        self.get_with_version(path).map(|(value, _)| value)
    }

    /// The value of `path` and the node's version.
    ///
    /// Tries a 4 KiB buffer first and retries with the exact size the module reports while the
    /// buffer is too small (the value may grow between calls).
    pub fn get_with_version(&self, path: impl AsRef<[u8]>) -> Result<(Vec<u8>, u64)> {
        let path = path.as_ref();
        let mut buf = vec![0; INITIAL_VALUE_BUF];
        loop {
            match self.get_into(path, &mut buf) {
                Ok(got) => {
                    buf.truncate(got.len);
                    return Ok((buf, got.version));
                }
                Err(err) if err.errno() == Errno::RANGE => {
                    let needed = err.needed_len().unwrap_or(0);
                    buf.resize(needed.max(buf.len() + 1), 0);
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Copies the value of `path` into the start of `buf`.
    ///
    /// Fails with `ERANGE` when `buf` is smaller than the value; [`Error::needed_len`] then
    /// tells the size needed.
    pub fn get_into(&self, path: impl AsRef<[u8]>, buf: &mut [u8]) -> Result<GetResult> {
        let path = path.as_ref();
        let fail = |errno| Error::os(Op::Get, Some(path), errno);
        let mut args = abi::GetArgs {
            path: user_addr(path),
            path_len: len32(path.len(), Errno::NAMETOOLONG).map_err(fail)?,
            buf: user_addr_mut(buf),
            buf_len: buf_len32(buf.len()),
            ..Default::default()
        };
        // SAFETY: `GetArgs` is the argument of `IOC_GET`; `path` is readable and `buf` writable
        // for the lengths given, and both outlive the call. Any bytes are valid `u8`s.
        match unsafe { self.call(abi::IOC_GET, &mut args) } {
            Ok(()) if args.value_len > args.buf_len => Err(fail(Errno::PROTO)),
            Ok(()) => Ok(GetResult {
                len: args.value_len as usize,
                version: args.version,
            }),
            Err(errno) => Err(Error::Os {
                op: Op::Get,
                path: Some(path.to_vec()),
                errno,
                needed: (errno == Errno::RANGE).then_some(args.value_len as usize),
                current: None,
            }),
        }
    }

    /// The values of many paths, with [`IOC_GET_BATCH`](abi::IOC_GET_BATCH): one call per
    /// [`GET_BATCH_MAX`](abi::GET_BATCH_MAX) paths instead of one per path.
    ///
    /// Returns one result per path, in order: the value and the node's version, or the error a
    /// [`Pathstore::get`] of that path alone would return. Values over 4 KiB are fetched again
    /// with a single get. Each get is atomic, but the batch is not one snapshot: a change may land
    /// between two of its gets. Fails as a whole only when a call does (`ENOMEM`, `EFAULT`).
    pub fn get_batch<P: AsRef<[u8]>>(&self, paths: &[P]) -> Result<Vec<Result<Versioned>>> {
        let mut bufs: Vec<Vec<u8>> = paths.iter().map(|_| vec![0; INITIAL_VALUE_BUF]).collect();
        let mut slices: Vec<&mut [u8]> = bufs.iter_mut().map(Vec::as_mut_slice).collect();
        let results = self.get_batch_into(paths, &mut slices)?;
        Ok(results
            .into_iter()
            .zip(bufs)
            .zip(paths)
            .map(|((result, mut buf), path)| match result {
                Ok(got) => {
                    buf.truncate(got.len);
                    Ok((buf, got.version))
                }
                Err(err) if err.errno() == Errno::RANGE => self.get_with_version(path),
                Err(err) => Err(err),
            })
            .collect())
    }

    /// Copies the value of each of `paths` into the start of the buffer of the same index of
    /// `bufs`, with [`IOC_GET_BATCH`](abi::IOC_GET_BATCH) (one call per
    /// [`GET_BATCH_MAX`](abi::GET_BATCH_MAX) paths).
    ///
    /// Returns one result per path, in order, exactly what [`Pathstore::get_into`] of that path
    /// and buffer would return (`ERANGE` with [`Error::needed_len`] when the buffer is too
    /// small). Each get is atomic, but the batch is not one snapshot. Fails as a whole with
    /// `EINVAL` when `paths` and `bufs` differ in length, and when a call fails (`ENOMEM`,
    /// `EFAULT`); no paths make no call.
    pub fn get_batch_into<P: AsRef<[u8]>>(
        &self,
        paths: &[P],
        bufs: &mut [&mut [u8]],
    ) -> Result<Vec<Result<GetResult>>> {
        let fail = |errno| Error::os(Op::GetBatch, None, errno);
        if paths.len() != bufs.len() {
            return Err(fail(Errno::INVAL));
        }
        let max = abi::GET_BATCH_MAX as usize;
        let mut results = Vec::with_capacity(paths.len());
        let mut ops = Vec::with_capacity(paths.len().min(max));
        for (paths, bufs) in paths.chunks(max).zip(bufs.chunks_mut(max)) {
            ops.clear();
            for (path, buf) in paths.iter().zip(bufs.iter_mut()) {
                let path = path.as_ref();
                ops.push(abi::GetOp {
                    path: user_addr(path),
                    // Too long for the ABI: the module answers `ENAMETOOLONG` for this length.
                    path_len: len32(path.len(), Errno::NAMETOOLONG).unwrap_or(u32::MAX),
                    buf: user_addr_mut(buf),
                    buf_len: buf_len32(buf.len()),
                    ..Default::default()
                });
            }
            let mut args = abi::GetBatchArgs {
                ops: ops.as_mut_ptr().expose_provenance() as u64,
                // At most `GET_BATCH_MAX`.
                count: ops.len() as u32,
                ..Default::default()
            };
            // SAFETY: `GetBatchArgs` is the argument of `IOC_GET_BATCH`; `ops` holds `count`
            // entries whose paths are readable and buffers writable for their lengths, and all
            // outlive the call.
            unsafe { self.call(abi::IOC_GET_BATCH, &mut args) }.map_err(fail)?;
            if args.done != args.count {
                return Err(fail(Errno::PROTO));
            }
            for (op, path) in ops.iter().zip(paths) {
                let path = path.as_ref();
                results.push(match op.error {
                    0 if op.value_len > op.buf_len => {
                        Err(Error::os(Op::Get, Some(path), Errno::PROTO))
                    }
                    0 => Ok(GetResult {
                        len: op.value_len as usize,
                        version: op.version,
                    }),
                    error => {
                        let errno = Errno::from_raw_os_error(error.wrapping_neg());
                        Err(Error::Os {
                            op: Op::Get,
                            path: Some(path.to_vec()),
                            errno,
                            needed: (errno == Errno::RANGE).then_some(op.value_len as usize),
                            current: None,
                        })
                    }
                });
            }
        }
        Ok(results)
    }

    /// Deletes `path`, which must have no children (`ENOTEMPTY` otherwise). Deleting `/` removes
    /// its value.
    pub fn delete(&self, path: impl AsRef<[u8]>) -> Result<()> {
        self.delete_with_flags(path, 0)
    }

    /// Deletes `path` and everything below it. For `/`, removes its value and every other node.
    pub fn delete_recursive(&self, path: impl AsRef<[u8]>) -> Result<()> {
        self.delete_with_flags(path, abi::DELETE_RECURSIVE)
    }

    /// [`IOC_DELETE`](abi::IOC_DELETE) with any `DELETE_*` flags (unknown ones give `EINVAL`).
    pub fn delete_with_flags(&self, path: impl AsRef<[u8]>, flags: u32) -> Result<()> {
        let args = abi::DeleteArgs {
            flags,
            ..Default::default()
        };
        self.delete_args(path.as_ref(), args)
    }

    /// Conditional delete: deletes `path` (with `recursive`, its subtree) only if its version
    /// is `expected`; returns [`Conditional::Stale`] with the current version when it is not.
    pub fn delete_if_version(
        &self,
        path: impl AsRef<[u8]>,
        expected: u64,
        recursive: bool,
    ) -> Result<Conditional<()>> {
        let flags = abi::DELETE_IF_VERSION | if recursive { abi::DELETE_RECURSIVE } else { 0 };
        let args = abi::DeleteArgs {
            flags,
            expected_version: expected,
            ..Default::default()
        };
        conditional(self.delete_args(path.as_ref(), args))
    }

    fn delete_args(&self, path: &[u8], args: abi::DeleteArgs) -> Result<()> {
        let fail = |errno| Error::os(Op::Delete, Some(path), errno);
        let mut args = abi::DeleteArgs {
            path: user_addr(path),
            path_len: len32(path.len(), Errno::NAMETOOLONG).map_err(fail)?,
            ..args
        };
        // SAFETY: `DeleteArgs` is the argument of `IOC_DELETE`; `path` is readable for its
        // length and outlives the call.
        match unsafe { self.call(abi::IOC_DELETE, &mut args) } {
            Ok(()) => Ok(()),
            Err(Errno::STALE) => Err(Error::stale(Op::Delete, path, args.version)),
            Err(errno) => Err(fail(errno)),
        }
    }

    /// The names of all children of `path`, in byte order.
    ///
    /// Calls [`Pathstore::list_page`] until the module reports no more, continuing after the
    /// last name received, and grows the buffer when a name does not fit. Children created or
    /// deleted meanwhile may or may not appear; no name appears twice.
    pub fn list(&self, path: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        let path = path.as_ref();
        let mut buf = vec![0; INITIAL_LIST_BUF];
        let mut names: Vec<Vec<u8>> = Vec::new();
        loop {
            let after = names.last().map_or(&[][..], Vec::as_slice);
            match self.list_page(path, after, &mut buf) {
                Ok(page) if page.more && page.count == 0 => {
                    // A page that promises more but makes no progress would loop forever.
                    return Err(Error::os(Op::List, Some(path), Errno::PROTO));
                }
                Ok(page) => {
                    names.extend(page.names().map(<[u8]>::to_vec));
                    if !page.more {
                        return Ok(names);
                    }
                }
                Err(err) if err.errno() == Errno::RANGE => {
                    let needed = err.needed_len().unwrap_or(0);
                    buf.resize(needed.max(buf.len() * 2), 0);
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// One [`IOC_LIST`](abi::IOC_LIST) call: as many children of `path` as fit in `buf`,
    /// starting after the name `after` (from the first child when `after` is empty).
    ///
    /// Fails with `ERANGE` when not even the next name fits; [`Error::needed_len`] then tells
    /// the size needed.
    pub fn list_page<'b>(
        &self,
        path: impl AsRef<[u8]>,
        after: impl AsRef<[u8]>,
        buf: &'b mut [u8],
    ) -> Result<ListPage<'b>> {
        let (path, after) = (path.as_ref(), after.as_ref());
        let fail = |errno| Error::os(Op::List, Some(path), errno);
        let mut args = abi::ListArgs {
            path: user_addr(path),
            path_len: len32(path.len(), Errno::NAMETOOLONG).map_err(fail)?,
            after: user_addr(after),
            after_len: len32(after.len(), Errno::NAMETOOLONG).map_err(fail)?,
            buf: user_addr_mut(buf),
            buf_len: buf_len32(buf.len()),
            ..Default::default()
        };
        // SAFETY: `ListArgs` is the argument of `IOC_LIST`; `path` and `after` are readable and
        // `buf` writable for the lengths given, and all outlive the call.
        match unsafe { self.call(abi::IOC_LIST, &mut args) } {
            Ok(()) if args.buf_used > args.buf_len => Err(fail(Errno::PROTO)),
            Ok(()) => Ok(ListPage {
                bytes: &buf[..args.buf_used as usize],
                count: args.count as usize,
                more: args.result_flags & abi::LIST_MORE != 0,
            }),
            Err(errno) => Err(Error::Os {
                op: Op::List,
                path: Some(path.to_vec()),
                errno,
                needed: (errno == Errno::RANGE).then_some(args.buf_used as usize),
                current: None,
            }),
        }
    }

    /// The metadata of `path`.
    pub fn stat(&self, path: impl AsRef<[u8]>) -> Result<abi::NodeStat> {
        let path = path.as_ref();
        let fail = |errno| Error::os(Op::Stat, Some(path), errno);
        let mut args = abi::StatArgs {
            path: user_addr(path),
            path_len: len32(path.len(), Errno::NAMETOOLONG).map_err(fail)?,
            ..Default::default()
        };
        // SAFETY: `StatArgs` is the argument of `IOC_STAT`; `path` is readable for its length
        // and outlives the call.
        unsafe { self.call(abi::IOC_STAT, &mut args) }.map_err(fail)?;
        Ok(args.stat)
    }

    /// Whether the node `path` exists (with or without a value).
    pub fn exists(&self, path: impl AsRef<[u8]>) -> Result<bool> {
        match self.stat(path) {
            Ok(_) => Ok(true),
            Err(err) if err.errno() == Errno::NOENT => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Usage and limits of the whole store, and every module parameter.
    ///
    /// A module older than the parameters' fields (`dev_mode`, `reserve_nodes`,
    /// `reserve_bytes`, `watch_events`, `watch_bytes`) answers `ENOTTY` to
    /// [`IOC_STORE_STATS`](abi::IOC_STORE_STATS): this then asks it with
    /// [`IOC_STORE_STATS_V1`](abi::IOC_STORE_STATS_V1), and those fields are zero.
    /// `watch_events` is never zero otherwise, so it tells the two apart.
    pub fn store_stats(&self) -> Result<abi::StoreStats> {
        let mut args = abi::StoreStats::default();
        // SAFETY: `StoreStats` is the argument of `IOC_STORE_STATS` and holds no addresses.
        match unsafe { self.call(abi::IOC_STORE_STATS, &mut args) } {
            Err(Errno::NOTTY) => {
                // SAFETY: `IOC_STORE_STATS_V1` writes the first `STORE_STATS_V1_SIZE` bytes of
                // a `StoreStats`, which is larger; it holds no addresses.
                unsafe { self.call(abi::IOC_STORE_STATS_V1, &mut args) }
            }
            other => other,
        }
        .map_err(|e| Error::os(Op::StoreStats, None, e))?;
        Ok(args)
    }

    /// Waits for the first change after version `after` of the node at `path` (with `subtree`,
    /// of anything below it too): at most `timeout` (`None`: no limit; zero: not at all).
    /// Returns `None` when no change came in time. Watch again with the event's version as
    /// `after` to see every change in order; after [`EventKind::Lost`], re-read what you watch.
    /// A signal fails the call with `EINTR` (with a timeout), or restarts it (without one,
    /// under `SA_RESTART`).
    pub fn watch(
        &self,
        path: impl AsRef<[u8]>,
        subtree: bool,
        after: u64,
        timeout: Option<Duration>,
    ) -> Result<Option<WatchEvent>> {
        let path = path.as_ref();
        let fail = |errno| Error::os(Op::Watch, Some(path), errno);
        let timeout_ms = match timeout {
            None => abi::WATCH_FOREVER,
            // Round up, so that a short timeout still waits; stay below WATCH_FOREVER.
            Some(t) => u32::try_from(t.as_nanos().div_ceil(1_000_000))
                .unwrap_or(u32::MAX)
                .min(abi::WATCH_FOREVER - 1),
        };
        let mut buf = vec![0u8; 256];
        loop {
            let mut args = abi::WatchArgs {
                path: user_addr(path),
                path_len: len32(path.len(), Errno::NAMETOOLONG).map_err(fail)?,
                buf: user_addr_mut(&mut buf),
                buf_len: buf_len32(buf.len()),
                after,
                timeout_ms,
                flags: if subtree { abi::WATCH_SUBTREE } else { 0 },
                ..Default::default()
            };
            // SAFETY: `WatchArgs` is the argument of `IOC_WATCH`; `path` is readable and `buf`
            // writable for the lengths given, and both outlive the call.
            match unsafe { self.call(abi::IOC_WATCH, &mut args) } {
                Ok(()) => {
                    buf.truncate(args.changed_len as usize);
                    let kind = EventKind::from_abi(args.event).ok_or_else(|| fail(Errno::PROTO))?;
                    return Ok(Some(WatchEvent {
                        kind,
                        version: args.version,
                        path: buf,
                    }));
                }
                Err(Errno::TIMEDOUT) => return Ok(None),
                // The same change is reported again: make room for its path.
                Err(Errno::RANGE) if args.changed_len as usize > buf.len() => {
                    buf.resize(args.changed_len as usize, 0);
                }
                Err(errno) => return Err(fail(errno)),
            }
        }
    }

    /// Applies `steps` in order, all or nothing ([`IOC_TXN`](abi::IOC_TXN)). Returns
    /// [`TxnOutcome::Committed`] with the version of its changes, or [`TxnOutcome::Failed`]
    /// with the step that failed (nothing was changed); fails itself only when no step ran
    /// (`EINVAL` for no steps, `E2BIG` for more than [`abi::TXN_MAX_OPS`], `ENOMEM`).
    pub fn txn(&self, steps: &[TxnStep<'_>]) -> Result<TxnOutcome> {
        let fail = |errno| Error::os(Op::Txn, None, errno);
        let mut ops = Vec::with_capacity(steps.len());
        for step in steps {
            ops.push(abi::TxnOp {
                path: user_addr(step.path),
                path_len: len32(step.path.len(), Errno::NAMETOOLONG).map_err(fail)?,
                value: user_addr(step.value),
                value_len: len32(step.value.len(), Errno::TOOBIG).map_err(fail)?,
                ..step.op
            });
        }
        let mut args = abi::TxnArgs {
            ops: ops.as_ptr().expose_provenance() as u64,
            count: u32::try_from(ops.len()).map_err(|_| fail(Errno::TOOBIG))?,
            ..Default::default()
        };
        // SAFETY: `TxnArgs` is the argument of `IOC_TXN`; `ops` holds `count` operations whose
        // paths and values are readable for their lengths, and all outlive the call.
        match unsafe { self.call(abi::IOC_TXN, &mut args) } {
            Ok(()) => Ok(TxnOutcome::Committed(args.version)),
            Err(errno) => match usize::try_from(args.failed)
                .ok()
                .filter(|&i| i < steps.len())
            {
                Some(index) => Ok(TxnOutcome::Failed {
                    index,
                    errno,
                    current: (errno == Errno::STALE).then_some(args.current),
                }),
                None => Err(fail(errno)),
            },
        }
    }

    /// Runs the module's consistency check ([`IOC_CHECK`](abi::IOC_CHECK)): a walk of the whole
    /// store verifying every counter and invariant. Needs `CAP_SYS_ADMIN` (`EPERM`); fails with
    /// `EUCLEAN` when the store is inconsistent.
    pub fn check(&self) -> Result<abi::CheckArgs> {
        let mut args = abi::CheckArgs::default();
        // SAFETY: `CheckArgs` is the argument of `IOC_CHECK` and holds no addresses.
        unsafe { self.call(abi::IOC_CHECK, &mut args) }
            .map_err(|e| Error::os(Op::Check, None, e))?;
        Ok(args)
    }

    /// Walks the subtree at `path` depth-first, parents before children (see [`Walk`]).
    pub fn walk(&self, path: impl AsRef<[u8]>) -> Walk<'_> {
        Walk::new(self, path.as_ref())
    }
}

impl AsFd for Pathstore {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_device_is_dev_device_name() {
        assert_eq!(DEFAULT_DEVICE, format!("/dev/{}", abi::DEVICE_NAME));
    }

    #[test]
    fn open_missing_device() {
        let err = Pathstore::open_path("/nonexistent/pathstore").unwrap_err();
        assert_eq!(err.errno(), Errno::NOENT);
        assert_eq!(err.op(), Op::Open);
        assert_eq!(
            err.to_string(),
            "open /nonexistent/pathstore: No such file or directory (ENOENT)"
        );
    }

    #[test]
    fn handshake_with_other_device_fails() {
        // /dev/null opens read-write and answers every ioctl with ENOTTY.
        let err = Pathstore::open_path("/dev/null").unwrap_err();
        assert_eq!(err.op(), Op::Handshake);
        assert_eq!(err.errno(), Errno::NOTTY);
        assert_eq!(
            err.to_string(),
            "handshake /dev/null: not a pathstore device (ENOTTY)"
        );
    }

    #[test]
    fn list_page_names() {
        let page = ListPage {
            bytes: b"a\0bc\0",
            count: 2,
            more: false,
        };
        assert_eq!(page.names().collect::<Vec<_>>(), [&b"a"[..], b"bc"]);
        let empty = ListPage {
            bytes: b"",
            count: 0,
            more: false,
        };
        assert_eq!(empty.names().count(), 0);
    }
}

/// The outcome of a conditional call ([`Pathstore::set_if_version`],
/// [`Pathstore::delete_if_version`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conditional<T> {
    /// The call was done; its result.
    Done(T),
    /// The node has another version (the one given); nothing was changed.
    Stale(u64),
}

/// Turns an `ESTALE` failure into [`Conditional::Stale`].
fn conditional<T>(result: Result<T>) -> Result<Conditional<T>> {
    match result {
        Ok(done) => Ok(Conditional::Done(done)),
        Err(e) => match e.current_version() {
            Some(version) => Ok(Conditional::Stale(version)),
            None => Err(e),
        },
    }
}

/// The path of the node [`abi::SET_SEQUENTIAL`] created from `prefix` and `number`.
pub fn sequential_path(prefix: &[u8], number: u64) -> Vec<u8> {
    let digits = abi::SEQUENTIAL_DIGITS as usize;
    let mut path = prefix.to_vec();
    if path.len() > 1 && path.ends_with(b"/") {
        path.pop();
    }
    path.extend_from_slice(format!("{number:0digits$}").as_bytes());
    path
}

/// What happened to a watched node ([`Pathstore::watch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The node was created.
    Created,
    /// Its value (or mode) was set.
    Changed,
    /// It was deleted, with everything below it (the path may be an ancestor of the watched
    /// node).
    Deleted,
    /// Changes were lost (the module keeps only the last ones): re-read what you watch and
    /// watch again after the event's version, the current one.
    Lost,
}

impl EventKind {
    /// The kind an `EVENT_*` number stands for.
    pub fn from_abi(event: u32) -> Option<Self> {
        match event {
            abi::EVENT_CREATED => Some(Self::Created),
            abi::EVENT_CHANGED => Some(Self::Changed),
            abi::EVENT_DELETED => Some(Self::Deleted),
            abi::EVENT_LOST => Some(Self::Lost),
            _ => None,
        }
    }

    /// The kind's name: `created`, `changed`, `deleted` or `lost`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Changed => "changed",
            Self::Deleted => "deleted",
            Self::Lost => "lost",
        }
    }
}

/// A change reported by [`Pathstore::watch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventKind,
    /// The change's version (for [`EventKind::Lost`], the store's current version).
    pub version: u64,
    /// The path of the node that changed (empty for [`EventKind::Lost`]).
    pub path: Vec<u8>,
}

/// One step of a transaction ([`Pathstore::txn`]).
#[derive(Clone, Copy, Debug)]
pub struct TxnStep<'a> {
    op: abi::TxnOp,
    path: &'a [u8],
    value: &'a [u8],
}

impl<'a> TxnStep<'a> {
    fn new(op: u32, flags: u32, expected_version: u64, path: &'a [u8], value: &'a [u8]) -> Self {
        Self {
            op: abi::TxnOp {
                op,
                flags,
                expected_version,
                ..Default::default()
            },
            path,
            value,
        }
    }

    /// The node must exist with version `version` (else `ENOENT` or `ESTALE`).
    pub fn check_version(path: &'a [u8], version: u64) -> Self {
        Self::new(abi::TXN_CHECK_VERSION, 0, version, path, &[])
    }

    /// The node must not exist (else `EEXIST`).
    pub fn check_absent(path: &'a [u8]) -> Self {
        Self::new(abi::TXN_CHECK_ABSENT, 0, 0, path, &[])
    }

    /// Set the value (creating the node and its parents).
    pub fn set(path: &'a [u8], value: &'a [u8]) -> Self {
        Self::new(abi::TXN_SET, 0, 0, path, value)
    }

    /// Create the node (`EEXIST` if it exists).
    pub fn create(path: &'a [u8], value: &'a [u8]) -> Self {
        Self::new(abi::TXN_SET, abi::SET_CREATE, 0, path, value)
    }

    /// Replace the value only at version `version` (else `ENOENT` or `ESTALE`).
    pub fn set_if_version(path: &'a [u8], value: &'a [u8], version: u64) -> Self {
        Self::new(abi::TXN_SET, abi::SET_IF_VERSION, version, path, value)
    }

    /// Delete the node (with `recursive`, and everything below it); with `version`, only at that
    /// version.
    pub fn delete(path: &'a [u8], recursive: bool, version: Option<u64>) -> Self {
        let flags = if recursive { abi::DELETE_RECURSIVE } else { 0 }
            | if version.is_some() {
                abi::DELETE_IF_VERSION
            } else {
                0
            };
        Self::new(abi::TXN_DELETE, flags, version.unwrap_or(0), path, &[])
    }
}

/// The outcome of [`Pathstore::txn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnOutcome {
    /// Every step was applied; this is the version of its last change (the current one if the
    /// transaction only checked).
    Committed(u64),
    /// Step `index` failed with `errno`, and nothing was changed. For `ESTALE`, `current` is the
    /// version the node has.
    Failed {
        /// The step that failed.
        index: usize,
        /// Its error.
        errno: Errno,
        /// For `ESTALE`: the node's version.
        current: Option<u64>,
    },
}
