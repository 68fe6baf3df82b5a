/* vae.c — the MLP VAE: creation, forward and backward passes as flat call
 * sequences over the ops, and the training step. Layout in vae_internal.h. */
#include "vae_internal.h"

#include <math.h>
#include <string.h>

#include "../nn/ops.h"
#include "../optim/adam.h"

void elbo_vae_config_default(elbo_vae_config *c)
{
    memset(c, 0, sizeof *c);
    c->input_dim = 784;
    c->latent_dim = 20;
    c->n_hidden = 1;
    c->hidden[0] = 400;
    c->likelihood = ELBO_LIK_BERNOULLI;
    c->max_batch = 128;
}

void elbo_train_config_default(elbo_train_config *c)
{
    c->lr = 1e-3;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->batch_size = 128;
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
    if (c->likelihood != ELBO_LIK_BERNOULLI && c->likelihood != ELBO_LIK_GAUSSIAN)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown likelihood %d", (int)c->likelihood);
    if (c->max_batch < 1 || c->max_batch > MAX_WIDTH)
        return elbo_fail(err, ELBO_ERR_ARG, "max_batch %d out of range 1..%d", c->max_batch,
                         MAX_WIDTH);
    return ELBO_OK;
}

static void add_layer(elbo_vae *m, const char *name, int in, int out)
{
    ELBO_ASSERT(m->n_layers < VAE_MAX_LAYERS);
    vae_layer *l = &m->layers[m->n_layers++];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in = in;
    l->out = out;
    l->w_off = m->n_params;
    m->n_params += (size_t)in * out;
    l->b_off = m->n_params;
    m->n_params += (size_t)out;
}

/* Lays out the layers (names, shapes, offsets) from the config. */
static void build_layout(elbo_vae *m)
{
    const elbo_vae_config *c = &m->cfg;
    int L = c->n_hidden, D = c->input_dim, Z = c->latent_dim;
    char name[32];
    m->n_layers = 0;
    m->n_params = 0;
    for (int i = 0; i < L; i++) {
        snprintf(name, sizeof name, "fc%d", i + 1);
        add_layer(m, name, i == 0 ? D : c->hidden[i - 1], c->hidden[i]);
    }
    snprintf(name, sizeof name, "fc%d_mu", L + 1);
    m->l_mu = m->n_layers;
    add_layer(m, name, c->hidden[L - 1], Z);
    snprintf(name, sizeof name, "fc%d_logvar", L + 1);
    m->l_logvar = m->n_layers;
    add_layer(m, name, c->hidden[L - 1], Z);
    for (int j = 0; j < L; j++) {
        snprintf(name, sizeof name, "fc%d", L + 2 + j);
        add_layer(m, name, j == 0 ? Z : c->hidden[L - j], c->hidden[L - 1 - j]);
    }
    snprintf(name, sizeof name, "fc%d", 2 * L + 2);
    m->l_out = m->n_layers;
    add_layer(m, name, c->hidden[0], D);
}

/* Carves the activation buffer (and, when grads != 0, the gradient buffer)
 * into named views. Called twice: once to count (base NULL), once to assign. */
static size_t carve(elbo_vae *m, float *base, int grads)
{
    const elbo_vae_config *c = &m->cfg;
    size_t B = (size_t)c->max_batch, off = 0;
    int L = c->n_hidden, D = c->input_dim, Z = c->latent_dim;
#define VIEW(ptr, count)                                                                       \
    do {                                                                                       \
        if (base) (ptr) = base + off;                                                          \
        off += ((B * (size_t)(count)) + 15) & ~(size_t)15;                                     \
    } while (0)
    if (!grads) {
        VIEW(m->x, D);
        for (int i = 0; i < L; i++) VIEW(m->h_enc[i], c->hidden[i]);
        VIEW(m->mu, Z);
        VIEW(m->logvar, Z);
        VIEW(m->eps, Z);
        VIEW(m->z, Z);
        for (int j = 0; j < L; j++) VIEW(m->h_dec[j], c->hidden[L - 1 - j]);
        VIEW(m->logits, D);
    } else {
        for (int i = 0; i < L; i++) {
            VIEW(m->dh_enc[i], c->hidden[i]);
            VIEW(m->dpre_enc[i], c->hidden[i]);
        }
        VIEW(m->dmu, Z);
        VIEW(m->dlogvar, Z);
        VIEW(m->dz, Z);
        for (int j = 0; j < L; j++) {
            VIEW(m->dh_dec[j], c->hidden[L - 1 - j]);
            VIEW(m->dpre_dec[j], c->hidden[L - 1 - j]);
        }
        VIEW(m->dlogits, D);
    }
#undef VIEW
    return off;
}

