/* special.h — special functions for the Dirichlet expectations of topic
 * models and the Newton steps on Dirichlet priors: digamma and trigamma
 * for x > 0 (recurrence up to x >= 10, then the asymptotic series; about
 * 1e-13 absolute error), and lgamma for x > 0 that keeps no global state
 * (libm's lgamma writes signgam, a race between threads). */
#ifndef ELBO_SPECIAL_H
#define ELBO_SPECIAL_H

double elbo_digamma(double x);
double elbo_trigamma(double x);
double elbo_lgamma(double x);

#endif
