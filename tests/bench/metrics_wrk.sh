#!/bin/bash
# metrics_wrk.sh — what a scrape of /metrics costs on a large gateway: 64 sim uplinks x 16 idle
# sessions, wrk on loopback at 1 connection (one render per request) and at 8 (concurrent
# scrapes); median latency, requests/s, the text's size, cellmuxd's resident memory. Figures
# only: nothing here asserts a time. --quick: 4 x 4 for one second, for the smoke test.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lablock.sh
BUILD=${BUILD:-build}
BUILD=$(cd "$BUILD" && pwd)
SIM=$BUILD/cellmux-sim
CELLMUXD=$BUILD/cellmuxd
UPLINKS=64 PER_UPLINK=16 SECONDS_EACH=10
[ "${1:-}" = --quick ] && UPLINKS=4 PER_UPLINK=4 SECONDS_EACH=1
SESSIONS=$((UPLINKS * PER_UPLINK))

command -v wrk >/dev/null || { echo "wrk is missing (make deps installs it)" >&2; exit 1; }
T=$(mktemp -d /tmp/cellmux-bench-metrics.XXXXXX)
chmod 755 "$T"
PID=
cleanup() {
	set +e
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		wait "$PID"
	fi
	"$SIM" down >/dev/null 2>&1
	rm -rf "$T" "/sys/fs/bpf/cellmux-bench-$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every session holds descriptors in the daemon (control socket, pidfd, cgroup).
ulimit -n "$(ulimit -Hn)"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
M=http://127.0.0.1:$PORT/metrics

"$SIM" down >/dev/null 2>&1 || true
"$SIM" up --modems "$UPLINKS" >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; exit 1; }
# The sim's layout (as `cellmux-sim config`), with room for 16 sessions per uplink.
{
	for i in $(seq 0 $((UPLINKS - 1))); do
		printf '[uplink sim%d]\ndriver=netdev\ninterface=simwwan%d\naddress=100.64.%d.2/24\n' "$i" "$i" "$i"
		printf 'gateway=100.64.%d.1\ndns=100.64.%d.1\ncapacity=%d\n\n' "$i" "$i" "$PER_UPLINK"
	done
	printf '[daemon]\ncgroup=/cellmux-bench\nbpf_dir=/sys/fs/bpf/cellmux-bench-%s\nstate_dir=%s/state\n\n[metrics]\nlisten=127.0.0.1:%s\n\n' $$ "$T" "$PORT"
	printf '[profile idle]\nexec=/bin/sleep 1000\nuser=nobody\nrestart=no\n'
	for s in $(seq 0 $((SESSIONS - 1))); do printf '\n[session b%d]\nprofile=idle\n' "$s"; done
} >"$T/bench.conf"

"$CELLMUXD" -c "$T/bench.conf" >"$T/daemon.log" 2>&1 &
PID=$!
running() { [ "$(curl -sf "$M" | grep -c '^cellmux_session_up{.*} 1$')" = "$SESSIONS" ]; }
for _ in $(seq 1200); do
	running 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || { grep -m5 -i 'error\|fail' "$T/daemon.log"; exit 1; }
	sleep 0.1
done
running || { echo "not every session runs after 120 s" >&2; tail -20 "$T/daemon.log"; exit 1; }

curl -sf -o "$T/scrape" "$M"
bytes=$(wc -c <"$T/scrape")
series=$(grep -vc '^#' "$T/scrape")
rss() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }
rss_idle=$(rss VmRSS)
peak_idle=$(rss VmHWM)
# Sequential scrapes with curl: a fresh connection each, as Prometheus after an idle close.
for _ in $(seq 21); do curl -sf -o /dev/null -w '%{time_total}\n' "$M"; done | sort -n >"$T/curl"
curl_median=$(awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] * 1000 }' "$T/curl")

rss_max=0
wrk_run() { # connections threads; samples cellmuxd's RSS meanwhile
	local w r
	wrk -t"$2" -c"$1" -d"${SECONDS_EACH}s" --latency "$M" >"$T/wrk$1" &
	w=$!
	while kill -0 "$w" 2>/dev/null; do
		r=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$PID/status")
		[ "${r:-0}" -gt "$rss_max" ] && rss_max=$r
		sleep 0.2
	done
	wait "$w"
	kill -0 "$PID" || { echo "cellmuxd died under wrk" >&2; exit 1; }
}
wrk_median() { awk '$1 == "50%" { print $2 }' "$T/wrk$1"; }
wrk_rps() { awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$T/wrk$1"; }
wrk_run 1 1
wrk_run 8 2
# The last connections close within a moment; what stays is what scrapes cost for good.
sleep 2
rss_after=$(rss VmRSS)
rss_peak=$(rss VmHWM)
running || {
	echo "sessions stopped running during the benchmark:" \
		"$(curl -sf "$M" | grep -c '^cellmux_session_up{.*} 1$') of $SESSIONS up" >&2
	tail -20 "$T/daemon.log" >&2
	exit 1
}

# What the sessions' inits (PID 1 of each session) hold of their own: the private pages in
# smaps_rollup, which for an init that is a copy of cellmuxd include every daemon page it kept.
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -1)
init_n=0 init_kb=0 init_exe=
for p in $(cat "$CG2"/cellmux-bench/*/cgroup.procs 2>/dev/null); do
	[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] || continue
	kb=$(awk '$1 ~ /^Private_(Clean|Dirty):$/ { k += $2 } END { print k + 0 }' "/proc/$p/smaps_rollup")
	init_n=$((init_n + 1)) init_kb=$((init_kb + kb))
	init_exe=$(basename "$(readlink "/proc/$p/exe")")
done
[ "$init_n" = "$SESSIONS" ] || { echo "found $init_n session inits of $SESSIONS" >&2; exit 1; }

echo "metrics scrape, $UPLINKS uplinks x $PER_UPLINK sessions ($SESSIONS running), ${SECONDS_EACH}s per wrk run:"
printf '  exposition                     %9d bytes, %d series\n' "$bytes" "$series"
printf '  curl, new connection, median   %9s ms   (of 21)\n' "$curl_median"
printf '  wrk 1 connection: median       %9s      %s req/s  (aim: < 10 ms)\n' "$(wrk_median 1)" "$(wrk_rps 1)"
printf '  wrk 8 connections: median      %9s      %s req/s\n' "$(wrk_median 8)" "$(wrk_rps 8)"
printf '  cellmuxd RSS                   %9s MiB before wrk, %.1f during, %s after  (aim: < 64)\n' \
	"$rss_idle" "$(awk -v k="$rss_max" 'BEGIN { print k / 1024 }')" "$rss_after"
printf '  cellmuxd peak RSS (VmHWM)      %9s MiB before wrk (start-up), %s after\n' \
	"$peak_idle" "$rss_peak"
printf '  session inits (%s)  %9.1f MiB private in all, %.0f kB each\n' "$init_exe" \
	"$(awk -v k="$init_kb" 'BEGIN { print k / 1024 }')" "$(awk -v k="$init_kb" -v n="$init_n" 'BEGIN { print k / n }')"
