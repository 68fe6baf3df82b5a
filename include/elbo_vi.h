/* elbo_vi.h — variational inference for your own model: black-box VI.
 *
 * You give a dimension D and a log density on R^D (up to a constant) with
 * its gradient; elbo fits a Gaussian q(theta) to it by maximising the ELBO
 * E_q[log p(theta)] + H[q], and tells you how far to trust the fit:
 *
 *   double logp(void *state, const double *theta, double *grad);
 *
 *   elbo_vi_target t = {.dim = 2, .logp = logp, .state = &my_data};
 *   elbo_vi_config c;
 *   elbo_vi_config_default(&c);          // full rank, defaults that need no tuning
 *   elbo_vi *fit = elbo_vi_fit(&t, &c, &err);
 *   elbo_vi_summary s;  elbo_vi_get_summary(fit, &s);   // ELBO +- MCSE, k-hat
 *   elbo_vi_mean(fit, mean);  elbo_vi_cov(fit, cov);  elbo_vi_draws(fit, 1000, seed, draws);
 *   elbo_vi_free(fit);
 *
 * Families: mean-field N(m, diag(s^2)), full-rank N(m, L L^T) with L lower
 * triangular, and low-rank N(m, B B^T + diag(s^2)) with B [D, rank].
 * Gradients: reparameterisation with the sticking-the-landing estimator
 * (Roeder et al. 2017: the score term of log q dropped, its path term
 * kept), averaged over `draws` per step. It starts from the posterior
 * mode and its Laplace covariance and fits in the coordinates that whiten
 * it, so scales do not matter. The step size needs no tuning: a short
 * trial of several Adam step sizes picks the start (as Stan's ADVI adapts
 * eta), then the step is halved whenever two windows of iterations running
 * show no significant gain of the ELBO at their average iterates, compared
 * on common random numbers (iterates stationary, as in RABVI, Welandawe et
 * al. 2022), and the result is the average of the last window's iterates.
 * Seeded and deterministic. docs/vi.md has the math. */
#ifndef ELBO_VI_H
#define ELBO_VI_H

#include "elbo.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The log density of your model at theta [dim], up to an additive
 *  constant; when grad is not NULL, also its gradient into grad [dim].
 *  Return -INFINITY (or NaN) outside the support. */
typedef double (*elbo_logp_fn)(void *state, const double *theta, double *grad);

typedef struct {
    int dim;                   /* D >= 1 */
    elbo_logp_fn logp;
    void *state;               /* passed to logp */
    const char *const *names;  /* [dim] parameter names, or NULL (theta[0], ...) */
    int has_grad;              /* 0: logp ignores grad; central differences are used (slow) */
    /* optional: the parameters to report from theta [dim] into out [n_out]
     * (e.g. sigma = exp(log_sigma)); 0 on success (elbo_vi_constrain) */
    int (*constrain)(void *state, const double *theta, double *out);
    int n_out;
    const char *const *out_names; /* [n_out], or NULL */
} elbo_vi_target;

typedef enum { ELBO_VI_MEANFIELD = 0, ELBO_VI_FULLRANK = 1, ELBO_VI_LOWRANK = 2 } elbo_vi_family;

typedef struct {
    elbo_vi_family family;  /* full rank (default) */
    int rank;               /* low rank: columns of B (default 2) */
    int draws;              /* Monte Carlo draws per gradient step (default 8) */
    long max_iters;         /* steps at most, the trial included (default 20000) */
    int window;             /* iterations per ELBO window (default 100) */
    int max_halvings;       /* stop after this many step-size halvings (default 6) */
    double lr;              /* 0: chosen by the trial (default); > 0: this Adam step size */
    int eval_draws;         /* draws for the final ELBO and k-hat (default 10000: k-hat's sd ~0.1) */
    uint64_t seed;          /* (default 1) */
    const double *init;     /* [dim] the starting point, or NULL (zeros) */
    int laplace_init;       /* 1 (default): first find the mode (damped Newton) and the Laplace
                               covariance there, and fit in the coordinates that whiten it
                               (dim <= 1000; falls back to the plain start if there is no
                               positive-definite mode) */
} elbo_vi_config;

/** What a fit achieved. */
typedef struct {
    double elbo, elbo_se;   /* the ELBO at the result, by eval_draws fresh draws, nats, and
                               its Monte Carlo standard error */
    double khat;            /* PSIS k-hat of the importance ratios p / q (Yao et al. 2018):
                               below 0.7 the fit is usable (and draws can be reweighted);
                               above, q misses mass that p has: distrust it */
    double lr;              /* the step size the trial chose (or the one given) */
    long iters;             /* gradient steps taken, trial included */
    int halvings;           /* step-size halvings done */
    int converged;          /* 1: stopped after max_halvings; 0: ran out of max_iters */
} elbo_vi_summary;

typedef struct elbo_vi elbo_vi;

ELBO_API void elbo_vi_config_default(elbo_vi_config *c);
/** Fits q to t (ELBO_ERR_ARG for a bad config or target, ELBO_ERR_NUMERIC
 *  when logp is not finite at the starting point). The trace of the ELBO
 *  (one value per window) is kept in the result. */
ELBO_API elbo_vi *elbo_vi_fit(const elbo_vi_target *t, const elbo_vi_config *c, elbo_error *err);
ELBO_API void elbo_vi_free(elbo_vi *fit);
ELBO_API void elbo_vi_get_summary(const elbo_vi *fit, elbo_vi_summary *s);
ELBO_API int elbo_vi_dim(const elbo_vi *fit);
/** q's mean [dim], covariance [dim, dim] (row-major) and standard
 *  deviations [dim]. */
