/* symeig.h — eigenvalues of a small symmetric matrix (cyclic Jacobi), for
 * the rotation-invariant count of active latent dimensions (latent.c).
 * No BLAS or LAPACK: n is a latent size (tens to a few hundred). */
#ifndef ELBO_SYMEIG_H
#define ELBO_SYMEIG_H

/* a [n, n] symmetric, row-major, overwritten (its diagonal ends as the
 * eigenvalues); eig [n] receives the eigenvalues in descending order.
 * Sweeps until the off-diagonal mass is below 1e-24 of the total or 100
 * sweeps; returns the number of sweeps, or -1 when they did not suffice. */
int elbo_symeig(double *a, int n, double *eig);

#endif
