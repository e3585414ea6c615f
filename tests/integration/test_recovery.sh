#!/bin/bash
# test_recovery.sh — the uplink's live state and its recovery ladder, with a fake QMI modem whose
# uplink has no interface= (the data interface is found in sysfs, as on hardware):
#  * what the modem reported (address, gateway, DNS) shows in `cellmuxctl --json uplink show`
#    and /metrics, and the uplink is counted on the interface found;
#  * a carrier cut for good (`cellmux-sim cut 0`: link and address up, upstream dead) makes sim0
#    failed; the ladder redoes the data session, then resets the modem (DMS operating mode
#    offline, reset: the fake modem drops off the bus and comes back), with a doubling backoff,
#    and stops at recover_max_per_hour; `heal` makes it healthy again.
#
#   worker s1 ── cmx-sim0 (simwwan0, found as /sys/class/usbmisc/cdc-wdm0/device/net/simwwan0
#        in the daemon's own mount namespace, from the sim's fake sysfs) ── carrier cmxsim-c0 (NAT 198.18.1.1) ── httpd
#   cellmuxd ──@cellmux-sim-qmi── fake-qmi-modem (/dev/cdc-wdm0)
#   health tcp:198.18.0.1:80 every 500 ms, 2 fails; recover_after=2s, recover_max_per_hour=3:
#   failed at ~1 s, reconnect at +2 s, reset at +4 s more, reset at +8 s more, then the cap.
. "$(dirname "$0")/lib.sh"

