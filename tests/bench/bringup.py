#!/usr/bin/env python3
"""bringup.py — uplink bring-up and session start: cellmuxd against the equivalent iproute2 + nft
shell script, measured in the same run on the same fake modems. Prints medians and ratios.

  uplinks:  N uplinks up, cellmuxd (exec to READY=1 on NOTIFY_SOCKET) vs. a shell script doing
            ip netns add / ip link set netns / addr / route / resolv.conf / nft -f per uplink,
            vs. the kernel floor: the N link moves and N nft commits alone, one thread per
            uplink as cellmuxd does (raw rtnetlink and libnftables from this process, into
            namespaces made beforehand), i.e. what the kernel makes any tool wait for.
  sessions: per-session start cost, (T(M sessions) - T(0 sessions)) / M with cellmuxd, vs. one
            `ip netns exec NS true`.
"""
import argparse
import ctypes
import os
import signal
import socket
import statistics
import subprocess
import sys
import struct
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lablock import lab_lock  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
SIM = os.path.join(BUILD, "cellmux-sim")
CELLMUXD = os.path.join(BUILD, "cellmuxd")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def daemon_ready_time(conf, tmp):
    """Seconds from exec of cellmuxd to its READY=1; then stops it and waits."""
    path = os.path.join(tmp, "notify.sock")
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(60)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    log = open(os.path.join(tmp, "daemon.log"), "ab")
    t0 = time.perf_counter()
    p = subprocess.Popen([CELLMUXD, "-c", conf], env=env, stdout=log, stderr=log)
    try:
        while True:
            msg = s.recv(4096).decode()
            if "READY=1" in msg:
                t = time.perf_counter() - t0
                break
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(60)
        s.close()
        log.close()
    if rc != 0:
        sys.exit(f"cellmuxd exited {rc}; see {tmp}/daemon.log")
    return t


def script_for(n):
    """The shell equivalent of what cellmuxd does per uplink (sim config layout)."""
    lines = ["set -e"]
    for i in range(n):
        ns = f"cmx-sim{i}"
        lines += [
            f"ip netns add {ns}",
            f"ip link set simwwan{i} down",
            f"ip link set simwwan{i} netns {ns}",
            f"ip -n {ns} link set lo up",
            f"ip -n {ns} addr add 100.64.{i}.2/24 dev simwwan{i}",
            f"ip -n {ns} link set simwwan{i} up",
            f"ip -n {ns} route add default via 100.64.{i}.1",
            f"mkdir -p /etc/netns/{ns}",
            f"echo 'nameserver 100.64.{i}.1' > /etc/netns/{ns}/resolv.conf",
            f"ip netns exec {ns} nft -f - <<'EOF'\n{ruleset(i)}EOF",
        ]
    return "\n".join(lines) + "\n"


def ruleset(i):
    """The kill-switch table cellmuxd and the script commit in uplink i's namespace."""
    return ("table inet cellmux {\n counter blocked { }\n"
            " chain output { type filter hook output priority filter; policy drop;\n"
            f'  oifname "lo" accept\n  oifname "simwwan{i}" accept\n  counter name blocked\n }}\n'
            " chain forward { type filter hook forward priority filter; policy drop; }\n}\n")


def script_teardown(n):
    cmds = []
    for i in range(n):
        ns = f"cmx-sim{i}"
        cmds += [f"ip -n {ns} link set simwwan{i} netns 1 || true", f"ip netns del {ns} || true",
                 f"rm -rf /etc/netns/{ns}"]
    return "\n".join(cmds) + "\n"


def script_time(n, tmp):
    path = os.path.join(tmp, "up.sh")
    with open(path, "w") as f:
        f.write(script_for(n))
    t0 = time.perf_counter()
    sh(f"bash {path}")
    t = time.perf_counter() - t0
    sh(script_teardown(n))
    return t


CLONE_NEWNET = 0x40000000
RTM_NEWLINK, NLM_F_REQUEST, NLM_F_ACK, IFLA_NET_NS_FD = 16, 0x1, 0x4, 28
_libc = ctypes.CDLL(None, use_errno=True)
_nft = None


