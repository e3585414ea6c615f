#!/bin/bash
# test_killswitch.sh — the kill switch against a real side door (issue 11): a veth from the
# uplink's namespace straight into the sim's internet, with more specific routes to the test
# server through it. With cellmux's table deleted the probe reaches the server that way (the
# test sees a leak); with the table nothing arrives, for TCP, UDP and ICMP over IPv4 and IPv6,
# while up, while reconnecting, after down/up and while the daemon is dead (kill -9). And packets
# injected from the carrier side at the uplink's address (a SYN/ACK, a UDP datagram, for ports
# nobody opened) get no answer.
#
#   cmx-sim0: simwwan0 100.64.0.2 (qmi uplink) ── carrier cmxsim-c0 ── cmxsim-inet 198.18.0.1
#      └─ sdc<pid> 192.0.2.1/31 fd00:5d::1/64 ══ side door ══ sdi<pid> 192.0.2.0/31 fd00:5d::2/64
#           routes 198.18.0.1/32, fd00:5d:1::1/128       in cmxsim-inet, + fd00:5d:1::1/128;
#           via the side door                              nft counters per protocol on sdi
#
# How it failed: the leak proof runs first (table deleted: every counter rose, curl got the side
# door's address back). With netns/fw.c's output chain given a final "accept" and its input
# policy set to accept, all six counters rose in every phase (up, reconnecting, after down/up,
# daemon dead), and the injected SYN/ACK got a RST and the datagram a port unreachable (as on
# main at d22f4ff, which had no input chain).
. "$(dirname "$0")/lib.sh"

FQ=$BUILD/helpers/fake-qmi-modem
fq() { "$FQ" --ctl /run/cellmux-sim/qmi.ctl "$@"; }
LEAK="python3 $(cd "$(dirname "$0")" && pwd)/leak_probe.py"
NS=cmx-sim0
INET=cmxsim-inet
CARRIER=cmxsim-c0
SDC=sdc$$
SDI=sdi$$
V6DST=fd00:5d:1::1
PROTOS="tcp4 udp4 icmp4 tcp6 udp6 icmp6"
command -v curl >/dev/null || die "curl missing"

"$SIM" up --modems 1 --qmi >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; die "cellmux-sim up --qmi"; }
{
	daemon_section
	printf '[metrics]\nlisten=off\n\n'
	printf '[profile probe]\nexec=%s --url http://198.18.0.1/ip --interval 0.5 --timeout 2\n\n' "$PROBE"
	printf '[session s1]\nprofile=probe\n'
} | make_config
start_daemon

state() { ctl --json uplink show sim0 | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d["state"])'; }
is_state() { [ "$(state 2>/dev/null)" = "$1" ]; }
check "uplink sim0 is up" wait_for 20 is_state up
# The input policy must not break what a session itself opened.
check "s1 reaches the server through its uplink" wait_for 20 sh -c "cat /run/cellmux-sim/http.log | grep -q ' 200 session=s1\$'"

# Arrivals from the side door, per protocol, counted where they would leave to the internet.
CLEANUP_EXTRA+=("ip netns exec $INET nft delete table inet cmxks$$ 2>/dev/null; ip -n $INET link del $SDI 2>/dev/null")
ip netns exec $INET nft -f - <<EOF2 || die "counters in $INET"
table inet cmxks$$ {
	counter tcp4 { }
	counter udp4 { }
	counter icmp4 { }
	counter tcp6 { }
	counter udp6 { }
	counter icmp6 { }
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		iifname "$SDI" meta nfproto ipv4 meta l4proto tcp counter name tcp4
		iifname "$SDI" meta nfproto ipv4 meta l4proto udp counter name udp4
		iifname "$SDI" meta nfproto ipv4 meta l4proto icmp counter name icmp4
		iifname "$SDI" meta nfproto ipv6 meta l4proto tcp counter name tcp6
		iifname "$SDI" meta nfproto ipv6 meta l4proto udp counter name udp6
		iifname "$SDI" icmpv6 type echo-request counter name icmp6
	}
}
EOF2
count() { ip netns exec $INET nft list counter inet cmxks$$ "$1" | awk '/packets/ { print $2 }'; }
reset_counts() { ip netns exec $INET nft reset counters table inet cmxks$$ >/dev/null; }
counts() { local p; for p in $PROTOS; do printf '%s=%s ' "$p" "$(count $p)"; done; }

side_door_open() {
	ip link add $SDC netns $NS type veth peer name $SDI netns $INET &&
	ip -n $NS addr add 192.0.2.1/31 dev $SDC &&
	ip -n $NS addr add fd00:5d::1/64 dev $SDC nodad &&
	ip -n $INET addr add 192.0.2.0/31 dev $SDI &&
	ip -n $INET addr add fd00:5d::2/64 dev $SDI nodad &&
	ip -n $INET addr add $V6DST/128 dev $SDI nodad &&
	ip -n $NS link set $SDC up && ip -n $INET link set $SDI up &&
	ip -n $NS route add 198.18.0.1/32 via 192.0.2.0 dev $SDC &&
	ip -n $NS -6 route add $V6DST/128 via fd00:5d::2 dev $SDC
}
routed_via_side_door() {
	ip -n $NS route get 198.18.0.1 | grep -q "dev $SDC" &&
		ip -n $NS -6 route get $V6DST | grep -q "dev $SDC"
}
probe() { ip netns exec $NS $LEAK send 198.18.0.1 $V6DST 80 >"$T/probe.out" 2>&1; }
leaked() { [ "$(count "$1")" -gt 0 ]; }
any_leaked() { local p; for p in $PROTOS; do leaked $p && return 0; done; return 1; }
nothing_arrived() { # phase
	local p
	# A negative check: give a packet in flight the time to be counted.
	wait_for 1 any_leaked
	for p in $PROTOS; do
		check "$1: no $p from the side door reached the internet ($(count $p))" [ "$(count $p)" = 0 ]
	done
}
table_present() { ip netns exec $NS nft list table inet cellmux >/dev/null 2>&1; }

