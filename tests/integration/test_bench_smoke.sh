#!/bin/bash
# test_bench_smoke.sh — the benchmark harness still runs (2 uplinks, 2 sessions, one round) and
# leaves nothing behind; figures come from `make bench`, never from timed assertions here.
. "$(dirname "$0")/lib.sh"
out=$(python3 tests/bench/bringup.py --quick 2>&1)
rc=$?
echo "$out"
check "bringup.py --quick ran (exit $rc)" [ $rc -eq 0 ]
check "it printed both ratios" sh -c "grep -q 'ratio script / cellmuxd' <<<'$out' && grep -q 'ratio netns-exec' <<<'$out'"
check "nothing left" nothing_left
