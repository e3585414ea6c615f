#!/bin/bash
# test_datapath.sh — the core promise: each session's worker runs in its uplink's namespace and
# own cgroup, leaves through its own carrier's public address and nothing else, asks its own
# carrier's DNS; a cut carrier's sessions fail without leaking elsewhere; SIGTERM leaves nothing
# behind.
#
#   worker s1..s6 ── cmx-sim<i> (simwwan<i>, nft "inet cellmux") ── carrier cmxsim-c<i>
#        (NAT to 198.18.1.<i+1>) ── cmxsim-inet bridge ── httpd 198.18.0.1:80 /ip
. "$(dirname "$0")/lib.sh"

N=3
sim_up $N
{
	daemon_section
	cat <<EOF2
[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.5 --timeout 2 --resolve carrier.cellmux.test
user=nobody
restart=on-failure

EOF2
	for s in 1 2 3 4 5 6; do printf '[session s%d]\nprofile=probe\n\n' $s; done
} | make_config
start_daemon

all_reported() {
	for s in 1 2 3 4 5 6; do [ -n "$(egress_of s$s)" ] || return 1; done
}
wait_for 30 all_reported || fail "every session reached the server"

# The uplink a worker is in, by netns inode: the kernel's view.
uplink_of_pid() {
	local ino ns
	ino=$(netns_inode "/proc/$1/ns/net")
	for ns in /run/netns/cmx-*; do
		[ "$(netns_inode "$ns")" = "$ino" ] && { basename "$ns" | sed 's/^cmx-//'; return; }
	done
	echo "host?"
}

declare -A placed egress
cgroups=()
for s in 1 2 3 4 5 6; do
	pid=$(worker_pid s$s)
	[ -n "$pid" ] || { fail "s$s has a worker in its cgroup"; continue; }
	up=$(uplink_of_pid "$pid")
	placed[s$s]=$up
	env_up=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^CELLMUX_UPLINK=//p')
	check "s$s worker $pid is in namespace cmx-$up (same inode), as its env says ($env_up)" \
		[ "$up" = "$env_up" ]
	cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
	check "s$s worker is in its own cgroup ($cg)" [ "$cg" = "$CGPATH/s$s" ]
	cgroups+=("$cg")
	i=${up#sim}
	e=$(egress_of s$s)
	egress[s$s]=$e
	check "s$s egress seen by the server is its carrier's address ($e = $(carrier_addr "$i"))" \
		[ "$e" = "$(carrier_addr "$i")" ]
	check "s$s runs unprivileged with no capabilities" \
		grep -q '^CapEff:[[:space:]]*0000000000000000' "/proc/$pid/status"
done
check "6 sessions are spread 2 per uplink" \
	[ "$(printf '%s\n' "${placed[@]}" | sort | uniq -c | awk '{print $1}' | sort -u)" = 2 ]
check "3 uplinks give 3 distinct egress addresses" \
	[ "$(printf '%s\n' "${egress[@]}" | sort -u | wc -l)" = 3 ]
check "6 distinct cgroups" [ "$(printf '%s\n' "${cgroups[@]}" | sort -u | wc -l)" = 6 ]

# DNS: the probe's Status carries what carrier.cellmux.test resolved to (fields the daemon keeps
# without reading them); each carrier's dnsmasq answers it with that carrier's own address, so
# the answer names the resolver that answered.
status_dns() {
	ctl --json session show "$1" | python3 -c 'import json, sys
st = json.load(sys.stdin)["status"] or {"fields": {}}
f = st["fields"]
print(st.get("state"), f.get("resolved_name"), f.get("resolved_addresses"))'
}
dns_is() { [ "$(status_dns "$1")" = "$2" ]; }
for s in 1 2 3 4 5 6; do
	i=${placed[s$s]#sim}
	check "s$s DNS answered by its own carrier's resolver ($(status_dns s$s))" \
		wait_for 10 dns_is s$s "ok carrier.cellmux.test $(carrier_addr "$i")"
done
check "carrier 0's dnsmasq logged the workers' queries" grep -q 'carrier.cellmux.test' /run/cellmux-sim/dns0.log

# iproute2 sees our namespaces and can work in them.
for i in $(seq 0 $((N - 1))); do
	check "ip netns list shows cmx-sim$i" grep -qx "cmx-sim$i.*" <(ip netns list)
	check "ip netns exec cmx-sim$i reaches the carrier" ip netns exec "cmx-sim$i" \
		sh -c "ip -4 addr show simwwan$i | grep -q 100.64.$i.2"
	check "nft inside cmx-sim$i shows the cellmux table" \
		sh -c "ip netns exec cmx-sim$i nft list ruleset | grep -q 'table inet cellmux'"
done

# Carrier cut: sessions on sim0 must fail while its carrier is cut, and nothing of theirs may
# appear at the server through another carrier or the host. (The kill switch against a real
# second way out is test_killswitch.sh.)
victims=()
for s in 1 2 3 4 5 6; do [ "${placed[s$s]}" = sim0 ] && victims+=(s$s); done
nft add table ip cmxtest
CLEANUP_EXTRA+=("nft delete table ip cmxtest 2>/dev/null")
nft add chain ip cmxtest pre '{ type filter hook prerouting priority -300; }'
nft add rule ip cmxtest pre ip saddr 100.64.0.0/10 counter
"$SIM" cut 0 || fail "cellmux-sim cut 0"
before=$(http_log | wc -l)
failed="session ${victims[0]} (uplink sim0): status failed: "
errors_before=$(grep -c "$failed" "$T/daemon.log")
wait_for 20 sh -c "[ \$(grep -c '$failed' '$T/daemon.log') -ge $((errors_before + 3)) ]"
check "sessions on the cut uplink report failed rounds" \
	[ "$(grep -c "$failed" "$T/daemon.log")" -ge $((errors_before + 3)) ]
new_lines=$(http_log | tail -n +$((before + 1)))
for v in "${victims[@]}"; do
	check "server saw no request from $v while its carrier was cut" \
		sh -c "! printf '%s\n' \"\$1\" | grep -q 'session=$v\$'" _ "$new_lines"
done
check "other sessions kept working meanwhile" \
	sh -c "printf '%s\n' \"\$1\" | grep -q ' 200 session='" _ "$new_lines"
host=$(nft list chain ip cmxtest pre | grep -o 'packets [0-9]*' | awk '{ print $2 }')
check "nothing from the subscriber range reached the host namespace (packets=$host)" [ "$host" = 0 ]
"$SIM" heal 0
before=$(http_log | wc -l)
check "after heal, ${victims[0]} reaches the server again" \
	wait_for 20 sh -c "tail -n +$((before + 1)) /run/cellmux-sim/http.log | grep -q ' 200 session=${victims[0]}\$'"

# SIGTERM: everything goes, interfaces come home.
pids=$(cat "$CGROOT"/s*/cgroup.procs)
check "SIGTERM stops the daemon with status 0" stop_daemon
check "no namespace, cgroup or /etc/netns entry left" nothing_left
for p in $pids; do check "worker $p is gone" sh -c "! kill -0 $p 2>/dev/null"; done
for i in $(seq 0 $((N - 1))); do
	check "simwwan$i is back in the host namespace" ip link show "simwwan$i"
done
