#!/bin/bash
# test_proxy_chromium.sh — a real browser through front doors (issue 14): Debian's headless
# Chromium, given one cellmux-proxy session per uplink as its SOCKS5 proxy, loads a page from
# the sim internet; the sim's web server logs that uplink's carrier address, the name is
# resolved by that carrier's resolver and no packet on the host carries it.
#
#   chromium --headless --proxy-server=socks5://127.0.0.1:Pi ── cellmuxd's listener (host ns)
#        │ accepted in cmx-sim<i> by session c<i>'s worker (cellmux-proxy --no-auth)
#   simwwan<i> ── carrier c<i> (NAT 198.18.1.<i+1>, dnsmasq) ── inet: 198.18.0.1:80 /ip
# Chromium sends no SOCKS5 credentials, so these sessions run --no-auth on loopback (the
# README's advice for browsers).
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PROXY=$BUILD/workers/cellmux-proxy
[ -x "$PROXY" ] || die "no $PROXY (make builds it)"
CHROMIUM=$(command -v chromium) || die "chromium missing (tools/deps.sh installs it)"
cp "$PROXY" "$T/cellmux-proxy"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P0=$(free_port) P1=$(free_port) P2=$(free_port)

sim_up 3
{
	daemon_section
	cat <<EOF2
[metrics]
listen=off

[profile open]
exec=$T/cellmux-proxy --no-auth --handshake-timeout 5

[session c0]
profile=open
uplink=sim0
listen=127.0.0.1:$P0

[session c1]
profile=open
uplink=sim1
listen=127.0.0.1:$P1

[session c2]
profile=open
uplink=sim2
listen=127.0.0.1:$P2
EOF2
} | make_config
start_daemon
serving() { [ "$(grep -c 'cellmux-proxy: serving' "$T/daemon.log")" -ge 3 ]; }
check "three proxy workers serve their handed-over sockets" wait_for 20 serving

# Chromium as root needs --no-sandbox; each run gets its own throwaway profile under $T (the
# trap removes it) and its own session (setsid), whose leftovers the cleanup ends by group.
# The flags keep it from talking to anything but the page (updates, sync, metrics).
browse() { # port url out
	local dir=$T/chromium-$1
	mkdir -p "$dir"
	setsid timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$dir" \
		--no-first-run --no-default-browser-check --disable-background-networking \
		--disable-component-update --disable-sync --disable-breakpad --disable-default-apps \
		--proxy-server="socks5://127.0.0.1:$1" --dump-dom "$2" >"$3" 2>"$3.err" &
	local pid=$!
	CLEANUP_EXTRA+=("kill -KILL -- -$pid 2>/dev/null")
	wait $pid
}

# The host's packets, on every interface: the proxied names must never be among them. The
# sniffer first proves it sees a name the host itself looks up.
MB=h14host$$b
marks=()
for i in 0 1 2; do marks+=("h14chr$$x$i"); done
coproc SNIFF { python3 "$HERE/dns_sniff.py" "${marks[@]}" "$MB"; }
CLEANUP_EXTRA+=("kill $SNIFF_PID 2>/dev/null")
read -r -t 20 ready <&"${SNIFF[0]}"
[ "$ready" = ready ] || fail "dns_sniff.py did not start"

for i in 0 1 2; do
	port=$(eval echo \$P$i) want=$(carrier_addr $i) label=${marks[$i]}
	tag="chromium-$$-$i"
	url="http://$label.ip.cellmux.test/ip?$tag"
	browse "$port" "$url" "$T/dom$i"
	rc=$?
	dom=$(cat "$T/dom$i")
	echo "    c$i: chromium rc=$rc dom: $dom"
	check "c$i: headless Chromium loaded the page through socks5://127.0.0.1:$port" \
		eval '[ $rc -eq 0 ] && [[ "$dom" == *"$want"* ]]'
	# The server's own record of the request: "ms PEER GET PATH STATUS session=..."
	peer=$(awk -v p="/ip?$tag" '$3 == "GET" && $4 == p && $5 == 200 { print $2 }' /run/cellmux-sim/http.log | sort -u)
	check "c$i: the sim's server logged carrier $i's address $want for it (got '$peer')" \
		[ "$peer" = "$want" ]
	check "c$i: the name was resolved by carrier $i's resolver" grep -q "$label" "/run/cellmux-sim/dns$i.log"
	other=$(( (i + 1) % 3 ))
	check "c$i: ... and not by carrier $other's" eval '! grep -q "$label" "/run/cellmux-sim/dns$other.log"'
done
[ $FAILS -eq 0 ] || cat "$T"/dom*.err | grep -v dbus | tail -20

getent hosts "$MB.ip.cellmux.test" >/dev/null
exec {SNIFF_IN}>&"${SNIFF[1]}"
exec {SNIFF[1]}>&- {SNIFF_IN}>&-
read -r -t 20 counts <&"${SNIFF[0]}"
echo "    host-side packets carrying each name: $counts"
check "the sniffer sees the host's own lookup (positive control)" eval '[[ "$counts" =~ $MB=[1-9] ]]'
for i in 0 1 2; do
	check "no packet on the host carries the name Chromium loaded through c$i" \
		eval '[[ " $counts " == *" ${marks[$i]}=0 "* ]]'
done

stop_daemon || fail "daemon exit status"
check "nothing left behind" nothing_left
exit 0
