#!/bin/bash
# test_ipv6.sh — an IPv6-only uplink (static, netdev): the address and the IPv6 default route
# land in cmx-<uplink> and a connection over IPv6 leaves through it. (IPv6 through a second way
# out is test_killswitch.sh's.)
#
#   cmx-v6: v6wan fd00:64::2/64 ──veth── v6peer fd00:64::1/64 (test ns cmxt6-<pid>, TCP :8080)
. "$(dirname "$0")/lib.sh"

PEER=cmxt6-$$
ip netns add "$PEER"
CLEANUP_EXTRA+=("ip netns pids $PEER | xargs -r kill; ip netns del $PEER 2>/dev/null; ip link del v6wan 2>/dev/null")
ip link add v6wan type veth peer name v6peer netns "$PEER"
ip -n "$PEER" link set lo up
ip -n "$PEER" addr add fd00:64::1/64 dev v6peer nodad
ip -n "$PEER" link set v6peer up
# A TCP server that answers with the client's address, like the sim's /ip.
ip netns exec "$PEER" python3 -c '
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("fd00:64::1", 8080)); s.listen(8)
while True:
    c, a = s.accept(); c.sendall((a[0] + "\n").encode()); c.close()
' &
CLEANUP_EXTRA+=("kill $! 2>/dev/null")

daemon_section >"$T/cellmux.conf"
cat >>"$T/cellmux.conf" <<EOF2
[metrics]
listen=off

[uplink v6]
driver=netdev
interface=v6wan
address=fd00:64::2/64
gateway=fd00:64::1
EOF2
start_daemon

check "the IPv6 address is on v6wan inside cmx-v6" \
	sh -c "ip -n cmx-v6 -6 addr show v6wan | grep -q 'fd00:64::2/64'"
check "the IPv6 default route goes via the gateway" \
	sh -c "ip -n cmx-v6 -6 route show default | grep -q 'via fd00:64::1 dev v6wan'"
out=$(ip netns exec cmx-v6 python3 -c '
import socket
s = socket.create_connection(("fd00:64::1", 8080), timeout=2); print(s.recv(100).decode().strip())' 2>&1)
check "a connection through cmx-v6 arrives from fd00:64::2 ($out)" [ "$out" = "fd00:64::2" ]

check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
check "v6wan is back in the host namespace" ip link show v6wan
