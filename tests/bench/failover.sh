#!/bin/bash
# failover.sh — how long a dead carrier takes to be noticed and left, with cellmuxd's default
# health settings (health_interval=2s, health_fail=3) and a tcp: check: per round, `cellmux-sim
# cut I` (link and address stay, upstream dead), then the time until the uplink is failed and
# until every move session's worker runs in the other uplink's namespace (the kernel's word:
# the worker's netns inode). Medians over ROUNDS cuts, beside mwan3's detection time computed
# from mwan3track's own defaults (see below). Figures only: nothing here asserts a time.
#
#   b0..b3 uplink=sim0,sim1 ── cmx-sim0 ══ carrier 0 ─┐
#                              cmx-sim1 ══ carrier 1 ─┴─ httpd 198.18.0.1:80 (the check)
#   Rounds cut the uplink the sessions are on, sim0 and sim1 in turn (move_back=no): each cut
#   moves all of them, and no session waits for a move back.
# move_hold_down=2s rather than 30 s: it bounds a session's second move, never its first away
# from a failed uplink, so it does not enter the figures; it only lets rounds follow each other
# without a 30 s pause. --quick: one round, for the smoke test.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lablock.sh
BUILD=${BUILD:-build}
BUILD=$(cd "$BUILD" && pwd)
SIM=$BUILD/cellmux-sim
CELLMUXD=$BUILD/cellmuxd
CTL=$BUILD/cellmuxctl
ROUNDS=${ROUNDS:-10} SESSIONS=${SESSIONS:-4}
[ "${1:-}" = --quick ] && ROUNDS=1

T=$(mktemp -d /tmp/cellmux-bench-failover.XXXXXX)
chmod 755 "$T"
PID=
CG=/cellmux-bench-failover-$$
cleanup() {
	set +e
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		wait "$PID"
	fi
	for ns in $(ip netns list | awk '/^cmx-/ { print $1 }'); do
		ip netns pids "$ns" | xargs -r kill -KILL
		ip netns delete "$ns"
		rm -rf "/etc/netns/$ns"
	done
	for m in $(findmnt -n -t cgroup2,cgroup -o TARGET); do
		[ -d "$m$CG" ] && find "$m$CG" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	"$SIM" down >/dev/null 2>&1
	rm -rf "$T" "/sys/fs/bpf/cellmux-bench-$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$SIM" down >/dev/null 2>&1 || true
"$SIM" up --modems 2 >"$T/sim.log" 2>&1 || { cat "$T/sim.log"; exit 1; }
{
	for i in 0 1; do
		printf '[uplink sim%d]\ndriver=netdev\ninterface=simwwan%d\naddress=100.64.%d.2/24\n' "$i" "$i" "$i"
		printf 'gateway=100.64.%d.1\ndns=100.64.%d.1\ncapacity=%d\n' "$i" "$i" "$SESSIONS"
		# The check only: interval, fail and ok stay at their defaults.
		printf 'health_check=tcp:198.18.0.1:80\n\n'
	done
	printf '[daemon]\ncgroup=%s\nbpf_dir=/sys/fs/bpf/cellmux-bench-%s\n' "$CG" $$
	printf 'state_dir=%s/state\nctl_socket=%s/ctl.sock\n\n[metrics]\nlisten=off\n\n' "$T" "$T"
	printf '[profile idle]\nexec=/bin/sleep 100000\nmove_hold_down=2s\n'
	for s in $(seq 0 $((SESSIONS - 1))); do printf '\n[session b%d]\nprofile=idle\nuplink=sim0,sim1\n' "$s"; done
} >"$T/bench.conf"
grep -q '^health_interval=' "$T/bench.conf" && { echo "the bench must run the default health settings" >&2; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
LOG=$T/daemon.log
"$CELLMUXD" -c "$T/bench.conf" >"$LOG" 2>&1 &
PID=$!
until grep -q "ready:" "$LOG"; do
	kill -0 "$PID" 2>/dev/null || { tail -20 "$LOG" >&2; exit 1; }
	sleep 0.05
done

# Every session's worker in uplink sim$1's namespace: the worker is the child of the session's
# init (PID 1 of its PID namespace), both in the session's cgroup.
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -1)
all_on() {
	local want s p w
	want=$(stat -L -c %i "/run/netns/cmx-sim$1") || return 1
	for s in $(seq 0 $((SESSIONS - 1))); do
		w=
		for p in $(cat "$CG2$CG/b$s/cgroup.procs" 2>/dev/null); do
			[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] || continue
			w=$(awk '{ print $1 }' "/proc/$p/task/$p/children" 2>/dev/null)
		done
		[ -n "$w" ] && [ "$(stat -L -c %i "/proc/$w/ns/net" 2>/dev/null)" = "$want" ] || return 1
	done
}
failed_count() { grep -c "uplink sim$1: health failed" "$LOG" || true; }
healthy_count() { grep -c "uplink sim$1: health healthy" "$LOG" || true; }
wait_until() { # SECONDS command...
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt $end ] || return 1
		sleep 0.02
	done
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

wait_until 60 all_on 0 || { echo "the sessions did not start on sim0" >&2; tail -20 "$LOG" >&2; exit 1; }
# The first round of checks must have passed: a cut before it would time the start instead.
sleep 3
: >"$T/failed"
: >"$T/moved"
on=0
for r in $(seq "$ROUNDS"); do
	other=$((1 - on))
	f0=$(failed_count $on)
	h0=$(healthy_count $on)
	t0=$(now_ms)
	"$SIM" cut $on >/dev/null 2>>"$T/sim.log"
	wait_until 120 eval '[ "$(failed_count '$on')" -gt '$f0' ]' || { echo "round $r: sim$on never failed" >&2; tail -20 "$LOG" >&2; exit 1; }
	echo $(($(now_ms) - t0)) >>"$T/failed"
	wait_until 120 all_on $other || { echo "round $r: the sessions did not move to sim$other" >&2; tail -20 "$LOG" >&2; exit 1; }
	echo $(($(now_ms) - t0)) >>"$T/moved"
	"$SIM" heal $on >/dev/null 2>>"$T/sim.log"
	wait_until 120 eval '[ "$(healthy_count '$on')" -gt '$h0' ]' || { echo "round $r: sim$on never healed" >&2; exit 1; }
	# The healed uplink's checks run their own phase: a random start within one interval keeps
	# the rounds from all cutting at the same point of it.
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 2.5 + (r % 2000) / 1000 }')"
	on=$other
