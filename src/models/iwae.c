/* iwae.c — the importance-weighted autoencoder objective (Burda et al. 2015):
 * for each example, K latents z_k = mu + sigma * eps_k are decoded and
 *   L = log (1/K) sum_k w_k,  log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)
 *     = -recon_k - |z_k|^2/2 + |eps_k|^2/2 + sum(logvar)/2   (2 pi terms cancel).
 * The gradient of -L is that of the K log-weights, each weighted by its
 * normalised importance weight w~_k = softmax_k(log w_k). K = 1 is the ELBO
 * with a sampled KL. Rows of the decoder are example-major: row i*K + k.
 * With a flow, z_k is the flow's output and log w_k gains + log|det J|
 * (log q(z_K) = log q0(z0) - log|det J|); the K samples of an example share
 * its flow parameters.
 * A KL schedule (warm-up, cycles, beta) tempers the latent part of each
 * log-weight: log w_k = log p(x|z_k) + beta (log p(z_k) - log q(z_k|x)),
 * so the normalised weights and the gradient are those of the tempered
 * bound, while the bound reported (w->iwae) is always the beta = 1 one.
 * beta = 1 is Burda et al.'s objective. */
#include <math.h>
#include <string.h>

#include "../nn/ops.h"
#include "../util/lme.h"
#include "vae_internal.h"

void vae_forward_iwae(elbo_vae *m, vae_worker *w, int n, int K)
{
    int Z = m->cfg.latent_dim, D = m->cfg.input_dim, R = n * K;
    int flow = m->cfg.flow != ELBO_FLOW_NONE;
    float *z0 = vae_z0(w, flow);
    vae_encode_forward(m, w, n);
    for (int i = 0; i < n; i++) {
        const float *mu = w->mu + (long)i * Z, *lv = w->logvar + (long)i * Z;
        for (int k = 0; k < K; k++) {
            long r = (long)i * K + k;
            reparam_forward(z0 + r * Z, mu, lv, w->eps + r * Z, Z);
        }
    }
    if (flow) vae_flow_forward(m, w, R, K, 0);
    int hier = m->cfg.latent2 > 0;
    if (hier) vae_hier_forward(m, w, R, K, 0, 1);
    vae_decode_forward(m, w, R);
    double kl_mc = 0.0, beta = m->iw_beta;
    double rec_sum = 0.0, bound = 0.0, bound_t = 0.0;
    for (int i = 0; i < n; i++) {
        const float *x = w->x + (long)i * D, *lv = w->logvar + (long)i * Z;
        double half_lv = 0.0;
        for (int j = 0; j < Z; j++) half_lv += 0.5 * lv[j];
        elbo_lme acc, acc1; /* the tempered log-weights; beta = 1's (when beta != 1) */
        elbo_lme_init(&acc);
        elbo_lme_init(&acc1);
        for (int k = 0; k < K; k++) {
            long r = (long)i * K + k;
            const float *z = w->z + r * Z, *e = w->eps + r * Z;
            double rec;
            vae_recon_forward(m, w->probs + r * D, w->logits + r * D, x, 0, 1, &rec);
            double lat = half_lv; /* log p(z) - log q(z|x) */
            if (hier) { /* the prior of z1 is p(z1|z2); z2's own terms */
                for (int j = 0; j < Z; j++) lat += 0.5 * (double)e[j] * e[j];
                lat -= w->h.lr[r];
            } else {
                for (int j = 0; j < Z; j++) lat += 0.5 * ((double)e[j] * e[j] - (double)z[j] * z[j]);
            }
            if (flow) {
                lat += w->f.ld[r];
                kl_mc += vae_flow_kl_row(m, w, (int)r, lv) / K;
            }
            double lw = -rec + beta * lat;
            w->lw[r] = lw;
            rec_sum += rec / K;
            elbo_lme_add(&acc, lw);
            if (beta != 1.0) elbo_lme_add(&acc1, -rec + lat);
        }
        double L = elbo_lme_result(&acc);
        bound_t -= L;
        bound -= beta == 1.0 ? L : elbo_lme_result(&acc1);
        /* normalised weights: exp(lw - log sum exp) = exp(lw - L - log K) */
        for (int k = 0; k < K; k++) {
            long r = (long)i * K + k;
            w->lw[r] = exp(w->lw[r] - L - log((double)K));
        }
    }
    w->recon = rec_sum;
    w->kl = flow ? kl_mc
            : hier ? w->h.kl1 + w->h.kl2
                   : kl_normal_dims_forward(w->kl_dims, w->mu, w->logvar, n, Z);
    w->iwae = bound;
    w->iwae_t = bound_t;
}

void vae_backward_iwae(elbo_vae *m, vae_worker *w, int n, int K)
{
    int Z = m->cfg.latent_dim, D = m->cfg.input_dim, R = n * K;
    vae_zero_dgrads(m, w, n, R);
    /* d(-L)/d recon_k = w~_k, example by example (its K rows share x) */
    for (int i = 0; i < n; i++) {
        long r0 = (long)i * K;
        vae_recon_backward(m, w, w->dlogits + r0 * D, w->probs + r0 * D, w->logits + r0 * D,
                           w->x + (long)i * D, 0, K, w->lw + r0);
    }
    vae_decoder_backward(m, w, R);
    float beta = m->iw_beta; /* the latent terms' weights are beta w~_k */
    if (beta != 1.0f)
        for (long r = 0; r < R; r++) w->lw[r] *= beta;
    int flow = m->cfg.flow != ELBO_FLOW_NONE;
    if (m->cfg.latent2) /* -log p(z1|z2) and z2's terms, weighted */
        vae_hier_backward(m, w, R, K, 1, 0.0f, w->lw);
    else
        for (long r = 0; r < R; r++) {
            float wt = (float)w->lw[r], *dz = w->dz + r * Z;
            const float *z = w->z + r * Z;
            for (int j = 0; j < Z; j++) dz[j] += wt * z[j]; /* the prior's -|z|^2/2 */
            if (flow) w->f.dld[r] = -w->lw[r];               /* the flow's +log|det J| */
        }
    const float *dz0 = flow ? vae_flow_backward(m, w, R, K) : w->dz;
    for (int i = 0; i < n; i++) {
        float *dmu = w->dmu + (long)i * Z, *dlv = w->dlogvar + (long)i * Z;
        const float *lv = w->logvar + (long)i * Z;
        for (int k = 0; k < K; k++) {
            long r = (long)i * K + k;
            reparam_backward(dmu, dlv, dz0 + r * Z, lv, w->eps + r * Z, Z);
        }
        for (int j = 0; j < Z; j++) dlv[j] -= 0.5f * beta; /* sum(logvar)/2, weights sum to 1 */
    }
    vae_encoder_backward(m, w, n);
}
