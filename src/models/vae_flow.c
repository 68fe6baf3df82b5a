/* vae_flow.c — the VAE's posterior stage: planar flows or IAF between the
 * base sample z0 = mu + sigma eps and the decoder's input z_K (nn/flow.h
 * has the math). Without a flow the VAE never calls in here.
 *
 * Layers (appended after the decoder's, vae_internal.h):
 *   planar  fc{L+1}_flow   h[L-1] -> K (2Z + 1)   every layer's (u, w, b), amortised
 *   IAF     fc{L+1}_ctx    h[L-1] -> C            the context (C = flow_hidden)
 *           iaf{t}.made_in   [z, ctx] (Z + C) -> H   masked, then the activation
 *           iaf{t}.made_out  H -> 2Z (m, then s)     masked; s's bias starts at +1
 * The masks (made_masks; alternate steps reverse the order) are constants
 * rebuilt from the config, not parameters: checkpoints do not carry them.
 *
 * The MC KL of a row: log q(z_K|x) - log p(z_K) = sum_j (-logvar_j/2 -
 * eps_j^2/2 + z_Kj^2/2) - sum_k log|det J_k| (the 2 pi terms cancel). */
#include <math.h>
#include <string.h>

#include "../nn/flow.h"
#include "../nn/ops.h"
#include "vae_internal.h"

#define W_(l) (m->base.params + (l)->w_off)
#define B_(l) (m->base.params + (l)->b_off)

int vae_flow_width(const elbo_vae_config *c)
{
    if (c->flow == ELBO_FLOW_PLANAR) return c->flow_len * (2 * c->latent_dim + 1);
    if (c->flow == ELBO_FLOW_IAF) return c->flow_hidden;
    return 0;
}

void vae_flow_layout(elbo_vae *m, void (*add)(elbo_vae *, const char *, int, int, int))
{
    const elbo_vae_config *c = &m->cfg;
    int L = c->n_hidden, Z = c->latent_dim, H = c->flow_hidden;
    char name[32];
    m->l_flow = m->l_iaf = -1;
    if (c->flow == ELBO_FLOW_NONE) return;
    snprintf(name, sizeof name, "fc%d_%s", L + 1, c->flow == ELBO_FLOW_PLANAR ? "flow" : "ctx");
    m->l_flow = m->n_layers;
    add(m, name, c->hidden[L - 1], vae_flow_width(c), 0);
    if (c->flow != ELBO_FLOW_IAF) return;
    m->l_iaf = m->n_layers;
    for (int t = 0; t < c->flow_len; t++) {
        snprintf(name, sizeof name, "iaf%d.made_in", t + 1);
        add(m, name, Z + H, H, 0);
        snprintf(name, sizeof name, "iaf%d.made_out", t + 1);
        add(m, name, H, 2 * Z, 0);
    }
}

int vae_flow_masks(elbo_vae *m)
{
    const elbo_vae_config *c = &m->cfg;
    if (c->flow != ELBO_FLOW_IAF) return 0;
    int Z = c->latent_dim, H = c->flow_hidden;
    size_t n_in = (size_t)H * (Z + H), n_out = (size_t)2 * Z * H;
    m->masks = malloc(sizeof(float) * (n_in + n_out) * (size_t)c->flow_len);
    if (!m->masks) return -1;
    for (int t = 0; t < c->flow_len; t++) {
        float *mi = m->masks + (n_in + n_out) * (size_t)t, *mo = mi + n_in;
        made_masks(mi, mo, Z, H, H, t % 2);
        m->layers[m->l_iaf + 2 * t].mask = mi;
        m->layers[m->l_iaf + 2 * t + 1].mask = mo;
    }
    return 0;
}

void vae_flow_init(elbo_vae *m)
{
    const elbo_vae_config *c = &m->cfg;
    if (c->flow != ELBO_FLOW_IAF) return;
    int Z = c->latent_dim;
    for (int t = 0; t < c->flow_len; t++) { /* sigma = sigmoid(s) near 0.73: the step
                                               starts close to the identity */
        float *b = B_(&m->layers[m->l_iaf + 2 * t + 1]);
        for (int j = 0; j < Z; j++) b[Z + j] += 1.0f;
    }
}

/* ------------------------------------------------------- worker buffers */

