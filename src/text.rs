// SPDX-License-Identifier: GPL-2.0

//! The text interface: one command per `write()`, its output returned by `read()`.
//!
//! Grammar (fields separated by exactly one space, one optional trailing `\n`):
//!
//! ```text
//! set [-m MODE] PATH [VALUE]       create or replace; VALUE is the rest of the line, possibly
//!                                  empty; with -m the nodes created (and the node) get MODE:
//!                                  private, read or read-write (EPERM on another's node)
//! create [-m MODE] PATH [VALUE]    like set, but EEXIST when PATH exists
//! get PATH                         response: the value and "\n"
//! rm [-r] PATH                     delete (recursively with -r)
//! ls PATH                          response: the children's names, one per line (escaped)
//! stat PATH                        response: "version=N child_version=N ... session=N\n"
//! stats                            response: "nodes=N bytes=N ... watch_bytes=N\n"
//! set-if PATH VERSION [VALUE]      compare-and-set: ESTALE unless the node is at VERSION
//! rm-if [-r] PATH VERSION          conditional delete: ESTALE unless the node is at VERSION
//! ephemeral [-m MODE] PATH [VALUE] create an ephemeral node, removed when this file is released
//! seq [-m MODE] PATH [VALUE]       create a sequential node; response: its path and "\n"
//! watch [-r] PATH VERSION          wait for the first change after VERSION (of everything below
//!                                  PATH with -r); response: "VERSION KIND PATH\n"
//! ```
//!
//! Anything else is malformed and fails with `EINVAL`.
//!
//! Names and paths in responses are escaped, so that no name can forge a line or a field: bytes
//! from `!` to `~` stand for themselves except `\`, written `\\`; every other byte is written
//! `\xHH` (lower-case hex). A name `a b` followed by a newline is listed as `a\x20b\x0a`.
//!
//! The commands run through the same operations as the ioctls ([`crate::file`]), with the same
//! checks and errnos.

use core::fmt::Write as _;

use kernel::{
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*,
};

use crate::{
    bytes::{
        user_gfp,
        StackBuf, //
    },
    events::EventKind,
    file::{
        Copied,
        ListCursor,
        OpenFile,
        PendingCharge, //
    },

    num::FromSafeCast,
    path::Path,
    store::Wait,
    tree::SetOptions,
    value::Value, //
};

mod parse;

pub(crate) use parse::Command;

/// Bytes of names one page of a text listing holds (at most four times as many once escaped).
const LIST_PAGE: usize = 2048;

/// A text response, for a listing where its next page starts, and what it is charged.
type TextResponse = (KVVec<u8>, Option<ListCursor>, Option<PendingCharge>);

/// Appends formatted text to a response, failing with `ENOMEM` when it cannot grow.
struct TextOut<'a>(&'a mut KVVec<u8>);

impl core::fmt::Write for TextOut<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), user_gfp())
            .map_err(|_| core::fmt::Error)
    }
}

/// Appends formatted text to `out` (`ENOMEM` when it cannot grow).
macro_rules! out {
    ($out:expr, $($arg:tt)*) => {
        writeln!(TextOut($out), $($arg)*).map_err(|_| ENOMEM)
    };
}

/// Appends `bytes` (a name or a path) to `out`, escaped so that no name can end a line or
/// split a field of a response: bytes from `!` to `~` stand for themselves, except `\`, which
/// is written `\\`; every other byte (space, newline, other control bytes and bytes above
/// 0x7e) is written `\xHH`, in lower-case hex.
fn push_escaped(out: &mut KVVec<u8>, bytes: &[u8]) -> Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\", user_gfp())?,
            b'!'..=b'~' => out.push(b, user_gfp())?,
            _ => {
                let hex = [
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ];
                out.extend_from_slice(&hex, user_gfp())?;
            }
        }
    }
    Ok(())
}

/// How many bytes [`push_escaped`] appends for `bytes`.
fn escaped_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| match b {
            b'\\' => 2,
            b'!'..=b'~' => 1,
            _ => 4,
        })
        .sum()
}

/// The word a watch response names an event kind with.
fn event_word(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Created => "created",
        EventKind::Changed => "changed",
        EventKind::Deleted => "deleted",
        EventKind::Lost => "lost",
    }
}

/// The text interface.
impl OpenFile {
    /// `write()`: parses and runs one command, keeping its output for `read()`.
    pub(crate) fn write_command(&self, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let len = iov.len();
        // The longest valid command: `set-if`, three spaces, a path, a 20-digit version, a value
        // and a newline.
        let longest = usize::from_safe_cast(self.limits.max_path_len)
            + usize::from_safe_cast(self.limits.max_value_len)
            + 40;
        if len > longest {
            return Err(E2BIG);
        }
        let mut line = KVVec::with_capacity(len, user_gfp())?;
        if iov.copy_from_iter_vec(&mut line, user_gfp())? != len {
            return Err(EFAULT);
        }
        let (out, next, charge) = self.run_text(Command::parse(&line)?)?;
        let mut response = self.response.lock();
        response.bytes = out;
        response.pos = 0;
        response.next = next;
        // Gives the previous response's charge back.
        response.charge = charge;
        Ok(len)
    }

