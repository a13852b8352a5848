// SPDX-License-Identifier: GPL-2.0
/*
 * pathstore_c_test: exercises /dev/pathstore through include/uapi/linux/pathstore.h alone.
 *
 * Build (host):  cc -O2 -Wall -Wextra -Werror -I include \
 *                    -o pathstore_c_test tests/c/pathstore_c_test.c
 *                (add -static for a guest without a C library)
 * Run (guest):   ./pathstore_c_test [DEVICE]     default: $PATHSTORE_DEVICE, else /dev/pathstore
 *
 * Works in its own subtree /c-test (removed first and at the end). Prints TAP: one line per
 * check, "ok N - c/NAME", "not ok N - c/NAME: DETAILS" or, for a check the module's limits do not
 * allow, "ok N - c/NAME # SKIP REASON" (a skip, never counted as a pass), then the plan "1..N",
 * and exits 1 if any check failed. Names never contain ": " or " # " (scripts/lib/tally.py
 * splits the details and the directive off there).
 * The expectations come from docs/semantics.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <uapi/linux/pathstore.h>

#define ROOT "/c-test"

static int fd = -1;
/* Path of the device, for tests that open it again. */
static const char *dev_path;
static unsigned int n_checks, n_failed, n_skipped;

static int check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	n_checks++;
	if (ok) {
		printf("ok %u - c/%s\n", n_checks, name);
	} else {
		n_failed++;
		printf("not ok %u - c/%s: ", n_checks, name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	fflush(stdout);
	return ok;
}

/* CHECK(condition, name, printf-style details shown on failure) */
#define CHECK(cond, name, ...) check(!!(cond), (name), __VA_ARGS__)

/*
 * A check that cannot run with the module's limits: a TAP skip ("# SKIP" directive), which the
 * harness counts as skipped, neither passed nor failed.
 */
static void skip(const char *name, const char *fmt, ...)
{
	va_list ap;

	n_checks++;
	n_skipped++;
	printf("ok %u - c/%s # SKIP ", n_checks, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Name of an errno value as returned by the wrappers below (0: success). */
static const char *en(int e)
{
	static char other[32];

	switch (e) {
	case 0: return "success";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ERANGE: return "ERANGE";
	case ENODATA: return "ENODATA";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ENOTTY: return "ENOTTY";
	case EFAULT: return "EFAULT";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case E2BIG: return "E2BIG";
	case ENOSPC: return "ENOSPC";
	case ENOMEM: return "ENOMEM";
	}
	snprintf(other, sizeof(other), "errno %d", e);
	return other;
}

static __u64 ptr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

/* Printable form of n bytes, non-printable ones as \xHH (one static buffer). */
static const char *esc(const char *p, size_t n)
{
	static char out[256];
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < sizeof(out); i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

/* The names as "a,b,c" (one static buffer). */
static const char *joined(char names[][64], size_t n)
{
	static char out[512];
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < n && o < sizeof(out); i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? "," : "",
				      esc(names[i], strlen(names[i])));
	return out;
}

/* Every wrapper returns 0 or the errno of the failed ioctl. */
static int xioctl(unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) == 0 ? 0 : errno;
}

static int ps_setn(const char *path, size_t path_len, const void *value, size_t value_len,
		   __u32 flags, __u64 *version)
{
	struct pathstore_set a;
	int e;

	memset(&a, 0, sizeof(a));
	a.path = ptr(path);
	a.path_len = (__u32)path_len;
	a.value = ptr(value);
	a.value_len = (__u32)value_len;
	a.flags = flags;
	e = xioctl(PATHSTORE_IOC_SET, &a);
	if (!e && version)
		*version = a.version;
	return e;
}

static int ps_set(const char *path, const char *value, __u32 flags, __u64 *version)
{
	return ps_setn(path, strlen(path), value, strlen(value), flags, version);
}

static int ps_getn(const char *path, size_t path_len, void *buf, size_t buf_len,
		   struct pathstore_get *a)
{
	memset(a, 0, sizeof(*a));
	a->path = ptr(path);
	a->path_len = (__u32)path_len;
	a->buf = ptr(buf);
	a->buf_len = (__u32)buf_len;
	return xioctl(PATHSTORE_IOC_GET, a);
}

static int ps_get(const char *path, void *buf, size_t buf_len, struct pathstore_get *a)
{
	return ps_getn(path, strlen(path), buf, buf_len, a);
}

static int ps_delete(const char *path, __u32 flags)
{
	struct pathstore_delete a;

	memset(&a, 0, sizeof(a));
	a.path = ptr(path);
	a.path_len = (__u32)strlen(path);
	a.flags = flags;
	return xioctl(PATHSTORE_IOC_DELETE, &a);
}

/* after: cursor name, or NULL to start at the first child. */
static int ps_list(const char *path, const char *after, void *buf, size_t buf_len,
		   struct pathstore_list *a)
{
	memset(a, 0, sizeof(*a));
	a->path = ptr(path);
	a->path_len = (__u32)strlen(path);
	a->after = ptr(after);
	a->after_len = after ? (__u32)strlen(after) : 0;
	a->buf = ptr(buf);
	a->buf_len = (__u32)buf_len;
	return xioctl(PATHSTORE_IOC_LIST, a);
}

static int ps_stat(const char *path, struct pathstore_node_stat *st)
{
	struct pathstore_stat a;
	int e;

	memset(&a, 0, sizeof(a));
	a.path = ptr(path);
	a.path_len = (__u32)strlen(path);
	e = xioctl(PATHSTORE_IOC_STAT, &a);
	*st = a.stat;
	return e;
}

static int ps_stats(struct pathstore_store_stats *s)
{
	memset(s, 0, sizeof(*s));
	return xioctl(PATHSTORE_IOC_STORE_STATS, s);
}

static int exists(const char *path)
{
	struct pathstore_node_stat st;

	return ps_stat(path, &st) != ENOENT;
}

/*
 * Appends "/" and components of at most PATHSTORE_MAX_NAME_LEN bytes of `fill` to `path` until it
 * is exactly `len` bytes long (len > strlen(path) + 1). Returns the number of components added.
 */
static unsigned int grow_path(char *path, size_t len, char fill)
{
	size_t cur = strlen(path);
	unsigned int added = 0;

	while (cur < len) {
		size_t k = len - cur - 1;

		if (k > PATHSTORE_MAX_NAME_LEN)
			k = PATHSTORE_MAX_NAME_LEN;
		if (len - cur - 1 - k == 1) /* would leave room for "/" alone */
			k--;
		path[cur++] = '/';
		memset(path + cur, fill, k);
		cur += k;
		added++;
	}
	path[cur] = '\0';
	return added;
}

/* The children created under ROOT "/list", in creation order, and in byte order. */
static const char *const list_created[] = {
	"zeta", "alpha", "Mid", "beta", "a", "b0", "\xc3\xa9t\xc3\xa9", /* "été": bytes >= 0x80 */
};
static const char *const list_sorted[] = {
	"Mid", "a", "alpha", "b0", "beta", "zeta", "\xc3\xa9t\xc3\xa9",
};
#define LIST_N (sizeof(list_sorted) / sizeof(list_sorted[0]))

/*
 * Splits a list buffer into names, appending them to names[*n]. Returns 0 if it holds exactly
 * `count` NUL-terminated names in `used` bytes, -1 otherwise.
 */
static int split_names(const char *buf, __u32 used, __u32 count, char names[][64], size_t *n,
		       size_t max)
{
	__u32 off = 0, i;

	for (i = 0; i < count; i++) {
		const char *end = memchr(buf + off, '\0', used - off);
		size_t len;

		if (!end || *n >= max)
			return -1;
		len = (size_t)(end - (buf + off));
		if (len == 0 || len >= 64)
			return -1;
		memcpy(names[*n], buf + off, len + 1);
		(*n)++;
		off += (__u32)len + 1;
	}
	return off == used ? 0 : -1;
}

static void test_version(void)
{
	struct pathstore_version v;
	int e;

	memset(&v, 0xa5, sizeof(v));
	e = xioctl(PATHSTORE_IOC_VERSION, &v);
	if (!CHECK(e == 0 && v.abi_version == PATHSTORE_ABI_VERSION, "version handshake",
		   "%s, abi_version %u (header has %u)", en(e), v.abi_version, PATHSTORE_ABI_VERSION))
		return;
	printf("# module version %u.%u.%u, ABI %u\n", v.module_version >> 16,
	       (v.module_version >> 8) & 0xff, v.module_version & 0xff, v.abi_version);
	CHECK(v.reserved[0] == 0 && v.reserved[1] == 0, "version reserved fields are zeroed",
	      "%llx %llx", (unsigned long long)v.reserved[0], (unsigned long long)v.reserved[1]);
	CHECK(v.session != 0, "version reports the file's session", "session %llu",
	      (unsigned long long)v.session);
}

static void test_set_get(void)
{
	static const char bin[] = { 'a', '\0', 'b', '\0', '\0', 'c', '\xff', '\0' };
	struct pathstore_get g;
	struct pathstore_node_stat st;
	char buf[64];
	__u64 v1 = 0, v2 = 0;
	int e;

	e = ps_setn(ROOT "/bin", strlen(ROOT "/bin"), bin, sizeof(bin), 0, &v1);
	CHECK(e == 0 && v1 > 0, "set a binary value", "%s, version %llu", en(e),
	      (unsigned long long)v1);

	memset(buf, 0x5a, sizeof(buf));
	e = ps_get(ROOT "/bin", buf, sizeof(buf), &g);
	CHECK(e == 0 && g.value_len == sizeof(bin) && memcmp(buf, bin, sizeof(bin)) == 0,
	      "get returns the binary value, NUL bytes included", "%s, value_len %u (want %zu)",
	      en(e), g.value_len, sizeof(bin));
	CHECK(e == 0 && g.version == v1, "get returns the version set returned",
	      "%s, get %llu, set %llu", en(e), (unsigned long long)g.version,
	      (unsigned long long)v1);

	e = ps_get(ROOT "/bin/", buf, sizeof(buf), &g);
	CHECK(e == 0 && g.value_len == sizeof(bin), "a trailing / names the same node",
	      "%s, value_len %u", en(e), g.value_len);

	e = ps_set(ROOT "/bin", "second", 0, &v2);
	CHECK(e == 0 && v2 > v1, "set replaces a value with a higher version",
	      "%s, versions %llu then %llu", en(e), (unsigned long long)v1,
	      (unsigned long long)v2);
	memset(buf, 0, sizeof(buf));
	e = ps_get(ROOT "/bin", buf, sizeof(buf), &g);
	CHECK(e == 0 && g.value_len == 6 && memcmp(buf, "second", 6) == 0,
	      "get returns the replaced value", "%s, value_len %u", en(e), g.value_len);

	/* ENODATA: ROOT was created as a parent only. */
	e = ps_get(ROOT, buf, sizeof(buf), &g);
	CHECK(e == ENODATA, "get on a node created only as a parent gives ENODATA", "%s", en(e));

	e = ps_get(ROOT "/missing", buf, sizeof(buf), &g);
	CHECK(e == ENOENT, "get on a missing node gives ENOENT", "%s", en(e));

	/* Empty values are values. */
	e = ps_setn(ROOT "/empty", strlen(ROOT "/empty"), NULL, 0, 0, NULL);
	CHECK(e == 0, "set an empty value (value address 0)", "%s", en(e));
	e = ps_get(ROOT "/empty", NULL, 0, &g);
	CHECK(e == 0 && g.value_len == 0, "get an empty value into a 0-byte buffer",
	      "%s, value_len %u", en(e), g.value_len);
	e = ps_stat(ROOT "/empty", &st);
	CHECK(e == 0 && (st.flags & PATHSTORE_STAT_HAS_VALUE) && st.value_len == 0,
	      "stat an empty value counts as a value", "%s, flags %#x, value_len %u", en(e),
	      st.flags, st.value_len);
}

static void test_create(void)
{
	struct pathstore_get g;
	char buf[64];
	int e;

	e = ps_set(ROOT "/bin", "third", PATHSTORE_SET_CREATE, NULL);
	CHECK(e == EEXIST, "SET_CREATE on a node with a value gives EEXIST", "%s", en(e));
	memset(buf, 0, sizeof(buf));
	e = ps_get(ROOT "/bin", buf, sizeof(buf), &g);
	CHECK(e == 0 && g.value_len == 6 && memcmp(buf, "second", 6) == 0,
	      "a failed SET_CREATE keeps the value", "%s, value_len %u", en(e), g.value_len);

	e = ps_set(ROOT, "x", PATHSTORE_SET_CREATE, NULL);
	CHECK(e == EEXIST, "SET_CREATE on a node without a value gives EEXIST", "%s", en(e));
	e = ps_get(ROOT, buf, sizeof(buf), &g);
	CHECK(e == ENODATA, "a failed SET_CREATE sets no value", "%s", en(e));

	e = ps_set("/", "x", PATHSTORE_SET_CREATE, NULL);
	CHECK(e == EEXIST, "SET_CREATE on / gives EEXIST", "%s", en(e));

	e = ps_set(ROOT "/new", "fresh", PATHSTORE_SET_CREATE, NULL);
	CHECK(e == 0, "SET_CREATE on a new node succeeds", "%s", en(e));
	e = ps_get(ROOT "/new", buf, sizeof(buf), &g);
	CHECK(e == 0 && g.value_len == 5 && memcmp(buf, "fresh", 5) == 0,
	      "get after SET_CREATE", "%s, value_len %u", en(e), g.value_len);
}

static void test_erange(void)
{
	struct pathstore_get g;
	char buf[8];
	int e;

	/* ROOT/bin holds "second" (6 bytes). */
	e = ps_get(ROOT "/bin", buf, 3, &g);
	CHECK(e == ERANGE && g.value_len == 6, "get with a too-small buffer gives ERANGE and value_len",
	      "%s, value_len %u (want 6)", en(e), g.value_len);
	e = ps_get(ROOT "/bin", NULL, 0, &g);
	CHECK(e == ERANGE && g.value_len == 6, "get with no buffer reports the size needed",
	      "%s, value_len %u (want 6)", en(e), g.value_len);
	e = ps_get(ROOT "/bin", buf, 6, &g);
	CHECK(e == 0 && g.value_len == 6 && memcmp(buf, "second", 6) == 0,
	      "get with a buffer of exactly value_len", "%s, value_len %u", en(e), g.value_len);
}

/* PATHSTORE_IOC_GET_BATCH: per-get results, and the header checks. */
static void test_get_batch(void)
{
	static const char *const paths[] = { ROOT "/bin", ROOT "/batch-missing", ROOT "/bin", "bad" };
	struct pathstore_get_op ops[4];
	struct pathstore_get_batch b;
	char bufs[4][16];
	size_t i;
	int e;

	/* ROOT/bin holds "second" (6 bytes); the third get has a 3-byte buffer. */
	memset(ops, 0, sizeof(ops));
	memset(bufs, 0, sizeof(bufs));
	for (i = 0; i < 4; i++) {
		ops[i].path = ptr(paths[i]);
		ops[i].path_len = (__u32)strlen(paths[i]);
		ops[i].buf = ptr(bufs[i]);
		ops[i].buf_len = i == 2 ? 3 : sizeof(bufs[i]);
	}
	memset(&b, 0, sizeof(b));
	b.ops = ptr(ops);
	b.count = 4;
	e = xioctl(PATHSTORE_IOC_GET_BATCH, &b);
	CHECK(e == 0 && b.done == 4, "get batch of 4 succeeds with done = 4", "%s, done %u", en(e),
	      b.done);
	CHECK(ops[0].error == 0 && ops[0].value_len == 6 && ops[0].version != 0 &&
		      memcmp(bufs[0], "second", 6) == 0,
	      "get batch: a present node is copied", "error %d, value_len %u", ops[0].error,
	      ops[0].value_len);
	CHECK(ops[1].error == -ENOENT, "get batch: a missing node gives -ENOENT in its entry",
	      "error %d", ops[1].error);
	CHECK(ops[2].error == -ERANGE && ops[2].value_len == 6 && ops[2].version == ops[0].version,
	      "get batch: a small buffer gives -ERANGE with value_len", "error %d, value_len %u",
	      ops[2].error, ops[2].value_len);
	CHECK(ops[3].error == -EINVAL, "get batch: a malformed path gives -EINVAL in its entry",
	      "error %d", ops[3].error);

	memset(&b, 0, sizeof(b));
	b.ops = ptr(ops);
	e = xioctl(PATHSTORE_IOC_GET_BATCH, &b);
	CHECK(e == EINVAL, "get batch of 0 gets gives EINVAL", "%s", en(e));
	b.count = PATHSTORE_GET_BATCH_MAX + 1;
	e = xioctl(PATHSTORE_IOC_GET_BATCH, &b);
	CHECK(e == E2BIG, "get batch of PATHSTORE_GET_BATCH_MAX + 1 gets gives E2BIG", "%s", en(e));
	b.count = 1;
	b.reserved[1] = 1;
	e = xioctl(PATHSTORE_IOC_GET_BATCH, &b);
	CHECK(e == EINVAL, "get batch with a non-zero reserved field gives EINVAL", "%s", en(e));
}

static void test_list(void)
{
	char path[64], buf[256], names[32][64];
	struct pathstore_list l;
	size_t i, n, used = 0;
	unsigned int calls;
	const char *after;
	int e, ok, more;

	ok = 1;
	for (i = 0; i < LIST_N; i++) {
		snprintf(path, sizeof(path), ROOT "/list/%s", list_created[i]);
		e = ps_set(path, "v", 0, NULL);
		if (e) {
			ok = 0;
			printf("# set %s: %s\n", path, en(e));
		}
	}
	CHECK(ok, "create the children to list", "see above");
	for (i = 0; i < LIST_N; i++)
		used += strlen(list_sorted[i]) + 1;

	/* One call with room for everything. */
	n = 0;
	memset(buf, 0, sizeof(buf));
	e = ps_list(ROOT "/list", NULL, buf, sizeof(buf), &l);
	ok = e == 0 && l.count == LIST_N && l.buf_used == used &&
	     !(l.result_flags & PATHSTORE_LIST_MORE) &&
	     split_names(buf, l.buf_used, l.count, names, &n, 32) == 0;
	for (i = 0; ok && i < LIST_N; i++)
		ok = strcmp(names[i], list_sorted[i]) == 0;
	CHECK(ok, "list returns all children in byte order",
	      "%s, count %u, buf_used %u (want %zu), result_flags %#x, names %s", en(e), l.count,
	      l.buf_used, used, l.result_flags, joined(names, n));

	/* A 12-byte buffer, following the cursor. */
	n = 0;
	ok = 1;
	more = 1;
	after = NULL;
	for (calls = 0; ok && more && calls < 2 * LIST_N; calls++) {
		e = ps_list(ROOT "/list", after, buf, 12, &l);
		more = !!(l.result_flags & PATHSTORE_LIST_MORE);
		ok = e == 0 && l.count >= 1 && l.buf_used <= 12 &&
		     split_names(buf, l.buf_used, l.count, names, &n, 32) == 0;
		if (!ok)
			printf("# list call %u after \"%s\": %s, count %u, buf_used %u, result_flags %#x\n",
			       calls + 1, after ? after : "", en(e), l.count, l.buf_used,
			       l.result_flags);
		else
			after = names[n - 1];
	}
	ok = ok && !more && n == LIST_N && calls > 1;
	for (i = 0; ok && i < LIST_N; i++)
		ok = strcmp(names[i], list_sorted[i]) == 0;
	CHECK(ok, "list with a small buffer pages through LIST_MORE and the cursor",
	      "%u calls, %zu names (want %zu), last result_flags %#x, names %s", calls, n, LIST_N,
	      l.result_flags, joined(names, n));

	e = ps_list(ROOT "/list", NULL, buf, 3, &l);
	CHECK(e == ERANGE && l.buf_used == 4, "list a name that does not fit gives ERANGE and the size",
	      "%s, buf_used %u (want 4 for \"Mid\")", en(e), l.buf_used);

	n = 0;
	e = ps_list(ROOT "/list", "b", buf, sizeof(buf), &l);
	ok = e == 0 && l.count == 4 && split_names(buf, l.buf_used, l.count, names, &n, 32) == 0 &&
	     strcmp(names[0], "b0") == 0;
	CHECK(ok, "list a cursor need not be an existing child", "%s, count %u (want 4)", en(e),
	      l.count);

	e = ps_list(ROOT "/list", "a/b", buf, sizeof(buf), &l);
	CHECK(e == EINVAL, "list a cursor that is not a valid name gives EINVAL", "%s", en(e));

	e = ps_list(ROOT "/bin", NULL, buf, sizeof(buf), &l);
	CHECK(e == 0 && l.count == 0 && l.buf_used == 0 && !(l.result_flags & PATHSTORE_LIST_MORE),
	      "list of a leaf is empty", "%s, count %u, buf_used %u, result_flags %#x", en(e),
	      l.count, l.buf_used, l.result_flags);

	e = ps_list(ROOT "/missing", NULL, buf, sizeof(buf), &l);
	CHECK(e == ENOENT, "list of a missing node gives ENOENT", "%s", en(e));
}

static void test_stat(void)
{
	struct pathstore_node_stat st, st2;
	__u64 v = 0, vc = 0;
	int e;

	memset(&st, 0, sizeof(st));
	memset(&st2, 0, sizeof(st2));

	e = ps_stat(ROOT "/bin", &st);
	CHECK(e == 0 && (st.flags & PATHSTORE_STAT_HAS_VALUE) && st.value_len == 6 &&
		      st.num_children == 0,
	      "stat of a leaf has a value, value_len and no children",
	      "%s, flags %#x, value_len %u, num_children %llu", en(e), st.flags, st.value_len,
	      (unsigned long long)st.num_children);
	CHECK(e == 0 && st.ctime_ns > 0 && st.mtime_ns >= st.ctime_ns,
	      "stat ctime set, mtime not before it", "ctime %llu mtime %llu",
	      (unsigned long long)st.ctime_ns, (unsigned long long)st.mtime_ns);
	CHECK(e == 0 && st.session == 0, "stat of a persistent node has no session", "%s", en(e));
	CHECK(e == 0 && st.uid == getuid() && st.mode == PATHSTORE_MODE_DEFAULT,
	      "stat reports the creator as owner and the default mode", "%s, uid %u, mode %#x", en(e),
	      st.uid, st.mode);

	e = ps_stat(ROOT "/list", &st);
	CHECK(e == 0 && !(st.flags & PATHSTORE_STAT_HAS_VALUE) && st.value_len == 0 &&
		      st.num_children == LIST_N,
	      "stat of a parent has no value and num_children",
	      "%s, flags %#x, value_len %u, num_children %llu (want %zu)", en(e), st.flags,
	      st.value_len, (unsigned long long)st.num_children, LIST_N);

	e = ps_stat(ROOT "/bin", &st);
	if (e == 0)
		e = ps_set(ROOT "/bin", "third!", 0, &v);
	if (e == 0)
		e = ps_stat(ROOT "/bin", &st2);
	CHECK(e == 0 && st2.version > st.version && st2.version == v,
	      "stat version increases after a set, to the version set returned",
	      "%s, before %llu, after %llu, set returned %llu", en(e),
	      (unsigned long long)st.version, (unsigned long long)st2.version,
	      (unsigned long long)v);
	CHECK(e == 0 && st2.ctime_ns == st.ctime_ns && st2.mtime_ns >= st.mtime_ns,
	      "stat a set keeps ctime and moves mtime forward", "%s", en(e));

	e = ps_stat(ROOT "/list", &st);
	if (e == 0)
		e = ps_set(ROOT "/list/newborn", "", 0, &vc);
	if (e == 0)
		e = ps_stat(ROOT "/list", &st2);
	/* The child's creation happened no later than its value was set. */
	CHECK(e == 0 && st2.child_version > st.child_version && st2.child_version <= vc &&
		      st2.num_children == st.num_children + 1 && st2.version == st.version,
	      "stat creating a child moves child_version, not version",
	      "%s, child_version %llu -> %llu (child's version %llu), version %llu -> %llu", en(e),
	      (unsigned long long)st.child_version, (unsigned long long)st2.child_version,
	      (unsigned long long)vc, (unsigned long long)st.version,
	      (unsigned long long)st2.version);
	st = st2;
	e = ps_delete(ROOT "/list/newborn", 0);
	if (e == 0)
		e = ps_stat(ROOT "/list", &st2);
	CHECK(e == 0 && st2.child_version > st.child_version &&
		      st2.num_children == st.num_children - 1,
	      "stat deleting a child moves child_version", "%s, child_version %llu -> %llu", en(e),
	      (unsigned long long)st.child_version, (unsigned long long)st2.child_version);

	e = ps_stat(ROOT "/missing", &st);
	CHECK(e == ENOENT, "stat of a missing node gives ENOENT", "%s", en(e));
}

/*
 * A program built against the first, 88-byte struct pathstore_store_stats issues
 * PATHSTORE_IOC_STORE_STATS_V1: the module writes those 88 bytes only, the same as the current
 * call's (cur, read just before on an unchanged store) but dev_mode, zero as the pad it was.
 */
static void test_store_stats_v1(const struct pathstore_store_stats *cur)
{
	struct pathstore_store_stats old, want;
	const unsigned char *tail = (const unsigned char *)&old + PATHSTORE_STORE_STATS_V1_SIZE;
	size_t i, n = sizeof(old) - PATHSTORE_STORE_STATS_V1_SIZE;
	int e, untouched = 1;

	memset(&old, 0xa5, sizeof(old));
	e = xioctl(PATHSTORE_IOC_STORE_STATS_V1, &old);
	for (i = 0; i < n; i++)
		untouched &= tail[i] == 0xa5;
	want = *cur;
	want.dev_mode = 0;
	CHECK(e == 0 && untouched && old.dev_mode == 0 &&
		      memcmp(&old, &want, PATHSTORE_STORE_STATS_V1_SIZE) == 0,
	      "store stats for old programs write their 88 bytes and nothing after them",
	      "%s, bytes after 88 untouched %d, dev_mode %u, nodes %llu (now %llu)", en(e),
	      untouched, old.dev_mode, (unsigned long long)old.nodes,
	      (unsigned long long)cur->nodes);
}

static void test_store_stats(struct pathstore_store_stats *s)
{
	struct pathstore_store_stats a, b;
	__u64 v = 0;
	int e;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));

	e = ps_stats(s);
	CHECK(e == 0 && s->nodes >= 1 && s->max_nodes >= s->nodes && s->max_bytes >= s->bytes &&
		      s->max_value_len > 0 && s->max_path_len > 0 && s->max_depth > 0,
	      "store stats usage within the limits",
	      "%s, nodes %llu/%llu bytes %llu/%llu max_value_len %u max_path_len %u max_depth %u",
	      en(e), (unsigned long long)s->nodes, (unsigned long long)s->max_nodes,
	      (unsigned long long)s->bytes, (unsigned long long)s->max_bytes, s->max_value_len,
	      s->max_path_len, s->max_depth);

	/* A new leaf named "acct" (4 bytes) holding 5 bytes: one node, 9 bytes, one change. */
	e = ps_stats(&a);
	if (e == 0)
		e = ps_set(ROOT "/acct", "12345", 0, &v);
	if (e == 0)
		e = ps_stats(&b);
	CHECK(e == 0 && b.nodes == a.nodes + 1 && b.bytes == a.bytes + 9 && b.sequence > a.sequence &&
		      b.sequence >= v,
	      "store stats a new leaf adds one node, its name and value bytes",
	      "%s, nodes %llu -> %llu, bytes %llu -> %llu, sequence %llu -> %llu (set returned %llu)",
	      en(e), (unsigned long long)a.nodes, (unsigned long long)b.nodes,
	      (unsigned long long)a.bytes, (unsigned long long)b.bytes,
	      (unsigned long long)a.sequence, (unsigned long long)b.sequence,
	      (unsigned long long)v);
	CHECK(b.dev_mode <= 0777 && b.reserve_nodes < b.max_nodes && b.reserve_bytes <= b.max_bytes &&
		      b.watch_events >= 1 && b.watch_bytes >= b.max_path_len,
	      "store stats report the module parameters within their ranges",
	      "dev_mode %o reserve_nodes %llu reserve_bytes %llu watch_events %u watch_bytes %u",
	      b.dev_mode, (unsigned long long)b.reserve_nodes, (unsigned long long)b.reserve_bytes,
	      b.watch_events, b.watch_bytes);
	test_store_stats_v1(&b);
	CHECK(b.uid_nodes < b.nodes && b.uid_bytes <= b.bytes && b.uid_max_nodes > 0,
	      "store stats report the caller's usage and quota",
	      "uid_nodes %llu of %llu, uid_bytes %llu of %llu", (unsigned long long)b.uid_nodes,
	      (unsigned long long)b.nodes, (unsigned long long)b.uid_bytes,
	      (unsigned long long)b.bytes);
}

