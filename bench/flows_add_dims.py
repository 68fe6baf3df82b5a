#!/usr/bin/env python3
"""Adds elbo eval's active_units / active_dims (and z2's) to rows of
bench/flows_runs.jsonl written before elbo eval printed them, from the rows'
checkpoints in runs/flows/ROW, when the checkpoint is still at the row's
epoch (a resumed run has moved on; those rows are left alone).

  python3 bench/flows_add_dims.py [bench/flows_runs.jsonl] [ELBO]
"""
import json, subprocess, sys

path = sys.argv[1] if len(sys.argv) > 1 else "bench/flows_runs.jsonl"
elbo = sys.argv[2] if len(sys.argv) > 2 else "build/elbo"
rows = [json.loads(l) for l in open(path)]
for r in rows:
    ev = r["eval"]
    if "active_dims" in ev:
        continue
    d = f"runs/flows/{r['row']}"
    try:
        last = json.loads(open(f"{d}/metrics.jsonl").readlines()[-1])
    except OSError:
        continue
    if last["epoch"] != r["epochs"]:
        print(f"{r['row']}: checkpoint at epoch {last['epoch']}, row at {r['epochs']}: left alone")
        continue
    out = json.loads(subprocess.check_output([elbo, "eval", "--model", d, "--threads", "1", "--json"]))
    for k in ("active_units", "active_dims", "active_units2", "active_dims2"):
        if k in out:
            ev[k] = out[k]
    print(f"{r['row']}@{r['epochs']}: units {ev['active_units']}, dims {ev['active_dims']}")
with open(path + ".tmp", "w") as f:
    for r in rows:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
import os
os.replace(path + ".tmp", path)
