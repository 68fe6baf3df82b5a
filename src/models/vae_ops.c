/* vae_ops.c — the VAE as a client of the engine: its model_ops table (the
 * step's calls, named loss terms, config metadata), the public training and
 * evaluation calls, which hand the work to the trainer (train/trainer.h). */
#include <errno.h>
#include <math.h>
#include <string.h>


#include "../data/binarize.h"
#include "../data/dataset.h"
#include "../nn/ops.h"
#include "../train/run.h"
#include "vae_internal.h"

void elbo_train_config_default(elbo_train_config *c)
{
    c->lr = 1e-3;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->batch_size = 128;
    c->clip_grad = 0.0;
    c->beta = 1.0;
    c->kl_warmup_epochs = 0;
    c->kl_cycle_epochs = 0;
    c->free_bits = 0.0;
    c->objective = ELBO_OBJ_ELBO;
    c->samples = 1;
    c->labelled_batch = 0;
    c->lr_decay = 1.0;
    c->lr_min = 0.0;
    c->optimizer = ELBO_OPTIM_ADAM;
    c->momentum = 0.0;
    c->ema = 0.0;
}

double elbo_vae_kl_weight(const elbo_vae *m, const elbo_train_config *tc)
{
    return trainer_kl_weight(&m->tr, tc);
}

void vae_load_rows(const elbo_vae *m, vae_worker *w, const float *xsrc, const elbo_dataset *ds,
                   const int *idx, int start, int n, int train, uint64_t eval_seed)
{
    int D = m->cfg.input_dim;
    if (xsrc) {
        memcpy(w->x, xsrc + (size_t)start * D, sizeof(float) * (size_t)n * D);
        return;
    }
    elbo_binarize mode = m->cfg.binarize;
    for (int r = 0; r < n; r++) {
        long src = idx ? idx[start + r] : start + r;
        if (r + 1 < n) /* shuffled rows are scattered: fetch the next one early */
            elbo_dataset_prefetch(ds, idx ? idx[start + r + 1] : start + r + 1);
        uint64_t key;
        if (!train)
            key = elbo_binarize_key(eval_seed, (uint64_t)src);
        else if (mode == ELBO_BINARIZE_DYNAMIC)
            key = elbo_binarize_key(m->seed ^ 0xd1b54a32d192ed03ULL,
                                    (uint64_t)m->epoch * (uint64_t)ds->n + (uint64_t)(start + r));
        else
            key = elbo_binarize_key(m->seed ^ 0x8cb92ba72f3d8dd7ULL, (uint64_t)src);
        elbo_dataset_row_input(ds, src, w->x + (long)r * D, mode, key);
    }
}

void vae_set_step_noise(elbo_vae *m, const float *eps) { m->eps_fixed = eps; }

float *vae_tensor(elbo_vae *m, const char *name)
{
    int t = model_tensor_find(&m->base, name);
    ELBO_ASSERT(t >= 0);
    return m->base.params + m->base.tensors[t].off;
}

/* ------------------------------------------------------- the model_ops */

/* With a second stochastic layer the KL splits: kl = kl_z1 + kl_z2. */
static const char *const TERMS[] = {"loss", "recon", "kl", "kl_z1", "kl_z2"};
static const char *const LABELS[] = {"loss", "reconstruction", "KL", "KL of z1", "KL of z2"};

static elbo_status vae_check_data(const model *base, const elbo_dataset *ds, elbo_error *err)
{
    return vae_check_dataset((const elbo_vae *)base, ds, err);
}

