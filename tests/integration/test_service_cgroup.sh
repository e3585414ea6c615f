#!/bin/bash
# test_service_cgroup.sh — started by systemd (INVOCATION_ID set) in its unit's cgroup with no
# cgroup= in the config, cellmuxd moves itself to the leaf <unit>/supervisor and makes its
# sessions under <unit>/cellmux, so the unit's cgroup holds no process and may hand controllers
# down (cgroup v2's rule); without INVOCATION_ID it stays where it was started.
#
#   $CG2/cellmux-test-PID (the "unit") ── supervisor (cellmuxd) ── cellmux/s1 (init, worker)
. "$(dirname "$0")/lib.sh"

sim_up 1
{
	printf '[daemon]\nctl_socket=%s/ctl.sock\nbpf_dir=%s\nstate_dir=%s/state\n\n' "$T" "$BPFDIR" "$T"
	printf '[metrics]\nlisten=off\n\n'
	printf '[profile p]\nexec=%s --url http://198.18.0.1/ip --interval 1\n\n' "$PROBE"
	printf '[session s1]\nprofile=p\n'
} | make_config
mkdir -p "$CGROOT"
# Starts cellmuxd in the "unit" cgroup, as systemd would.
printf '#!/bin/sh\necho $$ >%s/cgroup.procs && exec %s "$@"\n' "$CGROOT" "$CELLMUXD" >"$T/in-unit"
chmod 755 "$T/in-unit"
CELLMUXD=$T/in-unit
own_cgroup() { sed -n 's/^0:://p' "/proc/$DAEMON_PID/cgroup"; }
# The session's init and its worker: two processes in the session cgroup.
worker_in() { [ "$(wc -l <"$CGROOT/cellmux/s1/cgroup.procs" 2>/dev/null)" -ge 2 ]; }

INVOCATION_ID=cellmuxtest start_daemon
check "the daemon moved to <unit>/supervisor ($(own_cgroup))" [ "$(own_cgroup)" = "$CGPATH/supervisor" ]
check "the unit's cgroup holds no process" [ -z "$(cat "$CGROOT/cgroup.procs")" ]
check "s1's init and worker run in <unit>/cellmux/s1" wait_for 20 worker_in
check "clean stop" stop_daemon
check "no session cgroup left" [ ! -e "$CGROOT/cellmux/s1" ]

# The same start without systemd's INVOCATION_ID: nothing moves.
start_daemon
check "without INVOCATION_ID the daemon stays in the unit's cgroup ($(own_cgroup))" \
	[ "$(own_cgroup)" = "$CGPATH" ]
check "clean stop" stop_daemon
rmdir "$CGROOT/supervisor" 2>/dev/null
check "namespaces gone" bash -c '! ip netns list | grep -q "^cmx-"'
