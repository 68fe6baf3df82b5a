/* test_vi.c — black-box VI (elbo_vi.h) on targets whose answers are known:
 * a correlated Gaussian (the full-rank family recovers its mean and
 * covariance and its ELBO reaches log Z; the mean-field family gets the
 * known variance underestimate 1 / Lambda_ii), a low-rank-plus-diagonal
 * Gaussian (the low-rank family), Neal's funnel (k-hat warns), the PSIS
 * k-hat of known tails, finite-difference gradients, the gradient checker,
 * determinism and bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>

#include "check.h"
#include "elbo_vi.h"
#include "util/rng.h"

/* ------------------------------------------------------------ a Gaussian */

enum { G = 3 };
typedef struct {
    int D;
    double mu[8], prec[64]; /* precision matrix, row-major */
} gauss;

static double gauss_logp(void *st, const double *th, double *grad)
{
    const gauss *g = st;
    double lp = 0.0;
    for (int i = 0; i < g->D; i++) {
        double s = 0.0;
        for (int j = 0; j < g->D; j++) s += g->prec[i * g->D + j] * (th[j] - g->mu[j]);
        lp -= 0.5 * (th[i] - g->mu[i]) * s;
        if (grad) grad[i] = -s;
    }
    return lp;
}

/* The covariance of the test Gaussian and its precision (3 x 3 inverse). */
static const double COV[G * G] = {2.0, 1.2, -0.6, 1.2, 1.0, -0.3, -0.6, -0.3, 0.5};

static void invert3(const double *a, double *inv)
{
    double det = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
                 a[2] * (a[3] * a[7] - a[4] * a[6]);
    inv[0] = (a[4] * a[8] - a[5] * a[7]) / det;
    inv[1] = (a[2] * a[7] - a[1] * a[8]) / det;
    inv[2] = (a[1] * a[5] - a[2] * a[4]) / det;
    inv[3] = (a[5] * a[6] - a[3] * a[8]) / det;
    inv[4] = (a[0] * a[8] - a[2] * a[6]) / det;
    inv[5] = (a[2] * a[3] - a[0] * a[5]) / det;
    inv[6] = (a[3] * a[7] - a[4] * a[6]) / det;
    inv[7] = (a[1] * a[6] - a[0] * a[7]) / det;
    inv[8] = (a[0] * a[4] - a[1] * a[3]) / det;
}

static double det3(const double *a)
{
    return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6]);
}

static gauss test_gauss(void)
{
    gauss g = {.D = G, .mu = {1.0, -2.0, 0.5}};
    invert3(COV, g.prec);
    return g;
}

static int exp_constrain(void *st, const double *th, double *out)
{
    (void)st;
    for (int i = 0; i < G; i++) out[i] = exp(th[i]);
    return 0;
}

