/* vae.c — the MLP VAE: creation, the forward and backward passes as flat
 * call sequences over the ops, and the batch-level calls. Training steps and
 * epochs are in train.c. Layout in vae_internal.h. */
#include "vae_internal.h"

#include <math.h>
#include <string.h>

#include <omp.h>

#include "../nn/gemm.h"
#include "../nn/ops.h"
#include "../util/fpenv.h"

void elbo_vae_config_default(elbo_vae_config *c)
{
    memset(c, 0, sizeof *c);
    c->input_dim = 784;
    c->latent_dim = 20;
    c->n_hidden = 1;
    c->hidden[0] = 400;
    c->likelihood = ELBO_LIK_BERNOULLI;
    c->max_batch = 128;
    c->threads = 0;
}

#define MAX_WIDTH (1 << 20)

elbo_status elbo_vae_config_check(const elbo_vae_config *c, elbo_error *err)
{
    if (c->input_dim < 1 || c->input_dim > MAX_WIDTH)
        return elbo_fail(err, ELBO_ERR_ARG, "input_dim %d out of range 1..%d", c->input_dim,
                         MAX_WIDTH);
    if (c->latent_dim < 1 || c->latent_dim > MAX_WIDTH)
        return elbo_fail(err, ELBO_ERR_ARG, "latent_dim %d out of range 1..%d", c->latent_dim,
                         MAX_WIDTH);
    if (c->n_hidden < 1 || c->n_hidden > ELBO_MAX_HIDDEN)
        return elbo_fail(err, ELBO_ERR_ARG, "number of hidden layers %d out of range 1..%d",
                         c->n_hidden, ELBO_MAX_HIDDEN);
    for (int i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] < 1 || c->hidden[i] > MAX_WIDTH)
            return elbo_fail(err, ELBO_ERR_ARG, "hidden layer %d width %d out of range 1..%d",
                             i + 1, c->hidden[i], MAX_WIDTH);
    if (c->likelihood != ELBO_LIK_BERNOULLI && c->likelihood != ELBO_LIK_GAUSSIAN &&
        c->likelihood != ELBO_LIK_GAUSSIAN_LEARNED)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown likelihood %d", (int)c->likelihood);
    if (c->max_batch < 1 || c->max_batch > MAX_WIDTH)
        return elbo_fail(err, ELBO_ERR_ARG, "max_batch %d out of range 1..%d", c->max_batch,
                         MAX_WIDTH);
    if (c->activation != ELBO_ACT_RELU && c->activation != ELBO_ACT_TANH &&
        c->activation != ELBO_ACT_SOFTPLUS)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown activation %d", (int)c->activation);
    if (c->binarize != ELBO_BINARIZE_NONE && c->binarize != ELBO_BINARIZE_STATIC &&
        c->binarize != ELBO_BINARIZE_DYNAMIC)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown binarization %d", (int)c->binarize);
    if (c->flow != ELBO_FLOW_NONE && c->flow != ELBO_FLOW_PLANAR && c->flow != ELBO_FLOW_IAF)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown flow %d", (int)c->flow);
    int max_len = c->flow == ELBO_FLOW_IAF ? VAE_MAX_IAF : VAE_MAX_PLANAR;
    if (c->flow != ELBO_FLOW_NONE && (c->flow_len < 1 || c->flow_len > max_len))
        return elbo_fail(err, ELBO_ERR_ARG, "flow length %d out of range 1..%d", c->flow_len,
                         max_len);
    if (c->flow == ELBO_FLOW_IAF && (c->flow_hidden < 0 || c->flow_hidden > MAX_WIDTH))
        return elbo_fail(err, ELBO_ERR_ARG, "IAF hidden width %d out of range 0..%d",
                         c->flow_hidden, MAX_WIDTH);
    if (c->flow == ELBO_FLOW_IAF && c->latent_dim < 2)
        return elbo_fail(err, ELBO_ERR_ARG, "IAF needs latent_dim >= 2");
    if (c->latent2 < 0 || c->latent2 > MAX_WIDTH)
        return elbo_fail(err, ELBO_ERR_ARG, "latent2 %d out of range 0..%d", c->latent2, MAX_WIDTH);
    if (c->latent2 && (c->n_hidden2 < 1 || c->n_hidden2 > ELBO_MAX_HIDDEN))
        return elbo_fail(err, ELBO_ERR_ARG, "number of second-layer hidden layers %d out of range 1..%d",
                         c->n_hidden2, ELBO_MAX_HIDDEN);
    for (int i = 0; c->latent2 && i < c->n_hidden2; i++)
        if (c->hidden2[i] < 1 || c->hidden2[i] > MAX_WIDTH)
            return elbo_fail(err, ELBO_ERR_ARG, "second-layer hidden %d width %d out of range 1..%d",
                             i + 1, c->hidden2[i], MAX_WIDTH);
    if (c->latent2 && c->flow != ELBO_FLOW_NONE)
        return elbo_fail(err, ELBO_ERR_ARG, "a flow and a second stochastic layer do not combine");
    if (c->threads < 0 || c->threads > VAE_MAX_WORKERS)
        return elbo_fail(err, ELBO_ERR_ARG, "threads %d out of range 0..%d", c->threads,
                         VAE_MAX_WORKERS);
    return ELBO_OK;
}

