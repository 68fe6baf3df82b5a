#!/bin/sh
# test_fit.sh — `elbo fit` through the CLI on the example plug-ins
# (examples/vi_*.c): tables, draws as CSV and .npy, --out's files, JSON,
# determinism, k-hat's warning on the centered eight schools and not on
# the non-centered, and plug-ins that misbehave (compiled here): each gets
# a message and a non-zero exit, never a crash.
. tests/lib.sh
ELBO=${ELBO:-build/elbo}
B=${ELBO_BUILD:-build}
T=$(mktemp -d /tmp/elbo-fit-XXXXXX)
trap 'rm -rf "$T"' EXIT
LR="--model-lib $B/examples/vi_linreg.so --data examples/data/linreg.csv --n-draws 500"

expect_rc 0 "fit --help" "$ELBO" fit --help
expect_rc 0 "linear regression" "$ELBO" fit $LR --draws "$T/d.csv" --out "$T/o"
check "the ELBO and k-hat" grep -q "^ELBO -[0-9.]* +- [0-9.]* (Monte Carlo se)  k-hat 0\." "$T/out.txt"
check "a row per reported parameter" sh -c "grep -q '^alpha ' '$T/out.txt' && grep -q '^beta\[3\] ' '$T/out.txt' && grep -q '^sigma ' '$T/out.txt'"
check "beta[1] near the true 2" awk '$1 == "beta[1]" {exit !($2 > 1.8 && $2 < 2.2)}' "$T/out.txt"
check "draws CSV: names, 500 rows" sh -c "head -1 '$T/d.csv' | grep -q '^alpha,beta\[1\],beta\[2\],beta\[3\],sigma$' && test \$(wc -l < '$T/d.csv') = 501"
check "sigma > 0 in every draw" awk -F, 'NR > 1 && $5 <= 0 {bad = 1} END {exit bad}' "$T/d.csv"
check "metrics.jsonl: one line per window" grep -q '^{"window":1,"iter":100,"elbo":' "$T/o/metrics.jsonl"
check "summary.csv" grep -q "^sigma,0\.[0-9]*," "$T/o/summary.csv"
check "trace.png" is_png "$T/o/trace.png"
expect_rc 0 "draws as .npy" "$ELBO" fit $LR --draws "$T/d.npy"
check ".npy magic" sh -c "head -c 6 '$T/d.npy' | od -c | head -1 | grep -q 'N   U   M   P   Y'"
expect_rc 0 "JSON" "$ELBO" fit $LR --json
check "JSON keys" grep -q '^{"elbo":.*"khat":.*"params":\[{"name":"alpha"' "$T/out.txt"
cp "$T/out.txt" "$T/j1"
expect_rc 0 "the same seed again" "$ELBO" fit $LR --json
check "bit-identical with the same seed" cmp -s "$T/out.txt" "$T/j1"
expect_rc 0 "another seed" "$ELBO" fit $LR --json --seed 2
check "another seed, other draws" sh -c "! cmp -s '$T/out.txt' '$T/j1'"
expect_rc 0 "mean field, PSIS-resampled" "$ELBO" fit --model-lib $B/examples/vi_logistic.so \
    --data examples/data/logistic.csv --family meanfield --psis --n-draws 500
check "names the weighting and the resampling" grep -q "^summary over 500 draws from q.*--draws resampled by those weights" "$T/out.txt"
expect_rc 0 "--raw" "$ELBO" fit $LR --raw
check "--raw: unweighted" sh -c "grep -q '^summary over 500 draws from q (their' '$T/out.txt'"
expect_rc 0 "low rank" "$ELBO" fit $LR --family lowrank --rank 2
expect_rc 0 "gradient check alone" "$ELBO" fit $LR --check-gradient
check "gradient ok" grep -q "gradient check: worst relative error .*: ok" "$T/out.txt"

ES="--data examples/data/eight_schools.csv --n-draws 500"
expect_rc 0 "eight schools, non-centered" "$ELBO" fit --model-lib $B/examples/vi_eight_schools.so $ES
check "no k-hat warning (non-centered)" sh -c "! grep -q WARNING '$T/out.txt'"
check "tau reported, > 0" awk '$1 == "tau" {exit !($2 > 0)}' "$T/out.txt"
expect_rc 0 "eight schools, centered" "$ELBO" fit --model-lib $B/examples/vi_eight_schools_centered.so $ES
check "k-hat warns on the centered funnel" grep -q "WARNING: k-hat 0\.[7-9][0-9] > 0.7" "$T/out.txt"

# bad input
expect_rc 2 "--model-lib is required" "$ELBO" fit
expect_rc 2 "a bad family" "$ELBO" fit $LR --family bogus
expect_rc 1 "no such library" "$ELBO" fit --model-lib "$T/none.so"
check "says it cannot load" err_has "cannot load the plug-in"
expect_rc 1 "a library without the entry point" "$ELBO" fit --model-lib "$B/libelbo.so"
check "names the symbol" err_has "does not export elbo_vi_model_open"
expect_rc 1 "the plug-in's own error" "$ELBO" fit --model-lib $B/examples/vi_linreg.so --data "$T/missing.csv"
check "passes its message on" err_has "failed to open .*missing.csv: .*cannot open"
bad_plugin() { # name, C body of logp, extra struct fields
    cat > "$T/$1.c" <<EOC
#include <math.h>
#include "elbo_vi.h"
static double lp(void *s, const double *th, double *g) { (void)s; $2 }
int elbo_vi_model_open(const char *d, elbo_vi_model *m, char *e, size_t n)
{ (void)d; (void)e; (void)n; *m = (elbo_vi_model){.abi = ELBO_VI_ABI, .dim = 2, .logp = lp, .has_grad = 1 $3}; return 0; }
EOC
    ${CC:-cc} -shared -fPIC -Iinclude -o "$T/$1.so" "$T/$1.c"
}
bad_plugin nan "(void)th; if (g) g[0] = g[1] = 0; return NAN;" ""
expect_rc 1 "logp NaN" "$ELBO" fit --model-lib "$T/nan.so"
check "says logp is not finite" err_has "logp is nan at the starting point"
bad_plugin past "if (g) { g[0] = -th[0]; g[1] = -th[1]; g[2] = 0; } return -0.5 * (th[0] * th[0] + th[1] * th[1]);" ""
expect_rc 1 "a gradient past dim" "$ELBO" fit --model-lib "$T/past.so"
check "says past dim" err_has "wrote its gradient past dim = 2"
bad_plugin short "if (g) g[0] = -th[0]; return -0.5 * (th[0] * th[0] + th[1] * th[1]);" ""
expect_rc 1 "a gradient too short" "$ELBO" fit --model-lib "$T/short.so"
check "says not written" err_has "gradient entry 1 is not written"
bad_plugin wrong "if (g) { g[0] = -th[0]; g[1] = -2 * th[1]; } return -0.5 * (th[0] * th[0] + th[1] * th[1]);" ""
expect_rc 1 "a wrong gradient" "$ELBO" fit --model-lib "$T/wrong.so"
check "names the coordinate" err_has "worst relative error .* at coordinate 1"
bad_plugin abi "if (g) { g[0] = -th[0]; g[1] = -th[1]; } return 0;" ", .abi = 99"
expect_rc 1 "another ABI" "$ELBO" fit --model-lib "$T/abi.so"
check "names the ABI" err_has "its abi is not ELBO_VI_ABI"
finish test_fit
