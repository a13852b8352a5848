//! The device side: each [`Op`] as one raw ioctl on `/dev/pathstore`, its result read back into
//! a [`Reply`] (with every field the call returns, also on `ERANGE`).
//!
//! Raw calls (rather than the client library's conveniences) keep the fault-injection window
//! down to the system call itself: nothing is allocated between arming and disarming.

use std::ffi::c_void;
use std::io;

use pathstore::{abi, user_addr, user_addr_mut, Errno, Pathstore};

use crate::fault::{Armed, Faults};
use crate::model::LIST_CHUNK;
use crate::op::{Op, Reply, StatView, StatsView};

/// Bytes the output buffers hold before a call; anything else after the call was written.
const SENTINEL: u8 = 0xA5;
/// How far past the end of what a call wrote the buffer is checked for stray writes.
const GUARD: usize = 64;

/// The result of one call on the device.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What the device answered.
    pub reply: Reply,
    /// For a successful stat: `ctime_ns` and `mtime_ns`.
    pub times: Option<(u64, u64)>,
    /// Whether allocation failures were armed for the call.
    pub armed: bool,
}

/// An open `/dev/pathstore` with the buffers the calls use.
#[derive(Debug)]
pub struct Device {
    store: Pathstore,
    /// Output buffer of get and list, all [`SENTINEL`] between calls.
    buf: Vec<u8>,
}

impl Device {
    /// Opens `path` (with the library's ABI handshake); `max_value_len` sizes the buffers.
    pub fn open(path: &str, max_value_len: u32) -> pathstore::Result<Self> {
        let store = Pathstore::open_path(path)?;
        let mut device = Device {
            store,
            buf: Vec::new(),
        };
        device.resize(max_value_len);
        Ok(device)
    }

    /// Makes the buffers large enough for values of `max_value_len` bytes and every list size.
    pub fn resize(&mut self, max_value_len: u32) {
        let len = (max_value_len as usize).max(2 * LIST_CHUNK as usize) + 2 * GUARD;
        if self.buf.len() < len {
            self.buf = vec![SENTINEL; len];
        }
    }

    /// The largest `buf_len` a get or list may be given.
    pub fn max_buf_len(&self) -> u32 {
        (self.buf.len() - GUARD) as u32
    }

    /// The library's handle, for setup outside the fuzzing proper.
    pub fn store(&self) -> &Pathstore {
        &self.store
    }

    /// One ioctl, with fault injection armed around it when `faults` is given.
    fn call<T>(
        &self,
        cmd: u32,
        args: &mut T,
        faults: Option<&mut Faults>,
    ) -> io::Result<(Result<(), Errno>, bool)> {
        let arg = (args as *mut T).cast::<c_void>();
        let Some(faults) = faults else {
            // SAFETY: `T` is the structure `cmd` takes, and every address in it points into a
            // live buffer of the fuzzer (see the callers) of at least the length given.
            let r = unsafe { self.store.ioctl_raw(cmd, arg) };
            return Ok((r.map(drop), false));
        };
        let armed = faults.arm()?;
        // SAFETY: As above.
        let r = unsafe { self.store.ioctl_raw(cmd, arg) };
        faults.disarm(armed)?;
        Ok((r.map(drop), armed != Armed::No))
    }

