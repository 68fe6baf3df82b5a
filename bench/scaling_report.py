#!/usr/bin/env python3
"""scaling_report.py — the report of bench/scaling.sh: the group sum's
latency and bandwidth, the measured epoch times, the cost model's prediction
for 2 ranks beside the measurement, and its extrapolation to clusters.

The cost model (docs/scaling.md). One training step on p ranks with a global
batch of B rows costs

    t(p) = a + b B / p + T_sum(n, p) + 2 T_sum(1, p)

where a is the per-step work every rank repeats (the batch's noise, the Adam
update of all n parameters), b the time per row, and the sums are the
gradient's (n = 652,824 floats) and two small ones (the loss terms and the
stop agreement). a and b come from one-rank steps of 128 and of 64 rows. A
sum of n floats over p ranks, as a ring or as our reduce-scatter + allgather,
moves 2 (p-1)/p 4n bytes through each rank's link and waits 2 (p-1) message
latencies:

    T_sum(n, p) = 2 (p-1) alpha + 2 (p-1)/p 4 n / beta

alpha and beta are fitted to the measured sums of 2 ranks (1 float and
652,824 floats).

    python3 bench/scaling_report.py bench/scaling.jsonl
"""
import json
import sys

N = 652824           # the reference VAE's gradient, floats
STEPS = 469          # ceil(60000 / 128)
# Assumed networks for the extrapolation (not measured here): latency in
# seconds, bandwidth in bytes/s that an MPI ring sees.
NETS = {"10 GbE (alpha 25 us, beta 1.1 GB/s)": (25e-6, 1.1e9),
        "InfiniBand HDR100 (alpha 1.5 us, beta 11 GB/s)": (1.5e-6, 11e9)}


def t_sum(n, p, alpha, beta):
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * 4 * n / beta


def main(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    ar = {}
    for r in rows:
        if r["what"] == "allreduce":
            ar.setdefault(r["transport"], {})[r["floats"]] = r
    ep = {r["config"]: r for r in rows if r["what"] == "epoch"}
    first = rows[0]
    print(f"# data-parallel scaling, {first['date']}, {first['cpu']}, {first['cores']} cores")
    print()
    print("## the group sum on 2 ranks (median us; ours = reduce-scatter + allgather in rank order)")
    print()
    print("| transport | floats | ours (us) | MPI_Allreduce (us) | ours (GB/s of the vector) |")
    print("|---|---:|---:|---:|---:|")
    fits = {}
    for tr, by in ar.items():
        for n in sorted(by):
            r = by[n]
            print(f"| {tr} | {n} | {r['ours_us']:.1f} | {r['mpi_us']:.1f} | {r['ours_GBps']:.3f} |")
        alpha = by[1]["ours_us"] * 1e-6 / 2
        big = by[N]["ours_us"] * 1e-6
        beta = 4 * N / max(big - 2 * alpha, 1e-9)
        fits[tr] = (alpha, beta)
    print()
    for tr, (alpha, beta) in fits.items():
        print(f"fit, {tr}: alpha = {alpha * 1e6:.1f} us per message, beta = {beta / 1e9:.2f} GB/s")
    print()
    print("## seconds per epoch (training only, median)")
    print()
    print("| configuration | ranks x threads | batch | s/epoch | speed-up vs 1 x 1 |")
    print("|---|---|---:|---:|---:|")
    base = ep["1x1"]["seconds"]
    for name, r in ep.items():
        print(f"| {name} | {r['ranks']} x {r['threads']} | {r['batch']} | {r['seconds']:.3f} | "
              f"{base / r['seconds']:.2f} |")
    # a, b from the one-rank steps of 128 and 64 rows
    t128 = base / STEPS
    t64 = ep["1x1-b64"]["seconds"] / (2 * STEPS)
    b = (t128 - t64) / 64
    a = t128 - 128 * b
    print()
    print(f"per step: a = {a * 1e3:.3f} ms repeated by every rank, b = {b * 1e6:.2f} us per row")
    print()
    print("## the cost model against the measurement, 2 ranks x 1 thread")
    print()
    print("| transport | predicted s/epoch | measured | error |")
    print("|---|---:|---:|---:|")
    for tr, cfg in (("shm", "2x1-shm"), ("tcp-veth", "2x1-tcp")):
        if tr not in fits or cfg not in ep:
            continue
        alpha, beta = fits[tr]
        pred = STEPS * (a + b * 64 + t_sum(N, 2, alpha, beta) + 2 * t_sum(1, 2, alpha, beta))
        meas = ep[cfg]["seconds"]
        print(f"| {tr} | {pred:.3f} | {meas:.3f} | {100 * (pred - meas) / meas:+.1f}% |")
    print()
    print("## extrapolation: efficiency of p nodes (1 rank each) at the reference batch and the")
    print("## global batch below which efficiency falls under 50% (assumed networks)")
    print()
    print("| network | p | efficiency at B = 128 | at B = 128 p | B for 50% |")
    print("|---|---:|---:|---:|---:|")
    for net, (alpha, beta) in NETS.items():
        for p in (8, 16, 64):
            T = t_sum(N, p, alpha, beta) + 2 * t_sum(1, p, alpha, beta)
            def eff(B):
                return (a + b * B) / (p * (a + b * B / p + T))
            b50 = (p * a - 2 * a + p * T) / b
            print(f"| {net} | {p} | {100 * eff(128):.0f}% | {100 * eff(128 * p):.0f}% | {b50:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/scaling.jsonl")