size_t vae_flow_carve(const elbo_vae *m, vae_flow_work *f, float *base, int cap)
{
    const elbo_vae_config *c = &m->cfg;
    size_t off = 0, B = (size_t)cap;
    int Z = c->latent_dim, H = c->flow_hidden, K = c->flow_len, F = vae_flow_width(c);
#define VIEW(ptr, count)                                                                       \
    do {                                                                                       \
        if (base) (ptr) = base + off;                                                          \
        off += ((size_t)(count) + 15) & ~(size_t)15;                                           \
    } while (0)
    if (c->flow == ELBO_FLOW_NONE) return 0;
    VIEW(f->head, B * F);
    VIEW(f->dhead, B * F);
    VIEW(f->fz, B * Z * K);
    VIEW(f->dza, B * Z);
    VIEW(f->dzb, B * Z);
    if (c->flow == ELBO_FLOW_IAF) {
        for (int t = 0; t < K; t++) {
            VIEW(f->icat[t], B * (Z + H));
            VIEW(f->ihid[t], B * H);
            VIEW(f->ims[t], B * 2 * Z);
            VIEW(f->dipre[t], B * H);
            VIEW(f->dims[t], B * 2 * Z);
            VIEW(f->wm_in[t], (size_t)H * (Z + H));
            VIEW(f->wm_out[t], (size_t)2 * Z * H);
        }
        VIEW(f->dihid, B * H);
        VIEW(f->dicat, B * (Z + H));
    }
#undef VIEW
    return off;
}

int vae_flow_worker_alloc(const elbo_vae *m, vae_flow_work *f, int cap)
{
    memset(f, 0, sizeof *f);
    if (m->cfg.flow == ELBO_FLOW_NONE) return 0;
    size_t n = vae_flow_carve(m, f, NULL, cap);
    f->buf = elbo_calloc_aligned(n, sizeof(float));
    f->ld = calloc((size_t)cap, sizeof(double));
    f->dld = calloc((size_t)cap, sizeof(double));
    if (!f->buf || !f->ld || !f->dld) return -1;
    vae_flow_carve(m, f, f->buf, cap);
    return 0;
}

void vae_flow_worker_free(vae_flow_work *f)
{
    elbo_free_aligned(f->buf);
    free(f->ld);
    free(f->dld);
    memset(f, 0, sizeof *f);
}

/* -------------------------------------------------------------- passes */

void vae_flow_head_forward(elbo_vae *m, vae_worker *w, int B)
{
    const vae_layer *l = &m->layers[m->l_flow];
    linear_forward(w->f.head, w->h_enc[m->cfg.n_hidden - 1], W_(l), B_(l), B, l->in, l->out);
}

void vae_flow_head_backward(elbo_vae *m, vae_worker *w, int B)
{
    const vae_layer *l = &m->layers[m->l_flow];
    linear_backward_data(w->dh_enc[m->cfg.n_hidden - 1], w->f.dhead, W_(l), B, l->in, l->out);
}

/* Step t of IAF on rows [0, R): zin -> zout, log-dets into w->f.ld. */
static void iaf_step_forward(elbo_vae *m, vae_worker *w, int t, const float *zin, float *zout,
                             int R, int rep, int ex0)
{
    vae_flow_work *f = &w->f;
    int Z = m->cfg.latent_dim, H = m->cfg.flow_hidden, I = Z + H;
    for (int r = 0; r < R; r++) {
        float *cat = f->icat[t] + (long)r * I;
        memcpy(cat, zin + (long)r * Z, sizeof(float) * (size_t)Z);
        memcpy(cat + Z, f->head + (long)(ex0 + r / rep) * H, sizeof(float) * (size_t)H);
    }
    const vae_layer *li = &m->layers[m->l_iaf + 2 * t], *lo = li + 1;
    masked_linear_forward(f->ihid[t], f->wm_in[t], f->icat[t], W_(li), li->mask, B_(li), R, I, H);
    activation_forward((int)m->cfg.activation, f->ihid[t], (long)R * H);
    masked_linear_forward(f->ims[t], f->wm_out[t], f->ihid[t], W_(lo), lo->mask, B_(lo), R, H,
                          2 * Z);
    iaf_gate_forward(zout, f->ld, zin, f->ims[t], R, Z);
}

void vae_flow_forward(elbo_vae *m, vae_worker *w, int R, int rep, int ex0)
{
    const elbo_vae_config *c = &m->cfg;
    vae_flow_work *f = &w->f;
    int Z = c->latent_dim, K = c->flow_len, F = vae_flow_width(c);
    size_t slab = (size_t)w->cap * Z;
    memset(f->ld, 0, sizeof(double) * (size_t)R);
    for (int k = 0; k < K; k++) {
        const float *zin = f->fz + slab * k;
        float *zout = k + 1 < K ? f->fz + slab * (k + 1) : w->z;
        if (c->flow == ELBO_FLOW_PLANAR)
            planar_forward(zout, f->ld, zin, f->head + (long)ex0 * F + (long)k * (2 * Z + 1), R,
                           rep, Z, F);
        else
            iaf_step_forward(m, w, k, zin, zout, R, rep, ex0);
    }
}

