#!/bin/sh
# The in-guest half of `make test` and `make check` (run by scripts/test.sh through qemu/run.sh,
# as root, with the module already loaded with its default parameters).
#
# Its output is a sequence of passes, each between markers that scripts/lib/tally.py reads:
#
#   @@ begin PASS libtest expect=N     a run of the integration binary; N is what its --list
#                                      gives for the same filters (0: the filter matched nothing)
#   @@ begin PASS tap                  a TAP producer (the C program, the shell test, the steps
#                                      below); its plan line `1..N` is the count
#   @@ end PASS status=S               the runner's exit status
#   @@ check ok|fail NAME[: DETAILS]   a harness step (insmod/rmmod between passes, kmemleak
#                                      active, fault injection off, kmemleak clean): not a test
#
# The host fails the run when a pass is missing, unfinished, reports fewer or more tests than
# expected, or exits with a status its results do not explain. The passes (scripts/lib/results.sh
# lists them): it-default, c-program, shell, lifecycle, it-limits, it-access, fuzz, it-heavy. KUnit
# results go to the kernel log, which the host reads from the saved dmesg.
#
# Needs: INTEGRATION (the integration test binary), C_TEST (the C program), both host-built, and
# tools/target/release/pathstore-fuzz (built by scripts/build.sh). Sizes (the fast tier passes
# smaller ones): PATHSTORE_IT_SCALE and PATHSTORE_STRESS_SECONDS (read by the integration tests;
# PATHSTORE_HEAVY_SCALE, default PATHSTORE_IT_SCALE, is the scale of the heavy pass),
# FUZZ_OPS (seed 1, default 50000), FUZZ_FAULT_OPS (seed 2 under allocation failures, default
# 20000), FUZZ_RANDOM_OPS and FUZZ_SEED (the random-seed segment: default 50000 operations, a
# seed from /dev/urandom). A size of 0 leaves that fuzz run out.
#
# PATHSTORE_FAIL_FAST=1 (scripts/mutants.sh): stop at the first pass or check that fails, and
# also when the KUnit suites of the first load failed or a pass left a splat in the kernel log;
# the host then reports the passes not run as missing.
set -u
repo=${PATHSTORE_REPO:?}
ko=/pathstore.ko
kmemleak=/sys/kernel/debug/kmemleak
fuzz=$repo/tools/target/release/pathstore-fuzz
: "${FUZZ_OPS:=50000}" "${FUZZ_FAULT_OPS:=20000}" "${FUZZ_RANDOM_OPS:=50000}"
[ -n "${FUZZ_SEED:-}" ] || FUZZ_SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
# A pipeline's status is its first failure's: the steps below pipe their output through sed.
# shellcheck disable=SC3040 # busybox sh has pipefail
set -o pipefail
failed=0
fail_fast=${PATHSTORE_FAIL_FAST:-0}

# With fail_fast: after a failed pass or check, stop (the host sees where from the markers).
stop_if_failed() {
	[ "$fail_fast" = 1 ] && [ $failed -ne 0 ] || return 0
	echo "== fail fast: stopping at the first failure"
	exit 1
}
# With fail_fast: a splat in the kernel log fails the run now rather than at the end.
splat_check() { # pass
	[ "$fail_fast" = 1 ] || return 0
	_splat=$(dmesg | grep -E 'BUG:|WARNING:|Oops|KASAN:|panicked at|rust_panic|UBSAN|Call Trace:|possible (circular|recursive) locking|suspected memory leak' | head -5)
	[ -z "$_splat" ] && return 0
	echo "$_splat"
	echo "@@ check fail guest/kernel log clean after $1"
	failed=1
}

# Pass boundaries also go to the kernel log, so that a splat there shows which pass caused it.
begin() { # pass format [expect=N]
	pass_started=$(date +%s)
	echo "@@ begin $*"
	echo "pathstore-tests: begin $1" >/dev/kmsg
}
end() { # pass status
	echo "@@ end $1 status=$2 seconds=$(($(date +%s) - pass_started))"
	echo "pathstore-tests: end $1 (status $2)" >/dev/kmsg
	[ "$2" -eq 0 ] || failed=1
	splat_check "$1"
	stop_if_failed
}
mark_check() { # ok|fail name [details]
	echo "@@ check $1 guest/$2${3:+: $3}"
	[ "$1" = ok ] || failed=1
	stop_if_failed
}
check() { # name command...: a harness step
	_name=$1
	shift
	if "$@"; then mark_check ok "$_name"; else mark_check fail "$_name"; fi
}

