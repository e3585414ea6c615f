#!/bin/bash
# test_deb.sh — (make distcheck) the Debian package: dpkg-buildpackage builds
# cellmux_VERSION_ARCH.deb from the tree's files, lintian finds no error or warning, apt-get
# installs it on this machine, the installed cellmuxd accepts the default config, the group
# and directories exist, and apt-get purge leaves none of the package's files behind.
# Root; installs and purges the package for real, so it refuses to run over an installed one.
# KEEP_DEB=DIR keeps a copy of the .deb there.
. "$(dirname "$0")/../integration/assert.sh"
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || die "must run as root (apt-get install)"
for t in dpkg-buildpackage dh lintian apt-get git; do
	command -v $t >/dev/null || die "$t missing (make deps)"
done
dpkg-query -W -f='${Status}' cellmux 2>/dev/null | grep -q 'ok installed' &&
	die "cellmux is installed already; this test installs and purges it"

W=$(mktemp -d /tmp/cellmux-deb.XXXXXX)
INSTALLED=
# The package keeps its group at purge (Debian's way); the test removes one it made.
GROUP_BEFORE=$(getent group cellmux)
cleanup() {
	local rc=$?
	set +e
	[ -n "$INSTALLED" ] && apt-get purge -y -qq cellmux >/dev/null 2>&1
	[ -z "$GROUP_BEFORE" ] && getent group cellmux >/dev/null && groupdel cellmux
	rm -rf "$W"
	[ $FAILS -eq 0 ] && exit $rc
	exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

VERSION=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
ARCH=$(dpkg --print-architecture)
# The tree as it is (tracked and new files, not build/), so a dirty tree is what gets tested.
mkdir "$W/cellmux-$VERSION"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp -a --parents -t "$W/cellmux-$VERSION") ||
	die "copying the tree"
(cd "$W/cellmux-$VERSION" && dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1 ||
	{ tail -30 "$W/build.log"; die "dpkg-buildpackage failed"; }
DEB=$W/cellmux_${VERSION}_${ARCH}.deb
check "built $(basename "$DEB")" [ -f "$DEB" ]
# make distcheck hands the same package to test_nspawn.sh.
if [ -n "${KEEP_DEB:-}" ]; then mkdir -p "$KEEP_DEB" && cp "$DEB" "$KEEP_DEB/"; fi

lintian --fail-on error,warning "$DEB" >"$W/lintian.log" 2>&1
lrc=$?
check "lintian: no errors or warnings ($(grep -cE '^[EW]:' "$W/lintian.log") found)" [ $lrc -eq 0 ]
grep -E '^[EW]:' "$W/lintian.log"

files=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')
INSTALLED=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" >"$W/install.log" 2>&1 ||
	{ cat "$W/install.log"; die "apt-get install"; }
check "installed" dpkg-query -W cellmux
out=$(/usr/sbin/cellmuxd --check-config 2>&1)
check "installed cellmuxd accepts the default config ($out)" \
	grep -q '^/etc/cellmux/cellmux.conf: ok (0 uplinks, 0 profiles, 0 sessions)' <<<"$out"
check "cellmuxctl runs" bash -c '/usr/bin/cellmuxctl --help >/dev/null'
check "the cellmux group exists" bash -c 'getent group cellmux >/dev/null'
check "state directory 0700 root" [ "$(stat -c '%a %U' /var/lib/cellmux 2>/dev/null)" = "700 root" ]
check "man cellmux.conf finds the page" bash -c 'man -w cellmux.conf | grep -q cellmux.conf.5'
# The installed binaries, not the build tree's, run the sim demo: three fake modems, six probe
# sessions, each seen by the fake internet's server from its own carrier's address.
CELLMUXD=/usr/sbin/cellmuxd CELLMUXCTL=/usr/bin/cellmuxctl \
	CELLMUX_SIM=/usr/libexec/cellmux/cellmux-sim CELLMUX_PROBE=/usr/libexec/cellmux/cellmux-probe \
	timeout 300 "$ROOT/tools/demo.sh" >"$W/demo.log" 2>&1
rc=$?
check "the installed binaries run the sim demo (exit $rc)" [ $rc -eq 0 ]
n=$(grep -cE '^s[1-6] +\| sim[0-2] +\| [0-9]+ +\| 198\.18\.1\.[1-3]$' "$W/demo.log")
check "... every one of its 6 sessions reached the server from a carrier address ($n)" [ "$n" = 6 ]
check "... through the installed cellmuxd" grep -q "== /usr/sbin/cellmuxd -c" "$W/demo.log"
[ $FAILS -eq 0 ] || tail -30 "$W/demo.log"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq cellmux >"$W/purge.log" 2>&1 ||
	{ cat "$W/purge.log"; fail "apt-get purge"; }
INSTALLED=
left=$(for f in $files /var/lib/cellmux /etc/cellmux /run/cellmux; do [ -e "$f" ] && echo "$f"; done)
check "purge leaves none of the package's files${left:+: $left}" [ -z "$left" ]
