//! Tests against a live `/dev/pathstore`: they run inside the test VM, with the module loaded,
//! never on the host. The device is `$PATHSTORE_DEVICE` when set, else `/dev/pathstore`.

use pathstore::{abi, Pathstore, DEFAULT_DEVICE};

fn device() -> String {
    std::env::var("PATHSTORE_DEVICE").unwrap_or_else(|_| DEFAULT_DEVICE.to_owned())
}

#[test]
fn version_handshake() {
    let store = Pathstore::open_path(device()).expect("open the device");
    assert_eq!(
        store.version().expect("IOC_VERSION").abi_version,
        abi::ABI_VERSION
    );
}
