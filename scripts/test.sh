#!/usr/bin/env bash
# `make test` (and, with --tier check, `make check` through scripts/check.sh): every test of
# pathstore, with one line per test and per harness check, closing with
# `N passed, N failed, N skipped`. Exits non-zero on any failed test or check. What each tier runs,
# how results are counted and how to replay a failure: docs/testing.md.
#
#   scripts/test.sh [--tier test|check]
#
#  1. host checks: the module built once, with clippy (scripts/build.sh), rustfmt of the module
#     and of tools/, clippy of tools/, the published crates packaged and built alone
#     (scripts/package-test.sh; the full tier only), the C program's build;
#  2. host tests: `cargo test --release` of every crate of tools/ (unit, integration and
#     doc-tests; not the device tests, which need the module), counted per binary;
#  3. guest (debug kernel, scripts/guest-tests.sh): the module's KUnit suites at every load, the
#     integration tests in four passes, the C program, the busybox shell test, module lifecycle,
#     the fuzzer against its model (fixed seeds, under allocation failures, and a random seed),
#     then kmemleak, active before and after;
#  4. the kernel log, from the serial console and from the guest's dmesg, scanned for splats
#     (KASAN, lockdep, kmemleak, hung tasks, BUG/WARNING/Oops, Rust panics, UBSAN).
#
# Every pass states how many tests it expects (a libtest binary's --list, a TAP plan, KUnit's
# plans, cargo's `running N tests`) and fails when fewer or more report, or when its exit status
# disagrees with its results. The tiers differ only in sizes (see below) and in two parts the
# full tier alone runs (the packaging check and the multi-user fuzz pass); any size can be
# overridden from the environment: PATHSTORE_IT_SCALE, PATHSTORE_HEAVY_SCALE (the heavy:: tests),
# PATHSTORE_STRESS_SECONDS, FUZZ_OPS, FUZZ_FAULT_OPS, FUZZ_RANDOM_OPS, FUZZ_SEED.
#
# Knobs for scripts/mutants.sh (`make mutants`), which runs a tier once per deliberately broken
# module; unset, nothing changes:
#   PATHSTORE_MODULE=KO      test this module build instead of building one: no module build, no
#                            host checks, host tests or install test (none of them loads the
#                            module); only the guest, with the programs it runs (built if needed).
#                            KO is kbuild's output, MO/src/pathstore.ko: the guest's install test
#                            installs it from MO
#   PATHSTORE_FAIL_FAST=1    the guest stops at the first failed pass or check (see
#                            scripts/guest-tests.sh); the passes it did not run then fail as missing
#   PATHSTORE_RESULTS=DIR    results and logs in DIR instead of build/<tier>/
#   PATHSTORE_VM_LOCK=FILE   hold flock(1) on FILE while the VM runs (one VM at a time on a shared
#                            machine), and only then
#   PATHSTORE_GUEST_TIMEOUT=S  stop the guest after S seconds (default 2400, 900 for the check
#                            tier): a mutant that makes a test hang fails sooner
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
# shellcheck source=scripts/lib/results.sh
. "$here/scripts/lib/results.sh"

tier='test'
while [ $# -gt 0 ]; do
	case "$1" in
	--tier) tier=$2; shift 2 ;;
	*) echo "usage: scripts/test.sh [--tier test|check]" >&2; exit 2 ;;
	esac
done
case "$tier" in
test) # the full suite: what CI runs
	: "${PATHSTORE_IT_SCALE:=100}" "${PATHSTORE_HEAVY_SCALE:=50}" "${PATHSTORE_STRESS_SECONDS:=60}"
	: "${FUZZ_OPS:=50000}" "${FUZZ_FAULT_OPS:=20000}" "${FUZZ_RANDOM_OPS:=50000}" "${FUZZ_EXTRA:=1}"
	package_check=1 guest_timeout=2400 ;;
check) # the fast tier: the same passes, smaller
	: "${PATHSTORE_IT_SCALE:=10}" "${PATHSTORE_HEAVY_SCALE:=3}" "${PATHSTORE_STRESS_SECONDS:=5}"
	: "${FUZZ_OPS:=0}" "${FUZZ_FAULT_OPS:=2000}" "${FUZZ_RANDOM_OPS:=10000}" "${FUZZ_EXTRA:=0}"
	package_check=0 guest_timeout=900 ;;
