/* vae_hier.c — the VAE's second stochastic layer (Burda et al. 2015):
 *   q(z1|x) q(z2|z1)  and  p(z2) p(z1|z2) p(x|z1),
 * z1 being the VAE's latent (its encoder and decoder unchanged) and z2 the
 * new top layer with the prior N(0, I). Layout in vae_internal.h.
 *
 * Per z1 sample (row r, of example r / rep):
 *   C_r = log q(z1|x) + const  = sum_j (-logvar1_j/2 - eps1_j^2/2)
 *   A_r = -log p(z1|z2) - const = sum_j (plv_j/2 + (z1_j - pmu_j)^2 / (2 e^plv_j))
 *   the ELBO's KLs: kl1 = C + A (one sample), kl2 = KL(q(z2|z1) || N(0, I))
 *   (closed form given z1);
 *   the IW log-weight: -rec - C - A - (log q(z2|z1) - log p(z2)), the last
 *   by its one sample sum_j (z2_j^2/2 - eps2_j^2/2 - logvar2_j/2).
 * The 2 pi terms cancel between the densities of each layer. */
#include <math.h>
#include <string.h>

#include "../nn/ops.h"
#include "vae_internal.h"

#define W_(l) (m->base.params + (l)->w_off)
#define B_(l) (m->base.params + (l)->b_off)

void vae_hier_layout(elbo_vae *m, void (*add)(elbo_vae *, const char *, int, int, int))
{
    const elbo_vae_config *c = &m->cfg;
    int L2 = c->n_hidden2, Z1 = c->latent_dim, Z2 = c->latent2;
    char name[32];
    m->l_q2 = m->l_p1 = -1;
    if (!Z2) return;
    m->l_q2 = m->n_layers;
    for (int i = 0; i < L2; i++) {
        snprintf(name, sizeof name, "q2_fc%d", i + 1);
        add(m, name, i ? c->hidden2[i - 1] : Z1, c->hidden2[i], 0);
    }
    add(m, "q2_mu", c->hidden2[L2 - 1], Z2, 0);
    add(m, "q2_logvar", c->hidden2[L2 - 1], Z2, 0);
    m->l_p1 = m->n_layers;
    for (int j = 0; j < L2; j++) {
        snprintf(name, sizeof name, "p1_fc%d", j + 1);
        add(m, name, j ? c->hidden2[L2 - j] : Z2, c->hidden2[L2 - 1 - j], 0);
    }
    add(m, "p1_mu", c->hidden2[0], Z1, 0);
    add(m, "p1_logvar", c->hidden2[0], Z1, 0);
}

static size_t carve(const elbo_vae *m, vae_hier_work *h, float *base, int cap)
{
    const elbo_vae_config *c = &m->cfg;
    size_t off = 0, B = (size_t)cap;
    int L2 = c->n_hidden2, Z1 = c->latent_dim, Z2 = c->latent2;
#define VIEW(ptr, count)                                                                       \
    do {                                                                                       \
        if (base) (ptr) = base + off;                                                          \
        off += ((size_t)(count) + 15) & ~(size_t)15;                                           \
    } while (0)
    for (int i = 0; i < L2; i++) {
        VIEW(h->hq[i], B * c->hidden2[i]);
        VIEW(h->dhq[i], B * c->hidden2[i]);
        VIEW(h->dpreq[i], B * c->hidden2[i]);
        VIEW(h->hp[i], B * c->hidden2[L2 - 1 - i]);
        VIEW(h->dhp[i], B * c->hidden2[L2 - 1 - i]);
        VIEW(h->dprep[i], B * c->hidden2[L2 - 1 - i]);
    }
    VIEW(h->mu2, B * Z2);
    VIEW(h->lv2, B * Z2);
    VIEW(h->eps2, B * Z2);
    VIEW(h->z2, B * Z2);
    VIEW(h->dmu2, B * Z2);
    VIEW(h->dlv2, B * Z2);
    VIEW(h->dz2, B * Z2);
    VIEW(h->pmu, B * Z1);
    VIEW(h->plv, B * Z1);
    VIEW(h->dpmu, B * Z1);
    VIEW(h->dplv, B * Z1);
#undef VIEW
    return off;
}

