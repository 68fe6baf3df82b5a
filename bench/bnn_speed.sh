#!/bin/sh
# bench/bnn_speed.sh — elbo's Bayes by Backprop against the same network in
# current PyTorch (bench/bbb_torch.py: 784-400-400-10, local
# reparameterisation, closed-form Gaussian KL, Adam, batch 128, MNIST's
# first 50,000 images), in one run on one machine. For each thread count,
# ROUNDS rounds alternate the two; each gives its median seconds per
# training epoch over the epochs after the first, and the report gives
# every round's ratio and the median. Appends to bench/RESULTS.md.
#
#   sh bench/bnn_speed.sh [EPOCHS] [ROUNDS] [THREADS...]   (defaults 3, 3, "1 2")
# The PyTorch side needs a venv with torch from PyPI:
#   python3 -m venv runs/venv && runs/venv/bin/pip install torch numpy
# (VENV=DIR to use another). Run it on an otherwise idle machine.
set -eu
EPOCHS=${1:-3}
ROUNDS=${2:-3}
shift 2 2>/dev/null || shift $#
THREADS=${*:-1 2}
VENV=${VENV:-runs/venv}
DATA=${ELBO_DATA:-data/mnist}
ELBO=${ELBO:-build/elbo}
OUT=$(mktemp -d /tmp/elbo-bnn-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
. "$(dirname "$0")/speed_lib.sh"
speed_setup "epochs $EPOCHS; rounds $ROUNDS; threads $THREADS"
peer_epoch_s() {
    "$VENV/bin/python" bench/bbb_torch.py "$DATA" "$EPOCHS" "$1" > "$OUT/torch.log"
    peer_log_s "$OUT/torch.log" "$EPOCHS"
}
elbo_epoch_s() {
    rm -rf "$OUT/run"
    "$ELBO" train --kind bnn --hidden 400,400 --train-limit 50000 --epochs "$EPOCHS" --threads "$1" \
        --no-test --quiet --data "$DATA" --out "$OUT/run"
    elbo_log_s "$OUT/run/metrics.jsonl"
}
speed_rounds "$THREADS" "$ROUNDS"
{
    echo ""
    echo "## Bayes by Backprop, elbo vs PyTorch $torch_v — $(date +%Y-%m-%d)"
    echo ""
    echo "\`sh bench/bnn_speed.sh $EPOCHS $ROUNDS $THREADS\` on $cpu, $(nproc) cores. 784-400-400-10,"
    echo "local reparameterisation, Gaussian prior N(0, 0.1²), Adam, batch 128, 50,000 MNIST images;"
    echo "seconds per training epoch (median over the epochs after the first, then over rounds),"
    echo "both sides at the same thread count."
    echo ""
    echo "| threads | PyTorch s/epoch | elbo s/epoch | elbo faster by | rounds |"
    echo "| ---: | ---: | ---: | ---: | --- |$report"
} >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
