//! Raw ioctls with hand-built arguments: non-zero reserved and padding fields (`EINVAL`), bad
//! user addresses for the argument and for the path, value, cursor and buffer it points at
//! (`EFAULT`), unknown or mis-encoded ioctl numbers (`ENOTTY`), and the fields the module fills.

use std::ffi::c_void;
use std::mem::{align_of, size_of};
use std::ptr;

use integration::args::{addr, delete_args, get_args, list_args, set_args, stat_args};
use integration::{
    assert_same_snapshot, expect_raw_errno, expect_raw_fails_unchanged, ok, open, snapshot, stat,
    stats, Scratch, NOTHING,
};
use pathstore::abi::{
    self, DeleteArgs, GetArgs, ListArgs, NodeStat, SetArgs, StatArgs, StoreStats, VersionArgs,
};
use pathstore::{Errno, Pathstore};
use rustix::mm::{mmap_anonymous, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};

/// The lowest kernel address on x86-64 (and the start of the kernel half on arm64 with 48-bit
/// addresses): never accessible from userspace.
const KERNEL_ADDR: u64 = 0xffff_8000_0000_0000;

/// Issues `cmd` with the argument at user address `arg`.
///
/// # Safety
///
/// `arg`, and every address in the structure it points at, must be either memory the module may
/// read and write as `cmd` says (live for the call, not otherwise borrowed), or an address the
/// kernel refuses to access (0, an inaccessible page, a kernel address).
unsafe fn ioctl_at(store: &Pathstore, cmd: u32, arg: u64) -> Result<i32, Errno> {
    let arg: *mut c_void = ptr::with_exposed_provenance_mut(arg as usize);
    // SAFETY: the caller guarantees `ioctl_raw`'s contract.
    unsafe { store.ioctl_raw(cmd, arg) }
}

/// Issues `cmd` with `arg`.
///
/// # Safety
///
/// Every address in `arg` must be either memory the module may read (and write, for output
/// buffers) for the length given, live for the call and not otherwise borrowed, or an address
/// the kernel refuses to access.
unsafe fn ioctl<T>(store: &Pathstore, cmd: u32, arg: &mut T) -> Result<i32, Errno> {
    // SAFETY: `arg` is a live, exclusive `T`: ABI structures are plain integers, valid for any
    // bytes the module writes; the caller vouches for the addresses inside.
    unsafe { ioctl_at(store, cmd, addr(ptr::from_mut(arg))) }
}

/// Two pages of anonymous memory: the first readable and writable (until
/// [`Pages::make_first_read_only`]), the second inaccessible.
struct Pages {
    base: *mut c_void,
    page: usize,
}

