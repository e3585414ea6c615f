#!/bin/bash
# test_backend_crash.sh — durable delivery across kill -9: while the backend streams N
# deliveries through the echo worker, cellmuxd is killed with SIGKILL 20 times and restarted;
# at the end every payload reached the backend's log exactly once (0 lost, 0 duplicated), the echo
# worker was adopted by every new daemon (one process throughout) and handled no delivery twice.
# Seen failing: with echo ignoring its second Welcome (no resend of what it had no Ack for),
# 7627 of 10000 payloads never arrived and the adoptions were not seen.
#
#   cellmux-backend --deliver e1:N ══ wss ══ cellmuxd (kill -9, restart) ── echo (cmx-bk<pid>)
#                                           store: $T/state/cellmux.db
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

N=${N:-10000}
KILLS=${KILLS:-20}
make_certs
uplink_up
{
	backend_section
	# 2 ms a delivery: 10,000 take 20 s at least, so the stream outlasts 20 quick adoptions.
	echo_profile --work 2
	printf '[session e1]\nprofile=echo\n\n'
} | write_config
start_backend good --deliver "e1:$N"
start_daemon

# Polls every 5 ms: the stream runs at over 10,000 messages a second here, a whole window of
# the backend's in 100 ms.
wait_line() { # PATTERN
	local deadline=$((SECONDS + 30))
	until grep -q "$1" "$(daemon_log_now)"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.005
	done
}
kills=0
for i in $(seq 1 "$KILLS"); do
	[ "$(events_logged)" -lt "$N" ] || break
	# Kill points in turn: just after start-up (the new worker replaying the inbox, events
	# committing, the link connecting), once the link is connected (Hello out, Welcome not yet
	# in), and 0-5 ms after the link is up (the backend's window of deliveries pouring in,
	# the outbox being resent) - the last only while the stream is not ahead of schedule, so
	# that all 20 kills fall inside it.
	case $((i % 4)) in
	1) sleep "0.00$((RANDOM % 5))" ;;
	2 | 3) wait_line "backend: connected" || break ;;
	0)
		if [ "$(events_logged)" -lt $((N * i / (KILLS + 5))) ]; then
			wait_line "backend: link up" || break
			sleep "0.00$((RANDOM % 6))"
		fi
		;;
	esac
	echo "kill $((kills + 1)) at $(events_logged) events"
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	kills=$((kills + 1))
	# A log per run (see kill9_daemon_and_restart); polled at 5 ms, not 100.
	DAEMON_RUN=$((DAEMON_RUN + 1))
	"$CELLMUXD" -c "$T/cellmux.conf" >"$(daemon_log_now)" 2>&1 &
	DAEMON_PID=$!
	wait_line "ready:" || { cat "$(daemon_log_now)"; die "daemon not ready after kill $kills"; }
done
check "the daemon was killed $KILLS times mid-stream ($kills, $(events_logged) of $N events then)" \
	[ "$kills" -eq "$KILLS" ]
check "all $N events arrived after the last restart" \
	wait_for 120 sh -c "[ \$(wc -l <'$T/events.jsonl') -ge $N ]"
sleep 1
read -r lines uniq missing < <(python3 -c '
import json, sys
n = int(sys.argv[2])
seen = [json.loads(l)["payload"] for l in open(sys.argv[1])]
print(len(seen), len(set(seen)), len(set(map(str, range(1, n + 1))) - set(seen)))' \
	"$T/events.jsonl" "$N")
check "0 lost: every payload 1..$N is in the backend's log ($missing missing)" [ "$missing" -eq 0 ]
check "0 duplicated at the backend: $lines lines, $uniq distinct" [ "$lines" -eq "$uniq" ]
# The daemon restarts, the worker does not (adopted): each restart hands it every unconfirmed
# delivery again (redelivered=1), and it must answer those from what it knows. Handling is
# counted per process (inc=), so a worker that did die mid-delivery may hand its work on.
dups=$(handled_twice)
procs=$(daemon_logs | grep -o "cmx-welcome pid=[0-9]* incarnation=[0-9]*" | sed "s/pid=[0-9]* //" | sort -u | wc -l)
rewelcomes=$(daemon_logs | grep -c "cmx-rewelcome inc=")
redeliv=$(daemon_logs | grep -c "cmx-delivery inc=[0-9]* id=[0-9]* redelivered=1")
check "the echo worker was adopted, not restarted: 1 process, $rewelcomes adoptions" \
	[ "$procs" -eq 1 -a "$rewelcomes" -ge $((KILLS / 2)) ]
check "0 duplicated at the worker: no delivery handled twice by one process ($redeliv redeliveries answered)" \
	[ "$dups" -eq 0 ]
check "the backend saw all $N deliveries acked" wait_for 30 grep -q "$N deliveries to e1 acked" "$T/backend.log"
check "SIGTERM stops the last daemon" stop_daemon
