/* train.c — the training step (batch split over the workers, gradients
 * summed in a fixed order inside Adam), the epoch loop and evaluation. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "../data/binarize.h"
#include "../nn/ops.h"
#include "../optim/adam.h"
#include "vae_internal.h"

void elbo_train_config_default(elbo_train_config *c)
{
    c->lr = 1e-3;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->batch_size = 128;
    c->clip_grad = 0.0;
    c->beta = 1.0;
    c->kl_warmup_epochs = 0;
    c->kl_cycle_epochs = 0;
    c->free_bits = 0.0;
    c->objective = ELBO_OBJ_ELBO;
    c->samples = 1;
}

double elbo_vae_kl_weight(const elbo_vae *m, const elbo_train_config *tc)
{
    double t = m->epoch + (m->epoch_n > 0 ? (double)m->epoch_seen / m->epoch_n : 0.0), w = 1.0;
    if (tc->kl_warmup_epochs > 0) w = fmin(1.0, t / tc->kl_warmup_epochs);
    if (tc->kl_cycle_epochs > 0) w = fmin(1.0, 2.0 * fmod(t, tc->kl_cycle_epochs) / tc->kl_cycle_epochs);
    return tc->beta * w;
}

void vae_load_rows(const elbo_vae *m, vae_worker *w, const float *xsrc, const elbo_dataset *ds,
                   const int *idx, int start, int n, int train, uint64_t eval_seed)
{
    int D = m->cfg.input_dim;
    if (xsrc) {
        memcpy(w->x, xsrc + (size_t)start * D, sizeof(float) * (size_t)n * D);
        return;
    }
    elbo_binarize mode = m->cfg.binarize;
    for (int r = 0; r < n; r++) {
        long src = idx ? idx[start + r] : start + r;
        if (r + 1 < n) { /* shuffled rows are scattered: fetch the next one early */
            const uint8_t *next = ds->pixels + (long)(idx ? idx[start + r + 1] : start + r + 1) * D;
            for (int k = 0; k < D; k += 64) __builtin_prefetch(next + k);
        }
        uint64_t key;
        if (!train)
            key = elbo_binarize_key(eval_seed, (uint64_t)src);
        else if (mode == ELBO_BINARIZE_DYNAMIC)
            key = elbo_binarize_key(m->seed ^ 0xd1b54a32d192ed03ULL,
                                    (uint64_t)m->epoch * (uint64_t)ds->n + (uint64_t)(start + r));
        else
            key = elbo_binarize_key(m->seed ^ 0x8cb92ba72f3d8dd7ULL, (uint64_t)src);
        elbo_row_to_float(w->x + (long)r * D, ds->pixels + src * D, D, mode, key);
    }
}

/* Row range of worker t when B rows are split over nw workers. */
static void split_rows(int B, int nw, int t, int *r0, int *n)
{
    int base = B / nw, extra = B % nw;
    *r0 = t * base + (t < extra ? t : extra);
    *n = base + (t < extra);
}

