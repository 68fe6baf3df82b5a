/* family.c — the Gaussian families of black-box VI: draws, densities, the
 * sticking-the-landing gradient and the covariance. Layout of lambda in
 * vi_internal.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/rng.h"
#include "vi_internal.h"

static const double HALF_LOG_2PI = 0.91893853320467274178;

void fam_init(vi_family *f, int D, elbo_vi_family fam, int r)
{
    f->D = D;
    f->fam = fam;
    f->r = fam == ELBO_VI_LOWRANK ? r : 0;
    size_t extra = fam == ELBO_VI_FULLRANK ? (size_t)D * (D - 1) / 2 : fam == ELBO_VI_LOWRANK ? (size_t)D * r : 0;
    f->n_lambda = 2 * (size_t)D + extra;
}

int fam_eps_dim(const vi_family *f) { return f->D + f->r; }

/* The scratch: K's factor [r, r], then u [r], d [D], inv [D], gz [D]. */
size_t fam_work_size(const vi_family *f) { return (size_t)f->r * f->r + (size_t)f->r + 3 * (size_t)f->D; }

/* Index of L_ij (i > j) after m and omega. */
static size_t lower(int D, int i, int j) { return 2 * (size_t)D + (size_t)i * (i - 1) / 2 + (size_t)j; }

void fam_start(const vi_family *f, double *lam, const double *init, uint64_t seed)
{
    int D = f->D;
    memset(lam, 0, sizeof(double) * f->n_lambda);
    for (int i = 0; init && i < D; i++) lam[i] = init[i];
    if (f->fam != ELBO_VI_LOWRANK) return;
    elbo_rng r;
    elbo_rng_seed(&r, seed ^ 0x10a3a9bULL);
    for (size_t k = 2 * (size_t)D; k < f->n_lambda; k++) lam[k] = 0.01 * elbo_rng_normal(&r); /* off the saddle at B = 0 */
}

/* Cholesky of the r x r symmetric positive definite a, in place (lower). */
static void cholesky(double *a, int r)
{
    for (int j = 0; j < r; j++) {
        double d = a[j * r + j];
        for (int k = 0; k < j; k++) d -= a[j * r + k] * a[j * r + k];
        d = sqrt(d > 1e-300 ? d : 1e-300);
        a[j * r + j] = d;
        for (int i = j + 1; i < r; i++) {
            double s = a[i * r + j];
            for (int k = 0; k < j; k++) s -= a[i * r + k] * a[j * r + k];
            a[i * r + j] = s / d;
        }
        for (int k = j + 1; k < r; k++) a[j * r + k] = 0.0;
    }
}

void fam_prepare(const vi_family *f, const double *lam, double *work, fam_prep *p)
{
    int D = f->D, r = f->r;
    const double *om = lam + D;
    p->kchol = work;
    p->tmp = work + (size_t)r * r;
    double ld = 0.0;
    for (int i = 0; i < D; i++) ld += 2.0 * om[i];
    if (f->fam == ELBO_VI_LOWRANK) { /* K = I + B^T D^-1 B; det(B B^T + D) = det D det K */
        const double *B = lam + 2 * (size_t)D;
        for (int a = 0; a < r; a++)
            for (int b = 0; b <= a; b++) {
                double s = a == b ? 1.0 : 0.0;
                for (int i = 0; i < D; i++) s += B[i * r + a] * B[i * r + b] * exp(-2.0 * om[i]);
                p->kchol[a * r + b] = p->kchol[b * r + a] = s;
            }
        cholesky(p->kchol, r);
        for (int a = 0; a < r; a++) ld += 2.0 * log(p->kchol[a * r + a]);
    }
    p->logdet = ld;
}

void fam_sample(const vi_family *f, const double *lam, const double *eps, double *z)
{
    int D = f->D, r = f->r;
    const double *m = lam, *om = lam + D;
    for (int i = 0; i < D; i++) {
        double v = m[i] + exp(om[i]) * eps[i];
        if (f->fam == ELBO_VI_FULLRANK)
            for (int j = 0; j < i; j++) v += lam[lower(D, i, j)] * eps[j];
        else if (f->fam == ELBO_VI_LOWRANK) {
            const double *B = lam + 2 * (size_t)D + (size_t)i * r;
            v = m[i] + exp(om[i]) * eps[r + i];
            for (int k = 0; k < r; k++) v += B[k] * eps[k];
        }
        z[i] = v;
    }
}

/* Low rank: out = Sigma^-1 v by Woodbury, Sigma = D + B B^T:
 * D^-1 v - D^-1 B K^-1 B^T D^-1 v. */
static void lowrank_solve(const vi_family *f, const double *lam, const fam_prep *p, const double *v, double *out)
{
    int D = f->D, r = f->r;
    const double *om = lam + D, *B = lam + 2 * (size_t)D;
    double *u = p->tmp; /* [r]: B^T D^-1 v, then K^-1 of it (v and out must not be u) */
    for (int k = 0; k < r; k++) {
        double s = 0.0;
        for (int i = 0; i < D; i++) s += B[i * r + k] * v[i] * exp(-2.0 * om[i]);
        u[k] = s;
    }
    const double *C = p->kchol;
    for (int a = 0; a < r; a++) { /* C y = u, then C^T x = y */
        double s = u[a];
        for (int b = 0; b < a; b++) s -= C[a * r + b] * u[b];
        u[a] = s / C[a * r + a];
    }
    for (int a = r - 1; a >= 0; a--) {
        double s = u[a];
        for (int b = a + 1; b < r; b++) s -= C[b * r + a] * u[b];
        u[a] = s / C[a * r + a];
    }
    for (int i = 0; i < D; i++) {
        double s = v[i];
        for (int k = 0; k < r; k++) s -= B[i * r + k] * u[k];
        out[i] = s * exp(-2.0 * om[i]);
    }
}