impl Pages {
    fn new() -> Self {
        let page = rustix::param::page_size();
        // SAFETY: a new private anonymous mapping placed by the kernel overlaps nothing.
        let base = unsafe {
            mmap_anonymous(
                ptr::null_mut(),
                2 * page,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .expect("mmap of two pages");
        // SAFETY: the second page belongs to this mapping and nothing refers to it.
        unsafe { mprotect(base.byte_add(page), page, MprotectFlags::empty()) }
            .expect("mprotect PROT_NONE");
        Pages { base, page }
    }

    /// The address `offset` bytes into the first page.
    fn at(&self, offset: usize) -> *mut u8 {
        assert!(offset <= self.page);
        self.base.cast::<u8>().wrapping_add(offset)
    }

    /// The address of the inaccessible second page.
    fn none(&self) -> u64 {
        addr(self.at(self.page))
    }

    /// Copies `bytes` to the end of the first page; returns their address.
    fn place_at_end(&self, bytes: &[u8]) -> u64 {
        let dst = self.at(self.page - bytes.len());
        // SAFETY: `dst..dst + len` is inside the first page, readable and writable, and not
        // referenced by anything else.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
        addr(dst)
    }

    /// Writes `value` at `offset` into the first page; returns its address.
    fn put<T: Copy>(&self, offset: usize, value: T) -> u64 {
        assert!(offset + size_of::<T>() <= self.page && offset % align_of::<T>() == 0);
        let dst = self.at(offset).cast::<T>();
        // SAFETY: in bounds and aligned (checked above), in the writable first page.
        unsafe { dst.write(value) };
        addr(dst)
    }

    /// Makes the first page read-only.
    fn make_first_read_only(&self) {
        // SAFETY: the first page belongs to this mapping; nothing holds a reference into it.
        unsafe { mprotect(self.base, self.page, MprotectFlags::READ) }.expect("mprotect PROT_READ");
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `Pages::new` and nothing refers to it any more.
        let _ = unsafe { munmap(self.base, 2 * self.page) };
    }
}

/// Every ioctl of the ABI: name, number, argument size.
const COMMANDS: [(&str, u32, usize); 8] = [
    ("VERSION", abi::IOC_VERSION, size_of::<VersionArgs>()),
    ("SET", abi::IOC_SET, size_of::<SetArgs>()),
    ("GET", abi::IOC_GET, size_of::<GetArgs>()),
    ("DELETE", abi::IOC_DELETE, size_of::<DeleteArgs>()),
    ("LIST", abi::IOC_LIST, size_of::<ListArgs>()),
    ("STAT", abi::IOC_STAT, size_of::<StatArgs>()),
    ("STORE_STATS", abi::IOC_STORE_STATS, size_of::<StoreStats>()),
    (
        "STORE_STATS_V1",
        abi::IOC_STORE_STATS_V1,
        abi::STORE_STATS_V1_SIZE as usize,
    ),
];

/// Addresses the kernel must refuse, with a description: NULL, an inaccessible page, a kernel
/// address.
fn bad_addresses(pages: &Pages) -> [(&'static str, u64); 3] {
    [
        ("NULL", 0),
        ("an inaccessible page", pages.none()),
        ("a kernel address", KERNEL_ADDR),
    ]
}

/// A description and a change to a valid argument structure.
type Variant<T> = (&'static str, fn(&mut T));

#[test]
fn nonzero_reserved_or_pad_fields_are_einval() {
    let store = open();
    let s = Scratch::new(&store, "raw_reserved");
    let (old, new) = (s.path("old"), s.path("new"));
    ok("set old/c", store.set(format!("{old}/c"), "c"));
    ok("set old", store.set(&old, "keep"));
    let watch = [old.clone(), new.clone(), format!("{old}/c")];
    let mut out = [0u8; 64];

    let base_set = |path: &str| set_args(path.as_bytes(), b"value");
    let set_variants: [Variant<SetArgs>; 4] = [
        ("mode = 1 without SET_MODE", |a| a.mode = 1),
        ("expected_version = 1 without SET_IF_VERSION", |a| {
            a.expected_version = 1
        }),
        ("SET_IF_VERSION with SET_CREATE", |a| {
            a.flags = abi::SET_IF_VERSION | abi::SET_CREATE
        }),
        ("SET_IF_VERSION with SET_EPHEMERAL", |a| {
            a.flags = abi::SET_IF_VERSION | abi::SET_EPHEMERAL
        }),
    ];
    for path in [&new, &old] {
        for (what, change) in set_variants {
            let mut a = base_set(path);
            change(&mut a);
            expect_raw_fails_unchanged(
                &store,
                &watch,
                format_args!("SET {path} with {what}"),
                Errno::INVAL,
                || {
                    // SAFETY: the path and value point at live strings of the lengths given.
                    unsafe { ioctl(&store, abi::IOC_SET, &mut a) }
                },
            );
        }
    }

    let get_variants: [Variant<GetArgs>; 4] = [
        ("flags = 1", |a| a.flags = 1),
        ("flags = 1 << 31", |a| a.flags = 1 << 31),
        ("reserved[0] = 1", |a| a.reserved[0] = 1),
        ("reserved[1] = 1", |a| a.reserved[1] = 1),
    ];
    for (what, change) in get_variants {
        let mut a = get_args(old.as_bytes(), &mut out);
        change(&mut a);
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("GET with {what}"),
            Errno::INVAL,
            || {
                // SAFETY: the path is a live string, the buffer a live local array.
                unsafe { ioctl(&store, abi::IOC_GET, &mut a) }
            },
        );
    }

    let delete_variants: [Variant<DeleteArgs>; 2] = [
        ("expected_version = 1 without DELETE_IF_VERSION", |a| {
            a.expected_version = 1
        }),
        ("unknown flag 1 << 2", |a| a.flags |= 1 << 2),
    ];
    for (what, change) in delete_variants {
        let mut a = delete_args(old.as_bytes(), abi::DELETE_RECURSIVE);
        change(&mut a);
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("DELETE with {what}"),
            Errno::INVAL,
            || {
                // SAFETY: the path is a live string.
                unsafe { ioctl(&store, abi::IOC_DELETE, &mut a) }
            },
        );
    }

    let list_variants: [Variant<ListArgs>; 5] = [
        ("flags = 1", |a| a.flags = 1),
        ("flags = 1 << 31", |a| a.flags = 1 << 31),
        ("pad = 1", |a| a.pad = 1),
        ("reserved[0] = 1", |a| a.reserved[0] = 1),
        ("reserved[1] = 1", |a| a.reserved[1] = 1),
    ];
    for (what, change) in list_variants {
        let mut a = list_args(old.as_bytes(), &mut out);
        change(&mut a);
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("LIST with {what}"),
            Errno::INVAL,
            || {
                // SAFETY: the path is a live string, the buffer a live local array.
                unsafe { ioctl(&store, abi::IOC_LIST, &mut a) }
            },
        );
    }

    for flags in [1u32, 1 << 31] {
        let mut a = stat_args(old.as_bytes());
        a.flags = flags;
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("STAT with flags {flags:#x}"),
            Errno::INVAL,
            || {
                // SAFETY: the path is a live string.
                unsafe { ioctl(&store, abi::IOC_STAT, &mut a) }
            },
        );
    }

