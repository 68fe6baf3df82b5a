/* m2_ops.c — M2's side of the engine (its model_ops table), evaluation,
 * loading and the public elbo_m2_* calls. The training loop, optimizer,
 * checkpoints and metrics files are the shared ones (src/train/,
 * src/io/checkpoint.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../io/checkpoint.h"
#include "../nn/bayes.h"
#include "../nn/semisup.h"
#include "m2_internal.h"

/* The terms: "loss" (the objective per row), the labelled rows' bound
 * L(x,y), the unlabelled rows' bound U(x), the classification loss
 * -log q(y|x) and error of the labelled rows. */
enum { T_LOSS, T_LAB, T_UNL, T_CLASS, T_ERROR, N_TERMS };
static const char *const TERMS[] = {"loss", "labelled", "unlabelled", "class", "error"};
static const char *const LABELS[] = {"loss", "labelled bound", "unlabelled bound", "classification loss",
                                     "classification error"};
static const char *const ACTIVATIONS[] = {"relu", "tanh", "softplus"};
static const char *const LIKELIHOODS[] = {"bernoulli", "gaussian"};

elbo_status elbo_m2_check_dataset(const elbo_m2 *m, const elbo_dataset *ds, elbo_error *err)
{
    int D = m->cfg.input_dim;
    elbo_status st = elbo_dataset_check(ds, m->cfg.gaussian_inputs && ds && ds->dim == 2 * D ? 2 * D : D, err);
    if (st) return st;
    if (m->cfg.likelihood == ELBO_M2_BERNOULLI && (st = elbo_dataset_check_unit(ds, err))) return st;
    for (int i = 0; ds->labels && i < ds->n; i++)
        if (elbo_dataset_is_labelled(ds, i) && (ds->labels[i] < 0 || ds->labels[i] >= m->cfg.n_classes))
            return elbo_fail(err, ELBO_ERR_ARG, "row %d has label %d, outside the model's %d classes", i,
                             (int)ds->labels[i], m->cfg.n_classes);
    return ELBO_OK;
}

static elbo_status m2_check_data(const model *base, const elbo_dataset *ds, elbo_error *err)
{
    return elbo_m2_check_dataset((const elbo_m2 *)base, ds, err);
}

static elbo_status m2_check_train(const model *base, const elbo_train_config *tc, elbo_error *err)
{
    const elbo_m2 *m = (const elbo_m2 *)base;
    if (tc->objective != ELBO_OBJ_ELBO || tc->samples != 1)
        return elbo_fail(err, ELBO_ERR_ARG, "M2 trains its bound with one draw per class and row "
                                            "(no --objective iwae or --samples)");
    if (tc->free_bits != 0.0 || tc->kl_cycle_epochs != 0 || tc->kl_warmup_epochs != 0 || tc->beta != 1.0)
        return elbo_fail(err, ELBO_ERR_ARG, "KL schedules, beta and free bits are VAE options");
    if (tc->batch_size > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG, "batch size %d exceeds the model's max_batch %d",
                         tc->batch_size, m->cfg.max_batch);
    return ELBO_OK;
}

/* Serial: the noise of every row and class. */
static void m2_step_begin(model *base, model_step *s, const model_batch *b)
{
    elbo_m2 *m = (elbo_m2 *)base;
    long n = (long)b->n * m->cfg.n_classes * m->cfg.latent_dim;
    if (m->eps_fixed) memcpy(m->eps_step, m->eps_fixed, sizeof(float) * (size_t)n);
    else normal_fill_fast(s->rng, m->eps_step, n);
    if (m->xeps_step && b->ds && b->ds->dim == 2 * m->cfg.input_dim) /* Gaussian rows: their draw */
        normal_fill_fast(s->rng, m->xeps_step, (long)b->n * m->cfg.input_dim);
    else if (m->xeps_step && m->cfg.binarize_inputs) /* binarized rows: their uniforms */
        for (long i = 0, n_in = (long)b->n * m->cfg.input_dim; i < n_in; i++)
            m->xeps_step[i] = (float)elbo_rng_uniform(s->rng);
    s->two_phase = 0;
}

