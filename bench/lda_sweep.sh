#!/bin/sh
# bench/lda_sweep.sh — the settings behind elbo lda train's defaults: batch
# and online VI (minibatch size, tau0), with alpha fixed at 1/K or
# re-estimated, on the SOTU corpus
# of bench/lda_bench.sh (prepared there), K = 20 and 50, seed 1, one thread.
# Prints one line per setting: test perplexity (documents only), document
# completion, and the fit's seconds (the sum of metrics.jsonl's epochs).
# A setting already fitted in runs/lda_sweep is evaluated again, not refitted.
#
#   sh bench/lda_sweep.sh
set -eu
E=${ELBO:-build/elbo}
C=runs/lda_bench/corpus
D=runs/lda_sweep
[ -s $C/train.ldac ] || { echo "prepare the corpus first: sh bench/lda_bench.sh peers (or its prepare step)" >&2; exit 1; }
mkdir -p $D
run() { # NAME K ARGS...
    name=$1; k=$2; shift 2
    [ -s $D/$name-K$k/metrics.jsonl ] && [ -s $D/$name-K$k/topics.json ] ||
    $E lda train --data $C/train.ldac --no-test --topics "$k" --seed 1 --threads 1 --out $D/$name-K$k --force --quiet "$@" >/dev/null 2>&1
    secs=$(awk -F'"seconds":' '{split($2, a, "}"); s += a[1]} END {printf "%.1f", s}' $D/$name-K$k/metrics.jsonl)
    $E lda eval --model $D/$name-K$k --data $C/test.ldac --json |
        awk -v n="$name" -v k="$k" -v s="$secs" -F'[:,]' '{for (i = 1; i < NF; i++) {
            if ($i == "\"perplexity_docs\"") p = $(i + 1); if ($i == "\"completion_perplexity\"") c = $(i + 1) }
            printf "K %-3s %-34s perplexity (docs) %8.1f  completion %8.1f  %6s s\n", k, n, p, c, s }'
}
for k in 20 50; do
    run batch50-alpha-fixed "$k" --method batch --estimate-alpha 0 --epochs 50
    run batch50-alpha-estimated "$k" --method batch --estimate-alpha 1 --epochs 50
    run online2048-tau4-alpha-estimated "$k" --method online --batch 2048 --tau0 4 --estimate-alpha 1 --epochs 20
    run online1024-tau16-alpha-estimated "$k" --method online --batch 1024 --tau0 16 --estimate-alpha 1 --epochs 20
    run online512-tau16-alpha-fixed "$k" --method online --batch 512 --tau0 16 --estimate-alpha 0 --epochs 20
    run online512-tau16-alpha-estimated "$k" --method online --batch 512 --tau0 16 --estimate-alpha 1 --epochs 20
    run online256-tau64-alpha-fixed "$k" --method online --batch 256 --tau0 64 --estimate-alpha 0 --epochs 20
    run online128-tau10-alpha-fixed "$k" --method online --batch 128 --tau0 10 --estimate-alpha 0 --epochs 10
    run online1024-tau1024-alpha-fixed "$k" --method online --batch 1024 --tau0 1024 --estimate-alpha 0 --epochs 20
done
