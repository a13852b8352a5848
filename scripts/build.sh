#!/usr/bin/env bash
# Builds what a VM run needs: the guest kernel (cached, see kernel.sh), the module against it and
# the userspace tools. Prints two lines on stdout: the kernel build directory and the module.
#
#   scripts/build.sh lean|debug
set -euo pipefail
flavor=${1:?usage: build.sh lean|debug}
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
log() { printf '[build] %s\n' "$*" >&2; }

kdir=$("$here/scripts/kernel.sh" "$flavor")

out=$here/build/$flavor
mkdir -p "$out"
log "building pathstore.ko against the $flavor kernel"
if ! make -s -C "$kdir" M="$here" MO="$out" LLVM="${LLVM:--19}" ${CLIPPY:+CLIPPY=1} modules >"$out/module.log" 2>&1; then
	cat "$out/module.log" >&2
	exit 1
fi
# Warnings are errors for our own code.
if grep -E '^(warning|error)' "$out/module.log" >&2; then
	log "the module build printed warnings (see above)"
	exit 1
fi

log "building the userspace tools (cargo build --release)"
(cd "$here/tools" && cargo build --release --workspace --quiet)

echo "$kdir"
echo "$out/src/pathstore.ko"
