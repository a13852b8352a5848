# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Result accounting shared by scripts/test.sh (`make test`) and scripts/check.sh (`make check`):
# sourced, not run. The parsers are in tally.py next to this file; the format of the results
# file and the closing line are described there and in docs/testing.md.
#
#   results_init DIR          start an empty results file in DIR
#   run_check NAME CMD...     a harness check (lint, build, ...): recorded as a check, not a test
#   record_check ok|fail NAME [DETAILS]
#   tally ARGS...             tally.py on the results file (passes, cargo, kunit, splats)
#   results_summary           every result, then `N passed, N failed, N skipped`; fails when
#                             anything failed or nothing passed
#   timed NAME CMD...         runs CMD and notes how long it took (printed by results_summary)

results_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The passes scripts/guest-tests.sh runs, each of which must begin and end in the guest's output.
# shellcheck disable=SC2034
guest_passes=(it-default c-program shell cli lifecycle it-limits it-access it-reserve params install fuzz it-heavy)

results_init() { # dir
	results_dir=$1
	rm -rf "$results_dir"
	mkdir -p "$results_dir/checks"
	: >"$results_dir/results.txt"
	: >"$results_dir/timings.txt"
}

record_check() { # ok|fail name [details]
	printf 'check\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$results_dir/results.txt"
	if [ "$1" = ok ]; then
		printf 'check ok      %s\n' "$2"
	else
		printf 'CHECK FAILED  %s%s\n' "$2" "${3:+ ($3)}"
	fi
}

run_check() { # name command...: a check whose result is the command's status
	local name=$1 log
	shift
	log=$results_dir/checks/${name//\//_}.log
	if "$@" >"$log" 2>&1; then
		record_check ok "$name"
	else
		record_check fail "$name" "exit status $?, see $log"
		tail -40 "$log"
	fi
}

tally() {
	python3 "$results_lib/tally.py" "$results_dir/results.txt" "$@"
}

timed() { # name command...
	local name=$1 start status
	shift
	start=$(date +%s)
	"$@"
	status=$?
	printf '%-28s %4ss\n' "$name" "$(($(date +%s) - start))" >>"$results_dir/timings.txt"
	return $status
}

results_summary() {
	local status
	echo
	echo "Results ($results_dir/results.txt):"
	tally summary
	status=$?
	echo "Times:"
	sed 's/^/  /' "$results_dir/timings.txt"
	return $status
}

# The KUnit suites of the module, from its sources: every one must run at every module load.
kunit_suites() { # source dir
	grep -rhoE '#\[kunit_tests\([A-Za-z0-9_]+\)\]' "$1" | sed -E 's/.*\(([^)]*)\).*/\1/' |
		sort -u | paste -sd, -
}