/* Step t of IAF backward: dzout -> dzin (accumulated), the context's
 * gradient into dhead, the layers' output gradients kept for grad.c. */
static void iaf_step_backward(elbo_vae *m, vae_worker *w, int t, const float *zin,
                              const float *dzout, float *dzin, int R, int rep)
{
    vae_flow_work *f = &w->f;
    int Z = m->cfg.latent_dim, H = m->cfg.flow_hidden, I = Z + H;
    memset(f->dims[t], 0, sizeof(float) * (size_t)R * 2 * Z);
    iaf_gate_backward(dzin, f->dims[t], dzout, f->dld, zin, f->ims[t], R, Z);
    memset(f->dihid, 0, sizeof(float) * (size_t)R * H);
    masked_linear_backward_data(f->dihid, f->dims[t], f->wm_out[t], R, H, 2 * Z);
    memset(f->dipre[t], 0, sizeof(float) * (size_t)R * H);
    activation_backward((int)m->cfg.activation, f->dipre[t], f->dihid, f->ihid[t], (long)R * H);
    memset(f->dicat, 0, sizeof(float) * (size_t)R * I);
    masked_linear_backward_data(f->dicat, f->dipre[t], f->wm_in[t], R, I, H);
    for (int r = 0; r < R; r++) {
        const float *d = f->dicat + (long)r * I;
        float *dz = dzin + (long)r * Z, *dc = f->dhead + (long)(r / rep) * H;
        for (int j = 0; j < Z; j++) dz[j] += d[j];
        for (int j = 0; j < H; j++) dc[j] += d[Z + j];
    }
}

const float *vae_flow_backward(elbo_vae *m, vae_worker *w, int R, int rep)
{
    const elbo_vae_config *c = &m->cfg;
    vae_flow_work *f = &w->f;
    int Z = c->latent_dim, K = c->flow_len, F = vae_flow_width(c);
    size_t slab = (size_t)w->cap * Z;
    const float *cur = w->dz;
    for (int k = K - 1; k >= 0; k--) {
        float *nxt = k % 2 ? f->dzb : f->dza;
        memset(nxt, 0, sizeof(float) * (size_t)R * Z);
        const float *zin = f->fz + slab * k;
        if (c->flow == ELBO_FLOW_PLANAR)
            planar_backward(nxt, f->dhead + (long)k * (2 * Z + 1), cur, f->dld, zin,
                            f->head + (long)k * (2 * Z + 1), R, rep, Z, F);
        else
            iaf_step_backward(m, w, k, zin, cur, nxt, R, rep);
        cur = nxt;
    }
    return cur;
}

void vae_flow_zero_dgrads(elbo_vae *m, vae_worker *w, int n_enc)
{
    memset(w->f.dhead, 0, sizeof(float) * (size_t)n_enc * vae_flow_width(&m->cfg));
}

/* ----------------------------------------------------------- the MC KL */

double vae_flow_kl_row(const elbo_vae *m, const vae_worker *w, int r, const float *logvar)
{
    int Z = m->cfg.latent_dim;
    const float *e = w->eps + (long)r * Z, *z = w->z + (long)r * Z;
    double s = -w->f.ld[r];
    for (int j = 0; j < Z; j++)
        s += 0.5 * ((double)z[j] * z[j] - (double)e[j] * e[j] - (double)logvar[j]);
    return s;
}

double vae_flow_kl_forward(elbo_vae *m, vae_worker *w, int B)
{
    int Z = m->cfg.latent_dim;
    double sum = 0.0;
    for (int r = 0; r < B; r++) sum += vae_flow_kl_row(m, w, r, w->logvar + (long)r * Z);
    return sum;
}

void vae_flow_kl_backward(elbo_vae *m, vae_worker *w, int B, float scale)
{
    int Z = m->cfg.latent_dim;
    long n = (long)B * Z;
    for (long i = 0; i < n; i++) w->dz[i] += scale * w->z[i]; /* -log p(z_K) */
    for (int r = 0; r < B; r++) w->f.dld[r] = -scale;        /* -log|det| */
    const float *dz0 = vae_flow_backward(m, w, B, 1);
    reparam_backward(w->dmu, w->dlogvar, dz0, w->logvar, w->eps, n);
    for (long i = 0; i < n; i++) w->dlogvar[i] -= 0.5f * scale; /* log q0's -logvar/2 */
}
