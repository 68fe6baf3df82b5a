/* bnn.c — the Bayesian MLP classifier: config, layout and tensor table,
 * creation, workers, the forward and backward passes as flat call
 * sequences over the ops, and the chunked parameter gradient. Layout and
 * the step in bnn_internal.h; the engine's side in bnn_ops.c. */
#include "bnn_internal.h"

#include <math.h>
#include <string.h>

#include <omp.h>

#include "../data/dataset.h"
#include "../nn/bayes.h"
#include "../nn/gemm.h"
#include "../nn/ops.h"

void elbo_bnn_config_default(elbo_bnn_config *c)
{
    memset(c, 0, sizeof *c);
    c->input_dim = 784;
    c->n_classes = 10;
    c->n_hidden = 2;
    c->hidden[0] = c->hidden[1] = 400;
    c->prior_sigma = 0.1;
    c->prior_pi = 0.5;
    c->prior_sigma1 = 1.0;
    c->prior_sigma2 = exp(-6.0);
    c->rho_init = -6.0;
    c->samples = 10;
    c->max_batch = 128;
}

#define MAX_WIDTH (1 << 20)

elbo_status elbo_bnn_config_check(const elbo_bnn_config *c, elbo_error *err)
{
    if (c->input_dim < 1 || c->input_dim > MAX_WIDTH)
        return elbo_fail(err, ELBO_ERR_ARG, "input_dim %d out of range 1..%d", c->input_dim, MAX_WIDTH);
    if (c->task != ELBO_BNN_CLASSIFIER && c->task != ELBO_BNN_REGRESSOR)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown task %d", (int)c->task);
    if (c->task == ELBO_BNN_CLASSIFIER && (c->n_classes < 2 || c->n_classes > 65536))
        return elbo_fail(err, ELBO_ERR_ARG, "n_classes %d out of range 2..65536", c->n_classes);
    if (c->weights != ELBO_WEIGHTS_GAUSSIAN && c->weights != ELBO_WEIGHTS_POINT)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown weights %d", (int)c->weights);
    if (!(c->dropout >= 0.0 && c->dropout < 1.0))
        return elbo_fail(err, ELBO_ERR_ARG, "dropout %g out of range [0, 1)", c->dropout);
    if (c->standardize != 0 && c->standardize != 1)
        return elbo_fail(err, ELBO_ERR_ARG, "standardize is 0 or 1 (got %d)", c->standardize);
    if (c->n_hidden < 0 || c->n_hidden > ELBO_MAX_HIDDEN)
        return elbo_fail(err, ELBO_ERR_ARG, "number of hidden layers %d out of range 0..%d",
                         c->n_hidden, ELBO_MAX_HIDDEN);
    for (int i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] < 1 || c->hidden[i] > MAX_WIDTH)
            return elbo_fail(err, ELBO_ERR_ARG, "hidden layer %d width %d out of range 1..%d",
                             i + 1, c->hidden[i], MAX_WIDTH);
    if (!(c->prior_sigma > 0.0) || !isfinite(c->prior_sigma))
        return elbo_fail(err, ELBO_ERR_ARG, "prior_sigma must be finite and > 0 (got %g)", c->prior_sigma);
    if (c->prior != ELBO_PRIOR_GAUSSIAN && c->prior != ELBO_PRIOR_MIXTURE)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown prior %d", (int)c->prior);
    if (!(c->prior_pi >= 0.0 && c->prior_pi <= 1.0) || !(c->prior_sigma1 > 0.0) || !(c->prior_sigma2 > 0.0) ||
        !isfinite(c->prior_sigma1) || !isfinite(c->prior_sigma2))
        return elbo_fail(err, ELBO_ERR_ARG, "the mixture prior needs 0 <= pi <= 1 and finite sigmas > 0 "
                                            "(got %g, %g, %g)", c->prior_pi, c->prior_sigma1, c->prior_sigma2);
    if (!(c->rho_init > -30.0 && c->rho_init < 30.0))
        return elbo_fail(err, ELBO_ERR_ARG, "rho_init %g out of range (-30, 30)", c->rho_init);
    if (c->kl_weighting != ELBO_KL_UNIFORM && c->kl_weighting != ELBO_KL_BLUNDELL)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown KL weighting %d", (int)c->kl_weighting);
    if (c->samples < 1 || c->samples > 100000)
        return elbo_fail(err, ELBO_ERR_ARG, "samples %d out of range 1..100000", c->samples);
    if (c->max_batch < 1 || c->max_batch > MAX_WIDTH)
        return elbo_fail(err, ELBO_ERR_ARG, "max_batch %d out of range 1..%d", c->max_batch, MAX_WIDTH);
    if (c->threads < 0 || c->threads > BNN_MAX_WORKERS)
        return elbo_fail(err, ELBO_ERR_ARG, "threads %d out of range 0..%d", c->threads, BNN_MAX_WORKERS);
    return ELBO_OK;
}

