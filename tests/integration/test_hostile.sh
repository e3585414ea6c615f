#!/bin/bash
# test_hostile.sh — a hostile session beside three ordinary ones (issue 11): every attack on its
# neighbours, the host and the daemon fails, the others keep their worker and 0 restarts, the
# daemon keeps answering, and its limit hits (pids_max, memory_max) are its own failures only.
#
#   script (pty) ── cellmuxd ──┬─ v1, v2, v3: cellmux-hostile victim → cellmux-probe
#                              │   (each plants /tmp/cmx-victim-NAME and STATE/secret, 0644)
#                              └─ h: cellmux-hostile attack (pids_max=32, memory_max=64M)
#   all four in cmx-sim0 ── carrier cmxsim-c0 ── cmxsim-inet httpd 198.18.0.1:80
#   host: /run/cellmux-test-sock-PID (0777, a listener counting connections)
#
# How it failed on main at d22f4ff (workers as nobody, no PID namespace, the host's filesystem,
# no seccomp, the daemon's terminal inherited; pids_max/memory_max dropped from the profile, as
# that parser refuses them): ok for signal-any (the sim's dnsmasq and every worker), ptrace,
# ptrace-child, pidfd-getfd, signal-session (v1..v3 lost their worker and restarted),
# read-tmp, read-state, read-config, host-socket (the listener counted 1), unshare-user,
# unshare-user-net, mount-userns, io_uring, tiocsti and tiocsti-stdio (cmxSTIjunk echoed on
# the pty), the forged line raw in the log, fork (256 children), memory (256M, no restart).
# Refused even there, by the uid alone: unshare-net, mount, bpf (unprivileged_bpf_disabled),
# write-etc/usr/usr-local. Run by hand under bwrap (PID, user and mount namespaces, new
# session, / read-only, tmpfs /tmp /run /var/lib) only the seccomp attempts, fork and memory
# stayed ok; in v1 pids/memory cgroups of 32 and 64M, fork stopped at 30 (EAGAIN) and both
# hogs were OOM-killed. Note: on a host whose cgroup v2 has no pids/memory controllers
# (cgroup.controllers empty, both bound to v1), no v2 limit holds and the limit checks fail.
. "$(dirname "$0")/lib.sh"

HOSTILE=$(dirname "$PROBE")/cellmux-hostile
cp "$BUILD/helpers/cellmux-hostile" "$HOSTILE" || die "no $BUILD/helpers/cellmux-hostile (make builds it)"
command -v script >/dev/null || die "script(1) missing (util-linux)"
command -v python3 >/dev/null || die "python3 missing"
SOCK=/run/cellmux-test-sock-$$
# Outside /tmp, so that only hiding the daemon's state_dir keeps it out, not a private /tmp.
STATE=/var/lib/cellmux-test-$$
VICTIMS="v1 v2 v3"
CLEANUP_EXTRA+=("rm -f /tmp/cmx-victim-v1 /tmp/cmx-victim-v2 /tmp/cmx-victim-v3; rm -rf $STATE")

# Stands in for resolved's varlink socket, nscd, D-Bus: any host socket a worker could use.
python3 -c '
import os, socket, sys
path, count = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); os.chmod(path, 0o777); s.listen(16)
n = 0
open(count, "w").write("0\n")
while True:
    c, _ = s.accept(); c.close(); n += 1
    open(count, "w").write("%d\n" % n)
' "$SOCK" "$T/sock.count" &
LISTENER=$!
CLEANUP_EXTRA+=("kill $LISTENER 2>/dev/null; rm -f $SOCK")
wait_for 10 test -S "$SOCK" || die "test listener on $SOCK"

sim_up 1
{
	daemon_section | sed "/^state_dir=/d; /^bpf_dir=/a state_dir=$STATE"
	cat <<EOF2
[metrics]
listen=off

[profile probe]
exec=$HOSTILE victim $PROBE --url http://198.18.0.1/ip --interval 0.5 --timeout 2
bind_ro=$PROBE
restart=always

[profile hostile]
exec=$HOSTILE attack --victims v1,v2,v3 --victim-exe $PROBE --tmp-prefix /tmp/cmx-victim- --state-dir $STATE --socket $SOCK --config $T/cellmux.conf
restart=on-failure
restart_sec=2s
pids_max=32
memory_max=64M

EOF2
	for v in $VICTIMS; do printf '[session %s]\nprofile=probe\n\n' "$v"; done
} | make_config

