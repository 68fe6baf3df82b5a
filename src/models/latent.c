/* latent.c — statistics of the approximate posterior over a data set: KL per
 * latent dimension and active units (Burda et al. 2015), for diagnosing
 * posterior collapse.
 *
 * With a flow: a unit is active when the posterior's centre moves with x,
 * Cov_x(f(mu(x)))_jj > 0.01, f(mu) being z_K on the eps = 0 path (for a
 * collapsed unit q(z|x) is the prior whatever x, so f(mu(x)) is constant).
 * The per-dimension KL stays that of the base q0 against the prior: the
 * flow's KL does not split by dimension (docs/flows.md).
 *
 * With a second stochastic layer, z1's statistics are those of q(z1|x)
 * (its KL against N(0, I), not against p(z1|z2)), and z2's those of
 * q(z2|z1 = mu1(x)), the means path. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "../nn/ops.h"
#include "../util/fpenv.h"
#include "vae_internal.h"

int vae_latent_stats(elbo_vae *m, const elbo_dataset *ds, int layer, double *kl, double *mu_var,
                     elbo_error *err)
{
    ELBO_ASSERT(layer == 1 || (layer == 2 && m->cfg.latent2));
    int Z = layer == 1 ? m->cfg.latent_dim : m->cfg.latent2, mb = m->cfg.max_batch;
    if (vae_check_dataset(m, ds, err)) return -1;
    int n_chunks = (ds->n + mb - 1) / mb;
    /* per chunk: KL_j, sum mu_j, sum mu_j^2 (combined in chunk order, so the
     * result does not depend on the thread count) */
    double *acc = calloc((size_t)n_chunks * 3 * Z, sizeof(double));
    if (!acc) {
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for latent statistics");
        return -1;
    }
    int nt = m->base.n_workers < n_chunks ? m->base.n_workers : n_chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int c = 0; c < n_chunks; c++) {
        vae_worker *w = &m->w[omp_get_thread_num()];
        int start = c * mb, B = ds->n - start < mb ? ds->n - start : mb;
        unsigned fp = elbo_fp_flush_begin(); /* util/fpenv.h */
        vae_load_rows(m, w, NULL, ds, NULL, start, B, 0, 1);
        vae_encode_forward(m, w, B);
        double *a = acc + (size_t)c * 3 * Z;
        /* the posterior's centre: mu, or with a flow mu pushed through it;
         * z2: the mean of q(z2|z1 = mu1) */
        const float *ctr = w->mu;
        if (layer == 2) {
            memcpy(w->z, w->mu, sizeof(float) * (size_t)B * m->cfg.latent_dim);
            vae_hier_q2_forward(m, w, B);
            ctr = w->h.mu2;
            kl_normal_dims_forward(a, w->h.mu2, w->h.lv2, B, Z);
        } else {
            kl_normal_dims_forward(a, w->mu, w->logvar, B, Z);
        }
        if (m->cfg.flow != ELBO_FLOW_NONE) {
            vae_posterior_centre(m, w, B);
            ctr = w->z;
        }
        for (int r = 0; r < B; r++)
            for (int j = 0; j < Z; j++) {
                double v = ctr[(long)r * Z + j];
                a[Z + j] += v;
                a[2 * Z + j] += v * v;
            }
        elbo_fp_flush_end(fp);
    }
    int active = 0;
    for (int j = 0; j < Z; j++) {
        double k = 0, s = 0, s2 = 0;
        for (int c = 0; c < n_chunks; c++) {
            k += acc[(size_t)c * 3 * Z + j];
            s += acc[(size_t)c * 3 * Z + Z + j];
            s2 += acc[(size_t)c * 3 * Z + 2 * Z + j];
        }
        double mean = s / ds->n, var = s2 / ds->n - mean * mean;
        if (var < 0) var = 0;
        if (kl) kl[j] = k / ds->n;
        if (mu_var) mu_var[j] = var;
        active += var > 0.01;
    }
    free(acc);
    return active;
}

int elbo_vae_latent_stats(elbo_vae *m, const elbo_dataset *ds, double *kl, double *mu_var,
                          elbo_error *err)
{
    return vae_latent_stats(m, ds, 1, kl, mu_var, err);
}
