#!/usr/bin/env python3
"""bench/bnn_select_report.py — the validation-protocol table of docs/bnn.md
from runs of bench/bnn_sgd.sh with SPLIT=val or SPLIT=tail: per run, the
epoch selected by the lowest validation error of one posterior draw
(best_epoch in metrics.jsonl), that validation error, and the test error,
NLL and ECE of `elbo bnn eval --model RUN/best.safetensors` (the predictive
of 10 draws; the selected weights, which are the moving average with
--ema); then the last epoch's per-epoch test error, for information, and
the seconds of training (evaluation excluded) over all the run's epochs. One
line per group of runs (the run's folder name less its seed part `_sN`):
the mean and sd over its seeds of the selected test error.

usage: bnn_select_report.py RUN_DIR...   (ELBO=build/elbo by default)
"""
import json
import os
import re
import statistics
import subprocess
import sys

elbo = os.environ.get("ELBO", "build/elbo")
print("| run | epochs | selected epoch | val error (1 draw) | test error | test NLL | test ECE | last epoch's test error | training s |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
groups = {}
for d in sys.argv[1:]:
    rows = [json.loads(l) for l in open(f"{d}/metrics.jsonl") if l.strip()]
    be = rows[-1]["best_epoch"]
    sel = next(r for r in rows if r["epoch"] == be)
    out = subprocess.run([elbo, "bnn", "eval", "--model", f"{d}/best.safetensors", "--json"],
                         check=True, capture_output=True, text=True).stdout
    ev = json.loads(out)
    last = rows[-1]
    print(f"| {d} | {last['epoch']} | {be} | {100 * sel['val_draw_error']:.2f}% | "
          f"**{100 * ev['error']:.2f}%** | {ev['nll']:.4f} | {ev['ece']:.4f} | "
          f"{100 * (1 - last['test_accuracy']):.2f}% | {sum(r['seconds'] for r in rows):.0f} |")
    groups.setdefault(re.sub(r"_s\d+(?=_|$)", "", os.path.basename(d.rstrip("/"))), []).append(100 * ev["error"])
print()
for g, errs in groups.items():
    sd = statistics.stdev(errs) if len(errs) > 1 else 0.0
    print(f"{g}: selected test error {statistics.mean(errs):.2f} +- {sd:.2f}% over {len(errs)} "
          f"seed(s) ({', '.join(f'{e:.2f}' for e in errs)})")