elbo_vae *elbo_vae_create(const elbo_vae_config *c, uint64_t seed, elbo_error *err)
{
    if (elbo_vae_config_check(c, err) != ELBO_OK) return NULL;
    elbo_vae *m = calloc(1, sizeof *m);
    if (!m) {
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory allocating the model");
        return NULL;
    }
    m->cfg = *c;
    for (int i = c->n_hidden; i < ELBO_MAX_HIDDEN; i++) m->cfg.hidden[i] = 0;
    build_layout(m);
    size_t na = carve(m, NULL, 0), ng = carve(m, NULL, 1);
    m->params = elbo_calloc_aligned(m->n_params, sizeof(float));
    m->grads = elbo_calloc_aligned(m->n_params, sizeof(float));
    m->adam_m = elbo_calloc_aligned(m->n_params, sizeof(float));
    m->adam_v = elbo_calloc_aligned(m->n_params, sizeof(float));
    m->act = elbo_calloc_aligned(na, sizeof(float));
    m->dact = elbo_calloc_aligned(ng, sizeof(float));
    if (!m->params || !m->grads || !m->adam_m || !m->adam_v || !m->act || !m->dact) {
        elbo_vae_free(m);
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory allocating %zu parameters", m->n_params);
        return NULL;
    }
    carve(m, m->act, 0);
    m->act_size = carve(m, m->dact, 1);

    /* PyTorch nn.Linear default: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    elbo_rng_seed(&m->rng, seed);
    for (int li = 0; li < m->n_layers; li++) {
        const vae_layer *l = &m->layers[li];
        double bound = 1.0 / sqrt((double)l->in);
        for (size_t k = 0; k < (size_t)l->in * l->out; k++)
            m->params[l->w_off + k] = (float)(bound * (2.0 * elbo_rng_uniform(&m->rng) - 1.0));
        for (int k = 0; k < l->out; k++)
            m->params[l->b_off + k] = (float)(bound * (2.0 * elbo_rng_uniform(&m->rng) - 1.0));
    }
    return m;
}

void elbo_vae_free(elbo_vae *m)
{
    if (!m) return;
    elbo_free_aligned(m->params);
    elbo_free_aligned(m->grads);
    elbo_free_aligned(m->adam_m);
    elbo_free_aligned(m->adam_v);
    elbo_free_aligned(m->act);
    elbo_free_aligned(m->dact);
    free(m->perm);
    free(m);
}

const elbo_vae_config *elbo_vae_get_config(const elbo_vae *m) { return &m->cfg; }
size_t elbo_vae_num_params(const elbo_vae *m) { return m->n_params; }
long elbo_vae_steps(const elbo_vae *m) { return m->step; }
int elbo_vae_epochs(const elbo_vae *m) { return m->epoch; }

#define W_(l) (m->params + (l)->w_off)
#define B_(l) (m->params + (l)->b_off)
#define DW_(l) (m->grads + (l)->w_off)
#define DB_(l) (m->grads + (l)->b_off)

void vae_encode_forward(elbo_vae *m, int B)
{
    const vae_layer *ly = m->layers;
    int L = m->cfg.n_hidden;
    const float *in = m->x;
    for (int i = 0; i < L; i++) {
        const vae_layer *l = &ly[i];
        linear_forward(m->h_enc[i], in, W_(l), B_(l), B, l->in, l->out);
        relu_forward(m->h_enc[i], m->h_enc[i], (long)B * l->out);
        in = m->h_enc[i];
    }
    const vae_layer *lm = &ly[m->l_mu], *lv = &ly[m->l_logvar];
    linear_forward(m->mu, in, W_(lm), B_(lm), B, lm->in, lm->out);
    linear_forward(m->logvar, in, W_(lv), B_(lv), B, lv->in, lv->out);
}

void vae_decode_forward(elbo_vae *m, int B)
{
    int L = m->cfg.n_hidden;
    const float *in = m->z;
    for (int j = 0; j < L; j++) {
        const vae_layer *l = &m->layers[m->l_logvar + 1 + j];
        linear_forward(m->h_dec[j], in, W_(l), B_(l), B, l->in, l->out);
        relu_forward(m->h_dec[j], m->h_dec[j], (long)B * l->out);
        in = m->h_dec[j];
    }
    const vae_layer *lo = &m->layers[m->l_out];
    linear_forward(m->logits, in, W_(lo), B_(lo), B, lo->in, lo->out);
}

void vae_forward(elbo_vae *m, int B, double *recon_sum, double *kl_sum)
{
    long nz = (long)B * m->cfg.latent_dim, nx = (long)B * m->cfg.input_dim;
    vae_encode_forward(m, B);
    reparam_forward(m->z, m->mu, m->logvar, m->eps, nz);
    vae_decode_forward(m, B);
    *recon_sum = m->cfg.likelihood == ELBO_LIK_BERNOULLI ? bce_logits_forward(m->logits, m->x, nx)
                                                         : gaussian_nll_forward(m->logits, m->x, nx);
    *kl_sum = kl_normal_forward(m->mu, m->logvar, nz);
}

void vae_backward(elbo_vae *m, int B)
{
    const elbo_vae_config *c = &m->cfg;
    int L = c->n_hidden;
    long nz = (long)B * c->latent_dim, nx = (long)B * c->input_dim;
    memset(m->grads, 0, m->n_params * sizeof(float));
    memset(m->dact, 0, m->act_size * sizeof(float));

    /* loss = recon(logits, x) + KL(mu, logvar), summed over the batch */
    if (c->likelihood == ELBO_LIK_BERNOULLI)
        bce_logits_backward(m->dlogits, m->logits, m->x, nx, 1.0f);
    else
        gaussian_nll_backward(m->dlogits, m->logits, m->x, nx, 1.0f);

    /* decoder, last layer first */
    const vae_layer *lo = &m->layers[m->l_out];
    linear_backward(m->dh_dec[L - 1], DW_(lo), DB_(lo), m->dlogits, m->h_dec[L - 1], W_(lo), B,
                    lo->in, lo->out);
    for (int j = L - 1; j >= 0; j--) {
        const vae_layer *l = &m->layers[m->l_logvar + 1 + j];
        relu_backward(m->dpre_dec[j], m->dh_dec[j], m->h_dec[j], (long)B * l->out);
        float *din = j > 0 ? m->dh_dec[j - 1] : m->dz;
        const float *in = j > 0 ? m->h_dec[j - 1] : m->z;
        linear_backward(din, DW_(l), DB_(l), m->dpre_dec[j], in, W_(l), B, l->in, l->out);
    }

    /* latent: reparameterisation and the closed-form KL */
    reparam_backward(m->dmu, m->dlogvar, m->dz, m->logvar, m->eps, nz);
    kl_normal_backward(m->dmu, m->dlogvar, m->mu, m->logvar, nz, 1.0f);

    /* encoder heads, then hidden layers last first (no gradient for x) */
    const vae_layer *lm = &m->layers[m->l_mu], *lv = &m->layers[m->l_logvar];
    linear_backward(m->dh_enc[L - 1], DW_(lm), DB_(lm), m->dmu, m->h_enc[L - 1], W_(lm), B,
                    lm->in, lm->out);
    linear_backward(m->dh_enc[L - 1], DW_(lv), DB_(lv), m->dlogvar, m->h_enc[L - 1], W_(lv), B,
                    lv->in, lv->out);
    for (int i = L - 1; i >= 0; i--) {
        const vae_layer *l = &m->layers[i];
        relu_backward(m->dpre_enc[i], m->dh_enc[i], m->h_enc[i], (long)B * l->out);
        float *din = i > 0 ? m->dh_enc[i - 1] : NULL;
        const float *in = i > 0 ? m->h_enc[i - 1] : m->x;
        linear_backward(din, DW_(l), DB_(l), m->dpre_enc[i], in, W_(l), B, l->in, l->out);
    }
}

