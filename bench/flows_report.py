#!/usr/bin/env python3
"""The table of docs/flows.md from bench/flows_runs.jsonl (bench/flows_protocol.sh):
one row per (row, epochs), the latest run of each, beside the published
figures (quoted from the papers, not reproduced here).

  python3 bench/flows_report.py [bench/flows_runs.jsonl]
"""
import json, sys

ORDER = ["diag", "iwae5", "planar10", "planar20", "planar40", "planar80", "iaf", "hvae", "hiwae5"]
LABEL = {
    "diag": "diagonal Gaussian",
    "iwae5": "diagonal Gaussian, IWAE k = 5",
    "planar10": "planar, K = 10",
    "planar20": "planar, K = 20",
    "planar40": "planar, K = 40",
    "planar80": "planar, K = 80",
    "iaf": "IAF, 2 steps (MADE 200)",
    "hvae": "two stochastic layers (100, 50), ELBO",
    "hiwae5": "two stochastic layers (100, 50), IWAE k = 5",
}
# published -log p(x), binarized MNIST (different architectures and budgets)
PAPER = {
    "diag": "89.9 (R&M 2015); 86.76 one-layer VAE (Burda 2015)",
    "iwae5": "85.54 (Burda 2015, one layer, k = 5)",
    "planar10": "87.5 (R&M 2015)",
    "planar20": "86.5 (R&M 2015)",
    "planar40": "85.7 (R&M 2015)",
    "planar80": "85.1 (R&M 2015)",
    "iaf": "79.88 (Kingma 2016, ResNet VAE; not comparable)",
    "hvae": "85.33 (Burda 2015, 3280 epochs)",
    "hiwae5": "83.89 k = 5 (Burda 2015; 82.90 at k = 50)",
}

# the first figure of each: the row's distance from the paper
PAPER_NLL = {"diag": 89.9, "iwae5": 85.54, "planar10": 87.5, "planar20": 86.5, "planar40": 85.7,
             "planar80": 85.1, "iaf": None, "hvae": 85.33, "hiwae5": 83.89}

path = sys.argv[1] if len(sys.argv) > 1 else "bench/flows_runs.jsonl"
seeds = {}
for line in open(path):
    r = json.loads(line)
    seeds.setdefault((r["row"], r["epochs"]), {})[r.get("seed", 1)] = r  # the latest run of each seed wins
# the tables show seed 1, or the lowest seed a (row, epochs) was run with
runs = {k: v[min(v)] for k, v in seeds.items()}
def label(row, seed=1):
    base = LABEL[row[:-2]] + ", KL warm-up" if row.endswith("wu") else LABEL[row]
    return base if seed == 1 else f"{base}, seed {seed}"


def paper(row):
    return PAPER[row[:-2] if row.endswith("wu") else row]


def paper_gap(row, nll):
    p = PAPER_NLL[row[:-2] if row.endswith("wu") else row]
    return "—" if p is None else f"{nll - p:+.2f}".replace("-", "−")


def units(r):
    """active units / active dimensions (elbo eval's counts; the metrics'
    last epoch for rows run before elbo eval printed them)"""
    ev = r["eval"]
    u = ev.get("active_units", r.get("active_units"))
    d = ev.get("active_dims")
    s = f"{u} / {d}" if d is not None else str(u)
    u2 = ev.get("active_units2", r.get("active_units2"))
    if u2 is not None:
        d2 = ev.get("active_dims2")
        s += f" + {u2} / {d2}" if d2 is not None else f" + {u2}"
    return s


def same_objective_base(row):
    """the one-layer diagonal row a row is compared with: the IWAE rows
    with the one-layer IWAE, the others with the diagonal VAE"""
    wu = "wu" if row.endswith("wu") else ""
    base = row[:-2] if wu else row
    return ("iwae5" if base in ("iwae5", "hiwae5") else "diag") + wu


budgets = sorted({e for _, e in runs})
for ep in budgets:
    for warm in (False, True):
        keys = [k + "wu" if warm else k for k in ORDER]
        rows = [runs[(k, ep)] for k in keys if (k, ep) in runs]
        if not rows:
            continue
        r0 = rows[0]
        dates = sorted({r["date"] for r in rows})
        cpus = list(dict.fromkeys(r["cpu"] for r in rows))
        mark = {c: "" if len(cpus) == 1 else "*" * (i + 1) for i, c in enumerate(cpus)}
        where = cpus[0] if len(cpus) == 1 else "; ".join(f"{mark[c]} {c}" for c in cpus)
        print(f"\n{ep} epochs{', KL weight warmed up from 0 to 1 over the first 10' if warm else ''} "
              f"({' to '.join([dates[0], dates[-1]] if len(dates) > 1 else dates)}, {where}, "
              f"{r0['threads']} thread(s) per run; "
              f"IW K = {r0['eval']['iw_k']} on the {r0['eval']['n']} test images; "
              f"Δ: −log p(x) minus that of the one-layer diagonal row with the same objective; "
              f"to paper: minus the first published figure, at the paper's own budget):\n")
        print("| posterior | test −log p(x) (IW) | Δ | test −ELBO | gap | active units / dims | s/epoch | published −log p(x) | to paper |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            ev = r["eval"]
            nll = -ev["log_px"]
            b = runs.get((same_objective_base(r["row"]), ep))
            d = "—" if b is None or b is r else f"{nll + b['eval']['log_px']:+.2f}".replace("-", "−")
            print(f"| {label(r['row'], r.get('seed', 1))} | **{nll:.2f}** | {d} | {ev['loss']:.2f} | {ev['loss'] - nll:.2f} | {units(r)} "
                  f"| {r['seconds_per_epoch']:.2f}{mark[r['cpu']]} | {paper(r['row'])} | {paper_gap(r['row'], nll)} |")

spread = [(k, v) for k, v in sorted(seeds.items(), key=lambda kv: (kv[0][1], kv[0][0])) if len(v) > 1]
if spread:
    print("\nBetween training runs (seeds; the same protocol, test −log p(x) by IW):\n")
    print("| posterior | epochs | seeds | −log p(x) per seed | mean | sd |")
    print("|---|---|---|---|---|---|")
    for (row, ep), v in spread:
        xs = [-v[s]["eval"]["log_px"] for s in sorted(v)]
        m = sum(xs) / len(xs)
        sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5
        print(f"| {label(row)} | {ep} | {', '.join(str(s) for s in sorted(v))} | "
              f"{', '.join(f'{x:.2f}' for x in xs)} | {m:.2f} | {sd:.2f} |")
