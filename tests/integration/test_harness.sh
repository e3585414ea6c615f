#!/bin/bash
# test_harness.sh — tests/run.sh tells skips from passes: exit 0 passes, 77 is a skip (shown and
# counted, never a pass), anything else fails; under CELLMUX_CHECK_STRICT=1 (make check) a skip
# is a failure; the closing line is exactly `check: N passed, N failed, N skipped`, and last.
# Runs run.sh on a scratch build directory of three stand-in test programs; no root needed.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/assert.sh
T=$(mktemp -d /tmp/cellmux-harness.XXXXXX)
trap 'rm -rf "$T"' EXIT

mkdir -p "$T/build/tests"
prog() { # name exit-code
	printf '#!/bin/sh\necho "SKIP: stand-in %s"\nexit %s\n' "$1" "$2" >"$T/build/tests/test_$1"
	chmod +x "$T/build/tests/test_$1"
}
prog pass 0
prog skip 77
prog fail 1
prog fail2 2

BUILD=$T/build CELLMUX_CHECK_STRICT= tests/run.sh unit >"$T/out" 2>&1
rc=$?
check "a run with a failure exits non-zero ($rc)" [ $rc -ne 0 ]
check "the last line counts 1 passed, 2 failed, 1 skipped ($(tail -1 "$T/out"))" \
	[ "$(tail -1 "$T/out")" = "check: 1 passed, 2 failed, 1 skipped" ]
check "the skipped program is listed as SKIP with its reason" \
	grep -qx 'SKIP unit/test_skip ([0-9.]*s): SKIP: stand-in skip' "$T/out"
check "and not as ok" eval '! grep -q "^ok   unit/test_skip" "$T/out"'

BUILD=$T/build CELLMUX_CHECK_STRICT=1 tests/run.sh unit >"$T/strict" 2>&1
check "under make check (strict) the skip is a failure ($(tail -1 "$T/strict"))" \
	[ "$(tail -1 "$T/strict")" = "check: 1 passed, 3 failed, 0 skipped" ]
check "strict: the skipped program is reported FAIL with exit 77" \
	grep -q '^FAIL unit/test_skip (exit 77' "$T/strict"

rm "$T/build/tests/test_fail" "$T/build/tests/test_fail2"
BUILD=$T/build CELLMUX_CHECK_STRICT= tests/run.sh unit >"$T/out2" 2>&1
rc=$?
check "only skips, not strict: exit 0 but the skip still shows ($(tail -1 "$T/out2"))" \
	[ $rc -eq 0 -a "$(tail -1 "$T/out2")" = "check: 1 passed, 0 failed, 1 skipped" ]
BUILD=$T/build CELLMUX_CHECK_STRICT=1 tests/run.sh unit >"$T/out3" 2>&1
rc=$?
check "only skips, strict: exit non-zero ($rc)" [ $rc -ne 0 ]

# The fuzz smoke without libFuzzer: a skip (77), not a pass.
FUZZ_CC=/bin/false bash tests/integration/test_fuzz_smoke.sh >"$T/fz" 2>&1
rc=$?
check "test_fuzz_smoke without a libFuzzer-capable compiler skips: exit 77 ($rc)" [ $rc -eq 77 ]

# The unit tests' own skip helper: a requirement missing is 77, or a failure under strict.
if [ "$(id -u)" = 0 ]; then
	u() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	u env CELLMUX_CHECK_STRICT= "$PWD/${BUILD:-build}/tests/test_ctl_server" >"$T/u1" 2>&1
	rc=$?
	check "test_ctl_server as nobody skips its root-only test: exit 77 ($rc)" [ $rc -eq 77 ]
	u env CELLMUX_CHECK_STRICT=1 "$PWD/${BUILD:-build}/tests/test_ctl_server" >"$T/u2" 2>&1
	rc=$?
	check "... and under strict it fails instead ($rc)" [ $rc -ne 0 -a $rc -ne 77 ]
else
	fail "the unit skip checks run a test as nobody: needs root"
fi
[ $FAILS -eq 0 ]
