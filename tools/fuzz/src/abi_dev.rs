//! The device side of the whole-ABI fuzzer: each [`AOp`] as raw system calls on one of several
//! open files of `/dev/pathstore`, opened as different users.
//!
//! A file is opened as another user by switching the calling *thread's* effective uid (the raw
//! `setresuid` system call changes one thread on Linux) for the `open()` only: the module takes
//! the identity from the opener's credentials, which the file keeps, so requests on it act as
//! that user whichever thread makes them. Root's files hold `CAP_SYS_ADMIN`; the others do not
//! (changing the effective uid from 0 clears the effective capabilities).

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::io;
use std::os::fd::AsFd;

use pathstore::{abi, user_addr, user_addr_mut, Errno, Pathstore};

use crate::abi_op::{
    mask_times, AOp, AReply, BatchResult, FileId, FullStat, FullStats, StatsParams,
};

/// Something armed around one system call (allocation failure injection).
pub trait Injector {
    /// Arms it for the next call; whether anything may fail.
    fn arm(&mut self) -> io::Result<bool>;
    /// Disarms it after the call.
    fn disarm(&mut self) -> io::Result<()>;
}

impl Injector for crate::fault::Faults {
    fn arm(&mut self) -> io::Result<bool> {
        let armed = crate::fault::Faults::arm(self)?;
        self.pending = Some(armed);
        Ok(armed != crate::fault::Armed::No)
    }

    fn disarm(&mut self) -> io::Result<()> {
        let armed = self.pending.take().unwrap_or(crate::fault::Armed::No);
        crate::fault::Faults::disarm(self, armed)
    }
}

/// The open files.
#[derive(Debug, Default)]
pub struct Files {
    files: BTreeMap<FileId, (Pathstore, u32)>,
    /// Child processes holding the only descriptor of a handed-off file.
    children: BTreeMap<FileId, std::process::Child>,
    device: String,
    /// Scratch output buffers.
    buf: Vec<u8>,
}

/// Bytes the output buffers hold before a call.
const SENTINEL: u8 = 0xA5;

/// Opens `device` with the calling thread's effective uid switched to `uid` for the `open()`.
pub fn open_as(device: &str, uid: u32) -> io::Result<Pathstore> {
    let open = || {
        Pathstore::open_path(device)
            .map_err(|e| io::Error::from_raw_os_error(e.errno().raw_os_error()))
    };
    if uid == 0 {
        return open();
    }
    let keep: Option<rustix::process::Uid> = None;
    let to = rustix::process::Uid::from_raw(uid);
    rustix::thread::set_thread_res_uid(keep, Some(to), keep)?;
    let opened = open();
    let root = rustix::process::Uid::ROOT;
    rustix::thread::set_thread_res_uid(keep, Some(root), keep)
        .expect("cannot switch the thread's effective uid back to root");
    opened
}

impl Files {
    /// No files yet, on `device`; `max_len` sizes the output buffers.
    pub fn new(device: &str, max_len: usize) -> Self {
        Files {
            files: BTreeMap::new(),
            children: BTreeMap::new(),
            device: device.to_string(),
            buf: vec![SENTINEL; max_len + 64],
        }
    }

    /// The handle of a file.
    pub fn store(&self, file: FileId) -> &Pathstore {
        &self.files[&file].0
    }

    /// Opens `file` as `uid` and returns its session.
    pub fn open(&mut self, file: FileId, uid: u32) -> io::Result<u64> {
        let store = open_as(&self.device, uid)?;
        let session = store
            .version()
            .map_err(|e| io::Error::from_raw_os_error(e.errno().raw_os_error()))?
            .session;
        self.files.insert(file, (store, uid));
        Ok(session)
    }

    fn ioctl<T>(
        &self,
        file: FileId,
        cmd: u32,
        args: &mut T,
        inj: &mut Option<&mut dyn Injector>,
    ) -> io::Result<Result<(), Errno>> {
        let store = &self.files[&file].0;
        let arg = (args as *mut T).cast::<c_void>();
        let armed = match inj {
            Some(i) => i.arm()?,
            None => false,
        };
        // SAFETY: `T` is the structure `cmd` takes, and every address in it points into a live
        // buffer of at least the length given (see the callers).
        let r = unsafe { store.ioctl_raw(cmd, arg) };
        if let Some(i) = inj {
            i.disarm()?;
        }
        let _ = armed;
        Ok(r.map(drop))
    }

