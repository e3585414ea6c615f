#!/bin/bash
# run.sh — `make bench`: every benchmark under tests/bench/, full length.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lablock.sh
python3 tests/bench/bringup.py "$@"
quick=
for a in "$@"; do [ "$a" = --quick ] && quick=--quick; done
bash tests/bench/ctl_list.sh $quick
bash tests/bench/metrics_wrk.sh $quick
bash tests/bench/loop_cost.sh $quick
bash tests/bench/qmi_bringup.sh $quick
python3 tests/bench/acct_iperf.py $quick
bash tests/bench/spawn_bwrap.sh $quick
bash tests/bench/adopt_reexec.sh $quick
bash tests/bench/proxy_dante.sh $quick
bash tests/bench/failover.sh $quick
# Durable backend messaging against mosquitto QoS 1; --quick: one round instead of three.
bash tests/bench/backend_bench.sh "$([ -n "$quick" ] && echo 1 || echo 3)"
