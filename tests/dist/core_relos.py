#!/usr/bin/env python3
"""core_relos.py OBJ — the byte length of an eBPF object's CO-RE relocation records (the
core_relo section of .BTF.ext; 0 when it has none, or no .BTF.ext at all)."""
import struct
import subprocess
import sys

obj = sys.argv[1]
sections = subprocess.run(["readelf", "-S", "-W", obj], capture_output=True, text=True,
                          check=True).stdout
off = None
for line in sections.splitlines():
    if "] .BTF.ext " in line:
        off = int(line.split("]", 1)[1].split()[3], 16)
if off is None:
    print(0)
    sys.exit(0)
data = open(obj, "rb").read()
magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", data, off)
if magic != 0xEB9F:
    sys.exit(f"{obj}: .BTF.ext has magic {magic:#x}")
# btf_ext_header: func_info off/len, line_info off/len, then core_relo off/len (hdr_len >= 32)
fields = struct.unpack_from("<6I", data, off + 8) if hdr_len >= 32 else (0,) * 6
print(fields[5])