static void test_delete(void)
{
	struct pathstore_node_stat st;
	struct pathstore_get g;
	char buf[8];
	int e;

	e = ps_delete(ROOT "/list", 0);
	CHECK(e == ENOTEMPTY, "delete of a node with children gives ENOTEMPTY", "%s", en(e));
	e = ps_stat(ROOT "/list", &st);
	CHECK(e == 0 && st.num_children == LIST_N, "a failed delete keeps the children",
	      "%s, num_children %llu", en(e), (unsigned long long)st.num_children);

	e = ps_delete(ROOT "/list/a", 0);
	CHECK(e == 0, "delete of a leaf", "%s", en(e));
	e = ps_get(ROOT "/list/a", buf, sizeof(buf), &g);
	CHECK(e == ENOENT, "get after delete gives ENOENT", "%s", en(e));

	e = ps_delete(ROOT "/list", PATHSTORE_DELETE_RECURSIVE);
	CHECK(e == 0, "recursive delete of a subtree", "%s", en(e));
	e = ps_stat(ROOT "/list", &st);
	CHECK(e == ENOENT, "stat after recursive delete gives ENOENT", "%s", en(e));
	e = ps_get(ROOT "/list/zeta", buf, sizeof(buf), &g);
	CHECK(e == ENOENT, "recursive delete removed the children", "%s", en(e));
	e = ps_delete(ROOT "/list", 0);
	CHECK(e == ENOENT, "delete of a missing node gives ENOENT", "%s", en(e));
}

