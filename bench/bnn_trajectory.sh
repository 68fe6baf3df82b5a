#!/bin/sh
# bench/bnn_trajectory.sh — a BNN run's metrics.jsonl as the Markdown table
# of docs/bnn.md: train NLL and KL / N (nats per image), test error, NLL
# and ECE, at the given epochs (default 1 10 25 50 100 200 300 400 500 600)
# and the last one, plus the best test error and its epoch.
#
#   sh bench/bnn_trajectory.sh RUN_DIR [EPOCH...]
set -eu
DIR=$1
shift
EPOCHS=${*:-1 10 25 50 100 200 300 400 500 600}
awk -v want=" $EPOCHS " '
function get(s, key) { if (match(s, "\"" key "\":[-0-9.e+]*")) return substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 3); return "" }
function row(l) { printf "| %d | %.4f | %.2f | %.2f%% | %.4f | %.4f |\n", get(l, "epoch"), get(l, "train_nll"), get(l, "train_kl"), 100 * (1 - get(l, "test_accuracy")), get(l, "test_pred_nll"), get(l, "test_ece") }
BEGIN { print "| epoch | train NLL | KL / N | test error | test NLL | test ECE |"; print "| ---: | ---: | ---: | ---: | ---: | ---: |" }
{ e = get($0, "epoch"); last = $0; err = 1 - get($0, "test_accuracy")
  if (best == "" || err < best) { best = err; be = e }
  if (index(want, " " e " ")) { row($0); shown = e } }
END { if (get(last, "epoch") != shown) row(last)
      printf "\nbest test error %.2f%% at epoch %d of %d\n", 100 * best, be, get(last, "epoch") }' "$DIR/metrics.jsonl"
