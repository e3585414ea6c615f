#!/bin/bash
# test_arm64.sh — (make distcheck) the arm64 cross build on this machine: dpkg-buildpackage
# -aarm64 builds cellmux_VERSION_arm64.deb from the tree's files with Debian's cross toolchain,
# its unit tests pass under qemu-user during the build (debian/rules: make unit), `file` calls
# the packaged programs aarch64, the BPF object holds CO-RE relocations on generic kernel types
# only (no pt_regs or other type of one architecture's), and lintian finds no error or warning.
# Every tool it needs must be there (make deps-cross): a missing one fails the test, never
# passes it. Installs nothing; KEEP_DEB=DIR keeps a copy of the .deb.
. "$(dirname "$0")/../integration/assert.sh"
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HOST=arm64 TRIPLET=aarch64-linux-gnu
for t in dpkg-buildpackage dh lintian git file bpftool clang qemu-aarch64-static \
	$TRIPLET-gcc $TRIPLET-pkg-config; do
	command -v $t >/dev/null || die "$t missing (make deps-cross)"
done
# qemu-user runs the tests with the multiarch loader (libc6:arm64).
[ -e /lib/ld-linux-aarch64.so.1 ] || die "no /lib/ld-linux-aarch64.so.1 (libc6:arm64; make deps-cross)"

W=$(mktemp -d /tmp/cellmux-arm64.XXXXXX)
cleanup() {
	local rc=$?
	rm -rf "$W"
	[ $FAILS -eq 0 ] && exit $rc
	exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

VERSION=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
# The tree as it is (tracked and new files, no build trees), so a dirty tree is what gets tested.
mkdir "$W/cellmux-$VERSION"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp -a --parents -t "$W/cellmux-$VERSION") ||
	die "copying the tree"
# -d: libwebsockets-dev:arm64 cannot be installed beside the native one (deps-cross.sh unpacks it
# into a private sysroot), so dpkg-checkbuilddeps would refuse. nocheck must not be set: the unit
# tests are part of what this shows.
start=$(date +%s)
(cd "$W/cellmux-$VERSION" && DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:+${DEB_BUILD_OPTIONS//nocheck/}} \
	dpkg-buildpackage -a$HOST -d -us -uc -b) >"$W/build.log" 2>&1 ||
	{ tail -60 "$W/build.log"; die "dpkg-buildpackage -a$HOST failed"; }
echo "dpkg-buildpackage -a$HOST: $(($(date +%s) - start)) s"
DEB=$W/cellmux_${VERSION}_$HOST.deb
check "built $(basename "$DEB")" [ -f "$DEB" ]
if [ -n "${KEEP_DEB:-}" ]; then mkdir -p "$KEEP_DEB" && cp "$DEB" "$KEEP_DEB/"; fi

# The unit tests ran in the build, under the emulator (run.sh's last line, one per run).
summary=$(grep -E '^check: [0-9]+ passed' "$W/build.log" | tail -1)
echo "unit tests under qemu: ${summary:-none}"
passed=$(sed -n 's/^check: \([0-9]*\) passed.*/\1/p' <<<"$summary")
check "unit tests ran under qemu-aarch64-static" grep -q '^unit tests run under: qemu-aarch64-static' "$W/build.log"
check "unit tests passed under qemu ($summary)" [ "${passed:-0}" -ge 20 ]
check "no unit test failed" grep -q ' 0 failed' <<<"$summary"
# What qemu-user cannot do (seccomp) is all that may skip.
skipped=$(sed -n 's/^skipped: //p' "$W/build.log" | tail -1)
for s in $skipped; do
	case $s in
	unit/test_seccomp | unit/test_inspect) ;;
	*) fail "$s skipped under qemu, and only the seccomp tests may" ;;
	esac
done

X=$W/x
dpkg-deb -x "$DEB" "$X" || die "dpkg-deb -x"
for p in usr/sbin/cellmuxd usr/bin/cellmuxctl usr/libexec/cellmux/cellmux-sim \
	usr/libexec/cellmux/cellmux-probe; do
	what=$(file -b "$X/$p")
	check "$p is aarch64 (${what%%,*}, ${what#*, })" grep -q 'ARM aarch64' <<<"$what"
done
check "dpkg says arm64" [ "$(dpkg-deb -f "$DEB" Architecture)" = "$HOST" ]

# No CO-RE: the cross build compiles the programs against bpf/vmlinux-fallback.h with
# BPF_NO_PRESERVE_ACCESS_INDEX, and the object must carry no CO-RE relocation at all (the
# length of .BTF.ext's core_relo section is 0): it loads on any kernel's __sk_buff, BTF or not.
B=$W/cellmux-$VERSION/build-$HOST
check "the cross build used vmlinux-fallback.h" cmp -s "$B/gen/bpf/vmlinux.h" "$ROOT/bpf/vmlinux-fallback.h"
for o in "$B"/gen/bpf/*.bpf.o; do
	n=$(basename "$o")
	check "$n is little-endian eBPF" grep -q 'LSB.*eBPF' <<<"$(file -b "$o")"
	relos=$(python3 "$ROOT/tests/dist/core_relos.py" "$o")
	check "$n carries no CO-RE relocation (core_relo bytes: $relos)" [ "$relos" = 0 ]
	# Nor may the object's own BTF name a register layout or another arch-bound type.
	arch_types=$(bpftool btf dump file "$o" | grep -oE "'(pt_regs|user_pt_regs|user_regs_struct|thread_struct|task_struct)'" | sort -u | tr '\n' ' ')
	check "$n names no architecture-bound type${arch_types:+ ($arch_types)}" [ -z "$arch_types" ]
done

lintian --fail-on error,warning "$DEB" >"$W/lintian.log" 2>&1
lrc=$?
check "lintian: no errors or warnings ($(grep -cE '^[EW]:' "$W/lintian.log") found)" [ $lrc -eq 0 ]
grep -E '^[EW]:' "$W/lintian.log"
[ $FAILS -eq 0 ]
