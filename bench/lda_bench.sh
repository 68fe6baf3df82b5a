#!/bin/sh
# bench/lda_bench.sh — elbo's LDA against scikit-learn (online and batch)
# and gensim on the same counts, for the LDA issue's protocol: the State of
# the Union corpus (../shared/data/sotu) prepared once by `elbo lda prepare`
# (pseudo-documents of >= 100 words, min_df 5, max_df 0.5, scikit-learn's
# English stop words, a 90/10 split), K = 20 and 50, seeds 1..5.
#
#   sh bench/lda_bench.sh [STAGE]    STAGE: peers, elbo, eval, report, or all (default)
#
# peers: each peer fit (bench/lda_peers.py, a PyPI venv in runs/venv) writes
#        its lambda to runs/lda_bench/NAME.npy and a line with its wall time
#        to bench/lda_fits.jsonl (one thread each; a fit already there is
#        skipped, so the stage can be rerun after a stop)
# elbo:  elbo's fits (one thread, and two), with per-pass test figures
# eval:  every lambda through `elbo lda eval` (one E-step implementation
#        for all: scikit-learn's definitions; scikit-learn's own perplexity
#        is kept beside it as a check) into bench/lda_eval.jsonl
# report: the tables (bench/lda_report.py) appended to bench/RESULTS.md
#
# The runs, by name (K and seed appended):
#   sklearn-online-default  LatentDirichletAllocation(learning_method='online'): batch 128,
#                           learning_offset 10, learning_decay 0.7, 10 passes
#   sklearn-batch-default   learning_method='batch', 10 passes
#   sklearn-online-matched  batch 512, offset 16, decay 0.7, 10 passes (elbo's online settings)
#   gensim-default          LdaModel: chunksize 2000, offset 1, decay 0.5, 1 pass, 50 iterations
#   gensim-matched          chunksize 512, offset 16, decay 0.7, 10 passes, 100 iterations
#   elbo-default            elbo lda train's defaults: online, batch 2048, tau0 4, kappa 0.7,
#                           alpha re-estimated, 20 passes
#   elbo-batch-alpha        batch VI, alpha re-estimated, 50 passes
#   elbo-batch10            batch VI, alpha fixed, 10 passes (the match of sklearn-batch-default)
#   elbo-online-matched     online, batch 512, tau0 16, kappa 0.7, alpha fixed, 10 passes (the
#                           match of sklearn-online-matched and gensim-matched)
#   elbo-online-alpha       the same with alpha re-estimated, 20 passes
# All with eta = 1/K, alpha = 1/K (at the start, where re-estimated) and E-step
# limits 100 iterations / 1e-3 mean change (gensim-default: its own 50 iterations).
set -eu
STAGE=${1:-all}
E=${ELBO:-build/elbo}
PY=${LDA_PY:-runs/venv/bin/python}
D=runs/lda_bench
C=$D/corpus
FITS=bench/lda_fits.jsonl
EVALS=bench/lda_eval.jsonl
KS=${LDA_KS:-20 50}
SEEDS=${LDA_SEEDS:-1 2 3 4 5}
mkdir -p $D
if [ ! -s $C/train.ldac ]; then
    $E lda prepare --input ../shared/data/sotu --out $C --chunk 100 --min-df 5 --max-df 0.5 \
        --stop-words english --test-fraction 0.1 --seed 1
fi
V=$(wc -l < $C/vocab.txt)
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')

have() { [ -f "$1" ] && grep -q "\"name\": \"$2\"" "$1"; }

peer() { # NAME PEER K SEED ARGS...
    name=$1; p=$2; k=$3; s=$4; shift 4
    have $FITS "$name" && return 0
    echo "fit $name" >&2
    line=$($PY bench/lda_peers.py "$p" $C/train.ldac $C/test.ldac "$V" $D/$name.npy --topics "$k" --seed "$s" "$@")
    echo "$line" | sed "s/^{/{\"name\": \"$name\", \"K\": $k, \"seed\": $s, \"threads\": 1, \"cpu\": \"$cpu\", \"date\": \"$(date -u +%F)\", /" >> $FITS
}

elbo_fit() { # NAME K SEED THREADS ARGS...
    name=$1; k=$2; s=$3; t=$4; shift 4
    have $FITS "$name" && return 0
    echo "fit $name" >&2
    $E lda train --data $C/train.ldac --test $C/test.ldac --topics "$k" --seed "$s" --threads "$t" \
        --out $D/$name --force --quiet "$@"
    cp $D/$name/lambda.npy $D/$name.npy
    secs=$(awk -F'"seconds":' '{split($2, a, "}"); s += a[1]} END {printf "%.3f", s}' $D/$name/metrics.jsonl)
    echo "{\"name\": \"$name\", \"K\": $k, \"seed\": $s, \"threads\": $t, \"cpu\": \"$cpu\", \"date\": \"$(date -u +%F)\", \"peer\": \"elbo\", \"seconds\": $secs}" >> $FITS
}

if [ "$STAGE" = peers ] || [ "$STAGE" = all ]; then
    for k in $KS; do for s in $SEEDS; do
        peer gensim-default-K$k-s$s gensim "$k" "$s" --passes 1 --estep-iters 50
        peer sklearn-online-default-K$k-s$s sklearn-online "$k" "$s" --passes 10
        peer sklearn-online-matched-K$k-s$s sklearn-online "$k" "$s" --passes 10 --batch 512 --tau0 16 --kappa 0.7
        peer sklearn-batch-default-K$k-s$s sklearn-batch "$k" "$s" --passes 10
        peer gensim-matched-K$k-s$s gensim "$k" "$s" --passes 10 --batch 512 --tau0 16 --kappa 0.7
    done; done
fi
if [ "$STAGE" = elbo ] || [ "$STAGE" = all ]; then
    for k in $KS; do for s in $SEEDS; do
        elbo_fit elbo-default-K$k-s$s "$k" "$s" 1
        elbo_fit elbo-batch-alpha-K$k-s$s "$k" "$s" 1 --method batch --estimate-alpha 1 --epochs 50
        elbo_fit elbo-batch10-K$k-s$s "$k" "$s" 1 --method batch --estimate-alpha 0 --epochs 10
        elbo_fit elbo-online-matched-K$k-s$s "$k" "$s" 1 --method online --batch 512 --tau0 16 --kappa 0.7 \
            --estimate-alpha 0 --epochs 10
        elbo_fit elbo-online-alpha-K$k-s$s "$k" "$s" 1 --method online --batch 512 --tau0 16 --kappa 0.7 --epochs 20
    done; done
fi
if [ "$STAGE" = eval ] || [ "$STAGE" = all ]; then
    : > $EVALS.tmp
    for f in $D/*.npy; do
        name=$(basename "$f" .npy)
        k=$(echo "$name" | sed 's/.*-K\([0-9]*\)-s.*/\1/')
        src="--lambda $f" # elbo's own fits with their (maybe re-estimated) alpha
        [ -d "$D/$name" ] && src="--model $D/$name"
        line=$($E lda eval $src --data $C/test.ldac --train-data $C/train.ldac --threads 2 --json)
        echo "$line" | sed "s/^{/{\"name\": \"$name\", \"K\": $k, /" >> $EVALS.tmp
    done
    mv $EVALS.tmp $EVALS
fi
if [ "$STAGE" = report ] || [ "$STAGE" = all ]; then
    /usr/bin/python3 bench/lda_report.py $FITS $EVALS $D | tee -a bench/RESULTS.md
fi
