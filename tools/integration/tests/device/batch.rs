//! `PATHSTORE_IOC_GET_BATCH`: every get of a batch reports exactly what a single get of the same
//! path and buffer would (its errno, `value_len`, `version` and the bytes copied), one get's
//! failure does not stop the others, and a batch changes nothing. The bad batch headers and
//! arrays (count 0 or 65, non-zero fields, unmapped array) are in `badinput.rs`.

use std::ffi::c_void;
use std::ptr;

use integration::args::{get_args, get_batch_args, get_op};
use integration::{assert_same_snapshot, ok, open, snapshot, stat, stats, Rng, Scratch};
use pathstore::abi::{self, GetBatchArgs, GetOp};
use pathstore::{Errno, Pathstore};

use crate::paths::path_of_len;

/// An address in the first page, which is never mapped: every access faults.
const UNMAPPED: u64 = 16;

/// Garbage the module must not write over in the buffer of a get that fails.
const FILL: u8 = 0xaa;

/// Issues `IOC_GET_BATCH` with `a` (whose ops point at live buffers of the caller, or at
/// [`UNMAPPED`]).
fn batch_raw(store: &Pathstore, a: &mut GetBatchArgs) -> Result<(), Errno> {
    let arg: *mut c_void = ptr::from_mut(a).cast();
    // SAFETY: `a` is the argument of `IOC_GET_BATCH`; its ops point at live buffers of the
    // caller (readable paths, writable buffers, for their lengths) or at unmapped memory, which
    // the kernel refuses.
    unsafe { store.ioctl_raw(abi::IOC_GET_BATCH, arg) }.map(drop)
}

/// Runs the batch `ops`, which must succeed with `done` equal to the count.
#[track_caller]
fn batch(store: &Pathstore, ops: &mut [GetOp]) {
    let mut a = get_batch_args(ops);
    a.done = 0x5a5a;
    batch_raw(store, &mut a).expect("GET_BATCH should succeed");
    assert_eq!(
        a.done as usize,
        ops.len(),
        "done should be the number of gets"
    );
    assert_eq!(
        (a.flags, a.pad, a.reserved),
        (0, 0, [0; 2]),
        "GET_BATCH should write back the input fields unchanged"
    );
}

/// What one get reported: the errno (0 on success), `value_len`, `version` and the buffer.
type Reply = (i32, u32, u64, Vec<u8>);

/// A single `IOC_GET` of `path` into a buffer of `buf_len` bytes filled with [`FILL`].
fn single(store: &Pathstore, path: &[u8], buf_len: usize) -> Reply {
    let mut out = vec![FILL; buf_len];
    let mut a = get_args(path, &mut out);
    let arg: *mut c_void = ptr::from_mut(&mut a).cast();
    // SAFETY: `a` is the argument of `IOC_GET`, with `path` readable and `out` writable for
    // their lengths, both alive during the call.
    let r = unsafe { store.ioctl_raw(abi::IOC_GET, arg) };
    match r {
        Ok(_) => (0, a.value_len, a.version, out),
        Err(e) if e == Errno::RANGE => (-e.raw_os_error(), a.value_len, a.version, out),
        // A single get writes nothing back on other errors: compare as the batch reports them.
        Err(e) => (-e.raw_os_error(), 0, 0, out),
    }
}

/// The same gets in one batch, each into a buffer of its `buf_len` filled with [`FILL`].
fn batched(store: &Pathstore, gets: &[(Vec<u8>, usize)]) -> Vec<Reply> {
    let mut outs: Vec<Vec<u8>> = gets.iter().map(|(_, len)| vec![FILL; *len]).collect();
    let mut ops: Vec<GetOp> = gets
        .iter()
        .zip(outs.iter_mut())
        .map(|((path, _), out)| get_op(path, out))
        .collect();
    batch(store, &mut ops);
    ops.iter()
        .zip(outs)
        .map(|(op, out)| (op.error, op.value_len, op.version, out))
        .collect()
}

fn errno(e: Errno) -> i32 {
    -e.raw_os_error()
}