*) echo "test.sh: unknown tier '$tier' (test or check)" >&2; exit 2 ;;
esac
guest_timeout=${PATHSTORE_GUEST_TIMEOUT:-$guest_timeout}
[ -n "${FUZZ_SEED:-}" ] || FUZZ_SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
log() { printf '[%s] %s\n' "$tier" "$*" >&2; }
module_given=${PATHSTORE_MODULE:-} guest_mo=

cd "$here" || exit 1
results_init "${PATHSTORE_RESULTS:-$here/build/$tier}"
results=$results_dir
started=$(date +%s)

if [ -n "$module_given" ]; then
	# Only the guest, with the module given: what the guest runs is built (or found up to date).
	log "testing the module $module_given (no module build, no host checks or tests)"
	prepare() {
		kdir=$("$here/scripts/kernel.sh" debug 2>"$results/build.log") &&
			(cd tools && cargo build --release --workspace --quiet 2>>"$results/build.log") &&
			mkdir -p build/tests &&
			cc -O2 -Wall -Wextra -Werror -Iinclude tests/c/pathstore_c_test.c -o build/tests/pathstore_c_test \
				2>>"$results/build.log"
	}
	if [ ! -f "$module_given" ] || ! timed build prepare; then
		cat "$results/build.log" >&2
		record_check fail "host/build" "no module $module_given, or see $results/build.log"
		results_summary
		exit 1
	fi
	module=$module_given
	# kbuild's output folder, which the guest's install test installs from.
	guest_mo="MO='$(cd "$(dirname "$module")/.." && pwd)' "
	record_check ok "host/build"
else
# 1. Build (the module once, with clippy) and the host checks.
log "building (the first run builds a debug kernel: 10-20 minutes)"
build() {
	{ read -r kdir && read -r module; } < <("$here/scripts/build.sh" --warnings-ok debug 2>"$results/build.log")
	[ -n "${module:-}" ] && [ -f "$module" ]
}
if ! timed build build; then
	cat "$results/build.log" >&2
	record_check fail "host/build" "see $results/build.log"
	results_summary
	exit 1
fi
record_check ok "host/build"
# build.sh let the module's warnings through (--warnings-ok) for this check to report them; it
# also made sure that the next build compiles the module again.
if grep -qE '^(warning|error)' "$here/build/debug/module.log"; then
	grep -E -A8 '^(warning|error)' "$here/build/debug/module.log" | head -60
	record_check fail "host/clippy-module" "warnings in build/debug/module.log"
else
	record_check ok "host/clippy-module"
fi
run_check "host/rustfmt-module" rustfmt --check --edition 2021 --config-path "$kdir/source/.rustfmt.toml" src/pathstore.rs
run_check "host/rustfmt-tools" bash -c "cd tools && cargo fmt --all -- --check"
timed clippy-tools run_check "host/clippy-tools" bash -c "cd tools && cargo clippy --workspace --all-targets --quiet -- -D warnings"
# Packaging compiles the published crates once more, alone: the full tier only.
[ "$package_check" = 1 ] && timed package-crates run_check "host/package-crates" scripts/package-test.sh
mkdir -p build/tests
run_check "host/c-program-builds" cc -O2 -Wall -Wextra -Werror -Iinclude tests/c/pathstore_c_test.c -o build/tests/pathstore_c_test
fi

