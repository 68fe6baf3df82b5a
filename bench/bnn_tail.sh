#!/bin/sh
# bench/bnn_tail.sh — the validation protocol of docs/bnn.md ("The 50,000 /
# 10,000 protocol", 2026-12-06): MNIST's customary split (the first 50,000
# training images train, the last 10,000 validate: --val-fraction 0.16667
# --val-tail), 784-400-400-10, the scale-mixture prior 0.5 N(0, s1^2) + 0.5
# N(0, e^-12) with s1 from Blundell et al.'s grid (-log s1 in {0, 1, 2}),
# SGD momentum 0.9, lr 1e-3 decaying 0.98 per epoch, inputs x / 126, rho -6,
# batch 128, 120 epochs, the weights' moving average (--ema 0.999), the
# epoch of the lowest validation error of one draw kept in best.safetensors
# and scored on the 10,000 test images. Runs go to runs/sgd/tail_s1eK_sSEED
# (K = -log s1; resumable), two at a time, 1 thread each (~10 minutes a
# pair on a 2-core Xeon); then the table (bench/bnn_select_report.py).
#
#   sh bench/bnn_tail.sh            the three priors on seed 1, then s1 = e^-1
#                                   and e^-2 on seeds 2-3 and e^-1 on 4-5,
#                                   and e^-1 without the average (seed 1)
set -eu
run() { # name seed sigma1 ema
    extra="--prior-sigma1 $3"
    [ "$4" != 0 ] && extra="$extra --ema $4"
    SPLIT=tail SEED=$2 EXTRA="$extra" sh bench/bnn_sgd.sh "runs/sgd/$1_s$2" 120 -6 0.9 0.98 > "runs/sgd/$1_s$2.log" 2>&1
}
mkdir -p runs/sgd
E0=1 E1=0.36787944 E2=0.13533528
run tail_s1e0 1 $E0 0.999 & run tail_s1e1 1 $E1 0.999; wait
run tail_s1e2 1 $E2 0.999 & run tail_s1e1 2 $E1 0.999; wait
run tail_s1e1 3 $E1 0.999 & run tail_s1e2 2 $E2 0.999; wait
run tail_s1e2 3 $E2 0.999 & run tail_s1e1 4 $E1 0.999; wait
run tail_s1e1 5 $E1 0.999 & run tail_s1e1raw 1 $E1 0; wait
python3 bench/bnn_select_report.py runs/sgd/tail_s1e0_s1 runs/sgd/tail_s1e1_s[1-5] runs/sgd/tail_s1e2_s[1-3] \
    runs/sgd/tail_s1e1raw_s1
