#!/bin/sh
# test_user_data.sh — training on the user's own files through `elbo train
# --data PATH`: scikit-learn's 8x8 digits from its CSV (grids drawn 8x8),
# MNIST pixels as a numpy-written uint8 .npy train to the same tensors as
# from idx, labels beside an .npy, a --test file, and bad files refused with
# the file and the place named. Parts needing python3-sklearn or
# python3-numpy are skipped, and said so, without them.
. tests/lib.sh
ELBO=${ELBO:-build/elbo}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/elbo-user-data-XXXXXX)
trap 'rm -rf "$T"' EXIT
skipped=0
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $3*256+$4 "x" $7*256+$8}'; }

DIGITS=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
if [ -f "$DIGITS" ]; then
    expect_rc 0 "train on digits.csv.gz" "$ELBO" train --data "$DIGITS" --label-column -1 --scale 0.0625 \
        --image-shape 8x8 --latent 8 --hidden 128 --epochs 40 --batch 64 --quiet --out "$T/digits"
    check "samples.png" is_png "$T/digits/samples.png"
    check "reconstructions.png" is_png "$T/digits/reconstructions.png"
    # a grid of 8 columns of 8-pixel images with 2-pixel borders: 8 * 10 + 2 = 82 wide
    check "grid of 8x8 images ($(png_size "$T/digits/samples.png"))" test "$(png_size "$T/digits/samples.png")" = "82x82"
    first=$(head -n 1 "$T/digits/metrics.jsonl" | sed 's/.*"train_loss":\([0-9.]*\).*/\1/')
    last=$(tail -n 1 "$T/digits/metrics.jsonl" | sed 's/.*"train_loss":\([0-9.]*\).*/\1/')
    check "digits loss falls ($first -> $last)" awk "BEGIN{exit !($last < 0.8 * $first)}"
    expect_rc 0 "info shows the data options" "$ELBO" info --model "$T/digits"
    check "run record keeps the label column and scale" grep -q "label_column *-1" "$T/out.txt"
    expect_rc 0 "resume on the user's file" "$ELBO" train --resume --out "$T/digits" --epochs 41 --quiet
    # the other commands read the file as training did (label column, scale, shape from the run record)
    expect_rc 0 "eval --input" "$ELBO" eval --model "$T/digits" --input "$DIGITS" --json
    check "eval on all 1797 digits" grep -q '"n":1797' "$T/out.txt"
    expect_rc 0 "reconstruct --input" "$ELBO" reconstruct --model "$T/digits" --input "$DIGITS" -o "$T/rec.png"
    check "reconstructions drawn 8x8 ($(png_size "$T/rec.png"))" test "$(png_size "$T/rec.png")" = "82x82"
    expect_rc 0 "encode --input" "$ELBO" encode --model "$T/digits" --input "$DIGITS" --prefix "$T/lat"
    if $PY -c 'import numpy' 2>/dev/null; then
        check "numpy reads the latents and labels" $PY -c "
import numpy as np
mu = np.load('$T/lat_mu.npy'); y = np.load('$T/lat_labels.npy')
assert mu.shape == (1797, 8) and y.shape == (1797,) and y.dtype == np.int32 and set(y) == set(range(10))"
    fi
    expect_rc 0 "sample -o .npy" "$ELBO" sample --model "$T/digits" -n 16 -o "$T/s.npy"
    expect_rc 0 "sample -o .png at 8x8" "$ELBO" sample --model "$T/digits" -o "$T/s.png"
    check "sample grid 8x8 ($(png_size "$T/s.png"))" test "$(png_size "$T/s.png")" = "82x82"
    if $PY -c 'import numpy' 2>/dev/null; then
        $PY -c "import numpy as np; np.save('$T/z.npy', np.random.RandomState(0).randn(5, 8))"
        expect_rc 0 "decode latents from numpy" "$ELBO" decode --model "$T/digits" --z "$T/z.npy" -o "$T/d.npy"
        expect_rc 0 "decode the posterior means" "$ELBO" decode --model "$T/digits" --z "$T/lat_mu.npy" -o "$T/dm.npy"
        expect_rc 0 "decode to PNG" "$ELBO" decode --model "$T/digits" --z "$T/z.npy" -o "$T/d.png"
        check "decode's PNG" is_png "$T/d.png"
        check "numpy reads sample and decode outputs" $PY -c "
