#!/bin/sh
# bench/vi_bench.sh — elbo fit against NumPyro's SVI (bench/vi_numpyro.py)
# on the posteriordb regressions of tests/posteriordb, in one run on one
# machine: wall seconds of each fit (elbo: the whole `elbo fit` process,
# 20,000 summary draws included; NumPyro: svi.run with jit compilation
# and 20,000 guide draws), the worst posterior-mean error in reference sds
# and the range of sd ratios against posteriordb's NUTS reference.
# Appends the table to bench/RESULTS.md.
#
#   sh bench/vi_bench.sh [STEPS] [LR]   (NumPyro's steps and Adam lr: 20000, 0.01)
# Needs a venv with numpyro and jax from PyPI (VENV, default runs/venv):
#   python3 -m venv runs/venv && runs/venv/bin/pip install numpyro jax
set -eu
STEPS=${1:-20000}
LR=${2:-0.01}
VENV=${VENV:-runs/venv}
ELBO=${ELBO:-build/elbo}
B=${ELBO_BUILD:-build}
T=$(mktemp -d /tmp/elbo-vi-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
make -s "$ELBO" "$B/tests/posteriordb/pdb_linreg.so" >/dev/null
cpu=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')
: > "$T/rows"
for p in sblrc-blr kidiq-kidscore_momiq kidiq-kidscore_momhsiq earnings-earn_height; do  # NumPyro's list (vi_numpyro.py)
    for fam in meanfield fullrank; do
        t0=$(date +%s.%N)
        "$ELBO" fit --model-lib "$B/tests/posteriordb/pdb_linreg.so" --data "tests/posteriordb/$p.csv" \
            --family $fam --n-draws 20000 --out "$T/$p-$fam" > "$T/log"
        t1=$(date +%s.%N)
        acc=$(awk -F, -f tests/posteriordb/compare.awk "tests/posteriordb/$p.ref.csv" "$T/$p-$fam/summary.csv" |
            awk '{printf "%s | %s..%s", $2, $3, $4}')
        khat=$(sed -n 's/.*k-hat \([0-9.]*\).*/\1/p' "$T/log" | head -1)
        echo "$p | elbo $fam | $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s | $acc | k-hat $khat" >> "$T/rows"
    done
done
if "$VENV/bin/python" -c "import numpyro" 2>/dev/null; then
    "$VENV/bin/python" bench/vi_numpyro.py "$STEPS" "$LR" 2>/dev/null >> "$T/rows"
    npv=$("$VENV/bin/python" -c "import numpyro, jax; print(numpyro.__version__, jax.__version__)")
else
    echo "NumPyro not run: no numpyro in $VENV" >&2
    npv="(not run)"
fi
sort -s -t'|' -k1,1 "$T/rows" | awk -F'|' '{print "| " $1 "|" $2 "|" $3 "|" $4 "|" $5 "|" $6 " |"}' > "$T/table"
cat "$T/table"
{
    echo ""
    echo "## Black-box VI: elbo fit vs NumPyro SVI on posteriordb regressions — $(date +%Y-%m-%d)"
    echo ""
    echo "\`sh bench/vi_bench.sh $STEPS $LR\` on $cpu, $(nproc) cores, one thread each (NumPyro $npv,"
    echo "Adam lr $LR, $STEPS steps, jit compilation included; elbo fit at its defaults). Accuracy"
    echo "against posteriordb's NUTS reference (10 x 1000 draws): the worst |mean - ref| / ref sd, and"
    echo "sd / ref sd, over 20,000 draws from each fit."
    echo ""
    echo "| posterior | method | wall time | worst mean error (ref sd) | sd ratios | notes |"
    echo "| --- | --- | ---: | ---: | --- | --- |"
    cat "$T/table"
} >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
