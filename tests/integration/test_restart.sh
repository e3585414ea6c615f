#!/bin/bash
# test_restart.sh — supervision, measured from the workers' own clocks: a crashing worker is
# restarted after restart_sec doubling up to restart_max_sec (the gaps between the
# CLOCK_MONOTONIC starts each worker prints, never shorter than the schedule, at most
# TOLERANCE_MS longer); restart=always restarts a clean exit on its fixed delay; a worker that
# exits 0 under restart=on-failure, or crashes under restart=no, starts exactly once.
#
#   cellmuxd ── session crash/always/clean/dead (start-stamp, cmx-sim0) ── stdout ─▶ daemon.log
#   every start prints "cmx-start <monotonic ns> <tag>"; the test reads those, not the daemon's
#   own account of what it did.
. "$(dirname "$0")/lib.sh"

# The machine is noisy (four agents, two cores): a restart may come late, never early.
TOLERANCE_MS=250
STARTS=7 # 6 gaps: 200, 400, 800 (the cap), 800, 800, 800 ms
STAMP=$BUILD/helpers/start-stamp
[ -x "$STAMP" ] || die "no $STAMP (make builds it)"
cp "$STAMP" "$T/start-stamp" # workers run unprivileged: a copy they can reach

sim_up 1
{
	daemon_section
	cat <<EOF2
[profile crasher]
exec=$T/start-stamp crash 3
restart=on-failure
restart_sec=200ms
restart_max_sec=800ms

[profile steady]
exec=$T/start-stamp always 0
restart=always
restart_sec=300ms
restart_max_sec=300ms

[profile oneshot]
exec=$T/start-stamp clean 0
restart=on-failure
restart_sec=200ms

[profile never]
exec=$T/start-stamp dead segv
restart=no
restart_sec=200ms

[session crash]
profile=crasher

[session always]
profile=steady

[session clean]
profile=oneshot

[session dead]
profile=never
EOF2
} | make_config
start_daemon

stamps() { grep -o "cmx-start [0-9]* $1\$" "$T/daemon.log" | awk '{ print $2 }'; }
enough() { [ "$(stamps crash | wc -l)" -ge $STARTS ] && [ "$(stamps always | wc -l)" -ge 4 ]; }
check "the crashing worker started $STARTS times, the restart=always one 4 times" wait_for 30 enough

# gaps NAME DELAYS...: each gap between consecutive starts against its scheduled delay.
gaps() {
	local name=$1
	shift
	stamps "$name" | python3 -c '
import sys
tol, want = int(sys.argv[1]), [int(x) for x in sys.argv[2:]]
t = [int(l) for l in sys.stdin]
gaps = [(b - a) / 1e6 for a, b in zip(t, t[1:])][:len(want)]
print("    gaps (ms): " + ", ".join("%.1f (want %d..%d)" % (g, w, w + tol) for g, w in zip(gaps, want)))
sys.exit(not (len(gaps) == len(want) and all(w <= g <= w + tol for g, w in zip(gaps, want))))
' "$TOLERANCE_MS" "$@"
}
check "crash: restarted after 200, 400, 800 ms, then capped at 800 (never early, <= +${TOLERANCE_MS} ms)" \
	gaps crash 200 400 800 800 800 800
check "always: a clean exit is restarted every 300 ms (never early, <= +${TOLERANCE_MS} ms)" \
	gaps always 300 300 300

# By now the crasher has run for seconds: had clean or dead been restarted, 200 ms after their
# exit, their second stamp would be in the log.
check "a worker that exits 0 under on-failure started exactly once" [ "$(stamps clean | wc -l)" -eq 1 ]
check "a crash under restart=no started exactly once" [ "$(stamps dead | wc -l)" -eq 1 ]
state() { ctl --json session show "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d['state'], d['restarts'])"; }
check "cellmuxctl: clean is stopped with 0 restarts ($(state clean))" [ "$(state clean)" = "stopped 0" ]
check "cellmuxctl: dead is stopped with 0 restarts ($(state dead))" [ "$(state dead)" = "stopped 0" ]
n=$(state crash | awk '{ print $2 }')
check "cellmuxctl: crash counts its restarts ($n >= $((STARTS - 1)))" [ "$n" -ge $((STARTS - 1)) ]
check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
