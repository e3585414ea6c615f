#!/bin/sh
# lab-qmicli.sh NETNS QMICLI-ARGS... — runs the real qmicli against fake-qmi-modem in lab namespace
# NETNS. libqmi checks a port before it asks the proxy (a character device, which sysfs calls a QMI
# port), so a private mount namespace gets a tmpfs /dev with /dev/cdc-wdm0..15 and a tmpfs
# /sys/class saying "QMI" for each: nothing of the host's /dev or /sys is touched.
set -eu
ns=$1
shift
exec ip netns exec "$ns" unshare --mount --propagation private sh -c '
	mount -t tmpfs -o mode=755 cmx-fakeqmi-dev /dev
	mknod -m 666 /dev/null c 1 3
	mknod -m 666 /dev/zero c 1 5
	mknod -m 666 /dev/urandom c 1 9
	mount -t tmpfs -o mode=755 cmx-fakeqmi-sys /sys/class
	i=0
	while [ $i -lt 16 ]; do
		mknod /dev/cdc-wdm$i c 1 3 # never opened: with -p the proxy owns the port
		mkdir -p /sys/class/wwan/cdc-wdm$i
		echo QMI >/sys/class/wwan/cdc-wdm$i/type
		i=$((i + 1))
	done
	exec qmicli "$@"' lab-qmicli "$@"
