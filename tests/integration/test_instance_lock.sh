#!/bin/bash
# test_instance_lock.sh — one cellmuxd per state_dir and per bpf_dir: a second one started with
# the same config (by hand, beside the service) is refused before it touches anything, and says
# why; one sharing only the pin directory is refused too (the pinned maps are one daemon's);
# the first daemon's session runs on undisturbed, and a re-exec keeps the lock.
. "$(dirname "$0")/lib.sh"

sim_up 1
{
	daemon_section
	printf '[metrics]\nlisten=off\n\n[profile idle]\nexec=/bin/sleep 1000\nuser=nobody\n\n[session a]\nprofile=idle\n'
} | make_config
start_daemon
check "session a runs" wait_for 10 sh -c "[ -n \"\$(cat '$(session_cgroup a)/cgroup.procs' 2>/dev/null)\" ]"
w0=$(worker_pid a)
ns0=$(netns_inode /run/netns/cmx-sim0)

# The same config again: refused at once, nothing of the first one touched.
"$CELLMUXD" -c "$T/cellmux.conf" >"$T/second.log" 2>&1
rc=$?
check "a second cellmuxd with the same config exits 1" [ $rc -eq 1 ]
check "... saying the state directory is another cellmuxd's" \
	grep -q "$T/state is in use by another cellmuxd (one per state_dir and bpf_dir)" "$T/second.log"
check "... before it brought anything up" bash -c "! grep -q 'uplink sim0' '$T/second.log'"
# Only the pin directory shared: refused too, naming it.
sed "s|^state_dir=.*|state_dir=$T/state2|; s|^ctl_socket=.*|ctl_socket=$T/ctl2.sock|" \
	"$T/cellmux.conf" >"$T/other.conf"
"$CELLMUXD" -c "$T/other.conf" >"$T/third.log" 2>&1
rc=$?
check "one sharing only bpf_dir exits 1" [ $rc -eq 1 ]
check "... naming the pin directory" grep -q "$BPFDIR is in use by another cellmuxd" "$T/third.log"
check "the first daemon still runs" kill -0 "$DAEMON_PID"
check "its worker is the same process" [ "$(worker_pid a)" = "$w0" ]
check "its uplink's namespace is the same" [ "$(netns_inode /run/netns/cmx-sim0)" = "$ns0" ]
check "it still answers" ctl status

# A re-exec (SIGUSR2) takes the lock again: a second daemon is still refused afterwards.
kill -USR2 "$DAEMON_PID"
check "the re-exec'd daemon is ready again" wait_for 20 sh -c "[ \$(grep -c 'ready:' '$T/daemon.log') -ge 2 ]"
"$CELLMUXD" -c "$T/cellmux.conf" >"$T/fourth.log" 2>&1
check "after the re-exec a second cellmuxd is still refused" \
	grep -q "$T/state is in use by another cellmuxd" "$T/fourth.log"
check "the daemon stops cleanly" stop_daemon
check "nothing left behind" nothing_left
