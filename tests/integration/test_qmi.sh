#!/bin/bash
# test_qmi.sh — the qmi driver against fake QMI modems: the real qmicli gets sensible answers from
# the fake; an uplink comes up with what the modem reports and its sessions reach the internet
# from their carrier's address; a dropped session goes down within 1 s and comes back with the
# new address; a vanished modem is retried until it returns; broken frames are logged and
# survived, under valgrind, without leaks; stop releases the data session.
#
#   qmicli -p (in cmxsim-qmi) ──@qmi-proxy──┐
#   cellmuxd ──@cellmux-sim-qmi─────────────┴─ fake-qmi-modem (/dev/cdc-wdm0, /dev/cdc-wdm1)
#   worker s1,s2 ── cmx-sim0 (simwwan0, address from the modem) ── carrier cmxsim-c0
#        (NAT to 198.18.1.1) ── cmxsim-inet ── httpd 198.18.0.1:80 /ip
#   worker s3 ── cmx-sim1 (simwwan1) ── carrier cmxsim-c1 (198.18.1.2)
. "$(dirname "$0")/lib.sh"

FQ=$BUILD/helpers/fake-qmi-modem
QMICLI_LAB=$(cd "$(dirname "$0")/../fakeqmi" && pwd)/lab-qmicli.sh
fq() { "$FQ" --ctl /run/cellmux-sim/qmi.ctl "$@"; }
qmicli_lab() { timeout 10 "$QMICLI_LAB" cmxsim-qmi -p "$@"; }
field() { # modem key: one value of the fake's status line
	fq status "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
count() { grep -c -- "$1" "$T/daemon.log"; }
addr_in() { ip -n "cmx-$1" -4 -o addr show dev "$2" | awk '{ print $4 }'; }
has_addr() { [ "$(addr_in "$1" "$2")" = "$3" ]; }
jget() { # uplink, python expression over u (its `uplink show --json`): the value as JSON
	ctl --json uplink show "$1" >"$T/show.json" 2>/dev/null &&
		python3 -c 'import json,sys; print(json.dumps(eval(sys.argv[1], {"u": json.load(open(sys.argv[2]))})))' "$2" "$T/show.json"
}
jis() { [ "$(jget "$1" "$2")" = "$3" ]; }

"$SIM" up --modems 2 --qmi >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; die "cellmux-sim up --qmi"; }
CLEANUP_EXTRA+=('[ $FAILS -eq 0 ] || { echo "--- fake-qmi-modem log (tail) ---"; tail -30 /run/cellmux-sim/qmi.log; }')
[ -x "$FQ" ] || die "no $FQ (make builds it)"

# The fake is faithful enough for the real client.
out=$(qmicli_lab -d /dev/cdc-wdm0 --dms-get-ids 2>&1)
imei=$(fq status 0 >/dev/null && printf '%s\n' "$out" | sed -n "s/.*IMEI: '\([0-9]*\)'.*/\1/p")
check "qmicli --dms-get-ids reads a 15-digit IMEI ($imei)" [ "${#imei}" = 15 ]
check "qmicli --nas-get-signal-strength reads LTE at -60 dBm" \
	sh -c "\"$QMICLI_LAB\" cmxsim-qmi -p -d /dev/cdc-wdm0 --nas-get-signal-strength | grep -q \"Network 'lte': '-60 dBm'\""
check "qmicli --wds-get-packet-service-status: disconnected before cellmuxd runs" \
	sh -c "\"$QMICLI_LAB\" cmxsim-qmi -p -d /dev/cdc-wdm0 --wds-get-packet-service-status | grep -q \"Connection status: 'disconnected'\""
check "qmicli --dms-uim-get-iccid reads an ICCID" \
	sh -c "\"$QMICLI_LAB\" cmxsim-qmi -p -d /dev/cdc-wdm1 --dms-uim-get-iccid | grep -q \"ICCID: '8999\""