# 1. Proof the test sees a leak: the same probe, with cellmux's table gone.
check "a side door from $NS into $INET is open" side_door_open
check "the test server and $V6DST route through the side door" routed_via_side_door
check "cellmux's table is deleted for the leak proof" ip netns exec $NS nft delete table inet cellmux
reset_counts
probe
got=$(ip netns exec $NS curl -s -m 3 http://198.18.0.1/ip)
for p in $PROTOS; do
	wait_for 5 leaked $p
	check "without the table, $p leaks through the side door ($(count $p))" leaked $p
done
check "without the table, the server answers the side door's address ($got)" [ "$got" = 192.0.2.1 ]

# Injected packets, also without the table first: the kernel answers a stray SYN/ACK with a RST
# and a datagram to a closed port with port unreachable, and the carrier sees both. From an
# internet host that is not the test server, so the answers take the uplink, not the side door.
CLEANUP_EXTRA+=("ip netns exec $CARRIER nft delete table ip cmxinj$$ 2>/dev/null")
ip netns exec $CARRIER nft -f - <<EOF2 || die "counters in $CARRIER"
table ip cmxinj$$ {
	counter rst { }
	counter unreach { }
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip saddr 100.64.0.2 tcp sport 40000 tcp flags & rst == rst counter name rst
		ip saddr 100.64.0.2 icmp type destination-unreachable counter name unreach
	}
}
EOF2
inj_count() { ip netns exec $CARRIER nft list counter ip cmxinj$$ "$1" | awk '/packets/ { print $2 }'; }
inject() { ip netns exec $CARRIER $LEAK inject 198.18.0.99 100.64.0.2 80 40000 >"$T/inject.out" 2>&1; }
answered_by() { [ "$(inj_count "$1")" -gt 0 ]; }
inject
wait_for 5 answered_by rst
check "without the table, the injected SYN/ACK is answered with a RST ($(inj_count rst))" \
	answered_by rst
wait_for 5 answered_by unreach
check "without the table, the injected datagram is answered with port unreachable ($(inj_count unreach))" \
	answered_by unreach

# The daemon puts its table back only when it (re)creates the namespace: restart it.
check "the daemon stops (SIGTERM)" stop_daemon
start_daemon
check "uplink sim0 is up again" wait_for 20 is_state up
check "the new $NS has cellmux's table" table_present

# 2. Up, with the table: nothing leaves through the side door, nothing answers an injection.
check "the side door is open again" side_door_open
check "and routes the test server" routed_via_side_door
reset_counts
probe
ip netns exec $NS curl -s -m 3 http://198.18.0.1/ip >/dev/null
nothing_arrived "up"
# An observer in $NS says when the injected packets have arrived; a reply, if the kernel made
# one, would follow at once, so a short negative wait after that is enough.
ip netns exec $NS nft -f - <<EOF2 || die "observer in $NS"
table ip cmxseen$$ {
	counter seen { }
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip saddr 198.18.0.99 ip daddr 100.64.0.2 th sport 80 counter name seen
	}
}
EOF2
seen() { [ "$(ip netns exec $NS nft list counter ip cmxseen$$ seen | awk '/packets/ { print $2 }')" -ge 2 ]; }
answered() { [ "$(inj_count rst)" != 0 ] || [ "$(inj_count unreach)" != 0 ]; }
ip netns exec $CARRIER nft reset counters table ip cmxinj$$ >/dev/null
inject
check "the injected SYN/ACK and datagram reached $NS" wait_for 5 seen
wait_for 2 answered
check "neither gets an answer (rst=$(inj_count rst) unreach=$(inj_count unreach))" \
	eval '! answered'
ip netns exec $NS nft delete table ip cmxseen$$

# 3. Reconnecting: the modem vanishes; the uplink retries with its namespace, side door and
# routes still in place, and its own address gone.
fq vanish 0 >/dev/null
not_up() { ! is_state up; }
check "a vanished modem leaves sim0 not up ($(state))" wait_for 10 not_up
check "the side door still routes the server while reconnecting" routed_via_side_door
reset_counts
probe
nothing_arrived "reconnecting"
fq return 0 >/dev/null
check "sim0 is up again after the modem returns" wait_for 30 is_state up

# 4. Down: the namespace goes, and the side door with it; up again brings the table first.
check "uplink down" ctl uplink down sim0
check "down: $NS is gone, nothing is left to send from" wait_for 10 sh -c "! ip netns list | grep -q '^$NS\\b'"
check "down: the side door went with it" wait_for 10 sh -c "! ip -n $INET link show $SDI >/dev/null 2>&1"
check "uplink up" ctl uplink up sim0
check "up: sim0 is up" wait_for 30 is_state up
check "up: the new $NS has cellmux's table" table_present
check "up: the side door is open again" side_door_open
reset_counts
probe
nothing_arrived "after down and up"

# 5. The daemon is killed: namespace and table stay until the next daemon.
kill -KILL "$DAEMON_PID"
wait_for 10 daemon_gone
DAEMON_PID=
check "kill -9: $NS and its table stay" table_present
check "kill -9: the side door still routes the server" routed_via_side_door
reset_counts
probe
nothing_arrived "daemon dead"