import numpy as np
s = np.load('$T/s.npy'); d = np.load('$T/d.npy'); dm = np.load('$T/dm.npy')
assert s.shape == (16, 8, 8) and d.shape == (5, 8, 8) and dm.shape == (1797, 8, 8), (s.shape, d.shape, dm.shape)
assert s.dtype == np.float32 and 0 <= d.min() and d.max() <= 1
"
        expect_rc 0 "sample with its latents" "$ELBO" sample --model "$T/digits" -n 200 --seed 9 -o "$T/s2.npy" \
            --latents "$T/z2.npy"
        expect_rc 0 "decode those latents" "$ELBO" decode --model "$T/digits" --z "$T/z2.npy" -o "$T/d2.npy"
        check "decode gives sample's images exactly" $PY -c "
import numpy as np
assert np.array_equal(np.load('$T/s2.npy'), np.load('$T/d2.npy'))"
        printf 'x' > "$T/bad_z.npy"
        expect_rc 1 "decode a bad latents file" "$ELBO" decode --model "$T/digits" --z "$T/bad_z.npy"
        check "names the file" err_has "bad_z.npy"
        $PY -c "import numpy as np; np.save('$T/z3.npy', np.zeros((2, 3)))"
        expect_rc 1 "latents of the wrong width" "$ELBO" decode --model "$T/digits" --z "$T/z3.npy"
        check "says the width" err_has "3 values but the model expects 8"
    fi
    expect_rc 1 "encode --probe on a file alone" "$ELBO" encode --model "$T/digits" --input "$DIGITS" --probe --prefix "$T/lat"
    check "asks for --train-data" err_has "needs --train-data"
    expect_rc 0 "encode --probe --train-data" "$ELBO" encode --model "$T/digits" --input "$DIGITS" --probe \
        --train-data "$DIGITS" --prefix "$T/lat"
    # real-valued vectors: standardized wine, a Gaussian VAE, a validation split, early stopping
    WINE=$(dirname "$DIGITS")/wine_data.csv
    W="--data $WINE --label-column -1 --standardize --likelihood gaussian --val-fraction 0.2 --latent 2 --hidden 32 --batch 16 --threads 2"
    expect_rc 0 "wine with early stopping" "$ELBO" train $W --early-stop 15 --epochs 1000 --out "$T/wine"
    check "early stopping fired" grep -q "stopped early after epoch" "$T/out.txt"
    stop=$(sed -n 's/stopped early after epoch \([0-9]*\).*/\1/p' "$T/out.txt")
    best=$(tail -n 1 "$T/wine/metrics.jsonl" | sed 's/.*"best_epoch":\([0-9]*\).*/\1/')
    check "the best epoch ($best) is 15 before the stop ($stop)" test "$((stop - best))" = 15
    v1=$(sed -n '1s/.*"val_loss":\([0-9.]*\).*/\1/p' "$T/wine/metrics.jsonl")
    vb=$(sed -n "${best}s/.*\"val_loss\":\([0-9.]*\).*/\1/p" "$T/wine/metrics.jsonl")
    check "the validation loss fell ($v1 -> $vb)" awk "BEGIN{exit !($vb < $v1)}"
    expect_rc 0 "the same run to the best epoch" "$ELBO" train $W --epochs "$best" --quiet --out "$T/wine_best"
    if $PY -c 'import json' 2>/dev/null; then
        $PY dev/tensor_checksums.py "$T/wine/best.safetensors" > "$T/best.sum"
        $PY dev/tensor_checksums.py "$T/wine_best/model.safetensors" > "$T/rerun.sum"
        check "best.safetensors = the checkpoint of the best epoch" cmp -s "$T/best.sum" "$T/rerun.sum"
    fi
    expect_rc 0 "resume an early-stopped run" "$ELBO" train --resume --out "$T/wine" --quiet
    check "it stays stopped" test "$(wc -l < "$T/wine/metrics.jsonl")" = "$stop"
