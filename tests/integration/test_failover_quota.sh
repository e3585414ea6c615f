#!/bin/bash
# test_failover_quota.sh — a quota-reached uplink takes no new placements (auto-demote): with
# quota_action=notify its traffic still flows and its sessions stay, but new sessions, whether
# unpinned, listed first or added by a reload, go elsewhere, and one pinned to it waits with the
# reason; raising the quota by reload makes it eligible again.
#
#   fill (uplink=sim0) ── cmx-sim0 (priority 0, quota 1M notify) ══ carrier 0 ─┐
#                         cmx-sim1 (priority 5)                  ══ carrier 1 ─┴─ sink 198.18.0.1:9
#   fill sends 2 MB through sim0: its quota is reached. Then
#   auto  (no uplink=)           placed by the router: sim1, though sim0 has the better priority
#   pref  uplink=sim0,sim1       (added by reload) sim1
#   pin   uplink=sim0            (added by reload) waits, with the reason
#   quota=100M + reload: pin starts on sim0, a new unpinned session lands on sim0.
. "$(dirname "$0")/lib.sh"

sim_up 2
cat >"$T/send.py" <<'EOF2'
import socket, sys, time
time.sleep(float(sys.argv[2]))  # room for the test to see the quota not yet reached
s = socket.create_connection(("198.18.0.1", 9), timeout=5)
s.sendall(b"x" * int(sys.argv[1]))
s.close()
time.sleep(3600)
EOF2
QUOTA=1M
config() { # extra session sections on stdin
	{
		daemon_section
		cat <<EOF2
[profile idle]
exec=/bin/sleep 100000
user=nobody

[profile sender]
exec=/usr/bin/python3 $T/send.py 2000000 4
bind_ro=$T/send.py
user=nobody
restart=no

[session fill]
profile=sender
uplink=sim0

EOF2
		cat
	} | make_config
	awk -v q="$QUOTA" '
		/^\[uplink sim0\]$/ { print; print "priority=0"; print "quota=" q; print "quota_action=notify"; next }
		/^\[uplink sim1\]$/ { print; print "priority=5"; next }
		{ print }' "$T/cellmux.conf" >"$T/c2" && mv "$T/c2" "$T/cellmux.conf"
	grep -q "^quota=$QUOTA\$" "$T/cellmux.conf" || die "config has no quota"
}
config </dev/null
start_daemon

field() { # uplink|session NAME FIELD
	ctl --json "$1" show "$2" | python3 -c 'import json,sys; v=json.load(sys.stdin)
v=v[0] if isinstance(v, list) else v
x=v.get(sys.argv[1]); print(str(x).lower() if isinstance(x, bool) else x)' "$3"
}
reload() { ctl reload; }
# Every session's entry in `session list`, as NAME:UPLINK:STATE:REASON lines.
list_line() {
	ctl --json session list | python3 -c 'import json,sys
for s in json.load(sys.stdin):
    if s.get("name") == sys.argv[1]:
        print("%s|%s" % (s.get("state"), s.get("wait_reason")))' "$1"
}

check "fill runs on sim0" wait_for 20 on fill sim0
check "sim0's quota is not reached before the upload (fill waits 4 s)" [ "$(field uplink sim0 quota_reached)" = false ]
check "sim0's quota is reached after fill's 2 MB" wait_for 30 eval '[ "$(field uplink sim0 quota_reached)" = true ]'
check "the quota event is logged, notify only" grep -q "uplink sim0: quota of 1048576 bytes reached .*notify only" "$T/daemon.log"
check "fill stays on sim0 (the quota only stops new placements)" on fill sim0

# ---- a new unpinned session: the router would pick sim0 by priority, but its quota is reached ----
check "an ad hoc unpinned session starts" ctl session start --profile idle --name auto
check "auto lands on sim1" wait_for 20 on auto sim1

# ---- sessions added by reload ----
config <<EOF2
[session pref]
profile=idle
uplink=sim0,sim1

[session pin]
profile=idle
uplink=sim0
EOF2
check "reload with pref and pin succeeds" reload
check "pref (uplink=sim0,sim1) lands on sim1" wait_for 20 on pref sim1
check "pin (uplink=sim0) has no worker" wait_for 20 no_worker pin
sleep 3 # the router's 1 s replan runs a few times: pin must still wait, pref still on sim1
check "pin still has no worker after a few replans" no_worker pin
check "pref is still on sim1" on pref sim1
check "pin waits with the reason (session show)" \
	[ "$(field session pin wait_reason)" = "its uplink has reached its quota" ]
check "pin waits with the reason (session list)" \
	[ "$(list_line pin | cut -d'|' -f2)" = "its uplink has reached its quota" ]
check "fill is still on sim0" on fill sim0

# ---- raise the quota: sim0 is eligible again ----
QUOTA=100M
config <<EOF2
[session pref]
profile=idle
uplink=sim0,sim1

[session pin]
profile=idle
uplink=sim0
EOF2
check "reload with quota=100M succeeds" reload
check "sim0's quota is no longer reached" wait_for 20 eval '[ "$(field uplink sim0 quota_reached)" = false ]'
check "pin starts on sim0" wait_for 20 on pin sim0
check "pin no longer has a wait reason" eval '[ -z "$(field session pin wait_reason | sed "s/^None$//")" ]'
check "a new unpinned session starts" ctl session start --profile idle --name after
check "after lands on sim0 (priority 0, open again)" wait_for 20 on after sim0
check "pref (move_back=no) stays on sim1" on pref sim1

check "SIGTERM stops the daemon with status 0" stop_daemon
check "no namespace, cgroup or /etc/netns entry left" nothing_left
