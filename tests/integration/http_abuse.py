#!/usr/bin/env python3
"""http_abuse.py — hostile HTTP clients for test_metrics.sh, against a loopback listener only:
many concurrent connections, slow (slowloris) clients, malformed requests, huge headers.
Every mode is bounded in connections and time, and prints one JSON object for the test to judge.

  concurrent N PATH...  N connections opened at once, then N requests (paths in turn), all
                        read to the end: counts by status, the slowest answer
  slow N SECONDS        N connections trickling a header byte per second: when the server
                        closed each (or that it did not within SECONDS)
  idle N SECONDS        N connections that send nothing: the same
  malformed SECONDS     one connection per bad request: the status line or "closed", or
                        "hung" if neither came within SECONDS
"""
import asyncio
import json
import sys
import time

HOST = "127.0.0.1"

BAD_REQUESTS = {
    "binary-garbage": b"\x00\x01\x02\xff garbage\r\n\r\n",
    "unknown-method": b"BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    "no-version": b"GET /metrics\r\n\r\n",
    "bad-version": b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n",
    "lf-only": b"GET /metrics HTTP/1.1\nHost: x\n\n",
    "space-in-uri": b"GET /met rics HTTP/1.1\r\nHost: x\r\n\r\n",
    "no-uri": b"GET  HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute-uri": b"GET http://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    "header-without-colon": b"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",
    "uri-64k": b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "header-64k": b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 65536 + b"\r\n\r\n",
    "5000-headers": b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
    "negative-length": b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "huge-length": b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
    b"Content-Length: 99999999999999999999\r\n\r\n",
    "bad-chunked": b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n\r\n",
    "nul-in-header": b"GET /metrics HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
}


async def read_all(reader, limit_s):
    """Everything until the peer closes; None if it did not within limit_s."""
    try:
        return await asyncio.wait_for(reader.read(), limit_s)
    except asyncio.TimeoutError:
        return None
    except ConnectionError:
        return b""


def status_of(data):
    if data is None:
        return "hung"
    if not data:
        return "closed"
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return parts[1] if len(parts) > 1 and line.startswith("HTTP/") else "garbage:" + line[:40]


async def concurrent(port, n, paths):
    t0 = time.monotonic()
    conns = await asyncio.gather(*(asyncio.open_connection(HOST, port) for _ in range(n)),
                                 return_exceptions=True)
    opened = [c for c in conns if not isinstance(c, BaseException)]

    async def one(i, rw):
        r, w = rw
        path = paths[i % len(paths)]
        w.write(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        await w.drain()
        data = await read_all(r, 30)
        w.close()
        return status_of(data), time.monotonic() - t0

    results = await asyncio.gather(*(one(i, c) for i, c in enumerate(opened)),
                                   return_exceptions=True)
    by_status = {}
    slowest = 0.0
    for res in results:
        key = "error" if isinstance(res, BaseException) else res[0]
        by_status[key] = by_status.get(key, 0) + 1
        if not isinstance(res, BaseException):
            slowest = max(slowest, res[1])
    return {"connected": len(opened), "connect_failed": n - len(opened),
            "by_status": by_status, "slowest_s": round(slowest, 3)}


async def hold(port, n, seconds, trickle):
    """n connections; each trickles a request a byte a second (or sends nothing)."""
    payload = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200

    async def one():
        r, w = await asyncio.open_connection(HOST, port)
        t0 = time.monotonic()
        for i in range(int(seconds)):
            if trickle:
                try:
                    w.write(payload[i:i + 1])
                    await w.drain()
                except ConnectionError:
                    return time.monotonic() - t0
            try:
                data = await asyncio.wait_for(r.read(1), 1.0)
                if not data:
                    return time.monotonic() - t0
            except asyncio.TimeoutError:
                pass
            except ConnectionError:
                return time.monotonic() - t0
        w.close()
        return None

    results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    closed = [r for r in results if isinstance(r, float)]
    return {"connections": n, "closed_by_server": len(closed),
            "still_open": sum(1 for r in results if r is None),
            "errors": sum(1 for r in results if isinstance(r, BaseException)),
            "slowest_close_s": round(max(closed), 2) if closed else None}


async def malformed(port, seconds):
    async def one(name, data):
        r, w = await asyncio.open_connection(HOST, port)
        try:
            w.write(data)
            await w.drain()
        except ConnectionError:
            pass
        out = await read_all(r, seconds)
        w.close()
        return name, status_of(out)

    return dict(await asyncio.gather(*(one(k, v) for k, v in BAD_REQUESTS.items())))


def main(argv):
    port, mode, args = int(argv[1]), argv[2], argv[3:]
    if mode == "concurrent":
        res = concurrent(port, int(args[0]), args[1:] or ["/metrics"])
    elif mode in ("slow", "idle"):
        res = hold(port, int(args[0]), float(args[1]), mode == "slow")
    elif mode == "malformed":
        res = malformed(port, float(args[0]))
    else:
        sys.exit(__doc__)
    print(json.dumps(asyncio.run(res), sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
