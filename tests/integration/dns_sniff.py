#!/usr/bin/env python3
# dns_sniff.py — counts, on every interface of the namespace it runs in (AF_PACKET), the packets
# carrying each marker label given, until stdin closes; then prints "MARKER=N" per marker. Used
# by test_proxy.sh to show the host never sends a proxied name to any resolver.
import select, socket, sys

ETH_P_ALL = 0x0003
marks = [m.encode() for m in sys.argv[1:]]
counts = dict.fromkeys(marks, 0)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
print("ready", flush=True)
while True:
    r, _, _ = select.select([s, sys.stdin], [], [])
    if s in r:
        while True:
            try:
                pkt = s.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            for m in marks:
                # a DNS name carries the label after its length byte
                if bytes([len(m)]) + m in pkt:
                    counts[m] += 1
    if sys.stdin in r and not sys.stdin.readline():
        break
print(" ".join("%s=%d" % (m.decode(), n) for m, n in counts.items()), flush=True)
