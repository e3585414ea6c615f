#!/bin/bash
# test_proxy.sh — front doors (issue 14): listen= sockets bound by cellmuxd on the host side and
# handed to workers (systemd's LISTEN_FDS), and cellmux-proxy serving real clients through them.
#
#   curl / socks_client.py ── 127.0.0.1:P0..P2 (host ns, cellmuxd's listeners)
#        │ accepted inside the uplink's namespace by the worker the socket was handed to
#   session p0 (cellmux-proxy, cmx-sim0) ── simwwan0 ── carrier c0 (NAT 198.18.1.1) ──┐
#   session p1 (cmx-sim1) ── carrier c1 (198.18.1.2) ──────────────────────────────── inet:
#   session p2 (cmx-sim2) ── carrier c2 (198.18.1.3) ──── 198.18.0.1 :80 /ip, :9 sink ┘
#   sessions t1, t2 (cmx-sim0, own ports): per-tenant counts; fdcheck: what a worker is handed.
# Proves: each proxy session leaves by its own carrier (SOCKS5 with the name resolved by that
# carrier's resolver, HTTP CONNECT, plain-HTTP forwarding); LISTEN_PID/LISTEN_FDS/fd layout;
# bad clients refused cleanly while others are served; a killed worker's listener stays and
# queued connections are served by its successor; a stopped session's port is closed; each
# tenant's counter carries its own bytes; a shared or busy port is a config error.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="python3 $HERE/socks_client.py"
PROXY=$BUILD/workers/cellmux-proxy
[ -x "$PROXY" ] || die "no $PROXY (make builds it)"
command -v curl >/dev/null || die "curl missing"
cp "$PROXY" "$T/cellmux-proxy"
echo secret | "$PROXY" --hash alice >"$T/users" || die "cellmux-proxy --hash"
# The dynamic uid reads it through bind_ro=; an operator would rather use user= and 0640.
chmod 644 "$T/users"
grep -q '^alice:\$y\$' "$T/users" || die "users file is not yescrypt: $(cat "$T/users")"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P0=$(free_port) P1=$(free_port) P2=$(free_port) PT1=$(free_port) PT2=$(free_port)
PF1=$(free_port) PF2=$(free_port)
USOCK=$T/front.sock

sim_up 3
proxy_sections() {
	cat <<EOF2
[metrics]
listen=off

[profile proxy]
exec=$T/cellmux-proxy --users $T/users --handshake-timeout 5
bind_ro=$T/users
restart_sec=200ms

[profile fdcheck]
exec=/bin/sh -c 'echo "fdcheck pid=\$\$ LISTEN_PID=\$LISTEN_PID LISTEN_FDS=\$LISTEN_FDS LISTEN_FDNAMES=\$LISTEN_FDNAMES CONTROL_FD=\$CELLMUX_CONTROL_FD fd3=\$(readlink /proc/self/fd/3) fd4=\$(readlink /proc/self/fd/4) fd5=\$(readlink /proc/self/fd/5) fd6=\$(readlink /proc/self/fd/6 || echo none)"; exec sleep 100000'
listen=127.0.0.1:$PF1 $USOCK

[session p0]
profile=proxy
uplink=sim0
listen=127.0.0.1:$P0 udp:127.0.0.1:$P0

[session p1]
profile=proxy
uplink=sim1
listen=127.0.0.1:$P1 udp:127.0.0.1:$P1

[session p2]
profile=proxy
uplink=sim2
listen=127.0.0.1:$P2 udp:127.0.0.1:$P2

[session t1]
profile=proxy
uplink=sim0
listen=127.0.0.1:$PT1

[session t2]
profile=proxy
uplink=sim0
listen=127.0.0.1:$PT2

[session fd]
profile=fdcheck
uplink=sim1
EOF2
}

