#!/bin/sh
# test_torch.sh — an elbo checkpoint loads into the PyTorch reference model
# with load_state_dict(strict=True), and PyTorch's test loss on it agrees with
# `elbo eval` within 0.3 nats (both draw one z per image, so they differ by
# Monte Carlo noise of about 0.1); the KL term, which is deterministic, must
# agree within 0.001. Needs Debian's python3-torch; skipped without it.
set -u
ELBO=${ELBO:-build/elbo}
PY=/usr/bin/python3
if ! $PY -c 'import torch' 2>/dev/null; then
    echo "test_torch: 0 passed, 0 failed, 1 skipped (python3-torch is not installed)"
    exit 0
fi
T=$(mktemp -d /tmp/elbo-torch-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

# one epoch of the reference architecture on the full training set
expect_rc 0 "train 1 epoch" "$ELBO" train --epochs 1 --no-test --quiet --out "$T/run"
expect_rc 0 "torch strict load" $PY dev/torch_check.py "$T/run/model.safetensors"
cp "$T/out.txt" "$T/torch.json"
expect_rc 0 "elbo eval" "$ELBO" eval --model "$T/run" --json
cp "$T/out.txt" "$T/elbo.json"
field() { sed "s/.*\"$1\": *\([0-9.]*\).*/\1/" "$2"; }
tl=$(field loss "$T/torch.json"); el=$(field loss "$T/elbo.json")
tk=$(field kl "$T/torch.json"); ek=$(field kl "$T/elbo.json")
check "test loss: torch $tl vs elbo $el within 0.3" awk "BEGIN{d=$tl-$el; exit !(d<0.3 && d>-0.3)}"
check "KL: torch $tk vs elbo $ek within 0.001" awk "BEGIN{d=$tk-$ek; exit !(d<0.001 && d>-0.001)}"
echo "test_torch: PyTorch $tl, elbo $el (KL $tk / $ek)"

# a tensor of the wrong shape must make strict loading fail in PyTorch too:
# the names and shapes are the contract
expect_rc 0 "train other latent" "$ELBO" train --epochs 1 --train-limit 256 --no-test --quiet --latent 8 --out "$T/z8"
expect_rc 0 "torch loads latent 8" $PY dev/torch_check.py "$T/z8/model.safetensors"
finish test_torch
