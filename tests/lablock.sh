# lablock.sh — sourced by everything that uses the sim lab (integration tests, benches, the
# demo). The lab is global to the machine (/run/cellmux-sim, cmxsim-* and cmx-* namespaces,
# the sim's fixed addresses), so a second suite or helper waits here until the first is done.
# The lock is held on an inherited descriptor for the caller's lifetime; children see
# CELLMUX_LAB_LOCKED and do not try again (flock(2) would make them wait on their parent).
# True when pid $1 is this shell or one of its ancestors: a CELLMUX_LAB_LOCKED that came some
# other way (copied into an environment by hand) does not count.
lab_ancestor() {
	local p=$$
	while [ -n "$p" ] && [ "$p" != 0 ]; do
		[ "$p" = "$1" ] && return 0
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	done
	return 1
}

lab_lock() {
	[ -n "${CELLMUX_LAB_LOCKED:-}" ] && lab_ancestor "$CELLMUX_LAB_LOCKED" && return 0
	local f=/run/lock/cellmux-lab.lock wait=${CELLMUX_LAB_WAIT:-1800}
	mkdir -p /run/lock
	exec {CELLMUX_LAB_FD}>>"$f" || { echo "FAIL: cannot open $f" >&2; exit 1; }
	if ! flock -n "$CELLMUX_LAB_FD"; then
		echo "lab: waiting for the sim lab (held by another suite; $f)" >&2
		flock -w "$wait" "$CELLMUX_LAB_FD" || { echo "FAIL: sim lab busy for ${wait}s" >&2; exit 1; }
	fi
	export CELLMUX_LAB_LOCKED=$$
}
lab_lock
