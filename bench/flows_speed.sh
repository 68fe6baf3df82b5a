#!/bin/sh
# bench/flows_speed.sh — elbo's planar-flow VAE against the same model in
# current PyTorch (bench/planar_torch.py: dev/make_flow_fixture.py's FlowVAE,
# 784-200-200-50 softplus, K amortised planar layers, dynamically binarized
# MNIST, batches of 100, Adam 1e-3, the one-sample -ELBO), in one run on one
# machine; ROUNDS rounds alternate the two (bench/speed_lib.sh). Appends to
# bench/RESULTS.md.
#
#   sh bench/flows_speed.sh [EPOCHS] [ROUNDS] [K] [THREADS...]   (defaults 3, 3, 10, "1 2")
# The PyTorch side needs a venv with torch from PyPI:
#   python3 -m venv runs/venv && runs/venv/bin/pip install torch numpy
# (VENV=DIR to use another). Run it on an otherwise idle machine.
set -eu
EPOCHS=${1:-3}
ROUNDS=${2:-3}
K=${3:-10}
shift 3 2>/dev/null || shift $#
THREADS=${*:-1 2}
VENV=${VENV:-runs/venv}
DATA=${ELBO_DATA:-data/mnist}
ELBO=${ELBO:-build/elbo}
OUT=$(mktemp -d /tmp/elbo-flows-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
. "$(dirname "$0")/speed_lib.sh"
speed_setup "epochs $EPOCHS; rounds $ROUNDS; K $K; threads $THREADS"
peer_epoch_s() {
    "$VENV/bin/python" bench/planar_torch.py "$DATA" "$EPOCHS" "$1" "$K" > "$OUT/torch.log"
    peer_log_s "$OUT/torch.log" "$EPOCHS"
}
elbo_epoch_s() {
    rm -rf "$OUT/run"
    "$ELBO" train --flow planar --flow-len "$K" --hidden 200,200 --latent 50 --activation softplus \
        --binarize dynamic --batch 100 --epochs "$EPOCHS" --threads "$1" --no-test --quiet \
        --data "$DATA" --out "$OUT/run"
    elbo_log_s "$OUT/run/metrics.jsonl"
}
speed_rounds "$THREADS" "$ROUNDS"
{
    echo ""
    echo "## Planar-flow VAE, elbo vs PyTorch $torch_v — $(date +%Y-%m-%d)"
    echo ""
    echo "\`sh bench/flows_speed.sh $EPOCHS $ROUNDS $K $THREADS\` on $cpu, $(nproc) cores. 784-200-200-50 softplus,"
    echo "K = $K planar layers amortised (the encoder's head emits K(2Z+1) numbers per image), Bernoulli,"
    echo "dynamically binarized MNIST (60,000 images), batches of 100, Adam 1e-3, one-sample -ELBO; the"
    echo "PyTorch side is bench/planar_torch.py (dev/make_flow_fixture.py's FlowVAE in float32, eager)."
    echo "Seconds per training epoch (median over the epochs after the first, then over rounds), both at the"
    echo "same thread count."
    echo ""
    echo "| threads | PyTorch s/epoch | elbo s/epoch | elbo faster by | rounds |"
    echo "| ---: | ---: | ---: | ---: | --- |$report"
} >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