static void test_paths(const struct pathstore_store_stats *s)
{
	static const struct {
		const char *path;
		size_t len;
	} bad[] = {
		{ "", 0 },
		{ "c-test/x", 8 },
		{ ROOT "//x", sizeof(ROOT "//x") - 1 },
		{ ROOT "/./x", sizeof(ROOT "/./x") - 1 },
		{ ROOT "/../x", sizeof(ROOT "/../x") - 1 },
		{ ROOT "/x/..", sizeof(ROOT "/x/..") - 1 },
		{ ROOT "/x\0y", sizeof(ROOT "/x\0y") - 1 },
	};
	char name[64], *path;
	size_t i;
	unsigned int comps;
	int e;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "invalid path #%zu gives EINVAL", i);
		e = ps_setn(bad[i].path, bad[i].len, "v", 1, 0, NULL);
		CHECK(e == EINVAL, name, "%s for \"%s\" (%zu bytes)", en(e),
		      esc(bad[i].path, bad[i].len), bad[i].len);
	}
	CHECK(!exists(ROOT "/x"), "invalid paths create nothing", ROOT "/x exists");

	path = calloc(1, s->max_path_len + 2 > 1024 ? s->max_path_len + 2 : 1024);
	if (!path) {
		CHECK(0, "path limits", "out of memory");
		return;
	}

	/* Component length. */
	strcpy(path, ROOT "/");
	memset(path + strlen(path), 'n', PATHSTORE_MAX_NAME_LEN);
	e = ps_set(path, "v", 0, NULL);
	CHECK(e == 0, "a component of PATHSTORE_MAX_NAME_LEN bytes is accepted", "%s", en(e));
	strcat(path, "n");
	e = ps_set(path, "v", 0, NULL);
	CHECK(e == ENAMETOOLONG, "a longer component gives ENAMETOOLONG", "%s", en(e));

	/* Depth: ROOT is one component. */
	if (s->max_depth >= 2 && (size_t)s->max_depth * 2 + 8 < s->max_path_len &&
	    s->max_depth < 400) {
		strcpy(path, ROOT);
		for (i = 1; i < s->max_depth; i++)
			strcat(path, "/d");
		e = ps_set(path, "v", 0, NULL);
		CHECK(e == 0, "a path of max_depth components is accepted", "%s (depth %u)", en(e),
		      s->max_depth);
		strcat(path, "/d");
		e = ps_set(path, "v", 0, NULL);
		CHECK(e == ENAMETOOLONG, "a path deeper than max_depth gives ENAMETOOLONG",
		      "%s (depth %u)", en(e), s->max_depth + 1);
	} else {
		skip("path depth limit", "max_depth %u, max_path_len %u", s->max_depth,
		     s->max_path_len);
	}

	/* Path length: exactly max_path_len bytes, then one more. */
	strcpy(path, ROOT "/plen");
	comps = 2 + grow_path(path, s->max_path_len, 'p');
	if (s->max_path_len > 64 && comps + 1 <= s->max_depth && s->max_path_len < (1u << 24)) {
		e = ps_set(path, "v", 0, NULL);
		CHECK(e == 0, "a path of max_path_len bytes is accepted", "%s (%zu bytes)", en(e),
		      strlen(path));
		strcpy(path, ROOT "/plen");
		grow_path(path, (size_t)s->max_path_len + 1, 'p');
		e = ps_set(path, "v", 0, NULL);
		CHECK(e == ENAMETOOLONG, "a path longer than max_path_len gives ENAMETOOLONG",
		      "%s (%zu bytes)", en(e), strlen(path));
	} else {
		skip("path length limit", "max_path_len %u, max_depth %u", s->max_path_len,
		     s->max_depth);
	}
	free(path);
}

