#!/bin/bash
# demo.sh — `make demo`: three fake modems, cellmuxd, six probe sessions; prints which egress
# address the server saw for each session, then takes everything down again.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lablock.sh
B=$(pwd)/build
# The binaries: the build tree's by default; tests/dist/test_deb.sh runs the installed ones.
CELLMUXD=${CELLMUXD:-$B/cellmuxd}
CELLMUXCTL=${CELLMUXCTL:-$B/cellmuxctl}
CELLMUX_SIM=${CELLMUX_SIM:-$B/cellmux-sim}
CELLMUX_PROBE=${CELLMUX_PROBE:-$B/workers/cellmux-probe}
D=$(mktemp -d /tmp/cellmux-demo.XXXXXX)
chmod 755 "$D"
PID=
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -1)

cleanup() {
	set +e
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null
	fi
	"$CELLMUX_SIM" down >/dev/null 2>&1
	rm -rf "$D" /sys/fs/bpf/cellmux-demo
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo make demo)" >&2; exit 1; }
start=$SECONDS
# Workers run as nobody, who may not be able to reach a checkout under /root: run a copy.
cp "$CELLMUX_PROBE" "$D/cellmux-probe"
echo "== cellmux-sim up --modems 3: three fake carriers, each with its own public address"
"$CELLMUX_SIM" up --modems 3 >/dev/null || exit 1
"$CELLMUX_SIM" status

{
	"$CELLMUX_SIM" config
	cat <<EOF2
[daemon]
cgroup=/cellmux-demo
ctl_socket=$D/ctl.sock
bpf_dir=/sys/fs/bpf/cellmux-demo
state_dir=$D/state

[profile probe]
exec=$D/cellmux-probe --url http://198.18.0.1/ip --interval 1 --resolve carrier.cellmux.test
EOF2
	for s in 1 2 3 4 5 6; do printf '\n[session s%d]\nprofile=probe\n' "$s"; done
} >"$D/cellmux.conf"

echo
echo "== $CELLMUXD -c $D/cellmux.conf (log: $D/daemon.log)"
"$CELLMUXD" -c "$D/cellmux.conf" >"$D/daemon.log" 2>&1 &
PID=$!

egress() { awk -v s="session=$1" '$NF == s && $5 == 200 { print $2 }' /run/cellmux-sim/http.log 2>/dev/null | tail -1; }
for _ in $(seq 150); do
	n=0
	for s in 1 2 3 4 5 6; do [ -n "$(egress s$s)" ] && n=$((n + 1)); done
	[ $n -eq 6 ] && break
	kill -0 "$PID" 2>/dev/null || { cat "$D/daemon.log"; exit 1; }
	sleep 0.1
done
grep -E "uplink .*: up|started on" "$D/daemon.log" | sed 's/^/   /'

echo
printf '%-8s | %-7s | %-10s | %s\n' session uplink "worker pid" "egress IP seen by the server"
printf -- '---------+---------+------------+------------------------------\n'
seen=0
for s in 1 2 3 4 5 6; do
	# The session's init (PID 1 of its PID namespace) is in the cgroup first; the worker is
	# its child.
	init=$(head -1 "$CG2/cellmux-demo/s$s/cgroup.procs" 2>/dev/null)
	pid=$(awk '{ print $1 }' "/proc/$init/task/$init/children" 2>/dev/null)
	up=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^CELLMUX_UPLINK=//p')
	printf '%-8s | %-7s | %-10s | %s\n' "s$s" "${up:-?}" "${pid:-?}" "$(egress s$s)"
	[ -n "$(egress s$s)" ] && seen=$((seen + 1))
done

echo
echo "== cellmuxctl uplink list (counters from eBPF)"
"$CELLMUXCTL" --socket "$D/ctl.sock" uplink list

echo
echo "== SIGTERM: workers stop, namespaces go, interfaces return"
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
tail -3 "$D/daemon.log" | sed 's/^/   /'
"$CELLMUX_SIM" down
left=$(ip netns list | grep -cE '^(cmx-|cmxsim-)')
echo "namespaces left: $left; took $((SECONDS - start)) s; cellmuxd exit status $rc; $seen of 6 sessions reached the server"
[ "$rc" -eq 0 ] && [ "$left" -eq 0 ] && [ "$seen" -eq 6 ]
