#!/bin/sh
# /init of the pathstore guest: a busybox initramfs that mounts the host's filesystem (read-only)
# and the checkout (read-write, at the same path as on the host) over 9p, loads the module and
# runs the requested command, or a shell. The host side is qemu/run.sh.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 out /out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,ro,cache=loose hostroot /host
. /out/env
mkdir -p "$REPO"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose repo "$REPO"
hostname pathstore
ip link set lo up 2>/dev/null

# The whole kernel log goes to the host before the status (qemu/run.sh copies it out): messages
# printed right before `reboot -f` may not reach the serial console.
finish() {
	dmesg > /out/dmesg 2>&1
	echo "$1" > /out/status
	sync
	reboot -f
}

# shellcheck disable=SC2086
if ! insmod /pathstore.ko $MODULE_PARAMS; then
	echo "pathstore guest: insmod pathstore.ko failed" > /dev/ttyS0
	finish 125
fi
echo "pathstore guest: module loaded; $(dmesg | grep -m1 'pathstore [0-9]' | sed 's/^\[[^]]*\] //')" >/dev/kmsg

export PATH="$REPO/tools/target/release:/bin:/sbin:/usr/bin:/usr/sbin"
export HOME=/root PATHSTORE_REPO="$REPO" PATHSTORE_OUT=/out TERM="${TERM_HOST:-vt100}"
cd "$REPO" || finish 125
if [ "$MODE" = interactive ]; then
	echo "pathstore guest: /dev/pathstore is ready; 'pathstore --help' for the CLI, 'exit' to stop." >/dev/ttyS0
	# A session of its own with the first serial port (the user's terminal) as controlling tty.
	setsid sh -c 'exec sh -l <>/dev/ttyS0 >&0 2>&1'
	finish $?
else
	stty -F /dev/ttyS0 -opost 2>/dev/null
	sh /out/cmd.sh </dev/null >/dev/ttyS0 2>&1
	finish $?
fi
