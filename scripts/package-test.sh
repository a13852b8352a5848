#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The crates that are published (pathstore-abi, pathstore, pathstore-cli) package and build from
# their own files alone: `cargo package` of the three, offline, each verified by a build of its
# .crate against the others' .crates (cargo's local registry of the packaged workspace members),
# the way crates.io users will build them. pathstore-abi passes only with the ABI file inside it.
#
#   scripts/package-test.sh          (run by scripts/test.sh as the host check host/package-crates)
#
# Cargo takes registry sources to be immutable: a .crate it unpacked, and what it compiled from
# it, are reused for the same name and version from the same registry. The local registry of a
# workspace's packages is always target/package/tmp-registry, so a second run would build the
# crates against the first run's pathstore-abi. Every run therefore has a CARGO_HOME and a target
# folder of its own, removed at the end; the CARGO_HOME shares the registry index and the
# downloaded .crate files of the real one (read, as --offline reads them), and nothing else.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
real_home=${CARGO_HOME:-$HOME/.cargo}
export PATH=$real_home/bin:$PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home/registry"
for d in index cache; do
	if [ -d "$real_home/registry/$d" ]; then
		ln -s "$real_home/registry/$d" "$tmp/home/registry/$d"
	fi
done
for f in config.toml config; do
	if [ -f "$real_home/$f" ]; then
		ln -s "$real_home/$f" "$tmp/home/$f"
	fi
done
cd "$here/tools"
CARGO_HOME=$tmp/home cargo package --offline --allow-dirty --target-dir "$tmp/target" \
	-p pathstore-abi -p pathstore -p pathstore-cli
# What each package holds.
for c in pathstore-abi pathstore pathstore-cli; do
	echo "== $c"
	tar tzf "$tmp/target/package/$c-"[0-9]*.crate
done
