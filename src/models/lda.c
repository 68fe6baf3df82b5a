/* lda.c — latent Dirichlet allocation on the engine: the layout, the
 * E-step, the update of lambda and alpha, and the model's ops; see
 * lda_internal.h. Evaluation, inference and checkpoints are in lda_eval.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../util/special.h"
#include "../train/trainer.h"
#include "lda_internal.h"

#define LDA_EPS 2.220446049250313e-16f /* added to phinorm, as scikit-learn does */

void elbo_lda_config_default(elbo_lda_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_topics = 20;
    c->method = ELBO_LDA_ONLINE;
    c->estimate_alpha = 1;
    c->tau0 = 4.0;
    c->kappa = 0.7;
    c->estep_iters = 100;
    c->estep_tol = 1e-3;
    c->max_batch = 1 << 30;
}

elbo_status elbo_lda_config_check(const elbo_lda_config *c, elbo_error *err)
{
    if (c->n_topics < 1 || c->n_topics > 100000)
        return elbo_fail(err, ELBO_ERR_ARG, "the number of topics must lie in 1..100000, not %d", c->n_topics);
    if (c->n_vocab < 1) return elbo_fail(err, ELBO_ERR_ARG, "the vocabulary is empty (n_vocab %d)", c->n_vocab);
    size_t cells;
    if (!elbo_mul_ok((size_t)c->n_topics, (size_t)c->n_vocab, &cells) || cells > ((size_t)1 << 31))
        return elbo_fail(err, ELBO_ERR_ARG, "%d topics x %d words is too large", c->n_topics, c->n_vocab);
    if (!(c->alpha >= 0.0) || !isfinite(c->alpha) || !(c->eta >= 0.0) || !isfinite(c->eta))
        return elbo_fail(err, ELBO_ERR_ARG, "alpha and eta must be finite and > 0 (0: 1/K)");
    if (c->method != ELBO_LDA_ONLINE && c->method != ELBO_LDA_BATCH)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown LDA method %d", (int)c->method);
    if (!(c->tau0 >= 0.0) || !isfinite(c->tau0) || !(c->kappa > 0.5 && c->kappa <= 1.0))
        return elbo_fail(err, ELBO_ERR_ARG, "tau0 must be >= 0 and kappa in (0.5, 1] (Robbins-Monro)");
    if (c->estep_iters < 1 || !(c->estep_tol >= 0.0) || !isfinite(c->estep_tol))
        return elbo_fail(err, ELBO_ERR_ARG, "the E-step needs iterations >= 1 and a tolerance >= 0");
    if (c->max_batch < 1) return elbo_fail(err, ELBO_ERR_ARG, "max_batch must be >= 1");
    if (c->estimate_alpha && c->n_topics > LDA_MAX_ALPHA)
        return elbo_fail(err, ELBO_ERR_ARG, "alpha is re-estimated for at most %d topics", LDA_MAX_ALPHA);
    return ELBO_OK;
}

/* ------------------------------------------------------------ the E-step */

void lda_dirichlet_expect(const double *gamma, int K, double *elog, float *etheta)
{
    double s = 0.0;
    for (int k = 0; k < K; k++) s += gamma[k];
    double ps = elbo_digamma(s);
    for (int k = 0; k < K; k++) {
        double e = elbo_digamma(gamma[k]) - ps;
        if (elog) elog[k] = e;
        etheta[k] = (float)exp(e);
    }
}

/* pn [n] = bt^T et + eps: phinorm of the document's words, with bt [K, n]
 * the document's columns of ebeta (topic-major, so that both products
 * of an iteration run over the words in long vectors). */
static void doc_phinorm(const float *bt, const float *et, int K, int n, float *pn)
{
    for (int j = 0; j < n; j++) pn[j] = LDA_EPS;
    for (int k = 0; k < K; k++) {
        const float *row = bt + (size_t)k * n;
        float e = et[k];
#pragma omp simd
        for (int j = 0; j < n; j++) pn[j] += e * row[j];
    }
}

/* log sum_k exp(elog_theta_k + E[log beta_kw]) in double from lambda, for
 * a word whose probability is too small for the float ebeta. */
