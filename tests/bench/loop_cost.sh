#!/bin/bash
# loop_cost.sh — what cellmuxd's CPU pays per wake-up as sessions grow: the same work against a
# daemon holding 16 sessions (1 sim uplink x 16) and one holding 1,024 (64 x 16), in one run:
#  * per /metrics scrape: SCRAPES sequential curl requests (a new connection each);
#  * per worker message: a stream of EVENTS events from one session's cellmux-echo
#    (--on-signal: each SIGUSR1 starts another EVENTS), every one committed to the store, acked
#    to the worker and relayed over TLS to the reference backend on loopback; the stream ends
#    when the backend has logged every one of them; the other sessions idle: cellmux-echo
#    without --emit, connected (it said hello) and silent, as a real worker between messages.
# Daemon CPU is usage_usec of a cgroup v2 holding cellmuxd alone (its workers live in the
# session cgroups elsewhere): microseconds, every thread, exited ones too. Each round first
# measures the idle rate (IDLE_S seconds of nothing) and subtracts it over each measurement's
# own wall time. Medians of ROUNDS rounds. Figures only: nothing here asserts a time.
# --quick: 2 against 8 sessions, a few scrapes and events, one round (the smoke test).
# BENCH_ROUNDS=, BENCH_SCRAPES=, BENCH_EVENTS=, BENCH_IDLE_S= in the environment override the
# counts (either form).
# Beside the per-scrape figures: the cost per emitted series (sample lines) and per output byte,
# at both sizes and their ratio, which says what part of a scrape's growth is its text's growth.
# The floor: each text served again by build/helpers/static-scrape after reading the cgroup files
# cellmuxd keeps open, by the same curl loop: what no exporter of the same output can go below.
# PERF_DIR=DIR: perf record -g of cellmuxd during round 1's idle wait, scrapes and stream, per
# configuration (DIR/idle.N.data, DIR/scrape.N.data, DIR/events.N.data; `perf report -i`); the
# figures of that round include perf's overhead.
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
. tests/integration/lib.sh
. tests/integration/backend_lib.sh
# backend_lib.sh runs without the sim; this bench needs its uplinks.
SIM=$BUILD/cellmux-sim

ROUNDS=5 SCRAPES=200 EVENTS=10000 IDLE_S=3 WAIT_S=300
SMALL_UPLINKS=1 LARGE_UPLINKS=64 PER_UPLINK=16
if [ "${1:-}" = --quick ]; then
	ROUNDS=1 SCRAPES=5 EVENTS=200 IDLE_S=0.5 WAIT_S=60
	SMALL_UPLINKS=1 LARGE_UPLINKS=2 PER_UPLINK=4
	SMALL_PER_UPLINK=2
fi
IDLE_S=${BENCH_IDLE_S:-$IDLE_S} ROUNDS=${BENCH_ROUNDS:-$ROUNDS} SCRAPES=${BENCH_SCRAPES:-$SCRAPES} EVENTS=${BENCH_EVENTS:-$EVENTS}
SMALL_PER_UPLINK=${SMALL_PER_UPLINK:-$PER_UPLINK}

# Every session holds descriptors in the daemon (control socket, pidfd, output pipe).
ulimit -n "$(ulimit -Hn)"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
M=http://127.0.0.1:$PORT/metrics
CPUCG=$CG2/cellmux-bench-cpu-$$
mkdir "$CPUCG" || die "cannot make $CPUCG"
bench_stop() { # before lib.sh's cleanup: the daemon must leave CPUCG before it can go
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		wait_for 30 daemon_gone || kill -KILL "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
	fi
	DAEMON_PID=
	[ -d "$CPUCG" ] && rmdir "$CPUCG"
}
CLEANUP_EXTRA+=("bench_stop")

