#!/bin/sh
# bench/bnn_sgd.sh — Blundell et al.'s MNIST protocol as the paper states it:
# 784-400-400-10, the scale-mixture prior (elbo's default 0.5 N(0,1) +
# 0.5 N(0,e^-12)), plain SGD at lr 1e-3 on the batch's summed loss (the
# paper's minibatch cost F_i), batch 128, inputs x / 126 (--scale 2.0238 of
# x / 255), the first 50,000 training images, 600 epochs, 1 thread. Test error
# of the 10-draw predictive after every epoch in OUT/metrics.jsonl; resumable:
# run it again with the same OUT to continue after an interruption.
#
#   sh bench/bnn_sgd.sh [OUT] [EPOCHS] [RHO_INIT] [MOMENTUM] [LR_DECAY]
#   (defaults runs/sgd/blundell, 600, -6, 0: plain SGD as the paper, 1: constant);
#   SEED=N for another seed (default 1), PRIOR=gaussian for the Gaussian prior
#   N(0, 0.1^2) (KL in closed form; default mixture), EXTRA="..." for more
#   training options (a new run only), SPLIT=val for the 60,000 training
#   images split 50,000 / 10,000 by the seed, the epoch of the lowest
#   validation error of one draw kept in OUT/best.safetensors (score it with
#   `elbo bnn eval --model OUT/best.safetensors`), SPLIT=tail for the same
#   with the customary split: the first 50,000 train, the last 10,000
#   validate (--val-tail, as in the mnist.pkl.gz of the deep-learning
#   tutorials that the 2015 papers used)
set -eu
OUT=${1:-runs/sgd/blundell}
EPOCHS=${2:-600}
RHO=${3:--6}
MOM=${4:-0}
DECAY=${5:-1}
SEED=${SEED:-1}
PRIOR=${PRIOR:-mixture}
EXTRA=${EXTRA:-}
case "${SPLIT:-first}" in
    val) rows="--val-fraction 0.16666666666666666" ;;
    tail) rows="--val-fraction 0.16666666666666666 --val-tail" ;;
    *) rows="--train-limit 50000" ;;
esac
ELBO=${ELBO:-build/elbo}
if [ -f "$OUT/optim.safetensors" ]; then
    exec "$ELBO" train --resume --out "$OUT" --epochs "$EPOCHS" --threads 1
fi
exec "$ELBO" train --kind bnn --hidden 400,400 --prior "$PRIOR" $rows \
    --optimizer sgd --momentum "$MOM" --lr 1e-3 --lr-decay "$DECAY" --scale 2.0238 --rho-init "$RHO" --epochs "$EPOCHS" --threads 1 \
    --seed "$SEED" --checkpoint-every 10e $EXTRA --out "$OUT"
