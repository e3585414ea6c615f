#!/bin/bash
# test_hotplug.sh — uplinks bound by identity (match=mac:) instead of interface=: a modem absent
# at start is brought up when it is plugged in; an unplugged modem takes its uplink down (its
# move session runs elsewhere, its pin waits); replugged under another interface name it comes
# back into the same cmx-<name> and its sessions run there again, from its own carrier; two
# modems swapped between "ports" (each plugged in under the other's old name) each return to
# their own uplink; an uplink the admin took down stays down though its modem is there.
#
#   p0 uplink=sim0 ── cmx-sim0 ◀─ match=mac:02:c3:4d:00:00:00 ── modem 0 (simwwan0 → hp0x → simwwan1)
#   p1 uplink=sim1 ── cmx-sim1 ◀─ match=mac:02:c3:4d:00:00:01 ── modem 1 (simwwan1 → simwwan0)
#   mv uplink=sim0,sim2 ─ cmx-sim2 ◀─ match=mac:02:c3:4d:00:00:02 ── modem 2 (unplugged at start)
#   modem i ── carrier cmxsim-c<i> (NAT to 198.18.1.<i+1>) ── cmxsim-inet ── httpd 198.18.0.1/ip
#
# MAC, not IMEI: the netdev driver has no modem to ask; IMEI and ICCID are QMI identities.
. "$(dirname "$0")/lib.sh"

