#!/bin/bash
# test_bpf_one_load.sh — one BPF load per daemon start: with 8 uplinks cellmuxd never reads the
# kernel's BTF (/sys/kernel/btf/vmlinux: no CO-RE relocation) and loads each tc program once, yet every
# uplink gets its filters and its own counters (the uplink's id rides on the filter's classid);
# a load that fails on its thread still stops a daemon with quotas before it is ready.
#
#   cellmuxd (under strace -ff) ── cmx-sim0 … cmx-sim7, one simwwanN each, tc clsact on each
# Seen failing: with a skeleton loaded per uplink again (the code before this test), the trace
# held 9 opens of the BTF file (1 + one per uplink) and 8–9 loads of each tc program; with every
# filter given id 1, sim3's datagrams were not counted on sim3; with dm_acct_wait() returning
# 0, the daemon with a quota and a failed load became ready and ran on; built with CO-RE again
# (without BPF_NO_PRESERVE_ACCESS_INDEX), the BTF file was opened once.
. "$(dirname "$0")/lib.sh"

N=8
command -v strace >/dev/null || die "strace is missing (make deps installs it)"
sim_up $N
{
	daemon_section
	printf '[metrics]\nlisten=off\n'
} | make_config

# -ff: one file per thread, so no call is split into "unfinished" and "resumed" halves.
mkdir "$T/tr"
strace -f -ff -qq -e trace=openat,bpf -s 64 -o "$T/tr/t" "$CELLMUXD" -c "$T/cellmux.conf" \
	>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_for 60 grep -q "ready:" "$T/daemon.log" || die "daemon not ready under strace"

# The objects carry no CO-RE relocation (BPF_CFLAGS: __sk_buff is UAPI): nothing to parse.
btf=$(cat "$T"/tr/t.* | grep -c 'openat(.*"/sys/kernel/btf/vmlinux".* = [0-9]')
check "the kernel's BTF was never opened for $N uplinks (opened: $btf)" [ "$btf" -eq 0 ]
loads() { cat "$T"/tr/t.* | grep 'BPF_PROG_LOAD' | grep 'prog_name="'"$1"'"' | grep -c ' = [0-9]'; }
check "cmx_tc_ingress was loaded once ($(loads cmx_tc_ingress))" [ "$(loads cmx_tc_ingress)" -eq 1 ]
check "cmx_tc_egress was loaded once ($(loads cmx_tc_egress))" [ "$(loads cmx_tc_egress)" -eq 1 ]

filters() { # N dir -> how many of our filters sit on simwwanN's hook
	ip netns exec "cmx-sim$1" tc filter show dev "simwwan$1" "$2" | grep -c "cmx_tc_$2"
}
hooked=0
for i in $(seq 0 $((N - 1))); do
	[ "$(filters "$i" ingress)" = 1 ] && [ "$(filters "$i" egress)" = 1 ] && hooked=$((hooked + 1))
done
check "all $N uplinks run the shared programs both ways (hooked: $hooked)" [ "$hooked" -eq $N ]

# The shared program still tells uplinks apart: traffic through one uplink lands on its counter
# (the uplink comes from the filter's classid, not from the ifindex, which namespaces may repeat).
upk() { ctl --json uplink show "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d['$2'] or 0)"; }
ifx3=$(ip netns exec cmx-sim3 cat /sys/class/net/simwwan3/ifindex)
ifx5=$(ip netns exec cmx-sim5 cat /sys/class/net/simwwan5/ifindex)
b3=$(upk sim3 tx_packets)
b5=$(upk sim5 tx_packets)
ip netns exec cmx-sim3 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(200):
    s.sendto(b"x" * 64, ("100.64.3.1", 9))' || die "sending through uplink sim3"
a3=$(upk sim3 tx_packets)
a5=$(upk sim5 tx_packets)
check "200 datagrams sent through sim3 are counted on sim3 ($b3 -> $a3)" [ $((a3 - b3)) -ge 200 ]
check "and not on sim5 (ifindex $ifx5 vs sim3's $ifx3; $b5 -> $a5)" [ $((a5 - b5)) -lt 200 ]

check "SIGTERM stops the daemon with status 0" stop_traced
check "nothing left" nothing_left

# The load runs beside the bring-up now, yet a load that fails (here: a pinned counter map of
# another layout, which the probe cannot see) still stops a daemon that has quotas to enforce,
# before it is ready, and takes its uplinks down again.
rm -rf "$BPFDIR"
mkdir -p "$BPFDIR"
bpftool map create "$BPFDIR/cmx_counters" type array key 4 value 8 entries 8 name cmx_counters ||
	die "bpftool map create"
printf '\n[profile capped]\nexec=/bin/sleep 1000\nquota=1M\n\n[session q]\nprofile=capped\n' \
	>>"$T/cellmux.conf"
timeout 60 "$CELLMUXD" -c "$T/cellmux.conf" >"$T/daemon.log" 2>&1
rc=$?
check "with a quota and a failed load cellmuxd exits non-zero (exit $rc)" [ $rc -ne 0 -a $rc -ne 124 ]
check "... saying why" grep -q 'accounting unavailable, but quotas are configured' "$T/daemon.log"
check "... and was never ready" sh -c "! grep -q 'ready:' '$T/daemon.log'"
check "nothing left after the failed start" nothing_left