# --- config errors: one owner per port, and no port another program holds ---
{ daemon_section; proxy_sections; printf '\n[session dup]\nprofile=proxy\nuplink=sim2\nlisten=127.0.0.1:%s\n' "$P1"; } | make_config
DUPLINE=$(grep -n "^listen=127.0.0.1:$P1\$" "$T/cellmux.conf" | tail -1 | cut -d: -f1)
out=$("$CELLMUXD" --check-config -c "$T/cellmux.conf" 2>&1); rc=$?
check "two sessions on one port: exit 2, FILE:LINE of the second listen= ($out)" \
	eval '[ $rc -eq 2 ] && [[ "$out" == *"$T/cellmux.conf:$DUPLINE:"*"already does"* ]]'
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("up", flush=True); time.sleep(60)' "$P2" >"$T/holder.out" &
HOLDER=$!
CLEANUP_EXTRA+=("kill $HOLDER 2>/dev/null")
wait_for 10 grep -q up "$T/holder.out" || die "port holder did not start"
{ daemon_section; proxy_sections; } | make_config
P2LINE=$(grep -n "^listen=127.0.0.1:$P2 " "$T/cellmux.conf" | cut -d: -f1)
out=$("$CELLMUXD" --check-config -c "$T/cellmux.conf" 2>&1); rc=$?
check "a port another program holds: exit 2, FILE:LINE, 'in use' ($out)" \
	eval '[ $rc -eq 2 ] && [[ "$out" == *"$T/cellmux.conf:$P2LINE:"*"already in use"* ]]'
kill $HOLDER; wait $HOLDER 2>/dev/null

start_daemon
serving() { [ "$(grep -c 'cellmux-proxy: serving' "$T/daemon.log")" -ge 5 ]; }
check "five proxy workers say they serve their handed-over socket" wait_for 20 serving

# --- what a socket-activated worker is handed ---
wait_for 10 grep -q "fdcheck pid=" "$T/daemon.log"
FDLINE=$(grep -o "fdcheck pid=.*" "$T/daemon.log" | head -1)
echo "    $FDLINE"
check "LISTEN_PID is the worker's own pid (2 in its PID namespace)" \
	eval '[[ "$FDLINE" == "fdcheck pid=2 LISTEN_PID=2 "* ]]'
check "LISTEN_FDS=2, LISTEN_FDNAMES=tcp-$PF1:unix, control socket after them (fd 5)" \
	eval '[[ "$FDLINE" == *"LISTEN_FDS=2 LISTEN_FDNAMES=tcp-$PF1:unix CONTROL_FD=5 "* ]]'
check "fds 3, 4, 5 are sockets; 6 (the spawn pipe) is closed at exec" \
	eval '[[ "$FDLINE" == *"fd3=socket:"*"fd4=socket:"*"fd5=socket:"*"fd6=none" ]]'
check "the unix listener exists on the host, mode 0666" eval '[ "$(stat -c %a "$USOCK")" = 666 ]'
check "a proxy worker reports LISTEN_FDS=1 as pid 2" grep -q "cellmux-proxy: serving pid=2 listen_fds=1 " "$T/daemon.log"
check "the p sessions' workers got a TCP listener and the UDP relay socket" \
	eval '[ "$(grep -c "cellmux-proxy: serving pid=2 listen_fds=2 listeners=1 udp_relay=yes" "$T/daemon.log")" -ge 3 ]'

# --- real clients, one proxy session per uplink ---
for i in 0 1 2; do
	port=$(eval echo \$P$i) want=$(carrier_addr $i)
	name="h7-$$-$i.ip.cellmux.test"
	got=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$port" --proxy-user alice:secret "http://$name/ip")
	check "p$i: curl --socks5-hostname reaches /ip by name, sees carrier $i's $want (got '$got')" \
		[ "$got" = "$want" ]
	check "p$i: the name was resolved by carrier $i's resolver" grep -q "$name" "/run/cellmux-sim/dns$i.log"
	other=$(( (i + 1) % 3 ))
	check "p$i: ... and not by carrier $other's" eval '! grep -q "$name" "/run/cellmux-sim/dns$other.log"'
	got=$(curl -s --max-time 10 -p --proxy "http://alice:secret@127.0.0.1:$port" "http://ip.cellmux.test/ip")
	check "p$i: curl --proxy (HTTP CONNECT) sees $want (got '$got')" [ "$got" = "$want" ]
	got=$(curl -s --max-time 10 --proxy "http://alice:secret@127.0.0.1:$port" -H "X-Cellmux-Session: fwd$i" "http://ip.cellmux.test/ip")
	check "p$i: plain-HTTP forwarding sees $want (got '$got')" [ "$got" = "$want" ]
	got=$($CLIENT udpdns "$port" alice secret "100.64.$i.1" carrier.cellmux.test)
	check "p$i: UDP ASSOCIATE: a DNS query is answered by carrier $i's resolver ($got)" \
		[ "$got" = "answer=$want" ]
	check "p$i: the server logged carrier $i for the forwarded request" eval '[ "$(egress_of fwd$i)" = "$want" ]'
