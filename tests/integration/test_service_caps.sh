#!/bin/bash
# test_service_caps.sh — cellmux.service's CapabilityBoundingSet= is what cellmuxd needs: under
# exactly that bounding set (the rest dropped with capsh, as systemd would) it brings up uplinks,
# starts sandboxed sessions with limits that reach their carriers, and leaves nothing at stop;
# with CAP_NET_ADMIN dropped as well it cannot start (so the test sees a missing capability).
#
#   capsh --drop=<all but the unit's set> cellmuxd ── cmx-sim<i> ── carrier ── httpd /ip
. "$(dirname "$0")/lib.sh"

UNIT=$(dirname "$0")/../../dist/cellmux.service
command -v capsh >/dev/null || die "capsh missing (libcap2-bin)"
# The unit's set, continuation lines joined.
keep=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$UNIT" | sed -n 's/^CapabilityBoundingSet=//p' |
	tr 'A-Z' 'a-z')
[ -n "$keep" ] || die "no CapabilityBoundingSet= in $UNIT"
all=$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' ' ')
drop_but() { # kept capabilities...
	local c out=
	for c in $all; do
		case " $* " in *" $c "*) ;; *) out="$out,$c" ;; esac
	done
	echo "${out#,}"
}
REAL=$CELLMUXD
wrap() { # drop-list
	printf '#!/bin/sh\nexec capsh --drop=%s -- -c '\''exec %s "$@"'\'' cellmuxd "$@"\n' "$1" "$REAL" \
		>"$T/cellmuxd-capped"
	chmod 755 "$T/cellmuxd-capped"
	CELLMUXD=$T/cellmuxd-capped
}

sim_up 2
{
	daemon_section
	cat <<EOF2
[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.5 --timeout 2
memory_max=64M
pids_max=32

[session s1]
profile=probe
uplink=sim0

[session s2]
profile=probe
uplink=sim1
EOF2
} | make_config

# Negative first: without NET_ADMIN the daemon must fail, or the capped run proves nothing.
wrap "$(drop_but $(echo "$keep" | sed 's/\bcap_net_admin\b//'))"
timeout --kill-after=10 30 "$CELLMUXD" -c "$T/cellmux.conf" >"$T/neg.log" 2>&1
rc=$?
check "without CAP_NET_ADMIN cellmuxd does not start (rc $rc)" [ $rc -ne 0 -a $rc -ne 124 ]
check "nothing left after the refused start" nothing_left

wrap "$(drop_but $keep)"
start_daemon
check "the daemon runs with the unit's bounding set only" \
	grep -q "^CapBnd:" /proc/$DAEMON_PID/status
bnd=$(awk '/^CapBnd:/ { print $2 }' /proc/$DAEMON_PID/status)
# The unit's set as far as this host's own bounding set has it.
want=$(for c in $keep; do case " $all " in *" $c "*) echo "$c" ;; esac; done | sort | paste -sd' ')
check "its bounding set is the unit's ($bnd)" \
	[ "$(capsh --decode="$bnd" | sed 's/.*=//' | tr ',' '\n' | sort | paste -sd' ')" = "$want" ]
got_both() { [ -n "$(egress_of s1)" ] && [ -n "$(egress_of s2)" ]; }
wait_for 30 got_both || fail "both sessions reached the server"
check "s1 left through carrier 0" [ "$(egress_of s1)" = "$(carrier_addr 0)" ]
check "s2 left through carrier 1" [ "$(egress_of s2)" = "$(carrier_addr 1)" ]
# v2 memory.max, or on a hybrid host the parallel v1 memory cgroup's limit.
mem_limit() {
	cat "$(session_cgroup s1)/memory.max" 2>/dev/null ||
		cat "$(findmnt -n -t cgroup -O memory -o TARGET)$CGPATH/s1/memory.limit_in_bytes"
}
check "session limits applied (memory limit of s1: $(mem_limit))" \
	[ "$(mem_limit)" = $((64 * 1024 * 1024)) ]
check "clean stop" stop_daemon
check "nothing left behind" nothing_left