void vae_load_batch(elbo_vae *m, const elbo_dataset *ds, const int *idx, int start, int B)
{
    int D = m->cfg.input_dim;
    for (int r = 0; r < B; r++) {
        long src = idx ? idx[start + r] : start + r;
        const uint8_t *p = ds->pixels + src * D;
        float *dst = m->x + (long)r * D;
        for (int k = 0; k < D; k++) dst[k] = (float)p[k] / 255.0f;
    }
}

elbo_status vae_step_loaded(elbo_vae *m, const elbo_train_config *tc, int B, double *recon,
                            double *kl, elbo_error *err)
{
    vae_forward(m, B, recon, kl);
    if (!isfinite(*recon) || !isfinite(*kl))
        return elbo_fail(err, ELBO_ERR_NUMERIC,
                         "step %ld: the %s term is %g (not finite); try a smaller learning rate "
                         "or check that the data are scaled to [0,1]",
                         m->step + 1, isfinite(*recon) ? "KL" : "reconstruction",
                         isfinite(*recon) ? *kl : *recon);
    vae_backward(m, B);
    m->step++;
    adam_step(m->params, m->grads, m->adam_m, m->adam_v, m->n_params, m->step, tc->lr, tc->beta1,
              tc->beta2, tc->eps);
    return ELBO_OK;
}

