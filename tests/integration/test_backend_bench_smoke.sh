#!/bin/bash
# test_backend_bench_smoke.sh — the backend benchmark harness still runs (one short round of
# each side: cellmux events and deliveries, mosquitto QoS 1); figures come from `make bench`.
. "$(dirname "$0")/lib.sh"
BENCH_N=2000 bash tests/bench/backend_bench.sh 1 >"$T/bench.out" 2>&1
rc=$?
cat "$T/bench.out"
check "backend_bench.sh 1 ran (exit $rc)" [ $rc -eq 0 ]
for what in "cellmux events, worker->gateway" "cellmux events, worker->backend log" \
	"cellmux deliveries, backend->gateway" "mosquitto QoS 1 publish->PUBACK" \
	"mosquitto QoS 1 publisher->subscriber"; do
	check "it printed a rate for: $what" grep -q "$what.* [0-9][0-9]* msg/s" "$T/bench.out"
done
