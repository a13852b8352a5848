// SPDX-License-Identifier: GPL-2.0

//! `/dev/pathstore`: the misc device, its ioctls and its text interface.
//!
//! Requests are copied from userspace and validated before the store's lock is taken, and
//! results are copied back after it is dropped, so the lock never covers a user-memory access
//! (a page fault, or a userfaultfd, cannot stall other users of the store).

use core::fmt::Write as _;

use kernel::{
    fs::{
        File,
        Kiocb, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    new_mutex,
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
    time::msecs_to_jiffies,
    transmute::AsBytes,
    uaccess::{
        UserPtr,
        UserSlice,
        UserSliceWriter, //
    },
};

use crate::{
    abi::{
        enametoolong,
        estale, //
    },
    access::{
        uid_for_current,
        Caller, //
    },
    bytes::StackBuf,
    limits::Limits,
    path::{
        check_name,
        Path, //
    },
    registration::{
        FileOperations,
        Registration, //
    },
    store::{
        Store,
        Wait, //
    },
    text::Command,
    tree::{
        SetOptions,
        TxnOp,
        Value, //
    },
    uapi, MODULE_VERSION,
};

kernel::sync::global_lock! {
    // SAFETY: `Device::new` initializes it before the device is registered, the only way to
    // reach it.
    unsafe(uninit) static STORE: Mutex<Option<Arc<Store>>> = None;
}

/// The file operations of `/dev/pathstore`.
static FOPS: FileOperations = FileOperations::owned::<OpenFile>(c"pathstore");

/// Most bytes of names one `PATHSTORE_IOC_LIST` call returns, whatever the buffer's size.
const LIST_CHUNK: u32 = 64 * 1024;

/// The registered device and the store behind it.
#[pin_data]
pub(crate) struct Device {
    // Declared first, so dropped first: no request can reach the store once it is freed.
    #[pin]
    registration: Registration<OpenFile>,
    store: StoreOwner,
}

/// Drops the module's reference to the store (the last one: open files pin the module).
struct StoreOwner;

impl Drop for StoreOwner {
    fn drop(&mut self) {
        let store = STORE.lock().take();
        drop(store);
    }
}

impl Device {
    /// Creates the store under `limits` and registers `/dev/pathstore`.
    pub(crate) fn new(limits: Limits) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            store: {
                // SAFETY: Called once, at module load, before any use of `STORE`.
                unsafe { STORE.init() };
                *STORE.lock() = Some(Store::new(limits)?);
                StoreOwner
            },
            registration <- Registration::register(c"pathstore", &FOPS, dev_mode()),
        })
        .pin_chain(move |_| {
            let (major, minor, patch) = MODULE_VERSION;
            pr_info!(
                "pathstore {}.{}.{} (ABI {}): /dev/pathstore mode {:04o}, max_value_len={} \
                 max_path_len={} max_depth={} max_nodes={} max_bytes={} uid_max_nodes={} \
                 uid_max_bytes={} watch_events={}\n",
                major,
                minor,
                patch,
                uapi::ABI_VERSION,
                dev_mode(),
                limits.max_value_len,
                limits.max_path_len,
                limits.max_depth,
                limits.max_nodes,
                limits.max_bytes,
                limits.uid_max_nodes,
                limits.uid_max_bytes,
                limits.watch_events
            );
            Ok(())
        })
    }
}

/// The permissions of `/dev/pathstore` (module parameter `dev_mode`, only its `0777` bits).
fn dev_mode() -> u16 {
    (*crate::module_parameters::dev_mode.value() & 0o777) as u16
}

/// The state of one open file: who opened it, its session and ephemeral nodes, and the pending
/// response of the text interface.
#[pin_data(PinnedDrop)]
pub(crate) struct OpenFile {
    store: Arc<Store>,
    limits: Limits,
    caller: Caller,
    /// The id the ephemeral nodes this file creates carry.
    session: u64,
    /// Paths of the ephemeral nodes this file created, removed when it is released (if they
    /// still belong to it).
    #[pin]
    ephemerals: Mutex<KVVec<KVVec<u8>>>,
    #[pin]
    response: Mutex<Response>,
}

#[pinned_drop]
impl PinnedDrop for OpenFile {
    /// The file is released (its last descriptor closed, or its process gone): remove its
    /// ephemeral nodes.
    fn drop(self: Pin<&mut Self>) {
        let paths = core::mem::take(&mut *self.ephemerals.lock());
        for path in paths.iter() {
            if let Ok(path) = Path::parse(path, &self.limits) {
                let _ = self.store.change(|t| {
                    t.remove_ephemeral(&path, self.session);
                    Ok(())
                });
            }
        }
    }
}

