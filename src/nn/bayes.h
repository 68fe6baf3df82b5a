/* bayes.h — ops for Bayesian layers and classifiers (Bayes by Backprop,
 * Blundell et al. 2015), forward/backward pairs with the rules of ops.h:
 * backward ACCUMULATES into its outputs, nothing allocates.
 *
 * A weight w has the posterior N(mu, sigma^2) with sigma = softplus(rho).
 * Under the local reparameterisation (Kingma, Salimans and Welling 2015) a
 * layer samples its pre-activations instead of its weights:
 *   mean = a @ Wmu^T + bmu,  var = (a*a) @ sigma_W^2^T + sigma_b^2,
 *   out = mean + sqrt(var) * eps,  eps ~ N(0, 1) per row and unit,
 * which is the linear ops of ops.h plus square and gauss_lrt below. */
#ifndef ELBO_BAYES_H
#define ELBO_BAYES_H

#include <stdint.h>

#include "../util/rng.h"

/* n standard normals as float from rng, fast and vectorised: Box-Muller on
 * two 24-bit uniforms per 64-bit draw (elbo_rng_normal_fill's polar method
 * with libm is about 8x slower). The 24-bit uniform caps |z| at 5.9 (a
 * tail of probability 4e-9 is cut). The Bayesian network's noise. */
void normal_fill_fast(elbo_rng *rng, float *out, long n);

/* out[n] = in^2. */
void square_forward(float *out, const float *in, long n);
/* din[n] += 2 in dout. */
void square_backward(float *din, const float *dout, const float *in, long n);

/* out[n] = mean + sqrt(var) * eps (var > 0). */
void gauss_lrt_forward(float *out, const float *mean, const float *var, const float *eps, long n);
/* dmean[n] += dout; dvar[n] += dout * eps / (2 sqrt(var)). */
void gauss_lrt_backward(float *dmean, float *dvar, const float *dout, const float *var,
                        const float *eps, long n);

/* sigma^2 = softplus(rho)^2 into var[n]. */
void softplus_sq_forward(float *var, const float *rho, long n);
/* drho[n] += dvar * d softplus(rho)^2 / d rho = dvar * 2 softplus(rho) sigmoid(rho). */
void softplus_sq_backward(float *drho, const float *dvar, const float *rho, long n);

/* KL(N(mu, softplus(rho)^2) || N(0, prior_var)) summed over n weights:
 * log(sp / sigma) + (sigma^2 + mu^2) / (2 prior_var) - 1/2, sp^2 = prior_var. */
double kl_gauss_prior_forward(const float *mu, const float *rho, long n, double prior_var);
/* dmu[n] += scale * mu / prior_var;
 * drho[n] += scale * (sigma / prior_var - 1 / sigma) * sigmoid(rho). */
void kl_gauss_prior_backward(float *dmu, float *drho, const float *mu, const float *rho, long n,
                             double prior_var, float scale);

/* The per-step statistics of n weights in one pass, what the forward pass
 * and the gradient need: var = sigma^2, dvar = d sigma^2 / d rho and
 * dkl = d KL / d rho (as kl_gauss_prior_backward with scale 1), each [n];
 * returns the KL summed
 * (kl_gauss_prior_forward). In float with fastmath.h. */
double gauss_prior_stats(float *var, float *dvar, float *dkl, const float *mu, const float *rho,
                         long n, double prior_var);

/* The scale-mixture prior p(w) = pi N(0, s1^2) + (1 - pi) N(0, s2^2)
 * (Blundell et al. 2015), in float with the vectorised exp and logs of
 * fastmath.h (relative error ~1e-7): a one-draw Monte Carlo estimate of
 * KL(q || p) = E_q[log q(w) - log p(w)] at w = mu + sigma eps (eps [n]
 * given), summed over n weights, and its reparameterised gradient:
 *   dmu[n]  = d/dmu  = -dlogp/dw (the log q terms cancel),
 *   drho[n] = d/drho = (-1/sigma - eps dlogp/dw) sigmoid(rho),
 * written (=, not +=: a per-step pass, like gauss_prior_stats). var and
 * dvar (both or neither may be NULL) get sigma^2 and d sigma^2 / d rho as
 * gauss_prior_stats gives them, so a step needs only this one pass. */
double kl_mixture_mc(float *dmu, float *drho, float *var, float *dvar, const float *mu,
                     const float *rho, const float *eps, long n, double pi, double s1, double s2);

/* Softmax cross-entropy over B rows of C logits with integer targets y[B]:
 * returns sum_b -log softmax(logits_b)[y_b] (stable), and writes probs[B,C]
 * (kept for backward). */
double softmax_xent_forward(float *probs, const float *logits, const int32_t *y, int B, int C);
/* dlogits[B,C] += scale * (probs - onehot(y)). */
void softmax_xent_backward(float *dlogits, const float *probs, const int32_t *y, int B, int C,
                           float scale);

#endif
