#!/bin/sh
# test_flows_cli.sh — flow posteriors and the two-layer VAE end to end on a
# slice of MNIST: `elbo train --flow planar|iaf` and `--latent2`, their
# metrics (kl_z1, kl_z2, active units per layer) and checkpoint metadata,
# the IW estimate below the -ELBO, a resumed run bit-identical to an
# uninterrupted one, top-down samples, reconstructions; each checkpoint
# loaded into the PyTorch twin (dev/flows_torch_check.py, strict) with the
# IW estimate agreeing (when Debian's python3-torch is installed); bad
# options refused with a message and a non-zero exit.
. "$(dirname "$0")/lib.sh"
E=${ELBO:-build/elbo}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/elbo_flows_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
small="--train-limit 3000 --test-limit 300 --hidden 64 --latent 8 --activation tanh --threads 2"
num() { sed -n "s/.*\"$1\": *\([-0-9.e]*\).*/\1/p" "$2"; }
have_torch=0
$PY -c 'import torch' 2>/dev/null && have_torch=1

for case in planar iaf hier; do
    case $case in
        planar) opts="--flow planar --flow-len 4" ;;
        iaf) opts="--flow iaf --flow-len 2 --flow-hidden 24" ;;
        hier) opts="--latent2 5 --hidden2 32" ;;
    esac
    # shellcheck disable=SC2086
    expect_rc 0 "$case: train 2 epochs" $E train $opts $small --epochs 2 --out "$T/$case"
    check "$case: the header names the posterior" grep -q "VAE with" "$T/out.txt"
    check "$case: checkpoint and metrics" test -s "$T/$case/model.safetensors" -a -s "$T/$case/metrics.jsonl"
    expect_rc 0 "$case: eval --iw 100" $E eval --model "$T/$case" --limit 200 --iw 100 --json --threads 2
    cp "$T/out.txt" "$T/$case.eval"
    loss=$(num loss "$T/$case.eval"); lpx=$(num log_px "$T/$case.eval")
    check "$case: IW -log p(x) ${lpx#-} below the -ELBO $loss" awk "BEGIN{n = -($lpx); exit !(n < $loss && n > 0)}"
    # resuming gives the bits of an uninterrupted run
    # shellcheck disable=SC2086
    expect_rc 0 "$case: 1 epoch" $E train $opts $small --epochs 1 --out "$T/$case.r"
    expect_rc 0 "$case: resume to 2" $E train --resume --epochs 2 --out "$T/$case.r"
    check "$case: resumed == uninterrupted (model.safetensors)" cmp -s "$T/$case/model.safetensors" "$T/$case.r/model.safetensors"
    expect_rc 0 "$case: sample" $E sample --model "$T/$case" -n 16 --out "$T/$case.png"
    check "$case: samples PNG" is_png "$T/$case.png"
    expect_rc 0 "$case: reconstruct" $E reconstruct --model "$T/$case" --out "$T/$case.rec.png"
    check "$case: reconstructions PNG" is_png "$T/$case.rec.png"
    if [ $have_torch = 1 ]; then
        expect_rc 0 "$case: PyTorch strict load" $PY dev/flows_torch_check.py "$T/$case/model.safetensors" --limit 200 --iw 100
        cp "$T/out.txt" "$T/$case.torch"
        tnll=$(num nll_iw "$T/$case.torch"); tl=$(num loss "$T/$case.torch"); se=$(num loss_se "$T/$case.torch")
        # both estimates carry Monte Carlo noise: the IW one about 0.05 nats
        # at K = 100 on 200 images, the one-sample -ELBO its standard error
        check "$case: IW -log p(x): PyTorch $tnll vs elbo ${lpx#-} within 0.3" \
            awk "BEGIN{d=$tnll+($lpx); exit !(d < 0.3 && d > -0.3)}"
        check "$case: -ELBO: PyTorch $tl vs elbo $loss within 4 se + 0.3" \
            awk "BEGIN{d=$tl-$loss; if (d<0) d=-d; exit !(d < 4*$se + 0.3)}"
    fi
done
check "metrics carry kl_z1 and kl_z2" grep -q '"train_kl_z1":.*"train_kl_z2":' "$T/hier/metrics.jsonl"
check "... and active units of z2" grep -q '"active_units2":' "$T/hier/metrics.jsonl"
check "a flow's metrics have no per-dimension KL" sh -c "! grep -q kl_dims '$T/planar/metrics.jsonl'"
$E info --model "$T/iaf" > "$T/info.out" 2>&1
check "info shows the flow" grep -q "^  flow  *iaf" "$T/info.out"
expect_rc 0 "IWAE with a flow" $E train --flow planar --flow-len 2 --objective iwae --samples 3 $small --epochs 1 --out "$T/fiw"
expect_rc 0 "IWAE with two layers" $E train --latent2 4 --objective iwae --samples 3 $small --epochs 1 --out "$T/hiw"
expect_rc 0 "IWAE with a KL warm-up" $E train --latent2 4 --objective iwae --samples 3 --kl-warmup 2 $small --epochs 1 --out "$T/hiwu"
expect_rc 2 "IWAE with free bits" $E train --objective iwae --samples 3 --free-bits 0.5 $small --epochs 1 --out "$T/bad"
expect_rc 0 "sample --latents from two layers" $E sample --model "$T/hier" -n 8 --latents "$T/z.npy" --out "$T/h.png"
check "... the z1 drawn top-down, [8, 8]" sh -c "head -c 80 '$T/z.npy' | grep -q \"'shape': (8, 8)\""

# bad options
expect_rc 2 "unknown flow" $E train --flow radial $small --out "$T/bad"
check "... says so" err_has "radial"
expect_rc 2 "--flow-len 0" $E train --flow planar --flow-len 0 $small --out "$T/bad"
expect_rc 2 "IAF with 9 steps" $E train --flow iaf --flow-len 9 $small --out "$T/bad"
check "... names the limit" err_has "at most 8"
expect_rc 2 "--flow-hidden with planar" $E train --flow planar --flow-hidden 10 $small --out "$T/bad"
expect_rc 2 "--flow-len without a flow" $E train --flow-len 3 $small --out "$T/bad"
expect_rc 2 "free bits with a flow" $E train --flow planar --free-bits 0.5 $small --out "$T/bad"
check "... says why" err_has "per-dimension KL"
expect_rc 2 "a flow and two layers" $E train --flow planar --latent2 4 $small --out "$T/bad"
expect_rc 2 "--hidden2 without --latent2" $E train --hidden2 20 $small --out "$T/bad"
check "no run folder from refused options" test ! -e "$T/bad/model.safetensors"
finish test_flows_cli
