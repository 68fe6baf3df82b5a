/* laplace.c — where black-box VI starts: the posterior mode by damped
 * Newton steps (Levenberg-Marquardt on -log p, the Hessian by central
 * differences of the gradient) and the Laplace covariance there, whose
 * Cholesky factor then whitens the problem (fit.c): VI runs on zeta with
 * theta = mode + W zeta, where the posterior is roughly N(0, I) whatever
 * the model's scales (posteriordb's regressions span sds from 1e-3 to 1e4,
 * which a fixed Adam step cannot serve). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vi_internal.h"

/* Lower Cholesky factor of the D x D symmetric a into l; 0, or -1 when a
 * is not positive definite. */
int vi_cholesky(const double *a, int D, double *l)
{
    memset(l, 0, sizeof(double) * (size_t)D * D);
    for (int j = 0; j < D; j++) {
        double d = a[(size_t)j * D + j];
        for (int k = 0; k < j; k++) d -= l[(size_t)j * D + k] * l[(size_t)j * D + k];
        if (!(d > 0) || !isfinite(d)) return -1;
        d = sqrt(d);
        l[(size_t)j * D + j] = d;
        for (int i = j + 1; i < D; i++) {
            double s = a[(size_t)i * D + j];
            for (int k = 0; k < j; k++) s -= l[(size_t)i * D + k] * l[(size_t)j * D + k];
            l[(size_t)i * D + j] = s / d;
        }
    }
    return 0;
}

/* x = (L L^T)^-1 b for the lower factor L (forward, then back substitution). */
static void chol_solve(const double *l, int D, const double *b, double *x)
{
    for (int i = 0; i < D; i++) {
        double s = b[i];
        for (int k = 0; k < i; k++) s -= l[(size_t)i * D + k] * x[k];
        x[i] = s / l[(size_t)i * D + i];
    }
    for (int i = D - 1; i >= 0; i--) {
        double s = x[i];
        for (int k = i + 1; k < D; k++) s -= l[(size_t)k * D + i] * x[k];
        x[i] = s / l[(size_t)i * D + i];
    }
}

/* H = -d^2 log p / d theta^2 at theta by central differences of the
 * gradient, symmetrised; g [D] and x [D] scratch. 0, or -1 when not finite. */
static int neg_hessian(const elbo_vi_target *t, const double *theta, double *H, double *g1, double *g2, double *x,
                       double *fdx)
{
    int D = t->dim;
    memcpy(x, theta, sizeof(double) * (size_t)D);
    for (int j = 0; j < D; j++) {
        double h = 1e-4 * fmax(1.0, fabs(theta[j]));
        x[j] = theta[j] + h;
        double a = vi_logp_at(t, x, g1, fdx);
        x[j] = theta[j] - h;
        double b = vi_logp_at(t, x, g2, fdx);
        x[j] = theta[j];
        if (!isfinite(a) || !isfinite(b)) return -1;
        for (int i = 0; i < D; i++) H[(size_t)i * D + j] = -(g1[i] - g2[i]) / (2 * h);
    }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < i; j++) {
            double s = 0.5 * (H[(size_t)i * D + j] + H[(size_t)j * D + i]);
            H[(size_t)i * D + j] = H[(size_t)j * D + i] = s;
        }
    for (size_t k = 0; k < (size_t)D * D; k++)
        if (!isfinite(H[k])) return -1;
    return 0;
}

int vi_laplace(const elbo_vi_target *t, double *theta, double *H, int max_steps)
{
    int D = t->dim, rc = -1;
    double *g = malloc(sizeof(double) * (size_t)D * 6), *A = malloc(sizeof(double) * (size_t)D * D * 2);
    if (!g || !A) goto out;
    double *step = g + D, *cand = g + 2 * (size_t)D, *g1 = g + 3 * (size_t)D, *g2 = g + 4 * (size_t)D, *x = g + 5 * (size_t)D;
    double *L = A + (size_t)D * D, mu = 1e-3;
    double lp = vi_logp_at(t, theta, g, x);
    if (!isfinite(lp)) goto out;
    for (int it = 0; it < max_steps; it++) {
        if (neg_hessian(t, theta, H, g1, g2, cand, x)) goto out;
        double scale = 0;
        for (int i = 0; i < D; i++) scale += fabs(H[(size_t)i * D + i]) / D;
        int moved = 0;
        for (int tries = 0; tries < 40 && !moved; tries++) { /* damp until the step raises log p */
            memcpy(A, H, sizeof(double) * (size_t)D * D);
            for (int i = 0; i < D; i++) A[(size_t)i * D + i] += mu * (scale > 0 ? scale : 1.0);
            if (vi_cholesky(A, D, L)) {
                mu *= 10;
                continue;
            }
            chol_solve(L, D, g, step);
            for (int i = 0; i < D; i++) cand[i] = theta[i] + step[i];
            double lc = vi_logp_at(t, cand, g1, x);
            if (isfinite(lc) && lc >= lp) {
                double dec = 0;
                for (int i = 0; i < D; i++) dec += g[i] * step[i];
                memcpy(theta, cand, sizeof(double) * (size_t)D);
                memcpy(g, g1, sizeof(double) * (size_t)D);
                int done = lc - lp < 1e-10 * (1 + fabs(lp)) && dec < 1e-8;
                lp = lc;
                mu = fmax(mu / 10, 1e-12);
                moved = 1;
                if (done) it = max_steps; /* converged */
            } else {
                mu *= 10;
            }
        }
        if (!moved) break; /* no step raises log p: at the mode to precision */
    }
    rc = neg_hessian(t, theta, H, g1, g2, cand, x) || vi_cholesky(H, D, L) ? -1 : 0; /* positive definite there */
out:
    free(g);
    free(A);
    return rc;
}

int vi_whitening(const double *H, int D, int full, double *W)
{
    double *L = malloc(sizeof(double) * (size_t)D * D), *inv = malloc(sizeof(double) * (size_t)D * D);
    double *e = malloc(sizeof(double) * (size_t)D), *col = malloc(sizeof(double) * (size_t)D);
    int rc = -1;
    if (!L || !inv || !e || !col) goto out;
    if (!full) { /* diagonal: the conditional sds 1 / sqrt(H_ii) */
        for (int i = 0; i < D; i++) {
            if (!(H[(size_t)i * D + i] > 0)) goto out;
            W[i] = 1.0 / sqrt(H[(size_t)i * D + i]);
        }
        rc = 0;
        goto out;
    }
    if (vi_cholesky(H, D, L)) goto out;
    for (int j = 0; j < D; j++) { /* H^-1 column by column */
        for (int i = 0; i < D; i++) e[i] = i == j;
        chol_solve(L, D, e, col);
        for (int i = 0; i < D; i++) inv[(size_t)i * D + j] = col[i];
    }
    for (int i = 0; i < D; i++) /* symmetrise the rounding */
        for (int j = 0; j < i; j++) inv[(size_t)i * D + j] = inv[(size_t)j * D + i] = 0.5 * (inv[(size_t)i * D + j] + inv[(size_t)j * D + i]);
    rc = vi_cholesky(inv, D, W);
out:
    free(L);
    free(inv);
    free(e);
    free(col);
    return rc;
}
