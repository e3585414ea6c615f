#!/usr/bin/env python3
# socks_client.py — a SOCKS5 / raw client for test_proxy.sh: each subcommand prints one result
# line the test compares, so what a refusal looks like on the wire is what gets checked.
import resource, socket, struct, sys, time

def greet(s, methods):
    s.sendall(bytes([5, len(methods)] + methods))
    return s.recv(2)

def auth(s, user, pw):
    u, p = user.encode(), pw.encode()
    s.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    return s.recv(2)

def request(s, cmd, host, port):
    h = host.encode()
    s.sendall(bytes([5, cmd, 0, 3, len(h)]) + h + struct.pack(">H", port))
    r = s.recv(262)
    return r[1] if len(r) >= 2 else -1

def connect(proxy, user, pw, host, port):
    s = socket.create_connection(proxy, timeout=10)
    if greet(s, [2]) != b"\x05\x02":
        raise SystemExit("no userpass method")
    if auth(s, user, pw) != b"\x01\x00":
        raise SystemExit("auth refused")
    rep = request(s, 1, host, port)
    if rep != 0:
        raise SystemExit("connect refused: rep=%d" % rep)
    return s

def eof_within(s, seconds):
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

def main():
    cmd, proxy = sys.argv[1], ("127.0.0.1", int(sys.argv[2]))
    a = sys.argv[3:]
    if cmd == "upload":  # user pw host port bytes [rate]: sends, prints "sent N"
        s = connect(proxy, a[0], a[1], a[2], int(a[3]))
        total, rate = int(a[4]), int(a[5]) if len(a) > 5 else 0
        chunk, sent, t0 = b"x" * 65536, 0, time.monotonic()
        try:
            while sent < total:
                n = min(len(chunk), total - sent)
                s.sendall(chunk[:n])
                sent += n
                if rate:
                    ahead = sent / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(30)
            s.recv(1)  # the sink closes after our EOF: half-close passed on
        except OSError as e:
            print("broken after %d: %s" % (sent, e))
            return
        print("sent %d" % sent)
    elif cmd == "udpdns":  # user pw resolver name: an A query through UDP ASSOCIATE
        s = socket.create_connection(proxy, timeout=10)
        greet(s, [2])
        if auth(s, a[0], a[1]) != b"\x01\x00":
            raise SystemExit("auth refused")
        s.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
        r = s.recv(10)
        if len(r) != 10 or r[1] != 0:
            print("associate refused: %r" % r)
            return
        relay = (socket.inet_ntoa(r[4:8]), struct.unpack(">H", r[8:10])[0])
        qname = b"".join(bytes([len(l)]) + l for l in a[3].encode().split(b".")) + b"\0"
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + qname + b"\x00\x01\x00\x01"
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(5)
        hdr = b"\x00\x00\x00\x01" + socket.inet_aton(a[2]) + struct.pack(">H", 53)
        for _ in range(3):  # UDP: a lost datagram is retried, as a resolver would
            u.sendto(hdr + query, relay)
            try:
                d, _ = u.recvfrom(4096)
                break
            except socket.timeout:
                d = b""
        if len(d) < 10 or d[3] != 1 or d[4:8] != socket.inet_aton(a[2]):
            print("bad relay reply %r" % d[:10])
            return
        d = d[10:]
        # the answer's last 4 bytes are its A record's address (one answer, no extras)
        ancount = struct.unpack(">H", d[6:8])[0]
        print("answer=%s" % (socket.inet_ntoa(d[-4:]) if ancount else "none"))
    elif cmd == "wrongpass":  # user pw: prints the RFC 1929 status and whether EOF follows
        s = socket.create_connection(proxy, timeout=10)
        greet(s, [2])
        r = auth(s, a[0], a[1])
        print("status=%d eof=%s" % (r[1] if len(r) == 2 else -1, eof_within(s, 5)))
    elif cmd == "noauth":  # offers only "no authentication"
        s = socket.create_connection(proxy, timeout=10)
        r = greet(s, [0])
        print("method=%#x eof=%s" % (r[1] if len(r) == 2 else -1, eof_within(s, 5)))
    elif cmd == "command":  # user pw CMD: the reply code to BIND (2) or UDP ASSOCIATE (3)
        s = socket.create_connection(proxy, timeout=10)
        greet(s, [2])
        auth(s, a[0], a[1])
        print("rep=%d" % request(s, int(a[2]), "198.18.0.1", 80))
    elif cmd == "truncated":  # a greeting announcing 5 methods, sending 2, then EOF on our side
        s = socket.create_connection(proxy, timeout=10)
        s.sendall(b"\x05\x05\x00\x02")
        s.shutdown(socket.SHUT_WR)
        print("eof=%s" % eof_within(s, 5))
    elif cmd == "oversized":  # an HTTP head that never ends: 64 KiB without an empty line
        s = socket.create_connection(proxy, timeout=10)
        s.sendall(b"GET http://198.18.0.1/ip HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(64):
                s.sendall(b"X-Pad: " + b"a" * 1014 + b"\r\n")
        except OSError:
            pass
        s.settimeout(5)
        try:
            line = s.recv(200).split(b"\r\n")[0].decode()
        except OSError as e:
            line = "error " + str(e)
        print("reply=%s" % line)
    elif cmd == "stall":  # half a greeting, then nothing: prints whether the proxy hangs up
        s = socket.create_connection(proxy, timeout=10)
        s.sendall(b"\x05")
        print("eof=%s" % eof_within(s, float(a[0])))
    elif cmd == "idle":  # N connections that send nothing, held until stdin closes
        n = int(a[0])
        resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
        conns = [socket.create_connection(proxy, timeout=10) for _ in range(n)]
        print("open %d" % len(conns), flush=True)
        sys.stdin.read()
    else:
        raise SystemExit("unknown command " + cmd)

main()