def nftables():
    global _nft
    if _nft is None:
        _nft = ctypes.CDLL("libnftables.so.1")  # the library cellmuxd commits with
        _nft.nft_ctx_new.restype = ctypes.c_void_p
        _nft.nft_ctx_new.argtypes = [ctypes.c_uint32]
        _nft.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        _nft.nft_ctx_free.argtypes = [ctypes.c_void_p]
    return _nft


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def link_move(ifname, nsfd):
    """RTM_NEWLINK with IFLA_NET_NS_FD: exactly the request `ip link set netns` sends."""
    ifinfo = struct.pack("BBHiII", socket.AF_UNSPEC, 0, 0, socket.if_nametoindex(ifname), 0, 0)
    attr = struct.pack("HHI", 8, IFLA_NET_NS_FD, nsfd)
    msg = ifinfo + attr
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as s:
        s.send(struct.pack("IHHII", 16 + len(msg), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 1, 0)
               + msg)
        err = struct.unpack_from("i", s.recv(4096), 16)[0]
    if err:
        raise OSError(-err, f"moving {ifname}: {os.strerror(-err)}")


def floor_uplink(i, errors):
    """One uplink's share of the floor, on its own thread (setns moves only this thread)."""
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    ns = os.open(f"/run/netns/cmx-floor{i}", os.O_RDONLY)
    try:
        link_move(f"simwwan{i}", ns)
        setns(ns)
        nft = nftables()
        ctx = nft.nft_ctx_new(0)  # its netlink socket belongs to the namespace it is made in
        try:
            if nft.nft_run_cmd_from_buffer(ctx, ruleset(i).encode()) != 0:
                errors.append(f"nft commit in cmx-floor{i} failed")
        finally:
            nft.nft_ctx_free(ctx)
            setns(host)
    except OSError as e:
        errors.append(str(e))
    finally:
        os.close(ns)
        os.close(host)


