// SPDX-License-Identifier: GPL-2.0

//! The ioctl handlers of `/dev/pathstore`.
//!
//! Each handler decodes its argument structure, checks it, runs the operation on the store and
//! writes the results back. The uapi structures are only seen here: the store works with its
//! own types, converted at this boundary. Requests are copied from userspace and validated
//! before the store's lock is taken, and results are copied back after it is dropped, so the
//! lock never covers a user-memory access (a page fault, or a userfaultfd, cannot stall other
//! users of the store).

use kernel::{
    ioctl::_IOC_SIZE,
    prelude::*,
    time::msecs_to_jiffies,
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice,
        UserSliceWriter, //
    },
};

use crate::{
    access::Viewer,
    bytes::{
        user_gfp,
        StackBuf, //
    },
    error::{
        enametoolong,
        StoreError,
        StoreResult, //
    },
    events::EventKind,
    file::{
        Copied,
        OpenFile, //
    },
    limits::Limits,
    num::FromSafeCast,
    path::{
        check_name,
        Path, //
    },
    store::Wait,
    tree::{
        CheckReport,
        NodeStat,
        SetOptions,
        Stats,
        TxnOp, //
    },
    uapi,
    value::Value,
    MODULE_VERSION,
};

/// Most bytes of names one `PATHSTORE_IOC_LIST` call returns, whatever the buffer's size.
const LIST_CHUNK: u32 = 64 * 1024;

/// Paths up to this long are copied in to the stack; most are far shorter.
const STACK_PATH: usize = 128;

/// The argument of one ioctl: the `_IOC_SIZE(cmd)` bytes at the user address `arg`.
///
/// Unlike Binder's handlers, which take one `UserSlice`, ours take this copyable handle: it
/// reads the argument once ([`IoctlArg::read`], which gives the writer for the reply), and lets
/// a call that must not change the store when it could not report the result check first that
/// the argument is writable ([`IoctlArg::probe`]), which a consumed `UserSlice` cannot.
#[derive(Clone, Copy)]
pub(crate) struct IoctlArg {
    ptr: UserPtr,
    len: usize,
}

impl IoctlArg {
    /// The argument of the ioctl `cmd` at the user address `arg`.
    pub(crate) fn new(cmd: u32, arg: usize) -> Self {
        Self {
            ptr: UserPtr::from_addr(arg),
            len: _IOC_SIZE(cmd),
        }
    }

    /// Reads the argument structure, and returns it with the writer that replies through it.
    fn read<T: FromBytes>(self) -> Result<(T, UserSliceWriter)> {
        let (mut reader, writer) = UserSlice::new(self.ptr, self.len).reader_writer();
        Ok((reader.read()?, writer))
    }

    /// Writes `value` to the argument: a reply of a call that reads nothing.
    fn write<T: AsBytes>(self, value: &T) -> Result {
        UserSlice::new(self.ptr, self.len).writer().write(value)
    }

    /// Writes `args`, as read, back: fails with `EFAULT` before anything changes when the
    /// reply could not be written.
    fn probe<T: AsBytes>(self, args: &T) -> Result {
        self.write(args)
    }
}

/// A user address from the ABI's 64-bit field.
fn user_ptr(addr: u64) -> Result<UserPtr> {
    Ok(UserPtr::from_addr(
        usize::try_from(addr).map_err(|_| EFAULT)?,
    ))
}

/// Copies `len` bytes from the user address `addr` into a new buffer.
fn copy_in(addr: u64, len: usize) -> Result<KVVec<u8>> {
    let mut buf = KVVec::with_capacity(len, user_gfp())?;
    UserSlice::new(user_ptr(addr)?, len).read_all(&mut buf, user_gfp())?;
    Ok(buf)
}

/// Copies an array of `count` ABI structures from the user address `addr`, in one copy.
fn read_array<T: FromBytes + AsBytes + Default + Clone>(
    addr: u64,
    count: usize,
) -> Result<KVVec<T>> {
    let mut array = KVVec::from_elem(T::default(), count, user_gfp())?;
    let len = count * size_of::<T>();
    UserSlice::new(user_ptr(addr)?, len)
        .reader()
        .read_slice(array.as_mut_slice().as_bytes_mut())?;
    Ok(array)
}

