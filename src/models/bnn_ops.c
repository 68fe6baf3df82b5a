/* bnn_ops.c — the Bayesian classifier's side of the engine (its model_ops
 * table), prediction and metrics, and the public elbo_bnn_* calls. The
 * training loop, optimizer, checkpoints and metrics files are the shared
 * ones (src/train/, src/io/checkpoint.c): nothing here repeats them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>


#include "../data/dataset.h"
#include "../io/checkpoint.h"
#include "../train/run.h"
#include "../nn/bayes.h"
#include "bnn_internal.h"

/* A classifier's draw_error is that of one posterior draw per row (the
 * predictive's error, of cfg.samples draws, is the diagnosis's
 * test_accuracy); model selection on a validation set minimises it. */
enum { T_LOSS, T_NLL, T_KL, T_DRAW_ERROR };
static const char *const TERMS[] = {"loss", "nll", "kl", "draw_error"};
static const char *const LABELS[] = {"loss", "negative log-likelihood", "KL", "error of one posterior draw"};
static const char *const KL_WEIGHTINGS[] = {"uniform", "blundell"};
static const char *const PRIORS[] = {"gaussian", "mixture"};
static const char *const TASKS[] = {"classifier", "regressor"};
static const char *const WEIGHTS[] = {"gaussian", "point"};

/* log of the targets' sd: a regressor's NLL per row in the targets' units
 * is the standardized one plus this (0 without standardization). */
static double log_target_sd(const elbo_bnn *m)
{
    if (!m->regress || m->norm == BNN_NONE) return 0.0;
    return log(m->base.params[m->norm + 2 * (size_t)m->cfg.input_dim + 1]);
}

elbo_status elbo_bnn_check_dataset(const elbo_bnn *m, const elbo_dataset *ds, elbo_error *err)
{
    elbo_status st = elbo_dataset_check(ds, m->cfg.input_dim, err);
    if (st) return st;
    if (m->regress)
        return ds->targets ? ELBO_OK
                           : elbo_fail(err, ELBO_ERR_ARG, "a regressor needs targets (--targets FILE), and the "
                                                          "data set has none");
    if (!ds->labels) return elbo_fail(err, ELBO_ERR_ARG, "a classifier needs labels, and the data set has none");
    for (int i = 0; i < ds->n; i++) {
        if (!elbo_dataset_is_labelled(ds, i))
            return elbo_fail(err, ELBO_ERR_ARG, "row %d has no label (a supervised model needs them all)", i);
        if (ds->labels[i] < 0 || ds->labels[i] >= m->cfg.n_classes)
            return elbo_fail(err, ELBO_ERR_ARG, "row %d has label %d, outside the model's %d classes", i,
                             (int)ds->labels[i], m->cfg.n_classes);
    }
    return ELBO_OK;
}

static elbo_status bnn_check_data(const model *base, const elbo_dataset *ds, elbo_error *err)
{
    return elbo_bnn_check_dataset((const elbo_bnn *)base, ds, err);
}

static elbo_status bnn_check_train(const model *base, const elbo_train_config *tc, elbo_error *err)
{
    const elbo_bnn *m = (const elbo_bnn *)base;
    if (tc->objective != ELBO_OBJ_ELBO || tc->samples != 1)
        return elbo_fail(err, ELBO_ERR_ARG, "the Bayesian network trains the ELBO with one draw per "
                                            "example (no --objective iwae or --samples)");
    if (tc->free_bits != 0.0 || tc->kl_cycle_epochs != 0)
        return elbo_fail(err, ELBO_ERR_ARG, "free bits and cyclical KL schedules are VAE options");
    if (tc->batch_size > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG, "batch size %d exceeds the model's max_batch %d",
                         tc->batch_size, m->cfg.max_batch);
    return ELBO_OK;
}

/* Serial: sigma^2 for this step's weights, the noise of every row and
 * layer, and the KL's share of this batch (B / N of it). */
static void bnn_step_begin(model *base, model_step *s, const model_batch *b)
{
    elbo_bnn *m = (elbo_bnn *)base;
    ELBO_ASSERT(b->ds); /* labels come with the rows */
    m->n_train = b->ds->n;
    double kl = m->point ? 0.0
                : m->cfg.prior == ELBO_PRIOR_MIXTURE ? bnn_mixture_pass(m, elbo_rng_next(s->rng))
                                                     : bnn_update_sigma(m);
    long nn = (long)b->n * m->eps_width;
    if (m->eps_fixed)
        memcpy(m->eps_step, m->eps_fixed, sizeof(float) * (size_t)nn);
    else if (!m->point)
        normal_fill_fast(s->rng, m->eps_step, nn);
    if (m->mask_step) bnn_fill_masks(m->mask_step, nn, m->cfg.dropout, s->rng);
    /* Blundell's 2^(M-i) / (2^M - 1) = 2^-i / (1 - 2^-M), i = index + 1 */
    double share = !s->lead ? 0.0 /* the group's rank 0 adds the KL */
                   : m->cfg.kl_weighting == ELBO_KL_BLUNDELL
                       ? exp2(-(double)(b->index + 1)) / (1.0 - exp2(-(double)b->count))
                       : (double)b->n / (double)b->ds->n;
    m->kl_step = kl * share;
    m->kl_scale = s->kl_weight * share;
    s->two_phase = 0;
}

