#!/bin/bash
# test_sandbox_show.sh — `cellmuxctl session show` and /metrics show a session's sandbox as the
# kernel sees it: each value the daemon reports is compared with what this test reads itself
# from /proc/<worker>/status, /proc/<worker>/ns/pid and the session's cgroup files (v1 or v2,
# found with findmnt), never only with the config. Sessions without a worker show none of it.
#
#   cellmuxctl ── $T/ctl.sock ──┐
#   curl ── 127.0.0.1:$PORT ────┤ cellmuxd ── cmx-sim0: sb (pids_max=32, memory_max=64M, cpu_weight=50),
#                                                      plain (defaults: no memory limit)
#
# Seen failing: status_session_sandbox() made to report the profile's limits (config_session_
# limits()) instead of cgroup_session_usage()'s → the four "rewritten ... follows" checks failed;
# sandbox_inspect() made to read the init instead of its child → "the process shown is the
# worker", "ns pid is the kernel's NSpid" and "ns pid is 2" failed.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || die "python3 is missing"
command -v findmnt >/dev/null || die "findmnt is missing"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
UID_MIN=1668087808
UID_MAX=1668153343

sim_up 1
{
	daemon_section
	printf '[metrics]\nlisten=127.0.0.1:%s\n\n' "$PORT"
	printf '[profile sb]\nexec=/bin/sleep 1000\npids_max=32\nmemory_max=64M\ncpu_weight=50\n\n'
	printf '[profile plain]\nexec=/bin/sleep 1000\n\n'
	printf '[session sb]\nprofile=sb\nuplink=sim0\n\n'
	printf '[session plain]\nprofile=plain\nuplink=sim0\n'
} | make_config
start_daemon

check "sb has a worker" wait_for 20 eval '[ -n "$(worker_pid sb)" ]'
check "plain has a worker" wait_for 20 eval '[ -n "$(worker_pid plain)" ]'
W=$(worker_pid sb)
[ -n "$W" ] || die "no worker for sb"

# The directory of controller $2 (memory, pids, cpu) for session $1: the v2 one when the file
# $3 is there, else the v1 hierarchy that carries the controller. The worker must be in it.
cg_dir() {
	local d m
	d=$(session_cgroup "$1")
	[ -e "$d/$3" ] && { echo "$d"; return; }
	m=$(findmnt -n -t cgroup -O "$2" -o TARGET | head -1)
	[ -n "$m" ] && [ -e "$m$CGPATH/$1/$4" ] && echo "$m$CGPATH/$1"
}
MEMDIR=$(cg_dir sb memory memory.max memory.limit_in_bytes)
PIDSDIR=$(cg_dir sb pids pids.max pids.max)
CPUDIR=$(cg_dir sb cpu cpu.weight cpu.shares)
check "the test finds sb's memory cgroup ($MEMDIR)" [ -n "$MEMDIR" ]
check "the test finds sb's pids cgroup ($PIDSDIR)" [ -n "$PIDSDIR" ]
check "the test finds sb's cpu cgroup ($CPUDIR)" [ -n "$CPUDIR" ]
[ -n "$MEMDIR" ] && [ -n "$PIDSDIR" ] && [ -n "$CPUDIR" ] || die "cgroup files not found"
check "sb's worker is in that memory cgroup" grep -qE "^[0-9]+:([^:]*,)?memory(,[^:]*)?:$CGPATH/sb\$|^0::$CGPATH/sb\$" "/proc/$W/cgroup"
check "sb's worker is in that pids cgroup" grep -qE "^[0-9]+:([^:]*,)?pids(,[^:]*)?:$CGPATH/sb\$|^0::$CGPATH/sb\$" "/proc/$W/cgroup"

if [ -e "$MEMDIR/memory.max" ]; then
	k_mem() { cat "$MEMDIR/memory.current"; }
	K_MEMMAX=$(cat "$MEMDIR/memory.max")
	K_OOM=$(awk '$1 == "oom_kill" { print $2 }' "$MEMDIR/memory.events")
else
	k_mem() { cat "$MEMDIR/memory.usage_in_bytes"; }
	K_MEMMAX=$(cat "$MEMDIR/memory.limit_in_bytes")
	K_OOM=$(awk '$1 == "oom_kill" { print $2 }' "$MEMDIR/memory.oom_control")
