/* lda_internal.h — latent Dirichlet allocation (elbo_lda in elbo_lda.h),
 * the engine's client without a gradient. Not installed.
 *
 * Parameters (one flat buffer, named views):
 *   lambda [K, V]  stored word-major [V, K] (the tensor is `transposed`):
 *                  an E-step reads the K topic weights of one word at once
 *   alpha  [K]     the Dirichlet prior on theta (fixed, or re-estimated)
 * ebeta [V, K] = exp(E[log beta]) = exp(psi(lambda_kw) - psi(sum_w lambda_kw))
 * is kept beside them and refreshed after every change of lambda
 * (lda_refresh).
 *
 * One step (lda.c): each worker runs the E-step over its documents of the
 * minibatch (lda_estep), adding exp(E[log theta_d]) n_dw / phinorm_dw into
 * its sufficient statistics [V, K]; ops->stats sums the workers' statistics
 * in worker order; the engine sums them over a group (MPI ranks); ops->apply
 * multiplies by ebeta (the sstats of Hoffman et al.), forms the new lambda
 * and refreshes ebeta. The statistics buffer ends with K more floats, the
 * sum of E[log theta_d] over the minibatch, for the Newton step on alpha.
 *
 * Ownership: the model owns params, ebeta, the summed statistics and each
 * worker's scratch (allocated at creation or by model_set_workers);
 * nothing is allocated during a step. */
#ifndef ELBO_LDA_INTERNAL_H
#define ELBO_LDA_INTERNAL_H

#include "../train/run.h"
#include "elbo_lda.h"
#include "model.h"

#define LDA_MAX_WORKERS 64
#define LDA_MAX_ALPHA 4096 /* topics at most when alpha is re-estimated */
enum { LDA_LOSS, LDA_RECON, LDA_KL, LDA_TOKENS, LDA_TERMS };

/* One worker's scratch: statistics [V, K] plus the E[log theta] sums [K],
 * and one document's gamma, exp(E[log theta]), word responsibilities. */
typedef struct {
    float *ss;         /* [V * K + K] */
    double *gamma;     /* [K] */
    double *acc;       /* [K] */
    float *accf;       /* [K] the E-step's weighted sums of ebeta */
    float *bt;         /* [K * V] a document's columns of ebeta, topic-major */
    float *cf;         /* [V] a document's counts as floats */
    float *etheta;     /* [K] */
    float *phinorm;    /* [V] (a document has at most V distinct words) */
    int *obs;          /* [V] a document's observed counts (document completion) */
    double sums[LDA_TERMS];
} lda_worker;

struct elbo_lda {
    model base;        /* tensor table, params, workers (model.h) */
    elbo_lda_config cfg;
    model_tensor tensors[2];
    size_t alpha_off;  /* alpha's offset in params (lambda at 0) */
    lda_worker w[LDA_MAX_WORKERS];
    float *ebeta;      /* [V, K] */
    float *stats;      /* [V * K + K] the step's summed statistics */
    double *lsum;      /* [K] sum_w lambda_kw, with ebeta */
    double *psum;      /* [K] psi(sum_w lambda_kw), with ebeta */
    double rho;        /* the last update's step size */
    const elbo_dataset *train; /* the last training set a step ran over (coherence) */
    trainer tr;
    elbo_run_record record;
    elbo_model handle;
};

/* The E-step for document d of corpus c, lambda fixed: gamma starts from
 * gamma0 (NULL: from a Gamma(100, 1/100) draw of rng, as scikit-learn's
 * training; with rng NULL too, from 1, as its transform), iterating until
 * the mean change of gamma is below tol or for iters rounds. counts
 * replaces the document's counts when not NULL (document completion: the
 * observed half; a 0 leaves the word out).
 * Leaves gamma in w->gamma and exp(E[log theta]) in w->etheta; when ss is
 * not NULL adds the document's statistics into it. Returns the document's
 * bound in parts: recon (the word part, negated) and kl. */
void lda_estep(const elbo_lda *m, lda_worker *w, const elbo_corpus *c, int d, const int *counts,
               elbo_rng *rng, float *ss, double *recon, double *kl);
/* ebeta from lambda (threads over words). */
void lda_refresh(elbo_lda *m);
/* -KL(q(beta) || p(beta)) summed over topics (the bound's global term). */
double lda_global_term(const elbo_lda *m);
/* E[log theta] and exp of it from gamma [K]: elog [K] (may be NULL). */
void lda_dirichlet_expect(const double *gamma, int K, double *elog, float *etheta);
/* One Newton step on alpha [K] (gensim's update_dir_prior): with N
 * documents whose E[log theta] sum to logsum [K], alpha moves by rho times
 * the step, halved (up to 30 times) while an entry would not stay
 * positive, where gensim drops the step. Returns 1 if a step was taken. */
int lda_alpha_newton(double *alpha, int K, double N, const double *logsum, double rho);

/* The ops of lda.c that lda_eval.c's table holds. */
elbo_status lda_check_data(const model *base, const elbo_dataset *ds, elbo_error *err);
elbo_status lda_check_train(const model *base, const elbo_train_config *tc, elbo_error *err);
void lda_step_begin(model *base, model_step *s, const model_batch *b);
void lda_forward(model *base, const model_step *s, int t, const model_batch *b, int r0, int n, int fused);
void lda_terms_of(const model *base, int t, double *sums);
void lda_drop(model *base, int nw);
float *lda_stats(model *base, int nw, size_t *n);
elbo_status lda_apply(model *base, const model_step *s, const model_batch *b, long step, elbo_error *err);

extern const model_ops lda_ops;

#endif