elbo_status vae_step(elbo_vae *m, const elbo_train_config *tc, const float *xsrc,
                     const elbo_dataset *ds, const int *idx, int start, int B, double *loss,
                     double *recon, double *kl, elbo_error *err)
{
    int K = tc->objective == ELBO_OBJ_IWAE ? tc->samples : 1;
    int Z = m->cfg.latent_dim;
    int nw = m->n_workers < B ? m->n_workers : B;
    float wkl = (float)elbo_vae_kl_weight(m, tc);
    for (int j = 0; j < Z; j++) m->kl_scale[j] = wkl;
    int two_phase = tc->free_bits > 0.0; /* free bits need the whole batch's KL */
#pragma omp parallel num_threads(nw) if (nw > 1)
    {
        int t = omp_get_thread_num(), r0, n;
        split_rows(B, nw, t, &r0, &n);
        vae_worker *w = &m->w[t];
        vae_load_rows(m, w, xsrc, ds, idx, start + r0, n, 1, 0);
        memcpy(w->eps, m->eps_step + (size_t)r0 * K * Z, sizeof(float) * (size_t)n * K * Z);
        if (tc->objective == ELBO_OBJ_IWAE) {
            vae_forward_iwae(m, w, n, K);
            if (isfinite(w->iwae)) vae_backward_iwae(m, w, n, K);
        } else {
            vae_forward(m, w, n);
            w->iwae = w->recon + w->kl;
            if (!two_phase && isfinite(w->recon) && isfinite(w->kl)) vae_backward(m, w, n);
        }
    }
    if (two_phase) {
        /* free bits: dimension j keeps its KL gradient only while the
         * batch-mean KL_j exceeds lambda */
        int finite = 1;
        for (int t = 0; t < nw; t++) finite &= isfinite(m->w[t].recon) && isfinite(m->w[t].kl);
        for (int j = 0; j < Z; j++) {
            double kj = 0.0;
            for (int t = 0; t < nw; t++) kj += m->w[t].kl_dims[j];
            if (kj / B <= tc->free_bits) m->kl_scale[j] = 0.0f;
        }
        if (finite) {
#pragma omp parallel num_threads(nw) if (nw > 1)
            {
                int t = omp_get_thread_num(), r0, n;
                split_rows(B, nw, t, &r0, &n);
                vae_backward(m, &m->w[t], n);
            }
        }
    }
    *recon = 0.0;
    *kl = 0.0;
    *loss = 0.0;
    for (int t = 0; t < nw; t++) {
        *recon += m->w[t].recon;
        *kl += m->w[t].kl;
        *loss += m->w[t].iwae;
    }
    if (!isfinite(*recon) || !isfinite(*kl) || !isfinite(*loss)) {
        vae_zero_worker_grads(m, nw);
        return elbo_fail(err, ELBO_ERR_NUMERIC,
                         "step %ld: the %s term is %g (not finite); try a smaller learning rate "
                         "or check that the data are scaled to [0,1]",
                         m->step + 1, isfinite(*recon) ? "KL" : "reconstruction",
                         isfinite(*recon) ? *kl : *recon);
    }
    m->step++;
    /* The parameter gradients, chunk by chunk (models/grad.c), each followed
     * at once by its Adam update while it is still in cache. A chunk's
     * result does not depend on which thread computes it, so the chunks are
     * handed out dynamically. With gradient clipping
     * (torch.nn.utils.clip_grad_norm_) the whole gradient is needed first:
     * it goes to m->grad, its norm is summed over the chunks in chunk order,
     * and Adam runs over it scaled. */
    int nt = m->n_workers, nc = m->n_chunks;
    const vae_chunk *ch = m->chunks;
    float scale = 1.0f;
    if (tc->clip_grad > 0.0) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
        for (int c = 0; c < nc; c++) {
            vae_chunk_grad(m, nw, c, m->grad + ch[c].off);
            m->chunk_sq[c] = grad_sq_norm(m->grad + ch[c].off, ch[c].n);
        }
        double sq = 0.0;
        for (int c = 0; c < nc; c++) sq += m->chunk_sq[c];
        double norm = sqrt(sq), coef = tc->clip_grad / (norm + 1e-6);
        if (coef < 1.0) scale = (float)coef;
    }
    int whole = tc->clip_grad > 0.0;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int c = 0; c < nc; c++) {
        size_t o = ch[c].off;
        float *g = m->grad + o;
        if (!whole) {
            g = m->w[omp_get_thread_num()].gscratch;
            vae_chunk_grad(m, nw, c, g);
        }
        m->chunk_bad[c] = adam_step(m->params + o, g, m->adam_m + o, m->adam_v + o, ch[c].n,
                                    m->step, tc->lr, tc->beta1, tc->beta2, tc->eps, scale);
    }
    size_t bad = (size_t)-1; /* the lowest non-finite parameter index */
    for (int c = 0; c < nc; c++)
        if (m->chunk_bad[c] != (size_t)-1 && ch[c].off + m->chunk_bad[c] < bad)
            bad = ch[c].off + m->chunk_bad[c];
    if (bad != (size_t)-1) {
        char name[48];
        return elbo_fail(err, ELBO_ERR_NUMERIC,
                         "step %ld: the gradient of %s became non-finite (the loss was "
                         "finite); try a smaller learning rate or --clip-grad, and check the "
                         "data scaling",
                         m->step, vae_param_name(m, bad, name, sizeof name));
    }
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
    if (!(tc->clip_grad >= 0.0) || !isfinite(tc->clip_grad))
        return elbo_fail(err, ELBO_ERR_ARG, "clip_grad must be finite and >= 0");
    if (!(tc->beta >= 0.0) || !isfinite(tc->beta))
        return elbo_fail(err, ELBO_ERR_ARG, "beta must be finite and >= 0");
    if (!(tc->free_bits >= 0.0) || !isfinite(tc->free_bits))
        return elbo_fail(err, ELBO_ERR_ARG, "free_bits must be finite and >= 0");
    if (tc->objective != ELBO_OBJ_ELBO && tc->objective != ELBO_OBJ_IWAE)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown objective %d", (int)tc->objective);
    if (tc->samples < 1 || (tc->objective == ELBO_OBJ_ELBO && tc->samples != 1))
        return elbo_fail(err, ELBO_ERR_ARG, "samples must be 1 for the ELBO and >= 1 for the IWAE");
    if (tc->objective == ELBO_OBJ_IWAE &&
        (tc->beta != 1.0 || tc->free_bits > 0 || tc->kl_warmup_epochs > 0 || tc->kl_cycle_epochs > 0))
        return elbo_fail(err, ELBO_ERR_ARG,
                         "the IWAE objective cannot be combined with beta, KL schedules or free bits");
    if ((long)tc->batch_size * tc->samples > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG,
                         "batch size %d x %d samples exceeds the model's max_batch %d",
                         tc->batch_size, tc->samples, m->cfg.max_batch);
    if (tc->kl_warmup_epochs < 0 || tc->kl_cycle_epochs < 0 ||
        (tc->kl_warmup_epochs > 0 && tc->kl_cycle_epochs > 0))
        return elbo_fail(err, ELBO_ERR_ARG,
                         "use either a KL warm-up or a cyclical schedule (epochs >= 0), not both");
    if (tc->batch_size < 1 || tc->batch_size > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG,
                         "batch size %d out of range 1..%d (the model's max_batch)",
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
    if ((long)B * tc->samples > m->cfg.max_batch)
        return elbo_fail(err, ELBO_ERR_ARG, "batch of %d rows x %d samples exceeds max_batch %d", B,
                         tc->samples, m->cfg.max_batch);
    elbo_rng_normal_fill(&m->rng, m->eps_step, (long)B * tc->samples * m->cfg.latent_dim);
    double loss, recon, kl;
    st = vae_step(m, tc, x, NULL, NULL, 0, B, &loss, &recon, &kl, err);
    if (st) return st;
    if (out) {
        out->recon = recon / B;
        out->kl = kl / B;
        out->loss = loss / B;
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
    if (m->epoch_seen > 0 && m->epoch_n != ds->n)
        return elbo_fail(err, ELBO_ERR_MISMATCH,
                         "the unfinished epoch ran over %d examples but this data set has %d; "
                         "continue it with the same data",
                         m->epoch_n, ds->n);
    if (m->perm_cap < ds->n) {
        int *p = realloc(m->perm, (size_t)ds->n * sizeof *p);
        if (!p) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the shuffle order");
        m->perm = p;
        m->perm_cap = ds->n;
    }
    if (m->epoch_seen == 0) { /* a new epoch: remember the PRNG, then shuffle */
        m->epoch_rng = m->rng;
        m->epoch_n = ds->n;
        m->epoch_loss = m->epoch_recon = m->epoch_kl = 0.0;
        m->perm_valid = 0;
    }
    if (!m->perm_valid) { /* (re)build this epoch's order from its PRNG state */
        elbo_rng r = m->epoch_rng;
        for (int i = 0; i < ds->n; i++) m->perm[i] = i;
        elbo_rng_shuffle(&r, m->perm, ds->n);
        if (m->epoch_seen == 0) m->rng = r;
        m->perm_valid = 1;
    }

    int bs = tc->batch_size;
    int n_steps = (int)(m->epoch_seen / bs) + (int)((ds->n - m->epoch_seen + bs - 1) / bs);
    int s = (int)(m->epoch_seen / bs);
    int stopped = 0;
    while (m->epoch_seen < ds->n && !stopped) {
        int start = (int)m->epoch_seen, B = ds->n - start < bs ? ds->n - start : bs;
        double loss, recon, kl;
        elbo_rng_normal_fill(&m->rng, m->eps_step, (long)B * tc->samples * m->cfg.latent_dim);
        st = vae_step(m, tc, NULL, ds, m->perm, start, B, &loss, &recon, &kl, err);
        if (st) return st;
        m->epoch_loss += loss;
        m->epoch_recon += recon;
        m->epoch_kl += kl;
        m->epoch_seen += B;
        s++;
        if (progress && progress(user, s, n_steps, m->epoch_loss / m->epoch_seen)) stopped = 1;
    }
    if (out) {
        out->recon = m->epoch_recon / m->epoch_seen;
        out->kl = m->epoch_kl / m->epoch_seen;
        out->loss = m->epoch_loss / m->epoch_seen;
        out->n = m->epoch_seen;
    }
    if (m->epoch_seen >= ds->n) { /* finished: back to a boundary */
        m->epoch++;
        m->epoch_seen = 0;
        m->epoch_loss = m->epoch_recon = m->epoch_kl = 0.0;
        m->perm_valid = 0;
    }
    return ELBO_OK;
}

elbo_status elbo_vae_eval(elbo_vae *m, const elbo_dataset *ds, uint64_t seed, elbo_losses *out,
                          elbo_error *err)
{
    ELBO_ASSERT(m && out);
    elbo_status st = check_dataset(m, ds, err);
    if (st) return st;
    int mb = m->cfg.max_batch, n_chunks = (ds->n + mb - 1) / mb;
    double *sums = malloc(sizeof(double) * 2 * (size_t)n_chunks);
    if (!sums) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d chunk sums", n_chunks);
    int nt = m->n_workers < n_chunks ? m->n_workers : n_chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int c = 0; c < n_chunks; c++) {
        vae_worker *w = &m->w[omp_get_thread_num()];
        int start = c * mb, B = ds->n - start < mb ? ds->n - start : mb;
        /* one PRNG stream per chunk: the figure does not depend on threads */
        elbo_rng rng;
        elbo_rng_seed(&rng, seed + 0x9e3779b97f4a7c15ULL * (uint64_t)c);
        elbo_rng_normal_fill(&rng, w->eps, (long)B * m->cfg.latent_dim);
        vae_load_rows(m, w, NULL, ds, NULL, start, B, 0, seed);
        vae_forward(m, w, B);
        sums[2 * c] = w->recon;
        sums[2 * c + 1] = w->kl;
    }
    double recon_sum = 0.0, kl_sum = 0.0;
    for (int c = 0; c < n_chunks; c++) {
        recon_sum += sums[2 * c];
        kl_sum += sums[2 * c + 1];
    }
    free(sums);
    out->recon = recon_sum / ds->n;
    out->kl = kl_sum / ds->n;
    out->loss = out->recon + out->kl;
    out->n = ds->n;
    if (!isfinite(out->loss))
        return elbo_fail(err, ELBO_ERR_NUMERIC, "evaluation loss is not finite");
    return ELBO_OK;
}