    // The same structures with every such field zero succeed: the failures above were about
    // those fields.
    let mut a = get_args(old.as_bytes(), &mut out);
    // SAFETY: as above.
    expect_ok("GET", unsafe { ioctl(&store, abi::IOC_GET, &mut a) });
    assert_eq!(&out[..a.value_len as usize], b"keep");
    let mut a = list_args(old.as_bytes(), &mut out);
    // SAFETY: as above.
    expect_ok("LIST", unsafe { ioctl(&store, abi::IOC_LIST, &mut a) });
    assert_eq!((a.count, &out[..a.buf_used as usize]), (1, &b"c\0"[..]));
    let mut a = stat_args(old.as_bytes());
    // SAFETY: as above.
    expect_ok("STAT", unsafe { ioctl(&store, abi::IOC_STAT, &mut a) });
    assert_eq!(a.stat, stat(&store, &old));
    let mut a = base_set(&new);
    // SAFETY: as above.
    expect_ok("SET", unsafe { ioctl(&store, abi::IOC_SET, &mut a) });
    assert_eq!(
        a.version,
        stats(&store).sequence,
        "SET fills in the new version"
    );
    let mut a = delete_args(old.as_bytes(), abi::DELETE_RECURSIVE);
    // SAFETY: as above.
    expect_ok("DELETE", unsafe { ioctl(&store, abi::IOC_DELETE, &mut a) });
    assert!(!ok("exists", store.exists(&old)));
}

/// Asserts that a raw ioctl succeeded with 0.
#[track_caller]
fn expect_ok(what: &str, result: Result<i32, Errno>) {
    match result {
        Ok(0) => {}
        Ok(ret) => panic!("{what}: expected 0, the ioctl returned {ret}"),
        Err(errno) => panic!(
            "{what}: expected success, got {}",
            pathstore::ErrnoDisplay(errno)
        ),
    }
}

/// An ioctl number as the kernel's `_IOC` builds it.
fn ioc(dir: u32, typ: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (typ << 8) | nr
}

const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// A zeroed argument area large enough for any size encoded in a number below, holding a valid
/// `SetArgs` (so that a command mistaken for a set would visibly create `path`).
#[repr(C, align(8))]
struct Arena([u8; 1024]);

fn enotty_checks(store: &Pathstore, path: &str, cmds: &[(String, u32)]) {
    let value = b"created by a mis-dispatched ioctl";
    for (what, cmd) in cmds {
        let mut arena = Arena([0; 1024]);
        let a = set_args(path.as_bytes(), value);
        // SAFETY: `SetArgs` (88 bytes, align 8) fits at the start of the aligned arena.
        unsafe { ptr::from_mut(&mut arena).cast::<SetArgs>().write(a) };
        expect_raw_fails_unchanged(
            store,
            &[path],
            format_args!("ioctl {what} ({cmd:#010x})"),
            Errno::NOTTY,
            || {
                // SAFETY: the arena is live and writable for 1024 bytes, more than any size encoded
                // in these numbers; the addresses in it point at live strings.
                unsafe { ioctl(store, *cmd, &mut arena) }
            },
        );
    }
}