static void check_fullrank(void)
{
    gauss g = test_gauss();
    elbo_vi_target t = {.dim = G, .logp = gauss_logp, .state = &g, .has_grad = 1};
    elbo_vi_config c;
    elbo_vi_config_default(&c);
    elbo_error err;
    elbo_vi *fit = elbo_vi_fit(&t, &c, &err);
    CHECK(fit != NULL, "%s", fit ? "" : err.msg);
    if (!fit) return;
    double m[G], cov[G * G];
    elbo_vi_mean(fit, m);
    elbo_vi_cov(fit, cov);
    elbo_vi_summary s;
    elbo_vi_get_summary(fit, &s);
    for (int i = 0; i < G; i++) {
        double sd = sqrt(COV[i * G + i]);
        CHECK(fabs(m[i] - g.mu[i]) < 0.05 * sd, "full rank: mean %d is %g, want %g", i, m[i], g.mu[i]);
        for (int j = 0; j < G; j++) {
            double scale = sqrt(COV[i * G + i] * COV[j * G + j]);
            CHECK(fabs(cov[i * G + j] - COV[i * G + j]) < 0.1 * scale, "full rank: cov[%d][%d] %g, want %g", i, j,
                  cov[i * G + j], COV[i * G + j]);
        }
    }
    double log_z = 0.5 * G * log(2 * 3.14159265358979323846) + 0.5 * log(det3(COV)); /* the ELBO's ceiling */
    CHECK(s.elbo <= log_z + 4 * s.elbo_se + 1e-9 && s.elbo > log_z - 0.02, "full rank: ELBO %g +- %g, log Z %g",
          s.elbo, s.elbo_se, log_z);
    CHECK(s.khat < 0.5, "full rank on a Gaussian: k-hat %g", s.khat);
    CHECK(s.converged && s.iters <= c.max_iters, "converged after %ld steps, %d halvings", s.iters, s.halvings);
    CHECK(elbo_vi_trace(fit, NULL) >= 2, "a trace");
    /* reported parameters through constrain: here exp of each coordinate */
    double th2[2 * G] = {0.0, 1.0, -1.0, 2.0, 0.5, 0.0}, out2[2 * G];
    elbo_vi_target tc = t;
    tc.constrain = exp_constrain;
    tc.n_out = G;
    CHECK(elbo_vi_constrain(&tc, th2, 2, out2, &err) == ELBO_OK && fabs(out2[1] - exp(1.0)) < 1e-12 &&
              fabs(out2[3] - exp(2.0)) < 1e-12, "constrain applied to every draw");
    /* the same seed: the same bits */
    elbo_vi *again = elbo_vi_fit(&t, &c, &err);
    double m2[G];
    elbo_vi_summary s2;
    if (again) {
        elbo_vi_mean(again, m2);
        elbo_vi_get_summary(again, &s2);
    }
    CHECK(again && !memcmp(m, m2, sizeof m) && s.elbo == s2.elbo, "a fixed seed gives bit-identical fits");
    elbo_vi_free(again);
    double *d = malloc(sizeof(double) * 20000 * G), dm[G] = {0};
    elbo_vi_draws(fit, 20000, 5, d);
    for (int k = 0; k < 20000; k++)
        for (int i = 0; i < G; i++) dm[i] += d[k * G + i] / 20000;
    for (int i = 0; i < G; i++)
        CHECK(fabs(dm[i] - m[i]) < 4 * sqrt(cov[i * G + i] / 20000), "draws' mean %d: %g vs %g", i, dm[i], m[i]);
    free(d);
    elbo_vi_free(fit);
}

/* Mean field on a correlated Gaussian: KL(q || p) makes each variance
 * 1 / Lambda_ii, the conditional variance, below the marginal one. */
static void check_meanfield(int has_grad)
{
    gauss g = test_gauss();
    elbo_vi_target t = {.dim = G, .logp = gauss_logp, .state = &g, .has_grad = has_grad};
    elbo_vi_config c;
    elbo_vi_config_default(&c);
    c.family = ELBO_VI_MEANFIELD;
    elbo_error err;
    elbo_vi *fit = elbo_vi_fit(&t, &c, &err);
    CHECK(fit != NULL, "%s", fit ? "" : err.msg);
    if (!fit) return;
    double m[G], sd[G];
    elbo_vi_mean(fit, m);
    elbo_vi_sd(fit, sd);
    for (int i = 0; i < G; i++) {
        double want = 1.0 / sqrt(g.prec[i * G + i]);
        CHECK(fabs(sd[i] / want - 1) < 0.05, "mean field%s: sd %d is %g, want %g (the marginal is %g)",
              has_grad ? "" : " (finite differences)", i, sd[i], want, sqrt(COV[i * G + i]));
        CHECK(fabs(m[i] - g.mu[i]) < 0.1 * sqrt(COV[i * G + i]), "mean field: mean %d is %g, want %g", i, m[i],
              g.mu[i]); /* within 0.1 of the target's sd, as the VI issue asks of full rank */
    }
    elbo_vi_free(fit);
}

