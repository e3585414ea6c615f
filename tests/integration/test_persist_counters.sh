#!/bin/bash
# test_persist_counters.sh — counters and quota use survive a "reboot" (bpffs emptied) through
# the store. Session a uploads 2 MB to the sim's sink; session capped (quota=1M, block) tries
# 3 MiB and is stopped near 1 MiB. Then:
#  1. SIGTERM (the store gets a copy at a clean stop; counters_save_interval=1h, so no timer
#     save helps), the pinned maps removed as a reboot would, start: every counter of session
#     a, session capped and uplink sim0 continues from its value before the stop (bpftool:
#     >=, all fields), and capped's quota, reached before, still blocks: its new worker's SYNs
#     are dropped (tx_dropped rises), no byte gets out, the daemon says "already reached", and
#     its usage (which a new quota period made smaller than its counters) is the same number.
#  2. kill -9 (pins survive: they stay the truth), start: no counter went back.
#  3. counters_save_interval=1s, kill -9 and the pins removed (a power cut): the counters
#     continue from the store's last periodic copy (read with sqlite3), which is not ~0.
#
#   send.py in session a / capped ── cmx-sim0 (tc: uplink sim0) ══ simwwan0 ══ carrier ── sink
#     (cgroup_skb: session a, capped; pins in BPFDIR)                          198.18.0.1:9
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
BPFC=$HERE/bpf_counters.py
K=2000000
DB=$T/state/cellmux.db
command -v sqlite3 >/dev/null || die "sqlite3 missing"

sim_up 1
cat >"$T/send.py" <<'EOF2'
import socket, sys, time
n = int(sys.argv[1])
if n:
    s = socket.create_connection(("198.18.0.1", 9), timeout=5)
    try:
        s.sendall(b"x" * n)
    except OSError:  # a blocking quota drops the rest
        pass
    s.close()
time.sleep(3600)
EOF2
config() { # SAVE-INTERVAL A-BYTES
	{
		daemon_section | sed '/^$/d'
		printf 'counters_save_interval=%s\n\n' "$1"
		cat <<EOF2
[profile sender]
exec=/usr/bin/python3 $T/send.py $2
bind_ro=$T/send.py
restart=no

[profile capped]
exec=/usr/bin/python3 $T/send.py 3145728
bind_ro=$T/send.py
restart=no
quota=1M
quota_action=block
quota_period=daily

[session a]
profile=sender
uplink=sim0

[session capped]
profile=capped
uplink=sim0
EOF2
	} | make_config
}
bpf() { python3 "$BPFC" "$BPFDIR"; }
get() { python3 -c "import json,sys; print(json.load(open('$1'))['$2']['$3'])"; }
now() { bpf | python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['$2'])"; }
field() { ctl --json session show "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d['$2'])"; }
sink_total() { awk '/sink bytes=/ { sub("bytes=", "", $NF); t += $NF } END { print t + 0 }' /run/cellmux-sim/sink.log 2>/dev/null; }
# ge NEW OLD [NAMES]: every counter of every name in OLD is <= NEW's (prints what is not).
ge() {
	python3 - "$1" "$2" <<'EOF2'
import json, sys
new, old = (json.load(open(p)) for p in sys.argv[1:3])
bad = [f"{k} {f}: {old[k][f]} -> {new.get(k, {}).get(f)}"
       for k in ("session/a", "session/capped", "uplink/sim0") for f in old[k]
       if new.get(k, {}).get(f, -1) < old[k][f]]
print("\n".join("    " + b for b in bad))
sys.exit(bool(bad))
EOF2
}
# bpftool twice 0.5 s apart agrees on the sessions: nothing of theirs still moves.
settled() {
	bpf >"$T/s1" && sleep 0.5 && bpf >"$T/s2" && python3 - "$T/s1" "$T/s2" <<'EOF2'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
sys.exit(any(a[k] != b[k] for k in ("session/a", "session/capped")))
EOF2
}

config 1h $K
sink0=$(sink_total)
start_daemon
check "session a's 2 MB reached the sink" wait_for 30 eval '[ $(( $(sink_total) - sink0 )) -ge $K ]'
check "capped reached its quota" wait_for 30 eval '[ "$(field capped quota_reached)" = True ]'
check "and its traffic is being dropped" wait_for 30 eval '[ "$(now session/capped tx_dropped)" -gt 0 ]'
# A new quota period (its stamp made stale, then a reload checks it): the usage starts again
# from 0 while the counters go on, so usage and counters differ; capped sends again until
# blocked. Only a restored usage, not one recomputed from the counters, is the same after.
mkdir -p "$T/state/quota" && echo 0 >"$T/state/quota/session-capped"
ctl reload >/dev/null || fail "reload"
# (Its stalled connection may resume and reach the new quota at once: the log, not a poll.)
check "a new quota period reset capped's usage" \
	wait_for 10 grep -q "session capped: quota period began, usage reset" "$T/daemon.log"