static double word_logp_exact(const elbo_lda *m, const double *elog_theta, int word)
{
    int K = m->cfg.n_topics;
    const float *lam = m->base.params + (size_t)word * K;
    double mx = -INFINITY, s = 0.0;
    for (int k = 0; k < K; k++) mx = fmax(mx, elog_theta[k] + elbo_digamma(lam[k]) - m->psum[k]);
    for (int k = 0; k < K; k++) s += exp(elog_theta[k] + elbo_digamma(lam[k]) - m->psum[k] - mx);
    return mx + log(s);
}

void lda_estep(const elbo_lda *m, lda_worker *w, const elbo_corpus *c, int d, const int *counts,
               elbo_rng *rng, float *ss, double *recon, double *kl)
{
    int K = m->cfg.n_topics, j0 = c->doc_ptr[d], n = c->doc_ptr[d + 1] - j0;
    const int *word = c->word + j0, *cnt = counts ? counts : c->count + j0;
    const float *eb = m->ebeta, *alpha = m->base.params + m->alpha_off;
    double *g = w->gamma, *acc = w->acc;
    float *et = w->etheta, *pn = w->phinorm, *bt = w->bt, *cf = w->cf, *af = w->accf;
    for (int j = 0; j < n; j++) { /* the document's columns of ebeta, and its counts */
        const float *b = eb + (size_t)word[j] * K;
        for (int k = 0; k < K; k++) bt[(size_t)k * n + j] = b[k];
        cf[j] = (float)cnt[j];
    }
    for (int k = 0; k < K; k++) g[k] = rng ? elbo_rng_gamma(rng, 100.0) / 100.0 : 1.0;
    lda_dirichlet_expect(g, K, NULL, et);
    for (int it = 0; it < m->cfg.estep_iters; it++) {
        /* gamma_k = alpha_k + etheta_k sum_j ebeta_kj n_j / phinorm_j */
        doc_phinorm(bt, et, K, n, pn);
        for (int j = 0; j < n; j++) pn[j] = cf[j] / pn[j];
        for (int k = 0; k < K; k++) {
            const float *row = bt + (size_t)k * n;
            float sdot = 0.0f;
#pragma omp simd reduction(+ : sdot)
            for (int j = 0; j < n; j++) sdot += row[j] * pn[j];
            af[k] = sdot;
        }
        double change = 0.0;
        for (int k = 0; k < K; k++) {
            double nk = (double)alpha[k] + (double)et[k] * (double)af[k];
            change += fabs(nk - g[k]);
            g[k] = nk;
        }
        lda_dirichlet_expect(g, K, NULL, et);
        if (change / K < m->cfg.estep_tol) break;
    }
    /* the bound with the final gamma (scikit-learn's _approx_bound): the
     * word part log sum_k exp(E[log theta_k] + E[log beta_kw]) exactly (no
     * eps: a word the topics give almost no probability is scored so) */
    doc_phinorm(bt, et, K, n, pn);
    lda_dirichlet_expect(g, K, acc, et); /* acc: E[log theta]; et as before */
    double wsum = 0.0, asum = 0.0, gsum = 0.0, part = 0.0;
    for (int j = 0; j < n; j++) {
        double p = (double)pn[j] - LDA_EPS;
        wsum += cnt[j] * (p > 1e-8 ? log(p) : word_logp_exact(m, acc, word[j]));
        if (!ss) continue;
        float *s = ss + (size_t)word[j] * K, r = cf[j] / pn[j];
        for (int k = 0; k < K; k++) s[k] += et[k] * r;
    }
    for (int k = 0; k < K; k++) {
        double a = alpha[k];
        part += (a - g[k]) * acc[k] + elbo_lgamma(g[k]) - elbo_lgamma(a);
        asum += a;
        gsum += g[k];
    }
    part += elbo_lgamma(asum) - elbo_lgamma(gsum);
    if (ss) /* E[log theta] for the Newton step on alpha */
        for (int k = 0; k < K; k++) ss[(size_t)m->cfg.n_vocab * K + k] += (float)acc[k];
    *recon = -wsum;
    *kl = -part;
}

/* ---------------------------------------------------- lambda and alpha */

void lda_refresh(elbo_lda *m)
{
    int K = m->cfg.n_topics, V = m->cfg.n_vocab, nt = m->base.n_workers;
    const float *lam = m->base.params;
    double *ps = m->psum; /* psi(sum_w lambda_kw) per topic */
    for (int k = 0; k < K; k++) {
        double s = 0.0;
        for (int v = 0; v < V; v++) s += lam[(size_t)v * K + k];
        m->lsum[k] = s;
        ps[k] = elbo_digamma(s);
    }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int v = 0; v < V; v++)
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)v * K + k;
            m->ebeta[i] = (float)exp(elbo_digamma(lam[i]) - ps[k]);
        }
}

