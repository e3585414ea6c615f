#!/bin/bash
# test_adopt_load.sh — sessions outlive the daemon under load: 32 sessions on 4 fake modems,
# half of them sending TCP traffic out through their modem, half streaming events to the
# backend. The daemon is killed with SIGKILL 10 times and started again, then re-executed
# into a replaced binary once. Throughout: every worker keeps its pid (0 restarts, every
# session adopted each time), every event reaches the backend exactly once, no uplink or
# session counter ever goes back, and during every gap each uplink's namespace still holds
# its kill switch and only its modem (no packet can leave another way) while the counters of
# the traffic sessions keep rising. The re-exec's gap (cellmuxctl daemon reexec until the
# admin socket and /metrics answer again) is measured and printed. SIGTERM then leaves no
# namespace, cgroup, process or NAT rule behind.
# Seen failing: with PDEATHSIG back in the session init, the adoption, "kept its pid" and
# exactly-once checks failed (restarted emitters sent their stream again).
. "$(dirname "$0")/lib.sh"
SIMBIN=$SIM
. "$(dirname "$0")/backend_lib.sh"
SIM=$SIMBIN # this test does use the sim: cleanup takes it down

HERE=$(cd "$(dirname "$0")" && pwd)
BPFC=$HERE/bpf_counters.py
KILLS=${KILLS:-10}
EMIT=${EMIT:-300}     # events per emitting session
INTERVAL=${INTERVAL:-50} # ms between them: the stream spans every kill
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

make_certs
sim_up 4
cat >"$T/trickle.py" <<'EOF'
# A steady trickle to the sim's sink through the session's modem: 1 KiB every 20 ms.
import socket, time
while True:
    try:
        s = socket.create_connection(("198.18.0.1", 9), timeout=5)
        while True:
            s.sendall(b"t" * 1024)
            time.sleep(0.02)
    except OSError:
        time.sleep(0.2)
EOF
chmod 644 "$T/trickle.py"
emitters=() senders=()
for u in 0 1 2 3; do
	for j in 0 1 2 3; do emitters+=("e$u$j"); senders+=("t$u$j"); done
done
all=("${emitters[@]}" "${senders[@]}")
{
	backend_section | sed "s|^listen=off|listen=127.0.0.1:$PORT|"
	printf '[profile emit]\nexec=%s --facts --emit %s --interval %s --window 16\n' "$ECHO" "$EMIT" "$INTERVAL"
	printf 'restart=on-failure\nrestart_sec=200ms\nlog_rate_limit_burst=0\n\n'
	printf '[profile trickle]\nexec=/usr/bin/python3 %s\nbind_ro=%s\nrestart=always\n\n' \
		"$T/trickle.py" "$T/trickle.py"
	for s in "${emitters[@]}"; do printf '[session %s]\nprofile=emit\nuplink=sim%s\n\n' "$s" "${s:1:1}"; done
	for s in "${senders[@]}"; do printf '[session %s]\nprofile=trickle\nuplink=sim%s\n\n' "$s" "${s:1:1}"; done
} | make_config
sed -i 's/^capacity=.*/capacity=8/' "$T/cellmux.conf" # the sim's 4 per modem: room for 8
# The daemon runs from a copy, so that the re-exec can find a replaced file at its path.
mkdir -p "$T/sbin"
cp "$CELLMUXD" "$T/sbin/cellmuxd"
CELLMUXD=$T/sbin/cellmuxd
start_backend good
start_daemon

declare -A w0
snap_pids() { for s in "${all[@]}"; do w0[$s]=$(worker_pid "$s"); done; }
all_running() { for s in "${all[@]}"; do [ -n "$(worker_pid "$s")" ] || return 1; done; }
check "32 workers run" wait_for 30 all_running
snap_pids
same_pids() { # how many workers are not the ones of the first daemon
	local s n=0
	for s in "${all[@]}"; do [ "$(worker_pid "$s")" = "${w0[$s]}" ] || n=$((n + 1)); done
	echo $n
}
counters() { python3 "$BPFC" "$BPFDIR" >"$T/c.$1"; }
# Every key of the earlier sample is in the later one, no field smaller.
not_back() { # EARLIER LATER
	python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = [(k, f, a[k][f], b.get(k, {}).get(f)) for k in a for f in a[k]
       if b.get(k, {}).get(f) is None or b[k][f] < a[k][f]]
print(bad[:5] if bad else "", end="")
sys.exit(1 if bad else 0)' "$1" "$2"
}
# The traffic sessions' tx counters all rose between two samples.
senders_rose() { # EARLIER LATER
	python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
sys.exit(0 if all(b["session/" + s]["tx_bytes"] > a["session/" + s]["tx_bytes"]
                  for s in sys.argv[3:]) else 1)' "$1" "$2" "${senders[@]}"
}
# An uplink's namespace during a gap: the kill switch table and nothing but lo and the modem.
sealed() { # N
	ip netns exec "cmx-sim$1" nft list table inet cellmux >/dev/null 2>&1 &&
		[ "$(ip -n "cmx-sim$1" -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort | tr '\n' ' ')" = "lo simwwan$1 " ]
}
sleep 1
counters 0
back=0 unsealed=0 still=0 moved=0 adopted=0 n=0
for i in $(seq 1 "$KILLS"); do
	sleep "0.$((RANDOM % 5 + 3))"
	counters "pre$i"
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	counters "gap0$i"
	for u in 0 1 2 3; do sealed $u || unsealed=$((unsealed + 1)); done
	sleep 0.3
	counters "gap$i"
	# Both samples with no daemon: what rose between them went out while it was dead.
	senders_rose "$T/c.gap0$i" "$T/c.gap$i" || still=$((still + 1))
	DAEMON_RUN=$((DAEMON_RUN + 1))
	"$CELLMUXD" -c "$T/cellmux.conf" >"$T/daemon.$DAEMON_RUN.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 30 grep -q "ready:" "$T/daemon.$DAEMON_RUN.log" ||
		{ tail -20 "$T/daemon.$DAEMON_RUN.log"; die "daemon not ready after kill $i"; }
	grep -q "ready: 4 uplinks, 32 sessions (32 adopted)" "$T/daemon.$DAEMON_RUN.log" &&
		adopted=$((adopted + 1))
	counters "post$i"
	not_back "$T/c.pre$i" "$T/c.gap0$i" || back=$((back + 1))
	not_back "$T/c.gap0$i" "$T/c.gap$i" || back=$((back + 1))
	not_back "$T/c.gap$i" "$T/c.post$i" || back=$((back + 1))
	moved=$((moved + $(same_pids)))
	n=$i
