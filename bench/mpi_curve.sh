#!/bin/sh
# bench/mpi_curve.sh — issue 16's correctness protocol: 5 epochs of the
# reference VAE (784-400-20, batch 128, seed 1) on 2 MPI ranks x 1 thread
# against the 1-rank x 1-thread run, epoch by epoch (train and test loss,
# nats per example), and the 2-rank run's final test loss against the
# spread of 1-rank runs over SEEDS seeds (default 5). Prints a Markdown
# report (bench/RESULTS.md, docs/scaling.md).
#   sh bench/mpi_curve.sh [SEEDS]
set -eu
SEEDS=${1:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
make -s -j2 build/elbo
make -s -j2 MPI=1 build-mpi/elbo
T=$(mktemp -d /tmp/elbo-curve-XXXXXX)
trap 'rm -rf "$T"' EXIT
A="--epochs 5 --threads 1 --quiet"
mpirun --oversubscribe --bind-to none -np 2 build-mpi/elbo train $A --seed 1 --out "$T/r2"
s=1
while [ $s -le "$SEEDS" ]; do build/elbo train $A --seed $s --out "$T/s$s"; s=$((s + 1)); done
field() { grep -o "\"$2\":[0-9.]*" "$1/metrics.jsonl" | cut -d: -f2; }
echo "# 5 epochs, reference VAE: 2 ranks x 1 thread against 1 rank x 1 thread (seed 1)"
echo "($(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores)"
echo
echo "| epoch | train, 2 ranks | train, 1 rank | difference | test, 2 ranks | test, 1 rank | difference |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
field "$T/r2" train_loss > "$T/a"; field "$T/s1" train_loss > "$T/b"
field "$T/r2" test_loss > "$T/c"; field "$T/s1" test_loss > "$T/d"
paste "$T/a" "$T/b" "$T/c" "$T/d" | awk '{d1=$1-$2; d2=$3-$4; printf "| %d | %.4f | %.4f | %+.4f | %.4f | %.4f | %+.4f |\n", NR, $1, $2, d1, $3, $4, d2}'
echo
s=1; : > "$T/final"
while [ $s -le "$SEEDS" ]; do field "$T/s$s" test_loss | tail -n 1 >> "$T/final"; s=$((s + 1)); done
two=$(field "$T/r2" test_loss | tail -n 1)
awk -v two="$two" -v n="$SEEDS" '{v[NR]=$1; m+=$1} END {
    m /= NR; for (i = 1; i <= NR; i++) sd += (v[i] - m)^2; sd = sqrt(sd / (NR - 1))
    lo = v[1]; hi = v[1]; for (i = 2; i <= NR; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i] }
    printf "final test loss, 1 rank over %d seeds: %.4f +- %.4f (sd), range %.4f .. %.4f; 2 ranks (seed 1): %.4f, %s the range\n",
        n, m, sd, lo, hi, two, (two >= lo && two <= hi) ? "inside" : "OUTSIDE" }' "$T/final"
