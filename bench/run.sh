#!/bin/sh
# bench/run.sh — elbo against the PyTorch reference, in one run, on the same
# data and the same machine. Usage (from the repository root):
#
#   sh bench/run.sh [EPOCHS] [THREADS] [ROUNDS]   (defaults: 5 epochs, all cores, 3 rounds)
#
# Each round trains the reference (../shared/reference/pytorch_vae.py, or
# $ELBO_REFERENCE) with Debian's python3-torch at its default thread count,
# then elbo with THREADS worker threads, for EPOCHS epochs each, and takes
# each one's median seconds per training epoch over the epochs after the
# first. Rounds alternate the two programs, so a machine whose speed drifts
# (shared hosts do) slows both sides of a round alike; the report gives every
# round's ratio and the median over rounds, peak RSS of each process,
# examples per second, then elbo's inference throughput (test-set
# evaluation, sampling). Appends the results to bench/RESULTS.md.
# Without python3-torch, elbo alone is measured and the report says why.
set -eu
EPOCHS=${1:-5}
THREADS=${2:-$(nproc)}
ROUNDS=${3:-3}
DATA=${ELBO_DATA:-data/mnist}
REF=${ELBO_REFERENCE:-../shared/reference/pytorch_vae.py}
OUT=$(mktemp -d /tmp/elbo-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

make -s build/elbo build/bench_infer >/dev/null

median() { # numbers on stdin, one a line
    sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit}
        if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
median_after_first() { tail -n +2 | median; }
max() { sort -g | tail -n 1; }

cpu=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')
family=$(grep -m1 "cpu family" /proc/cpuinfo | sed 's/.*: //')
model=$(grep -m1 "^model[[:space:]]*:" /proc/cpuinfo | sed 's/.*: //')
isa=AVX2
grep -q avx512f /proc/cpuinfo && isa=AVX-512
grep -q avx2 /proc/cpuinfo || isa="no AVX2"
machine="$cpu (family $family, model $model, $isa), $(nproc) cores"
echo "machine: $machine; epochs $EPOCHS; elbo threads $THREADS; rounds $ROUNDS"

ref_note=""
if ! [ -f "$REF" ] || ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
    ref_note="reference not run: python3-torch/torchvision or $REF missing"
    echo "$ref_note"
fi

: > "$OUT/rounds"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    ref_s=nan ref_rss=0
    if [ -z "$ref_note" ]; then
        echo "round $r: reference, $EPOCHS epochs ..."
        /usr/bin/time -f "%M" -o "$OUT/ref.rss" /usr/bin/python3 "$REF" --data "$DATA" \
            --epochs "$EPOCHS" --no-test > "$OUT/ref.log"
        ref_s=$(sed -n 's/.*train_s=\([0-9.]*\).*/\1/p' "$OUT/ref.log" | median_after_first)
        ref_loss=$(sed -n 's/.*epoch='"$EPOCHS"' train_loss=\([0-9.]*\).*/\1/p' "$OUT/ref.log")
        ref_threads=$(sed -n 's/.*threads=\([0-9]*\).*/\1/p' "$OUT/ref.log")
        ref_rss=$(( $(cat "$OUT/ref.rss") / 1024 ))
    fi
    echo "round $r: elbo, $EPOCHS epochs ..."
    rm -rf "$OUT/run"
    /usr/bin/time -f "%M" -o "$OUT/elbo.rss" build/elbo train --data "$DATA" --epochs "$EPOCHS" \
        --threads "$THREADS" --no-test --quiet --out "$OUT/run"
    elbo_s=$(sed 's/.*"seconds":\([0-9.]*\).*/\1/' "$OUT/run/metrics.jsonl" | median_after_first)
    elbo_loss=$(tail -n 1 "$OUT/run/metrics.jsonl" | sed 's/.*"train_loss":\([0-9.]*\).*/\1/')
    elbo_rss=$(( $(cat "$OUT/elbo.rss") / 1024 ))
    echo "$r $ref_s $elbo_s $ref_rss $elbo_rss" >> "$OUT/rounds"
    echo "round $r: reference $ref_s s/epoch, elbo $elbo_s s/epoch"
    r=$((r + 1))
done
col() { awk -v c="$1" '{print $c}' "$OUT/rounds"; }
ref_med=$(col 2 | median)
elbo_med=$(col 3 | median)
ref_rss=$(col 4 | max)
elbo_rss=$(col 5 | max)
infer=$(build/bench_infer "$OUT/run" "$DATA" "$THREADS")
field() { echo "$infer" | sed "s/.*\"$1\":\([0-9.]*\).*/\1/"; }

date=$(date -u +%Y-%m-%d)
{
    echo ""
    echo "## $date — $machine"
    echo ""
    what="the reference and then elbo"
    [ -z "$ref_note" ] || what="elbo"
    echo "\`sh bench/run.sh $EPOCHS $THREADS $ROUNDS\`: $ROUNDS rounds, each training $what for $EPOCHS epochs; per program and round the median of epochs 2..$EPOCHS (training only, no test pass)."
    echo ""
    if [ -z "$ref_note" ]; then
        echo "| round | reference s / epoch ($ref_threads thread) | elbo s / epoch ($THREADS threads) | ratio |"
        echo "| --- | --- | --- | --- |"
        while read -r rr rs es _ _; do
            echo "| $rr | $rs | $es | $(awk "BEGIN{printf \"%.2f\", $rs/$es}")× |"
        done < "$OUT/rounds"
        echo ""
    fi
    echo "| | threads | s / epoch (median of rounds) | examples / s | peak RSS (MB) | train loss after epoch $EPOCHS |"
    echo "| --- | --- | --- | --- | --- | --- |"
    if [ -z "$ref_note" ]; then
        echo "| PyTorch reference | $ref_threads | $ref_med | $(awk "BEGIN{printf \"%.0f\", 60000/$ref_med}") | $ref_rss | $ref_loss |"
    fi
    echo "| elbo | $THREADS | $elbo_med | $(awk "BEGIN{printf \"%.0f\", 60000/$elbo_med}") | $elbo_rss | $elbo_loss |"
    echo ""
    if [ -z "$ref_note" ]; then
        echo "elbo is **$(awk "BEGIN{printf \"%.2f\", $ref_med/$elbo_med}")×** faster per training epoch (medians over rounds) and uses $(awk "BEGIN{printf \"%.1f\", $ref_rss/$elbo_rss}")× less memory."
    else
        echo "($ref_note.)"
    fi
    echo ""
    echo "Inference ($THREADS threads, median of 7): test-set evaluation $(field eval_images) images in $(field eval_s) s = **$(field eval_images_per_s) images/s**; sampling $(field samples) images in $(field sample_s) s = **$(field samples_per_s) samples/s**."
} > "$OUT/section.md"
cat "$OUT/section.md"
[ -f bench/RESULTS.md ] || printf '# Benchmark results\n\nEach section is one run of `sh bench/run.sh`, newest last.\n' > bench/RESULTS.md
cat "$OUT/section.md" >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
