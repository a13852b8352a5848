//! Integration tests of pathstore against a live `/dev/pathstore`.
//!
//! The tests are in `tests/`; they need the module loaded, so they run inside the test VM and
//! not on the host (exclude this crate there: `cargo test --workspace --exclude integration`).
//! This library is the home of helpers shared between those tests.