PERF_PID=
perf_start() { # name
	[ -n "${PERF_DIR:-}" ] && [ "$r" = 1 ] || return 0
	perf record -q -F 2999 -g -p "$DAEMON_PID" -o "$PERF_DIR/$1.data" 2>/dev/null &
	PERF_PID=$!
	sleep 0.5 # attached before the work starts
}
perf_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID"
	wait "$PERF_PID"
	PERF_PID=
}
CLEANUP_EXTRA+=("perf_stop")
cpu_us() { awk '$1 == "usage_usec" { print $2 }' "$CPUCG/cpu.stat"; }
now_us() { echo "${EPOCHREALTIME/./}"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

make_certs
start_backend good
"$SIM" down >/dev/null 2>&1
sim_up "$LARGE_UPLINKS"

running() { # N: every one of N sessions up, by the daemon's own metrics
	[ "$(curl -sf "$M" | grep -c '^cellmux_session_up{.*} 1$')" = "$1" ]
}
backend_has() { [ "$(events_logged)" -ge "$1" ]; }
log_has_from() { tail -c +"$1" "$T/daemon.log" | grep -q "$2"; }

# The floor (build/helpers/static-scrape): the text of this configuration's scrape served as it
# is, after a pread of each cgroup file cellmuxd holds open for its sessions (the kernel's part
# of the live values), by a process that does nothing else; the same curl loop. Run while the
# sessions, and so their files, exist.
STATIC_PID=
CLEANUP_EXTRA+=('[ -n "$STATIC_PID" ] && kill "$STATIC_PID" 2>/dev/null')
static_us() { # n -> STATIC_US, STATIC_FILES: CPU microseconds per scrape; files read per scrape
	local out=$T/static.$1 port
	find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 -exec readlink {} + |
		grep '^/sys/fs/cgroup/' >"$T/files.$1"
	"$BUILD/helpers/static-scrape" "$T/scrape.$1" "$T/files.$1" >"$out" &
	STATIC_PID=$!
	wait_for 30 grep -q '^port ' "$out" || die "static-scrape did not listen"
	port=$(awk '$1 == "port" { print $2 }' "$out")
	for _ in $(seq "$SCRAPES"); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" || die "static scrape failed"
	done
	kill -TERM "$STATIC_PID"
	wait "$STATIC_PID"
	STATIC_PID=
	STATIC_US=$(awk -v k="$SCRAPES" '$1 == "served" && $2 == k { print $4 / k }' "$out")
	STATIC_FILES=$(awk '$1 == "served" { print $6 }' "$out")
	[ -n "$STATIC_US" ] || die "static-scrape: $(cat "$out")"
}

# One daemon configuration: UPLINKS x PER sessions, session b0 (the last) the echo worker.
run_config() { # uplinks per-uplink
	local uplinks=$1 per=$2 n=$(($1 * $2)) out=$T/res.$(($1 * $2))
	STATE=$T/state-$n
	{
		for i in $(seq 0 $((uplinks - 1))); do
			printf '[uplink sim%d]\ndriver=netdev\ninterface=simwwan%d\naddress=100.64.%d.2/24\n' "$i" "$i" "$i"
			printf 'gateway=100.64.%d.1\ndns=100.64.%d.1\ncapacity=%d\n\n' "$i" "$i" "$per"
		done
		daemon_section
		printf 'state_dir=%s\n\n[metrics]\nlisten=127.0.0.1:%s\n\n' "$STATE" "$PORT"
		# A gateway of its own per configuration: the backend would take the second one's
		# events (same session, incarnation and ids) as duplicates of the first's.
		printf '[backend]\nurl=wss://localhost:%s/gw\nca=%s\ntoken_file=%s\ngateway_id=gw-bench-%d\n\n' \
			"$BACKEND_PORT" "$T/pki/ca.pem" "$T/token" "$n"
		printf '[profile echo]\nexec=%s --emit %d --on-signal\nuser=nobody\nrestart=no\n\n' "$ECHO" "$EVENTS"
		printf '[profile idle]\nexec=%s\nuser=nobody\nrestart=no\n\n' "$ECHO"
		for s in $(seq 1 $((n - 1))); do printf '[session b%d]\nprofile=idle\n\n' "$s"; done
		# Last: where a walk of the daemon's session list finds it latest.
		printf '[session b0]\nprofile=echo\n'
	} >"$T/cellmux.conf"
	# cellmuxd alone in CPUCG: the shell that puts itself there becomes the daemon.
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CPUCG" \
		"$CELLMUXD" -c "$T/cellmux.conf" >"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 180 running "$n" || { tail -20 "$T/daemon.log"; die "not every one of $n sessions runs after 180 s"; }
	wait_for 30 grep -q 'session b0: worker cellmux-echo .* says hello' "$T/daemon.log" ||
		die "cellmux-echo did not say hello"
	local worker
	worker=$(worker_pid b0)
	[ -n "$worker" ] || die "no worker pid for b0"
	# Start-up work that trails READY (placements, first counter reads, the backend link).
	sleep 2
	curl -sf -o "$T/scrape.$n" "$M" || die "scrape failed"
	: >"$out"
	local r c0 c1 t0 t1 idle rate scrape ev off logged
	for r in $(seq 1 "$ROUNDS"); do
		perf_start "idle.$n"
		c0=$(cpu_us) t0=$(now_us)
		sleep "$IDLE_S"
		c1=$(cpu_us) t1=$(now_us)
		perf_stop
		rate=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { print c / t }')

		perf_start "scrape.$n"
		c0=$(cpu_us) t0=$(now_us)
		for _ in $(seq "$SCRAPES"); do curl -sf -o /dev/null "$M" || die "scrape failed"; done
		c1=$(cpu_us) t1=$(now_us)
		perf_stop
		scrape=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v r="$rate" -v k="$SCRAPES" \
			'BEGIN { print (c - r * t) / k }')

		logged=$(events_logged)
		off=$(($(stat -c %s "$T/daemon.log") + 1))
		perf_start "events.$n"
		c0=$(cpu_us) t0=$(now_us)
		kill -USR1 "$worker" || die "cellmux-echo is gone"
		# Acked to the worker (committed), and in the backend's log (relayed, acked by it).
		wait_for "$WAIT_S" log_has_from "$off" "emitted $((r * EVENTS)) events" ||
			die "round $r: the worker's events were not all acked"
		wait_for "$WAIT_S" backend_has $((logged + EVENTS)) || die "round $r: the backend missed events"
		# The backend's acks come back after its log line: let the daemon take them.
		sleep 0.3
		c1=$(cpu_us) t1=$(now_us)
		perf_stop
		ev=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v r="$rate" -v k="$EVENTS" \
			'BEGIN { print (c - r * t) / k }')
		echo "$rate $scrape $ev" >>"$out"
	done
	running "$n" || die "sessions stopped running during the benchmark"
	static_us "$n"
	echo "$STATIC_US $STATIC_FILES" >"$T/static.res.$n"
	bench_stop
	mkdir "$CPUCG" || die "cannot make $CPUCG again"
}