static void add_layer(elbo_vae *m, const char *name, int in, int out, int transposed)
{
    ELBO_ASSERT(m->n_layers < VAE_MAX_LAYERS);
    vae_layer *l = &m->layers[m->n_layers++];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in = in;
    l->out = out;
    l->transposed = transposed;
    l->mask = NULL;
    l->w_off = m->base.n_params;
    m->base.n_params += (size_t)in * out;
    l->b_off = m->base.n_params;
    m->base.n_params += (size_t)out;
}

/* Lays out the layers (names, shapes, offsets) from the config. */
static void build_layout(elbo_vae *m)
{
    const elbo_vae_config *c = &m->cfg;
    int L = c->n_hidden, D = c->input_dim, Z = c->latent_dim;
    char name[32];
    m->n_layers = 0;
    m->base.n_params = 0;
    for (int i = 0; i < L; i++) {
        snprintf(name, sizeof name, "fc%d", i + 1);
        add_layer(m, name, i == 0 ? D : c->hidden[i - 1], c->hidden[i], i == 0);
    }
    snprintf(name, sizeof name, "fc%d_mu", L + 1);
    m->l_mu = m->n_layers;
    add_layer(m, name, c->hidden[L - 1], Z, 0);
    snprintf(name, sizeof name, "fc%d_logvar", L + 1);
    m->l_logvar = m->n_layers;
    add_layer(m, name, c->hidden[L - 1], Z, 0);
    for (int j = 0; j < L; j++) {
        snprintf(name, sizeof name, "fc%d", L + 2 + j);
        add_layer(m, name, j == 0 ? Z : c->hidden[L - j], c->hidden[L - 1 - j], 0);
    }
    snprintf(name, sizeof name, "fc%d", 2 * L + 2);
    m->l_out = m->n_layers;
    add_layer(m, name, c->hidden[0], D, 0);
    vae_flow_layout(m, add_layer);
    vae_hier_layout(m, add_layer);
    m->lv_off = (size_t)-1;
    if (c->likelihood == ELBO_LIK_GAUSSIAN_LEARNED) { /* log-variance per pixel, starts at 0 */
        m->lv_off = m->base.n_params;
        m->base.n_params += (size_t)D;
    }
}

void vae_weight_export(const elbo_vae *m, int li, const float *base, float *dst)
{
    const vae_layer *l = &m->layers[li];
    const float *w = base + l->w_off;
    if (!l->transposed) {
        memcpy(dst, w, sizeof(float) * (size_t)l->in * l->out);
        return;
    }
    for (int o = 0; o < l->out; o++)
        for (int i = 0; i < l->in; i++) dst[(size_t)o * l->in + i] = w[(size_t)i * l->out + o];
}

void vae_weight_import(const elbo_vae *m, int li, float *base, const float *src)
{
    const vae_layer *l = &m->layers[li];
    float *w = base + l->w_off;
    if (!l->transposed) {
        memcpy(w, src, sizeof(float) * (size_t)l->in * l->out);
        return;
    }
    for (int o = 0; o < l->out; o++)
        for (int i = 0; i < l->in; i++) w[(size_t)i * l->out + o] = src[(size_t)o * l->in + i];
}

/* Carves a worker's activation buffer (grads == 0) or activation-gradient
 * buffer (grads == 1) into named views. With base NULL it only counts. */
