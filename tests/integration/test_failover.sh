#!/bin/bash
# test_failover.sh — a carrier whose link and address stay up but whose upstream is dead
# (`cellmux-sim cut 0`) is found failed by the health checks made inside its namespace; its
# move sessions run elsewhere and leave from the new carrier's address, wait sessions and pins
# wait and come back after `heal`, a move_back=yes session returns after its hold-down, and no
# uplink ever holds more sessions than its capacity (the overflow waits, with its reason); a
# sampler watches placement and capacity all along, and every request a session made left from
# an uplink it was placed on.
#
#   sessions ── cmx-sim0 (cap 5) ─┐  health: tcp:198.18.0.1:80 every 500 ms, 3 fails, 2 oks
#               cmx-sim1 (cap 2) ─┼─ carriers cmxsim-c<i> (NAT 198.18.1.<i+1>) ── httpd 198.18.0.1
#               cmx-sim2 (cap 4) ─┘
#   mv1  uplink=sim0,sim1                 moves to sim1, stays there
#   mv2  uplink=sim0,sim2 move_back=yes   moves to sim2, back to sim0 after its 3 s hold-down
#   wt1  uplink=sim0,sim1 wait            waits, resumes on sim0
#   pin  uplink=sim0                      waits (a pin never moves), resumes on sim0
#   ov1  uplink=sim0,sim1                 sim1 is full after mv1: waits with the reason
#   f1   uplink=sim1                      fills sim1's other seat
. "$(dirname "$0")/lib.sh"

