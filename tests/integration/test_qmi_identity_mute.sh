#!/bin/bash
# test_qmi_identity_mute.sh — a wedged modem while driver=qmi uplinks look for theirs by IMEI
# (match=imei:, no device=): its port stays open and takes requests but answers none (the fake's
# `mute`). cellmuxd asks each port in its own loop with a deadline (2 s a port, QMI_ASK_MS), so
# the muted modem's uplink stays down and says why ("no answer from /dev/cdc-wdm0 within 2 s",
# its last error and the log), the other modem's uplink comes up as usual, the admin socket still
# answers, every ask lets go of the port, and once the modem answers again the next search (a
# hot-plug link event, or `cellmuxctl uplink up`) brings its uplink up on the right port.
#
#   cellmuxd (own mount namespace: /sys/class/usbmisc = the sim's fake sysfs)
#     ──@cellmux-sim-qmi── fake-qmi-modem: modem 0 IMEI ...006 (/dev/cdc-wdm0, simwwan0) MUTED
#                                           modem 1 IMEI ...014 (/dev/cdc-wdm1, simwwan1)
#   p0 uplink=sim0 (match=imei: of modem 0)   p1 uplink=sim1 (match=imei: of modem 1)
#   modem i ── carrier cmxsim-c<i> (NAT to 198.18.1.<i+1>) ── cmxsim-inet ── httpd 198.18.0.1/ip
. "$(dirname "$0")/lib.sh"

FQ=$BUILD/helpers/fake-qmi-modem
fq() { "$FQ" --ctl /run/cellmux-sim/qmi.ctl "$@"; }
field() { fq status "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
[ -x "$FQ" ] || die "no $FQ (make builds it)"
command -v unshare >/dev/null || die "unshare (util-linux) is installed"

"$SIM" up --modems 2 --qmi >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; die "cellmux-sim up --qmi"; }
CLEANUP_EXTRA+=('[ $FAILS -eq 0 ] || { echo "--- fake-qmi-modem log (tail) ---"; tail -20 /run/cellmux-sim/qmi.log; }')
# A link of our own in the host namespace: adding or removing it is a hot-plug event for the
# daemon (any link change makes it look for absent match= uplinks' devices again).
EV=cmxmu$$
CLEANUP_EXTRA+=("ip link del $EV 2>/dev/null")
imei_of() { "$SIM" status | awk -v i="$1" '$1 == i { print $(NF - 1) }'; }
IMEI0=$(imei_of 0) IMEI1=$(imei_of 1)

