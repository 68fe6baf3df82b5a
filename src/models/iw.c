/* iw.c — importance-weighted estimates of log p(x) (Burda et al. 2015):
 *   log p(x) ~ log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),  z_k ~ q(z|x),
 * a lower bound that tightens as K grows (K = 1 is the ELBO). Each example
 * is encoded once; its K latents are decoded in blocks of max_batch rows.
 * With a flow, z_k is the flow's output and log q(z_k|x) = log q0(z0) -
 * log|det J|. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "../nn/ops.h"
#include "../util/fpenv.h"
#include "../util/lme.h"
#include "vae_internal.h"

/* -log p(x) estimate for row e of w's encoded chunk, K samples. */
static double iw_one(elbo_vae *m, vae_worker *w, int e, int K, uint64_t key)
{
    int Z = m->cfg.latent_dim, D = m->cfg.input_dim, mb = m->cfg.max_batch;
    const float *mu = w->mu + (long)e * Z, *lv = w->logvar + (long)e * Z, *x = w->x + (long)e * D;
    double half_sum_lv = 0.0;
    float sd[4096];
    for (int j = 0; j < Z; j++) {
        half_sum_lv += 0.5 * lv[j];
        sd[j] = expf(0.5f * lv[j]);
    }
    elbo_rng rng;
    elbo_rng_seed(&rng, key);
    elbo_lme acc;
    elbo_lme_init(&acc);
    for (int k0 = 0; k0 < K; k0 += mb) {
        int n = K - k0 < mb ? K - k0 : mb;
        double lw[1024];
        int flow = m->cfg.flow != ELBO_FLOW_NONE, hier = m->cfg.latent2 > 0;
        for (int r = 0; r < n; r++) {
            /* log p(z) - log q(z|x) = -z^2/2 + eps^2/2 + sum(logvar)/2 (the
             * 2 pi terms cancel) */
            double s = half_sum_lv;
            float *z = vae_z0(w, flow) + (long)r * Z;
            for (int j = 0; j < Z; j++) {
                float eps = (float)elbo_rng_normal(&rng);
                z[j] = mu[j] + sd[j] * eps;
                s += flow || hier ? 0.5 * (double)eps * eps
                                  : 0.5 * ((double)eps * eps - (double)z[j] * z[j]);
            }
            lw[r] = s;
        }
        if (hier) { /* z2 ~ q(z2|z1) for each z1; the prior of z1 is p(z1|z2) */
            elbo_rng_normal_fill(&rng, w->h.eps2, (long)n * m->cfg.latent2);
            vae_hier_forward(m, w, n, n, e, 1);
            for (int r = 0; r < n; r++) lw[r] -= w->h.lr[r];
        }
        if (flow) { /* z_K = f(z0); log q gains -log|det J| */
            vae_flow_forward(m, w, n, n, e);
            for (int r = 0; r < n; r++) {
                const float *z = w->z + (long)r * Z;
                double s = w->f.ld[r];
                for (int j = 0; j < Z; j++) s -= 0.5 * (double)z[j] * z[j];
                lw[r] += s;
            }
        }
        vae_decode_forward(m, w, n);
        double rec[1024];
        vae_recon_forward(m, w->probs, w->logits, x, 0, n, rec);
        for (int r = 0; r < n; r++) elbo_lme_add(&acc, lw[r] - rec[r]);
    }
    return -elbo_lme_result(&acc);
}

elbo_status elbo_vae_eval_iw(elbo_vae *m, const elbo_dataset *ds, int K, uint64_t seed,
                             elbo_progress_fn progress, void *user, double *nll_mean,
                             double *nll_each, elbo_error *err)
{
    int mb = m->cfg.max_batch;
    elbo_status dst = vae_check_dataset(m, ds, err);
    if (dst) return dst;
    if (K < 1 || K > 10000000)
        return elbo_fail(err, ELBO_ERR_ARG, "K = %d importance samples out of range 1..10^7", K);
    if (m->cfg.latent_dim > 4096 || mb > 1024)
        return elbo_fail(err, ELBO_ERR_ARG, "IW estimates need latent_dim <= 4096 and max_batch <= 1024");
    int n_chunks = (ds->n + mb - 1) / mb;
    double *each = nll_each ? nll_each : malloc(sizeof(double) * (size_t)ds->n);
    if (!each) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d estimates", ds->n);
    int nt = m->base.n_workers < n_chunks ? m->base.n_workers : n_chunks, done = 0;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int c = 0; c < n_chunks; c++) {
        vae_worker *w = &m->w[omp_get_thread_num()];
        int start = c * mb, B = ds->n - start < mb ? ds->n - start : mb;
        unsigned fp = elbo_fp_flush_begin(); /* util/fpenv.h: saturated pixels */
        vae_load_rows(m, w, NULL, ds, NULL, start, B, 0, seed);
        vae_encode_forward(m, w, B);
        for (int e = 0; e < B; e++)
            each[start + e] = iw_one(m, w, e, K, seed * 0x9e3779b97f4a7c15ULL + (uint64_t)(start + e));
        elbo_fp_flush_end(fp);
        if (progress) {
#pragma omp critical
            {
                done++;
                progress(user, done, n_chunks, NAN);
            }
        }
    }
    double sum = 0.0;
    for (int i = 0; i < ds->n; i++) sum += each[i];
    if (!nll_each) free(each);
    *nll_mean = sum / ds->n;
    if (!isfinite(*nll_mean)) return elbo_fail(err, ELBO_ERR_NUMERIC, "the IW estimate is not finite");
    return ELBO_OK;
}
