#!/usr/bin/env python3
"""acct_iperf.py — what traffic accounting costs: iperf3 from a session cgroup through a veth
"modem" to a server namespace, with accounting off, with cellmux's eBPF accounting (session
cgroup programs + uplink tc programs, quota check included), and with the nftables equivalent
(per-cgroup and per-interface counter rules, both directions). Modes alternate within every
round, so drift hits them alike; prints medians and ratios to "off".

  cmxbench-P-c (client ns, cgroup cmxbench-P/client)    cmxbench-P-s (server ns)
    c0 198.19.210.2/24  ══════ veth ══════  s0 198.19.210.1/24   iperf3 -s

  tcp bulk: iperf3 -c, upload, throughput (Gbit/s)
  tcp down: iperf3 -c -R, download, throughput (Gbit/s): the ingress hooks
  udp 64B:  iperf3 -u -b 0 -l 64, upload, datagrams delivered per second (kpps)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lablock import lab_lock  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
DRIVER = os.path.join(BUILD, "helpers", "acct-driver")
P = os.getpid()
NS_C, NS_S = f"cmxbench-{P}-c", f"cmxbench-{P}-s"
SERVER = "198.19.210.1"
PIN = f"/sys/fs/bpf/cellmux-bench-{P}"


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=True, check=check, **kw)


def out(cmd):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout


def cgroup2():
    for line in open("/proc/self/mountinfo"):
        if " - cgroup2 " in line:
            return line.split()[4]
    sys.exit("no cgroup v2 mount")


CG2 = cgroup2()
CG_REL = f"cmxbench-{P}/client"
CG = os.path.join(CG2, CG_REL)


def drv(*args):
    return subprocess.run([DRIVER, "-p", PIN, *args], check=True, capture_output=True,
                          text=True).stdout


class Lab:
    def __init__(self):
        self.server = None
        self.bpffs_mounted = False

    def up(self):
        self.bpffs_mounted = drv("bpffs").strip() == "mounted"
        for ns in (NS_C, NS_S):
            sh(f"ip netns add {ns}")
            sh(f"ip netns exec {ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
            sh(f"ip -n {ns} link set lo up")
        sh(f"ip link add c0 netns {NS_C} type veth peer name s0 netns {NS_S}")
        sh(f"ip -n {NS_C} addr add 198.19.210.2/24 dev c0")
        sh(f"ip -n {NS_S} addr add {SERVER}/24 dev s0")
        sh(f"ip -n {NS_C} link set c0 up")
        sh(f"ip -n {NS_S} link set s0 up")
        os.makedirs(CG, exist_ok=True)
        self.server = subprocess.Popen(["ip", "netns", "exec", NS_S, "iperf3", "-s", "-B", SERVER,
                                        "-A", "1"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while ":5201" not in out(f"ip netns exec {NS_S} ss -Hltn"):
            if time.monotonic() > deadline:
                sys.exit("iperf3 -s did not start")
            time.sleep(0.1)

    def down(self):
        if self.server:
            self.server.kill()
            self.server.wait()
        for ns in (NS_C, NS_S):
            sh(f"ip netns delete {ns}", check=False, stderr=subprocess.DEVNULL)
        for d in (CG, os.path.dirname(CG)):
            try:
                os.rmdir(d)
            except OSError:
                pass
        sh(f"rm -rf {PIN}", check=False)
        if self.bpffs_mounted and not [f for f in os.listdir("/sys/fs/bpf")
                                       if not f.endswith(".debug")]:
            sh("umount /sys/fs/bpf", check=False)


# nft resolves the path below /sys/fs/cgroup ("unified/..." on hybrid hierarchies); the level is
# the cgroup's depth in the v2 tree, which is what the kernel compares.
NFT_CG = os.path.relpath(CG, "/sys/fs/cgroup")
NFT = f"""table inet cmxbench {{
	chain out {{
		type filter hook output priority 0; policy accept;
		socket cgroupv2 level 2 "{NFT_CG}" counter
		oifname "c0" counter
	}}
	chain in {{
		type filter hook input priority 0; policy accept;
		socket cgroupv2 level 2 "{NFT_CG}" counter
		iifname "c0" counter
	}}
}}
"""


def mode_on(mode):
    if mode == "cellmux":
        drv("attach-uplink", "up", NS_C, "c0")
        drv("attach-session", "client", CG)
        # A quota far away: the datapath does the full check, as with a configured plan.
        drv("quota", "session", "client", "1T", "notify")
        drv("quota", "uplink", "up", "1T", "notify")
    elif mode == "nft":
        # nsenter, not ip netns exec: that remounts /sys, where nft finds the cgroup.
        subprocess.run(["nsenter", f"--net=/run/netns/{NS_C}", "nft", "-f", "-"], input=NFT,
                       text=True, check=True)


def mode_off(mode):
    """Removes the mode and returns the bytes it counted on the session, as a sanity check."""
    if mode == "cellmux":
        c = dict(kv.split("=") for kv in drv("detach-session", "client").split())
        drv("detach-uplink", "up", NS_C, "c0")
        drv("forget", "session", "client")
        drv("forget", "uplink", "up")
        return int(c["tx_bytes"]) + int(c["rx_bytes"])
    if mode == "nft":
        rules = out(f"ip netns exec {NS_C} nft list table inet cmxbench")
        sh(f"ip netns exec {NS_C} nft delete table inet cmxbench")
        return sum(int(w) for w in rules.split("bytes ")[1:3] for w in [w.split()[0]])
    return 0


WORKLOADS = {
    "tcp bulk": ([], "Gbit/s"),
    "tcp down": (["-R"], "Gbit/s"),
    "udp 64B": (["-u", "-b", "0", "-l", "64"], "kpps"),
}


def run_iperf(args, secs):
    cmd = (f"echo $$ >{CG}/cgroup.procs && exec ip netns exec {NS_C} "
           f"iperf3 -c {SERVER} -A 0 -t {secs} -J {' '.join(args)}")
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=secs + 30)
    j = json.loads(r.stdout)
    if "error" in j:
        sys.exit(f"iperf3: {j['error']}")
    end = j["end"]
    if "-u" in args:
        s = end["sum"]
        return (s["packets"] - s["lost_packets"]) / s["seconds"] / 1e3
    return end["sum_received"]["bits_per_second"] / 1e9


def prog_ids():
    """Ids of the cellmux programs on the client cgroup and on c0."""
    ids = [json.loads(out(f"bpftool cgroup show {CG} -j"))]
    ids = [p["id"] for p in ids[0]]
    for d in ("ingress", "egress"):
        for line in out(f"ip netns exec {NS_C} tc filter show dev c0 {d}").splitlines():
            if " id " in line:
                ids.append(int(line.split(" id ")[1].split()[0]))
    return ids


def prog_stats():
    """(run_time_ns, run_cnt) of each cellmux program, by name."""
    st = {}
    for i in prog_ids():
        p = json.loads(out(f"bpftool prog show id {i} -j"))
        st[p["name"]] = (p.get("run_time_ns", 0), p.get("run_cnt", 0))
    return st


def datapath_cost(secs):
    """ns per run of each cellmux program under 64-byte UDP, from the kernel's own BPF run-time
    statistics (kernel.bpf_stats_enabled), measured apart: the statistics cost time too. Each
    program is timed under the load that runs it: the egress ones while the client sends
    (iperf3 -u), the ingress ones while it receives (iperf3 -u -R). Timed under an upload, an
    ingress program runs only for the few ACK-less control packets, each on cold caches: what
    made ingress look 3-7x dearer than egress, for code that is the same."""
    old = out("sysctl -n kernel.bpf_stats_enabled").strip()
    mode_on("cellmux")
    cost = {}
    try:
        sh("sysctl -qw kernel.bpf_stats_enabled=1")
        for extra, hook in (([], "egress"), (["-R"], "ingress")):
            before = prog_stats()
            run_iperf(WORKLOADS["udp 64B"][0] + extra, secs)
            after = prog_stats()
            for name, (ns, cnt) in after.items():
                d_ns, d_cnt = ns - before.get(name, (0, 0))[0], cnt - before.get(name, (0, 0))[1]
                if name.endswith(hook) and d_cnt:
                    cost[name] = (d_ns / d_cnt, d_cnt)
        return cost
    finally:
        sh(f"sysctl -qw kernel.bpf_stats_enabled={old}")
        mode_off("cellmux")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--secs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 round of 1 s (smoke test)")
    ap.add_argument("--only", choices=list(WORKLOADS), help="one workload")
    a = ap.parse_args()
    workloads = {a.only: WORKLOADS[a.only]} if a.only else WORKLOADS
    if a.quick:
        a.rounds, a.secs = 1, 1
    modes = ["off", "cellmux", "nft"]
    res = {w: {m: [] for m in modes} for w in workloads}
    costs = {}  # program -> [(ns per run, runs)], one per round: one sample moved by 10-30 ns
    lab = Lab()
    try:
        lab.up()
        for rnd in range(a.rounds):
            for w, (args, _) in workloads.items():
                for m in modes:
                    mode_on(m)
                    try:
                        res[w][m].append(run_iperf(args, a.secs))
                    finally:
                        counted = mode_off(m)
                    if m != "off" and counted <= 0:
                        sys.exit(f"{m} counted nothing during {w}: the benchmark is broken")
            for name, c in datapath_cost(a.secs).items():
                costs.setdefault(name, []).append(c)
            print(f"round {rnd + 1}/{a.rounds} done", file=sys.stderr)
    finally:
        lab.down()

    kernel = os.uname().release
    print(f"accounting cost, iperf3 over veth, {a.rounds} x {a.secs} s per cell, "
          f"kernel {kernel}, {os.cpu_count()} CPUs; median (ratio to off)")
    print(f"{'workload':<10} {'unit':<7} " + " ".join(f"{m:>16}" for m in modes))
    for w, (_, unit) in workloads.items():
        off = statistics.median(res[w]["off"])
        cells = []
        for m in modes:
            med = statistics.median(res[w][m])
            cells.append(f"{med:8.2f} ({med / off:4.2f})")
        print(f"{w:<10} {unit:<7} " + " ".join(f"{c:>16}" for c in cells))
    def spread(v):
        return (max(v) - min(v)) / statistics.median(v)
    print("spread, (max - min) / median: " + "; ".join(
        f"{w} " + " ".join(f"{m} {spread(res[w][m]):.0%}" for m in modes) for w in workloads))
    print(f"cellmux programs, ns per run under udp 64B, egress ones while sending, ingress ones "
          f"while receiving (bpf_stats), median of {a.rounds} (min-max): " +
          ", ".join(f"{n} {statistics.median(ns for ns, _ in c):.0f} "
                    f"({min(ns for ns, _ in c):.0f}-{max(ns for ns, _ in c):.0f}, "
                    f"{sum(cnt for _, cnt in c)} runs)" for n, c in sorted(costs.items())))
    print("ratio cellmux / nft: " + ", ".join(
        f"{w} {statistics.median(res[w]['cellmux']) / statistics.median(res[w]['nft']):.2f}"
        for w in workloads))


if __name__ == "__main__":
    _lab = lab_lock()
    main()
