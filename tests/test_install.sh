#!/bin/sh
# test_install.sh — `make install` into a temporary prefix; the examples are
# compiled and linked against the installed library using only pkg-config,
# once shared and once static, and run; the shared library exports only
# elbo_ symbols; DESTDIR staging and `make uninstall` work.
set -u
B=${ELBO_BUILD:-build}
if [ "$B" != build ]; then
    echo "test_install: 0 passed, 0 failed, 1 skipped (install is tested in the normal build, not $B)"
    exit 0
fi
T=$(mktemp -d /tmp/elbo-install-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
P="$T/prefix"

expect_rc 0 "make install" make -s install PREFIX="$P"
for f in bin/elbo lib/libelbo.a lib/libelbo.so lib/libelbo.so.0 include/elbo.h include/elbo_vi.h include/elbo_lda.h include/elbo_m2.h \
         lib/pkgconfig/elbo.pc share/man/man1/elbo.1; do
    check "installed $f" test -e "$P/$f"
done
check "soname is libelbo.so.0" sh -c "objdump -p '$P/lib/libelbo.so' | grep -q 'SONAME *libelbo.so.0'"
nm -D --defined-only "$P/lib/libelbo.so" | awk '{print $3}' > "$T/syms"
check "shared library exports symbols" [ -s "$T/syms" ]
check "shared library exports only elbo_ symbols" sh -c "! grep -v '^elbo_' '$T/syms'"
nm -g --defined-only "$P/lib/libelbo.a" | awk 'NF==3 {print $3}' > "$T/ssyms"
check "static library defines only elbo_ globals" sh -c "! grep -v '^elbo_' '$T/ssyms'"
check "man page renders" sh -c "man -l '$P/share/man/man1/elbo.1' 2>/dev/null | grep -q 'variational inference: VAEs' || groff -man -Tascii '$P/share/man/man1/elbo.1' | grep -q 'variational inference: VAEs'"
expect_rc 0 "installed CLI runs" "$P/bin/elbo" --version

export PKG_CONFIG_PATH="$P/lib/pkgconfig"
CF=$(pkg-config --cflags elbo); LS=$(pkg-config --libs elbo); LST=$(pkg-config --libs --static elbo)
for ex in train_mnist sample_png semisup_m2; do
    expect_rc 0 "$ex shared build" cc -o "$T/${ex}_shared" examples/$ex.c $CF $LS
    expect_rc 0 "$ex static build" cc -static -o "$T/${ex}_static" examples/$ex.c $CF $LST
done
check "shared build uses libelbo.so.0" sh -c "LD_LIBRARY_PATH='$P/lib' ldd '$T/train_mnist_shared' | grep -q 'libelbo.so.0 => $P/lib'"
check "static build has no dynamic section" sh -c "! objdump -p '$T/train_mnist_static' | grep -q NEEDED"

mkdir -p "$T/o1" "$T/o2"
expect_rc 0 "train example (shared)" env LD_LIBRARY_PATH="$P/lib" "$T/train_mnist_shared" data/mnist 1 "$T/o1" 1000
check "train example printed an epoch" grep -q "^epoch 1  train" "$T/out.txt"
expect_rc 0 "train example (static)" "$T/train_mnist_static" data/mnist 1 "$T/o2" 1000
check "shared and static builds train identically" cmp -s "$T/o1/model.safetensors" "$T/o2/model.safetensors"
expect_rc 0 "sample example (shared)" env LD_LIBRARY_PATH="$P/lib" "$T/sample_png_shared" "$T/o1" "$T/s1.png" 16
expect_rc 0 "sample example (static)" "$T/sample_png_static" "$T/o2/model.safetensors" "$T/s2.png" 16
check "sample PNGs written" is_png "$T/s1.png"
check "sample PNGs identical" cmp -s "$T/s1.png" "$T/s2.png"
mkdir -p "$T/o3"
expect_rc 0 "M2 example (shared)" env LD_LIBRARY_PATH="$P/lib" "$T/semisup_m2_shared" data/mnist 10 1 "$T/o3" 2000
check "M2 example drew 100 labels and reported the test accuracy" \
    sh -c "grep -q '^100 labelled images, 1900 unlabelled' '$T/out.txt' && grep -q '^epoch 1 .* test accuracy [0-9.]*%' '$T/out.txt'"
check "M2 example saved its checkpoint" test -s "$T/o3/model.safetensors"

# DESTDIR staging keeps PREFIX in the .pc file; uninstall removes everything
expect_rc 0 "install with DESTDIR" make -s install DESTDIR="$T/stage" PREFIX=/usr
check "staged under DESTDIR" test -x "$T/stage/usr/bin/elbo"
check "pc prefix is /usr" grep -q '^prefix=/usr$' "$T/stage/usr/lib/pkgconfig/elbo.pc"
expect_rc 0 "uninstall" make -s uninstall PREFIX="$P"
check "uninstall removed every file" [ -z "$(find "$P" -type f -o -type l)" ]
# the README shows the examples as they are
for ex in train_mnist sample_png; do
    awk -v m="\`examples/$ex.c\`" 'index($0, m) == 1 {f = 1; next} f && /^```c$/ {p = 1; next}
        p && /^```$/ {exit} p {print}' README.md > "$T/readme_$ex.c"
    check "README shows examples/$ex.c verbatim" cmp -s "$T/readme_$ex.c" examples/$ex.c
done
finish test_install
