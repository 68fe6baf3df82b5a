/* m2.c — the M2 model's layout, workers and passes (m2_internal.h). The
 * engine's side (model_ops), evaluation and the public calls are m2_ops.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../nn/gemm.h"
#include "../nn/ops.h"
#include "../nn/semisup.h"
#include "m2_internal.h"

void elbo_m2_config_default(elbo_m2_config *c)
{
    memset(c, 0, sizeof *c);
    c->input_dim = 784;
    c->n_classes = 10;
    c->latent_dim = 50;
    c->n_hidden = 1;
    c->hidden[0] = 500;
    c->activation = ELBO_ACT_SOFTPLUS;
    c->likelihood = ELBO_M2_BERNOULLI;
    c->alpha = 1.0;
    c->max_batch = 100;
    c->threads = 0;
}

elbo_status elbo_m2_config_check(const elbo_m2_config *c, elbo_error *err)
{
    if (c->input_dim < 1 || c->input_dim > (1 << 20))
        return elbo_fail(err, ELBO_ERR_ARG, "input_dim %d out of range 1..2^20", c->input_dim);
    if (c->n_classes < 2 || c->n_classes > 1000)
        return elbo_fail(err, ELBO_ERR_ARG, "M2 needs 2..1000 classes, not %d", c->n_classes);
    if (c->latent_dim < 1 || c->latent_dim > 4096)
        return elbo_fail(err, ELBO_ERR_ARG, "latent_dim %d out of range 1..4096", c->latent_dim);
    if (c->n_hidden < 1 || c->n_hidden > ELBO_MAX_HIDDEN)
        return elbo_fail(err, ELBO_ERR_ARG, "M2 needs 1..%d hidden layers, not %d", ELBO_MAX_HIDDEN,
                         c->n_hidden);
    for (int i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] < 1 || c->hidden[i] > (1 << 16))
            return elbo_fail(err, ELBO_ERR_ARG, "hidden width %d out of range 1..65536", c->hidden[i]);
    if ((unsigned)c->activation > ELBO_ACT_SOFTPLUS || (unsigned)c->likelihood > ELBO_M2_GAUSSIAN)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown activation or likelihood");
    if (!(c->alpha >= 0.0 && c->alpha < 1e9))
        return elbo_fail(err, ELBO_ERR_ARG, "alpha must be in [0, 1e9), not %g", c->alpha);
    if (c->gaussian_inputs != 0 && c->gaussian_inputs != 1)
        return elbo_fail(err, ELBO_ERR_ARG, "gaussian_inputs must be 0 or 1, not %d", c->gaussian_inputs);
    if (c->gaussian_inputs && c->likelihood != ELBO_M2_GAUSSIAN)
        return elbo_fail(err, ELBO_ERR_ARG, "gaussian_inputs needs the Gaussian likelihood");
    if (c->binarize_inputs != 0 && c->binarize_inputs != 1)
        return elbo_fail(err, ELBO_ERR_ARG, "binarize_inputs must be 0 or 1, not %d", c->binarize_inputs);
    if (c->binarize_inputs && c->likelihood != ELBO_M2_BERNOULLI)
        return elbo_fail(err, ELBO_ERR_ARG, "binarize_inputs needs the Bernoulli likelihood");
    if (c->max_batch < 1 || (long)c->max_batch * c->n_classes > (1 << 22))
        return elbo_fail(err, ELBO_ERR_ARG, "max_batch %d out of range (times the classes at most 2^22)",
                         c->max_batch);
    return ELBO_OK;
}

/* ------------------------------------------------------------- layout */

static void add_layer(elbo_m2 *m, const char *name, int in, int cat, int out, int net, size_t *off)
{
    m2_layer *L = &m->layers[m->n_layers++];
    snprintf(L->name, sizeof L->name, "%s", name);
    L->in = in;
    L->cat = cat;
    L->out = out;
    L->net = net;
    L->w = *off;
    *off += (size_t)out * (in + cat);
    L->b = *off;
    *off += (size_t)out;
}