static elbo_status vae_check_train(const model *base, const elbo_train_config *tc, elbo_error *err)
{
    const elbo_vae *m = (const elbo_vae *)base;
    if (!(tc->free_bits >= 0.0) || !isfinite(tc->free_bits))
        return elbo_fail(err, ELBO_ERR_ARG, "free_bits must be finite and >= 0");
    if (tc->free_bits > 0.0 && (m->cfg.flow != ELBO_FLOW_NONE || m->cfg.latent2))
        return elbo_fail(err, ELBO_ERR_ARG,
                         "free bits need a per-dimension KL of N(0, I), which a flow posterior "
                         "or a second stochastic layer does not give");
    if (tc->objective != ELBO_OBJ_ELBO && tc->objective != ELBO_OBJ_IWAE)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown objective %d", (int)tc->objective);
    if (tc->samples < 1 || (tc->objective == ELBO_OBJ_ELBO && tc->samples != 1))
        return elbo_fail(err, ELBO_ERR_ARG, "samples must be 1 for the ELBO and >= 1 for the IWAE");
    if (tc->objective == ELBO_OBJ_IWAE && tc->free_bits > 0)
        return elbo_fail(err, ELBO_ERR_ARG, "the IWAE objective cannot be combined with free bits "
                                            "(a KL schedule or beta tempers its log-weights instead)");
    if ((long)tc->batch_size * tc->samples > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG,
                         "batch size %d x %d samples exceeds the model's max_batch %d",
                         tc->batch_size, tc->samples, m->cfg.max_batch);
    return ELBO_OK;
}

/* The step's noise (B x samples rows of eps) and KL weights; free bits need
 * the whole batch's KL per dimension, hence two phases. */
static void vae_step_begin(model *base, model_step *s, const model_batch *b)
{
    elbo_vae *m = (elbo_vae *)base;
    const elbo_train_config *tc = s->tc;
    m->objective = tc->objective;
    m->samples = tc->objective == ELBO_OBJ_IWAE ? tc->samples : 1;
    m->epoch = b->epoch;
    m->seed = b->seed;
    long n_eps = (long)b->n * tc->samples * m->cfg.latent_dim;
    if (m->eps_fixed)
        memcpy(m->eps_step, m->eps_fixed, sizeof(float) * (size_t)n_eps);
    else
        elbo_rng_normal_fill(s->rng, m->eps_step, n_eps);
    long n_eps2 = (long)b->n * tc->samples * m->cfg.latent2; /* then z2's (hierarchical) */
    if (n_eps2 && m->eps_fixed)
        memcpy(m->eps2_step, m->eps_fixed + n_eps, sizeof(float) * (size_t)n_eps2);
    else if (n_eps2)
        elbo_rng_normal_fill(s->rng, m->eps2_step, n_eps2);
    float wkl = (float)s->kl_weight;
    m->iw_beta = wkl;
    for (int j = 0; j < m->cfg.latent_dim; j++) m->kl_scale[j] = wkl;
    s->two_phase = tc->free_bits > 0.0;
}

static void vae_ops_forward(model *base, const model_step *s, int t, const model_batch *b, int r0,
                            int n, int fused)
{
    (void)s;
    elbo_vae *m = (elbo_vae *)base;
    int K = m->samples, Z = m->cfg.latent_dim;
    vae_worker *w = &m->w[t];
    vae_load_rows(m, w, b->x, b->ds, b->idx, b->start + r0, n, 1, 0);
    memcpy(w->eps, m->eps_step + (size_t)r0 * K * Z, sizeof(float) * (size_t)n * K * Z);
    int Z2 = m->cfg.latent2;
    if (Z2) memcpy(w->h.eps2, m->eps2_step + (size_t)r0 * K * Z2, sizeof(float) * (size_t)n * K * Z2);
    if (m->objective == ELBO_OBJ_IWAE) {
        vae_forward_iwae(m, w, n, K);
        if (fused && isfinite(w->iwae)) vae_backward_iwae(m, w, n, K);
    } else {
        vae_forward(m, w, n);
        w->iwae = w->recon + w->kl;
        if (fused && isfinite(w->recon) && isfinite(w->kl)) vae_backward(m, w, n);
    }
}

/* Free bits: dimension j keeps its KL gradient only while the batch-mean
 * KL_j exceeds lambda; the batch's KL_j (every member's rows) first. */
