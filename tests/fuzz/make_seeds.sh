#!/bin/sh
# make_seeds.sh — (re)writes the committed seed corpora in tests/fuzz/corpus/
# from real files: small idx files (raw and gzip), a small elbo checkpoint,
# and JSON headers. Run from the repository root after `make`.
set -eu
C=tests/fuzz/corpus
T=$(mktemp -d /tmp/elbo-seeds-XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p $C/fuzz_idx $C/fuzz_safetensors $C/fuzz_json
# idx: 3 images of 4x3 and 3 labels; first byte = role (see fuzz_idx.c)
printf '\000\000\010\003\000\000\000\003\000\000\000\004\000\000\000\003' > $T/img
head -c 36 /dev/urandom >> $T/img
printf '\000\000\010\001\000\000\000\002\007\001' > $T/lab
{ printf '\000'; cat $T/img; } > $C/fuzz_idx/images_raw
{ printf '\002'; gzip -c $T/img; } > $C/fuzz_idx/images_gz
{ printf '\001'; cat $T/lab; } > $C/fuzz_idx/labels_raw
{ printf '\003'; gzip -c $T/lab; } > $C/fuzz_idx/labels_gz
{ printf '\002'; head -c 3000 data/mnist/t10k-labels-idx1-ubyte.gz; } > $C/fuzz_idx/mnist_labels_head
# a small checkpoint written by elbo itself
cat > $T/mk.c <<'C'
#include "elbo.h"
int main(int argc, char **argv) {
    (void)argc;
    elbo_vae_config c; elbo_vae_config_default(&c);
    c.input_dim = 6; c.hidden[0] = 3; c.latent_dim = 2; c.max_batch = 2; c.threads = 1;
    elbo_error e; elbo_vae *m = elbo_vae_create(&c, 1, &e);
    float x[12] = {0, .5f, 1, 0, .2f, 0, 1, 1, 0, 0, .3f, .9f};
    elbo_train_config tc; elbo_train_config_default(&tc); tc.batch_size = 2;
    elbo_vae_train_step(m, &tc, x, 2, 0, &e);
    return elbo_vae_save(m, argv[1], &e) != ELBO_OK;
}
C
cc -Iinclude -o $T/mk $T/mk.c build/libelbo.a -fopenmp -lopenblas -lpng -lz -lm
$T/mk $T
{ printf '\000'; cat $T/model.safetensors; } > $C/fuzz_safetensors/model
{ printf '\001'; cat $T/optim.safetensors; } > $C/fuzz_safetensors/optim
# JSON: the headers above, and a few shapes
for f in model optim; do
    n=$(od -An -tu8 -N8 $T/$f.safetensors | tr -d ' ')
    dd if=$T/$f.safetensors bs=1 skip=8 count="$n" status=none > $C/fuzz_json/header_$f
done
printf '{"a":[1,-2.5e3,true,false,null],"b":{"c":"\\u00e9\\ud83d\\ude00\\n"}}' > $C/fuzz_json/mixed
printf '[[[[[]]]]]' > $C/fuzz_json/nested

# .npy and CSV seeds (need python3-numpy); first byte = role / options (see
# fuzz_npy.c, fuzz_csv.c)
mkdir -p $C/fuzz_npy $C/fuzz_csv
/usr/bin/python3 - "$C" <<'PY'
import gzip, io, sys
import numpy as np
C = sys.argv[1]
def npy(name, role, arr, version=None):
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, version=version)
    open(f"{C}/fuzz_npy/{name}", "wb").write(bytes([role]) + b.getvalue())
npy("f32", 0, np.arange(12, dtype=np.float32).reshape(3, 4))
npy("u8img", 0, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
npy("f64rgb", 0, np.linspace(0, 1, 24).reshape(2, 2, 2, 3))
npy("fortran", 0, np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)))
npy("labels_i64", 1, np.array([0, 1], dtype=np.int64))
npy("labels_u8", 1, np.array([3, 1], dtype=np.uint8))
npy("v2", 0, np.arange(6, dtype=np.float32).reshape(2, 3), version=(2, 0))
def csv(name, role, text):
    open(f"{C}/fuzz_csv/{name}", "wb").write(bytes([role]) + text)
csv("plain", 3, b"1,2,3\n4,5,6\n")
csv("header_label", 3 | (3 << 2), b"a,b,y\n0.5,1e-3,2\n-1,2.25,0\n")
csv("last_label", 2 | (2 << 2), b"1 2 3\n4 5 6\r\n\n")
csv("semicolon", 1, b"x;y\n1;2\n")
csv("gz", 3 | (1 << 2), gzip.compress(b"1,2\n3,4\n", mtime=0))
PY
echo "seeds written to $C"