done
check "the daemon was killed $KILLS times ($n)" [ "$n" -eq "$KILLS" ]
check "every start adopted all 32 sessions ($adopted of $n)" [ "$adopted" -eq "$n" ]
check "every worker kept its pid through every kill ($moved changes)" [ "$moved" -eq 0 ]
check "no counter went back across a kill ($back samples)" [ "$back" -eq 0 ]
check "in every gap each namespace kept its kill switch and only its modem ($unsealed not)" \
	[ "$unsealed" -eq 0 ]
check "in every gap every traffic session kept counting ($still gaps where one did not)" \
	[ "$still" -eq 0 ]

# An upgrade under the same load: a new file at the binary's path, then re-exec.
cp "$BUILD/cellmuxd" "$T/sbin/cellmuxd.new" && mv "$T/sbin/cellmuxd.new" "$T/sbin/cellmuxd"
new_inode=$(stat -c %i "$T/sbin/cellmuxd")
# To a file: grep -q would end the pipe early, and pipefail would count curl's SIGPIPE.
metrics_up() { curl -sf -o "$T/scrape" "http://127.0.0.1:$PORT/metrics" && grep -q '^cellmux_build_info' "$T/scrape"; }
check "metrics answer before the re-exec" metrics_up
counters prex
pid0=$DAEMON_PID
log=$(daemon_log_now)
ready_before=$(grep -c "ready:" "$log")
t0=$(date +%s%N)
check "cellmuxctl daemon reexec is acknowledged" ctl daemon reexec
# The gap: polled every 5 ms until each front door answers the new image.
until [ "$(grep -c "ready:" "$log")" -gt "$ready_before" ] && ctl status >/dev/null 2>&1; do
	[ $(($(date +%s%N) - t0)) -gt 30000000000 ] && break
	sleep 0.005
done
t_ctl=$((($(date +%s%N) - t0) / 1000000))
until metrics_up; do
	[ $(($(date +%s%N) - t0)) -gt 30000000000 ] && break
	sleep 0.005
done
t_metrics=$((($(date +%s%N) - t0) / 1000000))
echo "re-exec gap with 32 sessions: admin socket after $t_ctl ms, /metrics after $t_metrics ms"
check "the same daemon process runs the new file" \
	[ "$DAEMON_PID" = "$pid0" -a "$(stat -L -c %i "/proc/$DAEMON_PID/exe")" = "$new_inode" ]
check "it adopted all 32 sessions" grep -q "ready: 4 uplinks, 32 sessions (32 adopted)" "$log"
check "the admin socket answers the new image" ctl status
check "/metrics answers the new image" metrics_up
check "every worker kept its pid through the re-exec ($(same_pids) changes)" [ "$(same_pids)" -eq 0 ]
counters postx
check "no counter went back across the re-exec" not_back "$T/c.prex" "$T/c.postx"
check "the backend link resumed" wait_for 20 grep -q "backend: link up" "$log"

total=$((EMIT * ${#emitters[@]}))
check "all $total events reached the backend" \
	wait_for 120 sh -c "[ \$(wc -l <'$T/events.jsonl') -ge $total ]"
sleep 1
read -r lines uniq missing < <(python3 -c '
import json, sys
n, sessions = int(sys.argv[2]), sys.argv[3:]
seen = [(e["session"], e["payload"]) for e in map(json.loads, open(sys.argv[1]))]
want = {(s, str(k)) for s in sessions for k in range(1, n + 1)}
print(len(seen), len(set(seen)), len(want - set(seen)))' "$T/events.jsonl" "$EMIT" "${emitters[@]}")
check "0 lost: every session's payloads 1..$EMIT arrived ($missing missing)" [ "$missing" -eq 0 ]
check "0 duplicated at the backend: $lines lines, $uniq distinct" [ "$lines" -eq "$uniq" ]
check "no worker was restarted: one process per emitting session" \
	[ "$(daemon_logs | grep -o "session e[0-9]*: cmx-welcome pid=[0-9]* incarnation=[0-9]*" |
		sed "s/pid=[0-9]* //" | sort -u | wc -l)" -eq "${#emitters[@]}" ]

check "SIGTERM stops the daemon with status 0" stop_daemon
gone=0
for s in "${all[@]}"; do alive "${w0[$s]}" && gone=$((gone + 1)); done
check "no worker left ($gone alive)" [ "$gone" -eq 0 ]
check "nothing left" nothing_left