static void build_layout(elbo_m2 *m)
{
    const elbo_m2_config *c = &m->cfg;
    int D = c->input_dim, C = c->n_classes, Z = c->latent_dim, L = c->n_hidden;
    const int *h = c->hidden;
    size_t off = 0;
    char name[24];
    m->n_layers = 0;
    m->l_cls = 0;
    for (int i = 0; i < L; i++) {
        snprintf(name, sizeof name, "cls.fc%d", i + 1);
        add_layer(m, name, i ? h[i - 1] : D, 0, h[i], M2_CLS, &off);
    }
    add_layer(m, "cls.out", h[L - 1], 0, C, M2_CLS, &off);
    m->l_enc = m->n_layers;
    for (int i = 0; i < L; i++) {
        snprintf(name, sizeof name, "enc.fc%d", i + 1);
        add_layer(m, name, i ? h[i - 1] : D, i ? 0 : C, h[i], M2_ENC, &off);
    }
    m->l_mu = m->n_layers;
    add_layer(m, "enc.mu", h[L - 1], 0, Z, M2_ENC, &off);
    m->l_lv = m->n_layers;
    add_layer(m, "enc.logvar", h[L - 1], 0, Z, M2_ENC, &off);
    m->l_dec = m->n_layers;
    for (int i = 0; i < L; i++) { /* the encoder's widths reversed */
        snprintf(name, sizeof name, "dec.fc%d", i + 1);
        add_layer(m, name, i ? h[L - i] : Z, i ? 0 : C, h[L - 1 - i], M2_DEC, &off);
    }
    m->l_out = m->n_layers;
    add_layer(m, "dec.out", h[0], 0, D, M2_DEC, &off);
    m->lv_off = (size_t)-1;
    if (c->likelihood == ELBO_M2_GAUSSIAN) {
        m->lv_off = off;
        off += (size_t)D;
    }
    m->base.n_params = off;
}

static void build_tensors(elbo_m2 *m)
{
    model *b = &m->base;
    b->tensors = m->tensors;
    b->n_tensors = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const m2_layer *L = &m->layers[l];
        model_tensor *t = &m->tensors[b->n_tensors++];
        *t = (model_tensor){.ndim = 2, .shape = {L->out, L->in + L->cat}, .off = L->w,
                            .n = (size_t)L->out * (L->in + L->cat)};
        snprintf(t->name, sizeof t->name, "%s.weight", L->name);
        t = &m->tensors[b->n_tensors++];
        *t = (model_tensor){.ndim = 1, .shape = {L->out}, .off = L->b, .n = (size_t)L->out};
        snprintf(t->name, sizeof t->name, "%s.bias", L->name);
    }
    if (m->lv_off != (size_t)-1) {
        model_tensor *t = &m->tensors[b->n_tensors++];
        *t = (model_tensor){.ndim = 1, .shape = {m->cfg.input_dim}, .off = m->lv_off,
                            .n = (size_t)m->cfg.input_dim};
        snprintf(t->name, sizeof t->name, "dec.out.logvar");
    }
}

enum { CHUNK = 32768 }; /* floats per gradient chunk (cache-sized, as the VAE's) */

int m2_list_chunks(const void *owner, model_chunk *ch)
{
    const elbo_m2 *m = owner;
    int nc = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const m2_layer *L = &m->layers[l];
        int len = L->in + L->cat, step = CHUNK / len > 0 ? CHUNK / len : 1;
        for (int r0 = 0; r0 < L->out; r0 += step, nc++) {
            int r1 = L->out - r0 < step ? L->out : r0 + step;
            if (ch)
                ch[nc] = (model_chunk){.off = L->w + (size_t)r0 * len, .n = (size_t)(r1 - r0) * len,
                                       .layer = l, .kind = M2_WEIGHT, .r0 = r0, .r1 = r1};
        }
        if (ch) ch[nc] = (model_chunk){.off = L->b, .n = (size_t)L->out, .layer = l, .kind = M2_BIAS,
                                       .r0 = 0, .r1 = L->out};
        nc++;
    }
    if (m->lv_off != (size_t)-1) {
        if (ch) ch[nc] = (model_chunk){.off = m->lv_off, .n = (size_t)m->cfg.input_dim,
                                       .layer = m->l_out, .kind = M2_LOGVAR};
        nc++;
    }
    return nc;
}