/// Output of the last text command, consumed by `read()`.
struct Response {
    bytes: KVVec<u8>,
    pos: usize,
}

/// A user address from the ABI's 64-bit field.
fn user_ptr(addr: u64) -> Result<UserPtr> {
    Ok(UserPtr::from_addr(
        usize::try_from(addr).map_err(|_| EFAULT)?,
    ))
}

/// Ends a call that returns data: copies `bytes` to the user buffer at `buf`, then the argument
/// structure `args` back through `writer`.
fn reply<T: AsBytes>(
    writer: &mut UserSliceWriter,
    args: &T,
    buf: u64,
    bytes: &[u8],
) -> Result<isize> {
    UserSlice::new(user_ptr(buf)?, bytes.len())
        .writer()
        .write_slice(bytes)?;
    writer.write(args)?;
    Ok(0)
}

/// Copies `len` bytes from the user address `addr` into a new buffer.
fn copy_in(addr: u64, len: usize) -> Result<KVVec<u8>> {
    let mut buf = KVVec::with_capacity(len, GFP_KERNEL)?;
    UserSlice::new(user_ptr(addr)?, len).read_all(&mut buf, GFP_KERNEL)?;
    Ok(buf)
}

/// Copies a path from userspace, refusing lengths past the limit before allocating.
fn copy_path(addr: u64, len: u32, limits: &Limits) -> Result<KVVec<u8>> {
    if len == 0 {
        return Err(EINVAL);
    }
    if len > limits.max_path_len {
        return Err(enametoolong());
    }
    copy_in(addr, len as usize)
}

/// Paths up to this long are copied in to the stack; most are far shorter.
const STACK_PATH: usize = 128;

/// Copies a path from userspace and calls `f` with it: on the stack when it is short, so that a
/// lookup does not allocate, else in a new buffer.
fn with_path<R>(
    addr: u64,
    len: u32,
    limits: &Limits,
    f: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    if len as usize > STACK_PATH {
        return f(&copy_path(addr, len, limits)?);
    }
    // The checks of `copy_path`, in its order.
    if len == 0 {
        return Err(EINVAL);
    }
    if len > limits.max_path_len {
        return Err(enametoolong());
    }
    let mut buf = StackBuf::<STACK_PATH>::new();
    buf.fill_from_user(
        &mut UserSlice::new(user_ptr(addr)?, len as usize).reader(),
        len as usize,
    )?;
    f(buf.as_bytes())
}

/// Values up to this long are copied out of the tree through the stack.
const STACK_VALUE: usize = 256;

/// A value copied out of the tree.
enum Copied<'a> {
    /// The value, in the stack buffer given, and the node's version.
    Value(&'a [u8], u64),
    /// The value in a new buffer, and the node's version.
    Owned(KVVec<u8>, u64),
    /// The value is longer than the room the caller has: its length and the node's version.
    TooLong(usize, u64),
}

/// What a get found: the value's length and the node's version.
#[derive(Default)]
struct Found {
    value_len: u32,
    version: u64,
}

/// Appends formatted text to a response, failing with `ENOMEM` when it cannot grow.
struct TextOut<'a>(&'a mut KVVec<u8>);

impl core::fmt::Write for TextOut<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

