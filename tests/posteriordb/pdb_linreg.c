/* pdb_linreg.c — a plug-in for `elbo fit`: the linear regressions of
 * posteriordb (stan-dev/posteriordb, BSD-3) the VI tests check against
 * their NUTS reference draws, written as their Stan programs are:
 *   y ~ N(X beta, sigma),  beta ~ flat | N(0, s),  sigma ~ flat | N+(0, s) | Cauchy+(0, s)
 * The data file (dev/posteriordb_export.py writes it) starts with a line
 * "# beta=flat|normal:S sigma=flat|normal:S|cauchy:S", then rows
 * "x_1,...,x_K,y". theta = (beta, log sigma); reported: beta, sigma. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/vi_csv.h"
#include "elbo_vi.h"

enum { FLAT, NORMAL, CAUCHY };
typedef struct {
    int n, K, bprior, sprior;
    double bscale, sscale, *x, *y;
    char names[34][16], out[34][16];
    const char *np[34], *op[34];
} pdb;

static int prior_of(const char *spec, const char *key, int *kind, double *scale)
{
    const char *p = strstr(spec, key);
    if (!p) return -1;
    p += strlen(key);
    *scale = 0;
    if (!strncmp(p, "flat", 4)) return *kind = FLAT, 0;
    if (!strncmp(p, "normal:", 7)) return *kind = NORMAL, *scale = atof(p + 7), *scale > 0 ? 0 : -1;
    if (!strncmp(p, "cauchy:", 7)) return *kind = CAUCHY, *scale = atof(p + 7), *scale > 0 ? 0 : -1;
    return -1;
}

static double logp(void *st, const double *th, double *g)
{
    const pdb *d = st;
    int K = d->K;
    double u = th[K], sigma = exp(u), is2 = 1.0 / (sigma * sigma), lp = u, gu = 1.0; /* the Jacobian: d sigma = sigma du */
    if (g) memset(g, 0, sizeof(double) * (size_t)(K + 1));
    double ss = 0;
    for (int i = 0; i < d->n; i++) {
        double r = d->y[i];
        for (int k = 0; k < K; k++) r -= d->x[(size_t)i * K + k] * th[k];
        ss += r * r;
        for (int k = 0; g && k < K; k++) g[k] += r * is2 * d->x[(size_t)i * K + k];
    }
    lp += -0.5 * ss * is2 - d->n * u;
    gu += ss * is2 - d->n;
    for (int k = 0; d->bprior == NORMAL && k < K; k++) {
        lp -= 0.5 * th[k] * th[k] / (d->bscale * d->bscale);
        if (g) g[k] -= th[k] / (d->bscale * d->bscale);
    }
    if (d->sprior == NORMAL) {
        lp -= 0.5 * sigma * sigma / (d->sscale * d->sscale);
        gu -= sigma * sigma / (d->sscale * d->sscale);
    } else if (d->sprior == CAUCHY) {
        double z = sigma / d->sscale;
        lp -= log1p(z * z);
        gu -= 2 * z * z / (1 + z * z);
    }
    if (g) g[K] = gu;
    return lp;
}

static int constrain(void *st, const double *th, double *out)
{
    const pdb *d = st;
    memcpy(out, th, sizeof(double) * (size_t)d->K);
    out[d->K] = exp(th[d->K]);
    return 0;
}

static void release(void *st)
{
    pdb *d = st;
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d);
}

int elbo_vi_model_open(const char *path, elbo_vi_model *m, char *err, size_t errlen)
{
    if (!path) return snprintf(err, errlen, "give the data: --data tests/posteriordb/NAME.csv"), -1;
    pdb *d = calloc(1, sizeof *d);
    char spec[256] = "";
    FILE *f = fopen(path, "r");
    if (!d || !f || !fgets(spec, sizeof spec, f)) {
        if (f) fclose(f);
        free(d);
        return snprintf(err, errlen, "%s: cannot read", path), -1;
    }
    fclose(f);
    if (prior_of(spec, "beta=", &d->bprior, &d->bscale) || prior_of(spec, "sigma=", &d->sprior, &d->sscale) ||
        vi_read_csv(path, &d->n, &d->K, &d->x, &d->y, err, errlen) || d->K > 32) {
        if (!err[0]) snprintf(err, errlen, "%s: line 1 must be '# beta=... sigma=...' (and at most 32 columns)", path);
        release(d);
        return -1;
    }
    for (int k = 0; k <= d->K; k++) {
        snprintf(d->names[k], 16, k < d->K ? "beta[%d]" : "log_sigma", k + 1);
        snprintf(d->out[k], 16, k < d->K ? "beta[%d]" : "sigma", k + 1);
        d->np[k] = d->names[k];
        d->op[k] = d->out[k];
    }
    *m = (elbo_vi_model){.abi = ELBO_VI_ABI, .dim = d->K + 1, .names = d->np, .logp = logp, .has_grad = 1,
                         .constrain = constrain, .n_out = d->K + 1, .out_names = d->op, .state = d, .free = release};
    return 0;
}
