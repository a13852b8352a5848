// SPDX-License-Identifier: GPL-2.0

//! The uapi as the kernel side sees it: which structures may be copied to and from userspace as
//! bytes, and proof that the shared ioctl encoding matches the kernel's.

use kernel::{
    ioctl::{
        _IOR,
        _IOWR, //
    },
    transmute::{
        AsBytes,
        FromBytes, //
    },
};

use crate::uapi;

/// Marks ABI structures as plain bytes after proving they have no implicit padding.
macro_rules! plain_abi_struct {
    ($($t:ty => [$($field:ty),+ $(,)?]),+ $(,)?) => {
        $(
            // No implicit padding: the size is exactly the sum of the field sizes.
            const _: () = assert!(
                core::mem::size_of::<$t>() == 0 $(+ core::mem::size_of::<$field>())+
            );
            // SAFETY: `$t` is `#[repr(C)]` with only integer (and integer array or such struct)
            // fields and, as checked above, no padding: every bit pattern is valid.
            unsafe impl FromBytes for $t {}
            // SAFETY: As above: no padding, so every byte is initialized.
            unsafe impl AsBytes for $t {}
        )+
    };
}

plain_abi_struct! {
    uapi::VersionArgs => [u32, u32, u64, [u64; 2]],
    uapi::SetArgs => [u64, u64, u32, u32, u32, u32, u64, u64, u64],
    uapi::GetArgs => [u64, u64, u32, u32, u32, u32, u64, [u64; 2]],
    uapi::DeleteArgs => [u64, u32, u32, u64, u64],
    uapi::ListArgs => [u64, u64, u64, u32, u32, u32, u32, u32, u32, u32, u32, [u64; 2]],
    uapi::NodeStat => [u64, u64, u64, u64, u64, u32, u32, u32, u32, u64],
    uapi::StatArgs => [u64, u32, u32, uapi::NodeStat],
    uapi::StoreStats => [
        u64, u64, u64, u64, u64, u32, u32, u32, u32, u64, u64, u64, u64, u64, u64, u32, u32
    ],
    uapi::CheckArgs => [u64, u64, u64, [u64; 1]],
    uapi::WatchArgs => [u64, u64, u64, u64, u32, u32, u32, u32, u32, u32, [u64; 2]],
    uapi::TxnOp => [u64, u64, u32, u32, u32, u32, u64, u32, u32, [u64; 2]],
    uapi::TxnArgs => [u64, u32, u32, u64, u64, u32, u32, [u64; 2]],
    uapi::GetOp => [u64, u64, u32, u32, u32, i32, u64],
    uapi::GetBatchArgs => [u64, u32, u32, u32, u32, [u64; 2]],
}

// The shared encoding in `uapi` must agree with the kernel's `_IOC` macros.
const MAGIC: u32 = uapi::IOC_MAGIC;
const _: () = assert!(uapi::IOC_VERSION == _IOR::<uapi::VersionArgs>(MAGIC, 0x00));
const _: () = assert!(uapi::IOC_SET == _IOWR::<uapi::SetArgs>(MAGIC, 0x01));
const _: () = assert!(uapi::IOC_GET == _IOWR::<uapi::GetArgs>(MAGIC, 0x02));
const _: () = assert!(uapi::IOC_DELETE == _IOWR::<uapi::DeleteArgs>(MAGIC, 0x03));
const _: () = assert!(uapi::IOC_LIST == _IOWR::<uapi::ListArgs>(MAGIC, 0x04));
const _: () = assert!(uapi::IOC_STAT == _IOWR::<uapi::StatArgs>(MAGIC, 0x05));
const _: () = assert!(uapi::IOC_STORE_STATS == _IOR::<uapi::StoreStats>(MAGIC, 0x06));
const _: () = assert!(
    uapi::IOC_STORE_STATS_V1 == _IOR::<[u8; uapi::STORE_STATS_V1_SIZE as usize]>(MAGIC, 0x06)
);
const _: () = assert!(uapi::IOC_CHECK == _IOR::<uapi::CheckArgs>(MAGIC, 0x07));
const _: () = assert!(uapi::IOC_WATCH == _IOWR::<uapi::WatchArgs>(MAGIC, 0x08));
const _: () = assert!(uapi::IOC_TXN == _IOWR::<uapi::TxnArgs>(MAGIC, 0x09));
const _: () = assert!(uapi::IOC_GET_BATCH == _IOWR::<uapi::GetBatchArgs>(MAGIC, 0x0A));
// The batch's array is a whole number of 40-byte entries.
const _: () = assert!(core::mem::size_of::<uapi::GetOp>() == 40);
