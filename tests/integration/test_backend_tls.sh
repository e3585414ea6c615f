#!/bin/bash
# test_backend_tls.sh — the link refuses what it must, each with a clear log line, and sends
# nothing before TLS, the WebSocket upgrade (token) and Hello/Welcome succeeded: a self-signed
# server certificate, one for another host name, an expired one, and a wrong token. Then the
# same setup with the good certificate and token delivers what the outbox kept meanwhile
# (outbox_max=3) and what its new worker emitted, including what the full outbox refused it and
# it sent again later: each event once, a new worker's 1..5 not taken for an old one's.
#
#   cellmux-backend 127.0.0.1:PORT (cert: self | wrong | expired | good) ══ wss ══ cellmuxd
#                                                                           └─ echo --emit 5
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

OUTBOX_MAX=3
make_certs
uplink_up
config_with_token() { # token-file
	{
		backend_section "$1"
		echo_profile --emit 5
		printf '[session e1]\nprofile=echo\n\n'
	} | write_config
}
outbox_rows() {
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from outbox").fetchone()[0])' \
		"$STATE/cellmux.db" 2>/dev/null || echo -1
}

refused() { # backend-cert token-file expected-log-line description
	config_with_token "$2"
	start_backend "$1"
	start_daemon
	check "$4: refused with a clear log line" wait_for 15 grep -q "$3" "$T/daemon.log"
	check "$4: no 'link up'" sh -c "! grep -q 'backend: link up' '$T/daemon.log'"
	check "$4: the backend saw no hello" sh -c "! grep -q 'gateway gw-test connected' '$T/backend.log'"
	check "$4: nothing reached the backend's event log" [ "$(events_logged)" -eq 0 ]
	grep "backend:.*refused" "$T/daemon.log" | head -1 | sed 's/^/    log: /'
	check "$4: the daemon stops cleanly" stop_daemon
	cat "$T/daemon.log" >>"$T/daemon.all.log"
	stop_backend
}

refused self "$T/token" "TLS handshake with localhost:$BACKEND_PORT refused: self-signed certificate" \
	"self-signed server certificate"
check "3 of the worker's 5 events wait in the full outbox meanwhile" [ "$(outbox_rows)" -eq 3 ]
check "the 2 others were refused to the worker, not dropped" \
	grep -q "outbox full (3 events), event .* refused" "$T/daemon.all.log"
refused wrong "$T/token" "TLS handshake with localhost:$BACKEND_PORT refused: .*hostname mismatch" \
	"certificate for another host name"
refused expired "$T/token" "TLS handshake with localhost:$BACKEND_PORT refused: certificate has expired" \
	"expired certificate"
refused good "$T/badtoken" "refused the connection: HTTP 401, the token was not accepted" \
	"wrong token"
check "the backend logged the bad token" grep -q "bad or missing token" "$T/backend.log"
check "the token itself is in no daemon log" sh -c "! grep -qF '$(cat "$T/token")' '$T/daemon.log' && ! grep -qF wrong-token '$T/daemon.log'"

# Everything right: the events kept in the outbox arrive, once each.
config_with_token "$T/token"
start_backend good
start_daemon
check "good certificate and token: link up" wait_for 15 grep -q "backend: link up" "$T/daemon.log"
# Each daemon run had its own worker process (incarnation), each emitting 1..5: the first one's
# 1..3 waited in the outbox all along; its 4 and 5, refused, died with it; the workers of the
# refused runs found the outbox full; the last one's 1..5 go through once there is room.
check "the events kept in the outbox and the last worker's arrive" \
	wait_for 15 sh -c "[ \$(wc -l <'$T/events.jsonl') -ge 8 ]"
sleep 0.5
check "each once: the first worker's 1..3 and the last one's 1..5, by incarnation" [ "$(python3 -c '
import json, sys
by = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    by.setdefault(e["incarnation"], []).append(e["payload"])
print([sorted(by[i]) for i in sorted(by)])' "$T/events.jsonl")" = "[['1', '2', '3'], ['1', '2', '3', '4', '5']]" ]
check "the outbox is empty once the backend acked" wait_for 10 sh -c "[ \$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from outbox\").fetchone()[0])' '$STATE/cellmux.db') -eq 0 ]"
check "SIGTERM stops the daemon" stop_daemon
