#!/usr/bin/env bash
# `make check`: the fast tier for developers, under 5 minutes warm. The same harness and result
# accounting as `make test` (scripts/test.sh, scripts/lib/), the same checks and passes, smaller:
# host checks and tests, KUnit, the integration suite scaled down (PATHSTORE_IT_SCALE=10,
# PATHSTORE_STRESS_SECONDS=5), 10000 fuzz operations from a random seed and 2000 under allocation
# failures. Sizes can be overridden as for scripts/test.sh. See docs/testing.md.
#
#   scripts/check.sh
exec "$(dirname "$0")/test.sh" --tier check "$@"