N=3
INTERVAL_MS=500
FAIL=3
PORT=$((20000 + $$ % 20000))
sim_up $N
{
	daemon_section
	printf '[metrics]\nlisten=127.0.0.1:%d\n\n' "$PORT"
	cat <<EOF2
[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.3 --timeout 1
user=nobody
restart=on-failure

[session mv1]
profile=probe
uplink=sim0,sim1

[session mv2]
profile=probe
uplink=sim0,sim2
move_back=yes
move_hold_down=3s

[session wt1]
profile=probe
uplink=sim0,sim1
on_uplink_down=wait

[session pin]
profile=probe
uplink=sim0

[session ov1]
profile=probe
uplink=sim0,sim1

[session f1]
profile=probe
uplink=sim1
EOF2
} | make_config
# The sim's uplink sections get their health checks and capacities.
caps=(5 2 4)
awk -v iv="$INTERVAL_MS" -v fl="$FAIL" -v c0="${caps[0]}" -v c1="${caps[1]}" -v c2="${caps[2]}" '
	/^\[uplink sim[0-9]+\]$/ { u = substr($2, 4, 1) + 0; print; print "health_check=tcp:198.18.0.1:80";
		print "health_interval=" iv "ms"; print "health_fail=" fl; print "health_ok=2"; next }
	/^capacity=/ && u != "" { print "capacity=" (u == 0 ? c0 : u == 1 ? c1 : c2); u = ""; next }
	{ print }' "$T/cellmux.conf" >"$T/c2" && mv "$T/c2" "$T/cellmux.conf"
grep -q '^health_check=tcp:198.18.0.1:80$' "$T/cellmux.conf" || die "config has no health checks"
start_daemon

json_field() { # uplink|session, name, field
	ctl --json "$1" show "$2" | python3 -c 'import json,sys; v=json.load(sys.stdin)
v=v[0] if isinstance(v, list) else v
print(v.get(sys.argv[1]))' "$3"
}
# Capacity, from the kernel: workers in each uplink's namespace never exceed it.
over_capacity() {
	local i n
	for i in 0 1 2; do
		n=0
		for s in mv1 mv2 wt1 pin ov1 f1; do [ "$(uplink_of $s)" = "sim$i" ] && n=$((n + 1)); done
		[ $n -le "${caps[$i]}" ] || { echo "sim$i holds $n > ${caps[$i]}"; return 0; }
	done
	return 1
}
all_on() { for s in mv1 mv2 wt1 pin ov1; do on $s sim0 || return 1; done; on f1 sim1; }
metric() { curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" | grep -F "$1" | awk '{ print $NF }'; }

check "every session starts where its list says (5 on sim0, f1 on sim1)" wait_for 30 all_on

# The kernel's view, sampled all along (every few hundred ms until the end): where each session's
# worker is, and whether an uplink ever held more workers than its capacity. Two looks (after
# the cut, after the heal) would miss a moment in between.
SESSIONS="mv1 mv2 wt1 pin ov1 f1"
sampler() {
	local s u line
	while :; do
		line=
		for s in $SESSIONS; do
			u=$(uplink_of $s)
			echo "at $s $u"
			line+=" $u"
		done
		for i in 0 1 2; do
			n=$(echo $line | tr ' ' '\n' | grep -cx "sim$i")
			[ "$n" -le "${caps[$i]}" ] || echo "over sim$i holds $n > ${caps[$i]}"
		done
		sleep 0.1
	done >>"$T/samples"
}
sampler &
SAMPLER=$!
CLEANUP_EXTRA+=("kill $SAMPLER 2>/dev/null")
check "sim0 is healthy to start with" [ "$(json_field uplink sim0 health)" = healthy ]
check "/metrics says sim0 is healthy" [ "$(metric 'cellmux_uplink_healthy{uplink="sim0"}')" = 1 ]

# ---- cut: link and address stay, upstream dead ----
"$SIM" cut 0 || die "cellmux-sim cut 0"
cut_at=$SECONDS
cut_line=$(wc -l </run/cellmux-sim/http.log)
# The bound is loose on purpose (a noisy machine); the figure is printed.
bound=$(( (INTERVAL_MS * FAIL + 999) / 1000 + 10 ))
check "sim0 is failed within health_interval x health_fail + 10 s" \
	wait_for $bound logged "uplink sim0: health failed"
echo "figure: cut to failed: $((SECONDS - cut_at)) s (interval ${INTERVAL_MS} ms x $FAIL)"
check "the failure is logged with its reason (the check and its error)" \
	logged "uplink sim0: health failed: tcp:198.18.0.1:80: "
check "sim0's link is still up from the driver's side" [ "$(json_field uplink sim0 state)" = up ]
check "cellmuxctl says sim0 is failed" [ "$(json_field uplink sim0 health)" = failed ]
check "/metrics says sim0 is not healthy" [ "$(metric 'cellmux_uplink_healthy{uplink="sim0"}')" = 0 ]

check "mv1 runs on sim1, its next preference" wait_for 20 on mv1 sim1
check "mv2 runs on sim2, its next preference" wait_for 20 on mv2 sim2
check "mv1's move is logged" logged "session mv1: moving from uplink sim0 (up, failed) to sim1"
check "mv1's new traffic reaches the server" wait_for 20 seen_since mv1 "$cut_line"
check "mv1's new traffic leaves from carrier 1's address only" \
	[ "$(egress_since mv1 "$cut_line")" = "$(carrier_addr 1)" ]
check "mv2's new traffic reaches the server" wait_for 20 seen_since mv2 "$cut_line"
check "mv2's new traffic leaves from carrier 2's address only" \
	[ "$(egress_since mv2 "$cut_line")" = "$(carrier_addr 2)" ]
check "wt1 (on_uplink_down=wait) has no worker" wait_for 20 no_worker wt1
check "pin (uplink=sim0 alone) has no worker" wait_for 20 no_worker pin
check "ov1 has no worker: sim1 is full" wait_for 20 no_worker ov1
check "ov1 waits with the reason" \
	[ "$(json_field session ov1 wait_reason)" = "every uplink it may use is at capacity" ]
check "wt1 waits with the reason" \
	[ "$(json_field session wt1 wait_reason)" = "its uplink is down (on_uplink_down=wait)" ]
check "sim1 holds exactly its capacity (2 of 2)" [ "$(json_field uplink sim1 sessions)" = 2 ]
within_capacity() { ! over_capacity; }
check "no uplink holds more workers than its capacity" within_capacity
check "/metrics counts mv1's move" \
	[ "$(metric 'cellmux_session_moves_total{uplink="sim1",session="mv1"}')" = 1 ]
check "nothing of wt1 or pin reached the server while sim0 was cut" \
	sh -c "[ -z \"\$(tail -n +$((cut_line + 1)) /run/cellmux-sim/http.log | awk '\$NF == \"session=wt1\" || \$NF == \"session=pin\"')\" ]"

# ---- heal ----
"$SIM" heal 0 || die "cellmux-sim heal 0"
heal_line=$(wc -l </run/cellmux-sim/http.log)
check "sim0 is healthy again" wait_for 20 logged "uplink sim0: health healthy"
check "wt1 resumes on sim0" wait_for 20 on wt1 sim0
check "pin resumes on sim0" wait_for 20 on pin sim0
check "ov1 resumes on sim0, its own uplink" wait_for 20 on ov1 sim0
check "mv2 (move_back=yes) returns to sim0 after its hold-down" wait_for 30 on mv2 sim0
check "mv2's return is logged" logged "session mv2: moving from uplink sim2 (up, healthy) to sim0"
check "wt1's traffic leaves from carrier 0 again" wait_for 20 seen_since wt1 "$heal_line"
check "wt1's new traffic leaves from carrier 0's address only" \
	[ "$(egress_since wt1 "$heal_line")" = "$(carrier_addr 0)" ]
check "mv1 (move_back=no) stays on sim1" on mv1 sim1
check "mv1 moved exactly once" [ "$(json_field session mv1 moves)" = 1 ]
check "mv2 moved exactly twice (away and back)" [ "$(json_field session mv2 moves)" = 2 ]
check "no uplink holds more workers than its capacity after heal" within_capacity

kill $SAMPLER 2>/dev/null; wait $SAMPLER 2>/dev/null
echo "figure: $(grep -c '^at ' "$T/samples") placement samples"
check "the sampler saw the moves (mv1 on sim0 and on sim1)" \
	eval 'grep -qx "at mv1 sim0" "$T/samples" && grep -qx "at mv1 sim1" "$T/samples"'
over=$(grep -m3 '^over ' "$T/samples")
check "no sample ever saw an uplink over its capacity (${over:-none})" [ -z "$over" ]
# Every request a session made reached the server from the carrier address of an uplink its
# worker was seen in: no packet of a session left through an uplink it was not placed on.
strays=
for s in $SESSIONS; do
	for a in $(egress_of $s); do
		i=${a##*.}
		grep -qx "at $s sim$((i - 1))" "$T/samples" || strays+=" $s@$a"
	done
done
check "each session's traffic left only through uplinks it was placed on (strays:${strays:- none})" \
	[ -z "$strays" ]

check "SIGTERM stops the daemon with status 0" stop_daemon
check "no namespace, cgroup or /etc/netns entry left" nothing_left