static void test_value_limit(const struct pathstore_store_stats *s)
{
	size_t max = s->max_value_len;
	char *value = calloc(1, max + 1);
	int e;

	if (!value || max >= (1u << 28)) {
		skip("value length limit", "max_value_len %zu", max);
		free(value);
		return;
	}
	e = ps_setn(ROOT "/big", strlen(ROOT "/big"), value, max, 0, NULL);
	CHECK(e == 0, "a value of max_value_len bytes is accepted", "%s (%zu bytes)", en(e), max);
	e = ps_setn(ROOT "/big2", strlen(ROOT "/big2"), value, max + 1, 0, NULL);
	CHECK(e == E2BIG, "a longer value gives E2BIG", "%s (%zu bytes)", en(e), max + 1);
	CHECK(!exists(ROOT "/big2"), "E2BIG creates nothing", ROOT "/big2 exists");
	free(value);
}

static void test_bad_ioctls(void)
{
	char arg[256];
	int e;

	memset(arg, 0, sizeof(arg));
	e = xioctl(_IO(PATHSTORE_IOC_MAGIC, 0x7f), arg);
	CHECK(e == ENOTTY, "unknown ioctl number gives ENOTTY", "%s", en(e));
	e = xioctl(_IOC(_IOC_READ | _IOC_WRITE, PATHSTORE_IOC_MAGIC, 0x01, 64), arg);
	CHECK(e == ENOTTY, "a known number with another size gives ENOTTY", "%s", en(e));
	e = xioctl(_IOR('x', 0x00, struct pathstore_version), arg);
	CHECK(e == ENOTTY, "another ioctl magic gives ENOTTY", "%s", en(e));
}

