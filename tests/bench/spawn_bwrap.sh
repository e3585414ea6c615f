#!/bin/bash
# spawn_bwrap.sh — one session start, like for like: from the request to the worker's first
# instruction, for all three sides, the same worker (build/helpers/start-stamp, which prints its
# CLOCK_MONOTONIC start first thing):
#   cellmux   `cellmuxctl session start` of a session whose worker is start-stamp (its stamp
#             reaches the daemon's log), through the whole sandbox;
#   netns     `ip netns exec cmx-sim0 start-stamp`;
#   bwrap     `ip netns exec cmx-sim0 bwrap <the sandbox's equivalent> start-stamp`.
# cellmux runs three ways: as configured (a task limit, which on a hybrid host like this one is a
# cgroup-v1 join: one RCU grace period per start), with pids_max=infinity (no v1 join), and with
# favordynmods set on the cgroup2 superblock (what cgroup_favor_dynmods=yes does), in rounds of
# its own after the others (see the driver for why). The bench puts the superblock's options
# back, even when it fails; on Linux 6.18+ the kernel's faster lock stays until reboot, so only
# the first run after a boot shows the default side's wait (the first figure says which).
# Each side: one tool exec'd by the same driver (python, CLOCK_MONOTONIC before the exec),
# interleaved rounds, medians and ratios printed, never asserted. --quick: 3 rounds.
# The daemon's "spawn took" (clone to exec) is printed as context.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lablock.sh
B=$(pwd)/build
N=${BENCH_N:-30}
[ "${1:-}" = --quick ] && N=3
command -v bwrap >/dev/null || { echo "FAIL: bwrap missing (tools/deps.sh installs bubblewrap)"; exit 1; }
T=$(mktemp -d /tmp/cellmux-bench-spawn.XXXXXX)
chmod 755 "$T"
OPTS=$(pwd)/tests/integration/cgroup2_opts.py
ORIG=$(python3 "$OPTS" get)
PID=
cleanup() {
	python3 "$OPTS" set "$ORIG"
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && while kill -0 "$PID" 2>/dev/null; do sleep 0.2; done
	"$B/cellmux-sim" down >/dev/null 2>&1 || true
	rmdir /sys/fs/cgroup/pids/cellmux-bench-spawn-probe 2>/dev/null || true
	rm -rf "$T" /sys/fs/bpf/cellmux-bench-spawn
}
trap cleanup EXIT
"$B/cellmux-sim" down >/dev/null 2>&1 || true
"$B/cellmux-sim" up --modems 1 >/dev/null
{
	printf '[uplink sim0]\ndriver=netdev\ninterface=simwwan0\naddress=100.64.0.2/24\ngateway=100.64.0.1\ndns=100.64.0.1\ncapacity=%d\n\n' $((4 * N + 1))
	printf '[daemon]\ncgroup=/cellmux-bench-spawn\nctl_socket=%s/ctl.sock\nbpf_dir=/sys/fs/bpf/cellmux-bench-spawn\nstate_dir=%s/state\n\n' "$T" "$T"
	printf '[metrics]\nlisten=off\n\n'
	# The stamp worker exits at once; restart=no leaves the session stopped, and stopped sessions
	# are removed after each round so capacity never runs out.
	printf '[profile stamp]\nexec=%s/start-stamp s 0\nrestart=no\n\n' "$T"
	# The same without a task limit: on a host whose pids controller is on cgroup v1 (this
	# kind: systemd's hybrid layout), the limit costs a v1 cgroup join, one RCU grace period
	# the kernel imposes per migration; a v2-only host (Debian 12, Raspberry Pi OS) never
	# pays it, since CLONE_INTO_CGROUP places the child at birth.
	printf '[profile stamp2]\nexec=%s/start-stamp s 0\nrestart=no\npids_max=infinity\n' "$T"
} >"$T/cellmux.conf"
cp "$B/helpers/start-stamp" "$T/start-stamp"
"$B/cellmuxd" --debug -c "$T/cellmux.conf" >"$T/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 600); do grep -q "ready:" "$T/daemon.log" && break; sleep 0.1; done
grep -q "ready:" "$T/daemon.log" || { tail "$T/daemon.log"; echo "FAIL: cellmuxd not ready"; exit 1; }