NS=$((SMALL_UPLINKS * SMALL_PER_UPLINK)) NL=$((LARGE_UPLINKS * PER_UPLINK))
run_config "$SMALL_UPLINKS" "$SMALL_PER_UPLINK"
run_config "$LARGE_UPLINKS" "$PER_UPLINK"


col() { awk -v c="$2" '{ print $c }' "$T/res.$1" | median; }
STATIC_NS=$(awk '{ print $1 }' "$T/static.res.$NS") STATIC_NL=$(awk '{ print $1 }' "$T/static.res.$NL")
echo
echo "loop_cost: cellmuxd CPU (its cgroup's usage_usec, idle rate subtracted), medians of $ROUNDS rounds;"
echo "  $SCRAPES sequential /metrics scrapes (curl), $EVENTS events from one worker (others idle)"
printf '  %8s %8s %14s %16s %12s %18s\n' sessions uplinks "idle CPU" "per scrape" "scrape" "per message"
for c in "$NS $SMALL_UPLINKS" "$NL $LARGE_UPLINKS"; do
	set -- $c
	printf '  %8d %8d %9.2f ms/s %13.3f ms %6d bytes %15.1f us\n' "$1" "$2" \
		"$(awk -v x="$(col "$1" 1)" 'BEGIN { print x * 1000 }')" \
		"$(awk -v x="$(col "$1" 2)" 'BEGIN { print x / 1000 }')" \
		"$(wc -c <"$T/scrape.$1")" "$(col "$1" 3)"
done
printf '  ratio %d / %d per scrape    %6.2f   (aim: <= 1.2)\n' "$NL" "$NS" \
	"$(awk -v a="$(col "$NL" 2)" -v b="$(col "$NS" 2)" 'BEGIN { print a / b }')"
printf '  floor: the same text sent after a pread of each kept cgroup file (%d, %d files; static-scrape):\n' \
	"$(awk '{ print $2 }' "$T/static.res.$NS")" "$(awk '{ print $2 }' "$T/static.res.$NL")"
printf '         %.3f ms at %d, %.3f ms at %d, ratio %.2f\n' \
	"$(awk -v x="$STATIC_NS" 'BEGIN { print x / 1000 }')" "$NS" \
	"$(awk -v x="$STATIC_NL" 'BEGIN { print x / 1000 }')" "$NL" \
	"$(awk -v a="$STATIC_NL" -v b="$STATIC_NS" 'BEGIN { print a / b }')"
printf '  floor at %d / cellmuxd at %d        %6.2f   (above 1.2: no exporter of this text meets the aim)\n' \
	"$NL" "$NS" "$(awk -v a="$STATIC_NL" -v b="$(col "$NS" 2)" 'BEGIN { print a / b }')"
printf '  cellmuxd / floor, per scrape   %6.2f at %d, %6.2f at %d\n' \
	"$(awk -v a="$(col "$NS" 2)" -v b="$STATIC_NS" 'BEGIN { print a / b }')" "$NS" \
	"$(awk -v a="$(col "$NL" 2)" -v b="$STATIC_NL" 'BEGIN { print a / b }')" "$NL"
printf '  ratio %d / %d per message   %6.2f   (aim: <= 1.2)\n' "$NL" "$NS" \
	"$(awk -v a="$(col "$NL" 3)" -v b="$(col "$NS" 3)" 'BEGIN { print a / b }')"
# What a scrape costs per line of output: the part of its growth that is not the text's.
series_of() { grep -vc '^#' "$T/scrape.$1"; }
per_series() { awk -v x="$(col "$1" 2)" -v k="$(series_of "$1")" 'BEGIN { print x * 1000 / k }'; }
per_kb() { awk -v x="$(col "$1" 2)" -v k="$(wc -c <"$T/scrape.$1")" 'BEGIN { print x * 1024 / k }'; }
printf '  %8s %10s %16s %16s\n' sessions series "per series" "per kB of text"
for n in "$NS" "$NL"; do
	printf '  %8d %10d %13.1f ns %13.2f us\n' "$n" "$(series_of "$n")" "$(per_series "$n")" \
		"$(per_kb "$n")"
done
printf '  ratio %d / %d per series    %6.2f   per kB %6.2f\n' "$NL" "$NS" \
	"$(awk -v a="$(per_series "$NL")" -v b="$(per_series "$NS")" 'BEGIN { print a / b }')" \
	"$(awk -v a="$(per_kb "$NL")" -v b="$(per_kb "$NS")" 'BEGIN { print a / b }')"