static elbo_status check_train_config(const elbo_vae *m, const elbo_train_config *tc,
                                      elbo_error *err)
{
    if (!(tc->lr > 0.0) || !isfinite(tc->lr))
        return elbo_fail(err, ELBO_ERR_ARG, "learning rate must be finite and > 0");
    if (!(tc->beta1 >= 0.0 && tc->beta1 < 1.0) || !(tc->beta2 >= 0.0 && tc->beta2 < 1.0))
        return elbo_fail(err, ELBO_ERR_ARG, "Adam betas must lie in [0, 1)");
    if (!(tc->eps > 0.0) || !isfinite(tc->eps))
        return elbo_fail(err, ELBO_ERR_ARG, "Adam eps must be finite and > 0");
    if (tc->batch_size < 1 || tc->batch_size > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG, "batch size %d out of range 1..%d (the model's max_batch)",
                         tc->batch_size, m->cfg.max_batch);
    return ELBO_OK;
}

elbo_status elbo_vae_train_step(elbo_vae *m, const elbo_train_config *tc, const float *x, int B,
                                elbo_losses *out, elbo_error *err)
{
    ELBO_ASSERT(m && tc && x);
    elbo_status st = check_train_config(m, tc, err);
    if (st) return st;
    if (B < 1 || B > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG, "batch of %d rows out of range 1..%d", B,
                         m->cfg.max_batch);
    memcpy(m->x, x, (size_t)B * m->cfg.input_dim * sizeof(float));
    double recon, kl;
    elbo_rng_normal_fill(&m->rng, m->eps, (long)B * m->cfg.latent_dim);
    st = vae_step_loaded(m, tc, B, &recon, &kl, err);
    if (st) return st;
    if (out) {
        out->recon = recon / B;
        out->kl = kl / B;
        out->loss = out->recon + out->kl;
        out->n = B;
    }
    return ELBO_OK;
}

static elbo_status check_dataset(const elbo_vae *m, const elbo_dataset *ds, elbo_error *err)
{
    if (!ds || ds->n < 1 || !ds->pixels)
        return elbo_fail(err, ELBO_ERR_ARG, "the data set is empty");
    if (ds->rows * ds->cols != m->cfg.input_dim)
        return elbo_fail(err, ELBO_ERR_ARG,
                         "the data set's images are %dx%d = %d values but the model expects %d",
                         ds->rows, ds->cols, ds->rows * ds->cols, m->cfg.input_dim);
    return ELBO_OK;
}

elbo_status elbo_vae_train_epoch(elbo_vae *m, const elbo_train_config *tc, const elbo_dataset *ds,
                                 elbo_progress_fn progress, void *user, elbo_losses *out,
                                 elbo_error *err)
{
    ELBO_ASSERT(m && tc);
    elbo_status st = check_train_config(m, tc, err);
    if (st || (st = check_dataset(m, ds, err))) return st;
    if (m->perm_cap < ds->n) {
        int *p = realloc(m->perm, (size_t)ds->n * sizeof *p);
        if (!p) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the shuffle order");
        m->perm = p;
        m->perm_cap = ds->n;
    }
    for (int i = 0; i < ds->n; i++) m->perm[i] = i;
    elbo_rng_shuffle(&m->rng, m->perm, ds->n);

    int bs = tc->batch_size, n_steps = (ds->n + bs - 1) / bs;
    double recon_sum = 0.0, kl_sum = 0.0;
    long seen = 0;
    for (int s = 0; s < n_steps; s++) {
        int start = s * bs, B = ds->n - start < bs ? ds->n - start : bs;
        vae_load_batch(m, ds, m->perm, start, B);
        double recon, kl;
        elbo_rng_normal_fill(&m->rng, m->eps, (long)B * m->cfg.latent_dim);
        st = vae_step_loaded(m, tc, B, &recon, &kl, err);
        if (st) return st;
        recon_sum += recon;
        kl_sum += kl;
        seen += B;
        if (progress && progress(user, s + 1, n_steps, (recon_sum + kl_sum) / seen)) break;
    }
    m->epoch++;
    if (out) {
        out->recon = recon_sum / seen;
        out->kl = kl_sum / seen;
        out->loss = out->recon + out->kl;
        out->n = seen;
    }
    return ELBO_OK;
}

