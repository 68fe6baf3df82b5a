#!/bin/sh
# test_m2_cli.sh — `elbo m2` end to end on a small slice of MNIST: train on
# 100 labels (elbo m2 train --labels N), the run's files and metrics, resume,
# eval with its confusion matrix, predict as CSV and .npy, sample and
# analogies as PNG, M1+M2 through a small VAE (on its means, and on draws
# with --m1-sample), and bad input refused with a message and a non-zero
# exit.
. "$(dirname "$0")/lib.sh"
E=${ELBO:-build/elbo}
T=$(mktemp -d /tmp/elbo_m2_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
small="--train-limit 3000 --test-limit 500 --hidden 64 --latent 8 --threads 2"

$E m2 train --labels 100 --epochs 1 $small --out "$T/a" > "$T/a.out" 2>&1
check "m2 train runs" test $? = 0
check "... says how many labels" grep -q "100 labelled rows (10 per class" "$T/a.out"
check "... reports the test error" grep -q "test set, the last epoch.s weights: accuracy" "$T/a.out"
check "... writes the checkpoint, best weights and metrics" \
    test -s "$T/a/model.safetensors" -a -s "$T/a/best.safetensors" -a -s "$T/a/metrics.jsonl"
check "metrics carry the M2 terms and accuracy" \
    grep -q '"train_labelled":.*"train_unlabelled":.*"train_class":.*"train_error":.*"val_error":.*"test_accuracy"' "$T/a/metrics.jsonl"
$E m2 train --resume --epochs 2 --out "$T/a" > "$T/r.out" 2>&1
check "resume continues to epoch 2" sh -c "test \$(wc -l < '$T/a/metrics.jsonl') = 2"
$E info --model "$T/a" > "$T/info.out" 2>&1
check "info names the kind and the label draw" grep -q "m2" "$T/info.out"
check "... and the recorded label draw" grep -q "n_labels *100" "$T/info.out"

$E m2 eval --model "$T/a" --limit 300 > "$T/e.out" 2>&1
check "eval prints accuracy" grep -q "^n 300  accuracy" "$T/e.out"
check "... and a 10x10 confusion matrix" sh -c "test \$(awk 'NF == 11' '$T/e.out' | wc -l) = 10"
$E m2 eval --model "$T/a" --limit 300 --json > "$T/e.json"
check "eval --json" grep -q '"accuracy":.*"confusion":\[\[' "$T/e.json"
$E m2 predict --model "$T/a" --input data/mnist --limit 20 --out "$T/p.csv" > /dev/null
check "predict writes CSV" sh -c "test \$(wc -l < '$T/p.csv') = 21 && head -1 '$T/p.csv' | grep -q '^row,label,p0,.*,p9,predicted$'"
$E m2 predict --model "$T/a" --input data/mnist --limit 20 --out "$T/p.npy" > /dev/null
check "predict writes .npy [20, 10]" sh -c "head -c 80 '$T/p.npy' | grep -q \"'shape': (20, 10)\""
$E m2 sample --model "$T/a" --out "$T/s.png" > /dev/null
check "sample: a row per class" test -s "$T/s.png"
$E m2 sample --model "$T/a" --class 3 -n 5 --out "$T/s3.png" > "$T/s3.out"
check "sample --class 3" grep -q "1 x 5: one class" "$T/s3.out"
$E m2 analogies --model "$T/a" -n 4 --out "$T/an.png" > "$T/an.out"
check "analogies grid" grep -q "4 rows: a test image, then its style as class 0..9" "$T/an.out"
check "... as PNG" test -s "$T/an.png"

# M1+M2: a small VAE, then M2 on its latent means (Gaussian likelihood)
$E train --epochs 1 --train-limit 3000 --test-limit 500 --latent 8 --threads 2 --out "$T/m1" --quiet
$E m2 train --labels 100 --epochs 1 --m1 "$T/m1" --train-limit 3000 --test-limit 500 --hidden 32 --latent 4 \
    --threads 2 --out "$T/m12" > "$T/m12.out" 2>&1
check "M1+M2 trains on M1's latent means" grep -q "through M1" "$T/m12.out"
$E m2 eval --model "$T/m12" --limit 200 > "$T/m12e.out" 2>&1
check "... and evaluates through the recorded M1" grep -q "^n 200  accuracy" "$T/m12e.out"
$E m2 train --labels 100 --epochs 1 --m1 "$T/m1" --m1-sample --train-limit 3000 --test-limit 500 --hidden 32 \
    --latent 4 --threads 2 --out "$T/m1s" > "$T/m1s.out" 2>&1
check "M1+M2 on draws from q(z1|x) trains (--m1-sample)" test $? = 0
$E info --model "$T/m1s" > "$T/m1s.info" 2>&1
check "... the model holds Gaussian inputs, the record the option" \
    sh -c "grep -q 'gaussian_inputs *1' '$T/m1s.info' && grep -q 'm1_sample *1' '$T/m1s.info'"
check "... of M1's active units (as many inputs as with means)" \
    sh -c "test \"\$(grep -m1 input_dim '$T/m1s.info')\" = \"\$($E info --model '$T/m12' | grep -m1 input_dim)\""
$E m2 train --resume --epochs 2 --out "$T/m1s" > "$T/m1sr.out" 2>&1
check "... resumes" sh -c "test $? = 0 && test \$(wc -l < '$T/m1s/metrics.jsonl') = 2"
$E m2 eval --model "$T/m1s" --limit 200 > "$T/m1se.out" 2>&1
check "... and evaluates on M1's means" grep -q "^n 200  accuracy" "$T/m1se.out"
$E m2 train --labels 100 --m1-sample --epochs 1 $small --out "$T/b8" > "$T/b8.out" 2>&1
check "--m1-sample without --m1: refused" sh -c "test $? = 2 && grep -q 'needs --m1' '$T/b8.out'"
$E m2 sample --model "$T/m12" --out "$T/x.png" > "$T/x.out" 2>&1
check "... sample refuses latent means with a reason" sh -c "test $? != 0 && grep -q 'not images' '$T/x.out'"

# dynamic binarization of the pixels
$E m2 train --labels 100 --epochs 1 --binarize dynamic $small --out "$T/bz" > "$T/bz.out" 2>&1
check "--binarize dynamic trains" test $? = 0
$E info --model "$T/bz" > "$T/bz.info" 2>&1
check "... the model binarizes, the record has the option" \
    sh -c "grep -q 'binarize_inputs *1' '$T/bz.info' && grep -q 'binarize *dynamic' '$T/bz.info'"
$E m2 train --resume --epochs 2 --out "$T/bz" > "$T/bzr.out" 2>&1
check "... resumes" sh -c "test $? = 0 && test \$(wc -l < '$T/bz/metrics.jsonl') = 2"
$E m2 train --labels 100 --binarize static $small --out "$T/b9" > "$T/b9.out" 2>&1
check "--binarize static: refused" sh -c "test $? = 2 && grep -q 'none or dynamic' '$T/b9.out'"
$E m2 train --labels 100 --binarize dynamic --likelihood gaussian $small --out "$T/b10" > "$T/b10.out" 2>&1
check "--binarize dynamic with a Gaussian likelihood: refused" sh -c "test $? = 2 && grep -q 'Bernoulli' '$T/b10.out'"

# bad input
$E m2 train --labels 105 --epochs 1 $small --out "$T/b1" > "$T/b1.out" 2>&1
check "--labels not a multiple of the classes: refused" sh -c "test $? != 0 && grep -q 'multiple of the number of classes' '$T/b1.out'"
$E m2 train --labels 100 --free-bits 1 $small --out "$T/b2" > "$T/b2.out" 2>&1
check "--free-bits: not an m2 option" sh -c "test $? = 2 && grep -q 'not an option of --kind m2' '$T/b2.out'"
$E m2 train --labels 100 --labelled-batch 100 $small --out "$T/b3" > "$T/b3.out" 2>&1
check "--labelled-batch >= --batch: refused" sh -c "test $? != 0 && grep -q 'fewer than the batch' '$T/b3.out'"
$E m2 sample --model "$T/a" --class 12 > "$T/b4.out" 2>&1
check "--class out of range: refused" sh -c "test $? = 2 && grep -q 'classes 0..9' '$T/b4.out'"
$E m2 eval --model "$T/nope" > "$T/b5.out" 2>&1
check "a missing model: refused" sh -c "test $? = 1 && grep -q 'nope' '$T/b5.out'"
$E m2 eval --model "$T/m1" > "$T/b6.out" 2>&1
check "a VAE checkpoint is not M2" sh -c "test $? = 1 && grep -q 'not M2' '$T/b6.out'"
$E m2 predict --model "$T/a" > "$T/b7.out" 2>&1
check "predict without --out: usage" sh -c "test $? = 2 && grep -q 'out' '$T/b7.out'"
$E m2 frobnicate > "$T/b8.out" 2>&1
check "an unknown subcommand" sh -c "test $? = 2 && grep -q 'unknown subcommand' '$T/b8.out'"
finish test_m2_cli