done
mf=$(median <"$T/failed")
mm=$(median <"$T/moved")

# mwan3 (openwrt/packages net/mwan3/files/usr/sbin/mwan3track): unset options default to
# interval=10, down=5, timeout=4, count=1, failure_interval=interval; the shipped
# /etc/config/mwan3 sets none of them. A dead target costs a ping timeout per round and a
# failure_interval sleep between rounds; the interface is offline after `down` failed rounds:
# down*timeout + (down-1)*failure_interval from the first failed round (one target; the
# shipped config's four targets with reliability=2 ping every target each round, longer still),
# plus on average half an interval before that round begins.
MW_INTERVAL=10 MW_DOWN=5 MW_TIMEOUT=4
mw_ms=$(( (MW_DOWN * MW_TIMEOUT + (MW_DOWN - 1) * MW_INTERVAL) * 1000 + MW_INTERVAL * 500 ))
echo "failover after \`cellmux-sim cut\`, default health settings (2 s x 3), $SESSIONS move sessions, median of $ROUNDS:"
printf '  cut -> uplink failed            %7d ms\n' "$mf"
printf '  cut -> every session elsewhere  %7d ms\n' "$mm"
printf '  mwan3 defaults (interval 10 s, down 5, timeout 4 s): cut -> offline ~%d ms\n' "$mw_ms"
awk -v w="$mw_ms" -v f="$mf" -v m="$mm" 'BEGIN {
	printf "  ratio mwan3 / cellmuxd failed   %7.2f\n", w / (f ? f : 1)
	printf "  ratio mwan3 / cellmuxd moved    %7.2f\n", w / (m ? m : 1) }'