/* ------------------------------------------------------------ the layout */

static void build_layout(elbo_bnn *m)
{
    const elbo_bnn_config *c = &m->cfg;
    m->n_layers = c->n_hidden + 1;
    m->point = c->weights == ELBO_WEIGHTS_POINT;
    m->regress = c->task == ELBO_BNN_REGRESSOR;
    size_t off = 0;
    m->eps_width = 0;
    for (int l = 0; l < m->n_layers; l++) {
        bnn_layer *L = &m->layers[l];
        L->in = l ? c->hidden[l - 1] : c->input_dim;
        L->out = l < c->n_hidden ? c->hidden[l] : m->regress ? 1 : c->n_classes;
        L->transposed = l == 0;
        size_t wn = (size_t)L->in * L->out, O = (size_t)L->out;
        L->wmu = off;
        L->wrho = m->point ? BNN_NONE : off + wn;
        L->bmu = off + (m->point ? 1 : 2) * wn;
        L->brho = m->point ? BNN_NONE : L->bmu + O;
        off = L->bmu + (m->point ? 1 : 2) * O;
        m->eps_width += L->out;
    }
    m->logvar = m->regress ? off++ : BNN_NONE;
    m->norm = c->standardize ? off : BNN_NONE;
    if (c->standardize) off += 2 * (size_t)c->input_dim + (m->regress ? 2 : 0);
    m->base.n_params = off;
}

static model_tensor vec(const char *name, size_t off, int n)
{
    model_tensor t = {.ndim = 1, .shape = {n}, .off = off, .n = (size_t)n};
    snprintf(t.name, sizeof t.name, "%s", name);
    return t;
}

static void build_tensors(elbo_bnn *m)
{
    static const char *const part[] = {"weight_mu", "weight_rho", "bias_mu", "bias_rho"};
    static const char *const point[] = {"weight", "", "bias", ""};
    model *b = &m->base;
    b->tensors = m->tensors;
    b->n_tensors = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const bnn_layer *L = &m->layers[l];
        size_t offs[4] = {L->wmu, L->wrho, L->bmu, L->brho};
        for (int k = 0; k < 4; k++) {
            if (offs[k] == BNN_NONE) continue;
            model_tensor *t = &m->tensors[b->n_tensors++];
            if (k < 2)
                *t = (model_tensor){.ndim = 2, .shape = {L->out, L->in}, .off = offs[k],
                                    .n = (size_t)L->in * L->out, .transposed = L->transposed};
            else
                *t = (model_tensor){.ndim = 1, .shape = {L->out}, .off = offs[k], .n = (size_t)L->out};
            snprintf(t->name, sizeof t->name, "fc%d.%s", l + 1, m->point ? point[k] : part[k]);
        }
    }
    int D = m->cfg.input_dim;
    if (m->regress) m->tensors[b->n_tensors++] = vec("noise.logvar", m->logvar, 1);
    if (m->norm != BNN_NONE) {
        m->tensors[b->n_tensors++] = vec("input.mean", m->norm, D);
        m->tensors[b->n_tensors++] = vec("input.sd", m->norm + (size_t)D, D);
    }
    if (m->norm != BNN_NONE && m->regress) {
        m->tensors[b->n_tensors++] = vec("target.mean", m->norm + 2 * (size_t)D, 1);
        m->tensors[b->n_tensors++] = vec("target.sd", m->norm + 2 * (size_t)D + 1, 1);
    }
}