double lda_global_term(const elbo_lda *m)
{
    int K = m->cfg.n_topics, V = m->cfg.n_vocab;
    const float *lam = m->base.params;
    double eta = m->cfg.eta, total = 0.0;
    for (int k = 0; k < K; k++) { /* lsum and psum: lambda's sums as lda_refresh left them */
        double t = 0.0;
        for (int v = 0; v < V; v++) {
            double l = lam[(size_t)v * K + k];
            t += (eta - l) * (elbo_digamma(l) - m->psum[k]) + elbo_lgamma(l);
        }
        total += t - V * elbo_lgamma(eta) + elbo_lgamma(V * eta) - elbo_lgamma(m->lsum[k]);
    }
    return total;
}

int lda_alpha_newton(double *alpha, int K, double N, const double *logsum, double rho)
{
    double sa = 0.0, b_num = 0.0, b_den = 0.0;
    for (int k = 0; k < K; k++) sa += alpha[k];
    double psa = elbo_digamma(sa), c = N * elbo_trigamma(sa);
    double g[LDA_MAX_ALPHA], q[LDA_MAX_ALPHA];
    if (K > LDA_MAX_ALPHA) return 0;
    for (int k = 0; k < K; k++) {
        g[k] = N * (psa - elbo_digamma(alpha[k])) + logsum[k];
        q[k] = -N * elbo_trigamma(alpha[k]);
        b_num += g[k] / q[k];
        b_den += 1.0 / q[k];
    }
    double b = b_num / (1.0 / c + b_den);
    for (int half = 0; half < 30; half++, rho *= 0.5) { /* halved while it would leave alpha > 0 */
        int ok = 1;
        for (int k = 0; k < K; k++) ok &= alpha[k] - rho * (g[k] - b) / q[k] > 0.0;
        if (!ok) continue;
        for (int k = 0; k < K; k++) alpha[k] -= rho * (g[k] - b) / q[k];
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------- the ops */

elbo_status lda_check_data(const model *base, const elbo_dataset *ds, elbo_error *err)
{
    const elbo_lda *m = (const elbo_lda *)base;
    if (!ds || ds->dtype != ELBO_DTYPE_COUNTS || !ds->counts)
        return elbo_fail(err, ELBO_ERR_ARG, "a topic model trains on word counts (an .ldac corpus), not "
                                            "dense rows");
    if (ds->n < 1) return elbo_fail(err, ELBO_ERR_ARG, "the corpus has no documents");
    if (ds->counts->n_vocab > m->cfg.n_vocab)
        return elbo_fail(err, ELBO_ERR_ARG, "the corpus has %d words in its vocabulary but the model %d",
                         ds->counts->n_vocab, m->cfg.n_vocab);
    return ELBO_OK;
}

elbo_status lda_check_train(const model *base, const elbo_train_config *tc, elbo_error *err)
{
    (void)base;
    if (tc->kl_warmup_epochs > 0 || tc->kl_cycle_epochs > 0 || tc->beta != 1.0 || tc->clip_grad > 0.0 ||
        trainer_lr_decays(tc))
        return elbo_fail(err, ELBO_ERR_ARG, "KL schedules, beta, gradient clipping and lr decay do not apply "
                                            "to LDA (its step sizes are --tau0 and --kappa)");
    return ELBO_OK;
}

void lda_step_begin(model *base, model_step *s, const model_batch *b)
{
    (void)s;
    ((elbo_lda *)base)->train = b->ds;
}

/* Worker t: the E-step over its rows, gamma drawn per document from a
 * PRNG keyed by the run's seed, the epoch and the document (so the result
 * does not depend on the thread count). */
void lda_forward(model *base, const model_step *s, int t, const model_batch *b, int r0, int n,
                        int fused)
{
    (void)s;
    (void)fused;
    elbo_lda *m = (elbo_lda *)base;
    lda_worker *w = &m->w[t];
    size_t ns = (size_t)m->cfg.n_vocab * m->cfg.n_topics + (size_t)m->cfg.n_topics;
    memset(w->ss, 0, sizeof(float) * ns);
    memset(w->sums, 0, sizeof w->sums);
    const elbo_corpus *c = b->ds->counts;
    for (int i = r0; i < r0 + n; i++) {
        int d = b->idx ? b->idx[b->start + i] : b->start + i;
        elbo_rng rng;
        elbo_rng_seed(&rng, b->seed ^ (0x1da0000000000000ULL + ((uint64_t)b->epoch << 32) + (uint64_t)d));
        double recon, kl;
        lda_estep(m, w, c, d, NULL, &rng, w->ss, &recon, &kl);
        w->sums[LDA_RECON] += recon;
        w->sums[LDA_KL] += kl;
        w->sums[LDA_LOSS] += recon + kl;
        for (int j = c->doc_ptr[d]; j < c->doc_ptr[d + 1]; j++) w->sums[LDA_TOKENS] += c->count[j];
    }
}

void lda_terms_of(const model *base, int t, double *sums)
{
    const elbo_lda *m = (const elbo_lda *)base;
    memcpy(sums, m->w[t].sums, sizeof m->w[t].sums);
}

void lda_drop(model *base, int nw)
{
    (void)base;
    (void)nw;
}

/* The workers' statistics summed in worker order (apply multiplies by
 * ebeta after a group has added its members' in the same way, so that
 * ranks and threads give the same bits). */
float *lda_stats(model *base, int nw, size_t *n)
{
    elbo_lda *m = (elbo_lda *)base;
    size_t VK = (size_t)m->cfg.n_vocab * m->cfg.n_topics, ns = VK + (size_t)m->cfg.n_topics;
    int nt = m->base.n_workers;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t i = 0; i < ns; i++) {
        float s = 0.0f;
        for (int t = 0; t < nw; t++) s += m->w[t].ss[i];
        m->stats[i] = s;
    }
    *n = ns;
    return m->stats;
}

/* lambda <- (1 - rho) lambda + rho (eta + D/B sstats), sstats = the summed
 * statistics times ebeta, or eta + sstats for
 * a batch pass (or a minibatch of the whole corpus); then alpha's Newton
 * step (scaled by rho_t with the online method, whatever the minibatch),
 * and ebeta. */
elbo_status lda_apply(model *base, const model_step *s, const model_batch *b, long step,
                             elbo_error *err)
{
    (void)s;
    elbo_lda *m = (elbo_lda *)base;
    int K = m->cfg.n_topics, nt = m->base.n_workers;
    size_t VK = (size_t)m->cfg.n_vocab * K;
    /* a minibatch that is the whole corpus has no noise to average: the full
     * step (batch VI), also with the online method on a small corpus */
    int batch = m->cfg.method == ELBO_LDA_BATCH || b->n >= b->ds->n;
    double rho_t = pow(m->cfg.tau0 + (double)step, -m->cfg.kappa), rho = batch ? 1.0 : rho_t;
    double scale = batch ? 1.0 : (double)b->ds->n / b->n;
    float *lam = m->base.params, keep = (float)(1.0 - rho), eta = (float)m->cfg.eta;
    float add = (float)rho, sc = (float)scale;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t i = 0; i < VK; i++) lam[i] = keep * lam[i] + add * (eta + sc * (m->stats[i] * m->ebeta[i]));
    for (size_t i = 0; i < VK; i++)
        if (!(lam[i] > 0.0f) || !isfinite(lam[i])) {
            char name[64];
            return elbo_fail(err, ELBO_ERR_NUMERIC, "step %ld: %s became %g", step,
                             model_param_name(base, i, name, sizeof name), (double)lam[i]);
        }
    m->rho = rho;
    if (m->cfg.estimate_alpha) {
        double a[LDA_MAX_ALPHA] = {0}, ls[LDA_MAX_ALPHA] = {0};
        float *alpha = m->base.params + m->alpha_off;
        for (int k = 0; k < K; k++) a[k] = alpha[k], ls[k] = m->stats[VK + k];
        /* alpha keeps the online method's step even when lambda takes the full one:
         * a full Newton step a pass over a small corpus overfits alpha */
        double rho_alpha = m->cfg.method == ELBO_LDA_BATCH ? 1.0 : rho_t;
        if (lda_alpha_newton(a, K, (double)b->n, ls, rho_alpha))
            for (int k = 0; k < K; k++) alpha[k] = (float)a[k];
    }
    lda_refresh(m);
    return ELBO_OK;
}
