/* lda_eval.c — LDA's creation, checkpoints and everything that reads a
 * fitted model: the engine's evaluation and per-pass diagnostics, held-out
 * perplexities, document completion, inference of theta, top words and
 * coherence. See lda_internal.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../io/checkpoint.h"
#include "../util/special.h"
#include "lda_internal.h"

static const char *const TERMS[] = {"loss", "recon", "kl", "tokens"};
static const char *const LABELS[] = {"loss", "word", "KL(q(theta)||p(theta))", "tokens"};
static const char *const METHODS[] = {"online", "batch"};

/* --------------------------------------------------- held-out passes */

/* Per document of ds (in chunks of 32, combined in order, so that the
 * sums do not depend on the thread count): the E-step from gamma = 1 with
 * fn's counts, then fn's contribution into per-chunk sums [n_chunks * 4]. */
typedef void (*doc_fn)(const elbo_lda *m, lda_worker *w, const elbo_corpus *c, int d, double *sums,
                       void *arg);

static elbo_status over_docs(elbo_lda *m, const elbo_dataset *ds, doc_fn fn, void *arg, double *out,
                             elbo_error *err)
{
    int n = ds->n, nc = (n + 31) / 32, nt = m->base.n_workers;
    double *part = calloc((size_t)nc * 4, sizeof(double));
    if (!part) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory evaluating %d documents", n);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int c = 0; c < nc; c++)
        for (int d = 32 * c; d < n && d < 32 * (c + 1); d++)
            fn(m, &m->w[omp_get_thread_num()], ds->counts, d, part + 4 * (size_t)c, arg);
    for (int k = 0; k < 4; k++) out[k] = 0.0;
    for (int c = 0; c < nc; c++)
        for (int k = 0; k < 4; k++) out[k] += part[4 * (size_t)c + k];
    free(part);
    return ELBO_OK;
}

/* The documents' bound: sums {loss, recon, kl, tokens}. */
static void bound_doc(const elbo_lda *m, lda_worker *w, const elbo_corpus *c, int d, double *s, void *arg)
{
    (void)arg;
    double recon, kl;
    lda_estep(m, w, c, d, NULL, NULL, NULL, &recon, &kl);
    s[0] += recon + kl;
    s[1] += recon;
    s[2] += kl;
    for (int j = c->doc_ptr[d]; j < c->doc_ptr[d + 1]; j++) s[3] += c->count[j];
}

/* Document completion: the document's tokens in file order (word by word,
 * each repeated by its count); even-numbered ones estimate gamma, the odd
 * ones are scored under E[theta] and E[beta] (arg: 1/sum_w lambda_kw [K]).
 * Sums {log p of the scored tokens, scored tokens}. */
static void completion_doc(const elbo_lda *m, lda_worker *w, const elbo_corpus *c, int d, double *s,
                           void *arg)
{
    const double *inv = arg;
    int K = m->cfg.n_topics, j0 = c->doc_ptr[d], n = c->doc_ptr[d + 1] - j0, *obs = w->obs;
    long t = 0;
    for (int j = 0; j < n; j++) {
        int k = c->count[j0 + j];
        obs[j] = (int)((t % 2 == 0) ? (k + 1) / 2 : k / 2);
        t += k;
    }
    double recon, kl, gs = 0.0;
    lda_estep(m, w, c, d, obs, NULL, NULL, &recon, &kl);
    for (int k = 0; k < K; k++) gs += w->gamma[k];
    const float *lam = m->base.params;
    for (int j = 0; j < n; j++) {
        int held = c->count[j0 + j] - obs[j];
        if (held == 0) continue;
        const float *l = lam + (size_t)c->word[j0 + j] * K;
        double p = 0.0;
        for (int k = 0; k < K; k++) p += w->gamma[k] / gs * l[k] * inv[k];
        s[0] += held * log(p);
        s[1] += held;
    }
}

