#!/usr/bin/env bash
# Builds what a VM run needs: the guest kernel (cached, see kernel.sh), the module against it and
# the userspace tools. Prints two lines on stdout: the kernel build directory and the module.
#
#   scripts/build.sh [--warnings-ok] lean|debug
#
# The debug flavour (`make test`, `make check`, `make vm KERNEL=debug`) builds the module with
# clippy (CLIPPY=1: clippy-driver compiles it, lints included), so the module is compiled once
# and linted by the same build; CLIPPY=0 builds it with plain rustc. The lean flavour uses rustc
# unless CLIPPY=1. The build directory (build/<flavour>/) is kept: kbuild rebuilds only what
# changed. Any warning (rustc's or clippy's) fails the build, and the module's object is removed
# so that the next build compiles it again and shows the warnings again; with --warnings-ok the
# warnings are printed (and left in build/<flavour>/module.log for the caller to judge) but the
# build succeeds.
set -euo pipefail
warnings_ok=0
if [ "${1:-}" = --warnings-ok ]; then
	warnings_ok=1
	shift
fi
flavor=${1:?usage: build.sh [--warnings-ok] lean|debug}
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
log() { printf '[build] %s\n' "$*" >&2; }

kdir=$("$here/scripts/kernel.sh" "$flavor")

clippy=${CLIPPY:-}
[ -n "$clippy" ] || { [ "$flavor" = debug ] && clippy=1 || clippy=0; }
out=$here/build/$flavor
mkdir -p "$out"
log "building pathstore.ko against the $flavor kernel$([ "$clippy" = 1 ] && echo ' (with clippy)')"
clippy_arg=()
[ "$clippy" = 1 ] && clippy_arg=(CLIPPY=1)
if ! make -s -C "$kdir" M="$here" MO="$out" LLVM="${LLVM:--19}" "${clippy_arg[@]}" modules >"$out/module.log" 2>&1; then
	cat "$out/module.log" >&2
	exit 1
fi
# Warnings are errors for our own code.
if grep -E '^(warning|error)' "$out/module.log" >&2; then
	# A later build must compile the module again (and print the warnings again) rather than
	# find it up to date.
	rm -f "$out/src/pathstore.o"
	log "the module build printed warnings (see above and $out/module.log)"
	[ $warnings_ok -eq 1 ] || exit 1
fi

log "building the userspace tools (cargo build --release)"
(cd "$here/tools" && cargo build --release --workspace --quiet)

echo "$kdir"
echo "$out/src/pathstore.ko"