# TAP passes run by this script: tap_begin PASS N, then N `t NAME COMMAND...`, then tap_end.
tap_begin() {
	tap_pass=$1 tap_n=0 tap_failed=0
	begin "$1" tap
	echo "1..$2"
}
t() { # name command...: the command's output becomes TAP comments (never a result line)
	_name=$1
	shift
	tap_n=$((tap_n + 1))
	if "$@" 2>&1 | sed 's/^/# /'; then
		echo "ok $tap_n - $_name"
	else
		echo "not ok $tap_n - $_name"
		tap_failed=1
	fi
}
tap_end() {
	end "$tap_pass" $tap_failed
}

# After each libtest result line, the time since boot (from /proc/uptime, no fork): the host
# reports the slowest tests from these.
stamp() {
	while IFS= read -r _line; do
		printf '%s\n' "$_line"
		case $_line in
		"test "*" ... "*)
			read -r _up _ </proc/uptime
			echo "@@ time $_up"
			;;
		esac
	done
}

# The integration binary's passes. The ignored worker_process is the body of worker processes,
# not a test: every listing and run leaves it out.
it_pass() { # pass binary filters...
	_pass=$1 _bin=$2
	shift 2
	_expect=$("$_bin" --list --skip worker_process "$@" | grep -c ': test$')
	begin "$_pass" libtest expect="$_expect"
	read -r _up _ </proc/uptime
	echo "@@ time $_up"
	"$_bin" --color never --test-threads=1 --skip worker_process "$@" | stamp
	end "$_pass" $?
}
it_count() { # binary filters...
	_bin=$1
	shift
	"$_bin" --list --skip worker_process "$@" | grep -c ': test$'
}

# kmemleak switches itself off for good when its metadata pool runs out (fault injection can do
# that); from then on it reports nothing and an empty report means nothing. Every command but
# `clear` then fails with EPERM: `stack=on` (the default setting) is a harmless probe.
kmemleak_active() {
	[ -w $kmemleak ] || { echo "no $kmemleak (debug kernel expected)"; return 1; }
	if ! echo stack=on >$kmemleak; then
		echo "kmemleak is disabled (EPERM):"
		dmesg | grep -i kmemleak | tail -5
		return 1
	fi
}

# With fail_fast, a failed KUnit case of the first load stops the run before the first pass (the
# host reads every load's results from the kernel log in any case).
kunit_first_load() {
	_failed=$(dmesg | grep -E '^\[[ 0-9.]+\] +not ok [0-9]+ ')
	[ -z "$_failed" ] && return 0
	echo "$_failed"
	return 1
}
[ "$fail_fast" = 1 ] && check "KUnit suites of the first load passed" kunit_first_load
check "kmemleak is active before the tests" kmemleak_active
# Only leaks that appear from here on count.
echo clear >$kmemleak 2>/dev/null

echo "== integration tests (Rust client library, default limits)"
default_filters="--skip limits:: --skip heavy:: --skip access:: --skip tenants:: --skip reserve:: --skip stress::"
# Every test of the binary (the worker body aside, counted exactly) in exactly one pass.
# shellcheck disable=SC2086
all=$("$INTEGRATION" --list | grep -c ': test$') workers=$("$INTEGRATION" --list --exact worker_process | grep -c ': test$')
# shellcheck disable=SC2086
default=$(it_count "$INTEGRATION" $default_filters)
limits=$(it_count "$INTEGRATION" limits::) access=$(it_count "$INTEGRATION" access:: tenants::)
reserve=$(it_count "$INTEGRATION" reserve::) heavy=$(it_count "$INTEGRATION" heavy:: stress::)
if [ "$workers" -eq 1 ] && [ $((default + limits + access + reserve + heavy + workers)) -eq "$all" ]; then
	mark_check ok "the integration passes run every test once"
else
	mark_check fail "the integration passes run every test once" \
		"$default + $limits + $access + $reserve + $heavy tests in the passes and $workers worker_process, $all in the binary"
fi
# shellcheck disable=SC2086
it_pass it-default "$INTEGRATION" $default_filters

echo "== C program against include/uapi/linux/pathstore.h"
begin c-program tap
"$C_TEST"
end c-program $?