static elbo_status lda_eval(model *base, const elbo_dataset *ds, uint64_t seed, double *terms,
                            elbo_error *err)
{
    (void)seed; /* deterministic: gamma starts from 1 */
    elbo_lda *m = (elbo_lda *)base;
    elbo_status st = m->base.ops->check_data(base, ds, err);
    double s[4];
    if (!st) st = over_docs(m, ds, bound_doc, NULL, s, err);
    for (int k = 0; !st && k < LDA_TERMS; k++) terms[k] = s[k] / ds->n;
    return st;
}

/* The metrics of ds from its documents' bound sums s {loss, recon, kl,
 * tokens} (from the E-step, already run): the global term and document
 * completion are added here. */
static elbo_status metrics_from_bound(elbo_lda *m, const elbo_dataset *ds, const double *s, elbo_lda_metrics *out,
                                      elbo_error *err)
{
    memset(out, 0, sizeof *out);
    int K = m->cfg.n_topics;
    double c[4], *inv = malloc(sizeof(double) * (size_t)K);
    if (!inv) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
    for (int k = 0; k < K; k++) inv[k] = 1.0 / m->lsum[k];
    elbo_status st = over_docs(m, ds, completion_doc, inv, c, err);
    free(inv);
    if (st) return st;
    out->docs = ds->n;
    out->tokens = (long)s[3];
    out->bound_docs = -s[0];
    out->global_term = lda_global_term(m);
    out->perplexity_docs = exp(s[0] / s[3]);
    out->perplexity = exp(-(out->bound_docs + out->global_term) / s[3]);
    out->completion_tokens = (long)c[1];
    out->completion_perplexity = c[1] > 0 ? exp(-c[0] / c[1]) : NAN;
    return ELBO_OK;
}

elbo_status elbo_lda_evaluate(elbo_lda *m, const elbo_dataset *ds, elbo_lda_metrics *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    elbo_status st = m->base.ops->check_data(&m->base, ds, err);
    double s[4];
    if (!st) st = over_docs(m, ds, bound_doc, NULL, s, err);
    return st ? st : metrics_from_bound(m, ds, s, out, err);
}

/* ------------------------------------------------------- topics, theta */

void elbo_lda_top_words(const elbo_lda *m, int k, int n, int *ids)
{
    int K = m->cfg.n_topics, V = m->cfg.n_vocab, have = 0;
    const float *lam = m->base.params;
    for (int v = 0; v < V; v++) { /* insertion into the n best so far */
        float x = lam[(size_t)v * K + k];
        if (have == n && !(x > lam[(size_t)ids[n - 1] * K + k])) continue;
        int i = have < n ? have++ : n - 1;
        while (i > 0 && x > lam[(size_t)ids[i - 1] * K + k]) {
            ids[i] = ids[i - 1];
            i--;
        }
        ids[i] = v;
    }
    for (int i = have; i < n; i++) ids[i] = -1;
}

void elbo_lda_topic_share(const elbo_lda *m, double *share)
{
    int K = m->cfg.n_topics, V = m->cfg.n_vocab;
    double total = 0.0;
    for (int k = 0; k < K; k++) {
        double s = 0.0;
        for (int v = 0; v < V; v++) s += fmax(0.0, (double)m->base.params[(size_t)v * K + k] - m->cfg.eta);
        share[k] = s;
        total += s;
    }
    for (int k = 0; k < K; k++) share[k] = total > 0 ? share[k] / total : 1.0 / K;
}

