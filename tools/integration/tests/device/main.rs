//! Tests against a live `/dev/pathstore`: they run inside the test VM, with the module loaded,
//! never on the host. The device is `$PATHSTORE_DEVICE` when set, else `/dev/pathstore`.
//!
//! This is the only test target of the crate (the harness runs one binary), in five passes
//! (see `scripts/guest-tests.sh`):
//!
//! 1. default module parameters: everything but `limits::`, `access::`, `tenants::`,
//!    `reserve::`, `heavy::` and `stress::`. These tests share the store; each works in its own subtree
//!    `/it/<test>` and removes it, and checks the store's counters by differences, except the few that reset the
//!    whole store on purpose.
//! 2. `limits::`, with the module loaded with `max_value_len=64 max_path_len=128 max_depth=8
//!    max_nodes=64 max_bytes=2048 watch_events=16 reserve_nodes=0 reserve_bytes=0`.
//! 3. `access::` and `tenants::`, with `dev_mode=0666 uid_max_nodes=16 uid_max_bytes=1024`:
//!    steps run as other users in worker processes.
//! 4. `reserve::`, with `dev_mode=0666 max_nodes=600 reserve_nodes=64 max_bytes=65536
//!    reserve_bytes=4096 uid_max_nodes=16 uid_max_bytes=1024`: a store users can fill.
//! 5. `heavy::` and `stress::` (a concurrency stress for a fixed time,
//!    `PATHSTORE_STRESS_SECONDS`, default 60), right before the module is unloaded and kmemleak
//!    is checked.
//!
//! No other test name contains `limits::`, `access::`, `tenants::`, `reserve::`, `heavy::` or
//! `stress::`: the harness checks that the five passes together run every test of the binary once. The
//! ignored `worker_process` is not a test (it is the body of worker processes) and is left out of
//! every pass. The randomised tests print their seed; `PATHSTORE_SEED` replays one.

use integration::{open, WORKER_ENV};
use pathstore::abi;

mod access;
mod badinput;
mod batch;
mod big;
mod binary;
mod concurrency;
mod coord;
mod errors;
mod fail_nth;
mod heavy;
mod limits;
mod ops;
mod paths;
mod raw;
mod reserve;
mod stress;
mod tenants;

#[test]
fn version_handshake() {
    let store = open();
    let version = store.version().expect("IOC_VERSION");
    assert_eq!(
        version.abi_version,
        abi::ABI_VERSION,
        "the module should speak this library's ABI version"
    );
    assert_eq!(
        version.reserved, [0; 2],
        "VersionArgs.reserved should be zero"
    );
    assert_ne!(
        version.module_version, 0,
        "module_version should encode a version (major << 16 | minor << 8 | patch)"
    );
}

/// Not a test of its own: the body of the worker processes that the concurrency, stress,
/// access and coordination tests start (see `integration::worker_command`). Ignored, so that a
/// plain run never counts it as a pass; it fails when `PATHSTORE_IT_WORKER` is not set, or names
/// no known worker (each `run_worker` panics on a spec it does not know).
#[test]
#[ignore = "the body of worker processes: started by integration::worker_command"]
fn worker_process() {
    let spec = std::env::var(WORKER_ENV).unwrap_or_else(|_| {
        panic!("worker_process runs only as a worker process, with {WORKER_ENV} set")
    });
    if let Some(steps) = spec.strip_prefix("access ") {
        access::run_worker(steps);
    } else if let Some(spec) = spec.strip_prefix("coord ") {
        coord::run_worker(spec);
    } else if matches!(spec.split_whitespace().next(), Some("churn" | "exit")) {
        stress::run_worker(&spec);
    } else {
        concurrency::run_worker(&spec);
    }
    println!("WORKER-DONE");
}