done
# No query for a proxied name leaves the host: a sniffer on every host interface counts the
# packets carrying its label, and first proves it sees the host's own lookups (a name the host
# itself looks up, through its resolver, whatever that is).
MA=h7px$$a MB=h7host$$b
coproc SNIFF { python3 "$HERE/dns_sniff.py" "$MA" "$MB"; }
CLEANUP_EXTRA+=("kill $SNIFF_PID 2>/dev/null")
read -r -t 20 ready <&"${SNIFF[0]}"
[ "$ready" = ready ] || fail "dns_sniff.py did not start"
got=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$P0" --proxy-user alice:secret "http://$MA.ip.cellmux.test/ip")
check "a proxied name resolves in the uplink ($got)" [ "$got" = "$(carrier_addr 0)" ]
getent hosts "$MB.ip.cellmux.test" >/dev/null
exec {SNIFF_IN}>&"${SNIFF[1]}"
exec {SNIFF[1]}>&- {SNIFF_IN}>&-
read -r -t 20 counts <&"${SNIFF[0]}"
echo "    host-side packets carrying each name: $counts"
check "the sniffer sees the host's own lookup (positive control)" eval '[[ "$counts" =~ $MB=[1-9] ]]'
check "no packet on the host carries the proxied name" eval '[[ "$counts" == *"$MA=0"* ]]'

# --- bad clients: refused or timed out cleanly, others unaffected ---
check "wrong password: RFC 1929 status 1, then EOF" eval '[ "$($CLIENT wrongpass $P0 alice nope)" = "status=1 eof=True" ]'
check "unknown user: status 1, then EOF" eval '[ "$($CLIENT wrongpass $P0 mallory secret)" = "status=1 eof=True" ]'
check "no auth offered: method 0xff, then EOF" eval '[ "$($CLIENT noauth $P0)" = "method=0xff eof=True" ]'
check "BIND: reply 7 (command not supported)" eval '[ "$($CLIENT command $P0 alice secret 2)" = "rep=7" ]'
check "UDP ASSOCIATE without a listen=udp: socket: reply 7" \
	eval '[ "$($CLIENT command $PT1 alice secret 3)" = "rep=7" ]'
check "a truncated greeting is closed" eval '[ "$($CLIENT truncated $P0)" = "eof=True" ]'
check "an oversized HTTP head: 431" eval '[[ "$($CLIENT oversized $P0)" == "reply=HTTP/1.1 431 "* ]]'
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --proxy "http://alice:bad@127.0.0.1:$P0" http://ip.cellmux.test/ip)
check "HTTP with a wrong password: 407 (got $code)" [ "$code" = 407 ]
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --proxy "http://127.0.0.1:$P0" http://ip.cellmux.test/ip)
check "HTTP without credentials: 407 (got $code)" [ "$code" = 407 ]
check "a client stalled mid-handshake is hung up on (handshake timeout 5 s)" \
	eval '[ "$($CLIENT stall $P0 30)" = "eof=True" ]'

coproc IDLE { $CLIENT idle "$P0" 1000; }
CLEANUP_EXTRA+=("kill $IDLE_PID 2>/dev/null")
read -r -t 60 idle_line <&"${IDLE[0]}"
check "1,000 idle connections open at once ($idle_line)" [ "$idle_line" = "open 1000" ]
got=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$P0" --proxy-user alice:secret "http://ip.cellmux.test/ip")
check "meanwhile another client is served ($got)" [ "$got" = "$(carrier_addr 0)" ]
wp=$(worker_pid p0)
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$wp/status")
nfd=$(ls "/proc/$wp/fd" | wc -l)
echo "    worker $wp resident with 1,000 idle connections: ${rss} KiB, $nfd fds"
check "the worker holds them all at once ($nfd fds)" [ "$nfd" -ge 1000 ]
check "the worker's memory stays bounded (< 16 MiB resident)" [ "${rss:-999999}" -lt 16384 ]
idle_gone() { [ "$(ls "/proc/$wp/fd" | wc -l)" -lt 100 ]; }
check "the idle ones are hung up on after the handshake timeout" wait_for 30 idle_gone
kill "$IDLE_PID" 2>/dev/null