double elbo_lda_coherence(const elbo_lda *m, const elbo_dataset *ds, int n, double *per_topic)
{
    int K = m->cfg.n_topics, V = m->cfg.n_vocab;
    if (!ds || !ds->counts || n < 2) return NAN;
    int *top = malloc(sizeof(int) * (size_t)K * n), *slot = malloc(sizeof(int) * (size_t)V);
    long *df = calloc((size_t)K * n * n, sizeof(long)); /* [k][i][j]: documents with both */
    unsigned char *has = calloc((size_t)n, 1);
    double mean = NAN;
    if (top && slot && df && has) {
        for (int k = 0; k < K; k++) elbo_lda_top_words(m, k, n, top + (size_t)k * n);
        const elbo_corpus *c = ds->counts;
        for (int k = 0; k < K; k++) {
            for (int v = 0; v < V; v++) slot[v] = -1;
            for (int i = 0; i < n; i++)
                if (top[(size_t)k * n + i] >= 0) slot[top[(size_t)k * n + i]] = i;
            long *D = df + (size_t)k * n * n;
            for (int d = 0; d < ds->n; d++) {
                memset(has, 0, (size_t)n);
                for (int j = c->doc_ptr[d]; j < c->doc_ptr[d + 1]; j++)
                    if (c->word[j] < V && slot[c->word[j]] >= 0) has[slot[c->word[j]]] = 1;
                for (int i = 0; i < n; i++)
                    if (has[i])
                        for (int j = 0; j <= i; j++) D[(size_t)i * n + j] += has[j];
            }
        }
        mean = 0.0;
        for (int k = 0; k < K; k++) {
            const long *D = df + (size_t)k * n * n;
            double s = 0.0;
            int pairs = 0;
            for (int j = 1; j < n; j++) /* word j against every better-ranked word i */
                for (int i = 0; i < j; i++) {
                    long di = D[(size_t)i * n + i];
                    if (di == 0) continue;
                    s += log((D[(size_t)j * n + i] + 1.0) / (double)di);
                    pairs++;
                }
            double ck = pairs ? s / pairs : NAN;
            if (per_topic) per_topic[k] = ck;
            mean += ck / K;
        }
    }
    free(top);
    free(slot);
    free(df);
    free(has);
    return mean;
}

elbo_status elbo_lda_infer(elbo_lda *m, const elbo_dataset *ds, float *theta, float *gamma_out,
                           elbo_error *err)
{
    elbo_status st = m->base.ops->check_data(&m->base, ds, err);
    if (st) return st;
    int K = m->cfg.n_topics, nt = m->base.n_workers;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) if (nt > 1)
    for (int d = 0; d < ds->n; d++) {
        lda_worker *w = &m->w[omp_get_thread_num()];
        double recon, kl, s = 0.0;
        lda_estep(m, w, ds->counts, d, NULL, NULL, NULL, &recon, &kl);
        for (int k = 0; k < K; k++) s += w->gamma[k];
        for (int k = 0; k < K; k++) {
            if (theta) theta[(size_t)d * K + k] = (float)(w->gamma[k] / s);
            if (gamma_out) gamma_out[(size_t)d * K + k] = (float)w->gamma[k];
        }
    }
    return ELBO_OK;
}

void elbo_lda_get_lambda(const elbo_lda *m, float *lambda, double *alpha)
{
    int K = m->cfg.n_topics;
    if (lambda) model_tensor_export(&m->base, 0, m->base.params, lambda);
    for (int k = 0; alpha && k < K; k++) alpha[k] = m->base.params[m->alpha_off + k];
}

elbo_status elbo_lda_set_lambda(elbo_lda *m, const float *lambda, const double *alpha, elbo_error *err)
{
    size_t n = (size_t)m->cfg.n_topics * m->cfg.n_vocab;
    for (size_t i = 0; i < n; i++)
        if (!(lambda[i] > 0.0f) || !isfinite(lambda[i]))
            return elbo_fail(err, ELBO_ERR_ARG, "lambda[%zu, %zu] is %g, not finite and > 0", i / m->cfg.n_vocab,
                             i % m->cfg.n_vocab, (double)lambda[i]);
    for (int k = 0; alpha && k < m->cfg.n_topics; k++)
        if (!(alpha[k] > 0.0) || !isfinite(alpha[k]))
            return elbo_fail(err, ELBO_ERR_ARG, "alpha[%d] is %g, not finite and > 0", k, alpha[k]);
    model_tensor_import(&m->base, 0, m->base.params, lambda);
    for (int k = 0; alpha && k < m->cfg.n_topics; k++) m->base.params[m->alpha_off + k] = (float)alpha[k];
    lda_refresh(m);
    return ELBO_OK;
}

