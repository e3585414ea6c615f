#!/usr/bin/env python3
"""static_scrape.py FILE — the floor under a /metrics scrape of a given size: serve FILE's bytes,
read once into memory, as an HTTP/1.1 response (Connection: close) to every GET on loopback, and
do nothing else. Prints "port N" when listening; on SIGTERM prints "served K cpu_us U" (user +
system time of this process for the K requests). loop_cost.sh scrapes it with the same curl loop
as cellmuxd: the CPU a scrape costs when the text is ready and only has to be sent, which no
exporter can go below for the same output."""
import os
import resource
import signal
import socket
import sys


def cpu_us():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e6)


def main():
    body = open(sys.argv[1], "rb").read()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    served = 0
    start = None

    def done(*_):
        print("served %d cpu_us %d" % (served, cpu_us() - (start or cpu_us())), flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, done)
    print("port %d" % srv.getsockname()[1], flush=True)
    while True:
        c, _ = srv.accept()
        if start is None:  # from the first request: start-up is not a scrape's cost
            start = cpu_us()
        req = b""
        while b"\r\n\r\n" not in req:
            chunk = c.recv(4096)
            if not chunk:
                break
            req += chunk
        if req.startswith(b"GET "):
            c.sendall(head + body)
            served += 1
        c.close()


if __name__ == "__main__":
    main()
