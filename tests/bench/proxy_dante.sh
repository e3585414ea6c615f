#!/bin/bash
# proxy_dante.sh — cellmux-proxy against Debian's dante-server (danted), both in one throwaway
# network namespace run with `ip netns exec`, in the same run, interleaved: one stream's
# throughput (MB/s) and new SOCKS5 connections per second (4 clients), medians and ratios,
# printed, never asserted. Both without authentication, so the figures compare the proxies'
# relays, not their password checks. --quick: 1 round, smaller.
#
#   netns cmxbench-proxy-PID (lo only):  proxy_load.py clients ── 127.0.0.1:PC cellmux-proxy ──┐
#                                                              └─ 127.0.0.1:PD danted ────────┴─ 127.0.0.1:PS target
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$(pwd)/build
ROUNDS=5 BYTES=$((1 << 30)) CONNS=4000
[ "${1:-}" = --quick ] && ROUNDS=1 BYTES=$((64 << 20)) CONNS=400
command -v danted >/dev/null || { echo "FAIL: danted missing (tools/deps.sh installs dante-server)"; exit 1; }
[ -x "$B/workers/cellmux-proxy" ] || { echo "FAIL: no $B/workers/cellmux-proxy (make builds it)"; exit 1; }
NS=cmxbench-proxy-$$
T=$(mktemp -d /tmp/cellmux-bench-proxy.XXXXXX)
PC=21080 PD=21081 PS=21090
cleanup() {
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	ip netns delete "$NS" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
nsx() { ip netns exec "$NS" "$@"; }

cat >"$T/danted.conf" <<EOF2
logoutput: $T/danted.log
internal: 127.0.0.1 port = $PD
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
EOF2
nsx python3 tests/bench/proxy_load.py server $PS >"$T/server.log" 2>&1 &
nsx "$B/workers/cellmux-proxy" --no-auth --listen 127.0.0.1:$PC ${PROXY_ARGS:-} >"$T/proxy.log" 2>&1 &
nsx danted -f "$T/danted.conf" >"$T/danted.out" 2>&1 &
for _ in $(seq 100); do
	grep -q ready "$T/server.log" && nsx bash -c "exec 3<>/dev/tcp/127.0.0.1/$PC && exec 4<>/dev/tcp/127.0.0.1/$PD" 2>/dev/null && break
	sleep 0.1
done
nsx bash -c "exec 3<>/dev/tcp/127.0.0.1/$PC && exec 4<>/dev/tcp/127.0.0.1/$PD" ||
	{ cat "$T"/*.log "$T/danted.out"; echo "FAIL: proxies did not come up"; exit 1; }

declare -A R
for r in $(seq "$ROUNDS"); do
	for p in cellmux dante; do
		port=$([ $p = cellmux ] && echo $PC || echo $PD)
		R[$p.tput]+=" $(nsx python3 tests/bench/proxy_load.py tput $port $PS $BYTES)"
		R[$p.cps]+=" $(nsx python3 tests/bench/proxy_load.py cps $port $PS $CONNS 4)"
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "proxy_dante: $ROUNDS rounds, one stream of $((BYTES >> 20)) MiB, $CONNS connections from 4 clients"
for m in tput cps; do
	c=$(echo "${R[cellmux.$m]}" | median) d=$(echo "${R[dante.$m]}" | median)
	unit=$([ $m = tput ] && echo "MB/s" || echo "conn/s")
	printf '  %-24s cellmux-proxy %8s  danted %8s  ratio %s   (runs: cellmux%s; dante%s)\n' \
		"$([ $m = tput ] && echo throughput || echo new-connections)" "$c $unit" "$d $unit" \
		"$(awk -v a="$c" -v b="$d" 'BEGIN { printf "%.2f", a / b }')" "${R[cellmux.$m]}" "${R[dante.$m]}"
done
