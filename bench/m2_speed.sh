#!/bin/sh
# bench/m2_speed.sh — elbo's M2 against the same model in current PyTorch
# (bench/m2_torch.py: classifier 784-500-10, encoder [x,y]-500-50, decoder
# [z,y]-500-784, softplus, every class enumerated for unlabelled rows, Adam,
# batches of 100 with 10 labelled, 100 labels, one epoch = a pass over the
# unlabelled rows of MNIST's first 50,000 images), in one run on one
# machine. For each thread count, ROUNDS rounds alternate the two; each
# gives its median seconds per training epoch over the epochs after the
# first, and the report gives every round's ratio and the median. Appends
# to bench/RESULTS.md.
#
#   sh bench/m2_speed.sh [EPOCHS] [ROUNDS] [THREADS...]   (defaults 3, 3, "1 2")
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
OUT=$(mktemp -d /tmp/elbo-m2-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
. "$(dirname "$0")/speed_lib.sh"
speed_setup "epochs $EPOCHS; rounds $ROUNDS; threads $THREADS"
peer_epoch_s() {
    "$VENV/bin/python" bench/m2_torch.py "$DATA" "$EPOCHS" "$1" > "$OUT/torch.log"
    peer_log_s "$OUT/torch.log" "$EPOCHS"
}
elbo_epoch_s() {
    rm -rf "$OUT/run"
    "$ELBO" m2 train --labels 100 --val-fraction 0 --train-limit 50000 --epochs "$EPOCHS" --threads "$1" \
        --no-test --quiet --data "$DATA" --out "$OUT/run"
    elbo_log_s "$OUT/run/metrics.jsonl"
}
speed_rounds "$THREADS" "$ROUNDS"
{
    echo ""
    echo "## M2 (semi-supervised), elbo vs PyTorch $torch_v — $(date +%Y-%m-%d)"
    echo ""
    echo "\`sh bench/m2_speed.sh $EPOCHS $ROUNDS $THREADS\` on $cpu, $(nproc) cores. Classifier 784-500-10,"
    echo "encoder [x,y]-500-50, decoder [z,y]-500-784, softplus, Bernoulli, every class enumerated for the"
    echo "unlabelled rows, Adam, batches of 100 with 10 of the 100 labelled rows; an epoch is a pass over"
    echo "the 49,900 unlabelled rows of MNIST's first 50,000 images (555 steps of 90 unlabelled and 10"
    echo "labelled rows, 910 decoder rows each); seconds per training epoch (median over the epochs after the first, then"
    echo "over rounds), both sides at the same thread count."
    echo ""
    echo "| threads | PyTorch s/epoch | elbo s/epoch | elbo faster by | rounds |"
    echo "| ---: | ---: | ---: | ---: | --- |$report"
} >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
