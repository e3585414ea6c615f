#!/usr/bin/env python3
# tcp_upload.py — one TCP upload with the sender's own account of it: sends N bytes to
# HOST:PORT (at RATE bytes/s, 0: as fast as it goes), half-closes, waits for the peer to close,
# and writes the socket's TCP_INFO figures that bound what an IP-layer counter must have seen
# (segments out and in, payload bytes sent including retransmissions, timestamps on or off)
# to OUT as JSON.
#   tcp_upload.py HOST PORT N RATE OUT
# With GATE=FILE in the environment it slows to a byte a second after half of N until FILE
# exists: a test that must act mid-transfer (kill a daemon) gets a transfer that waits for
# it, however slow or loaded the machine is.
import json
import os
import socket
import struct
import sys
import time

# struct tcp_info (linux/tcp.h): tcpi_options at 5; tcpi_segs_out, tcpi_segs_in (u32) at 136;
# tcpi_bytes_sent, tcpi_bytes_retrans (u64) at 200 (Linux >= 4.19).
TCPI_OPT_TIMESTAMPS = 1


def main(host, port, n, rate, out):
    s = socket.create_connection((host, port), timeout=60)
    chunk = b"x" * 65536
    sent, t0 = 0, time.monotonic()
    gate = os.environ.get("GATE")
    while sent < n:
        if gate and sent >= n // 2:
            # One byte of N a second while waiting: a peer that closes idle connections
            # (the sim's sink, after 5 s) keeps this one.
            last = time.monotonic()
            while not os.path.exists(gate) and sent < n:
                time.sleep(0.02)
                if time.monotonic() - last >= 1:
                    s.sendall(b"x")
                    sent, last = sent + 1, time.monotonic()
            gate = None
            if rate > 0:  # pace the second half from now on, not to catch up the wait
                t0 = time.monotonic() - sent / rate
        k = min(len(chunk), n - sent)
        s.sendall(chunk[:k])
        sent += k
        if rate > 0:
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    ti = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    if len(ti) < 216:
        sys.exit("tcp_info too short: this kernel lacks tcpi_bytes_sent")
    segs_out, segs_in = struct.unpack_from("<II", ti, 136)
    bytes_sent, bytes_retrans = struct.unpack_from("<QQ", ti, 200)
    with open(out, "w") as f:
        json.dump({"sent": sent, "segs_out": segs_out, "segs_in": segs_in,
                   "bytes_sent": bytes_sent, "bytes_retrans": bytes_retrans,
                   "timestamps": bool(ti[5] & TCPI_OPT_TIMESTAMPS)}, f)
    s.close()


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit("usage: tcp_upload.py HOST PORT N RATE OUT")
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