echo "== busybox shell test of the text interface"
begin shell tap
PATHSTORE_DEVICE=/dev/pathstore sh "$repo/tests/shell/text_interface.sh"
end shell $?

echo "== busybox shell test of the CLI (exit statuses, messages, formats)"
begin cli tap
PATHSTORE_DEVICE=/dev/pathstore sh "$repo/tests/shell/cli.sh"
end cli $?

echo "== module lifecycle"
unprivileged_open_fails() {
	_out=$(/usr/bin/setpriv --reuid 1000 --regid 1000 --clear-groups sh -c 'exec 3</dev/pathstore' 2>&1)
	_status=$?
	echo "$_out"
	[ $_status -ne 0 ] && case $_out in *"Permission denied"*) true ;; *) false ;; esac
}
rmmod_refused_while_open() {
	exec 3</dev/pathstore
	if rmmod pathstore 2>/dev/null; then
		echo "rmmod succeeded with the device open"
		insmod $ko
		exec 3<&-
		return 1
	fi
	exec 3<&-
}
load_line_reports_limits() {
	dmesg | grep -q 'max_value_len=64 max_path_len=128 max_depth=8 max_nodes=64 max_bytes=2048'
}
tap_begin lifecycle 7
t "device node exists" test -c /dev/pathstore
t "device node is root-only (0600) by default" test "$(stat -c %a /dev/pathstore)" = 600
t "an unprivileged user cannot open it by default (EACCES)" unprivileged_open_fails
t "rmmod refused while the device is open" rmmod_refused_while_open
echo 'set /lifecycle/x 1' >/dev/pathstore
t "rmmod succeeds once the device is closed, after use" rmmod pathstore
t "device node removed on unload" test ! -e /dev/pathstore
insmod $ko max_value_len=64 max_path_len=128 max_depth=8 max_nodes=64 max_bytes=2048 watch_events=16 reserve_nodes=0 reserve_bytes=0
limits_loaded=$?
t "the load line reports the module parameters" load_line_reports_limits
tap_end
check "insmod with small limits" test $limits_loaded -eq 0

echo "== integration tests under small limits"
if [ $limits_loaded -eq 0 ]; then
	it_pass it-limits "$INTEGRATION" limits::
	check "rmmod after the limits pass" rmmod pathstore
fi

echo "== unprivileged users: owners, access modes and per-user quotas"
if check "insmod with dev_mode=0666 and small per-user quotas" \
	insmod $ko dev_mode=0666 uid_max_nodes=16 uid_max_bytes=1024; then
	# Other users must be able to run the test binary, wherever the checkout lives.
	cp "$INTEGRATION" /tmp/integration && chmod 755 /tmp/integration
	it_pass it-access /tmp/integration access:: tenants::
	check "rmmod after the access pass" rmmod pathstore
fi

echo "== a store users can fill: what is reserved for CAP_SYS_ADMIN"
if check "insmod with a small store and a reserve" \
	insmod $ko dev_mode=0666 max_nodes=600 reserve_nodes=64 max_bytes=65536 reserve_bytes=4096 \
	uid_max_nodes=16 uid_max_bytes=1024; then
	it_pass it-reserve /tmp/integration reserve::
	check "rmmod after the reserve pass" rmmod pathstore
fi

echo "== module parameters out of range are refused at load"
refused() { # parameter=value: insmod fails, and the kernel log names the parameter
	if insmod $ko "$1" 2>/dev/null; then
		rmmod pathstore
		echo "insmod $1 succeeded"
		return 1
	fi
	dmesg | grep -q "module parameter $1 is out of range"
}
tap_begin params 4
t "insmod max_depth=5000 fails and the log says why" refused max_depth=5000
t "insmod reserve_nodes=4194304 (all of max_nodes) fails and the log says why" refused reserve_nodes=4194304
t "insmod watch_events=0 fails and the log says why" refused watch_events=0
t "insmod dev_mode=4095 fails and the log says why" refused dev_mode=4095
tap_end

