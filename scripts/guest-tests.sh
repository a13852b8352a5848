#!/bin/sh
# The in-guest half of `make test` (run by scripts/test.sh through qemu/run.sh, as root, with the
# module already loaded with its default parameters). Runs every guest test suite and prints one
# result line per test: libtest's `test NAME ... ok|FAILED` for Rust suites, `ok - NAME` /
# `not ok - NAME` for the rest. KUnit results go to the kernel log, which the host reads.
#
# Needs: INTEGRATION (the integration test binary), C_TEST (the C program), both host-built, and
# tools/target/release/pathstore-fuzz (built by scripts/build.sh).
set -u
repo=${PATHSTORE_REPO:?}
ko=/pathstore.ko
failed=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1${2:+: $2}"; failed=1; }
check() { # name command...
	name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}

# Only leaks that appear from here on count.
kmemleak=/sys/kernel/debug/kmemleak
[ -w $kmemleak ] && echo clear >$kmemleak

echo "== integration tests (Rust client library, default limits)"
"$INTEGRATION" --color never --test-threads=1 --skip limits:: --skip heavy:: --skip access:: --skip tenants:: --skip stress:: || failed=1

echo "== C program against include/uapi/linux/pathstore.h"
"$C_TEST" || failed=1

echo "== busybox shell test of the text interface"
PATHSTORE_DEVICE=/dev/pathstore sh "$repo/tests/shell/text_interface.sh" || failed=1

echo "== module lifecycle"
check "device node exists" test -c /dev/pathstore
check "device node is root-only (0600) by default" test "$(stat -c %a /dev/pathstore)" = 600
check "an unprivileged user cannot open it by default (EACCES)" sh -c \
	'/usr/bin/setpriv --reuid 1000 --regid 1000 --clear-groups sh -c "exec 3</dev/pathstore" 2>&1 | grep -q "Permission denied"'
exec 3</dev/pathstore
if rmmod pathstore 2>/dev/null; then notok "rmmod refused while the device is open"; insmod $ko; else ok "rmmod refused while the device is open"; fi
exec 3<&-
echo 'set /lifecycle/x 1' >/dev/pathstore
check "rmmod after use" rmmod pathstore
check "device node removed on unload" test ! -e /dev/pathstore

echo "== integration tests under small limits"
if insmod $ko max_value_len=64 max_path_len=128 max_depth=8 max_nodes=64 max_bytes=2048 watch_events=16; then
	ok "insmod with parameters"
	"$INTEGRATION" --color never --test-threads=1 limits:: || failed=1
	dmesg | grep -q 'max_value_len=64 max_path_len=128 max_depth=8 max_nodes=64 max_bytes=2048' &&
		ok "load line reports the limits" || notok "load line reports the limits"
	check "rmmod after limits suite" rmmod pathstore
else
	notok "insmod with parameters"
fi

echo "== unprivileged users: owners, access modes and per-user quotas"
if insmod $ko dev_mode=0666 uid_max_nodes=16 uid_max_bytes=1024; then
	ok "insmod with dev_mode=0666 and small per-user quotas"
	# Other users must be able to run the test binary, wherever the checkout lives.
	cp "$INTEGRATION" /tmp/integration && chmod 755 /tmp/integration
	/tmp/integration --color never --test-threads=1 access:: tenants:: || failed=1
	check "rmmod after the access suite" rmmod pathstore
else
	notok "insmod with dev_mode=0666 and small per-user quotas"
fi

echo "== fuzzer against its model, heavy use and the concurrency stress (PATHSTORE_STRESS_SECONDS, default 60), then unload with kmemleak clean"
insmod $ko
# Seeded (the first line of each run prints the seed; a mismatch prints the command that repeats
# it). Under fault injection the fuzzer keeps every kernel allocation within a page: a failed
# vmalloc would print a warning with a stack trace, which fails the run.
fuzz=$repo/tools/target/release/pathstore-fuzz
check "fuzz 100000 operations against the model" "$fuzz" --ops 100000 --seed 1
check "fuzz 20000 operations under random allocation failures" \
	"$fuzz" --ops 20000 --seed 2 --fault-inject --fault-mode seeded
# The fuzzer restores the fault-injection settings itself, even when it fails; make sure, then
# switch injection off whatever happened (a killed fuzzer cannot restore anything).
faults_off=yes
for attr in failslab fail_page_alloc; do
	knob=/sys/kernel/debug/$attr/probability
	[ "$(cat $knob 2>/dev/null)" = 0 ] || faults_off=no
	echo 0 >$knob 2>/dev/null
done
check "fault injection switched off after the fuzzer" test $faults_off = yes
"$INTEGRATION" --color never --test-threads=1 heavy:: stress:: || failed=1
check "rmmod after heavy use" rmmod pathstore
if [ -w $kmemleak ]; then
	# Objects younger than a few seconds are not reported; scan twice, as kmemleak advises.
	sleep 6
	echo scan >$kmemleak
	sleep 1
	echo scan >$kmemleak
	leaks=$(cat $kmemleak)
	if [ -z "$leaks" ]; then ok "kmemleak clean after unload"; else notok "kmemleak clean after unload"; echo "$leaks" | head -60; fi
else
	notok "kmemleak available" "no $kmemleak (debug kernel expected)"
fi
exit $failed