sim_up 3
{
	daemon_section
	cat <<EOF2
[metrics]
listen=off

[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.3 --timeout 1
user=nobody
restart=on-failure

[session p0]
profile=probe
uplink=sim0

[session p1]
profile=probe
uplink=sim1

[session mv]
profile=probe
uplink=sim0,sim2
EOF2
} | make_config
# By identity: no interface names in the config at all.
sed -i 's/^interface=simwwan\([0-9]\)$/match=mac:02:c3:4d:00:00:0\1/' "$T/cellmux.conf"
[ "$(grep -c '^match=mac:' "$T/cellmux.conf")" = 3 ] || die "config has no match= lines"
grep -q '^interface=' "$T/cellmux.conf" && die "config still names interfaces"

# "NAME MAC" of the one non-lo link in cmx-<uplink>, or nothing.
link_in() {
	ip -n "cmx-$1" -o link show 2>/dev/null |
		awk '$2 != "lo:" { sub(/:$/, "", $2); sub(/@.*/, "", $2); for (i = 1; i < NF; i++) if ($i == "link/ether") print $2, $(i + 1) }'
}
holds() { [ "$(link_in "$1")" = "$2 $3" ]; }
state_of() {
	ctl --json uplink show "$1" | python3 -c 'import json,sys; v=json.load(sys.stdin)
v=v[0] if isinstance(v, list) else v
print(v.get("state"))'
}
is_state() { [ "$(state_of "$1")" = "$2" ]; }
MAC0=02:c3:4d:00:00:00
MAC1=02:c3:4d:00:00:01
MAC2=02:c3:4d:00:00:02

check "cellmux-sim status shows each modem's MAC, IMEI and ICCID" \
	sh -c "\"$SIM\" status | grep -E '^0 .* $MAC0 350000000000006 89999000000000000' >/dev/null"

# ---- absent at start ----
"$SIM" unplug 2 >>"$T/sim.log" 2>&1 || die "cellmux-sim unplug 2"
check "an unplugged modem's interface is gone from the host" [ ! -e /sys/class/net/simwwan2 ]
start_daemon
check "the daemon starts although sim2's modem is absent" logged "uplink sim2: no device matches mac:$MAC2 yet; waiting for it"
check "sim0 is found by its MAC and holds simwwan0" holds sim0 simwwan0 $MAC0
check "sim1 is found by its MAC and holds simwwan1" holds sim1 simwwan1 $MAC1
check "sim2 is down while its modem is absent" [ "$(state_of sim2)" = down ]
check "p0 runs on sim0" wait_for 20 on p0 sim0
check "mv runs on sim0, its first preference" wait_for 20 on mv sim0
"$SIM" replug 2 >>"$T/sim.log" 2>&1 || die "cellmux-sim replug 2"
check "sim2 comes up when its modem is plugged in" wait_for 10 holds sim2 simwwan2 $MAC2

# ---- unplug: the uplink goes down, sessions per policy ----
"$SIM" unplug 0 >>"$T/sim.log" 2>&1 || die "cellmux-sim unplug 0"
check "the unplug is noticed and logged" wait_for 10 logged "uplink sim0: simwwan0 is gone from cmx-sim0 (unplugged)"
check "sim0 is down" wait_for 10 is_state sim0 down
check "cmx-sim0 is removed" wait_for 10 ns_gone sim0
check "mv (move) runs on sim2, its next preference" wait_for 20 on mv sim2
check "p0 (a pin) waits with no worker" wait_for 20 no_worker p0

# ---- replug under another name: the same uplink comes back ----
line=$(http_lines)
"$SIM" replug 0 hp0x >>"$T/sim.log" 2>&1 || die "cellmux-sim replug 0 hp0x"
check "sim0 comes back holding the renamed modem hp0x" wait_for 10 holds sim0 hp0x $MAC0
check "the match is logged" logged "uplink sim0: hp0x matches mac:$MAC0: bringing it up"
check "p0 runs on sim0 again" wait_for 20 on p0 sim0
check "p0's new traffic reaches the server" wait_for 20 seen_since p0 "$line"
check "p0's new traffic leaves from carrier 0's address only" \
	[ "$(egress_since p0 "$line")" = "$(carrier_addr 0)" ]
check "sim1 was never touched: it still holds simwwan1" holds sim1 simwwan1 $MAC1

# ---- two modems swapped between ports ----
"$SIM" unplug 0 >>"$T/sim.log" 2>&1 || die "cellmux-sim unplug 0"
"$SIM" unplug 1 >>"$T/sim.log" 2>&1 || die "cellmux-sim unplug 1"
check "both uplinks go down" wait_for 10 sh -c "! ip netns list | grep -qE '^cmx-sim(0|1)\b'"
line=$(http_lines)
# Modem 1 first, into modem 0's old name: a name-bound config would now give it to sim0.
"$SIM" replug 1 simwwan0 >>"$T/sim.log" 2>&1 || die "cellmux-sim replug 1 simwwan0"
"$SIM" replug 0 simwwan1 >>"$T/sim.log" 2>&1 || die "cellmux-sim replug 0 simwwan1"
check "sim0 holds modem 0 (now simwwan1)" wait_for 10 holds sim0 simwwan1 $MAC0
check "sim1 holds modem 1 (now simwwan0)" wait_for 10 holds sim1 simwwan0 $MAC1
check "p0 runs on sim0" wait_for 20 on p0 sim0
check "p1 runs on sim1" wait_for 20 on p1 sim1
check "p0's new traffic reaches the server" wait_for 20 seen_since p0 "$line"
check "p0's new traffic leaves from carrier 0's address only" \
	[ "$(egress_since p0 "$line")" = "$(carrier_addr 0)" ]
check "p1's new traffic reaches the server" wait_for 20 seen_since p1 "$line"
check "p1's new traffic leaves from carrier 1's address only" \
	[ "$(egress_since p1 "$line")" = "$(carrier_addr 1)" ]
check "\"cellmux-sim status\" shows modem 0 under its new name" \
	sh -c "\"$SIM\" status | grep -E '^0 +simwwan1 +cmx-sim0' >/dev/null"

# ---- held down by the admin: hot-plug leaves it down ----
check "cellmuxctl uplink down sim2" ctl uplink down sim2
check "sim2's modem is back in the host" wait_for 10 test -e /sys/class/net/simwwan2
sleep 1
check "sim2 stays down although its modem is there" ns_gone sim2
check "cellmuxctl uplink up sim2 brings it back" ctl uplink up sim2
check "sim2 holds its modem again" wait_for 10 holds sim2 simwwan2 $MAC2

check "the daemon stops cleanly" stop_daemon
check "every modem is back in the host" \
	sh -c "test -e /sys/class/net/simwwan0 -a -e /sys/class/net/simwwan1 -a -e /sys/class/net/simwwan2"
check "nothing is left behind" nothing_left
