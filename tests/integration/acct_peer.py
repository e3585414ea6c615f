#!/usr/bin/env python3
"""acct_peer.py — both ends of test_acct.sh's transfers, with exact payload sizes.

  serve LOG                  sink on :5001 (reads to EOF or 2 s of silence, then logs
                             "<client port> <bytes>" to LOG), source on :5002 (reads "N\\n",
                             sends N bytes, closes)
  send HOST N TIMEOUT [SECS] connects to :5001, sends N bytes (spread over SECS seconds if
                             given), waits for the sink to close; prints "port=P sent=N";
                             exit 3 on timeout (a blocked quota)
  fetch HOST N TIMEOUT       connects to :5002, asks for N bytes; prints "port=P got=M";
                             exit 0 only if M == N
"""
import os
import socket
import sys
import threading
import time

CHUNK = 64 * 1024


def serve(log):
    lock = threading.Lock()

    def sink(conn, addr):
        total = 0
        conn.settimeout(2)
        try:
            while True:
                b = conn.recv(CHUNK)
                if not b:
                    break
                total += len(b)
        except OSError:
            pass
        with lock, open(log, "a") as f:
            f.write(f"{addr[1]} {total}\n")
        conn.close()

    def source(conn, addr):
        conn.settimeout(10)
        try:
            line = b""
            while not line.endswith(b"\n"):
                b = conn.recv(32)
                if not b:
                    return
                line += b
            n = int(line)
            buf = b"\x5a" * CHUNK
            while n > 0:
                k = conn.send(buf[: min(n, CHUNK)])
                n -= k
        except OSError:
            pass
        finally:
            conn.close()

    def listen(port, handler):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(16)
        while True:
            c, a = s.accept()
            threading.Thread(target=handler, args=(c, a), daemon=True).start()

    threading.Thread(target=listen, args=(5002, source), daemon=True).start()
    open(log, "a").close()
    listen(5001, sink)


def send(host, n, timeout, secs=0.0):
    s = socket.create_connection((host, 5001), timeout=timeout)
    port = s.getsockname()[1]
    print(f"port={port}", flush=True)
    buf = b"\xa5" * CHUNK
    start = time.monotonic()
    left = n
    try:
        while left > 0:
            k = min(left, CHUNK)
            s.sendall(buf[:k])
            left -= k
            if secs:
                # Pace: the sender stays at (n - left) / n of secs.
                ahead = start + secs * (n - left) / n - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        s.shutdown(socket.SHUT_WR)
        while s.recv(CHUNK):
            pass
    except socket.timeout:
        print(f"timeout sent={n - left}", flush=True)
        os._exit(3)
    print(f"sent={n}", flush=True)


def fetch(host, n, timeout):
    s = socket.create_connection((host, 5002), timeout=timeout)
    print(f"port={s.getsockname()[1]}", flush=True)
    s.sendall(b"%d\n" % n)
    got = 0
    try:
        while True:
            b = s.recv(CHUNK)
            if not b:
                break
            got += len(b)
    except socket.timeout:
        print(f"timeout got={got}", flush=True)
        sys.exit(3)
    print(f"got={got}", flush=True)
    sys.exit(0 if got == n else 1)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2])
    elif cmd == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
             float(sys.argv[5]) if len(sys.argv) > 5 else 0.0)
    elif cmd == "fetch":
        fetch(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(__doc__)