    /// `read()`: returns the rest of the last command's output.
    pub(crate) fn read_response(&self, iov: &mut IovIterDest<'_>) -> Result<usize> {
        if iov.is_empty() {
            return Ok(0);
        }
        let mut response = self.response.lock();
        if response.pos == response.bytes.len() {
            // A listing's next page, if there is one: the listing goes on from its cursor.
            if let Some(cursor) = response.next.take() {
                let path = Path::parse(&cursor.path, &self.limits)?;
                let mut page = KVVec::new();
                let next = self.list_page(&path, Some(&cursor.after), &mut page)?;
                response.charge = self.charge_response(&page)?;
                response.bytes = page;
                response.pos = 0;
                response.next = next;
            }
        }
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
            response.charge = None;
        }
        Ok(copied)
    }

    /// Runs one text command, returning its response (empty for commands without output), for
    /// a listing with more pages where the next page starts, and what the response is charged
    /// ([`OpenFile::charge_response`]).
    fn run_text(&self, command: Command<'_>) -> Result<TextResponse> {
        let limits = &self.limits;
        let mut out = KVVec::new();
        let mut next = None;
        let mut charge = None;
        match command {
            Command::Set {
                path,
                value,
                create,
                mode,
            } => {
                let opts = SetOptions {
                    create_only: create,
                    mode,
                    ..Default::default()
                };
                self.text_set(&Path::parse(path, limits)?, value, opts, false)?;
            }
            Command::SetIfVersion {
                path,
                version,
                value,
            } => {
                let opts = SetOptions {
                    if_version: Some(version),
                    ..Default::default()
                };
                self.text_set(&Path::parse(path, limits)?, value, opts, false)?;
            }
            Command::Create {
                path,
                value,
                ephemeral,
                sequential,
                mode,
            } => {
                let path = Path::parse(path, limits)?;
                let opts = SetOptions {
                    create_only: true,
                    ephemeral: ephemeral.then_some(self.session),
                    mode,
                    ..Default::default()
                };
                if sequential {
                    // Room for the response before the node is made: once it is, nothing may
                    // fail. (Each byte of the path takes at most four escaped; ten digits and
                    // a newline follow.)
                    out.reserve(path.as_bytes().len() * 4 + 11, user_gfp())?;
                    charge = Some(self.charge_response(&out)?);
                }
                let number = self.text_set(&path, value, opts, sequential)?;
                if sequential {
                    push_escaped(&mut out, path.as_bytes())?;
                    out!(&mut out, "{:010}", number)?;
                }
            }
            Command::Get { path } => self.text_get(&Path::parse(path, limits)?, &mut out)?,
            Command::Delete { path, recursive } => {
                self.text_delete(&Path::parse(path, limits)?, recursive, None)?
            }
            Command::DeleteIfVersion {
                path,
                recursive,
                version,
            } => self.text_delete(&Path::parse(path, limits)?, recursive, Some(version))?,
            Command::List { path } => {
                next = self.list_page(&Path::parse(path, limits)?, None, &mut out)?;
            }
            Command::Stat { path } => self.text_stat(&Path::parse(path, limits)?, &mut out)?,
            Command::Watch {
                path,
                subtree,
                after,
            } => self.text_watch(&Path::parse(path, limits)?, subtree, after, &mut out)?,
            Command::Stats => self.text_stats(&mut out)?,
        }
        let charge = match charge {
            Some(charge) => charge,
            None => self.charge_response(&out)?,
        };
        Ok((out, next, charge))
    }

    /// `set`, `create`, `set-if`, `ephemeral` and `seq`: returns the sequential number (0 unless
    /// `sequential`).
    fn text_set(
        &self,
        path: &Path<'_>,
        value: &[u8],
        opts: SetOptions,
        sequential: bool,
    ) -> Result<u64> {
        let value = Value::copy(value, &self.limits)?;
        Ok(self.set_node(path, value, opts, sequential)?.sequence)
    }

    /// `get`: the value and a newline.
    fn text_get(&self, path: &Path<'_>, out: &mut KVVec<u8>) -> Result {
        let mut stack = StackBuf::new();
        match self.copy_value(path, &mut stack, usize::MAX, 1)? {
            Copied::Stack(bytes, _) => {
                out.reserve(bytes.len() + 1, user_gfp())?;
                out.extend_from_slice(bytes, user_gfp())?;
            }
            // With room for the newline: pushing it does not grow the buffer.
            Copied::Owned(bytes, _) => *out = bytes,
            Copied::TooLong(..) => return Err(ERANGE),
        }
        out.push(b'\n', user_gfp())?;
        Ok(())
    }

    /// `rm` and `rm-if`.
    fn text_delete(&self, path: &Path<'_>, recursive: bool, if_version: Option<u64>) -> Result {
        let drain = self
            .store
            .change(|t| t.delete(path, recursive, if_version, &self.caller))?;
        // What the delete took out is drained here, after the store's lock is released.
        self.store.drain(drain);
        Ok(())
    }

    /// `ls`: one page of the children's names after `after` (from the first without it), one
    /// per line, appended to `out`. Returns where the next page starts, if there is one: a
    /// listing is read a page at a time, so a pending listing holds one page, never the whole.
    fn list_page(
        &self,
        path: &Path<'_>,
        after: Option<&[u8]>,
        out: &mut KVVec<u8>,
    ) -> Result<Option<ListCursor>> {
        let room = LIST_PAGE;
        let mut page = KVVec::with_capacity(room, user_gfp())?;
        let listing = self
            .store
            .read(|t| t.list(path, after, &mut page, room, &self.caller))?;
        let names = || {
            page.split(|&b| b == 0)
                .take(usize::from_safe_cast(listing.count))
        };
        // Exactly the room the page takes, so that the response stays within what a file holds
        // free of charge.
        out.reserve(names().map(|n| escaped_len(n) + 1).sum(), user_gfp())?;
        let mut last: &[u8] = &[];
        for name in names() {
            push_escaped(out, name)?;
            out.push(b'\n', user_gfp())?;
            last = name;
        }
        if !listing.more || listing.count == 0 {
            return Ok(None);
        }
        let copy = |bytes: &[u8]| -> Result<KVVec<u8>> {
            let mut copy = KVVec::with_capacity(bytes.len(), user_gfp())?;
            copy.extend_from_slice(bytes, user_gfp())?;
            Ok(copy)
        };
        Ok(Some(ListCursor {
            path: copy(path.as_bytes())?,
            after: copy(last)?,
        }))
    }

    /// `stat`: the node's metadata as `key=value` pairs.
    fn text_stat(&self, path: &Path<'_>, out: &mut KVVec<u8>) -> Result {
        let st = self.store.read(|t| t.stat(path, &self.caller))?;
        out!(
            out,
            "version={} child_version={} ctime_ns={} mtime_ns={} children={} value_len={} \
             has_value={} uid={} mode={} session={}",
            st.version,
            st.child_version,
            st.ctime_ns,
            st.mtime_ns,
            st.num_children,
            st.value_len,
            u32::from(st.has_value),
            self.viewer.uid(st.owner),
            st.mode,
            st.session
        )
    }

    /// `watch`: waits for a change and reports it as `VERSION KIND PATH`.
    fn text_watch(
        &self,
        path: &Path<'_>,
        subtree: bool,
        after: u64,
        out: &mut KVVec<u8>,
    ) -> Result {
        let room = usize::from_safe_cast(self.limits.max_path_len);
        let mut changed = KVVec::with_capacity(room, user_gfp())?;
        let change = self.store.watch(
            path,
            subtree,
            after,
            Wait::Forever,
            &self.caller,
            &mut changed,
        )?;
        // The room the response takes at most, at once: a 20-digit version, the longest kind,
        // two spaces, the path and a newline.
        out.reserve(escaped_len(&changed) + 30, user_gfp())?;
        write!(
            TextOut(out),
            "{} {}",
            change.version,
            event_word(change.kind)
        )
        .map_err(|_| ENOMEM)?;
        if !changed.is_empty() {
            out.push(b' ', user_gfp())?;
            push_escaped(out, &changed)?;
        }
        out.push(b'\n', user_gfp())?;
        Ok(())
    }

    /// `stats`: the store's usage and limits, and every module parameter, as `key=value` pairs
    /// (`dev_mode` in octal, as `0660`; the keys added last at the end of the line).
    fn text_stats(&self, out: &mut KVVec<u8>) -> Result {
        let s = self
            .store
            .read(|t| Ok::<_, Error>(t.stats(self.caller.uid)))?;
        let l = &self.limits;
        out!(
            out,
            "nodes={} bytes={} max_nodes={} max_bytes={} max_value_len={} max_path_len={} \
             max_depth={} sequence={} uid_nodes={} uid_bytes={} uid_max_nodes={} \
             uid_max_bytes={} dev_mode=0{:03o} reserve_nodes={} reserve_bytes={} \
             watch_events={} watch_bytes={}",
            s.nodes,
            s.bytes,
            l.max_nodes,
            l.max_bytes,
            l.max_value_len,
            l.max_path_len,
            l.max_depth,
            s.sequence,
            s.uid_nodes,
            s.uid_bytes,
            l.uid_max_nodes,
            l.uid_max_bytes,
            crate::device::dev_mode(),
            l.reserve_nodes,
            l.reserve_bytes,
            l.watch_events,
            l.watch_bytes
        )
    }
}
