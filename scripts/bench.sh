#!/usr/bin/env bash
# `make bench` / `make bench QUICK=1`: builds the lean kernel (cached), the module and the tools,
# boots the VM once and runs tools/bench (`pathstore-bench run`) there against pathstore, tmpfs,
# the kernel keyring and the floor (the no-op version ioctl). Writes build/bench/<UTC time>/:
#
#   results.json   every figure by name, the targets, what was skipped (see docs/benchmarks.md)
#   table.md       the Markdown table (also printed at the end)
#   chart.svg      latency per workload and backend, and get latency against store size
#   bench.log      the guest's output; console.log: the guest kernel's log
#
# build/bench/latest points at the newest run. The bench never fails on a missed target; it
# fails when it cannot run (build, boot, an operation that errors).
#
#   scripts/bench.sh [--quick] [-- pathstore-bench run options, e.g. --only depth4.100k]
#
# QUICK=1 in the environment is the same as --quick.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
quick=${QUICK:-0}
[ "$quick" = 0 ] && quick=
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	--) shift; extra=("$@"); break ;;
	*) echo "bench.sh: unknown argument $1 (usage: bench.sh [--quick] [-- run options])" >&2; exit 2 ;;
	esac
done
log() { printf '[bench] %s\n' "$*" >&2; }

{ read -r kdir; read -r module; } < <("$here/scripts/build.sh" lean)
[ -n "${module:-}" ] || exit 1

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$here/build/bench/$stamp
mkdir -p "$out"

# The 1M-key stores need more than the default limits (4M nodes is enough, but 1M x 256 B of
# values passes the default 256 MiB of max_bytes). Combinations that do not fit in the guest's
# 2 GiB are skipped by the bench itself, which says so in its output.
params='max_nodes=3000000 max_bytes=1073741824'
if [ -n "$quick" ]; then
	timeout=420
	mode='QUICK (reduced set, about a minute on an idle host)'
else
	timeout=2700
	mode='full (about 10 minutes on an idle host)'
fi
# The guest's clock is jiffies under TCG (4 ms steps, and it runs slow when the host is busy), so
# the bench times with the TSC, which under TCG is the host's: measure its rate here.
tsc_ghz=$("$here/tools/target/release/pathstore-bench" tsc-rate 2>/dev/null || true)
cmd=$(printf 'pathstore-bench run --out %q' "$out")
[ -n "$tsc_ghz" ] && cmd+=" --tsc-ghz $tsc_ghz"
# Under TCG each vCPU is a host thread: anything else busy on the host shows up in the figures.
load=$(cut -d' ' -f1-3 /proc/loadavg)
cmd+=$(printf ' --host-loadavg %q --host-cpus %d' "$load" "$(nproc)")
if awk -v l="${load%% *}" 'BEGIN { exit !(l > 1.0) }'; then
	log "the host is busy (load average $load): the figures will be noisy; an idle host is best"
fi
[ -n "$quick" ] && cmd+=' --quick'
for arg in "${extra[@]}"; do cmd+=$(printf ' %q' "$arg"); done

log "running the $mode benchmark in the VM; output in $out"
status=0
"$here/qemu/run.sh" --kernel-dir "$kdir" --module "$module" --params "$params" \
	--timeout "$timeout" --log "$out/console.log" --cmd "$cmd" | tee "$out/bench.log" || status=$?
ln -sfn "$stamp" "$here/build/bench/latest"

# Anything alarming in the guest kernel's log is worth knowing about next to the figures.
if grep -E 'BUG:|WARNING:|Oops|soft lockup|hung task|rcu.*stall|Out of memory|page allocation failure' \
	"$out/console.log" >"$out/kernel-warnings.txt" 2>/dev/null; then
	log "the guest kernel logged warnings (see $out/kernel-warnings.txt):"
	head -20 "$out/kernel-warnings.txt" >&2
else
	rm -f "$out/kernel-warnings.txt"
fi

if [ ! -f "$out/table.md" ]; then
	log "no results (exit status $status); see $out/bench.log and $out/console.log"
	exit $((status == 0 ? 1 : status))
fi
echo
cat "$out/table.md"
log "results: $out/results.json, $out/table.md, $out/chart.svg"
exit "$status"
