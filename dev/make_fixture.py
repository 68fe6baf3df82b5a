#!/usr/bin/env python3
"""Writes the PyTorch fixtures that tests/test_fixture.c compares elbo with.

Run with Debian's python3-torch:   /usr/bin/python3 dev/make_fixture.py

For each case it builds the reference VAE's structure (nn.Linear layers named
as elbo names them: fc1, fc2_mu, fc2_logvar, fc3, fc4 for one hidden layer),
takes the first B MNIST training images from data/mnist, draws eps, and
records: the initial weights, the forward outputs, the loss terms, every
gradient, and the weights after 3 Adam steps (lr 1e-3) on the same batch and
eps. The loss is the reference's: summed binary_cross_entropy on the sigmoid
output plus the closed-form KL (or a unit-variance Gaussian NLL).
Files: tests/fixtures/vae_<case>.safetensors (float32, config in __metadata__).
"""
import gzip, json, math, os, struct

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CASES = [
    # name, hidden, latent, batch, likelihood, seed
    ("ref1", [32], 4, 8, "bernoulli", 0),
    ("deep", [24, 16], 3, 5, "bernoulli", 1),
    ("gauss", [16], 2, 6, "gaussian", 2),
]


def mnist_images(n):
    with gzip.open(os.path.join(ROOT, "data", "mnist", "train-images-idx3-ubyte.gz"), "rb") as f:
        buf = f.read(16 + n * 784)
    magic, count, rows, cols = struct.unpack(">IIII", buf[:16])
    assert magic == 0x803 and rows == 28 and cols == 28
    x = torch.frombuffer(bytearray(buf[16:]), dtype=torch.uint8).reshape(n, 784)
    return x.to(torch.float32).div(255)  # as torchvision's ToTensor


class VAE(nn.Module):
    def __init__(self, D, hidden, Z):
        super().__init__()
        L = len(hidden)
        self.names = []
        def add(name, i, o):
            setattr(self, name, nn.Linear(i, o))
            self.names.append(name)
        for i in range(L):
            add(f"fc{i+1}", D if i == 0 else hidden[i - 1], hidden[i])
        add(f"fc{L+1}_mu", hidden[-1], Z)
        add(f"fc{L+1}_logvar", hidden[-1], Z)
        for j in range(L):
            add(f"fc{L+2+j}", Z if j == 0 else hidden[L - j], hidden[L - 1 - j])
        add(f"fc{2*L+2}", hidden[0], D)
        self.L = L

    def forward(self, x, eps):
        L, h = self.L, x
        for i in range(L):
            h = F.relu(getattr(self, f"fc{i+1}")(h))
        mu, logvar = getattr(self, f"fc{L+1}_mu")(h), getattr(self, f"fc{L+1}_logvar")(h)
        z = mu + eps * torch.exp(0.5 * logvar)
        h = z
        for j in range(L):
            h = F.relu(getattr(self, f"fc{L+2+j}")(h))
        logits = getattr(self, f"fc{2*L+2}")(h)
        return mu, logvar, z, logits


def losses(x, mu, logvar, logits, likelihood):
    if likelihood == "bernoulli":
        recon = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum")
    else:
        recon = (0.5 * (x - logits) ** 2).sum() + x.numel() * 0.5 * math.log(2 * math.pi)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon, kl


DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16}


def load_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        t = torch.frombuffer(bytearray(buf[8 + n + a:8 + n + b]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out, meta


def save_safetensors(path, tensors, meta):
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make(name, hidden, Z, B, likelihood, seed):
    torch.manual_seed(seed)
    D = 784
    model = VAE(D, hidden, Z)
    x = mnist_images(B)
    eps = torch.randn(B, Z)
    out = {"x": x, "eps": eps}
    for n in model.names:
        l = getattr(model, n)
        out[f"init.{n}.weight"] = l.weight.detach().clone()
        out[f"init.{n}.bias"] = l.bias.detach().clone()
    mu, logvar, z, logits = model(x, eps)
    recon, kl = losses(x, mu, logvar, logits, likelihood)
    loss = recon + kl
    loss.backward()
    out.update({"out.mu": mu, "out.logvar": logvar, "out.z": z, "out.logits": logits,
                "loss": loss.reshape(1), "recon": recon.reshape(1), "kl": kl.reshape(1)})
    for n in model.names:
        l = getattr(model, n)
        out[f"grad.{n}.weight"] = l.weight.grad.clone()
        out[f"grad.{n}.bias"] = l.bias.grad.clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.zero_grad()
    step_losses = []
    for _ in range(3):
        opt.zero_grad()
        mu, logvar, z, logits = model(x, eps)
        r, k = losses(x, mu, logvar, logits, likelihood)
        (r + k).backward()
        step_losses.append((r + k).item())
        opt.step()
    out["adam.losses"] = torch.tensor(step_losses)
    for n in model.names:
        l = getattr(model, n)
        out[f"adam3.{n}.weight"] = l.weight.detach().clone()
        out[f"adam3.{n}.bias"] = l.bias.detach().clone()
    meta = {"hidden": ",".join(map(str, hidden)), "latent_dim": str(Z), "batch": str(B),
            "likelihood": likelihood, "torch_version": torch.__version__,
            "made_by": "dev/make_fixture.py"}
    path = os.path.join(ROOT, "tests", "fixtures", f"vae_{name}.safetensors")
    save_safetensors(path, out, meta)
    print(f"wrote {path}: loss {loss.item():.4f}")


if __name__ == "__main__":
    for c in CASES:
        make(*c)
