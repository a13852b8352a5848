// SPDX-License-Identifier: GPL-2.0

//! `/dev/pathstore`: the misc device, the store behind it, and the dispatch of its file
//! operations to the ioctl handlers ([`crate::ioctl`]) and the text interface ([`crate::text`]).

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
    prelude::*,
    sync::Arc,
};

use crate::{
    file::OpenFile,
    ioctl::IoctlArg,
    limits::Limits,
    registration::{
        FileOperations,
        Registration, //
    },
    store::Store,
    uapi, MODULE_VERSION,
};

kernel::sync::global_lock! {
    // SAFETY: `Device::new` initializes it before the device is registered, the only way to
    // reach it.
    unsafe(uninit) static STORE: Mutex<Option<Arc<Store>>> = None;
}

/// The name of the device, as `misc_register` takes it: [`uapi::DEVICE_NAME`].
const NAME: &CStr = c"pathstore";

// `NAME` is the ABI's device name.
const _: () = {
    let (name, abi) = (NAME.to_bytes(), uapi::DEVICE_NAME.as_bytes());
    assert!(name.len() == abi.len());
    let mut i = 0;
    while i < name.len() {
        assert!(name[i] == abi[i]);
        i += 1;
    }
};

/// The file operations of `/dev/pathstore`.
static FOPS: FileOperations = FileOperations::owned::<OpenFile>(NAME);

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
            registration <- Registration::register(NAME, &FOPS, dev_mode()),
        })
        .pin_chain(move |_| {
            let (major, minor, patch) = MODULE_VERSION;
            pr_info!(
                "{} {}.{}.{} (ABI {}): /dev/{} mode {:04o}, max_value_len={} max_path_len={} \
                 max_depth={} max_nodes={} max_bytes={} reserve_nodes={} reserve_bytes={} \
                 uid_max_nodes={} uid_max_bytes={} watch_events={} watch_bytes={}\n",
                uapi::DEVICE_NAME,
                major,
                minor,
                patch,
                uapi::ABI_VERSION,
                uapi::DEVICE_NAME,
                dev_mode(),
                limits.max_value_len,
                limits.max_path_len,
                limits.max_depth,
                limits.max_nodes,
                limits.max_bytes,
                limits.reserve_nodes,
                limits.reserve_bytes,
                limits.uid_max_nodes,
                limits.uid_max_bytes,
                limits.watch_events,
                limits.watch_bytes
            );
            Ok(())
        })
    }
}

/// The permissions of `/dev/pathstore` (module parameter `dev_mode`, only its `0777` bits).
pub(crate) fn dev_mode() -> u16 {
    let mode = *crate::module_parameters::dev_mode.value() & 0o777;
    u16::try_from(mode).unwrap_or(0o600)
}

#[vtable]
impl MiscDevice for OpenFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let store = STORE.lock().clone().ok_or(ENODEV)?;
        OpenFile::new(file, store)
    }

    fn ioctl(me: Pin<&OpenFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let arg = IoctlArg::new(cmd, arg);
        match cmd {
            uapi::IOC_VERSION => me.version(arg),
            uapi::IOC_SET => me.set(arg),
            uapi::IOC_GET => me.get(arg),
            uapi::IOC_DELETE => me.delete(arg),
            uapi::IOC_LIST => me.list(arg),
            uapi::IOC_STAT => me.stat(arg),
            uapi::IOC_STORE_STATS | uapi::IOC_STORE_STATS_V1 => me.store_stats(arg),
            uapi::IOC_CHECK => me.check(arg),
            uapi::IOC_WATCH => me.watch(arg),
            uapi::IOC_TXN => me.txn(arg),
            uapi::IOC_GET_BATCH => me.get_batch(arg),
            _ => Err(ENOTTY),
        }?;
        Ok(0)
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        kiocb.file().write_command(iov)
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        kiocb.file().read_response(iov)
    }
}