enum { CHUNK = 32768 }; /* floats per gradient chunk (cache-sized, as the VAE's) */

/* Counts (ch == NULL) or fills the chunk list: weight rows in blocks of
 * about CHUNK floats (rows in memory: a transposed layer's are its
 * inputs), biases whole; returns the count. */
static int list_chunks(const void *owner, model_chunk *ch)
{
    const elbo_bnn *m = owner;
    int nc = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const bnn_layer *L = &m->layers[l];
        int rows = L->transposed ? L->in : L->out, len = L->transposed ? L->out : L->in;
        int step = CHUNK / len > 0 ? CHUNK / len : 1;
        for (int kind = BNN_WMU; kind <= BNN_BRHO; kind++) {
            if (m->point && (kind == BNN_WRHO || kind == BNN_BRHO)) continue;
            int bias = kind >= BNN_BMU, s = bias ? L->out : step, nr = bias ? L->out : rows;
            size_t base = kind == BNN_WMU ? L->wmu : kind == BNN_WRHO ? L->wrho : kind == BNN_BMU ? L->bmu : L->brho;
            for (int r0 = 0; r0 < nr; r0 += s) {
                int r1 = nr - r0 < s ? nr : r0 + s;
                size_t row = bias ? 1 : (size_t)len, n = (size_t)(r1 - r0) * row;
                if (ch)
                    ch[nc] = (model_chunk){.off = base + (size_t)r0 * row, .n = n, .layer = l,
                                           .kind = kind, .r0 = r0, .r1 = r1};
                nc++;
            }
        }
    }
    if (m->regress) {
        if (ch) ch[nc] = (model_chunk){.off = m->logvar, .n = 1, .layer = m->n_layers - 1, .kind = BNN_LOGVAR};
        nc++;
    }
    return nc;
}

enum { BLOCK = 16384 }; /* weights per block of the per-step pass */

/* Counts (b == NULL) or lists the blocks of (mu, rho) pairs. */
static int list_blocks(const elbo_bnn *m, size_t (*b)[3])
{
    int nb = 0;
    for (int l = 0; !m->point && l < m->n_layers; l++) {
        const bnn_layer *L = &m->layers[l];
        size_t mus[2] = {L->wmu, L->bmu}, rhos[2] = {L->wrho, L->brho};
        size_t ns[2] = {(size_t)L->in * L->out, (size_t)L->out};
        for (int k = 0; k < 2; k++)
            for (size_t i = 0; i < ns[k]; i += BLOCK, nb++)
                if (b) {
                    b[nb][0] = mus[k] + i;
                    b[nb][1] = rhos[k] + i;
                    b[nb][2] = ns[k] - i < BLOCK ? ns[k] - i : BLOCK;
                }
    }
    return nb;
}

/* -------------------------------------------------------------- workers */

/* Points w's buffers into one block (NULL: returns the floats needed). */
static size_t carve(const elbo_bnn *m, bnn_worker *w, float *p)
{
    size_t R = (size_t)m->base.max_rows, used = 0;
#define TAKE(ptr, count)                                                                            \
    do {                                                                                            \
        if (p) (ptr) = p + used;                                                                    \
        used += ((size_t)(count) + 15) / 16 * 16; /* 64-byte aligned pieces */                      \
    } while (0)
    for (int l = 0; l < m->n_layers; l++) {
        size_t I = (size_t)m->layers[l].in, O = (size_t)m->layers[l].out;
        TAKE(w->a[l], R * I);
        TAKE(w->a2[l], R * I);
        TAKE(w->da[l], R * I);
        TAKE(w->da2[l], R * I);
        TAKE(w->mean[l], R * O);
        TAKE(w->var[l], R * O);
        TAKE(w->out[l], R * O);
        TAKE(w->eps[l], R * O);
        TAKE(w->dout[l], R * O);
        TAKE(w->dmean[l], R * O);
        TAKE(w->dvar[l], R * O);
        TAKE(w->mask[l], R * O);
        TAKE(w->dact[l], R * I);
    }
    TAKE(w->probs, R * (size_t)m->layers[m->n_layers - 1].out);
    TAKE(w->t, R);
    TAKE(w->dlv, 1);
#undef TAKE
    return used;
}

