#!/bin/bash
# test_backend_worker_restarts.sh — event identity across worker restarts: a worker that sends K
# events numbered from 1 and then exits with failure is restarted (restart=on-failure) until 20
# of its processes have had all K events acked, while the daemon is killed -9 twice and started
# again on the same state_dir. The backend's deduplicated log must hold every acked event of
# every process exactly once (a restarted worker's event 1 is not taken for its predecessor's),
# and its raw arrival log must show resends really happened (raw arrivals > distinct events):
# the backend holds its acks back, so each kill leaves events logged but not acked.
#
#   cellmux-backend --raw-log --ack-delay ══ wss ══ cellmuxd (kill -9 x2) ── echo --emit K
#                                                  store: $T/state     --then-exit 3 (f1)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

K=${K:-50}
RUNS=${RUNS:-20}
make_certs
uplink_up
{
	backend_section
	printf '[profile flaky]\nexec=%s --facts --emit %s --then-exit 3\nuser=nobody\n' "$ECHO" "$K"
	printf 'log_rate_limit_burst=0\n' # every fact line is counted
	printf 'restart=on-failure\nrestart_sec=50ms\nrestart_max_sec=100ms\n\n'
	printf '[session f1]\nprofile=flaky\n\n'
} | write_config
start_backend good --raw-log "$T/raw.jsonl" --ack-delay 0.3
start_daemon

completed() { daemon_logs | grep -c "cmx-emitted inc="; }
wait_completed() { # N
	local deadline=$((SECONDS + 60))
	until [ "$(completed)" -ge "$1" ]; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.02
	done
}
kills=0
for at in $((RUNS / 3)) $((2 * RUNS / 3)); do
	# Right after a process had all its events acked: they are committed and on their way
	# to the backend, whose acks lag 0.3 s behind.
	wait_completed "$at" || break
	echo "kill -9 of the daemon after $(completed) completed worker processes"
	kill9_daemon_and_restart
	kills=$((kills + 1))
done
check "the daemon was killed -9 twice while workers came and went ($kills)" [ "$kills" -eq 2 ]
check "$RUNS worker processes had all $K events acked" wait_completed "$RUNS"
daemon_logs >"$T/facts.log"

# What the workers saw, and what must therefore be in the backend's log.
read -r procs incs increasing done_procs owed < <(python3 -c '
import re, sys
order, owed, done = [], set(), set()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"cmx-welcome pid=\d+ incarnation=(\d+)", line)
    if m:
        order.append(int(m[1]))
    # A worker alive at a kill -9 is adopted: its second Welcome is not a new process.
    m = re.search(r"cmx-rewelcome inc=(\d+)", line)
    if m and order and order[-1] == int(m[1]):
        order.pop()
    m = re.search(r"cmx-event-acked inc=(\d+) k=(\d+)", line)
    if m:
        owed.add((int(m[1]), m[2]))
    m = re.search(r"cmx-emitted inc=(\d+)", line)
    if m:
        done.add(int(m[1]))
with open(sys.argv[2], "w") as f:
    for i, k in sorted(owed):
        print(i, k, file=f)
print(len(order), len(set(order)), int(all(a < b for a, b in zip(order, order[1:]))), len(done),
      len(owed))' "$T/facts.log" "$T/owed.txt")
check "every worker process got its own incarnation, none 0 ($incs distinct of $procs)" \
	eval '[ "$incs" -eq "$procs" ] && ! grep -q "incarnation=0\$" "$T/facts.log"'
check "incarnations only rose, across both daemon restarts" [ "$increasing" -eq 1 ]
check "the acked events include all K of $done_procs completed processes ($owed >= $((RUNS * K)))" \
	eval '[ "$done_procs" -ge "$RUNS" ] && [ "$owed" -ge $((RUNS * K)) ]'

owed_missing() { # how many owed (incarnation, payload) pairs the backend's log lacks
	python3 -c '
import json, sys
have = {(e["incarnation"], e["payload"]) for e in map(json.loads, open(sys.argv[1]))
        if e["session"] == "f1"}
owed = {(int(i), k) for i, k in (l.split() for l in open(sys.argv[2]))}
print(len(owed - have))' "$T/events.jsonl" "$T/owed.txt"
}
all_owed_logged() { [ "$(owed_missing)" -eq 0 ]; }
check "every acked event reached the backend's log" wait_for 60 all_owed_logged
# The backend's logs are complete once the last link is gone.
links=$(grep -c "gw-test disconnected" "$T/backend.log")
check "SIGTERM stops the last daemon" stop_daemon
backend_idle() { [ "$(grep -c "gw-test disconnected" "$T/backend.log")" -gt "$links" ]; }
check "the backend saw the last link go" wait_for 20 backend_idle
read -r lines distinct raw raw_distinct < <(python3 -c '
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
raw = [json.loads(l) for l in open(sys.argv[2])]
key = lambda e: (e["session"], e["incarnation"], e["id"])
print(len(log), len(set(map(key, log))), len(raw), len(set(map(key, raw))))' \
	"$T/events.jsonl" "$T/raw.jsonl")
check "nothing reached the log twice: $lines lines, $distinct distinct events" [ "$lines" -eq "$distinct" ]
check "the raw arrivals are the same events ($raw_distinct distinct of $raw)" [ "$raw_distinct" -eq "$distinct" ]
check "resends really happened: $raw raw arrivals > $distinct distinct" [ "$raw" -gt "$distinct" ]