#[test]
fn unknown_ioctl_numbers_are_enotty() {
    let store = open();
    let s = Scratch::new(&store, "raw_enotty");
    let path = s.path("must_not_exist");
    let mut cmds = vec![("0".to_owned(), 0u32), ("all ones".to_owned(), u32::MAX)];
    // The first number no ioctl uses, and others further on.
    for nr in [0x0au32, 0x10, 0x7f, 0x80, 0xff] {
        for dir in [IOC_NONE, IOC_WRITE, IOC_READ, IOC_READ | IOC_WRITE] {
            for size in [0usize, 8, size_of::<SetArgs>(), size_of::<ListArgs>()] {
                cmds.push((
                    format!("nr {nr:#x} dir {dir} size {size}"),
                    ioc(dir, abi::IOC_MAGIC, nr, size),
                ));
            }
        }
    }
    for typ in [0xbau32, 0xb8, 0x00, 0xff] {
        for (name, cmd, _) in COMMANDS {
            cmds.push((
                format!("{name} with type {typ:#x}"),
                (cmd & !(0xff << 8)) | (typ << 8),
            ));
        }
    }
    enotty_checks(&store, &path, &cmds);
}

#[test]
fn wrong_size_or_direction_in_ioctl_number_is_enotty() {
    let store = open();
    let s = Scratch::new(&store, "raw_enotty_size");
    let path = s.path("must_not_exist");
    let mut cmds = Vec::new();
    for (name, cmd, size) in COMMANDS {
        let nr = cmd & 0xff;
        let dir = cmd >> 30;
        for wrong in [0, size - 8, size + 8, size * 2, 1] {
            cmds.push((
                format!("{name} with size {wrong}"),
                ioc(dir, abi::IOC_MAGIC, nr, wrong),
            ));
        }
        for wrong_dir in [IOC_NONE, IOC_WRITE, IOC_READ, IOC_READ | IOC_WRITE] {
            if wrong_dir != dir {
                cmds.push((
                    format!("{name} with direction {wrong_dir}"),
                    ioc(wrong_dir, abi::IOC_MAGIC, nr, size),
                ));
            }
        }
    }
    enotty_checks(&store, &path, &cmds);
}

#[test]
fn bad_argument_pointer_is_efault() {
    let store = open();
    let pages = Pages::new();
    for (name, cmd, size) in COMMANDS {
        let straddling = pages.none() - ((size as u64 / 2) & !7);
        let mut addresses = bad_addresses(&pages).to_vec();
        addresses.push(("a structure running into an inaccessible page", straddling));
        for (what, arg) in addresses {
            expect_raw_fails_unchanged(
                &store,
                NOTHING,
                format_args!("{name} with {what} as argument"),
                Errno::FAULT,
                || {
                    // SAFETY: `arg` is NULL, a kernel address, or (partly) in an inaccessible page;
                    // its accessible part is in `pages`, writable and otherwise unused.
                    unsafe { ioctl_at(&store, cmd, arg) }
                },
            );
        }
    }
}

#[test]
fn bad_path_pointer_is_efault() {
    let store = open();
    let s = Scratch::new(&store, "raw_bad_path");
    let k = s.path("k");
    ok("set k/c", store.set(format!("{k}/c"), "c"));
    ok("set k", store.set(&k, "v"));
    let watch = [k.clone(), format!("{k}/c")];
    let pages = Pages::new();
    let at_end = pages.place_at_end(k.as_bytes());
    let mut addresses: Vec<(&str, u64, u32)> = bad_addresses(&pages)
        .iter()
        .map(|&(what, a)| (what, a, k.len() as u32))
        .collect();
    // The path's bytes end where the page does, but the length claims one more.
    addresses.push((
        "a path running into an inaccessible page",
        at_end,
        k.len() as u32 + 1,
    ));
    let mut out = [0u8; 64];
    for (what, path, path_len) in addresses {
        let mut a = SetArgs {
            path,
            path_len,
            ..set_args(b"", b"value")
        };
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("SET with {what} as path"),
            Errno::FAULT,
            || {
                // SAFETY: the path address is refused by the kernel; the value is a live string.
                unsafe { ioctl(&store, abi::IOC_SET, &mut a) }
            },
        );
        let mut a = GetArgs {
            path,
            path_len,
            ..get_args(b"", &mut out)
        };
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("GET with {what} as path"),
            Errno::FAULT,
            || {
                // SAFETY: the path address is refused by the kernel; the buffer is a live array.
                unsafe { ioctl(&store, abi::IOC_GET, &mut a) }
            },
        );
        let mut a = DeleteArgs {
            path,
            path_len,
            flags: abi::DELETE_RECURSIVE,
            ..Default::default()
        };
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("DELETE with {what} as path"),
            Errno::FAULT,
            || {
                // SAFETY: the path address is refused by the kernel.
                unsafe { ioctl(&store, abi::IOC_DELETE, &mut a) }
            },
        );
        let mut a = ListArgs {
            path,
            path_len,
            ..list_args(b"", &mut out)
        };
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("LIST with {what} as path"),
            Errno::FAULT,
            || {
                // SAFETY: the path address is refused by the kernel; the buffer is a live array.
                unsafe { ioctl(&store, abi::IOC_LIST, &mut a) }
            },
        );
        let mut a = StatArgs {
            path,
            path_len,
            ..Default::default()
        };
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("STAT with {what} as path"),
            Errno::FAULT,
            || {
                // SAFETY: the path address is refused by the kernel.
                unsafe { ioctl(&store, abi::IOC_STAT, &mut a) }
            },
        );
    }
}

