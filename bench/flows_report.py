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

path = sys.argv[1] if len(sys.argv) > 1 else "bench/flows_runs.jsonl"
runs = {}
for line in open(path):
    r = json.loads(line)
    runs[(r["row"], r["epochs"])] = r  # the latest run of a (row, epochs) wins
def label(row):
    return LABEL[row[:-2]] + ", KL warm-up" if row.endswith("wu") else LABEL[row]


def paper(row):
    return PAPER[row[:-2] if row.endswith("wu") else row]


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


budgets = sorted({e for _, e in runs})
for ep in budgets:
    for warm in (False, True):
        keys = [k + "wu" if warm else k for k in ORDER]
        rows = [runs[(k, ep)] for k in keys if (k, ep) in runs]
        if not rows:
            continue
        r0 = rows[0]
        print(f"\n{ep} epochs{', KL weight warmed up from 0 to 1 over the first 10' if warm else ''} "
              f"({r0['date']}, {r0['cpu']}, {r0['threads']} thread(s) per run; "
              f"IW K = {r0['eval']['iw_k']} on the {r0['eval']['n']} test images):\n")
        print("| posterior | test −log p(x) (IW) | test −ELBO | gap | active units / dims | s/epoch | published −log p(x) |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            ev = r["eval"]
            nll = -ev["log_px"]
            print(f"| {label(r['row'])} | **{nll:.2f}** | {ev['loss']:.2f} | {ev['loss'] - nll:.2f} | {units(r)} "
                  f"| {r['seconds_per_epoch']:.2f} | {paper(r['row'])} |")
