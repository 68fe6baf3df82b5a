/* vi_eight_schools.c — a plug-in for `elbo fit`: the eight schools
 * (Rubin 1981; Gelman et al., BDA 5.5), non-centered:
 *   mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5), eta_j ~ N(0, 1),
 *   theta_j = mu + tau eta_j,  y_j ~ N(theta_j, sigma_j^2)
 * on a CSV of rows "y,sigma". theta = (mu, log tau, eta_1..J); reported:
 * mu, tau, theta_1..J. Built with CENTERED defined (vi_eight_schools_centered.c)
 * it is the centered form, theta_j ~ N(mu, tau^2) sampled directly: a
 * funnel that a Gaussian q cannot fit, which k-hat should flag.
 *
 *   build/elbo fit --model-lib build/examples/vi_eight_schools.so --data examples/data/eight_schools.csv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elbo_vi.h"
#include "vi_csv.h"

enum { MAXJ = 64 };
typedef struct {
    int J;
    double *y, *sigma;
    char names[MAXJ + 2][24], out[MAXJ + 2][24];
    const char *np[MAXJ + 2], *op[MAXJ + 2];
} schools;

static double logp(void *st, const double *th, double *g)
{
    const schools *d = st;
    int J = d->J;
    double mu = th[0], dtau, lj = 0, dlj = 0, tau = elbo_vi_positive(th[1], &dtau, &lj, &dlj);
    double lp = -0.5 * mu * mu / 25.0 - log1p(tau * tau / 25.0) + lj, gmu = -mu / 25.0;
    double gtau = -2.0 * tau / 25.0 / (1 + tau * tau / 25.0);
    for (int j = 0; j < J; j++) {
        double e = th[2 + j], is2 = 1.0 / (d->sigma[j] * d->sigma[j]);
#ifdef CENTERED
        double t = e, z = (t - mu) / tau; /* theta_j itself */
        lp += -0.5 * z * z - log(tau) - 0.5 * (d->y[j] - t) * (d->y[j] - t) * is2;
        gmu += z / tau;
        gtau += z * z / tau - 1.0 / tau;
        if (g) g[2 + j] = -z / tau + (d->y[j] - t) * is2;
#else
        double t = mu + tau * e, r = d->y[j] - t;
        lp += -0.5 * e * e - 0.5 * r * r * is2;
        gmu += r * is2;
        gtau += r * is2 * e;
        if (g) g[2 + j] = -e + r * is2 * tau;
#endif
    }
    if (g) {
        g[0] = gmu;
        g[1] = gtau * dtau + dlj;
    }
    return lp;
}

static int constrain(void *st, const double *th, double *out)
{
    const schools *d = st;
    out[0] = th[0];
    out[1] = exp(th[1]);
    for (int j = 0; j < d->J; j++)
#ifdef CENTERED
        out[2 + j] = th[2 + j];
#else
        out[2 + j] = th[0] + out[1] * th[2 + j];
#endif
    return 0;
}

static void release(void *st)
{
    schools *d = st;
    if (!d) return;
    free(d->y);
    free(d->sigma);
    free(d);
}

int elbo_vi_model_open(const char *data_path, elbo_vi_model *m, char *err, size_t errlen)
{
    if (!data_path) return snprintf(err, errlen, "give the data: --data FILE.csv (rows y,sigma)"), -1;
    schools *d = calloc(1, sizeof *d);
    int K = 0;
    if (!d) return snprintf(err, errlen, "out of memory"), -1;
    if (vi_read_csv(data_path, &d->J, &K, &d->sigma, &d->y, err, errlen)) { /* x = y, "y" = sigma */
        release(d);
        return -1;
    }
    double *tmp = d->y; /* the reader's x column is y, its y column sigma */
    d->y = d->sigma;
    d->sigma = tmp;
    if (K != 1 || d->J > MAXJ) {
        snprintf(err, errlen, "%s: rows must be y,sigma (at most %d)", data_path, MAXJ);
        release(d);
        return -1;
    }
    for (int j = 0; j < d->J; j++)
        if (!(d->sigma[j] > 0)) {
            snprintf(err, errlen, "%s: row %d: sigma = %g must be > 0", data_path, j + 1, d->sigma[j]);
            release(d);
            return -1;
        }
    snprintf(d->names[0], 24, "mu");
    snprintf(d->names[1], 24, "log_tau");
    snprintf(d->out[0], 24, "mu");
    snprintf(d->out[1], 24, "tau");
    for (int j = 0; j < d->J; j++) {
#ifdef CENTERED
        snprintf(d->names[2 + j], 24, "theta[%d]", j + 1);
#else
        snprintf(d->names[2 + j], 24, "eta[%d]", j + 1);
#endif
        snprintf(d->out[2 + j], 24, "theta[%d]", j + 1);
    }
    for (int k = 0; k < d->J + 2; k++) {
        d->np[k] = d->names[k];
        d->op[k] = d->out[k];
    }
    *m = (elbo_vi_model){.abi = ELBO_VI_ABI, .dim = d->J + 2, .names = d->np, .logp = logp, .has_grad = 1,
                         .constrain = constrain, .n_out = d->J + 2, .out_names = d->op, .state = d, .free = release};
    return 0;
}
