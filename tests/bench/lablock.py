"""lablock.py — the sim lab's machine-wide lock for the Python benches (see tests/lablock.sh)."""
import fcntl
import os


def lab_lock():
    """Waits for any other suite to finish; returns the held file (None if an ancestor holds it)."""
    held = os.environ.get("CELLMUX_LAB_LOCKED", "")
    pid = os.getpid()
    while held and pid > 1:  # only an ancestor's lock counts
        if str(pid) == held:
            return None
        with open(f"/proc/{pid}/status") as st:
            pid = int(next(l for l in st if l.startswith("PPid:")).split()[1])
    os.makedirs("/run/lock", exist_ok=True)
    f = open("/run/lock/cellmux-lab.lock", "a")
    fcntl.flock(f, fcntl.LOCK_EX)
    os.environ["CELLMUX_LAB_LOCKED"] = str(os.getpid())
    return f
