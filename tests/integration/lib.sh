# lib.sh — shared by the namespace integration tests: the sim lab, a daemon under test, polling
# helpers and PASS/FAIL bookkeeping. Every test sources it and gets cleanup on any exit.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/assert.sh"
# One lab per machine: every test here may take the sim and cmx-* namespaces down.
. "$(dirname "${BASH_SOURCE[0]}")/../lablock.sh"

BUILD=${BUILD:-build}
BUILD=$(cd "$BUILD" && pwd)
SIM=$BUILD/cellmux-sim
CELLMUXD=$BUILD/cellmuxd
PROBE=$BUILD/workers/cellmux-probe
T=$(mktemp -d /tmp/cellmux-test.XXXXXX)
chmod 755 "$T"
# Workers run as nobody, who may not be able to reach a checkout under /root: run a copy.
cp "$PROBE" "$T/cellmux-probe" && PROBE=$T/cellmux-probe
DAEMON_PID=
CLEANUP_EXTRA=()
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -1)
[ -n "$CG2" ] || { echo "FAIL: no cgroup v2 mount"; exit 1; }
# Unique per run: tests of several checkouts may share this machine.
CGPATH=/cellmux-test-$$
CGROOT=$CG2$CGPATH
# Counters are pinned by name and outlive daemons on purpose: each run counts in its own dir.
BPFDIR=/sys/fs/bpf/cellmux-test-$$

cleanup() {
	local rc=$?
	set +e
	for c in "${CLEANUP_EXTRA[@]}"; do eval "$c"; done
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		# Under strace (stop_traced) DAEMON_PID is the tracer, which a signal only detaches:
		# the daemon itself is its child.
		local traced
		if traced=$(pgrep -P "$DAEMON_PID" -x cellmuxd); then
			kill -TERM $traced # strace exits with it
		else
			kill -TERM "$DAEMON_PID"
		fi
		wait_for 20 daemon_gone || kill -KILL $traced "$DAEMON_PID"
	fi
	# A daemon killed by force leaves its namespaces: take them down the way an operator would.
	for ns in $(ip netns list | awk '/^cmx-/ { print $1 }'); do
		ip netns pids "$ns" | xargs -r kill -KILL
		ip netns delete "$ns"
		rm -rf "/etc/netns/$ns"
	done
	[ -d "$CGROOT" ] && find "$CGROOT" -depth -type d -exec rmdir {} + 2>/dev/null
	# Hybrid hosts: the daemon's parallel v1 cgroups (memory, pids, cpu) under the same path.
	for m in $(findmnt -n -t cgroup -o TARGET); do
		[ -d "$m$CGPATH" ] && find "$m$CGPATH" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	"$SIM" down >/dev/null 2>&1
	rm -rf "$BPFDIR" 2>/dev/null
	if [ $rc -ne 0 ] || [ $FAILS -ne 0 ]; then
		echo "--- daemon log (tail) ---"
		tail -${LOG_TAIL:-40} "$T/daemon.log" 2>/dev/null
	fi
	rm -rf "$T"
	[ $FAILS -eq 0 ] && exit $rc
	exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

daemon_gone() { ! kill -0 "$DAEMON_PID" 2>/dev/null; }

sim_up() { # N
	"$SIM" up --modems "$1" >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; die "cellmux-sim up"; }
}

# The sim's uplink sections plus what the test appends.
make_config() { # N-sessions-per-... ; reads extra sections from stdin
	"$SIM" config >"$T/cellmux.conf" || die "cellmux-sim config"
	cat >>"$T/cellmux.conf"
}

start_daemon() { # extra args...
	"$CELLMUXD" -c "$T/cellmux.conf" "$@" >"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 20 grep -q "ready:" "$T/daemon.log" || { cat "$T/daemon.log"; die "daemon not ready"; }
	# The daemon runs uncounted when BPF does not load (a warning); a test run must not.
	if grep -q "accounting unavailable" "$T/daemon.log"; then
		grep "accounting unavailable" "$T/daemon.log"
		die "accounting did not load: every test daemon must count"
	fi
}

# The daemon in a mount namespace of its own whose /sys/class/usbmisc is the sim's fake QMI
# modems' sysfs (tools/sim/fakesys.c: their cdc-wdm ports, USB paths and data interfaces, as a
# qmi_wwan modem shows them); /sys/class/net stays the kernel's (bound back through an fd opened
# before the tmpfs hides it) and /run/netns stays shared, so `ip netns` sees its namespaces.
start_daemon_fakesys() { # extra args...
	[ -d /run/cellmux-sim/sys/class/usbmisc ] || die "no fake sysfs: cellmux-sim up --qmi first"
	unshare --mount --propagation unchanged sh -c '
		set -e
		mount --make-rprivate /sys
		exec 3</sys/class/net
		mount -t tmpfs -o mode=755 cmx-fakesys /sys/class
		mkdir /sys/class/net /sys/class/usbmisc
		mount --no-canonicalize --bind /proc/self/fd/3 /sys/class/net
		exec 3<&-
		mount --bind /run/cellmux-sim/sys/class/usbmisc /sys/class/usbmisc
		exec "$@"' sh "$CELLMUXD" -c "$T/cellmux.conf" "$@" >"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 20 grep -q "ready:" "$T/daemon.log" || { cat "$T/daemon.log"; die "daemon not ready"; }
	grep -q "accounting unavailable" "$T/daemon.log" && die "accounting did not load"
	return 0
}

