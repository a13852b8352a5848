#!/usr/bin/env bash
# Boots the guest kernel in QEMU (TCG, 2 vCPUs) with a busybox initramfs holding the module, and
# runs a command (or an interactive shell) there. The guest sees the host's filesystem read-only
# at /host (and its /usr, so host-built programs run) and the checkout read-write at the same
# path as on the host.
#
#   qemu/run.sh --kernel-dir DIR --module KO [--cmd CMD | --interactive] [--params 'k=v ...']
#               [--timeout SECONDS] [--log FILE] [--dmesg FILE]
#
# The command's output goes to stdout and its exit status is ours. The guest kernel's console log
# goes to --log (default build/vm/console.log). The guest's whole kernel log, as `dmesg` reads it
# right before the guest reboots, goes to --dmesg (default dmesg.log next to --log): messages
# printed just before `reboot -f` may never reach the console, but they are in the ring buffer,
# which is large enough (log_buf_len) to hold a whole test run. The file is missing when the
# guest did not finish.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
kdir= module= cmd= mode=command params= timeout=3600 log=$here/build/vm/console.log dmesg=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-dir) kdir=$2; shift 2 ;;
	--module) module=$2; shift 2 ;;
	--cmd) cmd=$2; shift 2 ;;
	--interactive) mode=interactive; shift ;;
	--params) params=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--dmesg) dmesg=$2; shift 2 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$kdir" ] && [ -n "$module" ] || { echo "run.sh: --kernel-dir and --module are required" >&2; exit 2; }
[ -n "$dmesg" ] || dmesg=$(dirname "$log")/dmesg.log

work=$(mktemp -d "${TMPDIR:-/tmp}/pathstore-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"/{bin,sbin,etc,proc,sys,dev,tmp,root,host,out} "$work/out" "$(dirname "$log")" "$(dirname "$dmesg")"
rm -f "$dmesg"
root=$work/root
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$here/qemu/init.sh" "$root/init"
chmod +x "$root/init"
cp "$module" "$root/pathstore.ko"
# Host programs: /usr (and the /lib links into it) come from the host.
ln -s host/usr "$root/usr"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\npathstore-user:x:1000:1000::/tmp:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\npathstore-user:x:1000:\n' >"$root/etc/group"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

{
	printf 'REPO=%q\nMODE=%q\nMODULE_PARAMS=%q\nTERM_HOST=%q\n' "$here" "$mode" "$params" "${TERM:-vt100}"
} >"$work/out/env"
printf '%s\n' "$cmd" >"$work/out/cmd.sh"

# TCG emulates `rep movsb` a byte at a time (about 5 ns a byte here), so with ERMS/FSRM every
# copy to or from user memory, in any syscall, costs ten times what it does on hardware. Without
# them the kernel copies with `rep movsq` and plain moves. (FSRS stays: without it the cheapest
# system call took twice as long.)
#
# Both this and the TSC rate below are for the lean kernel (`make run`, `make bench`). The debug
# kernel that `make test` boots keeps the plain `-cpu max` and jiffies clock that every test run
# used before: once in four runs with them it reported a KASAN wild access in an interrupt taken
# during identify_boot_cpu, long before the module loads.
tuned=1
grep -q '^CONFIG_KASAN=y' "$kdir/.config" 2>/dev/null && tuned=0
cpu=max
[ $tuned -eq 1 ] && cpu=max,-erms,-fsrm
# Two sockets of one CPU: the BIOS MP table (the guest has no ACPI) then lists both.
qemu=(qemu-system-x86_64 -accel tcg -cpu "$cpu" -smp 2,sockets=2,cores=1,threads=1 -m 2G -nodefaults -no-reboot -display none
	-kernel "$kdir/arch/x86/boot/bzImage" -initrd "$work/initrd.gz"
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,id=hostroot"
	-virtfs "local,path=$here,mount_tag=repo,security_model=none,id=repo"
	-virtfs "local,path=$work/out,mount_tag=out,security_model=none,id=out")
# A kernel log buffer that holds a whole `make test` (KUnit at every module load included), so
# that the dmesg saved at the end has every message (the default is 128 KiB).
append="panic=-1 oops=continue printk.time=1 hung_task_panic=0 log_buf_len=16M"
# Under TCG the guest's TSC is the host's, but without ACPI the guest has no timer to calibrate
# it against and falls back to a jiffies clock (4 ms steps). Hand it the host's frequency.
tsc_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo 2>/dev/null || true)
if [ $tuned -eq 1 ] && [ -n "$tsc_khz" ] && grep -qw constant_tsc /proc/cpuinfo; then
	append="$append tsc_early_khz=$tsc_khz tsc=reliable"
fi
if [ "$mode" = interactive ]; then
	"${qemu[@]}" -serial mon:stdio -serial "file:$log" \
		-append "$append console=ttyS1 console=ttyS0 loglevel=4" || true
else
	timeout -k 10 "$timeout" "${qemu[@]}" -serial stdio -serial "file:$log" \
		-append "$append console=ttyS1 loglevel=7" </dev/null || true
fi
[ -f "$work/out/dmesg" ] && cp "$work/out/dmesg" "$dmesg"
if [ ! -f "$work/out/status" ]; then
	echo "run.sh: the guest did not finish (timeout ${timeout}s, or it crashed): see $log" >&2
	tail -30 "$log" >&2
	exit 125
fi
exit "$(cat "$work/out/status")"
