#!/bin/bash
# test_worker_lib.sh — a worker written only against libcellmux-worker (cellmux-worker-example,
# no crash handling of its own) survives two kill -9s of cellmuxd and one re-exec: the same
# worker process throughout, adopted three times (three unasked Welcomes), and every event it
# emitted, and every echo of the backend's deliveries, in the backend's log exactly once.
#
#   cellmux-backend --deliver x1:M ══ wss ══ cellmuxd (kill -9, kill -9, reexec) ── example x1
#                                          store: $T/state       (tick-1..tick-N every 10 ms,
#                                                                 echoes of deliveries 1..M)
# Seen failing: with the library's resend on a second Welcome turned off, 17 echoes the killed
# daemons had read but not committed never reached the backend (their deliveries, still in the
# worker's hands, were absorbed as duplicates and never acked).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

N=${N:-600}
M=${M:-20000}
EXAMPLE=$T/cellmux-worker-example
cp "$BUILD/workers/cellmux-worker-example" "$EXAMPLE"
make_certs
uplink_up
{
	backend_section
	printf '[profile ex]\nexec=%s --count %s --interval 10\nuser=nobody\nrestart=on-failure\nrestart_sec=200ms\nlog_rate_limit_burst=0\n\n' \
		"$EXAMPLE" "$N"
	printf '[session x1]\nprofile=ex\n\n'
} | write_config
start_backend good --deliver "x1:$M"
start_daemon

ticks() { grep -c '"tick-' "$T/events.jsonl" 2>/dev/null || echo 0; }
echoes() { grep -c '"payload": "[0-9]' "$T/events.jsonl" 2>/dev/null || echo 0; }
# Polled every 5 ms: the echoes stream at thousands a second.
wait_echoes() { # COUNT
	local deadline=$((SECONDS + 60))
	until [ "$(echoes)" -ge "$1" ]; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.005
	done
}
check "the example worker runs and was welcomed" \
	wait_for 20 eval 'daemon_logs | grep -q "example: welcome pid="'
pid0=$(worker_pid x1)
check "its pid is known ($pid0)" [ -n "$pid0" ]
# Each step while both streams run: ticks still due, echoes still coming.
midstream() { [ "$(ticks)" -lt "$N" ] && [ "$(echoes)" -lt "$M" ]; }
wait_echoes $((M / 5))
check "kill -9 #1 mid-stream ($(ticks) ticks, $(echoes) echoes)" midstream
kill9_daemon_and_restart
check "after kill -9 #1: same worker ($(worker_pid x1))" [ "$(worker_pid x1)" = "$pid0" ]
wait_echoes $((M * 2 / 5))
check "kill -9 #2 mid-stream ($(ticks) ticks, $(echoes) echoes)" midstream
kill9_daemon_and_restart
check "after kill -9 #2: same worker" [ "$(worker_pid x1)" = "$pid0" ]
wait_echoes $((M * 3 / 5))
check "re-exec mid-stream ($(ticks) ticks, $(echoes) echoes)" midstream
log=$(daemon_log_now)
ready_before=$(grep -c "ready:" "$log")
check "cellmuxctl daemon reexec is acknowledged" ctl daemon reexec
check "the new image says ready" wait_for 20 eval '[ "$(grep -c "ready:" "$log")" -gt "$ready_before" ]'
check "after the re-exec: same worker" [ "$(worker_pid x1)" = "$pid0" ]
check "all $N ticks and $M echoes arrived" \
	wait_for 120 eval '[ "$(ticks)" -ge "$N" ] && [ "$(grep -c "\"session\": *\"x1\"" "$T/events.jsonl")" -ge $((N + M)) ]'
check "the backend saw all $M deliveries acked" wait_for 30 grep -q "$M deliveries to x1 acked" "$T/backend.log"
sleep 1
read -r ticks_all ticks_uniq ticks_missing echoes_all echoes_uniq echoes_missing < <(python3 -c '
import json, sys
n, m = int(sys.argv[2]), int(sys.argv[3])
p = [json.loads(l)["payload"] for l in open(sys.argv[1]) if json.loads(l)["session"] == "x1"]
t = [x for x in p if x.startswith("tick-")]
e = [x for x in p if not x.startswith("tick-")]
print(len(t), len(set(t)), len({"tick-%d" % k for k in range(1, n + 1)} - set(t)),
      len(e), len(set(e)), len({str(k) for k in range(1, m + 1)} - set(e)))' \
	"$T/events.jsonl" "$N" "$M")
check "0 ticks lost ($ticks_missing of $N missing)" [ "$ticks_missing" -eq 0 ]
check "0 ticks duplicated ($ticks_all lines, $ticks_uniq distinct)" [ "$ticks_all" -eq "$ticks_uniq" ]
check "0 echoes lost ($echoes_missing of $M missing)" [ "$echoes_missing" -eq 0 ]
check "0 echoes duplicated ($echoes_all lines, $echoes_uniq distinct)" [ "$echoes_all" -eq "$echoes_uniq" ]
check "the worker said all $N events acked" eval 'daemon_logs | grep -q "example: all $N events acked"'
welcomes=$(daemon_logs | grep -c "example: welcome pid=")
pids=$(daemon_logs | grep -o "example: welcome pid=[0-9]*" | sort -u | wc -l)
check "one process, welcomed 4 times: first, 2 kill -9s, 1 re-exec ($welcomes welcomes, $pids pids)" \
	eval '[ "$welcomes" -eq 4 ] && [ "$pids" -eq 1 ] && daemon_logs | grep -q "again=3"'
check "the same worker pid at the end ($pid0)" [ "$(worker_pid x1)" = "$pid0" ]
check "SIGTERM stops the daemon" stop_daemon
