#!/usr/bin/env python3
"""The planar-flow VAE of bench/flows_speed.sh in current PyTorch: the model
of dev/make_flow_fixture.py (FlowVAE: the same layers, names and equations
as elbo's --flow planar), float32, trained as elbo trains it: MNIST's 60,000
training images dynamically binarized (a fresh Bernoulli draw per use),
shuffled, batches of 100, Adam 1e-3, the one-sample -ELBO with the Monte
Carlo KL. Prints one line per epoch: epoch=E train_loss=L train_s=S.

  python bench/planar_torch.py DATA_DIR EPOCHS THREADS K [HIDDEN LATENT]
"""
import gzip, os, struct, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dev"))
from make_flow_fixture import FlowVAE  # noqa: E402

data, epochs, threads, K = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hidden = [int(h) for h in (sys.argv[5] if len(sys.argv) > 5 else "200,200").split(",")]
Z = int(sys.argv[6]) if len(sys.argv) > 6 else 50
torch.set_num_threads(threads)
torch.manual_seed(1)
with gzip.open(os.path.join(data, "train-images-idx3-ubyte.gz"), "rb") as f:
    buf = f.read()
n = struct.unpack(">IIII", buf[:16])[1]
X = torch.frombuffer(bytearray(buf[16:16 + n * 784]), dtype=torch.uint8).reshape(n, 784).float() / 255
model = FlowVAE(784, hidden, Z, "softplus", flow="planar", flow_len=K)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
B = 100
for e in range(1, epochs + 1):
    t0, tot = time.perf_counter(), 0.0
    perm = torch.randperm(n)
    for i in range(0, n, B):
        x = torch.bernoulli(X[perm[i:i + B]])
        eps = torch.randn(x.shape[0], Z)
        terms = model(x, eps)[4]
        loss = terms["recon"] + terms["kl"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item()
    print(f"epoch={e} train_loss={tot / n:.4f} train_s={time.perf_counter() - t0:.3f}", flush=True)