/* Rows [r0, r0 + n) of a step buffer [rows, eps_width] (noise or masks)
 * into the worker's per-layer arrays dst[l]. */
static void copy_rows(const elbo_bnn *m, float *const *dst, const float *step, int r0, int n)
{
    const float *src = step + (size_t)r0 * m->eps_width;
    for (int r = 0; r < n; r++)
        for (int l = 0, k = 0; l < m->n_layers; k += m->layers[l].out, l++)
            memcpy(dst[l] + (size_t)r * m->layers[l].out, src + (size_t)r * m->eps_width + k,
                   sizeof(float) * (size_t)m->layers[l].out);
}

static void bnn_ops_forward(model *base, const model_step *s, int t, const model_batch *b, int r0,
                            int n, int fused)
{
    (void)s;
    elbo_bnn *m = (elbo_bnn *)base;
    bnn_worker *w = &m->w[t];
    bnn_load_rows(m, w, b->ds, b->idx, b->start + r0, n);
    if (!m->point) copy_rows(m, w->eps, m->eps_step, r0, n);
    if (m->mask_step) copy_rows(m, w->mask, m->mask_step, r0, n);
    double nll = bnn_forward(m, w);
    if (fused && isfinite(nll)) bnn_backward(m, w);
}

static void bnn_ops_backward(model *base, const model_step *s, int t, int n)
{
    (void)s;
    (void)n;
    bnn_backward((elbo_bnn *)base, &((elbo_bnn *)base)->w[t]);
}

/* The KL belongs to the step, not to rows: worker 0 carries it. */
static void bnn_terms_of(const model *base, int t, double *sums)
{
    const elbo_bnn *m = (const elbo_bnn *)base;
    double kl = t == 0 ? m->kl_step : 0.0;
    sums[T_NLL] = m->w[t].nll + m->w[t].rows * log_target_sd(m);
    sums[T_KL] = kl;
    sums[T_LOSS] = sums[T_NLL] + kl;
    if (!m->regress) sums[T_DRAW_ERROR] = m->w[t].nerr;
}

static void bnn_ops_chunk_grad(model *base, int nw, int c, float *dst)
{
    bnn_chunk_grad((elbo_bnn *)base, nw, c, dst);
}

static void bnn_drop_grads(model *base, int nw)
{
    (void)base; /* nothing accumulates across steps: chunk_grad reads the activations */
    (void)nw;
}

/* The terms over ds with one draw per row: nll (and a classifier's error),
 * and the KL per example of the data set trained on (ds's own size before
 * any training). */
static elbo_status bnn_eval(model *base, const elbo_dataset *ds, uint64_t seed, double *terms,
                            elbo_error *err)
{
    elbo_bnn *m = (elbo_bnn *)base;
    elbo_status st = elbo_bnn_check_dataset(m, ds, err);
    if (st) return st;
    int mb = bnn_eval_rows(m), n_chunks = (ds->n + mb - 1) / mb;
    double *nll1 = malloc(sizeof(double) * (size_t)n_chunks);
    float *probs = malloc(sizeof(float) * (size_t)ds->n * m->layers[m->n_layers - 1].out);
    float *sq = malloc(sizeof(float) * (size_t)ds->n);
    if (!nll1 || !probs || !sq) {
        free(nll1);
        free(probs);
        free(sq);
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory evaluating %d rows", ds->n);
    }
    bnn_pred o = {.probs = probs, .ent = m->regress ? sq : NULL, .nll1 = nll1};
    bnn_predict_all(m, ds, NULL, ds->n, 1, seed, &o);
    free(sq);
    double nll = 0.0, nerr = 0.0;
    for (int c = 0; c < n_chunks; c++) nll += nll1[c];
    free(nll1);
    int C = m->cfg.n_classes;
    for (int i = 0; !m->regress && i < ds->n; i++) nerr += row_argmax(probs + (size_t)i * C, C) != ds->labels[i];
    free(probs);
    terms[T_NLL] = nll / ds->n + log_target_sd(m);
    terms[T_KL] = bnn_kl(m) / (double)(m->n_train > 0 ? m->n_train : ds->n);
    terms[T_LOSS] = terms[T_NLL] + terms[T_KL];
    if (!m->regress) terms[T_DRAW_ERROR] = nerr / ds->n;
    if (!isfinite(terms[0])) return elbo_fail(err, ELBO_ERR_NUMERIC, "evaluation loss is not finite");
    return ELBO_OK;
}