fi
k_tasks() { cat "$PIDSDIR/pids.current"; }
K_TASKSMAX=$(cat "$PIDSDIR/pids.max")
if [ -e "$CPUDIR/cpu.weight" ]; then
	K_CPU=$(cat "$CPUDIR/cpu.weight")
else
	K_CPU=$(($(cat "$CPUDIR/cpu.shares") * 100 / 1024))
fi
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$W/status"; }
K_UID=$(field Uid)
K_GID=$(field Gid)
K_NSPID=$(field NSpid | awk '{ print $NF }')
K_SECCOMP=$(field Seccomp)
K_FILTERS=$(field Seccomp_filters)
K_NNP=$(field NoNewPrivs)
K_CAPEFF=$(field CapEff)
K_CAPPRM=$(field CapPrm)
K_CAPBND=$(field CapBnd)
K_CAPAMB=$(field CapAmb)
K_PIDNS=$(stat -L -c %i "/proc/$W/ns/pid")
HOST_PIDNS=$(stat -L -c %i /proc/self/ns/pid)

# The kernel agrees with the config where the test can tell: the limits were written.
check "pids.max of sb's cgroup is 32 ($K_TASKSMAX)" [ "$K_TASKSMAX" = 32 ]
check "sb's memory limit is 64 MiB ($K_MEMMAX)" [ "$K_MEMMAX" = 67108864 ]