# 2. Host tests, in the release profile of scripts/build.sh's `cargo build --release`: the
# dependencies are built once for both. Always --workspace: the same packages, the same features,
# nothing rebuilt. The device tests (integration's test target `device`) need the module: they
# are only built here, and run in the guest.
host_tests() {
	local targets=() t
	while read -r t; do targets+=(--test "$t"); done < <(cd tools && cargo metadata --no-deps --format-version 1 |
		python3 -c 'import json, sys
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"]:
        if "test" in t["kind"] and not (p["name"] == "integration" and t["name"] == "device"):
            print(t["name"])' | sort -u)
	(cd tools && cargo test --release --workspace --no-fail-fast --lib --bins "${targets[@]}" 2>&1) >"$results/host.log"
	tally cargo host "$results/host.log" $?
	(cd tools && cargo test --release --workspace --no-fail-fast --doc 2>&1) >"$results/host-doc.log"
	tally cargo host-doc "$results/host-doc.log" $?
}
integration=$(cd tools && cargo test --release --workspace --test device --no-run --message-format=json 2>"$results/device-build.log" |
	python3 -c 'import json, sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "device":
        print(m["executable"])' | tail -1)
if [ -n "$integration" ]; then record_check ok "host/device-tests-build"; else
	record_check fail "host/device-tests-build" "see $results/device-build.log"; fi
[ -n "$module_given" ] || { log "cargo test (host)"; timed host-tests host_tests; }

# The real-host path, on the host: the Makefile's toolchain checks, dkms against the kernel
# tree, make install/uninstall into a staging tree (scripts/install-test.sh, a TAP producer).
install_host() {
	{
		echo "@@ begin install-host tap"
		"$here/scripts/install-test.sh" "$kdir" "$here/build/debug" 2>&1
		echo "@@ end install-host status=$?"
	} >"$results/install-host.log"
	tally passes "$results/install-host.log" --require install-host
}
if [ -z "$module_given" ]; then
	log "the install path on the host (dkms, make install)"
	timed install-host install_host
fi

# 3. The guest.
log "booting the debug kernel to run the guest tests (a few minutes under TCG); fuzz seed $FUZZ_SEED"
console=$results/console.log dmesg=$results/dmesg.log
vm_lock=()
[ -n "${PATHSTORE_VM_LOCK:-}" ] && vm_lock=(flock "$PATHSTORE_VM_LOCK")
timed guest "${vm_lock[@]}" "$here/qemu/run.sh" --kernel-dir "$kdir" --module "$module" --log "$console" --dmesg "$dmesg" \
	--timeout "$guest_timeout" --cmd "INTEGRATION='$integration' C_TEST='$here/build/tests/pathstore_c_test' KDIR='$kdir' \
PATHSTORE_IT_SCALE='$PATHSTORE_IT_SCALE' PATHSTORE_HEAVY_SCALE='$PATHSTORE_HEAVY_SCALE' \
PATHSTORE_STRESS_SECONDS='$PATHSTORE_STRESS_SECONDS' \
FUZZ_OPS='$FUZZ_OPS' FUZZ_FAULT_OPS='$FUZZ_FAULT_OPS' FUZZ_RANDOM_OPS='$FUZZ_RANDOM_OPS' FUZZ_SEED='$FUZZ_SEED' \
FUZZ_EXTRA='$FUZZ_EXTRA' PATHSTORE_FAIL_FAST='${PATHSTORE_FAIL_FAST:-0}' ${guest_mo}\
sh scripts/guest-tests.sh" 2>&1 | tee "$results/guest.log"
status=${PIPESTATUS[0]}
before=$(grep -c $'\tfail\t' "$results/results.txt")
# The multi-user fuzz pass runs in the full tier only.
[ "$FUZZ_EXTRA" = 1 ] && guest_passes+=(fuzz-users)
tally passes "$results/guest.log" --timings "$results/timings.txt" --require "${guest_passes[@]}"
guest_failures=$(($(grep -c $'\tfail\t' "$results/results.txt") - before))
# guest-tests.sh exits 1 exactly when one of its passes or checks failed; 125 or anything else
# means it did not finish.
case "$status/$guest_failures" in
0/0) record_check ok "guest/exit-status" ;;
1/0) record_check fail "guest/exit-status" "the guest reported a failure that no result shows" ;;
1/*) record_check ok "guest/exit-status" ;;
0/*) record_check fail "guest/exit-status" "exit 0 with $guest_failures failures" ;;
*) record_check fail "guest/exit-status" "exit status $status: the guest did not finish" ;;
esac
# KUnit runs the module's suites at every load: the initial one and three in guest-tests.sh.
tally kunit "$dmesg" --suites "$(kunit_suites "$here/src")" --runs 4
tally splats "guest/console-log-clean" "$console"
tally splats "guest/dmesg-clean" "$dmesg"

echo
echo "Fuzz seed of the random segment: $FUZZ_SEED (replay: make vm KERNEL=debug CMD='pathstore-fuzz --ops $FUZZ_RANDOM_OPS --seed $FUZZ_SEED')"
printf '%-28s %4ss\n' total "$(($(date +%s) - started))" >>"$results/timings.txt"
results_summary
