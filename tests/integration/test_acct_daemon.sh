#!/bin/bash
# test_acct_daemon.sh — accounting through cellmuxd, exact across kill -9: a session uploads
# 8 MiB at 2 MiB/s to the sim's sink while the daemon is killed -9 mid-transfer (and restarted
# once the upload is done), then 2 MiB more under the new daemon. Its tx counter is what the
# sender's TCP put on the wire, derived from its own TCP_INFO: every payload byte it sent
# (retransmissions included) plus one IP+TCP header per segment out, the SYN's options, and at
# most two trailing ACKs per connection; rx likewise from the segments in. No counter ever goes
# back (sampled before, during — with and without a daemon — and after, with bpftool and
# cellmuxctl). The uplink counts at least the session and at most the session plus the uplink's
# other traffic, counted independently by an nft counter in the carrier. Then: removing the
# session (`session stop`, and another by reload) keeps its final counts in the store, reported
# by cellmuxctl and /metrics, also after a daemon restart. Then quotas: a session quota of 1M
# with quota_action=block stops a 5 MiB upload near 1 MiB while another uplink is unaffected.
#
#   tcp_upload.py in session a's cgroup ── cmx-sim0 (tc: uplink sim0) ══ simwwan0 ══ sub
#     (cgroup_skb: session a)                               cmxsim-c0 (nft netdev ingress on
#                                                           sub: sink / other) ── NAT ── sink
#                                                                               198.18.0.1:9
#
# The uploader is not a session worker but a process the test starts itself inside the session's
# cgroup (so its sockets are the session's) and the uplink's namespace: the test holds its
# timing (the gate below) and its TCP_INFO, and it must keep sending while no daemon runs to
# show that the pinned counters keep counting then.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
UPLOAD=$HERE/tcp_upload.py
BPFC=$HERE/bpf_counters.py
K1=8388608 RATE=2097152 # ~4 s
K2=2097152
K=2000000 # the quota part's uploads
CARRIER=cmxsim-c0
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

sim_up 2
cat >"$T/send.py" <<'EOF2'
import socket, sys, time
s = socket.create_connection(("198.18.0.1", 9), timeout=5)
try:
    s.sendall(b"x" * int(sys.argv[1]))
except OSError:  # a blocking quota drops the rest: give up, close, so the sink logs it
    pass
s.close()
time.sleep(3600)
EOF2
config() {
	{
		daemon_section
		printf '[metrics]\nlisten=127.0.0.1:%s\n\n' "$PORT"
		cat <<EOF2
[profile idle]
exec=/bin/sleep 100000

[profile sender]
exec=/usr/bin/python3 $T/send.py $K
bind_ro=$T/send.py
restart=no

[profile capped]
exec=/usr/bin/python3 $T/send.py 5242880
bind_ro=$T/send.py
restart=no
quota=1M
quota_action=block

[session a]
profile=idle
uplink=sim0

EOF2
		[ "${1:-}" = without-quiet ] || printf '[session quiet]\nprofile=idle\nuplink=sim0\n\n'
	} | make_config
}
config
start_daemon

# The carrier's view of everything simwwan0 sends: to the sink, and the rest.
ip netns exec $CARRIER nft -f - <<'EOF2' || die "nft counters in $CARRIER"
table netdev cmxtest {
	chain up {
		type filter hook ingress device "sub" priority -500;
		ip protocol tcp tcp dport 9 counter accept
		counter
	}
}
EOF2
CLEANUP_EXTRA+=("ip netns exec $CARRIER nft delete table netdev cmxtest 2>/dev/null")
carrier() { # "sink-packets sink-bytes other-packets other-bytes"
	ip netns exec $CARRIER nft -j list table netdev cmxtest | python3 -c '
import json, sys
c = [e["counter"] for o in json.load(sys.stdin)["nftables"] if "rule" in o
     for e in o["rule"]["expr"] if "counter" in e]
print(c[0]["packets"], c[0]["bytes"], c[1]["packets"], c[1]["bytes"])'
}

