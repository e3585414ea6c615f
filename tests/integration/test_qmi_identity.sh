#!/bin/bash
# test_qmi_identity.sh — driver=qmi uplinks bound by the modem's own identity (match=imei:,
# iccid:, usb:) instead of device=/interface=: cellmuxd walks /sys/class/usbmisc, asks each
# port's modem for its IMEI and ICCID over QMI (DMS Get IDs, UIM Get ICCID), and takes the port
# that says it is the one, with the data interface sysfs shows beside it. An unplugged modem takes
# its uplink down; replugged into another USB port under another /dev/cdc-wdmN and another
# interface name it comes back to the same uplink; two modems swapped between ports each return
# to their own uplink by IMEI, and their sessions' traffic leaves from their own carrier.
#
#   cellmuxd (own mount namespace: /sys/class/usbmisc = the sim's fake sysfs)
#     ──@cellmux-sim-qmi── fake-qmi-modem: modem 0 IMEI ...006 (/dev/cdc-wdm0, USB 1-1.1, simwwan0)
#                                           modem 1 IMEI ...014 (/dev/cdc-wdm1, USB 1-1.2, simwwan1)
#   p0 uplink=sim0 (match=imei: of modem 0)   p1 uplink=sim1 (match=imei: of modem 1, iccid:)
#   modem i ── carrier cmxsim-c<i> (NAT to 198.18.1.<i+1>) ── cmxsim-inet ── httpd 198.18.0.1/ip
. "$(dirname "$0")/lib.sh"

FQ=$BUILD/helpers/fake-qmi-modem
fq() { "$FQ" --ctl /run/cellmux-sim/qmi.ctl "$@"; }
field() { fq status "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
[ -x "$FQ" ] || die "no $FQ (make builds it)"
command -v unshare >/dev/null || die "unshare (util-linux) is installed"

"$SIM" up --modems 2 --qmi >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; die "cellmux-sim up --qmi"; }
CLEANUP_EXTRA+=('[ $FAILS -eq 0 ] || { echo "--- fake-qmi-modem log (tail) ---"; tail -20 /run/cellmux-sim/qmi.log; }')
imei_of() { "$SIM" status | awk -v i="$1" '$1 == i { print $(NF - 1) }'; }
iccid_of() { "$SIM" status | awk -v i="$1" '$1 == i { print $NF }'; }
IMEI0=$(imei_of 0) IMEI1=$(imei_of 1) ICCID1=$(iccid_of 1)
check "the sim lists each modem's IMEI ($IMEI0, $IMEI1)" \
	sh -c "[ ${#IMEI0} = 15 ] && [ ${#IMEI1} = 15 ] && [ $IMEI0 != $IMEI1 ]"
check "the fake sysfs shows modem 0 as cdc-wdm0 on USB 1-1.1 with simwwan0" \
	sh -c 'realpath /run/cellmux-sim/sys/class/usbmisc/cdc-wdm0/device | grep -q "/1-1\.1/1-1\.1:1\.4$" &&
		[ "$(ls /run/cellmux-sim/sys/class/usbmisc/cdc-wdm0/device/net)" = simwwan0 ]'

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
# By identity: no port, no interface name. sim1 must also hold its SIM (an AND of terms).
sed -i '/^device=/d; /^interface=/d' "$T/cellmux.conf"
sed -i "/^\[uplink sim0\]/a match=imei:$IMEI0" "$T/cellmux.conf"
sed -i "/^\[uplink sim1\]/a match=imei:$IMEI1,iccid:$ICCID1" "$T/cellmux.conf"
grep -qE '^(device|interface)=' "$T/cellmux.conf" && die "config still names ports or interfaces"

# A bad match= is an error at its line, and the daemon starts nothing.
cp "$T/cellmux.conf" "$T/bad.conf"
sed -i "/^\[uplink sim0\]/a device=/dev/cdc-wdm0" "$T/bad.conf"
bad_line=$(grep -n '^device=' "$T/bad.conf" | cut -d: -f1)
"$CELLMUXD" --check-config -c "$T/bad.conf" >"$T/bad.out" 2>&1
rc=$?
check "--check-config refuses device= beside match=" [ $rc -ne 0 ]
check "... at its file and line" grep -q "bad.conf:$bad_line: device= and match= exclude each other" "$T/bad.out"
cp "$T/cellmux.conf" "$T/bad2.conf"
sed -i "s/^match=imei:$IMEI0$/match=imei:${IMEI0:0:14}$(( (${IMEI0:14:1} + 1) % 10 ))/" "$T/bad2.conf"
"$CELLMUXD" --check-config -c "$T/bad2.conf" >"$T/bad2.out" 2>&1
check "a wrong IMEI check digit is refused with its reason" \
	grep -q "bad2.conf:[0-9]*: invalid match=imei:.*valid Luhn check digit" "$T/bad2.out"

link_in() { ip -n "cmx-$1" -o link show 2>/dev/null | awk '$2 != "lo:" { sub(/:$/, "", $2); sub(/@.*/, "", $2); print $2 }'; }
holds() { [ "$(link_in "$1")" = "$2" ]; }
jget() { # uplink, python expression over u (its `uplink show --json`)
	ctl --json uplink show "$1" >"$T/show.json" 2>/dev/null &&
		python3 -c 'import json,sys; u=json.load(open(sys.argv[2])); u=u[0] if isinstance(u, list) else u; print(eval(sys.argv[1]))' "$2" "$T/show.json"
}
device_is() { [ "$(jget "$1" 'u.get("device")')" = "$2" ]; }
is_state() { [ "$(jget "$1" 'u.get("state")')" = "$2" ]; }
connected_is() { [ "$(field "$1" connected)" = "$2" ]; }

