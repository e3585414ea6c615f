#!/bin/bash
# test_backend_roundtrip.sh — backend → gateway → echo worker → gateway → backend over
# WebSocket + TLS on loopback: N = 10,000 deliveries, every payload back exactly once, no worker
# process handed a delivery twice.
#
#   cellmux-backend 127.0.0.1:PORT (TLS, token) ══ wss ══ cellmuxd (store in $T/state)
#        --deliver e1:10000                                  └─ seqpacket ─ cellmux-echo (cmx-bk<pid>)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

N=${N:-10000}
make_certs
uplink_up
{
	backend_section
	echo_profile
	printf '[session e1]\nprofile=echo\n\n'
} | write_config
start_backend good --deliver "e1:$N"
start_daemon

check "the daemon's link comes up, with the CA and host name checked" \
	wait_for 20 grep -q "backend: link up to wss://localhost:$BACKEND_PORT/gw" "$T/daemon.log"
check "the backend got the gateway's hello" grep -q "gateway gw-test connected" "$T/backend.log"
check "all $N payloads came back within 120 s" wait_for 120 sh -c "[ \$(wc -l <'$T/events.jsonl') -ge $N ]"
sleep 1
lines=$(events_logged)
uniq=$(python3 -c '
import json, sys
seen = [json.loads(l) for l in open(sys.argv[1])]
print(len({(e["session"], e["payload"]) for e in seen if e["session"] == "e1"}))' "$T/events.jsonl")
check "backend log has exactly $N lines ($lines)" [ "$lines" -eq "$N" ]
check "payloads 1..$N each exactly once ($uniq distinct)" [ "$uniq" -eq "$N" ]
check "payload equals the delivery number for every event" python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    assert e["payload"] == str(e["id"]), e' "$T/events.jsonl"
got=$(daemon_logs | grep -c "cmx-delivery inc=")
dups=$(deliveries_twice)
check "no worker process got a delivery twice ($dups; $got deliveries told)" \
	eval '[ "$dups" -eq 0 ] && [ "$got" -ge "$N" ]'
check "the backend saw all $N deliveries acked" wait_for 10 grep -q "$N deliveries to e1 acked" "$T/backend.log"

check "cellmuxctl status shows the backend link up with nothing queued" eval \
	'ctl --json status | python3 -c "import json,sys; b=json.load(sys.stdin)[\"backend\"]; sys.exit(0 if b[\"state\"] == \"up\" and b[\"outbox\"] == 0 else 1)"'
check "SIGTERM stops the daemon" stop_daemon
check "the store is in state_dir" test -s "$STATE/cellmux.db"
