/* vi_logistic.c — a plug-in for `elbo fit`: Bayesian logistic regression
 *   y_i ~ Bernoulli(sigmoid(alpha + x_i . beta)),  alpha, beta_j ~ N(0, 2.5^2)
 * on a CSV of rows "x_1,...,x_K,y" with y in {0, 1}. theta = (alpha, beta).
 *
 *   build/elbo fit --model-lib build/examples/vi_logistic.so --data examples/data/logistic.csv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elbo_vi.h"
#include "vi_csv.h"

typedef struct {
    int n, K;
    double *x, *y;
    char names[33][24];
    const char *name_ptr[33];
} logistic;

static double logp(void *st, const double *th, double *g)
{
    const logistic *d = st;
    int K = d->K;
    double lp = 0;
    if (g) memset(g, 0, sizeof(double) * (size_t)(K + 1));
    for (int i = 0; i < d->n; i++) {
        double eta = th[0];
        for (int k = 0; k < K; k++) eta += d->x[(size_t)i * K + k] * th[1 + k];
        /* y eta - log(1 + e^eta), stably */
        lp += d->y[i] * eta - (eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta)));
        if (!g) continue;
        double p = eta >= 0 ? 1 / (1 + exp(-eta)) : exp(eta) / (1 + exp(eta)), r = d->y[i] - p;
        g[0] += r;
        for (int k = 0; k < K; k++) g[1 + k] += r * d->x[(size_t)i * K + k];
    }
    for (int k = 0; k <= K; k++) {
        lp -= 0.5 * th[k] * th[k] / 6.25;
        if (g) g[k] -= th[k] / 6.25;
    }
    return lp;
}

static void release(void *st)
{
    logistic *d = st;
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d);
}

int elbo_vi_model_open(const char *data_path, elbo_vi_model *m, char *err, size_t errlen)
{
    if (!data_path) return snprintf(err, errlen, "give the data: --data FILE.csv"), -1;
    logistic *d = calloc(1, sizeof *d);
    if (!d) return snprintf(err, errlen, "out of memory"), -1;
    if (vi_read_csv(data_path, &d->n, &d->K, &d->x, &d->y, err, errlen) ||
        (d->K > 32 && snprintf(err, errlen, "%s: at most 32 features", data_path))) {
        release(d);
        return -1;
    }
    for (int i = 0; i < d->n; i++)
        if (d->y[i] != 0 && d->y[i] != 1) {
            snprintf(err, errlen, "%s: row %d: y = %g is not 0 or 1", data_path, i + 1, d->y[i]);
            release(d);
            return -1;
        }
    for (int k = 0; k <= d->K; k++) {
        if (k) snprintf(d->names[k], sizeof d->names[k], "beta[%d]", k);
        else snprintf(d->names[k], sizeof d->names[k], "alpha");
        d->name_ptr[k] = d->names[k];
    }
    *m = (elbo_vi_model){.abi = ELBO_VI_ABI, .dim = d->K + 1, .names = d->name_ptr, .logp = logp, .has_grad = 1,
                         .state = d, .free = release};
    return 0;
}
