#!/bin/bash
# test_host_uplink.sh — a driver=host uplink ("wired") is the last preference: with every sim
# carrier cut, move sessions run on it and reach a server through the host's own connection,
# NAT'd to the host's address; its counters count those bytes; the host's own services stay
# closed to it; after a stop (and after kill -9 and a restart, then a stop) nothing of it is
# left in the host's nftables, links or forwarding sysctls.
#
#   sessions ── cmx-sim0 / cmx-sim1 ── carriers (cut) ── 198.18.0.1
#            └─ cmx-wired: cmxh-wired 10.231.255.2/30 ══ cmxh-wired 10.231.255.1 (host ns,
#                 masquerade) ── $WAN_IF 198.19.77.1/24 ══ netns $WAN_NS 198.19.77.2 (httpd)
#   host ns also: an httpd on 198.19.77.1, the host's own service (this kernel has no dummy
#   driver; any address of the host's own is the same to the input path)
#   mv1  uplink=sim0,sim1,wired   (a preference list ending with the host uplink)
#   mv2  no uplink=               (automatic placement: wired's default priority is last)
. "$(dirname "$0")/lib.sh"

for t in nft python3 curl; do command -v $t >/dev/null || die "$t missing"; done
WAN_NS=cmxtwan$$
WAN_IF=cmxtw$$
SRV_PORT=$((30000 + $$ % 20000))
PORT=$((20000 + $$ % 10000))
INTERVAL_MS=500
FAIL=3