{
	daemon_section
	cat <<EOF2
[metrics]
listen=off

[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.3 --timeout 1
user=nobody
restart=on-failure

[session p0]
profile=probe
uplink=sim0

[session p1]
profile=probe
uplink=sim1
EOF2
} | make_config
sed -i '/^device=/d; /^interface=/d' "$T/cellmux.conf"
sed -i "/^\[uplink sim0\]/a match=imei:$IMEI0" "$T/cellmux.conf"
sed -i "/^\[uplink sim1\]/a match=imei:$IMEI1" "$T/cellmux.conf"

link_in() { ip -n "cmx-$1" -o link show 2>/dev/null | awk '$2 != "lo:" { sub(/:$/, "", $2); sub(/@.*/, "", $2); print $2 }'; }
holds() { [ "$(link_in "$1")" = "$2" ]; }
jget() { # uplink, python expression over u (its `uplink show --json`)
	ctl --json uplink show "$1" >"$T/show.json" 2>/dev/null &&
		python3 -c 'import json,sys; u=json.load(open(sys.argv[2])); u=u[0] if isinstance(u, list) else u; print(eval(sys.argv[1]))' "$2" "$T/show.json"
}
device_is() { [ "$(jget "$1" 'u.get("device")')" = "$2" ]; }
is_state() { [ "$(jget "$1" 'u.get("state")')" = "$2" ]; }
last_error_has() { jget "$1" 'u.get("last_error") or ""' | grep -qF -- "$2"; }
connected_is() { [ "$(field "$1" connected)" = "$2" ]; }
connections_is() { [ "$(field "$1" connections)" = "$2" ]; }
unanswered_over() { [ "$(field "$1" unanswered)" -gt "$2" ]; }
alive_daemon() { kill -0 "$DAEMON_PID" 2>/dev/null; }
# The admin socket answers `status` within $1 s (the daemon's loop is free, or blocked no longer
# than one bounded ask); prints how long it took.
ctl_answers_within() {
	local t0 t1 rc
	t0=$(date +%s%N)
	timeout 30 "$BUILD/cellmuxctl" --socket "$T/ctl.sock" status >/dev/null 2>&1
	rc=$?
	t1=$(date +%s%N)
	echo "  (cellmuxctl status: rc $rc in $(( (t1 - t0) / 1000000 )) ms)"
	[ $rc -eq 0 ] && [ $(( (t1 - t0) / 1000000 )) -le $(($1 * 1000)) ]
}

# ---- modem 0 wedged from the start ----
fq mute 0 >/dev/null || die "fake-qmi-modem mute 0"
check "the fake mutes modem 0 (every service)" [ "$(field 0 muted)" = all ]
check "the fake still answers modem 1" [ "$(field 1 muted)" = - ]
t0=$(date +%s%N)
start_daemon_fakesys
# Figures, not checks: each absent uplink's search at start asks the mute port once.
echo "  (start to ready: $(( ($(date +%s%N) - t0) / 1000000 )) ms with modem 0 mute;" \
	"$(field 0 unanswered) requests it left unanswered by then)"
check "sim1 is found by IMEI on /dev/cdc-wdm1 and holds simwwan1" wait_for 15 holds sim1 simwwan1
check "uplink show names sim1's port /dev/cdc-wdm1" wait_for 10 device_is sim1 /dev/cdc-wdm1
check "modem 1 carries a data session" wait_for 15 connected_is 1 1
check "p1 runs on sim1" wait_for 20 on p1 sim1
check "the muted modem was asked (requests it left unanswered)" [ "$(field 0 unanswered)" -gt 0 ]
check "sim0 is down" is_state sim0 down
check "sim0 has no namespace" ns_gone sim0
check "modem 0 has no data session" connected_is 0 0
check "p0 (a pin) waits with no worker" no_worker p0
check "sim0's last error: no answer from /dev/cdc-wdm0 within 2 s" \
	last_error_has sim0 "no answer from /dev/cdc-wdm0 within 2 s"
check "the log says so for sim0" logged "uplink sim0: no answer from /dev/cdc-wdm0 within 2 s"
check "sim1, found, has no such error" sh -c "! grep -q 'uplink sim1: no answer' '$T/daemon.log'"
check "every ask let go of the muted modem's port" wait_for 5 connections_is 0 0
check "the admin socket answers after the asks at start" ctl_answers_within 5

# ---- a hot-plug event while the modem is still mute: one more bounded ask ----
n0=$(field 0 unanswered)
ip link add "$EV" type veth peer name "${EV}p" || die "ip link add $EV"
sleep 0.3 # past the daemon's 200 ms settle: the ask is under way when status is asked
check "the admin socket answers during the ask a hot-plug event starts (within 5 s)" ctl_answers_within 5
check "the event made the daemon ask the muted modem again" wait_for 10 unanswered_over 0 "$n0"
check "sim0 is still down" is_state sim0 down
check "sim1 is untouched" holds sim1 simwwan1
# The operator's `uplink up` asks again too, and says what it found.
timeout 30 "$BUILD/cellmuxctl" --socket "$T/ctl.sock" uplink up sim0 >"$T/up.out" 2>&1
rc=$?
check "uplink up sim0 while the modem is mute is refused" [ $rc -ne 0 ]
check "... saying no device matches now" grep -q "no device matches uplink 'sim0' now" "$T/up.out"
check "the daemon is alive" alive_daemon

# ---- only DMS mute: the client ID comes, Get IDs does not; the ask cancels it and still
# releases the client and closes ----
fq unmute 0 >/dev/null && fq mute 0 dms >/dev/null || die "fake-qmi-modem mute 0 dms"
check "the fake mutes only modem 0's DMS" [ "$(field 0 muted)" = dms ]
n0=$(field 0 unanswered)
ip link set "$EV" up || die "ip link set $EV up"
check "a hot-plug event asks it: Get IDs goes unanswered" wait_for 10 unanswered_over 0 "$n0"
check "the admin socket answers (within 5 s)" ctl_answers_within 5
check "that ask let go of the port too" wait_for 5 connections_is 0 0
check "sim0 is still down, and says why" last_error_has sim0 "no answer from /dev/cdc-wdm0 within 2 s"

# ---- the modem answers again: the next search brings sim0 up on the right port ----
fq unmute 0 >/dev/null || die "fake-qmi-modem unmute 0"
check "the fake answers modem 0 again" [ "$(field 0 muted)" = - ]
# Nothing asks by itself: the next hot-plug event (here our link going) searches again.
ip link del "$EV" || die "ip link del $EV"
check "sim0 is found by IMEI on /dev/cdc-wdm0 and holds simwwan0" wait_for 15 holds sim0 simwwan0
check "the match is logged" logged "uplink sim0: simwwan0 matches imei:$IMEI0: bringing it up"
check "uplink show names sim0's port /dev/cdc-wdm0" wait_for 10 device_is sim0 /dev/cdc-wdm0
check "sim0 has no last error" [ "$(jget sim0 'u.get("last_error")')" = None ]
check "modem 0 carries a data session" wait_for 15 connected_is 0 1
check "p0 runs on sim0" wait_for 20 on p0 sim0
line=$(http_lines)
check "p0's traffic reaches the server" wait_for 20 seen_since p0 "$line"
check "p0's traffic leaves from carrier 0's address only" \
	[ "$(egress_since p0 "$line")" = "$(carrier_addr 0)" ]
check "p1 still runs on sim1" on p1 sim1

check "no ask outlived its heap state" sh -c "! grep -q 'nor let go after a cancel' '$T/daemon.log'"
check "no GLib critical or memory error in the log" \
	sh -c "! grep -Eq 'CRITICAL|double free|corrupted|AddressSanitizer|Segmentation' '$T/daemon.log'"
check "the daemon stops cleanly" stop_daemon
check "every modem is back in the host" sh -c "test -e /sys/class/net/simwwan0 -a -e /sys/class/net/simwwan1"
check "nothing is left behind" nothing_left