/// Copies `array` back to the user address `addr`, in one copy.
fn write_array<T: AsBytes>(addr: u64, array: &[T]) -> Result {
    let bytes = array.as_bytes();
    UserSlice::new(user_ptr(addr)?, bytes.len())
        .writer()
        .write_slice(bytes)
}

/// Copies the path of `len` bytes at the user address `addr` in, parses it and calls `f` with
/// it. A path of a valid length is copied to the stack when it is short, so that a lookup does
/// not allocate, else into a new buffer; its length is checked before either.
fn with_path<R, E: From<Error>>(
    addr: u64,
    len: u32,
    limits: &Limits,
    f: impl FnOnce(&Path<'_>) -> Result<R, E>,
) -> Result<R, E> {
    if len == 0 {
        return Err(EINVAL.into());
    }
    if len > limits.max_path_len {
        return Err(enametoolong().into());
    }
    let len = usize::from_safe_cast(len);
    if len > STACK_PATH {
        let buf = copy_in(addr, len)?;
        return f(&Path::parse(&buf, limits)?);
    }
    let mut buf = StackBuf::<STACK_PATH>::new();
    buf.fill_from_user(&mut UserSlice::new(user_ptr(addr)?, len).reader(), len)?;
    f(&Path::parse(buf.as_bytes(), limits)?)
}

/// Decodes the `SET_*` `flags` of a set (only those in `allowed` may be given), its `mode` and
/// its expected version: the options, and whether the set is a sequential create. Fails with
/// `EINVAL` for flags that are unknown, not allowed or that contradict each other, and for a
/// mode or version given without its flag.
fn set_options(
    flags: u32,
    allowed: u32,
    mode: u32,
    expected: u64,
    session: u64,
) -> Result<(SetOptions, bool)> {
    let flag = |f: u32| flags & f != 0;
    let mode_allowed = if flag(uapi::SET_MODE) {
        uapi::MODE_ALL
    } else {
        0
    };
    if flags & !allowed != 0
        || (flag(uapi::SET_IF_VERSION)
            && (flag(uapi::SET_CREATE) || flag(uapi::SET_EPHEMERAL) || flag(uapi::SET_SEQUENTIAL)))
        || (!flag(uapi::SET_IF_VERSION) && expected != 0)
        || mode & !mode_allowed != 0
    {
        return Err(EINVAL);
    }
    let opts = SetOptions {
        create_only: flag(uapi::SET_CREATE),
        mode: flag(uapi::SET_MODE).then_some(mode),
        if_version: flag(uapi::SET_IF_VERSION).then_some(expected),
        ephemeral: flag(uapi::SET_EPHEMERAL).then_some(session),
    };
    Ok((opts, flag(uapi::SET_SEQUENTIAL)))
}

/// Decodes the `DELETE_*` `flags` and the expected version of a delete: whether it is
/// recursive, and the version the node must have. `EINVAL` for unknown flags, and for a version
/// given without its flag.
fn delete_options(flags: u32, expected: u64) -> Result<(bool, Option<u64>)> {
    let if_version = flags & uapi::DELETE_IF_VERSION != 0;
    if flags & !uapi::DELETE_FLAGS_ALL != 0 || (!if_version && expected != 0) {
        return Err(EINVAL);
    }
    Ok((
        flags & uapi::DELETE_RECURSIVE != 0,
        if_version.then_some(expected),
    ))
}

/// The ABI's code for an event kind.
fn event_code(kind: EventKind) -> u32 {
    match kind {
        EventKind::Created => uapi::EVENT_CREATED,
        EventKind::Changed => uapi::EVENT_CHANGED,
        EventKind::Deleted => uapi::EVENT_DELETED,
        EventKind::Lost => uapi::EVENT_LOST,
    }
}

/// A node's metadata as the ABI reports it, with the owner as `viewer` sees it.
fn node_stat(st: NodeStat, viewer: &Viewer) -> Result<uapi::NodeStat> {
    Ok(uapi::NodeStat {
        version: st.version,
        child_version: st.child_version,
        ctime_ns: st.ctime_ns,
        mtime_ns: st.mtime_ns,
        num_children: st.num_children,
        value_len: u32::try_from(st.value_len).map_err(|_| EOVERFLOW)?,
        flags: if st.has_value {
            uapi::STAT_HAS_VALUE
        } else {
            0
        },
        uid: viewer.uid(st.owner),
        mode: st.mode,
        session: st.session,
    })
}

/// The store's usage and limits, and every module parameter, as the ABI reports them.
fn store_stats(s: Stats, limits: &Limits) -> uapi::StoreStats {
    uapi::StoreStats {
        nodes: s.nodes,
        bytes: s.bytes,
        max_nodes: limits.max_nodes,
        max_bytes: limits.max_bytes,
        sequence: s.sequence,
        max_value_len: limits.max_value_len,
        max_path_len: limits.max_path_len,
        max_depth: limits.max_depth,
        dev_mode: crate::device::dev_mode().into(),
        uid_nodes: s.uid_nodes,
        uid_bytes: s.uid_bytes,
        uid_max_nodes: limits.uid_max_nodes,
        uid_max_bytes: limits.uid_max_bytes,
        reserve_nodes: limits.reserve_nodes,
        reserve_bytes: limits.reserve_bytes,
        watch_events: limits.watch_events,
        watch_bytes: limits.watch_bytes,
    }
}

/// One checked operation of a transaction, with its path and value copied in.
struct TxnInput {
    path: KVVec<u8>,
    kind: TxnKind,
}

/// What a [`TxnInput`] does.
enum TxnKind {
    CheckVersion(u64),
    CheckAbsent,
    Set(Option<Value>, SetOptions),
    Delete(bool, Option<u64>),
}

/// Records in `a` that the transaction's operation `index` failed with `error`, and writes `a`
/// back; returns the error to fail with.
fn txn_failed_at(
    writer: &mut UserSliceWriter,
    a: &mut uapi::TxnArgs,
    index: usize,
    error: Error,
) -> Error {
    a.failed = u32::try_from(index).unwrap_or(u32::MAX);
    match writer.write(a) {
        Ok(()) => error,
        Err(fault) => fault,
    }
}

/// The ioctl handlers.
impl OpenFile {
    /// `PATHSTORE_IOC_VERSION`.
    pub(crate) fn version(&self, arg: IoctlArg) -> Result {
        let (major, minor, patch) = MODULE_VERSION;
        arg.write(&uapi::VersionArgs {
            abi_version: uapi::ABI_VERSION,
            module_version: (major << 16) | (minor << 8) | patch,
            session: self.session,
            reserved: [0; 2],
        })
    }

    /// `PATHSTORE_IOC_SET`.
    pub(crate) fn set(&self, arg: IoctlArg) -> Result {
        let (mut a, mut writer) = arg.read::<uapi::SetArgs>()?;
        let (opts, sequential) = set_options(
            a.flags,
            uapi::SET_FLAGS_ALL,
            a.mode,
            a.expected_version,
            self.session,
        )?;
        with_path(a.path, a.path_len, &self.limits, |path| {
            let value = Value::from_user(user_ptr(a.value)?, a.value_len, &self.limits)?;
            // Fail on an argument we cannot write back before changing anything.
            arg.probe(&a)?;
            match self.set_node(path, value, opts, sequential) {
                Ok(done) => {
                    a.version = done.version;
                    a.sequence = done.sequence;
                    writer.write(&a)
                }
                Err(StoreError::Stale { current }) => {
                    a.version = current;
                    writer.write(&a)?;
                    Err(StoreError::Stale { current }.into())
                }
                Err(error) => Err(error.into()),
            }
        })
    }

    /// `PATHSTORE_IOC_GET`.
    pub(crate) fn get(&self, arg: IoctlArg) -> Result {
        let (mut a, mut writer) = arg.read::<uapi::GetArgs>()?;
        if a.flags != 0 || a.reserved != [0; 2] {
            return Err(EINVAL);
        }
        let result = with_path(a.path, a.path_len, &self.limits, |path| {
            self.get_value(path, a.buf, a.buf_len)
        });
        // The value's length and version are reported on success and with `ERANGE`.
        (a.value_len, a.version) = match &result {
            Ok(found) => *found,
            Err(StoreError::Range { value_len, version }) => (*value_len, *version),
            Err(error) => return Err((*error).into()),
        };
        writer.write(&a)?;
        result.map(drop).map_err(Error::from)
    }

    /// The get shared by `PATHSTORE_IOC_GET` and every get of `PATHSTORE_IOC_GET_BATCH`, after
    /// their argument checks: reads the value of the node at `path` and copies it to the user
    /// buffer `buf` of `buf_len` bytes. Returns the value's length and the node's version, which
    /// a value too long for the buffer reports as [`StoreError::Range`].
    fn get_value(&self, path: &Path<'_>, buf: u64, buf_len: u32) -> StoreResult<(u32, u64)> {
        let mut stack = StackBuf::new();
        let copied = self.copy_value(path, &mut stack, usize::from_safe_cast(buf_len), 0)?;
        let (bytes, version) = match &copied {
            Copied::Stack(bytes, version) => (*bytes, *version),
            Copied::Owned(bytes, version) => (&bytes[..], *version),
            Copied::TooLong(len, version) => {
                return Err(StoreError::Range {
                    // Values never exceed `max_value_len`, a `u32`.
                    value_len: u32::try_from(*len).map_err(|_| E2BIG)?,
                    version: *version,
                });
            }
        };
        // It fitted in `buf_len`, a `u32`.
        let value_len = u32::try_from(bytes.len()).map_err(|_| E2BIG)?;
        UserSlice::new(user_ptr(buf)?, bytes.len())
            .writer()
            .write_slice(bytes)?;
        Ok((value_len, version))
    }

    /// `PATHSTORE_IOC_GET_BATCH`: copies the array of gets in at once, runs each with
    /// [`Self::get_value`], records each one's result in its entry, and copies the array back at
    /// once.
    pub(crate) fn get_batch(&self, arg: IoctlArg) -> Result {
        let (mut a, mut writer) = arg.read::<uapi::GetBatchArgs>()?;
        if a.flags != 0 || a.pad != 0 || a.reserved != [0; 2] || a.count == 0 {
            return Err(EINVAL);
        }
        if a.count > uapi::GET_BATCH_MAX {
            return Err(E2BIG);
        }
        let mut ops = read_array::<uapi::GetOp>(a.ops, usize::from_safe_cast(a.count))?;
        for op in ops.iter_mut() {
            let result = with_path(op.path, op.path_len, &self.limits, |path| {
                self.get_value(path, op.buf, op.buf_len)
            });
            // As a single get reports them: on success and with `ERANGE`.
            (op.value_len, op.version, op.error) = match result {
                Ok((value_len, version)) => (value_len, version, 0),
                Err(error @ StoreError::Range { value_len, version }) => {
                    (value_len, version, Error::from(error).to_errno())
                }
                Err(error) => (0, 0, Error::from(error).to_errno()),
            };
        }
        write_array(a.ops, &ops)?;
        a.done = a.count;
        writer.write(&a)
    }

    /// `PATHSTORE_IOC_DELETE`.
    pub(crate) fn delete(&self, arg: IoctlArg) -> Result {
        let (mut a, mut writer) = arg.read::<uapi::DeleteArgs>()?;
        let (recursive, if_version) = delete_options(a.flags, a.expected_version)?;
        with_path(a.path, a.path_len, &self.limits, |path| {
            let result = self
                .store
                .change(|t| t.delete(path, recursive, if_version, &self.caller));
            if let Err(StoreError::Stale { current }) = result {
                a.version = current;
                writer.write(&a)?;
            }
            // What the delete took out is drained here, after the store's lock is released.
            self.store.drain(result?);
            Ok(())
        })
    }

    /// `PATHSTORE_IOC_LIST`.
    pub(crate) fn list(&self, arg: IoctlArg) -> Result {
        let (mut a, mut writer) = arg.read::<uapi::ListArgs>()?;
        if a.flags != 0 || a.pad != 0 || a.reserved != [0; 2] {
            return Err(EINVAL);
        }
        with_path(a.path, a.path_len, &self.limits, |path| {
            let after = match a.after_len {
                0 => None,
                len if len > uapi::MAX_NAME_LEN => return Err(enametoolong()),
                len => {
                    let after = copy_in(a.after, usize::from_safe_cast(len))?;
                    check_name(&after)?;
                    Some(after)
                }
            };
            let room = usize::from_safe_cast(a.buf_len.min(LIST_CHUNK));
            let mut out = KVVec::with_capacity(room, user_gfp())?;
            let listing = self
                .store
                .read(|t| t.list(path, after.as_deref(), &mut out, room, &self.caller))?;
            a.count = listing.count;
            a.result_flags = if listing.more { uapi::LIST_MORE } else { 0 };
            if listing.count == 0 && listing.more {
                // At most `MAX_NAME_LEN + 1`.
                a.buf_used = u32::try_from(listing.needed).map_err(|_| EINVAL)?;
                writer.write(&a)?;
                return Err(ERANGE);
            }
            // At most `room`, a `u32`.
            a.buf_used = u32::try_from(out.len()).map_err(|_| EINVAL)?;
            write_array(a.buf, &out)?;
            writer.write(&a)
        })
    }

    /// `PATHSTORE_IOC_STAT`.
    pub(crate) fn stat(&self, arg: IoctlArg) -> Result {
        let (mut a, mut writer) = arg.read::<uapi::StatArgs>()?;
        if a.flags != 0 {
            return Err(EINVAL);
        }
        let st = with_path(a.path, a.path_len, &self.limits, |path| {
            self.store.read(|t| t.stat(path, &self.caller))
        })?;
        a.stat = node_stat(st, &self.viewer)?;
        writer.write(&a)
    }

    /// `PATHSTORE_IOC_STORE_STATS` and `PATHSTORE_IOC_STORE_STATS_V1`: the first
    /// `_IOC_SIZE(cmd)` bytes of the structure, that is all of it or the first version of it
    /// (whose `pad`, now `dev_mode`, was zero). The dispatch passes only those two numbers.
    pub(crate) fn store_stats(&self, arg: IoctlArg) -> Result {
        let stats = self
            .store
            .read(|t| Ok::<_, Error>(t.stats(self.caller.uid)))?;
        let mut reply = store_stats(stats, &self.limits);
        if arg.len < size_of::<uapi::StoreStats>() {
            reply.dev_mode = 0;
        }
        let bytes = reply.as_bytes().get(..arg.len).ok_or(EINVAL)?;
        UserSlice::new(arg.ptr, arg.len).writer().write_slice(bytes)
    }

    /// `PATHSTORE_IOC_CHECK`.
    pub(crate) fn check(&self, arg: IoctlArg) -> Result {
        // The walk holds the store's lock for time proportional to the store's size.
        if !self.caller.admin {
            return Err(EPERM);
        }
        let CheckReport {
            nodes,
            bytes,
            owners,
        } = self.store.read(|t| t.check())?;
        arg.write(&uapi::CheckArgs {
            nodes,
            bytes,
            owners,
            reserved: [0; 1],
        })
    }

    /// `PATHSTORE_IOC_WATCH`.
    pub(crate) fn watch(&self, arg: IoctlArg) -> Result {
        let (mut a, mut writer) = arg.read::<uapi::WatchArgs>()?;
        if a.flags & !uapi::WATCH_FLAGS_ALL != 0 || a.reserved != [0; 2] {
            return Err(EINVAL);
        }
        let wait = match a.timeout_ms {
            0 => Wait::No,
            uapi::WATCH_FOREVER => Wait::Forever,
            ms => Wait::For(msecs_to_jiffies(ms)),
        };
        let subtree = a.flags & uapi::WATCH_SUBTREE != 0;
        with_path(a.path, a.path_len, &self.limits, |path| {
            // Room for any path of the store: the changed node's is copied here under the lock.
            let room = usize::from_safe_cast(self.limits.max_path_len);
            let mut changed = KVVec::with_capacity(room, user_gfp())?;
            let change =
                self.store
                    .watch(path, subtree, a.after, wait, &self.caller, &mut changed)?;
            a.event = event_code(change.kind);
            a.version = change.version;
            // Paths never exceed `max_path_len`, a `u32`.
            a.changed_len = u32::try_from(changed.len()).map_err(|_| EINVAL)?;
            if a.changed_len > a.buf_len {
                writer.write(&a)?;
                return Err(ERANGE);
            }
            write_array(a.buf, &changed)?;
            writer.write(&a)
        })
    }

    /// `PATHSTORE_IOC_TXN`: copies the operations in and checks them, then applies them all or
    /// none under one hold of the store's lock.
    pub(crate) fn txn(&self, arg: IoctlArg) -> Result {
        let (mut a, mut writer) = arg.read::<uapi::TxnArgs>()?;
        if a.flags != 0 || a.pad != 0 || a.reserved != [0; 2] || a.count == 0 {
            return Err(EINVAL);
        }
        if a.count > uapi::TXN_MAX_OPS {
            return Err(E2BIG);
        }
        a.failed = u32::MAX;
        a.current = 0;
        let count = usize::from_safe_cast(a.count);
        let raw = read_array::<uapi::TxnOp>(a.ops, count)?;
        // Copy every path and value in, then parse the paths; on a bad operation, say which.
        let mut inputs = KVVec::with_capacity(count, user_gfp())?;
        for (index, op) in raw.iter().enumerate() {
            let input = self
                .txn_input(op)
                .map_err(|e| txn_failed_at(&mut writer, &mut a, index, e))?;
            inputs.push(input, user_gfp())?;
        }
        let mut ops = KVVec::with_capacity(count, user_gfp())?;
        for (index, input) in inputs.iter_mut().enumerate() {
            let op = Self::txn_op(input, &self.limits)
                .map_err(|e| txn_failed_at(&mut writer, &mut a, index, e))?;
            ops.push(op, user_gfp())?;
        }
        // Fail on an argument we cannot write back before changing anything.
        arg.probe(&a)?;
        match self.store.change(|t| t.transaction(&mut ops, &self.caller)) {
            Ok((version, deleted)) => {
                // Drained here, outside the lock.
                self.store.drain(deleted);
                a.version = version;
                writer.write(&a)
            }
            Err(failure) => {
                a.failed = failure
                    .index
                    .map_or(u32::MAX, |i| u32::try_from(i).unwrap_or(u32::MAX));
                if let StoreError::Stale { current } = failure.error {
                    a.current = current;
                }
                writer.write(&a)?;
                Err(failure.error.into())
            }
        }
    }

    /// Checks one operation of a transaction and copies its path and value in.
    fn txn_input(&self, op: &uapi::TxnOp) -> Result<TxnInput> {
        if op.pad != 0 || op.reserved != [0; 2] || (op.op != uapi::TXN_SET && op.value_len != 0) {
            return Err(EINVAL);
        }
        let no_flags = |version_allowed: bool| {
            if op.flags != 0 || op.mode != 0 || (!version_allowed && op.expected_version != 0) {
                return Err(EINVAL);
            }
            Ok(())
        };
        let kind = match op.op {
            uapi::TXN_CHECK_VERSION => {
                no_flags(true)?;
                TxnKind::CheckVersion(op.expected_version)
            }
            uapi::TXN_CHECK_ABSENT => {
                no_flags(false)?;
                TxnKind::CheckAbsent
            }
            uapi::TXN_SET => {
                let allowed = uapi::SET_CREATE | uapi::SET_MODE | uapi::SET_IF_VERSION;
                let (opts, _) = set_options(op.flags, allowed, op.mode, op.expected_version, 0)?;
                TxnKind::Set(None, opts)
            }
            uapi::TXN_DELETE => {
                if op.mode != 0 {
                    return Err(EINVAL);
                }
                let (recursive, if_version) = delete_options(op.flags, op.expected_version)?;
                TxnKind::Delete(recursive, if_version)
            }
            _ => return Err(EINVAL),
        };
        if op.path_len == 0 {
            return Err(EINVAL);
        }
        if op.path_len > self.limits.max_path_len {
            return Err(enametoolong());
        }
        let path = copy_in(op.path, usize::from_safe_cast(op.path_len))?;
        let kind = match kind {
            TxnKind::Set(_, opts) => {
                let value = Value::from_user(user_ptr(op.value)?, op.value_len, &self.limits)?;
                TxnKind::Set(Some(value), opts)
            }
            kind => kind,
        };
        Ok(TxnInput { path, kind })
    }

    /// The tree's view of one checked operation of a transaction.
    fn txn_op<'p>(input: &'p mut TxnInput, limits: &Limits) -> Result<TxnOp<'p>> {
        let TxnInput { path, kind } = input;
        let path: &'p [u8] = path;
        let path = Path::parse(path, limits)?;
        Ok(match kind {
            TxnKind::CheckVersion(version) => TxnOp::CheckVersion(path, *version),
            TxnKind::CheckAbsent => TxnOp::CheckAbsent(path),
            TxnKind::Set(value, opts) => TxnOp::Set(path, value.take(), *opts),
            TxnKind::Delete(recursive, if_version) => {
                if path.is_root() {
                    return Err(EINVAL);
                }
                TxnOp::Delete(path, *recursive, *if_version)
            }
        })
    }
}