static double *vae_batch_stats(model *base, int nw, size_t *n)
{
    elbo_vae *m = (elbo_vae *)base;
    for (int j = 0; j < m->cfg.latent_dim; j++) {
        double kj = 0.0;
        for (int t = 0; t < nw; t++) kj += m->w[t].kl_dims[j];
        m->kl_batch[j] = kj;
    }
    *n = (size_t)m->cfg.latent_dim;
    return m->kl_batch;
}

static void vae_between(model *base, const model_step *s, int nw, int B)
{
    (void)nw;
    elbo_vae *m = (elbo_vae *)base;
    for (int j = 0; j < m->cfg.latent_dim; j++)
        if (m->kl_batch[j] / B <= s->tc->free_bits) m->kl_scale[j] = 0.0f;
}

static void vae_ops_backward(model *base, const model_step *s, int t, int n)
{
    (void)s;
    elbo_vae *m = (elbo_vae *)base;
    vae_backward(m, &m->w[t], n);
}

static void vae_terms_of(const model *base, int t, double *sums)
{
    const vae_worker *w = &((const elbo_vae *)base)->w[t];
    sums[0] = w->iwae;
    sums[1] = w->recon;
    sums[2] = w->kl;
    if (base->ops->n_terms > 3) {
        sums[3] = w->h.kl1;
        sums[4] = w->h.kl2;
    }
}

static void vae_ops_chunk_grad(model *base, int nw, int c, float *dst)
{
    vae_chunk_grad((elbo_vae *)base, nw, c, dst);
}

static void vae_drop_grads(model *base, int nw) { vae_zero_worker_grads((elbo_vae *)base, nw); }

elbo_status vae_check_dataset(const elbo_vae *m, const elbo_dataset *ds, elbo_error *err)
{
    elbo_status st = elbo_dataset_check(ds, m->cfg.input_dim, err);
    if (st || m->cfg.likelihood != ELBO_LIK_BERNOULLI) return st;
    return elbo_dataset_check_unit(ds, err);
}

typedef struct {
    const elbo_dataset *ds;
    uint64_t seed;
    double *sums; /* [n_chunks, 4]: recon, kl, kl_z1, kl_z2 */
} eval_arg;

static void eval_chunk(model *base, int t, int c, int start, int B, elbo_rng *rng, void *arg)
{
    elbo_vae *m = (elbo_vae *)base;
    eval_arg *a = arg;
    vae_worker *w = &m->w[t];
    elbo_rng_normal_fill(rng, w->eps, (long)B * m->cfg.latent_dim);
    if (m->cfg.latent2) elbo_rng_normal_fill(rng, w->h.eps2, (long)B * m->cfg.latent2);
    vae_load_rows(m, w, NULL, a->ds, NULL, start, B, 0, a->seed);
    vae_forward(m, w, B);
    double *o = a->sums + 4 * c;
    o[0] = w->recon;
    o[1] = w->kl;
    o[2] = w->h.kl1;
    o[3] = w->h.kl2;
}

/* Single-sample -ELBO over ds in chunks of max_batch rows, one PRNG stream
 * per chunk, so the figure does not depend on the thread count. */
static elbo_status vae_eval(model *base, const elbo_dataset *ds, uint64_t seed, double *terms,
                            elbo_error *err)
{
    elbo_vae *m = (elbo_vae *)base;
    elbo_status st = vae_check_dataset(m, ds, err);
    if (st) return st;
    int mb = m->cfg.max_batch, n_chunks = (ds->n + mb - 1) / mb;
    eval_arg a = {ds, seed, malloc(sizeof(double) * 4 * (size_t)n_chunks)};
    if (!a.sums) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d chunk sums", n_chunks);
    model_for_row_chunks(base, ds->n, mb, seed, eval_chunk, &a);
    double sum[4] = {0, 0, 0, 0};
    for (int c = 0; c < n_chunks; c++)
        for (int k = 0; k < 4; k++) sum[k] += a.sums[4 * c + k];
    free(a.sums);
    for (int k = 0; k < base->ops->n_terms - 1; k++) terms[k + 1] = sum[k] / ds->n;
    terms[0] = terms[1] + terms[2];
    if (!isfinite(terms[0])) return elbo_fail(err, ELBO_ERR_NUMERIC, "evaluation loss is not finite");
    return ELBO_OK;
}

