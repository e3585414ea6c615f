#!/bin/bash
# test_sim.sh — proves cellmux-sim builds the fake carrier network the other tests stand on: per
# modem a host veth, a carrier that NATs it to its own public address and answers DNS, cut/heal.
#
#   test ns cmxtsim<pid>-<i>          carrier cmxsim-c<i>                     cmxsim-inet
#   simwwan<i> 100.64.<i>.2 ──veth── sub 100.64.<i>.1 | NAT, dnsmasq |
#                                     wan 198.18.1.<i+1> ──veth── c<i> ─ inet0 198.18.0.1
#                                                                  (httpd :80 /ip, sink :9)
# The test builds the subscriber side itself with iproute2, as the daemon would with netlink.
set -euo pipefail
. "$(dirname "$0")/assert.sh"

BUILD=${BUILD:-./build}
SIM=$(cd "$BUILD" && pwd)/cellmux-sim
RUN=/run/cellmux-sim
N=3
TNS=cmxtsim$$-

[ "$(id -u)" = 0 ] || { echo "FAIL: test_sim needs root"; exit 1; }
[ -x "$SIM" ] || { echo "FAIL: no $SIM (BUILD=$BUILD)"; exit 1; }
# Someone's running sim (a demo) is not ours to tear down.
[ ! -e $RUN ] || { echo "FAIL: a sim is already up; run '$SIM down' first"; exit 1; }

cleanup() {
	local rc=$?
	set +e
	for i in $(seq 0 $((N - 1))); do
		ip netns delete "$TNS$i" 2>/dev/null
		rm -rf "/etc/netns/$TNS$i"
	done
	"$SIM" down >/dev/null 2>&1
	[ $FAILS -eq 0 ] && exit $rc
	exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND"' ERR

pub() { echo "198.18.1.$(($1 + 1))"; }
in_sub() { ip netns exec "$TNS$1" "${@:2}"; }
get_ip() { # modem, session: the /ip answer through that modem's carrier
	in_sub "$1" curl -sf -m 3 -H "X-Cellmux-Session: $2" http://198.18.0.1/ip
}
ip_is() { [ "$(get_ip "$1" "$2")" = "$3" ]; } # modem, session, address
no_ip() { ! get_ip "$1" "$2" >/dev/null; }
poll_ip() { # modem, session: the first answer within 5 s
	local deadline=$((SECONDS + 5)) out
	until out=$(get_ip "$1" "$2"); do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
	echo "$out"
}
# An A query straight to a resolver, so the answer cannot come from nsswitch or a cache.
dns_a() { # modem, server, name
	in_sub "$1" python3 - "$2" "$3" <<'EOF'
import socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (server, 53))
d = s.recv(512)
off, ancount = len(q), struct.unpack(">H", d[6:8])[0]
for _ in range(ancount):
    while d[off] and d[off] < 0xC0:
        off += d[off] + 1
    off += 2 if d[off] >= 0xC0 else 1
    typ, _, _, rdlen = struct.unpack(">HHIH", d[off:off + 10])
    off += 10
    if typ == 1 and rdlen == 4:
        print(socket.inet_ntoa(d[off:off + 4]))
    off += rdlen
EOF
}
modem_pristine() { # i: down, no address, as a modem nobody adopted yet
	ip link show "simwwan$1" | grep -q "state DOWN" && [ -z "$(ip -o addr show dev "simwwan$1")" ]
}
wan_state() { "$SIM" status | awk -v i="$1" '$1 == i { print $7 }'; }
no_modem_in_subs() {
	for i in $(seq 0 $((N - 1))); do
		! ip -n "$TNS$i" -o link | grep -q simwwan || return 1
	done
}
modem_links() { ip -o link show | awk -F': ' '$2 ~ /^simwwan/' | wc -l; }
sim_daemons() { pgrep -f "^(dnsmasq .*$RUN/|cellmux-sim httpd)" || true; }
ifindexes() { for i in $(seq 0 $((N - 1))); do cat /sys/class/net/simwwan$i/ifindex; done; }
dns_pids() { cat $RUN/dns*.pid; }

# --- usage errors are exit 2 and touch nothing
rc=0; "$SIM" up --modems 0 2>/dev/null || rc=$?
check "up --modems 0 is a usage error (exit 2)" [ $rc -eq 2 ]
rc=0; "$SIM" frobnicate 2>/dev/null || rc=$?
check "an unknown command is a usage error (exit 2)" [ $rc -eq 2 ]
check "status fails while the sim is down" bash -c "! '$SIM' status 2>/dev/null"

# --- up: N modems in the host, N carriers and the internet
"$SIM" up --modems $N
check "up creates exactly $N simwwan links" [ "$(modem_links)" -eq $N ]
for i in $(seq 0 $((N - 1))); do
	check "simwwan$i is down and has no address" modem_pristine $i
	check "carrier cmxsim-c$i exists with $(pub $i) on wan" \
		bash -c "ip -n cmxsim-c$i -4 -o addr show dev wan | grep -q ' $(pub $i)/16 '"
done
check "the internet namespace has 198.18.0.1 on inet0" \
	bash -c "ip -n cmxsim-inet -4 -o addr show dev inet0 | grep -q ' 198.18.0.1/16 '"
