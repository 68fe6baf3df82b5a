#!/bin/sh
# cli_smoke.sh — the elbo CLI end to end on a subset of the bundled MNIST:
# help and usage errors, a short training run and its outputs, determinism
# (same seed and threads => identical bytes), resume, sample, reconstruct,
# eval, and clean failures on bad input.
set -u
ELBO=${ELBO:-build/elbo}
T=$(mktemp -d /tmp/elbo-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

# help and usage
expect_rc 0 "elbo --help" "$ELBO" --help
for c in train eval sample reconstruct; do
    expect_rc 0 "elbo $c --help" "$ELBO" $c --help
    check "$c --help prints usage" grep -q "usage: elbo $c" "$T/out.txt"
done
expect_rc 2 "no command" "$ELBO"
expect_rc 2 "unknown command" "$ELBO" frobnicate
expect_rc 2 "unknown flag" "$ELBO" train --bogus
check "unknown flag is named" err_has "--bogus"
expect_rc 2 "missing value" "$ELBO" train --epochs
expect_rc 2 "epochs 0" "$ELBO" train --epochs 0
expect_rc 2 "epochs not a number" "$ELBO" train --epochs 3x
expect_rc 2 "negative lr" "$ELBO" train --lr -1
expect_rc 2 "nan lr" "$ELBO" train --lr nan
expect_rc 2 "bad hidden" "$ELBO" train --hidden 400,,3
expect_rc 2 "bad likelihood" "$ELBO" train --likelihood poisson
expect_rc 2 "negative seed" "$ELBO" train --seed -3
expect_rc 2 "eval without model" "$ELBO" eval
expect_rc 2 "sample with train flag" "$ELBO" sample --model x --epochs 3
expect_rc 2 "stray argument" "$ELBO" eval --model x extra

# bad data, bad output folder: clear errors before any training
expect_rc 1 "missing data dir" "$ELBO" train --data "$T/nope" --out "$T/o0"
check "missing data names the path" err_has "$T/nope: cannot open"
mkdir "$T/baddata" && printf 'not an idx file at all' > "$T/baddata/train-images-idx3-ubyte"
cp data/mnist/train-labels-idx1-ubyte.gz "$T/baddata/"
expect_rc 1 "corrupt data" "$ELBO" train --data "$T/baddata" --out "$T/o1"
check "corrupt data says magic" err_has "magic"
touch "$T/afile"
expect_rc 1 "unwritable out" "$ELBO" train --out "$T/afile/sub" --train-limit 10
check "no metrics written for failed start" test ! -e "$T/afile/sub/metrics.jsonl"

# a short training run
RUN="--train-limit 2000 --test-limit 500 --threads 1 --seed 7 --quiet"
expect_rc 0 "train run1" "$ELBO" train $RUN --epochs 2 --out "$T/run1"
for f in model.safetensors optim.safetensors metrics.jsonl samples.png reconstructions.png; do
    check "run1 wrote $f" test -s "$T/run1/$f"
done
check "samples.png is a PNG" is_png "$T/run1/samples.png"
check "reconstructions.png is a PNG" is_png "$T/run1/reconstructions.png"
check "metrics has 2 epochs" [ "$(wc -l < "$T/run1/metrics.jsonl")" = 2 ]
check "metrics fields" grep -q '"epoch":2,"step":32,"train_loss":[0-9.]*,"train_recon":[0-9.]*,"train_kl":[0-9.]*,"test_loss"' "$T/run1/metrics.jsonl"
# losses must fall on this subset (a broken gradient would not)
l1=$(sed -n 1p "$T/run1/metrics.jsonl" | sed 's/.*"train_loss":\([0-9.]*\).*/\1/')
l2=$(sed -n 2p "$T/run1/metrics.jsonl" | sed 's/.*"train_loss":\([0-9.]*\).*/\1/')
check "train loss falls ($l1 -> $l2)" awk "BEGIN{exit !($l2 < $l1 && $l1 < 400 && $l1 > 100)}"

# determinism: same seed and thread count => identical bytes
expect_rc 0 "train run2" "$ELBO" train $RUN --epochs 2 --out "$T/run2"
check "same seed => identical model" cmp -s "$T/run1/model.safetensors" "$T/run2/model.safetensors"
check "same seed => identical optim" cmp -s "$T/run1/optim.safetensors" "$T/run2/optim.safetensors"
sed 's/,"seconds":.*//' "$T/run1/metrics.jsonl" > "$T/m1"
sed 's/,"seconds":.*//' "$T/run2/metrics.jsonl" > "$T/m2"
check "same seed => identical metrics" cmp -s "$T/m1" "$T/m2"
expect_rc 0 "train other seed" "$ELBO" train --train-limit 2000 --test-limit 500 --threads 1 --seed 8 --quiet --epochs 1 --out "$T/run4"
check "other seed => other model" differ "$T/run1/model.safetensors" "$T/run4/model.safetensors"

# resume: 1 epoch, then continue to 2 => same as the uninterrupted run
expect_rc 0 "train 1 epoch" "$ELBO" train $RUN --epochs 1 --out "$T/run3"
expect_rc 0 "resume to 2" "$ELBO" train $RUN --epochs 2 --out "$T/run3" --resume
check "resumed model identical" cmp -s "$T/run1/model.safetensors" "$T/run3/model.safetensors"
sed 's/,"seconds":.*//' "$T/run3/metrics.jsonl" > "$T/m3"
check "resumed metrics identical" cmp -s "$T/m1" "$T/m3"

# inference commands
expect_rc 0 "sample" "$ELBO" sample --model "$T/run1" -n 16 --cols 4 -o "$T/s.png"
check "sample PNG" is_png "$T/s.png"
expect_rc 0 "sample from file" "$ELBO" sample --model "$T/run1/model.safetensors" -o "$T/s2.png"
expect_rc 0 "reconstruct" "$ELBO" reconstruct --model "$T/run1" -n 8 -o "$T/r.png"
check "reconstruct PNG" is_png "$T/r.png"
expect_rc 0 "eval" "$ELBO" eval --model "$T/run1" --limit 500 --seed 7 --json
check "eval json" grep -q '^{"n":500,"loss":[0-9.]*,"recon":[0-9.]*,"kl":[0-9.]*' "$T/out.txt"
# eval with the seed train used for epoch 2's test loss reproduces it
want=$(sed -n 2p "$T/run1/metrics.jsonl" | sed 's/.*"test_loss":\([0-9.]*\).*/\1/')
expect_rc 0 "eval seed" "$ELBO" eval --model "$T/run1" --limit 500 --seed $((7 * 1000003 + 2)) --json
got=$(sed 's/.*"loss":\([0-9.]*\).*/\1/' "$T/out.txt")
check "eval reproduces train's test loss ($got vs $want)" [ "$got" = "$want" ]

# bad checkpoints
expect_rc 1 "missing model" "$ELBO" eval --model "$T/nothing"
check "missing model named" err_has "$T/nothing"
head -c 100 "$T/run1/model.safetensors" > "$T/trunc.safetensors"
expect_rc 1 "truncated model" "$ELBO" sample --model "$T/trunc.safetensors" -o "$T/x.png"
check "truncated model explained" err_has "trunc.safetensors"
expect_rc 1 "unwritable png" "$ELBO" sample --model "$T/run1" -o "$T/afile/x.png"

finish cli_smoke
