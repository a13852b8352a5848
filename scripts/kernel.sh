#!/usr/bin/env bash
# Builds (or finds in the cache) a Rust-enabled guest kernel from Debian's linux-source-7.2.
#
#   scripts/kernel.sh lean|debug     prints the kernel build directory (usable as KDIR) on stdout
#
# The build lives outside the checkout, in $PATHSTORE_CACHE (default ~/.cache/pathstore), in a
# folder keyed by the kernel source version, the config fragments and the toolchain versions, so a
# fresh clone (CI) and later sessions reuse it. A finished build is marked by a stamp file; an
# interrupted one resumes where it stopped.
set -euo pipefail

flavor=${1:?usage: kernel.sh lean|debug}
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${PATHSTORE_CACHE:-$HOME/.cache/pathstore}
llvm=${LLVM:--19}
jobs=${JOBS:-$(($(nproc) + 1))}
log() { printf '[kernel] %s\n' "$*" >&2; }

fragments=("$here/qemu/base.config" "$here/qemu/$flavor.config")
[ -f "${fragments[1]}" ] || { log "unknown flavour '$flavor' (lean or debug)"; exit 2; }

tarball=/usr/src/linux-source-7.2.tar.xz
[ -f "$tarball" ] || { log "$tarball missing: run scripts/setup.sh"; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-7.2)
src=$cache/src/linux-source-7.2-$srcver

mkdir -p "$cache/src" "$cache/build"
exec 9>"$cache/.lock"
flock 9

if [ ! -f "$src/.pathstore-extracted" ]; then
	log "extracting linux-source-7.2 $srcver into $src (about 30 s)"
	rm -rf "$src" "$cache/src/tmp"
	mkdir -p "$cache/src/tmp"
	tar -C "$cache/src/tmp" -xf "$tarball"
	mv "$cache/src/tmp/linux-source-7.2" "$src"
	rmdir "$cache/src/tmp"
	touch "$src/.pathstore-extracted"
fi

toolchain="$(rustc --version) $(clang$llvm --version | head -1) $(bindgen --version 2>/dev/null || "${CARGO_HOME:-$HOME/.cargo}/bin/bindgen" --version)"
key=$( { echo "$srcver"; echo "$toolchain"; cat "${fragments[@]}"; } | sha256sum | cut -c1-12)
build=$cache/build/$flavor-$srcver-$key

kmake() { make -s -C "$src" O="$build" LLVM="$llvm" "$@"; }

if [ ! -f "$build/.pathstore-complete" ]; then
	mkdir -p "$build"
	if [ ! -f "$build/.config" ] || [ ! -f "$build/.pathstore-configured" ]; then
		log "configuring the $flavor kernel in $build"
		kmake tinyconfig >/dev/null
		"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "${fragments[@]}" >/dev/null
		kmake olddefconfig >/dev/null
		# merge_config drops options whose dependencies are off without failing: check them all.
		bad=0
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*) want=$line; name=${line%%=*} ;;
			"# CONFIG_"*" is not set") name=${line#\# }; name=${name%% *}; want="# $name is not set" ;;
			*) continue ;;
			esac
			if [ "${want#*=}" = n ]; then want="# $name is not set"; fi
			got=$(grep -E "^$name=|^# $name is not set" "$build/.config" || echo "# $name is not set")
			if [ "$got" != "$want" ]; then log "config: wanted '$want', got '$got'"; bad=1; fi
		done < <(cat "${fragments[@]}")
		[ $bad -eq 0 ] || { log "the $flavor config does not hold what qemu/*.config asks for"; exit 1; }
		touch "$build/.pathstore-configured"
	fi
	log "building the $flavor kernel with $jobs jobs: about 5-15 minutes on 2 cores (log: $build/build.log)"
	start=$SECONDS
	if ! kmake -j"$jobs" all >"$build/build.log" 2>&1; then
		tail -40 "$build/build.log" >&2
		log "kernel build failed; full log in $build/build.log"
		exit 1
	fi
	log "kernel built in $((SECONDS - start)) s"
	touch "$build/.pathstore-complete"
fi
echo "$build"
