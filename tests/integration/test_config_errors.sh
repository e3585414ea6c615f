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
	# A config wrongly taken would run the daemon: stopped (SIGTERM) so the test fails, not hangs.
	out=$(timeout --kill-after=10 30 "$CELLMUXD" -c "$T/cellmux.conf" 2>&1)
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

# Secrets (issue 11): a config holding pin= or password= must be root's alone, token_file must
# not be readable by others, state_dir must be root's. Refused before anything is created,
# the store's state_dir included. Seen failing: with the KEY_SECRET flag off pin=, the 0644
# file was taken and the daemon ran ("exit status 2 (got 1)": it went on to start).
qmi_secret() { # key=value
	printf '[uplink q]\ndriver=qmi\ndevice=/dev/cdc-wdm-cellmux-test\napn=internet\n%s\n' "$1"
}
qmi_secret pin=1234 | bad
chmod 0644 "$T/cellmux.conf"
expect_bad "pin= in a 0644 file" $((base_lines + 5)) "pin= in a file group or others can read \(mode 0644\)"
qmi_secret $'username=u\npassword=hunter2' | bad
chmod 0640 "$T/cellmux.conf"
expect_bad "password= in a 0640 file" $((base_lines + 6)) "password= in a file group or others can read \(mode 0640\)"
qmi_secret pin=1234 | bad
chmod 0600 "$T/cellmux.conf"
chown nobody "$T/cellmux.conf"
expect_bad "pin= in a file nobody owns" $((base_lines + 5)) "pin= in a file owned by uid [0-9]+, not root"
chown root "$T/cellmux.conf"
check "pin= in a 0600 root file passes" "$CELLMUXD" --check-config -c "$T/cellmux.conf"
chmod 0644 "$T/cellmux.conf"
sed -i '/^pin=/d' "$T/cellmux.conf"
check "a 0644 file without secrets passes" "$CELLMUXD" --check-config -c "$T/cellmux.conf"

# backend_conf TOKEN-FILE: token_file= is the config's last line.
backend_conf() {
	{ cat "$T/base.conf"; printf '[daemon]\nstate_dir=%s\n' "$T/state"
	  printf '[backend]\nurl=wss://localhost:1/gw\ntoken_file=%s\n' "$1"; } >"$T/cellmux.conf"
}
echo "token-$RANDOM" >"$T/token"
chmod 0644 "$T/token"
backend_conf "$T/token"
expect_bad "world-readable token_file" $((base_lines + 5)) "token_file=$T/token is readable by others \(mode 0644\)"
check "world-readable token_file: no state_dir made" [ ! -e "$T/state" ]
chmod 0600 "$T/token"
chown nobody "$T/token"
expect_bad "token_file nobody owns" $((base_lines + 5)) "token_file=$T/token is owned by uid [0-9]+, not root"
chown root "$T/token"
chmod 0640 "$T/token"
check "token_file 0640 root passes" "$CELLMUXD" --check-config -c "$T/cellmux.conf"

mkdir -m 0700 "$T/state"
chown nobody "$T/state"
expect_bad "state_dir nobody owns" $((base_lines + 2)) "state_dir $T/state is owned by uid [0-9]+, not root"
check "state_dir nobody owns: left as it was" [ "$(stat -c %U:%a "$T/state")" = nobody:700 ]
rmdir "$T/state"

# --check-config says the same without touching anything, and accepts the sim's own file.
check "--check-config accepts the sim's config as it is" \
	"$CELLMUXD" --check-config -c "$T/base.conf"
out=$("$CELLMUXD" --check-config -c /nonexistent/cellmux.conf 2>&1)
rc=$?
check "unreadable file: exit 2 ($rc)" [ $rc -eq 2 ]
check "unreadable file: the message names it ($out)" grep -q '^/nonexistent/cellmux.conf' <<<"$out"