check "qmicli --dms-get-operating-mode: online" \
	sh -c "\"$QMICLI_LAB\" cmxsim-qmi -p -d /dev/cdc-wdm1 --dms-get-operating-mode | grep -q \"Mode: 'online'\""
check "qmicli: a reset straight from online is refused (InvalidTransition), as on hardware" \
	sh -c "\"$QMICLI_LAB\" cmxsim-qmi -p -d /dev/cdc-wdm1 --dms-set-operating-mode=reset 2>&1 | grep -q InvalidTransition"
check "qmicli on an unknown port is refused, as qmi-proxy refuses it" \
	sh -c "! \"$QMICLI_LAB\" cmxsim-qmi -p -d /dev/cdc-wdm7 --dms-get-ids >/dev/null 2>&1"

{
	daemon_section
	cat <<EOF2
[metrics]
listen=off

[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.3 --timeout 1
user=nobody

[session s1]
profile=probe
uplink=sim0

[session s2]
profile=probe
uplink=sim0

[session s3]
profile=probe
uplink=sim1
EOF2
} | make_config
grep -q '^driver=qmi' "$T/cellmux.conf" || die "cellmux-sim config does not describe qmi uplinks"
# Modem 1's SIM is locked; its uplink knows the PIN.
fq set 1 pin=4321 >/dev/null
sed -i '/^\[uplink sim1\]/a pin=4321' "$T/cellmux.conf"
# A config holding a PIN must be root's alone, or cellmuxd refuses it.
chmod 600 "$T/cellmux.conf"
CELLMUX_LOG_LEVEL=debug start_daemon
check "uplink sim0 comes up from the fake modem" wait_for 10 grep -q "uplink sim0: connected" "$T/daemon.log"
check "uplink sim1 comes up from the fake modem" wait_for 10 grep -q "uplink sim1: connected" "$T/daemon.log"
check "cmx-sim0 has the address the modem reported" has_addr sim0 simwwan0 100.64.0.2/24
check "cmx-sim0's default route is the modem's gateway" \
	sh -c "ip -n cmx-sim0 route show default | grep -q 'via 100.64.0.1 dev simwwan0'"
check "cmx-sim0's resolv.conf names the modem's DNS" grep -qx "nameserver 100.64.0.1" /etc/netns/cmx-sim0/resolv.conf
check "the modem saw Start Network with apn=internet over raw-ip (WDA)" \
	[ "$(field 0 apn) $(field 0 connected) $(field 0 llp)" = "internet 1 2" ]
check "the modem's identity and radio were read (IMEI, ICCID, IMSI, operator, RAT, signal)" \
	wait_for 5 grep -q "uplink sim0: modem IMEI $imei, ICCID 8999[0-9]*, IMSI 99999[0-9]*, Fake Carrier 0 (99999), lte, -60 dBm" "$T/daemon.log"
check "the locked SIM of modem 1 was unlocked with the configured PIN" [ "$(field 1 pin_verified)" = 1 ]
check "qmicli sees the data session cellmuxd started" \
	sh -c "\"$QMICLI_LAB\" cmxsim-qmi -p -d /dev/cdc-wdm0 --wds-get-packet-service-status | grep -q \"Connection status: 'connected'\""
reached() { [ "$(egress_of "$1")" = "$2" ]; }
check "s1 on sim0 reaches the internet from carrier 0's address" wait_for 20 reached s1 198.18.1.1
check "s3 on sim1 reaches the internet from carrier 1's address" wait_for 20 reached s3 198.18.1.2
check "uplink show: the address, gateway and DNS the modem reported" \
	jis sim0 '[u["addresses"], u["gateways"], u["dns"]]' '[["100.64.0.2/24"], ["100.64.0.1"], ["100.64.0.1"]]'
check "cellmuxctl shows sim0 up" sh -c "\"$BUILD/cellmuxctl\" --socket '$T/ctl.sock' --json uplink show sim0 | grep -q '\"state\": *\"up\"'"

# A drop: the modem ends the session and will hand out another address next time.
fq set 0 address=100.64.0.7/24 >/dev/null
drops=$(count "uplink sim0: disconnected")
ups=$(count "uplink sim0: connected")
t0=${EPOCHREALTIME/./}
fq disconnect 0 >/dev/null
wait_for 5 sh -c "[ \$(grep -c 'uplink sim0: disconnected' '$T/daemon.log') -gt $drops ]"
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
check "an injected drop takes sim0 down within 1 s ($ms ms)" [ "$ms" -lt 1000 ]
check "sim0 reconnects by itself" \
	wait_for 10 sh -c "[ \$(grep -c 'uplink sim0: connected' '$T/daemon.log') -gt $ups ]"
check "the new address is applied" wait_for 5 has_addr sim0 simwwan0 100.64.0.7/24
check "uplink show: the new address, learned from the modem" wait_for 5 jis sim0 'u["addresses"]' '["100.64.0.7/24"]'
check "uplink show: the drop's call-end reason ($(jget sim0 'u["last_error"]'))" \
	jis sim0 'u["last_error"]' '"the network ended the data session (generic-no-service)"'
check "the old address is gone" sh -c "! ip -n cmx-sim0 addr show simwwan0 | grep -q 100.64.0.2/"
check "the default route is back" sh -c "ip -n cmx-sim0 route show default | grep -q 'via 100.64.0.1'"
before=$(http_log | wc -l)
check "s1 reaches the internet again after the drop" \
	wait_for 20 sh -c "tail -n +$((before + 1)) /run/cellmux-sim/http.log | grep -q ' 200 session=s1\$'"
check "s2 reaches the internet again after the drop" \
	wait_for 20 sh -c "tail -n +$((before + 1)) /run/cellmux-sim/http.log | grep -q ' 200 session=s2\$'"
check "the daemon counted the drop" [ "$(count "uplink sim0: disconnected")" -gt "$drops" ]
n=$(ctl --json uplink show sim0 2>/dev/null | grep -o '"reconnects": *[0-9]*' | grep -o '[0-9]*$')
check "cellmuxctl shows the reconnect count risen (${n:-none})" [ "${n:-0}" -ge 1 ]

# The network changes the address under a live session (reconfiguration indication).
fq set 0 address=100.64.0.9/24 >/dev/null
fq reconfigure 0 >/dev/null
check "a reconfiguration indication applies the new address" wait_for 5 has_addr sim0 simwwan0 100.64.0.9/24
check "uplink show follows it" wait_for 5 jis sim0 'u["addresses"]' '["100.64.0.9/24"]'

# The modem vanishes (USB reset): down, retried with backoff, up again when it returns.
drops=$(count "uplink sim0: disconnected")
ups=$(count "uplink sim0: connected")
fq vanish 0 >/dev/null
check "a vanished modem takes sim0 down" \
	wait_for 5 sh -c "[ \$(grep -c 'uplink sim0: disconnected' '$T/daemon.log') -gt $drops ]"
refused=$(field 0 refused)
check "cellmuxd keeps retrying the vanished modem (refused opens grow)" \
	wait_for 10 sh -c "[ \$(\"$FQ\" --ctl /run/cellmux-sim/qmi.ctl status 0 | tr ' ' '\n' | sed -n 's/^refused=//p') -ge $((refused + 2)) ]"
check "and sim0 has no address meanwhile" sh -c "[ -z \"\$(ip -n cmx-sim0 -4 -o addr show dev simwwan0)\" ]"
check "uplink show: no address, no gateway while it is gone" jis sim0 '[u["addresses"], u["gateways"]]' '[[], []]'
check "sim1 is untouched by sim0's trouble" sh -c "ip -n cmx-sim1 -4 addr show simwwan1 | grep -q 100.64.1.2/24"
check "the daemon keeps running" kill -0 "$DAEMON_PID"
fq return 0 >/dev/null
check "the returning modem brings sim0 up again" \
	wait_for 40 sh -c "[ \$(grep -c 'uplink sim0: connected' '$T/daemon.log') -gt $ups ]"

# The proxy itself dies and comes back.
drops=$(count "uplink sim1: disconnected")
ups=$(count "uplink sim1: connected")
kill "$(cat /run/cellmux-sim/qmi.pid)"
check "a dead proxy takes sim1 down" \
	wait_for 5 sh -c "[ \$(grep -c 'uplink sim1: disconnected' '$T/daemon.log') -gt $drops ]"
wait_for 5 sh -c '! kill -0 $(cat /run/cellmux-sim/qmi.pid 2>/dev/null) 2>/dev/null'
"$SIM" up --modems 2 --qmi >>"$T/sim.log" 2>&1 || fail "cellmux-sim up --qmi brings the proxy back"
check "sim1 is up again once the proxy is back" \
	wait_for 40 sh -c "[ \$(grep -c 'uplink sim1: connected' '$T/daemon.log') -gt $ups ]"
check "no qmi-proxy was spawned in the host by libqmi" sh -c "! pgrep -x qmi-proxy >/dev/null"

check "SIGTERM stops the daemon with status 0" stop_daemon
check "stop ended the data sessions (Stop Network seen by the modem)" \
	[ "$(field 1 stops)" -ge 1 ]
check "no data session left up in the modems" \
	[ "$(field 0 connected)$(field 1 connected)" = 00 ]
check "no namespace, cgroup or /etc/netns entry left" nothing_left
check "simwwan0 is back in the host namespace" ip link show simwwan0

# Broken frames, under valgrind: logged, survived, nothing leaked.
if ! command -v valgrind >/dev/null; then
	fail "valgrind is installed (tools/deps.sh)"
	exit 1
fi
{
	daemon_section
	printf '[metrics]\nlisten=off\n'
} | make_config
: >"$T/daemon.log" # emptied here: a redirection in the background job would race our grep
G_SLICE=always-malloc G_DEBUG=gc-friendly valgrind -q --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --suppressions="$(dirname "$0")/valgrind.supp" \
	--error-exitcode=99 --log-file="$T/valgrind.log" \
	"$CELLMUXD" -c "$T/cellmux.conf" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
# valgrind starts slowly on a busy 2-core machine: its first minute is reading debug info.
wait_for 180 grep -q "uplink sim0: connected" "$T/daemon.log" ||
	{ cat "$T/daemon.log" "$T/valgrind.log"; die "sim0 up under valgrind"; }
ups=$(count "uplink sim0: connected")
fq truncated 0 >/dev/null
check "a truncated frame is logged" wait_for 10 grep -q "libqmi: .*invalid message" "$T/daemon.log"
fq oversized 0 >/dev/null
sleep 1 # nothing to poll for: an oversized frame for nobody must change nothing
check "an oversized frame changes nothing: sim0 stays connected" \
	eval '[ "$(count "uplink sim0: connected")" = "$ups" ] && ! grep -q "uplink sim0: disconnected" "$T/daemon.log"'
fq garbage 0 >/dev/null
check "garbage breaks the framing: sim0 goes down" wait_for 10 grep -q "uplink sim0: disconnected" "$T/daemon.log"
check "and comes back" \
	wait_for 30 sh -c "[ \$(grep -c 'uplink sim0: connected' '$T/daemon.log') -gt $ups ]"
check "the daemon survived it all" kill -0 "$DAEMON_PID"
kill -TERM "$DAEMON_PID"
wait_for 60 daemon_gone
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
check "under valgrind: clean exit, no errors, no definite leaks (rc $rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || cat "$T/valgrind.log"
check "nothing left after the valgrind run" nothing_left