static void m2_ops_forward(model *base, const model_step *s, int t, const model_batch *b, int r0, int n,
                           int fused)
{
    (void)s;
    elbo_m2 *m = (elbo_m2 *)base;
    m2_worker *w = &m->w[t];
    m2_load_rows(m, w, b->ds, b->x, b->idx, b->start + r0, n, 0,
                 m->xeps_step ? m->xeps_step + (size_t)r0 * m->cfg.input_dim : NULL);
    m2_classify(m, w);
    m2_make_copies(m, w, m->eps_step + (size_t)r0 * m->cfg.n_classes * m->cfg.latent_dim);
    double loss = m2_forward(m, w);
    if (fused && isfinite(loss)) m2_backward(m, w);
}

static void m2_ops_backward(model *base, const model_step *s, int t, int n)
{
    (void)s;
    (void)n;
    m2_backward((elbo_m2 *)base, &((elbo_m2 *)base)->w[t]);
}

static void m2_terms_of(const model *base, int t, double *sums)
{
    memcpy(sums, ((const elbo_m2 *)base)->w[t].sums, sizeof(double) * N_TERMS);
}

static void m2_counts_of(const model *base, int t, double *counts)
{
    memcpy(counts, ((const elbo_m2 *)base)->w[t].counts, sizeof(double) * N_TERMS);
}

static void m2_ops_chunk_grad(model *base, int nw, int c, float *dst) { m2_chunk_grad((elbo_m2 *)base, nw, c, dst); }

static void m2_drop_grads(model *base, int nw)
{
    (void)base; /* nothing accumulates across steps: chunk_grad reads the activations */
    (void)nw;
}

/* ------------------------------------------------------------ evaluation */

enum { EVAL_ROWS = 100 };

/* Per chunk of rows: the classifier's probabilities (when probs is not
 * NULL) and, when acc is not NULL, the sums and counts of the terms with
 * every class enumerated. */
typedef struct {
    const elbo_dataset *ds;
    const float *x;
    double (*acc)[2 * N_TERMS];
    float *probs; /* [n, C] or NULL */
} eval_arg;

static void eval_chunk(model *base, int t, int c, int start, int n, elbo_rng *rng, void *argp)
{
    elbo_m2 *m = (elbo_m2 *)base;
    eval_arg *a = argp;
    m2_worker *w = &m->w[t];
    int C = m->cfg.n_classes;
    m2_load_rows(m, w, a->ds, a->x, NULL, start, n, 1, NULL);
    m2_classify(m, w);
    if (a->probs) memcpy(a->probs + (size_t)start * C, w->probs, sizeof(float) * (size_t)n * C);
    if (!a->acc) return;
    double *s = a->acc[c], *k = s + N_TERMS;
    memset(s, 0, sizeof(double) * 2 * N_TERMS);
    float *eps = w->dz; /* scratch [n, C, Z] for the noise, consumed by make_copies */
    normal_fill_fast(rng, eps, (long)n * C * m->cfg.latent_dim);
    m2_make_copies(m, w, eps);
    m2_forward(m, w); /* every row unlabelled: L_c of every class */
    const float *logits = w->out[m->l_enc - 1];
    for (int r = 0; r < n; r++) {
        const float *q = w->probs + (size_t)r * C;
        double ur = softmax_expect_forward(q, w->lc + w->first[r], 1, C) - entropy_forward(q, 1, C, NULL);
        s[T_UNL] += ur;
        k[T_UNL]++;
        if (w->y[r] < 0) {
            s[T_LOSS] += ur;
            k[T_LOSS]++;
            continue;
        }
        double ce = m2_row_xent(logits + (size_t)r * C, C, w->y[r]), lb = w->lc[w->first[r] + w->y[r]];
        s[T_LOSS] += lb + m->cfg.alpha * ce;
        s[T_LAB] += lb;
        s[T_CLASS] += ce;
        s[T_ERROR] += row_argmax(q, C) != w->y[r];
        k[T_LOSS]++;
        k[T_LAB]++;
        k[T_CLASS]++;
        k[T_ERROR]++;
    }
}

