#!/bin/bash
# test_failover_flap.sh — a flapping carrier (cut/heal every second for 20 s) does not bounce
# sessions: each moves at most once per move_hold_down, counted by the daemon (`moves`) and
# checked against the time the flapping really took (a slow machine only loosens the bound).
#
#   fl1, fl2  uplink=sim0,sim1 move_back=yes move_hold_down=5s ── cmx-sim0 ⇄ cmx-sim1
#   health: tcp:198.18.0.1:80 every 300 ms, health_fail=1, health_ok=1 (sim0 flaps in health too)
. "$(dirname "$0")/lib.sh"

HOLD=5
sim_up 2
{
	daemon_section
	cat <<EOF2
[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.3 --timeout 1
user=nobody
move_back=yes
move_hold_down=${HOLD}s

[session fl1]
profile=probe
uplink=sim0,sim1

[session fl2]
profile=probe
uplink=sim0,sim1
EOF2
} | make_config
awk '/^\[uplink sim[0-9]+\]$/ { print; print "health_check=tcp:198.18.0.1:80";
	print "health_interval=300ms"; print "health_fail=1"; print "health_ok=1"; next } { print }' \
	"$T/cellmux.conf" >"$T/c2" && mv "$T/c2" "$T/cellmux.conf"
start_daemon

moves_of() {
	ctl --json session show "$1" | python3 -c 'import json,sys; v=json.load(sys.stdin)
print((v[0] if isinstance(v, list) else v)["moves"])'
}
running() { [ -n "$(worker_pid fl1)" ] && [ -n "$(worker_pid fl2)" ]; }
check "both sessions run" wait_for 30 running

CLEANUP_EXTRA+=("'$SIM' heal 0 >/dev/null 2>&1")
start=$SECONDS
for k in $(seq 1 10); do
	"$SIM" cut 0 >/dev/null || die "cellmux-sim cut 0"
	sleep 1
	"$SIM" heal 0 >/dev/null || die "cellmux-sim heal 0"
	sleep 1
done
elapsed=$((SECONDS - start + 1))
check "sim0 flapped in health (failed at least twice)" \
	[ "$(grep -c 'uplink sim0: health failed' "$T/daemon.log")" -ge 2 ]
max=$((elapsed / HOLD + 1))
for s in fl1 fl2; do
	m=$(moves_of $s)
	echo "figure: $s moved $m times in ${elapsed} s of flapping (hold-down ${HOLD} s)"
	check "$s moved at least once (the flapping was seen)" [ "$m" -ge 1 ]
	check "$s moved at most once per hold-down ($m <= $max)" [ "$m" -le "$max" ]
done

check "SIGTERM stops the daemon with status 0" stop_daemon
check "no namespace, cgroup or /etc/netns entry left" nothing_left
