#!/usr/bin/env bash
# `make test`: every test of pathstore, with one result line per test and a closing
# `N passed, N failed` line. Exits non-zero on any failure, including a kernel splat in the guest
# log (BUG, WARNING, Oops, KASAN, lockdep, kmemleak, hung task).
#
#  1. host: rustfmt and clippy (module and tools), cargo test of tools/ (with the C header
#     agreement test);
#  2. guest (debug kernel): KUnit tests of the module, the integration tests, the C program, the
#     busybox shell test, module lifecycle, the fuzzer against its model (plain and under
#     allocation fault injection) and kmemleak (scripts/guest-tests.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
results=$here/build/test
rm -rf "$results"
mkdir -p "$results"
log() { printf '[test] %s\n' "$*" >&2; }
record() { # status name
	printf '%s %s\n' "$1" "$2" >>"$results/results.txt"
	if [ "$1" = ok ]; then printf 'ok    %s\n' "$2"; else printf 'FAIL  %s\n' "$2"; fi
}
step() { # name command... : a test whose result is the command's status
	local name=$1
	shift
	if "$@" >"$results/step.log" 2>&1; then record ok "$name"; else record fail "$name"; tail -40 "$results/step.log"; fi
}
# Result lines of libtest (`test NAME ... ok`) and TAP-like suites (`ok - NAME`) in a log.
collect() { # prefix file
	python3 - "$1" "$2" <<'PY' >>"$results/results.txt"
import re, sys
prefix, path = sys.argv[1], sys.argv[2]
for line in open(path, errors="replace"):
    line = re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\(B", "", line.rstrip("\r\n"))
    m = re.match(r"^test (\S+) \.\.\. (ok|FAILED)$", line)
    if m:
        print(("ok" if m.group(2) == "ok" else "fail"), f"{prefix}/{m.group(1)}")
        continue
    m = re.match(r"^(not ok|ok) - (.+?)(: .*)?$", line)
    if m:
        print(("ok" if m.group(1) == "ok" else "fail"), f"{prefix}/{m.group(2)}")
PY
}

cd "$here"
log "setting up and building (the first run builds a debug kernel: 10-20 minutes)"
if ! { read -r kdir; read -r module; } < <("$here/scripts/build.sh" debug) || [ -z "${module:-}" ]; then
	record fail "build"
	echo "0 passed, 1 failed"
	exit 1
fi

# 1. Host checks and tests.
step "host/rustfmt-module" rustfmt --check --edition 2021 --config-path "$kdir/source/.rustfmt.toml" src/pathstore.rs
clippy_module() {
	rm -rf "$here/build/clippy"
	make -s -C "$kdir" M="$here" MO="$here/build/clippy" LLVM="${LLVM:--19}" CLIPPY=1 modules 2>&1 | tee /dev/stderr | { ! grep -qE '^(warning|error)'; }
}
step "host/clippy-module" clippy_module
step "host/rustfmt-tools" bash -c "cd tools && cargo fmt --all -- --check"
step "host/clippy-tools" bash -c "cd tools && cargo clippy --workspace --all-targets --quiet -- -D warnings"
log "cargo test (host)"
(cd tools && cargo test --workspace --exclude integration 2>&1) >"$results/host.log"
collect host "$results/host.log"
grep -q '^error' "$results/host.log" && record fail "host/cargo-test-builds"

# 2. Guest tests.
mkdir -p build/tests
step "host/c-program-builds" cc -O2 -Wall -Wextra -Werror -Iinclude tests/c/pathstore_c_test.c -o build/tests/pathstore_c_test
integration=$(cd tools && cargo test -p integration --release --no-run --message-format=json 2>/dev/null |
	python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])' | tail -1)
[ -n "$integration" ] || record fail "host/integration-tests-build"

log "booting the debug kernel to run the guest tests (a few minutes under TCG)"
console=$results/console.log
"$here/qemu/run.sh" --kernel-dir "$kdir" --module "$module" --log "$console" --timeout 2400 \
	--cmd "INTEGRATION='$integration' C_TEST='$here/build/tests/pathstore_c_test' sh scripts/guest-tests.sh" \
	2>&1 | tee "$results/guest.log"
status=${PIPESTATUS[0]}
before=$(wc -l <"$results/results.txt")
collect guest "$results/guest.log"
# KUnit cases (indented KTAP lines in the kernel log); the module runs them at every load.
python3 - "$console" <<'PY' >>"$results/results.txt"
import re, sys
seen = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"\]\s{5,}(not ok|ok) \d+ (\S+)", line)
    if m:
        name = "kunit/" + m.group(2)
        ok = m.group(1) == "ok"
        seen[name] = seen.get(name, True) and ok
for name, ok in seen.items():
    print("ok" if ok else "fail", name)
PY
grep -q ' kunit/' <(tail -n +"$((before + 1))" "$results/results.txt") || record fail "kunit/tests-ran"
[ "$status" -eq 0 ] || record fail "guest/exit-status($status)"
# Kernel splats fail the run: KASAN, lockdep, kmemleak, hung-task, BUG/WARNING/Oops and Rust panic
# reports each carry one of these.
splat_pattern='BUG:|WARNING:|Oops|kernel BUG|general protection fault|KASAN:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|irq lock inversion|bad unlock balance|suspected memory leak|blocked for more than|Call Trace:|rust_panic|panicked at|UBSAN'
splats=$(grep -nE "$splat_pattern" "$console" || true)
if [ -z "$splats" ]; then record ok "guest/kernel-log-clean"; else record fail "guest/kernel-log-clean"; echo "$splats" | head -40; fi

echo
echo "Results (kernel log: $console):"
grep -E '^(ok|fail) ' "$results/results.txt" | sort | uniq | sed 's/^ok /ok    /; s/^fail /FAIL  /'
passed=$(grep -c '^ok ' "$results/results.txt")
failed=$(grep -c '^fail ' "$results/results.txt")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