/* ------------------------------------------------ per-pass diagnostics */

static void lda_diagnose(model *base, const elbo_dataset *test, const double *t, double kl_weight,
                         char *json, size_t json_cap, char *summary, size_t summary_cap, char *warning,
                         size_t warning_cap)
{
    (void)kl_weight;
    (void)warning;
    (void)warning_cap;
    elbo_lda *m = (elbo_lda *)base;
    elbo_lda_metrics r;
    double sums[LDA_TERMS]; /* the engine's evaluation just ran the E-step: its means, as sums */
    for (int k = 0; k < LDA_TERMS; k++) sums[k] = t[k] * test->n;
    if (metrics_from_bound(m, test, sums, &r, NULL) != ELBO_OK) return;
    double coh = elbo_lda_coherence(m, m->train, 10, NULL), asum = 0.0;
    for (int k = 0; k < m->cfg.n_topics; k++) asum += m->base.params[m->alpha_off + k];
    const char *keys[] = {"test_bound_per_word_docs", "test_perplexity_docs", "test_bound_per_word", "test_perplexity",
                          "completion_perplexity", "coherence_umass", "rho", "alpha_mean"};
    double vals[] = {-t[LDA_LOSS] / t[LDA_TOKENS], r.perplexity_docs, (r.bound_docs + r.global_term) / r.tokens,
                     r.perplexity, r.completion_perplexity, coh, m->rho, asum / m->cfg.n_topics};
    size_t used = 0;
    json[0] = 0;
    for (int i = 0; i < 8 && used < json_cap; i++) { /* null where a figure is not finite (no scored word) */
        int n = isfinite(vals[i]) ? snprintf(json + used, json_cap - used, ",\"%s\":%.9g", keys[i], vals[i])
                                  : snprintf(json + used, json_cap - used, ",\"%s\":null", keys[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    snprintf(summary, summary_cap, "perplexity %.1f (docs %.1f), completion %.1f, UMass %.3f", r.perplexity,
             r.perplexity_docs, r.completion_perplexity, coh);
}

static int lda_config_to_meta(const model *base, elbo_kv *out)
{
    const elbo_lda_config *c = &((const elbo_lda *)base)->cfg;
    char num[32];
    int n = 0;
    n = model_meta_put(out, n, "n_topics", "%d", c->n_topics);
    n = model_meta_put(out, n, "n_vocab", "%d", c->n_vocab);
    n = model_meta_put(out, n, "alpha", "%s", elbo_format_double(num, sizeof num, c->alpha));
    n = model_meta_put(out, n, "eta", "%s", elbo_format_double(num, sizeof num, c->eta));
    n = model_meta_put(out, n, "estimate_alpha", "%d", c->estimate_alpha);
    n = model_meta_put(out, n, "method", "%s", METHODS[c->method]);
    n = model_meta_put(out, n, "tau0", "%s", elbo_format_double(num, sizeof num, c->tau0));
    n = model_meta_put(out, n, "kappa", "%s", elbo_format_double(num, sizeof num, c->kappa));
    n = model_meta_put(out, n, "estep_iters", "%d", c->estep_iters);
    n = model_meta_put(out, n, "estep_tol", "%s", elbo_format_double(num, sizeof num, c->estep_tol));
    return n;
}

const model_ops lda_ops = {
    .kind = "lda",
    .format = "elbo-lda-1",
    .n_terms = LDA_TERMS,
    .terms = TERMS,
    .term_labels = LABELS,
    .check_data = lda_check_data,
    .check_train = lda_check_train,
    .step_begin = lda_step_begin,
    .forward = lda_forward,
    .terms_of = lda_terms_of,
    .drop_grads = lda_drop,
    .eval = lda_eval,
    .diagnose = lda_diagnose,
    .config_to_meta = lda_config_to_meta,
    .optimizer = OPTIM_NONE,
    .stats = lda_stats,
    .apply = lda_apply,
};

/* ------------------------------------------------------- create, load */

static void worker_free(lda_worker *w)
{
    elbo_free_aligned(w->ss);
    free(w->gamma);
    free(w->acc);
    free(w->accf);
    elbo_free_aligned(w->bt);
    free(w->cf);
    free(w->etheta);
    free(w->phinorm);
    free(w->obs);
    memset(w, 0, sizeof *w);
}

static int worker_alloc(model *base, void *wv)
{
    elbo_lda *m = (elbo_lda *)base;
    lda_worker *w = wv;
    size_t K = (size_t)m->cfg.n_topics, V = (size_t)m->cfg.n_vocab;
    w->ss = elbo_calloc_aligned(V * K + K, sizeof(float));
    w->gamma = malloc(sizeof(double) * K);
    w->acc = malloc(sizeof(double) * K);
    w->accf = malloc(sizeof(float) * K);
    w->bt = elbo_alloc_aligned(V * K, sizeof(float));
    w->cf = malloc(sizeof(float) * V);
    w->etheta = malloc(sizeof(float) * K);
    w->phinorm = malloc(sizeof(float) * V);
    w->obs = malloc(sizeof(int) * V);
    if (w->ss && w->gamma && w->acc && w->accf && w->bt && w->cf && w->etheta && w->phinorm && w->obs) return 0;
    worker_free(w);
    return -1;
}

static void worker_release(void *w) { worker_free(w); }

static int no_chunks(const void *owner, model_chunk *out)
{
    (void)owner;
    (void)out;
    return 0;
}

/* lambda ~ Gamma(100, 1/100) per entry in [K, V] order, alpha = cfg.alpha. */
static void init_params(model *base, elbo_rng *rng)
{
    elbo_lda *m = (elbo_lda *)base;
    size_t K = (size_t)m->cfg.n_topics, V = (size_t)m->cfg.n_vocab;
    for (size_t k = 0; k < K; k++)
        for (size_t v = 0; v < V; v++) base->params[v * K + k] = (float)(elbo_rng_gamma(rng, 100.0) / 100.0);
    for (size_t k = 0; k < K; k++) base->params[m->alpha_off + k] = (float)m->cfg.alpha;
}

void elbo_lda_free(elbo_lda *m)
{
    if (!m) return;
    model_free_workers(&m->base);
    trainer_free(&m->tr);
    elbo_free_aligned(m->base.params);
    model_chunks_free(&m->base);
    elbo_free_aligned(m->ebeta);
    elbo_free_aligned(m->stats);
    free(m->psum);
    free(m->lsum);
    free(m);
}

elbo_lda *elbo_lda_create(const elbo_lda_config *c, uint64_t seed, elbo_error *err)
{
    if (elbo_lda_config_check(c, err) != ELBO_OK) return NULL;
    elbo_lda *m = calloc(1, sizeof *m);
    if (!m) {
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory allocating the model");
        return NULL;
    }
    m->cfg = *c;
    int K = c->n_topics, V = c->n_vocab;
    if (m->cfg.alpha == 0.0) m->cfg.alpha = 1.0 / K;
    if (m->cfg.eta == 0.0) m->cfg.eta = 1.0 / K;
    size_t VK = (size_t)V * K;
    m->base.ops = &lda_ops;
    m->alpha_off = VK;
    m->base.n_params = VK + (size_t)K;
    m->tensors[0] = (model_tensor){"lambda", 2, {K, V}, 0, VK, 1, MODEL_REDUCE_NONE};
    m->tensors[1] = (model_tensor){"alpha", 1, {K}, VK, (size_t)K, 0, MODEL_REDUCE_NONE};
    m->base.n_tensors = 2;
    m->base.tensors = m->tensors;
    m->base.max_rows = c->max_batch;
    m->base.wk = (model_workers){m->w, sizeof m->w[0], LDA_MAX_WORKERS, worker_alloc, worker_release};
    m->ebeta = elbo_calloc_aligned(VK, sizeof(float));
    m->stats = elbo_calloc_aligned(VK + (size_t)K, sizeof(float));
    m->psum = calloc((size_t)K, sizeof(double));
    m->lsum = calloc((size_t)K, sizeof(double));
    elbo_status st = !m->ebeta || !m->stats || !m->psum || !m->lsum
                         ? elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d x %d topics", K, V)
                         : model_setup(&m->base, &m->tr, no_chunks, m, c->threads, seed, init_params, err);
    if (st) {
        elbo_lda_free(m);
        return NULL;
    }
    lda_refresh(m);
    m->cfg.threads = m->base.n_workers;
    m->handle.c = (run_client){&m->tr, &m->base, &m->record};
    return m;
}

const elbo_lda_config *elbo_lda_get_config(const elbo_lda *m) { return &m->cfg; }

void elbo_lda_set_estep(elbo_lda *m, int iters, double tol)
{
    if (iters > 0) m->cfg.estep_iters = iters;
    if (tol >= 0.0) m->cfg.estep_tol = tol;
}
elbo_model *elbo_lda_model(elbo_lda *m) { return &m->handle; }

/* The config from a checkpoint's metadata. */
static elbo_status config_from_file(const st_file *f, elbo_lda_config *c, elbo_error *err)
{
    const char *fmt = st_meta_get(f, "format"), *kind = st_meta_get(f, "model");
    if (!kind || strcmp(kind, lda_ops.kind) != 0)
        return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: holds a '%s' model, not a topic model", f->path,
                         kind ? kind : "vae");
    if (!fmt || strcmp(fmt, lda_ops.format) != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown checkpoint format '%s' (expected %s)", f->path,
                         fmt ? fmt : "", lda_ops.format);
    elbo_lda_config_default(c);
    const char *ea = st_meta_get(f, "estimate_alpha"), *me = st_meta_get(f, "method");
    if (model_meta_pos_int(st_meta_get(f, "n_topics"), "n_topics", f->path, &c->n_topics, err) ||
        model_meta_pos_int(st_meta_get(f, "n_vocab"), "n_vocab", f->path, &c->n_vocab, err) ||
        model_meta_pos_int(st_meta_get(f, "estep_iters"), "estep_iters", f->path, &c->estep_iters, err) ||
        model_meta_double(st_meta_get(f, "alpha"), "alpha", f->path, &c->alpha, err) ||
        model_meta_double(st_meta_get(f, "eta"), "eta", f->path, &c->eta, err) ||
        model_meta_double(st_meta_get(f, "tau0"), "tau0", f->path, &c->tau0, err) ||
        model_meta_double(st_meta_get(f, "kappa"), "kappa", f->path, &c->kappa, err) ||
        model_meta_double(st_meta_get(f, "estep_tol"), "estep_tol", f->path, &c->estep_tol, err))
        return ELBO_ERR_FORMAT;
    int k = model_meta_lookup(me, METHODS, 2, ELBO_LDA_ONLINE);
    if (k < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown method '%s'", f->path, me);
    c->method = (elbo_lda_method)k;
    if (ea && strcmp(ea, "0") && strcmp(ea, "1"))
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: estimate_alpha is '%s', not 0 or 1", f->path, ea);
    c->estimate_alpha = ea && !strcmp(ea, "1");
    return elbo_lda_config_check(c, err);
}

CKPT_DEFINE_MAKE(lda)

elbo_lda *elbo_lda_load(const char *path, elbo_error *err)
{
    elbo_lda *m = ckpt_load(path, 0, ckpt_make_lda, ckpt_release_lda, err);
    if (!m) return NULL;
    size_t n = m->base.n_params;
    for (size_t i = 0; i < n; i++)
        if (!(m->base.params[i] > 0.0f) || !isfinite(m->base.params[i])) {
            char name[64];
            elbo_fail(err, ELBO_ERR_FORMAT, "%s: %s is %g, not finite and > 0", path,
                      model_param_name(&m->base, i, name, sizeof name), (double)m->base.params[i]);
            elbo_lda_free(m);
            return NULL;
        }
    lda_refresh(m);
    return m;
}