ELBO_API void elbo_vi_mean(const elbo_vi *fit, double *mean);
ELBO_API void elbo_vi_cov(const elbo_vi *fit, double *cov);
ELBO_API void elbo_vi_sd(const elbo_vi *fit, double *sd);
/** n draws from q into out [n, dim], seeded. */
ELBO_API void elbo_vi_draws(const elbo_vi *fit, int n, uint64_t seed, double *out);
/** The reported parameters of n draws theta [n, dim] into out [n, n_out]
 *  through t->constrain (a copy of theta without one, n_out = dim).
 *  ELBO_ERR_NUMERIC naming the draw when constrain fails on it. */
ELBO_API elbo_status elbo_vi_constrain(const elbo_vi_target *t, const double *theta, int n, double *out,
                                       elbo_error *err);
/** The windowed ELBO trace: its length, and the values into trace [length]
 *  (may be NULL). */
ELBO_API int elbo_vi_trace(const elbo_vi *fit, double *trace);

/** Generalized Pareto shape k-hat of the largest of n log importance
 *  ratios (Zhang and Stephens 2009 with Vehtari et al.'s prior, as PSIS):
 *  the tail of the weights exp(log_w). NaN when n < 10 or fewer than 25
 *  are finite, INFINITY when one is +inf, 0 when the tail is all ties. */
ELBO_API double elbo_psis_khat(const double *log_w, int n);

/** The same fit, and PSIS-smoothed importance weights into w [n]
 *  (normalised to sum 1; the M largest replaced by the fitted tail's
 *  quantiles), for reweighting or resampling draws. */
ELBO_API double elbo_psis_weights(const double *log_w, int n, double *w);

/** n draws from q into out [n, dim] and their PSIS-smoothed importance
 *  weights p / q into w [n] (normalised); returns the draws' k-hat. For
 *  weighted estimates (the mean is sum_i w_i out_i), trustworthy when
 *  k-hat < 0.7. */
ELBO_API double elbo_vi_weighted_draws(const elbo_vi *fit, const elbo_vi_target *t, int n, uint64_t seed,
                                       double *out, double *w);
/** n draws from q resampled by their PSIS weights p / q (with
 *  replacement, systematic resampling), into out [n, dim]; returns the
 *  k-hat of those n ratios (use them only when it is below 0.7). */
ELBO_API double elbo_vi_psis_draws(const elbo_vi *fit, const elbo_vi_target *t, int n, uint64_t seed, double *out);

/** Compares t's gradient at theta with central differences (step h, 0:
 *  1e-5 scaled by |theta|): the worst coordinate into *worst and its
 *  relative error |g - fd| / max(1, |fd|) returned (NaN if logp is not
 *  finite there). People get gradients wrong; check before fitting. */
ELBO_API double elbo_check_gradient(const elbo_vi_target *t, const double *theta, double h, int *worst);

/* ------------------------------------------------- transforms, with Jacobians */

/** Constrained parameters from unconstrained u, for writing log densities
 *  on R^D: each returns x, and adds log |dx/du| to *log_jac and d log|dx/du| /
 *  du to *dlog_jac_du (either may be NULL); *dx_du gets dx/du (may be NULL).
 *  positive: x = exp(u). interval (lo < hi): x = lo + (hi - lo) sigmoid(u). */
ELBO_API double elbo_vi_positive(double u, double *dx_du, double *log_jac, double *dlog_jac_du);
ELBO_API double elbo_vi_interval(double u, double lo, double hi, double *dx_du, double *log_jac, double *dlog_jac_du);
/** A point x [K] of the simplex (x_k > 0, sum 1) from u [K - 1] by Stan's
 *  stick-breaking (z_k = sigmoid(u_k - log(K - k)), x_k = z_k times what
 *  is left of the stick); returns log |dx/du| (over the K - 1 free
 *  coordinates). elbo_vi_simplex_grad then ADDS to gu [K - 1] the gradient
 *  in u of f(x) + log |dx/du|, given gx [K] = df/dx. */
ELBO_API double elbo_vi_simplex(const double *u, int K, double *x);
ELBO_API void elbo_vi_simplex_grad(const double *u, int K, const double *gx, double *gu);

/* ---------------------------------------------------------- the plug-in ABI */

/** The version of elbo_vi_model a plug-in fills: it sets m->abi to it. */
#define ELBO_VI_ABI 1

/** A model as a plug-in gives it to `elbo fit` (docs/vi.md). */
typedef struct {
    int abi;                        /* ELBO_VI_ABI */
    int dim;                        /* unconstrained parameters */
    const char *const *names;       /* [dim], or NULL */
    elbo_logp_fn logp;              /* on R^dim, Jacobians of transforms included */
    int has_grad;                   /* 1 if logp fills grad */
    /* optional: the parameters to report, from theta: 0 on success */
    int (*constrain)(void *state, const double *theta, double *out);
    int n_out;                      /* constrain's output size */
    const char *const *out_names;   /* [n_out], or NULL */
    void *state;                    /* the plug-in's, passed back to every call */
    void (*free)(void *state);      /* releases state (may be NULL) */
} elbo_vi_model;

/** The one symbol a plug-in exports. It reads its data from data_path (any
 *  format it likes; may be NULL), fills m and returns 0, or writes a message
 *  into err [errlen] and returns non-zero. */
typedef int (*elbo_vi_model_open_fn)(const char *data_path, elbo_vi_model *m, char *err, size_t errlen);
#define ELBO_VI_MODEL_OPEN "elbo_vi_model_open"
/** The entry point's prototype, for plug-ins to define (the library does
 *  not): exported with default visibility whatever the plug-in's flags. */
ELBO_API int elbo_vi_model_open(const char *data_path, elbo_vi_model *m, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