int vae_hier_worker_alloc(const elbo_vae *m, vae_hier_work *h, int cap)
{
    memset(h, 0, sizeof *h);
    if (!m->cfg.latent2) return 0;
    h->buf = elbo_calloc_aligned(carve(m, h, NULL, cap), sizeof(float));
    h->lr = calloc((size_t)cap, sizeof(double));
    if (!h->buf || !h->lr) return -1;
    carve(m, h, h->buf, cap);
    return 0;
}

void vae_hier_worker_free(vae_hier_work *h)
{
    elbo_free_aligned(h->buf);
    free(h->lr);
    memset(h, 0, sizeof *h);
}

/* An MLP stack of L layers from in [R, I] through the hidden layers (the
 * activation after each) into the two heads (mean, logvar). */
static void stack_forward(elbo_vae *m, int l0, int L, const float *in, float **h, float *mean,
                          float *logvar, int R)
{
    for (int i = 0; i < L; i++) {
        const vae_layer *l = &m->layers[l0 + i];
        linear_forward(h[i], i ? h[i - 1] : in, W_(l), B_(l), R, l->in, l->out);
        activation_forward((int)m->cfg.activation, h[i], (long)R * l->out);
    }
    const vae_layer *lm = &m->layers[l0 + L], *lv = lm + 1;
    linear_forward(mean, h[L - 1], W_(lm), B_(lm), R, lm->in, lm->out);
    linear_forward(logvar, h[L - 1], W_(lv), B_(lv), R, lv->in, lv->out);
}

/* Its backward: from the heads' gradients down to din (accumulated). */
static void stack_backward(elbo_vae *m, int l0, int L, float *din, float **h, float **dh,
                           float **dpre, const float *dmean, const float *dlogvar, int R)
{
    const vae_layer *lm = &m->layers[l0 + L], *lv = lm + 1;
    linear_backward_data(dh[L - 1], dmean, W_(lm), R, lm->in, lm->out);
    linear_backward_data(dh[L - 1], dlogvar, W_(lv), R, lv->in, lv->out);
    for (int i = L - 1; i >= 0; i--) {
        const vae_layer *l = &m->layers[l0 + i];
        activation_backward((int)m->cfg.activation, dpre[i], dh[i], h[i], (long)R * l->out);
        linear_backward_data(i ? dh[i - 1] : din, dpre[i], W_(l), R, l->in, l->out);
    }
}

void vae_hier_forward(elbo_vae *m, vae_worker *w, int R, int rep, int ex0, int iw)
{
    const elbo_vae_config *c = &m->cfg;
    vae_hier_work *h = &w->h;
    int L2 = c->n_hidden2, Z1 = c->latent_dim, Z2 = c->latent2;
    stack_forward(m, m->l_q2, L2, w->z, h->hq, h->mu2, h->lv2, R);
    reparam_forward(h->z2, h->mu2, h->lv2, h->eps2, (long)R * Z2);
    stack_forward(m, m->l_p1, L2, h->z2, h->hp, h->pmu, h->plv, R);
    const double half_log_2pi = 0.91893853320467274178;
    double kl1 = 0.0, kl2 = 0.0;
    for (int r = 0; r < R; r++) {
        long o1 = (long)r * Z1, o2 = (long)r * Z2;
        const float *lv1 = w->logvar + (long)(ex0 + r / rep) * Z1, *e1 = w->eps + o1;
        double A = normal_nll_forward(w->z + o1, h->pmu + o1, h->plv + o1, Z1) - Z1 * half_log_2pi;
        double C = 0.0, q2 = 0.0;
        for (int j = 0; j < Z1; j++) C -= 0.5 * ((double)lv1[j] + (double)e1[j] * e1[j]);
        for (int j = 0; j < Z2; j++) {
            double z = h->z2[o2 + j], e = h->eps2[o2 + j];
            q2 += 0.5 * (z * z - e * e - h->lv2[o2 + j]);
        }
        double k2 = iw ? q2 : kl_normal_forward(h->mu2 + o2, h->lv2 + o2, Z2);
        h->lr[r] = iw ? A + q2 : C + A + k2;
        kl1 += (C + A) / rep;
        kl2 += k2 / rep;
    }
    h->kl1 = kl1;
    h->kl2 = kl2;
}

void vae_hier_q2_forward(elbo_vae *m, vae_worker *w, int B)
{
    stack_forward(m, m->l_q2, m->cfg.n_hidden2, w->z, w->h.hq, w->h.mu2, w->h.lv2, B);
}

