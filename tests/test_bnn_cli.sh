#!/bin/sh
# test_bnn_cli.sh — the Bayesian classifier through the CLI: `elbo train
# --kind bnn` (the shared training loop), its run record and resume (bit for
# bit, conflicts refused, options of another kind refused), SIGTERM and
# resume, `elbo info`, `elbo bnn eval` (JSON) and `elbo bnn predict` (CSV).
. tests/lib.sh
ELBO=${ELBO:-build/elbo}
T=$(mktemp -d /tmp/elbo-bnn-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
SMALL="--kind bnn --hidden 64 --train-limit 3000 --test-limit 500 --threads 2 --quiet"

expect_rc 0 "train 2 epochs" "$ELBO" train $SMALL --epochs 2 --out "$T/a"
for f in model.safetensors optim.safetensors metrics.jsonl; do check "wrote $f" test -s "$T/a/$f"; done
check "two metrics lines" test "$(wc -l < "$T/a/metrics.jsonl")" = 2
check "metrics carry the test accuracy" grep -q '"test_accuracy":0\.[5-9]' "$T/a/metrics.jsonl"
check "metrics name the terms" grep -q '"train_nll":' "$T/a/metrics.jsonl"

expect_rc 0 "train 1 epoch" "$ELBO" train $SMALL --epochs 1 --out "$T/b"
expect_rc 0 "resume with --resume --out alone" "$ELBO" train --resume --out "$T/b" --epochs 2 --quiet
check "resumed run is bit-identical" cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors"
expect_rc 0 "resume a finished run" "$ELBO" train --resume --out "$T/b"
check "finished run says so" grep -q "is finished" "$T/out.txt"
expect_rc 2 "conflicting option refused" "$ELBO" train --resume --out "$T/b" --prior-sigma 1
check "conflict names both values" err_has "prior-sigma 1 conflicts"
expect_rc 2 "another kind's option refused" "$ELBO" train --resume --out "$T/b" --latent 5
check "names the kind" err_has "not an option of --kind bnn"
expect_rc 2 "bnn option on a vae" "$ELBO" train --prior-sigma 1 --out "$T/c"
check "names the option" err_has "prior-sigma is not an option of --kind vae"
expect_rc 1 "second run into the same folder refused" "$ELBO" train $SMALL --epochs 1 --out "$T/a"

# SIGTERM in the middle of a run, then resume: the same weights as straight through
MID="--kind bnn --hidden 64 --train-limit 20000 --test-limit 200 --threads 2 --epochs 3 --checkpoint-every 5"
"$ELBO" train $MID --out "$T/d" >/dev/null 2>"$T/d.err" &
pid=$!
i=0; while [ ! -s "$T/d/optim.safetensors" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $pid 2>/dev/null; wait $pid
check "stopped by SIGTERM inside the run" grep -q "stopped by SIGTERM" "$T/d.err"
expect_rc 0 "resume after SIGTERM" "$ELBO" train --resume --out "$T/d" --quiet
expect_rc 0 "straight 3 epochs" "$ELBO" train $MID --out "$T/e" --quiet
check "stopped and resumed = straight" cmp -s "$T/d/model.safetensors" "$T/e/model.safetensors"

expect_rc 0 "info" "$ELBO" info --model "$T/a"
check "info names the kind" grep -q "kind .*bnn" "$T/out.txt"
expect_rc 0 "bnn eval --json" "$ELBO" bnn eval --model "$T/a" --limit 500 --samples 4 --json
check "eval JSON has accuracy, nll, ece, brier" grep -q '"accuracy":0\.[5-9].*"nll".*"ece".*"brier"' "$T/out.txt"
OOD=/usr/share/datasets/fashion-mnist
[ -f "$OOD/t10k-images-idx3-ubyte.gz" ] || OOD=data/mnist   # without Fashion-MNIST: exercise the path only
expect_rc 0 "bnn eval --ood --reliability" "$ELBO" bnn eval --model "$T/a" --limit 500 --samples 4 --json \
    --ood "$OOD" --reliability "$T/rel.png"
check "OOD AUROCs in [0, 1]" grep -q '"ood_auroc_entropy":[01]\.[0-9]*,"ood_auroc_mi":[01]\.' "$T/out.txt"
check "reliability diagram" is_png "$T/rel.png"
if [ "$OOD" != data/mnist ]; then
    au=$(sed 's/.*"ood_auroc_mi":\([0-9.]*\).*/\1/' "$T/out.txt")
    check "Fashion-MNIST told from MNIST better than chance (MI AUROC $au)" awk "BEGIN{exit !($au > 0.6)}"
fi
expect_rc 2 "--ood is eval's" "$ELBO" bnn predict --model "$T/a" --ood "$OOD" --out "$T/x.csv"
expect_rc 0 "bnn predict" "$ELBO" bnn predict --model "$T/a" --limit 50 --out "$T/p.csv"
check "CSV header" grep -q "^row,label,p0,.*,p9,predicted,entropy,expected_entropy,mutual_information$" "$T/p.csv"
check "CSV has 50 rows" test "$(wc -l < "$T/p.csv")" = 51
check "mutual information >= 0, entropy >= expected" awk -F, 'NR > 1 && ($16 < 0 || $14 + 1e-6 < $15) {bad = 1} END {exit bad}' "$T/p.csv"
expect_rc 2 "predict needs --out" "$ELBO" bnn predict --model "$T/a"
expect_rc 1 "a VAE checkpoint is not a bnn" "$ELBO" bnn eval --model tests/fixtures
expect_rc 2 "unknown subcommand" "$ELBO" bnn bogus
finish test_bnn_cli
