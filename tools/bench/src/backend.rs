//! The stores the workloads run against: pathstore through its ioctls, tmpfs files at the same
//! paths, and the kernel keyring with the path as the key description.
//!
//! Each operation is what a program would do for one access, with nothing cached between calls:
//! a pathstore get is one `IOC_GET`; a tmpfs get is `open`/`read`/`close`; a keyring get is
//! `KEYCTL_SEARCH` (description to key) then `KEYCTL_READ`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pathstore::Pathstore;
use rustix::fs::{Mode, OFlags, RawDir};

use crate::layout::Layout;

/// Size of the buffer a list operation reads names (or directory entries) into.
pub const LIST_BUF: usize = 64 * 1024;

/// One store under test. Methods take `&self` so that two threads can share it.
pub trait Backend: Sync {
    /// Short name used in figures: `pathstore`, `tmpfs`, `keyring`.
    fn name(&self) -> &'static str;

    /// Why this backend cannot run `workload` on a store of `layout`, if it cannot.
    fn unsupported(&self, workload: &str, layout: &Layout) -> Option<String> {
        let _ = layout;
        no_batched_get(workload)
    }

    /// The backend's form of a store path (a directory path is empty for the root).
    fn key(&self, path: &str) -> Vec<u8>;

    /// Reads the value of `key` into `buf`; returns its length.
    fn get(&self, key: &[u8], buf: &mut [u8]) -> io::Result<usize>;