# The fuzzer restores the fault-injection settings itself, even when it fails; make sure, then
# switch injection off whatever happened (a killed fuzzer cannot restore anything).
faults_off() {
	_off=0
	for _attr in failslab fail_page_alloc; do
		_knob=/sys/kernel/debug/$_attr/probability
		[ "$(cat $_knob 2>/dev/null)" = 0 ] || { echo "$_knob left at $(cat $_knob 2>/dev/null)"; _off=1; }
		echo 0 >$_knob 2>/dev/null
	done
	return $_off
}
echo "== installed the way a host has it: make install, modprobe with modprobe.d options, udev"
begin install tap
KDIR="${KDIR:-}" sh "$repo/scripts/guest-install-test.sh"
end install $?

if [ "${FUZZ_EXTRA:-0}" = 1 ]; then
	echo "== the fuzzer as several users, with small quotas and change log (every rule of access)"
	if check "insmod for the multi-user fuzzer" \
		insmod $ko dev_mode=0666 uid_max_nodes=16 uid_max_bytes=1024 watch_events=64; then
		tap_begin fuzz-users 2
		t "fuzz 30000 operations as uids 0, 1000 and 1001 (seed 4)" \
			"$fuzz" --ops 30000 --seed 4 --uids 0,1000,1001 --watch-events 64
		t "fuzz 10000 operations as uids 0, 1000 and 1001 under allocation failures (seed 5)" \
			"$fuzz" --ops 10000 --seed 5 --uids 0,1000,1001 --watch-events 64 --fault-inject --fault-mode seeded
		tap_end
		check "fault injection switched off after the multi-user fuzzer" faults_off
		check "rmmod after the multi-user fuzzer" rmmod pathstore
	fi
fi

echo "== fuzzer against its model"
check "insmod for the fuzzer and the heavy pass" insmod $ko
runs=0
for n in "$FUZZ_OPS" "$FUZZ_FAULT_OPS" "$FUZZ_RANDOM_OPS"; do
	[ "$n" -gt 0 ] && runs=$((runs + 1))
done
[ "${FUZZ_EXTRA:-0}" = 1 ] && runs=$((runs + 2))
# Each run prints its seed first; a mismatch prints the command that repeats it.
tap_begin fuzz $runs
[ "$FUZZ_OPS" -gt 0 ] && t "fuzz $FUZZ_OPS operations against the model (seed 1)" "$fuzz" --ops "$FUZZ_OPS" --seed 1
[ "$FUZZ_FAULT_OPS" -gt 0 ] && t "fuzz $FUZZ_FAULT_OPS operations under allocation failures (seed 2)" \
	"$fuzz" --ops "$FUZZ_FAULT_OPS" --seed 2 --fault-inject --fault-mode seeded
if [ "$FUZZ_RANDOM_OPS" -gt 0 ]; then
	echo "# random seed $FUZZ_SEED; replay: make vm KERNEL=debug CMD='pathstore-fuzz --ops $FUZZ_RANDOM_OPS --seed $FUZZ_SEED'"
	t "fuzz $FUZZ_RANDOM_OPS operations against the model (random seed $FUZZ_SEED)" \
		"$fuzz" --ops "$FUZZ_RANDOM_OPS" --seed "$FUZZ_SEED"
fi
if [ "${FUZZ_EXTRA:-0}" = 1 ]; then
	t "fail the 1st, 2nd, ... allocation of each kind of call until it succeeds (fail-nth)" \
		"$fuzz" --mode fail-nth
	t "linearizable histories of racing threads (seed 3)" "$fuzz" --mode linearize --seconds 30 --seed 3
fi
tap_end
check "fault injection switched off after the fuzzer" faults_off

echo "== heavy use and the concurrency stress (PATHSTORE_STRESS_SECONDS, default 60)"
PATHSTORE_IT_SCALE=${PATHSTORE_HEAVY_SCALE:-${PATHSTORE_IT_SCALE:-100}} it_pass it-heavy "$INTEGRATION" heavy:: stress::
check "rmmod after heavy use" rmmod pathstore

echo "== kmemleak after unload"
check "kmemleak is still active after the tests" kmemleak_active
kmemleak_clean() {
	# Objects younger than a few seconds are not reported; scan twice, as kmemleak advises.
	sleep 6
	echo scan >$kmemleak || return 1
	sleep 1
	echo scan >$kmemleak || return 1
	_leaks=$(cat $kmemleak) || return 1
	[ -z "$_leaks" ] && return 0
	echo "$_leaks" | head -60
	return 1
}
check "kmemleak reports no leak after unload" kmemleak_clean
# 1 when anything failed (the host reads the markers above; this is for a run by hand).
exit $failed
