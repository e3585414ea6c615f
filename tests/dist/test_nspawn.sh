#!/bin/bash
# test_nspawn.sh DEB — (make distcheck) the package under a real systemd: a Debian 12 container
# (debootstrap, booted with systemd-nspawn -b) gets DEB installed; `systemctl start cellmux`
# reaches active (running) through READY=1, a SIGSTOPped daemon misses its watchdog pings and
# is restarted, and `systemctl stop` leaves no process, namespace or runtime directory.
# Root. CELLMUX_NSPAWN_ROOT=DIR reuses a debootstrapped tree (copied, never changed).
. "$(dirname "$0")/../integration/assert.sh"
set -uo pipefail
DEB=${1:?usage: test_nspawn.sh cellmux_VERSION_ARCH.deb}
[ "$(id -u)" = 0 ] || die "must run as root"
for t in systemd-nspawn debootstrap nsenter; do command -v $t >/dev/null || die "$t missing (make deps)"; done
MIRROR=${MIRROR:-$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

W=$(mktemp -d /var/tmp/cellmux-nspawn.XXXXXX)
NSPID=
cleanup() {
	local rc=$?
	set +e
	if [ -n "$NSPID" ] && kill -0 "$NSPID" 2>/dev/null; then
		kill -TERM "$NSPID" # nspawn powers the container off
		wait_for 60 bash -c "! kill -0 $NSPID 2>/dev/null" || kill -KILL "$NSPID"
	fi
	rm -rf "$W"
	[ $FAILS -eq 0 ] && exit $rc
	exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

R=$W/root
if [ -n "${CELLMUX_NSPAWN_ROOT:-}" ]; then
	cp -a "$CELLMUX_NSPAWN_ROOT" "$R" || die "copying $CELLMUX_NSPAWN_ROOT"
else
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$R" "$MIRROR" \
		>"$W/debootstrap.log" 2>&1 || { tail "$W/debootstrap.log"; die "debootstrap"; }
fi
# Installed before boot, through the host's network: the booted container has none.
cp "$DEB" "$R/tmp/" && cp /etc/resolv.conf "$R/etc/resolv.conf"
chroot "$R" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/$(basename "$DEB")" \
	>"$W/install.log" 2>&1 || { tail "$W/install.log"; die "apt-get install in the container"; }

# A hybrid host hands a container read-only v1 hierarchies, where cellmuxd cannot make session
# cgroups; a unified hierarchy in the container is what a Debian 12 host has anyway.
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -D "$R" -b --register=no --keep-unit --console=pipe --private-network \
	--capability=all --system-call-filter='bpf perf_event_open' --tmpfs=/sys/fs/bpf \
	</dev/null >"$W/boot.log" 2>&1 &
NSPID=$!
# The container's PID 1: the systemd that nspawn's child runs.
c1() {
	local p
	for p in $(pgrep -x systemd); do
		grep -q "^NSpid:.*[[:space:]]1$" "/proc/$p/status" || continue
		[ "$(ps -o ppid= -p "$(ps -o ppid= -p "$p" | tr -d ' ')" | tr -d ' ')" = "$NSPID" ] ||
			[ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$NSPID" ] || continue
		echo "$p"; return 0
	done
	return 1
}
wait_for 60 c1 >/dev/null || { cat "$W/boot.log"; die "no container PID 1"; }
C1=$(c1)
in_ct() { nsenter -t "$C1" -a "$@"; }
booted() { in_ct systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'; }
wait_for 120 booted || { in_ct systemctl --failed; die "container did not boot"; }
pass "container booted ($(in_ct systemctl is-system-running))"

prop() { in_ct systemctl show -P "$1" cellmux; }
in_ct systemctl start cellmux
check "systemctl start cellmux: active (running)" [ "$(prop ActiveState)/$(prop SubState)" = active/running ]
check "READY=1 carried the status ($(prop StatusText))" bash -c '[[ "$1" == *uplinks* ]]' _ "$(prop StatusText)"
check "the watchdog is armed ($(prop WatchdogUSec))" [ "$(prop WatchdogUSec)" = 30s ]
pid=$(prop MainPID)
# Never signal pid 0 (our own process group) when the start failed.
[ "${pid:-0}" -gt 1 ] || { in_ct journalctl -u cellmux --no-pager | tail -20; die "no MainPID"; }
# MainPID and /proc are the container's: read through nsenter.
bnd() { in_ct awk '/^CapBnd:/ { print $2 }' "/proc/$1/status"; }
check "the daemon runs with the unit's bounding set ($(bnd "$pid"), PID 1: $(bnd 1))" \
	[ -n "$(bnd "$pid")" ] && [ "$(bnd "$pid")" != "$(bnd 1)" ]

restarts=$(prop NRestarts)
in_ct bash -c "kill -STOP $pid" # minbase has no procps: bash's kill
restarted() { [ "$(prop NRestarts)" -gt "$restarts" ] && [ "$(prop SubState)" = running ]; }
check "a SIGSTOPped daemon is restarted by the watchdog" wait_for 120 restarted
check "a new daemon process" [ "$(prop MainPID)" != "$pid" ]
in_ct journalctl -u cellmux --no-pager | grep -qi watchdog && pass "the journal names the watchdog"

# ExecReload= (cellmuxctl reload) with an uplink on a veth and a sandboxed session: the
# worker runs under the unit's confinement (its seccomp and bounding set bind workers too).
# pids_max=infinity: the container's v2 hierarchy has no pids controller to give.
in_ct ip link add cmxnsp0 type veth peer name cmxnsp1 || fail "a veth pair in the container"
cat >"$R/etc/cellmux/cellmux.conf" <<'EOF2'
[uplink veth]
driver=netdev
interface=cmxnsp0
address=10.99.0.2/24

[profile probe]
exec=/usr/libexec/cellmux/cellmux-probe --url http://10.99.0.1/ --interval 1 --timeout 1
pids_max=infinity

[session s1]
profile=probe
EOF2
check "systemctl reload with an uplink and a session" in_ct systemctl reload cellmux
hello() { in_ct journalctl -u cellmux --no-pager | grep -q 'session s1: worker cellmux-probe .* says hello'; }
check "the session's worker runs and says hello under the unit" wait_for 60 hello
check "the uplink's namespace exists" in_ct test -e /run/netns/cmx-veth
[ $FAILS -eq 0 ] || { echo "--- journal (tail) ---"; in_ct journalctl -u cellmux --no-pager | tail -40; }
echo 'frobnicate=yes' >>"$R/etc/cellmux/cellmux.conf"
check "systemctl reload fails on a bad file" bash -c "! nsenter -t $C1 -a systemctl reload cellmux 2>/dev/null"
check "and the daemon keeps running" [ "$(prop SubState)" = running ]

in_ct systemctl stop cellmux
check "the veth is back in the container's namespace" in_ct ip link show cmxnsp0
check "systemctl stop: inactive" [ "$(prop ActiveState)" = inactive ]
# No procps in the container: the comm of every process, read by the container's bash.
no_daemon() {
	in_ct bash -c 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = cellmuxd ] && exit 1; done; exit 0'
}
check "no cellmux process left" no_daemon
check "no cmx-* namespace left" bash -c "! nsenter -t $C1 -a ls /run/netns 2>/dev/null | grep -q '^cmx-'"
check "no runtime directory left" bash -c "! nsenter -t $C1 -a test -e /run/cellmux"