/* Low rank on a Gaussian whose covariance is b b^T + diag(d) (D = 6). */
static void check_lowrank(void)
{
    enum { D = 6 };
    double b[D] = {1.0, -0.8, 0.6, 1.2, -0.4, 0.9}, dg[D] = {0.3, 0.5, 0.2, 0.4, 0.6, 0.25}, cov[D * D];
    gauss g = {.D = D};
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) cov[i * D + j] = b[i] * b[j] + (i == j ? dg[i] : 0.0);
    /* precision by Sherman-Morrison: D^-1 - D^-1 b b^T D^-1 / (1 + b^T D^-1 b) */
    double q = 1.0;
    for (int i = 0; i < D; i++) q += b[i] * b[i] / dg[i];
    for (int i = 0; i < D; i++) {
        g.mu[i] = 0.3 * i;
        for (int j = 0; j < D; j++)
            g.prec[i * D + j] = (i == j ? 1.0 / dg[i] : 0.0) - b[i] / dg[i] * b[j] / dg[j] / q;
    }
    elbo_vi_target t = {.dim = D, .logp = gauss_logp, .state = &g, .has_grad = 1};
    elbo_vi_config c;
    elbo_vi_config_default(&c);
    c.family = ELBO_VI_LOWRANK;
    c.rank = 1;
    elbo_error err;
    elbo_vi *fit = elbo_vi_fit(&t, &c, &err);
    CHECK(fit != NULL, "%s", fit ? "" : err.msg);
    if (!fit) return;
    double got[D * D], m[D], worst = 0;
    elbo_vi_cov(fit, got);
    elbo_vi_mean(fit, m);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            worst = fmax(worst, fabs(got[i * D + j] - cov[i * D + j]) / sqrt(cov[i * D + i] * cov[j * D + j]));
    CHECK(worst < 0.1, "low rank: the covariance is off by %g (relative to the sds)", worst);
    elbo_vi_summary s;
    elbo_vi_get_summary(fit, &s);
    CHECK(s.khat < 0.5, "low rank on its own family: k-hat %g", s.khat);
    elbo_vi_free(fit);
}

/* ------------------------------------------------------- Neal's funnel */

enum { F = 10 };
static double funnel_logp(void *st, const double *th, double *grad)
{
    (void)st;
    double v = th[0], lp = -v * v / 18.0 - 0.5 * (F - 1) * v, iv = exp(-v), s = 0.0;
    for (int i = 1; i < F; i++) {
        s += th[i] * th[i];
        if (grad) grad[i] = -th[i] * iv;
    }
    lp -= 0.5 * s * iv;
    if (grad) grad[0] = -v / 9.0 - 0.5 * (F - 1) + 0.5 * s * iv;
    return lp;
}

static void check_funnel(void)
{
    elbo_vi_target t = {.dim = F, .logp = funnel_logp, .has_grad = 1};
    for (int fam = ELBO_VI_MEANFIELD; fam <= ELBO_VI_FULLRANK; fam++) {
        elbo_vi_config c;
        elbo_vi_config_default(&c);
        c.family = (elbo_vi_family)fam;
        elbo_error err;
        elbo_vi *fit = elbo_vi_fit(&t, &c, &err);
        CHECK(fit != NULL, "%s", fit ? "" : err.msg);
        if (!fit) continue;
        elbo_vi_summary s;
        elbo_vi_get_summary(fit, &s);
        CHECK(s.khat > 0.7, "%s on the funnel: k-hat %g should warn", fam ? "full rank" : "mean field", s.khat);
        elbo_vi_free(fit);
    }
}

/* --------------------------------------------------------------- PSIS */