    /// Reads the values of `keys` into `bufs` (one buffer per key) in one call; returns their
    /// lengths. Only for backends that have such a call: the others answer
    /// [`BATCH_WORKLOAD`] in [`Backend::unsupported`].
    fn get_batch(&self, keys: &[Vec<u8>], bufs: &mut [&mut [u8]]) -> io::Result<Vec<usize>> {
        let _ = (keys, bufs);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    /// Replaces (or creates) the value of `key`.
    fn set(&self, key: &[u8], value: &[u8]) -> io::Result<()>;

    /// Creates `key`, which does not exist yet, with `value`.
    fn create(&self, key: &[u8], value: &[u8]) -> io::Result<()>;

    /// Deletes `key`.
    fn delete(&self, key: &[u8]) -> io::Result<()>;

    /// Lists the children of the directory `dir` (from [`Backend::key`]) with `buf` as the
    /// buffer; returns how many there are.
    fn list(&self, dir: &[u8], buf: &mut [u8]) -> io::Result<usize>;

    /// Creates the store's keys (and directories) with `value`.
    fn populate(&self, layout: &Layout, value: &[u8]) -> io::Result<()> {
        for i in 0..layout.keys {
            self.set(&self.key(&layout.key_path(i)), value)?;
        }
        Ok(())
    }

    /// Removes everything the backend stored.
    fn clear(&self) -> io::Result<()>;
}

/// An `io::Error` that names what failed.
pub fn context(err: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

fn from_pathstore(err: pathstore::Error) -> io::Error {
    io::Error::from_raw_os_error(err.errno().raw_os_error())
}

/// The batched-get workload: [`BATCH_GETS`] random keys in one call.
pub const BATCH_WORKLOAD: &str = "get_batch64";

/// Gets per call of [`BATCH_WORKLOAD`].
pub const BATCH_GETS: usize = 64;

/// Why a backend without a batched get cannot run [`BATCH_WORKLOAD`].
fn no_batched_get(workload: &str) -> Option<String> {
    (workload == BATCH_WORKLOAD).then(|| {
        "not applicable: no call reads several values at once (64 gets are 64 calls)".to_string()
    })
}

/// pathstore through `/dev/pathstore`: one ioctl per operation.
pub struct PathstoreBackend {
    store: Pathstore,
}

impl PathstoreBackend {
    /// Opens the device (and checks its ABI version).
    pub fn open(device: &Path) -> io::Result<Self> {
        let store = Pathstore::open_path(device)
            .map_err(|e| context(from_pathstore(e), device.display()))?;
        Ok(Self { store })
    }

    /// The open device.
    pub fn store(&self) -> &Pathstore {
        &self.store
    }

    /// The floor: `IOC_VERSION`, the cheapest ioctl, which does no work.
    pub fn version(&self) -> io::Result<()> {
        self.store.version().map(drop).map_err(from_pathstore)
    }
}

impl Backend for PathstoreBackend {
    fn name(&self) -> &'static str {
        "pathstore"
    }

    fn unsupported(&self, _workload: &str, _layout: &Layout) -> Option<String> {
        None
    }

    fn get_batch(&self, keys: &[Vec<u8>], bufs: &mut [&mut [u8]]) -> io::Result<Vec<usize>> {
        self.store
            .get_batch_into(keys, bufs)
            .map_err(from_pathstore)?
            .into_iter()
            .map(|got| got.map(|got| got.len).map_err(from_pathstore))
            .collect()
    }

    fn key(&self, path: &str) -> Vec<u8> {
        if path.is_empty() {
            b"/".to_vec()
        } else {
            path.as_bytes().to_vec()
        }
    }

    fn get(&self, key: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        self.store
            .get_into(key, buf)
            .map(|got| got.len)
            .map_err(from_pathstore)
    }

    fn set(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.store.set(key, value).map(drop).map_err(from_pathstore)
    }

    fn create(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.store
            .create(key, value)
            .map(drop)
            .map_err(from_pathstore)
    }

    fn delete(&self, key: &[u8]) -> io::Result<()> {
        self.store.delete(key).map_err(from_pathstore)
    }

    fn list(&self, dir: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        // The cursor is the last name of the previous page; it lives at the end of `buf`.
        let (page_buf, cursor_buf) = buf.split_at_mut(buf.len() - 256);
        let mut cursor_len = 0;
        let mut count = 0;
        loop {
            let page = self
                .store
                .list_page(dir, &cursor_buf[..cursor_len], page_buf)
                .map_err(from_pathstore)?;
            count += page.count;
            if !page.more {
                return Ok(count);
            }
            let last = page.names().last().ok_or(io::ErrorKind::InvalidData)?;
            cursor_len = last.len();
            cursor_buf[..cursor_len].copy_from_slice(last);
        }
    }

    fn clear(&self) -> io::Result<()> {
        self.store.delete_recursive("/").map_err(from_pathstore)
    }
}

/// Files in a tmpfs directory, at the same paths below it.
pub struct TmpfsBackend {
    root: PathBuf,
}

/// `statfs` magic number of tmpfs.
const TMPFS_MAGIC: u64 = 0x0102_1994;

impl TmpfsBackend {
    /// Uses the directory `root` (created if missing, emptied by [`Backend::clear`]).
    pub fn new(root: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| context(e, root.display()))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Whether the directory is on tmpfs.
    pub fn is_tmpfs(&self) -> bool {
        rustix::fs::statfs(&self.root)
            .is_ok_and(|s| u64::try_from(s.f_type).is_ok_and(|t| t == TMPFS_MAGIC))
    }

    fn cstr(key: &[u8]) -> io::Result<&CStr> {
        CStr::from_bytes_with_nul(key).map_err(|_| io::ErrorKind::InvalidInput.into())
    }

    fn open(key: &[u8], flags: OFlags) -> io::Result<OwnedFd> {
        Ok(rustix::fs::open(
            Self::cstr(key)?,
            flags | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )?)
    }

    fn write_value(fd: impl AsFd, value: &[u8]) -> io::Result<()> {
        let written = rustix::io::write(fd, value)?;
        if written != value.len() {
            return Err(io::ErrorKind::WriteZero.into());
        }
        Ok(())
    }
}

impl Backend for TmpfsBackend {
    fn name(&self) -> &'static str {
        "tmpfs"
    }

    fn key(&self, path: &str) -> Vec<u8> {
        let mut key = self.root.as_os_str().as_encoded_bytes().to_vec();
        key.extend_from_slice(path.as_bytes());
        key.push(0);
        key
    }

    fn get(&self, key: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        let fd = Self::open(key, OFlags::RDONLY)?;
        Ok(rustix::io::read(&fd, buf)?)
    }

    fn set(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let fd = Self::open(key, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC)?;
        Self::write_value(&fd, value)
    }

