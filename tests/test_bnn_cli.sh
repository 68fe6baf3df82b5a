#!/bin/sh
# test_bnn_cli.sh — the Bayesian classifier through the CLI: `elbo train
# --kind bnn` (the shared training loop), its run record and resume (bit for
# bit, conflicts refused, options of another kind refused), SIGTERM and
# resume, selection on a validation split, `elbo info`, `elbo bnn eval` (JSON) and `elbo bnn predict` (CSV);
# the point-weight baselines (with dropout) and the regressor on
# scikit-learn's diabetes data (targets files, model-side standardization).
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

# model selection on a validation split: a classifier's error of one draw
expect_rc 0 "train with --val-fraction" "$ELBO" train --kind bnn --hidden 64 --train-limit 3000 --test-limit 500 \
    --threads 2 --epochs 2 --val-fraction 0.2 --out "$T/v"
check "the epoch line shows the validation draw error" grep -q "val draw_error 0\.[0-9]* \*" "$T/out.txt"
check "metrics carry train, val and test draw_error and the best epoch" \
    grep -q '"train_draw_error":0\.[0-9]*.*"test_draw_error":0\.[0-9]*.*"val_draw_error":0\.[0-9]*.*"best_epoch"' "$T/v/metrics.jsonl"
check "the best epoch's weights" test -s "$T/v/best.safetensors"
expect_rc 0 "--val-tail: the last rows validate" "$ELBO" train --kind bnn --hidden 64 --train-limit 3000 --test-limit 500 \
    --threads 2 --epochs 1 --val-fraction 0.2 --val-tail --out "$T/vt"
check "the record keeps val_tail" sh -c "'$ELBO' info --model '$T/vt' | grep -q 'val_tail  *1'"
check "another validation set than the seeded draw's" sh -c \
    "test \"\$(grep -o '\"val_loss\":[^,]*' '$T/vt/metrics.jsonl')\" != \"\$(sed -n 1p '$T/v/metrics.jsonl' | grep -o '\"val_loss\":[^,]*')\""
expect_rc 2 "--val-tail alone refused" "$ELBO" train $SMALL --epochs 1 --val-tail --out "$T/vt2"
check "says it needs --val-fraction" err_has "val-tail needs --val-fraction"
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

# SGD (with momentum) on images scaled to [0, 2] (Blundell's protocol): the run
# record keeps both, resume continues bit for bit, another optimizer is refused,
# and eval reads the scale from the record
SGD="$SMALL --optimizer sgd --momentum 0.5 --lr 0.001 --scale 2.0238"
expect_rc 0 "sgd on scaled images, 2 epochs" "$ELBO" train $SGD --epochs 2 --out "$T/s2"
expect_rc 0 "info of the sgd run" "$ELBO" info --model "$T/s2"
check "record names sgd, momentum, scale" sh -c "grep -q 'optimizer  *sgd' '$T/out.txt' &&
    grep -q 'momentum  *0.5' '$T/out.txt' && grep -q 'scale  *2.0238' '$T/out.txt'"
check "sgd learns (test accuracy above 0.8)" grep -q '"test_accuracy":0\.[89]' "$T/s2/metrics.jsonl"
check "sgd's state is its momentum buffer" grep -q 'sgd.momentum_buffer' "$T/s2/optim.safetensors"
expect_rc 0 "sgd 1 epoch" "$ELBO" train $SGD --epochs 1 --out "$T/s1"
expect_rc 0 "sgd resumed" "$ELBO" train --resume --out "$T/s1" --epochs 2 --quiet
check "sgd resumed is bit-identical" cmp -s "$T/s1/model.safetensors" "$T/s2/model.safetensors"
expect_rc 2 "resume with adam refused" "$ELBO" train --resume --out "$T/s1" --epochs 3 --optimizer adam
check "names both optimizers" err_has "optimizer adam conflicts"
expect_rc 0 "eval of the scaled run" "$ELBO" bnn eval --model "$T/s2" --limit 500 --samples 4 --json
check "eval with the recorded scale" grep -q '"accuracy":0\.[89]' "$T/out.txt"
expect_rc 2 "momentum without sgd refused" "$ELBO" train $SMALL --momentum 0.5 --epochs 1 --out "$T/s4"
check "says momentum needs sgd" err_has "momentum needs --optimizer sgd"
expect_rc 2 "momentum 1 refused" "$ELBO" train $SGD --momentum 1 --epochs 1 --out "$T/s3"
# the weights' moving average (--ema): evaluated, saved beside the raw
# weights, the raw training untouched, on and off with --resume
expect_rc 0 "sgd with --ema, 2 epochs" "$ELBO" train $SGD --ema 0.99 --epochs 2 --out "$T/e2"
check "ema.safetensors written" test -s "$T/e2/ema.safetensors"
check "the average rides in optim.safetensors" grep -q 'ema.params' "$T/e2/optim.safetensors"
check "the raw weights train as without it (the same training losses)" sh -c \
    "grep -q '\"train_loss\":[0-9]' '$T/e2/metrics.jsonl' && test \"\$(grep -o '\"train_loss\":[^,]*' '$T/e2/metrics.jsonl')\" = \"\$(grep -o '\"train_loss\":[^,]*' '$T/s2/metrics.jsonl')\""

