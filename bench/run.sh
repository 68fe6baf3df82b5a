#!/bin/sh
# bench/run.sh — elbo against the PyTorch reference and its strongest peers
# (JAX jit, current PyTorch), in one run, on the same data and the same
# machine. Usage (from the repository root):
#
#   sh bench/run.sh [EPOCHS] [THREADS] [ROUNDS]   (defaults: 5 epochs, all cores, 3 rounds)
#
# Each round trains the reference (../shared/reference/pytorch_vae.py, or
# $ELBO_REFERENCE) with Debian's python3-torch at its default thread count,
# the JAX and PyTorch 2.x peers (../shared/reference/peers/, or $ELBO_PEERS;
# PyTorch at THREADS threads) when the venv $VENV (default runs/venv: python3
# -m venv runs/venv && runs/venv/bin/pip install jax torch numpy) has them,
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
# The peers (../shared/reference/peers/): JAX and current PyTorch from a
# venv built from PyPI; each is run when the venv has it.
PEERS=${ELBO_PEERS:-../shared/reference/peers}
VENV=${VENV:-runs/venv}
peers=""
[ -z "$ref_note" ] && peers="ref"
if [ -x "$VENV/bin/python" ] && [ -f "$PEERS/jax_vae.py" ] && "$VENV/bin/python" -c 'import jax' 2>/dev/null; then
    peers="$peers jax"
else
    echo "JAX peer not run: no jax in $VENV (python3 -m venv $VENV && $VENV/bin/pip install jax numpy)"
fi
if [ -x "$VENV/bin/python" ] && [ -f "$PEERS/torch2_vae.py" ] && "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    peers="$peers torch2"
    torch2_v=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')
else
    echo "PyTorch 2.x peer not run: no torch in $VENV"
fi
jax_v=$("$VENV/bin/python" -c 'import jax; print(jax.__version__)' 2>/dev/null || echo "")

# run_peer NAME: one training run; appends "round name s/epoch rss loss threads"
run_peer() {
    case "$1" in
        ref) set -- ref /usr/bin/python3 "$REF" --data "$DATA" --epochs "$EPOCHS" --no-test ;;
        jax) set -- jax "$VENV/bin/python" "$PEERS/jax_vae.py" "$DATA" "$EPOCHS" ;;
        torch2) set -- torch2 "$VENV/bin/python" "$PEERS/torch2_vae.py" "$DATA" "$EPOCHS" "$THREADS" ;;
    esac
    name=$1
    shift
    echo "round $r: $name, $EPOCHS epochs ..."
    /usr/bin/time -f "%M" -o "$OUT/peer.rss" "$@" > "$OUT/peer.log"
    s=$(sed -n 's/.*train_s=\([0-9.]*\).*/\1/p' "$OUT/peer.log" | median_after_first)
    loss=$(sed -n 's/.*epoch='"$EPOCHS"' train_loss=\([0-9.]*\).*/\1/p' "$OUT/peer.log")
    th=$(sed -n 's/.*threads=\([0-9]*\).*/\1/p' "$OUT/peer.log" | head -n 1)
    [ "$name" = torch2 ] && th=$THREADS
    echo "$r $name $s $(( $(cat "$OUT/peer.rss") / 1024 )) ${loss:-nan} ${th:-default}" >> "$OUT/rounds"
    echo "round $r: $name $s s/epoch"
}

: > "$OUT/rounds"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for p in $peers; do run_peer "$p"; done
    echo "round $r: elbo, $EPOCHS epochs ..."
    rm -rf "$OUT/run"
    /usr/bin/time -f "%M" -o "$OUT/elbo.rss" build/elbo train --data "$DATA" --epochs "$EPOCHS" \
        --threads "$THREADS" --no-test --quiet --out "$OUT/run"
    elbo_s=$(sed 's/.*"seconds":\([0-9.]*\).*/\1/' "$OUT/run/metrics.jsonl" | median_after_first)
    elbo_loss=$(tail -n 1 "$OUT/run/metrics.jsonl" | sed 's/.*"train_loss":\([0-9.]*\).*/\1/')
    echo "$r elbo $elbo_s $(( $(cat "$OUT/elbo.rss") / 1024 )) $elbo_loss $THREADS" >> "$OUT/rounds"
    echo "round $r: elbo $elbo_s s/epoch"
    r=$((r + 1))