/* -------------------------------------------------------------- workers */

/* Rows of layer l's activations: the classifier's run over rows, the
 * encoder's and decoder's over copies. */
static size_t layer_rows(const elbo_m2 *m, int l, size_t N, size_t R)
{
    return m->layers[l].net == M2_CLS ? N : R;
}

static size_t carve(const elbo_m2 *m, m2_worker *w, float *p)
{
    size_t N = (size_t)m->base.max_rows, C = (size_t)m->cfg.n_classes, R = N * C;
    size_t D = (size_t)m->cfg.input_dim, Z = (size_t)m->cfg.latent_dim, used = 0;
#define TAKE(ptr, count)                                                                            \
    do {                                                                                            \
        if (p) (ptr) = p + used;                                                                    \
        used += ((size_t)(count) + 15) / 16 * 16;                                                   \
    } while (0)
    TAKE(w->x, N * D);
    TAKE(w->xrow, m->cfg.gaussian_inputs ? 2 * (size_t)D : 0);
    for (int l = 0; l < m->n_layers; l++) {
        size_t n = layer_rows(m, l, N, R) * (size_t)m->layers[l].out;
        TAKE(w->out[l], n);
        TAKE(w->dpre[l], n);
        TAKE(w->dh[l], n);
    }
    TAKE(w->probs, N * C);
    TAKE(w->eps, R * Z);
    TAKE(w->z, R * Z);
    TAKE(w->dz, R * Z);
    TAKE(w->wc, R);
    TAKE(w->xp, R * D);
    TAKE(w->dsum, N * (size_t)m->layers[m->l_enc].out);
    TAKE(w->tmp, N * (size_t)m->layers[m->l_enc].out);
    TAKE(w->qu, N * C);
    TAKE(w->du, N * C);
    TAKE(w->dq, N * C);
    TAKE(w->dlogvar, D);
#undef TAKE
    return used;
}

static void worker_free(m2_worker *w)
{
    elbo_free_aligned(w->block);
    free(w->iblock);
    free(w->lc);
    free(w->vu);
    elbo_free_aligned(w->gpart);
    memset(w, 0, sizeof *w);
}

static int worker_alloc(elbo_m2 *m, m2_worker *w)
{
    memset(w, 0, sizeof *w);
    size_t N = (size_t)m->base.max_rows, R = N * (size_t)m->cfg.n_classes;
    w->block = elbo_calloc_aligned(carve(m, w, NULL), sizeof(float));
    w->iblock = calloc(3 * N + 2 * R, sizeof(int32_t) + 1);
    w->lc = calloc(R, sizeof(double));
    w->vu = calloc(R, sizeof(double));
    w->gpart = elbo_calloc_aligned(m->base.n_params, sizeof(float));
    if (!w->block || !w->iblock || !w->lc || !w->vu || !w->gpart) {
        worker_free(w);
        return -1;
    }
    carve(m, w, w->block);
    int32_t *ib = w->iblock;
    w->y = ib;
    w->first = ib + N;
    w->src = ib + 2 * N;
    w->cy = ib + 2 * N + R;
    w->lab = (uint8_t *)(ib + 2 * N + 2 * R);
    return 0;
}

static int alloc_cb(model *base, void *w) { return worker_alloc((elbo_m2 *)base, w); }
static void free_cb(void *w) { worker_free(w); }

