#!/usr/bin/env bash
# `make mutants`: shows that the tests catch real bugs. Applies each deliberate bug of
# scripts/mutants/list, one at a time, to a scratch copy of src/ (never to the checkout's src/),
# builds that module against the cached debug kernel, and runs the fast tier (`make check`; with
# --tier test the full suite) on it; every mutant must make the tier fail. Reports, for each, what
# caught it (the first pass or check that failed, and its first failed test) and how long it took,
# and writes the table to build/mutants/table.md. See docs/testing.md, "Mutants".
#
#   scripts/mutants.sh [--tier check|test] [--no-baseline] [--apply-only] [NAME...]
#
#   NAME...        only these mutants (default: every one, in the list's order)
#   --tier T       the tier each mutant runs (default check)
#   --no-baseline  skip the first run, of the unchanged module (it must pass: otherwise every
#                  "caught" would mean nothing, and the script stops)
#   --apply-only   only check that every mutant applies (its text occurs exactly once) and builds:
#                  no VM
#
# Environment: PATHSTORE_VM_LOCK=FILE holds flock(1) on FILE for each VM run (one at a time, not
# around the whole run), so other users of the machine can run theirs in between. FUZZ_SEED (default
# 1) seeds the tier's random fuzz segment, the same for every mutant so that runs compare;
# MUTANTS_LIST replaces scripts/mutants/list; MUTANTS_GUEST_TIMEOUT (for the check tier 600 s by
# default, twice what a whole run takes; test.sh's own for the full tier) stops a guest in which
# a mutant made a test hang.
#
# Each mutant runs scripts/test.sh with PATHSTORE_MODULE (its module, kbuild's output in
# build/mutants/obj/, a copy kept in build/mutants/NAME/; no host checks or host tests, which
# never load the module), PATHSTORE_FAIL_FAST=1 (the guest stops at the first failed pass or
# check) and PATHSTORE_RESULTS=build/mutants/NAME/results (its logs; build/mutants/NAME/ also
# holds the module, its build log and run.log, the output of scripts/test.sh). The exit status
# is 0 only when the baseline passed and every mutant applied, built and was caught.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
list=${MUTANTS_LIST:-$here/scripts/mutants/list}
helper=$here/scripts/mutants/mutants.py
tier=check baseline=1 apply_only=0 names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--tier) tier=$2; shift 2 ;;
	--no-baseline) baseline=0; shift ;;
	--apply-only) apply_only=1; shift ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "mutants.sh: unknown option $1" >&2; exit 2 ;;
	*) names+=("$1"); shift ;;
	esac
done
case "$tier" in check | test) ;; *) echo "mutants.sh: --tier check or test" >&2; exit 2 ;; esac
log() { printf '[mutants] %s\n' "$*" >&2; }
guest_timeout=${MUTANTS_GUEST_TIMEOUT:-$([ "$tier" = check ] && echo 600 || echo 2400)}

