#!/bin/bash
# test_acct_daemon.sh — accounting through cellmuxd: a session's byte counters (read with
# cellmuxctl) match what the sim's sink received, its uplink counts at least as much, an idle
# session's counters stay still; counters survive kill -9 of the daemon; a session quota of
# 1M with quota_action=block stops a 5 MiB upload near 1 MiB while another uplink is unaffected.
#
#   sender/capped ── cmx-sim0/1 ── carrier NAT ── sink 198.18.0.1:9 (counts bytes per connection)
. "$(dirname "$0")/lib.sh"

K=2000000
sim_up 2
cat >"$T/send.py" <<'EOF2'
import socket, sys, time
s = socket.create_connection(("198.18.0.1", 9), timeout=5)
try:
    s.sendall(b"x" * int(sys.argv[1]))
except OSError:  # a blocking quota drops the rest: give up, close, so the sink logs it
    pass
s.close()
time.sleep(3600)
EOF2
{
	daemon_section
	cat <<EOF2
[profile sender]
exec=/usr/bin/python3 $T/send.py $K
bind_ro=$T/send.py
restart=no

[profile capped]
exec=/usr/bin/python3 $T/send.py 5242880
bind_ro=$T/send.py
restart=no
quota=1M
quota_action=block

[profile idle]
exec=/bin/sleep 1000

[session a]
profile=sender
uplink=sim0

[session quiet]
profile=idle
uplink=sim0
EOF2
} | make_config
start_daemon
field() { ctl --json session show "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d['$2'] or 0)"; }
ufield() { ctl --json uplink show "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d['$2'] or 0)"; }
sink_total() { awk '/sink bytes=/ { sub("bytes=", "", $NF); t += $NF } END { print t + 0 }' /run/cellmux-sim/sink.log 2>/dev/null; }

check "the sink received K bytes from session a" wait_for 20 eval '[ "$(sink_total)" -ge $K ]'
got=$(sink_total)
tx=$(field a tx_bytes)
check "a's tx_bytes ($tx) is within [K, 1.06 K] of what the sink got ($got)" \
	python3 -c "import sys; t,k=$tx,$got; sys.exit(0 if k <= t <= 1.06*k else 1)"
rx=$(field a rx_bytes)
check "a's rx_bytes ($rx) are the acks, far below tx" python3 -c "import sys; sys.exit(0 if 0 < $rx < $tx/5 else 1)"
utx=$(ufield sim0 tx_bytes)
check "uplink sim0 tx ($utx) >= the sum of its sessions ($tx)" [ "$utx" -ge "$tx" ]
q=$(field quiet tx_bytes)
check "the idle session's counters did not move ($q)" [ "$q" -lt 1000 ]

# kill -9: counters are pinned and keep their values; the next daemon continues them.
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon
tx2=$(field a tx_bytes)
check "after kill -9 and restart, a's tx_bytes continue from $tx (now $tx2)" [ "$tx2" -ge "$tx" ]
check "bpftool, a tool nobody here wrote, reads the pinned counter map" \
	sh -c "bpftool map dump pinned $BPFDIR/cmx_names | grep -q '\"a\"\|0x61'"

# Quota: 1M block on a session of uplink sim1; sim0's sessions are unaffected.
before=$(sink_total)
ctl session start --profile capped --name capped --uplink sim1 >/dev/null
check "the capped session's upload stalls" wait_for 30 eval '[ "$(field capped quota_used_bytes)" -ge 1048576 ]'
# The sink logs a connection when it closes or, stalled by the quota, after 5 s of silence.
check "the sink logged the capped connection" wait_for 30 eval '[ "$(sink_total)" -gt "$before" ]'
capped_got=$(( $(sink_total) - before ))
check "the sink got at most 1.1 MiB from the capped session ($capped_got)" \
	[ "$capped_got" -gt 0 -a "$capped_got" -le 1153433 ]
check "the quota is visible in status" eval '[ "$(ctl --json session show capped | grep -c "\"quota_reached\": *true")" -ge 1 ]'
check "the quota event was logged once" [ "$(grep -c 'session capped: quota of' "$T/daemon.log")" -eq 1 ]
ctl session restart a >/dev/null
check "a session on the other uplink still sends freely" \
	wait_for 20 eval '[ "$(( $(sink_total) - before - capped_got ))" -ge $K ]'

# Raising the quota (reload) unblocks: the restarted upload goes through whole.
sed -i 's/^quota=1M$/quota=100M/' "$T/cellmux.conf"
ctl reload
check "after raising the quota, the status no longer says reached" \
	eval '[ "$(ctl --json session show capped | grep -c "\"quota_reached\": *true")" -eq 0 ]'
before=$(sink_total)
ctl session restart capped >/dev/null
check "and a 5 MiB upload from the capped session arrives whole" \
	wait_for 30 eval '[ $(( $(sink_total) - before )) -ge 5242880 ]'

check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