static size_t carve(const elbo_vae *m, vae_worker *w, float *base, int grads)
{
    const elbo_vae_config *c = &m->cfg;
    size_t B = (size_t)w->cap, off = 0;
    int L = c->n_hidden, D = c->input_dim, Z = c->latent_dim;
#define VIEW(ptr, count)                                                                       \
    do {                                                                                       \
        if (base) (ptr) = base + off;                                                          \
        off += ((B * (size_t)(count)) + 15) & ~(size_t)15;                                     \
    } while (0)
    if (!grads) {
        VIEW(w->x, D);
        for (int i = 0; i < L; i++) VIEW(w->h_enc[i], c->hidden[i]);
        VIEW(w->mu, Z);
        VIEW(w->logvar, Z);
        VIEW(w->eps, Z);
        VIEW(w->z, Z);
        for (int j = 0; j < L; j++) VIEW(w->h_dec[j], c->hidden[L - 1 - j]);
        VIEW(w->logits, D);
        VIEW(w->probs, D);
    } else {
        for (int i = 0; i < L; i++) {
            VIEW(w->dh_enc[i], c->hidden[i]);
            VIEW(w->dpre_enc[i], c->hidden[i]);
        }
        VIEW(w->dmu, Z);
        VIEW(w->dlogvar, Z);
        VIEW(w->dz, Z);
        for (int j = 0; j < L; j++) {
            VIEW(w->dh_dec[j], c->hidden[L - 1 - j]);
            VIEW(w->dpre_dec[j], c->hidden[L - 1 - j]);
        }
        VIEW(w->dlogits, D);
    }
#undef VIEW
    return off;
}

static void worker_free(vae_worker *w)
{
    elbo_free_aligned(w->act);
    elbo_free_aligned(w->dact);
    free(w->grads);
    sparse_batch_free(&w->xs);
    free(w->kl_dims);
    free(w->lw);
    vae_flow_worker_free(&w->f);
    vae_hier_worker_free(&w->h);
    memset(w, 0, sizeof *w);
}

static int worker_alloc(const elbo_vae *m, vae_worker *w)
{
    memset(w, 0, sizeof *w);
    w->cap = m->cfg.max_batch;
    size_t na = carve(m, w, NULL, 0), ng = carve(m, w, NULL, 1);
    w->act = elbo_calloc_aligned(na, sizeof(float));
    w->dact = elbo_calloc_aligned(ng, sizeof(float));
    w->grads = calloc(m->base.n_params, sizeof(float));
    int xs_bad = sparse_batch_alloc(&w->xs, w->cap, m->cfg.input_dim, 0);
    w->kl_dims = calloc((size_t)m->cfg.latent_dim, sizeof(double));
    w->lw = calloc((size_t)w->cap, sizeof(double));
    int f_bad = vae_flow_worker_alloc(m, &w->f, w->cap) || vae_hier_worker_alloc(m, &w->h, w->cap);
    if (!w->kl_dims || !w->lw || !w->act || !w->dact || !w->grads || xs_bad || f_bad) {
        worker_free(w);
        return -1;
    }
    carve(m, w, w->act, 0);
    carve(m, w, w->dact, 1);
    return 0;
}

static int alloc_cb(model *base, void *w) { return worker_alloc((const elbo_vae *)base, w); }
static void free_cb(void *w) { worker_free(w); }

elbo_status elbo_vae_set_threads(elbo_vae *m, int n, elbo_error *err)
{
    elbo_status st = elbo_model_set_threads(&m->handle, n, err);
    if (!st) m->cfg.threads = m->base.n_workers; /* the config reports the count in use */
    return st;
}

int elbo_vae_get_threads(const elbo_vae *m) { return m->base.n_workers; }

/* The tensor table over the layout: every layer's weight and bias, then the
 * learned log-variance. */
static void build_tensors(elbo_vae *m)
{
    model *b = &m->base;
    b->tensors = m->tensors;
    b->n_tensors = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const vae_layer *l = &m->layers[i];
        model_tensor *t = &m->tensors[b->n_tensors++];
        *t = (model_tensor){.ndim = 2, .shape = {l->out, l->in}, .off = l->w_off,
                            .n = (size_t)l->in * l->out, .transposed = l->transposed};
        snprintf(t->name, sizeof t->name, "%s.weight", l->name);
        t = &m->tensors[b->n_tensors++];
        *t = (model_tensor){.ndim = 1, .shape = {l->out}, .off = l->b_off, .n = (size_t)l->out};
        snprintf(t->name, sizeof t->name, "%s.bias", l->name);
    }
    if (m->lv_off != (size_t)-1) {
        model_tensor *t = &m->tensors[b->n_tensors++];
        *t = (model_tensor){.ndim = 1, .shape = {m->cfg.input_dim}, .off = m->lv_off,
                            .n = (size_t)m->cfg.input_dim};
        char name[48];
        snprintf(name, sizeof name, "%.30s.logvar", m->layers[m->l_out].name);
        memcpy(t->name, name, sizeof name);
    }
}

