#!/usr/bin/env python3
"""Writes the PyTorch fixtures that tests/test_fixture.c compares elbo's flow
and two-layer VAEs with (the same checks as the plain VAE's fixtures).

Run with Debian's python3-torch:   /usr/bin/python3 dev/make_flow_fixture.py

The model is written here from the papers' equations, not from elbo's code:
  q0(z|x) = N(mu, exp(logvar)),  z0 = mu + exp(logvar/2) eps
  planar (Rezende and Mohamed 2015), K layers, parameters from the encoder
      (fc{L+1}_flow: per layer u [Z], w [Z], b, in that order):
      u^ = u + (m(w.u) - w.u) w / |w|^2,  m(a) = -1 + softplus(a)
      f(z) = z + u^ tanh(w.z + b),  log|det J| = log|1 + u^ . (1 - tanh^2) w|
  IAF (Kingma et al. 2016), T steps, context c = fc{L+1}_ctx(h):
      [m, s] = MADE_t([z, c]) (iaf{t}.made_in, then iaf{t}.made_out, masked)
      sigma = sigmoid(s),  z <- sigma z + (1 - sigma) m,  log|det J| = sum log sigma
      MADE degrees: input j has order j+1 (steps t = 2, 4, ...: Z - j), hidden
      unit k degree 1 + k mod (Z-1); made_in sees order <= degree (and all of
      c), made_out's m_j and s_j see degree < order(j)
  KL = log q0(z0) - sum log|det J| - log p(z_K)  (one sample)
  two layers (Burda et al. 2015): q(z2|z1) = N(q2_mu, exp(q2_logvar)) from
      q2_fc*(z1), p(z1|z2) = N(p1_mu, exp(p1_logvar)) from p1_fc*(z2):
      kl_z1 = log q(z1|x) - log p(z1|z2)  (one sample), kl_z2 = KL(q(z2|z1) || N(0, I))
  p(x|z) = Bernoulli(sigmoid(logits)), recon = summed BCE
The batch: the first B MNIST training images (grey levels). Computed in
float64 (so the reference carries no float32 rounding of its own) and saved
as float32: initial parameters, outputs, loss terms, every gradient, and the
parameters after 3 Adam steps (lr 1e-3) on the same batch and noise.
Files: tests/fixtures/vae_<case>.safetensors.
"""
import os, sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture import ROOT, mnist_images, save_safetensors  # noqa: E402

CASES = [
    # name, hidden, latent, batch, activation, extra config, seed
    ("planar", [16], 3, 6, "tanh", {"flow": "planar", "flow_len": 3}, 3),
    ("iaf", [12], 4, 5, "softplus", {"flow": "iaf", "flow_len": 2, "flow_hidden": 6}, 4),
    ("hier", [16], 4, 6, "relu", {"latent2": 3, "hidden2": [5, 6]}, 5),
]
ACT = {"softplus": F.softplus, "tanh": torch.tanh, "relu": F.relu}


def made_masks(Z, C, H, reverse):
    order = [Z - j if reverse else j + 1 for j in range(Z)]
    deg = [1 + k % (Z - 1) if Z > 1 else 1 for k in range(H)]
    m_in = torch.zeros(H, Z + C)
    m_out = torch.zeros(2 * Z, H)
    for k in range(H):
        for j in range(Z):
            m_in[k, j] = float(deg[k] >= order[j])
            m_out[j, k] = m_out[Z + j, k] = float(order[j] > deg[k])
        m_in[k, Z:] = 1.0
    return m_in, m_out


