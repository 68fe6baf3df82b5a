#!/bin/sh
# test_corrupt.sh — every file type elbo reads, corrupted in many ways
# (truncation at every header boundary and inside the data, flipped bytes,
# huge declared sizes, wrong magic or version) — idx, gzip, safetensors, and
# the user's .npy, CSV (raw and gzip) and PNG folders — fed to the CLI. Each run must
# end with exit 0 (the damage happened to leave a valid file) or 1 with an
# "elbo ...:" message naming the file — never a signal, a sanitizer report or
# another exit code.
set -u
ELBO=${ELBO:-build/elbo}
T=$(mktemp -d /tmp/elbo-corrupt-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
cases=0; rejected=0; rnd=4242
next_rand() { rnd=$(( (rnd * 1103515245 + 12345) % 2147483648 )); }

# a small MNIST-layout data set (200 raw images) and a model trained on it
mkdir -p "$T/data"
setcount() { # file offset value: big-endian uint32 at offset
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(( ($3 >> 24) & 255 )) $(( ($3 >> 16) & 255 )) \
        $(( ($3 >> 8) & 255 )) $(( $3 & 255 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
gzip -dc data/mnist/t10k-images-idx3-ubyte.gz | head -c $((16 + 200 * 784)) > "$T/data/t10k-images-idx3-ubyte"
gzip -dc data/mnist/t10k-labels-idx1-ubyte.gz | head -c $((8 + 200)) > "$T/data/t10k-labels-idx1-ubyte"
setcount "$T/data/t10k-images-idx3-ubyte" 4 200
setcount "$T/data/t10k-labels-idx1-ubyte" 4 200
cp "$T/data/t10k-images-idx3-ubyte" "$T/data/train-images-idx3-ubyte"
cp "$T/data/t10k-labels-idx1-ubyte" "$T/data/train-labels-idx1-ubyte"
expect_rc 0 "train on the small set" "$ELBO" train --data "$T/data" --epochs 1 --hidden 32 --latent 4 --no-test --quiet --out "$T/model"
expect_rc 0 "eval on the small set" "$ELBO" eval --model "$T/model" --data "$T/data"

# run CMD... on a corrupted copy; judge the outcome
judge() {
    what=$1; shift
    cases=$((cases + 1))
    "$@" > /dev/null 2> "$T/err.txt"
    rc=$?
    if grep -q -E 'Sanitizer|runtime error' "$T/err.txt"; then
        FAIL=$((FAIL + 1)); echo "FAIL: $what: sanitizer report" >&2; head -5 "$T/err.txt" >&2
    elif [ $rc = 0 ]; then
        PASS=$((PASS + 1))
    elif [ $rc = 1 ] && grep -q '^elbo [a-z]*: .*' "$T/err.txt"; then
        PASS=$((PASS + 1)); rejected=$((rejected + 1))
    else
        FAIL=$((FAIL + 1)); echo "FAIL: $what: exit $rc" >&2; head -5 "$T/err.txt" >&2
    fi
}

flip() { # file offset: xor the byte there with a random non-zero mask
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    next_rand; m=$(( rnd % 255 + 1 ))
    printf "$(printf '\\%03o' $(( (b ^ m) & 255 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# --- idx (raw and gzip): the test images, read by `elbo eval`
corrupt_idx() { # kind (raw|gz) name src
    kind=$1; name=$2; src=$3
    size=$(wc -c < "$src")
    run_idx() {
        rm -rf "$T/d"; cp -r "$T/data" "$T/d"; rm -f "$T/d/$name"
        if [ "$kind" = gz ]; then gzip -c "$T/x" > "$T/d/$name.gz"; else cp "$T/x" "$T/d/$name"; fi
        judge "$kind $name: $1" "$ELBO" eval --model "$T/model" --data "$T/d"
    }
    for cut in 0 1 3 4 7 8 11 12 15 16 17 $((size / 2)) $((size - 1)); do
        head -c "$cut" "$src" > "$T/x"; run_idx "truncated at $cut"
    done
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        cp "$src" "$T/x"; next_rand; flip "$T/x" $(( rnd % 16 )); run_idx "header byte flipped ($i)"
    done
    for i in 1 2 3 4; do
        cp "$src" "$T/x"; next_rand; flip "$T/x" $(( 16 + rnd % (size - 16) )); run_idx "data byte flipped ($i)"
    done
    for v in 0 1 4096 65535 2147483647 4294967295; do
        cp "$src" "$T/x"; setcount "$T/x" 4 $v; run_idx "count $v"
        cp "$src" "$T/x"; setcount "$T/x" 0 $v; run_idx "magic $v"
    done
    if [ "$name" = t10k-images-idx3-ubyte ]; then
        for v in 0 1 27 29 4097 2147483647; do
            cp "$src" "$T/x"; setcount "$T/x" 8 $v; run_idx "rows $v"
            cp "$src" "$T/x"; setcount "$T/x" 12 $v; run_idx "cols $v"
        done
    fi
}
corrupt_idx raw t10k-images-idx3-ubyte "$T/data/t10k-images-idx3-ubyte"
corrupt_idx gz t10k-images-idx3-ubyte "$T/data/t10k-images-idx3-ubyte"
corrupt_idx raw t10k-labels-idx1-ubyte "$T/data/t10k-labels-idx1-ubyte"

# --- the gzip stream itself: truncated, flipped, bad header and trailer
gzip -c "$T/data/t10k-images-idx3-ubyte" > "$T/img.gz"
gsize=$(wc -c < "$T/img.gz")
run_gz() {
    rm -rf "$T/d"; cp -r "$T/data" "$T/d"; rm -f "$T/d/t10k-images-idx3-ubyte"
    cp "$T/x" "$T/d/t10k-images-idx3-ubyte.gz"
    judge "gzip: $1" "$ELBO" eval --model "$T/model" --data "$T/d"
}
for cut in 1 2 9 10 20 100 $((gsize / 2)) $((gsize - 8)) $((gsize - 4)) $((gsize - 1)); do
    head -c "$cut" "$T/img.gz" > "$T/x"; run_gz "truncated at $cut"
done
for i in $(seq 1 20); do
    cp "$T/img.gz" "$T/x"; next_rand; flip "$T/x" $(( rnd % gsize )); run_gz "byte flipped ($i)"
done

# --- safetensors: model.safetensors and optim.safetensors, read by eval
corrupt_st() { # name
    name=$1; src="$T/model/$name"; size=$(wc -c < "$src")
    hl=$(od -An -tu8 -N8 "$src" | tr -d ' ')
    run_st() {
        rm -rf "$T/m"; cp -r "$T/model" "$T/m"; cp "$T/x" "$T/m/$name"; rm -f "$T/m/optim.prev.safetensors"
        judge "$name: $1" "$ELBO" eval --model "$T/m" --data "$T/data"
    }
    for cut in 0 1 7 8 9 $((8 + hl / 2)) $((8 + hl - 1)) $((8 + hl)) $((8 + hl + 1)) $((size - 4)) $((size - 1)); do
        head -c "$cut" "$src" > "$T/x"; run_st "truncated at $cut"
    done
    for i in $(seq 1 40); do
        cp "$src" "$T/x"; next_rand; flip "$T/x" $(( 8 + rnd % hl )); run_st "header byte flipped ($i)"
    done
    for i in 1 2 3 4 5 6 7 8; do
        cp "$src" "$T/x"; next_rand; flip "$T/x" $(( rnd % 8 )); run_st "length byte flipped ($i)"
    done
    for i in 1 2 3 4; do
        cp "$src" "$T/x"; next_rand; flip "$T/x" $(( 8 + hl + rnd % (size - 8 - hl) )); run_st "data byte flipped ($i)"
    done
    sed 's/elbo-vae-1/elbo-vae-9/' "$src" > "$T/x"; run_st "format version 9"
    sed 's/"F32"/"F64"/' "$src" > "$T/x"; run_st "dtype F64"
    sed 's/"F32"/"Q9X"/' "$src" > "$T/x"; run_st "unknown dtype"
    sed 's/"shape":\[/"shape":[99999999999,/' "$src" > "$T/x"; run_st "huge shape"
    sed 's/"data_offsets":\[0,/"data_offsets":[4294967296000,/' "$src" > "$T/x"; run_st "huge offset"
}
corrupt_st model.safetensors
corrupt_st optim.safetensors

# --- the user's files: .npy, CSV and a PNG folder, read by `elbo train --data`
# a uint8 .npy [200, 28, 28] written here byte by byte (no numpy needed)
npy_dict="{'descr': '|u1', 'fortran_order': False, 'shape': (200, 28, 28), }"
pad=$(( 64 - (10 + ${#npy_dict} + 1) % 64 ))
[ "$pad" = 64 ] && pad=0
hl=$(( ${#npy_dict} + pad + 1 ))
{ printf '\223NUMPY\001\000'; printf "$(printf '\\%03o\\%03o' $((hl & 255)) $((hl >> 8)))"
  printf '%s' "$npy_dict"; printf "%${pad}s\n" ""; tail -c +17 "$T/data/t10k-images-idx3-ubyte"; } > "$T/ok.npy"
expect_rc 0 "train on the valid .npy" "$ELBO" train --data "$T/ok.npy" --epochs 1 --hidden 8 --latent 2 --quiet --out "$T/un"
read_user() { # what file: train one epoch on it
    judge "$1" "$ELBO" train --data "$2" --epochs 1 --hidden 4 --latent 1 --quiet --force --out "$T/un"
}
size=$(wc -c < "$T/ok.npy")
for cut in 0 5 6 8 9 10 40 $((10 + hl - 1)) $((10 + hl)) $((10 + hl + 1)) $((size / 2)) $((size - 1)); do
    head -c "$cut" "$T/ok.npy" > "$T/x.npy"; read_user "npy truncated at $cut" "$T/x.npy"
done
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
    cp "$T/ok.npy" "$T/x.npy"; next_rand; flip "$T/x.npy" $(( rnd % (10 + hl) )); read_user "npy header byte flipped ($i)" "$T/x.npy"
done
for edit in "s/(200, 28, 28)/(900, 28, 28)/" "s/(200, 28, 28)/(200, 28)    /" "s/|u1/<f4/" "s/|u1/<c8/" \
    "s/|u1/>f8/" "s/False/Maybe/" "s/'shape'/'shapx'/" "s/(200, 28, 28)/(-1, 28, 28) /" \
    "s/(200, 28, 28)/(99999999999999999999, 1)/"; do
    LC_ALL=C sed "1$edit" "$T/ok.npy" > "$T/x.npy"
    read_user "npy header edit $edit" "$T/x.npy"
done
# a CSV of 20 rows of 6 values in [0, 1], raw and gzip
awk 'BEGIN { srand(7); for (r = 0; r < 20; r++) { for (c = 0; c < 6; c++) printf "%s%.3f", c ? "," : "", rand(); print "" } }' > "$T/ok.csv"
expect_rc 0 "train on the valid CSV" "$ELBO" train --data "$T/ok.csv" --epochs 1 --hidden 4 --latent 1 --quiet --force --out "$T/un"
size=$(wc -c < "$T/ok.csv")
for cut in 0 1 5 $((size / 3)) $((size / 2)) $((size - 2)); do
    head -c "$cut" "$T/ok.csv" > "$T/x.csv"; read_user "csv truncated at $cut" "$T/x.csv"
done
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    cp "$T/ok.csv" "$T/x.csv"; next_rand; flip "$T/x.csv" $(( rnd % size )); read_user "csv byte flipped ($i)" "$T/x.csv"
done
for line in "" "1,2,3" "a,b,c,d,e,f" "nan,0,0,0,0,0" "1e999,0,0,0,0,0" ",,,,," "0,0,0,0,0,0,0"; do
    { head -n 10 "$T/ok.csv"; echo "$line"; tail -n 10 "$T/ok.csv"; } > "$T/x.csv"; read_user "csv line '$line' inserted" "$T/x.csv"
done
printf '1,2\0003,4\n' > "$T/x.csv"; read_user "csv with a NUL byte" "$T/x.csv"
gzip -c "$T/ok.csv" > "$T/ok.csv.gz"
size=$(wc -c < "$T/ok.csv.gz")
for cut in 10 20 $((size / 2)) $((size - 4)); do
    head -c "$cut" "$T/ok.csv.gz" > "$T/x.csv.gz"; read_user "csv.gz truncated at $cut" "$T/x.csv.gz"
done
for i in 1 2 3 4 5 6; do
    cp "$T/ok.csv.gz" "$T/x.csv.gz"; next_rand; flip "$T/x.csv.gz" $(( rnd % size )); read_user "csv.gz byte flipped ($i)" "$T/x.csv.gz"
done
# a folder of three PNG images (sample grids of one size), one of them damaged
mkdir -p "$T/pngs"
for k in 1 2 3; do "$ELBO" sample --model "$T/model" -n 4 --seed $k -o "$T/pngs/$k.png" > /dev/null; done
expect_rc 0 "train on the valid PNG folder" "$ELBO" train --data "$T/pngs" --epochs 1 --hidden 4 --latent 1 --quiet --force --out "$T/un"
cp "$T/pngs/2.png" "$T/ok.png"
size=$(wc -c < "$T/ok.png")
for cut in 0 4 8 16 33 $((size / 2)) $((size - 12)) $((size - 1)); do
    head -c "$cut" "$T/ok.png" > "$T/pngs/2.png"; read_user "png truncated at $cut" "$T/pngs"
done
for i in 1 2 3 4 5 6 7 8 9 10; do
    cp "$T/ok.png" "$T/pngs/2.png"; next_rand; flip "$T/pngs/2.png" $(( rnd % size )); read_user "png byte flipped ($i)" "$T/pngs"
done
cp "$T/ok.png" "$T/pngs/2.png"
"$ELBO" sample --model "$T/model" -n 9 -o "$T/pngs/4.png" > /dev/null
read_user "png of another size" "$T/pngs"

echo "test_corrupt: $cases corrupted inputs, $rejected rejected with a message, the rest still valid"
check "at least 250 corrupted inputs ($cases)" [ "$cases" -ge 250 ]
check "most corruptions detected ($rejected of $cases)" [ "$rejected" -ge $((cases * 3 / 4)) ]
finish test_corrupt
