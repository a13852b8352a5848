//! The bad-input catalog (hardening): one test per bad input, each checking the exact errno that
//! `docs/semantics.md` documents and that the store did not change (its statistics, sequence
//! number included, and the stat and value of every node of the case's fixture, the root
//! included).
//!
//! Every case runs against the same fixture, in `/it/bad_<case>`: `k` holding `keep`, `p`
//! without a value and its child `p/c` holding `child`, and the missing `new` and `new/leaf`
//! (which a wrongly accepted set would create). Cases go through raw ioctls with hand-built
//! arguments (or raw `write(2)`/`read(2)` for the text interface), never through the client
//! library's checks. Groups:
//!
//! - `path_*`, `name_*`: malformed, long and deep paths;
//! - `len_*`: bad and huge lengths, and addresses whose range wraps or leaves user space;
//! - `ptr_*`, `arg_*`: NULL, unmapped (mmap then munmap), kernel and page-straddling addresses,
//!   in the structures and as the ioctl argument itself;
//! - `nr_*`: ioctl numbers with a wrong size, type, direction or number;
//! - `field_*`: non-zero reserved and pad fields and unknown flag bits;
//! - `order_*`: several faults at once, which one wins (the documented check order);
//! - `text_*`: malformed text commands through `write(2)`; each runs on a session whose pending
//!   response (from `get k`) must still be there, intact, after the failed command;
//! - `signal_*`: large sets and gets while another thread sends signals whose handler was
//!   installed without `SA_RESTART`: only watches wait interruptibly, so every call must succeed
//!   completely; `EINTR` from a set, a get or the statistics is a failure.

use std::cell::RefCell;
use std::ffi::c_void;
use std::mem::size_of;
use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use integration::args::{addr, buf, delete_args, get_args, get_op, list_args, set_args, stat_args};
use integration::{
    assert_same_snapshot, open, open_text, read_response, scaled, show, snapshot, stats,
    tagged_value, text_write, Rng, Scratch, Snapshot,
};
use pathstore::abi::{
    self, DeleteArgs, GetArgs, ListArgs, SetArgs, StatArgs, StoreStats, VersionArgs,
};
use pathstore::{Errno, ErrnoDisplay, Pathstore};
use rustix::mm::{mmap_anonymous, munmap, MapFlags, ProtFlags};

use crate::paths::{path_of_depth, path_of_len};

/// What a bad call returned: success, or the errno.
type Outcome = Result<(), Errno>;

/// The start of the kernel's direct map on x86-64: mapped, but never accessible from userspace.
const KERNEL_ADDR: u64 = 0xffff_8880_0000_0000;

/// A non-canonical address (bit 63 set, bits 62..47 clear): neither user nor kernel.
const NON_CANONICAL_ADDR: u64 = 0x8000_0000_0000_0000;

/// Issues `cmd` with the argument at user address `arg`.
///
/// Not `unsafe`, so that the catalog reads as a table: every address a case passes (as `arg` or
/// inside the structure there) is either a live buffer of the case or of its [`Fx`], writable
/// when the module writes it and as long as the length given, or an address the kernel refuses
/// (NULL, unmapped, kernel, non-canonical, wrapping around).
fn ioctl_at(store: &Pathstore, cmd: u32, arg: u64) -> Outcome {
    let arg: *mut c_void = ptr::with_exposed_provenance_mut(arg as usize);
    // SAFETY: see above: the kernel only touches live buffers of the case, or refuses.
    unsafe { store.ioctl_raw(cmd, arg) }.map(drop)
}

/// Issues `cmd` with `arg` (see [`ioctl_at`] for the addresses inside).
fn ioctl<T>(store: &Pathstore, cmd: u32, arg: &mut T) -> Outcome {
    ioctl_at(store, cmd, addr(ptr::from_mut(arg)))
}

/// A transaction operation on `path` (addresses of the fixture's live buffers).
fn txn_op(op: u32, flags: u32, path: &[u8], value: &[u8]) -> abi::TxnOp {
    let (path, path_len) = buf(path);
    let (value, value_len) = buf(value);
    abi::TxnOp {
        path,
        path_len,
        value,
        value_len,
        op,
        flags,
        ..Default::default()
    }
}

/// Runs the transaction `ops`.
fn txn(fx: &Fx<'_>, ops: &mut [abi::TxnOp]) -> Outcome {
    let mut a = abi::TxnArgs {
        ops: addr(ops.as_mut_ptr()),
        count: ops.len() as u32,
        ..Default::default()
    };
    ioctl(fx.store, abi::IOC_TXN, &mut a)
}

/// Runs the batch of gets `ops` with the header `a` (whose `ops` and `count` are set from `ops`),
/// then checks that the module wrote nothing back to the array (every get's outputs still hold
/// what [`get_op`] put there).
fn get_batch(fx: &Fx<'_>, ops: &mut [abi::GetOp], a: abi::GetBatchArgs) -> Outcome {
    let mut a = abi::GetBatchArgs {
        ops: addr(ops.as_mut_ptr()),
        count: ops.len() as u32,
        ..a
    };
    let r = ioctl(fx.store, abi::IOC_GET_BATCH, &mut a);
    for op in ops.iter() {
        assert_eq!(
            (op.error, op.value_len, op.version),
            (0x5a5a_5a5a, u32::MAX, u64::MAX),
            "a failed GET_BATCH writes nothing to its array"
        );
    }
    assert_eq!(a.done, 0, "a failed GET_BATCH does not report gets done");
    r
}

/// A WATCH of `path` for changes after `after` that does not wait, into `out`.
fn watch_args(path: &[u8], after: u64, out: &mut [u8]) -> abi::WatchArgs {
    let (path, path_len) = buf(path);
    abi::WatchArgs {
        path,
        path_len,
        buf: addr(out.as_mut_ptr()),
        buf_len: out.len() as u32,
        after,
        ..Default::default()
    }
}

/// The bytes of an ABI structure.
fn bytes_of<T: Copy>(value: &T) -> Vec<u8> {
    // SAFETY: the ABI structures are `#[repr(C)]` integers without implicit padding (checked by
    // the module and by `pathstore-abi`'s tests): every byte is initialised.
    unsafe { std::slice::from_raw_parts(ptr::from_ref(value).cast::<u8>(), size_of::<T>()) }
        .to_vec()
}

/// Readable and writable memory followed by a page that was mapped and then unmapped.
struct Hole {
    base: *mut c_void,
    len: usize,
}

impl Hole {
    /// At least `room` accessible bytes, then the unmapped page.
    fn new(room: usize) -> Self {
        let page = rustix::param::page_size();
        let len = room.div_ceil(page) * page;
        // SAFETY: a new private anonymous mapping placed by the kernel overlaps nothing.
        let base = unsafe {
            mmap_anonymous(
                ptr::null_mut(),
                len + page,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .expect("mmap");
        // SAFETY: the last page belongs to this mapping and nothing refers to it.
        unsafe { munmap(base.byte_add(len), page) }.expect("munmap of the last page");
        Hole { base, len }
    }

    /// The address of the unmapped page.
    fn unmapped(&self) -> u64 {
        addr(self.base.cast::<u8>().wrapping_add(self.len))
    }

    /// Copies `bytes` so that they end where the accessible memory does; returns their address.
    fn place_at_end(&self, bytes: &[u8]) -> u64 {
        assert!(bytes.len() <= self.len);
        let dst = self.base.cast::<u8>().wrapping_add(self.len - bytes.len());
        // SAFETY: `dst..dst + len` is inside the accessible part of the mapping, which nothing
        // else refers to.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
        addr(dst)
    }
}

impl Drop for Hole {
    fn drop(&mut self) {
        // SAFETY: the accessible part of the mapping made by `Hole::new`, no longer referred to.
        let _ = unsafe { munmap(self.base, self.len) };
    }
}

/// The fixture of a case: a subtree in a known state, the limits, memory with a hole after it,
/// and the snapshot the store must still match after the bad call.
struct Fx<'s> {
    store: &'s Pathstore,
    scratch: Scratch<'s>,
    /// `base/k`, holding `keep`.
    k: String,
    /// `base/p`, without a value, parent of `c`.
    p: String,
    /// `base/p/c`, holding `child`.
    c: String,
    /// `base/new`, missing.
    new: String,
    /// `base/new/leaf`, missing.
    leaf: String,
    max_value_len: usize,
    max_path_len: usize,
    max_depth: usize,
    /// `max_value_len` bytes and more, then an unmapped page.
    hole: Hole,
    before: RefCell<Option<Snapshot>>,
}

impl<'s> Fx<'s> {
    fn new(store: &'s Pathstore, case: &str) -> Self {
        let scratch = Scratch::new(store, &format!("bad_{case}"));
        let (k, p, c) = (scratch.path("k"), scratch.path("p"), scratch.path("p/c"));
        let (new, leaf) = (scratch.path("new"), scratch.path("new/leaf"));
        store.set(&k, "keep").expect("fixture: set k");
        store.set(&c, "child").expect("fixture: set p/c");
        let st = stats(store);
        let max_value_len = st.max_value_len as usize;
        Fx {
            store,
            scratch,
            k,
            p,
            c,
            new,
            leaf,
            max_value_len,
            max_path_len: st.max_path_len as usize,
            max_depth: st.max_depth as usize,
            hole: Hole::new(max_value_len + 4096),
            before: RefCell::new(None),
        }
    }

