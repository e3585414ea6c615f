#!/bin/bash
# test_restart.sh — supervision: a crashing worker is restarted with exponential backoff per its
# profile; one that exits 0 under restart=on-failure is not; restart=no never restarts.
. "$(dirname "$0")/lib.sh"

sim_up 1
{
	daemon_section
	cat <<'EOF2'
[profile crasher]
exec=/bin/sh -c 'exit 3'
restart=on-failure
restart_sec=200ms
restart_max_sec=800ms

[profile oneshot]
exec=/bin/true
restart=on-failure

[profile never]
exec=/bin/sh -c 'kill -SEGV $$'
restart=no

[session crash]
profile=crasher

[session clean]
profile=oneshot

[session dead]
profile=never
EOF2
} | make_config
start_daemon

check "crasher is restarted after 200 ms, 400 ms, 800 ms, then capped at 800 ms" \
	wait_for 20 sh -c "grep -o 'session crash: restarting in [0-9]* ms' '$T/daemon.log' | awk '{print \$5}' | head -5 | tr '\n' ' ' | grep -qx '200 400 800 800 800 '"
check "a worker that exits 0 under on-failure is not restarted" \
	grep -q "session clean: worker finished, not restarting" "$T/daemon.log"
check "a crash under restart=no is not restarted" \
	grep -q "session dead: worker finished, not restarting (restart=no)" "$T/daemon.log"
starts=$(grep -c "session clean: worker .* started" "$T/daemon.log")
check "the clean session started exactly once ($starts)" [ "$starts" -eq 1 ]
check "the crash was seen as a signal" grep -q "session dead: worker .* killed by signal" "$T/daemon.log"
check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