static void worker_free(bnn_worker *w)
{
    elbo_free_aligned(w->block);
    free(w->y);
    sparse_batch_free(&w->xs);
    free(w->xs2.row_val); /* its index arrays are xs's */
    free(w->xs2.col_val);
    memset(w, 0, sizeof *w);
}

static int worker_alloc(elbo_bnn *m, bnn_worker *w)
{
    memset(w, 0, sizeof *w);
    int R = m->base.max_rows, I = m->cfg.input_dim;
    w->block = elbo_calloc_aligned(carve(m, w, NULL), sizeof(float));
    w->y = calloc((size_t)R, sizeof(int32_t));
    int bad = sparse_batch_alloc(&w->xs, R, I, 0) | sparse_batch_alloc(&w->xs2, R, I, 1);
    if (!w->block || !w->y || bad) {
        worker_free(w);
        return -1;
    }
    carve(m, w, w->block);
    return 0;
}

static int alloc_cb(model *base, void *w) { return worker_alloc((elbo_bnn *)base, w); }
static void free_cb(void *w) { worker_free(w); }

/* ------------------------------------------------------- create and free */

/* mu as nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for weights and biases, in
 * parameter order; rho = rho_init; noise.logvar 0; the moments 0 and 1. */
static void init_params(elbo_bnn *m, elbo_rng *rng)
{
    float *p = m->base.params;
    for (int l = 0; l < m->n_layers; l++) {
        const bnn_layer *L = &m->layers[l];
        double bound = 1.0 / sqrt((double)L->in);
        size_t wn = (size_t)L->in * L->out;
        for (size_t i = 0; i < wn; i++) { /* in [out, in] order, stored as the layer keeps it */
            size_t o = i / (size_t)L->in, k = i % (size_t)L->in;
            p[L->wmu + (L->transposed ? k * (size_t)L->out + o : i)] =
                (float)(bound * (2.0 * elbo_rng_uniform(rng) - 1.0));
        }
        for (int o = 0; o < L->out; o++) p[L->bmu + o] = (float)(bound * (2.0 * elbo_rng_uniform(rng) - 1.0));
        if (m->point) continue;
        for (size_t i = 0; i < wn; i++) p[L->wrho + i] = (float)m->cfg.rho_init;
        for (int o = 0; o < L->out; o++) p[L->brho + o] = (float)m->cfg.rho_init;
    }
    if (m->regress) p[m->logvar] = 0.0f;
    if (m->norm == BNN_NONE) return;
    size_t D = (size_t)m->cfg.input_dim, nm = D + (m->regress ? 1 : 0);
    float *mean = p + m->norm, *sd = mean + D;
    for (size_t k = 0; k < D; k++) mean[k] = 0.0f, sd[k] = 1.0f;
    if (nm > D) mean[2 * D] = 0.0f, mean[2 * D + 1] = 1.0f;
}

void elbo_bnn_free(elbo_bnn *m)
{
    if (!m) return;
    model_free_workers(&m->base);
    trainer_free(&m->tr);
    elbo_free_aligned(m->base.params);
    model_chunks_free(&m->base);
    elbo_free_aligned(m->s2);
    elbo_free_aligned(m->gv);
    elbo_free_aligned(m->gk);
    elbo_free_aligned(m->gkm);
    elbo_free_aligned(m->eps_w);
    free(m->blocks);
    free(m->block_kl);
    elbo_free_aligned(m->eps_step);
    elbo_free_aligned(m->mask_step);
    free(m);
}

static void init_cb(model *base, elbo_rng *rng) { init_params((elbo_bnn *)base, rng); }