/* PyTorch nn.Linear default: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * drawn in PyTorch's element order (W as [out, in], then b). */
static void init_params(elbo_vae *m, elbo_rng *rng)
{
    for (int li = 0; li < m->n_layers; li++) {
        const vae_layer *l = &m->layers[li];
        double bound = 1.0 / sqrt((double)l->in);
        float *w = m->base.params + l->w_off;
        for (int o = 0; o < l->out; o++)
            for (int i = 0; i < l->in; i++) {
                float v = (float)(bound * (2.0 * elbo_rng_uniform(rng) - 1.0));
                w[l->transposed ? (size_t)i * l->out + o : (size_t)o * l->in + i] = v;
            }
        for (int k = 0; k < l->out; k++)
            m->base.params[l->b_off + k] = (float)(bound * (2.0 * elbo_rng_uniform(rng) - 1.0));
    }
    vae_flow_init(m);
}

static void init_cb(model *base, elbo_rng *rng) { init_params((elbo_vae *)base, rng); }
static int list_cb(const void *owner, model_chunk *out) { return vae_list_chunks(owner, out); }

elbo_vae *elbo_vae_create(const elbo_vae_config *c, uint64_t seed, elbo_error *err)
{
    if (elbo_vae_config_check(c, err) != ELBO_OK) return NULL;
    elbo_vae *m = calloc(1, sizeof *m);
    if (!m) {
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory allocating the model");
        return NULL;
    }
    /* the workers call OpenBLAS concurrently; its own threads would only
     * compete with them for the cores */
    elbo_blas_single_thread();
    m->base.ops = c->latent2 ? &vae_hier_ops : &vae_ops;
    m->cfg = *c;
    for (int i = c->n_hidden; i < ELBO_MAX_HIDDEN; i++) m->cfg.hidden[i] = 0;
    if (c->flow == ELBO_FLOW_NONE) m->cfg.flow_len = m->cfg.flow_hidden = 0;
    if (c->flow != ELBO_FLOW_IAF) m->cfg.flow_hidden = 0;
    else if (c->flow_hidden == 0) m->cfg.flow_hidden = 4 * c->latent_dim;
    if (!c->latent2) m->cfg.n_hidden2 = 0;
    for (int i = m->cfg.n_hidden2; i < ELBO_MAX_HIDDEN; i++) m->cfg.hidden2[i] = 0;
    build_layout(m);
    build_tensors(m);
    m->base.max_rows = c->max_batch;
    m->base.wk = (model_workers){m->w, sizeof m->w[0], VAE_MAX_WORKERS, alloc_cb, free_cb};
    m->eps_step = elbo_calloc_aligned((size_t)c->max_batch * c->latent_dim, sizeof(float));
    m->kl_scale = elbo_calloc_aligned((size_t)c->latent_dim, sizeof(float));
    m->kl_batch = calloc((size_t)c->latent_dim, sizeof(double));
    m->iw_beta = 1.0f;
    if (c->latent2) m->eps2_step = elbo_calloc_aligned((size_t)c->max_batch * c->latent2, sizeof(float));
    elbo_status st = !m->eps_step || !m->kl_scale || !m->kl_batch || vae_flow_masks(m) ||
                                 (c->latent2 && !m->eps2_step)
                         ? elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the step's noise")
                         : model_setup(&m->base, &m->tr, list_cb, m, c->threads, seed, init_cb, err);
    if (st) {
        elbo_vae_free(m);
        return NULL;
    }
    for (int j = 0; j < c->latent_dim; j++) m->kl_scale[j] = 1.0f;
    m->cfg.threads = m->base.n_workers;
    m->handle.c = (run_client){&m->tr, &m->base, &m->record};
    return m;
}

void elbo_vae_free(elbo_vae *m)
{
    if (!m) return;
    model_free_workers(&m->base);
    elbo_free_aligned(m->base.params);
    model_chunks_free(&m->base);
    elbo_free_aligned(m->eps_step);
    elbo_free_aligned(m->kl_scale);
    free(m->kl_batch);
    free(m->masks);
    elbo_free_aligned(m->eps2_step);
    trainer_free(&m->tr);
    free(m);
}