static void check_khat(void)
{
    enum { N = 20000, SEEDS = 20 }; /* one estimate's sd is ~0.06: the mean's ~0.014 */
    double *lw = malloc(sizeof(double) * N);
    elbo_rng r;
    elbo_rng_seed(&r, 3);
    double ks[3] = {0.2, 0.5, 1.0};
    for (int k = 0; k < 3; k++) { /* w = u^-k: a Pareto tail of shape k; the estimate's mean over seeds */
        double mean = 0;
        for (int sd = 0; sd < SEEDS; sd++) {
            for (int i = 0; i < N; i++) lw[i] = -ks[k] * log(1.0 - elbo_rng_uniform(&r));
            mean += elbo_psis_khat(lw, N) / SEEDS;
        }
        CHECK(fabs(mean - ks[k]) < 0.05, "k-hat of a Pareto tail of shape %g: %g over %d seeds", ks[k], mean, SEEDS);
    }
    for (int i = 0; i < N; i++) lw[i] = 0.5 * elbo_rng_normal(&r); /* light: log-normal weights */
    double kh = elbo_psis_khat(lw, N);
    CHECK(kh < 0.3, "k-hat of light-tailed weights: %g", kh);
    CHECK(isnan(elbo_psis_khat(lw, 5)), "k-hat needs draws");
    free(lw);
}

/* ------------------------------------------------- gradients and errors */

static double wrong_logp(void *st, const double *th, double *grad)
{
    double lp = gauss_logp(st, th, grad);
    if (grad) grad[1] *= 1.5; /* a bug in coordinate 1 */
    return lp;
}

static double nan_logp(void *st, const double *th, double *grad)
{
    (void)st;
    (void)th;
    (void)grad;
    return NAN;
}

static void check_gradients_and_errors(void)
{
    gauss g = test_gauss();
    double th[G] = {0.3, -1.0, 2.0};
    elbo_vi_target good = {.dim = G, .logp = gauss_logp, .state = &g, .has_grad = 1};
    elbo_vi_target bad = {.dim = G, .logp = wrong_logp, .state = &g, .has_grad = 1};
    int w = -2;
    double e = elbo_check_gradient(&good, th, 0, &w);
    CHECK(e < 1e-6, "a right gradient: worst relative error %g", e);
    e = elbo_check_gradient(&bad, th, 0, &w);
    CHECK(e > 0.1 && w == 1, "a wrong gradient found: error %g at coordinate %d", e, w);
    elbo_vi_config c;
    elbo_vi_config_default(&c);
    elbo_error err;
    c.draws = 0;
    CHECK(elbo_vi_fit(&good, &c, &err) == NULL && err.code == ELBO_ERR_ARG, "draws = 0 refused");
    elbo_vi_config_default(&c);
    elbo_vi_target nan_t = {.dim = 2, .logp = nan_logp, .has_grad = 1};
    CHECK(elbo_vi_fit(&nan_t, &c, &err) == NULL && err.code == ELBO_ERR_NUMERIC, "a NaN log density refused: %s",
          err.msg);
    elbo_vi_config_default(&c);
    c.max_iters = 300; /* the trial alone takes 500 */
    CHECK(elbo_vi_fit(&good, &c, &err) == NULL && err.code == ELBO_ERR_ARG, "max_iters below the trial refused");
    elbo_vi_config_default(&c);
    elbo_vi_target none = {.dim = 0, .logp = gauss_logp};
    CHECK(elbo_vi_fit(&none, &c, &err) == NULL && err.code == ELBO_ERR_ARG, "dimension 0 refused");
}

/* ------------------------------------------- a plug-in with a known answer */

/* examples/vi_linreg.so with sigma fixed: the posterior of (alpha, beta) is
 * exactly Gaussian, N(A^-1 X^T y / s^2, A^-1) with A = X^T X / s^2 + I / 100
 * (X with a column of ones). Full rank must recover it; the plug-in is
 * opened as elbo fit opens it. */