def floor_time(n):
    """The kernel floor of bring-up: n link moves + n nft commits, in parallel, into namespaces
    made before the clock starts; moved back and removed after it stops."""
    for i in range(n):
        sh(f"ip netns add cmx-floor{i}")
    try:
        errors = []
        threads = [threading.Thread(target=floor_uplink, args=(i, errors)) for i in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t = time.perf_counter() - t0
        if errors:
            sys.exit("kernel floor: " + "; ".join(errors))
        return t
    finally:
        for i in range(n):
            sh(f"ip -n cmx-floor{i} link set simwwan{i} netns 1 2>/dev/null || true; "
               f"ip netns del cmx-floor{i}")


def write_conf(tmp, name, uplinks, sessions):
    """The sim's uplinks (same layout as `cellmux-sim config`) with room for every session."""
    conf = os.path.join(tmp, name)
    with open(conf, "w") as f:
        for i in range(uplinks):
            f.write(f"[uplink sim{i}]\ndriver=netdev\ninterface=simwwan{i}\n"
                    f"address=100.64.{i}.2/24\ngateway=100.64.{i}.1\ndns=100.64.{i}.1\n"
                    f"capacity=64\n\n")
        f.write("[daemon]\ncgroup=/cellmux-bench\nctl_socket=" + tmp + "/ctl.sock\n"
                "bpf_dir=/sys/fs/bpf/cellmux-bench\nstate_dir=" + tmp + "/state\n\n"
                "[metrics]\nlisten=off\n\n[profile idle]\nexec=/bin/sleep 1000\n"
                "user=nobody\nrestart=no\n")
        for s in range(sessions):
            f.write(f"\n[session b{s}]\nprofile=idle\n")
    return conf


def netns_exec_time(ns, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", ns, "true"], check=True)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def move_cost(reps):
    """Kernel time of one link move between namespaces: `ip link set netns` minus the cost of
    running `ip` at all. Both sides pay it once per uplink; it bounds what any tool can gain."""
    sh("ip netns add cmx-benchmv")
    try:
        mv, base = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            sh("ip link set simwwan0 netns cmx-benchmv")
            mv.append(time.perf_counter() - t0)
            sh("ip -n cmx-benchmv link set simwwan0 netns 1")
            t0 = time.perf_counter()
            sh("ip link show lo >/dev/null")
            base.append(time.perf_counter() - t0)
        return max(statistics.median(mv) - statistics.median(base), 0)
    finally:
        sh("ip netns del cmx-benchmv")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uplinks", type=int, default=8)
    ap.add_argument("--sessions", type=int, default=32)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--quick", action="store_true", help="smoke pass: 2 uplinks, 2 sessions, 1 rep")
    a = ap.parse_args()
    if a.quick:
        a.uplinks, a.sessions, a.reps = 2, 2, 1
    tmp = tempfile.mkdtemp(prefix="cellmux-bench.")
    os.chmod(tmp, 0o755)
    sh(f"{SIM} down >/dev/null; {SIM} up --modems {a.uplinks} >/dev/null")
    try:
        # Uplink bring-up: N uplinks, no sessions. Session start: one uplink, 0 or M sessions,
        # so the difference is not lost in the noise of N bring-ups.
        confn = write_conf(tmp, "uplinks.conf", a.uplinks, 0)
        conf0 = write_conf(tmp, "zero.conf", 1, 0)
        confm = write_conf(tmp, "many.conf", 1, a.sessions)
        dn, d0, dm, sc, fl = [], [], [], [], []
        for _ in range(a.reps):  # interleaved, so drift hits every side alike
            dn.append(daemon_ready_time(confn, tmp))
            sc.append(script_time(a.uplinks, tmp))
            fl.append(floor_time(a.uplinks))
            d0.append(daemon_ready_time(conf0, tmp))
            dm.append(daemon_ready_time(confm, tmp))
        mdn, md0, mdm, msc, mfl = (statistics.median(x) for x in (dn, d0, dm, sc, fl))
        per_session = max(mdm - md0, 0) / a.sessions
        # ip netns exec needs a namespace: bring one uplink up by script, measure, take it down.
        subprocess.run(["bash", "-c", script_for(1)], check=True)
        try:
            nse = netns_exec_time("cmx-sim0", max(a.reps * 5, 5))
        finally:
            sh(script_teardown(1))
        move = move_cost(max(a.reps, 3))
        print(f"uplink bring-up, {a.uplinks} uplinks, median of {a.reps}:")
        print(f"  cellmuxd (exec to READY)      {mdn * 1e3:9.2f} ms")
        print(f"  iproute2 + nft shell script   {msc * 1e3:9.2f} ms")
        print(f"  kernel floor                  {mfl * 1e3:9.2f} ms   ({a.uplinks} link moves + {a.uplinks} nft commits, in parallel)")
        print(f"  ratio script / cellmuxd       {msc / mdn:9.2f} x   (aim: >= 2)")
        print(f"  ratio cellmuxd / floor        {mdn / mfl:9.2f} x   (aim: <= 1.3)")
        # No tool beats the floor, so script / floor bounds script / cellmuxd on this machine.
        print(f"  bound script / floor          {msc / mfl:9.2f} x   (the best script / cellmuxd possible here)")
        print(f"  spread cellmuxd               {min(dn) * 1e3:9.2f} .. {max(dn) * 1e3:.2f} ms")
        print(f"  spread floor                  {min(fl) * 1e3:9.2f} .. {max(fl) * 1e3:.2f} ms")
        print(f"  context: one link move        {move * 1e3:9.2f} ms   (kernel time, both sides pay it per uplink)")
        print(f"session start, {a.sessions} sessions on one uplink, median of {a.reps}:")
        print(f"  cellmuxd per session          {per_session * 1e3:9.3f} ms")
        print(f"  ip netns exec NS true         {nse * 1e3:9.3f} ms")
        print(f"  ratio netns-exec / cellmuxd   {nse / per_session if per_session else float('inf'):9.2f} x   (aim: >= 1)")
    finally:
        sh(f"{SIM} down >/dev/null 2>&1 || true")
        sh(f"for i in $(seq 0 {a.uplinks - 1}); do ip netns del cmx-floor$i 2>/dev/null; done; true")
        sh(f"rm -rf {tmp} /sys/fs/bpf/cellmux-bench")


if __name__ == "__main__":
    _lab = lab_lock()
    main()