done
# of one program: its s/epoch per round, the median, the peak RSS, a field
of() { awk -v n="$1" -v c="$2" '$2 == n {print $c}' "$OUT/rounds"; }
med() { of "$1" 3 | median; }
elbo_med=$(med elbo)
infer=$(build/bench_infer "$OUT/run" "$DATA" "$THREADS")
field() { echo "$infer" | sed "s/.*\"$1\":\([0-9.]*\).*/\1/"; }

date=$(date -u +%Y-%m-%d)
{
    echo ""
    echo "## $date — $machine"
    echo ""
    label() {
        case "$1" in
            ref) echo "PyTorch reference (Debian $(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null))" ;;
            jax) echo "JAX $jax_v (jit)" ;;
            torch2) echo "PyTorch $torch2_v" ;;
            elbo) echo "elbo" ;;
        esac
    }
    echo "\`sh bench/run.sh $EPOCHS $THREADS $ROUNDS\`: $ROUNDS rounds, each training${peers:+ $peers, then} elbo for $EPOCHS epochs; per program and round the median of epochs 2..$EPOCHS (training only, no test pass); the ratio is the program's s/epoch over elbo's in the same round."
    echo ""
    printf "| round |"
    for p in $peers elbo; do printf " %s s / epoch |" "$p"; done
    for p in $peers; do printf " %s / elbo |" "$p"; done
    printf "\n|---|"
    for p in $peers elbo $peers; do printf -- "---|"; done
    printf "\n"
    i=1
    while [ "$i" -le "$ROUNDS" ]; do
        printf "| %s |" "$i"
        e=$(awk -v r="$i" '$1 == r && $2 == "elbo" {print $3}' "$OUT/rounds")
        for p in $peers elbo; do printf " %s |" "$(awk -v r="$i" -v n="$p" '$1 == r && $2 == n {print $3}' "$OUT/rounds")"; done
        for p in $peers; do
            v=$(awk -v r="$i" -v n="$p" '$1 == r && $2 == n {print $3}' "$OUT/rounds")
            printf " %s× |" "$(awk "BEGIN{printf \"%.2f\", $v/$e}")"
        done
        printf "\n"
        i=$((i + 1))
    done
    echo ""
    echo "| | threads | s / epoch (median of rounds) | examples / s | peak RSS (MB) | train loss after epoch $EPOCHS | elbo faster by |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for p in $peers elbo; do
        m=$(med "$p")
        rss=$(of "$p" 4 | max)
        loss=$(of "$p" 5 | tail -n 1)
        th=$(of "$p" 6 | tail -n 1)
        ratio="—"
        [ "$p" = elbo ] || ratio="**$(awk "BEGIN{printf \"%.2f\", $m/$elbo_med}")×**"
        echo "| $(label "$p") | $th | $m | $(awk "BEGIN{printf \"%.0f\", 60000/$m}") | $rss | $loss | $ratio |"
    done
    echo ""
    [ -z "$ref_note" ] || echo "($ref_note.)"
    echo ""
    echo "Inference ($THREADS threads, median of 7): test-set evaluation $(field eval_images) images in $(field eval_s) s = **$(field eval_images_per_s) images/s**; sampling $(field samples) images in $(field sample_s) s = **$(field samples_per_s) samples/s**."
} > "$OUT/section.md"
cat "$OUT/section.md"
[ -f bench/RESULTS.md ] || printf '# Benchmark results\n\nEach section is one run of `sh bench/run.sh`, newest last.\n' > bench/RESULTS.md
cat "$OUT/section.md" >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
