#!/bin/sh
# vae_bitcheck.sh — the engine issue's bit-identity check: trains the VAE for
# 2 epochs (seed 1, 2 threads) in four configurations and prints the tensor
# checksums of each model.safetensors (dev/tensor_checksums.py).
#   sh dev/vae_bitcheck.sh [ELBO_BINARY] [WORK_DIR] > checksums.txt
# Compare the output of two builds with diff; identical means bit-identical.
# Compare builds on one machine: OpenBLAS picks its kernels by CPU and the
# build uses -march=native, so vae_bitcheck.expected (from one machine) only
# matches that kind of CPU.
set -e
ELBO=${1:-build/elbo}
W=${2:-/tmp/elbo-bitcheck}
rm -rf "$W"; mkdir -p "$W"
i=0
while read -r opts; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    "$ELBO" train --epochs 2 --seed 1 --threads 2 --quiet --out "$W/run$i" $opts
    echo "# run $i: $opts"
    python3 "$(dirname "$0")/tensor_checksums.py" "$W/run$i/model.safetensors"
done <<LIST
--batch 128
--objective iwae --samples 5
--hidden 200,200 --likelihood gaussian
--kl-warmup 2 --free-bits 0.1
LIST