check "the average is not the raw weights" sh -c "! cmp -s '$T/e2/ema.safetensors' '$T/e2/model.safetensors'"
check "the record keeps the rate" sh -c "'$ELBO' info --model '$T/e2' | grep -q 'ema  *0.99'"
expect_rc 0 "eval of the average" "$ELBO" bnn eval --model "$T/e2/ema.safetensors" --limit 500 --samples 4 --json
check "the average classifies" grep -q '"accuracy":0\.[89]' "$T/out.txt"
expect_rc 0 "--ema turned on at resume" "$ELBO" train --resume --out "$T/s1" --epochs 3 --ema 0.9 --quiet
check "an average from the resumed weights" test -s "$T/s1/ema.safetensors"
expect_rc 0 "--ema 0 at resume" "$ELBO" train --resume --out "$T/s1" --epochs 4 --ema 0 --quiet
check "the stale average is gone" test ! -e "$T/s1/ema.safetensors"
expect_rc 2 "ema 1 refused" "$ELBO" train $SGD --ema 1 --epochs 1 --out "$T/e3"
# the learning-rate decay through the CLI: recorded, kept on resume, a change refused
expect_rc 0 "lr decay" "$ELBO" train $SMALL --lr-decay 0.5 --lr-min 1e-5 --epochs 1 --out "$T/d1"
expect_rc 0 "info of the decayed run" "$ELBO" info --model "$T/d1"
check "record names lr_decay and lr_min" sh -c "grep -q 'lr_decay  *0.5' '$T/out.txt' && grep -q 'lr_min  *1e-05' '$T/out.txt'"
expect_rc 2 "another decay on resume refused" "$ELBO" train --resume --out "$T/d1" --epochs 2 --lr-decay 0.9
check "names both decays" err_has "lr-decay 0.9 conflicts"
expect_rc 2 "a decay above 1 refused" "$ELBO" train $SMALL --lr-decay 1.5 --epochs 1 --out "$T/d2"

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
expect_rc 0 "bnn prune" "$ELBO" bnn prune --model "$T/a" --limit 300 --samples 2 --fractions 0,0.5,0.9 \
    --out "$T/prune.csv" --plot "$T/prune.png"
check "prune prints the SNR quantiles" grep -q "signal-to-noise ratio of 50816 weights" "$T/out.txt"
check "prune CSV: header and 3 rows" sh -c "head -1 '$T/prune.csv' | grep -q '^fraction_pruned,weights_kept,error,nll,ece,brier$' && test \$(wc -l < '$T/prune.csv') = 4"
check "half the weights kept at 0.5" grep -q "^0.5,25408," "$T/prune.csv"
check "prune plot" is_png "$T/prune.png"
expect_rc 2 "fractions must increase" "$ELBO" bnn prune --model "$T/a" --fractions 0.5,0.2
expect_rc 2 "a fraction of 1 refused" "$ELBO" bnn prune --model "$T/a" --fractions 1

# the deterministic baselines: point weights, with and without dropout
expect_rc 0 "point weights" "$ELBO" train $SMALL --epochs 1 --weights point --out "$T/pt"
check "point weights: PyTorch's nn.Linear names" sh -c "head -c 4000 '$T/pt/model.safetensors' | grep -q '\"fc1.weight\"' && ! head -c 4000 '$T/pt/model.safetensors' | grep -q weight_rho"
check "point weights: no KL" grep -q '"train_kl":0\.000000,' "$T/pt/metrics.jsonl"
expect_rc 0 "point eval, seed 1" "$ELBO" bnn eval --model "$T/pt" --limit 300 --json --seed 1
e1=$(sed 's/,"seconds".*//' "$T/out.txt")
expect_rc 0 "point eval, seed 2" "$ELBO" bnn eval --model "$T/pt" --limit 300 --json --seed 2
check "a point network's predictions do not depend on the seed" test "$e1" = "$(sed 's/,"seconds".*//' "$T/out.txt")"
expect_rc 0 "dropout" "$ELBO" train $SMALL --epochs 1 --weights point --dropout 0.5 --out "$T/dr"
check "dropout recorded" sh -c "head -c 6000 '$T/dr/model.safetensors' | grep -q '\"dropout\":\"0.5\"'"
expect_rc 0 "MC dropout eval, seed 1" "$ELBO" bnn eval --model "$T/dr" --limit 300 --json --seed 1
e1=$(sed 's/,"seconds".*//' "$T/out.txt")
expect_rc 0 "MC dropout eval, seed 2" "$ELBO" bnn eval --model "$T/dr" --limit 300 --json --seed 2
check "MC dropout draws masks" test "$e1" != "$(sed 's/,"seconds".*//' "$T/out.txt")"
expect_rc 2 "--dropout 1 refused" "$ELBO" train $SMALL --dropout 1 --out "$T/x"

