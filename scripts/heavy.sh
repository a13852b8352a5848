#!/usr/bin/env bash
# `make heavy`: the heavy delete at full size, which `make test` runs scaled down. In the lean
# kernel (the debug kernel's KASAN and kmemleak make a node cost a millisecond and a few hundred
# bytes of metadata, so a million do not fit its time or its 2 GiB), root builds a tree of
# 100,000 x SCALE/100 nodes (a million by default) and deletes it while another thread reads;
# the test bounds the reader's longest get to 50 ms (PATHSTORE_HEAVY_LONGEST_MS), lowers the
# hung-task timeout to 10 s during the delete, and this script fails on any hung-task,
# soft-lockup, BUG, WARNING or oops report in the kernel log.
#
#   scripts/heavy.sh [SCALE]        default 1000 (a million nodes)
#
# PATHSTORE_VM_LOCK=FILE holds flock(1) on FILE around the VM run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
scale=${1:-1000}
case "$scale" in '' | *[!0-9]*) echo "usage: scripts/heavy.sh [SCALE]" >&2; exit 2 ;; esac
log() { printf '[heavy] %s\n' "$*" >&2; }

integration=$(cd "$here/tools" && cargo test --release -p integration --test device --no-run \
	--message-format=json 2>/dev/null | python3 -c 'import json, sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "device":
        print(m["executable"])' | tail -1)
[ -n "$integration" ] || { log "could not build the integration tests"; exit 1; }

out=$here/build/heavy
mkdir -p "$out"
# The guest prints the test's output, then the kernel log's reports, between markers.
cmd="PATHSTORE_IT_SCALE=$scale PATHSTORE_HEAVY_LONGEST_MS=50 '$integration' --color never --test-threads=1 --nocapture \
heavy::a_reader_is_not_held_up_while_root_deletes_a_big_tree; echo \"heavy-status \$?\"; \
echo heavy-reports-begin; dmesg | grep -E 'blocked for more than|soft lockup|BUG|WARNING|Oops|Call Trace'; \
echo heavy-reports-end"
log "booting the lean kernel: $((scale * 1000)) nodes built, then deleted beside a reader"
run=("$here/scripts/vm.sh" --kernel lean --cmd "$cmd")
if [ -n "${PATHSTORE_VM_LOCK:-}" ]; then run=(flock "$PATHSTORE_VM_LOCK" "${run[@]}"); fi
"${run[@]}" 2>&1 | tee "$out/guest.log"

status=$(sed -n 's/^heavy-status \([0-9]*\).*/\1/p' "$out/guest.log" | tail -1)
reports=$(sed -n '/^heavy-reports-begin/,/^heavy-reports-end/p' "$out/guest.log" | grep -v '^heavy-reports' || true)
if [ "$status" = 0 ] && [ -z "$reports" ]; then
	echo "heavy: PASS ($((scale * 1000)) nodes; no hung task, soft lockup or splat)"
	exit 0
fi
[ -n "$reports" ] && printf 'heavy: the kernel log reports:\n%s\n' "$reports"
echo "heavy: FAIL (test status ${status:-none}; log $out/guest.log)"
exit 1