/// Found, empty, without a value, missing, too small a buffer, and bad paths, in one batch:
/// each get's exact result, and the store unchanged.
#[test]
fn batch_mixed_results_per_op() {
    let store = open();
    let s = Scratch::new(&store, "batch_mixed");
    let max_path_len = stats(&store).max_path_len as usize;
    let a = s.path("a");
    let empty = s.path("empty");
    let big = s.path("big");
    let child = s.path("p/c");
    let va = ok("set a", store.set(&a, "hello"));
    let ve = ok("set empty", store.set(&empty, ""));
    let vb = ok("set big", store.set(&big, [7u8; 100]));
    ok("set p/c", store.set(&child, "child"));
    let vc = stat(&store, &child).version;
    let too_long = path_of_len(s.base(), max_path_len + 1, 200);
    let long_name = format!("{}/{}", s.base(), "n".repeat(256));
    let watch = [
        s.base().to_owned(),
        a.clone(),
        big.clone(),
        s.path("p"),
        child.clone(),
    ];
    let before = snapshot(&store, &watch);

    let gets: Vec<(Vec<u8>, usize)> = vec![
        (a.clone().into(), 16),
        (s.path("missing").into(), 16),
        (s.path("p").into(), 16),
        (big.clone().into(), 10),
        (too_long.into(), 16),
        (empty.clone().into(), 4),
        (b"no/leading/slash".to_vec(), 16),
        (Vec::new(), 16),
        (long_name.into(), 16),
        (format!("{}//x", s.base()).into(), 16),
        (s.path("a/below").into(), 16),
        (child.clone().into(), 5),
        (big.clone().into(), 100),
        (a.clone().into(), 5),
    ];
    let got = batched(&store, &gets);
    let filled = |len: usize| vec![FILL; len];
    let with = |value: &[u8], len: usize| {
        let mut out = filled(len);
        out[..value.len()].copy_from_slice(value);
        out
    };
    let expected: Vec<Reply> = vec![
        (0, 5, va, with(b"hello", 16)),
        (errno(Errno::NOENT), 0, 0, filled(16)),
        (errno(Errno::NODATA), 0, 0, filled(16)),
        (errno(Errno::RANGE), 100, vb, filled(10)),
        (errno(Errno::NAMETOOLONG), 0, 0, filled(16)),
        (0, 0, ve, filled(4)),
        (errno(Errno::INVAL), 0, 0, filled(16)),
        (errno(Errno::INVAL), 0, 0, filled(16)),
        (errno(Errno::NAMETOOLONG), 0, 0, filled(16)),
        (errno(Errno::INVAL), 0, 0, filled(16)),
        (errno(Errno::NOENT), 0, 0, filled(16)),
        (0, 5, vc, b"child".to_vec()),
        (0, 100, vb, vec![7u8; 100]),
        (0, 5, va, b"hello".to_vec()),
    ];
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(
            got,
            want,
            "get {i} of the batch ({:?}): (error, value_len, version, buffer)",
            String::from_utf8_lossy(&gets[i].0)
        );
    }
    let after = snapshot(&store, &watch);
    assert_same_snapshot("a batch of gets", &before, &after);
}

/// Random batches of 1 to 64 gets of present, missing and valueless nodes with buffers of
/// random sizes agree get by get with single gets of the same paths and buffer sizes.
#[test]
fn batch_agrees_with_single_gets() {
    let store = open();
    let s = Scratch::new(&store, "batch_agrees");
    let mut rng = Rng::new(integration::test_seed(
        "batch_agrees_with_single_gets",
        0xba7c,
    ));
    let mut paths = Vec::new();
    for i in 0..40 {
        let p = s.path(&format!("d{}/k{i}", i % 4));
        let len = rng.index(40);
        ok("set", store.set(&p, rng.bytes(len)));
        paths.push(p.into_bytes());
    }
    for d in 0..4 {
        paths.push(s.path(&format!("d{d}")).into_bytes());
        paths.push(s.path(&format!("missing{d}")).into_bytes());
    }
    paths.push(b"bad".to_vec());
    for round in 0..20 {
        let count = 1 + rng.index(abi::GET_BATCH_MAX as usize);
        let gets: Vec<(Vec<u8>, usize)> = (0..count)
            .map(|_| (rng.pick(&paths).clone(), rng.index(48)))
            .collect();
        let got = batched(&store, &gets);
        for (i, ((path, len), got)) in gets.iter().zip(got).enumerate() {
            let want = single(&store, path, *len);
            assert_eq!(
                got,
                want,
                "round {round}, get {i} ({:?}, buffer {len}): batch vs single get",
                String::from_utf8_lossy(path)
            );
        }
    }
}

