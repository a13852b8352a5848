// SPDX-License-Identifier: GPL-2.0

//! The store's limits, set by module parameters when the module is loaded.

use kernel::prelude::*;

/// Limits on what the store accepts. Every operation checks them before it changes anything.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Largest value in bytes.
    pub(crate) max_value_len: u32,
    /// Longest path in bytes.
    pub(crate) max_path_len: u32,
    /// Deepest path in components.
    pub(crate) max_depth: u32,
    /// Most nodes, the root included.
    pub(crate) max_nodes: u64,
    /// Most bytes of names and values.
    pub(crate) max_bytes: u64,
    /// Nodes of `max_nodes` that only `CAP_SYS_ADMIN` may use.
    pub(crate) reserve_nodes: u64,
    /// Bytes of `max_bytes` that only `CAP_SYS_ADMIN` may use.
    pub(crate) reserve_bytes: u64,
    /// Most nodes one account may be charged for, unless the change is made by `CAP_SYS_ADMIN`.
    pub(crate) uid_max_nodes: u64,
    /// Most bytes one account may be charged for, unless the change is made by `CAP_SYS_ADMIN`.
    pub(crate) uid_max_bytes: u64,
    /// Changes the event log keeps for watches.
    pub(crate) watch_events: u32,
    /// Bytes of paths the event log keeps (at least `max_path_len`).
    pub(crate) watch_bytes: u32,
}

/// Paths are at most this long whatever `max_path_len` says: it bounds the kernel buffer a path
/// is copied into.
const MAX_PATH_LEN_CEILING: u32 = 65536;

/// Values are at most this long whatever `max_value_len` says (so lengths fit the ABI's `u32` and
/// a value fits a `kvmalloc` allocation comfortably).
const MAX_VALUE_LEN_CEILING: u32 = 64 << 20;

/// The event log keeps at most this many changes whatever `watch_events` says.
const MAX_WATCH_EVENTS_CEILING: u32 = 1 << 20;

/// The event log keeps at most this many bytes of paths whatever `watch_bytes` says.
const MAX_WATCH_BYTES_CEILING: u32 = 256 << 20;

/// Paths are at most this deep whatever `max_depth` says: it bounds the work stack of recursive
/// deletes.
const MAX_DEPTH_CEILING: u32 = 4096;

/// Checks that the module parameter `name` is `value` in `lo..=hi`; logs why not.
fn in_range(name: &str, value: u64, lo: u64, hi: u64) -> Result {
    if value < lo || value > hi {
        pr_err!(
            "module parameter {}={} is out of range: {} to {}\n",
            name,
            value,
            lo,
            hi
        );
        return Err(EINVAL);
    }
    Ok(())
}

impl Limits {
    /// The limits the module parameters set (they are read-only after load). A parameter out
    /// of its range is refused, with a message naming it and the range: `EINVAL`, and the
    /// module does not load.
    pub(crate) fn from_module_params() -> Result<Self> {
        use crate::module_parameters as p;
        let (value_len, path_len, depth) = (
            *p::max_value_len.value(),
            *p::max_path_len.value(),
            *p::max_depth.value(),
        );
        let (events, watch_bytes) = (*p::watch_events.value(), *p::watch_bytes.value());
        in_range(
            "max_value_len",
            value_len.into(),
            0,
            MAX_VALUE_LEN_CEILING.into(),
        )?;
        in_range(
            "max_path_len",
            path_len.into(),
            1,
            MAX_PATH_LEN_CEILING.into(),
        )?;
        in_range("max_depth", depth.into(), 0, MAX_DEPTH_CEILING.into())?;
        in_range("max_nodes", *p::max_nodes.value(), 1, u64::MAX)?;
        in_range(
            "watch_events",
            events.into(),
            1,
            MAX_WATCH_EVENTS_CEILING.into(),
        )?;
        in_range(
            "watch_bytes",
            watch_bytes.into(),
            path_len.into(),
            MAX_WATCH_BYTES_CEILING.into(),
        )?;
        let (max_nodes, max_bytes) = (*p::max_nodes.value(), *p::max_bytes.value());
        let (reserve_nodes, reserve_bytes) = (*p::reserve_nodes.value(), *p::reserve_bytes.value());
        // The root node is not the reserve's: others keep at least one node to create.
        in_range(
            "reserve_nodes",
            reserve_nodes,
            0,
            max_nodes.saturating_sub(1),
        )?;
        in_range("reserve_bytes", reserve_bytes, 0, max_bytes)?;
        in_range("dev_mode", (*p::dev_mode.value()).into(), 0, 0o777)?;
        Ok(Self::from_params(
            value_len,
            path_len,
            depth,
            *p::max_nodes.value(),
            *p::max_bytes.value(),
        )
        .with_uid_quota(*p::uid_max_nodes.value(), *p::uid_max_bytes.value())
        .with_reserve(reserve_nodes, reserve_bytes)
        .with_watch_events(events)
        .with_watch_bytes(watch_bytes))
    }

    /// Builds the limits from the module parameters, clamping each to what the module supports.
    pub(crate) fn from_params(
        max_value_len: u32,
        max_path_len: u32,
        max_depth: u32,
        max_nodes: u64,
        max_bytes: u64,
    ) -> Self {
        Self {
            max_value_len: max_value_len.min(MAX_VALUE_LEN_CEILING),
            max_path_len: max_path_len.clamp(1, MAX_PATH_LEN_CEILING),
            max_depth: max_depth.min(MAX_DEPTH_CEILING),
            // The root always exists.
            max_nodes: max_nodes.max(1),
            max_bytes,
            reserve_nodes: 0,
            reserve_bytes: 0,
            uid_max_nodes: u64::MAX,
            uid_max_bytes: u64::MAX,
            watch_events: 1024,
            watch_bytes: 1 << 20,
        }
        .with_watch_bytes(1 << 20)
    }

    /// The same limits with an event log of `events` changes (1 to 1048576).
    pub(crate) fn with_watch_events(self, events: u32) -> Self {
        Self {
            watch_events: events.clamp(1, MAX_WATCH_EVENTS_CEILING),
            ..self
        }
    }

    /// The same limits with an event log of at most `bytes` bytes of paths (at least
    /// `max_path_len`, at most 256 MiB).
    pub(crate) fn with_watch_bytes(self, bytes: u32) -> Self {
        Self {
            watch_bytes: bytes.clamp(self.max_path_len, MAX_WATCH_BYTES_CEILING),
            ..self
        }
    }

    /// The same limits with `nodes` nodes and `bytes` bytes kept for `CAP_SYS_ADMIN` (at most
    /// `max_nodes - 1` and `max_bytes`).
    pub(crate) fn with_reserve(self, nodes: u64, bytes: u64) -> Self {
        Self {
            reserve_nodes: nodes.min(self.max_nodes.saturating_sub(1)),
            reserve_bytes: bytes.min(self.max_bytes),
            ..self
        }
    }

    /// The same limits with a per-user quota of `nodes` nodes and `bytes` bytes.
    pub(crate) fn with_uid_quota(self, nodes: u64, bytes: u64) -> Self {
        Self {
            uid_max_nodes: nodes,
            uid_max_bytes: bytes,
            ..self
        }
    }
}