elbo_bnn *elbo_bnn_create(const elbo_bnn_config *c, uint64_t seed, elbo_error *err)
{
    if (elbo_bnn_config_check(c, err) != ELBO_OK) return NULL;
    elbo_bnn *m = calloc(1, sizeof *m);
    if (!m) {
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory allocating the model");
        return NULL;
    }
    elbo_blas_single_thread(); /* the workers call OpenBLAS concurrently */
    m->base.ops = c->task == ELBO_BNN_REGRESSOR ? &bnn_regressor_ops : &bnn_ops;
    m->cfg = *c;
    for (int i = c->n_hidden; i < ELBO_MAX_HIDDEN; i++) m->cfg.hidden[i] = 0;
    build_layout(m);
    build_tensors(m);
    m->base.max_rows = c->max_batch;
    m->base.wk = (model_workers){m->w, sizeof m->w[0], BNN_MAX_WORKERS, alloc_cb, free_cb};
    m->s2 = elbo_calloc_aligned(m->base.n_params, sizeof(float));
    m->gv = elbo_calloc_aligned(m->base.n_params, sizeof(float));
    m->gk = elbo_calloc_aligned(m->base.n_params, sizeof(float));
    m->gkm = elbo_calloc_aligned(m->base.n_params, sizeof(float));
    m->eps_w = elbo_calloc_aligned(m->base.n_params, sizeof(float));
    m->eps_step = elbo_calloc_aligned((size_t)c->max_batch * m->eps_width, sizeof(float));
    if (c->dropout > 0) m->mask_step = elbo_calloc_aligned((size_t)c->max_batch * m->eps_width, sizeof(float));
    m->n_blocks = list_blocks(m, NULL);
    m->blocks = malloc(sizeof *m->blocks * (size_t)(m->n_blocks + 1));
    m->block_kl = malloc(sizeof(double) * (size_t)(m->n_blocks + 1));
    if (m->blocks) list_blocks(m, m->blocks);
    elbo_status st = !m->s2 || !m->gv || !m->gk || !m->gkm || !m->eps_w || !m->eps_step || !m->blocks ||
                             !m->block_kl || (c->dropout > 0 && !m->mask_step)
                         ? elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %zu variances", m->base.n_params)
                         : model_setup(&m->base, &m->tr, list_chunks, m, c->threads, seed, init_cb, err);
    if (st) {
        elbo_bnn_free(m);
        return NULL;
    }
    bnn_update_sigma(m);
    m->cfg.threads = m->base.n_workers;
    m->handle.c = (run_client){&m->tr, &m->base, &m->record};
    return m;
}

elbo_model *elbo_bnn_model(elbo_bnn *m) { return &m->handle; }

/* ------------------------------------------------------- forward, backward */

/* sigma^2 of every weight into m->s2, and (gauss_prior_stats) the Gaussian
 * prior's rho-gradient factors into m->gv, m->gk, which a mixture model's
 * step then overwrites with its own (bnn_mixture_pass). */
double bnn_update_sigma(elbo_bnn *m)
{
    const float *p = m->base.params;
    double pv = m->cfg.prior_sigma * m->cfg.prior_sigma;
    int nt = m->base.n_workers < m->n_blocks ? m->base.n_workers : m->n_blocks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int k = 0; k < m->n_blocks; k++) {
        size_t mu = m->blocks[k][0], rho = m->blocks[k][1], n = m->blocks[k][2];
        m->block_kl[k] = gauss_prior_stats(m->s2 + rho, m->gv + rho, m->gk + rho, p + mu, p + rho, (long)n, pv);
    }
    double kl = 0.0;
    for (int k = 0; k < m->n_blocks; k++) kl += m->block_kl[k];
    return kl;
}

double bnn_mixture_pass(elbo_bnn *m, uint64_t seed)
{
    const float *p = m->base.params;
    const elbo_bnn_config *c = &m->cfg;
    int nt = m->base.n_workers < m->n_blocks ? m->base.n_workers : m->n_blocks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int k = 0; k < m->n_blocks; k++) {
        size_t mu = m->blocks[k][0], rho = m->blocks[k][1], n = m->blocks[k][2];
        elbo_rng r;
        elbo_rng_seed(&r, seed + 0x9e3779b97f4a7c15ULL * (uint64_t)k);
        normal_fill_fast(&r, m->eps_w + rho, (long)n);
        m->block_kl[k] = kl_mixture_mc(m->gkm + mu, m->gk + rho, m->s2 + rho, m->gv + rho, p + mu, p + rho,
                                       m->eps_w + rho, (long)n, c->prior_pi, c->prior_sigma1, c->prior_sigma2);
    }
    double kl = 0.0;
    for (int k = 0; k < m->n_blocks; k++) kl += m->block_kl[k];
    return kl;
}

