#!/usr/bin/env bash
# `make fuzz SECONDS=N`: the random-operation fuzzer (tools/fuzz) against the module in the debug
# kernel for about N seconds: the first half plain, then a quarter with random allocation
# failures (failslab and fail_page_alloc, this task only) and a quarter with seeded ones. Then it
# unloads the module, checks that kmemleak reports nothing and that the kernel log holds no splat,
# and exits non-zero on any failure. A fuzzer mismatch prints its seed and the command that
# repeats it.
#
#   scripts/fuzz.sh [SECONDS]          default 600
#   FUZZ_SEED=S scripts/fuzz.sh ...    the same seed for every phase (default: a random one each)
#   FUZZ_ARGS='...' scripts/fuzz.sh    more arguments for every phase (e.g. --root /)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
seconds=${1:-600}
case "$seconds" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
[ "$seconds" -ge 4 ] || seconds=4
log() { printf '[fuzz] %s\n' "$*" >&2; }

cd "$here"
out=$here/build/fuzz
mkdir -p "$out"
log "building (the first run builds a debug kernel: 10-20 minutes)"
if ! { read -r kdir; read -r module; } < <("$here/scripts/build.sh" debug) || [ -z "${module:-}" ]; then
	log "build failed"
	exit 1
fi

plain=$((seconds / 2))
random=$(((seconds - plain) / 2))
seeded=$((seconds - plain - random))
seed=${FUZZ_SEED:+--seed $FUZZ_SEED}
extra=${FUZZ_ARGS:-}
# The guest's half: runs the phases, unloads the module and scans for leaks.
cat >"$out/guest.sh" <<EOF
set -u
fuzz=$here/tools/target/release/pathstore-fuzz
kmemleak=/sys/kernel/debug/kmemleak
failed=0
[ -w \$kmemleak ] && echo clear >\$kmemleak
echo "== plain, $plain s"
\$fuzz --seconds $plain $seed $extra || failed=1
echo "== random allocation failures, $random s"
\$fuzz --seconds $random --fault-inject --fault-mode random $seed $extra || failed=1
echo "== seeded allocation failures, $seeded s"
\$fuzz --seconds $seeded --fault-inject --fault-mode seeded $seed $extra || failed=1
# The fuzzer puts the fault-injection settings back itself, even when it fails; check, and switch
# injection off whatever happened (a killed fuzzer cannot restore anything).
for attr in failslab fail_page_alloc; do
	knob=/sys/kernel/debug/\$attr/probability
	[ "\$(cat \$knob 2>/dev/null)" = 0 ] || { echo "\$knob left at \$(cat \$knob 2>/dev/null)"; failed=1; }
	echo 0 >\$knob 2>/dev/null
done
echo "== unload and kmemleak"
rmmod pathstore || { echo "rmmod failed"; failed=1; }
if [ -w \$kmemleak ]; then
	# Objects younger than a few seconds are not reported; scan twice, as kmemleak advises.
	sleep 6
	echo scan >\$kmemleak
	sleep 1
	echo scan >\$kmemleak
	leaks=\$(cat \$kmemleak)
	if [ -n "\$leaks" ]; then echo "kmemleak reports leaks:"; echo "\$leaks" | head -60; failed=1; else echo "kmemleak: clean"; fi
else
	echo "no \$kmemleak (debug kernel expected)"
	failed=1
fi
exit \$failed
EOF

console=$out/console.log
log "booting the debug kernel; fuzzing for ${seconds}s (kernel log: $console)"
"$here/qemu/run.sh" --kernel-dir "$kdir" --module "$module" --log "$console" \
	--timeout $((seconds + 900)) --cmd "sh '$out/guest.sh'" 2>&1 | tee "$out/guest.log"
status=${PIPESTATUS[0]}

# The same splat patterns as `make test`.
splat_pattern='BUG:|WARNING:|Oops|kernel BUG|general protection fault|KASAN:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|irq lock inversion|bad unlock balance|suspected memory leak|blocked for more than|Call Trace:|rust_panic|panicked at|UBSAN'
splats=$(grep -nE "$splat_pattern" "$console" || true)
failed=0
if [ "$status" -ne 0 ]; then
	log "FAIL: the guest exited with status $status (see above)"
	failed=1
fi
if [ -n "$splats" ]; then
	log "FAIL: the kernel log holds splats:"
	echo "$splats" | head -40
	failed=1
fi
echo
grep '^fuzz: seed=.* ops=' "$out/guest.log" || true
if [ "$failed" -eq 0 ]; then
	echo "fuzz: PASS (${seconds}s; kernel log clean; kmemleak clean)"
else
	echo "fuzz: FAIL (guest log: $out/guest.log, kernel log: $console)"
fi
exit "$failed"