/// An unreadable path or an unwritable buffer fails that get alone with `EFAULT`.
#[test]
fn batch_fault_in_one_op_fails_that_op_alone() {
    let store = open();
    let s = Scratch::new(&store, "batch_fault");
    let a = s.path("a");
    let va = ok("set a", store.set(&a, "value"));
    let mut out = [[FILL; 8]; 4];
    let [o0, o1, o2, o3] = &mut out;
    let mut ops = [
        get_op(a.as_bytes(), o0),
        GetOp {
            path: UNMAPPED,
            ..get_op(a.as_bytes(), o1)
        },
        GetOp {
            buf: UNMAPPED,
            ..get_op(a.as_bytes(), o2)
        },
        get_op(a.as_bytes(), o3),
    ];
    batch(&store, &mut ops);
    let results: Vec<(i32, u32, u64)> = ops
        .iter()
        .map(|op| (op.error, op.value_len, op.version))
        .collect();
    assert_eq!(
        results,
        [
            (0, 5, va),
            (errno(Errno::FAULT), 0, 0),
            (errno(Errno::FAULT), 0, 0),
            (0, 5, va)
        ],
        "(error, value_len, version) of each get"
    );
    assert_eq!(&out[0][..5], b"value");
    assert_eq!(out[1], [FILL; 8], "a get whose path faults copies nothing");
    assert_eq!(&out[3][..5], b"value");
}

/// The full 64 gets in one call, and the client library's `get_batch` over more than 64 paths
/// (several calls) and values larger than its first buffer.
#[test]
fn batch_of_max_gets_and_client_library() {
    let store = open();
    let s = Scratch::new(&store, "batch_max");
    let mut paths = Vec::new();
    let mut expected = Vec::new();
    for i in 0..150 {
        let p = s.path(&format!("k{i:03}"));
        if i % 10 == 9 {
            paths.push(s.path(&format!("missing{i}")));
            expected.push(Err(Errno::NOENT));
            continue;
        }
        let value = if i == 50 {
            vec![b'x'; 10_000]
        } else {
            format!("v{i}").into_bytes()
        };
        let v = ok("set", store.set(&p, &value));
        paths.push(p);
        expected.push(Ok((value, v)));
    }
    let gets: Vec<(Vec<u8>, usize)> = paths[..64]
        .iter()
        .map(|p| (p.clone().into_bytes(), 16))
        .collect();
    let got = batched(&store, &gets);
    for (i, got) in got.iter().enumerate() {
        assert_eq!(
            *got,
            single(&store, &gets[i].0, 16),
            "get {i} of a full batch"
        );
    }
    let results = ok("get_batch", store.get_batch(&paths));
    assert_eq!(results.len(), paths.len());
    for (i, (got, want)) in results.into_iter().zip(expected).enumerate() {
        assert_eq!(
            got.map_err(|e| e.errno()),
            want,
            "get_batch result {i} ({})",
            paths[i]
        );
    }
    let mut small = [0u8; 4];
    let mut bufs: Vec<&mut [u8]> = vec![&mut small];
    let r = ok(
        "get_batch_into",
        store.get_batch_into(&paths[50..51], &mut bufs),
    );
    let err = r
        .into_iter()
        .next()
        .expect("one result")
        .expect_err("the value is 10000 bytes");
    assert_eq!(
        (err.errno(), err.needed_len()),
        (Errno::RANGE, Some(10_000))
    );
    assert!(
        ok("empty get_batch", store.get_batch::<&str>(&[])).is_empty(),
        "no paths, no results"
    );
}
