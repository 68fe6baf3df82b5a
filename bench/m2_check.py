#!/usr/bin/env python3
"""An independent check of bench/m2_protocol.sh's test accuracies: the
classifier q(y|x) of each M2 checkpoint (cls.fc1 -> softplus -> cls.out, read
from the safetensors file by PyTorch's names) applied in numpy, in float64, to
MNIST's 10,000 test images (grey levels x/255), scored against their labels.
It shares no code with elbo. For M2 on pixels (not M1+M2, whose inputs are an
M1's latent means) and the softplus activation, the defaults.

usage: python3 bench/m2_check.py RUN/best.safetensors... [--data data/mnist]
"""
import gzip, json, struct, sys

import numpy as np


def safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (path, k, v["dtype"])
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], np.float32).reshape(v["shape"])
    act = head.get("__metadata__", {}).get("activation", "softplus")
    assert act == "softplus", (path, "activation", act)
    return out


def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b[4 + 4 * nd:], np.uint8).reshape(dims)


def main(argv):
    data = "data/mnist"
    if "--data" in argv:
        i = argv.index("--data")
        data = argv[i + 1]
        del argv[i:i + 2]
    x = idx(f"{data}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float64) / 255
    y = idx(f"{data}/t10k-labels-idx1-ubyte.gz")
    for p in argv:
        w = safetensors(p)
        assert "cls.fc2.weight" not in w, (p, "one hidden layer only")
        h = np.logaddexp(0, x @ w["cls.fc1.weight"].T.astype(np.float64) + w["cls.fc1.bias"])
        logits = h @ w["cls.out.weight"].T.astype(np.float64) + w["cls.out.bias"]
        print(f"{p}: test accuracy {100 * (logits.argmax(1) == y).mean():.2f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