#[test]
fn bad_value_pointer_is_efault_and_creates_nothing() {
    let store = open();
    let s = Scratch::new(&store, "raw_bad_value");
    let (k, leaf) = (s.path("k"), s.path("new/leaf"));
    ok("set k", store.set(&k, "keep"));
    let watch = [k.clone(), s.path("new"), leaf.clone()];
    let pages = Pages::new();
    let at_end = pages.place_at_end(b"12345678");
    let mut addresses: Vec<(&str, u64)> = bad_addresses(&pages).to_vec();
    addresses.push(("a value running into an inaccessible page", at_end));
    for (what, value) in addresses {
        for path in [&k, &leaf] {
            let mut a = SetArgs {
                value,
                value_len: 16,
                ..set_args(path.as_bytes(), b"")
            };
            expect_raw_fails_unchanged(
                &store,
                &watch,
                format_args!("SET {path} with {what} as value"),
                Errno::FAULT,
                || {
                    // SAFETY: the path is a live string; the value address is refused by the kernel.
                    unsafe { ioctl(&store, abi::IOC_SET, &mut a) }
                },
            );
        }
    }
    assert_eq!(ok("get k", store.get(&k)), b"keep");
}

#[test]
fn bad_output_buffer_is_efault() {
    let store = open();
    let s = Scratch::new(&store, "raw_bad_buf");
    let k = s.path("k");
    ok("set k", store.set(&k, "hello"));
    let watch = [k.clone()];
    let pages = Pages::new();
    let read_only = Pages::new();
    read_only.make_first_read_only();
    let mut addresses: Vec<(&str, u64)> = bad_addresses(&pages).to_vec();
    addresses.push(("a read-only page", addr(read_only.at(0))));
    // "hello" and "k\0" both cross the page boundary from there.
    addresses.push((
        "a buffer running into an inaccessible page",
        addr(pages.at(pages.page - 1)),
    ));
    for (what, out) in addresses {
        let mut a = GetArgs {
            buf: out,
            buf_len: 64,
            ..get_args(k.as_bytes(), &mut [])
        };
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("GET into {what}"),
            Errno::FAULT,
            || {
                // SAFETY: the path is a live string; the buffer is refused by the kernel (or, for the
                // straddling one, its accessible byte is in `pages`, otherwise unused).
                unsafe { ioctl(&store, abi::IOC_GET, &mut a) }
            },
        );
        let mut a = ListArgs {
            buf: out,
            buf_len: 64,
            ..list_args(s.base().as_bytes(), &mut [])
        };
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("LIST into {what}"),
            Errno::FAULT,
            || {
                // SAFETY: as for GET.
                unsafe { ioctl(&store, abi::IOC_LIST, &mut a) }
            },
        );
    }
}

#[test]
fn bad_list_cursor_pointer_is_efault() {
    let store = open();
    let s = Scratch::new(&store, "raw_bad_cursor");
    ok("set", store.set(s.path("a"), ""));
    let watch = [s.base().to_owned()];
    let pages = Pages::new();
    let at_end = pages.place_at_end(b"a");
    let mut out = [0u8; 64];
    let mut addresses: Vec<(&str, u64, u32)> = bad_addresses(&pages)
        .iter()
        .map(|&(w, a)| (w, a, 1))
        .collect();
    addresses.push(("a cursor running into an inaccessible page", at_end, 2));
    for (what, after, after_len) in addresses {
        let mut a = ListArgs {
            after,
            after_len,
            ..list_args(s.base().as_bytes(), &mut out)
        };
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("LIST after {what}"),
            Errno::FAULT,
            || {
                // SAFETY: the path and buffer are live; the cursor address is refused by the kernel.
                unsafe { ioctl(&store, abi::IOC_LIST, &mut a) }
            },
        );
    }
}

