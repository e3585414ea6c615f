#!/bin/bash
# test_backend_frames.sh — what the backend sends that the gateway must not take: garbage, a
# truncated protobuf, a wrong wire type, an unknown message, a text frame, a delivery for an
# unknown session, a start naming an unknown profile, a frame above the 256 KiB cap. Each is
# answered with an error Result or (oversized) a closed link; the daemon survives and loses
# nothing. Also: a session started by the backend is recorded, comes back after kill -9, and is
# forgotten once the backend stops it; uplink actions by the backend.
#
#   fake_backend.py (scripted, TLS) ══ wss ══ cellmuxd ── echo e1, b1 (cmx-bk<pid>)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

make_certs
uplink_up
{
	backend_section
	echo_profile
	printf '[session e1]\nprofile=echo\n\n'
} | write_config
FIFO=$T/commands
OUT=$T/fake.jsonl
mkfifo "$FIFO"
: >"$OUT"
BUILD=$BUILD /usr/bin/python3 "$(dirname "$0")/fake_backend.py" --port "$BACKEND_PORT" \
	--cert "$T/pki/good.pem" --key "$T/pki/good.key" --out "$OUT" --commands "$FIFO" \
	>"$T/fake.log" 2>&1 &
FAKE_PID=$!
CLEANUP_EXTRA+=("kill $FAKE_PID 2>/dev/null")
wait_for 10 grep -q listening "$OUT" || { cat "$T/fake.log"; die "fake backend not listening"; }
start_daemon
send() { echo "$1" >"$FIFO"; }
got() { grep -q "$1" "$OUT"; }
result_for() { # request-id code
	got "\"type\": \"result\", \"msg\": {\"request_id\": \"$1\", \"code\": $2"
}
bad_results() { grep -c '"code": 74' "$OUT"; } # EBADMSG

check "hello arrives first, with the subprotocol and a token" wait_for 15 got '"conn": 1, "type": "hello"'
check "the connection opened with cellmux.v1 and Authorization" got '"subprotocol": "cellmux.v1", "auth": true'
check "hello lists the uplink and session e1" \
	sh -c "grep '\"type\": \"hello\"' '$OUT' | grep -q '\"name\": \"$UPLINK\"' && grep '\"type\": \"hello\"' '$OUT' | grep -q '\"name\": \"e1\"'"

n=0
for op in garbage truncated wrong_type unknown_case; do
	send "{\"op\": \"$op\"}"
	n=$((n + 1))
	check "$op: answered with an EBADMSG result" wait_for 5 sh -c "[ \$(grep -c '\"code\": 74' '$OUT') -ge $n ]"
done
send '{"op": "text"}'
check "a text frame is refused in the log" wait_for 5 grep -q "text frame refused" "$T/daemon.log"
send '{"op": "delivery", "id": 500, "session": "nosuch", "payload": "x"}'
check "a delivery for an unknown session: ENOENT result for its id" wait_for 5 result_for 500 2
send '{"op": "start", "id": 501, "profile": "nosuch"}'
check "a start naming an unknown profile: ENOENT result" wait_for 5 result_for 501 2
check "the unknown profile is named in the result" grep -q "no profile 'nosuch'" "$OUT"
send '{"op": "delivery", "id": 502, "session": "e1", "payload": "still-works"}'
check "after all that, a good delivery is acked" wait_for 5 got '"ack", "msg": {"ids": \["502"\]'
check "and comes back from the echo worker" wait_for 5 got '"payload": "c3RpbGwtd29ya3M="'
check "the daemon is alive" kill -0 "$DAEMON_PID"

# Sessions started by the backend.
send '{"op": "start", "id": 503, "profile": "echo", "name": "b1"}'
check "start b1 from the backend: ok result naming it" wait_for 10 got '"request_id": "503", "session": "b1"'
check "b1's worker runs" wait_for 10 sh -c "[ -n \"\$(cat '$(session_cgroup b1)/cgroup.procs' 2>/dev/null)\" ]"
check "a status change for b1 reaches the backend" wait_for 5 got '"session_status", "msg": {"name": "b1"'

send '{"op": "oversized"}'
check "an oversized frame closes the link (1009)" wait_for 10 grep -q "frame larger than 262144 bytes, closing" "$T/daemon.log"
check "the gateway reconnects and says hello again" wait_for 20 got '"conn": 2, "type": "hello"'
check "the new hello marks b1 as started by the backend" \
	sh -c "grep '\"conn\": 2, \"type\": \"hello\"' '$OUT' | grep -q '\"name\": \"b1\", \"profile\": \"echo\".*\"from_backend\": true'"

kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
start_daemon
check "after kill -9, b1 is restored from the store" wait_for 10 grep -q "session b1 (started by the backend) restored" "$T/daemon.log"
check "and its worker runs again" wait_for 10 sh -c "[ -n \"\$(cat '$(session_cgroup b1)/cgroup.procs' 2>/dev/null)\" ]"
check "the gateway reconnects after the restart" wait_for 20 got '"conn": 3, "type": "hello"'
send "{\"op\": \"uplink\", \"id\": 504, \"uplink\": \"$UPLINK\", \"action\": \"DRAIN\"}"
check "uplink drain by the backend: ok result" wait_for 5 got '"msg": {"request_id": "504"}'
check "the daemon drained $UPLINK" wait_for 5 grep -q "uplink $UPLINK: draining" "$T/daemon.log"
send '{"op": "uplink", "id": 505, "uplink": "nosuch", "action": "RECONNECT"}'
check "an action on an unknown uplink: ENOENT" wait_for 5 result_for 505 2
send "{\"op\": \"uplink\", \"id\": 508, \"uplink\": \"$UPLINK\", \"action\": \"UP\"}"
check "uplink up by the backend ends the drain: ok result" wait_for 5 got '"msg": {"request_id": "508"}'
send '{"op": "start", "id": 507, "profile": "echo", "name": "b2"}'
check "start b2 from the backend" wait_for 10 got '"request_id": "507", "session": "b2"'
check "an admin stops b2 with cellmuxctl" ctl session stop b2
check "the store forgets b2, which an admin stopped" \
	wait_for 10 grep -q "session b2 (started by the backend) is gone, forgetting it" "$T/daemon.log"
send '{"op": "stop", "id": 506, "name": "b1"}'
check "stop b1: ok result" wait_for 10 got '"request_id": "506"'
check "b1 is removed" wait_for 10 grep -q "session b1: removed" "$T/daemon.log"
check "the backend hears that b1 is gone" wait_for 5 got '"session_status", "msg": {"name": "b1", "state": "removed"}'
check "SIGTERM stops the daemon" stop_daemon
start_daemon
check "after a restart b1 and b2 stay gone" sh -c "sleep 1; ! grep -q 'session b[12]' '$T/daemon.log'"
check "the daemon survived every bad frame and stops cleanly" stop_daemon
