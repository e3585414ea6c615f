#!/bin/bash
# test_fuzz_smoke.sh — the libFuzzer targets (tests/fuzz/) build with clang, ASan and UBSan and run
# for FUZZ_SMOKE_SECONDS (20) each without a crash, leak or sanitizer report; `make fuzz` is the
# long run. Needs no root and no namespaces. Where clang cannot link libFuzzer it exits 77, a skip
# (tests/run.sh), which `make check` counts as a failure: make deps installs libclang-rt-dev.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FUZZ_CC=${FUZZ_CC:-clang}
T=$(mktemp -d /tmp/cellmux-fuzz.XXXXXX)
trap 'rm -rf "$T"' EXIT

# libFuzzer ships in compiler-rt (Debian: libclang-rt-dev), not in clang itself.
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$T/probe.c"
if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" >/dev/null 2>&1; then
	echo "SKIP: $FUZZ_CC cannot build libFuzzer targets (install clang libclang-rt-dev)"
	exit 77
fi

make -s B="$BUILD" FUZZ_CC="$FUZZ_CC" fuzz-smoke >"$T/fuzz.log" 2>&1
rc=$?
tail -8 "$T/fuzz.log"
if [ $rc -ne 0 ]; then
	echo "FAIL: make fuzz-smoke (exit $rc)"
	grep -m1 -A30 -E 'ERROR: (Address|Leak)Sanitizer|ERROR: libFuzzer|runtime error' \
		"$T/fuzz.log"
	exit 1
fi
runs=$(grep -c '^Done [0-9]* runs' "$T/fuzz.log")
targets=$(ls tests/fuzz/fuzz_*.c | wc -l)
if [ "$runs" -ne "$targets" ]; then
	echo "FAIL: $runs of $targets fuzz targets finished their run"
	exit 1
fi
echo "PASS: $targets fuzz target(s) ran clean"