double fam_log_q(const vi_family *f, const double *lam, const fam_prep *p, const double *z, const double *eps)
{
    int D = f->D;
    double maha = 0.0;
    if (f->fam == ELBO_VI_LOWRANK) { /* (z - m)^T Sigma^-1 (z - m) */
        double *d = p->tmp + f->r, *inv = d + D;
        for (int i = 0; i < D; i++) d[i] = z[i] - lam[i];
        lowrank_solve(f, lam, p, d, inv);
        for (int i = 0; i < D; i++) maha += d[i] * inv[i];
    } else {
        for (int i = 0; i < D; i++) maha += eps[i] * eps[i]; /* z - m = A eps, A square */
    }
    return -D * HALF_LOG_2PI - 0.5 * p->logdet - 0.5 * maha;
}

void fam_stl_grad(const vi_family *f, const double *lam, const fam_prep *p, const double *eps, const double *z,
                  const double *glogp, double *g)
{
    int D = f->D, r = f->r;
    const double *om = lam + D;
    double *d = p->tmp + r, *inv = d + D, *gz = inv + D;
    /* d log q / dz = -Sigma^-1 (z - m) */
    if (f->fam == ELBO_VI_MEANFIELD) {
        for (int i = 0; i < D; i++) inv[i] = eps[i] * exp(-om[i]);
    } else if (f->fam == ELBO_VI_FULLRANK) { /* Sigma^-1 L eps = L^-T eps: back substitution */
        for (int i = D - 1; i >= 0; i--) {
            double s = eps[i];
            for (int k = i + 1; k < D; k++) s -= lam[lower(D, k, i)] * inv[k];
            inv[i] = s * exp(-om[i]);
        }
    } else {
        for (int i = 0; i < D; i++) d[i] = z[i] - lam[i];
        lowrank_solve(f, lam, p, d, inv);
    }
    for (int i = 0; i < D; i++) gz[i] = glogp[i] + inv[i];
    for (int i = 0; i < D; i++) g[i] += gz[i]; /* the mean */
    if (f->fam == ELBO_VI_LOWRANK) {
        double *gB = g + 2 * (size_t)D;
        for (int i = 0; i < D; i++) {
            g[D + i] += gz[i] * eps[r + i] * exp(om[i]);
            for (int k = 0; k < r; k++) gB[i * r + k] += gz[i] * eps[k];
        }
        return;
    }
    for (int i = 0; i < D; i++) {
        g[D + i] += gz[i] * eps[i] * exp(om[i]);
        if (f->fam == ELBO_VI_FULLRANK)
            for (int j = 0; j < i; j++) g[lower(D, i, j)] += gz[i] * eps[j];
    }
}

void fam_cov(const vi_family *f, const double *lam, double *cov)
{
    int D = f->D, r = f->r;
    const double *om = lam + D;
    memset(cov, 0, sizeof(double) * (size_t)D * D);
    if (f->fam == ELBO_VI_MEANFIELD) {
        for (int i = 0; i < D; i++) cov[(size_t)i * D + i] = exp(2.0 * om[i]);
        return;
    }
    if (f->fam == ELBO_VI_LOWRANK) {
        const double *B = lam + 2 * (size_t)D;
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) {
                double s = i == j ? exp(2.0 * om[i]) : 0.0;
                for (int k = 0; k < r; k++) s += B[i * r + k] * B[j * r + k];
                cov[(size_t)i * D + j] = s;
            }
        return;
    }
    for (int i = 0; i < D; i++) /* L L^T */
        for (int j = 0; j <= i; j++) {
            double s = 0.0;
            for (int k = 0; k <= j; k++) {
                double lik = k == i ? exp(om[i]) : lam[lower(D, i, k)];
                double ljk = k == j ? exp(om[j]) : lam[lower(D, j, k)];
                s += lik * ljk;
            }
            cov[(size_t)i * D + j] = cov[(size_t)j * D + i] = s;
        }
}

int fam_unwhiten(const vi_family *f, double *lam, const double *m0, const double *W)
{
    int D = f->D, r = f->r;
    double *m = lam, *om = lam + D;
    if (f->fam != ELBO_VI_FULLRANK) { /* W diagonal */
        for (int i = 0; i < D; i++) {
            m[i] = m0[i] + W[i] * m[i];
            om[i] += log(W[i]);
            for (int k = 0; f->fam == ELBO_VI_LOWRANK && k < r; k++) lam[2 * (size_t)D + (size_t)i * r + k] *= W[i];
        }
        return 0;
    }
    double *Lz = malloc(sizeof(double) * (size_t)D * D), *mz = malloc(sizeof(double) * (size_t)D);
    if (!Lz || !mz) {
        free(Lz);
        free(mz);
        return -1;
    }
    memcpy(mz, m, sizeof(double) * (size_t)D);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) Lz[(size_t)i * D + j] = j > i ? 0.0 : j == i ? exp(om[i]) : lam[lower(D, i, j)];
    for (int i = 0; i < D; i++) {
        double s = m0[i];
        for (int k = 0; k <= i; k++) s += W[(size_t)i * D + k] * mz[k];
        m[i] = s;
        for (int j = 0; j <= i; j++) { /* (W Lz)_ij, both lower triangular */
            double v = 0;
            for (int k = j; k <= i; k++) v += W[(size_t)i * D + k] * Lz[(size_t)k * D + j];
            if (j == i) om[i] = log(v);
            else lam[lower(D, i, j)] = v;
        }
    }
    free(Lz);
    free(mz);
    return 0;
}
