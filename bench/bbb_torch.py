# bench/bbb_torch.py — Bayes by Backprop in current PyTorch (2.x from PyPI),
# the network and estimator `elbo train --kind bnn` uses by default, written
# the way a performance-minded user would: 784-400-400-10 ReLU, a Gaussian
# posterior per weight and bias (sigma = softplus(rho), rho_0 = -6), the
# local reparameterisation trick (pre-activations sampled from their mean
# and variance), the closed-form KL to N(0, 0.1^2) carried B/N per batch,
# Adam lr 1e-3, batch 128, MNIST's first 50,000 training images held in one
# tensor, shuffled index batches (no DataLoader), optional torch.compile.
#
# usage: bbb_torch.py MNIST_DIR EPOCHS THREADS [compile]
# prints epoch=E train_loss=L train_s=S (loss: nats per example, NLL + KL/N)
import gzip, math, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

d, E, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
comp = len(sys.argv) > 4 and sys.argv[4] == "compile"
torch.set_num_threads(T)
torch.manual_seed(1)
N, PRIOR_VAR = 50000, 0.1 ** 2

def read(p, off, shape):
    with gzip.open(p) as f:
        return np.frombuffer(f.read()[off:], np.uint8).reshape(shape)
X = torch.from_numpy(read(f"{d}/train-images-idx3-ubyte.gz", 16, (-1, 784))[:N].astype(np.float32) / 255.0)
Y = torch.from_numpy(read(f"{d}/train-labels-idx1-ubyte.gz", 8, (-1,))[:N].astype(np.int64))

class BayesLinear(nn.Module):
    def __init__(s, i, o):
        super().__init__()
        b = 1 / math.sqrt(i)
        s.weight_mu = nn.Parameter(torch.empty(o, i).uniform_(-b, b))
        s.weight_rho = nn.Parameter(torch.full((o, i), -6.0))
        s.bias_mu = nn.Parameter(torch.empty(o).uniform_(-b, b))
        s.bias_rho = nn.Parameter(torch.full((o,), -6.0))
    def forward(s, x):
        ws, bs = F.softplus(s.weight_rho), F.softplus(s.bias_rho)
        mean = F.linear(x, s.weight_mu, s.bias_mu)
        var = F.linear(x * x, ws * ws, bs * bs)
        out = mean + var.sqrt() * torch.randn_like(mean)
        kl = 0.0
        for mu, sd in ((s.weight_mu, ws), (s.bias_mu, bs)):
            kl = kl + (0.5 * math.log(PRIOR_VAR) - torch.log(sd) + (sd * sd + mu * mu) / (2 * PRIOR_VAR) - 0.5).sum()
        return out, kl

class BNN(nn.Module):
    def __init__(s):
        super().__init__()
        s.fc1, s.fc2, s.fc3 = BayesLinear(784, 400), BayesLinear(400, 400), BayesLinear(400, 10)
    def forward(s, x):
        h, k1 = s.fc1(x)
        h, k2 = s.fc2(torch.relu(h))
        out, k3 = s.fc3(torch.relu(h))
        return out, k1 + k2 + k3

m = BNN()
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
def step(x, y):
    logits, kl = m(x)
    nll = F.cross_entropy(logits, y, reduction="sum")
    loss = (nll + kl * len(x) / N) / len(x)
    opt.zero_grad(); loss.backward(); opt.step()
    return loss.detach() * len(x)
if comp: step = torch.compile(step)
for e in range(1, E + 1):
    t = time.time(); perm = torch.randperm(N); tot = 0.0
    for i in range(0, N, 128):
        idx = perm[i:i + 128]
        tot += float(step(X[idx], Y[idx]))
    print(f"epoch={e} train_loss={tot / N:.4f} train_s={time.time() - t:.3f}", flush=True)
