#!/usr/bin/python3
"""cgroup2_opts.py — the cgroup2 superblock's options, read and written as the kernel has them.

  cgroup2_opts.py get             prints them without rw/ro ("nsdelegate,favordynmods", or "")
  cgroup2_opts.py mount           prints the mount point's own options ("rw,nosuid,...")
  cgroup2_opts.py set OPT[,OPT]   makes them exactly OPT... ("" clears every one)

Written through fspick(2)/fsconfig(2), which reconfigure the superblock alone: a legacy
`mount -o remount` would also reset the mount's nosuid/nodev/noexec. Tests and benches that
change the options save them first and put them back in their cleanup."""
import ctypes
import os
import sys

SYS_FSCONFIG, SYS_FSPICK = 431, 433  # the same on x86_64 and the generic table (arm64)
FSPICK_CLOEXEC = 1
FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING, FSCONFIG_CMD_RECONFIGURE = 0, 1, 7


def line():
    for l in open("/proc/self/mountinfo"):
        pre, _, post = l.partition(" - ")
        f = post.split()
        if f and f[0] == "cgroup2":
            return pre.split(), f
    sys.exit("no cgroup2 mount")


def get():
    _, f = line()
    return ",".join(o for o in f[2].split(",") if o not in ("rw", "ro"))


def set_opts(opts):
    libc = ctypes.CDLL(None, use_errno=True)
    pre, _ = line()
    fd = libc.syscall(SYS_FSPICK, -100, pre[4].encode(), FSPICK_CLOEXEC)
    if fd < 0:
        sys.exit("fspick: " + os.strerror(ctypes.get_errno()))
    for o in filter(None, opts.split(",")):
        k, eq, v = o.partition("=")
        r = (libc.syscall(SYS_FSCONFIG, fd, FSCONFIG_SET_STRING, k.encode(), v.encode(), 0)
             if eq else libc.syscall(SYS_FSCONFIG, fd, FSCONFIG_SET_FLAG, k.encode(), None, 0))
        if r < 0:
            sys.exit("fsconfig %s: %s" % (o, os.strerror(ctypes.get_errno())))
    if libc.syscall(SYS_FSCONFIG, fd, FSCONFIG_CMD_RECONFIGURE, None, None, 0) < 0:
        sys.exit("reconfigure: " + os.strerror(ctypes.get_errno()))
    os.close(fd)


if __name__ == "__main__":
    if sys.argv[1:2] == ["get"]:
        print(get())
    elif sys.argv[1:2] == ["mount"]:
        print(line()[0][5])
    elif sys.argv[1:2] == ["set"] and len(sys.argv) == 3:
        set_opts(sys.argv[2])
    else:
        sys.exit(__doc__)
