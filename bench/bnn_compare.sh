#!/bin/sh
# bench/bnn_compare.sh — the calibration and out-of-distribution table of
# docs/bnn.md: MNIST, 784-400-400-10 ReLU, trained on the first 50,000
# training images (batch 128, Adam lr 1e-3), scored on the 10,000 test
# images and told apart from Fashion-MNIST's 10,000 test images:
#   point    the deterministic network (point weights), EPOCHS epochs
#   dropout  the same with dropout 0.5 on both hidden layers, EPOCHS epochs;
#            predictions average 10 dropout masks (MC dropout)
#   bnn      Bayes by Backprop with the scale-mixture prior: the run in
#            BNN_RUN (bench/bnn_mnist.sh's, at whatever epoch it has
#            reached), else one trained here for EPOCHS epochs
# Each row: test error, NLL (nats per image), ECE (15 bins), Brier score
# and the OOD AUROC by predictive entropy and by mutual information (0.5
# for a point network, whose mutual information is 0), 10 draws, seed 1.
#
#   sh bench/bnn_compare.sh [OUT] [EPOCHS] [THREADS]   (defaults runs/compare, 50, 1)
# OPTS adds training options to every row, e.g. the SGD recipe of docs/bnn.md:
#   OPTS="--optimizer sgd --momentum 0.9 --lr-decay 0.98 --scale 2.0238" \
#   BNN_RUN=runs/sgd/mom09d98 sh bench/bnn_compare.sh runs/compare_sgd 120
# ROWS replaces the training rows (default --train-limit 50000) and PICK=best
# scores each run's best.safetensors (the epoch chosen on validation) instead
# of its last weights: the validation protocol of docs/bnn.md is
#   ROWS="--val-fraction 0.16667 --val-tail" PICK=best OPTS="--optimizer sgd \
#   --momentum 0.9 --lr-decay 0.98 --scale 2.0238 --ema 0.999" \
#   BNN_RUN=runs/sgd/tail_s1e1_s1 sh bench/bnn_compare.sh runs/compare_tail 120
set -eu
OUT=${1:-runs/compare}
EPOCHS=${2:-50}
THREADS=${3:-1}
ELBO=${ELBO:-build/elbo}
BNN_RUN=${BNN_RUN:-runs/bnn-mix}
OOD=${OOD:-/usr/share/datasets/fashion-mnist}
mkdir -p "$OUT"
ROWS=${ROWS:---train-limit 50000}
NET="--kind bnn --hidden 400,400 $ROWS --threads $THREADS --checkpoint-every 10e --quiet ${OPTS:-}"
train() { # name, options
    if [ -f "$OUT/$1/optim.safetensors" ]; then
        "$ELBO" train --resume --out "$OUT/$1" --epochs "$EPOCHS" --quiet >&2
    else
        # shellcheck disable=SC2086
        "$ELBO" train $NET $2 --epochs "$EPOCHS" --out "$OUT/$1"
    fi
}
train point "--weights point"
train dropout "--weights point --dropout 0.5"
if [ ! -f "$BNN_RUN/model.safetensors" ]; then
    BNN_RUN="$OUT/bnn"
    train bnn "--prior mixture"
fi
: > "$OUT/table.txt"
for row in "point:$OUT/point" "dropout:$OUT/dropout" "bnn:$BNN_RUN"; do
    name=${row%%:*}
    dir=${row#*:}
    ep=$(wc -l < "$dir/metrics.jsonl")
    model=$dir
    if [ "${PICK:-last}" = best ]; then
        model=$dir/best.safetensors
        ep=$(tail -1 "$dir/metrics.jsonl" | sed -n 's/.*"best_epoch":\([0-9]*\).*/\1/p')
    fi
    r=$("$ELBO" bnn eval --model "$model" --samples 10 --seed 1 --ood "$OOD" --json --threads "$THREADS")
    echo "$name $ep $r" >> "$OUT/table.txt"
done
awk '
function get(s, key) { if (match(s, "\"" key "\":[-0-9.e+na]*")) return substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 3); return "nan" }
BEGIN { print "| model | epochs | test error | NLL | ECE | Brier | OOD AUROC, entropy | OOD AUROC, mutual information |"
        print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" }
{ printf "| %s | %d | %.2f%% | %.4f | %.4f | %.4f | %.3f | %.3f |\n", $1, $2, 100 * get($0, "error"), get($0, "nll"),
  get($0, "ece"), get($0, "brier"), get($0, "ood_auroc_entropy"), get($0, "ood_auroc_mi") }' "$OUT/table.txt"