/* The chunks' sums and counts into means (chunk order: thread-independent). */
static elbo_status run_eval(elbo_m2 *m, const elbo_dataset *ds, const float *x, int n, uint64_t seed,
                            float *probs, double *means, elbo_error *err)
{
    int rows = m->base.max_rows < EVAL_ROWS ? m->base.max_rows : EVAL_ROWS, nc = (n + rows - 1) / rows;
    double(*acc)[2 * N_TERMS] = means ? calloc((size_t)nc, sizeof *acc) : NULL;
    if (means && !acc) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory evaluating %d rows", n);
    eval_arg a = {ds, x, acc, probs};
    model_for_row_chunks(&m->base, n, rows, seed, eval_chunk, &a);
    if (!means) return ELBO_OK;
    double tot[2 * N_TERMS] = {0};
    for (int c = 0; c < nc; c++)
        for (int k = 0; k < 2 * N_TERMS; k++) tot[k] += acc[c][k];
    free(acc);
    for (int k = 0; k < N_TERMS; k++) means[k] = tot[N_TERMS + k] > 0 ? tot[k] / tot[N_TERMS + k] : 0.0;
    return ELBO_OK;
}

static elbo_status m2_eval(model *base, const elbo_dataset *ds, uint64_t seed, double *terms, elbo_error *err)
{
    elbo_m2 *m = (elbo_m2 *)base;
    elbo_status st = elbo_m2_check_dataset(m, ds, err);
    if (!st) st = run_eval(m, ds, NULL, ds->n, seed, NULL, terms, err);
    if (!st && !isfinite(terms[0])) st = elbo_fail(err, ELBO_ERR_NUMERIC, "evaluation loss is not finite");
    return st;
}

static void m2_diagnose(model *base, const elbo_dataset *test, const double *test_terms, double kl_weight,
                        char *json, size_t json_cap, char *summary, size_t summary_cap, char *warning,
                        size_t warning_cap)
{
    (void)base;
    (void)test;
    (void)kl_weight;
    (void)warning;
    (void)warning_cap;
    snprintf(json, json_cap, ",\"test_accuracy\":%.6f", 1.0 - test_terms[T_ERROR]);
    snprintf(summary, summary_cap, "test error %.2f%%", 100.0 * test_terms[T_ERROR]);
}

static int m2_config_to_meta(const model *base, elbo_kv *out)
{
    const elbo_m2_config *c = &((const elbo_m2 *)base)->cfg;
    char num[32];
    int n = 0;
    n = model_meta_put(out, n, "input_dim", "%d", c->input_dim);
    n = model_meta_put(out, n, "n_classes", "%d", c->n_classes);
    n = model_meta_put(out, n, "latent_dim", "%d", c->latent_dim);
    n = model_meta_put_widths(out, n, "hidden", c->hidden, c->n_hidden);
    n = model_meta_put(out, n, "activation", "%s", ACTIVATIONS[c->activation]);
    n = model_meta_put(out, n, "likelihood", "%s", LIKELIHOODS[c->likelihood]);
    n = model_meta_put(out, n, "alpha", "%s", elbo_format_double(num, sizeof num, c->alpha));
    n = model_meta_put(out, n, "gaussian_inputs", "%d", c->gaussian_inputs);
    n = model_meta_put(out, n, "binarize_inputs", "%d", c->binarize_inputs);
    return n;
}

