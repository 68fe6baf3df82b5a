/* vi_linreg.c — a plug-in for `elbo fit`: Bayesian linear regression
 *   y_i ~ N(alpha + x_i . beta, sigma^2),  alpha, beta_j ~ N(0, 10^2),  sigma ~ half-N(0, 5^2)
 * on a CSV of rows "x_1,...,x_K,y" (a header line is skipped). theta =
 * (alpha, beta_1..K, log sigma); reported: alpha, beta, sigma. The log
 * density includes the Jacobian of sigma = exp(u) (elbo_vi_positive).
 *
 *   make build/examples/vi_linreg.so
 *   build/elbo fit --model-lib build/examples/vi_linreg.so --data examples/data/linreg.csv
 *
 * With ELBO_LINREG_SIGMA=s in the environment, sigma is fixed at s and
 * theta is (alpha, beta) alone: the posterior is then exactly Gaussian
 * (the tests compare elbo's fit with it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elbo_vi.h"
#include "vi_csv.h"

typedef struct {
    int n, K;         /* rows, features */
    double *x, *y;    /* [n, K], [n] */
    double fixed_sigma; /* > 0: sigma known */
    char **names, **out_names;
} linreg;

static double logp(void *st, const double *th, double *g)
{
    const linreg *d = st;
    int K = d->K, P = K + 1 + (d->fixed_sigma > 0 ? 0 : 1);
    double lj = 0, dlj = 0, sigma = d->fixed_sigma, ds = 0;
    if (!(sigma > 0)) sigma = elbo_vi_positive(th[K + 1], &ds, &lj, &dlj);
    double lp = 0, is2 = 1.0 / (sigma * sigma), dsig = 0;
    if (g) memset(g, 0, sizeof(double) * (size_t)P);
    for (int i = 0; i < d->n; i++) {
        double mu = th[0];
        for (int k = 0; k < K; k++) mu += d->x[(size_t)i * K + k] * th[1 + k];
        double r = d->y[i] - mu;
        lp += -0.5 * r * r * is2 - log(sigma);
        dsig += r * r * is2 / sigma - 1.0 / sigma;
        if (!g) continue;
        g[0] += r * is2;
        for (int k = 0; k < K; k++) g[1 + k] += r * is2 * d->x[(size_t)i * K + k];
    }
    for (int k = 0; k <= K; k++) { /* N(0, 10^2) priors */
        lp -= 0.5 * th[k] * th[k] / 100.0;
        if (g) g[k] -= th[k] / 100.0;
    }
    if (d->fixed_sigma > 0) return lp;
    lp += -0.5 * sigma * sigma / 25.0 + lj; /* half-normal prior on sigma, and the Jacobian */
    dsig -= sigma / 25.0;
    if (g) g[K + 1] = dsig * ds + dlj;
    return lp;
}

static int constrain(void *st, const double *th, double *out)
{
    const linreg *d = st;
    for (int k = 0; k <= d->K; k++) out[k] = th[k];
    if (!(d->fixed_sigma > 0)) out[d->K + 1] = exp(th[d->K + 1]);
    return 0;
}

static void release(void *st)
{
    linreg *d = st;
    if (!d) return;
    for (int k = 0; d->names && k < d->K + 2; k++) free(d->names[k]);
    free(d->names);
    free(d->out_names);
    free(d->x);
    free(d->y);
    free(d);
}

int elbo_vi_model_open(const char *data_path, elbo_vi_model *m, char *err, size_t errlen)
{
    if (!data_path) return snprintf(err, errlen, "give the data: --data FILE.csv"), -1;
    linreg *d = calloc(1, sizeof *d);
    if (!d) return snprintf(err, errlen, "out of memory"), -1;
    const char *fs = getenv("ELBO_LINREG_SIGMA");
    d->fixed_sigma = fs ? atof(fs) : 0.0;
    if (vi_read_csv(data_path, &d->n, &d->K, &d->x, &d->y, err, errlen)) {
        release(d);
        return -1;
    }
    int P = d->K + 1 + (d->fixed_sigma > 0 ? 0 : 1);
    d->names = calloc((size_t)d->K + 2, sizeof(char *));
    d->out_names = calloc((size_t)d->K + 2, sizeof(char *));
    for (int k = 0; d->names && k < P; k++) {
        d->names[k] = malloc(32);
        if (!d->names[k]) break;
        if (k == 0) snprintf(d->names[k], 32, "alpha");
        else if (k <= d->K) snprintf(d->names[k], 32, "beta[%d]", k);
        else snprintf(d->names[k], 32, "log_sigma");
    }
    for (int k = 0; d->out_names && k < P; k++) d->out_names[k] = k <= d->K ? d->names[k] : (char *)"sigma";
    *m = (elbo_vi_model){.abi = ELBO_VI_ABI, .dim = P, .names = (const char *const *)d->names, .logp = logp,
                         .has_grad = 1, .constrain = constrain, .n_out = P,
                         .out_names = (const char *const *)d->out_names, .state = d, .free = release};
    return 0;
}
