#!/bin/bash
# run.sh — runs cellmux's tests: `unit` (cmocka, no root), `integration` (namespace tests, root),
# or `all`; prints one line per test program and a closing "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
what=${1:-all}
passed=0 failed=0 failures=()

run() { # name, command...
	local name=$1 log rc start
	shift
	log=$(mktemp)
	start=${EPOCHREALTIME/./}
	"$@" >"$log" 2>&1
	rc=$?
	local tenths=$(((${EPOCHREALTIME/./} - start) / 100000))
	local secs=$((tenths / 10)).$((tenths % 10))
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name (${secs}s)"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "FAIL $name (exit $rc, ${secs}s)"
		sed 's/^/    | /' "$log" | tail -60
	fi
	[ -n "${VERBOSE:-}" ] && sed 's/^/    | /' "$log"
	rm -f "$log"
}

if [ "$what" = unit ] || [ "$what" = all ]; then
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		run "unit/$(basename "$t")" "$t"
	done
fi
if [ "$what" = integration ] || [ "$what" = all ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "integration tests need root (namespaces, cgroups); run: sudo make check" >&2
		exit 1
	fi
	for t in tests/integration/test_*.sh; do
		run "integration/$(basename "$t" .sh)" timeout --kill-after=10 600 bash "$t"
	done
fi
echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
