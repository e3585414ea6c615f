#!/bin/bash
# test_dhcp.sh — driver=netdev with address=dhcp, as for a USB-ethernet "HiLink" modem: the lease
# from the modem's DHCP server (dnsmasq in the carrier) is applied inside the namespace and a
# session reaches the internet through it; the lease renews at T1 without a blip; a lease the
# server withdraws (NAK) takes the uplink down, and a new lease brings it back; stop releases it.
# What the lease gave (address, router, DNS) and why it was lost (the NAK), or why none comes (a
# server that never offers), show in `cellmuxctl --json uplink show` and /metrics; a carrier cut for good makes the recovery ladder redo the
# lease (a netdev uplink has no modem to reset) until recover_max_per_hour.
#
#   worker s1 ── cmx-h0 (simwwan0, DHCP client) ── sub: carrier cmxsim-c0, dnsmasq DHCP
#        100.64.0.50-59, T1 3 s (NAT to 198.18.1.1) ── cmxsim-inet ── httpd 198.18.0.1:80 /ip
. "$(dirname "$0")/lib.sh"

sim_up 1
DHCP_LOG=$T/dhcp.log
dhcp_server() { # first-address last-address
	ip netns exec cmxsim-c0 /usr/sbin/dnsmasq --conf-file=/dev/null --port=0 --interface=sub --bind-interfaces \
		--dhcp-range="$1,$2,255.255.255.0,2m" --dhcp-authoritative \
		--dhcp-option=option:router,100.64.0.1 --dhcp-option=option:dns-server,100.64.0.1 \
		--dhcp-option=option:T1,3 --dhcp-option=option:T2,5 \
		--dhcp-leasefile="$T/leases" --log-dhcp --log-facility="$DHCP_LOG" \
		--pid-file="$T/dhcp.pid" --user=root --group=root
}
dhcp_stop() {
	[ -s "$T/dhcp.pid" ] && kill "$(cat "$T/dhcp.pid")" 2>/dev/null
	wait_for 5 sh -c "! kill -0 \$(cat '$T/dhcp.pid') 2>/dev/null"
	rm -f "$T/dhcp.pid"
}
CLEANUP_EXTRA+=("dhcp_stop")
dhcp_server 100.64.0.50 100.64.0.59 || die "dnsmasq as the modem's DHCP server"
PORT=$((20000 + $$ % 20000))
command -v curl >/dev/null || die "curl is installed (tools/deps.sh)"
show() { ctl --json uplink show h0 >"$T/show.json" 2>/dev/null; }
jget() { # python expression over u, the uplink: its value as JSON
	show && python3 -c 'import json,sys; print(json.dumps(eval(sys.argv[1], {"u": json.load(open(sys.argv[2]))})))' "$1" "$T/show.json"
}
jis() { [ "$(jget "$1")" = "$2" ]; }
mhas() { curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$T/metrics.txt" && grep -qxF "$1" "$T/metrics.txt"; }
logs() { [ "$(grep -c -- "$1" "$T/daemon.log")" -ge "$2" ]; }

{
	daemon_section
	cat <<EOF2
[metrics]
listen=127.0.0.1:$PORT

[uplink h0]
driver=netdev
interface=simwwan0
address=dhcp
health_check=tcp:198.18.0.1:80
health_interval=500ms
health_fail=3
recover_after=3s
recover_max_per_hour=2

[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.3 --timeout 1
user=nobody

[session s1]
profile=probe
uplink=h0
EOF2
} >"$T/cellmux.conf"
start_daemon
lease_addr() { ip -n cmx-h0 -4 -o addr show dev simwwan0 | awk '{ print $4 }'; }
in_range() { # prefix-of-range: the address is 100.64.0.<prefix>N/24
	case "$(lease_addr)" in "100.64.0.$1"?/24) return 0 ;; esac
	return 1
}
check "the lease brings h0 up" wait_for 15 grep -q "uplink h0: connected" "$T/daemon.log"
check "the leased address is on simwwan0 ($(lease_addr))" in_range 5
check "the lease's router is the default route" \
	sh -c "ip -n cmx-h0 route show default | grep -q 'via 100.64.0.1 dev simwwan0'"
check "the lease's DNS server is in resolv.conf" grep -qx "nameserver 100.64.0.1" /etc/netns/cmx-h0/resolv.conf
check "uplink show: the leased address ($(jget 'u["addresses"]'))" jis 'u["addresses"]' "[\"$(lease_addr)\"]"
check "uplink show: the lease's router and DNS server" \
	jis '[u["gateways"], u["dns"], u["last_error"]]' '[["100.64.0.1"], ["100.64.0.1"], null]'
check "/metrics: the leased address" \
	mhas "cellmux_uplink_address_info{uplink=\"h0\",kind=\"address\",address=\"$(lease_addr)\"} 1"
check "/metrics: the lease's DNS server" \
	mhas 'cellmux_uplink_address_info{uplink="h0",kind="dns",address="100.64.0.1"} 1'
check "the session reaches the internet from the carrier's address" \
	wait_for 20 sh -c "[ \"\$(awk '\$NF == \"session=s1\" && \$5 == 200 { print \$2 }' /run/cellmux-sim/http.log | sort -u)\" = 198.18.1.1 ]"
first=$(lease_addr)

acks() { grep -c "DHCPACK(sub)" "$DHCP_LOG"; }
check "the lease renews at T1 (a second DHCPACK)" wait_for 15 sh -c "[ \$(grep -c 'DHCPACK(sub)' '$DHCP_LOG') -ge 2 ]"
check "the renewal asked for the same address" \
	grep -q "DHCPREQUEST(sub) ${first%/24}" "$DHCP_LOG"
check "and no blip: h0 stayed connected with the same address" \
	sh -c "! grep -q 'uplink h0: disconnected' '$T/daemon.log' && [ \"\$(ip -n cmx-h0 -4 -o addr show dev simwwan0 | awk '{ print \$4 }')\" = $first ]"

# The modem's server forgets the lease and hands out another range: the renewal is refused.
dhcp_stop
dhcp_server 100.64.0.60 100.64.0.69 || die "dnsmasq restarted with a new range"
check "a withdrawn lease (NAK) marks h0 down" \
	wait_for 15 grep -q "uplink h0: disconnected" "$T/daemon.log"
check "the server refused the old lease" grep -q "DHCPNAK(sub) ${first%/24}" "$DHCP_LOG"
check "a new lease brings h0 back" \
	wait_for 15 sh -c "[ \$(grep -c 'uplink h0: connected' '$T/daemon.log') -ge 2 ]"
check "with an address from the new range ($(lease_addr))" in_range 6
check "the old address is gone" sh -c "! ip -n cmx-h0 addr show simwwan0 | grep -q '${first%/24}/'"
check "uplink show: the new lease's address" wait_for 5 jis 'u["addresses"]' "[\"$(lease_addr)\"]"
check "uplink show: the lost lease's reason, the NAK" jis 'u["last_error"]' '"DHCP: NAK from the server"'
check "/metrics: the old address is gone" \
	sh -c "! curl -sf --max-time 5 http://127.0.0.1:$PORT/metrics | grep -qF 'address=\"$first\"'"
before=$(http_log | wc -l)
check "the session reaches the internet again" \
	wait_for 20 sh -c "tail -n +$((before + 1)) /run/cellmux-sim/http.log | grep -q ' 200 session=s1\$'"

# The carrier's upstream dies for good: the ladder redoes the lease, twice, then the cap holds.
discovers() { grep -c "DHCPDISCOVER(sub)" "$DHCP_LOG"; }
d0=$(discovers)
"$SIM" cut 0 >/dev/null || die "cellmux-sim cut 0"
check "h0 is failed" wait_for 10 logs "uplink h0: health failed" 1
check "step 1 redoes the lease" wait_for 10 logs "uplink h0: recovery step 1: redoing the data session" 1
check "a new DISCOVER reached the modem's server" wait_for 5 sh -c "[ \$(grep -c 'DHCPDISCOVER(sub)' '$DHCP_LOG') -gt $d0 ]"
check "step 2 redoes it again: no modem to reset" \
	wait_for 15 logs "uplink h0: recovery step 2: redoing the data session" 1
check "then the cap holds: 2 steps in the last hour" \
	wait_for 20 logs "uplink h0: recovery: 2 steps in the last hour (recover_max_per_hour=2)" 1
check "uplink show: 2 reconnects, no reset" jis 'u["recoveries"]' '{"reconnect": 2, "reset": 0}'
check "/metrics counts them" mhas 'cellmux_uplink_recoveries_total{uplink="h0",step="reconnect"} 2'
healthy=$(grep -c "uplink h0: health healthy" "$T/daemon.log")
"$SIM" heal 0 >/dev/null || die "cellmux-sim heal 0"
check "healed, h0 is healthy again" wait_for 15 logs "uplink h0: health healthy" $((healthy + 1))
check "and the ladder is at rest" jis '[u["health"], u["recovery"]]' '["healthy", null]'

# A modem whose DHCP server never answers: the reason is said, not left at "connecting".
dhcp_stop
check "cellmuxctl uplink reconnect h0 (the server gone)" ctl uplink reconnect h0
check "uplink show: no offer, and why" \
	wait_for 20 jis 'u["last_error"]' '"DHCP: no offer after 3 DISCOVERs"'
check "the log says it too" logs "uplink h0: DHCP: no offer after 3 DISCOVERs" 1
check "h0 holds no address meanwhile" jis 'u["addresses"]' '[]'
dhcp_server 100.64.0.70 100.64.0.79 || die "dnsmasq again"
check "cellmuxctl uplink reconnect h0 (the server back)" ctl uplink reconnect h0
check "a lease from the server brings h0 back" wait_for 15 in_range 7

check "SIGTERM stops the daemon with status 0" stop_daemon
check "stop released the lease" wait_for 5 grep -q "DHCPRELEASE(sub)" "$DHCP_LOG"
check "no namespace, cgroup or /etc/netns entry left" nothing_left
check "simwwan0 is back in the host namespace" ip link show simwwan0
