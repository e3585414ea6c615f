#!/bin/bash
# test_metrics_live.sh — a /metrics scrape reads a session's cgroup through descriptors it keeps
# open while the worker runs (pread from 0, sandbox/cgroup.c): every value must still be the
# kernel's at that scrape. The worker grows on SIGUSR1 (32 MiB touched, 4 threads) and says so
# on stdout; the one scrape after that line must show it. A limit rewritten behind the daemon's
# back shows at the next scrape; a restarted worker's cgroup reads as the new worker's; the
# descriptors exist while a worker runs and are gone once it is.
#
#   curl ── 127.0.0.1:$PORT ── cellmuxd ── cmx-sim0: hog (python3, pids_max=64, memory_max=512M)
#
# Seen failing: the kept descriptor read with read() instead of pread(..., 0) (from its second
# read on, at the end of the text: empty, read as 0) → "grown 2: memory", "grown 2: tasks" and
# "pids.max rewritten" failed; cgroup_session_usage_close() left out of worker_gone() → "no
# descriptors once the worker is gone" failed (5).
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || die "python3 is missing"
command -v findmnt >/dev/null || die "findmnt is missing"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$T/hog.py" <<'EOF'
import os, signal, sys, threading, time
blocks = []
def grow(*_):
    b = bytearray(32 << 20)
    for i in range(0, len(b), 4096):
        b[i] = 1
    blocks.append(b)
    for _ in range(4):
        threading.Thread(target=time.sleep, args=(10000,), daemon=True).start()
    print("grown %d pid %d" % (len(blocks), os.getpid()), flush=True)
signal.signal(signal.SIGUSR1, grow)
print("ready pid %d" % os.getpid(), flush=True)
while True:
    time.sleep(1)
EOF
chmod 644 "$T/hog.py"

sim_up 1
{
	daemon_section
	printf '[metrics]\nlisten=127.0.0.1:%s\n\n' "$PORT"
	printf '[profile hog]\nexec=/usr/bin/python3 %s\nbind_ro=%s\npids_max=64\nmemory_max=512M\n' \
		"$T/hog.py" "$T/hog.py"
	printf 'restart=always\nrestart_sec=200ms\n\n'
	printf '[session hog]\nprofile=hog\nuplink=sim0\n'
} | make_config
start_daemon

check "hog's worker says it is ready" wait_for 20 grep -q "session hog: ready pid" "$T/daemon.log"
W=$(worker_pid hog)
[ -n "$W" ] || die "no worker for hog"

# The directory of controller $1 for hog: v2 when the file $2 is there, else the v1 hierarchy.
cg_dir() {
	local d m
	d=$(session_cgroup hog)
	[ -e "$d/$2" ] && { echo "$d"; return; }
	m=$(findmnt -n -t cgroup -O "$1" -o TARGET | head -1)
	[ -n "$m" ] && [ -e "$m$CGPATH/hog/$3" ] && echo "$m$CGPATH/hog"
}
PIDSDIR=$(cg_dir pids pids.max pids.max)
[ -n "$PIDSDIR" ] || die "hog's pids cgroup not found"

M=http://127.0.0.1:$PORT/metrics
scrape() { curl -sf --max-time 5 "$M" >"$T/m"; }
L='{uplink="sim0",session="hog"}'
val() { awk -v s="$1$L" '$1 == s { print $2; f = 1 } END { exit !f }' "$T/m"; }
held() { ls -l "/proc/$DAEMON_PID/fd" 2>/dev/null | grep -c -- "$CGPATH/hog/"; }
MIB=$((1 << 20))

check "first scrape" scrape
mem0=$(val cellmux_session_memory_bytes) tasks0=$(val cellmux_session_tasks)
check "hog has a memory figure ($mem0) and a task count ($tasks0)" eval '[ -n "$mem0" ] && [ -n "$tasks0" ]'
[ -n "$mem0" ] && [ -n "$tasks0" ] || die "no figures for hog"
# Memory, its limit, OOM kills, tasks, their limit: five files, or the scrape read by path.
check "the daemon keeps hog's cgroup files open ($(held))" [ "$(held)" -ge 5 ]

grown() { # N: the worker said it grew N times, since the line at offset $off of the log
	tail -c +"$off" "$T/daemon.log" | grep -q "session hog: grown $1 pid"
}
for n in 1 2; do
	off=$(($(stat -c %s "$T/daemon.log") + 1))
	kill -USR1 "$W"
	check "hog grew ($n)" wait_for 10 grown "$n"
	scrape || die "scrape failed"
	mem=$(val cellmux_session_memory_bytes) tasks=$(val cellmux_session_tasks)
	# 32 MiB less what the interpreter may have given back meanwhile.
	check "grown $n: memory at the next scrape ($mem) >= $mem0 + $n x 28 MiB" \
		[ "${mem:-0}" -ge $((mem0 + n * 28 * MIB)) ]
	check "grown $n: tasks at the next scrape ($tasks) >= $tasks0 + $n x 4" \
		[ "${tasks:-0}" -ge $((tasks0 + n * 4)) ]
done

echo 63 >"$PIDSDIR/pids.max" || die "cannot write pids.max"
scrape || die "scrape failed"
check "pids.max rewritten behind the daemon's back: the next scrape says 63" \
	[ "$(val cellmux_session_tasks_max)" = 63 ]

# A new worker in the same cgroup: its own small figures, not the old one's.
off=$(($(stat -c %s "$T/daemon.log") + 1))
kill -KILL "$W"
restarted() { tail -c +"$off" "$T/daemon.log" | grep -q "session hog: ready pid"; }
check "hog's worker restarts" wait_for 20 restarted
W2=$(worker_pid hog)
check "a new worker ($W2, was $W)" eval '[ -n "$W2" ] && [ "$W2" != "$W" ]'
scrape || die "scrape failed"
mem=$(val cellmux_session_memory_bytes) tasks=$(val cellmux_session_tasks)
check "restarted: memory ($mem) is below the grown worker's ($mem0 + 64 MiB)" \
	[ "${mem:-999999999999}" -lt $((mem0 + 64 * MIB)) ]
check "restarted: tasks ($tasks) are the new worker's, not the old one's 8 threads more" \
	[ "${tasks:-999}" -lt $((tasks0 + 4)) ]
check "restarted: tasks_max is still the kernel's 63" [ "$(val cellmux_session_tasks_max)" = 63 ]
check "restarted: the files are kept again ($(held))" [ "$(held)" -ge 5 ]

ctl uplink down sim0 >/dev/null || fail "uplink down"
gone() { [ -z "$(worker_pid hog)" ] && ! grep -q "^cellmux_session_memory_bytes$L" <(curl -sf "$M"); }
check "after uplink down, hog has no worker" wait_for 20 gone
check "no descriptors once the worker is gone ($(held))" [ "$(held)" = 0 ]

stop_daemon
check "nothing left behind" nothing_left
