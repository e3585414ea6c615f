#!/usr/bin/python3
# mqtt_qos1.py — the MQTT side of backend_bench.sh: publishes N QoS 1 messages of SIZE bytes with
# at most WINDOW unacknowledged, and prints the rate and the PUBLISH→PUBACK latency (the broker
# has taken the message: the counterpart of cellmuxd's commit-then-ack). MQTT 3.1.1, no library.
import socket
import struct
import sys
import time


def remaining_length(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(kind, body):
    return bytes([kind]) + remaining_length(len(body)) + body


def mqtt_str(s):
    return struct.pack("!H", len(s)) + s


def main():
    host, port, n, size, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4]), int(sys.argv[5])
    topic = b"cellmux/bench"
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(packet(0x10, mqtt_str(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) +
                     mqtt_str(b"cellmux-bench-pub")))
    buf = b""
    while len(buf) < 4:
        buf += s.recv(4 - len(buf))
    if buf[0] != 0x20 or buf[3] != 0:
        sys.exit("mqtt: connection refused: %r" % buf)
    buf = b""
    sent_at = {}
    lat = []
    nxt = 1
    acked = 0
    start = time.monotonic()
    while acked < n:
        out = []
        while nxt <= n and len(sent_at) < window:
            pid = (nxt - 1) % 65535 + 1
            payload = str(nxt).encode().ljust(size, b".")
            out.append(packet(0x32, mqtt_str(topic) + struct.pack("!H", pid) + payload))
            sent_at[pid] = time.monotonic()
            nxt += 1
        if out:
            s.sendall(b"".join(out))
        data = s.recv(65536)
        if not data:
            sys.exit("mqtt: broker closed the connection")
        buf += data
        now = time.monotonic()
        while len(buf) >= 4:
            if buf[0] != 0x40:
                sys.exit("mqtt: unexpected packet 0x%02x" % buf[0])
            pid = struct.unpack("!H", buf[2:4])[0]
            buf = buf[4:]
            lat.append(now - sent_at.pop(pid))
            acked += 1
    secs = time.monotonic() - start
    s.sendall(packet(0xe0, b""))
    lat.sort()
    print("mqtt: published %d in %.3f s: %.0f/s, puback latency p50 %d us, p99 %d us" % (
        n, secs, n / secs, lat[len(lat) // 2] * 1e6, lat[len(lat) * 99 // 100] * 1e6))


main()