const elbo_vae_config *elbo_vae_get_config(const elbo_vae *m) { return &m->cfg; }
uint64_t elbo_vae_seed(const elbo_vae *m) { return m->tr.seed; }
long elbo_vae_epoch_examples(const elbo_vae *m) { return m->tr.epoch_seen; }

size_t elbo_vae_num_params(const elbo_vae *m) { return m->base.n_params; }
long elbo_vae_steps(const elbo_vae *m) { return m->tr.step; }
int elbo_vae_epochs(const elbo_vae *m) { return m->tr.epoch; }

#define W_(l) (m->base.params + (l)->w_off)
#define B_(l) (m->base.params + (l)->b_off)

/* The hidden layers' activation (nn/ops.h), on the model's choice. */
static void act_forward(const elbo_vae *m, float *h, long n) { activation_forward((int)m->cfg.activation, h, n); }

static void act_backward(const elbo_vae *m, float *dpre, const float *dh, const float *h, long n)
{
    activation_backward((int)m->cfg.activation, dpre, dh, h, n);
}

/* The first layer reads the data: sparse when at most half the inputs are
 * non-zero (MNIST: ~19%), dense otherwise. */
static void first_layer_forward(elbo_vae *m, vae_worker *w, int B)
{
    const vae_layer *l = &m->layers[0];
    sparse_batch_build(&w->xs, w->x, B, l->in);
    w->x_sparse = 2 * (long)w->xs.nnz <= (long)B * l->in;
    if (w->x_sparse)
        linear_sparse_forward(w->h_enc[0], &w->xs, W_(l), B_(l), l->out);
    else
        linear_t_forward(w->h_enc[0], w->x, W_(l), B_(l), B, l->in, l->out);
}

void vae_encode_forward(elbo_vae *m, vae_worker *w, int B)
{
    int L = m->cfg.n_hidden;
    first_layer_forward(m, w, B);
    act_forward(m, w->h_enc[0], (long)B * m->layers[0].out);
    for (int i = 1; i < L; i++) {
        const vae_layer *l = &m->layers[i];
        linear_forward(w->h_enc[i], w->h_enc[i - 1], W_(l), B_(l), B, l->in, l->out);
        act_forward(m, w->h_enc[i], (long)B * l->out);
    }
    const vae_layer *lm = &m->layers[m->l_mu], *lv = &m->layers[m->l_logvar];
    linear_forward(w->mu, w->h_enc[L - 1], W_(lm), B_(lm), B, lm->in, lm->out);
    linear_forward(w->logvar, w->h_enc[L - 1], W_(lv), B_(lv), B, lv->in, lv->out);
    if (m->l_flow >= 0) vae_flow_head_forward(m, w, B);
}

void vae_decode_forward(elbo_vae *m, vae_worker *w, int B)
{
    int L = m->cfg.n_hidden;
    const float *in = w->z;
    for (int j = 0; j < L; j++) {
        const vae_layer *l = &m->layers[m->l_logvar + 1 + j];
        linear_forward(w->h_dec[j], in, W_(l), B_(l), B, l->in, l->out);
        act_forward(m, w->h_dec[j], (long)B * l->out);
        in = w->h_dec[j];
    }
    const vae_layer *lo = &m->layers[m->l_out];
    linear_forward(w->logits, in, W_(lo), B_(lo), B, lo->in, lo->out);
}

void vae_forward(elbo_vae *m, vae_worker *w, int B)
{
    long nz = (long)B * m->cfg.latent_dim, nx = (long)B * m->cfg.input_dim;
    int flow = m->cfg.flow != ELBO_FLOW_NONE;
    vae_encode_forward(m, w, B);
    reparam_forward(vae_z0(w, flow), w->mu, w->logvar, w->eps, nz);
    if (flow) vae_flow_forward(m, w, B, 1, 0);
    if (m->cfg.latent2) vae_hier_forward(m, w, B, 1, 0, 0);
    vae_decode_forward(m, w, B);
    w->recon = vae_recon_forward(m, w->probs, w->logits, w->x, m->cfg.input_dim, B, NULL);
    (void)nx;
    if (flow) /* per-dimension KL is not defined: the flow mixes dimensions */
        w->kl = vae_flow_kl_forward(m, w, B);
    else if (m->cfg.latent2) /* one sample for z1 (its prior is p(z1|z2)), closed form for z2 */
        w->kl = w->h.kl1 + w->h.kl2;
    else
        w->kl = kl_normal_dims_forward(w->kl_dims, w->mu, w->logvar, B, m->cfg.latent_dim);
}

