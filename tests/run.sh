#!/bin/bash
# run.sh — runs cellmux's tests: `unit` (cmocka, no root), `integration` (namespace tests, root),
# or `all`; prints one line per test program and closes with `check: N passed, N failed, N skipped`
# (the last line; CI parses it).
#
# A test program passes with exit 0 and says "I could not run here" only with exit 77 (automake's
# SKIP code); anything else is a failure. With CELLMUX_CHECK_STRICT=1 (set by `make check`, which
# installs every dependency first and runs as root) a skip counts as a failure too: a missing
# tool, root, BTF, libFuzzer or metric is then a defect of the machine or of cellmux, and nothing
# make deps can leave out, since what cellmux needs of the kernel is what its tests need. Without
# it (`make unit` as a user, a developer's run) skips are counted and shown, never as passes.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
what=${1:-all}
passed=0 failed=0 skipped=0 failures=() skips=()
SKIP_RC=77
STRICT=${CELLMUX_CHECK_STRICT:-}

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
	elif [ $rc -eq $SKIP_RC ] && [ -z "$STRICT" ]; then
		skipped=$((skipped + 1))
		skips+=("$name")
		echo "SKIP $name (${secs}s): $(grep -m1 '^SKIP' "$log" || echo 'no reason given')"
	else
		[ $rc -eq $SKIP_RC ] && echo "    (a skip: under make check nothing may be skipped)" >>"$log"
		failed=$((failed + 1))
		failures+=("$name")
		echo "FAIL $name (exit $rc, ${secs}s)"
		# The checks that failed first (CI shows only so much), then the end of the log.
		grep -m10 -E '^(FAIL|not ok|\[  FAILED|ERROR)' "$log" | sed 's/^/    ! /'
		sed 's/^/    | /' "$log" | tail -60
	fi
	[ -n "${VERBOSE:-}" ] && sed 's/^/    | /' "$log"
	rm -f "$log"
}

# A cross build's tests run through an emulator: CELLMUX_TEST_WRAPPER=qemu-aarch64-static (make
# unit-cross sets it). Exported: a test that starts a program it
# built (test_cellmuxctl) puts it before that program too.
WRAPPER=${CELLMUX_TEST_WRAPPER:-}
export CELLMUX_TEST_WRAPPER=$WRAPPER
if [ -n "$WRAPPER" ] && ! command -v "${WRAPPER%% *}" >/dev/null; then
	echo "CELLMUX_TEST_WRAPPER: no ${WRAPPER%% *} (make deps-cross installs qemu-user-static)" >&2
	exit 1
fi
[ -n "$WRAPPER" ] && echo "unit tests run under: $WRAPPER"
if [ "$what" = unit ] || [ "$what" = all ]; then
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		# shellcheck disable=SC2086 # the wrapper is a command and its options
		# Under an emulator a hang is a failure too (a fork child once spun for ever in qemu).
		run "unit/$(basename "$t")" ${WRAPPER:+timeout --kill-after=10 300} $WRAPPER "$t"
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
[ ${#skips[@]} -gt 0 ] && echo "skipped: ${skips[*]}"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
