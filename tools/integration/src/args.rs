//! Argument structures of the raw ioctls, built from byte strings: for tests that pass
//! arguments the client library would never build.

use pathstore::abi::{DeleteArgs, GetArgs, GetBatchArgs, GetOp, ListArgs, SetArgs, StatArgs};

/// The user address of a pointer, as the ABI passes it.
pub fn addr<T>(p: *const T) -> u64 {
    p.expose_provenance() as u64
}

/// The address and length of a byte string, as the ABI passes them.
pub fn buf(bytes: &[u8]) -> (u64, u32) {
    (
        addr(bytes.as_ptr()),
        u32::try_from(bytes.len()).expect("test buffers are below 4 GiB"),
    )
}

/// `SetArgs` for `path` and `value`; other fields zero.
pub fn set_args(path: &[u8], value: &[u8]) -> SetArgs {
    let (path, path_len) = buf(path);
    let (value, value_len) = buf(value);
    SetArgs {
        path,
        path_len,
        value,
        value_len,
        ..Default::default()
    }
}

/// `GetArgs` for `path` into `out`; other fields zero.
pub fn get_args(path: &[u8], out: &mut [u8]) -> GetArgs {
    let (path, path_len) = buf(path);
    GetArgs {
        path,
        path_len,
        buf: addr(out.as_mut_ptr()),
        buf_len: u32::try_from(out.len()).expect("small buffer"),
        ..Default::default()
    }
}

/// `DeleteArgs` for `path` with `flags`; other fields zero.
pub fn delete_args(path: &[u8], flags: u32) -> DeleteArgs {
    let (path, path_len) = buf(path);
    DeleteArgs {
        path,
        path_len,
        flags,
        ..Default::default()
    }
}

/// `ListArgs` for `path` into `out`; other fields zero.
pub fn list_args(path: &[u8], out: &mut [u8]) -> ListArgs {
    let (path, path_len) = buf(path);
    ListArgs {
        path,
        path_len,
        buf: addr(out.as_mut_ptr()),
        buf_len: u32::try_from(out.len()).expect("small buffer"),
        ..Default::default()
    }
}

/// `StatArgs` for `path`.
pub fn stat_args(path: &[u8]) -> StatArgs {
    let (path, path_len) = buf(path);
    StatArgs {
        path,
        path_len,
        ..Default::default()
    }
}

/// A `GetOp` of a batch for `path` into `out`; the outputs hold a recognisable garbage
/// (`error` 0x5a5a5a5a, `value_len` and `version` all ones) that the module must overwrite.
pub fn get_op(path: &[u8], out: &mut [u8]) -> GetOp {
    let (path, path_len) = buf(path);
    GetOp {
        path,
        path_len,
        buf: addr(out.as_mut_ptr()),
        buf_len: u32::try_from(out.len()).expect("small buffer"),
        value_len: u32::MAX,
        error: 0x5a5a_5a5a,
        version: u64::MAX,
    }
}

/// `GetBatchArgs` for the array `ops`; other fields zero.
pub fn get_batch_args(ops: &mut [GetOp]) -> GetBatchArgs {
    GetBatchArgs {
        ops: addr(ops.as_mut_ptr()),
        count: u32::try_from(ops.len()).expect("small batch"),
        ..Default::default()
    }
}