#[test]
fn null_addresses_with_zero_lengths_are_fine() {
    let store = open();
    let s = Scratch::new(&store, "raw_null_zero");
    let k = s.path("k");
    let mut a = SetArgs {
        value: 0,
        value_len: 0,
        ..set_args(k.as_bytes(), b"")
    };
    // SAFETY: the path is a live string; the value is empty, its address NULL as documented.
    expect_ok("SET with a NULL empty value", unsafe {
        ioctl(&store, abi::IOC_SET, &mut a)
    });
    assert_eq!(a.version, stats(&store).sequence);
    assert_eq!(
        ok("get", store.get(&k)),
        b"",
        "the node holds an empty value"
    );
    assert_eq!(stat(&store, &k).flags, abi::STAT_HAS_VALUE);

    let mut a = GetArgs {
        buf: 0,
        buf_len: 0,
        ..get_args(k.as_bytes(), &mut [])
    };
    // SAFETY: the path is live; the buffer is empty.
    expect_ok("GET of an empty value into a NULL empty buffer", unsafe {
        ioctl(&store, abi::IOC_GET, &mut a)
    });
    assert_eq!((a.value_len, a.version), (0, stat(&store, &k).version));

    let mut a = ListArgs {
        after: 0,
        after_len: 0,
        buf: 0,
        buf_len: 0,
        ..list_args(k.as_bytes(), &mut [])
    };
    // SAFETY: the path is live; the cursor and buffer are empty.
    expect_ok("LIST of a leaf into a NULL empty buffer", unsafe {
        ioctl(&store, abi::IOC_LIST, &mut a)
    });
    assert_eq!((a.count, a.buf_used, a.result_flags), (0, 0, 0));
}

#[test]
fn erange_reports_size_and_version_in_the_argument() {
    let store = open();
    let s = Scratch::new(&store, "raw_erange");
    let k = s.path("k");
    let v = ok("set", store.set(&k, "sixsix"));
    let mut small = [0u8; 3];
    let mut a = get_args(k.as_bytes(), &mut small);
    // SAFETY: the path and buffer are live.
    expect_raw_errno(
        "GET with 3 bytes",
        unsafe { ioctl(&store, abi::IOC_GET, &mut a) },
        Errno::RANGE,
    );
    assert_eq!(
        (a.value_len, a.version),
        (6, v),
        "ERANGE reports the size needed and the version"
    );
    assert_eq!(small, [0; 3], "nothing is copied on ERANGE");
    let mut a = GetArgs {
        buf: 0,
        buf_len: 0,
        ..get_args(k.as_bytes(), &mut [])
    };
    // SAFETY: the path is live; the buffer is empty.
    expect_raw_errno(
        "GET with no buffer",
        unsafe { ioctl(&store, abi::IOC_GET, &mut a) },
        Errno::RANGE,
    );
    assert_eq!(a.value_len, 6);

    ok("set abc", store.set(s.path("dir/abc"), ""));
    let dir = s.path("dir");
    let mut small = [0u8; 2];
    let mut a = list_args(dir.as_bytes(), &mut small);
    // SAFETY: the path and buffer are live.
    expect_raw_errno(
        "LIST with 2 bytes",
        unsafe { ioctl(&store, abi::IOC_LIST, &mut a) },
        Errno::RANGE,
    );
    assert_eq!(
        (a.buf_used, a.count),
        (4, 0),
        "ERANGE reports the size the next name needs"
    );
}

#[test]
fn version_store_stats_and_stat_fill_every_field() {
    let store = open();
    let s = Scratch::new(&store, "raw_fill");
    ok("set", store.set(s.path("k"), "v"));
    let mut v = VersionArgs {
        abi_version: u32::MAX,
        module_version: u32::MAX,
        session: 0,
        reserved: [u64::MAX; 2],
    };
    // SAFETY: `VersionArgs` holds no addresses.
    expect_ok("VERSION", unsafe {
        ioctl(&store, abi::IOC_VERSION, &mut v)
    });
    assert_eq!(v.abi_version, abi::ABI_VERSION);
    assert_eq!(v.reserved, [0; 2], "VERSION zeroes reserved");
    assert_ne!(v.session, 0, "VERSION reports the file's session");
    assert_eq!(v, ok("version", store.version()));

    let mut st = StoreStats {
        nodes: u64::MAX,
        bytes: u64::MAX,
        max_nodes: u64::MAX,
        max_bytes: u64::MAX,
        sequence: u64::MAX,
        max_value_len: u32::MAX,
        max_path_len: u32::MAX,
        max_depth: u32::MAX,
        dev_mode: u32::MAX,
        uid_nodes: u64::MAX,
        uid_bytes: u64::MAX,
        uid_max_nodes: u64::MAX,
        uid_max_bytes: u64::MAX,
        reserve_nodes: u64::MAX,
        reserve_bytes: u64::MAX,
        watch_events: u32::MAX,
        watch_bytes: u32::MAX,
    };
    // SAFETY: `StoreStats` holds no addresses.
    expect_ok("STORE_STATS", unsafe {
        ioctl(&store, abi::IOC_STORE_STATS, &mut st)
    });
    assert!(
        st.dev_mode <= 0o777
            && st.reserve_nodes < st.max_nodes
            && st.reserve_bytes <= st.max_bytes
            && st.watch_events >= 1
            && st.watch_bytes >= st.max_path_len,
        "STORE_STATS fills the module parameters within their ranges: {st:?}"
    );
    assert_eq!(st, stats(&store));

    let k = s.path("k");
    let mut a = StatArgs {
        stat: NodeStat {
            version: u64::MAX,
            child_version: u64::MAX,
            ctime_ns: u64::MAX,
            mtime_ns: u64::MAX,
            num_children: u64::MAX,
            value_len: u32::MAX,
            flags: u32::MAX,
            uid: u32::MAX,
            mode: u32::MAX,
            session: u64::MAX,
        },
        ..stat_args(k.as_bytes())
    };
    // SAFETY: the path is live.
    expect_ok("STAT", unsafe { ioctl(&store, abi::IOC_STAT, &mut a) });
    assert_eq!(
        a.stat.session, 0,
        "STAT reports a persistent node's session as 0"
    );
    assert_eq!(a.stat, stat(&store, &k));
}

