#!/usr/bin/env python3
"""The semi-supervised table from bench/m2_runs.jsonl (bench/m2_protocol.sh):
per kind (m2, m2lr3ema: M2 with lr 3e-3 and the moving average, m1m2 on
M1's means, m1m2s on draws of z1) and number of labels N, the test accuracy of the model
selected on validation error, mean +- sd over the label draws (seeds), with
the epochs run, the selected epoch and the training seconds per run; the
last run of each (kind, N, seed) counts. The published rows are quoted
beside it as the papers' and Pyro's, not reproduced here.

usage: python3 bench/m2_report.py [bench/m2_runs.jsonl]   (markdown on stdout)
"""
import json, statistics, sys

# Test accuracy %, as published: Kingma et al. (2014), Table 1, 100 minus the
# error (+- as there); Pyro's SS-VAE tutorial (tutorial/source/ss-vae.ipynb,
# "Results", the enumerated model with the auxiliary loss), its mean over five
# label draws (the tutorial's 95% bounds are not quoted).
_K_M2 = {100: "88.03 +- 1.71", 600: "95.06 +- 0.13", 1000: "96.40 +- 0.56", 3000: "96.08 +- 0.63"}
_K_M12 = {100: "96.67 +- 0.14", 600: "97.41 +- 0.05", 1000: "97.60 +- 0.02", 3000: "97.82 +- 0.04"}
_PYRO = {100: "93.19", 600: "94.37", 1000: "94.87", 3000: "95.82"}
PUBLISHED = {}
for _n in (100, 600, 1000, 3000):
    for _k in ("m2", "m2lr3ema"):
        PUBLISHED[(_k, _n)] = f"{_K_M2[_n]} (Kingma et al., M2); {_PYRO[_n]} (Pyro's tutorial)"
    for _k in ("m1m2", "m1m2s"):
        PUBLISHED[(_k, _n)] = f"{_K_M12[_n]} (Kingma et al., M1+M2)"
NAMES = {"m2": "M2", "m1m2": "M1+M2 (means)", "m1m2s": "M1+M2 (draws of z1)",
         "m2lr3ema": "M2 (lr 3e-3, --ema 0.999)"}


def main(path):
    runs = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                runs[(r["kind"], r["labels"], r["label_seed"])] = r
    groups = {}
    for (kind, n, _), r in sorted(runs.items()):
        groups.setdefault((kind, n), []).append(r)
    print("| model | labels | test accuracy % (mean +- sd) | draws | epochs | best epoch | "
          "training s per run | published accuracy % |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for (kind, n), rs in sorted(groups.items()):
        acc = [100 * r["test_accuracy"] for r in rs]
        sd = statistics.stdev(acc) if len(acc) > 1 else float("nan")
        ep = sorted({r["epochs"] for r in rs})
        be = [r["best_epoch"] for r in rs]
        secs = statistics.mean(r["train_seconds"] for r in rs)
        name = NAMES.get(kind, kind)
        print(f"| {name} | {n} | {statistics.mean(acc):.2f} +- {sd:.2f} | {len(rs)} | "
              f"{'/'.join(map(str, ep))} | {min(be)}-{max(be)} | {secs:.0f} | {PUBLISHED.get((kind, n), '')} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/m2_runs.jsonl")