FQ=$BUILD/helpers/fake-qmi-modem
fq() { "$FQ" --ctl /run/cellmux-sim/qmi.ctl "$@"; }
field() { fq status "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
PORT=$((20000 + $$ % 20000))
command -v unshare >/dev/null || die "unshare (util-linux) is installed"
command -v curl >/dev/null || die "curl is installed (tools/deps.sh)"
[ -x "$FQ" ] || die "no $FQ (make builds it)"

"$SIM" up --modems 1 --qmi >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; die "cellmux-sim up --qmi"; }
{
	daemon_section
	printf '[metrics]\nlisten=127.0.0.1:%d\n\n' "$PORT"
	cat <<EOF2
[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.3 --timeout 1
user=nobody
restart=on-failure

[session s1]
profile=probe
uplink=sim0
on_uplink_down=wait
EOF2
} | make_config
# No interface=: the driver finds simwwan0 from device=, in sysfs.
sed -i '/^\[uplink sim0\]/,/^$/ { /^interface=/d }' "$T/cellmux.conf"
sed -i '/^\[uplink sim0\]/a health_check=tcp:198.18.0.1:80\nhealth_interval=500ms\nhealth_fail=2\nhealth_ok=2\nrecover_after=2s\nrecover_max_per_hour=3' \
	"$T/cellmux.conf"
sed -n '/^\[uplink sim0\]/,/^$/p' "$T/cellmux.conf" | grep -q '^interface=' && die "sim0 still has interface="
grep -q '^recover_max_per_hour=3$' "$T/cellmux.conf" || die "config has no ladder settings"

# sysfs as a qmi_wwan modem shows it (the sim's), in a mount namespace of the daemon's own.
start_daemon_fakesys
check "sim0 comes up through the interface found in sysfs" \
	wait_for 15 grep -q "uplink sim0: connected" "$T/daemon.log"
check "the interface found is simwwan0" grep -q "uplink sim0: .* via simwwan0" "$T/daemon.log"

show() { ctl --json uplink show sim0 >"$T/show.json" 2>/dev/null; }
jget() { # python expression over u, the uplink: its value as JSON
	show && python3 -c 'import json,sys; print(json.dumps(eval(sys.argv[1], {"u": json.load(open(sys.argv[2]))})))' "$1" "$T/show.json"
}
jis() { [ "$(jget "$1")" = "$2" ]; }
jgt() { local v; v=$(jget "$1"); [ -n "$v" ] && [ "$v" != null ] && [ "$v" -gt "$2" ]; }
metrics() { curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$T/metrics.txt"; }
mhas() { metrics && grep -qxF "$1" "$T/metrics.txt"; }
fq_ge() { [ "$(field 0 "$1")" -ge "$2" ]; }
logs() { [ "$(grep -c -- "$1" "$T/daemon.log")" -ge "$2" ]; }

check "uplink show: interface simwwan0 (live, not the config's empty one)" \
	jis 'u["interface"]' '"simwwan0"'
check "uplink show: the address the modem reported" \
	wait_for 5 jis 'u["addresses"]' '["100.64.0.2/24"]'
check "uplink show: its gateway and DNS" \
	jis '[u["gateways"], u["dns"]]' '[["100.64.0.1"], ["100.64.0.1"]]'
check "/metrics has the modem's address" \
	mhas 'cellmux_uplink_address_info{uplink="sim0",kind="address",address="100.64.0.2/24"} 1'
check "/metrics has its gateway" \
	mhas 'cellmux_uplink_address_info{uplink="sim0",kind="gateway",address="100.64.0.1"} 1'
check "s1 reaches the internet from carrier 0" wait_for 20 sh -c \
	"[ \"\$(awk '\$NF == \"session=s1\" && \$5 == 200 { print \$2 }' /run/cellmux-sim/http.log | sort -u)\" = 198.18.1.1 ]"
check "the QMI uplink without interface= is counted: received bytes" wait_for 10 jgt 'u["rx_bytes"]' 1000
check "and transmitted bytes" jgt 'u["tx_bytes"]' 500
check "healthy, nothing recovered yet" \
	jis '[u["health"], u["recoveries"], u["recovery"]]' '["healthy", {"reconnect": 0, "reset": 0}, null]'

# The carrier's upstream dies for good: the ladder climbs, backs off and stops at the cap.
since() { echo $(((${EPOCHREALTIME/./} - $1) / 1000)); }
t0=${EPOCHREALTIME/./}
"$SIM" cut 0 >/dev/null || die "cellmux-sim cut 0"
check "sim0 is failed" wait_for 10 logs "uplink sim0: health failed" 1
check "step 1 redoes the data session, with the health failure as its reason" \
	wait_for 10 logs "uplink sim0: recovery step 1: redoing the data session (health failed: tcp:198.18.0.1:80" 1
t1=$(since "$t0")
check "the modem's session was redone (a second Start Network)" wait_for 10 fq_ge starts 2
check "step 2 resets the modem" wait_for 15 logs "uplink sim0: recovery step 2: resetting the modem" 1
t2=$(since "$t0")
check "the fake modem was set offline, then reset" wait_for 5 fq_ge resets 1
check "offline first (a reset is refused from online)" fq_ge offlines 1
check "the backoff doubled: step 2 came >= 3.5 s after step 1 ($((t2 - t1)) ms)" [ $((t2 - t1)) -ge 3500 ]
check "the modem came back after the reset and sim0 reconnected" \
	wait_for 15 logs "uplink sim0: connected" 3
# The reset itself, then the opens the vanished modem refused: the last of them is shown.
check "uplink show: a last error, from the reset ($(jget 'u["last_error"]'))" \
	jis 'u["last_error"] is not None and u["last_error_at_ms"] > 0' true
check "step 3 resets again" wait_for 20 logs "uplink sim0: recovery step 3: resetting the modem" 1
t3=$(since "$t0")
check "after twice the wait again ($((t3 - t2)) ms >= 7 s)" [ $((t3 - t2)) -ge 7000 ]
check "then the cap holds: 3 steps in the last hour" \
	wait_for 25 logs "uplink sim0: recovery: 3 steps in the last hour (recover_max_per_hour=3)" 1
sleep 3
check "no fourth step" sh -c "! grep -q 'recovery step 4' '$T/daemon.log'"
check "the modem was reset twice, no more" [ "$(field 0 resets)" = 2 ]
check "uplink show: capped, 1 reconnect and 2 resets" \
	jis '[u["recovery"][:6], u["recoveries"], u["recovery_last"]]' '["capped", {"reconnect": 1, "reset": 2}, "reset"]'
check "/metrics counts the reconnect" mhas 'cellmux_uplink_recoveries_total{uplink="sim0",step="reconnect"} 1'
check "/metrics counts the resets" mhas 'cellmux_uplink_recoveries_total{uplink="sim0",step="reset"} 2'

healthy=$(grep -c "uplink sim0: health healthy" "$T/daemon.log")
"$SIM" heal 0 >/dev/null || die "cellmux-sim heal 0"
check "healed, sim0 is healthy again" wait_for 15 logs "uplink sim0: health healthy" $((healthy + 1))
check "and the ladder is at rest" jis '[u["health"], u["recovery"]]' '["healthy", null]'
before=$(http_log | wc -l)
check "s1 reaches the internet again" \
	wait_for 20 sh -c "tail -n +$((before + 1)) /run/cellmux-sim/http.log | grep -q ' 200 session=s1\$'"

check "SIGTERM stops the daemon with status 0" stop_daemon
check "no data session left up in the modem" [ "$(field 0 connected)" = 0 ]
check "no namespace, cgroup or /etc/netns entry left" nothing_left
check "simwwan0 is back in the host namespace" ip link show simwwan0
