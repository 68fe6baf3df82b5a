#!/bin/sh
# toolbox_smoke.sh — the VAE toolbox through the CLI on a small model:
# collapse tools and their metrics, binarization, IW evaluation, encode (.npy
# read back with numpy when python3-numpy is installed), scatter, linear probe,
# plots, interpolation, the 2-D manifold, anomaly scores with AUROC/AUPRC.
set -u
ELBO=${ELBO:-build/elbo}
T=$(mktemp -d /tmp/elbo-toolbox-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
FASHION=/usr/share/datasets/fashion-mnist

expect_rc 0 "train latent-2 model" "$ELBO" train --latent 2 --hidden 64 --train-limit 3000 --test-limit 500 \
    --epochs 2 --binarize dynamic --kl-warmup 2 --free-bits 0.1 --quiet --out "$T/m"
check "metrics record the KL weight" grep -q '"epoch":1,.*"kl_weight":0.5,' "$T/m/metrics.jsonl"
check "metrics record active units, active dims and 2 KL dims" grep -q '"active_units":[0-9],"active_dims":[0-9],"kl_dims":\[[0-9.]*,[0-9.]*\]' "$T/m/metrics.jsonl"
check "checkpoint records the binarization" grep -a -q '"binarize":"dynamic"' "$T/m/model.safetensors"

# IW evaluation
expect_rc 0 "eval --iw" "$ELBO" eval --model "$T/m" --limit 100 --iw 20 --json
loss=$(sed 's/.*"loss":\([0-9.]*\).*/\1/' "$T/out.txt"); lpx=$(sed 's/.*"log_px":\(-*[0-9.]*\).*/\1/' "$T/out.txt")
check "IW log p(x) ($lpx) >= -ELBO bound (-$loss)" awk "BEGIN{exit !($lpx >= -$loss)}"

# representations
expect_rc 0 "encode" "$ELBO" encode --model "$T/m" --limit 500 --prefix "$T/lat" --scatter "$T/scatter.png"
for f in lat_mu.npy lat_logvar.npy lat_labels.npy; do check "encode wrote $f" test -s "$T/$f"; done
check "scatter is a PNG" is_png "$T/scatter.png"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    check "numpy reads the latents" /usr/bin/python3 -c "
import numpy as np
mu = np.load('$T/lat_mu.npy'); lv = np.load('$T/lat_logvar.npy'); y = np.load('$T/lat_labels.npy')
assert mu.shape == (500, 2) and mu.dtype == np.float32, (mu.shape, mu.dtype)
assert lv.shape == (500, 2) and lv.dtype == np.float32
assert y.shape == (500,) and y.dtype == np.int32 and y[0] == 7
assert np.isfinite(mu).all()"
else
    echo "toolbox_smoke: python3-numpy not installed: numpy read-back skipped"
fi
expect_rc 0 "encode --probe" "$ELBO" encode --model "$T/m" --limit 500 --prefix "$T/lat2" --probe
acc=$(sed -n 's/^linear probe: \([0-9.]*\)%.*/\1/p' "$T/out.txt")
check "probe accuracy at least twice chance, 10% ($acc%)" awk "BEGIN{exit !(${acc:-0} > 20)}"

# generation and plots
expect_rc 0 "plot" "$ELBO" plot --metrics "$T/m/metrics.jsonl" -o "$T/loss.png"
check "loss plot is a PNG" is_png "$T/loss.png"
expect_rc 0 "interpolate" "$ELBO" interpolate --model "$T/m" -n 3 --steps 6 -o "$T/interp.png"
check "interpolation is a PNG" is_png "$T/interp.png"
expect_rc 0 "manifold" "$ELBO" manifold --model "$T/m" --steps 8 -o "$T/manifold.png"
check "manifold is a PNG" is_png "$T/manifold.png"

# anomaly detection
expect_rc 0 "score one set" "$ELBO" score --model "$T/m" --limit 200 -o "$T/s.csv"
check "scores CSV has a header and 200 rows" [ "$(wc -l < "$T/s.csv")" = 201 ]
expect_rc 0 "score digit as outlier" "$ELBO" score --model "$T/m" --limit 300 --outlier-digit 1 --score recon --json
check "digit AUROC printed" grep -q '"auroc":0\.[0-9]*' "$T/out.txt"
expect_rc 0 "score npy" "$ELBO" score --model "$T/m" --limit 50 --score iw --iw 5 -o "$T/s.npy"
check "scores npy" test -s "$T/s.npy"
if [ -d "$FASHION" ]; then
    expect_rc 0 "MNIST vs Fashion-MNIST" "$ELBO" score --model "$T/m" --limit 300 --inliers data/mnist --outliers "$FASHION" --json
    auroc=$(sed 's/.*"auroc":\([0-9.]*\).*/\1/' "$T/out.txt")
    check "MNIST vs Fashion AUROC well above chance ($auroc)" awk "BEGIN{exit !($auroc > 0.8)}"
fi

# misuse
for c in encode score interpolate manifold plot; do
    expect_rc 0 "elbo $c --help" "$ELBO" $c --help
    check "$c --help prints usage" grep -q "usage: elbo $c" "$T/out.txt"
done
expect_rc 2 "inliers without outliers" "$ELBO" score --model "$T/m" --inliers data/mnist
expect_rc 2 "bad score kind" "$ELBO" score --model "$T/m" --score bogus
expect_rc 2 "plot without metrics" "$ELBO" plot
printf 'not json\n' > "$T/bad.jsonl"
expect_rc 1 "plot bad metrics" "$ELBO" plot --metrics "$T/bad.jsonl" -o "$T/x.png"
check "bad metrics names the line" err_has "bad.jsonl:1"
expect_rc 0 "train 20-d model" "$ELBO" train --train-limit 500 --epochs 1 --no-test --quiet --out "$T/m20"
expect_rc 1 "manifold needs 2-D latents" "$ELBO" manifold --model "$T/m20" -o "$T/y.png"
expect_rc 0 "plot compares two runs (a folder, a file)" "$ELBO" plot --metrics "$T/m" --metrics "$T/m20/metrics.jsonl" \
    --keys train_loss,train_kl -o "$T/cmp.png"
check "... a PNG" is_png "$T/cmp.png"
check "... of two panels side by side, 920 pixels wide" [ "$(png_width "$T/cmp.png")" = 920 ]
expect_rc 1 "plot a field no line has" "$ELBO" plot --metrics "$T/m" --keys train_loss,nope -o "$T/x.png"
check "... names the file and the field" err_has 'metrics.jsonl: no line has a number "nope"'
expect_rc 2 "plot --keys without names" "$ELBO" plot --metrics "$T/m" --keys , -o "$T/x.png"
expect_rc 2 "plot nine --metrics" "$ELBO" plot --metrics "$T/m" --metrics "$T/m" --metrics "$T/m" --metrics "$T/m" \
    --metrics "$T/m" --metrics "$T/m" --metrics "$T/m" --metrics "$T/m" --metrics "$T/m" -o "$T/x.png"
expect_rc 2 "warm-up and cycle together" "$ELBO" train --kl-warmup 2 --kl-cycle 4
expect_rc 2 "bad binarize" "$ELBO" train --binarize sometimes
finish toolbox_smoke