/* ------------------------------------------------------- create and free */

/* nn.Linear's initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the
 * weight then the bias, layer by layer; dec.out.logvar 0. */
static void init_params(model *base, elbo_rng *rng)
{
    elbo_m2 *m = (elbo_m2 *)base;
    float *p = base->params;
    for (int l = 0; l < m->n_layers; l++) {
        const m2_layer *L = &m->layers[l];
        double bound = 1.0 / sqrt((double)(L->in + L->cat));
        size_t wn = (size_t)L->out * (L->in + L->cat);
        for (size_t i = 0; i < wn; i++) p[L->w + i] = (float)(bound * (2.0 * elbo_rng_uniform(rng) - 1.0));
        for (int o = 0; o < L->out; o++) p[L->b + o] = (float)(bound * (2.0 * elbo_rng_uniform(rng) - 1.0));
    }
}

elbo_m2 *elbo_m2_create(const elbo_m2_config *c, uint64_t seed, elbo_error *err)
{
    if (elbo_m2_config_check(c, err) != ELBO_OK) return NULL;
    elbo_m2 *m = calloc(1, sizeof *m);
    if (!m) {
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory allocating the model");
        return NULL;
    }
    elbo_blas_single_thread(); /* the workers call OpenBLAS concurrently */
    m->base.ops = &m2_ops;
    m->cfg = *c;
    for (int i = c->n_hidden; i < ELBO_MAX_HIDDEN; i++) m->cfg.hidden[i] = 0;
    build_layout(m);
    build_tensors(m);
    m->base.max_rows = c->max_batch;
    m->base.wk = (model_workers){m->w, sizeof m->w[0], M2_MAX_WORKERS, alloc_cb, free_cb};
    m->eps_step = elbo_calloc_aligned((size_t)c->max_batch * c->n_classes * c->latent_dim, sizeof(float));
    int noisy = c->gaussian_inputs || c->binarize_inputs;
    if (noisy) m->xeps_step = elbo_calloc_aligned((size_t)c->max_batch * c->input_dim, sizeof(float));
    elbo_status st = !m->eps_step || (noisy && !m->xeps_step)
                         ? elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the noise")
                                  : model_setup(&m->base, &m->tr, m2_list_chunks, m, c->threads, seed,
                                                init_params, err);
    if (st) {
        elbo_m2_free(m);
        return NULL;
    }
    m->cfg.threads = m->base.n_workers;
    m->handle.c = (run_client){&m->tr, &m->base, &m->record};
    return m;
}

void elbo_m2_free(elbo_m2 *m)
{
    if (!m) return;
    model_free_workers(&m->base);
    trainer_free(&m->tr);
    elbo_free_aligned(m->base.params);
    model_chunks_free(&m->base);
    elbo_free_aligned(m->eps_step);
    elbo_free_aligned(m->xeps_step);
    free(m);
}

const elbo_m2_config *elbo_m2_get_config(const elbo_m2 *m) { return &m->cfg; }
elbo_model *elbo_m2_model(elbo_m2 *m) { return &m->handle; }

/* ------------------------------------------------------------- the passes */

#define W_(l) (m->base.params + m->layers[l].w)
#define B_(l) (m->base.params + m->layers[l].b)