check "no namespace of the sim has a default route" \
	bash -c "for ns in \$(ip netns list | awk '/^cmxsim-/ {print \$1}'); do
		[ -z \"\$(ip -n \$ns route show default)\" ] || exit 1; done"
check "$N dnsmasq and one httpd run" [ "$(sim_daemons | wc -l)" -eq $((N + 1)) ]

# --- up again keeps everything: same links (ifindex), same dnsmasq processes
before="$(ifindexes) $(dns_pids)"
check "up twice exits 0" "$SIM" up --modems $N
check "up twice keeps links and daemons" [ "$before" = "$(ifindexes) $(dns_pids)" ]
rc=0; "$SIM" up --modems $((N + 1)) 2>/dev/null || rc=$?
check "up with another N is refused" [ $rc -ne 0 ]
check "the refused up changed nothing" [ "$before" = "$(ifindexes) $(dns_pids)" ]

# --- a subscriber per modem, built like the daemon's uplink namespaces
for i in $(seq 0 $((N - 1))); do
	ip netns add "$TNS$i"
	ip link set "simwwan$i" netns "$TNS$i"
	ip -n "$TNS$i" link set lo up
	ip -n "$TNS$i" addr add "100.64.$i.2/24" dev "simwwan$i"
	ip -n "$TNS$i" link set "simwwan$i" up
	ip -n "$TNS$i" route add default via "100.64.$i.1"
done
declare -a seen
for i in $(seq 0 $((N - 1))); do
	seen[$i]=$(poll_ip $i "t$$-$i" || true)
	check "subscriber $i leaves through its carrier's address $(pub $i)" \
		[ "${seen[$i]}" = "$(pub $i)" ]
	check "http.log names session t$$-$i with client $(pub $i)" \
		grep -q "^[0-9]* $(pub $i) GET /ip 200 session=t$$-$i\$" $RUN/http.log
done
check "$N subscribers saw $N distinct addresses" \
	[ "$(printf '%s\n' "${seen[@]}" | sort -u | grep -c .)" -eq $N ]

# --- each carrier's DNS answers with that carrier's own address
declare -a answers
for i in $(seq 0 $((N - 1))); do
	answers[$i]=$(dns_a $i 100.64.$i.1 carrier.cellmux.test || true)
	check "carrier $i's DNS answers carrier.cellmux.test with $(pub $i)" \
		[ "${answers[$i]}" = "$(pub $i)" ]
	check "dns$i.log saw the query from 100.64.$i.2" \
		grep -q "query\[A\] carrier.cellmux.test from 100.64.$i.2" $RUN/dns$i.log
done
check "the $N carriers answer distinctly" \
	[ "$(printf '%s\n' "${answers[@]}" | sort -u | grep -c .)" -eq $N ]
mkdir -p "/etc/netns/${TNS}0"
echo "nameserver 100.64.0.1" >"/etc/netns/${TNS}0/resolv.conf"
check "a resolv.conf pointing at the gateway resolves ip.cellmux.test" \
	bash -c "ip netns exec ${TNS}0 getent ahostsv4 ip.cellmux.test | grep -q '^198.18.0.1 '"

# --- the discard sink counts exact bytes per connection
in_sub 2 bash -c 'head -c 123457 /dev/zero >/dev/tcp/198.18.0.1/9'
check "the sink logged 123457 bytes from $(pub 2)" \
	wait_for 5 grep -q "^[0-9]* $(pub 2) sink bytes=123457\$" $RUN/sink.log

# --- cut takes one carrier's upstream away, heal brings it back
"$SIM" cut 1
check "cut 1: subscriber 1 cannot reach the internet" no_ip 1 cut
check "cut 1: status shows wan down for modem 1" [ "$(wan_state 1)" = down ]
check "cut 1: subscriber 0 is unaffected" ip_is 0 cut0 "$(pub 0)"
"$SIM" heal 1
check "heal 1: subscriber 1 is back through $(pub 1)" wait_for 5 ip_is 1 healed "$(pub 1)"
rc=0; "$SIM" cut $N 2>/dev/null || rc=$?
check "cut of a modem that does not exist is a usage error" [ $rc -eq 2 ]

# --- config: one parseable uplink section per modem
check "config prints $N uplink sections a parser accepts" python3 -c '
import configparser, subprocess, sys
n, sim = int(sys.argv[1]), sys.argv[2]
c = configparser.ConfigParser()
c.read_string(subprocess.run([sim, "config"], check=True, capture_output=True, text=True).stdout)
assert c.sections() == ["uplink sim%d" % i for i in range(n)], c.sections()
for i in range(n):
    s = c["uplink sim%d" % i]
    want = {"driver": "netdev", "interface": "simwwan%d" % i, "address": "100.64.%d.2/24" % i,
            "gateway": "100.64.%d.1" % i, "dns": "100.64.%d.1" % i, "capacity": "4"}
    assert dict(s) == want, dict(s)
' $N "$SIM"

# --- down, with the modems still inside the subscribers' namespaces (as under the daemon)
check "down exits 0" "$SIM" down
check "down leaves no cmxsim-* namespace" bash -c "! ip netns list | grep -q '^cmxsim-'"
check "down leaves no simwwan link in the host" [ "$(modem_links)" -eq 0 ]
check "down leaves no simwwan link in the subscribers' namespaces" no_modem_in_subs
check "down leaves no dnsmasq or httpd" [ -z "$(sim_daemons)" ]
check "down removes $RUN" [ ! -e $RUN ]
check "down again, with nothing up, exits 0" "$SIM" down
check "config fails once the sim is down" bash -c "! '$SIM' config >/dev/null 2>&1"

exit $((FAILS > 0))
