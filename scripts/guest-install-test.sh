#!/bin/sh
# The module installed the way a real host has it, tested in the guest (busybox sh, as root):
# `make install` (modules_install, depmod, the udev rule, the header, the modprobe.d and
# modules-load.d files, the group), then `modprobe pathstore` reading its options from
# /etc/modprobe.d, then udev applying the shipped rule (group "pathstore", mode 0660) when the
# module loads (udevd; `udevadm test` of the add event when the guest kernel has no inotify for
# udevd), then `make uninstall`. Prints one line per check (`ok - NAME` / `not ok - NAME`) and
# `# STEP: N s` timings; exits non-zero if a check failed.
#
#   sh scripts/guest-install-test.sh      (in the guest: make vm KERNEL=debug CMD='sh scripts/...')
#
# Environment: KDIR, the kernel build tree as the host sees it (default: the tree of the
# running kernel, found in the host's ~/.cache/pathstore by its utsversion.h); MO, where kbuild
# built the module (default: build/debug of the checkout, as scripts/build.sh does).
#
# The guest's /lib is the host's read-only /usr/lib, so the module tree goes to a tmpfs
# (make install INSTALL_MOD_PATH=/tmp/modroot, modprobe -d /tmp/modroot); /etc is the guest's
# own, so everything else is installed where a host has it (but the header: /usr is read-only
# too, so INCLUDEDIR=/tmp/include). qemu/init.sh loads the module at
# boot: it is unloaded first, and loaded again (defaults) at the end if it was loaded.
set -u
repo=${PATHSTORE_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
mo=${MO:-$repo/build/debug}
modroot=/tmp/modroot
# The guest's /bin is busybox's; the host's kmod and udevd are reached through symlinks that name
# /bin/udevadm and /bin/kmod, so name them here: kmod's modprobe (busybox's has no -d), depmod
# (which make install runs: DEPMOD, since busybox sh runs its own applets before PATH), and
# udevd.
tools=/tmp/install-tools
mkdir -p $tools
for t in modprobe depmod modinfo; do ln -sf /usr/bin/kmod $tools/$t; done
ln -sf /usr/bin/udevadm $tools/systemd-udevd
export PATH="$tools:$PATH"
modprobe=$tools/modprobe
export DEPMOD=$tools/depmod
# /usr is the host's, read-only: the header goes to /tmp.
includedir=/tmp/include
# The CLI, its completions and man pages go under PREFIX: the guest's /usr is the host's, read-only.
prefix=/tmp/prefix
rel=$(uname -r)
failed=0
checks=0
ok() { echo "ok - $1"; checks=$((checks + 1)); }
notok() { echo "not ok - $1${2:+: $2}"; failed=1; checks=$((checks + 1)); }
# The TAP plan, last: how many checks ran.
trap 'echo "1..$checks"' EXIT
check() { # name command...
	name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
now() { cut -d' ' -f1 /proc/uptime; }
timed() { # name command...: runs the command, prints its time, output shown on failure
	name=$1
	shift
	t0=$(now)
	"$@" >/tmp/install-step.log 2>&1
	st=$?
	echo "# $name: $(echo "$(now) $t0" | awk '{printf "%.2f", $1 - $2}') s"
	[ $st -eq 0 ] || sed 's/^/# /' /tmp/install-step.log | tail -25
	return $st
}

# The kernel build tree: the host path (kbuild's Makefiles name the sources by it), reached
# through the host's root at /host, bound at its own path.
if [ -z "${KDIR:-}" ]; then
	uts=$(uname -v)
	for d in /host/root/.cache/pathstore/build/*/ /host/home/*/.cache/pathstore/build/*/; do
		if grep -qF "\"$uts\"" "$d/include/generated/utsversion.h" 2>/dev/null; then
			KDIR=${d%/}
			KDIR=${KDIR#/host}
			break
		fi
	done
fi
if [ -z "${KDIR:-}" ]; then
	notok "find the running kernel's build tree" "set KDIR"
	exit 1
fi
if [ ! -e "$KDIR/Makefile" ]; then
	cache=${KDIR%/build/*}
	mkdir -p "$cache" && mount -o bind "/host$cache" "$cache"
fi
check "kernel build tree $KDIR" test -f "$KDIR/.config" -a -f "$mo/src/pathstore.ko"

was_loaded=0
grep -q '^pathstore ' /proc/modules && was_loaded=1
[ $was_loaded -eq 0 ] || check "rmmod the module qemu/init.sh loaded" rmmod pathstore

# 1. make install, into the guest's /etc and a module tree under /tmp.
rm -rf "$modroot"
mkdir -p "$modroot"
if timed "make install" make -C "$repo" --no-print-directory KDIR="$KDIR" MO="$mo" \
	INSTALL_MOD_PATH="$modroot" INCLUDEDIR="$includedir" PREFIX="$prefix" install; then
	ok "make install"
else
	notok "make install"
fi
ko=$modroot/lib/modules/$rel/updates/src/pathstore.ko
check "the module is installed for the running kernel ($rel)" test -f "$ko"
check "depmod lists it" grep -q '^updates/src/pathstore.ko:' "$modroot/lib/modules/$rel/modules.dep"
check "the udev rule is in /etc/udev/rules.d" test -f /etc/udev/rules.d/60-pathstore.rules
check "the modprobe.d file is in /etc/modprobe.d" test -f /etc/modprobe.d/pathstore.conf
check "the modules-load.d file is in /etc/modules-load.d" test -f /etc/modules-load.d/pathstore.conf
check "the header is in INCLUDEDIR/linux" test -f "$includedir/linux/pathstore.h"
check "make install created the group pathstore" grep -q '^pathstore:' /etc/group
gid=$(sed -n 's/^pathstore:[^:]*:\([0-9]*\):.*/\1/p' /etc/group)

# 2. modprobe with the options of /etc/modprobe.d: the shipped example line, uncommented as an
# administrator would, plus a dev_mode line (modprobe joins the options lines of a module).
sed -i 's/^#options pathstore /options pathstore /' /etc/modprobe.d/pathstore.conf
echo 'options pathstore dev_mode=0640' >>/etc/modprobe.d/pathstore.conf
opts=$(sed -n 's/^options pathstore //p' /etc/modprobe.d/pathstore.conf | tr '\n' ' ')
check "the example options line is set" test -n "$(echo "$opts" | grep max_nodes=)"
# As systemd-modules-load does at boot: modprobe each module modules-load.d names.
mods=$(grep -v '^#' /etc/modules-load.d/pathstore.conf | grep -v '^$')
check "modules-load.d names pathstore" test "$mods" = pathstore
if timed "modprobe pathstore" "$modprobe" -d "$modroot" "$mods"; then
	ok "modprobe pathstore (options from /etc/modprobe.d)"
else
	notok "modprobe pathstore (options from /etc/modprobe.d)"
fi
check "the module came from the installed tree" test -c /dev/pathstore
check "dev_mode=0640 from modprobe.d gives the node mode 640" test "$(stat -c %a /dev/pathstore)" = 640
stats=$(pathstore stats --json 2>&1)
for kv in $opts; do
	k=${kv%%=*}
	v=${kv#*=}
	case $k in
	dev_mode) ;;
	*)
		if echo "$stats" | grep -Eq "\"$k\": *$v([^0-9]|\$)"; then
			ok "pathstore stats shows $k=$v from modprobe.d"
		elif [ -r "/sys/module/pathstore/parameters/$k" ] && [ "$(cat "/sys/module/pathstore/parameters/$k")" = "$v" ]; then
			ok "/sys/module/pathstore/parameters shows $k=$v from modprobe.d"
		else
			notok "$k=$v from modprobe.d is in force" "stats: $stats"
		fi
		;;
	esac
done
check "rmmod" rmmod pathstore

# 3. udev with the installed rule: the node gets the group and mode. udevd needs inotify; in a
# guest kernel without it (CONFIG_INOTIFY_USER), `udevadm test` runs the same rules for the
# device's add event and applies them to the node.
mkdir -p /run
mountpoint -q /run || mount -t tmpfs tmpfs /run
if [ -x /usr/bin/udevadm ]; then
	t0=$(now)
	$tools/systemd-udevd --daemon 2>/tmp/udevd.log
	if /usr/bin/udevadm control --ping 2>/dev/null; then
		how="udevd"
		check "modprobe under udevd" "$modprobe" -d "$modroot" pathstore
		/usr/bin/udevadm settle --timeout=60
	else
		how="udevd did not start (it needs inotify), so udevadm test"
		check "modprobe" "$modprobe" -d "$modroot" pathstore
		check "udevadm test of the add event" sh -c \
			'/usr/bin/udevadm test --action=add /sys/class/misc/pathstore >/tmp/udevadm-test.log 2>&1'
	fi
	echo "# udev ($how), modprobe, rules applied: $(echo "$(now) $t0" | awk '{printf "%.2f", $1 - $2}') s"
	check "the udev rule gives /dev/pathstore group pathstore, mode 0660" \
		test "$(stat -c '%G %a' /dev/pathstore)" = "pathstore 660"
	check "a member of the group may open it" \
		/usr/bin/setpriv --reuid 1000 --regid 1000 --groups "$gid" sh -c 'exec 3<>/dev/pathstore'
	check "a user outside the group may not (EACCES)" sh -c \
		'/usr/bin/setpriv --reuid 1000 --regid 1000 --clear-groups sh -c "exec 3<>/dev/pathstore" 2>&1 |
		grep -q "Permission denied"'
	/usr/bin/udevadm control --exit 2>/dev/null
	check "rmmod" rmmod pathstore
else
	notok "udev" "/usr/bin/udevadm missing: scripts/setup.sh installs udev on the host"
fi

# 4. make uninstall, and the module as qemu/init.sh left it.
if timed "make uninstall" make -C "$repo" --no-print-directory KDIR="$KDIR" MO="$mo" \
	INSTALL_MOD_PATH="$modroot" INCLUDEDIR="$includedir" PREFIX="$prefix" uninstall; then
	ok "make uninstall"
else
	notok "make uninstall"
fi
check "make uninstall removed the module and the udev rule" \
	test ! -e "$ko" -a ! -e /etc/udev/rules.d/60-pathstore.rules
check "make uninstall kept the edited modprobe.d file" test -f /etc/modprobe.d/pathstore.conf
rm -f /etc/modprobe.d/pathstore.conf
rm -rf "$modroot" "$includedir" "$prefix" $tools
if [ $was_loaded -eq 1 ]; then
	check "insmod the module again (defaults)" insmod /pathstore.ko
fi
exit $failed