all=$(python3 "$helper" names "$list") || exit 2
if [ ${#names[@]} -eq 0 ]; then
	mapfile -t names <<<"$all"
else
	for n in "${names[@]}"; do
		grep -qxF -- "$n" <<<"$all" || { echo "mutants.sh: no mutant named $n in $list" >&2; exit 2; }
	done
fi

kdir=$("$here/scripts/kernel.sh" debug) || exit 1
out=$here/build/mutants
rm -rf "$out"
mkdir -p "$out"
rows=$out/rows.tsv
: >"$rows"
export FUZZ_SEED=${FUZZ_SEED:-1}
started=$(date +%s)

# build NAME: a scratch copy of the module's sources with the mutant NAME applied (none for the
# baseline), built into build/mutants/obj/; the module is copied to build/mutants/NAME/. Sets
# `error` when the mutant does not apply or does not build.
build() {
	local name=$1 tree=$out/tree
	error=
	rm -rf "$tree"
	mkdir -p "$tree" "$out/$name"
	# The module's sources, as a dkms tree has them (src/, Kbuild, the ABI file of pathstore-abi).
	make -s -C "$here" dkms-source DKMS_SOURCE="$tree" >/dev/null
	if [ "$name" != baseline ] &&
		! python3 "$helper" apply "$list" "$name" "$tree" 2>"$out/$name/apply.log"; then
		cat "$out/$name/apply.log" >&2
		error="ERROR: does not apply (see scripts/mutants/list)"
		return 1
	fi
	# As scripts/build.sh builds it, without clippy: a mutant's lints do not matter here.
	if ! make -s -C "$kdir" M="$tree" MO="$out/obj" LLVM="${LLVM:--19}" modules >"$out/$name/build.log" 2>&1 ||
		[ ! -f "$out/obj/src/pathstore.ko" ]; then
		tail -20 "$out/$name/build.log" >&2
		error="ERROR: does not build (see build/mutants/$name/build.log)"
		return 1
	fi
	cp "$out/obj/src/pathstore.ko" "$out/$name/pathstore.ko"
}

# run NAME: the tier on the module just built (kbuild's output: the guest's install test installs
# it from there), fail-fast; its status. With PATHSTORE_VM_LOCK, under the lock (taken here rather
# than by test.sh, to tell the time spent waiting for it: `waited`, in seconds).
run() {
	local name=$1 lock=() status t0
	[ -n "${PATHSTORE_VM_LOCK:-}" ] && lock=(flock "$PATHSTORE_VM_LOCK")
	t0=$(date +%s)
	# shellcheck disable=SC2016 # expanded by that sh
	"${lock[@]}" sh -c 'date +%s >"$0"; exec "$@"' "$out/$name/locked-at" \
		env -u PATHSTORE_VM_LOCK PATHSTORE_MODULE="$out/obj/src/pathstore.ko" PATHSTORE_FAIL_FAST=1 \
		PATHSTORE_GUEST_TIMEOUT="$guest_timeout" \
		PATHSTORE_RESULTS="$out/$name/results" "$here/scripts/test.sh" --tier "$tier" >"$out/$name/run.log" 2>&1
	status=$?
	waited=$(($(cat "$out/$name/locked-at" 2>/dev/null || echo "$t0") - t0))
	return $status
}

if [ $baseline -eq 1 ] && [ $apply_only -eq 0 ]; then
	log "baseline: the unchanged module must pass the $tier tier"
	t0=$(date +%s)
	if ! build baseline; then
		log "the unchanged module does not build: $error"
		exit 1
	fi
	run baseline
	baseline_status=$? baseline_waited=$waited
	if [ $baseline_status -ne 0 ]; then
		tail -30 "$out/baseline/run.log" >&2
		log "the unchanged module FAILS the $tier tier (see build/mutants/baseline/): no mutant result would mean anything"
		exit 1
	fi
	baseline_seconds=$(($(date +%s) - t0 - waited))
	log "baseline passed in $baseline_seconds s (and $waited s waiting for the VM lock)"
fi

caught=0 missed=0 errors=0 waited_all=0
for name in "${names[@]}"; do
	waited=0
	t0=$(date +%s)
	file=$(python3 "$helper" describe "$list" "$name" | cut -f1)
	log "$name ($file): $(python3 "$helper" describe "$list" "$name" | cut -f2)"
	if ! build "$name"; then
		errors=$((errors + 1))
		log "$name: $error"
		printf '%s\t%s\t\t%s\t%s\n' "$name" "$error" "$(($(date +%s) - t0))" "$file" >>"$rows"
		continue
	fi
	if [ $apply_only -eq 1 ]; then
		log "$name: applies and builds"
		printf '%s\tbuilds\t\t%s\t%s\n' "$name" "$(($(date +%s) - t0))" "$file" >>"$rows"
		continue
	fi
	if run "$name"; then
		missed=$((missed + 1))
		outcome="NOT CAUGHT" by="the $tier tier passed"
	elif by=$(python3 "$helper" caught "$out/$name/results"); then
		caught=$((caught + 1))
		outcome=caught
	else
		# The run failed without a failure in its results: test.sh itself went wrong.
		errors=$((errors + 1))
		outcome="ERROR: the run failed without a result (see build/mutants/$name/run.log)" by=
	fi
	seconds=$(($(date +%s) - t0 - waited))
	waited_all=$((waited_all + waited))
	log "$name: $outcome${by:+ by $by} ($seconds s, and $waited s waiting for the VM lock)"
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$outcome" "$by" "$seconds" "$file" >>"$rows"
done
rm -rf "$out/tree"

total=$(($(date +%s) - started))
{
	python3 "$helper" table "$rows"
	echo
	if [ $apply_only -eq 1 ]; then
		echo "${#names[@]} mutants: $((${#names[@]} - errors)) apply and build, $errors errors ($total s)."
	else
		echo "${#names[@]} mutants ($tier tier, fuzz seed $FUZZ_SEED): $caught caught, $missed not caught," \
			"$errors errors. $total s in all$([ $baseline -eq 1 ] && echo ", the baseline's $baseline_seconds s included"), of" \
			"which $((waited_all + ${baseline_waited:-0})) s waiting for the VM lock. Times (build and run of" \
			"each mutant) leave out the waits."
	fi
} >"$out/table.md"
echo
cat "$out/table.md"
[ $missed -eq 0 ] && [ $errors -eq 0 ]
