/* trainer.c — one training step and the epoch loop over any model; see
 * trainer.h and models/model.h for the sequence of calls. */
#include "trainer.h"

#include <math.h>
#include <string.h>

#include <omp.h>

#include "../optim/adam.h"

elbo_status trainer_init(trainer *t, const model *m, uint64_t seed, const elbo_rng *rng,
                         elbo_error *err)
{
    memset(t, 0, sizeof *t);
    t->seed = seed;
    t->rng = *rng;
    int none = m->ops->optimizer == OPTIM_NONE;
    if (optim_init(&t->opt, m->ops->optimizer, none ? 0 : m->n_params) != 0)
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the optimizer state of %zu "
                                              "parameters", m->n_params);
    /* the whole gradient, untouched unless needed (none without a gradient) */
    t->grad = elbo_alloc_aligned(none ? 1 : m->n_params, sizeof(float));
    t->chunk_bad = malloc(sizeof(size_t) * (size_t)(m->n_chunks ? m->n_chunks : 1));
    t->chunk_sq = malloc(sizeof(double) * (size_t)(m->n_chunks ? m->n_chunks : 1));
    if (!t->grad || !t->chunk_bad || !t->chunk_sq) {
        trainer_free(t);
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the trainer");
    }
    return trainer_fit_workers(t, m, err);
}

void trainer_free(trainer *t)
{
    optim_free(&t->opt);
    elbo_free_aligned(t->grad);
    for (int i = 0; i < t->n_scratch; i++) elbo_free_aligned(t->scratch[i]);
    free(t->chunk_bad);
    free(t->chunk_sq);
    free(t->perm);
    memset(t, 0, sizeof *t);
}

elbo_status trainer_fit_workers(trainer *t, const model *m, elbo_error *err)
{
    int n = m->n_workers;
    ELBO_ASSERT(n >= 1 && n <= (int)(sizeof t->scratch / sizeof t->scratch[0]));
    for (int i = n; i < t->n_scratch; i++) {
        elbo_free_aligned(t->scratch[i]);
        t->scratch[i] = NULL;
    }
    for (int i = t->n_scratch; i < n; i++) {
        t->scratch[i] = elbo_calloc_aligned(m->chunk_max ? m->chunk_max : 1, sizeof(float));
        if (!t->scratch[i]) {
            t->n_scratch = i;
            return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d workers", n);
        }
    }
    t->n_scratch = n;
    return ELBO_OK;
}

double trainer_kl_weight(const trainer *t, const elbo_train_config *tc)
{
    double e = t->epoch + (t->epoch_n > 0 ? (double)t->epoch_seen / t->epoch_n : 0.0), w = 1.0;
    if (tc->kl_warmup_epochs > 0) w = fmin(1.0, e / tc->kl_warmup_epochs);
    if (tc->kl_cycle_epochs > 0) w = fmin(1.0, 2.0 * fmod(e, tc->kl_cycle_epochs) / tc->kl_cycle_epochs);
    return tc->beta * w;
}

elbo_status trainer_check(const trainer *t, const model *m, const elbo_train_config *tc,
                          elbo_error *err)
{
    (void)t;
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
    if (tc->kl_warmup_epochs < 0 || tc->kl_cycle_epochs < 0 ||
        (tc->kl_warmup_epochs > 0 && tc->kl_cycle_epochs > 0))
        return elbo_fail(err, ELBO_ERR_ARG,
                         "use either a KL warm-up or a cyclical schedule (epochs >= 0), not both");
    if (tc->batch_size < 1 || tc->batch_size > m->max_rows)
        return elbo_fail(err, ELBO_ERR_ARG,
                         "batch size %d out of range 1..%d (the model's max_batch)",
                         tc->batch_size, m->max_rows);
    return m->ops->check_train ? m->ops->check_train(m, tc, err) : ELBO_OK;
}

/* Row range of worker w when B rows are split over nw workers. */
static void split_rows(int B, int nw, int w, int *r0, int *n)
{
    int base = B / nw, extra = B % nw;
    *r0 = w * base + (w < extra ? w : extra);
    *n = base + (w < extra);
}