    fn create(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let fd = Self::open(key, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL)?;
        Self::write_value(&fd, value)
    }

    fn delete(&self, key: &[u8]) -> io::Result<()> {
        Ok(rustix::fs::unlink(Self::cstr(key)?)?)
    }

    fn list(&self, dir: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        let fd = Self::open(dir, OFlags::RDONLY | OFlags::DIRECTORY)?;
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and every `u8` is a valid
        // `MaybeUninit<u8>`; `RawDir` only writes initialised bytes through it.
        let uninit = unsafe {
            std::slice::from_raw_parts_mut(
                buf.as_mut_ptr().cast::<std::mem::MaybeUninit<u8>>(),
                buf.len(),
            )
        };
        let mut dir = RawDir::new(&fd, uninit);
        let mut count = 0;
        while let Some(entry) = dir.next() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                count += 1;
            }
        }
        Ok(count)
    }

    fn populate(&self, layout: &Layout, value: &[u8]) -> io::Result<()> {
        for dir in layout.dirs() {
            let path = self.root.join(&dir[1..]);
            std::fs::create_dir(&path).map_err(|e| context(e, path.display()))?;
        }
        for i in 0..layout.keys {
            self.set(&self.key(&layout.key_path(i)), value)?;
        }
        Ok(())
    }

    fn clear(&self) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            } else {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

/// `keyctl(2)` operations (from `<linux/keyctl.h>`).
mod keyctl {
    /// The calling process's keyring.
    pub const KEY_SPEC_PROCESS_KEYRING: i32 = -2;
    /// Empties a keyring.
    pub const KEYCTL_CLEAR: libc::c_long = 7;
    /// Removes a key from a keyring.
    pub const KEYCTL_UNLINK: libc::c_long = 9;
    /// Finds a key by type and description.
    pub const KEYCTL_SEARCH: libc::c_long = 10;
    /// Reads a key's payload.
    pub const KEYCTL_READ: libc::c_long = 11;
}

/// The kernel keyring: "user" keys in a keyring of their own, the path as the description.
pub struct KeyringBackend {
    keyring: i32,
    /// Keys the user owned once the keyring existed (`/proc/key-users`).
    baseline: Option<u64>,
}

const USER_TYPE: &CStr = c"user";

impl KeyringBackend {
    /// Creates a keyring `description` attached to the process keyring.
    pub fn new(description: &CStr) -> io::Result<Self> {
        let keyring = add_key(
            c"keyring",
            description,
            &[],
            keyctl::KEY_SPEC_PROCESS_KEYRING,
        )?;
        Ok(Self {
            keyring,
            baseline: user_keys(),
        })
    }

    fn cstr(key: &[u8]) -> io::Result<&CStr> {
        CStr::from_bytes_with_nul(key).map_err(|_| io::ErrorKind::InvalidInput.into())
    }

    fn search(&self, key: &[u8]) -> io::Result<libc::c_long> {
        let desc = Self::cstr(key)?;
        // SAFETY: KEYCTL_SEARCH reads two NUL-terminated strings, which live across the call;
        // the destination keyring 0 means "link nowhere".
        syscall_result(unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                keyctl::KEYCTL_SEARCH,
                libc::c_long::from(self.keyring),
                USER_TYPE.as_ptr(),
                desc.as_ptr(),
                0 as libc::c_long,
            )
        })
    }
}

/// `add_key(2)`: creates a key, or updates the key of that type and description in `keyring`.
fn add_key(ty: &CStr, description: &CStr, payload: &[u8], keyring: i32) -> io::Result<i32> {
    // SAFETY: add_key reads two NUL-terminated strings and `payload.len()` bytes at
    // `payload`, all alive across the call.
    let id = syscall_result(unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            description.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            libc::c_long::from(keyring),
        )
    })?;
    i32::try_from(id).map_err(|_| io::ErrorKind::InvalidData.into())
}