else
    echo "test_user_data: python3-sklearn not installed: digits and wine parts skipped"
    skipped=$((skipped + 1))
fi

if $PY -c 'import numpy' 2>/dev/null; then
    # the first 600 MNIST training images and labels, as numpy writes them
    $PY - "$T" <<'PY'
import gzip, sys, numpy as np
t = sys.argv[1]
with gzip.open("data/mnist/train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:600]
with gzip.open("data/mnist/train-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)[:600]
np.save(f"{t}/x.npy", x)
np.save(f"{t}/y.npy", y.astype(np.int64))
np.save(f"{t}/xf.npy", np.asfortranarray((x.reshape(600, 784) / 255.0).astype(np.float64)))
PY
    COMMON="--epochs 1 --no-test --threads 2 --seed 3 --quiet"
    expect_rc 0 "train on idx (600 rows)" "$ELBO" train --data data/mnist --train-limit 600 $COMMON --out "$T/idx"
    expect_rc 0 "train on the uint8 .npy" "$ELBO" train --data "$T/x.npy" --labels "$T/y.npy" $COMMON --out "$T/npy"
    $PY dev/tensor_checksums.py "$T/idx/model.safetensors" > "$T/idx.sum"
    $PY dev/tensor_checksums.py "$T/npy/model.safetensors" > "$T/npy.sum"
    check "idx and npy train to bit-identical tensors" cmp -s "$T/idx.sum" "$T/npy.sum"
    expect_rc 0 "train on a float64 Fortran-order .npy" "$ELBO" train --data "$T/xf.npy" --image-shape 28x28 $COMMON --out "$T/f64"
    check "its grids are drawn" is_png "$T/f64/samples.png"
    expect_rc 0 "a test file beside the data" "$ELBO" train --data "$T/x.npy" --test "$T/x.npy" --test-limit 100 \
        --epochs 1 --threads 2 --quiet --out "$T/with_test"
    check "the test loss is in the metrics" grep -q '"test_loss"' "$T/with_test/metrics.jsonl"
    expect_rc 0 "bnn on the .npy with labels" "$ELBO" train --kind bnn --data "$T/x.npy" --labels "$T/y.npy" \
        --test "$T/x.npy" --test-labels "$T/y.npy" --hidden 32 --epochs 1 --quiet --out "$T/bnn"
    expect_rc 1 "bnn without labels" "$ELBO" train --kind bnn --data "$T/x.npy" --hidden 32 --epochs 1 --quiet --out "$T/bnn2"
    check "says labels are needed" err_has "needs labels"
else
    echo "test_user_data: python3-numpy not installed: npy part skipped"
    skipped=$((skipped + 1))
fi

# the same pixels give the same model: Fashion-MNIST from idx, a PNG folder and an .npy
FASHION=/usr/share/datasets/fashion-mnist
if [ -f "$FASHION/train-images-idx3-ubyte.gz" ] && $PY -c 'import numpy, PIL' 2>/dev/null; then
    $PY - "$T" "$FASHION" <<'PY'
import gzip, os, sys, numpy as np
from PIL import Image
t, d = sys.argv[1], sys.argv[2]
with gzip.open(f"{d}/train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:500]
with gzip.open(f"{d}/train-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)[:500]
os.makedirs(f"{t}/fpng")
for i, im in enumerate(x):  # flat, in idx order: the same rows in the same order
    Image.fromarray(im, mode="L").save(f"{t}/fpng/{i:05d}.png")
for c in range(10):
    os.makedirs(f"{t}/fcls/class{c}")
for i, im in enumerate(x[:100]):  # by class, for labels from folder names
    Image.fromarray(im, mode="L").save(f"{t}/fcls/class{y[i]}/{i:05d}.png")
np.save(f"{t}/f.npy", x)
PY
    F="--epochs 1 --no-test --threads 2 --seed 5 --quiet"
    expect_rc 0 "fashion from idx" "$ELBO" train --data "$FASHION" --train-limit 500 $F --out "$T/f_idx"
    expect_rc 0 "fashion from a PNG folder" "$ELBO" train --data "$T/fpng" $F --out "$T/f_png"
    expect_rc 0 "fashion from an .npy" "$ELBO" train --data "$T/f.npy" $F --out "$T/f_npy"
    for k in idx png npy; do $PY dev/tensor_checksums.py "$T/f_$k/model.safetensors" > "$T/f_$k.sum"; done
    check "PNG folder = idx, bit for bit" cmp -s "$T/f_idx.sum" "$T/f_png.sum"
    check "npy = idx, bit for bit" cmp -s "$T/f_idx.sum" "$T/f_npy.sum"
    expect_rc 0 "labels from class folders (bnn)" "$ELBO" train --kind bnn --data "$T/fcls" --hidden 16 --epochs 1 \
        --quiet --out "$T/f_bnn"
    # RGB: a folder of 8x8 colour images; grids in colour, .npy [N, 8, 8, 3]
    $PY - "$T" <<'PY'
import os, sys, numpy as np
from PIL import Image
t = sys.argv[1]
for i in range(40):
    x = np.zeros((8, 8, 3), np.uint8); x[:, :, i % 3] = 200; x[i % 8, :, :] = 255
    os.makedirs(f"{t}/rgb/{'ab'[i % 2]}", exist_ok=True)
    Image.fromarray(x, "RGB").save(f"{t}/rgb/{'ab'[i % 2]}/{i:03d}.png")
PY
    expect_rc 0 "train on RGB images" "$ELBO" train --data "$T/rgb" --epochs 3 --hidden 16 --latent 2 --quiet --out "$T/rgbrun"
    check "samples.png is an RGB PNG" test "$(od -An -tu1 -j25 -N1 "$T/rgbrun/samples.png" | tr -d ' ')" = 2
    expect_rc 0 "sample the RGB model to .npy" "$ELBO" sample --model "$T/rgbrun" -n 4 -o "$T/rgb.npy"
    check "numpy sees [4, 8, 8, 3]" $PY -c "import numpy as np; assert np.load('$T/rgb.npy').shape == (4, 8, 8, 3)"
    expect_rc 0 "info of that run" "$ELBO" info --model "$T/f_bnn"
    check "ten classes from ten folders" grep -q "n_classes *10" "$T/out.txt"
else
    echo "test_user_data: dataset-fashion-mnist or python3-pil missing: PNG folder part skipped"
    skipped=$((skipped + 1))
fi

printf '1,2,3\n4,5\n' > "$T/rag.csv"
expect_rc 1 "ragged CSV" "$ELBO" train --data "$T/rag.csv" --out "$T/bad1" --quiet
check "names the file and the line" err_has "rag.csv: line 2 has 2 cells"
printf '0,2\n1.5,x\n' > "$T/word.csv"
expect_rc 1 "non-numeric cell" "$ELBO" train --data "$T/word.csv" --out "$T/bad2" --quiet
check "names line and column" err_has "line 2, column 2"
printf '0.5,2\n' > "$T/range.csv"
expect_rc 1 "Bernoulli on values above 1" "$ELBO" train --data "$T/range.csv" --out "$T/bad3" --quiet
check "suggests a Gaussian likelihood" err_has "likelihood gaussian"
expect_rc 0 "the same with a Gaussian likelihood" "$ELBO" train --data "$T/range.csv" --likelihood gaussian \
    --hidden 4 --latent 1 --epochs 2 --quiet --out "$T/gauss"
: > "$T/empty.npy"
expect_rc 1 "empty .npy" "$ELBO" train --data "$T/empty.npy" --out "$T/bad4" --quiet
check "says empty" err_has "empty"
expect_rc 1 "unknown extension" "$ELBO" train --data "$T/rag.dat" --out "$T/bad5" --quiet
expect_rc 2 "bad image shape" "$ELBO" train --data "$T/range.csv" --image-shape 3 --out "$T/bad6" --quiet
check "no run folder files left by refusals" test ! -e "$T/bad1/model.safetensors"
if [ "$skipped" -gt 0 ]; then
    echo "test_user_data: $PASS passed, $FAIL failed, $skipped skipped"
    [ "$FAIL" = 0 ]
else
    finish test_user_data
fi
