#!/usr/bin/env python3
"""Writes the PyTorch fixtures that tests/test_bnn_fixture.c compares elbo's
Bayesian classifier (src/models/bnn.c) with.

Run with Debian's python3-torch:   /usr/bin/python3 dev/make_bnn_fixture.py

Each case builds a Bayes-by-Backprop MLP with the local reparameterisation
trick, written here from the equations (Blundell et al. 2015; Kingma,
Salimans and Welling 2015), not from elbo's code:
  sigma = softplus(rho)
  mean  = x @ W_mu^T + b_mu,  var = x^2 @ (sigma_W^2)^T + sigma_b^2
  out   = mean + sqrt(var) * eps             (ReLU between layers)
  loss  = sum cross_entropy(logits, y) + kl_scale * KL(q || N(0, prior^2))
with the closed-form KL summed over every weight and bias. It takes the
first B MNIST training images and labels, draws rho around -3 (so that the
variance path matters), draws eps per layer, and records: the initial
parameters, the logits, the loss terms, every gradient, and the parameters
after 3 Adam steps (lr 1e-3) on the same batch and eps.
Files: tests/fixtures/bnn_<case>.safetensors (float32, config in __metadata__).
"""
import gzip, math, os, sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture import ROOT, mnist_images, save_safetensors  # noqa: E402
CASES = [
    # name, hidden, batch, prior_sigma, kl_scale, seed
    ("one", [16], 6, 0.1, 1.0, 0),
    ("two", [12, 8], 5, 0.5, 0.25, 1),
]


def mnist(n):
    """The first n training images (as make_fixture.py reads them) and labels."""
    with gzip.open(os.path.join(ROOT, "data", "mnist", "train-labels-idx1-ubyte.gz"), "rb") as f:
        lab = f.read(8 + n)
    y = torch.frombuffer(bytearray(lab[8:]), dtype=torch.uint8).to(torch.int64)
    return mnist_images(n), y


class BayesLinear(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        base = nn.Linear(i, o)  # PyTorch's initialisation for the means
        self.weight_mu = nn.Parameter(base.weight.detach().clone())
        self.bias_mu = nn.Parameter(base.bias.detach().clone())
        self.weight_rho = nn.Parameter(-3.0 + 0.5 * torch.randn(o, i))
        self.bias_rho = nn.Parameter(-3.0 + 0.5 * torch.randn(o))

    def forward(self, x, eps):
        sw, sb = F.softplus(self.weight_rho), F.softplus(self.bias_rho)
        mean = F.linear(x, self.weight_mu, self.bias_mu)
        var = F.linear(x * x, sw * sw, sb * sb)
        return mean + var.sqrt() * eps

    def kl(self, prior):
        total = 0.0
        for mu, rho in ((self.weight_mu, self.weight_rho), (self.bias_mu, self.bias_rho)):
            s = F.softplus(rho)
            total = total + (math.log(prior) - torch.log(s) + (s * s + mu * mu) / (2 * prior ** 2) - 0.5).sum()
        return total


class BNN(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.names = [f"fc{k + 1}" for k in range(len(widths) - 1)]
        for k, n in enumerate(self.names):
            setattr(self, n, BayesLinear(widths[k], widths[k + 1]))

    def forward(self, x, eps):
        h = x
        for k, n in enumerate(self.names):
            h = getattr(self, n)(h, eps[k])
            if k + 1 < len(self.names):
                h = F.relu(h)
        return h

    def kl(self, prior):
        return sum(getattr(self, n).kl(prior) for n in self.names)


PARTS = ("weight_mu", "weight_rho", "bias_mu", "bias_rho")


def snapshot(out, model, prefix, grad=False):
    for n in model.names:
        for p in PARTS:
            t = getattr(getattr(model, n), p)
            out[f"{prefix}.{n}.{p}"] = (t.grad if grad else t).detach().clone()


def make(name, hidden, B, prior, kl_scale, seed):
    torch.manual_seed(seed)
    widths = [784] + hidden + [10]
    model = BNN(widths)
    x, y = mnist(B)
    eps = [torch.randn(B, o) for o in widths[1:]]
    out = {"x": x, "y": y.to(torch.float32)}
    for k, e in enumerate(eps):
        out[f"eps{k + 1}"] = e
    snapshot(out, model, "init")

    def loss_terms():
        logits = model(x, eps)
        nll = F.cross_entropy(logits, y, reduction="sum")
        kl = model.kl(prior)
        return logits, nll, kl

    logits, nll, kl = loss_terms()
    loss = nll + kl_scale * kl
    loss.backward()
    out.update({"out.logits": logits, "nll": nll.reshape(1), "kl": kl.reshape(1),
                "loss": loss.reshape(1)})
    snapshot(out, model, "grad", grad=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        _, nll, kl = loss_terms()
        (nll + kl_scale * kl).backward()
        losses.append((nll + kl_scale * kl).item())
        opt.step()
    out["adam.losses"] = torch.tensor(losses)
    snapshot(out, model, "adam3")
    meta = {"hidden": ",".join(map(str, hidden)), "batch": str(B), "prior_sigma": repr(prior),
            "kl_scale": repr(kl_scale), "torch_version": torch.__version__,
            "made_by": "dev/make_bnn_fixture.py"}
    path = os.path.join(ROOT, "tests", "fixtures", f"bnn_{name}.safetensors")
    save_safetensors(path, out, meta)
    print(f"wrote {path}: loss {out['loss'].item():.4f} (nll {out['nll'].item():.4f}, "
          f"kl {out['kl'].item():.4f})")


if __name__ == "__main__":
    for c in CASES:
        make(*c)