# What cellmux's sandbox does, in bwrap's words: own PID, IPC and UTS namespaces, a new session,
# the system read-only, private /tmp /var/tmp /dev/shm, /run and homes hidden, its own /proc and
# a minimal /dev, an unprivileged uid without capabilities, dies with its parent, and a seccomp
# filter of the sandbox's shape (build/helpers/seccomp-export, on fd 9). Not matched: the
# cgroup, a cost only cellmux pays; bwrap maps the uid through a user namespace, cellmux sets
# it directly.
"$B/helpers/seccomp-export" >"$T/filter.bpf" || { echo "FAIL: seccomp-export"; exit 1; }
BWRAP=(bwrap --unshare-user --uid 65534 --gid 65534 --unshare-pid --unshare-ipc --unshare-uts
	--die-with-parent --new-session --cap-drop ALL --seccomp 9
	--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /var/tmp --tmpfs /dev/shm
	--tmpfs /run --tmpfs /home --tmpfs /root --tmpfs /sys/fs/cgroup
	--ro-bind "$T/start-stamp" "$T/start-stamp"
	--ro-bind /etc/netns/cmx-sim0/resolv.conf /etc/resolv.conf)
[ -e /etc/netns/cmx-sim0/resolv.conf ] || BWRAP=("${BWRAP[@]:0:${#BWRAP[@]}-3}")
ip netns exec cmx-sim0 "${BWRAP[@]}" true 9<"$T/filter.bpf" || { echo "FAIL: bwrap does not run here"; exit 1; }

# The driver: N interleaved rounds; prints "side microseconds" per start.
OFF=$(echo "$ORIG" | tr , '\n' | grep -vx favordynmods | paste -sd, -)
N="$N" B="$B" T="$T" OPTS="$OPTS" OFF="$OFF" python3 - "${BWRAP[@]}" >"$T/times" <<'PY'
import importlib.util, os, re, subprocess, sys, time
spec = importlib.util.spec_from_file_location("cgroup2_opts", os.environ["OPTS"])
cg2 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cg2)
off = os.environ["OFF"]
on = off + ("," if off else "") + "favordynmods"
cg2.set_opts(off)
def v1_join_us():  # one join of a fresh process into a v1 pids cgroup, 0.1 s after the last
    d = "/sys/fs/cgroup/pids/cellmux-bench-spawn-probe"
    if not os.path.isdir("/sys/fs/cgroup/pids"):
        return 0
    os.makedirs(d, exist_ok=True)
    us = []
    for _ in range(5):
        time.sleep(0.1)
        p = subprocess.Popen(["sleep", "10"])
        t = time.monotonic_ns()
        with open(d + "/cgroup.procs", "w") as f:
            f.write(str(p.pid))
        us.append((time.monotonic_ns() - t) / 1000)
        p.kill()
        p.wait()
    time.sleep(0.1)
    os.rmdir(d)
    return sorted(us)[2]
print("v1join0", v1_join_us())
n, b, t = int(os.environ["N"]), os.environ["B"], os.environ["T"]
bwrap = sys.argv[1:]
stamp = t + "/start-stamp"
log = t + "/daemon.log"
ctl = [b + "/cellmuxctl", "--socket", t + "/ctl.sock"]
def stamp_of(out, tag):
    m = re.search(r"cmx-start (\d+) " + re.escape(tag) + r"\b", out)
    return int(m.group(1)) if m else None
def logged_stamp(session):  # the daemon logs the worker's line as "session NAME: ..."
    m = re.search(r"session " + re.escape(session) + r": cmx-start (\d+) s\b",
                  open(log, errors="replace").read())
    return int(m.group(1)) if m else None
# bwrap reads the seccomp filter from fd 9: the same open file for every round.
f = os.open(t + "/filter.bpf", os.O_RDONLY)
os.dup2(f, 9)
def direct(cmd, tag):
    os.lseek(9, 0, os.SEEK_SET)
    t0 = time.monotonic_ns()
    out = subprocess.run(cmd + [stamp, tag, "0"], stdout=subprocess.PIPE, pass_fds=(9,),
                         stdin=subprocess.DEVNULL, check=True).stdout.decode()
    return (stamp_of(out, tag) - t0) / 1000