void vae_hier_zero_dgrads(elbo_vae *m, vae_worker *w, int R)
{
    const elbo_vae_config *c = &m->cfg;
    vae_hier_work *h = &w->h;
    int L2 = c->n_hidden2;
    for (int i = 0; i < L2; i++) {
        size_t nq = sizeof(float) * (size_t)R * c->hidden2[i],
               np = sizeof(float) * (size_t)R * c->hidden2[L2 - 1 - i];
        memset(h->dhq[i], 0, nq);
        memset(h->dpreq[i], 0, nq);
        memset(h->dhp[i], 0, np);
        memset(h->dprep[i], 0, np);
    }
    size_t n2 = sizeof(float) * (size_t)R * c->latent2, n1 = sizeof(float) * (size_t)R * c->latent_dim;
    memset(h->dmu2, 0, n2);
    memset(h->dlv2, 0, n2);
    memset(h->dz2, 0, n2);
    memset(h->dpmu, 0, n1);
    memset(h->dplv, 0, n1);
}

void vae_hier_backward(elbo_vae *m, vae_worker *w, int R, int rep, int iw, float scale,
                       const double *row_scale)
{
    (void)rep;
    const elbo_vae_config *c = &m->cfg;
    vae_hier_work *h = &w->h;
    int L2 = c->n_hidden2, Z1 = c->latent_dim, Z2 = c->latent2;
    for (int r = 0; r < R; r++) {
        float s = row_scale ? (float)row_scale[r] : scale;
        long o1 = (long)r * Z1, o2 = (long)r * Z2;
        /* A: -log p(z1|z2), in z1 and in p's mean and log-variance */
        normal_nll_backward(w->dz + o1, h->dpmu + o1, h->dplv + o1, w->z + o1, h->pmu + o1,
                            h->plv + o1, Z1, s);
        if (iw) /* z2^2/2 - lv2/2 (eps2 is noise) */
            for (int j = 0; j < Z2; j++) {
                h->dz2[o2 + j] += s * h->z2[o2 + j];
                h->dlv2[o2 + j] -= 0.5f * s;
            }
        else
            kl_normal_backward(h->dmu2 + o2, h->dlv2 + o2, h->mu2 + o2, h->lv2 + o2, Z2, s);
    }
    /* C's -logvar1/2 is the caller's (it belongs to the z1 reparameterisation) */
    stack_backward(m, m->l_p1, L2, h->dz2, h->hp, h->dhp, h->dprep, h->dpmu, h->dplv, R);
    reparam_backward(h->dmu2, h->dlv2, h->dz2, h->lv2, h->eps2, (long)R * Z2);
    stack_backward(m, m->l_q2, L2, w->dz, h->hq, h->dhq, h->dpreq, h->dmu2, h->dlv2, R);
}

void vae_hier_top_down(elbo_vae *m, vae_worker *w, int n, elbo_rng *rng)
{
    const elbo_vae_config *c = &m->cfg;
    vae_hier_work *h = &w->h;
    long n1 = (long)n * c->latent_dim;
    elbo_rng_normal_fill(rng, h->z2, (long)n * c->latent2);
    stack_forward(m, m->l_p1, c->n_hidden2, h->z2, h->hp, h->pmu, h->plv, n);
    elbo_rng_normal_fill(rng, w->eps, n1);
    reparam_forward(w->z, h->pmu, h->plv, w->eps, n1);
}

int vae_hier_layer_io(const elbo_vae *m, const vae_worker *w, int li, const float **in,
                      const float **dout, int *rows)
{
    if (m->l_q2 < 0 || li < m->l_q2) return 0;
    const vae_hier_work *h = &w->h;
    int L2 = m->cfg.n_hidden2;
    int p = li >= m->l_p1, k = li - (p ? m->l_p1 : m->l_q2);
    *rows = w->n_dec;
    if (k < L2) {
        *in = k ? (p ? h->hp : h->hq)[k - 1] : p ? h->z2 : w->z;
        *dout = (p ? h->dprep : h->dpreq)[k];
    } else {
        *in = (p ? h->hp : h->hq)[L2 - 1];
        *dout = k == L2 ? (p ? h->dpmu : h->dmu2) : (p ? h->dplv : h->dlv2);
    }
    return 1;
}
