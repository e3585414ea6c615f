#!/bin/bash
# test_backend_blackhole.sh — the backend vanishes without a word for 60 s (nft drops every
# packet to and from its port: nothing closes, nothing answers) while two workers keep emitting.
# The gateway notices the dead link within 30 s, keeps committing and acking events, reconnects
# with backoff once the backend is reachable again, and then every event arrives, once, in
# order per session.
#
#   cellmux-backend 127.0.0.1:PORT ══ wss ══ cellmuxd ── echo e1, e2 --emit N --interval 20
#            └── nft table inet cmxbh<pid>: tcp port PORT drop (host namespace, loopback)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

N=${N:-2500}       # per session, one every 20 ms: ~50 s of emission, most of it in the dark
DARK=${DARK:-60}   # seconds of blackhole
make_certs
uplink_up
{
	backend_section
	echo_profile --emit "$N" --interval 20
	printf '[session e1]\nprofile=echo\n\n[session e2]\nprofile=echo\n\n'
} | write_config
start_backend good
start_daemon
check "link up" wait_for 15 grep -q "backend: link up" "$T/daemon.log"
check "events flow before the blackhole" wait_for 10 sh -c "[ \$(wc -l <'$T/events.jsonl') -ge 50 ]"

NFT=cmxbh$$
nft add table inet "$NFT" || die "nft table"
CLEANUP_EXTRA+=("nft delete table inet $NFT 2>/dev/null")
nft add chain inet "$NFT" out "{ type filter hook output priority -10; }"
nft add chain inet "$NFT" in "{ type filter hook input priority -10; }"
nft add rule inet "$NFT" out tcp dport "$BACKEND_PORT" drop
nft add rule inet "$NFT" out tcp sport "$BACKEND_PORT" drop
nft add rule inet "$NFT" in tcp dport "$BACKEND_PORT" drop
nft add rule inet "$NFT" in tcp sport "$BACKEND_PORT" drop
dark_start=$SECONDS
before=$(events_logged)
check "a dead link is detected within 30 s" \
	wait_for 30 grep -q "backend: link closed" "$T/daemon.log"
echo "    detected after $((SECONDS - dark_start)) s"
check "nothing reaches the backend while it is dark" [ "$(events_logged)" -le $((before + 64)) ]
while [ $((SECONDS - dark_start)) -lt "$DARK" ]; do sleep 1; done
dark_events=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from outbox").fetchone()[0])' "$STATE/cellmux.db")
check "workers kept emitting in the dark: $dark_events events wait in the outbox" [ "$dark_events" -gt 1000 ]
nft delete table inet "$NFT"
light=$SECONDS
check "the link comes back after the blackhole (backoff capped at 15 s)" \
	wait_for 40 sh -c "[ \$(grep -c 'backend: link up' '$T/daemon.log') -ge 2 ]"
echo "    link up again $((SECONDS - light)) s after the blackhole ended"
check "all $((2 * N)) events arrive" wait_for 60 sh -c "[ \$(wc -l <'$T/events.jsonl') -ge $((2 * N)) ]"
sleep 1
check "every event exactly once, in order per session" python3 -c '
import json, sys
n = int(sys.argv[2])
per = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    per.setdefault(e["session"], []).append(int(e["payload"]))
for s in ("e1", "e2"):
    got = per.get(s, [])
    assert got == list(range(1, n + 1)), (s, len(got), got[:5])
' "$T/events.jsonl" "$N"
check "the outbox drains" wait_for 10 sh -c "[ \$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from outbox\").fetchone()[0])' '$STATE/cellmux.db') -eq 0 ]"
check "SIGTERM stops the daemon" stop_daemon