# snap LABEL: the carrier's counters, bpftool's, cellmuxctl's (when a daemon runs), the
# carrier's again; bpftool brackets nothing, the carrier brackets bpftool.
snap() {
	carrier >"$T/c0.$1" &&
		python3 "$BPFC" "$BPFDIR" >"$T/b.$1" &&
		carrier >"$T/c1.$1" || return 1
	if [ -n "$DAEMON_PID" ]; then
		ctl --json session show a >"$T/s.$1" && ctl --json uplink show sim0 >"$T/u.$1"
	fi
}
bget() { python3 -c "import json,sys; print(json.load(open('$T/b.$1'))['$2']['$3'])"; }
now_tx() { python3 "$BPFC" "$BPFDIR" | python3 -c "import json,sys; print(json.load(sys.stdin)['session/a']['tx_bytes'])"; }
sink_total() { awk '/sink bytes=/ { sub("bytes=", "", $NF); t += $NF } END { print t + 0 }' /run/cellmux-sim/sink.log 2>/dev/null; }
# upload N RATE OUT: from inside session a's cgroup, through its uplink's namespace.
# GATE=FILE (environment): the uploader stops at half of N until FILE exists.
upload() {
	GATE=${GATE:-} sh -c 'echo $$ >"$1/cgroup.procs" && exec ip netns exec cmx-sim0 python3 "$2" 198.18.0.1 9 "$3" "$4" "$5"' \
		sh "$(session_cgroup a)" "$UPLOAD" "$@" &
	UP_PID=$!
	CLEANUP_EXTRA+=("kill -KILL $UP_PID 2>/dev/null")
}
has_names() { # names...: all of them are in the pinned maps, as bpftool reads them
	python3 "$BPFC" "$BPFDIR" | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(not all(n in d for n in sys.argv[1:]))' "$@"
}
check "bpftool reads session a and uplink sim0 from the pinned maps" has_names session/a uplink/sim0

sink0=$(sink_total)
snap 0
# The first half goes out, then the uploader waits for the gate: the kill is mid-transfer
# however slow the machine is.
GATE=$T/gate1 upload $K1 $RATE "$T/up1.json"
mid() { [ "$(now_tx)" -ge $((K1 / 4)) ]; }
check "the upload is under way (a quarter counted)" wait_for 30 mid
snap 1
check "the uploader still runs when the daemon is killed" alive $UP_PID
check "and the counter is short of K1: the kill is mid-transfer ($(bget 1 session/a tx_bytes))" \
	[ "$(bget 1 session/a tx_bytes)" -lt $K1 ]
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
snap 2
touch "$T/gate1"
rising() { [ "$(now_tx)" -gt "$(bget 2 session/a tx_bytes)" ]; }
check "with no daemon running, the pinned counter keeps counting" wait_for 10 rising
snap 3
wait $UP_PID
check "the upload finished while no daemon ran (exit $?)" [ -s "$T/up1.json" ]
snap 4
start_daemon
snap 5
check "the sink got the 8 MiB" wait_for 10 eval '[ $(( $(sink_total) - sink0 )) -eq $K1 ]'
upload $K2 0 "$T/up2.json"
wait $UP_PID
check "a second upload under the restarted daemon finished (exit $?)" [ -s "$T/up2.json" ]
check "the sink got K1 + K2 in all" wait_for 10 eval '[ $(( $(sink_total) - sink0 )) -eq $((K1 + K2)) ]'
# Traffic has stopped: wait for every counter to settle, then take the last sample.
settled() {
	snap 6 && sleep 0.5 && snap 7 && cmp -s "$T/b.6" "$T/b.7" && cmp -s "$T/c1.6" "$T/c1.7"
}
wait_for 20 settled || fail "the counters settle once traffic stops"
snap 8

check "no counter of session a or uplink sim0 ever went back (bpftool, 9 samples; cellmuxctl, 6)" \
	python3 - "$T" <<'EOF2'
import json, sys
t = sys.argv[1]
bad = []
F = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")
def series(vals, what):
    for f in F:
        v = [x[f] for x in vals]
        if any(b < a for a, b in zip(v, v[1:])):
            bad.append(f"{what} {f} went back: {v}")
b = [json.load(open(f"{t}/b.{i}")) for i in range(9)]
for k in ("session/a", "uplink/sim0"):
    series([x[k] for x in b], "bpftool " + k)
def one(p):
    d = json.load(open(p))
    return d[0] if isinstance(d, list) else d
labels = [0, 1, 5, 6, 7, 8]
series([one(f"{t}/s.{i}") for i in labels], "cellmuxctl session a")
series([one(f"{t}/u.{i}") for i in labels], "cellmuxctl uplink sim0")
# Settled (sample 8): the daemon's word and the maps' are the same numbers.
s, u = one(f"{t}/s.8"), one(f"{t}/u.8")
for f in F:
    if s[f] != b[8]["session/a"][f]:
        bad.append(f"cellmuxctl session a {f} {s[f]} != bpftool {b[8]['session/a'][f]}")
    if u[f] != b[8]["uplink/sim0"][f]:
        bad.append(f"cellmuxctl uplink sim0 {f} {u[f]} != bpftool {b[8]['uplink/sim0'][f]}")