fn syscall_result(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl Backend for KeyringBackend {
    fn name(&self) -> &'static str {
        "keyring"
    }

    fn unsupported(&self, workload: &str, _layout: &Layout) -> Option<String> {
        (workload == "list")
            .then(|| {
                "a keyring has no hierarchy: reading it gives key ids, and names need one \
                 KEYCTL_DESCRIBE per key"
                    .to_string()
            })
            .or_else(|| no_batched_get(workload))
    }

    fn key(&self, path: &str) -> Vec<u8> {
        let mut key = path.as_bytes().to_vec();
        key.push(0);
        key
    }

    fn get(&self, key: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        let id = self.search(key)?;
        // SAFETY: KEYCTL_READ writes at most `buf.len()` bytes to `buf`, which is writable.
        let len = syscall_result(unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                keyctl::KEYCTL_READ,
                id,
                buf.as_mut_ptr(),
                buf.len(),
            )
        })?;
        Ok(len as usize)
    }

    fn set(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        add_key(USER_TYPE, Self::cstr(key)?, value, self.keyring).map(drop)
    }

    fn create(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.set(key, value)
    }

    fn delete(&self, key: &[u8]) -> io::Result<()> {
        let id = self.search(key)?;
        // SAFETY: KEYCTL_UNLINK takes two key ids and no pointers.
        syscall_result(unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                keyctl::KEYCTL_UNLINK,
                id,
                libc::c_long::from(self.keyring),
            )
        })
        .map(drop)
    }

    fn list(&self, _dir: &[u8], _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn clear(&self) -> io::Result<()> {
        // SAFETY: KEYCTL_CLEAR takes a key id and no pointers.
        syscall_result(unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                keyctl::KEYCTL_CLEAR,
                libc::c_long::from(self.keyring),
            )
        })?;
        // Unlinked keys are freed by the key garbage collector, a work item: wait for it so
        // that the next store starts with that memory back.
        if let Some(baseline) = self.baseline {
            let deadline = Instant::now() + Duration::from_secs(60);
            while user_keys().is_some_and(|n| n > baseline) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }
}

/// Keys the calling user owns, from `/proc/key-users`.
pub fn user_keys() -> Option<u64> {
    let uid = rustix::process::getuid().as_raw();
    let text = std::fs::read_to_string("/proc/key-users").ok()?;
    parse_key_users(&text, uid)
}

/// The `nkeys` field of user `uid` in the text of `/proc/key-users`
/// (`uid: usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes`).
pub fn parse_key_users(text: &str, uid: u32) -> Option<u64> {
    text.lines().find_map(|line| {
        let (id, rest) = line.trim().split_once(':')?;
        if id.trim().parse::<u32>().ok()? != uid {
            return None;
        }
        let nkeys = rest.split_whitespace().nth(1)?;
        nkeys.split('/').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_users_line() {
        let text = "    0:     6 5/5 3/1000000 40/25000000\n 1000:     1 2/2 2/200 9/20000\n";
        assert_eq!(parse_key_users(text, 0), Some(5));
        assert_eq!(parse_key_users(text, 1000), Some(2));
        assert_eq!(parse_key_users(text, 7), None);
    }

    #[test]
    fn tmpfs_backend_round_trip() {
        let dir = std::env::temp_dir().join(format!("pathstore-bench-test-{}", std::process::id()));
        let b = TmpfsBackend::new(&dir).unwrap();
        let layout = Layout::new(40, 3);
        b.populate(&layout, b"v1").unwrap();
        let mut buf = vec![0; LIST_BUF];
        let k = b.key(&layout.key_path(17));
        assert_eq!(b.get(&k, &mut buf).unwrap(), 2);
        b.set(&k, b"value2").unwrap();
        assert_eq!(b.get(&k, &mut buf).unwrap(), 6);
        let n = b.key(&layout.new_key_path(17, 1));
        b.create(&n, b"x").unwrap();
        assert!(b.create(&n, b"x").is_err());
        let listed = b.list(&b.key(&layout.dir_of(17)), &mut buf).unwrap();
        assert_eq!(listed, 17);
        b.delete(&n).unwrap();
        assert_eq!(b.list(&b.key(&layout.dir_of(17)), &mut buf).unwrap(), 16);
        b.clear().unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir(&dir).unwrap();
    }
}
