#!/bin/bash
# test_backend_usage.sh — a removed session's last bytes stay in the backend's usage reports:
# after `cellmuxctl session stop`, the uplink's Usage carries removed_sessions = 1 and the
# session's final counters as the accounting layer read them at removal, and keeps them in
# every later report; the live sessions are reported as before.
# Seen failing: with relay.c's usage_tick not filling the removed_* fields, every report had
# removed_sessions 0 and the three checks on them failed.
#
#   cellmux-backend --usage-log ══ wss ══ cellmuxd (usage_interval=1s)
#                                          ├─ p: cellmux-probe → 198.18.0.1 (sim0)  (removed)
#                                          └─ q: cellmux-probe                       (stays)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
# backend_lib.sh runs without a sim; this test needs one for traffic (lib.sh takes it down).
SIM=$BUILD/cellmux-sim

make_certs
sim_up 1
{
	"$SIM" config
	backend_section
	printf 'usage_interval=1s\n\n'
	printf '[profile probe]\nexec=%s --url http://198.18.0.1/ip --interval 0.2 --timeout 2\n\n' "$PROBE"
	printf '[session p]\nprofile=probe\n\n[session q]\nprofile=probe\n\n'
} >"$T/cellmux.conf"
start_backend good --usage-log "$T/usage.jsonl"
start_daemon

# The last report's uplink entry, one field.
usage_of() { # FIELD
	tail -1 "$T/usage.jsonl" 2>/dev/null | python3 -c '
import json, sys
u = json.loads(sys.stdin.read())["uplinks"]
print(next(x for x in u if x["name"] == "sim0").get(sys.argv[1], 0))' "$1" 2>/dev/null
}
reports() { wc -l <"$T/usage.jsonl" 2>/dev/null || echo 0; }
served() { http_log | grep -c "session=p\$"; }
check "usage reports arrive" wait_for 20 sh -c "[ \$(wc -l <'$T/usage.jsonl' 2>/dev/null || echo 0) -ge 1 ]"
check "session p has moved traffic" wait_for 20 sh -c "[ \$(cat /run/cellmux-sim/http.log | grep -c 'session=p\$') -ge 3 ]"
check "before removal the uplink reports no removed session" [ "$(usage_of removed_sessions)" = 0 ]

check "cellmuxctl session stop p" ctl session stop p
final_tx=$(sed -n 's/.*session p: final counters rx \([0-9]*\) tx \([0-9]*\) bytes.*/\2/p' "$T/daemon.log" | tail -1)
final_rx=$(sed -n 's/.*session p: final counters rx \([0-9]*\) tx \([0-9]*\) bytes.*/\1/p' "$T/daemon.log" | tail -1)
check "the daemon logged p's final counters (rx $final_rx, tx $final_tx)" eval '[ -n "$final_tx" ] && [ "$final_tx" -gt 0 ]'
n=$(reports)
check "a report after the removal arrives" wait_for 20 sh -c "[ \$(wc -l <'$T/usage.jsonl') -gt $((n + 1)) ]"
check "the uplink reports 1 removed session ($(usage_of removed_sessions))" [ "$(usage_of removed_sessions)" = 1 ]
check "with p's final tx bytes ($(usage_of removed_tx_bytes) = $final_tx)" [ "$(usage_of removed_tx_bytes)" = "$final_tx" ]
check "and its final rx bytes ($(usage_of removed_rx_bytes) = $final_rx)" [ "$(usage_of removed_rx_bytes)" = "$final_rx" ]
live_sessions() { tail -1 "$T/usage.jsonl" | python3 -c 'import json,sys; print(" ".join(sorted(s["name"] for s in json.loads(sys.stdin.read())["sessions"])))'; }
check "the live sessions are q alone ($(live_sessions))" [ "$(live_sessions)" = q ]

check "SIGTERM stops the daemon" stop_daemon
stop_backend
