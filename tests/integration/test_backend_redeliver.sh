#!/bin/bash
# test_backend_redeliver.sh — deliveries across worker processes: the backend streams N
# deliveries through the echo worker while its worker is killed with SIGKILL 10 times and the
# daemon twice (kill -9, restarted on the same state_dir), with an inbox too small for the
# backend's window (inbox_max), so deliveries are also refused with ENOSPC and sent again. At the
# end every payload came back exactly once; the daemon's kills restarted no worker (each new
# daemon adopted the running one); no worker process got a delivery twice from one daemon (an
# adopted one gets the unconfirmed ones again from the next, flagged), nor one that
# an earlier process had acked (its ack sent while the same daemon ran, or confirmed as
# committed by any daemon); every delivery given again was flagged redelivered; and the
# backend's refused deliveries were all taken later (nothing dropped).
#
#   cellmux-backend --deliver e1:N ══ wss ══ cellmuxd (kill -9 x2) ── echo --facts --work 4
#                                           inbox_max=64               (SIGKILL x10)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

N=${N:-5000}
INBOX_MAX=${INBOX_MAX:-64}
make_certs
uplink_up
{
	backend_section
	printf '[profile echo]\nexec=%s --facts --work 4\nuser=nobody\n' "$ECHO"
	printf 'restart=on-failure\nrestart_sec=100ms\nrestart_max_sec=200ms\n'
	printf 'log_rate_limit_burst=0\n\n' # every fact line is counted
	printf '[session e1]\nprofile=echo\n\n'
} | write_config
start_backend good --deliver "e1:$N"
start_daemon

welcomes() { daemon_logs | grep -c "cmx-welcome pid="; }
worker_pid() {
	ctl --json session show e1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print((d[0] if isinstance(d, list) else d).get("pid") or 0)'
}
wait_logged() { # EVENTS
	local deadline=$((SECONDS + 120))
	until [ "$(events_logged)" -ge "$1" ]; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.02
	done
}
# A worker that said hello, so that each kill hits a process that had deliveries.
worker_after() { [ "$(welcomes)" -gt "$before" ] && [ "$(worker_pid)" -gt 0 ]; }
wkills=0 dkills=0 last_at=0
for i in $(seq 1 12); do
	wait_logged $((N * i / 16)) || break
	last_at=$(events_logged)
	before=$(welcomes)
	if [ "$i" -eq 4 ] || [ "$i" -eq 9 ]; then
		echo "$(date +%T.%N | cut -c1-12) kill -9 of the daemon at $(events_logged) events"
		kill9_daemon_and_restart
		dkills=$((dkills + 1))
	else
		pid=$(worker_pid)
		[ "$pid" -gt 0 ] || break
		echo "$(date +%T.%N | cut -c1-12) SIGKILL to worker $pid at $(events_logged) events"
		kill -KILL "$pid" || break
		wkills=$((wkills + 1))
	fi
	wait_for 30 worker_after || break
	echo "$(date +%T.%N | cut -c1-12) a new worker said hello"
done
check "10 worker SIGKILLs and 2 daemon kill -9s mid-stream ($wkills, $dkills; $(events_logged) of $N events then)" \
	eval '[ "$wkills" -eq 10 ] && [ "$dkills" -eq 2 ] && [ "$last_at" -lt "$N" ]'
check "all $N events arrived" wait_logged "$N"
check "the backend saw all $N deliveries acked" \
	wait_for 30 grep -q "$N deliveries to e1 acked" "$T/backend.log"
check "SIGTERM stops the last daemon" stop_daemon

read -r lines uniq missing < <(python3 -c '
import json, sys
n = int(sys.argv[2])
seen = [json.loads(l)["payload"] for l in open(sys.argv[1])]
print(len(seen), len(set(seen)), len(set(map(str, range(1, n + 1))) - set(seen)))' \
	"$T/events.jsonl" "$N")
check "0 lost: every payload 1..$N came back ($missing missing)" [ "$missing" -eq 0 ]
check "0 duplicated at the backend: $lines lines, $uniq distinct" [ "$lines" -eq "$uniq" ]

# The workers' own account, in the order the daemons' logs have it (run by run).
{
	cat "$T/daemon.log"
	for i in $(seq 2 "$DAEMON_RUN"); do echo "cmx-daemon-restart"; cat "$T/daemon.$i.log"; done
} >"$T/facts.log"
read -r procs got twice after_ack after_confirm unflagged redeliv < <(python3 -c '
import re, sys
run = 0
got = {}        # (inc, id, Welcomes the process had) -> times
acked = {}      # id -> (inc, run) of the first process that sent its ack
confirmed = {}  # id -> inc whose ack a daemon confirmed as committed
first = set()   # ids delivered at least once
incs = set()
twice = after_ack = after_confirm = unflagged = redeliv = total = 0
for line in open(sys.argv[1], errors="replace"):
    if "cmx-daemon-restart" in line:
        run += 1
        continue
    m = re.search(r"cmx-delivery inc=(\d+) id=(\d+) redelivered=(\d) welcome=(\d+)", line)
    if m:
        inc, i, red = int(m[1]), int(m[2]), m[3] == "1"
        incs.add(inc)
        total += 1
        # The count of Welcomes the process had, not the log the line is in: what a killed daemon
        # left unread in the output pipe is logged by the next one.
        k = (inc, i, int(m[4]))
        got[k] = got.get(k, 0) + 1
        twice += got[k] > 1
        if i in acked and acked[i][0] != inc and acked[i][1] == run:
            after_ack += 1
        if i in confirmed and confirmed[i] != inc:
            after_confirm += 1
        if i in first and not red:
            unflagged += 1
        redeliv += red
        first.add(i)
        continue
    m = re.search(r"cmx-acking inc=(\d+) id=(\d+)", line)
    if m:
        acked.setdefault(int(m[2]), (int(m[1]), run))
        continue
    m = re.search(r"cmx-delivered inc=(\d+) id=(\d+)", line)
    if m:
        confirmed.setdefault(int(m[2]), int(m[1]))
print(len(incs), total, twice, after_ack, after_confirm, unflagged, redeliv)' "$T/facts.log")
check "worker processes told their deliveries ($procs processes, $got deliveries)" \
	eval '[ "$procs" -ge 11 ] && [ "$got" -ge "$N" ]'
rewelcomes=$(daemon_logs | grep -c "cmx-rewelcome inc=")
check "the daemon's kill -9s restarted no worker: $procs processes for $wkills worker kills, $rewelcomes adopted" \
	eval '[ "$procs" -eq $((wkills + 1)) ] && [ "$rewelcomes" -eq "$dkills" ]'
check "no worker process got a delivery twice from one daemon ($twice)" [ "$twice" -eq 0 ]
check "no process got a delivery an earlier one had acked under the same daemon ($after_ack)" \
	[ "$after_ack" -eq 0 ]
check "no process got a delivery whose ack a daemon had confirmed ($after_confirm)" \
	[ "$after_confirm" -eq 0 ]
check "every delivery given again was flagged redelivered ($unflagged not; $redeliv flagged)" \
	eval '[ "$unflagged" -eq 0 ] && [ "$redeliv" -gt 0 ]'
refused=$(grep -o "acked in [0-9.]* s ([0-9]* refused" "$T/backend.log" | tail -1 | grep -o "([0-9]*" | tr -d '(')
check "the full inbox refused deliveries with ENOSPC (${refused:-0}) and all were taken later" \
	[ "${refused:-0}" -gt 0 ]