class FlowVAE(nn.Module):
    """elbo's VAE with a flow or a second stochastic layer, its tensors named
    as elbo's checkpoints name them (load_state_dict(strict=True) works)."""

    def __init__(self, D, hidden, Z, act, flow="none", flow_len=0, flow_hidden=0, latent2=0, hidden2=()):
        super().__init__()
        L = len(hidden)
        self.L, self.Z, self.act, self.flow, self.K = L, Z, ACT[act], flow, flow_len
        self.H, self.Z2, self.L2 = flow_hidden, latent2, len(hidden2)
        lin = lambda i, o: nn.Linear(i, o)  # noqa: E731
        for i in range(L):
            setattr(self, f"fc{i+1}", lin(D if i == 0 else hidden[i - 1], hidden[i]))
        setattr(self, f"fc{L+1}_mu", lin(hidden[-1], Z))
        setattr(self, f"fc{L+1}_logvar", lin(hidden[-1], Z))
        for j in range(L):
            setattr(self, f"fc{L+2+j}", lin(Z if j == 0 else hidden[L - j], hidden[L - 1 - j]))
        setattr(self, f"fc{2*L+2}", lin(hidden[0], D))
        if flow == "planar":
            setattr(self, f"fc{L+1}_flow", lin(hidden[-1], flow_len * (2 * Z + 1)))
        elif flow == "iaf":
            setattr(self, f"fc{L+1}_ctx", lin(hidden[-1], flow_hidden))
            self.iaf = nn.ModuleList()
            for t in range(flow_len):
                step = nn.Module()
                step.made_in = lin(Z + flow_hidden, flow_hidden)
                step.made_out = lin(flow_hidden, 2 * Z)
                mi, mo = made_masks(Z, flow_hidden, flow_hidden, t % 2)
                step.register_buffer("m_in", mi, persistent=False)  # constants, not in checkpoints
                step.register_buffer("m_out", mo, persistent=False)
                self.iaf.append(step)
        if latent2:
            h2, L2 = list(hidden2), len(hidden2)
            for i in range(L2):
                setattr(self, f"q2_fc{i+1}", lin(Z if i == 0 else h2[i - 1], h2[i]))
            self.q2_mu, self.q2_logvar = lin(h2[-1], latent2), lin(h2[-1], latent2)
            for j in range(L2):
                setattr(self, f"p1_fc{j+1}", lin(latent2 if j == 0 else h2[L2 - j], h2[L2 - 1 - j]))
            self.p1_mu, self.p1_logvar = lin(h2[0], Z), lin(h2[0], Z)

    def state_dict_names(self):  # elbo's names: iaf.0.made_in -> iaf1.made_in
        return {k: (k if not k.startswith("iaf.") else f"iaf{int(k.split('.')[1]) + 1}." + ".".join(k.split(".")[2:]))
                for k in self.state_dict()}

    def load_elbo(self, tensors):
        names = {v: k for k, v in self.state_dict_names().items()}
        self.load_state_dict({names[k]: v for k, v in tensors.items()}, strict=True)

    def stack(self, prefix, n, h):
        for i in range(n):
            h = self.act(getattr(self, f"{prefix}{i+1}")(h))
        return h

    def forward(self, x, eps, eps2=None):
        """Returns mu, logvar, z (the decoder's input), logits and the terms
        (recon, kl[, kl_z1, kl_z2]) summed over the batch; eps [B, Z] (and
        eps2 [B, Z2]). x may repeat examples (rows of IW samples)."""
        L, Z = self.L, self.Z
        h = self.stack("fc", L, x)
        mu, logvar = getattr(self, f"fc{L+1}_mu")(h), getattr(self, f"fc{L+1}_logvar")(h)
        z = mu + eps * torch.exp(0.5 * logvar)
        logq0 = (-0.5 * logvar - 0.5 * eps ** 2).sum(1)  # + const
        logdet = torch.zeros_like(logq0)
        if self.flow == "planar":
            P = getattr(self, f"fc{L+1}_flow")(h).view(-1, self.K, 2 * Z + 1)
            for k in range(self.K):
                u, w, b = P[:, k, :Z], P[:, k, Z:2 * Z], P[:, k, 2 * Z]
                wu = (w * u).sum(1)
                uh = u + ((-1 + F.softplus(wu) - wu) / (w * w).sum(1))[:, None] * w
                t = torch.tanh((w * z).sum(1) + b)
                logdet = logdet + torch.log(torch.abs(1 + (uh * (1 - t ** 2)[:, None] * w).sum(1)))
                z = z + uh * t[:, None]
        elif self.flow == "iaf":
            c = getattr(self, f"fc{L+1}_ctx")(h)
            for st in self.iaf:
                hid = self.act(F.linear(torch.cat([z, c], 1), st.made_in.weight * st.m_in, st.made_in.bias))
                ms = F.linear(hid, st.made_out.weight * st.m_out, st.made_out.bias)
                sig = torch.sigmoid(ms[:, Z:])
                z = sig * z + (1 - sig) * ms[:, :Z]
                logdet = logdet + torch.log(sig).sum(1)
        terms = {}
        hd = z
        for j in range(L):
            hd = self.act(getattr(self, f"fc{L+2+j}")(hd))
        logits = getattr(self, f"fc{2*L+2}")(hd)
        recon_rows = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        if self.Z2:
            h2 = self.stack("q2_fc", self.L2, z)
            mu2, lv2 = self.q2_mu(h2), self.q2_logvar(h2)
            z2 = mu2 + eps2 * torch.exp(0.5 * lv2)
            hp = self.stack("p1_fc", self.L2, z2)
            pmu, plv = self.p1_mu(hp), self.p1_logvar(hp)
            neg_logp1 = (0.5 * plv + 0.5 * (z - pmu) ** 2 * torch.exp(-plv)).sum(1)
            kl1 = logq0 + neg_logp1
            kl2 = -0.5 * (1 + lv2 - mu2 ** 2 - lv2.exp()).sum(1)
            # the importance log-weight's terms (one sample of z2 too)
            lw = -recon_rows - kl1 - (0.5 * z2 ** 2 - 0.5 * eps2 ** 2 - 0.5 * lv2).sum(1)
            terms.update(kl_z1=kl1.sum(), kl_z2=kl2.sum())
            kl_rows = kl1 + kl2
        else:
            kl_rows = logq0 - logdet + 0.5 * (z ** 2).sum(1)
            lw = -recon_rows - kl_rows
        terms.update(recon=recon_rows.sum(), kl=kl_rows.sum())
        return mu, logvar, z, logits, terms, lw


