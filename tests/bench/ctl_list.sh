#!/bin/bash
# ctl_list.sh — `cellmuxctl --json session list` against a live cellmuxd holding 1,000 sessions
# (63 sim uplinks x 16): wall time per call (median of runs) and the daemon's CPU per call.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lablock.sh
B=$(pwd)/build
RUNS=${RUNS:-30}
UPLINKS=63 SESSIONS=1000
[ "${1:-}" = --quick ] && { RUNS=3; UPLINKS=2; SESSIONS=20; }
T=$(mktemp -d /tmp/cellmux-bench-ctl.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && while kill -0 "$PID" 2>/dev/null; do sleep 0.2; done
	"$B/cellmux-sim" down >/dev/null 2>&1 || true
	rm -rf "$T" /sys/fs/bpf/cellmux-bench
}
trap cleanup EXIT
"$B/cellmux-sim" down >/dev/null 2>&1 || true
"$B/cellmux-sim" up --modems $UPLINKS >/dev/null
{
	for i in $(seq 0 $((UPLINKS - 1))); do
		printf '[uplink sim%d]\ndriver=netdev\ninterface=simwwan%d\naddress=100.64.%d.2/24\ngateway=100.64.%d.1\ncapacity=16\n\n' $i $i $i $i
	done
	printf '[daemon]\ncgroup=/cellmux-bench\nctl_socket=%s/ctl.sock\nbpf_dir=/sys/fs/bpf/cellmux-bench\nstate_dir=%s/state\n\n[metrics]\nlisten=off\n\n[profile idle]\nexec=/bin/sleep 100000\nrestart=no\n' "$T" "$T"
	for s in $(seq 1 $SESSIONS); do printf '[session b%d]\nprofile=idle\n' $s; done
} >"$T/cellmux.conf"
"$B/cellmuxd" -c "$T/cellmux.conf" >"$T/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 600); do grep -q "ready:" "$T/daemon.log" && break; sleep 0.1; done
cpu() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; } # utime + stime, clock ticks
HZ=$(getconf CLK_TCK)
c0=$(cpu)
times=()
for _ in $(seq $RUNS); do
	s=${EPOCHREALTIME/./}
	"$B/cellmuxctl" --socket "$T/ctl.sock" --json session list >"$T/out.json"
	times+=($(( ${EPOCHREALTIME/./} - s )))
done
c1=$(cpu)
n=$(python3 -c "import json; print(len(json.load(open('$T/out.json'))))")
med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "cellmuxctl --json session list, $n sessions, median of $RUNS:"
printf '  wall time per call        %8.2f ms   (aim: < 50 ms)\n' "$(awk -v m="$med" 'BEGIN { print m / 1000 }')"
printf '  daemon CPU per call       %8.2f ms\n' "$(awk -v a=$c0 -v b=$c1 -v hz=$HZ -v r=$RUNS 'BEGIN { print (b - a) * 1000 / hz / r }')"