void m2_load_rows(const elbo_m2 *m, m2_worker *w, const elbo_dataset *ds, const float *x,
                  const int *idx, int start, int n, int all_unlabelled, const float *xeps)
{
    int D = m->cfg.input_dim, gauss = ds && m->cfg.gaussian_inputs && ds->dim == 2 * D;
    w->n = n;
    w->nl = 0;
    for (int r = 0; r < n; r++) {
        int i = idx ? idx[start + r] : start + r;
        float *xr = w->x + (size_t)r * D;
        if (gauss) { /* the row's Gaussian: its mean, or mean + sd * eps */
            elbo_dataset_row(ds, i, w->xrow);
            const float *e = xeps ? xeps + (size_t)r * D : NULL;
            for (int j = 0; j < D; j++)
                xr[j] = e ? w->xrow[j] + expf(0.5f * w->xrow[D + j]) * e[j] : w->xrow[j];
        } else if (ds) {
            elbo_dataset_row(ds, i, xr);
            if (xeps && m->cfg.binarize_inputs) { /* dynamic binarization: x ~ Bernoulli(x) */
                const float *u = xeps + (size_t)r * D;
                for (int j = 0; j < D; j++) xr[j] = u[j] < xr[j] ? 1.0f : 0.0f;
            }
        } else {
            memcpy(xr, x + (size_t)i * D, sizeof(float) * (size_t)D);
        }
        int known = ds && ds->labels && elbo_dataset_is_labelled(ds, i);
        w->y[r] = known ? ds->labels[i] : -1;
        w->lab[r] = known && !all_unlabelled;
        w->nl += w->lab[r];
    }
}

void m2_make_copies(const elbo_m2 *m, m2_worker *w, const float *eps)
{
    int C = m->cfg.n_classes, Z = m->cfg.latent_dim, R = 0;
    for (int r = 0; r < w->n; r++) {
        w->first[r] = R;
        for (int k = 0; k < C; k++) {
            if (w->lab[r] && k != w->y[r]) continue;
            w->src[R] = r;
            w->cy[R] = k;
            memcpy(w->eps + (size_t)R * Z, eps + ((size_t)r * C + k) * Z, sizeof(float) * (size_t)Z);
            R++;
        }
    }
    w->R = R;
}

/* Plain layers l0 .. l1 of w over rows rows, the first reading in; all
 * through the activation except l1 when last_linear. */
static void stack_forward(elbo_m2 *m, m2_worker *w, int l0, int l1, const float *in, int rows,
                          int last_linear)
{
    for (int l = l0; l <= l1; l++) {
        const m2_layer *L = &m->layers[l];
        linear_forward(w->out[l], l == l0 ? in : w->out[l - 1], W_(l), B_(l), rows, L->in, L->out);
        if (l < l1 || !last_linear) activation_forward((int)m->cfg.activation, w->out[l], (long)rows * L->out);
    }
}

/* Backward through hidden layers l1 down to l0 of w, from the gradient at
 * l1's activation output (dh[l1]) to each dpre, and the gradient at l0's
 * input into din (NULL: not wanted) or into dh[l0 - 1]. */
static void stack_backward(elbo_m2 *m, m2_worker *w, int l0, int l1, int rows, float *din)
{
    for (int l = l1; l >= l0; l--) {
        const m2_layer *L = &m->layers[l];
        long n = (long)rows * L->out;
        memset(w->dpre[l], 0, sizeof(float) * (size_t)n);
        activation_backward((int)m->cfg.activation, w->dpre[l], w->dh[l], w->out[l], n);
        float *to = l > l0 ? w->dh[l - 1] : din;
        if (!to || L->cat) continue; /* a first layer: linear_cat's own backward */
        if (l > l0) memset(to, 0, sizeof(float) * (size_t)rows * L->in);
        linear_backward_data(to, w->dpre[l], W_(l), rows, L->in, L->out);
    }
}

void m2_classify(elbo_m2 *m, m2_worker *w)
{
    int C = m->cfg.n_classes, last = m->l_enc - 1;
    stack_forward(m, w, m->l_cls, last, w->x, w->n, 1);
    softmax_forward(w->probs, w->out[last], w->n, C);
}