impl OpenFile {
    fn version(&self, arg: usize) -> Result<isize> {
        let (major, minor, patch) = MODULE_VERSION;
        let out = uapi::VersionArgs {
            abi_version: uapi::ABI_VERSION,
            module_version: (major << 16) | (minor << 8) | patch,
            session: self.session,
            reserved: [0; 2],
        };
        UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::VersionArgs>())
            .writer()
            .write(&out)?;
        Ok(0)
    }

    fn set(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::SetArgs>()).reader_writer();
        let mut a: uapi::SetArgs = reader.read()?;
        let flag = |f: u32| a.flags & f != 0;
        if a.flags & !uapi::SET_FLAGS_ALL != 0
            || (flag(uapi::SET_IF_VERSION)
                && (flag(uapi::SET_CREATE)
                    || flag(uapi::SET_EPHEMERAL)
                    || flag(uapi::SET_SEQUENTIAL)))
            || (!flag(uapi::SET_IF_VERSION) && a.expected_version != 0)
        {
            return Err(EINVAL);
        }
        let mode = flag(uapi::SET_MODE).then_some(a.mode);
        if a.mode & !mode.map_or(0, |_| uapi::MODE_ALL) != 0 {
            return Err(EINVAL);
        }
        let path_buf = copy_path(a.path, a.path_len, &self.limits)?;
        Path::parse(&path_buf, &self.limits)?;
        if a.value_len > self.limits.max_value_len {
            return Err(E2BIG);
        }
        let value = Value::from_vec(copy_in(a.value, a.value_len as usize)?)?;
        let opts = SetOptions {
            create_only: flag(uapi::SET_CREATE),
            mode,
            if_version: flag(uapi::SET_IF_VERSION).then_some(a.expected_version),
            ephemeral: flag(uapi::SET_EPHEMERAL).then_some(self.session),
        };
        // Fail on an argument we cannot write back before changing anything.
        UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::SetArgs>())
            .writer()
            .write(&a)?;
        let mut current = 0;
        let sequential = flag(uapi::SET_SEQUENTIAL);
        let (version, sequence) =
            match self.apply_set(path_buf, value, opts, sequential, &mut current) {
                Ok(done) => done,
                Err(e) if e == estale() => {
                    a.version = current;
                    writer.write(&a)?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
        a.version = version;
        a.sequence = sequence;
        writer.write(&a)?;
        Ok(0)
    }

    /// Sets the node at `path_buf` (a path that parses) as `opts` say, or with `sequential`
    /// creates a sequential node there, and records an ephemeral node in this file's list, so
    /// that releasing the file removes it. Returns the version and the sequential number; on
    /// `ESTALE`, `current` holds the node's version.
    fn apply_set(
        &self,
        path_buf: KVVec<u8>,
        value: Value,
        opts: SetOptions,
        sequential: bool,
        current: &mut u64,
    ) -> Result<(u64, u64)> {
        // Room for the name a sequential create makes.
        let mut name_buf = if sequential {
            KVVec::with_capacity(
                path_buf.len() + uapi::SEQUENTIAL_DIGITS as usize,
                GFP_KERNEL,
            )?
        } else {
            KVVec::new()
        };
        // Make room in the list first, and hold it until the node is in it.
        let mut ephemerals = match opts.ephemeral {
            Some(session) => {
                let mut list = self.ephemerals.lock();
                // Forget the nodes that are gone (deleted, or replaced by others) whenever the
                // list doubles, so that it stays within twice the nodes alive.
                if list.len() >= 16 && list.len().is_power_of_two() {
                    self.store.read(|t| {
                        list.retain(|path| {
                            Path::parse(path, &self.limits)
                                .is_ok_and(|path| t.is_ephemeral_of(&path, session))
                        });
                        Ok(())
                    })?;
                }
                list.reserve(1, GFP_KERNEL)?;
                Some(list)
            }
            None => None,
        };
        let done = {
            let path = Path::parse(&path_buf, &self.limits)?;
            self.store.change(|t| {
                let result = if sequential {
                    t.set_sequential(&path, value, opts, &self.caller, &mut name_buf)
                } else {
                    t.set(&path, value, opts, &self.caller).map(|v| (v, 0))
                };
                if result.as_ref().err() == Some(&estale()) {
                    *current = t.stat(&path).map_or(0, |st| st.version);
                }
                result
            })?
        };
        if let Some(list) = ephemerals.as_mut() {
            let created = if sequential { name_buf } else { path_buf };
            // Cannot fail: room was reserved above.
            let _ = list.push_within_capacity(created);
        }
        Ok(done)
    }

    /// Copies the value of the node at `path` out of the tree, if it is at most `room` bytes
    /// long: into `stack` when it fits there, else into a new buffer. The tree's lock is held only
    /// while copying within the kernel, never across an access to user memory.
    fn copy_value<'a>(
        &self,
        path: &Path<'_>,
        stack: &'a mut StackBuf<STACK_VALUE>,
        room: usize,
    ) -> Result<Copied<'a>> {
        let (mut len, version, copied) = self.store.read(|t| {
            t.get(path, &self.caller, |value, version| {
                let copied = value.len() <= room && stack.fill(value);
                (value.len(), version, copied)
            })
        })?;
        if len > room {
            return Ok(Copied::TooLong(len, version));
        }
        if copied {
            return Ok(Copied::Value(stack.as_bytes(), version));
        }
        // Longer than the stack buffer: copy it into one of its size, allocated without the
        // lock. It may have been replaced by a longer one in between; then try again with that.
        let mut buf = KVVec::new();
        loop {
            buf.reserve(len, GFP_KERNEL)?;
            let (now, version) = self.store.read(|t| {
                t.get(path, &self.caller, |value, version| {
                    if value.len() <= room && value.len() <= buf.capacity() {
                        buf.clear();
                        // Cannot allocate: there is room.
                        let _ = buf.extend_from_slice(value, GFP_KERNEL);
                    }
                    (value.len(), version)
                })
            })?;
            if now > room {
                return Ok(Copied::TooLong(now, version));
            }
            if buf.len() == now {
                return Ok(Copied::Owned(buf, version));
            }
            len = now;
        }
    }

    fn get(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::GetArgs>()).reader_writer();
        let mut a: uapi::GetArgs = reader.read()?;
        if a.flags != 0 || a.reserved != [0; 2] {
            return Err(EINVAL);
        }
        let mut found = Found::default();
        let result = with_path(a.path, a.path_len, &self.limits, |path| {
            self.get_value(path, a.buf, a.buf_len, &mut found)
        });
        a.value_len = found.value_len;
        a.version = found.version;
        if result.is_ok() || result == Err(ERANGE) {
            writer.write(&a)?;
        }
        result.map(|()| 0)
    }

    /// The get shared by `PATHSTORE_IOC_GET` and every get of `PATHSTORE_IOC_GET_BATCH`, after
    /// their argument checks: parses `path` (a copied-in path), reads the node's value and copies
    /// it to the user buffer `buf` of `buf_len` bytes. Fills `found` whenever the node's value
    /// was found, also when it does not fit the buffer (`ERANGE`).
    fn get_value(&self, path: &[u8], buf: u64, buf_len: u32, found: &mut Found) -> Result {
        let path = Path::parse(path, &self.limits)?;
        let mut stack = StackBuf::new();
        let copied = self.copy_value(&path, &mut stack, buf_len as usize)?;
        let (bytes, version) = match &copied {
            Copied::Value(bytes, version) => (*bytes, *version),
            Copied::Owned(bytes, version) => (&bytes[..], *version),
            Copied::TooLong(len, version) => {
                // Values never exceed `max_value_len`, a `u32`.
                found.value_len = u32::try_from(*len).map_err(|_| E2BIG)?;
                found.version = *version;
                return Err(ERANGE);
            }
        };
        // It fitted in `buf_len`, a `u32`.
        found.value_len = bytes.len() as u32;
        found.version = version;
        UserSlice::new(user_ptr(buf)?, bytes.len())
            .writer()
            .write_slice(bytes)
    }

    /// `PATHSTORE_IOC_GET_BATCH`: copies the array of gets in at once, runs each with
    /// [`Self::get_value`], records each one's result in its entry, and copies the array back at
    /// once.
    fn get_batch(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::GetBatchArgs>())
                .reader_writer();
        let mut a: uapi::GetBatchArgs = reader.read()?;
        if a.flags != 0 || a.pad != 0 || a.reserved != [0; 2] || a.count == 0 {
            return Err(EINVAL);
        }
        if a.count > uapi::GET_BATCH_MAX {
            return Err(E2BIG);
        }
        let count = a.count as usize;
        let mut ops = KVec::from_elem(uapi::GetOp::default(), count, GFP_KERNEL)?;
        let ops_len = count * size_of::<uapi::GetOp>();
        UserSlice::new(user_ptr(a.ops)?, ops_len)
            .reader()
            .read_slice(ops.as_mut_slice().as_bytes_mut())?;
        for op in ops.iter_mut() {
            let mut found = Found::default();
            let result = with_path(op.path, op.path_len, &self.limits, |path| {
                self.get_value(path, op.buf, op.buf_len, &mut found)
            });
            // As a single get reports them: on success and with `ERANGE`.
            if result.is_ok() || result == Err(ERANGE) {
                op.value_len = found.value_len;
                op.version = found.version;
            } else {
                op.value_len = 0;
                op.version = 0;
            }
            op.error = result.err().map_or(0, |e| e.to_errno());
        }
        UserSlice::new(user_ptr(a.ops)?, ops_len)
            .writer()
            .write_slice(ops.as_slice().as_bytes())?;
        a.done = a.count;
        writer.write(&a)?;
        Ok(0)
    }

    fn delete(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::DeleteArgs>()).reader_writer();
        let mut a: uapi::DeleteArgs = reader.read()?;
        let if_version = a.flags & uapi::DELETE_IF_VERSION != 0;
        if a.flags & !uapi::DELETE_FLAGS_ALL != 0 || (!if_version && a.expected_version != 0) {
            return Err(EINVAL);
        }
        let path_buf = copy_path(a.path, a.path_len, &self.limits)?;
        let path = Path::parse(&path_buf, &self.limits)?;
        let recursive = a.flags & uapi::DELETE_RECURSIVE != 0;
        let expected = if_version.then_some(a.expected_version);
        let mut current = 0;
        let result = self.store.change(|t| {
            let result = t.delete(&path, recursive, expected, &self.caller);
            if result.as_ref().err() == Some(&estale()) {
                current = t.stat(&path).map_or(0, |st| st.version);
            }
            result
        });
        if let Err(e) = result {
            if e == estale() {
                a.version = current;
                writer.write(&a)?;
            }
            return Err(e);
        }
        Ok(0)
    }

    fn list(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::ListArgs>()).reader_writer();
        let mut a: uapi::ListArgs = reader.read()?;
        if a.flags != 0 || a.pad != 0 || a.reserved != [0; 2] {
            return Err(EINVAL);
        }
        let path_buf = copy_path(a.path, a.path_len, &self.limits)?;
        let path = Path::parse(&path_buf, &self.limits)?;
        let after = match a.after_len {
            0 => None,
            len if len > uapi::MAX_NAME_LEN => return Err(enametoolong()),
            len => {
                let after = copy_in(a.after, len as usize)?;
                check_name(&after)?;
                Some(after)
            }
        };
        let room = a.buf_len.min(LIST_CHUNK) as usize;
        let mut out = KVVec::with_capacity(room, GFP_KERNEL)?;
        let listing = self
            .store
            .change(|t| t.list(&path, after.as_deref(), &mut out, room, &self.caller))?;
        a.count = listing.count;
        a.result_flags = if listing.more { uapi::LIST_MORE } else { 0 };
        if listing.count == 0 && listing.more {
            a.buf_used = listing.needed as u32;
            writer.write(&a)?;
            return Err(ERANGE);
        }
        a.buf_used = out.len() as u32;
        reply(&mut writer, &a, a.buf, &out)
    }

    fn stat(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::StatArgs>()).reader_writer();
        let mut a: uapi::StatArgs = reader.read()?;
        if a.flags != 0 {
            return Err(EINVAL);
        }
        a.stat = with_path(a.path, a.path_len, &self.limits, |path| {
            let path = Path::parse(path, &self.limits)?;
            self.store.read(|t| t.stat(&path))
        })?;
        a.stat.uid = uid_for_current(a.stat.uid);
        writer.write(&a)?;
        Ok(0)
    }

    fn store_stats(&self, arg: usize) -> Result<isize> {
        let stats = self.store.read(|t| Ok(t.stats(self.caller.uid)))?;
        UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::StoreStats>())
            .writer()
            .write(&stats)?;
        Ok(0)
    }

    fn check(&self, arg: usize) -> Result<isize> {
        // The walk holds the store's lock for time proportional to the store's size.
        if !self.caller.admin {
            return Err(EPERM);
        }
        let report = self.store.read(|t| t.check())?;
        UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::CheckArgs>())
            .writer()
            .write(&report)?;
        Ok(0)
    }

    fn watch(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::WatchArgs>()).reader_writer();
        let mut a: uapi::WatchArgs = reader.read()?;
        if a.flags & !uapi::WATCH_FLAGS_ALL != 0 || a.reserved != [0; 2] {
            return Err(EINVAL);
        }
        let path_buf = copy_path(a.path, a.path_len, &self.limits)?;
        let path = Path::parse(&path_buf, &self.limits)?;
        let wait = match a.timeout_ms {
            0 => Wait::No,
            uapi::WATCH_FOREVER => Wait::Forever,
            ms => Wait::For(msecs_to_jiffies(ms)),
        };
        // Room for any path of the store: the changed node's is copied here under the lock.
        let mut changed = KVVec::with_capacity(self.limits.max_path_len as usize, GFP_KERNEL)?;
        let subtree = a.flags & uapi::WATCH_SUBTREE != 0;
        let change = self
            .store
            .watch(&path, subtree, a.after, wait, &self.caller, &mut changed)?;
        a.event = change.kind;
        a.version = change.version;
        // Paths never exceed `max_path_len`, a `u32`.
        a.changed_len = changed.len() as u32;
        if a.changed_len > a.buf_len {
            writer.write(&a)?;
            return Err(ERANGE);
        }
        reply(&mut writer, &a, a.buf, &changed)
    }

    fn txn(&self, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::TxnArgs>()).reader_writer();
        let mut a: uapi::TxnArgs = reader.read()?;
        if a.flags != 0 || a.pad != 0 || a.reserved != [0; 2] || a.count == 0 {
            return Err(EINVAL);
        }
        if a.count > uapi::TXN_MAX_OPS {
            return Err(E2BIG);
        }
        a.failed = u32::MAX;
        a.current = 0;
        let count = a.count as usize;
        let mut ops_reader =
            UserSlice::new(user_ptr(a.ops)?, count * size_of::<uapi::TxnOp>()).reader();
        let mut raw = KVVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            raw.push(ops_reader.read::<uapi::TxnOp>()?, GFP_KERNEL)?;
        }
        // Copy every path and value in; on a bad operation, say which.
        let mut inputs = KVVec::with_capacity(count, GFP_KERNEL)?;
        for (index, op) in raw.iter().enumerate() {
            match self.txn_input(op) {
                Ok(input) => inputs.push(input, GFP_KERNEL)?,
                Err(e) => {
                    a.failed = index as u32;
                    writer.write(&a)?;
                    return Err(e);
                }
            }
        }
        let mut ops = KVVec::with_capacity(count, GFP_KERNEL)?;
        for (index, (op, (path_buf, value))) in raw.iter().zip(inputs.iter_mut()).enumerate() {
            match Self::txn_op(op, path_buf, value, &self.limits) {
                Ok(op) => ops.push(op, GFP_KERNEL)?,
                Err(e) => {
                    a.failed = index as u32;
                    writer.write(&a)?;
                    return Err(e);
                }
            }
        }
        // Fail on an argument we cannot write back before changing anything.
        UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::TxnArgs>())
            .writer()
            .write(&a)?;
        let result = self
            .store
            .change(|t| Ok(t.transaction(&mut ops, &self.caller)))?;
        match result {
            Ok(version) => {
                a.version = version;
                writer.write(&a)?;
                Ok(0)
            }
            Err(failure) => {
                a.failed = failure.index.map_or(u32::MAX, |i| i as u32);
                a.current = failure.current;
                writer.write(&a)?;
                Err(failure.error)
            }
        }
    }

    /// Checks one operation of a transaction and copies its path and value in.
    fn txn_input(&self, op: &uapi::TxnOp) -> Result<(KVVec<u8>, Option<Value>)> {
        let (flags_allowed, version_allowed) = match op.op {
            uapi::TXN_CHECK_VERSION => (0, true),
            uapi::TXN_CHECK_ABSENT => (0, false),
            uapi::TXN_SET => (
                uapi::SET_CREATE | uapi::SET_MODE | uapi::SET_IF_VERSION,
                op.flags & uapi::SET_IF_VERSION != 0,
            ),
            uapi::TXN_DELETE => (
                uapi::DELETE_RECURSIVE | uapi::DELETE_IF_VERSION,
                op.flags & uapi::DELETE_IF_VERSION != 0,
            ),
            _ => return Err(EINVAL),
        };
        let is_set = op.op == uapi::TXN_SET;
        let mode_allowed = if is_set && op.flags & uapi::SET_MODE != 0 {
            uapi::MODE_ALL
        } else {
            0
        };
        if op.flags & !flags_allowed != 0
            || (is_set && op.flags & uapi::SET_IF_VERSION != 0 && op.flags & uapi::SET_CREATE != 0)
            || (!version_allowed && op.expected_version != 0)
            || op.mode & !mode_allowed != 0
            || op.pad != 0
            || op.reserved != [0; 2]
            || (!is_set && op.value_len != 0)
        {
            return Err(EINVAL);
        }
        let path = copy_path(op.path, op.path_len, &self.limits)?;
        if !is_set {
            return Ok((path, None));
        }
        if op.value_len > self.limits.max_value_len {
            return Err(E2BIG);
        }
        let value = Value::from_vec(copy_in(op.value, op.value_len as usize)?)?;
        Ok((path, Some(value)))
    }

    /// The tree's view of one checked operation of a transaction.
    fn txn_op<'p>(
        op: &uapi::TxnOp,
        path: &'p [u8],
        value: &mut Option<Value>,
        limits: &Limits,
    ) -> Result<TxnOp<'p>> {
        let path = Path::parse(path, limits)?;
        Ok(match (op.op, value.take()) {
            (uapi::TXN_CHECK_VERSION, _) => TxnOp::CheckVersion(path, op.expected_version),
            (uapi::TXN_CHECK_ABSENT, _) => TxnOp::CheckAbsent(path),
            (uapi::TXN_SET, Some(value)) => {
                let flag = |f: u32| op.flags & f != 0;
                let opts = SetOptions {
                    create_only: flag(uapi::SET_CREATE),
                    mode: flag(uapi::SET_MODE).then_some(op.mode),
                    if_version: flag(uapi::SET_IF_VERSION).then_some(op.expected_version),
                    ephemeral: None,
                };
                TxnOp::Set(path, Some(value), opts)
            }
            (uapi::TXN_DELETE, _) => {
                if path.is_root() {
                    return Err(EINVAL);
                }
                let if_version =
                    (op.flags & uapi::DELETE_IF_VERSION != 0).then_some(op.expected_version);
                TxnOp::Delete(path, op.flags & uapi::DELETE_RECURSIVE != 0, if_version)
            }
            _ => return Err(EINVAL),
        })
    }

    /// Runs one text command, returning its response (empty for commands without output).
    fn run_text(&self, command: Command<'_>) -> Result<KVVec<u8>> {
        let limits = &self.limits;
        let mut out = KVVec::new();
        match command {
            Command::Set {
                path,
                value,
                create,
            } => {
                let path = Path::parse(path, limits)?;
                if value.len() > limits.max_value_len as usize {
                    return Err(E2BIG);
                }
                let value = Value::copy(value)?;
                let opts = SetOptions {
                    create_only: create,
                    ..Default::default()
                };
                self.store
                    .change(|t| t.set(&path, value, opts, &self.caller))?;
            }
            Command::Get { path } => {
                let path = Path::parse(path, limits)?;
                let mut stack = StackBuf::new();
                match self.copy_value(&path, &mut stack, usize::MAX)? {
                    Copied::Value(bytes, _) => out.extend_from_slice(bytes, GFP_KERNEL)?,
                    Copied::Owned(bytes, _) => out = bytes,
                    Copied::TooLong(..) => return Err(ERANGE),
                }
                out.push(b'\n', GFP_KERNEL)?;
            }
            Command::Delete { path, recursive } => {
                let path = Path::parse(path, limits)?;
                self.store
                    .change(|t| t.delete(&path, recursive, None, &self.caller))?;
            }
            Command::List { path } => {
                let path = Path::parse(path, limits)?;
                // Page through the children, re-taking the lock for each chunk.
                let room = LIST_CHUNK as usize;
                let mut chunk = KVVec::with_capacity(room, GFP_KERNEL)?;
                let mut after: Option<KVec<u8>> = None;
                loop {
                    chunk.clear();
                    let listing = self.store.change(|t| {
                        t.list(&path, after.as_deref(), &mut chunk, room, &self.caller)
                    })?;
                    let mut last: &[u8] = &[];
                    for name in chunk.split(|&b| b == 0).take(listing.count as usize) {
                        out.extend_from_slice(name, GFP_KERNEL)?;
                        out.push(b'\n', GFP_KERNEL)?;
                        last = name;
                    }
                    if !listing.more || listing.count == 0 {
                        break;
                    }
                    let mut cursor = KVec::with_capacity(last.len(), GFP_KERNEL)?;
                    cursor.extend_from_slice(last, GFP_KERNEL)?;
                    after = Some(cursor);
                }
            }
            Command::Stat { path } => {
                let path = Path::parse(path, limits)?;
                let st = self.store.read(|t| t.stat(&path))?;
                writeln!(
                    TextOut(&mut out),
                    "version={} child_version={} ctime_ns={} mtime_ns={} children={} \
                     value_len={} has_value={} uid={} mode={} session={}",
                    st.version,
                    st.child_version,
                    st.ctime_ns,
                    st.mtime_ns,
                    st.num_children,
                    st.value_len,
                    u32::from(st.flags & uapi::STAT_HAS_VALUE != 0),
                    uid_for_current(st.uid),
                    st.mode,
                    st.session
                )
                .map_err(|_| ENOMEM)?;
            }
            Command::SetIfVersion {
                path,
                version,
                value,
            } => {
                let path = Path::parse(path, limits)?;
                if value.len() > limits.max_value_len as usize {
                    return Err(E2BIG);
                }
                let value = Value::copy(value)?;
                let opts = SetOptions {
                    if_version: Some(version),
                    ..Default::default()
                };
                self.store
                    .change(|t| t.set(&path, value, opts, &self.caller))?;
            }
            Command::DeleteIfVersion {
                path,
                recursive,
                version,
            } => {
                let path = Path::parse(path, limits)?;
                self.store
                    .change(|t| t.delete(&path, recursive, Some(version), &self.caller))?;
            }
            Command::Create {
                path,
                value,
                ephemeral,
                sequential,
            } => {
                Path::parse(path, limits)?;
                if value.len() > limits.max_value_len as usize {
                    return Err(E2BIG);
                }
                let value = Value::copy(value)?;
                let mut path_buf = KVVec::with_capacity(path.len(), GFP_KERNEL)?;
                path_buf.extend_from_slice(path, GFP_KERNEL)?;
                let opts = SetOptions {
                    create_only: true,
                    ephemeral: ephemeral.then_some(self.session),
                    ..Default::default()
                };
                let (_, number) = self.apply_set(path_buf, value, opts, sequential, &mut 0)?;
                if sequential {
                    let normal = Path::parse(path, limits)?;
                    out.extend_from_slice(normal.as_bytes(), GFP_KERNEL)?;
                    writeln!(TextOut(&mut out), "{:010}", number).map_err(|_| ENOMEM)?;
                }
            }
            Command::Watch {
                path,
                subtree,
                after,
            } => {
                let path = Path::parse(path, limits)?;
                let mut changed = KVVec::with_capacity(limits.max_path_len as usize, GFP_KERNEL)?;
                let change = self.store.watch(
                    &path,
                    subtree,
                    after,
                    Wait::Forever,
                    &self.caller,
                    &mut changed,
                )?;
                let kind = match change.kind {
                    uapi::EVENT_CREATED => "created",
                    uapi::EVENT_CHANGED => "changed",
                    uapi::EVENT_DELETED => "deleted",
                    _ => "lost",
                };
                write!(TextOut(&mut out), "{} {}", change.version, kind).map_err(|_| ENOMEM)?;
                if !changed.is_empty() {
                    out.push(b' ', GFP_KERNEL)?;
                    out.extend_from_slice(&changed, GFP_KERNEL)?;
                }
                out.push(b'\n', GFP_KERNEL)?;
            }
            Command::Stats => {
                let s = self.store.read(|t| Ok(t.stats(self.caller.uid)))?;
                writeln!(
                    TextOut(&mut out),
                    "nodes={} bytes={} max_nodes={} max_bytes={} max_value_len={} \
                     max_path_len={} max_depth={} sequence={} uid_nodes={} uid_bytes={} \
                     uid_max_nodes={} uid_max_bytes={}",
                    s.nodes,
                    s.bytes,
                    s.max_nodes,
                    s.max_bytes,
                    s.max_value_len,
                    s.max_path_len,
                    s.max_depth,
                    s.sequence,
                    s.uid_nodes,
                    s.uid_bytes,
                    s.uid_max_nodes,
                    s.uid_max_bytes
                )
                .map_err(|_| ENOMEM)?;
            }
        }
        Ok(out)
    }
}