# the regressor: diabetes (442 rows, 10 columns), every 5th row held out
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data
if [ -f "$SK/diabetes_data_raw.csv.gz" ]; then
    gzip -dc "$SK/diabetes_data_raw.csv.gz" | awk 'NR % 5 != 0' > "$T/dx.csv"
    gzip -dc "$SK/diabetes_data_raw.csv.gz" | awk 'NR % 5 == 0' > "$T/tx.csv"
    gzip -dc "$SK/diabetes_target.csv.gz" | awk 'NR % 5 != 0' > "$T/dy.csv"
    gzip -dc "$SK/diabetes_target.csv.gz" | awk 'NR % 5 == 0' > "$T/ty.csv"
    REG="--kind bnn --task regress --data $T/dx.csv --targets $T/dy.csv --test $T/tx.csv --test-targets $T/ty.csv --hidden 50 --batch 32 --lr 3e-3 --prior-sigma 1 --rho-init -5 --threads 2"
    expect_rc 0 "regressor, standardized" "$ELBO" train $REG --standardize --epochs 60 --out "$T/r"
    check "per-epoch RMSE and coverage" grep -q '"test_rmse":.*"test_cover90":0\.' "$T/r/metrics.jsonl"
    line=$(grep "^test set" "$T/out.txt" | sed 's/ (88 rows)//')
    rmse=$(echo "$line" | sed 's/.*RMSE \([0-9.]*\).*/\1/')
    check "beats predicting the mean (sd 77): RMSE $rmse" awk "BEGIN{exit !($rmse < 70)}"
    check "moments in the checkpoint" sh -c "head -c 4000 '$T/r/model.safetensors' | grep -q 'input.mean.*target.sd'"
    expect_rc 0 "eval on the raw file" "$ELBO" bnn eval --model "$T/r" --data "$T/tx.csv" --targets "$T/ty.csv"
    check "standardization travels with the model: eval = end of training" grep -q "RMSE $rmse " "$T/out.txt"
    expect_rc 2 "regressor eval needs --targets" "$ELBO" bnn eval --model "$T/r" --data "$T/tx.csv"
    expect_rc 2 "--ood is a classifier's" "$ELBO" bnn eval --model "$T/r" --data "$T/tx.csv" --targets "$T/ty.csv" --ood "$T/tx.csv"
    expect_rc 0 "regression reliability diagram" "$ELBO" bnn eval --model "$T/r" --data "$T/tx.csv" --targets "$T/ty.csv" --reliability "$T/rrel.png"
    check "regression reliability PNG" is_png "$T/rrel.png"
    expect_rc 0 "regressor predict" "$ELBO" bnn predict --model "$T/r" --data "$T/tx.csv" --targets "$T/ty.csv" --out "$T/rp.csv"
    check "regression CSV header" grep -q "^row,target,mean,sd,noise_sd,model_sd$" "$T/rp.csv"
    check "88 rows, sd^2 = noise^2 + model^2" awk -F, 'NR > 1 {n++; d = $4 * $4 - $5 * $5 - $6 * $6; if (d > 1e-3 * $4 * $4 || -d > 1e-3 * $4 * $4 || $6 <= 0) bad = 1} END {exit bad || n != 88}' "$T/rp.csv"
    expect_rc 0 "regressor, point weights" "$ELBO" train $REG --standardize --weights point --epochs 5 --out "$T/rp"
    head -n 10 "$T/ty.csv" > "$T/short.csv"
    expect_rc 1 "targets of the wrong length" "$ELBO" train $REG --targets "$T/short.csv" --epochs 1 --out "$T/x"
    check "names the file and both counts" err_has "short.csv: targets must be one value per row: 10 rows of 1, for 354"
    expect_rc 2 "regress without targets" "$ELBO" train --kind bnn --task regress --data "$T/dx.csv" --out "$T/x"
    expect_rc 2 "a classifier refuses --targets in eval" "$ELBO" bnn eval --model "$T/a" --targets "$T/ty.csv"
fi
finish test_bnn_cli
