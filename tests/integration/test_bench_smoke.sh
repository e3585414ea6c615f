#!/bin/bash
# test_bench_smoke.sh — the benchmark harness still runs (2 uplinks, 2 sessions, one round) and
# leaves nothing behind; figures come from `make bench`, never from timed assertions here.
. "$(dirname "$0")/lib.sh"
python3 tests/bench/bringup.py --quick >"$T/bench.out" 2>&1
rc=$?
cat "$T/bench.out"
check "bringup.py --quick ran (exit $rc)" [ $rc -eq 0 ]
check "it printed the uplink ratio" grep -q 'ratio script / cellmuxd' "$T/bench.out"
check "it printed the ratio to the kernel floor" grep -q 'ratio cellmuxd / floor' "$T/bench.out"
check "it printed the session ratio" grep -q 'ratio netns-exec / cellmuxd' "$T/bench.out"
bash tests/bench/metrics_wrk.sh --quick >"$T/metrics.out" 2>&1
rc=$?
cat "$T/metrics.out"
check "metrics_wrk.sh --quick ran (exit $rc)" [ $rc -eq 0 ]
check "it printed wrk's median latency and cellmuxd's RSS" \
	sh -c "grep -q 'wrk 1 connection: median' '$T/metrics.out' && grep -q 'cellmuxd RSS' '$T/metrics.out'"
bash tests/bench/loop_cost.sh --quick >"$T/loop.out" 2>&1
rc=$?
cat "$T/loop.out"
check "loop_cost.sh --quick ran (exit $rc)" [ $rc -eq 0 ]
check "it printed the per-scrape and per-message ratios" \
	sh -c "grep -Eq 'ratio [0-9]+ / [0-9]+ per scrape +[0-9.]+ ' '$T/loop.out' && grep -Eq 'ratio [0-9]+ / [0-9]+ per message +[0-9.]+ ' '$T/loop.out'"
bash tests/bench/spawn_bwrap.sh --quick >"$T/spawn.out" 2>&1
rc=$?
cat "$T/spawn.out"
check "spawn_bwrap.sh --quick ran (exit $rc)" [ $rc -eq 0 ]
check "it printed the bwrap ratio" grep -q 'ratio bwrap / cellmux ' "$T/spawn.out"
check "it printed the netns-exec ratio" grep -q 'ratio netns-exec / cellmux ' "$T/spawn.out"
bash tests/bench/adopt_reexec.sh --quick >"$T/adopt.out" 2>&1
rc=$?
cat "$T/adopt.out"
check "adopt_reexec.sh --quick ran (exit $rc)" [ $rc -eq 0 ]
check "it printed the re-exec gap and the adoption ratio" \
	sh -c "grep -q 're-exec gap: admin socket' '$T/adopt.out' && grep -q 'ratio cold start / adoption' '$T/adopt.out'"
bash tests/bench/failover.sh --quick >"$T/failover.out" 2>&1
rc=$?
cat "$T/failover.out"
check "failover.sh --quick ran (exit $rc)" [ $rc -eq 0 ]
check "it printed cut-to-failed, cut-to-moved and the mwan3 ratios" \
	sh -c "grep -q 'cut -> uplink failed ' '$T/failover.out' && grep -q 'cut -> every session elsewhere ' '$T/failover.out' && grep -q 'ratio mwan3 / cellmuxd moved ' '$T/failover.out'"
check "nothing left" nothing_left