/// `StoreStats` as bytes.
fn stats_bytes(st: &StoreStats) -> [u8; size_of::<StoreStats>()] {
    // SAFETY: `StoreStats` is `repr(C)` plain integers without padding (the module proves it).
    unsafe { std::mem::transmute_copy(st) }
}

#[test]
fn store_stats_v1_writes_the_first_88_bytes_only() {
    // A program built before the structure grew issues the 88-byte number: it gets exactly the
    // first 88 bytes of what the current number reports, with `dev_mode` zero as `pad` was, and
    // nothing past them is written.
    let store = open();
    let v1 = abi::STORE_STATS_V1_SIZE as usize;
    assert_eq!(
        abi::IOC_STORE_STATS_V1,
        ioc(IOC_READ, abi::IOC_MAGIC, 6, v1),
        "the V1 number is the first STORE_STATS number, with 88 bytes"
    );
    assert_eq!(
        abi::IOC_STORE_STATS,
        ioc(IOC_READ, abi::IOC_MAGIC, 6, size_of::<StoreStats>())
    );
    let fill = |byte: u8| {
        let bytes = [byte; size_of::<StoreStats>()];
        // SAFETY: every byte pattern is a valid `StoreStats` (plain integers).
        unsafe { std::mem::transmute::<[u8; size_of::<StoreStats>()], StoreStats>(bytes) }
    };
    for byte in [0x00, 0xa5, 0xff] {
        let mut old = fill(byte);
        // SAFETY: `StoreStats` holds no addresses and is larger than the 88 bytes written.
        expect_ok("STORE_STATS_V1", unsafe {
            ioctl(&store, abi::IOC_STORE_STATS_V1, &mut old)
        });
        let mut new = fill(byte);
        // SAFETY: as above.
        expect_ok("STORE_STATS", unsafe {
            ioctl(&store, abi::IOC_STORE_STATS, &mut new)
        });
        let old_bytes = stats_bytes(&old);
        assert!(
            old_bytes[v1..].iter().all(|&b| b == byte),
            "STORE_STATS_V1 wrote past its 88 bytes: {old:?}"
        );
        assert_eq!(
            old.dev_mode, 0,
            "STORE_STATS_V1 reports dev_mode as the zero pad"
        );
        // The two calls ran one after the other on a store nobody else changes during this
        // pass's test (the default pass runs one test at a time): the same figures.
        let mut expect = new;
        expect.dev_mode = 0;
        assert_eq!(
            old_bytes[..v1],
            stats_bytes(&expect)[..v1],
            "STORE_STATS_V1 reports the first 88 bytes of STORE_STATS"
        );
        assert!(new.watch_events >= 1, "STORE_STATS reports watch_events");
    }
}

