#!/usr/bin/env python3
"""bench/bnn_sgd_report.py — the table of docs/bnn.md ("Blundell's SGD
protocol") from the runs of bench/bnn_sgd.sh: per run, the epochs done, the
test error of the 10-draw predictive after the last epoch (the protocol's
figure), the lowest per-epoch test error and its epoch (for information
only: choosing an epoch by test error is not a result), train NLL and KL / N
at the last epoch (nats per image) and the seconds of training.

usage: bnn_sgd_report.py RUN_DIR...
"""
import json
import sys

print("| run | epochs | last test error | lowest per-epoch error (epoch) | train NLL | KL / N | training s |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for d in sys.argv[1:]:
    rows = [json.loads(l) for l in open(f"{d}/metrics.jsonl") if l.strip()]
    last = rows[-1]
    best = min(rows, key=lambda r: (1 - r["test_accuracy"], r["epoch"]))
    secs = sum(r["seconds"] for r in rows)
    print(f"| {d} | {last['epoch']} | {100 * (1 - last['test_accuracy']):.2f}% | "
          f"{100 * (1 - best['test_accuracy']):.2f}% ({best['epoch']}) | {last['train_nll']:.4f} | "
          f"{last['train_kl']:.2f} | {secs:.0f} |")
