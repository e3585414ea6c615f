#!/bin/sh
# deps-cross.sh — installs what an arm64 cross build of cellmux needs on a Debian 12 amd64 (or
# any other) machine: Debian's cross toolchain, qemu-user to run the unit tests, and the arm64
# -dev packages matching tools/deps.sh's native ones, through multiarch. A no-op when all are
# present. `make deps-cross` runs it.
#
# apt never removes or downgrades a native package here: the native build and its tests depend
# on them. A -dev package whose arm64 build cannot sit beside the native one (not Multi-Arch:
# same, or a dependency that is not) is fetched with `apt-get download` and unpacked into a
# private sysroot, $CROSS_ROOT (the Makefile looks there), instead of being installed.
set -eu

ARCH=${CROSS_ARCH:-arm64}
CACHE=${CROSS_CACHE:-/var/cache/cellmux-cross}
CROSS_ROOT=$CACHE/root

# Build machine tools (native architecture).
TOOLS="crossbuild-essential-$ARCH qemu-user-static binfmt-support pkgconf dpkg-dev file"
# Host (arm64) libraries: the -dev packages of tools/deps.sh and of the Makefile's PKGS.
DEVS="
libmnl-dev libnftables-dev libglib2.0-dev libprotobuf-c-dev libcurl4-openssl-dev
libcmocka-dev libqmi-glib-dev libmbim-glib-dev libsqlite3-dev libwebsockets-dev libssl-dev
libseccomp-dev libc-ares-dev libcrypt-dev libbpf-dev libelf-dev zlib1g-dev
libc6-dev libc6
"
# libc6:arm64 by name: its /lib/ld-linux-aarch64.so.1 is what qemu-user runs the tests with.
# The cross pkg-config wrapper, /usr/bin/aarch64-linux-gnu-pkg-config, comes with pkgconf:arm64.
DEVS="$DEVS pkgconf"

APT="apt-get -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

missing_tools="" missing_devs=""
for p in $TOOLS; do installed "$p" || missing_tools="$missing_tools $p"; done
for p in $DEVS; do
	installed "$p:$ARCH" && continue
	# Already unpacked into the private sysroot by an earlier run.
	[ -e "$CACHE/private/$p" ] && continue
	missing_devs="$missing_devs $p:$ARCH"
done
if ! dpkg --print-foreign-architectures | grep -qx "$ARCH" &&
	[ "$(dpkg --print-architecture)" != "$ARCH" ]; then
	need_arch=1
else
	need_arch=
fi
[ -z "$missing_tools$missing_devs$need_arch" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps-cross: missing:$missing_tools$missing_devs${need_arch:+ (dpkg architecture $ARCH)};" \
		"run as root (sudo make deps-cross)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$need_arch" ]; then
	echo "deps-cross: dpkg --add-architecture $ARCH"
	dpkg --add-architecture "$ARCH"
fi
apt-get -o DPkg::Lock::Timeout=600 update -qq

# Would installing these remove anything? apt-get -s says so with "Remv" lines; --no-remove
# makes the real run refuse too, but a simulated refusal tells which package to set aside.
removes() { # packages... -> exit 0 if apt would remove (or cannot install) something
	out=$($APT -s --no-remove install "$@" 2>&1) || return 0
	printf '%s\n' "$out" | grep -q '^Remv '
}

if [ -n "$missing_tools" ]; then
	if removes $missing_tools; then
		echo "deps-cross: installing$missing_tools would remove packages; stopping" >&2
		$APT -s --no-remove install $missing_tools >&2 || true
		exit 1
	fi
	echo "deps-cross: installing$missing_tools"
	$APT --no-remove install $missing_tools
fi

# Sort the -dev packages: those that co-install, and those for the private sysroot. apt's
# simulation cannot see a file clash between two Multi-Arch: same builds: libwebsockets-dev
# ships an lws_config.h naming its own libdir, so dpkg refuses the arm64 one beside the native
# one ("trying to overwrite shared '/usr/include/lws_config.h'") and leaves half-configured
# packages behind; it is set aside by name.
PRIVATE_KNOWN="libwebsockets-dev"
multiarch="" private=""
for p in $missing_devs; do
	case " $PRIVATE_KNOWN " in
	*" ${p%:*} "*) private="$private $p" ;;
	*) multiarch="$multiarch $p" ;;
	esac
done
if [ -n "$multiarch" ] && removes $multiarch; then
	set -- $multiarch
	multiarch=""
	for p; do
		if removes "$p"; then private="$private $p"; else multiarch="$multiarch $p"; fi
	done
fi
if [ -n "$multiarch" ]; then
	echo "deps-cross: installing$multiarch"
	$APT --no-remove install $multiarch
fi

# A private package is unpacked on its own; what it depends on is installed for $ARCH the
# ordinary way (its libraries are Multi-Arch: same: libwebsockets17:arm64 and the rest).
if [ -n "$private" ]; then
	echo "deps-cross: cannot co-install$private; unpacking into $CROSS_ROOT"
	mkdir -p "$CACHE/debs" "$CROSS_ROOT" "$CACHE/private"
	# apt's sandbox user must be able to write the download directory.
	chown _apt "$CACHE/debs" 2>/dev/null || true
	for p in $private; do
		(cd "$CACHE/debs" && apt-get download -qq "$p")
		deb=$(ls "$CACHE/debs/${p%:*}_"*"_$ARCH.deb")
		# "a (= 1), b | c, d" -> "a:arm64 b:arm64 d:arm64": the first alternative, no versions.
		deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' |
			grep . | sed "s/\$/:$ARCH/" | tr '\n' ' ')
		if removes $deps; then
			echo "deps-cross: the dependencies of $p ($deps) would remove packages; stopping" >&2
			exit 1
		fi
		$APT --no-remove install $deps
		dpkg-deb -x "$deb" "$CROSS_ROOT"
		: >"$CACHE/private/${p%:*}"
	done
	# The .pc files say prefix=/usr (or "/usr"): point them into the sysroot.
	find "$CROSS_ROOT" -name '*.pc' -path '*pkgconfig*' \
		-exec sed -i "s|^prefix=\"\\{0,1\\}/usr\"\\{0,1\\}\$|prefix=$CROSS_ROOT/usr|" {} +
	# libfoo.so -> libfoo.so.N: the shared library itself is installed, in the system's libdir.
	find "$CROSS_ROOT" -xtype l -name '*.so' | while read -r l; do
		t=/${l#"$CROSS_ROOT"/}
		t=${t%/*}/$(readlink "$l")
		[ -e "$t" ] && ln -sf "$t" "$l"
	done
fi
echo "deps-cross: done"