def cellmux(profile, tag):
    t0 = time.monotonic_ns()
    subprocess.run(ctl + ["session", "start", "--profile", profile, "--name", tag],
                   stdout=subprocess.DEVNULL, check=True)
    # Idle while the worker starts: the netns side waits in a read, and a driver scanning the
    # log at once would take a CPU from the start it measures (two here).
    for _ in range(500):
        time.sleep(0.02)
        s = logged_stamp(tag)
        if s:
            break
    else:
        sys.exit("no stamp of session %s in the daemon log" % tag)
    subprocess.run(ctl + ["session", "stop", tag], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return (s - t0) / 1000
for i in range(1, n + 1):
    print("cellmux", cellmux("stamp", "b%d" % i))
    print("cellmux2", cellmux("stamp2", "v%d" % i))
    print("netns", direct(["ip", "netns", "exec", "cmx-sim0"], "n%d" % i))
    print("bwrap", direct(["ip", "netns", "exec", "cmx-sim0"] + bwrap, "w%d" % i))
# favordynmods after every other round: since Linux 6.18 setting it switches cgroup.procs
# writes to a per-threadgroup lock for good (clearing the option does not switch back, the
# kernel says so in its log), so no round after it would pay the grace period again.
cg2.set_opts(on)
for i in range(1, n + 1):
    print("cellmux3", cellmux("stamp", "f%d" % i))
print("v1join1", v1_join_us())
cg2.set_opts(off)
PY
cmx_us=($(awk '$1 == "cellmux" { print $2 }' "$T/times"))
cmx2_us=($(awk '$1 == "cellmux2" { print $2 }' "$T/times"))
cmx3_us=($(awk '$1 == "cellmux3" { print $2 }' "$T/times"))
nse_us=($(awk '$1 == "netns" { print $2 }' "$T/times"))
bwrap_us=($(awk '$1 == "bwrap" { print $2 }' "$T/times"))
[ "${#cmx_us[@]}" -eq "$N" ] && [ "${#cmx2_us[@]}" -eq "$N" ] && [ "${#cmx3_us[@]}" -eq "$N" ] && [ "${#nse_us[@]}" -eq "$N" ] && [ "${#bwrap_us[@]}" -eq "$N" ] ||
	{ echo "FAIL: ${#cmx_us[@]}/${#nse_us[@]}/${#bwrap_us[@]} of $N starts measured"; exit 1; }
spawn_us=($(sed -n 's/.*session b[0-9]*: spawn took \([0-9]*\) us.*/\1/p' "$T/daemon.log"))
spawn3_us=($(sed -n 's/.*session f[0-9]*: spawn took \([0-9]*\) us.*/\1/p' "$T/daemon.log"))
spawn2_us=($(sed -n 's/.*session v[0-9]*: spawn took \([0-9]*\) us.*/\1/p' "$T/daemon.log"))
v1=no
findmnt -n -t cgroup -o OPTIONS | grep -qw pids && v1=yes

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%9.3f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%9.2f x", b ? a / b : 0 }'; }
m_cmx=$(median "${cmx_us[@]}")
m_cmx2=$(median "${cmx2_us[@]}")
m_cmx3=$(median "${cmx3_us[@]}")
m_spawn3=$(median "${spawn3_us[@]:-0}")
m_spawn2=$(median "${spawn2_us[@]:-0}")
m_nse=$(median "${nse_us[@]}")
m_bwrap=$(median "${bwrap_us[@]}")
m_spawn=$(median "${spawn_us[@]:-0}")
echo "session start, request to the worker's first instruction, one uplink, median of $N, interleaved:"
echo "  cellmuxctl session start (sandbox)   $(ms "$m_cmx")   (pids on cgroup v1 here: $v1)"
echo "  ... with favordynmods                $(ms "$m_cmx3")   (cgroup_favor_dynmods=yes: the v1 join without a grace period)"
echo "  ... with pids_max=infinity           $(ms "$m_cmx2")   (no task limit, so no cgroup-v1 join)"
echo "  ip netns exec NS start-stamp         $(ms "$m_nse")   (no sandbox)"
echo "  ip netns exec NS bwrap ... stamp     $(ms "$m_bwrap")   (the sandbox's equivalent, with --seccomp)"
echo "  ratio bwrap / cellmux                $(ratio "$m_bwrap" "$m_cmx")   (aim: >= 1)"
echo "  ratio bwrap / cellmux, favordynmods  $(ratio "$m_bwrap" "$m_cmx3")   (aim: >= 1)"
echo "  ratio bwrap / cellmux, no v1         $(ratio "$m_bwrap" "$m_cmx2")   (bwrap sets no task limit either)"
echo "  ratio netns-exec / cellmux           $(ratio "$m_nse" "$m_cmx")   (no sandbox on that side)"
echo "  ratio netns-exec / cellmux, favordynmods $(ratio "$m_nse" "$m_cmx3")"
echo "  context: a v1 pids join alone (median of 5, spaced 0.1 s): $(ms "$(awk '$1 == "v1join0" { print $2 }' "$T/times")") before favordynmods, $(ms "$(awk '$1 == "v1join1" { print $2 }' "$T/times")") with it"
echo "  context: cellmuxd spawn (clone to exec) $(ms "$m_spawn"), with favordynmods $(ms "$m_spawn3"), without the v1 join $(ms "$m_spawn2")   (daemon's log)"