elbo_status elbo_vae_eval(elbo_vae *m, const elbo_dataset *ds, uint64_t seed, elbo_losses *out,
                          elbo_error *err)
{
    ELBO_ASSERT(m && out);
    elbo_status st = check_dataset(m, ds, err);
    if (st) return st;
    elbo_rng rng;
    elbo_rng_seed(&rng, seed);
    double recon_sum = 0.0, kl_sum = 0.0;
    int mb = m->cfg.max_batch;
    for (int start = 0; start < ds->n; start += mb) {
        int B = ds->n - start < mb ? ds->n - start : mb;
        vae_load_batch(m, ds, NULL, start, B);
        elbo_rng_normal_fill(&rng, m->eps, (long)B * m->cfg.latent_dim);
        double recon, kl;
        vae_forward(m, B, &recon, &kl);
        recon_sum += recon;
        kl_sum += kl;
    }
    out->recon = recon_sum / ds->n;
    out->kl = kl_sum / ds->n;
    out->loss = out->recon + out->kl;
    out->n = ds->n;
    if (!isfinite(out->loss))
        return elbo_fail(err, ELBO_ERR_NUMERIC, "evaluation loss is not finite");
    return ELBO_OK;
}

void elbo_vae_encode(elbo_vae *m, const float *x, int B, float *mu, float *logvar)
{
    int mb = m->cfg.max_batch, D = m->cfg.input_dim, Z = m->cfg.latent_dim;
    for (int start = 0; start < B; start += mb) {
        int n = B - start < mb ? B - start : mb;
        memcpy(m->x, x + (long)start * D, (size_t)n * D * sizeof(float));
        vae_encode_forward(m, n);
        if (mu) memcpy(mu + (long)start * Z, m->mu, (size_t)n * Z * sizeof(float));
        if (logvar) memcpy(logvar + (long)start * Z, m->logvar, (size_t)n * Z * sizeof(float));
    }
}

/* Decodes m->z (n rows) and writes mean images to out. */
static void decode_loaded(elbo_vae *m, int n, float *out)
{
    long nx = (long)n * m->cfg.input_dim;
    vae_decode_forward(m, n);
    if (m->cfg.likelihood == ELBO_LIK_BERNOULLI)
        sigmoid_forward(out, m->logits, nx);
    else
        memcpy(out, m->logits, (size_t)nx * sizeof(float));
}

void elbo_vae_decode(elbo_vae *m, const float *z, int B, float *out)
{
    int mb = m->cfg.max_batch, D = m->cfg.input_dim, Z = m->cfg.latent_dim;
    for (int start = 0; start < B; start += mb) {
        int n = B - start < mb ? B - start : mb;
        memcpy(m->z, z + (long)start * Z, (size_t)n * Z * sizeof(float));
        decode_loaded(m, n, out + (long)start * D);
    }
}

void elbo_vae_sample(elbo_vae *m, int n, uint64_t seed, float *out)
{
    elbo_rng rng;
    elbo_rng_seed(&rng, seed);
    int mb = m->cfg.max_batch, D = m->cfg.input_dim;
    for (int start = 0; start < n; start += mb) {
        int k = n - start < mb ? n - start : mb;
        elbo_rng_normal_fill(&rng, m->z, (long)k * m->cfg.latent_dim);
        decode_loaded(m, k, out + (long)start * D);
    }
}

void elbo_vae_reconstruct(elbo_vae *m, const float *x, int B, float *out)
{
    int mb = m->cfg.max_batch, D = m->cfg.input_dim, Z = m->cfg.latent_dim;
    for (int start = 0; start < B; start += mb) {
        int n = B - start < mb ? B - start : mb;
        memcpy(m->x, x + (long)start * D, (size_t)n * D * sizeof(float));
        vae_encode_forward(m, n);
        memcpy(m->z, m->mu, (size_t)n * Z * sizeof(float));
        decode_loaded(m, n, out + (long)start * D);
    }
}