static void check_plugin_linreg(void)
{
    const char *b = getenv("ELBO_BUILD");
    char lib[512];
    snprintf(lib, sizeof lib, "%s/examples/vi_linreg.so", b ? b : "build");
    setenv("ELBO_LINREG_SIGMA", "0.8", 1);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL, "dlopen %s: %s", lib, h ? "" : dlerror());
    if (!h) return;
    elbo_vi_model_open_fn open_fn;
    void *sym = dlsym(h, ELBO_VI_MODEL_OPEN);
    memcpy(&open_fn, &sym, sizeof open_fn);
    elbo_vi_model m;
    char err[256];
    int ok = sym && open_fn("examples/data/linreg.csv", &m, err, sizeof err) == 0;
    CHECK(ok && m.abi == ELBO_VI_ABI && m.dim == 4, "open the plug-in: %s", ok ? "" : err);
    if (!ok) {
        dlclose(h);
        return;
    }
    /* the exact posterior, from the same data */
    FILE *f = fopen("examples/data/linreg.csv", "r");
    double A[16] = {0}, r[4] = {0}, x[4] = {1}, yv, s2 = 0.64;
    char line[256];
    if (f && fgets(line, sizeof line, f)) /* header */
        while (fscanf(f, "%lf,%lf,%lf,%lf", &x[1], &x[2], &x[3], &yv) == 4)
            for (int i = 0; i < 4; i++) {
                r[i] += x[i] * yv / s2;
                for (int j = 0; j < 4; j++) A[i * 4 + j] += x[i] * x[j] / s2;
            }
    if (f) fclose(f);
    for (int i = 0; i < 4; i++) A[i * 4 + i] += 1.0 / 100;
    double inv[16], aug[32]; /* Gauss-Jordan on [A | I] */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) aug[i * 8 + j] = j < 4 ? A[i * 4 + j] : (j - 4 == i);
    for (int c = 0; c < 4; c++) {
        double p = aug[c * 8 + c];
        for (int j = 0; j < 8; j++) aug[c * 8 + j] /= p;
        for (int i = 0; i < 4; i++)
            if (i != c) {
                double q = aug[i * 8 + c];
                for (int j = 0; j < 8; j++) aug[i * 8 + j] -= q * aug[c * 8 + j];
            }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) inv[i * 4 + j] = aug[i * 8 + 4 + j];
    elbo_vi_target t = {.dim = m.dim, .logp = m.logp, .state = m.state, .names = m.names, .has_grad = m.has_grad};
    elbo_vi_config c;
    elbo_vi_config_default(&c);
    elbo_vi *fit = elbo_vi_fit(&t, &c, NULL);
    CHECK(fit != NULL, "fit the plug-in");
    if (fit) {
        double mean[4], cov[16], worst_m = 0, worst_s = 0;
        elbo_vi_mean(fit, mean);
        elbo_vi_cov(fit, cov);
        for (int i = 0; i < 4; i++) {
            double want = 0, sd = sqrt(inv[i * 4 + i]);
            for (int j = 0; j < 4; j++) want += inv[i * 4 + j] * r[j];
            worst_m = fmax(worst_m, fabs(mean[i] - want) / sd);
            worst_s = fmax(worst_s, fabs(sqrt(cov[i * 4 + i]) / sd - 1));
        }
        CHECK(worst_m < 0.05 && worst_s < 0.05, "linear regression, exact posterior: means off by %.3g sd, sds by %.3g",
              worst_m, worst_s);
        elbo_vi_free(fit);
    }
    if (m.free) m.free(m.state);
    dlclose(h);
    unsetenv("ELBO_LINREG_SIGMA");
}

/* The transforms: x in range, the log-Jacobian against a numerical
 * Jacobian determinant, and the gradients against central differences. */
typedef struct {
    int K;
    double w[8];
} simplex_ctx;

/* f(x(u)) + log J(u) with f(x) = sum w_k log x_k (a Dirichlet-like term). */
static double simplex_obj(const simplex_ctx *c, const double *u, double *gu)
{
    double x[8], gx[8];
    double lj = elbo_vi_simplex(u, c->K, x), f = 0;
    for (int k = 0; k < c->K; k++) {
        f += c->w[k] * log(x[k]);
        gx[k] = c->w[k] / x[k];
    }
    if (gu) {
        for (int k = 0; k + 1 < c->K; k++) gu[k] = 0;
        elbo_vi_simplex_grad(u, c->K, gx, gu);
    }
    return f + lj;
}

