#!/bin/bash
# test_backend_outbox_share.sh — one chatty session cannot starve the others: with the backend
# away, a session emitting far more than the outbox holds is refused at its fair share
# (outbox_max / sessions = 300 of 600), and a quiet session that starts later still gets every
# one of its events stored, none refused.
#
#   (no backend listening) ·· cellmuxd (outbox_max=600) ── echo c1 --emit 2000
#                              store: $T/state            └─ echo q1 --emit 5 --delay 1000
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

OUTBOX_MAX=600
make_certs
uplink_up
{
	backend_section
	printf '[profile chatty]\nexec=%s --facts --emit 2000\nuser=nobody\n\n' "$ECHO"
	printf '[profile quiet]\nexec=%s --facts --emit 5 --delay 1000\nuser=nobody\n\n' "$ECHO"
	printf '[session c1]\nprofile=chatty\n\n[session q1]\nprofile=quiet\n\n'
} | write_config
start_daemon

rows() { # SESSION: its events waiting in the outbox
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from outbox where session = ?", (sys.argv[2],)).fetchone()[0])' \
		"$STATE/cellmux.db" "$1" 2>/dev/null || echo -1
}
check "the chatty session is refused at its share" \
	wait_for 30 grep -q "session c1: its share of the outbox is full (300 events)" "$T/daemon.log"
quiet_stored() { [ "$(rows q1)" -eq 5 ]; }
check "all 5 events of the quiet session are stored" wait_for 30 quiet_stored
check "the chatty session holds exactly its share ($(rows c1) of 300)" [ "$(rows c1)" -eq 300 ]
check "the quiet session was never refused" sh -c "! grep -q 'session q1: .*refused' '$T/daemon.log'"
check "SIGTERM stops the daemon" stop_daemon