/* Forward and backward on every worker; the term sums into sums. */
static void run_workers(model *m, model_step *s, const model_batch *b, int nw, double *sums)
{
    const model_ops *ops = m->ops;
#pragma omp parallel num_threads(nw) if (nw > 1)
    {
        int w = omp_get_thread_num(), r0, n;
        split_rows(b->n, nw, w, &r0, &n);
        ops->forward(m, s, w, b, r0, n, !s->two_phase);
    }
    int nt = ops->n_terms;
    double part[MODEL_MAX_TERMS];
    for (int k = 0; k < nt; k++) sums[k] = 0.0;
    if (s->two_phase) {
        int finite = 1;
        for (int w = 0; w < nw; w++) {
            ops->terms_of(m, w, part);
            for (int k = 0; k < nt; k++) finite &= isfinite(part[k]);
        }
        ops->between(m, s, nw, b->n);
        if (finite) {
#pragma omp parallel num_threads(nw) if (nw > 1)
            {
                int w = omp_get_thread_num(), r0, n;
                split_rows(b->n, nw, w, &r0, &n);
                ops->backward(m, s, w, n);
            }
        }
    }
    for (int w = 0; w < nw; w++) {
        ops->terms_of(m, w, part);
        for (int k = 0; k < nt; k++) sums[k] += part[k];
    }
}

/* The first non-finite term (the objective last), or -1. */
static int bad_term(const model_ops *ops, const double *sums)
{
    for (int k = 1; k < ops->n_terms; k++)
        if (!isfinite(sums[k])) return k;
    return isfinite(sums[0]) ? -1 : 0;
}

/* The whole gradient into t->grad (for clipping or the reduce hook); its
 * norm's clip factor into *scale. */
static elbo_status whole_gradient(trainer *t, model *m, const elbo_train_config *tc, int nw,
                                  double *sums, float *scale, elbo_error *err)
{
    int nt = m->n_workers, nc = m->n_chunks;
    const model_chunk *ch = m->chunks;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int c = 0; c < nc; c++) m->ops->chunk_grad(m, nw, c, t->grad + ch[c].off);
    if (t->reduce && t->reduce(t->reduce_user, t->grad, m->n_params, sums, m->ops->n_terms))
        return elbo_fail(err, ELBO_ERR_IO, "step %ld: the gradient reduce failed", t->step);
    *scale = 1.0f;
    if (tc->clip_grad > 0.0) { /* torch.nn.utils.clip_grad_norm_ */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
        for (int c = 0; c < nc; c++) t->chunk_sq[c] = grad_sq_norm(t->grad + ch[c].off, ch[c].n);
        double sq = 0.0;
        for (int c = 0; c < nc; c++) sq += t->chunk_sq[c];
        double norm = sqrt(sq), coef = tc->clip_grad / (norm + 1e-6);
        if (coef < 1.0) *scale = (float)coef;
    }
    return ELBO_OK;
}

/* The parameter gradients, chunk by chunk, each followed at once by its
 * optimizer update while it is still in cache. A chunk's result does not
 * depend on which thread computes it, so chunks are handed out dynamically.
 * With clipping or a reduce hook the whole gradient is formed first. */
static elbo_status update(trainer *t, model *m, const elbo_train_config *tc, int nw,
                          double *sums, elbo_error *err)
{
    optim *o = &t->opt;
    o->lr = tc->lr;
    o->beta1 = tc->beta1;
    o->beta2 = tc->beta2;
    o->eps = tc->eps;
    int whole = tc->clip_grad > 0.0 || t->reduce, nt = m->n_workers, nc = m->n_chunks;
    float scale = 1.0f;
    if (whole) {
        elbo_status st = whole_gradient(t, m, tc, nw, sums, &scale, err);
        if (st) return st;
    }
    const model_chunk *ch = m->chunks;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int c = 0; c < nc; c++) {
        float *g = t->grad + ch[c].off;
        if (!whole) {
            g = t->scratch[omp_get_thread_num()];
            m->ops->chunk_grad(m, nw, c, g);
        }
        t->chunk_bad[c] = optim_update(o, m->params, g, ch[c].off, ch[c].n, t->step, scale);
    }
    size_t bad = (size_t)-1; /* the lowest non-finite parameter index */
    for (int c = 0; c < nc; c++)
        if (t->chunk_bad[c] != (size_t)-1 && ch[c].off + t->chunk_bad[c] < bad)
            bad = ch[c].off + t->chunk_bad[c];
    if (bad != (size_t)-1) {
        char name[64];
        return elbo_fail(err, ELBO_ERR_NUMERIC,
                         "step %ld: the gradient of %s became non-finite (the loss was "
                         "finite); try a smaller learning rate or --clip-grad, and check the "
                         "data scaling",
                         t->step, model_param_name(m, bad, name, sizeof name));
    }
    return ELBO_OK;
}