    /// Issues `op`; `inj` is armed around the one system call that does the work.
    pub fn exec(&mut self, op: &AOp, mut inj: Option<&mut dyn Injector>) -> io::Result<AReply> {
        Ok(match op {
            AOp::Open { file, uid } => match self.open(*file, *uid) {
                Ok(_) => AReply::Opened,
                Err(e) => AReply::Err(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
            },
            AOp::Close { file } => {
                self.files.remove(file);
                if let Some(mut child) = self.children.remove(file) {
                    // The child holds the last descriptor: ending it releases the file.
                    drop(child.stdin.take());
                    let status = child.wait()?;
                    if !status.success() {
                        return Err(io::Error::other(format!("hand-off child: {status}")));
                    }
                }
                AReply::Done
            }
            AOp::HandOff { file } => {
                let (store, _) = self.files.remove(file).unwrap();
                let child = hand_off(store)?;
                self.children.insert(*file, child);
                AReply::Done
            }
            AOp::Version { file } => {
                let mut a = abi::VersionArgs::default();
                match self.ioctl(*file, abi::IOC_VERSION, &mut a, &mut inj)? {
                    Ok(()) => AReply::Version {
                        abi: a.abi_version,
                        session: a.session,
                    },
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::Set {
                file,
                path,
                value,
                flags,
                mode,
                expected,
            } => {
                let mut a = abi::SetArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    value: user_addr(value),
                    value_len: value.len() as u32,
                    flags: *flags,
                    mode: *mode,
                    expected_version: *expected,
                    ..Default::default()
                };
                let before = a;
                match self.ioctl(*file, abi::IOC_SET, &mut a, &mut inj)? {
                    Ok(()) => AReply::Set {
                        version: a.version,
                        sequence: a.sequence,
                    },
                    Err(Errno::STALE) => AReply::Stale { current: a.version },
                    Err(e) if a != before => {
                        AReply::Malformed(format!("set failed with {e:?} but wrote {a:?}"))
                    }
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::Get {
                file,
                path,
                buf_len,
                flags,
            } => {
                let buf_len = (*buf_len).min(self.buf.len() as u32 - 64);
                let mut a = abi::GetArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    buf: user_addr_mut(&mut self.buf),
                    buf_len,
                    flags: *flags,
                    ..Default::default()
                };
                let r = self.ioctl(*file, abi::IOC_GET, &mut a, &mut inj)?;
                let reply = match r {
                    Ok(()) if a.value_len > buf_len => {
                        AReply::Malformed(format!("value_len {} > buf_len", a.value_len))
                    }
                    Ok(()) => AReply::Value {
                        value: self.buf[..a.value_len as usize].to_vec(),
                        version: a.version,
                    },
                    Err(Errno::RANGE) => AReply::GetRange {
                        needed: a.value_len,
                        version: a.version,
                    },
                    Err(e) => AReply::Err(e),
                };
                let used = match &reply {
                    AReply::Value { value, .. } => value.len(),
                    _ => 0,
                };
                self.guard(used, reply)
            }
            AOp::Delete {
                file,
                path,
                flags,
                expected,
            } => {
                let mut a = abi::DeleteArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    flags: *flags,
                    expected_version: *expected,
                    ..Default::default()
                };
                match self.ioctl(*file, abi::IOC_DELETE, &mut a, &mut inj)? {
                    Ok(()) => AReply::Done,
                    Err(Errno::STALE) => AReply::Stale { current: a.version },
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::List {
                file,
                path,
                after,
                buf_len,
                flags,
            } => {
                let buf_len = (*buf_len).min(self.buf.len() as u32 - 64);
                let mut a = abi::ListArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    after: user_addr(after),
                    after_len: after.len() as u32,
                    buf: user_addr_mut(&mut self.buf),
                    buf_len,
                    flags: *flags,
                    ..Default::default()
                };
                let reply = match self.ioctl(*file, abi::IOC_LIST, &mut a, &mut inj)? {
                    Ok(()) if a.buf_used > buf_len => {
                        AReply::Malformed(format!("buf_used {} > buf_len", a.buf_used))
                    }
                    Ok(()) => {
                        let bytes = &self.buf[..a.buf_used as usize];
                        let mut names: Vec<Vec<u8>> =
                            bytes.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
                        if names.pop().is_some_and(|last| !last.is_empty())
                            || names.len() != a.count as usize
                        {
                            AReply::Malformed(format!(
                                "count {} for {} bytes of names",
                                a.count, a.buf_used
                            ))
                        } else {
                            AReply::List {
                                names,
                                more: a.result_flags & abi::LIST_MORE != 0,
                            }
                        }
                    }
                    Err(Errno::RANGE) => AReply::ListRange { needed: a.buf_used },
                    Err(e) => AReply::Err(e),
                };
                let used = match &reply {
                    AReply::List { .. } => a.buf_used as usize,
                    _ => 0,
                };
                self.guard(used, reply)
            }
            AOp::Stat { file, path } => {
                let mut a = abi::StatArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    ..Default::default()
                };
                match self.ioctl(*file, abi::IOC_STAT, &mut a, &mut inj)? {
                    Ok(()) => AReply::Stat(full_stat(&a.stat)),
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::Stats { file } => {
                let mut a = abi::StoreStats::default();
                match self.ioctl(*file, abi::IOC_STORE_STATS, &mut a, &mut inj)? {
                    Ok(()) => AReply::Stats(FullStats {
                        nodes: a.nodes,
                        bytes: a.bytes,
                        sequence: a.sequence,
                        max_nodes: a.max_nodes,
                        max_bytes: a.max_bytes,
                        max_value_len: a.max_value_len,
                        max_path_len: a.max_path_len,
                        max_depth: a.max_depth,
                        uid_nodes: a.uid_nodes,
                        uid_bytes: a.uid_bytes,
                        uid_max_nodes: a.uid_max_nodes,
                        uid_max_bytes: a.uid_max_bytes,
                        params: StatsParams::of(&a),
                    }),
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::Check { file } => {
                let mut a = abi::CheckArgs::default();
                match self.ioctl(*file, abi::IOC_CHECK, &mut a, &mut inj)? {
                    Ok(()) => AReply::Check {
                        nodes: a.nodes,
                        bytes: a.bytes,
                        owners: a.owners,
                    },
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::Watch {
                file,
                path,
                after,
                flags,
                buf_len,
            } => {
                let buf_len = (*buf_len).min(self.buf.len() as u32 - 64);
                let mut a = abi::WatchArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    buf: user_addr_mut(&mut self.buf),
                    buf_len,
                    after: *after,
                    timeout_ms: 0,
                    flags: *flags,
                    ..Default::default()
                };
                let reply = match self.ioctl(*file, abi::IOC_WATCH, &mut a, &mut inj)? {
                    Ok(()) => AReply::Watch {
                        event: a.event,
                        version: a.version,
                        path: self.buf[..a.changed_len as usize].to_vec(),
                    },
                    Err(Errno::RANGE) => AReply::WatchRange {
                        event: a.event,
                        version: a.version,
                        needed: a.changed_len,
                    },
                    Err(e) => AReply::Err(e),
                };
                let used = match &reply {
                    AReply::Watch { path, .. } => path.len(),
                    _ => 0,
                };
                self.guard(used, reply)
            }
            AOp::Txn { file, steps, flags } => {
                let raw: Vec<abi::TxnOp> = steps
                    .iter()
                    .map(|s| abi::TxnOp {
                        path: user_addr(&s.path),
                        value: user_addr(&s.value),
                        path_len: s.path.len() as u32,
                        value_len: s.value.len() as u32,
                        op: s.op,
                        flags: s.flags,
                        expected_version: s.expected,
                        mode: s.mode,
                        pad: s.pad,
                        reserved: [0; 2],
                    })
                    .collect();
                // Not read by the module: any value must come back untouched on an early error.
                const UNTOUCHED: u32 = 0x5A5A;
                let mut a = abi::TxnArgs {
                    ops: raw.as_ptr() as u64,
                    count: raw.len() as u32,
                    flags: *flags,
                    failed: UNTOUCHED,
                    ..Default::default()
                };
                match self.ioctl(*file, abi::IOC_TXN, &mut a, &mut inj)? {
                    Ok(()) if a.failed != u32::MAX || a.current != 0 => AReply::Malformed(format!(
                        "txn succeeded with failed={} current={}",
                        a.failed, a.current
                    )),
                    Ok(()) => AReply::TxnOk { version: a.version },
                    Err(e) if a.failed == UNTOUCHED => AReply::Err(e),
                    Err(e) => AReply::TxnErr {
                        errno: e,
                        failed: a.failed,
                        current: a.current,
                    },
                }
            }
            AOp::Batch { file, gets, flags } => {
                let slot = 4096 + 64;
                let mut bufs = vec![SENTINEL; slot * gets.len().max(1)];
                let base = user_addr_mut(&mut bufs);
                let mut raw: Vec<abi::GetOp> = gets
                    .iter()
                    .enumerate()
                    .map(|(i, g)| abi::GetOp {
                        path: user_addr(&g.path),
                        buf: base + (i * slot) as u64,
                        path_len: g.path.len() as u32,
                        buf_len: g.buf_len.min(4096),
                        value_len: 0xDEAD,
                        error: 0x7777,
                        version: 0xBEEF,
                    })
                    .collect();
                let mut a = abi::GetBatchArgs {
                    ops: raw.as_mut_ptr() as u64,
                    count: raw.len() as u32,
                    flags: *flags,
                    ..Default::default()
                };
                match self.ioctl(*file, abi::IOC_GET_BATCH, &mut a, &mut inj)? {
                    Ok(()) if a.done != a.count => {
                        AReply::Malformed(format!("done {} != count {}", a.done, a.count))
                    }
                    Ok(()) => {
                        let mut results = Vec::new();
                        for (i, r) in raw.iter().enumerate() {
                            let buf = &bufs[i * slot..(i + 1) * slot];
                            let value = if r.error == 0 {
                                buf[..(r.value_len as usize).min(4096)].to_vec()
                            } else {
                                Vec::new()
                            };
                            let written = if r.error == 0 { value.len() } else { 0 };
                            if let Some(p) = buf[written..].iter().position(|&b| b != SENTINEL) {
                                return Ok(AReply::Malformed(format!(
                                    "batch get {i} wrote byte {} of its buffer",
                                    written + p
                                )));
                            }
                            results.push(BatchResult {
                                error: r.error,
                                value_len: r.value_len,
                                version: r.version,
                                value,
                            });
                        }
                        AReply::Batch(results)
                    }
                    Err(e) if raw.iter().any(|r| r.error != 0x7777) => {
                        AReply::Malformed(format!("batch failed with {e:?} but wrote results"))
                    }
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::Text { file, command } => {
                let fd = self.files[file].0.as_fd();
                let armed = match &mut inj {
                    Some(i) => i.arm()?,
                    None => false,
                };
                let r = rustix::io::write(fd, command);
                if let Some(i) = &mut inj {
                    i.disarm()?;
                }
                let _ = armed;
                match r {
                    Ok(n) if n == command.len() => AReply::Done,
                    Ok(n) => AReply::Malformed(format!("short write {n}")),
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::Read { file, len } => {
                let len = (*len as usize).min(self.buf.len());
                let fd = self.files[file].0.as_fd();
                // Armed too: a read that fetches a text listing's next page allocates.
                if let Some(i) = &mut inj {
                    i.arm()?;
                }
                let r = rustix::io::read(fd, &mut self.buf[..len]);
                if let Some(i) = &mut inj {
                    i.disarm()?;
                }
                match r {
                    Ok(n) => {
                        let out = mask_times(&self.buf[..n]);
                        self.buf[..n].fill(SENTINEL);
                        AReply::Read(out)
                    }
                    Err(e) => AReply::Err(e),
                }
            }
            AOp::BadIoctl { file, cmd } => {
                let mut junk = [0u8; 4096];
                match self.ioctl(*file, *cmd, &mut junk, &mut inj)? {
                    Ok(()) => AReply::Done,
                    Err(e) => AReply::Err(e),
                }
            }
        })
    }

    /// Checks that nothing past the first `used` bytes of the buffer was written, and resets it.
    fn guard(&mut self, used: usize, reply: AReply) -> AReply {
        let end = (used + 64).min(self.buf.len());
        let stray = self.buf[used..end].iter().position(|&b| b != SENTINEL);
        self.buf[..used].fill(SENTINEL);
        match stray {
            Some(i) => AReply::Malformed(format!(
                "the call wrote byte {} of the buffer, past the {used} it reported",
                used + i
            )),
            None => reply,
        }
    }
}

/// The ABI's stat without its times.
pub fn full_stat(s: &abi::NodeStat) -> FullStat {
    FullStat {
        version: s.version,
        child_version: s.child_version,
        num_children: s.num_children,
        value_len: s.value_len,
        flags: s.flags,
        uid: s.uid,
        mode: s.mode,
        session: s.session,
    }
}

/// Gives `store` to a child process and closes it here: the child's inherited descriptor keeps
/// the file (and its ephemeral nodes) alive until the child exits.
fn hand_off(store: Pathstore) -> io::Result<std::process::Child> {
    use std::process::{Command, Stdio};
    let fd = store.as_fd();
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
    // The child waits for the end of its standard input, holding the inherited descriptor.
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg("read x; exit 0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    drop(store);
    Ok(child)
}