void m2_encode(elbo_m2 *m, m2_worker *w)
{
    int le = m->l_enc, L = m->cfg.n_hidden, D = m->cfg.input_dim, C = m->cfg.n_classes;
    const m2_layer *E = &m->layers[le];
    linear_cat_forward(w->out[le], w->x, w->src, w->cy, W_(le), B_(le), w->R, w->n, D, C, E->out, w->tmp);
    activation_forward((int)m->cfg.activation, w->out[le], (long)w->R * E->out);
    if (L > 1) stack_forward(m, w, le + 1, le + L - 1, w->out[le], w->R, 0);
    const float *h = w->out[le + L - 1];
    int H = m->layers[m->l_mu].in, Z = m->cfg.latent_dim;
    linear_forward(w->out[m->l_mu], h, W_(m->l_mu), B_(m->l_mu), w->R, H, Z);
    linear_forward(w->out[m->l_lv], h, W_(m->l_lv), B_(m->l_lv), w->R, H, Z);
}

void m2_decode(elbo_m2 *m, m2_worker *w)
{
    int ld = m->l_dec, Z = m->cfg.latent_dim, C = m->cfg.n_classes;
    const m2_layer *F = &m->layers[ld];
    linear_cat_forward(w->out[ld], w->z, NULL, w->cy, W_(ld), B_(ld), w->R, w->R, Z, C, F->out, NULL);
    activation_forward((int)m->cfg.activation, w->out[ld], (long)w->R * F->out);
    stack_forward(m, w, ld + 1, m->l_out, w->out[ld], w->R, 1);
    long n = (long)w->R * m->cfg.input_dim;
    if (m->lv_off == (size_t)-1) sigmoid_forward(w->xp, w->out[m->l_out], n);
    else memcpy(w->xp, w->out[m->l_out], sizeof(float) * (size_t)n);
}

double m2_row_xent(const float *logits, int C, int y)
{
    float mx = logits[0];
    for (int k = 1; k < C; k++) mx = logits[k] > mx ? logits[k] : mx;
    double s = 0.0;
    for (int k = 0; k < C; k++) s += exp((double)logits[k] - mx);
    return log(s) + mx - logits[y];
}

/* Each copy's bound L_c = -log p(x|y,z) + KL + log C into w->lc. */
static void copy_bounds(elbo_m2 *m, m2_worker *w)
{
    int D = m->cfg.input_dim, Z = m->cfg.latent_dim;
    double logC = log((double)m->cfg.n_classes);
    const float *mu = w->out[m->l_mu], *lv = w->out[m->l_lv], *lx = w->out[m->l_out];
    const float *plv = m->lv_off == (size_t)-1 ? NULL : m->base.params + m->lv_off;
    for (int c = 0; c < w->R; c++) {
        const float *x = w->x + (size_t)w->src[c] * D;
        size_t o = (size_t)c * D;
        double rec = plv ? gaussian_lv_nll_forward(lx + o, plv, x, 1, D)
                         : bce_logits_forward(w->xp + o, lx + o, x, D);
        w->lc[c] = rec + kl_normal_forward(mu + (size_t)c * Z, lv + (size_t)c * Z, Z) + logC;
    }
}

double m2_forward(elbo_m2 *m, m2_worker *w)
{
    int C = m->cfg.n_classes, Z = m->cfg.latent_dim, nu = 0;
    m2_encode(m, w);
    reparam_forward(w->z, w->out[m->l_mu], w->out[m->l_lv], w->eps, (long)w->R * Z);
    m2_decode(m, w);
    copy_bounds(m, w);
    double *s = w->sums;
    memset(w->sums, 0, sizeof w->sums);
    const float *logits = w->out[m->l_enc - 1];
    for (int r = 0; r < w->n; r++) {
        if (w->lab[r]) {
            double ce = m2_row_xent(logits + (size_t)r * C, C, w->y[r]), lb = w->lc[w->first[r]];
            s[1] += lb;
            s[3] += ce;
            s[4] += row_argmax(w->probs + (size_t)r * C, C) != w->y[r];
            s[0] += lb + m->cfg.alpha * ce;
            continue;
        }
        memcpy(w->qu + (size_t)nu * C, w->probs + (size_t)r * C, sizeof(float) * (size_t)C);
        memcpy(w->vu + (size_t)nu * C, w->lc + w->first[r], sizeof(double) * (size_t)C);
        nu++;
    }
    double u = softmax_expect_forward(w->qu, w->vu, nu, C) - entropy_forward(w->qu, nu, C, NULL);
    s[2] = u;
    s[0] += u;
    double cnt[5] = {w->n, w->nl, nu, w->nl, w->nl};
    memcpy(w->counts, cnt, sizeof cnt);
    return s[0];
}