/* Metadata spellings of the enums, indexed by their values. */
static const char *const LIKELIHOODS[] = {"bernoulli", "gaussian", "gaussian-learned"};
static const char *const ACTIVATIONS[] = {"relu", "tanh", "softplus"};
static const char *const BINARIZATIONS[] = {"none", "static", "dynamic"};
static const char *const FLOWS[] = {"none", "planar", "iaf"};
#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

static int vae_config_to_meta(const model *base, elbo_kv *out)
{
    const elbo_vae_config *c = &((const elbo_vae *)base)->cfg;
    int n = 0;
    n = model_meta_put(out, n, "input_dim", "%d", c->input_dim);
    n = model_meta_put(out, n, "latent_dim", "%d", c->latent_dim);
    n = model_meta_put_widths(out, n, "hidden", c->hidden, c->n_hidden);
    n = model_meta_put(out, n, "activation", "%s", ACTIVATIONS[c->activation]);
    n = model_meta_put(out, n, "likelihood", "%s", LIKELIHOODS[c->likelihood]);
    n = model_meta_put(out, n, "binarize", "%s", BINARIZATIONS[c->binarize]);
    if (c->flow != ELBO_FLOW_NONE) { /* absent: the diagonal Gaussian */
        n = model_meta_put(out, n, "flow", "%s", FLOWS[c->flow]);
        n = model_meta_put(out, n, "flow_len", "%d", c->flow_len);
        if (c->flow == ELBO_FLOW_IAF) n = model_meta_put(out, n, "flow_hidden", "%d", c->flow_hidden);
    }
    if (c->latent2) { /* absent: one stochastic layer */
        n = model_meta_put(out, n, "latent2", "%d", c->latent2);
        n = model_meta_put_widths(out, n, "hidden2", c->hidden2, c->n_hidden2);
    }
    return n;
}

