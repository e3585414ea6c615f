#!/bin/bash
# test_crash_recovery.sh — a daemon killed with SIGKILL leaves namespaces (with the modem
# interfaces inside) behind, but no worker: each session's init has PDEATHSIG set after its
# last credential change, so the kernel kills it, and with it the session's PID namespace. The
# next start reclaims the interfaces and serves as before; its SIGTERM then leaves nothing.
# Seen failing: with prctl(PR_SET_PDEATHSIG) moved back before setresuid() (which clears it),
# both workers outlived the daemon and the two "died with the daemon" checks failed.
. "$(dirname "$0")/lib.sh"

sim_up 2
{
	daemon_section
	printf '[profile idle]\nexec=/bin/sleep 1000\n\n[session a]\nprofile=idle\n\n[session b]\nprofile=idle\n'
} | make_config
start_daemon
old_a=$(worker_pid a)
old_b=$(worker_pid b)
init_a=$(session_init_pid a)
check "session a has a worker ($old_a) under its init ($init_a)" [ -n "$old_a" -a -n "$init_a" ]
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
check "after SIGKILL the namespaces are still there" sh -c "ip netns list | grep -q '^cmx-sim0'"
check "and simwwan0 is inside cmx-sim0, not in the host" sh -c "! ip link show simwwan0 2>/dev/null && ip -n cmx-sim0 link show simwwan0 >/dev/null"
check "--check-config finds the interface inside the stale namespace" \
	"$CELLMUXD" --check-config -c "$T/cellmux.conf"

check "session a's worker died with the daemon (no new daemon yet)" wait_for 5 eval "! alive $old_a"
check "session b's worker died with the daemon" wait_for 5 eval "! alive $old_b"
check "session a's init died with the daemon" wait_for 5 eval "! alive $init_a"
check "session a's cgroup is empty" wait_for 5 sh -c "[ -z \"\$(cat '$(session_cgroup a)/cgroup.procs')\" ]"

start_daemon
new_a=$(worker_pid a)
check "session a runs a new worker ($old_a -> $new_a)" [ -n "$new_a" -a "$new_a" != "$old_a" ]
check "the new worker is in cmx-sim0" \
	[ "$(netns_inode "/proc/$new_a/ns/net")" = "$(netns_inode /run/netns/cmx-sim0)" ]
check "simwwan0 is configured again inside cmx-sim0" \
	sh -c "ip -n cmx-sim0 -4 addr show simwwan0 | grep -q 100.64.0.2/24"
check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
check "simwwan0 is back in the host namespace" ip link show simwwan0