/* The gradients at the classifier's logits and each copy's weight. */
static void loss_backward(elbo_m2 *m, m2_worker *w)
{
    int C = m->cfg.n_classes, nu = w->n - w->nl, lo = m->l_enc - 1;
    float *dlog = w->dpre[lo];
    memset(dlog, 0, sizeof(float) * (size_t)w->n * C);
    memset(w->du, 0, sizeof(float) * (size_t)nu * C);
    memset(w->dq, 0, sizeof(float) * (size_t)nu * C);
    softmax_expect_backward(w->dq, w->du, w->qu, w->vu, nu, C, 1.0f);
    entropy_backward(w->dq, w->qu, nu, C, -1.0f);
    float a = (float)m->cfg.alpha;
    for (int r = 0, u = 0; r < w->n; r++) {
        float *d = dlog + (size_t)r * C;
        const float *p = w->probs + (size_t)r * C;
        if (w->lab[r]) {
            for (int k = 0; k < C; k++) d[k] += a * (p[k] - (k == w->y[r]));
            w->wc[w->first[r]] = 1.0f;
            continue;
        }
        for (int k = 0; k < C; k++) d[k] += w->dq[(size_t)u * C + k];
        memcpy(w->wc + w->first[r], w->du + (size_t)u * C, sizeof(float) * (size_t)C);
        u++;
    }
}

/* Each copy's likelihood and KL gradients, weighted by w->wc. */
static void copy_backward(elbo_m2 *m, m2_worker *w)
{
    int D = m->cfg.input_dim, Z = m->cfg.latent_dim, R = w->R;
    float *dlx = w->dpre[m->l_out], *dmu = w->dpre[m->l_mu], *dlv = w->dpre[m->l_lv];
    const float *mu = w->out[m->l_mu], *lv = w->out[m->l_lv], *lx = w->out[m->l_out];
    const float *plv = m->lv_off == (size_t)-1 ? NULL : m->base.params + m->lv_off;
    memset(dlx, 0, sizeof(float) * (size_t)R * D);
    memset(dmu, 0, sizeof(float) * (size_t)R * Z);
    memset(dlv, 0, sizeof(float) * (size_t)R * Z);
    memset(w->dlogvar, 0, sizeof(float) * (size_t)D);
    for (int c = 0; c < R; c++) {
        const float *x = w->x + (size_t)w->src[c] * D;
        size_t o = (size_t)c * D, oz = (size_t)c * Z;
        if (plv) gaussian_lv_nll_backward(dlx + o, w->dlogvar, lx + o, plv, x, 1, D, w->wc[c]);
        else bce_logits_backward(dlx + o, w->xp + o, x, D, w->wc[c]);
        kl_normal_backward(dmu + oz, dlv + oz, mu + oz, lv + oz, Z, w->wc[c]);
    }
}

