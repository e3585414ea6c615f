#!/bin/bash
# test_docs.sh — the man pages render without warnings and have a NAME line lexgrog reads, and
# every key the config parser accepts (daemon/config.c key tables) is in cellmux.conf(5) and
# in the README's reference, so neither drifts from the code. No root, no lab.
. "$(dirname "$0")/assert.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONFIG_C=${CONFIG_C:-$ROOT/daemon/config.c}
MAN5=$ROOT/docs/cellmux.conf.5
README=$ROOT/README.md
for t in man lexgrog; do command -v $t >/dev/null || die "$t missing (man-db)"; done

for page in "$ROOT"/docs/cellmuxd.8 "$MAN5" "$ROOT"/docs/cellmuxctl.8; do
	w=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null)
	check "$(basename "$page") renders without warnings${w:+: $w}" [ -z "$w" ]
	check "$(basename "$page") has a NAME line lexgrog parses" bash -c 'lexgrog "$1" >/dev/null' _ "$page"
done

# Entries of the key_def tables are '{ "key", handler, flags }'; section_defs name a validator
# config_*() instead, so they are left out.
keys=$(grep -oE '\{ "[a-z_]+", [a-z_0-9]+, ' "$CONFIG_C" | grep -v ', config_' |
	sed -E 's/\{ "([a-z_]+)".*/\1/' | sort -u)
n=$(echo "$keys" | wc -w)
# A parse that finds next to nothing means the table layout changed, not that docs are fine.
check "found the parser's keys ($n)" [ "$n" -ge 40 ]
page=$(MANWIDTH=200 LC_ALL=C.UTF-8 man -l "$MAN5" 2>/dev/null)
for k in $keys; do
	grep -qE "(^|[ ,])$k=" <<<"$page" || fail "key $k is not in cellmux.conf(5)"
	grep -qF "\`$k\`" "$README" || fail "key $k is not in the README's reference"
done
for s in daemon metrics backend uplink profile session; do
	grep -q "\[$s" <<<"$page" || fail "section [$s] is not in cellmux.conf(5)"
	grep -q "^### \`\[$s" "$README" || fail "section [$s] is not in the README"
done
[ $FAILS -eq 0 ] && pass "all $n keys are documented in both"
exit $((FAILS > 0))