const model_ops m2_ops = {
    .kind = "m2",
    .format = "elbo-m2-1",
    .n_terms = N_TERMS,
    .select_term = T_ERROR,
    .terms = TERMS,
    .term_labels = LABELS,
    .check_data = m2_check_data,
    .check_train = m2_check_train,
    .step_begin = m2_step_begin,
    .forward = m2_ops_forward,
    .backward = m2_ops_backward,
    .terms_of = m2_terms_of,
    .counts_of = m2_counts_of,
    .chunk_grad = m2_ops_chunk_grad,
    .drop_grads = m2_drop_grads,
    .eval = m2_eval,
    .diagnose = m2_diagnose,
    .config_to_meta = m2_config_to_meta,
};

/* ------------------------------------------------------ the public calls */

/* A 0/1 entry of f's metadata into *out; absent reads 0. */
static elbo_status meta_flag(const st_file *f, const char *key, int *out, elbo_error *err)
{
    const char *v = st_meta_get(f, key);
    if (v && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: %s '%s' is not 0 or 1", f->path, key, v);
    *out = v && v[0] == '1';
    return ELBO_OK;
}

static elbo_status config_from_file(const st_file *f, elbo_m2_config *c, elbo_error *err)
{
    const char *fmt = st_meta_get(f, "format"), *kind = st_meta_get(f, "model");
    if (!kind || strcmp(kind, m2_ops.kind) != 0)
        return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: holds a '%s' model, not M2", f->path, kind ? kind : "vae");
    if (!fmt || strcmp(fmt, m2_ops.format) != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown checkpoint format '%s' (expected %s)", f->path,
                         fmt ? fmt : "", m2_ops.format);
    elbo_m2_config_default(c);
    if (model_meta_pos_int(st_meta_get(f, "input_dim"), "input_dim", f->path, &c->input_dim, err) ||
        model_meta_pos_int(st_meta_get(f, "n_classes"), "n_classes", f->path, &c->n_classes, err) ||
        model_meta_pos_int(st_meta_get(f, "latent_dim"), "latent_dim", f->path, &c->latent_dim, err) ||
        model_meta_widths(st_meta_get(f, "hidden"), "hidden", f->path, c->hidden, &c->n_hidden,
                          ELBO_MAX_HIDDEN, err) ||
        model_meta_double(st_meta_get(f, "alpha"), "alpha", f->path, &c->alpha, err))
        return ELBO_ERR_FORMAT;
    const char *act = st_meta_get(f, "activation"), *lik = st_meta_get(f, "likelihood");
    int a = model_meta_lookup(act, ACTIVATIONS, 3, ELBO_ACT_SOFTPLUS), l = model_meta_lookup(lik, LIKELIHOODS, 2, 0);
    if (a < 0 || l < 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown %s '%s'", f->path, a < 0 ? "activation" : "likelihood",
                         a < 0 ? act : lik);
    c->activation = (elbo_activation)a;
    c->likelihood = (elbo_m2_likelihood)l;
    /* absent before 2026-12-03 (gaussian_inputs) and 2026-12-04 (binarize_inputs): 0 */
    if (meta_flag(f, "gaussian_inputs", &c->gaussian_inputs, err) ||
        meta_flag(f, "binarize_inputs", &c->binarize_inputs, err))
        return ELBO_ERR_FORMAT;
    return elbo_m2_config_check(c, err);
}

CKPT_DEFINE_MAKE(m2)

elbo_m2 *elbo_m2_load(const char *path, int max_batch, elbo_error *err)
{
    return ckpt_load(path, max_batch, ckpt_make_m2, ckpt_release_m2, err);
}

elbo_status elbo_m2_predict(elbo_m2 *m, const float *x, int n, float *probs, elbo_error *err)
{
    if (n < 0) return elbo_fail(err, ELBO_ERR_ARG, "%d rows", n);
    return run_eval(m, NULL, x, n, 0, probs, NULL, err);
}

elbo_status elbo_m2_evaluate(elbo_m2 *m, const elbo_dataset *ds, elbo_m2_metrics *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    elbo_status st = elbo_m2_check_dataset(m, ds, err);
    if (st) return st;
    int C = m->cfg.n_classes;
    float *probs = malloc(sizeof(float) * (size_t)ds->n * C);
    out->confusion = calloc((size_t)C * C, sizeof(long));
    if (!probs || !out->confusion) {
        free(probs);
        elbo_m2_metrics_free(out);
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory evaluating %d rows", ds->n);
    }
    out->n_classes = C;
    run_eval(m, ds, NULL, ds->n, 0, probs, NULL, err);
    long right = 0;
    double nll = 0.0;
    for (int i = 0; i < ds->n; i++) {
        if (!ds->labels || !elbo_dataset_is_labelled(ds, i)) continue;
        const float *p = probs + (size_t)i * C;
        int best = row_argmax(p, C), y = ds->labels[i];
        out->confusion[(size_t)y * C + best]++;
        right += best == y;
        nll -= log(p[y] > 1e-30f ? p[y] : 1e-30f);
        out->n++;
    }
    free(probs);
    if (out->n == 0) {
        elbo_m2_metrics_free(out);
        return elbo_fail(err, ELBO_ERR_ARG, "the data set has no labelled rows to score");
    }
    out->accuracy = (double)right / out->n;
    out->nll = nll / out->n;
    return ELBO_OK;
}

void elbo_m2_metrics_free(elbo_m2_metrics *r)
{
    free(r->confusion);
    r->confusion = NULL;
}

/* The decoder's means of n rows with classes y into out, max_rows at a
 * time through worker 0 (serial: sampling and analogies are small): z
 * from z [n, latent_dim], or drawn from N(0, I) by r when z is NULL. */
static void decode_rows(elbo_m2 *m, const float *z, elbo_rng *r, const int32_t *y, int n, float *out)
{
    m2_worker *w = &m->w[0];
    int Z = m->cfg.latent_dim, D = m->cfg.input_dim;
    for (int s = 0; s < n; s += m->base.max_rows) {
        int k = n - s < m->base.max_rows ? n - s : m->base.max_rows;
        if (z) memcpy(w->z, z + (size_t)s * Z, sizeof(float) * (size_t)k * Z);
        else for (long i = 0; i < (long)k * Z; i++) w->z[i] = (float)elbo_rng_normal(r);
        memcpy(w->cy, y + s, sizeof(int32_t) * (size_t)k);
        w->R = k;
        m2_decode(m, w);
        memcpy(out + (size_t)s * D, w->xp, sizeof(float) * (size_t)k * D);
    }
}

void elbo_m2_decode(elbo_m2 *m, const float *z, const int32_t *y, int n, float *out)
{
    decode_rows(m, z, NULL, y, n, out);
}

void elbo_m2_sample(elbo_m2 *m, const int32_t *y, int n, uint64_t seed, float *out)
{
    elbo_rng r;
    elbo_rng_seed(&r, seed);
    decode_rows(m, NULL, &r, y, n, out);
}

void elbo_m2_encode(elbo_m2 *m, const float *x, const int32_t *y, int n, float *z)
{
    m2_worker *w = &m->w[0];
    int Z = m->cfg.latent_dim, D = m->cfg.input_dim;
    for (int s = 0; s < n; s += m->base.max_rows) {
        int k = n - s < m->base.max_rows ? n - s : m->base.max_rows;
        memcpy(w->x, x + (size_t)s * D, sizeof(float) * (size_t)k * D);
        w->n = w->R = k;
        for (int r = 0; r < k; r++) w->src[r] = r, w->cy[r] = y[s + r];
        m2_encode(m, w);
        memcpy(z + (size_t)s * Z, w->out[m->l_mu], sizeof(float) * (size_t)k * Z);
    }
}
