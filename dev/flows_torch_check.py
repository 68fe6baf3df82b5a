#!/usr/bin/env python3
"""Loads an elbo flow or two-layer VAE checkpoint into the PyTorch model of
dev/make_flow_fixture.py (FlowVAE) with load_state_dict(strict=True) and
scores it on the first N MNIST test images (grey levels, as a model trained
with --binarize none reads them):

  /usr/bin/python3 dev/flows_torch_check.py runs/x/model.safetensors [--limit N] [--iw K]

Prints one JSON line: the mean one-sample -ELBO over S = 20 draws per image
(with its standard error), and the mean IW estimate of -log p(x) with K
samples, which tests/test_flows_cli.sh compares with `elbo eval --iw K`.
A missing, extra or misshapen tensor fails the strict load.
"""
import argparse, gzip, json, math, os, struct, sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_flow_fixture import FlowVAE  # noqa: E402
from make_fixture import load_safetensors  # noqa: E402  (a few lines; no safetensors package)

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist"))
p.add_argument("--limit", type=int, default=500)
p.add_argument("--iw", type=int, default=200)
args = p.parse_args()
torch.manual_seed(0)

state, meta = load_safetensors(args.model)
ints = lambda s: [int(v) for v in s.split(",")] if s else []  # noqa: E731
model = FlowVAE(int(meta["input_dim"]), ints(meta["hidden"]), int(meta["latent_dim"]), meta.get("activation", "relu"),
                flow=meta.get("flow", "none"), flow_len=int(meta.get("flow_len", 0)),
                flow_hidden=int(meta.get("flow_hidden", 0)), latent2=int(meta.get("latent2", 0)),
                hidden2=ints(meta.get("hidden2", "")))
model.load_elbo(state)
with gzip.open(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"), "rb") as f:
    buf = f.read()
x = torch.frombuffer(bytearray(buf[16:16 + args.limit * 784]), dtype=torch.uint8).reshape(-1, 784).float() / 255
N, Z, Z2, K, S = x.shape[0], model.Z, model.Z2, args.iw, 20
with torch.no_grad():
    xs = x.repeat_interleave(S, 0)
    lw = model(xs, torch.randn(N * S, Z), torch.randn(N * S, Z2) if Z2 else None)[5]
    per = -lw.view(N, S).mean(1)  # one-sample -ELBO, averaged over S draws, per image
    iw = []
    for i in range(N):
        xi = x[i:i + 1].expand(K, -1)
        w = model(xi, torch.randn(K, Z), torch.randn(K, Z2) if Z2 else None)[5]
        iw.append(-(torch.logsumexp(w, 0) - math.log(K)).item())
print(json.dumps({"n": N, "loss": per.mean().item(), "loss_se": (per.std() / math.sqrt(N)).item(),
                  "iw_k": K, "nll_iw": sum(iw) / N}))