if bad:
    print("\n".join("    " + x for x in bad))
sys.exit(bool(bad))
EOF2

# The exact figures, from the sender's TCP_INFO: per segment an IP header (20) and a TCP header
# (20, +12 with timestamps); the SYN carries MSS, SACK-permitted and window scale too (+8 with
# timestamps, +12 without); after the snapshot the stack may still ACK the sink's FIN: at most 2
# more segments per connection. In: the same headers per segment, at most 40 option bytes each.
check "session a's counters are the sender's segments: payload + headers, exactly bounded" \
	python3 - "$T" "$K1" "$K2" <<'EOF2'
import json, sys
t, k1, k2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ups = [json.load(open(f"{t}/up{i}.json")) for i in (1, 2)]
b0, b8 = json.load(open(f"{t}/b.0"))["session/a"], json.load(open(f"{t}/b.8"))["session/a"]
d = {f: b8[f] - b0[f] for f in b0}
bad = []
for u, k in zip(ups, (k1, k2)):
    if u["bytes_sent"] - u["bytes_retrans"] != k or u["sent"] != k:
        bad.append(f"the sender's payload is not {k}: {u}")
ts = all(u["timestamps"] for u in ups)
hdr, syn = (52, 8) if ts else (40, 12)
segs_out = sum(u["segs_out"] for u in ups)
segs_in = sum(u["segs_in"] for u in ups)
payload = sum(u["bytes_sent"] for u in ups)
lo = payload + segs_out * hdr + 2 * syn
hi = lo + 2 * 2 * hdr
print(f"    sink got {k1 + k2}, retransmitted {sum(u['bytes_retrans'] for u in ups)}, "
      f"{segs_out} segments out x {hdr} + 2 SYNs: tx must be in [{lo}, {hi}], is {d['tx_bytes']}")
if not lo <= d["tx_bytes"] <= hi:
    bad.append(f"tx_bytes {d['tx_bytes']} outside [{lo}, {hi}]")
if not segs_out <= d["tx_packets"] <= segs_out + 4:
    bad.append(f"tx_packets {d['tx_packets']} outside [{segs_out}, {segs_out + 4}]")
if not segs_in <= d["rx_packets"] <= segs_in + 4:
    bad.append(f"rx_packets {d['rx_packets']} outside [{segs_in}, {segs_in + 4}]")
if not segs_in * hdr <= d["rx_bytes"] <= (segs_in + 4) * 80:
    bad.append(f"rx_bytes {d['rx_bytes']} outside [{segs_in * hdr}, {(segs_in + 4) * 80}]")
if bad:
    print("\n".join("    " + x for x in bad))
sys.exit(bool(bad))
EOF2

check "uplink sim0 counts the session and at most the session plus what the carrier saw besides it" \
	python3 - "$T" <<'EOF2'
import json, sys
t = sys.argv[1]
b0, b8 = json.load(open(f"{t}/b.0")), json.load(open(f"{t}/b.8"))
c0 = [int(x) for x in open(f"{t}/c0.0").read().split()]
c1 = [int(x) for x in open(f"{t}/c1.8").read().split()]
other_p, other_b = c1[2] - c0[2], c1[3] - c0[3]
s = {f: b8["session/a"][f] - b0["session/a"][f] for f in b0["session/a"]}
u = {f: b8["uplink/sim0"][f] - b0["uplink/sim0"][f] for f in b0["uplink/sim0"]}
bad = []
for f in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets"):
    if u[f] < s[f]:
        bad.append(f"uplink {f} {u[f]} < session {s[f]}")
print(f"    uplink tx {u['tx_bytes']} B / {u['tx_packets']} pkts, session {s['tx_bytes']} B / "
      f"{s['tx_packets']} pkts, carrier saw {other_b} B / {other_p} pkts besides the sink's")
if u["tx_bytes"] - s["tx_bytes"] > other_b or u["tx_packets"] - s["tx_packets"] > other_p:
    bad.append("the uplink sent more than the session plus the carrier's other traffic")
if bad:
    print("\n".join("    " + x for x in bad))
sys.exit(bool(bad))
EOF2
check "the idle session's counters did not move" \
	[ "$(bget 8 session/quiet tx_packets)" -eq "$(bget 0 session/quiet tx_packets)" ]