/* The mixture's KL with fixed noise (seed 0), without touching the step's
 * buffers. */
static double mixture_kl_fixed(const elbo_bnn *m)
{
    const float *p = m->base.params;
    float *e = malloc(sizeof(float) * 3 * BLOCK);
    if (!e) return NAN; /* reported as a non-finite evaluation */
    double kl = 0.0;
    for (int k = 0; k < m->n_blocks; k++) {
        size_t mu = m->blocks[k][0], rho = m->blocks[k][1], n = m->blocks[k][2];
        elbo_rng r;
        elbo_rng_seed(&r, 0x9e3779b97f4a7c15ULL * (uint64_t)k);
        normal_fill_fast(&r, e, (long)n);
        kl += kl_mixture_mc(e + BLOCK, e + 2 * BLOCK, NULL, NULL, p + mu, p + rho, e, (long)n, m->cfg.prior_pi,
                            m->cfg.prior_sigma1, m->cfg.prior_sigma2);
    }
    free(e);
    return kl;
}

double bnn_kl(const elbo_bnn *m)
{
    if (m->point) return 0.0;
    if (m->cfg.prior == ELBO_PRIOR_MIXTURE) return mixture_kl_fixed(m);
    const float *p = m->base.params;
    double pv = m->cfg.prior_sigma * m->cfg.prior_sigma, kl = 0.0;
    for (int l = 0; l < m->n_layers; l++) {
        const bnn_layer *L = &m->layers[l];
        kl += kl_gauss_prior_forward(p + L->wmu, p + L->wrho, (long)L->in * L->out, pv);
        kl += kl_gauss_prior_forward(p + L->bmu, p + L->brho, L->out, pv);
    }
    return kl;
}

void bnn_fill_masks(float *mask, long n, double p, elbo_rng *rng)
{
    float keep = (float)(1.0 / (1.0 - p));
    for (long i = 0; i < n; i++) mask[i] = elbo_rng_uniform(rng) < p ? 0.0f : keep;
}

void bnn_load_rows(const elbo_bnn *m, bnn_worker *w, const elbo_dataset *ds, const int *idx,
                   int start, int n)
{
    int D = m->cfg.input_dim;
    const float *mean = m->norm != BNN_NONE ? m->base.params + m->norm : NULL, *sd = mean ? mean + D : NULL;
    float ym = mean && m->regress ? mean[2 * D] : 0.0f, ys = mean && m->regress ? mean[2 * D + 1] : 1.0f;
    for (int r = 0; r < n; r++) {
        long src = idx ? idx[start + r] : start + r;
        float *x = w->a[0] + (size_t)r * D;
        if (r + 1 < n) elbo_dataset_prefetch(ds, idx ? idx[start + r + 1] : start + r + 1);
        elbo_dataset_row_input(ds, src, x, ELBO_BINARIZE_NONE, 0);
        for (int k = 0; mean && k < D; k++) x[k] = (x[k] - mean[k]) / sd[k];
        w->y[r] = ds->labels ? ds->labels[src] : 0;
        w->t[r] = ds->targets ? (ds->targets[src] - ym) / ys : 0.0f;
    }
    w->rows = n;
}

/* The first layer, weights [in, out] in memory: over the non-zeros of its
 * input (and of their squares, the same pattern) when at most half are
 * non-zero, else dense. */
