#!/bin/bash
# test_watchdog.sh — the sd_notify side of cellmux.service without systemd: against a
# NOTIFY_SOCKET this test reads, cellmuxd sends READY=1 once up, WATCHDOG=1 again and again at
# half of WATCHDOG_USEC from its main loop (none while that loop is stopped, again once it
# runs), none when WATCHDOG_PID names another process, and STOPPING=1 at SIGTERM.
#
#   cellmuxd ──datagrams──▶ $T/notify (AF_UNIX DGRAM, read by a python3 logger) ──▶ $T/notify.log
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || die "python3 missing"

cat >"$T/notify.py" <<'EOF2'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    print("listening", file=f, flush=True)
    while True:
        for line in s.recv(4096).decode().split("\n"):
            print(line, file=f, flush=True)
EOF2
python3 "$T/notify.py" "$T/notify" "$T/notify.log" &
NPID=$!
CLEANUP_EXTRA+=("kill $NPID 2>/dev/null")
wait_for 10 grep -q listening "$T/notify.log" || die "notify logger did not start"

{
	daemon_section
	printf '[metrics]\nlisten=off\n'
} >"$T/cellmux.conf"
# WATCHDOG_PID must be the daemon's own pid: known only once the shell execs it.
printf '#!/bin/sh\nWATCHDOG_PID=${WD_PID:-$$} exec %s "$@"\n' "$CELLMUXD" >"$T/cellmuxd-wd"
chmod 755 "$T/cellmuxd-wd"
CELLMUXD=$T/cellmuxd-wd
export NOTIFY_SOCKET=$T/notify WATCHDOG_USEC=400000

pings() { grep -c '^WATCHDOG=1$' "$T/notify.log"; }
pings_above() { [ "$(pings)" -gt "$1" ]; }

start_daemon
check "READY=1 once up" grep -q '^READY=1$' "$T/notify.log"
check "the daemon logs its ping interval" grep -q "watchdog: pinging every 200 ms" "$T/daemon.log"
check "WATCHDOG=1 again and again" wait_for 20 pings_above 3

# A stopped loop sends nothing (what makes systemd restart a hung daemon); it pings again
# when it runs.
kill -STOP "$DAEMON_PID"
stopped() { awk '{ exit $3 != "T" }' "/proc/$DAEMON_PID/stat"; }
wait_for 5 stopped || fail "the daemon stopped"
before=$(pings)
if wait_for 2 pings_above "$before"; then fail "no pings while the daemon is stopped"
else pass "no pings while the daemon is stopped"; fi
kill -CONT "$DAEMON_PID"
check "pings again after SIGCONT" wait_for 20 pings_above "$before"
check "clean stop" stop_daemon
check "STOPPING=1 at SIGTERM" grep -q '^STOPPING=1$' "$T/notify.log"

# Someone else's watchdog (WATCHDOG_PID of another process): no pings, READY=1 all the same.
: >"$T/notify.log"
WD_PID=1 start_daemon
check "READY=1 with a foreign WATCHDOG_PID" grep -q '^READY=1$' "$T/notify.log"
if wait_for 2 pings_above 0; then fail "no pings for a foreign WATCHDOG_PID"; else pass "no pings for a foreign WATCHDOG_PID"; fi
check "no ping interval logged for a foreign WATCHDOG_PID" \
	bash -c "! grep -q 'watchdog:' '$T/daemon.log'"
check "clean stop" stop_daemon

# A garbled interval is said, not guessed at.
WATCHDOG_USEC=soon start_daemon
check "garbled WATCHDOG_USEC is logged" grep -q "WATCHDOG_USEC/WATCHDOG_PID unreadable" "$T/daemon.log"
check "clean stop" stop_daemon
check "nothing left behind" nothing_left