ctl session restart capped >/dev/null
check "capped's second worker reaches the quota again" \
	wait_for 30 eval '[ "$(field capped quota_reached)" = True ]'
wait_for 30 settled || fail "the sessions' counters settle"
used0=$(field capped quota_used_bytes)
check "capped's usage ($used0) is below its counters ($(now session/capped tx_bytes) tx)" \
	[ "$used0" -lt "$(now session/capped tx_bytes)" ]

# ---- 1. clean stop, reboot ----
check "SIGTERM stops the daemon" stop_daemon
bpf >"$T/b.stop"
check "the store holds a copy of capped's counters and quota (sqlite3)" \
	eval '[ "$(sqlite3 "$DB" "SELECT quota_over, quota_used >= 1048576 FROM counters WHERE kind = 1 AND name = '"'capped'"'")" = "1|1" ]'
rm -rf "$BPFDIR"
config 1h 0 # a sends nothing more: its counters may only be the restored ones
start_daemon
check "the daemon saw new maps and restored from the store" grep -q "continue from the store" "$T/daemon.log"
bpf >"$T/b.boot"
check "every counter of a, capped and sim0 continues from its value before the stop (bpftool)" \
	ge "$T/b.boot" "$T/b.stop"
check "session a's tx is not reset: >= the 2 MB it sent ($(get "$T/b.boot" session/a tx_bytes))" \
	[ "$(get "$T/b.boot" session/a tx_bytes)" -ge $K ]
check "cellmuxctl agrees with the maps on session a's tx" \
	[ "$(field a tx_bytes)" = "$(now session/a tx_bytes)" ]
check "capped's quota is still reached after the reboot (cellmuxctl)" \
	[ "$(field capped quota_reached)" = True ]
check "and its usage is the one before the stop: $used0 -> $(field capped quota_used_bytes)" \
	[ "$(field capped quota_used_bytes)" -eq "$used0" ]
check "the daemon says the quota was already reached" \
	grep -q "session capped: quota of 1048576 bytes already reached" "$T/daemon.log"
drops0=$(get "$T/b.boot" session/capped tx_dropped)
check "capped's new worker is blocked: its packets are dropped" \
	wait_for 20 eval '[ "$(now session/capped tx_dropped)" -gt "$drops0" ]'
check "capped's new worker gave up (no connection)" wait_for 20 eval '[ "$(field capped state)" = stopped ]'
check "not one byte of it got out: tx $(get "$T/b.boot" session/capped tx_bytes) -> $(now session/capped tx_bytes)" \
	[ "$(now session/capped tx_bytes)" -eq "$(get "$T/b.boot" session/capped tx_bytes)" ]

# ---- 2. kill -9, pins survive ----
bpf >"$T/b.kill0"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
bpf >"$T/b.kill1"
start_daemon
bpf >"$T/b.kill2"
check "kill -9 and a restart: no counter went back" eval 'ge "$T/b.kill1" "$T/b.kill0" && ge "$T/b.kill2" "$T/b.kill1"'
check "and the restarted daemon did not take the saved copy over the pins" \
	eval '! grep -q "continue from the store" "$T/daemon.log"'

# ---- 3. power cut: kill -9 and the pins gone; the periodic copy is what is left ----
config 1s 0
check "SIGTERM" stop_daemon
start_daemon
# The copy as sqlite3 reads it, in bpf_counters.py's layout.
copy() {
	sqlite3 -json "$DB" "SELECT kind, name, rx_bytes, rx_packets, tx_bytes, tx_packets, rx_dropped, tx_dropped FROM counters" |
		python3 -c '
import json, sys
K = {1: "session", 2: "uplink"}
print(json.dumps({K[r.pop("kind")] + "/" + r.pop("name"): r for r in json.load(sys.stdin)}, sort_keys=True))'
}
# A periodic save since the start: the copy's uplink moves (health checks) without a stop.
copy >"$T/copy.0"
check "counters are saved periodically (the copy changes within 3 s)" \
	wait_for 5 eval 'copy >"$T/copy.1" && ! cmp -s "$T/copy.0" "$T/copy.1"'
copy >"$T/copy.kill"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
bpf >"$T/b.cut"
rm -rf "$BPFDIR"
start_daemon
bpf >"$T/b.after"
check "after the power cut every counter continues from the last periodic copy" \
	ge "$T/b.after" "$T/copy.kill"
check "which is not ~0: session a's tx in it is >= 2 MB ($(get "$T/copy.kill" session/a tx_bytes))" \
	[ "$(get "$T/copy.kill" session/a tx_bytes)" -ge $K ]
check "and session a lost nothing (no traffic since the copy)" \
	[ "$(get "$T/b.after" session/a tx_bytes)" -eq "$(get "$T/b.cut" session/a tx_bytes)" ]
check "capped is still over its quota" [ "$(field capped quota_reached)" = True ]

check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