static void test_efault(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *none, *ro, *path_at_end;
	struct pathstore_get g;
	struct pathstore_list l;
	int e;

	e = xioctl(PATHSTORE_IOC_VERSION, NULL);
	CHECK(e == EFAULT, "version with a NULL argument gives EFAULT", "%s", en(e));
	e = xioctl(PATHSTORE_IOC_STORE_STATS, NULL);
	CHECK(e == EFAULT, "store stats with a NULL argument gives EFAULT", "%s", en(e));
	e = xioctl(PATHSTORE_IOC_SET, NULL);
	CHECK(e == EFAULT, "set with a NULL argument gives EFAULT", "%s", en(e));

	/* Two pages: the first read-only, the second inaccessible. */
	ro = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED) {
		CHECK(0, "mmap for the EFAULT checks", "%s", strerror(errno));
		return;
	}
	none = ro + page;
	/* A valid path in the last bytes of the read-only page. */
	path_at_end = none - strlen(ROOT "/bin");
	memcpy(path_at_end, ROOT "/bin", strlen(ROOT "/bin"));
	if (mprotect(ro, (size_t)page, PROT_READ) != 0 ||
	    mprotect(none, (size_t)page, PROT_NONE) != 0) {
		CHECK(0, "mprotect for the EFAULT checks", "%s", strerror(errno));
		munmap(ro, 2 * (size_t)page);
		return;
	}

	e = xioctl(PATHSTORE_IOC_SET, none);
	CHECK(e == EFAULT, "set with an unmapped argument gives EFAULT", "%s", en(e));
	e = ps_setn(none, 8, "v", 1, 0, NULL);
	CHECK(e == EFAULT, "set with an unmapped path gives EFAULT", "%s", en(e));
	e = ps_setn(ROOT "/ef/leaf", strlen(ROOT "/ef/leaf"), none, 16, 0, NULL);
	CHECK(e == EFAULT, "set with an unmapped value gives EFAULT", "%s", en(e));
	CHECK(!exists(ROOT "/ef"), "a set failing with EFAULT creates nothing",
	      ROOT "/ef exists");
	e = ps_get(ROOT "/bin", ro, 64, &g);
	CHECK(e == EFAULT, "get into a read-only buffer gives EFAULT", "%s", en(e));
	e = ps_get(ROOT "/bin", NULL, 64, &g);
	CHECK(e == EFAULT, "get into a NULL buffer gives EFAULT", "%s", en(e));
	e = ps_list(ROOT, NULL, ro, 64, &l);
	CHECK(e == EFAULT, "list into a read-only buffer gives EFAULT", "%s", en(e));
	e = ps_getn(path_at_end, strlen(ROOT "/bin"), NULL, 0, &g);
	CHECK(e == ERANGE, "a path ending at a page boundary is read exactly", "%s", en(e));

	munmap(ro, 2 * (size_t)page);
}

