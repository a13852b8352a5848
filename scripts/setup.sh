#!/usr/bin/env bash
# Installs everything pathstore needs on a fresh Debian bookworm machine, and nothing more:
# the kernel build toolchain (clang/LLVM 19, bindgen, rust-src), QEMU, busybox, Debian's
# linux-source-7.2 from trixie-backports (pinned low so nothing else is upgraded from there),
# dkms (the install test builds the module with it) and udev (the guest test runs its rules on
# /dev/pathstore; a machine that runs systemd has it already).
#
# Idempotent and quick when everything is present: it checks before it installs.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Packages from bookworm itself.
BASE_PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev cpio kmod
	rsync busybox-static xz-utils make gcc libc6-dev python3 dkms)
# (suite, package) pairs that come from elsewhere, pinned low.
BACKPORTS_PKGS=(qemu-system-x86)
SOURCE_PKG=linux-source-7.2

missing=()
for p in "${BASE_PKGS[@]}" "${BACKPORTS_PKGS[@]}" "$SOURCE_PKG"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

add_suite() { # name suite
	local list=/etc/apt/sources.list.d/pathstore-$1.list
	local pref=/etc/apt/preferences.d/pathstore-$1
	if [ ! -f "$list" ]; then
		log "adding Debian suite $2 (pinned at priority 100: only packages asked for come from it)"
		echo "deb http://deb.debian.org/debian $2 main" | $SUDO tee "$list" >/dev/null
		printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n' "$2" | $SUDO tee "$pref" >/dev/null
		NEED_UPDATE=1
	fi
}

if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]} (a few minutes the first time)"
	NEED_UPDATE=1
	add_suite bookworm-backports bookworm-backports
	add_suite trixie-backports trixie-backports
	# Some machines list third-party apt sources that cannot be reached; their failure is not ours.
	$SUDO apt-get update -qq || log "apt-get update reported errors (continuing)"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get install -y -qq --no-install-recommends "${BASE_PKGS[@]}" >/dev/null
	$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports "${BACKPORTS_PKGS[@]}" >/dev/null
	# The patch level of linux-source-7.2 moves; take whatever trixie-backports (or sid) has now.
	if ! $SUDO apt-get install -y -qq --no-install-recommends -t trixie-backports "$SOURCE_PKG" >/dev/null; then
		log "$SOURCE_PKG not in trixie-backports; trying sid"
		add_suite sid sid
		$SUDO apt-get update -qq || true
		$SUDO apt-get install -y -qq --no-install-recommends -t sid "$SOURCE_PKG" >/dev/null
	fi
fi

# udev: at the version of the installed libudev1, so that installing it upgrades nothing else
# (systemd and udev come from one source package and must agree).
if ! dpkg-query -W -f='${Status}' udev 2>/dev/null | grep -q 'install ok installed'; then
	log "installing udev (the guest install test runs its rules on /dev/pathstore)"
	export DEBIAN_FRONTEND=noninteractive
	udev=udev
	libudev=$(dpkg-query -W -f='${Version}' libudev1 2>/dev/null || true)
	[ -z "$libudev" ] || udev="udev=$libudev"
	if ! $SUDO apt-get install -y -qq --no-install-recommends "$udev" >/dev/null 2>&1; then
		$SUDO apt-get update -qq || log "apt-get update reported errors (continuing)"
		$SUDO apt-get install -y -qq --no-install-recommends "$udev" >/dev/null ||
			log "$udev is not available: the guest install test's udev checks will fail"
	fi
fi

# Rust: the kernel wants the standard library's source and a recent bindgen.
if ! command -v rustup >/dev/null; then
	log "rustup not found: install Rust with rustup first"
	exit 1
fi
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	log "rustup component add rust-src"
	rustup component add rust-src
fi
for comp in rustfmt clippy; do
	rustup component list --installed 2>/dev/null | grep -q "^$comp" || rustup component add "$comp"
done
CARGO_BIN=${CARGO_HOME:-$HOME/.cargo}/bin
if ! { [ -x "$CARGO_BIN/bindgen" ] || command -v bindgen >/dev/null; } ||
	! ver=$( { "$CARGO_BIN/bindgen" --version 2>/dev/null || bindgen --version; } | awk '{print $2}') ||
	[ "$(printf '%s\n0.71.1\n' "$ver" | sort -V | head -1)" != 0.71.1 ]; then
	log "cargo install bindgen-cli (about 1 minute)"
	cargo install --locked --quiet bindgen-cli
fi
log "toolchain ready"