elbo_status trainer_step(trainer *t, model *m, const elbo_train_config *tc, const model_batch *b,
                         double *sums, elbo_error *err)
{
    const model_ops *ops = m->ops;
    int nw = m->n_workers < b->n ? m->n_workers : b->n;
    model_step s = {tc, trainer_kl_weight(t, tc), &t->rng, 0};
    ops->step_begin(m, &s, b);
    run_workers(m, &s, b, nw, sums);
    int k = bad_term(ops, sums);
    if (k >= 0) {
        ops->drop_grads(m, nw);
        return elbo_fail(err, ELBO_ERR_NUMERIC,
                         "step %ld: the %s term is %g (not finite); try a smaller learning rate "
                         "or check that the data are scaled to [0,1]",
                         t->step + 1, ops->term_labels[k], sums[k]);
    }
    t->step++;
    if (!ops->apply) return update(t, m, tc, nw, sums, err);
    size_t n = 0; /* a step without a gradient: statistics, reduced, then applied */
    float *stats = ops->stats(m, nw, &n);
    if (t->reduce && t->reduce(t->reduce_user, stats, n, sums, ops->n_terms))
        return elbo_fail(err, ELBO_ERR_IO, "step %ld: the statistics reduce failed", t->step);
    return ops->apply(m, &s, b, t->step, err);
}

/* Makes t->perm this epoch's order (a fresh shuffle at a boundary). */
static elbo_status epoch_order(trainer *t, int n, elbo_error *err)
{
    if (t->perm_cap < n) {
        int *p = realloc(t->perm, (size_t)n * sizeof *p);
        if (!p) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the shuffle order");
        t->perm = p;
        t->perm_cap = n;
    }
    if (t->epoch_seen == 0) { /* a new epoch: remember the PRNG, then shuffle */
        t->epoch_rng = t->rng;
        t->epoch_n = n;
        memset(t->epoch_sums, 0, sizeof t->epoch_sums);
        t->perm_valid = 0;
    }
    if (!t->perm_valid) { /* (re)build this epoch's order from its PRNG state */
        elbo_rng r = t->epoch_rng;
        for (int i = 0; i < n; i++) t->perm[i] = i;
        elbo_rng_shuffle(&r, t->perm, n);
        if (t->epoch_seen == 0) t->rng = r;
        t->perm_valid = 1;
    }
    return ELBO_OK;
}

elbo_status trainer_epoch(trainer *t, model *m, const elbo_train_config *tc,
                          const elbo_dataset *ds, elbo_progress_fn progress, void *user,
                          double *means, long *n_seen, elbo_error *err)
{
    elbo_status st = trainer_check(t, m, tc, err);
    if (st) return st;
    if (t->epoch_seen > 0 && t->epoch_n != ds->n)
        return elbo_fail(err, ELBO_ERR_MISMATCH,
                         "the unfinished epoch ran over %d examples but this data set has %d; "
                         "continue it with the same data",
                         t->epoch_n, ds->n);
    if ((st = epoch_order(t, ds->n, err))) return st;
    int nt = m->ops->n_terms, bs = tc->batch_size;
    int n_steps = (int)(t->epoch_seen / bs) + (int)((ds->n - t->epoch_seen + bs - 1) / bs);
    int s = (int)(t->epoch_seen / bs), stopped = 0;
    while (t->epoch_seen < ds->n && !stopped) {
        int start = (int)t->epoch_seen, B = ds->n - start < bs ? ds->n - start : bs;
        model_batch b = {ds, t->perm, NULL, start, B, t->epoch, t->seed, s, n_steps};
        double sums[MODEL_MAX_TERMS];
        if ((st = trainer_step(t, m, tc, &b, sums, err))) return st;
        for (int k = 0; k < nt; k++) t->epoch_sums[k] += sums[k];
        t->epoch_seen += B;
        s++;
        if (progress && progress(user, s, n_steps, t->epoch_sums[0] / t->epoch_seen)) stopped = 1;
    }
    for (int k = 0; k < nt && means; k++) means[k] = t->epoch_sums[k] / t->epoch_seen;
    if (n_seen) *n_seen = t->epoch_seen;
    if (t->epoch_seen >= ds->n) { /* finished: back to a boundary */
        t->epoch++;
        t->epoch_seen = 0;
        memset(t->epoch_sums, 0, sizeof t->epoch_sums);
        t->perm_valid = 0;
    }
    return ELBO_OK;
}
