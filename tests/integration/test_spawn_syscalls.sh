#!/bin/bash
# test_spawn_syscalls.sh — between clone3 and exec a session's processes make only the system
# calls of an allow-list: no NSS, no malloc (brk/mmap), no library loading (openat of a .so),
# no locks (futex). The daemon runs under strace -ff; the session's init is traced from its
# birth to its first wait for signals, the worker from its birth to its execve.
# Seen failing: with glibc's setgroups()/setresuid() wrappers in the child, the init's trace
# held futex calls (glibc's setxid broadcast to the daemon's threads, which the child does not
# have) and the init's allow-list check failed; spawn.c now makes those calls raw.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || die "strace is missing (make deps installs it)"
# Lazy binding would run the dynamic linker's resolver in the child at its first call of each
# library function: cellmuxd is linked with -z now, so every symbol is bound before main().
check "cellmuxd is linked BIND_NOW (no lazy symbol resolution in the spawn child)" \
	sh -c "readelf -d '$CELLMUXD' | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).* NOW'"
sim_up 1
# Two listen= sockets, so the child's fd shuffle (listeners to 3.., the control socket after
# them) is inside the traced window too.
LPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
	daemon_section
	printf '[metrics]\nlisten=off\n\n'
	printf '[profile idle]\nexec=/bin/sleep 1000\nuser=nobody\nlisten=127.0.0.1:%s %s/l.sock\n\n[session a]\nprofile=idle\n' "$LPORT" "$T"
} | make_config

mkdir "$T/tr"
strace -f -ff -qq -o "$T/tr/t" "$CELLMUXD" -c "$T/cellmux.conf" >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_for 30 grep -q "ready:" "$T/daemon.log" || die "daemon not ready under strace"
wait_for 10 sh -c "[ -n \"\$(cat '$(session_cgroup a)/cgroup.procs' 2>/dev/null)\" ]" ||
	die "session a did not start"

# The init: the trace whose process pivoted into a new root — only a session's does (the
# daemon's own threads setns too). The worker: the trace holding the execve of sleep.
init_tr=$(grep -l '^pivot_root(' "$T"/tr/t.* | head -1)
worker_tr=$(grep -l '^execve("/bin/sleep"' "$T"/tr/t.* | head -1)
check "the session's init was traced" [ -n "$init_tr" ]
check "the worker's exec was traced" [ -n "$worker_tr" ]

# System calls the spawn child may make (sandbox/spawn.c, sandbox/fs.c say why each).
ALLOW="rt_sigprocmask rt_sigaction openat write close setns mount mount_setattr mkdir lstat
newfstatat fstat symlink chdir pivot_root umount2 setsid dup2 dup3 fcntl close_range prctl
setgroups setresgid setresuid setuid geteuid poll seccomp clone clone3 rt_sigtimedwait read
wait4 kill exit_group execve execveat"
calls() { # trace file, last syscall to include -> the names of the calls up to it
	awk -v stop="$2" '/^[a-z_0-9]+\(/ { n = $0; sub(/\(.*/, "", n); print n; if (n == stop) exit }' "$1"
}
outside() { # trace file, stop -> calls not on the allow-list
	local c
	for c in $(calls "$1" "$2" | sort -u); do
		case " $(echo $ALLOW) " in *" $c "*) ;; *) echo "$c" ;; esac
	done
}
# The child that builds the sandbox runs on the daemon's memory until it execs cellmux-init: the
# allow-list holds up to that exec. cellmux-init is a process of its own from there.
check "the sandbox's child ends in an exec of cellmux-init" grep -q '^execveat(' "$init_tr"
bad=$(outside "$init_tr" execveat)
check "the child calls nothing outside the allow-list before that exec (outside: ${bad:-none})" \
	[ -z "$bad" ]
bad=$(outside "$worker_tr" execve)
check "the worker calls nothing outside the allow-list before exec (outside: ${bad:-none})" \
	[ -z "$bad" ]
check "no shared library or NSS file is opened before exec" \
	sh -c "! awk '/^execve\\(\"\\/bin\\/sleep\"/ { exit } { print }' '$init_tr' '$worker_tr' |
		grep -E 'openat\\(.*(\\.so|nsswitch|/etc/passwd|/etc/group)'"
# What stays for the session's life is cellmux-init alone: no copy of the daemon's memory (its
# libraries, heap, keys), and not dumpable, so the worker (same uid) cannot open the daemon's
# ends of the session's channels through /proc/1/fd.
init_pid=$(session_init_pid a)
check "the session's init is cellmux-init" \
	[ "$(readlink "/proc/$init_pid/exe")" = "$(readlink -f "$BUILD/cellmux-init")" ]
check "the init maps no shared library (none of cellmuxd's memory)" \
	sh -c "! grep -q '\\.so' '/proc/$init_pid/maps'"
check "the init runs as the worker's uid" \
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$init_pid/status")" = "$(id -u nobody)" ]
check "the init is not dumpable (its /proc files are root's)" \
	[ "$(stat -c %u "/proc/$init_pid/fd")" = 0 ]
[ -n "${KEEP_TRACE:-}" ] && cp -r "$T/tr" "$KEEP_TRACE"
check "the init ends in its signal wait, not elsewhere" grep -q '^rt_sigtimedwait(' "$init_tr"

check "SIGTERM stops the daemon with status 0" stop_traced
check "nothing left" nothing_left