    fn base(&self) -> &str {
        self.scratch.base()
    }

    /// The store's statistics and every fixture node, the root and the subtree's root included.
    fn snapshot(&self) -> Snapshot {
        let watch = [
            "/",
            self.base(),
            &self.k,
            &self.p,
            &self.c,
            &self.new,
            &self.leaf,
        ];
        snapshot(self.store, &watch)
    }

    /// Takes again the snapshot the store must match after the bad call, for cases that change
    /// the store on purpose before it.
    fn prepared(&self) {
        *self.before.borrow_mut() = Some(self.snapshot());
    }
}

/// Runs a case: builds its fixture, runs `op`, which must fail with `expected`, and checks that
/// the store is exactly as before.
fn run(case: &str, expected: Errno, op: impl FnOnce(&Fx<'_>) -> Outcome) {
    let store = open();
    let fx = Fx::new(&store, case);
    fx.prepared();
    let got = op(&fx);
    let after = fx.snapshot();
    match got {
        Ok(()) => panic!(
            "{case}: expected {}, but the call succeeded",
            ErrnoDisplay(expected)
        ),
        Err(errno) if errno == expected => {}
        Err(errno) => panic!(
            "{case}: expected {}, got {}",
            ErrnoDisplay(expected),
            ErrnoDisplay(errno)
        ),
    }
    let before = fx.before.borrow_mut().take().expect("snapshot taken");
    assert_same_snapshot(
        format_args!("{case} (failed with {})", ErrnoDisplay(expected)),
        &before,
        &after,
    );
}

/// One `#[test]` per row: `name: ERRNO => |fx| call,` where the call returns an [`Outcome`].
macro_rules! cases {
    ($($(#[doc = $doc:literal])* $name:ident: $errno:ident => $op:expr,)*) => {
        $(
            $(#[doc = $doc])*
            #[test]
            fn $name() {
                run(stringify!($name), Errno::$errno, $op);
            }
        )*
    };
}

/// `SET path = value` through a raw ioctl.
fn set(fx: &Fx<'_>, path: &[u8], value: &[u8]) -> Outcome {
    ioctl(fx.store, abi::IOC_SET, &mut set_args(path, value))
}

/// `SET path = value` with `flags`.
fn set_flags(fx: &Fx<'_>, path: &[u8], value: &[u8], flags: u32) -> Outcome {
    let mut a = SetArgs {
        flags,
        ..set_args(path, value)
    };
    ioctl(fx.store, abi::IOC_SET, &mut a)
}

/// `GET path` into a 64-byte buffer.
fn get(fx: &Fx<'_>, path: &[u8]) -> Outcome {
    let mut out = [0u8; 64];
    ioctl(fx.store, abi::IOC_GET, &mut get_args(path, &mut out))
}

/// `DELETE path` with `flags`.
fn delete(fx: &Fx<'_>, path: &[u8], flags: u32) -> Outcome {
    ioctl(fx.store, abi::IOC_DELETE, &mut delete_args(path, flags))
}

/// `LIST path` into a 64-byte buffer.
fn list(fx: &Fx<'_>, path: &[u8]) -> Outcome {
    let mut out = [0u8; 64];
    ioctl(fx.store, abi::IOC_LIST, &mut list_args(path, &mut out))
}

/// `STAT path`.
fn stat(fx: &Fx<'_>, path: &[u8]) -> Outcome {
    ioctl(fx.store, abi::IOC_STAT, &mut stat_args(path))
}

/// `base` followed by `rest`, as bytes.
fn under(fx: &Fx<'_>, rest: &[u8]) -> Vec<u8> {
    [fx.base().as_bytes(), rest].concat()
}

/// A path below the fixture of exactly `len` bytes.
fn path_len_bytes(fx: &Fx<'_>, len: usize) -> Vec<u8> {
    path_of_len(fx.base(), len, 200).into_bytes()
}

// --- Malformed, long and deep paths (EINVAL, ENAMETOOLONG) ---

cases! {
    /// An empty path (a valid address, length 0).
    path_empty_set: INVAL => |fx| set(fx, b"", b"v"),
    /// `//`: an empty component, as a path to recursive-delete (everything, if it were `/`).
    path_double_slash_root_delete_recursive: INVAL =>
        |fx| delete(fx, b"//", abi::DELETE_RECURSIVE),
    /// No leading `/`: the fixture's `k` as a relative path.
    path_no_leading_slash_set: INVAL => |fx| set(fx, &fx.k.as_bytes()[1..], b"v"),
    /// No leading `/`, on delete of an existing node's relative name.
    path_no_leading_slash_delete: INVAL => |fx| delete(fx, &fx.k.as_bytes()[1..], 0),
    /// An empty component in the middle.
    path_double_slash_inside_set: INVAL => |fx| set(fx, &under(fx, b"//new"), b"v"),
    /// Two trailing slashes (one is allowed): an empty last component.
    path_double_trailing_slash_delete: INVAL =>
        |fx| delete(fx, format!("{}//", fx.k).as_bytes(), 0),
    /// A `.` component.
    path_dot_component_set: INVAL => |fx| set(fx, &under(fx, b"/./new"), b"v"),
    /// A trailing `.` component.
    path_trailing_dot_get: INVAL => |fx| get(fx, format!("{}/.", fx.k).as_bytes()),
    /// `..` climbing from `p/c` to the fixture's root, on a recursive delete.
    path_dotdot_delete_recursive: INVAL =>
        |fx| delete(fx, format!("{}/../..", fx.c).as_bytes(), abi::DELETE_RECURSIVE),
    /// `..` in the middle of a set.
    path_dotdot_inside_set: INVAL => |fx| set(fx, format!("{}/../new", fx.p).as_bytes(), b"v"),
    /// A NUL byte inside a name.
    path_nul_in_name_set: INVAL => |fx| set(fx, &under(fx, b"/ne\0w"), b"v"),
    /// A C string passed with its terminating NUL.
    path_nul_terminated_delete: INVAL => |fx| delete(fx, format!("{}\0", fx.k).as_bytes(), 0),
    /// A path that is a lone NUL.
    path_lone_nul_stat: INVAL => |fx| stat(fx, b"\0"),
    /// A lone `.`, not even starting with `/`.
    path_lone_dot_list: INVAL => |fx| list(fx, b"."),
    /// A 256-byte name.
    name_256_bytes_set: NAMETOOLONG =>
        |fx| set(fx, &under(fx, &[b"/".as_slice(), &[b'n'; 256]].concat()), b"v"),
    /// A 256-byte name below an existing node, on stat.
    name_256_bytes_stat: NAMETOOLONG =>
        |fx| stat(fx, &[fx.k.as_bytes(), b"/", &[b'n'; 256]].concat()),
    /// A path one byte longer than `max_path_len`.
    path_longer_than_max_path_len_set: NAMETOOLONG =>
        |fx| set(fx, &path_len_bytes(fx, fx.max_path_len + 1), b"v"),
    /// A path of exactly `max_path_len` bytes plus a trailing `/` (which counts).
    path_max_len_plus_trailing_slash_set: NAMETOOLONG => |fx| {
        let mut p = path_len_bytes(fx, fx.max_path_len);
        p.push(b'/');
        set(fx, &p, b"v")
    },
    /// A path one component deeper than `max_depth`.
    path_deeper_than_max_depth_set: NAMETOOLONG => |fx| {
        let base_depth = fx.base().matches('/').count();
        set(fx, path_of_depth(fx.base(), fx.max_depth + 1 - base_depth).as_bytes(), b"v")
    },
    /// A path one component deeper than `max_depth`, on list.
    path_deeper_than_max_depth_list: NAMETOOLONG =>
        |fx| list(fx, path_of_depth("", fx.max_depth + 1).as_bytes()),
}

// --- Bad and huge lengths; ranges that wrap or leave user space ---

cases! {
    /// `path_len` 0 with a NULL path: an empty path, not a fault.
    len_path_zero_null_delete_recursive: INVAL => |fx| {
        let mut a = DeleteArgs {
            path: 0,
            path_len: 0,
            flags: abi::DELETE_RECURSIVE,
            ..Default::default()
        };
        ioctl(fx.store, abi::IOC_DELETE, &mut a)
    },
    /// `path_len` `u32::MAX` over a short, valid path: refused before anything is read.
    len_path_u32_max_set: NAMETOOLONG => |fx| {
        let mut a = set_args(fx.new.as_bytes(), b"v");
        a.path_len = u32::MAX;
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// `path_len` `u32::MAX` with a NULL path, on get.
    len_path_u32_max_null_get: NAMETOOLONG => |fx| {
        let mut out = [0u8; 8];
        let mut a = GetArgs { path: 0, path_len: u32::MAX, ..get_args(b"", &mut out) };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// A value one byte longer than `max_value_len`, replacing `k`.
    len_value_max_plus_one_set: TOOBIG => |fx| {
        let value = vec![b'v'; fx.max_value_len + 1];
        set(fx, fx.k.as_bytes(), &value)
    },
    /// `value_len` `u32::MAX` with a NULL value: refused before the value is read.
    len_value_u32_max_null_set: TOOBIG => |fx| {
        let mut a = SetArgs { value: 0, value_len: u32::MAX, ..set_args(fx.leaf.as_bytes(), b"") };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A buffer smaller than the value: `ERANGE`, with the size needed and the version reported
    /// and nothing copied.
    len_get_buf_too_small: RANGE => |fx| {
        let mut out = [0xaau8; 3];
        let mut a = get_args(fx.k.as_bytes(), &mut out);
        let r = ioctl(fx.store, abi::IOC_GET, &mut a);
        let version = fx.store.stat(&fx.k).expect("stat k").version;
        assert_eq!((a.value_len, a.version), (4, version), "ERANGE reports value_len and version");
        assert_eq!(out, [0xaa; 3], "nothing is copied on ERANGE");
        r
    },
    /// A NULL, empty buffer for a `max_value_len` value: `ERANGE` with the full size.
    len_get_null_empty_buf_for_max_value: RANGE => |fx| {
        let value = vec![b'm'; fx.max_value_len];
        fx.store.set(&fx.leaf, &value).expect("set a max_value_len value");
        fx.prepared();
        let mut a = GetArgs { buf: 0, buf_len: 0, ..get_args(fx.leaf.as_bytes(), &mut []) };
        let r = ioctl(fx.store, abi::IOC_GET, &mut a);
        assert_eq!(a.value_len as usize, fx.max_value_len, "ERANGE reports the size needed");
        r
    },
    /// A list buffer one byte too small for the first name: `ERANGE` with the size needed.
    len_list_buf_too_small: RANGE => |fx| {
        let mut out = [0xaau8; 1];
        let mut a = list_args(fx.p.as_bytes(), &mut out);
        let r = ioctl(fx.store, abi::IOC_LIST, &mut a);
        assert_eq!((a.buf_used, a.count), (2, 0), "ERANGE reports what `c\\0` needs");
        assert_eq!(out, [0xaa], "nothing is copied on ERANGE");
        r
    },
    /// A 256-byte list cursor.
    len_list_after_256: NAMETOOLONG => |fx| {
        let cursor = [b'a'; 256];
        let mut out = [0u8; 64];
        let (after, after_len) = buf(&cursor);
        let mut a = ListArgs { after, after_len, ..list_args(fx.p.as_bytes(), &mut out) };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// `after_len` `u32::MAX` with a NULL cursor: refused before the cursor is read.
    len_list_after_u32_max_null: NAMETOOLONG => |fx| {
        let mut out = [0u8; 64];
        let mut a = ListArgs {
            after: 0,
            after_len: u32::MAX,
            ..list_args(fx.p.as_bytes(), &mut out)
        };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// A path whose address plus length wraps around the address space.
    len_path_range_wraps: FAULT => |fx| {
        let mut a = SetArgs { path: u64::MAX - 3, path_len: 16, ..set_args(b"", b"v") };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A value whose address plus length wraps around, replacing `k`.
    len_value_range_wraps: FAULT => |fx| {
        let mut a = SetArgs {
            value: u64::MAX - 15,
            value_len: 64,
            ..set_args(fx.k.as_bytes(), b"")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A get buffer whose address plus length wraps around.
    len_get_buf_range_wraps: FAULT => |fx| {
        let mut a = GetArgs {
            buf: u64::MAX - 1,
            buf_len: 64,
            ..get_args(fx.k.as_bytes(), &mut [])
        };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// A list cursor whose address plus length wraps around.
    len_list_after_range_wraps: FAULT => |fx| {
        let mut out = [0u8; 64];
        let mut a = ListArgs {
            after: u64::MAX - 7,
            after_len: 16,
            ..list_args(fx.p.as_bytes(), &mut out)
        };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// A list buffer whose address plus length wraps around.
    len_list_buf_range_wraps: FAULT => |fx| {
        let mut a = ListArgs {
            buf: u64::MAX - 1,
            buf_len: 64,
            ..list_args(fx.p.as_bytes(), &mut [])
        };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// A value running from user space past its top (0x7fff_ffff_f000 on x86-64).
    len_value_crosses_top_of_user_space: FAULT => |fx| {
        let mut a = SetArgs {
            value: 0x7fff_ffff_e000,
            value_len: 0x4000,
            ..set_args(fx.leaf.as_bytes(), b"")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A path at a non-canonical address.
    len_path_non_canonical: FAULT => |fx| {
        let mut a = StatArgs { path: NON_CANONICAL_ADDR, path_len: 8, ..Default::default() };
        ioctl(fx.store, abi::IOC_STAT, &mut a)
    },
}

// --- NULL, unmapped, kernel and straddling addresses (EFAULT) ---

cases! {
    /// A NULL path with a non-zero length.
    ptr_path_null_set: FAULT => |fx| {
        let mut a = SetArgs { path: 0, path_len: 8, ..set_args(b"", b"v") };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A path in a page that was unmapped.
    ptr_path_unmapped_get: FAULT => |fx| {
        let mut out = [0u8; 64];
        let mut a = GetArgs { path: fx.hole.unmapped(), path_len: 8, ..get_args(b"", &mut out) };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// A path at a kernel address, on a recursive delete.
    ptr_path_kernel_delete_recursive: FAULT => |fx| {
        let mut a = DeleteArgs {
            path: KERNEL_ADDR,
            path_len: 8,
            flags: abi::DELETE_RECURSIVE,
            ..Default::default()
        };
        ioctl(fx.store, abi::IOC_DELETE, &mut a)
    },
    /// A path whose last byte lies in the unmapped page: the accessible part names `k`.
    ptr_path_straddling_delete: FAULT => |fx| {
        let path = fx.hole.place_at_end(fx.k.as_bytes());
        let mut a = DeleteArgs { path, path_len: fx.k.len() as u32 + 1, ..Default::default() };
        ioctl(fx.store, abi::IOC_DELETE, &mut a)
    },
    /// A NULL value for a new node: neither it nor its parent may appear.
    ptr_value_null_set: FAULT => |fx| {
        let mut a = SetArgs { value: 0, value_len: 16, ..set_args(fx.leaf.as_bytes(), b"") };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A value in an unmapped page, replacing `k`.
    ptr_value_unmapped_set: FAULT => |fx| {
        let mut a = SetArgs {
            value: fx.hole.unmapped(),
            value_len: 16,
            ..set_args(fx.k.as_bytes(), b"")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A value at a kernel address, creating a new node.
    ptr_value_kernel_create: FAULT => |fx| {
        let mut a = SetArgs {
            value: KERNEL_ADDR,
            value_len: 16,
            flags: abi::SET_CREATE,
            ..set_args(fx.new.as_bytes(), b"")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A `max_value_len` value whose last byte lies in the unmapped page: no partial value.
    ptr_value_straddling_max_size: FAULT => |fx| {
        let value = vec![b'z'; fx.max_value_len - 1];
        let start = fx.hole.place_at_end(&value);
        let mut a = SetArgs {
            value: start,
            value_len: fx.max_value_len as u32,
            ..set_args(fx.k.as_bytes(), b"")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A NULL get buffer with a non-zero length.
    ptr_get_buf_null: FAULT => |fx| {
        let mut a = GetArgs { buf: 0, buf_len: 64, ..get_args(fx.k.as_bytes(), &mut []) };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// A get buffer in an unmapped page.
    ptr_get_buf_unmapped: FAULT => |fx| {
        let mut a = GetArgs {
            buf: fx.hole.unmapped(),
            buf_len: 64,
            ..get_args(fx.k.as_bytes(), &mut [])
        };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// A get buffer at a kernel address.
    ptr_get_buf_kernel: FAULT => |fx| {
        let mut a = GetArgs { buf: KERNEL_ADDR, buf_len: 64, ..get_args(fx.k.as_bytes(), &mut []) };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// A get buffer of which only the first two bytes are accessible.
    ptr_get_buf_straddling: FAULT => |fx| {
        let start = fx.hole.place_at_end(b"..");
        let mut a = GetArgs { buf: start, buf_len: 64, ..get_args(fx.k.as_bytes(), &mut []) };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// A list buffer in an unmapped page.
    ptr_list_buf_unmapped: FAULT => |fx| {
        let mut a = ListArgs {
            buf: fx.hole.unmapped(),
            buf_len: 64,
            ..list_args(fx.p.as_bytes(), &mut [])
        };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// A list cursor at a kernel address.
    ptr_list_after_kernel: FAULT => |fx| {
        let mut out = [0u8; 64];
        let mut a = ListArgs {
            after: KERNEL_ADDR,
            after_len: 1,
            ..list_args(fx.p.as_bytes(), &mut out)
        };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// A NULL `SetArgs`.
    arg_null_set: FAULT => |fx| ioctl_at(fx.store, abi::IOC_SET, 0),
    /// A `GetArgs` in an unmapped page.
    arg_unmapped_get: FAULT => |fx| ioctl_at(fx.store, abi::IOC_GET, fx.hole.unmapped()),
    /// A `ListArgs` at a kernel address.
    arg_kernel_list: FAULT => |fx| ioctl_at(fx.store, abi::IOC_LIST, KERNEL_ADDR),
    /// A NULL `StatArgs`.
    arg_null_stat: FAULT => |fx| ioctl_at(fx.store, abi::IOC_STAT, 0),
    /// A `VersionArgs` in an unmapped page.
    arg_unmapped_version: FAULT => |fx| ioctl_at(fx.store, abi::IOC_VERSION, fx.hole.unmapped()),
    /// A `StoreStats` at a kernel address.
    arg_kernel_store_stats: FAULT => |fx| ioctl_at(fx.store, abi::IOC_STORE_STATS, KERNEL_ADDR),
    /// A NULL `WatchArgs`.
    arg_null_watch: FAULT => |fx| ioctl_at(fx.store, abi::IOC_WATCH, 0),
    /// A NULL `CheckArgs`.
    arg_null_check: FAULT => |fx| ioctl_at(fx.store, abi::IOC_CHECK, 0),
    /// A `CheckArgs` at a kernel address.
    arg_kernel_check: FAULT => |fx| ioctl_at(fx.store, abi::IOC_CHECK, KERNEL_ADDR),
    /// A `DeleteArgs` at a non-canonical address.
    arg_non_canonical_delete: FAULT => |fx| ioctl_at(fx.store, abi::IOC_DELETE, NON_CANONICAL_ADDR),
    /// A recursive `DeleteArgs` of the fixture's root whose accessible part (path and length)
    /// is complete but whose flags and reserved fields lie in the unmapped page.
    arg_straddling_delete_recursive: FAULT => |fx| {
        let a = delete_args(fx.base().as_bytes(), abi::DELETE_RECURSIVE);
        let bytes = bytes_of(&a);
        ioctl_at(fx.store, abi::IOC_DELETE, fx.hole.place_at_end(&bytes[..12]))
    },
    /// A `SetArgs` of a new node cut short in its `flags` field.
    arg_straddling_set: FAULT => |fx| {
        let a = set_args(fx.leaf.as_bytes(), b"value");
        let bytes = bytes_of(&a);
        ioctl_at(fx.store, abi::IOC_SET, fx.hole.place_at_end(&bytes[..26]))
    },
}

// --- ioctl numbers (ENOTTY) ---

/// An ioctl number as the kernel's `_IOC` builds it.
fn ioc(dir: u32, typ: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (typ << 8) | nr
}

const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Issues `cmd` on an argument area holding a valid `SetArgs` creating `new/leaf` (so that a
/// number mistaken for a set would visibly change the store), large enough for any size.
fn misnumbered(fx: &Fx<'_>, cmd: u32) -> Outcome {
    #[repr(C, align(8))]
    struct Arena([u8; 1024]);
    let value = b"created by a mis-dispatched ioctl";
    let a = set_args(fx.leaf.as_bytes(), value);
    let mut arena = Arena([0; 1024]);
    arena.0[..size_of::<SetArgs>()].copy_from_slice(&bytes_of(&a));
    ioctl(fx.store, cmd, &mut arena)
}

/// `cmd` with its size field replaced.
fn with_size(cmd: u32, size: usize) -> u32 {
    ioc(cmd >> 30, (cmd >> 8) & 0xff, cmd & 0xff, size)
}

/// `cmd` with its direction replaced.
fn with_dir(cmd: u32, dir: u32) -> u32 {
    (cmd & !(3 << 30)) | (dir << 30)
}

cases! {
    /// SET's number encoding a size 8 bytes smaller than `SetArgs` (an older, shorter struct).
    nr_set_smaller_size: NOTTY =>
        |fx| misnumbered(fx, with_size(abi::IOC_SET, size_of::<SetArgs>() - 8)),
    /// GET's number encoding a size 8 bytes larger than `GetArgs` (a newer, longer struct).
    nr_get_larger_size: NOTTY =>
        |fx| misnumbered(fx, with_size(abi::IOC_GET, size_of::<GetArgs>() + 8)),
    /// LIST's number with size 0.
    nr_list_size_zero: NOTTY => |fx| misnumbered(fx, with_size(abi::IOC_LIST, 0)),
    /// STORE_STATS's number with half its size.
    nr_store_stats_half_size: NOTTY =>
        |fx| misnumbered(fx, with_size(abi::IOC_STORE_STATS, size_of::<StoreStats>() / 2)),
    /// SET's number with the magic of a neighbour (0xba).
    nr_set_wrong_magic: NOTTY => |fx| misnumbered(fx, (abi::IOC_SET & !0xff00) | (0xba << 8)),
    /// DELETE's number with magic 0.
    nr_delete_magic_zero: NOTTY => |fx| misnumbered(fx, abi::IOC_DELETE & !0xff00),
    /// SET's number as `_IOW` (it is `_IOWR`).
    nr_set_as_iow: NOTTY => |fx| misnumbered(fx, with_dir(abi::IOC_SET, IOC_WRITE)),
    /// DELETE's number as `_IOW` (it is `_IOWR` since ABI 2).
    nr_delete_as_iow: NOTTY => |fx| misnumbered(fx, with_dir(abi::IOC_DELETE, IOC_WRITE)),
    /// STAT's number as `_IO` (no direction).
    nr_stat_as_io: NOTTY => |fx| misnumbered(fx, with_dir(abi::IOC_STAT, IOC_NONE)),
    /// VERSION's number as `_IOW`.
    nr_version_as_iow: NOTTY => |fx| misnumbered(fx, with_dir(abi::IOC_VERSION, IOC_WRITE)),
    /// The first unused number, 0x0a, shaped like SET.
    nr_unknown_0x0a: NOTTY =>
        |fx| misnumbered(fx, ioc(IOC_READ | IOC_WRITE, abi::IOC_MAGIC, 0x0a, size_of::<SetArgs>())),
    /// CHECK's number, shaped like SET.
    nr_check_shaped_like_set: NOTTY =>
        |fx| misnumbered(fx, ioc(IOC_READ | IOC_WRITE, abi::IOC_MAGIC, 0x07, size_of::<SetArgs>())),
    /// Number 0xff with SET's size.
    nr_unknown_0xff: NOTTY =>
        |fx| misnumbered(fx, ioc(IOC_READ | IOC_WRITE, abi::IOC_MAGIC, 0xff, size_of::<SetArgs>())),
    /// ioctl number 0.
    nr_zero: NOTTY => |fx| misnumbered(fx, 0),
    /// All bits set.
    nr_all_ones: NOTTY => |fx| misnumbered(fx, u32::MAX),
    /// `TCGETS`: the device is no terminal (`isatty()` is false).
    nr_tcgets: NOTTY => |fx| misnumbered(fx, 0x5401),
}

// --- Reserved and pad fields, unknown flags (EINVAL) ---

cases! {
    /// SET with the first unknown flag (bit 1), creating a new node.
    field_set_flag_bit5: INVAL => |fx| set_flags(fx, fx.leaf.as_bytes(), b"v", 1 << 5),
    /// SET with bit 31 next to `SET_CREATE`.
    field_set_flag_bit31_with_create: INVAL =>
        |fx| set_flags(fx, fx.new.as_bytes(), b"v", abi::SET_CREATE | (1 << 31)),
    /// SET with every unknown flag, replacing `k`.
    field_set_all_unknown_flags: INVAL =>
        |fx| set_flags(fx, fx.k.as_bytes(), b"v", !abi::SET_FLAGS_ALL),
    /// SET with a `mode` but without `SET_MODE`.
    field_set_mode_without_flag: INVAL => |fx| {
        let mut a = SetArgs { mode: abi::MODE_OTHERS_READ, ..set_args(fx.k.as_bytes(), b"v") };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// SET with `SET_MODE` and a mode bit that means nothing.
    field_set_unknown_mode_bit: INVAL => |fx| {
        let mut a = SetArgs {
            flags: abi::SET_MODE,
            mode: abi::MODE_ALL + 1,
            ..set_args(fx.new.as_bytes(), b"v")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// SET with `SET_MODE` and every bit of `mode` set, replacing `k`.
    field_set_all_mode_bits: INVAL => |fx| {
        let mut a = SetArgs {
            flags: abi::SET_MODE,
            mode: u32::MAX,
            ..set_args(fx.k.as_bytes(), b"v")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// SET with an `expected_version` but without `SET_IF_VERSION`.
    field_set_expected_version_without_flag: INVAL => |fx| {
        let mut a = SetArgs { expected_version: 1, ..set_args(fx.leaf.as_bytes(), b"v") };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// SET with `SET_IF_VERSION` and `SET_CREATE`, which contradict each other.
    field_set_if_version_with_create: INVAL =>
        |fx| set_flags(fx, fx.k.as_bytes(), b"v", abi::SET_IF_VERSION | abi::SET_CREATE),
    /// SET with `SET_IF_VERSION` and `SET_EPHEMERAL`.
    field_set_if_version_with_ephemeral: INVAL =>
        |fx| set_flags(fx, fx.new.as_bytes(), b"v", abi::SET_IF_VERSION | abi::SET_EPHEMERAL),
    /// SET with `SET_IF_VERSION` and `SET_SEQUENTIAL`.
    field_set_if_version_with_sequential: INVAL =>
        |fx| set_flags(fx, fx.new.as_bytes(), b"v", abi::SET_IF_VERSION | abi::SET_SEQUENTIAL),
    /// A sequential SET of the root, which has no name to number.
    field_set_sequential_root: INVAL => |fx| set_flags(fx, b"/", b"v", abi::SET_SEQUENTIAL),
    /// A sequential SET whose numbered name would pass 255 bytes.
    field_set_sequential_name_too_long: NAMETOOLONG => |fx| {
        let path = format!("{}/{}", fx.base(), "s".repeat(250));
        set_flags(fx, path.as_bytes(), b"v", abi::SET_SEQUENTIAL)
    },
    /// An ephemeral SET of a node that exists.
    field_set_ephemeral_existing: EXIST =>
        |fx| set_flags(fx, fx.k.as_bytes(), b"v", abi::SET_EPHEMERAL),
    /// A compare-and-set of a node that does not exist.
    field_set_if_version_missing: NOENT => |fx| {
        let mut a = SetArgs {
            flags: abi::SET_IF_VERSION,
            expected_version: 1,
            ..set_args(fx.new.as_bytes(), b"v")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A compare-and-set with a version the node does not have.
    field_set_if_version_stale: STALE => |fx| {
        let mut a = SetArgs {
            flags: abi::SET_IF_VERSION,
            expected_version: u64::MAX,
            ..set_args(fx.k.as_bytes(), b"v")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// GET with `flags` 1 (none defined).
    field_get_flags: INVAL => |fx| {
        let mut out = [0u8; 64];
        let mut a = GetArgs { flags: 1, ..get_args(fx.k.as_bytes(), &mut out) };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// GET with `reserved[1]` set.
    field_get_reserved1: INVAL => |fx| {
        let mut out = [0u8; 64];
        let mut a = GetArgs { reserved: [0, u64::MAX], ..get_args(fx.k.as_bytes(), &mut out) };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// WATCH with an unknown flag.
    field_watch_unknown_flag: INVAL => |fx| {
        let mut a = watch_args(fx.k.as_bytes(), 0, &mut []);
        a.flags = 1 << 1;
        ioctl(fx.store, abi::IOC_WATCH, &mut a)
    },
    /// WATCH with `reserved[1]` set.
    field_watch_reserved: INVAL => |fx| {
        let mut a = watch_args(fx.k.as_bytes(), 0, &mut []);
        a.reserved[1] = 1;
        ioctl(fx.store, abi::IOC_WATCH, &mut a)
    },
    /// WATCH of an empty path.
    field_watch_empty_path: INVAL => |fx| {
        let mut a = watch_args(b"", 0, &mut []);
        ioctl(fx.store, abi::IOC_WATCH, &mut a)
    },
    /// WATCH that does not wait, for changes after the current version: none yet.
    field_watch_nothing_yet: TIMEDOUT => |fx| {
        let after = stats(fx.store).sequence;
        let mut a = watch_args(fx.k.as_bytes(), after, &mut []);
        ioctl(fx.store, abi::IOC_WATCH, &mut a)
    },
    /// WATCH whose buffer cannot hold the changed path: the size needed is reported.
    field_watch_buffer_too_small: RANGE => |fx| {
        let version = fx.store.stat(&fx.k).map_err(|e| e.errno())?.version;
        let mut one = [0u8; 1];
        let mut a = watch_args(fx.k.as_bytes(), version - 1, &mut one);
        let r = ioctl(fx.store, abi::IOC_WATCH, &mut a);
        assert_eq!(a.changed_len as usize, fx.k.len(), "WATCH reports the size it needs");
        assert_eq!(one, [0], "WATCH wrote nothing to a buffer too small");
        r
    },
    /// WATCH with its buffer in an unmapped page.
    field_watch_unmapped_buffer: FAULT => |fx| {
        let version = fx.store.stat(&fx.k).map_err(|e| e.errno())?.version;
        let mut a = watch_args(fx.k.as_bytes(), version - 1, &mut []);
        a.buf = fx.hole.unmapped();
        a.buf_len = 64;
        ioctl(fx.store, abi::IOC_WATCH, &mut a)
    },
    /// TXN with no operations.
    field_txn_empty: INVAL => |fx| txn(fx, &mut []),
    /// TXN with more operations than `TXN_MAX_OPS`.
    field_txn_too_many: TOOBIG => |fx| {
        let mut ops = vec![txn_op(abi::TXN_CHECK_ABSENT, 0, fx.new.as_bytes(), b""); 65];
        txn(fx, &mut ops)
    },
    /// TXN with an operation kind that does not exist, after a valid set.
    field_txn_unknown_op: INVAL => |fx| {
        let mut ops = [
            txn_op(abi::TXN_SET, 0, fx.k.as_bytes(), b"changed"),
            txn_op(99, 0, fx.k.as_bytes(), b""),
        ];
        txn(fx, &mut ops)
    },
    /// TXN with an ephemeral set, which a transaction cannot undo cleanly.
    field_txn_ephemeral_set: INVAL => |fx| {
        let mut ops = [txn_op(abi::TXN_SET, abi::SET_EPHEMERAL, fx.new.as_bytes(), b"v")];
        txn(fx, &mut ops)
    },
    /// TXN deleting `/`.
    field_txn_delete_root: INVAL => |fx| {
        let mut ops = [txn_op(abi::TXN_DELETE, abi::DELETE_RECURSIVE, b"/", b"")];
        txn(fx, &mut ops)
    },
    /// TXN with a value on a check.
    field_txn_check_with_value: INVAL => |fx| {
        let mut ops = [txn_op(abi::TXN_CHECK_ABSENT, 0, fx.new.as_bytes(), b"v")];
        txn(fx, &mut ops)
    },
    /// TXN whose operations are at an unmapped address.
    field_txn_unmapped_ops: FAULT => |fx| {
        let mut a = abi::TxnArgs { ops: fx.hole.unmapped(), count: 2, ..Default::default() };
        ioctl(fx.store, abi::IOC_TXN, &mut a)
    },
    /// TXN with a set, then a recursive delete of the fixture, then a failing check: nothing of
    /// it stays.
    field_txn_rolls_back: STALE => |fx| {
        let mut ops = [
            txn_op(abi::TXN_SET, 0, fx.leaf.as_bytes(), b"new"),
            txn_op(abi::TXN_DELETE, abi::DELETE_RECURSIVE, fx.p.as_bytes(), b""),
            abi::TxnOp {
                expected_version: u64::MAX,
                ..txn_op(abi::TXN_CHECK_VERSION, 0, fx.k.as_bytes(), b"")
            },
        ];
        txn(fx, &mut ops)
    },
    /// GET_BATCH with no gets.
    field_get_batch_empty: INVAL => |fx| get_batch(fx, &mut [], Default::default()),
    /// GET_BATCH with more gets than `GET_BATCH_MAX`.
    field_get_batch_too_many: TOOBIG => |fx| {
        let mut out = [0u8; 16];
        let mut ops = vec![get_op(fx.k.as_bytes(), &mut out); abi::GET_BATCH_MAX as usize + 1];
        get_batch(fx, &mut ops, Default::default())
    },
    /// GET_BATCH with `count` `u32::MAX` and a NULL array: refused before the array is read.
    field_get_batch_count_u32_max: TOOBIG => |fx| {
        let mut a = abi::GetBatchArgs { ops: 0, count: u32::MAX, ..Default::default() };
        ioctl(fx.store, abi::IOC_GET_BATCH, &mut a)
    },
    /// GET_BATCH with `flags` 1.
    field_get_batch_flags: INVAL => |fx| {
        let mut out = [0u8; 16];
        let mut ops = [get_op(fx.k.as_bytes(), &mut out)];
        get_batch(fx, &mut ops, abi::GetBatchArgs { flags: 1, ..Default::default() })
    },
    /// GET_BATCH with `pad` 1.
    field_get_batch_pad: INVAL => |fx| {
        let mut out = [0u8; 16];
        let mut ops = [get_op(fx.k.as_bytes(), &mut out)];
        get_batch(fx, &mut ops, abi::GetBatchArgs { pad: 1, ..Default::default() })
    },
    /// GET_BATCH with `reserved[0]` 1.
    field_get_batch_reserved0: INVAL => |fx| {
        let mut out = [0u8; 16];
        let mut ops = [get_op(fx.k.as_bytes(), &mut out)];
        get_batch(fx, &mut ops, abi::GetBatchArgs { reserved: [1, 0], ..Default::default() })
    },
    /// GET_BATCH with `reserved[1]` bit 63.
    field_get_batch_reserved1: INVAL => |fx| {
        let mut out = [0u8; 16];
        let mut ops = [get_op(fx.k.as_bytes(), &mut out)];
        get_batch(fx, &mut ops, abi::GetBatchArgs { reserved: [0, 1 << 63], ..Default::default() })
    },
    /// GET_BATCH whose array is at an unmapped address.
    field_get_batch_unmapped_ops: FAULT => |fx| {
        let mut a = abi::GetBatchArgs { ops: fx.hole.unmapped(), count: 2, ..Default::default() };
        ioctl(fx.store, abi::IOC_GET_BATCH, &mut a)
    },
    /// GET_BATCH whose array runs into an unmapped page after its first get: no get runs (its
    /// buffer stays untouched).
    field_get_batch_ops_straddle_hole: FAULT => |fx| {
        let mut out = [0xaau8; 16];
        let op = get_op(fx.k.as_bytes(), &mut out);
        let ops = fx.hole.place_at_end(&bytes_of(&op));
        let mut a = abi::GetBatchArgs { ops, count: 2, ..Default::default() };
        let r = ioctl(fx.store, abi::IOC_GET_BATCH, &mut a);
        assert_eq!(out, [0xaa; 16], "no get of a batch whose array faults runs");
        r
    },
    /// GET_BATCH whose array address plus length wraps around.
    field_get_batch_ops_range_wraps: FAULT => |fx| {
        let mut a = abi::GetBatchArgs { ops: u64::MAX - 39, count: 2, ..Default::default() };
        ioctl(fx.store, abi::IOC_GET_BATCH, &mut a)
    },
    /// GET_BATCH whose header is at an unmapped address.
    field_get_batch_unmapped_header: FAULT => |fx| {
        ioctl_at(fx.store, abi::IOC_GET_BATCH, fx.hole.unmapped())
    },
    /// DELETE with bit 31 next to `DELETE_RECURSIVE`, of the fixture's root.
    field_delete_flag_bit31_with_recursive: INVAL =>
        |fx| delete(fx, fx.base().as_bytes(), abi::DELETE_RECURSIVE | (1 << 31)),
    /// DELETE with the first unknown flag, of a leaf.
    field_delete_flag_bit2: INVAL => |fx| delete(fx, fx.k.as_bytes(), 1 << 2),
    /// DELETE with an `expected_version` but without `DELETE_IF_VERSION`.
    field_delete_expected_version_without_flag: INVAL => |fx| {
        let mut a = DeleteArgs { expected_version: 1, ..delete_args(fx.k.as_bytes(), 0) };
        ioctl(fx.store, abi::IOC_DELETE, &mut a)
    },
    /// A conditional recursive DELETE of the fixture's root with a version it does not have.
    field_delete_if_version_stale: STALE => |fx| {
        let mut a = DeleteArgs {
            expected_version: u64::MAX,
            ..delete_args(fx.base().as_bytes(), abi::DELETE_IF_VERSION | abi::DELETE_RECURSIVE)
        };
        ioctl(fx.store, abi::IOC_DELETE, &mut a)
    },
    /// LIST with `flags` bit 31.
    field_list_flags: INVAL => |fx| {
        let mut out = [0u8; 64];
        let mut a = ListArgs { flags: 1 << 31, ..list_args(fx.p.as_bytes(), &mut out) };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// LIST with `pad` 1.
    field_list_pad: INVAL => |fx| {
        let mut out = [0u8; 64];
        let mut a = ListArgs { pad: 1, ..list_args(fx.p.as_bytes(), &mut out) };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// LIST with `reserved[1]` 1.
    field_list_reserved1: INVAL => |fx| {
        let mut out = [0u8; 64];
        let mut a = ListArgs { reserved: [0, 1], ..list_args(fx.p.as_bytes(), &mut out) };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// STAT with `flags` 1.
    field_stat_flags: INVAL => |fx| {
        let mut a = StatArgs { flags: 1, ..stat_args(fx.k.as_bytes()) };
        ioctl(fx.store, abi::IOC_STAT, &mut a)
    },
}

// --- Several faults at once: the documented check order ---

cases! {
    /// A non-zero `reserved` wins over a NULL path (the structure is checked first).
    order_reserved_before_path_pointer: INVAL => |fx| {
        let mut a = SetArgs { path: 0, path_len: 8, expected_version: 1, ..set_args(b"", b"v") };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// An unknown flag wins over a path that is too long.
    order_flags_before_path_length: INVAL => |fx| {
        let mut a = DeleteArgs { path: 0, path_len: u32::MAX, flags: 1 << 2, ..Default::default() };
        ioctl(fx.store, abi::IOC_DELETE, &mut a)
    },
    /// A path that is too long wins over its form (no leading `/`).
    order_path_length_before_form: NAMETOOLONG => |fx| {
        let p = path_len_bytes(fx, fx.max_path_len + 2);
        set(fx, &p[1..], b"v")
    },
    /// An unreadable path wins over a value that is too big.
    order_path_pointer_before_value_length: FAULT => |fx| {
        let mut a = SetArgs {
            path: fx.hole.unmapped(),
            path_len: 8,
            value: 0,
            value_len: u32::MAX,
            ..Default::default()
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A malformed path wins over a value that is too big.
    order_path_form_before_value_length: INVAL => |fx| {
        let value = vec![b'v'; fx.max_value_len + 1];
        set(fx, &under(fx, b"//new"), &value)
    },
    /// A value that is too big wins over an unreadable value address.
    order_value_length_before_value_pointer: TOOBIG => |fx| {
        let mut a = SetArgs {
            value: KERNEL_ADDR,
            value_len: fx.max_value_len as u32 + 1,
            ..set_args(fx.k.as_bytes(), b"")
        };
        ioctl(fx.store, abi::IOC_SET, &mut a)
    },
    /// A value that is too big wins over `EEXIST` (the store is looked at last).
    order_value_length_before_eexist: TOOBIG => |fx| {
        let value = vec![b'v'; fx.max_value_len + 1];
        set_flags(fx, fx.k.as_bytes(), &value, abi::SET_CREATE)
    },
    /// A cursor that is too long wins over an unreadable cursor address.
    order_cursor_length_before_cursor_pointer: NAMETOOLONG => |fx| {
        let mut out = [0u8; 64];
        let mut a = ListArgs {
            after: fx.hole.unmapped(),
            after_len: 256,
            ..list_args(fx.p.as_bytes(), &mut out)
        };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// A malformed path wins over a bad cursor.
    order_path_form_before_cursor: INVAL => |fx| {
        let mut out = [0u8; 64];
        let path = format!("{}/..", fx.p);
        let mut a = ListArgs {
            after: KERNEL_ADDR,
            after_len: 1,
            ..list_args(path.as_bytes(), &mut out)
        };
        ioctl(fx.store, abi::IOC_LIST, &mut a)
    },
    /// The store (`ENOENT`) is looked at before the output buffer is written.
    order_enoent_before_output_buffer: NOENT => |fx| {
        let mut a = GetArgs {
            buf: fx.hole.unmapped(),
            buf_len: 64,
            ..get_args(fx.leaf.as_bytes(), &mut [])
        };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
    /// `ERANGE` is decided before the (unwritable) buffer is touched.
    order_erange_before_output_buffer: RANGE => |fx| {
        let mut a = GetArgs { buf: KERNEL_ADDR, buf_len: 2, ..get_args(fx.k.as_bytes(), &mut []) };
        ioctl(fx.store, abi::IOC_GET, &mut a)
    },
}

// --- The text interface: malformed commands through write(2) ---

/// The pending response every text case starts from: that of `get k`.
const PENDING: &[u8] = b"keep\n";

/// On a new session whose pending response is [`PENDING`], writes `len` bytes at user address
/// `at` as one command; then checks that the failed command left the response as it was.
fn text_at(fx: &Fx<'_>, at: u64, len: usize) -> Outcome {
    let file = open_text();
    text_write(&file, format!("get {}", fx.k).as_bytes()).expect("text get k");
    let start: *const c_void = ptr::with_exposed_provenance(at as usize);
    // SAFETY: `write` only reads; `at..at + len` is a live buffer of the case or memory the
    // kernel refuses (or the module must not read: see the cases).
    let n = unsafe { libc::write(file.as_raw_fd(), start, len) };
    let outcome = if n < 0 {
        Err(last_errno())
    } else {
        assert_eq!(
            n as usize, len,
            "a text command is taken whole or not at all"
        );
        Ok(())
    };
    let response = read_response(&file);
    assert_eq!(
        response,
        PENDING,
        "after {outcome:?}, the pending response should still be that of `get k`, got {}",
        show(&response)
    );
    outcome
}

/// The errno of the last failed libc call.
fn last_errno() -> Errno {
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// [`text_at`] for a command in memory.
fn text(fx: &Fx<'_>, command: impl AsRef<[u8]>) -> Outcome {
    let command = command.as_ref();
    text_at(fx, addr(command.as_ptr()), command.len())
}

/// The longest write the text interface accepts (see `docs/semantics.md`).
fn longest_command(fx: &Fx<'_>) -> usize {
    fx.max_path_len + fx.max_value_len + 40
}

cases! {
    /// An unknown verb.
    text_unknown_verb: INVAL => |fx| text(fx, format!("frob {}", fx.k)),
    /// Verbs are lower case.
    text_uppercase_verb: INVAL => |fx| text(fx, format!("SET {} v", fx.k)),
    /// `get` without its path.
    text_get_missing_path: INVAL => |fx| text(fx, "get\n"),
    /// `rm -r` without its path.
    text_rm_r_missing_path: INVAL => |fx| text(fx, "rm -r"),
    /// `set` with an empty path.
    text_set_empty_path: INVAL => |fx| text(fx, "set  v"),
    /// `create` without anything.
    text_create_missing_path: INVAL => |fx| text(fx, "create"),
    /// An argument after `get`'s path.
    text_get_extra_argument: INVAL => |fx| text(fx, format!("get {} extra", fx.k)),
    /// An argument after `stats`.
    text_stats_extra_argument: INVAL => |fx| text(fx, "stats now\n"),
    /// Two paths for `rm -r`.
    text_rm_r_two_paths: INVAL => |fx| text(fx, format!("rm -r {} {}", fx.k, fx.p)),
    /// An unknown option of `rm`.
    text_rm_unknown_option: INVAL => |fx| text(fx, format!("rm -f {}", fx.k)),
    /// Two spaces between the verb and the path.
    text_double_space: INVAL => |fx| text(fx, format!("rm  {}", fx.k)),
    /// A leading space.
    text_leading_space: INVAL => |fx| text(fx, format!(" rm {}", fx.k)),
    /// A tab instead of the space.
    text_tab_separator: INVAL => |fx| text(fx, format!("rm\t{}", fx.k)),
    /// A CRLF line ending after a path: the `\r` is part of the path, naming a missing node.
    text_crlf_after_path_names_another_node: NOENT => |fx| text(fx, format!("rm {}\r\n", fx.k)),
    /// A CRLF line ending: the verb is `stats\r`.
    text_crlf_line_ending: INVAL => |fx| text(fx, "stats\r\n"),
    /// A relative path.
    text_relative_path: INVAL => |fx| text(fx, format!("set {} v", &fx.new[1..])),
    /// `..` climbing to the fixture's root, on `rm -r`.
    text_dotdot_rm_r: INVAL => |fx| text(fx, format!("rm -r {}/../..", fx.c)),
    /// An empty component.
    text_double_slash_path: INVAL => |fx| text(fx, format!("set {}//new v", fx.base())),
    /// A NUL byte in the path.
    text_nul_in_path: INVAL =>
        |fx| text(fx, [b"set ".as_slice(), fx.base().as_bytes(), b"/ne\0w v"].concat()),
    /// A newline inside the value.
    text_newline_in_value: INVAL => |fx| text(fx, format!("set {} a\nb", fx.k)),
    /// Two newlines at the end.
    text_two_newlines: INVAL => |fx| text(fx, format!("rm {}\n\n", fx.k)),
    /// A lone newline.
    text_lone_newline: INVAL => |fx| text(fx, "\n"),
    /// A write of zero bytes.
    text_empty_write: INVAL => |fx| text(fx, ""),
    /// Binary junk (seeded random bytes, a NUL first so that it can never be a verb).
    text_binary_junk: INVAL => |fx| {
        let mut junk = Rng::new(0xbad_1a7e).bytes(300);
        junk[0] = 0;
        text(fx, junk)
    },
    /// One byte past the longest valid command: refused whole.
    text_over_long_line: TOOBIG => |fx| {
        let mut line = format!("set {} ", fx.k).into_bytes();
        line.resize(longest_command(fx) + 1, b'x');
        text(fx, line)
    },
    /// A value one byte longer than `max_value_len`, in a line of acceptable length.
    text_value_too_big: TOOBIG => |fx| {
        let mut line = format!("set {} ", fx.k).into_bytes();
        line.resize(line.len() + fx.max_value_len + 1, b'x');
        text(fx, line)
    },
    /// A path longer than `max_path_len`.
    text_path_too_long: NAMETOOLONG => |fx| {
        let mut line = b"rm -r ".to_vec();
        line.extend(path_len_bytes(fx, fx.max_path_len + 1));
        text(fx, line)
    },
    /// A 256-byte name.
    text_name_too_long: NAMETOOLONG =>
        |fx| text(fx, format!("create {}/{} v", fx.base(), "n".repeat(256))),
    /// A path too deep.
    text_path_too_deep: NAMETOOLONG =>
        |fx| text(fx, format!("set {} v", path_of_depth("", fx.max_depth + 1))),
    /// A length far past the longest command over a small buffer: refused before reading.
    text_huge_length: TOOBIG => |fx| {
        let command = format!("set {} v", fx.k);
        text_at(fx, addr(command.as_ptr()), 1 << 30)
    },
    /// A `set` of `k` to a 60000-byte value, whose buffer is cut short by an unmapped page:
    /// nothing of it is set.
    text_write_cut_short_by_unmapped_page: FAULT => |fx| {
        let mut line = format!("set {} ", fx.k).into_bytes();
        line.resize(line.len() + 60_000, b'x');
        let at = fx.hole.place_at_end(&line);
        text_at(fx, at, line.len() + 1)
    },
    /// A command in an unmapped page.
    text_write_unmapped: FAULT => |fx| text_at(fx, fx.hole.unmapped(), 16),
    /// A NULL buffer.
    text_write_null: FAULT => |fx| text_at(fx, 0, 16),
    /// A buffer at a kernel address.
    text_write_kernel: FAULT => |fx| text_at(fx, KERNEL_ADDR, 16),
    /// A read into an unmapped page fails and leaves the pending response in place.
    text_read_into_unmapped_page: FAULT => |fx| {
        let file = open_text();
        text_write(&file, format!("get {}", fx.k).as_bytes()).expect("text get k");
        let to: *mut c_void = ptr::with_exposed_provenance_mut(fx.hole.unmapped() as usize);
        // SAFETY: the kernel refuses the unmapped page; nothing is written in this process.
        let n = unsafe { libc::read(file.as_raw_fd(), to, 64) };
        let outcome = if n < 0 {
            Err(last_errno())
        } else {
            Ok(())
        };
        assert_eq!(read_response(&file), PENDING, "the response stays pending after {outcome:?}");
        outcome
    },
    /// A failed command on a session with nothing pending leaves nothing pending.
    text_failure_with_nothing_pending_reads_eof: INVAL => |fx| {
        let file = open_text();
        text_write(&file, format!("get {}", fx.k).as_bytes()).expect("text get k");
        assert_eq!(read_response(&file), PENDING);
        let outcome = text_write(&file, b"get");
        assert_eq!(read_response(&file), b"", "nothing pending: end of file");
        outcome
    },
}

// --- Signals (handler without SA_RESTART) during large sets and gets ---

/// Signals the handler saw.
static SIGNALS_SEEN: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS_SEEN.fetch_add(1, Ordering::Relaxed);
}

/// A `SIGUSR1` handler installed without `SA_RESTART` (so that interrupted calls fail with
/// `EINTR` rather than restart); the previous one comes back when dropped.
struct Handler {
    old: libc::sigaction,
}

impl Handler {
    fn install() -> Self {
        // SAFETY: an all-zero `sigaction` is a valid "default" value to fill in.
        let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
        new.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        new.sa_flags = 0;
        // SAFETY: `new` and `old` are valid `sigaction`s; the handler only touches an atomic.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let r = unsafe {
            libc::sigemptyset(&mut new.sa_mask);
            libc::sigaction(libc::SIGUSR1, &new, &mut old)
        };
        assert_eq!(r, 0, "sigaction: {}", std::io::Error::last_os_error());
        Handler { old }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        // SAFETY: restores the handler saved by `install`.
        unsafe { libc::sigaction(libc::SIGUSR1, &self.old, ptr::null_mut()) };
    }
}

/// Runs `work` on a thread that another thread keeps sending `SIGUSR1` (every 100-300 µs)
/// until it returns. Returns `work`'s result and the number of signals sent.
fn under_signal_storm<R: Send>(work: impl FnOnce() -> R + Send) -> (R, usize) {
    let _handler = Handler::install();
    let done = AtomicBool::new(false);
    let done = &done;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        let worker = scope.spawn(move || {
            // SAFETY: `pthread_self` has no preconditions.
            tx.send(unsafe { libc::pthread_self() }).expect("send");
            let result = work();
            done.store(true, Ordering::SeqCst);
            result
        });
        let thread = rx.recv().expect("the worker's thread id");
        let mut sent = 0usize;
        let mut rng = Rng::new(0x5151);
        while !done.load(Ordering::SeqCst) {
            // SAFETY: `thread` is a thread of this scope, not yet joined, so its id is valid.
            if unsafe { libc::pthread_kill(thread, libc::SIGUSR1) } == 0 {
                sent += 1;
            }
            std::thread::sleep(Duration::from_micros(rng.range(100, 300)));
        }
        let result = worker.join().expect("the worker thread panicked");
        (result, sent)
    })
}

/// The `n`-th value of a storm: `max_value_len` bytes that say who wrote them, printable and
/// without newlines when `text` (for the text interface).
fn storm_value(n: u32, max: usize, text: bool) -> Vec<u8> {
    let header = format!("w1:{n}:").len();
    let mut v = tagged_value(1, n, max - header);
    if text {
        for b in &mut v[header..] {
            *b = b'a' + *b % 26;
        }
    }
    v
}

/// Reads the pending response of a text session until end of file, one `read(2)` at a time,
/// without retrying on `EINTR` (as `std`'s `read_to_end` would): any error is returned.
fn read_uninterrupted(file: &std::fs::File) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match rustix::io::read(file, &mut chunk)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Asserts that the calls of a storm were interrupted by signals: the handler ran while they
/// did, so each call had its chance to fail with `EINTR` (and did not).
#[track_caller]
fn assert_signals_arrived(calls: usize, sent: usize, seen: usize) {
    println!("{calls} calls, all complete; {sent} signals sent, {seen} handled");
    assert!(
        seen > 0,
        "the handler should have run (signals sent: {sent})"
    );
}

#[test]
fn signal_storm_during_max_size_ioctl_set_get() {
    let store = open();
    let s = Scratch::new(&store, "bad_signal_ioctl");
    let path = s.path("v");
    let max = stats(&store).max_value_len as usize;
    let iterations = scaled(150) as u32;
    store
        .set(&path, storm_value(u32::MAX, max, false))
        .expect("initial set");
    let seen_before = SIGNALS_SEEN.load(Ordering::Relaxed);
    let (calls, sent) = under_signal_storm(|| {
        let mut calls = 0;
        let mut buf = vec![0u8; max];
        for n in 0..iterations {
            let value = storm_value(n, max, false);
            let seq = store
                .store_stats()
                .unwrap_or_else(|e| panic!("store_stats {n}: {e} (only watches are interruptible)"))
                .sequence;
            let version = store
                .set(&path, &value)
                .unwrap_or_else(|e| panic!("set {n}: {e} (only watches are interruptible)"));
            assert!(
                version > seq,
                "set {n}: version {version} not above the sequence {seq}"
            );
            let got = store
                .get_into(&path, &mut buf)
                .unwrap_or_else(|e| panic!("get {n}: {e} (only watches are interruptible)"));
            assert!(
                buf[..got.len] == value[..],
                "get {n}: the value must read back whole ({} bytes, expected {})",
                got.len,
                value.len()
            );
            calls += 3;
        }
        calls
    });
    let seen = SIGNALS_SEEN.load(Ordering::Relaxed) - seen_before;
    assert_signals_arrived(calls, sent, seen);
}

#[test]
fn signal_storm_during_max_size_text_set_get() {
    let store = open();
    let s = Scratch::new(&store, "bad_signal_text");
    let path = s.path("v");
    let max = stats(&store).max_value_len as usize;
    let iterations = scaled(100) as u32;
    store
        .set(&path, storm_value(u32::MAX, max, true))
        .expect("initial set");
    let file = open_text();
    let seen_before = SIGNALS_SEEN.load(Ordering::Relaxed);
    let (calls, sent) = under_signal_storm(|| {
        let mut calls = 0;
        for n in 0..iterations {
            let value = storm_value(n, max, true);
            let mut command = format!("set {path} ").into_bytes();
            command.extend_from_slice(&value);
            command.push(b'\n');
            if let Err(e) = text_write(&file, &command) {
                panic!("text set {n}: {e:?} (only watches are interruptible)");
            }
            if let Err(e) = text_write(&file, format!("get {path}").as_bytes()) {
                panic!("text get {n}: {e:?} (only watches are interruptible)");
            }
            let response = read_uninterrupted(&file).unwrap_or_else(|e| {
                panic!("text get {n}: reading the response: {e:?} (only watches are interruptible)")
            });
            assert!(
                response.len() == value.len() + 1
                    && response[..value.len()] == value[..]
                    && response.ends_with(b"\n"),
                "text get {n}: the value must read back whole ({} bytes, expected {})",
                response.len(),
                value.len() + 1
            );
            calls += 3;
        }
        calls
    });
    let seen = SIGNALS_SEEN.load(Ordering::Relaxed) - seen_before;
    assert_signals_arrived(calls, sent, seen);
}

/// A version handshake through a raw `VersionArgs` still works after all this (the catalog's
/// ioctls go through the same helpers as the bad ones).
#[test]
fn raw_helpers_issue_valid_calls() {
    let store = open();
    let mut v = VersionArgs::default();
    ioctl(&store, abi::IOC_VERSION, &mut v).expect("VERSION");
    assert_eq!(v.abi_version, abi::ABI_VERSION);
    let s = Scratch::new(&store, "bad_raw_helpers");
    let k = s.path("k");
    let mut a = set_args(k.as_bytes(), b"value");
    ioctl(&store, abi::IOC_SET, &mut a).expect("SET");
    let mut out = [0u8; 16];
    let mut g = get_args(k.as_bytes(), &mut out);
    ioctl(&store, abi::IOC_GET, &mut g).expect("GET");
    assert_eq!(&out[..g.value_len as usize], b"value");
    let mut st = StoreStats::default();
    ioctl(&store, abi::IOC_STORE_STATS, &mut st).expect("STORE_STATS");
    assert_eq!(st.sequence, a.version);
}