# ---- removed sessions keep their final counts ----
final_a=$(python3 -c "import json; print(json.dumps(json.load(open('$T/b.8'))['session/a']))")
ctl session stop a >/dev/null || fail "cellmuxctl session stop a"
removed_json() { ctl --json uplink show sim0 | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(json.dumps(d['removed'], sort_keys=True))"; }
want_removed() { # sessions counters-json...: the sum expected in "removed"
	python3 -c '
import json, sys
n, parts = int(sys.argv[1]), [json.loads(p) for p in sys.argv[2:]]
w = {"sessions": n}
for f in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets"):
    w[f] = sum(p[f] for p in parts)
print(json.dumps(w, sort_keys=True))' "$@"
}
metrics_removed() { # the five series of uplink sim0, as JSON like cellmuxctl's
	curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" | python3 -c '
import json, sys
m = {l.split()[0]: int(float(l.split()[1])) for l in sys.stdin if l[0] != "#"}
p = "cellmux_uplink_removed_sessions_"
l = "{uplink=\"sim0\"}"
print(json.dumps({"sessions": m.get("cellmux_uplink_removed_sessions_total" + l),
                  "rx_bytes": m.get(p + "receive_bytes_total" + l),
                  "tx_bytes": m.get(p + "transmit_bytes_total" + l),
                  "rx_packets": m.get(p + "receive_packets_total" + l),
                  "tx_packets": m.get(p + "transmit_packets_total" + l)}, sort_keys=True))'
}
W1=$(want_removed 1 "$final_a")
check "after session stop a, cellmuxctl reports its final counts as removed on sim0 ($(removed_json))" \
	[ "$(removed_json)" = "$W1" ]
check "and /metrics the same ($(metrics_removed))" [ "$(metrics_removed)" = "$W1" ]
check "its name is gone from the pinned maps (bpftool)" eval '! has_names session/a'
final_q=$(python3 "$BPFC" "$BPFDIR" | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['session/quiet']))")
config without-quiet
ctl reload >/dev/null || fail "reload without session quiet"
W2=$(want_removed 2 "$final_a" "$final_q")
check "a session removed by reload joins the removed totals ($(removed_json))" [ "$(removed_json)" = "$W2" ]
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon
check "after kill -9 and a restart, cellmuxctl still reports both ($(removed_json))" \
	[ "$(removed_json)" = "$W2" ]
check "and /metrics too ($(metrics_removed))" [ "$(metrics_removed)" = "$W2" ]
check "sim1 has no removed sessions" \
	eval '[ "$(ctl --json uplink show sim1 | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d[\"removed\"][\"sessions\"])")" = 0 ]'

# ---- quotas: 1M block on a session of uplink sim1; sim0's sessions are unaffected ----
before=$(sink_total)
field() { ctl --json session show "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d['$2'] or 0)"; }
ctl session start --profile capped --name capped --uplink sim1 >/dev/null
check "the capped session's upload stalls" wait_for 30 eval '[ "$(field capped quota_used_bytes)" -ge 1048576 ]'
# The sink logs a connection when it closes or, stalled by the quota, after 5 s of silence.
check "the sink logged the capped connection" wait_for 30 eval '[ "$(sink_total)" -gt "$before" ]'
capped_got=$(( $(sink_total) - before ))
check "the sink got at most 1.1 MiB from the capped session ($capped_got)" \
	[ "$capped_got" -gt 0 -a "$capped_got" -le 1153433 ]
check "the quota is visible in status" eval '[ "$(ctl --json session show capped | grep -c "\"quota_reached\": *true")" -ge 1 ]'
check "the quota event was logged once" [ "$(grep -c 'session capped: quota of' "$T/daemon.log")" -eq 1 ]
ctl session start --profile sender --name free --uplink sim0 >/dev/null
check "a session on the other uplink still sends freely" \
	wait_for 20 eval '[ "$(( $(sink_total) - before - capped_got ))" -ge $K ]'

# Raising the quota (reload) unblocks: the restarted upload goes through whole.
sed -i 's/^quota=1M$/quota=100M/' "$T/cellmux.conf"
ctl reload
check "after raising the quota, the status no longer says reached" \
	eval '[ "$(ctl --json session show capped | grep -c "\"quota_reached\": *true")" -eq 0 ]'
before=$(sink_total)
ctl session restart capped >/dev/null
check "and a 5 MiB upload from the capped session arrives whole" \
	wait_for 30 eval '[ $(( $(sink_total) - before )) -ge 5242880 ]'

check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