# The daemon's answer: one JSON document, read into shell variables by a key path.
ctl --json session show sb >"$T/sb.json" || die "session show sb failed"
j() { python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print("null" if v is None else (str(v).lower() if isinstance(v, bool) else v))' "$T/sb.json" "$1"; }

uid=$(j sandbox.uid)
check "uid is in the dynamic range ($uid)" \
	sh -c "[ '$uid' -ge $UID_MIN ] && [ '$uid' -le $UID_MAX ] && [ '$uid' != 0 ] && [ '$uid' != 65534 ]"
check "uid and euid are the kernel's (Uid: $K_UID)" \
	[ "$uid $(j sandbox.euid)" = "$(awk '{ print $1, $2 }' <<<"$K_UID")" ]
check "gid and egid are the kernel's (Gid: $K_GID)" \
	[ "$(j sandbox.gid) $(j sandbox.egid)" = "$(awk '{ print $1, $2 }' <<<"$K_GID")" ]
check "the owner of /proc/<worker> is that uid" [ "$(stat -c %u "/proc/$W")" = "$uid" ]
check "the process shown is the worker, the init's child ($(j sandbox.pid) = $W)" \
	eval '[ "$(j sandbox.pid)" = "$W" ] && [ "$(j sandbox.worker)" = true ]'
check "session pid is the init, not the worker ($(j pid))" [ "$(j pid)" = "$(session_init_pid sb)" ]
nspid=$(j sandbox.ns_pid)
check "ns pid is the kernel's NSpid ($nspid = $K_NSPID)" [ "$nspid" = "$K_NSPID" ]
check "ns pid is 2: the worker is the init's first child in its own namespace" [ "$nspid" = 2 ]
check "the PID namespace is the worker's ($(j sandbox.pidns) = $K_PIDNS)" [ "$(j sandbox.pidns)" = "$K_PIDNS" ]
check "and not the host's ($HOST_PIDNS)" [ "$K_PIDNS" != "$HOST_PIDNS" ]
check "pidns_private says so" [ "$(j sandbox.pidns_private)" = true ]
check "seccomp is filter, Seccomp: $K_SECCOMP" eval '[ "$(j sandbox.seccomp)" = filter ] && [ "$K_SECCOMP" = 2 ]'
check "seccomp_filters is the kernel's ($K_FILTERS)" [ "$(j sandbox.seccomp_filters)" = "$K_FILTERS" ]
check "no_new_privs is set (NoNewPrivs: $K_NNP)" eval '[ "$(j sandbox.no_new_privs)" = true ] && [ "$K_NNP" = 1 ]'
check "CapEff is empty, as the kernel says ($K_CAPEFF)" \
	eval '[ "$(j sandbox.cap_eff)" = 0000000000000000 ] && [ "$K_CAPEFF" = 0000000000000000 ]'
check "CapPrm CapBnd CapAmb are the kernel's" \
	[ "$(j sandbox.cap_prm) $(j sandbox.cap_bnd) $(j sandbox.cap_amb)" = "$K_CAPPRM $K_CAPBND $K_CAPAMB" ]
check "tasks_max is 32 and pids.max's ($(j tasks_max))" [ "$(j tasks_max)" = "$K_TASKSMAX" ]
check "memory_max_bytes is 67108864 and the cgroup's ($(j memory_max_bytes))" \
	eval '[ "$(j memory_max_bytes)" = 67108864 ] && [ "$(j memory_max_bytes)" = "$K_MEMMAX" ]'
check "oom_kills is the kernel's ($(j oom_kills) = $K_OOM)" [ "$(j oom_kills)" = "$K_OOM" ]
check "cpu_weight is the kernel's ($(j cpu_weight) = $K_CPU)" [ "$(j cpu_weight)" = "$K_CPU" ]
check "and the kernel has the configured 50" [ "$K_CPU" = 50 ]

# Use moves on its own: the daemon's figure must lie between two of the test's own readings
# taken around the call (tried a few times: a page may be charged in between).
between() { # v a b: v lies between a and b, whichever is larger
	{ [ "$2" -le "$1" ] && [ "$1" -le "$3" ]; } || { [ "$3" -le "$1" ] && [ "$1" -le "$2" ]; }
}
usage_agrees() { # json-key kernel-reader
	local a b v
	a=$($2)
	ctl --json session show sb >"$T/sb.json" || return 1
	b=$($2)
	v=$(j "$1")
	[ "$v" -gt 0 ] && between "$v" "$a" "$b"
}
check "memory_bytes > 0 and is the cgroup's current use" wait_for 10 usage_agrees memory_bytes k_mem
check "tasks is pids.current (init and worker: $(k_tasks))" wait_for 10 usage_agrees tasks k_tasks

# The human table says the same.
ctl session show sb >"$T/sb.txt"
check "session show prints the uid" grep -qE "^  uid +$uid\$" "$T/sb.txt"
check "session show prints seccomp filter" grep -qE "^  seccomp +filter" "$T/sb.txt"
check "session show prints tasks of 32" grep -qE "^  tasks +[0-9]+ of 32\$" "$T/sb.txt"
check "session show prints the memory limit" grep -qE "^  memory +.* of 64 MiB, 0 OOM kills$" "$T/sb.txt"
check "session show prints empty effective capabilities" grep -qE "^  caps +eff 0000000000000000 " "$T/sb.txt"

# /metrics: the same kernel values.
M=http://127.0.0.1:$PORT
scrape() { curl -sf --max-time 5 "$M/metrics" >"$T/m"; }
val() { awk -v s="$1" '$1 == s { print $2; f = 1 } END { exit !f }' "$T/m"; }
L='{uplink="sim0",session="sb"}'
P='{uplink="sim0",session="plain"}'
check "scrape /metrics" scrape
check "cellmux_session_tasks_max is pids.max" [ "$(val "cellmux_session_tasks_max$L")" = "$K_TASKSMAX" ]
check "cellmux_session_memory_max_bytes is the cgroup's limit" \
	[ "$(val "cellmux_session_memory_max_bytes$L")" = "$K_MEMMAX" ]
check "cellmux_session_oom_kills_total is the kernel's" [ "$(val "cellmux_session_oom_kills_total$L")" = "$K_OOM" ]
check "cellmux_session_cpu_weight is the kernel's" [ "$(val "cellmux_session_cpu_weight$L")" = "$K_CPU" ]
metric_agrees() { # metric kernel-reader
	local a b v
	a=$($2)
	scrape || return 1
	b=$($2)
	v=$(val "$1$L") || return 1
	[ "$v" -gt 0 ] && between "$v" "$a" "$b"
}
check "cellmux_session_memory_bytes is the cgroup's use" wait_for 10 metric_agrees cellmux_session_memory_bytes k_mem
check "cellmux_session_tasks is pids.current" wait_for 10 metric_agrees cellmux_session_tasks k_tasks
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m" >"$T/promtool.out" 2>&1
	rc=$?
	check "promtool check metrics is clean (rc $rc)" sh -c "[ $rc = 0 ] && [ ! -s '$T/promtool.out' ]"
	[ -s "$T/promtool.out" ] && sed 's/^/    promtool: /' "$T/promtool.out"
else
	fail "promtool is missing (make deps installs Debian's prometheus)"
fi

# The kernel's word, not the config's: limits changed behind the daemon's back (as an operator
# or another tool might) show as they now are, on both interfaces.
echo 31 >"$PIDSDIR/pids.max" || die "cannot write pids.max"
if [ -e "$MEMDIR/memory.max" ]; then
	echo 50331648 >"$MEMDIR/memory.max" || die "cannot write memory.max"
else
	echo 50331648 >"$MEMDIR/memory.limit_in_bytes" || die "cannot write memory.limit_in_bytes"
fi
ctl --json session show sb >"$T/sb.json" || die "session show sb failed"
check "pids.max rewritten to 31: tasks_max follows ($(j tasks_max))" [ "$(j tasks_max)" = 31 ]
check "memory limit rewritten to 48 MiB: memory_max_bytes follows ($(j memory_max_bytes))" \
	[ "$(j memory_max_bytes)" = 50331648 ]
scrape
check "and so does cellmux_session_tasks_max" [ "$(val "cellmux_session_tasks_max$L")" = 31 ]
check "and cellmux_session_memory_max_bytes" [ "$(val "cellmux_session_memory_max_bytes$L")" = 50331648 ]

# plain: no memory limit is no limit, not 0 or a huge number; its default tasks limit is the
# kernel's too.
PW=$(worker_pid plain)
ctl --json session show plain >"$T/sb.json" || die "session show plain failed"
PPIDS=$(cg_dir plain pids pids.max pids.max)
check "plain: memory_max_bytes is null (unlimited)" [ "$(j memory_max_bytes)" = null ]
# On a hybrid host a session joins a v1 hierarchy only for a limit: without one the kernel
# keeps no figure for it there, and none is shown; on v2 the use is there without a limit.
PMEM=$(cg_dir plain memory memory.max memory.limit_in_bytes)
if [ -n "$PMEM" ]; then
	check "plain: memory use is shown, its cgroup has one ($PMEM)" [ "$(j memory_bytes)" != null ]
	check "plain: but a memory series" eval "val 'cellmux_session_memory_bytes$P' >/dev/null"
else
	check "plain: no memory cgroup of its own, no memory use shown" [ "$(j memory_bytes)" = null ]
	check "plain: and no memory series" eval "! val 'cellmux_session_memory_bytes$P' >/dev/null"
fi
check "plain: tasks_max is its pids.max ($(cat "$PPIDS/pids.max"))" [ "$(j tasks_max)" = "$(cat "$PPIDS/pids.max")" ]
check "plain: a uid of its own" eval '[ "$(j sandbox.uid)" != "$uid" ] && [ "$(j sandbox.uid)" = "$(stat -c %u "/proc/$PW")" ]'
check "plain: no memory_max series on /metrics" eval "! val 'cellmux_session_memory_max_bytes$P' >/dev/null"

# Without a worker there is nothing to show: no sandbox, no use, no series.
ctl uplink down sim0
check "after uplink down, sb has no worker" wait_for 20 eval '[ "$(ctl --json session show sb | python3 -c "import json,sys; print(json.load(sys.stdin)[\"pid\"])")" = None ]'
ctl --json session show sb >"$T/sb.json" || die "session show sb failed"
check "no worker: sandbox is null" [ "$(j sandbox)" = null ]
check "no worker: memory_bytes and tasks are null" [ "$(j memory_bytes) $(j tasks) $(j tasks_max)" = "null null null" ]
check "no worker: show says so" eval "ctl session show sb | grep -qE '^  sandbox +-\$'"
scrape
check "no worker: no cellmux_session_memory_bytes series for sb" eval "! val 'cellmux_session_memory_bytes$L' >/dev/null"
check "no worker: no cellmux_session_tasks_max series for sb" eval "! val 'cellmux_session_tasks_max$L' >/dev/null"
check "no worker: sb is still listed (cellmux_session_up 0)" [ "$(val "cellmux_session_up$L")" = 0 ]

stop_daemon
check "nothing left behind" nothing_left
