#!/bin/sh
# bench/m2_speed.sh — elbo's M2 against the same model in current PyTorch
# (bench/m2_torch.py: classifier 784-500-10, encoder [x,y]-500-50, decoder
# [z,y]-500-784, softplus, every class enumerated for unlabelled rows, Adam,
# batches of 100 with 10 labelled, 100 labels, one epoch = a pass over the
# unlabelled rows of MNIST's first 50,000 images), in one run on one
# machine. For each thread count, ROUNDS rounds alternate the two; each
# gives its median seconds per training epoch over the epochs after the
# first, and the report gives every round's ratio and the median. Appends
# to bench/RESULTS.md.
#
#   sh bench/m2_speed.sh [EPOCHS] [ROUNDS] [THREADS...]   (defaults 3, 3, "1 2")
# The PyTorch side needs a venv with torch from PyPI:
#   python3 -m venv runs/venv && runs/venv/bin/pip install torch numpy
# (VENV=DIR to use another). Run it on an otherwise idle machine.
set -eu
EPOCHS=${1:-3}
ROUNDS=${2:-3}
shift 2 2>/dev/null || shift $#
THREADS=${*:-1 2}
VENV=${VENV:-runs/venv}
DATA=${ELBO_DATA:-data/mnist}
ELBO=${ELBO:-build/elbo}
OUT=$(mktemp -d /tmp/elbo-m2-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
cpu=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')
torch_v=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null) || {
    echo "no torch in $VENV: python3 -m venv $VENV && $VENV/bin/pip install torch numpy" >&2
    exit 1
}
echo "machine: $cpu, $(nproc) cores; PyTorch $torch_v; epochs $EPOCHS; rounds $ROUNDS; threads $THREADS"
report=""
for t in $THREADS; do
    : > "$OUT/ratios"
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        "$VENV/bin/python" bench/m2_torch.py "$DATA" "$EPOCHS" "$t" > "$OUT/torch.log"
        ts=$(sed -n 's/.*train_s=\([0-9.]*\).*/\1/p' "$OUT/torch.log" | tail -n +2 | median)
        tl=$(sed -n 's/.*epoch='"$EPOCHS"' train_loss=\([0-9.]*\).*/\1/p' "$OUT/torch.log")
        rm -rf "$OUT/run"
        "$ELBO" m2 train --labels 100 --val-fraction 0 --train-limit 50000 --epochs "$EPOCHS" --threads "$t" \
            --no-test --quiet --data "$DATA" --out "$OUT/run"
        es=$(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' "$OUT/run/metrics.jsonl" | tail -n +2 | median)
        el=$(tail -1 "$OUT/run/metrics.jsonl" | sed -n 's/.*"train_loss":\([0-9.]*\).*/\1/p')
        ratio=$(awk "BEGIN{printf \"%.2f\", $ts / $es}")
        echo "threads $t round $r: PyTorch $ts s/epoch (loss $tl), elbo $es s/epoch (loss $el): ${ratio}x"
        echo "$ratio $ts $es" >> "$OUT/ratios"
        r=$((r + 1))
    done
    med=$(cut -d' ' -f1 "$OUT/ratios" | median)
    mt=$(cut -d' ' -f2 "$OUT/ratios" | median)
    me=$(cut -d' ' -f3 "$OUT/ratios" | median)
    all=$(cut -d' ' -f1 "$OUT/ratios" | tr '\n' ' ')
    echo "threads $t: median PyTorch $mt s, elbo $me s per epoch: elbo ${med}x faster (rounds: $all)"
    report="$report
| $t | $mt | $me | **${med}x** | $all|"
done
{
    echo ""
    echo "## M2 (semi-supervised), elbo vs PyTorch $torch_v — $(date +%Y-%m-%d)"
    echo ""
    echo "\`sh bench/m2_speed.sh $EPOCHS $ROUNDS $THREADS\` on $cpu, $(nproc) cores. Classifier 784-500-10,"
    echo "encoder [x,y]-500-50, decoder [z,y]-500-784, softplus, Bernoulli, every class enumerated for the"
    echo "unlabelled rows, Adam, batches of 100 with 10 of the 100 labelled rows; an epoch is a pass over"
    echo "the 49,900 unlabelled rows of MNIST's first 50,000 images (555 steps of 90 unlabelled and 10"
    echo "labelled rows, 910 decoder rows each); seconds per training epoch (median over the epochs after the first, then"
    echo "over rounds), both sides at the same thread count."
    echo ""
    echo "| threads | PyTorch s/epoch | elbo s/epoch | elbo faster by | rounds |"
    echo "| ---: | ---: | ---: | ---: | --- |$report"
} >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