# --- kill the worker during transfers: the listener stays, the successor serves ---
$CLIENT upload "$P1" alice secret 198.18.0.1 9 20000000 2000000 >"$T/transfer.out" 2>&1 &
XFER=$!
# Until the worker's own connection to the sink is up (in its namespace): the transfer flows.
relaying() { ip netns exec cmx-sim1 ss -Htn state established dst 198.18.0.1 | grep -q ':9 *$\|:9 '; }
wait_for 10 relaying || fail "the transfer through p1 did not start"
old=$(worker_pid p1)
kill -KILL "$old"
# Straight away, before any successor: the connection waits in the listener's backlog.
got=$(curl -s --max-time 20 --socks5-hostname "127.0.0.1:$P1" --proxy-user alice:secret "http://ip.cellmux.test/ip")
check "a connection made as the worker died is served by its successor ($got)" [ "$got" = "$(carrier_addr 1)" ]
new=$(worker_pid p1)
check "that was a new worker ($old -> $new)" eval '[ -n "$new" ] && [ "$new" != "$old" ]'
wait $XFER
check "the transfer in flight broke with its worker ($(cat "$T/transfer.out"))" grep -q "^broken after" "$T/transfer.out"
check "cellmuxd kept the listener: still listening on $P1" eval 'ss -Hltn "sport = :$P1" | grep -q LISTEN'

# --- stop the session: its port is closed ---
ctl session stop p2 >/dev/null || fail "cellmuxctl session stop p2"
port_closed() { ! ss -Hltn "sport = :$P2" | grep -q LISTEN; }
check "after session stop p2 nothing listens on $P2" wait_for 20 port_closed
check "and a client is refused" eval '! curl -s --max-time 5 --socks5-hostname "127.0.0.1:$P2" --proxy-user alice:secret http://ip.cellmux.test/ip'

# --- per-tenant counts: two proxy sessions on one uplink ---
tx() { ctl --json session show "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d["tx_bytes"] or 0)'; }
A0=$(tx t1) B0=$(tx t2)
KA=6000000 KB=1500000
check "t1 carries $KA bytes to the sink" eval '[ "$($CLIENT upload $PT1 alice secret 198.18.0.1 9 $KA)" = "sent $KA" ]'
check "t2 carries $KB bytes to the sink" eval '[ "$($CLIENT upload $PT2 alice secret 198.18.0.1 9 $KB)" = "sent $KB" ]'
counted() { # session payload: its tx growth covers its payload plus headers (< 10 %), no more
	local d=$(( $(tx "$1") - $2 ))
	echo "    $1: tx grew by $d for $3 payload bytes"
	[ "$d" -ge "$3" ] && [ "$d" -le $(( $3 + $3 / 10 )) ]
}
check "t1's counter carries t1's bytes and not t2's" wait_for 10 counted t1 "$A0" "$KA"
check "t2's counter carries t2's bytes and not t1's" wait_for 10 counted t2 "$B0" "$KB"

# --- reload: an unchanged session keeps its worker and socket; a moved listen= rebinds ---
w1=$(worker_pid t1)
ctl reload >/dev/null || fail "cellmuxctl reload (unchanged file)"
check "an unchanged reload keeps t1's worker ($w1) and its socket" \
	eval '[ "$(worker_pid t1)" = "$w1" ] && ss -Hltn "sport = :$PT1" | grep -q LISTEN'
PT3=$(free_port)
sed -i "s/^listen=127.0.0.1:$PT2\$/listen=127.0.0.1:$PT3/" "$T/cellmux.conf"
ctl reload >/dev/null || fail "cellmuxctl reload (t2 moved)"
moved() { ss -Hltn "sport = :$PT3" | grep -q LISTEN && ! ss -Hltn "sport = :$PT2" | grep -q LISTEN; }
check "t2 moved by reload: $PT3 listens, $PT2 is closed" wait_for 20 moved
got=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$PT3" --proxy-user alice:secret "http://ip.cellmux.test/ip")
check "and its new worker serves there ($got)" [ "$got" = "$(carrier_addr 0)" ]

stop_daemon || fail "daemon exit status"
check "every listener is closed with the daemon" eval '! ss -Hltn | grep -qE ":($P0|$P1|$PT1|$PT3|$PF1) "'
check "the unix listener's file is removed" [ ! -e "$USOCK" ]
check "nothing left behind" nothing_left
exit 0
