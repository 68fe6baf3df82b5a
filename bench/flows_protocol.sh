#!/bin/sh
# bench/flows_protocol.sh — the flows / hierarchical VAE table (docs/flows.md):
# dynamically binarized MNIST, every row the same encoder and decoder
# (784-200-200 as Burda et al. 2015, softplus), batch 100, Adam 1e-3, the same
# number of epochs; scored on the 10,000 test images by the one-sample
# -ELBO and the importance-weighted estimate of -log p(x) with K = 5000.
# One JSON line per row is appended to bench/flows_runs.jsonl; the table is
# made by bench/flows_report.py.
#
#   sh bench/flows_protocol.sh EPOCHS "ROWS..."
#     ROWS from: diag planar10 planar20 planar40 planar80 iaf hvae hiwae5
#                iwae5 (one stochastic layer trained as an IWAE, k = 5: the
#                objective's share of hiwae5's gain)
#                and any of them + "wu" (diagwu, planar40wu, hvaewu, ...): the
#                same row with the KL weight warmed up from 0 to 1 over the
#                first 10 epochs (Sonderby et al. 2016), which keeps the
#                second layer from collapsing
#   e.g. sh bench/flows_protocol.sh 50 "diag planar10 iaf"
# Runs go to runs/flows/ROW, checkpointed every epoch: rerunning the script
# with more EPOCHS resumes a row instead of starting it again (the paper
# budgets). THREADS (default 1) sets the worker threads, IWK the K, SEED
# (default 1) the training seed: other seeds run in runs/flows/ROW_sSEED
# and measure the spread between training runs (bench/flows_report.py).
set -eu
EPOCHS=$1
ROWS=$2
ELBO=${ELBO:-build/elbo}
THREADS=${THREADS:-1}
IWK=${IWK:-5000}
SEED=${SEED:-1}
OUT=${OUT:-bench/flows_runs.jsonl}
cpu=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
common="--hidden 200,200 --latent 50 --activation softplus --binarize dynamic --batch 100"
for row in $ROWS; do
    case "$row" in
        *wu) base=${row%wu}; wu="--kl-warmup 10" ;;
        *) base=$row; wu="" ;;
    esac
    case "$base" in
        diag) opts="" ;;
        planar*) opts="--flow planar --flow-len ${base#planar}" ;;
        iaf) opts="--flow iaf --flow-len 2" ;;
        iwae5) opts="--objective iwae --samples 5" ;;
        hvae) opts="--latent 100 --latent2 50 --hidden2 100,100" ;;
        hiwae5) opts="--latent 100 --latent2 50 --hidden2 100,100 --objective iwae --samples 5" ;;
        *) echo "unknown row '$row'" >&2; exit 2 ;;
    esac
    opts="$opts${wu:+ $wu}"
    dir=runs/flows/$row
    [ "$SEED" = 1 ] || dir=${dir}_s$SEED
    mkdir -p runs/flows
    t0=$(date +%s)
    if [ -f "$dir/optim.safetensors" ]; then
        "$ELBO" train --resume --epochs "$EPOCHS" --out "$dir" --threads "$THREADS" --quiet
    else
        # shellcheck disable=SC2086
        "$ELBO" train $common $opts --seed "$SEED" --epochs "$EPOCHS" --threads "$THREADS" --out "$dir" --force --quiet
    fi
    wall=$(( $(date +%s) - t0 ))
    t1=$(date +%s)
    ev=$("$ELBO" eval --model "$dir" --iw "$IWK" --threads "$THREADS" --json)
    iw_wall=$(( $(date +%s) - t1 ))
    last=$(tail -1 "$dir/metrics.jsonl")
    au=$(echo "$last" | sed -n 's/.*"active_units":\([0-9]*\).*/\1/p')
    au2=$(echo "$last" | sed -n 's/.*"active_units2":\([0-9]*\).*/\1/p')
    ep=$(echo "$last" | sed -n 's/.*"epoch":\([0-9]*\).*/\1/p')
    spe=$(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' "$dir/metrics.jsonl" | awk '{s+=$1; n++} END {printf "%.3f", s/n}')
    echo "{\"date\":\"$(date +%Y-%m-%d)\",\"cpu\":\"$cpu\",\"threads\":$THREADS,\"row\":\"$row\",\"seed\":$SEED,\"commit\":\"$commit\",\"epochs\":$ep,\"options\":\"$common $opts\",\"eval\":$ev,\"active_units\":${au:-null},\"active_units2\":${au2:-null},\"seconds_per_epoch\":$spe,\"train_wall\":$wall,\"iw_wall\":$iw_wall}" >> "$OUT"
    echo "$row: epoch $ep, $(echo "$ev" | sed 's/.*"log_px":\([-0-9.]*\).*/log p(x) >= \1/')"
done
