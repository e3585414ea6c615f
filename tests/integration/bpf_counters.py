#!/usr/bin/env python3
# bpf_counters.py — the accounting layer's own word, read with bpftool (a tool cellmux did not
# write): prints {"session/NAME" | "uplink/NAME": {rx_bytes, rx_packets, tx_bytes, tx_packets,
# rx_dropped, tx_dropped}} (dropped: packets a blocking quota dropped)
# as JSON, from the maps pinned in BPF_DIR (cmx_names: (kind, name) -> id; cmx_counters[id]).
import json, struct, subprocess, sys

KINDS = {1: "session", 2: "uplink"}


def bpftool(*args):
    out = subprocess.run(["bpftool", "-j", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def raw(entry, field):
    # bpftool prints bytes as "0x.." strings; with BTF it also adds "formatted", not relied on.
    return bytes(int(b, 16) for b in entry[field])


def main(pin_dir):
    res = {}
    for e in bpftool("map", "dump", "pinned", pin_dir + "/cmx_names"):
        k, v = raw(e, "key"), raw(e, "value")
        kind = struct.unpack_from("<I", k)[0]
        name = k[4:].split(b"\0", 1)[0].decode()
        ident = struct.unpack_from("<I", v)[0]
        key = ["0x%02x" % b for b in struct.pack("<I", ident)]
        c = raw(bpftool("map", "lookup", "pinned", pin_dir + "/cmx_counters", "key", "hex",
                        *[x[2:] for x in key]), "value")
        # struct acct_map_counters: rx {bytes, packets, drop_bytes, drop_packets}, tx {...}
        rxb, rxp, _, rxd, txb, txp, _, txd = struct.unpack_from("<8Q", c)
        res[f"{KINDS.get(kind, kind)}/{name}"] = {
            "rx_bytes": rxb, "rx_packets": rxp, "tx_bytes": txb, "tx_packets": txp,
            "rx_dropped": rxd, "tx_dropped": txd}
    json.dump(res, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bpf_counters.py BPF_DIR")
    main(sys.argv[1])
