//! `pathstore-fuzz`: a seeded, reproducible random-operation fuzzer of pathstore.
//!
//! It drives `/dev/pathstore` and an in-process [`model::Model`] of the store side by side,
//! compares every reply (values, errnos, versions, list pages, stats), the store stats after
//! every change and the whole fuzzed subtree now and then and at the end, and stops at the first
//! difference with the seed and a command that repeats the run. With fault injection
//! ([`fault`]), any call may fail with `ENOMEM`, and the fuzzer then checks that the store did
//! not change.

pub mod abi_dev;
pub mod abi_fuzz;
pub mod abi_gen;
pub mod abi_model;
pub mod abi_op;
pub mod device;
pub mod failnth;
pub mod fault;
pub mod fuzzer;
pub mod gen;
pub mod linear;
pub mod model;
pub mod op;
pub mod rng;
pub mod text;
