#!/bin/sh
# bench/bnn_probes.sh — the short probes of docs/bnn.md ("Probes, 2026-12-03"):
# 784-400-400-10, the scale-mixture prior (elbo's default 0.5 N(0,1) +
# 0.5 N(0,e^-12)), first 50,000 training images, batch 128, Adam 1e-3,
# 1 thread each, two at a time (one per core). Test error etc. per epoch in
# OUT/NAME/metrics.jsonl; each run ends with a 10-draw test evaluation in
# OUT/NAME.log.
#
#   sh bench/bnn_probes.sh [OUT]   (default runs/bx; about 12 minutes on 2 cores)
set -eu
OUT=${1:-runs/bx}
ELBO=${ELBO:-build/elbo}
mkdir -p "$OUT"
run() { # NAME EPOCHS OPTIONS...
    n=$1 e=$2
    shift 2
    # shellcheck disable=SC2068
    "$ELBO" train --kind bnn --hidden 400,400 --prior mixture --train-limit 50000 --epochs "$e" \
        --threads 1 --checkpoint-every 10e --out "$OUT/$n" $@ > "$OUT/$n.log" 2>&1
}
run e1_blundell 30 --kl-weighting blundell & run e2_beta01 30 --beta 0.1 & wait
run e3_unif_d95 60 --lr-decay 0.95 & run e4_blun_d95 60 --kl-weighting blundell --lr-decay 0.95 & wait
grep 'posterior draws' "$OUT"/e*.log