double vae_recon_forward(const elbo_vae *m, float *probs, const float *logits, const float *x,
                         long x_stride, int rows, double *each_row)
{
    int D = m->cfg.input_dim;
    if (x_stride == D && !each_row) { /* the common case: one call over all rows */
        long n = (long)rows * D;
        if (m->cfg.likelihood == ELBO_LIK_BERNOULLI) return bce_logits_forward(probs, logits, x, n);
        if (m->cfg.likelihood == ELBO_LIK_GAUSSIAN) return gaussian_nll_forward(logits, x, n);
        return gaussian_lv_nll_forward(logits, m->base.params + m->lv_off, x, rows, D);
    }
    double sum = 0.0;
    for (int r = 0; r < rows; r++) {
        const float *l = logits + (long)r * D, *xr = x + (long)r * x_stride;
        double t = m->cfg.likelihood == ELBO_LIK_BERNOULLI ? bce_logits_forward(probs + (long)r * D, l, xr, D)
                   : m->cfg.likelihood == ELBO_LIK_GAUSSIAN ? gaussian_nll_forward(l, xr, D)
                   : gaussian_lv_nll_forward(l, m->base.params + m->lv_off, xr, 1, D);
        if (each_row) each_row[r] = t;
        sum += t;
    }
    return sum;
}

void vae_recon_backward(elbo_vae *m, vae_worker *w, float *dlogits, const float *probs,
                        const float *logits, const float *x, long x_stride, int rows,
                        const double *row_scale)
{
    int D = m->cfg.input_dim;
    for (int r = 0; r < rows; r++) {
        float sc = row_scale ? (float)row_scale[r] : 1.0f;
        long o = (long)r * D;
        const float *xr = x + (long)r * x_stride;
        if (m->cfg.likelihood == ELBO_LIK_BERNOULLI)
            bce_logits_backward(dlogits + o, probs + o, xr, D, sc);
        else if (m->cfg.likelihood == ELBO_LIK_GAUSSIAN)
            gaussian_nll_backward(dlogits + o, logits + o, xr, D, sc);
        else
            gaussian_lv_nll_backward(dlogits + o, w->grads + m->lv_off, logits + o, m->base.params + m->lv_off,
                                     xr, 1, D, sc);
    }
}

void vae_zero_dgrads(elbo_vae *m, vae_worker *w, int n_enc, int n_dec)
{
    const elbo_vae_config *c = &m->cfg;
    w->n_enc = n_enc;
    w->n_dec = n_dec;
    int L = c->n_hidden;
    for (int i = 0; i < L; i++) {
        memset(w->dh_enc[i], 0, sizeof(float) * (size_t)n_enc * c->hidden[i]);
        memset(w->dpre_enc[i], 0, sizeof(float) * (size_t)n_enc * c->hidden[i]);
        memset(w->dh_dec[i], 0, sizeof(float) * (size_t)n_dec * c->hidden[L - 1 - i]);
        memset(w->dpre_dec[i], 0, sizeof(float) * (size_t)n_dec * c->hidden[L - 1 - i]);
    }
    memset(w->dmu, 0, sizeof(float) * (size_t)n_enc * c->latent_dim);
    memset(w->dlogvar, 0, sizeof(float) * (size_t)n_enc * c->latent_dim);
    memset(w->dz, 0, sizeof(float) * (size_t)n_dec * c->latent_dim);
    memset(w->dlogits, 0, sizeof(float) * (size_t)n_dec * c->input_dim);
    if (m->l_flow >= 0) vae_flow_zero_dgrads(m, w, n_enc);
    if (c->latent2) vae_hier_zero_dgrads(m, w, n_dec);
}

/* Backward through the layers computes the activations' gradients only;
 * the weights' and biases' gradients come later from what is kept here
 * (each layer's input and output gradient), over all workers at once
 * (models/grad.c). */
void vae_decoder_backward(elbo_vae *m, vae_worker *w, int R)
{
    int L = m->cfg.n_hidden;
    const vae_layer *lo = &m->layers[m->l_out];
    linear_backward_data(w->dh_dec[L - 1], w->dlogits, W_(lo), R, lo->in, lo->out);
    for (int j = L - 1; j >= 0; j--) {
        const vae_layer *l = &m->layers[m->l_logvar + 1 + j];
        act_backward(m, w->dpre_dec[j], w->dh_dec[j], w->h_dec[j], (long)R * l->out);
        float *din = j > 0 ? w->dh_dec[j - 1] : w->dz;
        linear_backward_data(din, w->dpre_dec[j], W_(l), R, l->in, l->out);
    }
}