/* After an epoch's evaluation: the predictive metrics with cfg.samples draws. */
static void bnn_diagnose(model *base, const elbo_dataset *test, const double *test_terms,
                         double kl_weight, char *json, size_t json_cap, char *summary,
                         size_t summary_cap, char *warning, size_t warning_cap)
{
    (void)test_terms;
    (void)warning;
    (void)warning_cap;
    elbo_bnn *m = (elbo_bnn *)base;
    uint64_t seed = m->tr.seed ^ 0x5bd1e995ULL;
    if (m->regress) {
        elbo_bnn_regression_metrics g;
        if (elbo_bnn_evaluate_regression(m, test, m->cfg.samples, seed, &g, NULL) != ELBO_OK) return;
        snprintf(json, json_cap,
                 ",\"kl_weight\":%.6g,\"test_rmse\":%.6g,\"test_pred_nll\":%.6f,\"test_cover50\":%.4f,"
                 "\"test_cover90\":%.4f,\"test_cover95\":%.4f,\"test_mean_sd\":%.6g,\"noise_sd\":%.6g,"
                 "\"pred_samples\":%d",
                 kl_weight, g.rmse, g.nll, g.coverage[0], g.coverage[1], g.coverage[2], g.mean_sd, g.noise_sd,
                 m->cfg.samples);
        snprintf(summary, summary_cap, "RMSE %.4g, 90%% interval covers %.1f%%", g.rmse, 100.0 * g.coverage[1]);
        return;
    }
    elbo_bnn_metrics r;
    if (elbo_bnn_evaluate(m, test, m->cfg.samples, seed, &r, NULL) != ELBO_OK)
        return;
    snprintf(json, json_cap,
             ",\"kl_weight\":%.6g,\"test_accuracy\":%.6f,\"test_pred_nll\":%.6f,\"test_ece\":%.6f,"
             "\"test_brier\":%.6f,\"pred_samples\":%d",
             kl_weight, r.accuracy, r.nll, r.ece, r.brier, m->cfg.samples);
    snprintf(summary, summary_cap, "error %.2f%%, ECE %.4f", 100.0 * (1.0 - r.accuracy), r.ece);
}

static int bnn_config_to_meta(const model *base, elbo_kv *out)
{
    const elbo_bnn_config *c = &((const elbo_bnn *)base)->cfg;
    int n = 0;
    n = model_meta_put(out, n, "input_dim", "%d", c->input_dim);
    n = model_meta_put(out, n, "n_classes", "%d", c->n_classes);
    n = model_meta_put_widths(out, n, "hidden", c->hidden, c->n_hidden);
    char num[32];
    n = model_meta_put(out, n, "prior_sigma", "%s", elbo_format_double(num, sizeof num, c->prior_sigma));
    n = model_meta_put(out, n, "rho_init", "%s", elbo_format_double(num, sizeof num, c->rho_init));
    n = model_meta_put(out, n, "pred_samples", "%d", c->samples);
    n = model_meta_put(out, n, "kl_weighting", "%s", KL_WEIGHTINGS[c->kl_weighting]);
    n = model_meta_put(out, n, "prior", "%s", PRIORS[c->prior]);
    n = model_meta_put(out, n, "prior_pi", "%s", elbo_format_double(num, sizeof num, c->prior_pi));
    n = model_meta_put(out, n, "prior_sigma1", "%s", elbo_format_double(num, sizeof num, c->prior_sigma1));
    n = model_meta_put(out, n, "prior_sigma2", "%s", elbo_format_double(num, sizeof num, c->prior_sigma2));
    n = model_meta_put(out, n, "task", "%s", TASKS[c->task]);
    n = model_meta_put(out, n, "weights", "%s", WEIGHTS[c->weights]);
    n = model_meta_put(out, n, "dropout", "%s", elbo_format_double(num, sizeof num, c->dropout));
    n = model_meta_put(out, n, "standardize", "%d", c->standardize);
    return n;
}

/* The table both tasks share; they differ in their terms. */
#define BNN_OPS                                                                                 \
    .kind = "bnn", .format = "elbo-bnn-1", .terms = TERMS, .term_labels = LABELS,               \
    .check_data = bnn_check_data, .check_train = bnn_check_train, .step_begin = bnn_step_begin, \
    .forward = bnn_ops_forward, .batch_stats = NULL, .between = NULL,                           \
    .backward = bnn_ops_backward, .terms_of = bnn_terms_of, .chunk_grad = bnn_ops_chunk_grad,   \
    .drop_grads = bnn_drop_grads, .eval = bnn_eval, .diagnose = bnn_diagnose,                   \
    .config_to_meta = bnn_config_to_meta