# ---- at start: each uplink finds its modem by asking ----
start_daemon_fakesys
check "sim0 is found by IMEI on /dev/cdc-wdm0 and holds simwwan0" wait_for 15 holds sim0 simwwan0
check "sim1 is found by IMEI and ICCID on /dev/cdc-wdm1 and holds simwwan1" wait_for 15 holds sim1 simwwan1
check "uplink show names sim0's port /dev/cdc-wdm0" wait_for 10 device_is sim0 /dev/cdc-wdm0
check "uplink show names sim1's port /dev/cdc-wdm1" device_is sim1 /dev/cdc-wdm1
check "sim0 connects (a data session on modem 0)" wait_for 15 connected_is 0 1
check "p0 runs on sim0" wait_for 20 on p0 sim0
check "p1 runs on sim1" wait_for 20 on p1 sim1

# ---- unplug, replug into another port under another port number and name ----
"$SIM" unplug 0 >>"$T/sim.log" 2>&1 || die "cellmux-sim unplug 0"
check "the unplug is noticed" wait_for 10 logged "uplink sim0: simwwan0 is gone from cmx-sim0 (unplugged)"
check "sim0 is down" wait_for 10 is_state sim0 down
check "p0 (a pin) waits with no worker" wait_for 20 no_worker p0
check "sim1 is untouched" holds sim1 simwwan1
line=$(http_lines)
# Hub port 3 is new (USB path 1-1.3); cdc-wdm0 is free again, so by the kernel's rule (the lowest
# number free) it gets that back. The swap below gives modems each other's numbers.
"$SIM" replug 0 qmx7 --port 3 >>"$T/sim.log" 2>&1 || die "cellmux-sim replug 0 qmx7 --port 3"
check "modem 0 is now on USB 1-1.3" \
	sh -c 'realpath /run/cellmux-sim/sys/class/usbmisc/cdc-wdm0/device | grep -q "/1-1\.3/1-1\.3:1\.4$"'
check "sim0 comes back holding qmx7" wait_for 15 holds sim0 qmx7
check "the match is logged" logged "uplink sim0: qmx7 matches imei:$IMEI0: bringing it up"
check "p0 runs on sim0 again" wait_for 20 on p0 sim0
check "p0's new traffic reaches the server" wait_for 20 seen_since p0 "$line"
check "p0's new traffic leaves from carrier 0's address only" \
	[ "$(egress_since p0 "$line")" = "$(carrier_addr 0)" ]

# ---- two modems swapped between ports: each comes back to its own uplink by IMEI ----
"$SIM" unplug 0 >>"$T/sim.log" 2>&1 || die "cellmux-sim unplug 0"
"$SIM" unplug 1 >>"$T/sim.log" 2>&1 || die "cellmux-sim unplug 1"
check "both uplinks go down" wait_for 10 sh -c "! ip netns list | grep -qE '^cmx-sim(0|1)\b'"
line=$(http_lines)
# Modem 1 first, into modem 0's old port: it is now /dev/cdc-wdm0 and simwwan0, what sim0 had
# at start; a device=/interface= config would give it to sim0.
"$SIM" replug 1 simwwan0 --port 1 >>"$T/sim.log" 2>&1 || die "cellmux-sim replug 1 simwwan0 --port 1"
"$SIM" replug 0 simwwan1 --port 2 >>"$T/sim.log" 2>&1 || die "cellmux-sim replug 0 simwwan1 --port 2"
check "the fake now serves modem 1 as /dev/cdc-wdm0" [ "$(field 1 path)" = /dev/cdc-wdm0 ]
check "sim0 holds modem 0, now simwwan1" wait_for 15 holds sim0 simwwan1
check "sim1 holds modem 1, now simwwan0" wait_for 15 holds sim1 simwwan0
check "uplink show: sim0 is on /dev/cdc-wdm1" wait_for 10 device_is sim0 /dev/cdc-wdm1
check "uplink show: sim1 is on /dev/cdc-wdm0" device_is sim1 /dev/cdc-wdm0
check "modem 0 carries a data session again" wait_for 15 connected_is 0 1
check "p0 runs on sim0" wait_for 20 on p0 sim0
check "p1 runs on sim1" wait_for 20 on p1 sim1
check "p0's new traffic reaches the server" wait_for 20 seen_since p0 "$line"
check "p0's new traffic leaves from carrier 0's address only" \
	[ "$(egress_since p0 "$line")" = "$(carrier_addr 0)" ]
check "p1's new traffic reaches the server" wait_for 20 seen_since p1 "$line"
check "p1's new traffic leaves from carrier 1's address only" \
	[ "$(egress_since p1 "$line")" = "$(carrier_addr 1)" ]

check "the daemon stops cleanly" stop_daemon
check "modem 0's data session is released at stop" [ "$(field 0 connected)" = 0 ]
check "every modem is back in the host" sh -c "test -e /sys/class/net/simwwan0 -a -e /sys/class/net/simwwan1"
check "nothing is left behind" nothing_left
