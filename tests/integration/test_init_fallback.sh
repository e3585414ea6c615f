#!/bin/bash
# test_init_fallback.sh — a cellmuxd that finds no cellmux-init (neither beside it nor in
# ../libexec/cellmux/) still runs its sessions, with an init that is a copy of itself, and says
# so: the worker runs, exits with its status as the session's, restarts and stops as usual.
# (test_spawn_syscalls.sh holds the normal case: the init is cellmux-init.)
. "$(dirname "$0")/lib.sh"

STAMP=$BUILD/helpers/start-stamp
cp "$STAMP" "$T/start-stamp"
# A copy of the daemon alone in a directory: nothing to find beside it, no ../libexec.
mkdir -p "$T/alone/sbin"
cp "$CELLMUXD" "$T/alone/sbin/cellmuxd"
CELLMUXD=$T/alone/sbin/cellmuxd
sim_up 1
{
	daemon_section
	printf '[profile idle]\nexec=/bin/sleep 1000\nuser=nobody\n\n[session a]\nprofile=idle\n\n'
	printf '[profile crash]\nexec=%s/start-stamp crash 3\nrestart=on-failure\nrestart_sec=200ms\n\n' "$T"
	printf '[session c]\nprofile=crash\n'
} | make_config
start_daemon
check "the daemon says its sessions' inits are copies of it" \
	logged "no $T/alone/sbin/cellmux-init: each session's init will be a copy of cellmuxd"
wait_for 10 sh -c "[ -n \"\$(cat '$(session_cgroup a)/cgroup.procs' 2>/dev/null)\" ]" ||
	die "session a did not start"
wait_for 10 sh -c "[ \"\$(cat '$(session_cgroup a)/cgroup.procs' 2>/dev/null | wc -l)\" -ge 2 ]"
init_pid=$(session_init_pid a)
check "session a's init is the copy of cellmuxd" \
	[ "$(readlink "/proc/$init_pid/exe")" = "$CELLMUXD" ]
check "session a's worker runs" [ -n "$(worker_pid a)" ]
check "the init is not dumpable (its /proc files are root's)" \
	[ "$(stat -c %u "/proc/$init_pid/fd")" = 0 ]
check "a crash is the session's exit status (3), then a restart" \
	wait_for 10 sh -c "[ \"\$(grep -c 'cmx-start [0-9]* crash' '$T/daemon.log')\" -ge 2 ] &&
		grep -q 'session c: worker [0-9]* exited with status 3' '$T/daemon.log'"
check "cellmuxctl session stop a" ctl session stop a
check "session a's processes are gone" wait_for 10 no_worker a
check "SIGTERM stops the daemon" stop_daemon
check "nothing left" nothing_left
