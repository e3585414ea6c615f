#!/bin/bash
# backend_bench.sh — durable messaging on loopback, cellmux against mosquitto QoS 1 with
# persistence, measured in the same run (ROUNDS rounds each, medians):
#  * events worker → backend: cellmux-echo --emit N (WINDOW in flight, from 1 s after its hello,
#    once the link is up) through cellmuxd (every event committed to SQLite, fsync'ed, before
#    the worker's ack) and TLS to cellmux-backend; worker-side rate and commit→ack latency
#    p50/p99, and the rate at which the backend logged them;
#  * deliveries backend → worker: cellmux-backend --deliver (each committed before it is acked);
#  * mosquitto: a QoS 1 publisher with the same N, size and window (PUBLISH→PUBACK latency),
#    and mosquitto_sub counting arrivals; mosquitto persists by periodic snapshot only.
# Not a pass/fail test: it prints figures. Usage: backend_bench.sh [ROUNDS] (default 3).
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
. tests/integration/lib.sh
. tests/integration/backend_lib.sh

ROUNDS=${1:-3}
N=${BENCH_N:-20000}
SIZE=${BENCH_SIZE:-64}
WINDOW=${BENCH_WINDOW:-256}
MQ_PORT=$((BACKEND_PORT + 1))
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
make_certs
uplink_up

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }

run_events() { # round
	rm -f "$T/events.jsonl"
	STATE=$T/state-ev$1
	{
		backend_section
		# Emission starts once the link is up: steady state, as for the MQTT publisher, which
		# connects before it publishes.
		echo_profile --emit "$N" --window "$WINDOW" --size "$SIZE" --delay 1000
		printf '[session b1]\nprofile=echo\n\n'
	} | write_config
	start_backend good
	# From the first line in the backend's log to the Nth, polled every millisecond.
	/usr/bin/python3 -c '
import os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
def lines():
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0
while lines() < 1:
    time.sleep(0.001)
t0 = time.monotonic()
while lines() < n:
    time.sleep(0.001)
print("%.0f" % ((n - 1) / (time.monotonic() - t0)))' "$T/events.jsonl" "$N" >>"$T/ev.e2e" &
	local watcher=$!
	start_daemon
	wait_for 120 grep -q "emitted $N events" "$T/daemon.log" || die "echo did not finish"
	wait "$watcher" || die "backend missed events"
	line=$(grep "emitted $N events" "$T/daemon.log")
	echo "$line" | sed -E 's/.*: ([0-9]+)\/s, commit latency p50 ([0-9]+) us, p99 ([0-9]+) us/\1 \2 \3/' >>"$T/ev.rate"
	stop_daemon
	stop_backend
}

run_deliveries() { # round
	rm -f "$T/events.jsonl"
	STATE=$T/state-dl$1
	{
		backend_section
		echo_profile
		printf '[session b1]\nprofile=echo\n\n'
	} | write_config
	start_daemon
	start_backend good --deliver "b1:$N"
	wait_for 120 grep -q "$N deliveries to b1 acked" "$T/backend.log" || die "deliveries not acked"
	secs=$(grep "$N deliveries to b1 acked" "$T/backend.log" | tail -1 | sed -E 's/.* in ([0-9.]+) s/\1/')
	echo "$N $secs" | awk '{ printf "%.0f\n", $1 / $2 }' >>"$T/dl.rate"
	wait_for 120 sh -c "[ \$(wc -l <'$T/events.jsonl' 2>/dev/null || echo 0) -ge $N ]" || die "round trip incomplete"
	stop_daemon
	stop_backend
}

run_mqtt() { # round
	local mq=$T/mq$1 t0 t1
	mkdir -p "$mq"
	chmod 777 "$mq"
	cat >"$mq/mosquitto.conf" <<-EOF
	listener $MQ_PORT 127.0.0.1
	allow_anonymous true
	persistence true
	persistence_location $mq/
	max_inflight_messages 0
	max_queued_messages 0
	log_dest none
	EOF
	mosquitto -c "$mq/mosquitto.conf" >"$mq/log" 2>&1 &
	local mpid=$!
	CLEANUP_EXTRA+=("kill $mpid 2>/dev/null")
	wait_for 10 sh -c "ss -ltn | grep -q ':$MQ_PORT '" || die "mosquitto not listening"
	mosquitto_sub -h 127.0.0.1 -p "$MQ_PORT" -q 1 -t cellmux/bench -C "$N" -i cellmux-bench-sub \
		>/dev/null &
	local spid=$!
	sleep 0.3
	t0=$(now)
	/usr/bin/python3 tests/bench/mqtt_qos1.py 127.0.0.1 "$MQ_PORT" "$N" "$SIZE" "$WINDOW" >"$mq/pub.out" ||
		die "mqtt publisher failed"
	wait "$spid"
	t1=$(now)
	sed -E 's/.*: ([0-9]+)\/s, puback latency p50 ([0-9]+) us, p99 ([0-9]+) us/\1 \2 \3/' "$mq/pub.out" >>"$T/mq.rate"
	echo "$N $t0 $t1" | awk '{ printf "%.0f\n", $1 / ($3 - $2) }' >>"$T/mq.e2e"
	kill "$mpid"
	wait "$mpid" 2>/dev/null
}

for r in $(seq 1 "$ROUNDS"); do
	run_events "$r"
	run_mqtt "$r"
	run_deliveries "$r"
done

col() { awk -v c="$2" '{ print $c }' "$1" | median; }
echo
echo "backend_bench: N=$N messages of $SIZE bytes, window $WINDOW, loopback, medians of $ROUNDS rounds"
printf '  %-58s %8s msg/s  p50 %6s us  p99 %6s us\n' \
	"cellmux events, worker->gateway (committed+fsync, acked)" "$(col "$T/ev.rate" 1)" \
	"$(col "$T/ev.rate" 2)" "$(col "$T/ev.rate" 3)"
printf '  %-58s %8s msg/s\n' "cellmux events, worker->backend log (TLS, end to end)" "$(median <"$T/ev.e2e")"
printf '  %-58s %8s msg/s\n' "cellmux deliveries, backend->gateway (committed, acked)" "$(median <"$T/dl.rate")"
printf '  %-58s %8s msg/s  p50 %6s us  p99 %6s us\n' \
	"mosquitto QoS 1 publish->PUBACK (persistence: snapshots)" "$(col "$T/mq.rate" 1)" \
	"$(col "$T/mq.rate" 2)" "$(col "$T/mq.rate" 3)"
printf '  %-58s %8s msg/s\n' "mosquitto QoS 1 publisher->subscriber (end to end)" "$(median <"$T/mq.e2e")"
