#!/usr/bin/env python3
# proxy_load.py — proxy_dante.sh's load: a target server and SOCKS5 clients (no auth) measuring
# one stream's throughput and new connections per second through a proxy. Prints figures only.
import multiprocessing, socket, struct, sys, threading, time

CHUNK = memoryview(b"\0" * (4 << 20))

def serve(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1024)
    print("ready", flush=True)

    def one(c):
        try:
            cmd = c.recv(16)
            if cmd.startswith(b"T"):  # T<bytes>: a stream of that many bytes
                left = int(cmd[1:])
                while left > 0:
                    n = c.send(CHUNK[:min(left, len(CHUNK))])
                    left -= n
            else:  # one byte, then close: a connection's cost alone
                c.sendall(b"x")
        except OSError:
            pass
        c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()

def via(proxy, port):
    s = socket.create_connection(("127.0.0.1", proxy))
    s.sendall(b"\x05\x01\x00")
    if s.recv(2) != b"\x05\x00":
        raise SystemExit("proxy refused the greeting")
    s.sendall(b"\x05\x01\x00\x01\x7f\x00\x00\x01" + struct.pack(">H", port))
    r = s.recv(10)
    if len(r) < 2 or r[1] != 0:
        raise SystemExit("proxy refused the connect: %r" % r)
    return s

def tput(proxy, port, total):
    s = via(proxy, port)
    buf = bytearray(1 << 20)
    t0 = time.monotonic()
    s.sendall(b"T%d" % total)
    got = 0
    while got < total:
        n = s.recv_into(buf)
        if not n:
            break
        got += n
    dt = time.monotonic() - t0
    if got != total:
        raise SystemExit("short stream: %d of %d" % (got, total))
    print("%.1f" % (total / dt / 1e6))  # MB/s

def conns(args):
    proxy, port, n = args
    for _ in range(n):
        s = via(proxy, port)
        s.sendall(b"C")
        if s.recv(1) != b"x":
            raise SystemExit("no byte back")
        s.close()

def cps(proxy, port, n, procs):
    t0 = time.monotonic()
    with multiprocessing.Pool(procs) as p:
        p.map(conns, [(proxy, port, n // procs)] * procs)
    print("%.0f" % ((n // procs) * procs / (time.monotonic() - t0)))

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "server":
        serve(int(sys.argv[2]))
    elif cmd == "tput":
        tput(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "cps":
        cps(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