void vae_encoder_backward(elbo_vae *m, vae_worker *w, int B)
{
    int L = m->cfg.n_hidden;
    /* the two heads both feed the last hidden layer's gradient */
    const vae_layer *lm = &m->layers[m->l_mu], *lv = &m->layers[m->l_logvar];
    linear_backward_data(w->dh_enc[L - 1], w->dmu, W_(lm), B, lm->in, lm->out);
    linear_backward_data(w->dh_enc[L - 1], w->dlogvar, W_(lv), B, lv->in, lv->out);
    if (m->l_flow >= 0) vae_flow_head_backward(m, w, B);
    for (int i = L - 1; i >= 1; i--) {
        const vae_layer *l = &m->layers[i];
        act_backward(m, w->dpre_enc[i], w->dh_enc[i], w->h_enc[i], (long)B * l->out);
        linear_backward_data(w->dh_enc[i - 1], w->dpre_enc[i], W_(l), B, l->in, l->out);
    }
    const vae_layer *l0 = &m->layers[0];
    act_backward(m, w->dpre_enc[0], w->dh_enc[0], w->h_enc[0], (long)B * l0->out);
    /* no gradient for the data; the first layer's weight gradient will read
     * its non-zero inputs by column */
    if (w->x_sparse) sparse_batch_build_csc(&w->xs);
}

void vae_backward(elbo_vae *m, vae_worker *w, int B)
{
    const elbo_vae_config *c = &m->cfg;
    long nz = (long)B * c->latent_dim, nx = (long)B * c->input_dim;
    vae_zero_dgrads(m, w, B, B);
    /* loss = recon(logits, x) + KL(mu, logvar), summed over the batch */
    vae_recon_backward(m, w, w->dlogits, w->probs, w->logits, w->x, c->input_dim, B, NULL);
    (void)nx;
    vae_decoder_backward(m, w, B);
    if (c->flow != ELBO_FLOW_NONE) { /* the MC KL through the flow (one weight: no free bits) */
        vae_flow_kl_backward(m, w, B, m->kl_scale[0]);
    } else if (c->latent2) { /* both layers' KL terms into dz1, then z1's q0 part */
        float s = m->kl_scale[0];
        vae_hier_backward(m, w, B, 1, 0, s, NULL);
        reparam_backward(w->dmu, w->dlogvar, w->dz, w->logvar, w->eps, nz);
        for (long i = 0; i < nz; i++) w->dlogvar[i] -= 0.5f * s;
    } else { /* latent: reparameterisation and the closed-form KL */
        reparam_backward(w->dmu, w->dlogvar, w->dz, w->logvar, w->eps, nz);
        kl_normal_dims_backward(w->dmu, w->dlogvar, w->mu, w->logvar, B, c->latent_dim, m->kl_scale);
    }
    vae_encoder_backward(m, w, B);
}

void vae_posterior_centre(elbo_vae *m, vae_worker *w, int B)
{
    int flow = m->cfg.flow != ELBO_FLOW_NONE;
    memcpy(vae_z0(w, flow), w->mu, sizeof(float) * (size_t)B * m->cfg.latent_dim);
    if (flow) vae_flow_forward(m, w, B, 1, 0);
}

/* ----------------------------------------------------- batch-level calls */

/* Runs fn(m, w, row0, rows, arg) over B rows in chunks of at most max_batch,
 * chunks spread over the workers. fn must only touch its own rows' output. */
typedef void (*chunk_fn)(elbo_vae *m, vae_worker *w, int row0, int rows, void *arg);

static void for_chunks(elbo_vae *m, int B, chunk_fn fn, void *arg)
{
    int mb = m->cfg.max_batch, n_chunks = (B + mb - 1) / mb;
    int nt = m->base.n_workers < n_chunks ? m->base.n_workers : n_chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int c = 0; c < n_chunks; c++) {
        int row0 = c * mb, rows = B - row0 < mb ? B - row0 : mb;
        unsigned fp = elbo_fp_flush_begin(); /* util/fpenv.h */
        fn(m, &m->w[omp_get_thread_num()], row0, rows, arg);
        elbo_fp_flush_end(fp);
    }
}

typedef struct {
    const float *x, *z;
    float *out, *mu, *logvar;
    uint64_t seed;
} batch_arg;

