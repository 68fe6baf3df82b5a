#!/usr/bin/env python3
"""tensor_checksums.py — one line per tensor of a safetensors file: name,
dtype, shape and the SHA-256 of its bytes. The header's metadata is left out,
so two checkpoints whose tensors are bit-identical print the same lines even
when their metadata (run record, version) differ.

    python3 dev/tensor_checksums.py runs/x/model.safetensors
"""
import hashlib
import json
import struct
import sys


def checksums(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    for name in sorted(k for k in header if k != "__metadata__"):
        t = header[name]
        a, b = t["data_offsets"]
        digest = hashlib.sha256(data[a:b]).hexdigest()
        yield f"{name} {t['dtype']} {t['shape']} {digest}"


if __name__ == "__main__":
    for p in sys.argv[1:]:
        for line in checksums(p):
            print(line)
