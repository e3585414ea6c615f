#!/bin/bash
# test_reload.sh — SIGHUP re-reads the config: an added session starts, a removed one stops,
# one whose profile changed restarts, an added uplink comes up, and a broken file changes
# nothing at all.
. "$(dirname "$0")/lib.sh"

sim_up 2
"$SIM" config | sed -n '/^\[uplink sim0\]/,/^$/p' >"$T/uplink0.conf"
"$SIM" config | sed -n '/^\[uplink sim1\]/,/^$/p' >"$T/uplink1.conf"
write_conf() { # sessions... ; profile arg
	{
		daemon_section
		cat "$T/uplink0.conf"
		[ -n "${WITH_SIM1:-}" ] && cat "$T/uplink1.conf"
		printf '\n[profile idle]\nexec=/bin/sleep %s\n' "${SLEEP:-1000}"
		for s in "$@"; do printf '\n[session %s]\nprofile=idle\n' "$s"; done
	} >"$T/cellmux.conf"
}
reload() { kill -HUP "$DAEMON_PID"; }

write_conf a b
start_daemon
a1=$(worker_pid a)
b1=$(worker_pid b)

write_conf a c
reload
check "added session c starts" wait_for 10 eval '[ -n "$(worker_pid c)" ]'
check "removed session b's worker is gone" wait_for 10 eval "! alive $b1"
check "removed session b's cgroup is gone" wait_for 10 eval '[ ! -d "$(session_cgroup b)" ]'
check "unchanged session a keeps its worker" [ "$(worker_pid a)" = "$a1" ]

SLEEP=2000 write_conf a c
reload
check "a changed profile restarts session a" wait_for 10 eval '[ -n "$(worker_pid a)" ] && [ "$(worker_pid a)" != "$a1" ]'
check "the new worker runs the new command" \
	wait_for 5 eval 'tr "\\0" " " </proc/$(worker_pid a)/cmdline | grep -q "sleep 2000"'

WITH_SIM1=1 SLEEP=2000 write_conf a c
reload
check "an added uplink comes up" wait_for 10 eval 'ip netns list | grep -q "^cmx-sim1"'

a2=$(worker_pid a)
printf '[uplink broken\n' >>"$T/cellmux.conf"
reload
check "a broken file is refused with FILE:LINE" \
	wait_for 5 grep -q "reload refused, nothing changed: $T/cellmux.conf:[0-9]*:" "$T/daemon.log"
check "and changes nothing" [ "$(worker_pid a)" = "$a2" ]
check "the daemon still runs" kill -0 "$DAEMON_PID"

check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
