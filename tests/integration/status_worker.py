#!/usr/bin/env python3
# status_worker.py — a session worker that speaks worker.proto by hand, for tests of what the
# daemon does with a worker's Status: Hello, then one Status per argument (STATE:MESSAGE, sent
# as written, bounds or not, with one field k=v), then it waits for Stop.
import os
import socket
import sys
import time


def varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])


def ld(field, data):
    data = data.encode() if isinstance(data, str) else data
    return varint(field << 3 | 2) + varint(len(data)) + data


def main():
    s = socket.socket(fileno=int(os.environ["CELLMUX_CONTROL_FD"]))
    s.send(ld(1, ld(1, "status-worker") + ld(2, "0")))  # WorkerMessage.hello
    for arg in sys.argv[1:]:
        state, _, message = arg.partition(":")
        st = ld(1, state) + ld(2, message) + ld(3, ld(1, "k") + ld(2, "v"))
        s.send(ld(5, st))  # WorkerMessage.status
        time.sleep(0.2)
    while True:
        pkt = s.recv(65536)
        if not pkt or pkt[0] == 0x12:  # end of file, or DaemonMessage.stop
            return 0


sys.exit(main())
