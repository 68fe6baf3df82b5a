#!/bin/sh
# bench/run.sh — elbo against the PyTorch reference, in one run, on the same
# data and the same machine. Usage (from the repository root):
#
#   sh bench/run.sh [EPOCHS] [THREADS]        (defaults: 5 epochs, all cores)
#
# Trains the reference (../shared/reference/pytorch_vae.py, or $ELBO_REFERENCE)
# with Debian's python3-torch at its default thread count, then elbo with
# THREADS worker threads, for EPOCHS epochs each; reports the median seconds
# per training epoch over the epochs after the first, examples per second,
# peak RSS of each process and the ratio; then elbo's inference throughput
# (test-set evaluation, sampling). Appends the results to bench/RESULTS.md.
# Without python3-torch, elbo alone is measured and the report says why.
set -eu
EPOCHS=${1:-5}
THREADS=${2:-$(nproc)}
DATA=${ELBO_DATA:-data/mnist}
REF=${ELBO_REFERENCE:-../shared/reference/pytorch_vae.py}
OUT=$(mktemp -d /tmp/elbo-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

make -s build/elbo build/bench_infer >/dev/null

median_after_first() { # numbers on stdin, one a line; median of all but the first
    tail -n +2 | sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit}
        if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

cpu=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')
echo "machine: $cpu, $(nproc) cores; epochs $EPOCHS; elbo threads $THREADS"

ref_note=""
if [ -f "$REF" ] && /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
    echo "reference: training $EPOCHS epochs ..."
    /usr/bin/time -f "%M" -o "$OUT/ref.rss" /usr/bin/python3 "$REF" --data "$DATA" --epochs "$EPOCHS" --no-test \
        > "$OUT/ref.log"
    ref_s=$(sed -n 's/.*train_s=\([0-9.]*\).*/\1/p' "$OUT/ref.log" | median_after_first)
    ref_loss=$(sed -n 's/.*epoch='"$EPOCHS"' train_loss=\([0-9.]*\).*/\1/p' "$OUT/ref.log")
    ref_threads=$(sed -n 's/.*threads=\([0-9]*\).*/\1/p' "$OUT/ref.log")
    ref_rss=$(( $(cat "$OUT/ref.rss") / 1024 ))
else
    ref_note="reference not run: python3-torch/torchvision or $REF missing"
    echo "$ref_note"
fi

echo "elbo: training $EPOCHS epochs ..."
/usr/bin/time -f "%M" -o "$OUT/elbo.rss" build/elbo train --data "$DATA" --epochs "$EPOCHS" \
    --threads "$THREADS" --no-test --quiet --out "$OUT/run"
elbo_s=$(sed 's/.*"seconds":\([0-9.]*\).*/\1/' "$OUT/run/metrics.jsonl" | median_after_first)
elbo_loss=$(tail -n 1 "$OUT/run/metrics.jsonl" | sed 's/.*"train_loss":\([0-9.]*\).*/\1/')
elbo_rss=$(( $(cat "$OUT/elbo.rss") / 1024 ))
infer=$(build/bench_infer "$OUT/run" "$DATA" "$THREADS")
field() { echo "$infer" | sed "s/.*\"$1\":\([0-9.]*\).*/\1/"; }

date=$(date -u +%Y-%m-%d)
{
    echo ""
    echo "## $date — $cpu, $(nproc) cores"
    echo ""
    echo "\`sh bench/run.sh $EPOCHS $THREADS\`: $EPOCHS epochs each, median of epochs 2..$EPOCHS (training only, no test pass)."
    echo ""
    echo "| | threads | s / epoch | examples / s | peak RSS (MB) | train loss after epoch $EPOCHS |"
    echo "| --- | --- | --- | --- | --- | --- |"
    if [ -z "$ref_note" ]; then
        echo "| PyTorch reference | $ref_threads | $ref_s | $(awk "BEGIN{printf \"%.0f\", 60000/$ref_s}") | $ref_rss | $ref_loss |"
    fi
    echo "| elbo | $THREADS | $elbo_s | $(awk "BEGIN{printf \"%.0f\", 60000/$elbo_s}") | $elbo_rss | $elbo_loss |"
    if [ -z "$ref_note" ]; then
        echo ""
        echo "elbo is **$(awk "BEGIN{printf \"%.2f\", $ref_s/$elbo_s}")×** faster per training epoch and uses $(awk "BEGIN{printf \"%.1f\", $ref_rss/$elbo_rss}")× less memory."
    else
        echo ""
        echo "($ref_note.)"
    fi
    echo ""
    echo "Inference ($THREADS threads, median of 7): test-set evaluation $(field eval_images) images in $(field eval_s) s = **$(field eval_images_per_s) images/s**; sampling $(field samples) images in $(field sample_s) s = **$(field samples_per_s) samples/s**."
} > "$OUT/section.md"
cat "$OUT/section.md"
[ -f bench/RESULTS.md ] || printf '# Benchmark results\n\nEach section is one run of `sh bench/run.sh`, newest last.\n' > bench/RESULTS.md
cat "$OUT/section.md" >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
