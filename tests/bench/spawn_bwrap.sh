#!/bin/bash
# spawn_bwrap.sh — one session start with cellmux's sandbox against `ip netns exec NS bwrap
# <equivalent flags> true` (Debian's bubblewrap), measured in the same run, interleaved: medians
# and ratios, printed, never asserted. --quick: a smoke pass of 3 starts each.
#
#   cellmuxd --debug ── cmx-sim0 ── sessions b1..bN (profile idle: /bin/sleep), started one at a
#   time with `cellmuxctl session start`: "spawn took N us" (clone to exec, from the daemon's
#   log) and the wall time of the request; then, for each, one bwrap in the same namespace.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lablock.sh
B=$(pwd)/build
N=30
[ "${1:-}" = --quick ] && N=3
command -v bwrap >/dev/null || { echo "FAIL: bwrap missing (tools/deps.sh installs bubblewrap)"; exit 1; }
T=$(mktemp -d /tmp/cellmux-bench-spawn.XXXXXX)
chmod 755 "$T"
PID=
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && while kill -0 "$PID" 2>/dev/null; do sleep 0.2; done
	"$B/cellmux-sim" down >/dev/null 2>&1 || true
	rm -rf "$T" /sys/fs/bpf/cellmux-bench-spawn
}
trap cleanup EXIT
"$B/cellmux-sim" down >/dev/null 2>&1 || true
"$B/cellmux-sim" up --modems 1 >/dev/null
{
	printf '[uplink sim0]\ndriver=netdev\ninterface=simwwan0\naddress=100.64.0.2/24\ngateway=100.64.0.1\ndns=100.64.0.1\ncapacity=%d\n\n' $((2 * N + 1))
	printf '[daemon]\ncgroup=/cellmux-bench-spawn\nctl_socket=%s/ctl.sock\nbpf_dir=/sys/fs/bpf/cellmux-bench-spawn\nstate_dir=%s/state\n\n' "$T" "$T"
	printf '[metrics]\nlisten=off\n\n[profile idle]\nexec=/bin/sleep 100000\nrestart=no\n\n'
	# The same without a task limit: no cgroup controller to join, like bwrap, which makes none.
	printf '[profile bare]\nexec=/bin/sleep 100000\nrestart=no\npids_max=infinity\n'
} >"$T/cellmux.conf"
"$B/cellmuxd" --debug -c "$T/cellmux.conf" >"$T/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 600); do grep -q "ready:" "$T/daemon.log" && break; sleep 0.1; done
grep -q "ready:" "$T/daemon.log" || { tail "$T/daemon.log"; echo "FAIL: cellmuxd not ready"; exit 1; }

# What cellmux's sandbox does, in bwrap's words: own PID, IPC and UTS namespaces, a new session,
# the system read-only, private /tmp /var/tmp /dev/shm, /run and homes hidden, its own /proc and
# a minimal /dev, an unprivileged uid without capabilities, dies with its parent, and a seccomp
# filter of the sandbox's shape (build/helpers/seccomp-export, on fd 9). Not matched: the
# cgroup, a cost only cellmux pays; bwrap maps the uid through a user namespace, cellmux sets
# it directly.
"$B/helpers/seccomp-export" >"$T/filter.bpf" || { echo "FAIL: seccomp-export"; exit 1; }
BWRAP=(bwrap --unshare-user --uid 65534 --gid 65534 --unshare-pid --unshare-ipc --unshare-uts
	--die-with-parent --new-session --cap-drop ALL --seccomp 9
	--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /var/tmp --tmpfs /dev/shm
	--tmpfs /run --tmpfs /home --tmpfs /root --tmpfs /sys/fs/cgroup
	--ro-bind /etc/netns/cmx-sim0/resolv.conf /etc/resolv.conf true)
[ -e /etc/netns/cmx-sim0/resolv.conf ] || BWRAP=("${BWRAP[@]:0:${#BWRAP[@]}-4}" true)
ip netns exec cmx-sim0 "${BWRAP[@]}" 9<"$T/filter.bpf" || { echo "FAIL: bwrap does not run here"; exit 1; }

now_us() { echo "${EPOCHREALTIME/./}"; }
ctl_us=() bwrap_us=()
for i in $(seq 1 $N); do
	t0=$(now_us)
	"$B/cellmuxctl" --socket "$T/ctl.sock" session start --profile idle --name "b$i" >/dev/null
	ctl_us+=($(($(now_us) - t0)))
	"$B/cellmuxctl" --socket "$T/ctl.sock" session start --profile bare --name "n$i" >/dev/null
	t0=$(now_us)
	ip netns exec cmx-sim0 "${BWRAP[@]}" 9<"$T/filter.bpf"
	bwrap_us+=($(($(now_us) - t0)))
done
for _ in $(seq 50); do
	[ "$(grep -c 'spawn took' "$T/daemon.log")" -ge $((2 * N)) ] && break
	sleep 0.1
done
spawn_us=($(sed -n 's/.*session b[0-9]*: spawn took \([0-9]*\) us.*/\1/p' "$T/daemon.log"))
bare_us=($(sed -n 's/.*session n[0-9]*: spawn took \([0-9]*\) us.*/\1/p' "$T/daemon.log"))
[ "${#spawn_us[@]}" -ge "$N" ] && [ "${#bare_us[@]}" -ge "$N" ] ||
	{ echo "FAIL: ${#spawn_us[@]}+${#bare_us[@]} of 2x$N 'spawn took' lines in the daemon's log"; exit 1; }

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%9.3f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%9.2f x", b ? a / b : 0 }'; }
m_spawn=$(median "${spawn_us[@]}")
m_ctl=$(median "${ctl_us[@]}")
m_bwrap=$(median "${bwrap_us[@]}")
m_bare=$(median "${bare_us[@]}")
v1=$(findmnt -n -t cgroup -o TARGET | grep -c 'pids\|memory' || true)
echo "session start with the sandbox vs. bwrap, one uplink, median of $N, interleaved:"
echo "  cellmuxd spawn (clone to exec)       $(ms "$m_spawn")   (default pids_max=256$([ "$v1" -gt 0 ] && echo ': this host has pids on cgroup v1, joined by a cgroup.procs write'))"
echo "  cellmuxd spawn, no limits            $(ms "$m_bare")   (pids_max=infinity: born in its v2 cgroup only)"
echo "  cellmuxctl session start (wall)      $(ms "$m_ctl")"
echo "  ip netns exec NS bwrap ... true      $(ms "$m_bwrap")   (with --seccomp)"
echo "  ratio bwrap / cellmuxd spawn         $(ratio "$m_bwrap" "$m_spawn")   (aim: >= 1)"
echo "  ratio bwrap / cellmuxd spawn, no limits $(ratio "$m_bwrap" "$m_bare")   (like for like: bwrap joins no cgroup)"
echo "  ratio bwrap / session start (wall)   $(ratio "$m_bwrap" "$m_ctl")"
