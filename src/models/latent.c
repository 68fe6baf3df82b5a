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
#include "../util/symeig.h"
#include "vae_internal.h"

/* One chunk's posterior centres: rows start .. start + B - 1 loaded and
 * encoded on w; the per-dimension KL added into kl_acc [Z] (when not NULL).
 * Returns the centres [B, Z] (w's buffers): mu, or with a flow mu pushed
 * through it; for z2 the mean of q(z2|z1 = mu1). */
static const float *chunk_centres(elbo_vae *m, vae_worker *w, const elbo_dataset *ds, int start, int B,
                                  int layer, double *kl_acc)
{
    vae_load_rows(m, w, NULL, ds, NULL, start, B, 0, 1);
    vae_encode_forward(m, w, B);
    const float *ctr = w->mu;
    if (layer == 2) {
        memcpy(w->z, w->mu, sizeof(float) * (size_t)B * m->cfg.latent_dim);
        vae_hier_q2_forward(m, w, B);
        ctr = w->h.mu2;
        if (kl_acc) kl_normal_dims_forward(kl_acc, w->h.mu2, w->h.lv2, B, m->cfg.latent2);
    } else if (kl_acc) {
        kl_normal_dims_forward(kl_acc, w->mu, w->logvar, B, m->cfg.latent_dim);
    }
    if (m->cfg.flow != ELBO_FLOW_NONE) {
        vae_posterior_centre(m, w, B);
        ctr = w->z;
    }
    return ctr;
}

/* The eigenvalues [Z], descending, of the covariance over n rows of the
 * centres all [n, Z]: in double, rows in order (the result does not depend
 * on the thread count). Returns how many exceed 0.01, or -1 with err. */
static int centre_eigs(const float *all, int n, int Z, double *eig, elbo_error *err)
{
    double *cov = calloc((size_t)Z * Z + 2 * (size_t)Z, sizeof(double));
    if (!cov) {
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the centres' covariance");
        return -1;
    }
    double *mean = cov + (size_t)Z * Z, *d = mean + Z;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < Z; j++) mean[j] += all[(size_t)i * Z + j];
    for (int j = 0; j < Z; j++) mean[j] /= n;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < Z; j++) d[j] = all[(size_t)i * Z + j] - mean[j];
        for (int j = 0; j < Z; j++)
            for (int k = j; k < Z; k++) cov[(size_t)j * Z + k] += d[j] * d[k];
    }
    for (int j = 0; j < Z; j++)
        for (int k = j; k < Z; k++) cov[(size_t)k * Z + j] = cov[(size_t)j * Z + k] /= n;
    int sweeps = elbo_symeig(cov, Z, eig);
    free(cov);
    if (sweeps < 0) {
        elbo_fail(err, ELBO_ERR_NUMERIC, "the centres' covariance did not diagonalise in 100 sweeps");
        return -1;
    }
    int active = 0;
    for (int j = 0; j < Z; j++) active += eig[j] > 0.01;
    return active;
}

int vae_latent_stats(elbo_vae *m, const elbo_dataset *ds, int layer, double *kl, double *mu_var,
                     double *eig, int *n_dims, elbo_error *err)
{
    ELBO_ASSERT(layer == 1 || (layer == 2 && m->cfg.latent2));
    ELBO_ASSERT(!eig == !n_dims);
    int Z = layer == 1 ? m->cfg.latent_dim : m->cfg.latent2, mb = m->cfg.max_batch;
    if (vae_check_dataset(m, ds, err)) return -1;
    if (eig && Z > 512) {
        elbo_fail(err, ELBO_ERR_ARG, "active dimensions need a latent size <= 512 (it is %d)", Z);
        return -1;
    }
    int n_chunks = (ds->n + mb - 1) / mb;
    /* per chunk: KL_j, sum mu_j, sum mu_j^2 (combined in chunk order, so the
     * result does not depend on the thread count); every centre for eig */
    double *acc = calloc((size_t)n_chunks * 3 * Z, sizeof(double));
    float *all = eig ? malloc(sizeof(float) * (size_t)ds->n * Z) : NULL;
    if (!acc || (eig && !all)) {
        free(acc);
        free(all);
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for latent statistics");
        return -1;
    }
    int nt = m->base.n_workers < n_chunks ? m->base.n_workers : n_chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int c = 0; c < n_chunks; c++) {
        vae_worker *w = &m->w[omp_get_thread_num()];
        int start = c * mb, B = ds->n - start < mb ? ds->n - start : mb;
        unsigned fp = elbo_fp_flush_begin(); /* util/fpenv.h */
        double *a = acc + (size_t)c * 3 * Z;
        const float *ctr = chunk_centres(m, w, ds, start, B, layer, a);
        if (all) memcpy(all + (size_t)start * Z, ctr, sizeof(float) * (size_t)B * Z);
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
    if (eig) {
        *n_dims = centre_eigs(all, ds->n, Z, eig, err);
        free(all);
        if (*n_dims < 0) return -1;
    }
    return active;
}

int elbo_vae_latent_stats(elbo_vae *m, const elbo_dataset *ds, double *kl, double *mu_var,
                          elbo_error *err)
{
    return vae_latent_stats(m, ds, 1, kl, mu_var, NULL, NULL, err);
}

int elbo_vae_active_dims(elbo_vae *m, const elbo_dataset *ds, int layer, double *eig, int *units,
                         elbo_error *err)
{
    if (layer != 1 && !(layer == 2 && m->cfg.latent2)) {
        elbo_fail(err, ELBO_ERR_ARG, "latent layer %d: the model has %s", layer,
                  m->cfg.latent2 ? "layers 1 and 2" : "layer 1 only");
        return -1;
    }
    int dims = 0, u = vae_latent_stats(m, ds, layer, NULL, NULL, eig, &dims, err);
    if (u < 0) return -1;
    if (units) *units = u;
    return dims;
}
