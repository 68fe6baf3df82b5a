# bench/m2_torch.py — M2 (Kingma et al. 2014) in current PyTorch (2.x from
# PyPI), the model and batching `elbo m2 train` uses by default, written the
# way a performance-minded user would: a classifier 784-500-10, an encoder
# [x, onehot(y)] -> 500 -> (mu, logvar) of z 50, a decoder [z, onehot(y)] ->
# 500 -> 784 logits, softplus units, Bernoulli likelihood, every class
# enumerated for the unlabelled rows (batched: C copies of each), loss per
# labelled row L(x,y) + alpha CE and per unlabelled row sum_y q L - H, Adam
# lr 1e-3, batches of 100 rows of which 10 labelled (cycled from 100 labels,
# 10 per class), one epoch = one pass over the unlabelled rows of MNIST's
# first 50,000 training images, all held in one tensor (no DataLoader).
#
# usage: m2_torch.py MNIST_DIR EPOCHS THREADS [compile]
# prints epoch=E train_loss=L train_s=S (loss: nats per row of the batches)
import gzip, math, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

d, E, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
comp = len(sys.argv) > 4 and sys.argv[4] == "compile"
torch.set_num_threads(T)
torch.manual_seed(1)
N, C, Z, H, B, LB, ALPHA = 50000, 10, 50, 500, 100, 10, 1.0


def read(p, off, shape):
    with gzip.open(p) as f:
        return np.frombuffer(f.read()[off:], np.uint8).reshape(shape)


X = torch.from_numpy(read(f"{d}/train-images-idx3-ubyte.gz", 16, (-1, 784))[:N].astype(np.float32) / 255.0)
Y = torch.from_numpy(read(f"{d}/train-labels-idx1-ubyte.gz", 8, (-1,))[:N].astype(np.int64))
lab_idx = torch.cat([torch.nonzero(Y == k)[:10, 0] for k in range(C)])
mask = torch.ones(N, dtype=torch.bool)
mask[lab_idx] = False
unl_idx = torch.nonzero(mask)[:, 0]


class M2(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1, s.c2 = nn.Linear(784, H), nn.Linear(H, C)
        s.e1, s.emu, s.elv = nn.Linear(784 + C, H), nn.Linear(H, Z), nn.Linear(H, Z)
        s.d1, s.d2 = nn.Linear(Z + C, H), nn.Linear(H, 784)

    def bound(s, x, oh):
        h = F.softplus(s.e1(torch.cat([x, oh], 1)))
        mu, lv = s.emu(h), s.elv(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        logits = s.d2(F.softplus(s.d1(torch.cat([z, oh], 1))))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        return rec - 0.5 * (1 + lv - mu * mu - lv.exp()).sum(1) + math.log(C)

    def forward(s, xl, yl, xu):
        eye = torch.eye(C)
        logits_l = s.c2(F.softplus(s.c1(xl)))
        lab = s.bound(xl, eye[yl]).sum() + ALPHA * F.cross_entropy(logits_l, yl, reduction="sum")
        logq = F.log_softmax(s.c2(F.softplus(s.c1(xu))), 1)
        n = xu.shape[0]
        lk = s.bound(xu.repeat_interleave(C, 0), eye.repeat(n, 1)).view(n, C)
        q = logq.exp()
        return lab + (q * (lk + logq)).sum()


model = M2()
step = torch.compile(model) if comp else model
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for e in range(1, E + 1):
    t = time.time()
    perm = unl_idx[torch.randperm(len(unl_idx))]
    lperm, li, tot, rows = lab_idx[torch.randperm(len(lab_idx))], 0, 0.0, 0
    for u0 in range(0, len(perm), B - LB):
        if li + LB > len(lperm):
            lperm, li = lab_idx[torch.randperm(len(lab_idx))], 0
        il, iu = lperm[li:li + LB], perm[u0:u0 + B - LB]
        li += LB
        opt.zero_grad()
        loss = step(X[il], Y[il], X[iu])
        loss.backward()
        opt.step()
        tot += loss.item()
        rows += len(il) + len(iu)
    print(f"epoch={e} train_loss={tot / rows:.4f} train_s={time.time() - t:.3f}", flush=True)
