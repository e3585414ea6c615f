#!/bin/bash
# adopt_reexec.sh — what a daemon restart costs when sessions outlive it, on a large gateway:
# 64 sim uplinks x 16 idle sessions. Three figures, each the median of ROUNDS:
#   re-exec gap   `cellmuxctl daemon reexec` until the new image answers the admin socket
#                 (status) and until it serves /metrics;
#   adoption      kill -9, start a new cellmuxd, until it says ready with every session adopted;
#   cold start    the alternative it replaces: SIGTERM (every session ends), start, until every
#                 session runs again.
# and the ratios cold start / adoption and cold start / re-exec. Figures only: nothing here
# asserts a time. --quick: 4 x 4, one round, for the smoke test.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lablock.sh
BUILD=${BUILD:-build}
BUILD=$(cd "$BUILD" && pwd)
SIM=$BUILD/cellmux-sim
CELLMUXD=$BUILD/cellmuxd
CTL=$BUILD/cellmuxctl
UPLINKS=64 PER_UPLINK=16 ROUNDS=5
[ "${1:-}" = --quick ] && UPLINKS=4 PER_UPLINK=4 ROUNDS=1
SESSIONS=$((UPLINKS * PER_UPLINK))

T=$(mktemp -d /tmp/cellmux-bench-adopt.XXXXXX)
chmod 755 "$T"
PID=
cleanup() {
	set +e
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		wait "$PID"
	fi
	# A round that failed after a kill -9 leaves namespaces: take them down.
	for ns in $(ip netns list | awk '/^cmx-/ { print $1 }'); do
		ip netns pids "$ns" | xargs -r kill -KILL
		ip netns delete "$ns"
		rm -rf "/etc/netns/$ns"
	done
	for m in $(findmnt -n -t cgroup2,cgroup -o TARGET); do
		[ -d "$m/cellmux-bench-adopt" ] && find "$m/cellmux-bench-adopt" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	"$SIM" down >/dev/null 2>&1
	rm -rf "$T" "/sys/fs/bpf/cellmux-bench-$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
M=http://127.0.0.1:$PORT/metrics
"$SIM" down >/dev/null 2>&1 || true
"$SIM" up --modems "$UPLINKS" >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; exit 1; }
{
	for i in $(seq 0 $((UPLINKS - 1))); do
		printf '[uplink sim%d]\ndriver=netdev\ninterface=simwwan%d\naddress=100.64.%d.2/24\n' "$i" "$i" "$i"
		printf 'gateway=100.64.%d.1\ndns=100.64.%d.1\ncapacity=%d\n\n' "$i" "$i" "$PER_UPLINK"
	done
	printf '[daemon]\ncgroup=/cellmux-bench-adopt\nbpf_dir=/sys/fs/bpf/cellmux-bench-%s\n' $$
	printf 'state_dir=%s/state\nctl_socket=%s/ctl.sock\n\n[metrics]\nlisten=127.0.0.1:%s\n\n' "$T" "$T" "$PORT"
	printf '[profile idle]\nexec=/bin/sleep 100000\nrestart=no\n'
	for s in $(seq 0 $((SESSIONS - 1))); do printf '\n[session b%d]\nprofile=idle\n' "$s"; done
} >"$T/bench.conf"
ctl() { "$CTL" --socket "$T/ctl.sock" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
running() { [ "$(curl -sf "$M" | grep -c '^cellmux_session_up{.*} 1$')" = "$SESSIONS" ]; }
RUN=0
start() { # until the ready line; LOG is its log
	RUN=$((RUN + 1))
	LOG=$T/daemon.$RUN.log
	"$CELLMUXD" -c "$T/bench.conf" >"$LOG" 2>&1 &
	PID=$!
	until grep -q "ready:" "$LOG"; do
		kill -0 "$PID" 2>/dev/null || { tail -20 "$LOG" >&2; exit 1; }
		sleep 0.005
	done
}
wait_running() {
	for _ in $(seq 2400); do running 2>/dev/null && return 0; sleep 0.05; done
	echo "not every session runs after 120 s" >&2
	tail -20 "$LOG" >&2
	exit 1
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

start
wait_running
: >"$T/reexec_ctl" >"$T/reexec_metrics" >"$T/adopt" >"$T/cold"
for r in $(seq "$ROUNDS"); do
	# Re-exec.
	before=$(grep -c "ready:" "$LOG")
	t0=$(now_ms)
	ctl daemon reexec >/dev/null
	until [ "$(grep -c "ready:" "$LOG")" -gt "$before" ] && ctl status >/dev/null 2>&1; do sleep 0.002; done
	echo $(($(now_ms) - t0)) >>"$T/reexec_ctl"
	until curl -sf -o /dev/null "$M"; do sleep 0.002; done
	echo $(($(now_ms) - t0)) >>"$T/reexec_metrics"
	grep -q "($SESSIONS adopted)" "$LOG" || { echo "re-exec did not adopt every session" >&2; tail "$LOG" >&2; exit 1; }
	# kill -9 and adoption.
	kill -KILL "$PID"
	wait "$PID" 2>/dev/null || true
	t0=$(now_ms)
	start
	echo $(($(now_ms) - t0)) >>"$T/adopt"
	grep -q "($SESSIONS adopted)" "$LOG" || { echo "the new daemon did not adopt every session" >&2; tail "$LOG" >&2; exit 1; }
	# The alternative: a clean stop ends every session; a start makes them all again.
	kill -TERM "$PID"
	wait "$PID" || true
	t0=$(now_ms)
	start
	wait_running
	echo $(($(now_ms) - t0)) >>"$T/cold"
done
rc=$(median <"$T/reexec_ctl")
rm_=$(median <"$T/reexec_metrics")
ad=$(median <"$T/adopt")
co=$(median <"$T/cold")
echo "sessions outliving the daemon, $UPLINKS uplinks x $PER_UPLINK sessions, median of $ROUNDS:"
printf '  re-exec gap: admin socket      %7d ms\n' "$rc"
printf '  re-exec gap: /metrics          %7d ms\n' "$rm_"
printf '  kill -9 -> ready, all adopted  %7d ms\n' "$ad"
printf '  cold start (stop, start, all running again) %7d ms\n' "$co"
awk -v c="$co" -v a="$ad" -v x="$rc" 'BEGIN {
	printf "  ratio cold start / adoption    %7.2f\n", c / (a ? a : 1)
	printf "  ratio cold start / re-exec     %7.2f\n", c / (x ? x : 1) }'
