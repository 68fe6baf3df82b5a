"""bench/vi_numpyro.py — NumPyro's SVI on the posteriordb regressions of
tests/posteriordb (the same models as their Stan programs), the way its
docs fit them: AutoNormal (mean field) and AutoMultivariateNormal (full
rank), Trace_ELBO, Adam(lr) for STEPS steps, jit-compiled (svi.run).
Prints one line per posterior and guide: wall seconds (the whole fit, jit
included), the worst |mean - ref| in reference sds and the range of sd /
ref sd over 20,000 draws from the guide.

  python bench/vi_numpyro.py [STEPS] [LR]     (defaults 20000, 0.01; needs jax, numpyro)
"""
import sys, time
import jax, jax.numpy as jnp, numpy as np
import numpyro, numpyro.distributions as dist
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal, AutoMultivariateNormal

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
LR = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
NAMES = ["sblrc-blr", "kidiq-kidscore_momiq", "kidiq-kidscore_momhsiq", "earnings-earn_height"]

def prior(spec, shape, positive):
    kind, _, s = spec.partition(":")
    if kind == "flat":
        return dist.ImproperUniform(dist.constraints.positive if positive else dist.constraints.real, (), shape)
    s = float(s)
    if kind == "normal":
        return dist.HalfNormal(s) if positive else dist.Normal(0.0, s).expand(shape)
    return dist.HalfCauchy(s)

def load(name):
    with open(f"tests/posteriordb/{name}.csv") as f:
        spec = dict(kv.split("=") for kv in f.readline()[1:].split())
    d = np.loadtxt(f"tests/posteriordb/{name}.csv", delimiter=",", skiprows=1)
    ref = {}
    for line in open(f"tests/posteriordb/{name}.ref.csv").readlines()[1:]:
        k, m, s = line.strip().split(",")
        ref[k] = (float(m), float(s))
    return spec, jnp.array(d[:, :-1]), jnp.array(d[:, -1]), ref

for name in NAMES:
    spec, X, y, ref = load(name)
    K = X.shape[1]
    def model(X, y):
        beta = numpyro.sample("beta", prior(spec["beta"], (K,), False))
        sigma = numpyro.sample("sigma", prior(spec["sigma"], (), True))
        numpyro.sample("y", dist.Normal(X @ beta, sigma), obs=y)
    for label, G in (("AutoNormal (mean field)", AutoNormal), ("AutoMultivariateNormal (full rank)", AutoMultivariateNormal)):
        guide = G(model)
        t0 = time.time()
        svi = SVI(model, guide, numpyro.optim.Adam(LR), Trace_ELBO())
        res = svi.run(jax.random.PRNGKey(0), STEPS, X, y, progress_bar=False)
        draws = guide.sample_posterior(jax.random.PRNGKey(1), res.params, sample_shape=(20000,))
        jax.block_until_ready(draws["sigma"])
        secs = time.time() - t0
        errs, ratios = [], []
        for k, (m, s) in ref.items():
            v = np.asarray(draws["sigma"]) if k == "sigma" else np.asarray(draws["beta"])[:, int(k[5:-1]) - 1]
            errs.append(abs(v.mean() - m) / s)
            ratios.append(v.std(ddof=1) / s)
        print(f"{name} | numpyro {label} | {secs:.2f} s | {max(errs):.3f} | {min(ratios):.3f}..{max(ratios):.3f} | "
              f"final loss {float(res.losses[-1]):.2f}", flush=True)
