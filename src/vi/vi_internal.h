/* vi_internal.h — black-box VI (elbo_vi.h): the Gaussian families and the
 * fitting loop.
 *
 * The variational parameters lambda are one flat vector: the mean m [D]
 * at 0, the log standard deviations omega [D] at D, then
 *   full rank: the strictly lower part of L, row by row (L_ij, i > j),
 *              L_ii = exp(omega_i):              q = N(m, L L^T);
 *   low rank:  B [D, r] row-major:               q = N(m, B B^T + diag(exp(2 omega)));
 *   mean field: nothing more:                    q = N(m, diag(exp(2 omega))).
 * A draw is z = m + A eps for eps ~ N(0, I) of fam_eps_dim values (D, or
 * D + r for low rank: z = m + B eps_r + exp(omega) * eps_D).
 *
 * Ownership: fam_prep holds what one lambda needs for densities (low
 * rank: the r x r Cholesky factor of I + B^T D^-1 B); its buffers are the
 * caller's (fam_work_size doubles). Nothing here allocates. */
#ifndef ELBO_VI_INTERNAL_H
#define ELBO_VI_INTERNAL_H

#include <stddef.h>

#include "elbo_vi.h"

typedef struct {
    int D, r;
    elbo_vi_family fam;
    size_t n_lambda;
} vi_family;

typedef struct {
    double *kchol;   /* low rank: [r, r] lower Cholesky factor of I + B^T D^-1 B */
    double logdet;   /* log det of the covariance */
    double *tmp;     /* [D + r] scratch */
} fam_prep;

void fam_init(vi_family *f, int D, elbo_vi_family fam, int r);
int fam_eps_dim(const vi_family *f);
/* doubles of scratch fam_prepare and the calls below need */
size_t fam_work_size(const vi_family *f);
/* The starting lambda: mean init (or 0), sd 1, L = I, B small (seeded). */
void fam_start(const vi_family *f, double *lam, const double *init, uint64_t seed);
/* Prepares p for lambda (work: fam_work_size doubles, kept by p). */
void fam_prepare(const vi_family *f, const double *lam, double *work, fam_prep *p);
/* z [D] = m + A eps. */
void fam_sample(const vi_family *f, const double *lam, const double *eps, double *z);
/* log q(z) with p prepared for lambda; eps the draw's noise. */
double fam_log_q(const vi_family *f, const double *lam, const fam_prep *p, const double *z, const double *eps);
/* The sticking-the-landing gradient of log p(z) - log q(z) for one draw:
 * g_z = glogp - d log q / dz (density parameters fixed), pulled back to
 * lambda through z = m + A eps and ADDED to g [n_lambda]. */
void fam_stl_grad(const vi_family *f, const double *lam, const fam_prep *p, const double *eps, const double *z,
                  const double *glogp, double *g);
/* The covariance [D, D]. */
void fam_cov(const vi_family *f, const double *lam, double *cov);
/* lambda fitted to zeta, where theta = m0 + W zeta, into lambda of theta:
 * W [D, D] lower triangular (full rank) or its diagonal [D] (the others).
 * Returns 0, or -1 when out of memory (lambda then unchanged). */
int fam_unwhiten(const vi_family *f, double *lam, const double *m0, const double *W); /* 0, -1: out of memory */

/* log p at theta and its gradient (central differences when the target
 * has none; x [dim] scratch), grad may be NULL (fit.c). */
double vi_logp_at(const elbo_vi_target *t, const double *theta, double *grad, double *x);
/* laplace.c: the mode from theta (in place, damped Newton, at most
 * max_steps) and H [D, D] = -Hessian there; 0, or -1 when no positive
 * definite mode was found. */
int vi_laplace(const elbo_vi_target *t, double *theta, double *H, int max_steps);
/* W with W W^T = H^-1: lower triangular [D, D] (full), or the diagonal
 * 1 / sqrt(H_ii) [D]; 0 or -1. */
int vi_whitening(const double *H, int D, int full, double *W);
int vi_cholesky(const double *a, int D, double *l);

#endif
