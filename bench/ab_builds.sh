#!/bin/sh
# bench/ab_builds.sh — two builds of elbo side by side in one run: rounds
# alternate OLD and NEW, each training the reference VAE for EPOCHS epochs
# (full MNIST, no test pass) with THREADS threads; prints every epoch's
# training seconds (metrics.jsonl) and the per-round sums. For "no
# slowdown" checks of a refactor: build the old commit in a worktree, e.g.
#   git worktree add /tmp/old REV && make -C /tmp/old build/elbo
#   sh bench/ab_builds.sh /tmp/old/build/elbo build/elbo 2 1 3
set -eu
OLD=$1; NEW=$2; EPOCHS=${3:-2}; THREADS=${4:-1}; ROUNDS=${5:-3}
DATA=${ELBO_DATA:-data/mnist}
T=$(mktemp -d /tmp/elbo-ab-XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; epochs $EPOCHS, threads $THREADS"
r=1
while [ $r -le "$ROUNDS" ]; do
    for b in old new; do
        bin=$OLD; [ $b = new ] && bin=$NEW
        rm -rf "$T/$b"
        "$bin" train --epochs "$EPOCHS" --threads "$THREADS" --no-test --quiet --out "$T/$b" --data "$DATA"
        s=$(grep -o '"seconds":[0-9.]*' "$T/$b/metrics.jsonl" | cut -d: -f2 | tr '\n' ' ')
        sum=$(echo "$s" | awk '{t=0; for (i=1;i<=NF;i++) t+=$i; printf "%.3f", t}')
        echo "round $r $b epochs: $s sum $sum"
    done
    r=$((r + 1))
done