static void first_layer_forward(elbo_bnn *m, bnn_worker *w)
{
    const bnn_layer *L = &m->layers[0];
    const float *p = m->base.params;
    int B = w->rows, I = L->in, O = L->out;
    sparse_batch_build(&w->xs, w->a[0], B, I);
    w->x_sparse = 2 * (long)w->xs.nnz <= (long)B * I;
    if (w->x_sparse) {
        sparse_batch *q = &w->xs2;
        float *rv = q->row_val, *cv = q->col_val;
        *q = w->xs; /* the pattern; its own values */
        q->row_val = rv;
        q->col_val = cv;
        for (int j = 0; j < w->xs.nnz; j++) rv[j] = w->xs.row_val[j] * w->xs.row_val[j];
        linear_sparse_forward(m->point ? w->out[0] : w->mean[0], &w->xs, p + L->wmu, p + L->bmu, O);
        if (m->point) return;
        linear_sparse_forward(w->var[0], q, m->s2 + L->wrho, m->s2 + L->brho, O);
    } else {
        linear_t_forward(m->point ? w->out[0] : w->mean[0], w->a[0], p + L->wmu, p + L->bmu, B, I, O);
        if (m->point) return;
        square_forward(w->a2[0], w->a[0], (long)B * I);
        linear_t_forward(w->var[0], w->a2[0], m->s2 + L->wrho, m->s2 + L->brho, B, I, O);
    }
    gauss_lrt_forward(w->out[0], w->mean[0], w->var[0], w->eps[0], (long)B * O);
}

/* The column index of the first layer's non-zeros (and of their squares),
 * which its weight gradient reads. */
static void first_layer_csc(bnn_worker *w)
{
    if (!w->x_sparse) return;
    sparse_batch_build_csc(&w->xs);
    sparse_batch *q = &w->xs2;
    q->col_ptr = w->xs.col_ptr;
    q->col_row = w->xs.col_row;
    for (int j = 0; j < w->xs.nnz; j++) q->col_val[j] = w->xs.col_val[j] * w->xs.col_val[j];
    q->has_csc = 1;
}

double bnn_forward(elbo_bnn *m, bnn_worker *w)
{
    const float *p = m->base.params;
    int B = w->rows;
    for (int l = 0; l < m->n_layers; l++) {
        const bnn_layer *L = &m->layers[l];
        long nin = (long)B * L->in, nout = (long)B * L->out;
        if (L->transposed) {
            first_layer_forward(m, w);
        } else if (m->point) {
            linear_forward(w->out[l], w->a[l], p + L->wmu, p + L->bmu, B, L->in, L->out);
        } else {
            linear_forward(w->mean[l], w->a[l], p + L->wmu, p + L->bmu, B, L->in, L->out);
            square_forward(w->a2[l], w->a[l], nin);
            linear_forward(w->var[l], w->a2[l], m->s2 + L->wrho, m->s2 + L->brho, B, L->in, L->out);
            gauss_lrt_forward(w->out[l], w->mean[l], w->var[l], w->eps[l], nout);
        }
        if (l + 1 == m->n_layers) break;
        relu_forward(w->a[l + 1], w->out[l], nout);
        if (m->cfg.dropout > 0) mask_forward(w->a[l + 1], w->a[l + 1], w->mask[l], nout);
    }
    const float *f = w->out[m->n_layers - 1];
    w->nll = m->regress ? gaussian_lv_nll_forward(f, p + m->logvar, w->t, B, 1)
                        : softmax_xent_forward(w->probs, f, w->y, B, m->cfg.n_classes);
    w->nerr = 0.0;
    for (int r = 0; !m->regress && r < B; r++)
        w->nerr += row_argmax(w->probs + (size_t)r * m->cfg.n_classes, m->cfg.n_classes) != w->y[r];
    return w->nll;
}