#[test]
fn addresses_ending_at_a_page_boundary_are_read_exactly() {
    let store = open();
    let s = Scratch::new(&store, "raw_boundary");
    let k = s.path("k");
    let (path_page, value_page) = (Pages::new(), Pages::new());
    let path = path_page.place_at_end(k.as_bytes());
    let value = value_page.place_at_end(b"value at the end");
    let mut a = SetArgs {
        path,
        path_len: k.len() as u32,
        value,
        value_len: 16,
        ..Default::default()
    };
    // SAFETY: the path and value lie inside the accessible pages, up to their last byte.
    expect_ok(
        "SET with path and value ending at a page boundary",
        unsafe { ioctl(&store, abi::IOC_SET, &mut a) },
    );
    assert_eq!(ok("get", store.get(&k)), b"value at the end");
    let mut out = [0u8; 32];
    let mut g = GetArgs {
        path,
        path_len: k.len() as u32,
        ..get_args(b"", &mut out)
    };
    // SAFETY: as above; the buffer is live.
    expect_ok("GET", unsafe { ioctl(&store, abi::IOC_GET, &mut g) });
    assert_eq!(&out[..g.value_len as usize], b"value at the end");
    let mut d = DeleteArgs {
        path,
        path_len: k.len() as u32,
        ..Default::default()
    };
    // SAFETY: as above.
    expect_ok("DELETE", unsafe { ioctl(&store, abi::IOC_DELETE, &mut d) });
    assert!(!ok("exists", store.exists(&k)));
}

#[test]
fn delete_reads_its_argument_only() {
    // DELETE is _IOW: a read-only argument is enough.
    let store = open();
    let s = Scratch::new(&store, "raw_ro_delete");
    let k = s.path("k");
    ok("set k/c", store.set(format!("{k}/c"), "v"));
    let pages = Pages::new();
    let arg = pages.put(0, delete_args(k.as_bytes(), abi::DELETE_RECURSIVE));
    pages.make_first_read_only();
    // SAFETY: the argument is readable in `pages`; its path is a live string.
    expect_ok("DELETE with a read-only argument", unsafe {
        ioctl_at(&store, abi::IOC_DELETE, arg)
    });
    assert!(!ok("exists", store.exists(&k)));
}

#[test]
fn read_only_argument_of_a_call_that_writes_it_is_efault() {
    let store = open();
    let s = Scratch::new(&store, "raw_ro_args");
    let k = s.path("k");
    ok("set", store.set(&k, "v"));
    let watch = [k.clone()];
    let mut out = [0u8; 64];
    let pages = Pages::new();
    let get = pages.put(0, get_args(k.as_bytes(), &mut out));
    let list = pages.put(256, list_args(s.base().as_bytes(), &mut out));
    let st = pages.put(512, stat_args(k.as_bytes()));
    let version = pages.put(768, VersionArgs::default());
    let stats_arg = pages.put(1024, StoreStats::default());
    pages.make_first_read_only();
    for (what, cmd, arg) in [
        ("GET", abi::IOC_GET, get),
        ("LIST", abi::IOC_LIST, list),
        ("STAT", abi::IOC_STAT, st),
        ("VERSION", abi::IOC_VERSION, version),
        ("STORE_STATS", abi::IOC_STORE_STATS, stats_arg),
    ] {
        expect_raw_fails_unchanged(
            &store,
            &watch,
            format_args!("{what} with a read-only argument"),
            Errno::FAULT,
            || {
                // SAFETY: the argument is readable in `pages` (the kernel cannot write it); the
                // addresses in it point at live strings and at `out`, not otherwise borrowed.
                unsafe { ioctl_at(&store, cmd, arg) }
            },
        );
    }
}

#[test]
fn set_with_read_only_argument_changes_nothing() {
    // The module cannot report the new version into a read-only SetArgs, so the call fails with
    // EFAULT; "a failed operation changes nothing" (README) then means the set must not happen.
    let store = open();
    let s = Scratch::new(&store, "raw_ro_set");
    let (old, new) = (s.path("old"), s.path("new/leaf"));
    ok("set old", store.set(&old, "keep"));
    let watch = [old.clone(), s.path("new"), new.clone()];
    let pages = Pages::new();
    let create = pages.put(0, set_args(new.as_bytes(), b"value"));
    let replace = pages.put(256, set_args(old.as_bytes(), b"replaced"));
    pages.make_first_read_only();
    for (what, arg) in [("creating new/leaf", create), ("replacing old", replace)] {
        let before = snapshot(&store, &watch);
        // SAFETY: the argument is readable in `pages`; its path and value are live strings.
        let result = unsafe { ioctl_at(&store, abi::IOC_SET, arg) };
        expect_raw_errno(
            format_args!("SET {what} with a read-only argument"),
            result,
            Errno::FAULT,
        );
        let after = snapshot(&store, &watch);
        assert_same_snapshot(
            format_args!("SET {what} with a read-only argument (EFAULT)"),
            &before,
            &after,
        );
    }
}