/* Compare-and-set, conditional delete, sequential and ephemeral nodes. */
static void test_coordination(void)
{
	struct pathstore_node_stat st;
	struct pathstore_set s;
	struct pathstore_delete d;
	const char *p = ROOT "/coord/cas";
	const char *q = ROOT "/coord/queue/item-";
	char name[128];
	__u64 v1 = 0, v2 = 0;
	int e, other;

	e = ps_set(p, "1", 0, &v1);
	CHECK(e == 0, "coordination: set a node", "%s", en(e));
	memset(&s, 0, sizeof(s));
	s.path = ptr(p);
	s.path_len = (__u32)strlen(p);
	s.value = ptr("2");
	s.value_len = 1;
	s.flags = PATHSTORE_SET_IF_VERSION;
	s.expected_version = v1;
	e = xioctl(PATHSTORE_IOC_SET, &s);
	v2 = s.version;
	CHECK(e == 0 && v2 > v1, "compare-and-set with the current version replaces the value",
	      "%s", en(e));
	s.value = ptr("3");
	e = xioctl(PATHSTORE_IOC_SET, &s);
	CHECK(e == ESTALE && s.version == v2,
	      "compare-and-set with an old version gives ESTALE and the current version",
	      "%s, version %llu (current %llu)", en(e), (unsigned long long)s.version,
	      (unsigned long long)v2);
	memset(&d, 0, sizeof(d));
	d.path = ptr(p);
	d.path_len = (__u32)strlen(p);
	d.flags = PATHSTORE_DELETE_IF_VERSION;
	d.expected_version = v1;
	e = xioctl(PATHSTORE_IOC_DELETE, &d);
	CHECK(e == ESTALE && d.version == v2 && exists(p),
	      "a conditional delete with an old version gives ESTALE and deletes nothing", "%s",
	      en(e));
	d.expected_version = v2;
	e = xioctl(PATHSTORE_IOC_DELETE, &d);
	CHECK(e == 0 && !exists(p), "a conditional delete with the current version deletes",
	      "%s", en(e));

	memset(&s, 0, sizeof(s));
	s.path = ptr(q);
	s.path_len = (__u32)strlen(q);
	s.flags = PATHSTORE_SET_SEQUENTIAL;
	e = xioctl(PATHSTORE_IOC_SET, &s);
	CHECK(e == 0 && s.sequence == 0, "the first sequential node gets number 0", "%s, %llu",
	      en(e), (unsigned long long)s.sequence);
	e = xioctl(PATHSTORE_IOC_SET, &s);
	snprintf(name, sizeof(name), "%s%0*llu", q, PATHSTORE_SEQUENTIAL_DIGITS,
		 (unsigned long long)s.sequence);
	CHECK(e == 0 && s.sequence == 1 && exists(name),
	      "the next sequential node gets number 1, named with ten digits", "%s, %s", en(e),
	      name);

	/* An ephemeral node lives as long as the file that created it. */
	other = open(dev_path, O_RDWR | O_CLOEXEC);
	memset(&s, 0, sizeof(s));
	s.path = ptr(ROOT "/coord/eph");
	s.path_len = (__u32)strlen(ROOT "/coord/eph");
	s.flags = PATHSTORE_SET_EPHEMERAL;
	e = other >= 0 && ioctl(other, PATHSTORE_IOC_SET, &s) == 0 ? 0 : errno;
	CHECK(e == 0 && ps_stat(ROOT "/coord/eph", &st) == 0 && st.session != 0,
	      "an ephemeral node carries its file's session", "%s", en(e));
	e = ps_set(ROOT "/coord/eph/child", "x", 0, NULL);
	CHECK(e == ENOTDIR, "an ephemeral node cannot have children (ENOTDIR)", "%s", en(e));
	if (other >= 0)
		close(other);
	CHECK(!exists(ROOT "/coord/eph"), "closing its file removes an ephemeral node",
	      ROOT "/coord/eph still exists");
}

