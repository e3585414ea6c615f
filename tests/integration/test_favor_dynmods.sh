#!/bin/bash
# test_favor_dynmods.sh — [daemon] cgroup_favor_dynmods=: with a controller on cgroup v1 (a
# hybrid host, like this one), cellmuxd sets favordynmods on the cgroup2 superblock so that a
# worker's v1 join does not wait an RCU grace period; it keeps the superblock's other options
# and the mount's own flags, does nothing without the setting, and a bad value is a config error.
# The superblock is the machine's: its options are saved first and put back by the cleanup. On
# Linux 6.18+ the kernel's faster lock stays until reboot even so ("per threadgroup rwsem
# mechanism can't be disabled"): the option reads as before, later migrations stay fast.
. "$(dirname "$0")/lib.sh"
OPTS=tests/integration/cgroup2_opts.py
ORIG=$(python3 "$OPTS" get) || die "cannot read the cgroup2 options"
MOUNT0=$(python3 "$OPTS" mount)
CLEANUP_EXTRA+=("python3 '$OPTS' set '$ORIG'")
without() { echo "$1" | tr , '\n' | grep -vx "$2" | paste -sd, -; }
a_runs() { [ -n "$(worker_pid a)" ]; }
has_opt() { python3 "$OPTS" get | tr , '\n' | grep -qx "$1"; }
# Start from favordynmods off, with one more option the daemon must carry over (Debian's systemd
# mounts cgroup2 with memory_recursiveprot; nothing here sets memory.low, so it changes nothing).
BASE=$(without "$ORIG" favordynmods)
BASE=$(without "$BASE" memory_recursiveprot)
BASE=${BASE:+$BASE,}memory_recursiveprot
python3 "$OPTS" set "$BASE" || die "cannot set the cgroup2 options"
v1=no
findmnt -n -t cgroup -o OPTIONS | tr , '\n' | grep -qx pids && v1=yes
echo "pids controller on v1: $v1; cgroup2 options: $BASE"

sim_up 1
conf() { # yes|no|"": the [daemon] setting
	{
		daemon_section | if [ -n "$1" ]; then sed "/^\[daemon\]/a cgroup_favor_dynmods=$1"; else cat; fi
		printf '[metrics]\nlisten=off\n\n[profile idle]\nexec=/bin/sleep 1000\nuser=nobody\npids_max=50\n\n[session a]\nprofile=idle\n'
	} | make_config
}

# Without the setting: nothing changes; on a hybrid host the log says what it would save.
conf ""
start_daemon
check "without the setting: session a runs" wait_for 10 a_runs
check "... and favordynmods stays off" bash -c "! python3 '$OPTS' get | tr , '\n' | grep -qx favordynmods"
if [ $v1 = yes ]; then
	check "... the log names the setting that removes the wait" logged "cgroup_favor_dynmods=yes removes the wait"
fi
check "the daemon stops" stop_daemon

# With it: set, the other option kept, the mount's flags untouched, the worker in its v1 cgroup.
conf yes
start_daemon
check "with cgroup_favor_dynmods=yes: session a runs" wait_for 10 a_runs
if [ $v1 = yes ]; then
	check "favordynmods is set on the cgroup2 superblock" has_opt favordynmods
	check "... and logged" logged "favordynmods set on the cgroup2 mount"
	check "memory_recursiveprot is kept" has_opt memory_recursiveprot
	check "the mount's own options are unchanged ($MOUNT0)" [ "$(python3 "$OPTS" mount)" = "$MOUNT0" ]
	w=$(worker_pid a)
	check "the worker is in its session's v1 pids cgroup" grep -q "^[0-9]*:pids:$CGPATH/a\$" "/proc/$w/cgroup"
	pm=$(findmnt -n -t cgroup -o TARGET,OPTIONS | awk '$2 ~ /(^|,)pids(,|$)/ { print $1 }')
	check "... whose pids.max is the profile's 50" [ "$(cat "$pm$CGPATH/a/pids.max")" = 50 ]
else
	# Every controller on v2: the worker is born in its cgroup, no join to speed up.
	check "a v2-only host: favordynmods is left alone" bash -c "! python3 '$OPTS' get | tr , '\n' | grep -qx favordynmods"
fi
check "the daemon stops" stop_daemon

# A bad value: refused at its line, nothing started.
conf maybe
"$CELLMUXD" --check-config -c "$T/cellmux.conf" >"$T/bad.log" 2>&1
rc=$?
check "cgroup_favor_dynmods=maybe is refused" [ $rc -ne 0 ]
check "... at its line, saying what it wants" grep -q "cellmux.conf:[0-9]*: cgroup_favor_dynmods=maybe: want yes or no" "$T/bad.log"
check "nothing left behind" nothing_left