def make(name, hidden, Z, B, act, extra, seed):
    torch.manual_seed(seed)
    D = 784
    model = FlowVAE(D, hidden, Z, act, **extra).double()
    x = mnist_images(B).double()
    eps = torch.randn(B, Z, dtype=torch.float64)
    Z2 = extra.get("latent2", 0)
    eps2 = torch.randn(B, Z2, dtype=torch.float64) if Z2 else None
    names = model.state_dict_names()
    out = {"x": x, "eps": eps}
    if Z2:
        out["eps2"] = eps2
    for k, v in model.state_dict().items():
        out[f"init.{names[k]}"] = v.clone()
    mu, logvar, z, logits, terms, _ = model(x, eps, eps2)
    loss = terms["recon"] + terms["kl"]
    loss.backward()
    out.update({"out.mu": mu, "out.logvar": logvar, "out.z": z, "out.logits": logits, "loss": loss.reshape(1)})
    for k, v in terms.items():
        out[k] = v.reshape(1)
    for k, p in model.named_parameters():
        out[f"grad.{names[k]}"] = p.grad.clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step_losses = []
    for _ in range(3):
        opt.zero_grad()
        t = model(x, eps, eps2)[4]
        (t["recon"] + t["kl"]).backward()
        step_losses.append((t["recon"] + t["kl"]).item())
        opt.step()
    out["adam.losses"] = torch.tensor(step_losses)
    for k, v in model.state_dict().items():
        out[f"adam3.{names[k]}"] = v.clone()
    meta = {"hidden": ",".join(map(str, hidden)), "latent_dim": str(Z), "batch": str(B),
            "likelihood": "bernoulli", "activation": act, "torch_version": torch.__version__,
            "made_by": "dev/make_flow_fixture.py"}
    for k, v in extra.items():
        meta[k] = ",".join(map(str, v)) if isinstance(v, list) else str(v)
    path = os.path.join(ROOT, "tests", "fixtures", f"vae_{name}.safetensors")
    save_safetensors(path, {k: v.float() for k, v in out.items()}, meta)
    print(f"wrote {path}: loss {loss.item():.4f} " + " ".join(f"{k} {v.item():.4f}" for k, v in terms.items()))


if __name__ == "__main__":
    for c in CASES:
        make(*c)
