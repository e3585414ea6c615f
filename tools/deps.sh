#!/bin/sh
# deps.sh — installs, with apt-get, the Debian packages cellmux's build, tests and demo need,
# and only those missing: a no-op (one dpkg-query) when all are present.
set -eu

PKGS="
build-essential pkg-config make gcc
libmnl-dev libnftables-dev nftables
libglib2.0-dev libprotobuf-c-dev protobuf-c-compiler
libcurl4-openssl-dev libcmocka-dev
clang libclang-rt-dev
iproute2 dnsmasq-base curl procps util-linux psmisc
libqmi-glib-dev libmbim-glib-dev libqmi-utils libqmi-proxy valgrind
python3 hyperfine
libsqlite3-dev libwebsockets-dev libssl-dev openssl
python3-websockets python3-protobuf protobuf-compiler mosquitto mosquitto-clients
libwebsockets-evlib-glib prometheus wrk
libseccomp-dev bubblewrap
libc-ares-dev libcrypt-dev dante-server chromium
systemd man-db libcap2-bin debhelper dpkg-dev lintian git systemd-container debootstrap
clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iperf3 strace
"

missing=""
# dpkg-query prints nothing at all for packages it has never heard of.
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
missing=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
[ -z "${missing% }" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: $missing; run as root (sudo make deps)" >&2
	exit 1
fi
echo "deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
