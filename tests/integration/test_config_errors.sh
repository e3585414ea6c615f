#!/bin/bash
# test_config_errors.sh — a bad config is refused whole: exit status 2, one "FILE:LINE: message"
# line, and nothing created on the system (no namespace, no cgroup, interfaces stay put).
. "$(dirname "$0")/lib.sh"

sim_up 2
"$SIM" config >"$T/base.conf"
base_lines=$(wc -l <"$T/base.conf")

# expect_bad NAME LINE-PATTERN MESSAGE-PATTERN: the config in $T/cellmux.conf must be refused.
expect_bad() {
	local name=$1 line=$2 msg=$3 out rc
	out=$("$CELLMUXD" -c "$T/cellmux.conf" 2>&1)
	rc=$?
	check "$name: exit status 2 (got $rc)" [ $rc -eq 2 ]
	check "$name: error is '$T/cellmux.conf:$line: ...' ($out)" \
		grep -qE "^$T/cellmux.conf:$line: .*$msg" <<<"$out"
	check "$name: nothing created" nothing_left
	check "$name: interfaces untouched" ip link show simwwan0 >/dev/null
}

bad() { # extra config text on stdin, appended to the sim's uplinks
	{ cat "$T/base.conf"; cat; } >"$T/cellmux.conf"
}

printf '[profile p]\nexec=/bin/sleep 100\nfrobnicate=yes\n' | bad
expect_bad "unknown key" $((base_lines + 3)) "unknown key 'frobnicate'"

{ printf '[uplink ghost]\ndriver=netdev\ninterface=nosuch0\naddress=100.64.99.2/24\n'; } | bad
expect_bad "missing interface" $((base_lines + 3)) "interface 'nosuch0' not found"

printf '[uplink sim0]\ndriver=netdev\ninterface=simwwan1\naddress=100.64.1.2/24\n' | bad
expect_bad "duplicate uplink name" $((base_lines + 1)) "duplicate uplink 'sim0'"

printf '[session s1]\nprofile=nope\n' | bad
expect_bad "session names an unknown profile" "$((base_lines + 1))|$((base_lines + 2))" "unknown profile 'nope'"

printf '[profile p]\nexec=/bin/sleep 100\n[session s1]\nprofile=p\nuplink=mars\n' | bad
expect_bad "session names an unknown uplink" "$((base_lines + 3))|$((base_lines + 5))" "unknown uplink 'mars'"

# The sim's uplinks take 4 sessions each: 9 sessions over 2 uplinks do not fit.
{
	printf '[profile p]\nexec=/bin/sleep 100\n'
	for s in $(seq 1 9); do printf '[session s%d]\nprofile=p\n' "$s"; done
} | bad
expect_bad "more static sessions than capacity" $((base_lines + 2 + 8 * 2 + 1)) "does not fit"

printf '[profile p]\nexec=/no/such/worker\n[session s1]\nprofile=p\n' | bad
expect_bad "profile exec that does not exist" $((base_lines + 2)) "/no/such/worker"

printf '[profile p]\nexec=/bin/sleep 100\nuser=root\n' | bad
expect_bad "worker as root" $((base_lines + 3)) "root"

printf "[uplink x]\ndriver=netdev\ninterface=spare0\naddress=100.64.1.2/33\n" | bad
expect_bad "bad address" $((base_lines + 4)) ""

# --check-config says the same without touching anything, and accepts the sim's own file.
check "--check-config accepts the sim's config as it is" \
	"$CELLMUXD" --check-config -c "$T/base.conf"
out=$("$CELLMUXD" --check-config -c /nonexistent/cellmux.conf 2>&1)
rc=$?
check "unreadable file: exit 2 ($rc)" [ $rc -eq 2 ]
check "unreadable file: the message names it ($out)" grep -q '^/nonexistent/cellmux.conf' <<<"$out"
