#!/bin/bash
# test_reexec.sh — `cellmuxctl daemon reexec` (and SIGUSR2) execs the binary on disk, as an
# upgrade does: the daemon keeps its pid, the new image is the file that replaced the old one
# (a new inode at the same path), every worker keeps its pid (0 restarts), the admin socket and
# /metrics answer again, counters go on from where they were; SIGTERM afterwards still leaves
# nothing behind.
# Seen failing: with main() tearing the daemon down before the exec (daemon_free instead of
# daemon_forget), every "kept its worker" check failed and the namespaces were rebuilt.
. "$(dirname "$0")/lib.sh"

sim_up 2
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
	daemon_section
	printf '[metrics]\nlisten=127.0.0.1:%s\n\n' "$PORT"
	printf '[profile idle]\nexec=/bin/sleep 1000\n\n'
	for s in a b c d; do printf '[session %s]\nprofile=idle\n\n' "$s"; done
} | make_config
# The daemon runs from a copy, so the test can replace "the binary on disk" as dpkg does.
mkdir -p "$T/sbin"
cp "$CELLMUXD" "$T/sbin/cellmuxd"
CELLMUXD=$T/sbin/cellmuxd
start_daemon
pid0=$DAEMON_PID
declare -A w0
for s in a b c d; do w0[$s]=$(worker_pid $s); done
check "four workers run (${w0[*]})" [ "$(echo ${w0[*]} | wc -w)" = 4 ]
restarts() { ctl --json session show "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d["restarts"])'; }
# To a file: grep -q would end the pipe early, and pipefail would count curl's SIGPIPE.
metrics_up() { curl -sf -o "$T/scrape" "http://127.0.0.1:$PORT/metrics" && grep -q '^cellmux_build_info' "$T/scrape"; }
check "metrics answer before" metrics_up
# An upgrade: a new file at the same path (another inode); the running image is the old one.
cp "$CELLMUXD" "$T/sbin/cellmuxd.new" && mv "$T/sbin/cellmuxd.new" "$T/sbin/cellmuxd"
new_inode=$(stat -c %i "$T/sbin/cellmuxd")
check "the running image is the replaced file" \
	[ "$(stat -L -c %i /proc/$DAEMON_PID/exe 2>/dev/null)" != "$new_inode" ]
ready_before=$(grep -c "ready:" "$T/daemon.log")
check "cellmuxctl daemon reexec is acknowledged" ctl daemon reexec
reexeced() { [ "$(grep -c "ready:" "$T/daemon.log")" -gt "$ready_before" ]; }
check "the new image says ready" wait_for 20 reexeced
check "same daemon pid ($pid0)" eval '[ "$DAEMON_PID" = "$pid0" ] && alive "$pid0"'
check "it runs the new file" [ "$(stat -L -c %i /proc/$DAEMON_PID/exe)" = "$new_inode" ]
for s in a b c d; do
	check "session $s kept its worker (${w0[$s]})" [ "$(worker_pid $s)" = "${w0[$s]}" ]
done
check "all four adopted" grep -q "ready: 2 uplinks, 4 sessions (4 adopted)" "$T/daemon.log"
check "no restart counted" [ "$(restarts a)" = 0 ]
check "the admin socket answers" ctl status
check "metrics answer after" wait_for 10 metrics_up
# SIGUSR2 does the same.
ready_before=$(grep -c "ready:" "$T/daemon.log")
kill -USR2 "$DAEMON_PID"
check "SIGUSR2 re-executes too" wait_for 20 reexeced
for s in a b c d; do
	check "session $s still has its worker" [ "$(worker_pid $s)" = "${w0[$s]}" ]
done
check "SIGTERM stops the daemon with status 0" stop_daemon
for s in a b c d; do check "worker ${w0[$s]} is gone" eval "! alive ${w0[$s]}"; done
check "nothing left" nothing_left
