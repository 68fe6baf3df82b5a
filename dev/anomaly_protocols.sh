#!/bin/sh
# anomaly_protocols.sh — the two anomaly-detection protocols reported in the
# README, end to end with the elbo CLI. Usage (from the repository root):
#
#   sh dev/anomaly_protocols.sh [EPOCHS] [THREADS] [OUT]     (defaults: 10, all cores, runs/anomaly)
#
# (a) a VAE trained on MNIST (reference architecture, grey levels) scores the
#     MNIST test set (inliers) and the Fashion-MNIST test set (outliers) with
#     each score: -ELBO, IW -log p(x) (K = 100), reconstruction error;
# (b) for each digit D, a VAE trained on MNIST without D scores the MNIST
#     test set, the images of D being the outliers (-ELBO score).
# Prints markdown tables; needs Debian's dataset-fashion-mnist for (a).
set -eu
EPOCHS=${1:-10}
THREADS=${2:-0}
OUT=${3:-runs/anomaly}
ELBO=${ELBO:-build/elbo}
FASHION=/usr/share/datasets/fashion-mnist
T="--threads $THREADS"
[ "$THREADS" = 0 ] && T=""
mkdir -p "$OUT"

echo "## (a) MNIST (inliers) vs Fashion-MNIST (outliers), $EPOCHS epochs"
echo ""
echo "| score | AUROC | AUPRC |"
echo "| --- | ---: | ---: |"
[ -e "$OUT/all/model.safetensors" ] || $ELBO train --epochs "$EPOCHS" $T --quiet --no-test --out "$OUT/all"
for s in elbo iw recon; do
    r=$($ELBO score --model "$OUT/all" --inliers data/mnist --outliers "$FASHION" --score $s --iw 100 $T --json)
    echo "| $s | $(echo "$r" | sed 's/.*"auroc":\([0-9.]*\).*/\1/') | $(echo "$r" | sed 's/.*"auprc":\([0-9.]*\).*/\1/') |"
done

echo ""
echo "## (b) one digit held out of training, $EPOCHS epochs, score -ELBO"
echo ""
echo "| held-out digit | AUROC | AUPRC |"
echo "| ---: | ---: | ---: |"
for d in 0 1 2 3 4 5 6 7 8 9; do
    [ -e "$OUT/no$d/model.safetensors" ] ||
        $ELBO train --epochs "$EPOCHS" $T --quiet --no-test --exclude-digit $d --out "$OUT/no$d"
    r=$($ELBO score --model "$OUT/no$d" --outlier-digit $d $T --json)
    echo "| $d | $(echo "$r" | sed 's/.*"auroc":\([0-9.]*\).*/\1/') | $(echo "$r" | sed 's/.*"auprc":\([0-9.]*\).*/\1/') |"
done
