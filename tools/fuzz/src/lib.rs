//! `pathstore-fuzz`: a seeded, reproducible random-operation fuzzer of pathstore.
//!
//! It drives `/dev/pathstore` and an in-process model of the store side by side, compares every
//! reply and the store's state, and stops at the first difference with the seed and a command
//! that repeats the run. Four modes (see `docs/fuzzing.md`):
//!
//! - the whole ABI ([`abi_fuzz`], [`abi_model`], [`abi_gen`], [`abi_dev`]): every ioctl and text
//!   command from several files opened as several users, with watcher threads checked against
//!   the model's change log;
//! - the first, root-only fuzzer of one subtree ([`fuzzer`], [`model`], [`gen`], [`device`]);
//! - linearizability of concurrent histories ([`linear`]);
//! - systematic allocation-failure injection through `fail-nth` ([`failnth`]).
//!
//! With fault injection ([`fault`]), any call may fail with `ENOMEM`, and the fuzzer then checks
//! that the store did not change.

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
