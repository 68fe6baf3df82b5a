#!/bin/sh
# bench/m2_protocol.sh — the semi-supervised protocol of Kingma et al. (2014)
# for M2 and M1+M2 on MNIST: the 60,000 training images split 50,000 /
# 10,000 (train / validation, seeded), N labels balanced over the classes
# and drawn by --label-seed, the rest unlabelled; the epoch with the lowest
# validation error is kept (best.safetensors) and scored on the 10,000 test
# images. One JSON line per run is appended to bench/m2_runs.jsonl; the
# table is made by bench/m2_report.py.
#
#   sh bench/m2_protocol.sh KIND EPOCHS "N..." "SEEDS..." [extra train options]
#     KIND  m2 (on pixels), m2b (on pixels, a fresh binary draw of every
#           image every step: --binarize dynamic), m1m2 (on the latent means of the M1 in $M1,
#           default runs/m1_600: `elbo train --hidden 600,600 --latent 50
#           --epochs 40 --out runs/m1_600`, trained without labels) or
#           m1m2s (on draws from that M1's q(z1|x), --m1-sample, afresh
#           every step as in Kingma et al.'s code)
#   e.g. sh bench/m2_protocol.sh m1m2 100 "100 600 1000 3000" "1 2 3 4 5"
# Runs go to runs/m2p/KIND-N-SEED, or KIND$TAG-N-SEED with TAG set (e.g.
# TAG=ema for runs with --ema among the extra options), checkpointed each
# epoch: rerunning the script resumes an unfinished run instead of starting
# it again.
set -eu
KIND=$1
EPOCHS=$2
NS=$3
SEEDS=$4
shift 4
ELBO=${ELBO:-build/elbo}
M1=${M1:-runs/m1_600}
OUT=bench/m2_runs.jsonl
cpu=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')
case "$KIND" in
    m2) extra="" ;;
    m2b) extra="--binarize dynamic" ;;
    m1m2) extra="--m1 $M1" ;;
    m1m2s) extra="--m1 $M1 --m1-sample" ;;
    *) echo "KIND is m2, m2b, m1m2 or m1m2s" >&2; exit 2 ;;
esac
for n in $NS; do
    for s in $SEEDS; do
        dir=runs/m2p/$KIND${TAG:-}-$n-$s
        mkdir -p runs/m2p
        t0=$(date +%s)
        if [ -f "$dir/optim.safetensors" ]; then
            "$ELBO" m2 train --resume --epochs "$EPOCHS" --out "$dir" --quiet
        else
            # shellcheck disable=SC2086
            "$ELBO" m2 train --labels "$n" --label-seed "$s" --epochs "$EPOCHS" $extra "$@" --out "$dir" --force --quiet
        fi
        wall=$(( $(date +%s) - t0 ))
        ev=$("$ELBO" m2 eval --model "$dir/best.safetensors" --json)
        acc=$(echo "$ev" | sed -n 's/.*"accuracy":\([0-9.]*\).*/\1/p')
        best=$(grep -c . "$dir/metrics.jsonl")
        be=$(sed -n 's/.*"best_epoch":\([0-9]*\).*/\1/p' "$dir/metrics.jsonl" | tail -1)
        ve=$(grep "\"epoch\":${be:-0}," "$dir/metrics.jsonl" | sed -n 's/.*"val_error":\([0-9.e-]*\).*/\1/p')
        secs=$(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' "$dir/metrics.jsonl" | awk '{s+=$1} END {printf "%.1f", s}')
        line="{\"date\":\"$(date +%Y-%m-%d)\",\"cpu\":\"$cpu\",\"kind\":\"$KIND${TAG:-}\",\"labels\":$n,\"label_seed\":$s,\"epochs\":$best,\"best_epoch\":${be:-0},\"val_error\":${ve:-null},\"test_accuracy\":$acc,\"train_seconds\":$secs,\"wall_seconds\":$wall,\"options\":\"$*\"}"
        echo "$line" >> "$OUT"
        echo "$KIND N=$n seed=$s: test accuracy $acc (best epoch $be of $best, val error $ve), ${secs} s training"
    done
done