void bnn_backward(elbo_bnn *m, bnn_worker *w)
{
    const float *p = m->base.params;
    int B = w->rows, last = m->n_layers - 1;
    for (int l = 0; l <= last; l++) { /* backward accumulates: start from zero */
        size_t nin = (size_t)B * m->layers[l].in, nout = (size_t)B * m->layers[l].out;
        memset(w->dout[l], 0, sizeof(float) * nout);
        memset(w->dmean[l], 0, sizeof(float) * nout);
        memset(w->dvar[l], 0, sizeof(float) * nout);
        if (l == 0) continue; /* no gradient into the data: da[0] and the rest stay unused */
        memset(w->da[l], 0, sizeof(float) * nin);
        if (!m->point) memset(w->da2[l], 0, sizeof(float) * nin);
        if (m->cfg.dropout > 0) memset(w->dact[l], 0, sizeof(float) * nin);
    }
    w->dlv[0] = 0.0f;
    if (m->regress)
        gaussian_lv_nll_backward(w->dout[last], w->dlv, w->out[last], p + m->logvar, w->t, B, 1, 1.0f);
    else
        softmax_xent_backward(w->dout[last], w->probs, w->y, B, m->cfg.n_classes, 1.0f);
    for (int l = last; l >= 0; l--) {
        const bnn_layer *L = &m->layers[l];
        long nin = (long)B * L->in, nout = (long)B * L->out;
        if (!m->point) gauss_lrt_backward(w->dmean[l], w->dvar[l], w->dout[l], w->var[l], w->eps[l], nout);
        if (l == 0) { /* no gradient into the data */
            first_layer_csc(w);
            break;
        }
        linear_backward_data(w->da[l], bnn_dmean(w, m, l), p + L->wmu, B, L->in, L->out);
        if (!m->point) {
            linear_backward_data(w->da2[l], w->dvar[l], m->s2 + L->wrho, B, L->in, L->out);
            square_backward(w->da[l], w->da2[l], w->a[l], nin);
        }
        const float *dr = w->da[l]; /* at relu's output: through the dropout mask first */
        if (m->cfg.dropout > 0) {
            mask_backward(w->dact[l], w->da[l], w->mask[l - 1], nin);
            dr = w->dact[l];
        }
        relu_backward(w->dout[l - 1], dr, w->a[l], nin);
    }
}

/* ------------------------------------------------------ parameter gradients */

void bnn_chunk_grad(elbo_bnn *m, int nw, int c, float *dst)
{
    ELBO_ASSERT(c >= 0 && c < m->base.n_chunks && nw >= 1 && nw <= m->base.n_workers);
    const model_chunk *ch = &m->base.chunks[c];
    const bnn_layer *L = &m->layers[ch->layer];
    const float *p = m->base.params;
    int l = ch->layer, rho = ch->kind == BNN_WRHO || ch->kind == BNN_BRHO;
    memset(dst, 0, sizeof(float) * ch->n);
    if (ch->kind == BNN_LOGVAR) { /* a point estimate: the data term only */
        for (int t = 0; t < nw; t++) dst[0] += m->w[t].dlv[0];
        return;
    }
    for (int t = 0; t < nw; t++) { /* the data term, workers in order */
        const bnn_worker *w = &m->w[t];
        const float *d = rho ? w->dvar[l] : bnn_dmean(w, m, l), *in = rho ? w->a2[l] : w->a[l];
        int weight = ch->kind == BNN_WMU || ch->kind == BNN_WRHO;
        if (weight && L->transposed && w->x_sparse) /* rows are inputs: their non-zeros */
            linear_sparse_weight_rows(dst, d, rho ? &w->xs2 : &w->xs, L->out, ch->r0, ch->r1);
        else if (weight && L->transposed)
            linear_t_weight_rows(dst, d, in, w->rows, L->in, L->out, ch->r0, ch->r1);
        else if (weight)
            linear_weight_rows(dst, d, in, w->rows, L->in, L->out, ch->r0, ch->r1);
        else
            bias_backward(dst, d, w->rows, L->out, ch->r0, ch->r1);
    }
    float scale = (float)m->kl_scale;
    if (m->point) return; /* no prior, no KL */
    if (!rho && m->cfg.prior == ELBO_PRIOR_MIXTURE) { /* the step's Monte Carlo gradient */
        const float *gm = m->gkm + ch->off;
        for (size_t i = 0; i < ch->n; i++) dst[i] += scale * gm[i];
        return;
    }
    if (!rho) {
        double pv = m->cfg.prior_sigma * m->cfg.prior_sigma;
        kl_gauss_prior_backward(dst, NULL, p + ch->off, NULL, (long)ch->n, pv, scale);
        return;
    }
    /* dst holds d/d sigma^2: the chain rule to rho, then the KL's gradient,
     * with the factors of this step's pass over rho (bnn_mixture_pass or
     * bnn_update_sigma) */
    const float *gv = m->gv + ch->off, *gk = m->gk + ch->off;
    for (size_t i = 0; i < ch->n; i++) dst[i] = dst[i] * gv[i] + scale * gk[i];
}
