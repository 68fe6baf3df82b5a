#!/usr/bin/env python3
"""Writes the PyTorch fixtures that tests/test_m2_fixture.c compares elbo's M2
(src/models/m2.c) with.

Run with Debian's python3-torch:   /usr/bin/python3 dev/make_m2_fixture.py

M2 (Kingma, Rezende, Mohamed and Welling 2014), written here from the
paper's equations, not from elbo's code:
  q(y|x)   = softmax(cls(x))                   cls: Linear, act, ..., Linear -> C
  q(z|x,y) = N(mu, exp(logvar)),  [mu, logvar] from enc([x, onehot(y)])
  p(x|y,z) = Bernoulli(sigmoid(dec([z, onehot(y)])))   (or a Gaussian with a
             learned log-variance per input)
  L(x,y)   = -log p(x|y,z) + KL(q(z|x,y) || N(0,I)) + log C,  z = mu + exp(logvar/2) eps[row, y]
  labelled row:   L(x,y) + alpha * (-log q(y|x))
  unlabelled row: U(x) = sum_y q(y|x) L(x,y) - H(q(.|x))
The batch: the first B MNIST training images, the even rows labelled; eps
[B, C, Z] fixed. Recorded: the initial parameters, the logits, the loss
terms (sums over the batch: loss, labelled, unlabelled, class, error), every
gradient, and the parameters after 3 Adam steps (lr 1e-3, same batch, same eps).
Files: tests/fixtures/m2_<case>.safetensors (float32, config in __metadata__).
"""
import math, os, sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture import ROOT, save_safetensors  # noqa: E402
from make_bnn_fixture import mnist  # noqa: E402

CASES = [
    # name, hidden, latent, batch, alpha, activation, likelihood, seed
    ("one", [16], 4, 6, 0.5, "softplus", "bernoulli", 0),
    ("two", [12, 8], 3, 5, 2.0, "tanh", "gaussian", 1),
]
C = 10
ACT = {"softplus": F.softplus, "tanh": torch.tanh, "relu": F.relu}


class M2(nn.Module):
    def __init__(self, D, hidden, Z, act, gaussian):
        super().__init__()
        L, h = len(hidden), hidden
        self.act, self.L = ACT[act], L
        self.layers = []

        def add(name, i, o):
            setattr(self, name.replace(".", "_"), nn.Linear(i, o))
            self.layers.append(name)

        for k in range(L):
            add(f"cls.fc{k + 1}", h[k - 1] if k else D, h[k])
        add("cls.out", h[L - 1], C)
        for k in range(L):
            add(f"enc.fc{k + 1}", h[k - 1] if k else D + C, h[k])
        add("enc.mu", h[L - 1], Z)
        add("enc.logvar", h[L - 1], Z)
        for k in range(L):
            add(f"dec.fc{k + 1}", h[L - k] if k else Z + C, h[L - 1 - k])
        add("dec.out", h[0], D)
        self.logvar = nn.Parameter(torch.zeros(D)) if gaussian else None

    def lin(self, name):
        return getattr(self, name.replace(".", "_"))

    def stack(self, prefix, h, n, last_linear):
        for k in range(n):
            h = self.lin(f"{prefix}{k + 1}")(h)
            if k + 1 < n or not last_linear:
                h = self.act(h)
        return h

    def logits(self, x):
        return self.lin("cls.out")(self.stack("cls.fc", x, self.L, False))

    def bound(self, x, y, eps):
        """L(x, y) per row for classes y [B] and noise eps [B, Z]."""
        oh = F.one_hot(y, C).to(x.dtype)
        h = self.stack("enc.fc", torch.cat([x, oh], 1), self.L, False)
        mu, lv = self.lin("enc.mu")(h), self.lin("enc.logvar")(h)
        z = mu + torch.exp(0.5 * lv) * eps
        out = self.lin("dec.out")(self.stack("dec.fc", torch.cat([z, oh], 1), self.L, False))
        if self.logvar is None:
            rec = F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
        else:
            rec = 0.5 * ((x - out) ** 2 * torch.exp(-self.logvar) + self.logvar + math.log(2 * math.pi)).sum(1)
        kl = -0.5 * (1 + lv - mu * mu - lv.exp()).sum(1)
        return rec + kl + math.log(C)

    def terms(self, x, y, lab, eps, alpha):
        logits = self.logits(x)
        q = F.softmax(logits, 1)
        ce = F.cross_entropy(logits, y, reduction="none")
        lab_b = self.bound(x[lab], y[lab], eps[lab, y[lab]])
        xu, nu = x[~lab], int((~lab).sum())
        allk = torch.arange(C).repeat(nu)
        lk = self.bound(xu.repeat_interleave(C, 0), allk, eps[~lab].reshape(nu * C, -1)).reshape(nu, C)
        qu = q[~lab]
        u = (qu * lk).sum(1) + (qu * torch.log(qu)).sum(1)
        err = (logits.argmax(1) != y)[lab].sum().to(x.dtype)
        loss = lab_b.sum() + alpha * ce[lab].sum() + u.sum()
        return logits, loss, lab_b.sum(), u.sum(), ce[lab].sum(), err


def snapshot(out, model, prefix, grad=False):
    for n in model.layers:
        lin = model.lin(n)
        out[f"{prefix}.{n}.weight"] = (lin.weight.grad if grad else lin.weight).detach().clone()
        out[f"{prefix}.{n}.bias"] = (lin.bias.grad if grad else lin.bias).detach().clone()
    if model.logvar is not None:
        out[f"{prefix}.dec.out.logvar"] = (model.logvar.grad if grad else model.logvar).detach().clone()


def make(name, hidden, Z, B, alpha, act, lik, seed):
    torch.manual_seed(seed)
    model = M2(784, hidden, Z, act, lik == "gaussian")
    x, y = mnist(B)
    lab = torch.arange(B) % 2 == 0
    eps = torch.randn(B, C, Z)
    # computed in float64 from the float32 initial values: a reference whose
    # own rounding is negligible (each bound is ~1700 nats summed over 784
    # pixels, and the unlabelled rows' classifier gradient q_k (L_k - U)
    # lives on the differences of such sums)
    model, x, eps = model.double(), x.double(), eps.double()
    out = {"x": x, "y": y.to(torch.float32), "labelled": lab.to(torch.float32), "eps": eps}
    snapshot(out, model, "init")
    logits, loss, lb, u, ce, err = model.terms(x, y, lab, eps, alpha)
    loss.backward()
    out.update({"out.logits": logits, "loss": loss.reshape(1), "labelled_sum": lb.reshape(1),
                "unlabelled_sum": u.reshape(1), "class_sum": ce.reshape(1), "error_sum": err.reshape(1)})
    snapshot(out, model, "grad", grad=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        step = model.terms(x, y, lab, eps, alpha)[1]
        step.backward()
        losses.append(step.item())
        opt.step()
    out["adam.losses"] = torch.tensor(losses)
    snapshot(out, model, "adam3")
    meta = {"hidden": ",".join(map(str, hidden)), "latent": str(Z), "batch": str(B), "alpha": repr(alpha),
            "activation": act, "likelihood": lik, "torch_version": torch.__version__,
            "made_by": "dev/make_m2_fixture.py"}
    path = os.path.join(ROOT, "tests", "fixtures", f"m2_{name}.safetensors")
    save_safetensors(path, out, meta)
    print(f"wrote {path}: loss {loss.item():.4f} (labelled {lb.item():.4f}, unlabelled {u.item():.4f}, "
          f"class {ce.item():.4f})")


if __name__ == "__main__":
    for c in CASES:
        make(*c)
