#!/bin/bash
# test_ctl.sh — cellmuxctl against a running cellmuxd in the sim lab: every command round-trips
# and its effect is real (checked with the kernel's view, not the daemon's word); raw malformed
# messages on the socket get errors while the daemon keeps serving; outsiders are refused.
#
#   cellmuxctl ── $T/ctl.sock ── cellmuxd ── cmx-sim0, cmx-sim1 (sim carriers 0 and 1)
. "$(dirname "$0")/lib.sh"

sim_up 2
cp "$(dirname "$0")/status_worker.py" "$T/status_worker.py"
{
	daemon_section
	printf '[profile idle]\nexec=/bin/sleep 1000\n\n[session s1]\nprofile=idle\nuplink=sim0\n\n'
	# A good Status, then one whose state breaks the bounds: the second must change nothing.
	printf '[profile talker]\nexec=/usr/bin/python3 %s ok:first Bad:second\nbind_ro=%s\n\n' \
		"$T/status_worker.py" "$T/status_worker.py"
} | make_config
start_daemon
J() { ctl --json "$@"; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# status, uplink list/show, session list/show
check "status answers with our version" eval "ctl status | grep -q 0.1.0"
n=$(J uplink list | jq_py 'len(d)')
check "uplink list --json has 2 uplinks ($n)" [ "$n" = 2 ]
fields=$(J uplink list | jq_py '",".join(sorted(d[0].keys()))')
for f in name driver state interface addresses sessions capacity rx_bytes tx_bytes quota_bytes quota_used_bytes; do
	check "uplink JSON has '$f'" grep -q "\\b$f\\b" <<<"$fields"
done
check "uplink show sim0 says up" eval "ctl --json uplink show sim0 | grep -q '\"state\": *\"up\"'"
sfields=$(J session list | jq_py '",".join(sorted(d[0].keys()))')
for f in name profile uplink pid state restarts rx_bytes tx_bytes status; do
	check "session JSON has '$f'" grep -q "\\b$f\\b" <<<"$sfields"
done
check "a worker that sent no Status has none" [ "$(J session show s1 | jq_py 'd["status"]')" = None ]

# A worker's Status is kept as sent and shown; one out of bounds is a logged protocol error.
J session start --profile talker --name t1 --uplink sim0 >/dev/null
bad="session t1: bad message from worker, ignored: Status.state is not 1..32 bytes of [a-z0-9_-]"
check "the out-of-bounds Status is refused with its reason in the log" \
	wait_for 10 grep -qF "$bad" "$T/daemon.log"
check "the good one was logged" grep -q "session t1 (uplink sim0): status ok: first$" "$T/daemon.log"
st=$(J session show t1 | jq_py 'd["status"]["state"], d["status"]["message"], d["status"]["fields"]')
check "and is what the daemon shows, untouched by the bad one ($st)" \
	[ "$st" = "ok first {'k': 'v'}" ]
check "session show prints it" eval "ctl session show t1 | grep -q '^  status      ok, '"
check "with its field" eval "ctl session show t1 | grep -qx '              k: v'"
ctl session stop t1

# session start: the worker exists, in the namespace the daemon says
out=$(J session start --profile idle --name x1 --uplink sim1)
pid=$(jq_py 'd["pid"] if isinstance(d, dict) else d[0]["pid"]' <<<"$out")
check "session start returns the new worker's pid ($pid)" [ "${pid:-0}" -gt 0 ]
check "x1's worker runs in cmx-sim1" \
	[ "$(netns_inode "/proc/$pid/ns/net")" = "$(netns_inode /run/netns/cmx-sim1)" ]
check "x1's worker is in its own cgroup" grep -qx "0::$CGPATH/x1" "/proc/$pid/cgroup"
check "session show x1" eval "ctl session show x1 | grep -q sim1"
ctl session start --profile idle --name x1 >/dev/null 2>&1
check "a duplicate name is refused with exit 1" [ $? -eq 1 ]
msg=$(ctl session start --profile nope 2>&1)
check "an unknown profile is refused with a clear message ($msg)" grep -q "no profile 'nope'" <<<"$msg"

# restart: new pid, restarts + 1
ctl session restart x1
check "restart gives x1 a new worker" wait_for 10 eval '[ -n "$(worker_pid x1)" ] && [ "$(worker_pid x1)" != "$pid" ]'
r=$(J session show x1 | jq_py 'd["restarts"] if isinstance(d, dict) else d[0]["restarts"]')
check "restarts counts it ($r)" [ "$r" = 1 ]

# stop: returns when the worker is gone
pid=$(worker_pid x1)
ctl session stop x1
check "after session stop returns, x1's worker is gone" eval "! alive $pid"
check "and x1 is no longer listed" eval "! ctl session list | grep -q '^x1 '"

# drain: no new session lands there
ctl uplink drain sim0
check "drained sim0 shows draining" eval "ctl --json uplink show sim0 | grep -q draining"
for i in 1 2 3; do ctl session start --profile idle --name d$i >/dev/null; done
on0=$(J session list | jq_py 'sum(1 for s in d if s["name"].startswith("d") and s["uplink"] == "sim0")')
check "no new session was placed on the drained uplink ($on0)" [ "$on0" = 0 ]
check "s1 still runs on the drained uplink" [ -n "$(worker_pid s1)" ]
ctl session start --profile idle --uplink sim0 >/dev/null 2>&1
check "pinning a new session to a drained uplink is refused" [ $? -eq 1 ]
ctl uplink up sim0
check "uplink up takes it back" eval "ctl --json uplink show sim0 | grep -q '\"up\"'"

# down: its sessions stop, the interface goes home; up: they come back
s1=$(worker_pid s1)
ctl uplink down sim0
check "uplink down: s1's worker is gone" wait_for 10 eval "! alive $s1"
check "uplink down: simwwan0 is back in the host" ip link show simwwan0 >/dev/null
check "uplink down: cmx-sim0 is gone" sh -c "! ip netns list | grep -q '^cmx-sim0'"
ctl uplink up sim0
check "uplink up: s1 runs again" wait_for 10 eval '[ -n "$(worker_pid s1)" ]'
ctl uplink reconnect sim0
rc=$(J uplink show sim0 | jq_py 'd.get("reconnects") if isinstance(d, dict) else d[0].get("reconnects")')
check "reconnect is counted ($rc)" [ "$rc" = 1 ]

# reload through the socket
printf '\n[session late]\nprofile=idle\n' >>"$T/cellmux.conf"
ctl reload
check "reload starts the added session" wait_for 10 eval '[ -n "$(worker_pid late)" ]'
printf '[broken\n' >>"$T/cellmux.conf"
msg=$(ctl reload 2>&1)
check "a broken file is refused by reload with FILE:LINE ($msg)" grep -q "cellmux.conf:[0-9]*:" <<<"$msg"

# usage and reachability
ctl frobnicate >/dev/null 2>&1
check "usage error exits 2" [ $? -eq 2 ]
msg=$("$BUILD/cellmuxctl" --socket "$T/nope.sock" status 2>&1)
check "a daemon that is not running is named ($msg)" grep -q "not running" <<<"$msg"

# outsiders: nobody is not root and not in the group
before=$(J session list | jq_py 'len(d)')
msg=$(runuser -u nobody -- "$BUILD/cellmuxctl" --socket "$T/ctl.sock" session start --profile idle 2>&1)
rc=$?
check "nobody is refused with exit 1 ($rc)" [ $rc -eq 1 ]
check "nobody is told 'permission denied' ($msg)" grep -qi 'permission denied' <<<"$msg"
check "and nothing changed" [ "$(J session list | jq_py 'len(d)')" = "$before" ]
check "the attempt is logged" grep -qi "uid=65534\|uid 65534" "$T/daemon.log"

# raw malformed messages straight on the socket
python3 - "$T/ctl.sock" >"$T/raw.out" 2>&1 <<'EOF2'
import os, socket, struct, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setsockopt(socket.SOL_SOCKET, 32, 4 << 20)  # SO_SNDBUFFORCE: room for the 1 MiB packet
    s.connect(path); s.settimeout(5); return s
def msg(cmd, attrs=b"", ver=1, typ=0x636d, flags=0x1 | 0x4, length=None):
    body = struct.pack("BBH", cmd, ver, 0) + attrs
    n = 16 + len(body) if length is None else length
    return struct.pack("=IHHII", n, typ, flags, 1, 0) + body
def attr(t, payload):
    n = 4 + len(payload); return struct.pack("=HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)
def answer(s):
    """Reads packets until the request's answer is complete (an NLMSG_ERROR, which is also the
    ack, or NLMSG_DONE); a packet may hold several messages. Returns "error N", "closed",
    "timeout", or "object+ack"."""
    saw_object = False
    while True:
        try:
            d = s.recv(70000)
        except socket.timeout:
            return "timeout"
        if not d:
            return "closed"
        off = 0
        while off + 16 <= len(d):
            n, t = struct.unpack_from("=IH", d, off)
            if n < 16:
                return "bad length"
            if t == 2:
                e = struct.unpack_from("=i", d, off + 16)[0]
                return "object+ack" if (e == 0 and saw_object) else "error %d" % e
            if t == 3:
                return "done"
            saw_object |= t == 0x636d
            off += (n + 3) & ~3
cases = {
    "truncated header": b"\x10\x00\x00",
    "nlmsg_len past the end": msg(1, length=400),
    "attr length past the end": msg(4, struct.pack("=HH", 200, 3) + b"x" * 8),
    "wrong attr type (u8 as nest)": msg(4, attr(3, b"\x01")),
    "unknown attribute": msg(1, attr(77, b"abcd")),
    "unknown command": msg(99),
    "wrong version": msg(1, ver=9),
    "wrong nlmsg_type": msg(1, typ=0x10),
    "string without NUL": msg(4, attr(3, attr(1, b"s1s1"))),
    "1 MiB message": msg(1, b"x" * (1 << 20)),
}
ok = True
for name, data in cases.items():
    s = conn()
    try:
        s.send(data)
        a = answer(s)
    except OSError as e:
        a = "send failed: %s" % e
    good = a.startswith("error -") or a == "closed"
    print(("ok  " if good else "BAD ") + name + ": " + a)
    ok &= good
    s.close()
# a flood of 10,000 requests on one connection, every one answered
s = conn()
n = 0
for i in range(10000):
    s.send(msg(1))
    if answer(s) != "object+ack":
        break
    n += 1
print("flood answered: %d" % n)
ok &= n == 10000
sys.exit(0 if ok else 1)
EOF2
rc=$?
cat "$T/raw.out"
check "every malformed message got an error or a closed connection, and the flood was answered" [ $rc -eq 0 ]
check "the daemon still serves after all that" eval "ctl status >/dev/null"
check "and still supervises: s1 runs" [ -n "$(worker_pid s1)" ]

check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
check "the admin socket is removed" [ ! -e "$T/ctl.sock" ]