# A daemon started under `strace -f`: DAEMON_PID is strace's, the daemon its child; strace
# passes on the daemon's exit status.
stop_traced() {
	local real
	real=$(pgrep -P "$DAEMON_PID" -x cellmuxd) || return 1
	kill -TERM "$real"
	wait_for 20 daemon_gone || return 1
	wait "$DAEMON_PID"
	local rc=$?
	DAEMON_PID=
	return $rc
}

stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait_for 20 daemon_gone || return 1
	wait "$DAEMON_PID"
	local rc=$?
	DAEMON_PID=
	return $rc
}

# The pid of a session's worker, from its cgroup: the kernel's word, not the daemon's log.
session_cgroup() { echo "$CGROOT/$1"; }
# A session's cgroup holds its init (PID 1 of the session's PID namespace, the daemon's child)
# and the worker that init forked: the worker is the init's child.
session_init_pid() {
	local p
	for p in $(cat "$(session_cgroup "$1")/cgroup.procs" 2>/dev/null); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] && { echo "$p"; return; }
	done
}
worker_pid() {
	local init
	init=$(session_init_pid "$1")
	[ -n "$init" ] && awk '{ print $1 }' "/proc/$init/task/$init/children" 2>/dev/null
}
netns_inode() { stat -L -c %i "$1"; }
# The uplink a session's worker is in, by netns inode: the kernel's view, not the daemon's
# (none: no worker; host-namespace: a namespace that is no uplink's, a name no test gives an uplink).
uplink_of() {
	local pid ino ns
	pid=$(worker_pid "$1")
	[ -n "$pid" ] || { echo none; return; }
	ino=$(netns_inode "/proc/$pid/ns/net") || { echo none; return; }
	for ns in /run/netns/cmx-*; do
		[ "$(netns_inode "$ns")" = "$ino" ] && { basename "$ns" | sed 's/^cmx-//'; return; }
	done
	echo host-namespace
}
http_log() { cat /run/cellmux-sim/http.log 2>/dev/null; }
# The client addresses the sim's web server saw for a session's requests.
egress_of() { http_log | awk -v s="session=$1" '$NF == s && $5 == 200 { print $2 }' | sort -u; }
carrier_addr() { echo "198.18.1.$(($1 + 1))"; }
# Client addresses of a session's successful requests after http log line $2, and whether any.
egress_since() { tail -n +$(($2 + 1)) /run/cellmux-sim/http.log | awk -v s="session=$1" '$NF == s && $5 == 200 { print $2 }' | sort -u; }
seen_since() { [ -n "$(egress_since "$1" "$2")" ]; }
http_lines() { wc -l </run/cellmux-sim/http.log; }
# Predicates for wait_for: session $1's worker is in uplink $2's namespace; it has no worker;
# the daemon's log says $1; cmx-$1 is gone.
on() { [ "$(uplink_of "$1")" = "$2" ]; }
no_worker() { [ -z "$(worker_pid "$1")" ]; }
logged() { grep -q -- "$1" "$T/daemon.log"; }
ns_gone() { ! ip netns list | grep -q "^cmx-$1\b"; }

# [daemon] section pointing session cgroups, counters and the store (state_dir, unless
# backend_lib.sh's STATE names one) at test-owned places.
daemon_section() {
	printf '[daemon]\ncgroup=%s\nctl_socket=%s/ctl.sock\nbpf_dir=%s\n' "$CGPATH" "$T" "$BPFDIR"
	[ -n "${STATE:-}" ] || printf 'state_dir=%s/state\n' "$T"
	echo
}
ctl() { "$BUILD/cellmuxctl" --socket "$T/ctl.sock" "$@"; }

nothing_left() {
	local left
	left=$(ip netns list | grep -c '^cmx-')
	[ "$left" -eq 0 ] || { echo "namespaces left: $(ip netns list | grep '^cmx-')"; return 1; }
	[ ! -e "$CGROOT" ] || { echo "cgroup root left"; return 1; }
	ls /etc/netns 2>/dev/null | grep -q '^cmx-' && { echo "/etc/netns entries left"; return 1; }
	return 0
}

# A process that still runs: zombies (this machine's init reaps slowly) count as gone.
alive() { [ -e "/proc/$1" ] && ! awk '{ exit !($3 == "Z") }' "/proc/$1/stat" 2>/dev/null; }
