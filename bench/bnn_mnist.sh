#!/bin/sh
# bench/bnn_mnist.sh — the Bayes-by-Backprop MNIST protocol of Blundell et
# al. (2015) as far as elbo implements it: 784-400-400-10 with ReLU, trained
# on the first 50,000 training images for 600 epochs (batch 128, Adam lr
# 1e-3), a Gaussian prior N(0, PRIOR^2), or with PRIOR = mixture Blundell's
# scale mixture 0.5 N(0, 1) + 0.5 N(0, e^-12) (--prior mixture), the 10,000
# test images evaluated
# after every epoch (error, NLL, ECE of the mean over 10 posterior draws in
# metrics.jsonl). Resumable: run it again and it continues from the last
# checkpoint (every 10 epochs).
#
#   sh bench/bnn_mnist.sh [OUT] [PRIOR] [THREADS] [EPOCHS]
#   defaults: runs/bnn-mnist, 1, 1 thread (so the other core stays free), 600
set -eu
OUT=${1:-runs/bnn-mnist}
PRIOR=${2:-1}
THREADS=${3:-1}
EPOCHS=${4:-600}
ELBO=${ELBO:-build/elbo}
if [ -f "$OUT/optim.safetensors" ]; then
    exec "$ELBO" train --resume --out "$OUT" --epochs "$EPOCHS"
fi
if [ "$PRIOR" = mixture ]; then PRIOR_OPT="--prior mixture"; else PRIOR_OPT="--prior-sigma $PRIOR"; fi
# shellcheck disable=SC2086
exec "$ELBO" train --kind bnn --hidden 400,400 $PRIOR_OPT --train-limit 50000 \
    --epochs "$EPOCHS" --threads "$THREADS" --checkpoint-every 10e --out "$OUT"
