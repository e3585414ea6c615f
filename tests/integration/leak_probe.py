#!/usr/bin/env python3
"""leak_probe.py — for the kill-switch and injection tests: sends one TCP SYN (a connect), one
UDP datagram and one ICMP echo to an IPv4 and an IPv6 destination, each independent of the
others, or crafts packets from a spoofed source (inject). Never fails on refusals: what arrived
is counted by the receiving side.

  leak_probe.py send V4ADDR V6ADDR PORT
  leak_probe.py inject SRC DST SPORT DPORT   # a TCP SYN/ACK and a UDP datagram, IPv4, raw
"""
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def attempt(what, fn):
    try:
        fn()
        print(f"{what}: sent")
    except OSError as e:
        print(f"{what}: {e.strerror or e}")


def tcp(family, addr, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect((addr, port))
    except socket.timeout:
        pass
    finally:
        s.close()


def udp(family, addr, port):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.sendto(b"cellmux-leak-probe", (addr, port))
    s.close()


def icmp4(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4358, 1) + b"cellmux"
    s.sendto(hdr[:2] + struct.pack("!H", csum(hdr)) + hdr[4:], (addr, 0))
    s.close()


def icmp6(addr):
    # The kernel fills in the ICMPv6 checksum of raw IPPROTO_ICMPV6 sockets.
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x4358, 1) + b"cellmux", (addr, 0))
    s.close()


def send(v4, v6, port):
    attempt("tcp4", lambda: tcp(socket.AF_INET, v4, port))
    attempt("udp4", lambda: udp(socket.AF_INET, v4, port))
    attempt("icmp4", lambda: icmp4(v4))
    attempt("tcp6", lambda: tcp(socket.AF_INET6, v6, port))
    attempt("udp6", lambda: udp(socket.AF_INET6, v6, port))
    attempt("icmp6", lambda: icmp6(v6))


def inject(src, dst, sport, dport):
    s4, d4 = socket.inet_aton(src), socket.inet_aton(dst)

    def l4(proto, seg):
        pseudo = s4 + d4 + struct.pack("!BBH", 0, proto, len(seg))
        return csum(pseudo + seg)

    # SYN/ACK (flags 0x12) for a connection nobody on DST opened.
    tcph = struct.pack("!HHIIBBHHH", sport, dport, 0x01020304, 0x05060708, 5 << 4, 0x12, 64240,
                       0, 0)
    tcph = tcph[:16] + struct.pack("!H", l4(socket.IPPROTO_TCP, tcph)) + tcph[18:]
    udph = struct.pack("!HHHH", sport, dport + 1, 8 + 7, 0) + b"cellmux"
    udph = udph[:6] + struct.pack("!H", l4(socket.IPPROTO_UDP, udph)) + udph[8:]
    for name, proto, seg in (("syn-ack", socket.IPPROTO_TCP, tcph),
                             ("udp", socket.IPPROTO_UDP, udph)):
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0x4358, 0, 64, proto, 0,
                          s4, d4)
        iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        attempt(name, lambda: s.sendto(iph + seg, (dst, 0)))
        s.close()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 6 and sys.argv[1] == "inject":
        inject(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)
