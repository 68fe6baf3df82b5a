#!/bin/sh
# iwae_protocol.sh — the IWAE paper's MNIST protocol (Burda et al. 2015,
# sec. 5) with the elbo CLI: a 784-200-200-50 tanh MLP, dynamic binarization,
# Adam (eps 1e-4), batch 20, and the paper's schedule of 3280 epochs: eight
# stages, stage i running 3^i epochs at learning rate 1e-3 * 10^(-i/7); then
# the test log-likelihood with K = 5000 importance samples.
#
#   sh dev/iwae_protocol.sh OUT [K] [THREADS]
#
# K = 1 trains the VAE (the paper reports -86.76), K > 1 the IWAE on the
# K-sample bound (-84.78 for K = 50). Stages resume from OUT, so the script
# can be stopped (Ctrl-C saves a checkpoint) and run again. Expect about 11 s
# per epoch for K = 1 on one core of this 2-core machine: ~10 hours in all.
set -eu
OUT=${1:?usage: iwae_protocol.sh OUT [K] [THREADS]}
K=${2:-1}
THREADS=${3:-0}
ELBO=${ELBO:-build/elbo}
OBJ=""
[ "$K" -gt 1 ] && OBJ="--objective iwae --samples $K"
T=""
[ "$THREADS" -gt 0 ] && T="--threads $THREADS"
total=0
for i in 0 1 2 3 4 5 6 7; do
    total=$((total + $(awk "BEGIN{print 3^$i}")))
    lr=$(awk "BEGIN{printf \"%.6g\", 1e-3 * 10^(-$i/7)}")
    resume=""
    [ -e "$OUT/model.safetensors" ] && resume="--resume"
    echo "stage $i: to epoch $total at lr $lr"
    $ELBO train $resume --hidden 200,200 --latent 50 --activation tanh --binarize dynamic \
        --batch 20 --adam-eps 1e-4 --lr "$lr" --epochs "$total" --no-test --quiet $OBJ $T --out "$OUT"
done
$ELBO eval --model "$OUT" --iw 5000 $T
