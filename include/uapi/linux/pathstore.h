/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pathstore: a ZooKeeper-like tree of values served at /dev/pathstore.
 *
 * This header mirrors tools/pathstore-abi/src/uapi.rs, the one definition of the ABI. Do not
 * change it alone: a test in tools/pathstore-abi (tests/c_header.rs) compiles this header and
 * checks that every size, offset, ioctl number and constant agrees with the Rust definition.
 *
 * Licence: (GPL-2.0 WITH Linux-syscall-note) OR MIT, as the kernel's own dual-licensed uapi
 * headers: a program of any licence may include it (the syscall note already says so; MIT also
 * lets it be copied into a program's own sources).
 *
 * Rules every structure follows:
 * - only fixed-width integer fields, explicit padding named pad and reserved arrays; the module
 *   rejects a non-zero pad or reserved field with EINVAL, so zero the whole structure first;
 * - user buffers are passed as a 64-bit address plus a 32-bit length, so that 32-bit and 64-bit
 *   processes share one layout (convert a pointer with (__u64)(uintptr_t)ptr);
 * - sizes are part of the ioctl numbers: a structure that grows (at its end only) gets a new
 *   number, and the old number, with the old size, stays accepted (PATHSTORE_IOC_STORE_STATS_V1).
 *
 * Paths are byte strings (not NUL-terminated) passed by address and length. See
 * docs/semantics.md for the semantics and the errors of every operation.
 */
#ifndef _UAPI_LINUX_PATHSTORE_H
#define _UAPI_LINUX_PATHSTORE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Version of this ABI. Bumped on any incompatible change; compatible additions keep it. */
#define PATHSTORE_ABI_VERSION 2

/* The ioctl "magic" (type) byte of pathstore. */
#define PATHSTORE_IOC_MAGIC 0xB9

/* Name of the misc device (/dev/pathstore). */
#define PATHSTORE_DEVICE_NAME "pathstore"

/* Longest component of a path, in bytes. */
#define PATHSTORE_MAX_NAME_LEN 255

/*
 * struct pathstore_set.flags: fail with EEXIST if the node already exists (with or without a
 * value).
 */
#define PATHSTORE_SET_CREATE (1U << 0)
/*
 * struct pathstore_set.flags: give the nodes the call creates the access mode
 * struct pathstore_set.mode, and set the mode of the node itself if it exists (only its owner or
 * CAP_SYS_ADMIN may: EPERM). Without it, created nodes get PATHSTORE_MODE_DEFAULT and an existing
 * node keeps its mode.
 */
#define PATHSTORE_SET_MODE (1U << 1)
/*
 * struct pathstore_set.flags: compare-and-set. Replace the value only if the node exists (else
 * ENOENT) and its version is struct pathstore_set.expected_version (else ESTALE, with the current
 * version in struct pathstore_set.version). Not with PATHSTORE_SET_CREATE, PATHSTORE_SET_EPHEMERAL
 * or PATHSTORE_SET_SEQUENTIAL.
 */
#define PATHSTORE_SET_IF_VERSION (1U << 2)
/*
 * struct pathstore_set.flags: create the node (never replace: EEXIST) as an ephemeral node,
 * removed when the open file that created it is released. Ephemeral nodes cannot have children.
 */
#define PATHSTORE_SET_EPHEMERAL (1U << 3)
/*
 * struct pathstore_set.flags: create a new node named the path's last component followed by ten
 * decimal digits of a counter kept by its parent, which only increases (/queue/item- creates
 * /queue/item-0000000042); the number is returned in struct pathstore_set.sequence.
 */
#define PATHSTORE_SET_SEQUENTIAL (1U << 4)
/* Every flag struct pathstore_set.flags accepts. */
#define PATHSTORE_SET_FLAGS_ALL                                                  \
	(PATHSTORE_SET_CREATE | PATHSTORE_SET_MODE | PATHSTORE_SET_IF_VERSION |  \
	 PATHSTORE_SET_EPHEMERAL | PATHSTORE_SET_SEQUENTIAL)

/* Node access mode: users other than the owner may read the value and list the children. */
#define PATHSTORE_MODE_OTHERS_READ (1U << 0)
/* Node access mode: users other than the owner may replace the value, delete the node and create
 * children under it. */
#define PATHSTORE_MODE_OTHERS_WRITE (1U << 1)
/* Every valid access mode bit. */
#define PATHSTORE_MODE_ALL (PATHSTORE_MODE_OTHERS_READ | PATHSTORE_MODE_OTHERS_WRITE)
/* The mode of nodes created without PATHSTORE_SET_MODE: readable by all, changed by the owner. */
#define PATHSTORE_MODE_DEFAULT PATHSTORE_MODE_OTHERS_READ
/* The mode of the root node: every user may read it and create nodes under it. */
#define PATHSTORE_MODE_ROOT (PATHSTORE_MODE_OTHERS_READ | PATHSTORE_MODE_OTHERS_WRITE)

/* struct pathstore_delete.flags: delete the node together with all its descendants. */
#define PATHSTORE_DELETE_RECURSIVE (1U << 0)
/*
 * struct pathstore_delete.flags: delete only if the node's version is
 * struct pathstore_delete.expected_version (else ESTALE, with the current version in
 * struct pathstore_delete.version).
 */
#define PATHSTORE_DELETE_IF_VERSION (1U << 1)
/* Every flag struct pathstore_delete.flags accepts. */
#define PATHSTORE_DELETE_FLAGS_ALL (PATHSTORE_DELETE_RECURSIVE | PATHSTORE_DELETE_IF_VERSION)

/* struct pathstore_watch.flags: watch the node and everything below it. */
#define PATHSTORE_WATCH_SUBTREE (1U << 0)
/* Every flag struct pathstore_watch.flags accepts. */
#define PATHSTORE_WATCH_FLAGS_ALL PATHSTORE_WATCH_SUBTREE
/* struct pathstore_watch.timeout_ms: wait until a change comes (or a signal). */
#define PATHSTORE_WATCH_FOREVER 0xffffffffU

/* struct pathstore_watch.event: the node was created. */
#define PATHSTORE_EVENT_CREATED 1
/* struct pathstore_watch.event: the node's value (or mode) was set. */
#define PATHSTORE_EVENT_CHANGED 2
/*
 * struct pathstore_watch.event: the node was deleted, with everything below it (the path may be
 * an ancestor of the watched node).
 */
#define PATHSTORE_EVENT_DELETED 3
/*
 * struct pathstore_watch.event: changes after the given version are no longer known (the module
 * keeps the last watch_events): re-read what you watch and watch again after
 * struct pathstore_watch.version, the current version.
 */
#define PATHSTORE_EVENT_LOST 4

/* struct pathstore_txn_op.op: the node must exist with version expected_version (else ENOENT,
 * ESTALE). */
#define PATHSTORE_TXN_CHECK_VERSION 1
/* struct pathstore_txn_op.op: the node must not exist (else EEXIST). */
#define PATHSTORE_TXN_CHECK_ABSENT 2
/* struct pathstore_txn_op.op: a set, with PATHSTORE_SET_CREATE, _MODE and _IF_VERSION as flags. */
#define PATHSTORE_TXN_SET 3
/* struct pathstore_txn_op.op: a delete (not of /), with PATHSTORE_DELETE_RECURSIVE and
 * PATHSTORE_DELETE_IF_VERSION. */
#define PATHSTORE_TXN_DELETE 4
/* Most operations in one transaction. */
#define PATHSTORE_TXN_MAX_OPS 64

/* Most gets in one PATHSTORE_IOC_GET_BATCH call. */
#define PATHSTORE_GET_BATCH_MAX 64

/* Digits of the number PATHSTORE_SET_SEQUENTIAL appends. */
#define PATHSTORE_SEQUENTIAL_DIGITS 10

/*
 * struct pathstore_list.result_flags: more children follow the last one returned; call again with
 * it as the cursor.
 */
#define PATHSTORE_LIST_MORE (1U << 0)

/* struct pathstore_node_stat.flags: the node holds a value (possibly empty). */
#define PATHSTORE_STAT_HAS_VALUE (1U << 0)

/**
 * struct pathstore_version - argument of %PATHSTORE_IOC_VERSION
 * @abi_version: out: %PATHSTORE_ABI_VERSION of the running module.
 * @module_version: out: the module's version, ``major << 16 | minor << 8 | patch``.
 * @session: out: this open file's session: the id its ephemeral nodes carry (never 0).
 * @reserved: out: zero.
 */
struct pathstore_version {
	__u32 abi_version;
	__u32 module_version;
	__u64 session;
	__u64 reserved[2];
};

/**
 * struct pathstore_set - argument of %PATHSTORE_IOC_SET
 * @path: in: address of the path.
 * @value: in: address of the value (may be 0 when @value_len is 0).
 * @path_len: in: length of the path in bytes.
 * @value_len: in: length of the value in bytes.
 * @flags: in: ``PATHSTORE_SET_*`` flags.
 * @mode: in: with %PATHSTORE_SET_MODE, the access mode (``PATHSTORE_MODE_*`` bits); must be zero
 *	without it.
 * @version: out: the node's version after the change; its current version when the call fails
 *	with ESTALE.
 * @expected_version: in: with %PATHSTORE_SET_IF_VERSION, the version the node must have; must
 *	be zero without it.
 * @sequence: out: with %PATHSTORE_SET_SEQUENTIAL, the number appended to the name.
 */
struct pathstore_set {
	__u64 path;
	__u64 value;
	__u32 path_len;
	__u32 value_len;
	__u32 flags;
	__u32 mode;
	__u64 version;
	__u64 expected_version;
	__u64 sequence;
};

/**
 * struct pathstore_get - argument of %PATHSTORE_IOC_GET
 * @path: in: address of the path.
 * @buf: in: address of the buffer the value is copied to.
 * @path_len: in: length of the path in bytes.
 * @buf_len: in: size of the buffer.
 * @value_len: out: length of the value. Also set when the call fails with ERANGE (buffer too
 *	small), so the caller can retry with a buffer this large.
 * @flags: in: must be zero (no flags defined yet).
 * @version: out: the node's version.
 * @reserved: must be zero.
 */
struct pathstore_get {
	__u64 path;
	__u64 buf;
	__u32 path_len;
	__u32 buf_len;
	__u32 value_len;
	__u32 flags;
	__u64 version;
	__u64 reserved[2];
};

/**
 * struct pathstore_delete - argument of %PATHSTORE_IOC_DELETE
 * @path: in: address of the path.
 * @path_len: in: length of the path in bytes.
 * @flags: in: ``PATHSTORE_DELETE_*`` flags.
 * @expected_version: in: with %PATHSTORE_DELETE_IF_VERSION, the version the node must have;
 *	must be zero without it.
 * @version: out: the node's current version when the call fails with ESTALE.
 */
struct pathstore_delete {
	__u64 path;
	__u32 path_len;
	__u32 flags;
	__u64 expected_version;
	__u64 version;
};

/**
 * struct pathstore_list - argument of %PATHSTORE_IOC_LIST
 * @path: in: address of the path of the parent.
 * @after: in: address of the cursor name (may be 0 when @after_len is 0).
 * @buf: in: address of the output buffer.
 * @path_len: in: length of the path in bytes.
 * @after_len: in: length of the cursor name in bytes.
 * @buf_len: in: size of the output buffer.
 * @buf_used: out: bytes written to @buf. When the call fails with ERANGE (not even the next name
 *	fits), the size that name needs.
 * @count: out: number of names written.
 * @flags: in: must be zero.
 * @result_flags: out: ``PATHSTORE_LIST_*`` flags.
 * @pad: must be zero.
 * @reserved: must be zero.
 *
 * The children's names are written to @buf one after the other, each followed by a NUL byte
 * (names never contain NUL or '/'), in byte order. Listing starts after the name @after
 * (exclusive) or, when @after_len is 0, at the first child; pass the last name returned to
 * continue.
 */
struct pathstore_list {
	__u64 path;
	__u64 after;
	__u64 buf;
	__u32 path_len;
	__u32 after_len;
	__u32 buf_len;
	__u32 buf_used;
	__u32 count;
	__u32 flags;
	__u32 result_flags;
	__u32 pad;
	__u64 reserved[2];
};

/**
 * struct pathstore_node_stat - a node's metadata, as returned by %PATHSTORE_IOC_STAT
 * @version: version of the node: a store-wide sequence number taken when the node was created or
 *	its value last changed. It only ever increases.
 * @child_version: sequence number of the last creation or deletion of a direct child (0 if none
 *	yet).
 * @ctime_ns: creation time, nanoseconds since the epoch (CLOCK_REALTIME).
 * @mtime_ns: time of the last change of the value, nanoseconds since the epoch.
 * @num_children: number of direct children.
 * @value_len: length of the value in bytes (0 without a value).
 * @flags: ``PATHSTORE_STAT_*`` flags.
 * @uid: the user that created the node (its owner), in the caller's user namespace. The root
 *	node belongs to uid 0.
 * @mode: the node's access mode (``PATHSTORE_MODE_*`` bits).
 * @session: for an ephemeral node, the session (open file) that owns it, as
 *	struct pathstore_version.session reports it to that file; 0 for a persistent node.
 */
struct pathstore_node_stat {
	__u64 version;
	__u64 child_version;
	__u64 ctime_ns;
	__u64 mtime_ns;
	__u64 num_children;
	__u32 value_len;
	__u32 flags;
	__u32 uid;
	__u32 mode;
	__u64 session;
};

/**
 * struct pathstore_stat - argument of %PATHSTORE_IOC_STAT
 * @path: in: address of the path.
 * @path_len: in: length of the path in bytes.
 * @flags: in: must be zero.
 * @stat: out: the node's metadata.
 */
struct pathstore_stat {
	__u64 path;
	__u32 path_len;
	__u32 flags;
	struct pathstore_node_stat stat;
};

/**
 * struct pathstore_store_stats - argument of %PATHSTORE_IOC_STORE_STATS: usage and limits of the
 *	whole store, and every module parameter. The fields after @uid_max_bytes were added later
 *	(with @dev_mode in place of a pad); %PATHSTORE_IOC_STORE_STATS_V1 reports the first
 *	%PATHSTORE_STORE_STATS_V1_SIZE bytes only, with @dev_mode zero.
 * @nodes: nodes in the store, the root included.
 * @bytes: bytes accounted: the sum of all names (an ephemeral node:
 *         its whole path) and values.
 * @max_nodes: limit on @nodes (module parameter max_nodes).
 * @max_bytes: limit on @bytes (module parameter max_bytes).
 * @sequence: the store-wide sequence number: the version the next change will exceed.
 * @max_value_len: largest value, in bytes (module parameter max_value_len).
 * @max_path_len: longest path, in bytes (module parameter max_path_len).
 * @max_depth: deepest path, in components (module parameter max_depth).
 * @dev_mode: permissions of /dev/pathstore (module parameter dev_mode, 0 to 0777).
 * @uid_nodes: nodes owned by the caller (the user that opened the file).
 * @uid_bytes: bytes of names and values of the nodes the caller owns.
 * @uid_max_nodes: limit on @uid_nodes for users other than root (module parameter uid_max_nodes).
 * @uid_max_bytes: limit on @uid_bytes for users other than root (module parameter uid_max_bytes).
 * @reserve_nodes: nodes of @max_nodes only CAP_SYS_ADMIN may use (module parameter reserve_nodes).
 * @reserve_bytes: bytes of @max_bytes only CAP_SYS_ADMIN may use (module parameter reserve_bytes).
 * @watch_events: changes the event log keeps for watches (module parameter watch_events).
 * @watch_bytes: bytes of paths the event log keeps (module parameter watch_bytes).
 */
struct pathstore_store_stats {
	__u64 nodes;
	__u64 bytes;
	__u64 max_nodes;
	__u64 max_bytes;
	__u64 sequence;
	__u32 max_value_len;
	__u32 max_path_len;
	__u32 max_depth;
	__u32 dev_mode;
	__u64 uid_nodes;
	__u64 uid_bytes;
	__u64 uid_max_nodes;
	__u64 uid_max_bytes;
	__u64 reserve_nodes;
	__u64 reserve_bytes;
	__u32 watch_events;
	__u32 watch_bytes;
};

/* Size of the first version of struct pathstore_store_stats (up to uid_max_bytes). */
#define PATHSTORE_STORE_STATS_V1_SIZE 88

/**
 * struct pathstore_check - argument of %PATHSTORE_IOC_CHECK: what the consistency walk counted
 * @nodes: out: nodes visited, the root included.
 * @bytes: out: bytes of names and values visited.
 * @owners: out: users owning at least one node.
 * @reserved: out: zero.
 */
struct pathstore_check {
	__u64 nodes;
	__u64 bytes;
	__u64 owners;
	__u64 reserved[1];
};

/**
 * struct pathstore_watch - argument of %PATHSTORE_IOC_WATCH
 * @path: in: address of the path of the watched node (which need not exist).
 * @buf: in: address of the buffer the changed node's path is written to.
 * @after: in: report changes with a version greater than this (the version from a get, a stat,
 *	store stats, or the previous watch).
 * @version: out: the version of the change; for %PATHSTORE_EVENT_LOST, the current version.
 * @path_len: in: length of the path in bytes.
 * @buf_len: in: size of the buffer.
 * @timeout_ms: in: how long to wait, in milliseconds: 0 does not wait,
 *	%PATHSTORE_WATCH_FOREVER has no limit.
 * @flags: in: ``PATHSTORE_WATCH_*`` flags.
 * @event: out: ``PATHSTORE_EVENT_*``.
 * @changed_len: out: length of the changed node's path (0 for %PATHSTORE_EVENT_LOST). When the
 *	call fails with ERANGE (the buffer is too small), the size it needs.
 * @reserved: must be zero.
 *
 * Reports the first change with a version greater than @after of the node at @path (the node
 * created, its value set, or it deleted, possibly with an ancestor) or, with
 * %PATHSTORE_WATCH_SUBTREE, of any node below it; waits up to @timeout_ms for one. Watch again
 * with the reported @version as @after to see every change, in order, without missing any.
 */
struct pathstore_watch {
	__u64 path;
	__u64 buf;
	__u64 after;
	__u64 version;
	__u32 path_len;
	__u32 buf_len;
	__u32 timeout_ms;
	__u32 flags;
	__u32 event;
	__u32 changed_len;
	__u64 reserved[2];
};

/**
 * struct pathstore_txn_op - one operation of a transaction (struct pathstore_txn)
 * @path: in: address of the node's path.
 * @value: in: %PATHSTORE_TXN_SET: address of the value.
 * @path_len: in: length of the path in bytes.
 * @value_len: in: %PATHSTORE_TXN_SET: length of the value in bytes; zero for the others.
 * @op: in: ``PATHSTORE_TXN_*``: what to do.
 * @flags: in: ``PATHSTORE_SET_*`` flags for %PATHSTORE_TXN_SET, ``PATHSTORE_DELETE_*`` flags for
 *	%PATHSTORE_TXN_DELETE, zero for checks.
 * @expected_version: in: the version for %PATHSTORE_TXN_CHECK_VERSION,
 *	%PATHSTORE_SET_IF_VERSION and %PATHSTORE_DELETE_IF_VERSION; zero otherwise.
 * @mode: in: with %PATHSTORE_SET_MODE, the access mode; zero otherwise.
 * @pad: must be zero.
 * @reserved: must be zero.
 */
struct pathstore_txn_op {
	__u64 path;
	__u64 value;
	__u32 path_len;
	__u32 value_len;
	__u32 op;
	__u32 flags;
	__u64 expected_version;
	__u32 mode;
	__u32 pad;
	__u64 reserved[2];
};

/**
 * struct pathstore_txn - argument of %PATHSTORE_IOC_TXN
 * @ops: in: address of an array of @count struct pathstore_txn_op.
 * @count: in: number of operations, 1 to %PATHSTORE_TXN_MAX_OPS.
 * @flags: in: must be zero.
 * @version: out: the version of the transaction's last change (the current version if it only
 *	checks).
 * @current: out: when an operation failed with ESTALE, the version its node has (in the store as
 *	the failed transaction left it, that is as before).
 * @failed: out: the index of the operation that failed, or 0xffffffff when none did (or the call
 *	failed before running any).
 * @pad: must be zero.
 * @reserved: must be zero.
 *
 * Applies the operations in order, each seeing the effects of those before it, all or nothing:
 * when one fails, the store is left exactly as it was and the call fails with that operation's
 * errno. Its changes take consecutive versions, and nobody sees the store between them.
 */
struct pathstore_txn {
	__u64 ops;
	__u32 count;
	__u32 flags;
	__u64 version;
	__u64 current;
	__u32 failed;
	__u32 pad;
	__u64 reserved[2];
};

/**
 * struct pathstore_get_op - one get of a batch (struct pathstore_get_batch)
 * @path: in: address of the path.
 * @buf: in: address of the buffer the value is copied to.
 * @path_len: in: length of the path in bytes.
 * @buf_len: in: size of the buffer.
 * @value_len: out: length of the value; with @error -ERANGE (buffer too small), the size needed.
 *	Zero when the get failed otherwise.
 * @error: out: 0 when the value was copied to @buf, else the negative errno of this get alone
 *	(the one %PATHSTORE_IOC_GET would fail with: -ENOENT, -EACCES, -ENODATA, -ERANGE, -EINVAL,
 *	-ENAMETOOLONG, -EFAULT for this get's own path or buffer).
 * @version: out: the node's version (also with -ERANGE); zero when the get failed otherwise.
 */
struct pathstore_get_op {
	__u64 path;
	__u64 buf;
	__u32 path_len;
	__u32 buf_len;
	__u32 value_len;
	__s32 error;
	__u64 version;
};

/**
 * struct pathstore_get_batch - argument of %PATHSTORE_IOC_GET_BATCH
 * @ops: in: address of an array of @count struct pathstore_get_op, read and written back whole.
 * @count: in: number of gets, 1 to %PATHSTORE_GET_BATCH_MAX.
 * @flags: in: must be zero.
 * @done: out: the number of gets done: @count when the call succeeds.
 * @pad: must be zero.
 * @reserved: must be zero.
 *
 * Runs every get of the array @ops, in order, each exactly as %PATHSTORE_IOC_GET would and each
 * atomic by itself; the batch as a whole is not one snapshot: a change may land between two of
 * its gets. A get that fails reports its errno in its @error and does not stop the others; the
 * call itself fails only on a bad argument or array (EINVAL, E2BIG, EFAULT) or with ENOMEM, and
 * then reports nothing in the array.
 */
struct pathstore_get_batch {
	__u64 ops;
	__u32 count;
	__u32 flags;
	__u32 done;
	__u32 pad;
	__u64 reserved[2];
};

/* The handshake: fills struct pathstore_version; never fails on a valid pointer. */
#define PATHSTORE_IOC_VERSION _IOR(PATHSTORE_IOC_MAGIC, 0x00, struct pathstore_version)
/* Create or replace a node's value. */
#define PATHSTORE_IOC_SET _IOWR(PATHSTORE_IOC_MAGIC, 0x01, struct pathstore_set)
/* Read a node's value. */
#define PATHSTORE_IOC_GET _IOWR(PATHSTORE_IOC_MAGIC, 0x02, struct pathstore_get)
/* Delete a node, or a subtree. */
#define PATHSTORE_IOC_DELETE _IOWR(PATHSTORE_IOC_MAGIC, 0x03, struct pathstore_delete)
/* List the children of a node, in byte order, from a cursor. */
#define PATHSTORE_IOC_LIST _IOWR(PATHSTORE_IOC_MAGIC, 0x04, struct pathstore_list)
/* A node's metadata. */
#define PATHSTORE_IOC_STAT _IOWR(PATHSTORE_IOC_MAGIC, 0x05, struct pathstore_stat)
/* Whole-store usage and limits. */
#define PATHSTORE_IOC_STORE_STATS _IOR(PATHSTORE_IOC_MAGIC, 0x06, struct pathstore_store_stats)
/*
 * The same call as programs built against the first version of struct pathstore_store_stats
 * issue it: the module writes its first PATHSTORE_STORE_STATS_V1_SIZE bytes only.
 */
#define PATHSTORE_IOC_STORE_STATS_V1 \
	_IOC(_IOC_READ, PATHSTORE_IOC_MAGIC, 0x06, PATHSTORE_STORE_STATS_V1_SIZE)
/*
 * Walk the whole store and verify every counter and invariant. Needs CAP_SYS_ADMIN (EPERM);
 * fails with EUCLEAN if anything is inconsistent.
 */
#define PATHSTORE_IOC_CHECK _IOR(PATHSTORE_IOC_MAGIC, 0x07, struct pathstore_check)
/* Wait for a change of a node or of a subtree after a given version. */
#define PATHSTORE_IOC_WATCH _IOWR(PATHSTORE_IOC_MAGIC, 0x08, struct pathstore_watch)
/* Apply a list of checks and changes all or nothing. */
#define PATHSTORE_IOC_TXN _IOWR(PATHSTORE_IOC_MAGIC, 0x09, struct pathstore_txn)
/* Up to PATHSTORE_GET_BATCH_MAX independent gets in one call. */
#define PATHSTORE_IOC_GET_BATCH _IOWR(PATHSTORE_IOC_MAGIC, 0x0A, struct pathstore_get_batch)

#endif /* _UAPI_LINUX_PATHSTORE_H */