elbo_status vae_config_from_meta(const char *(*get)(const void *src, const char *key),
                                 const void *src, const char *file, elbo_vae_config *c,
                                 elbo_error *err)
{
    elbo_vae_config_default(c);
    if (model_meta_pos_int(get(src, "input_dim"), "input_dim", file, &c->input_dim, err) ||
        model_meta_pos_int(get(src, "latent_dim"), "latent_dim", file, &c->latent_dim, err))
        return ELBO_ERR_FORMAT;
    const char *hid = get(src, "hidden"), *lik = get(src, "likelihood"),
               *act = get(src, "activation"), *bin = get(src, "binarize");
    if (!hid || !lik)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ lacks 'hidden' or 'likelihood'", file);
    int a = model_meta_lookup(act, ACTIVATIONS, N_OF(ACTIVATIONS), ELBO_ACT_RELU),
        l = model_meta_lookup(lik, LIKELIHOODS, N_OF(LIKELIHOODS), -1),
        b = model_meta_lookup(bin, BINARIZATIONS, N_OF(BINARIZATIONS), ELBO_BINARIZE_NONE);
    if (a < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unsupported activation '%s'", file, act);
    if (l < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown likelihood '%s'", file, lik);
    if (b < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown binarize '%s'", file, bin);
    c->activation = (elbo_activation)a;
    c->likelihood = (elbo_likelihood)l;
    c->binarize = (elbo_binarize)b;
    const char *fl = get(src, "flow");
    int f = model_meta_lookup(fl, FLOWS, N_OF(FLOWS), ELBO_FLOW_NONE);
    if (f < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown flow '%s'", file, fl);
    c->flow = (elbo_flow)f;
    if (f != ELBO_FLOW_NONE &&
        model_meta_pos_int(get(src, "flow_len"), "flow_len", file, &c->flow_len, err))
        return ELBO_ERR_FORMAT;
    if (f == ELBO_FLOW_IAF &&
        model_meta_pos_int(get(src, "flow_hidden"), "flow_hidden", file, &c->flow_hidden, err))
        return ELBO_ERR_FORMAT;
    const char *l2 = get(src, "latent2");
    if (l2 && (model_meta_pos_int(l2, "latent2", file, &c->latent2, err) ||
               model_meta_widths(get(src, "hidden2"), "hidden2", file, c->hidden2, &c->n_hidden2,
                                 ELBO_MAX_HIDDEN, err)))
        return ELBO_ERR_FORMAT;
    if (model_meta_widths(hid, "hidden", file, c->hidden, &c->n_hidden, ELBO_MAX_HIDDEN, err))
        return ELBO_ERR_FORMAT;
    return elbo_vae_config_check(c, err);
}

/* Latent diagnostics on the test set: KL per dimension, active units, and a
 * warning when the posterior collapses. */
static void vae_diagnose(model *base, const elbo_dataset *test, const double *test_terms,
                         double kl_weight, char *json, size_t json_cap, char *summary,
                         size_t summary_cap, char *warning, size_t warning_cap)
{
    elbo_vae *m = (elbo_vae *)base;
    int Z = m->cfg.latent_dim;
    double *kd = Z <= 256 ? malloc(sizeof(double) * (size_t)Z) : NULL;
    double *eig = Z <= 512 ? malloc(sizeof(double) * (size_t)Z) : NULL;
    int dims = -1, active = vae_latent_stats(m, test, 1, kd, NULL, eig, eig ? &dims : NULL, NULL);
    free(eig);
    size_t pos = (size_t)snprintf(json, json_cap, ",\"kl_weight\":%.6g,\"active_units\":%d",
                                  kl_weight, active);
    if (dims >= 0 && pos < json_cap) /* rotation-invariant: latent.c */
        pos += (size_t)snprintf(json + pos, json_cap - pos, ",\"active_dims\":%d", dims);
    if (kd && pos < json_cap && m->cfg.flow == ELBO_FLOW_NONE && !m->cfg.latent2) {
        /* a flow's KL has no dims; z1's prior is p(z1|z2) with a second layer */
        pos += (size_t)snprintf(json + pos, json_cap - pos, ",\"kl_dims\":[");
        for (int j = 0; j < Z && pos < json_cap; j++)
            pos += (size_t)snprintf(json + pos, json_cap - pos, "%s%.5f", j ? "," : "", kd[j]);
        if (pos < json_cap) snprintf(json + pos, json_cap - pos, "]");
    }
    free(kd);
    snprintf(summary, summary_cap, "active %d/%d", active, Z);
    pos = strlen(summary);
    if (dims >= 0 && dims != active && pos < summary_cap)
        snprintf(summary + pos, summary_cap - pos, " (%d dims)", dims);
    if (m->cfg.latent2) { /* z2's active units beside z1's */
        int Z2 = m->cfg.latent2, dims2 = -1;
        double *eig2 = Z2 <= 512 ? malloc(sizeof(double) * (size_t)Z2) : NULL;
        int a2 = vae_latent_stats(m, test, 2, NULL, NULL, eig2, eig2 ? &dims2 : NULL, NULL);
        free(eig2);
        pos = strlen(json);
        if (pos < json_cap) snprintf(json + pos, json_cap - pos, ",\"active_units2\":%d", a2);
        pos = strlen(json);
        if (dims2 >= 0 && pos < json_cap)
            snprintf(json + pos, json_cap - pos, ",\"active_dims2\":%d", dims2);
        pos = strlen(summary);
        if (pos < summary_cap) snprintf(summary + pos, summary_cap - pos, ", z2 %d/%d", a2, m->cfg.latent2);
    }
    /* free bits need a per-dimension KL of N(0, I): not with a flow or a
     * second layer */
    const char *cure = m->cfg.flow == ELBO_FLOW_NONE && !m->cfg.latent2 ? "--kl-warmup or --free-bits"
                                                                       : "--kl-warmup";
    if (active == 0)
        snprintf(warning, warning_cap, "no active latent units (posterior collapse); try %s", cure);
    else if (test_terms[2] < 0.1)
        snprintf(warning, warning_cap, "the KL has collapsed (%.3g nats); try %s", test_terms[2], cure);
}

#define VAE_OPS_CALLS                                                                          \
    .kind = "vae", .format = "elbo-vae-1", .terms = TERMS, .term_labels = LABELS,              \
    .check_data = vae_check_data, .check_train = vae_check_train, .step_begin = vae_step_begin, \
    .forward = vae_ops_forward, .batch_stats = vae_batch_stats, .between = vae_between,        \
    .backward = vae_ops_backward, .terms_of = vae_terms_of, .chunk_grad = vae_ops_chunk_grad,  \
    .drop_grads = vae_drop_grads, .eval = vae_eval, .diagnose = vae_diagnose,                  \
    .config_to_meta = vae_config_to_meta

/* One stochastic layer: loss, recon, kl. Two: kl_z1 and kl_z2 beside. */
const model_ops vae_ops = {VAE_OPS_CALLS, .n_terms = 3};
const model_ops vae_hier_ops = {VAE_OPS_CALLS, .n_terms = 5};

/* ------------------------------------------------------ the public calls */

static void losses_from(const double *means, long n, elbo_losses *out)
{
    out->loss = means[0];
    out->recon = means[1];
    out->kl = means[2];
    out->n = n;
}

elbo_status elbo_vae_train_step(elbo_vae *m, const elbo_train_config *tc, const float *x, int B,
                                elbo_losses *out, elbo_error *err)
{
    ELBO_ASSERT(m && tc && x);
    elbo_status st = trainer_check(&m->tr, &m->base, tc, err);
    if (st) return st;
    if (B < 1 || B > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG, "batch of %d rows out of range 1..%d", B,
                         m->cfg.max_batch);
    if ((long)B * tc->samples > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG, "batch of %d rows x %d samples exceeds max_batch %d", B,
                         tc->samples, m->cfg.max_batch);
    model_batch b = {NULL, NULL, x, 0, B, m->tr.epoch, m->tr.seed, 0, 1};
    double sums[MODEL_MAX_TERMS];
    if ((st = trainer_step(&m->tr, &m->base, tc, &b, sums, err))) return st;
    if (out) {
        for (int k = 0; k < 3; k++) sums[k] /= B;
        losses_from(sums, B, out);
    }
    return ELBO_OK;
}

elbo_status elbo_vae_train_epoch(elbo_vae *m, const elbo_train_config *tc, const elbo_dataset *ds,
                                 elbo_progress_fn progress, void *user, elbo_losses *out,
                                 elbo_error *err)
{
    ELBO_ASSERT(m && tc);
    double means[MODEL_MAX_TERMS];
    elbo_status st = elbo_model_train_epoch(&m->handle, tc, ds, progress, user, means, err);
    if (!st && out) losses_from(means, m->tr.epoch_seen ? m->tr.epoch_seen : ds->n, out);
    return st;
}

elbo_status elbo_vae_run(elbo_vae *m, const elbo_train_config *tc, const elbo_run_config *rc,
                         const elbo_dataset *train, const elbo_dataset *test,
                         const elbo_run_callbacks *cb, int *stopped, elbo_error *err)
{
    return elbo_model_run(&m->handle, tc, rc, train, test, cb, stopped, err);
}

elbo_status elbo_vae_eval(elbo_vae *m, const elbo_dataset *ds, uint64_t seed, elbo_losses *out,
                          elbo_error *err)
{
    ELBO_ASSERT(m && out);
    double terms[MODEL_MAX_TERMS]; /* 3 terms, or 5 with a second layer */
    elbo_status st = vae_eval(&m->base, ds, seed, terms, err);
    if (st == ELBO_OK || st == ELBO_ERR_NUMERIC) losses_from(terms, ds->n, out);
    return st;
}