static void test_reserved(void)
{
	struct pathstore_set s;
	struct pathstore_get g;
	struct pathstore_delete d;
	struct pathstore_list l;
	struct pathstore_stat st;
	const char *p = ROOT "/rsv";
	char buf[64];
	int e;

#define INIT(a) (memset(&(a), 0, sizeof(a)), (a).path = ptr(p), (a).path_len = (__u32)strlen(p))

	INIT(s);
	s.value = ptr("v");
	s.value_len = 1;
	s.expected_version = 1;
	e = xioctl(PATHSTORE_IOC_SET, &s);
	CHECK(e == EINVAL, "set with expected_version but no PATHSTORE_SET_IF_VERSION gives EINVAL",
	      "%s", en(e));
	CHECK(!exists(p), "the rejected set created nothing", "%s exists", p);
	INIT(s);
	s.mode = 1;
	e = xioctl(PATHSTORE_IOC_SET, &s);
	CHECK(e == EINVAL, "set with a mode but without PATHSTORE_SET_MODE gives EINVAL", "%s", en(e));
	INIT(s);
	s.flags = PATHSTORE_SET_MODE;
	s.mode = 1u << 2;
	e = xioctl(PATHSTORE_IOC_SET, &s);
	CHECK(e == EINVAL, "set with an unknown mode bit gives EINVAL", "%s", en(e));
	INIT(s);
	s.flags = 1u << 7;
	e = xioctl(PATHSTORE_IOC_SET, &s);
	CHECK(e == EINVAL, "set with an unknown flag gives EINVAL", "%s", en(e));
	CHECK(!exists(p), "the rejected sets created nothing", "%s exists", p);

	e = ps_set(p, "v", 0, NULL);
	CHECK(e == 0, "set " ROOT "/rsv", "%s", en(e));

	INIT(g);
	g.buf = ptr(buf);
	g.buf_len = sizeof(buf);
	g.reserved[0] = 1;
	e = xioctl(PATHSTORE_IOC_GET, &g);
	CHECK(e == EINVAL, "get with a non-zero reserved field gives EINVAL", "%s", en(e));
	INIT(g);
	g.buf = ptr(buf);
	g.buf_len = sizeof(buf);
	g.flags = 1;
	e = xioctl(PATHSTORE_IOC_GET, &g);
	CHECK(e == EINVAL, "get with a non-zero flags gives EINVAL", "%s", en(e));

	INIT(d);
	d.expected_version = 1;
	e = xioctl(PATHSTORE_IOC_DELETE, &d);
	CHECK(e == EINVAL, "delete with expected_version but no PATHSTORE_DELETE_IF_VERSION gives EINVAL",
	      "%s", en(e));
	INIT(d);
	d.flags = 1u << 5;
	e = xioctl(PATHSTORE_IOC_DELETE, &d);
	CHECK(e == EINVAL, "delete with an unknown flag gives EINVAL", "%s", en(e));
	CHECK(exists(p), "the rejected deletes removed nothing", "%s is gone", p);

	INIT(l);
	l.buf = ptr(buf);
	l.buf_len = sizeof(buf);
	l.pad = 1;
	e = xioctl(PATHSTORE_IOC_LIST, &l);
	CHECK(e == EINVAL, "list with a non-zero pad gives EINVAL", "%s", en(e));
	INIT(l);
	l.buf = ptr(buf);
	l.buf_len = sizeof(buf);
	l.reserved[0] = 1;
	e = xioctl(PATHSTORE_IOC_LIST, &l);
	CHECK(e == EINVAL, "list with a non-zero reserved field gives EINVAL", "%s", en(e));
	INIT(l);
	l.buf = ptr(buf);
	l.buf_len = sizeof(buf);
	l.flags = 1;
	e = xioctl(PATHSTORE_IOC_LIST, &l);
	CHECK(e == EINVAL, "list with a non-zero flags gives EINVAL", "%s", en(e));

	INIT(st);
	st.flags = 1;
	e = xioctl(PATHSTORE_IOC_STAT, &st);
	CHECK(e == EINVAL, "stat with a non-zero flags gives EINVAL", "%s", en(e));
#undef INIT
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : getenv("PATHSTORE_DEVICE");
	struct pathstore_store_stats stats;
	int e;

	if (!dev || !*dev)
		dev = "/dev/" PATHSTORE_DEVICE_NAME;
	dev_path = dev;
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (!CHECK(fd >= 0, "open the device", "%s: %s", dev, strerror(errno))) {
		printf("Bail out! cannot open %s\n", dev);
		return 1;
	}

	test_version();

	e = ps_delete(ROOT, PATHSTORE_DELETE_RECURSIVE);
	CHECK(e == 0 || e == ENOENT, "start from an empty " ROOT, "%s", en(e));

	test_set_get();
	test_create();
	test_erange();
	test_get_batch();
	test_list();
	test_stat();
	test_store_stats(&stats);
	test_delete();
	test_paths(&stats);
	test_value_limit(&stats);
	test_bad_ioctls();
	test_efault();
	test_reserved();
	test_coordination();

	e = ps_delete(ROOT, PATHSTORE_DELETE_RECURSIVE);
	CHECK(e == 0, "clean up " ROOT, "%s", en(e));
	CHECK(!exists(ROOT), ROOT " is gone", "stat does not give ENOENT");

	close(fd);
	printf("1..%u\n", n_checks);
	if (n_skipped)
		printf("# %u of %u checks skipped\n", n_skipped, n_checks);
	if (n_failed)
		printf("# %u of %u checks failed\n", n_failed, n_checks);
	return n_failed ? 1 : 0;
}
