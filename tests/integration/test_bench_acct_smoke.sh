#!/bin/bash
# test_bench_acct_smoke.sh — the accounting benchmark still runs (one 1 s round per cell) and
# leaves nothing behind; its figures come from `make bench`, never from timed assertions here.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/assert.sh
T=$(mktemp -d /tmp/cellmux-bench-acct.XXXXXX)
trap 'rm -rf "$T"; [ $FAILS -eq 0 ] || exit 1' EXIT

python3 tests/bench/acct_iperf.py --quick >"$T/out" 2>&1
rc=$?
cat "$T/out"
check "acct_iperf.py --quick ran (exit $rc)" [ $rc -eq 0 ]
for w in "tcp bulk" "tcp down" "udp 64B"; do
	check "it printed the $w row with three modes" grep -qE "^$w .*\(1\.00\) .*\(.*\) .*\(.*\)" "$T/out"
done
check "it printed the programs' cost" grep -q 'ns per run under udp 64B' "$T/out"
check "no benchmark namespace left" eval "! ip netns list | grep -q '^cmxbench-'"
check "no benchmark pins left" eval "! ls /sys/fs/bpf 2>/dev/null | grep -q cellmux-bench"
check "no benchmark cgroup left" \
	eval "! ls \"\$(findmnt -n -t cgroup2 -o TARGET | head -1)\" | grep -q '^cmxbench-'"
