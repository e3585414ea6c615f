# assert.sh — PASS/FAIL bookkeeping and polling for the integration tests (sourced; the caller
# exits non-zero when FAILS > 0).
FAILS=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { # description, command...
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
die() { echo "FAIL: $*"; exit 1; }

# wait_for SECONDS command...: polls every 100 ms; no fixed sleeps in tests.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}
