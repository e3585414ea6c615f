#!/bin/bash
# qmi_bringup.sh — the qmi driver against 5 fake QMI modems (cellmux-sim up --qmi): time from
# cellmuxd's exec to every uplink "connected", and from an injected carrier drop to "connected"
# again. Medians over several runs. The fake answers in microseconds, so what is measured is
# cellmux's own time (namespace, egress table, link move, the QMI conversation, applying).
#   --quick: 3 runs instead of 7.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lablock.sh
BUILD=${BUILD:-build}
BUILD=$(cd "$BUILD" && pwd)
SIM=$BUILD/cellmux-sim
FQ=$BUILD/helpers/fake-qmi-modem
N=5
RUNS=7
for a in "$@"; do [ "$a" = --quick ] && RUNS=3; done
T=$(mktemp -d /tmp/cellmux-bench-qmi.XXXXXX)
DPID=

cleanup() {
	set +e
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID"
	"$SIM" down >/dev/null 2>&1
	rmdir "/sys/fs/cgroup/unified/cellmux-bench-$$" "/sys/fs/cgroup/cellmux-bench-$$" 2>/dev/null
	rm -rf "$T" "/sys/fs/bpf/cellmux-bench-$$"
}
trap cleanup EXIT

"$SIM" up --modems $N --qmi >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; exit 1; }
{
	printf '[daemon]\ncgroup=/cellmux-bench-%s\nctl_socket=%s/ctl.sock\nbpf_dir=/sys/fs/bpf/cellmux-bench-%s\nstate_dir=%s/state\n\n' $$ "$T" $$ "$T"
	printf '[metrics]\nlisten=off\n'
	"$SIM" config
} >"$T/cellmux.conf"

# Every line of the daemon's log with the time it arrived (µs).
stamp() { while IFS= read -r l; do printf '%s %s\n' "${EPOCHREALTIME/./}" "$l"; done; }
ts_of() { # file pattern [nth]: the timestamp of the nth line matching pattern
	grep -- "$2" "$1" | sed -n "${3:-1}p" | awk '{ print $1 }'
}
count() { grep -c -- "$2" "$1" || true; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$T/all_up" >"$T/ready" >"$T/per_uplink" >"$T/reconnect" >"$T/down"
for run in $(seq 1 $RUNS); do
	log=$T/daemon.$run.log
	t0=${EPOCHREALTIME/./}
	"$BUILD/cellmuxd" -c "$T/cellmux.conf" > >(stamp >"$log") 2>&1 &
	DPID=$!
	for _ in $(seq 1 600); do
		[ "$(count "$log" ': connected$')" -ge $N ] && break
		sleep 0.01
	done
	[ "$(count "$log" ': connected$')" -ge $N ] || { cat "$log"; echo "run $run: not all up"; exit 1; }
	last=$(grep ': connected$' "$log" | awk '{ print $1 }' | sort -n | tail -1)
	echo $(((last - t0) / 1000)) >>"$T/all_up"
	echo $((($(ts_of "$log" "ready:") - t0) / 1000)) >>"$T/ready"
	for i in $(seq 0 $((N - 1))); do
		a=$(ts_of "$log" "uplink sim$i: connecting")
		b=$(ts_of "$log" "uplink sim$i: connected")
		echo $(((b - a) / 1000)) >>"$T/per_uplink"
	done
	# Drops, one modem at a time: indication -> down -> retry -> up with the settings applied.
	for i in $(seq 0 $((N - 1))); do
		before=$(count "$log" "uplink sim$i: connected")
		t1=${EPOCHREALTIME/./}
		"$FQ" --ctl /run/cellmux-sim/qmi.ctl disconnect "$i" >/dev/null
		for _ in $(seq 1 500); do
			[ "$(count "$log" "uplink sim$i: connected")" -gt "$before" ] && break
			sleep 0.005
		done
		d=$(ts_of "$log" "uplink sim$i: disconnected" $((before)))
		b=$(ts_of "$log" "uplink sim$i: connected" $((before + 1)))
		[ -n "$b" ] || { cat "$log"; echo "run $run: sim$i did not reconnect"; exit 1; }
		echo $(((d - t1) / 1000)) >>"$T/down"
		echo $(((b - t1) / 1000)) >>"$T/reconnect"
	done
	kill -TERM "$DPID"
	wait "$DPID" || true
	DPID=
done

printf 'qmi bring-up, %d fake QMI modems, %d runs (medians, ms)\n' $N $RUNS
printf '  exec -> READY=1 (namespaces, tables, links)      %6s\n' "$(median <"$T/ready")"
printf '  exec -> all %d uplinks connected                  %6s\n' $N "$(median <"$T/all_up")"
printf '  per uplink: "connecting" -> "connected"          %6s   (the QMI conversation + applying)\n' "$(median <"$T/per_uplink")"
printf '  injected drop -> uplink down                     %6s\n' "$(median <"$T/down")"
printf '  injected drop -> connected again                 %6s   (first retry after a drop: 0-100 ms jitter)\n' "$(median <"$T/reconnect")"