void m2_backward(elbo_m2 *m, m2_worker *w)
{
    int L = m->cfg.n_hidden, Z = m->cfg.latent_dim, C = m->cfg.n_classes, D = m->cfg.input_dim;
    int le = m->l_enc, ld = m->l_dec, R = w->R;
    loss_backward(m, w);
    copy_backward(m, w);
    /* decoder: dec.out, its hidden layers, then [z, y] */
    const m2_layer *O = &m->layers[m->l_out], *F = &m->layers[ld];
    memset(w->dh[m->l_out - 1], 0, sizeof(float) * (size_t)R * O->in);
    linear_backward_data(w->dh[m->l_out - 1], w->dpre[m->l_out], W_(m->l_out), R, O->in, D);
    stack_backward(m, w, ld, ld + L - 1, R, NULL);
    memset(w->dz, 0, sizeof(float) * (size_t)R * Z);
    linear_cat_backward_data(w->dz, NULL, w->dpre[ld], NULL, W_(ld), R, R, Z, C, F->out);
    reparam_backward(w->dpre[m->l_mu], w->dpre[m->l_lv], w->dz, w->out[m->l_lv], w->eps, (long)R * Z);
    /* encoder: the two heads, the hidden layers, then [x, y] by row */
    int H = m->layers[m->l_mu].in;
    float *dh = w->dh[le + L - 1];
    memset(dh, 0, sizeof(float) * (size_t)R * H);
    linear_backward_data(dh, w->dpre[m->l_mu], W_(m->l_mu), R, H, Z);
    linear_backward_data(dh, w->dpre[m->l_lv], W_(m->l_lv), R, H, Z);
    stack_backward(m, w, le, le + L - 1, R, NULL);
    const m2_layer *E = &m->layers[le];
    linear_cat_backward_data(NULL, w->dsum, w->dpre[le], w->src, W_(le), R, w->n, D, C, E->out);
    /* classifier: from the logits' gradient (loss_backward) down */
    int lo = le - 1;
    const m2_layer *Q = &m->layers[lo];
    memset(w->dh[lo - 1], 0, sizeof(float) * (size_t)w->n * Q->in);
    linear_backward_data(w->dh[lo - 1], w->dpre[lo], W_(lo), w->n, Q->in, C);
    stack_backward(m, w, m->l_cls, lo - 1, w->n, NULL);
}

/* ------------------------------------------------------ parameter gradients */

void m2_chunk_grad(elbo_m2 *m, int nw, int c, float *dst)
{
    ELBO_ASSERT(c >= 0 && c < m->base.n_chunks && nw >= 1 && nw <= m->base.n_workers);
    const model_chunk *ch = &m->base.chunks[c];
    int l = ch->layer;
    const m2_layer *L = &m->layers[l];
    memset(dst, 0, sizeof(float) * ch->n);
    for (int t = 0; t < nw; t++) {
        const m2_worker *w = &m->w[t];
        if (ch->kind == M2_LOGVAR) {
            for (size_t i = 0; i < ch->n; i++) dst[i] += w->dlogvar[i];
            continue;
        }
        float *out = t ? w->gpart + ch->off : dst; /* worker t's part alone */
        if (t) memset(out, 0, sizeof(float) * ch->n);
        int rows = L->net == M2_CLS ? w->n : w->R;
        if (ch->kind == M2_BIAS) {
            bias_backward(out, w->dpre[l], rows, L->out, ch->r0, ch->r1);
        } else if (l == m->l_enc) { /* [x, y] by row: the gradient summed over each row's copies */
            linear_cat_weight_rows(out, w->dsum, w->x, w->dpre[l], w->cy, w->R, w->n, L->in, L->cat, L->out,
                                   ch->r0, ch->r1);
        } else if (l == m->l_dec) { /* [z, y] by copy */
            linear_cat_weight_rows(out, w->dpre[l], w->z, w->dpre[l], w->cy, w->R, w->R, L->in, L->cat,
                                   L->out, ch->r0, ch->r1);
        } else {
            const float *in = l == m->l_cls ? w->x
                              : l == m->l_mu || l == m->l_lv ? w->out[m->l_enc + m->cfg.n_hidden - 1]
                                                             : w->out[l - 1];
            linear_weight_rows(out, w->dpre[l], in, rows, L->in, L->out, ch->r0, ch->r1);
        }
        for (size_t i = 0; t && i < ch->n; i++) dst[i] += out[i];
    }
}