static void encode_chunk(elbo_vae *m, vae_worker *w, int row0, int n, void *arg)
{
    batch_arg *a = arg;
    int D = m->cfg.input_dim, Z = m->cfg.latent_dim;
    memcpy(w->x, a->x + (size_t)row0 * D, sizeof(float) * (size_t)n * D);
    vae_encode_forward(m, w, n);
    if (a->mu) memcpy(a->mu + (size_t)row0 * Z, w->mu, sizeof(float) * (size_t)n * Z);
    if (a->logvar) memcpy(a->logvar + (size_t)row0 * Z, w->logvar, sizeof(float) * (size_t)n * Z);
}

void elbo_vae_encode(elbo_vae *m, const float *x, int B, float *mu, float *logvar)
{
    batch_arg a = {x, NULL, NULL, mu, logvar, 0};
    for_chunks(m, B, encode_chunk, &a);
}

/* Decodes w->z (n rows) and writes mean images to out. */
static void decode_loaded(elbo_vae *m, vae_worker *w, int n, float *out)
{
    long nx = (long)n * m->cfg.input_dim;
    vae_decode_forward(m, w, n);
    if (m->cfg.likelihood == ELBO_LIK_BERNOULLI)
        sigmoid_forward(out, w->logits, nx);
    else /* Gaussian: the mean */
        memcpy(out, w->logits, (size_t)nx * sizeof(float));
}

static void decode_chunk(elbo_vae *m, vae_worker *w, int row0, int n, void *arg)
{
    batch_arg *a = arg;
    int D = m->cfg.input_dim, Z = m->cfg.latent_dim;
    memcpy(w->z, a->z + (size_t)row0 * Z, sizeof(float) * (size_t)n * Z);
    decode_loaded(m, w, n, a->out + (size_t)row0 * D);
}

void elbo_vae_decode(elbo_vae *m, const float *z, int B, float *out)
{
    batch_arg a = {NULL, z, out, NULL, NULL, 0};
    for_chunks(m, B, decode_chunk, &a);
}

static void sample_chunk(elbo_vae *m, vae_worker *w, int row0, int n, void *arg)
{
    batch_arg *a = arg;
    /* one PRNG stream per chunk: samples do not depend on the thread count */
    elbo_rng rng;
    elbo_rng_seed(&rng, a->seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(row0 / m->cfg.max_batch));
    if (m->cfg.latent2) /* top-down: z2 ~ N(0, I), z1 ~ p(z1|z2) */
        vae_hier_top_down(m, w, n, &rng);
    else
        elbo_rng_normal_fill(&rng, w->z, (long)n * m->cfg.latent_dim);
    decode_loaded(m, w, n, a->out + (size_t)row0 * m->cfg.input_dim);
}

void elbo_vae_sample_latents(elbo_vae *m, int n, uint64_t seed, float *z)
{
    int mb = m->cfg.max_batch, Z = m->cfg.latent_dim;
    for (int row0 = 0; row0 < n; row0 += mb) { /* the streams of sample_chunk */
        elbo_rng rng;
        int rows = n - row0 < mb ? n - row0 : mb;
        elbo_rng_seed(&rng, seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(row0 / mb));
        if (m->cfg.latent2) {
            vae_hier_top_down(m, &m->w[0], rows, &rng);
            memcpy(z + (size_t)row0 * Z, m->w[0].z, sizeof(float) * (size_t)rows * Z);
        } else {
            elbo_rng_normal_fill(&rng, z + (size_t)row0 * Z, (long)rows * Z);
        }
    }
}

void elbo_vae_sample(elbo_vae *m, int n, uint64_t seed, float *out)
{
    batch_arg a = {NULL, NULL, out, NULL, NULL, seed};
    for_chunks(m, n, sample_chunk, &a);
}

static void reconstruct_chunk(elbo_vae *m, vae_worker *w, int row0, int n, void *arg)
{
    batch_arg *a = arg;
    int D = m->cfg.input_dim, Z = m->cfg.latent_dim;
    memcpy(w->x, a->x + (size_t)row0 * D, sizeof(float) * (size_t)n * D);
    vae_encode_forward(m, w, n);
    vae_posterior_centre(m, w, n);
    (void)Z;
    decode_loaded(m, w, n, a->out + (size_t)row0 * D);
}

void elbo_vae_reconstruct(elbo_vae *m, const float *x, int B, float *out)
{
    batch_arg a = {x, NULL, out, NULL, NULL, 0};
    for_chunks(m, B, reconstruct_chunk, &a);
}

elbo_model *elbo_vae_model(elbo_vae *m) { return &m->handle; }
