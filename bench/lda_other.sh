#!/bin/sh
# bench/lda_other.sh — elbo's LDA defaults on corpora other than SOTU, so
# that no setting holds for one corpus only: two small real corpora that
# ship inside gensim's PyPI wheel (runs/venv, built by bench/lda_bench.sh's
# instructions): lee_background.cor (300 Australian news stories, one per
# line, raw text) and head500.noblanks.cor (250 Wikipedia articles, one per
# line, already stemmed and without punctuation). Each is prepared with
# min_df 5, max_df 0.5, English stop words and a 90/10 split; K = 20,
# seeds 1..3; elbo's defaults (and with alpha fixed) and the peers' defaults, all evaluated by
# `elbo lda eval`. Prints a table and appends it to bench/RESULTS.md.
#
#   sh bench/lda_other.sh
set -eu
E=${ELBO:-build/elbo}
PY=${LDA_PY:-runs/venv/bin/python}
G=$($PY -c 'import gensim, os; print(os.path.join(os.path.dirname(gensim.__file__), "test", "test_data"))')
D=runs/lda_other
mkdir -p $D
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
out=$D/table.md
{
echo
echo "## LDA on two more corpora (bench/lda_other.sh), $(date -u +%F), $cpu"
echo
echo "K = 20, alpha = eta = 1/K, min_df 5, max_df 0.5, a 90/10 split; mean ± sd over seeds 1-3 of the test"
echo "perplexity per word (documents only / document completion; lower is better) and of the fit's seconds"
echo "(one thread; CPU seconds for the peers)."
echo
echo "| corpus | run | perplexity, documents only | document completion | s |"
echo "|---|---|---|---|---|"
} > $out
for corpus in lee_background head500.noblanks; do
    C=$D/$corpus
    [ -s $C/train.ldac ] || $E lda prepare --input $G/$corpus.cor --out $C --min-df 5 --max-df 0.5 \
        --test-fraction 0.1 --seed 1 >/dev/null
    V=$(wc -l < $C/vocab.txt)
    : > $D/$corpus.jsonl
    for s in 1 2 3; do
        $E lda train --data $C/train.ldac --test $C/test.ldac --topics 20 --seed $s --threads 1 \
            --out $D/$corpus-elbo-default-s$s --force --quiet
        secs=$(awk -F'"seconds":' '{split($2, a, "}"); t += a[1]} END {printf "%.3f", t}' $D/$corpus-elbo-default-s$s/metrics.jsonl)
        $E lda eval --model $D/$corpus-elbo-default-s$s --data $C/test.ldac --json |
            sed "s/^{/{\"run\": \"elbo-default\", \"seconds\": $secs, /" >> $D/$corpus.jsonl
        $E lda train --data $C/train.ldac --test $C/test.ldac --topics 20 --seed $s --threads 1 \
            --estimate-alpha 0 --out $D/$corpus-elbo-alpha-fixed-s$s --force --quiet
        secs=$(awk -F'"seconds":' '{split($2, a, "}"); t += a[1]} END {printf "%.3f", t}' $D/$corpus-elbo-alpha-fixed-s$s/metrics.jsonl)
        $E lda eval --model $D/$corpus-elbo-alpha-fixed-s$s --data $C/test.ldac --json |
            sed "s/^{/{\"run\": \"elbo-alpha-fixed\", \"seconds\": $secs, /" >> $D/$corpus.jsonl
        for p in sklearn-batch sklearn-online gensim; do
            passes=10; [ $p = gensim ] && passes=1
            line=$($PY bench/lda_peers.py $p $C/train.ldac $C/test.ldac "$V" $D/$corpus-$p-s$s.npy --topics 20 \
                --seed $s --passes $passes)
            secs=$(echo "$line" | sed 's/.*"cpu_seconds": \([0-9.]*\).*/\1/')
            $E lda eval --lambda $D/$corpus-$p-s$s.npy --data $C/test.ldac --json |
                sed "s/^{/{\"run\": \"$p-default\", \"seconds\": $secs, /" >> $D/$corpus.jsonl
        done
    done
    /usr/bin/python3 - "$D/$corpus.jsonl" "$corpus" >> $out <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for run in ['elbo-default', 'elbo-alpha-fixed', 'sklearn-batch-default', 'sklearn-online-default', 'gensim-default']:
    r = [x for x in rows if x['run'] == run]
    f = lambda k: '%.1f ± %.1f' % (st.mean(x[k] for x in r), st.stdev(x[k] for x in r))
    print('| %s | %s | %s | %s | %s |' % (sys.argv[2], run, f('perplexity_docs'), f('completion_perplexity'), f('seconds')))
PY
done
cat $out | tee -a bench/RESULTS.md