# On a pty, as an operator runs it in the foreground: a worker that kept the daemon's terminal
# could type into it (TIOCSTI), and the line discipline would echo what it typed into this log.
script -qfc "exec $CELLMUXD -c $T/cellmux.conf" /dev/null </dev/null >"$T/daemon.log" 2>&1 &
SCRIPT_PID=$!
CLEANUP_EXTRA+=("[ -z \"\$DAEMON_PID\" ] || { kill -TERM \$DAEMON_PID; wait_for 20 daemon_gone; }; kill $SCRIPT_PID 2>/dev/null")
wait_for 10 sh -c "pgrep -P $SCRIPT_PID >/dev/null" || die "script did not start cellmuxd"
DAEMON_PID=$(pgrep -P $SCRIPT_PID | head -1)
wait_for 20 grep -q "ready:" "$T/daemon.log" || { cat "$T/daemon.log"; die "daemon not ready"; }

sessions_json() { ctl --json session list; }
field() { # session key: from cellmuxctl --json session list
	sessions_json | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = d["sessions"] if isinstance(d, dict) else d
print(next((str(r.get(sys.argv[2])) for r in rows if r["name"] == sys.argv[1]), ""))' "$1" "$2"
}
running() { local p; p=$(field "$1" pid); [ -n "$p" ] && [ "$p" != None ]; }

declare -A first_pid
for v in $VICTIMS; do
	wait_for 20 running "$v" || fail "$v has a worker"
	first_pid[$v]=$(field "$v" pid)
done
# A neighbour's state as the host keeps it, readable by anyone who can reach it: only the
# sandbox's mounts may keep the attacker out (the victims also plant one through
# CELLMUX_STATE_DIRECTORY where the daemon gives them one).
for v in $VICTIMS; do
	mkdir -p "$STATE/sessions/$v"
	[ -e "$STATE/sessions/$v/secret" ] || echo cmx-secret >"$STATE/sessions/$v/secret"
	chmod 0644 "$STATE/sessions/$v/secret"
done
# The attacker comes once its neighbours run, so that their first worker is the one it meets.
check "the hostile session starts beside them" ctl session start --profile hostile --name h
check "the hostile worker finished its attempts" wait_for 120 grep -q "cmx-hostile done" "$T/daemon.log"
served=$(http_log | wc -l)

# The first run's line for an attempt, wherever the daemon put it in its log line.
attempt_line() { grep -a -m1 "cmx-hostile $1 " "$T/daemon.log" | tr -d '\r'; }
for a in signal-any ptrace ptrace-child pidfd-getfd signal-session read-tmp read-state read-config \
	write-etc write-usr write-usr-local host-socket unshare-user unshare-net \
	unshare-user-net mount mount-userns bpf io_uring tiocsti tiocsti-stdio fork; do
	line=$(attempt_line "$a")
	check "hostile: $a fails (${line#*cmx-hostile })" \
		sh -c 'printf "%s\n" "$1" | grep -q "cmx-hostile $2 denied "' _ "$line" "$a"
done
forked=$(attempt_line fork | sed -n 's/.*forked=\([0-9]*\).*/\1/p')
below_pids_max() { [ -n "$forked" ] && [ "$forked" -lt 32 ]; }
check "the fork bomb stopped below pids_max=32 (forked=${forked:-none})" below_pids_max
check "the host socket's listener saw no connection ($(cat "$T/sock.count"))" \
	[ "$(cat "$T/sock.count")" = 0 ]
check "nothing was typed into the daemon's terminal" \
	sh -c "! grep -aq cmxSTIjunk '$T/daemon.log'"
check "the forged line's terminal controls did not reach the log raw" \
	sh -c "! grep -aqP 'forge \\x1b' '$T/daemon.log'"

# memory_max: first a child, then the worker itself allocate 256M, touching every page; the
# kernel kills them at 64M (the whole cgroup at once if the daemon sets memory.oom.group), a
# failure of this session under its restart policy and of no other.
hostile_restarted() { [ "$(field h restarts)" -ge 1 ] 2>/dev/null; }
check "the OOM kill counts as a failure of the hostile session (restarts $(field h restarts))" \
	wait_for 60 hostile_restarted
check "nothing in the hostile session got 256M past memory_max ($(grep -a 'cmx-hostile memory' "$T/daemon.log" | tr -d '\r' | sed 's/.*cmx-hostile //' | tr '\n' ';'))" \
	sh -c "! grep -aqE 'cmx-hostile memory(-main)? ok' '$T/daemon.log'"

for v in $VICTIMS; do
	pid=$(field "$v" pid)
	check "$v kept its worker (pid ${first_pid[$v]} = $pid)" [ "$pid" = "${first_pid[$v]}" ]
	check "$v has 0 restarts ($(field "$v" restarts))" [ "$(field "$v" restarts)" = 0 ]
	check "$v still reaches the server after the attack" \
		wait_for 20 sh -c "http_log() { cat /run/cellmux-sim/http.log; }; http_log | tail -n +$((served + 1)) | grep -q ' 200 session=$v\$'"
done
check "the daemon keeps answering (cellmuxctl status)" ctl status
check "the daemon is still running" kill -0 "$DAEMON_PID"