#[vtable]
impl MiscDevice for OpenFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let store = STORE.lock().clone().ok_or(ENODEV)?;
        let session = store.change(|t| Ok(t.new_session()))?;
        KBox::try_pin_init(
            try_pin_init!(OpenFile {
                store,
                limits: Limits::from_module_params(),
                caller: Caller::of_opener(file),
                session,
                ephemerals <- new_mutex!(KVVec::new()),
                response <- new_mutex!(Response {
                    bytes: KVVec::new(),
                    pos: 0,
                }),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&OpenFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::IOC_VERSION => me.version(arg),
            uapi::IOC_SET => me.set(arg),
            uapi::IOC_GET => me.get(arg),
            uapi::IOC_DELETE => me.delete(arg),
            uapi::IOC_LIST => me.list(arg),
            uapi::IOC_STAT => me.stat(arg),
            uapi::IOC_STORE_STATS => me.store_stats(arg),
            uapi::IOC_CHECK => me.check(arg),
            uapi::IOC_WATCH => me.watch(arg),
            uapi::IOC_TXN => me.txn(arg),
            uapi::IOC_GET_BATCH => me.get_batch(arg),
            _ => Err(ENOTTY),
        }
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let me = kiocb.file();
        let len = iov.len();
        // The longest valid command: `set-if`, three spaces, a path, a 20-digit version, a value
        // and a newline.
        let longest = me.limits.max_path_len as usize + me.limits.max_value_len as usize + 40;
        if len > longest {
            return Err(E2BIG);
        }
        let mut line = KVVec::with_capacity(len, GFP_KERNEL)?;
        if iov.copy_from_iter_vec(&mut line, GFP_KERNEL)? != len {
            return Err(EFAULT);
        }
        let command = Command::parse(&line)?;
        let out = me.run_text(command)?;
        let mut response = me.response.lock();
        response.bytes = out;
        response.pos = 0;
        Ok(len)
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let me = kiocb.file();
        if iov.is_empty() {
            return Ok(0);
        }
        let mut response = me.response.lock();
        let pos = response.pos;
        let pending = response.bytes.get(pos..).unwrap_or(&[]);
        // The response is this file's own kernel buffer; copying it while holding the file's
        // lock only serialises readers of the same file.
        let copied = iov.copy_to_iter(pending);
        if copied == 0 && !pending.is_empty() {
            return Err(EFAULT);
        }
        response.pos = pos + copied;
        if response.pos == response.bytes.len() {
            response.bytes = KVVec::new();
            response.pos = 0;
        }
        Ok(copied)
    }
}
