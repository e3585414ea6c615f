#!/bin/bash
# test_service_unit.sh — make install / uninstall and the unit, without a running systemd:
# install into a scratch prefix puts every file where it belongs, the unit passes
# `systemd-analyze verify` (its programs and man pages found) and its offline security
# exposure is at most SECURITY_MAX (README), and uninstall removes every file install made.
. "$(dirname "$0")/assert.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# 10 x the exposure systemd-analyze prints: 6.6 at the time of writing (README).
SECURITY_MAX=${SECURITY_MAX:-66}
command -v systemd-analyze >/dev/null || die "systemd-analyze missing (systemd)"
W=$(mktemp -d /tmp/cellmux-install.XXXXXX)
trap 'rm -rf "$W"; [ $FAILS -eq 0 ] || exit 1' EXIT
D=$W/root # what install makes, and nothing else
mkdir "$D"

P=$D/usr
inst() { make -s -C "$ROOT" "$@" prefix="$P" sysconfdir="$D/etc" >"$W/make.log" 2>&1; }
inst install || { cat "$W/make.log"; die "make install"; }
for f in sbin/cellmuxd bin/cellmuxctl libexec/cellmux/cellmux-init libexec/cellmux/cellmux-probe libexec/cellmux/cellmux-echo \
	libexec/cellmux/cellmux-sim libexec/cellmux/cellmux-backend share/cellmux/py/backend_pb2.py \
	share/man/man8/cellmuxd.8 share/man/man8/cellmuxctl.8 share/man/man5/cellmux.conf.5 \
	share/cellmux/grafana/cellmux-dashboard.json share/cellmux/examples/hilink5-qmi1.conf \
	lib/systemd/system/cellmux.service lib/udev/rules.d/77-cellmux-mm-ignore.rules \
	lib/sysusers.d/cellmux.conf lib/tmpfiles.d/cellmux.conf \
	share/bash-completion/completions/cellmuxctl; do
	[ -f "$P/$f" ] || fail "make install made no $f"
done
check "the default config is installed under sysconfdir" [ -f "$D/etc/cellmux/cellmux.conf" ]
check "programs are executable" [ -x "$P/sbin/cellmuxd" -a -x "$P/libexec/cellmux/cellmux-probe" ]
# cellmuxd looks for it at ../libexec/cellmux/ from itself; a worker's uid execs it.
check "cellmux-init is where cellmuxd looks, executable by any uid" \
	[ "$(( $(stat -c '%#a' "$P/sbin/../libexec/cellmux/cellmux-init") & 1 ))" = 1 ]
check "the installed cellmuxd accepts the installed default config" \
	"$P/sbin/cellmuxd" --check-config -c "$D/etc/cellmux/cellmux.conf"
for ex in "$P"/share/cellmux/examples/*.conf; do
	# The example names interfaces this machine lacks: only the parse is checked here.
	out=$("$P/sbin/cellmuxd" --check-config -c "$ex" 2>&1)
	check "$(basename "$ex") parses (only the system check may refuse it: $out)" \
		bash -c "[[ \"\$1\" == *': ok '* || \"\$1\" == *\"interface 'usb0' not found\"* ]]" _ "$out"
done

UNIT=$P/lib/systemd/system/cellmux.service
check "the unit names the installed programs" grep -q "^ExecStart=$P/sbin/cellmuxd\$" "$UNIT"
out=$(MANPATH=$P/share/man systemd-analyze verify "$UNIT" 2>&1)
check "systemd-analyze verify is silent${out:+: $out}" [ -z "$out" ]
score=$(systemd-analyze security --offline=yes "$UNIT" 2>&1 | sed -n 's/.*exposure level for cellmux.service: \([0-9.]*\).*/\1/p')
check "security --offline=yes --threshold=$SECURITY_MAX (exposure $score)" \
	bash -c 'systemd-analyze security --offline=yes --threshold="$1" "$2" >/dev/null 2>&1' _ \
	"$SECURITY_MAX" "$UNIT"

inst uninstall || { cat "$W/make.log"; die "make uninstall"; }
left=$(find "$D" -not -type d)
check "make uninstall removes every file${left:+: $left}" [ -z "$left" ]
