#!/bin/sh
# bench/bnn_diabetes.sh — Bayesian regression on scikit-learn's diabetes
# data (442 patients, 10 features, a disease-progression score; shipped by
# Debian's python3-sklearn), 5-fold: fold k holds out the rows whose line
# number is k mod 5. In every fold three networks of the same size
# (10-50-1, ReLU, standardized inputs and target, learned noise variance)
# train on the other 4/5, each selecting its epoch by the loss on a seeded
# fifth of its training rows (--val-fraction 0.2 --early-stop 30, at most
# 1000 epochs):
#   bnn      Bayes by Backprop, rho_init -5, prior N(0, s^2) with s chosen
#            from {0.1, 0.3, 1} by the validation loss (the negative ELBO
#            per example: held-out NLL + KL / N), never by the test fold
#   point    the deterministic network (maximum likelihood)
#   dropout  the same with dropout 0.2 and MC-dropout predictions
# Each is scored on its held-out fold with 100 draws: RMSE, NLL (nats per
# row) and the coverage of the central 50/90/95% predictive intervals.
# Prints one line per fold and model, then the means, as a Markdown table.
#
#   sh bench/bnn_diabetes.sh [OUT]      (default runs/diabetes; ~1 min)
set -eu
OUT=${1:-runs/diabetes}
ELBO=${ELBO:-build/elbo}
SK=${SK:-/usr/lib/python3/dist-packages/sklearn/datasets/data}
mkdir -p "$OUT"
COMMON="--kind bnn --task regress --standardize --hidden 50 --batch 32 --lr 3e-3 --epochs 1000
        --val-fraction 0.2 --early-stop 30 --threads 1 --quiet --force"
: > "$OUT/folds.txt"
for k in 0 1 2 3 4; do
    for part in data target; do
        gzip -dc "$SK/diabetes_${part}$( [ $part = data ] && echo _raw).csv.gz" |
            awk -v k=$k '(NR - 1) % 5 != k' > "$OUT/train_$part.csv"
        gzip -dc "$SK/diabetes_${part}$( [ $part = data ] && echo _raw).csv.gz" |
            awk -v k=$k '(NR - 1) % 5 == k' > "$OUT/test_$part.csv"
    done
    for model in bnn-0.1 bnn-0.3 bnn-1 point dropout; do
        case $model in
        bnn-*) opt="--prior-sigma ${model#bnn-} --rho-init -5" ;;
        point) opt="--weights point" ;;
        dropout) opt="--weights point --dropout 0.2" ;;
        esac
        # shellcheck disable=SC2086
        "$ELBO" train $COMMON $opt --data "$OUT/train_data.csv" --targets "$OUT/train_target.csv" \
            --no-test --out "$OUT/$model-$k"
    done
    # the prior with the lowest validation loss (at its best epoch)
    best=$(for s in 0.1 0.3 1; do
        printf '%s ' "$s"; grep -o '"val_loss":[-0-9.e+]*' "$OUT/bnn-$s-$k/metrics.jsonl" | cut -d: -f2 | sort -g | head -1
    done | sort -g -k2 | head -1 | cut -d' ' -f1)
    for model in "bnn-$best" point dropout; do
        r=$("$ELBO" bnn eval --model "$OUT/$model-$k/best.safetensors" --data "$OUT/test_data.csv" \
            --targets "$OUT/test_target.csv" --samples 100 --json)
        ep=$(sed -n 's/.*"best_epoch":\([0-9]*\).*/\1/p' "$OUT/$model-$k/metrics.jsonl" | tail -1)
        echo "$k ${model%%-*} ${ep:-?} $r ${model#bnn-}" >> "$OUT/folds.txt"
    done
done
awk '
function get(s, key,   m) { if (match(s, "\"" key "\":[-0-9.e+]*")) return substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 3); return "nan" }
{ m = $2; n[m]++; line = $0
  rm[m] += get(line, "rmse"); nl[m] += get(line, "nll")
  c5[m] += get(line, "coverage50"); c9[m] += get(line, "coverage90"); c95[m] += get(line, "coverage95")
  printf "fold %s  %-8s %-10s best epoch %-4s RMSE %6.2f  NLL %.3f  coverage %.1f / %.1f / %.1f%%\n", $1, m, m == "bnn" ? "prior " $5 : "", $3, get(line, "rmse"), get(line, "nll"), 100 * get(line, "coverage50"), 100 * get(line, "coverage90"), 100 * get(line, "coverage95") }
END {
  print ""
  print "| model | RMSE | NLL | 50% interval | 90% interval | 95% interval |"
  print "| --- | ---: | ---: | ---: | ---: | ---: |"
  split("bnn point dropout", order, " ")
  for (i = 1; i <= 3; i++) { m = order[i]; if (!n[m]) continue
    printf "| %s | %.2f | %.3f | %.1f%% | %.1f%% | %.1f%% |\n", m, rm[m] / n[m], nl[m] / n[m], 100 * c5[m] / n[m], 100 * c9[m] / n[m], 100 * c95[m] / n[m] }
}' "$OUT/folds.txt"