static void check_transforms(void)
{
    double d = 0, lj = 0, dlj = 0;
    double x = elbo_vi_interval(0.7, -1, 3, &d, &lj, &dlj), h = 1e-6;
    double xp = elbo_vi_interval(0.7 + h, -1, 3, NULL, NULL, NULL), xm = elbo_vi_interval(0.7 - h, -1, 3, NULL, NULL, NULL);
    double ljp = 0, ljm = 0;
    elbo_vi_interval(0.7 + h, -1, 3, NULL, &ljp, NULL);
    elbo_vi_interval(0.7 - h, -1, 3, NULL, &ljm, NULL);
    CHECK(x > -1 && x < 3 && fabs(d - (xp - xm) / (2 * h)) < 1e-7 && fabs(lj - log(d)) < 1e-12 &&
              fabs(dlj - (ljp - ljm) / (2 * h)) < 1e-6, "interval transform: x %g, dx %g, log J %g, dlogJ %g", x, d, lj, dlj);
    CHECK(isfinite(elbo_vi_interval(800, 0, 1, &d, &lj, &dlj)) && isfinite(lj), "interval transform at u = 800");
    /* the simplex: sums to 1, log J = log |det| of the numerical Jacobian of
     * the first K - 1 coordinates, and its gradient */
    enum { K = 5 };
    double u[K - 1] = {0.3, -1.2, 0.8, 0.1}, xs[K], J[(K - 1) * (K - 1)];
    double ljs = elbo_vi_simplex(u, K, xs), sum = 0;
    for (int k = 0; k < K; k++) sum += xs[k];
    CHECK(fabs(sum - 1) < 1e-12 && xs[K - 1] > 0, "simplex sums to 1: %g", sum);
    for (int j = 0; j < K - 1; j++) {
        double up[K - 1], a[K], b[K];
        memcpy(up, u, sizeof up);
        up[j] += 1e-6;
        elbo_vi_simplex(up, K, a);
        up[j] -= 2e-6;
        elbo_vi_simplex(up, K, b);
        for (int i = 0; i < K - 1; i++) J[i * (K - 1) + j] = (a[i] - b[i]) / 2e-6;
    }
    double det = 1; /* lower triangular: dx_i / du_j = 0 for j > i */
    for (int i = 0; i < K - 1; i++) det *= J[i * (K - 1) + i];
    CHECK(fabs(ljs - log(fabs(det))) < 1e-6, "simplex log J %g, numerical %g", ljs, log(fabs(det)));
    simplex_ctx c = {K, {1.5, 0.5, 2.0, 1.0, 3.0}};
    double g[K - 1], worst = 0;
    simplex_obj(&c, u, g);
    for (int j = 0; j < K - 1; j++) {
        double up[K - 1];
        memcpy(up, u, sizeof up);
        up[j] += 1e-6;
        double a = simplex_obj(&c, up, NULL);
        up[j] -= 2e-6;
        double b = simplex_obj(&c, up, NULL);
        worst = fmax(worst, fabs(g[j] - (a - b) / 2e-6) / fmax(1, fabs(g[j])));
    }
    CHECK(worst < 1e-6, "simplex gradient off by %g", worst);
    double far[K - 1] = {60.0, -60.0, 45.0, -50.0}, gf[K - 1] = {0}, xf[K], gxf[K] = {1, 1, 1, 1, 1};
    double ljf = elbo_vi_simplex(far, K, xf);
    elbo_vi_simplex_grad(far, K, gxf, gf);
    int fin = isfinite(ljf);
    for (int k = 0; k < K - 1; k++) fin &= isfinite(gf[k]);
    CHECK(fin, "simplex far out (|u| = 60): log J %g and its gradient finite", ljf);
}

int main(void)
{
    check_transforms();
    check_khat();
    check_gradients_and_errors();
    check_fullrank();
    check_meanfield(1);
    check_meanfield(0);
    check_lowrank();
    check_funnel();
    check_plugin_linreg();
    return check_summary("test_vi");
}
