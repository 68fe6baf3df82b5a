/* score.c — one number per example for anomaly detection: the -ELBO, the
 * IW estimate of -log p(x), or the squared reconstruction error. Higher
 * means less like the training data. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "../nn/ops.h"
#include "../util/fpenv.h"
#include "vae_internal.h"

elbo_status elbo_vae_score(elbo_vae *m, const elbo_dataset *ds, elbo_score_kind kind, int K,
                           uint64_t seed, double *scores, elbo_error *err)
{
    int D = m->cfg.input_dim, Z = m->cfg.latent_dim, mb = m->cfg.max_batch;
    if (kind == ELBO_SCORE_IW) {
        double mean;
        return elbo_vae_eval_iw(m, ds, K, seed, NULL, NULL, &mean, scores, err);
    }
    if (kind != ELBO_SCORE_ELBO && kind != ELBO_SCORE_RECON)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown score kind %d", (int)kind);
    elbo_status dst = vae_check_dataset(m, ds, err);
    if (dst) return dst;
    int n_chunks = (ds->n + mb - 1) / mb;
    int nt = m->base.n_workers < n_chunks ? m->base.n_workers : n_chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int c = 0; c < n_chunks; c++) {
        vae_worker *w = &m->w[omp_get_thread_num()];
        int start = c * mb, B = ds->n - start < mb ? ds->n - start : mb;
        unsigned fp = elbo_fp_flush_begin(); /* util/fpenv.h */
        vae_load_rows(m, w, NULL, ds, NULL, start, B, 0, seed);
        if (kind == ELBO_SCORE_ELBO) {
            /* the same draw as elbo_vae_eval with this seed */
            elbo_rng rng;
            elbo_rng_seed(&rng, seed + 0x9e3779b97f4a7c15ULL * (uint64_t)c);
            elbo_rng_normal_fill(&rng, w->eps, (long)B * Z);
            if (m->cfg.latent2) elbo_rng_normal_fill(&rng, w->h.eps2, (long)B * m->cfg.latent2);
            vae_forward(m, w, B);
            vae_recon_forward(m, w->probs, w->logits, w->x, D, B, scores + start);
            for (int r = 0; r < B; r++)
                scores[start + r] += m->cfg.flow != ELBO_FLOW_NONE
                    ? vae_flow_kl_row(m, w, r, w->logvar + (long)r * Z)
                    : m->cfg.latent2 ? w->h.lr[r]
                    : kl_normal_forward(w->mu + (long)r * Z, w->logvar + (long)r * Z, Z);
        } else {
            vae_encode_forward(m, w, B);
            vae_posterior_centre(m, w, B);
            vae_decode_forward(m, w, B);
            if (m->cfg.likelihood == ELBO_LIK_BERNOULLI)
                sigmoid_forward(w->probs, w->logits, (long)B * D);
            else
                memcpy(w->probs, w->logits, sizeof(float) * (size_t)B * D);
            for (int r = 0; r < B; r++) {
                double s = 0;
                for (int k = 0; k < D; k++) {
                    double d = (double)w->x[(long)r * D + k] - w->probs[(long)r * D + k];
                    s += d * d;
                }
                scores[start + r] = s;
            }
        }
        elbo_fp_flush_end(fp);
    }
    return ELBO_OK;
}
