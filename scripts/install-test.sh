#!/usr/bin/env bash
# The real-host install path, tested on the host against the harness's kernel build tree without
# touching the host's /lib/modules, /usr/src, /var/lib/dkms or /etc: everything goes to a
# throwaway folder.
#
#   scripts/install-test.sh KDIR [MO]
#
# KDIR is the kernel build tree (the first line `scripts/build.sh debug` prints); MO the folder
# kbuild built the module into (default: build/debug, where scripts/build.sh puts it), for
# `make install`. Checks, one line each (`ok - NAME` or `not ok - NAME`), and exits non-zero if
# any failed:
#  - the Makefile: LLVM taken from the tree, a clear error for another rustc or bindgen, CMD
#    passed to `make run`/`make vm` unexpanded;
#  - dkms: add, build, install (the commands dkms.conf documents, with the trees redirected),
#    depmod and modprobe finding the module, remove;
#  - `make install DESTDIR=...`: the module through modules_install, the udev rule, the header
#    (it compiles), the modprobe.d and modules-load.d files; an edited modprobe.d file kept;
#    `make uninstall`.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:?usage: install-test.sh KDIR [MO]}
mo=${2:-$here/build/debug}
export PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH:/usr/sbin:/sbin
failed=0
checks=0
ok() { echo "ok - $1"; checks=$((checks + 1)); }
notok() { echo "not ok - $1${2:+: $2}"; failed=1; checks=$((checks + 1)); }
# The TAP plan, last: how many checks ran.
trap 'echo "1..$checks"' EXIT
check() { # name command...: ok when the command succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
log() { printf '[install-test] %s\n' "$*" >&2; }
# Runs a command with its output in $tmp/NAME.log, shown on failure.
run() { # name command...
	local name=$1
	shift
	local start=$SECONDS
	if "$@" >"$tmp/$name.log" 2>&1; then
		log "$name: $((SECONDS - start)) s"
		return 0
	fi
	tail -25 "$tmp/$name.log" | sed 's/^/# /'
	return 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pathstore-install.XXXXXX")
trap 'rm -rf "$tmp"; echo "1..$checks"' EXIT
cd "$here"

rel=$(cat "$kdir/include/config/kernel.release" 2>/dev/null)
[ -n "$rel" ] || { notok "kernel release of $kdir" "no include/config/kernel.release"; exit 1; }
host_modules_existed=0
[ -e "/lib/modules/$rel" ] && host_modules_existed=1

# --- The Makefile.
# The harness builds its kernels with LLVM=${LLVM:--19} (scripts/kernel.sh): the Makefile must
# find that in the tree.
want_llvm=${LLVM:--19}
got_llvm=$(env -u LLVM make -s --no-print-directory KDIR="$kdir" \
	--eval 'print-llvm: ; @echo "$(LLVM)"' print-llvm 2>&1)
check "make takes LLVM=$want_llvm from the kernel tree (got '$got_llvm')" test "$got_llvm" = "$want_llvm"
got_llvm=$(make -s --no-print-directory KDIR="$kdir" LLVM=1 --eval 'print-llvm: ; @echo "$(LLVM)"' print-llvm 2>&1)
check "make LLVM=... overrides the tree's" test "$got_llvm" = 1
check "the kernel's rustc and bindgen pass the toolchain check" make -s --no-print-directory KDIR="$kdir" toolchain
printf '#!/bin/sh\necho "rustc 0.0.1 (000000000 1970-01-01)"\n' >"$tmp/rustc"
chmod +x "$tmp/rustc"
out=$(make -s --no-print-directory KDIR="$kdir" RUSTC="$tmp/rustc" modules 2>&1)
status=$?
check "another rustc is refused with the kernel's version in the message" \
	test $status -ne 0 -a -n "$(echo "$out" | grep -F "rustc does not match the kernel's")" \
	-a -n "$(echo "$out" | grep -F "$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$kdir/.config")")"
printf '#!/bin/sh\necho "bindgen 0.0.1"\n' >"$tmp/bindgen"
chmod +x "$tmp/bindgen"
out=$(make -s --no-print-directory KDIR="$kdir" BINDGEN="$tmp/bindgen" modules 2>&1)
status=$?
check "another bindgen is refused" test $status -ne 0 -a -n "$(echo "$out" | grep -F "bindgen does not match the kernel's")"
mkdir -p "$tmp/headers-only/rust"
cp "$kdir/.config" "$tmp/headers-only/"
out=$(make -s --no-print-directory KDIR="$tmp/headers-only" modules 2>&1)
status=$?
check "a tree without Rust metadata is refused" test $status -ne 0 -a -n "$(echo "$out" | grep -F "no Rust metadata")"
# `make run`/`make vm` hand CMD to scripts/vm.sh through PATHSTORE_CMD: replace their recipes
# (a makefile read after ours) by one that runs the command here, through the same variable.
cat >"$tmp/stub.mk" <<'EOF'
run vm:
	@sh -c "$$PATHSTORE_CMD"
EOF
cmd='v=1; echo "[$v] $(echo sub) $? '"'"'q'"'"' $$" | sed "s/ [0-9][0-9]*\$/ PID/"'
for target in run vm; do
	got=$(make -s --no-print-directory -f Makefile -f "$tmp/stub.mk" "$target" CMD="$cmd" 2>/dev/null)
	check "make $target passes CMD unexpanded (\$, quotes, \$(...), \$?, \$\$)" test "$got" = "[1] sub 0 'q' PID"
done

# --- dkms, as dkms.conf documents it, with every tree in $tmp.
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
modver=$(sed -n 's/^pub(crate) const MODULE_VERSION: (u32, u32, u32) = (\([0-9]*\), \([0-9]*\), \([0-9]*\));$/\1.\2.\3/p' src/pathstore.rs)
check "dkms.conf PACKAGE_VERSION ($ver) is the module's version ($modver)" test -n "$ver" -a "$ver" = "$modver"
check "modinfo shows the module's version" test "$(modinfo -F version "$mo/src/pathstore.ko" 2>/dev/null)" = "$modver"
src=$tmp/usr-src/pathstore-$ver
mkdir -p "$tmp/root/lib/modules/$rel" "$tmp/var-lib-dkms"
# The source tree as dkms.conf documents it (make dkms-source: the module's sources and the ABI
# file they include from tools/pathstore-abi/src/); the dkms build below needs every file of it.
if run dkms-source make -s --no-print-directory dkms-source DKMS_SOURCE="$src"; then ok "make dkms-source"; else notok "make dkms-source"; fi
check "the dkms source tree holds the ABI file the module includes" \
	cmp -s "$src/tools/pathstore-abi/src/uapi.rs" tools/pathstore-abi/src/uapi.rs
# The dkms trees, and a signing key of its own should dkms sign (it does when it finds
# sign-file): nothing outside $tmp.
dkms_args=(--sourcetree "$tmp/usr-src" --dkmstree "$tmp/var-lib-dkms" --installtree "$tmp/root/lib/modules")
export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub
if run dkms-add dkms add "pathstore/$ver" "${dkms_args[@]}"; then ok "dkms add"; else notok "dkms add"; fi
if run dkms-build dkms build "pathstore/$ver" -k "$rel" --kernelsourcedir "$kdir" "${dkms_args[@]}"; then
	ok "dkms build against the kernel tree"
else
	notok "dkms build against the kernel tree"
	cat "$tmp/var-lib-dkms/pathstore/$ver/build/make.log" 2>/dev/null | tail -30 | sed 's/^/# /'
fi
# dkms appends CC=clang LD=ld.lld to the make command (which fails the build where there is no
# plain clang, as here); the Makefile drops them and passes the tree's LLVM.
check "dkms built with the tree's LLVM=$want_llvm" sh -c \
	"grep -q -- ' LLVM=$want_llvm ' '$tmp/var-lib-dkms/pathstore/$ver/$rel/'*/log/make.log"
if run dkms-install dkms install "pathstore/$ver" -k "$rel" --kernelsourcedir "$kdir" --no-depmod "${dkms_args[@]}"; then
	ok "dkms install"
else
	notok "dkms install"
fi
installed=$tmp/root/lib/modules/$rel/updates/dkms/pathstore.ko
check "dkms installed updates/dkms/pathstore.ko" test -f "$installed"
check "its vermagic is the kernel's release" \
	test "$(modinfo -F vermagic "$installed" 2>/dev/null | awk '{print $1}')" = "$rel"
check "dkms status: installed" sh -c "dkms status pathstore/$ver -k $rel ${dkms_args[*]} | grep -q ': installed'"
if run depmod-dkms depmod -b "$tmp/root" "$rel"; then ok "depmod of the dkms tree"; else notok "depmod of the dkms tree"; fi
check "modprobe finds the dkms module" sh -c \
	"modprobe -d '$tmp/root' -S '$rel' -C /dev/null --show-depends pathstore | grep -q 'updates/dkms/pathstore.ko'"
if run dkms-remove dkms remove "pathstore/$ver" --all --no-depmod "${dkms_args[@]}"; then ok "dkms remove"; else notok "dkms remove"; fi
check "dkms remove deleted the module" test ! -e "$installed"

# --- make install into a staging tree, from the module scripts/build.sh built.
stage=$tmp/stage
mkmake() { make --no-print-directory KDIR="$kdir" MO="$mo" DESTDIR="$stage" "$@"; }
if [ ! -f "$mo/src/pathstore.ko" ]; then
	notok "make install" "no module in $mo: run scripts/build.sh debug first"
else
	if run make-install mkmake install; then ok "make install DESTDIR=..."; else notok "make install DESTDIR=..."; fi
	ko=$stage/lib/modules/$rel/updates/src/pathstore.ko
	check "the module is in lib/modules/RELEASE/updates/src/" cmp -s "$ko" "$mo/src/pathstore.ko"
	check "depmod (run by modules_install) lists it" grep -q '^updates/src/pathstore.ko:' "$stage/lib/modules/$rel/modules.dep"
	check "the udev rule is in etc/udev/rules.d/" cmp -s "$stage/etc/udev/rules.d/60-pathstore.rules" udev/60-pathstore.rules
	check "the C header is in usr/local/include/linux/" cmp -s "$stage/usr/local/include/linux/pathstore.h" include/uapi/linux/pathstore.h
	check "the installed header compiles" sh -c \
		"printf '#include <linux/pathstore.h>\nint main(void) { return PATHSTORE_IOC_GET == 0; }\n' |
		cc -Wall -Werror -I'$stage/usr/local/include' -x c - -o '$tmp/header-test'"
	check "the modprobe.d file is in etc/modprobe.d/" cmp -s "$stage/etc/modprobe.d/pathstore.conf" packaging/modprobe.d/pathstore.conf
	check "the modules-load.d file is in etc/modules-load.d/" \
		cmp -s "$stage/etc/modules-load.d/pathstore.conf" packaging/modules-load.d/pathstore.conf
	check "modules-load.d names the module" grep -qx pathstore "$stage/etc/modules-load.d/pathstore.conf"
	if [ -x tools/target/release/pathstore ]; then
		check "the CLI is in usr/local/bin/" cmp -s "$stage/usr/local/bin/pathstore" tools/target/release/pathstore
		check "its bash, zsh and fish completions are installed" sh -c \
			"grep -q pathstore '$stage/usr/local/share/bash-completion/completions/pathstore' &&
			grep -q pathstore '$stage/usr/local/share/zsh/vendor-completions/_pathstore' &&
			grep -q pathstore '$stage/usr/local/share/fish/vendor_completions.d/pathstore.fish'"
		check "its man pages are installed (pathstore.1 names every subcommand's page)" sh -c \
			"grep -q '^.TH pathstore 1' '$stage/usr/local/share/man/man1/pathstore.1' &&
			test -f '$stage/usr/local/share/man/man1/pathstore-set.1'"
	else
		notok "the CLI is installed" "tools/target/release/pathstore is not built"
	fi
	# The shipped options line, uncommented, is what modprobe would pass to the module.
	mkdir -p "$tmp/modprobe.d"
	sed 's/^#options /options /' packaging/modprobe.d/pathstore.conf >"$tmp/modprobe.d/pathstore.conf"
	want=$(sed -n 's/^options pathstore //p' "$tmp/modprobe.d/pathstore.conf")
	check "modprobe loads the installed module with the modprobe.d options" sh -c \
		"modprobe -d '$stage' -S '$rel' -C '$tmp/modprobe.d' --show-depends pathstore |
		grep -qxF 'insmod $ko $want '"
	echo '# edited' >>"$stage/etc/modprobe.d/pathstore.conf"
	if run make-install-again mkmake install; then ok "make install again"; else notok "make install again"; fi
	check "make install keeps an edited modprobe.d file" grep -qx '# edited' "$stage/etc/modprobe.d/pathstore.conf"
	if run make-uninstall mkmake uninstall; then ok "make uninstall"; else notok "make uninstall"; fi
	check "make uninstall removed the module, rule, header and modules-load.d file" sh -c \
		"test ! -e '$ko' -a ! -e '$stage/etc/udev/rules.d/60-pathstore.rules' -a \
		! -e '$stage/usr/local/include/linux/pathstore.h' -a ! -e '$stage/etc/modules-load.d/pathstore.conf'"
	check "make uninstall keeps an edited modprobe.d file" test -f "$stage/etc/modprobe.d/pathstore.conf"
	check "make uninstall removed the CLI, its completions and man pages" sh -c \
		"test ! -e '$stage/usr/local/bin/pathstore' -a ! -e '$stage/usr/local/share/man/man1/pathstore.1' -a \
		! -e '$stage/usr/local/share/bash-completion/completions/pathstore'"
fi

if [ $host_modules_existed -eq 0 ]; then
	check "the host's /lib/modules/$rel was not created" test ! -e "/lib/modules/$rel"
fi
exit $failed
