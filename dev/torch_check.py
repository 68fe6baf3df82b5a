#!/usr/bin/env python3
"""Loads an elbo checkpoint into the PyTorch reference model and evaluates it.

  /usr/bin/python3 dev/torch_check.py runs/vae/model.safetensors [--data data/mnist]

The model class below has the reference's layers and names (fc1, fc2_mu,
fc2_logvar, fc3, fc4); the checkpoint goes in through
load_state_dict(strict=True), so a missing, extra or misshapen tensor fails.
Prints the test-set loss as the reference computes it (summed BCE on the
sigmoid output + closed-form KL, one z sample per image, per example) and,
as a JSON line, the numbers tests/test_torch.sh compares with `elbo eval`.
The safetensors file is read with a few lines of Python (the safetensors
package is not needed).
"""
import argparse, gzip, json, os, struct, sys

import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist"))
p.add_argument("--seed", type=int, default=1)
args = p.parse_args()

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture import load_safetensors  # noqa: E402


class VAE(nn.Module):  # the reference's architecture and names
    def __init__(self, image_size=784, hidden_dim=400, latent_dim=20):
        super().__init__()
        self.fc1 = nn.Linear(image_size, hidden_dim)
        self.fc2_mu = nn.Linear(hidden_dim, latent_dim)
        self.fc2_logvar = nn.Linear(hidden_dim, latent_dim)
        self.fc3 = nn.Linear(latent_dim, hidden_dim)
        self.fc4 = nn.Linear(hidden_dim, image_size)

    def forward(self, x):
        h1 = torch.relu(self.fc1(x))
        mu, logvar = self.fc2_mu(h1), self.fc2_logvar(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(torch.relu(self.fc3(z)))), mu, logvar


state, meta = load_safetensors(args.model)
model = VAE(hidden_dim=state["fc1.weight"].shape[0], latent_dim=state["fc2_mu.weight"].shape[0])
model.load_state_dict(state, strict=True)
model.eval()

with gzip.open(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"), "rb") as f:
    raw = f.read()
magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
x = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).reshape(n, rows * cols).float().div(255)

torch.manual_seed(args.seed)
total = recon_t = kl_t = 0.0
with torch.no_grad():
    for i in range(0, n, 128):
        xb = x[i:i + 128]
        recon, mu, logvar = model(xb)
        bce = nn.functional.binary_cross_entropy(recon, xb, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        recon_t += bce.item()
        kl_t += kld.item()
print(f"loaded {args.model} into the reference model (strict); metadata: {meta}", file=sys.stderr)
print(json.dumps({"n": n, "loss": (recon_t + kl_t) / n, "recon": recon_t / n, "kl": kl_t / n}))