/* A classifier selects on its validation draw_error; a regressor on the loss. */
const model_ops bnn_ops = {BNN_OPS, .n_terms = 4, .select_term = T_DRAW_ERROR};
const model_ops bnn_regressor_ops = {BNN_OPS, .n_terms = 3, .select_term = T_LOSS};
#undef BNN_OPS

/* ------------------------------------------------------ the public calls */

const elbo_bnn_config *elbo_bnn_get_config(const elbo_bnn *m) { return &m->cfg; }

/* The config from a checkpoint's metadata. */
static elbo_status config_from_file(const st_file *f, elbo_bnn_config *c, elbo_error *err)
{
    const char *fmt = st_meta_get(f, "format"), *kind = st_meta_get(f, "model");
    if (!kind || strcmp(kind, bnn_ops.kind) != 0)
        return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: holds a '%s' model, not a Bayesian network",
                         f->path, kind ? kind : "vae");
    if (!fmt || strcmp(fmt, bnn_ops.format) != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown checkpoint format '%s' (expected %s)",
                         f->path, fmt ? fmt : "", bnn_ops.format);
    elbo_bnn_config_default(c);
    if (model_meta_pos_int(st_meta_get(f, "input_dim"), "input_dim", f->path, &c->input_dim, err) ||
        model_meta_pos_int(st_meta_get(f, "n_classes"), "n_classes", f->path, &c->n_classes, err) ||
        model_meta_widths(st_meta_get(f, "hidden"), "hidden", f->path, c->hidden, &c->n_hidden,
                          ELBO_MAX_HIDDEN, err) ||
        model_meta_double(st_meta_get(f, "prior_sigma"), "prior_sigma", f->path, &c->prior_sigma, err) ||
        model_meta_double(st_meta_get(f, "rho_init"), "rho_init", f->path, &c->rho_init, err) ||
        model_meta_pos_int(st_meta_get(f, "pred_samples"), "pred_samples", f->path, &c->samples, err))
        return ELBO_ERR_FORMAT;
    const char *kw = st_meta_get(f, "kl_weighting");
    int k = model_meta_lookup(kw, KL_WEIGHTINGS, 2, ELBO_KL_UNIFORM);
    if (k < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown kl_weighting '%s'", f->path, kw);
    c->kl_weighting = (elbo_kl_weighting)k;
    const char *pr = st_meta_get(f, "prior");
    int q = model_meta_lookup(pr, PRIORS, 2, ELBO_PRIOR_GAUSSIAN);
    if (q < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown prior '%s'", f->path, pr);
    c->prior = (elbo_bnn_prior)q;
    const char *ta = st_meta_get(f, "task"), *we = st_meta_get(f, "weights"), *sd = st_meta_get(f, "standardize");
    int t = model_meta_lookup(ta, TASKS, 2, ELBO_BNN_CLASSIFIER), w = model_meta_lookup(we, WEIGHTS, 2, 0);
    if (t < 0 || w < 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown %s '%s'", f->path, t < 0 ? "task" : "weights",
                         t < 0 ? ta : we);
    c->task = (elbo_bnn_task)t;
    c->weights = (elbo_bnn_weights)w;
    if (sd && strcmp(sd, "0") && strcmp(sd, "1"))
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: standardize is '%s', not 0 or 1", f->path, sd);
    c->standardize = sd && !strcmp(sd, "1");
    if (model_meta_double(st_meta_get(f, "dropout"), "dropout", f->path, &c->dropout, err))
        return ELBO_ERR_FORMAT;
    if (model_meta_double(st_meta_get(f, "prior_pi"), "prior_pi", f->path, &c->prior_pi, err) ||
        model_meta_double(st_meta_get(f, "prior_sigma1"), "prior_sigma1", f->path, &c->prior_sigma1, err) ||
        model_meta_double(st_meta_get(f, "prior_sigma2"), "prior_sigma2", f->path, &c->prior_sigma2, err))
        return ELBO_ERR_FORMAT;
    return elbo_bnn_config_check(c, err);
}

CKPT_DEFINE_MAKE(bnn)

elbo_bnn *elbo_bnn_load(const char *path, int max_batch, elbo_error *err)
{
    elbo_bnn *m = ckpt_load(path, max_batch, ckpt_make_bnn, ckpt_release_bnn, err);
    if (!m) return NULL;
    const char *rows = elbo_run_record_get(&m->record, "train_rows");
    m->n_train = rows ? atol(rows) : 0; /* the KL per example of later evaluations */
    bnn_update_sigma(m);
    return m;
}