    /// Issues `op` (armed for fault injection when `faults` is given) and reads the reply.
    pub fn exec(&mut self, op: &Op, faults: Option<&mut Faults>) -> io::Result<Outcome> {
        let mut times = None;
        let (reply, armed) = match op {
            Op::Set { path, value, flags } => {
                let mut a = abi::SetArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    value: user_addr(value),
                    value_len: value.len() as u32,
                    flags: *flags,
                    ..Default::default()
                };
                let (r, armed) = self.call(abi::IOC_SET, &mut a, faults)?;
                let reply = match r {
                    Ok(()) => Reply::Set { version: a.version },
                    Err(e) => Reply::Err(e),
                };
                (reply, armed)
            }
            Op::Get {
                path,
                buf_len,
                flags,
            } => {
                assert!(*buf_len <= self.max_buf_len());
                let mut a = abi::GetArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    buf: user_addr_mut(&mut self.buf),
                    buf_len: *buf_len,
                    flags: *flags,
                    ..Default::default()
                };
                let (r, armed) = self.call(abi::IOC_GET, &mut a, faults)?;
                let reply = match r {
                    Ok(()) if a.value_len > a.buf_len => Reply::Malformed(format!(
                        "get succeeded with value_len {} > buf_len {}",
                        a.value_len, a.buf_len
                    )),
                    Ok(()) => {
                        let len = a.value_len as usize;
                        match self.check_guard(len) {
                            Some(stray) => stray,
                            None => Reply::Value {
                                value: self.take(len),
                                version: a.version,
                            },
                        }
                    }
                    Err(Errno::RANGE) => self.check_guard(0).unwrap_or(Reply::GetRange {
                        needed: a.value_len,
                        version: a.version,
                    }),
                    Err(e) => self.check_guard(0).unwrap_or(Reply::Err(e)),
                };
                (reply, armed)
            }
            Op::Delete { path, flags } => {
                let mut a = abi::DeleteArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    flags: *flags,
                    ..Default::default()
                };
                let (r, armed) = self.call(abi::IOC_DELETE, &mut a, faults)?;
                (r.map_or_else(Reply::Err, |()| Reply::Done), armed)
            }
            Op::List {
                path,
                after,
                buf_len,
                flags,
            } => {
                assert!(*buf_len <= self.max_buf_len());
                let mut a = abi::ListArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    after: user_addr(after),
                    after_len: after.len() as u32,
                    buf: user_addr_mut(&mut self.buf),
                    buf_len: *buf_len,
                    flags: *flags,
                    ..Default::default()
                };
                let (r, armed) = self.call(abi::IOC_LIST, &mut a, faults)?;
                let reply = match r {
                    Ok(()) => self.parse_list(&a),
                    Err(Errno::RANGE) => self.check_guard(0).unwrap_or(if a.count != 0 {
                        Reply::Malformed(format!("ERANGE with count {}", a.count))
                    } else {
                        Reply::ListRange { needed: a.buf_used }
                    }),
                    Err(e) => self.check_guard(0).unwrap_or(Reply::Err(e)),
                };
                (reply, armed)
            }
            Op::Stat { path, flags } => {
                let mut a = abi::StatArgs {
                    path: user_addr(path),
                    path_len: path.len() as u32,
                    flags: *flags,
                    ..Default::default()
                };
                let (r, armed) = self.call(abi::IOC_STAT, &mut a, faults)?;
                let reply = match r {
                    // The fuzzer runs as root and creates persistent nodes of the default mode.
                    Ok(())
                        if a.stat.uid != 0
                            || a.stat.session != 0
                            || (a.stat.mode != abi::MODE_DEFAULT
                                && a.stat.mode != abi::MODE_ROOT) =>
                    {
                        Reply::Malformed(format!(
                            "stat owner {} mode {} session {}",
                            a.stat.uid, a.stat.mode, a.stat.session
                        ))
                    }
                    Ok(()) => {
                        let s = a.stat;
                        times = Some((s.ctime_ns, s.mtime_ns));
                        Reply::Stat(StatView {
                            version: s.version,
                            child_version: s.child_version,
                            num_children: s.num_children,
                            value_len: s.value_len,
                            flags: s.flags,
                        })
                    }
                    Err(e) => Reply::Err(e),
                };
                (reply, armed)
            }
            Op::Stats => {
                let mut a = abi::StoreStats::default();
                let (r, armed) = self.call(abi::IOC_STORE_STATS, &mut a, faults)?;
                let reply = match r {
                    Ok(())
                        if a.dev_mode > 0o777
                            || a.watch_events == 0
                            || a.uid_nodes >= a.nodes
                            || a.uid_bytes > a.bytes =>
                    {
                        Reply::Malformed(format!(
                            "store stats dev_mode {:o}, watch_events {} or root's usage {} nodes \
                             {} bytes out of range",
                            a.dev_mode, a.watch_events, a.uid_nodes, a.uid_bytes
                        ))
                    }
                    Ok(()) => Reply::Stats(StatsView {
                        nodes: a.nodes,
                        bytes: a.bytes,
                        sequence: a.sequence,
                        max_nodes: a.max_nodes,
                        max_bytes: a.max_bytes,
                        max_value_len: a.max_value_len,
                        max_path_len: a.max_path_len,
                        max_depth: a.max_depth,
                    }),
                    Err(e) => Reply::Err(e),
                };
                (reply, armed)
            }
        };
        Ok(Outcome {
            reply,
            times,
            armed,
        })
    }

    /// `Some(Malformed)` when the call wrote into the guard bytes after the first `len`.
    fn check_guard(&self, len: usize) -> Option<Reply> {
        let end = (len + GUARD).min(self.buf.len());
        let guard = self.buf.get(len..end)?;
        guard.iter().position(|&b| b != SENTINEL).map(|i| {
            Reply::Malformed(format!(
                "the call wrote byte {} of the buffer, past the {len} it reported",
                len + i
            ))
        })
    }

    /// The first `len` bytes of the buffer, which are then reset to the sentinel.
    fn take(&mut self, len: usize) -> Vec<u8> {
        let out = self.buf[..len].to_vec();
        self.buf[..len].fill(SENTINEL);
        out
    }

    fn parse_list(&mut self, a: &abi::ListArgs) -> Reply {
        let used = a.buf_used as usize;
        if a.buf_used > a.buf_len {
            return Reply::Malformed(format!("buf_used {} > buf_len {}", a.buf_used, a.buf_len));
        }
        if let Some(stray) = self.check_guard(used) {
            return stray;
        }
        if a.result_flags & !abi::LIST_MORE != 0 {
            return Reply::Malformed(format!("result_flags {:#x}", a.result_flags));
        }
        let bytes = self.take(used);
        let mut names: Vec<Vec<u8>> = bytes.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        // A well-formed list ends with NUL, which leaves one empty piece at the end.
        if names.pop().is_some_and(|last| !last.is_empty()) {
            return Reply::Malformed("names not NUL-terminated".into());
        }
        if names.len() != a.count as usize {
            return Reply::Malformed(format!(
                "count {} but {} names in buf_used {}",
                a.count,
                names.len(),
                used
            ));
        }
        Reply::List {
            names,
            more: a.result_flags & abi::LIST_MORE != 0,
        }
    }
}