# The host's state before: nftables, forwarding sysctls.
nft list ruleset >"$T/nft.before"
fwd_state() { for f in /proc/sys/net/ipv4/conf/*/forwarding; do
	i=${f#/proc/sys/net/ipv4/conf/}; i=${i%/forwarding}
	case $i in cmxh-* | simwwan*) continue ;; esac
	echo "$i $(cat "$f")"; done; echo "ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"; }

host_cleanup() {
	nft delete table inet cellmux-host-wired 2>/dev/null
	ip link del cmxh-wired 2>/dev/null
	ip link del "$WAN_IF" 2>/dev/null
	[ -n "${SRV_PID:-}" ] && kill "$SRV_PID" 2>/dev/null
	[ -n "${LOC_PID:-}" ] && kill "$LOC_PID" 2>/dev/null
	ip netns delete "$WAN_NS" 2>/dev/null
	# Forwarding as it was, should the daemon have died without restoring it.
	[ -s "$T/fwd.before" ] && while read -r i v; do
		[ -n "$v" ] && [ -e "/proc/sys/net/ipv4/conf/$i/forwarding" ] &&
			echo "$v" >"/proc/sys/net/ipv4/conf/$i/forwarding"
	done <"$T/fwd.before"
	rm -f /run/cellmux-host/wired.forwarding
	rmdir /run/cellmux-host 2>/dev/null
}
CLEANUP_EXTRA+=(host_cleanup)

# The stand-in for the outside world: a namespace this test owns, behind a veth from the host.
ip netns add "$WAN_NS" || die "netns add"
ip link add "$WAN_IF" type veth peer name wan0 netns "$WAN_NS" || die "veth"
ip addr add 198.19.77.1/24 dev "$WAN_IF" && ip link set "$WAN_IF" up || die "wan address"
ip -n "$WAN_NS" addr add 198.19.77.2/24 dev wan0 && ip -n "$WAN_NS" link set wan0 up &&
	ip -n "$WAN_NS" link set lo up || die "wan ns address"
fwd_state >"$T/fwd.before"

# One line per request: client address, path, bytes sent. /blob/N answers N bytes.
cat >"$T/srv.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/blob/"):
            body = b"x" * int(self.path[6:])
        else:
            body = (self.client_address[0] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(sys.argv[3], "a") as f:
            f.write("%s %s %d\n" % (self.client_address[0], self.path, len(body)))
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
EOF
: >"$T/srv.log"
: >"$T/local.log"
ip netns exec "$WAN_NS" python3 "$T/srv.py" 198.19.77.2 "$SRV_PORT" "$T/srv.log" &
SRV_PID=$!
python3 "$T/srv.py" 198.19.77.1 "$SRV_PORT" "$T/local.log" &
LOC_PID=$!
up_srv() { curl -sf --max-time 2 -o /dev/null "http://$1:$SRV_PORT/ip"; }
wait_for 10 up_srv 198.19.77.2 || die "the wan server did not start"
wait_for 10 up_srv 198.19.77.1 || die "the local server did not start"
: >"$T/srv.log"

sim_up 2
{
	daemon_section
	printf '[metrics]\nlisten=127.0.0.1:%d\n\n' "$PORT"
	cat <<EOF2
[uplink wired]
driver=host
health_check=tcp:198.19.77.2:$SRV_PORT
health_interval=${INTERVAL_MS}ms
health_fail=$FAIL
health_ok=2

[profile probe]
exec=$PROBE --url http://198.19.77.2:$SRV_PORT/ip --interval 0.3 --timeout 1
user=nobody
restart=on-failure

[session mv1]
profile=probe
uplink=sim0,sim1,wired

[session mv2]
profile=probe
EOF2
} | make_config
awk -v iv="$INTERVAL_MS" -v fl="$FAIL" '
	/^\[uplink sim[0-9]+\]$/ { print; print "health_check=tcp:198.18.0.1:80";
		print "health_interval=" iv "ms"; print "health_fail=" fl; print "health_ok=2"; next }
	{ print }' "$T/cellmux.conf" >"$T/c2" && mv "$T/c2" "$T/cellmux.conf"
start_daemon

on_sim() { case $(uplink_of "$1") in sim*) return 0 ;; esac; return 1; }
json_field() {
	ctl --json "$1" show "$2" | python3 -c 'import json,sys; v=json.load(sys.stdin)
v=v[0] if isinstance(v, list) else v
print(v.get(sys.argv[1]))' "$3"
}
metric() { curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$T/m" && grep -F "$1" "$T/m" | awk '{ print $NF }'; }
wired_rx() { metric 'cellmux_uplink_receive_bytes_total{uplink="wired"}'; }
table_there() { nft list table inet cellmux-host-wired >/dev/null 2>&1; }
both_on_sims() { on_sim mv1 && on_sim mv2; }

check "the host uplink is up" [ "$(json_field uplink wired state)" = up ]
check "its host-side table exists" table_there
check "the veth's namespace end is in cmx-wired" ip -n cmx-wired link show cmxh-wired
check "the host end has 10.231.255.1/30" sh -c 'ip -4 -br addr show dev cmxh-wired | grep -q "10.231.255.1/30"'
wired_healthy() { [ "$(json_field uplink wired health)" = healthy ]; }
check "the host uplink is healthy (its check goes through the NAT)" wait_for 20 wired_healthy
check "both sessions start on sim uplinks, not the host uplink" wait_for 30 both_on_sims

# ---- every carrier cut ----
"$SIM" cut 0 || die "cut 0"
"$SIM" cut 1 || die "cut 1"
check "mv1 (uplink=sim0,sim1,wired) runs on wired" wait_for 40 on mv1 wired
check "mv2 (automatic placement) runs on wired" wait_for 40 on mv2 wired
seen() { awk -v s="$1" '$2 == "/ip" && $1 == s' "$T/srv.log" | grep -q .; }
check "the server sees requests NAT'd to the host's address 198.19.77.1" wait_for 20 seen 198.19.77.1
check "the server never sees the namespace's own 10.231.255.2" \
	[ -z "$(awk '$1 != "198.19.77.1"' "$T/srv.log")" ]
resolv=/etc/netns/cmx-wired/resolv.conf
want_dns=$(awk '$1 == "nameserver" && $2 !~ /^127\./ && $2 ~ /^[0-9.]+$/ { print $2 }' /etc/resolv.conf | head -3)
[ -n "$want_dns" ] || want_dns=$(awk '$1 == "nameserver" && $2 !~ /^127\./ && $2 ~ /^[0-9.]+$/ { print $2 }' /run/systemd/resolve/resolv.conf 2>/dev/null | head -3)
check "the namespace's resolv.conf holds the host's reachable resolvers" \
	[ "$(awk '$1 == "nameserver" { print $2 }' "$resolv")" = "$want_dns" ]

# ---- counters: a download of a known size through the uplink ----
rx0=$(wired_rx)
check "the host uplink has counters" [ -n "$rx0" ]
N=1048576
ip netns exec cmx-wired curl -sf --max-time 10 -o "$T/blob" "http://198.19.77.2:$SRV_PORT/blob/$N"
check "a 1 MiB download through the host uplink arrives whole" [ "$(stat -c %s "$T/blob" 2>/dev/null)" = $N ]
rx_grew() { [ "$(wired_rx)" -ge $((rx0 + N)) ]; }
check "the host uplink's receive counter grew by at least those 1 MiB" wait_for 15 rx_grew
rx1=$(wired_rx)
echo "figure: wired rx grew by $((rx1 - rx0)) bytes for a $N-byte body"
check "and by less than 1 MiB + 15% (headers, probes, checks)" [ $((rx1 - rx0)) -lt $((N + N * 15 / 100)) ]

# ---- the host's own services are not the session's internet ----
if ip netns exec cmx-wired curl -sf --max-time 2 -o /dev/null "http://198.19.77.1:$SRV_PORT/ip"; then
	fail "the host's own service (198.19.77.1) is reachable from cmx-wired"
else
	pass "the host's own service (198.19.77.1) is closed to cmx-wired"
fi
check "...though it answers on the host itself" up_srv 198.19.77.1
check "the kill switch is in cmx-wired as in every uplink" ip netns exec cmx-wired nft list table inet cellmux

# ---- kill -9, restart: the killed daemon's veth and table are taken over ----
pid1=$(worker_pid mv1)
pid2=$(worker_pid mv2)
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
check "after kill -9 the table is still there (nobody removed it)" table_there
mv "$T/daemon.log" "$T/daemon1.log"
start_daemon
check "the restarted daemon takes cmx-wired over" grep -q "uplink wired: taking over cmx-wired" "$T/daemon.log"
check "mv1's worker is adopted where it runs, on wired (not bounced to dead sim0)" \
	[ "$(worker_pid mv1)" = "$pid1" -a "$(uplink_of mv1)" = wired ]
check "mv2's worker too" [ "$(worker_pid mv2)" = "$pid2" -a "$(uplink_of mv2)" = wired ]
check "exactly one host table" [ "$(nft list tables | grep -c 'cellmux-host-')" = 1 ]
: >"$T/srv.log"
check "traffic flows again after the restart" wait_for 20 seen 198.19.77.1

check "SIGTERM stops the daemon with status 0" stop_daemon
nft list ruleset >"$T/nft.after"
check "nothing is left in the host's nftables (ruleset as before)" diff "$T/nft.before" "$T/nft.after"
check "no veth cmxh-wired left" sh -c '! ip link show cmxh-wired 2>/dev/null'
fwd_state >"$T/fwd.after"
# Interfaces present both times (the sim's come and go).
fwd_same() { [ -z "$(join "$T/fwd.before.s" "$T/fwd.after.s" | awk '$2 != $3')" ]; }
sort "$T/fwd.before" >"$T/fwd.before.s"; sort "$T/fwd.after" >"$T/fwd.after.s"
check "forwarding sysctls as before ($(join "$T/fwd.before.s" "$T/fwd.after.s" | awk '$2 != $3' | tr '\n' ' '))" fwd_same
check "no forwarding record left" [ ! -e /run/cellmux-host/wired.forwarding ]
check "no namespace, cgroup or /etc/netns entry left" nothing_left
