/* trainer.c — one training step and the epoch loop over any model; see
 * trainer.h and models/model.h for the sequence of calls. */
#include "trainer.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../optim/adam.h"
#include "../util/fpenv.h"

elbo_status trainer_init(trainer *t, const model *m, uint64_t seed, const elbo_rng *rng,
                         elbo_error *err)
{
    memset(t, 0, sizeof *t);
    t->group.size = 1;
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
    elbo_free_aligned(t->ema);
    for (int i = 0; i < t->n_scratch; i++) elbo_free_aligned(t->scratch[i]);
    free(t->chunk_bad);
    free(t->chunk_sq);
    free(t->perm);
    free(t->mix);
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

/* Epochs done, plus the share of this one seen: the schedules' clock. */
static double fractional_epoch(const trainer *t)
{
    int len = t->epoch_len > 0 ? t->epoch_len : t->epoch_n;
    return t->epoch + (len > 0 ? (double)t->epoch_seen / len : 0.0);
}

double trainer_kl_weight(const trainer *t, const elbo_train_config *tc)
{
    double e = fractional_epoch(t), w = 1.0;
    if (tc->kl_warmup_epochs > 0) w = fmin(1.0, e / tc->kl_warmup_epochs);
    if (tc->kl_cycle_epochs > 0) w = fmin(1.0, 2.0 * fmod(e, tc->kl_cycle_epochs) / tc->kl_cycle_epochs);
    return tc->beta * w;
}

elbo_status trainer_use_optimizer(trainer *t, const model *m, optim_kind kind, elbo_error *err)
{
    if (t->opt.kind == kind) return ELBO_OK;
    optim_free(&t->opt);
    if (optim_init(&t->opt, kind, m->n_params) != 0)
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the optimizer state of %zu "
                                              "parameters", m->n_params);
    return ELBO_OK;
}

/* The optimizer tc asks for: a fresh trainer takes it, a trained one must
 * already have it (its state is that optimizer's). */
static elbo_status check_optimizer(trainer *t, const model *m, const elbo_train_config *tc,
                                   elbo_error *err)
{
    if (tc->optimizer != ELBO_OPTIM_ADAM && tc->optimizer != ELBO_OPTIM_SGD)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown optimizer %d", (int)tc->optimizer);
    if (!(tc->momentum >= 0.0 && tc->momentum < 1.0))
        return elbo_fail(err, ELBO_ERR_ARG, "momentum must lie in [0, 1)");
    optim_kind want = tc->optimizer == ELBO_OPTIM_SGD ? OPTIM_SGD : OPTIM_ADAM;
    if (t->opt.kind == OPTIM_NONE) {
        if (want != OPTIM_ADAM || tc->momentum != 0.0)
            return elbo_fail(err, ELBO_ERR_ARG, "this model updates its own parameters: it takes "
                                                "no optimizer (sgd, momentum)");
        return ELBO_OK;
    }
    if (want == OPTIM_ADAM && tc->momentum != 0.0)
        return elbo_fail(err, ELBO_ERR_ARG, "momentum is SGD's (Adam's is beta1): give the optimizer sgd");
    if (t->opt.kind == want) return ELBO_OK;
    if (t->step > 0)
        return elbo_fail(err, ELBO_ERR_MISMATCH, "the run was trained with %s for %ld steps; it "
                                                 "cannot continue with %s",
                         optim_name(t->opt.kind), t->step, optim_name(want));
    return trainer_use_optimizer(t, m, want, err);
}

elbo_status trainer_ema_start(trainer *t, const model *m, elbo_error *err)
{
    if (t->ema) return ELBO_OK;
    t->ema = elbo_alloc_aligned(m->n_params ? m->n_params : 1, sizeof(float));
    if (!t->ema)
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the average of %zu parameters",
                         m->n_params);
    memcpy(t->ema, m->params, sizeof(float) * m->n_params);
    return ELBO_OK;
}

void trainer_ema_swap(trainer *t, model *m)
{
    if (!t->ema) return;
    float *p = m->params, *a = t->ema;
    for (size_t i = 0; i < m->n_params; i++) {
        float x = p[i];
        p[i] = a[i];
        a[i] = x;
    }
}

/* The average tc asks for: started (from the current weights) when on and
 * not yet kept, dropped when off. */
static elbo_status check_ema(trainer *t, const model *m, const elbo_train_config *tc,
                             elbo_error *err)
{
    if (!(tc->ema >= 0.0 && tc->ema < 1.0))
        return elbo_fail(err, ELBO_ERR_ARG, "ema must lie in [0, 1) (0: off)");
    if (tc->ema == 0.0) {
        elbo_free_aligned(t->ema);
        t->ema = NULL;
        return ELBO_OK;
    }
    if (t->opt.kind == OPTIM_NONE)
        return elbo_fail(err, ELBO_ERR_ARG, "this model updates its own parameters: it takes "
                                            "no parameter average (ema)");
    return trainer_ema_start(t, m, err);
}

double trainer_lr(const trainer *t, const elbo_train_config *tc)
{
    if (!trainer_lr_decays(tc)) return tc->lr;
    return fmax(tc->lr_min, tc->lr * pow(tc->lr_decay, fractional_epoch(t)));
}

elbo_status trainer_check(trainer *t, const model *m, const elbo_train_config *tc,
                          elbo_error *err)
{
    if (!(tc->lr > 0.0) || !isfinite(tc->lr))
        return elbo_fail(err, ELBO_ERR_ARG, "learning rate must be finite and > 0");
    if (!(tc->lr_decay >= 0.0 && tc->lr_decay <= 1.0) || !(tc->lr_min >= 0.0) || !isfinite(tc->lr_min))
        return elbo_fail(err, ELBO_ERR_ARG, "lr_decay must lie in (0, 1] (0: off) and lr_min be finite and >= 0");
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
    if (tc->labelled_batch < 0 || (tc->labelled_batch > 0 && tc->labelled_batch >= tc->batch_size))
        return elbo_fail(err, ELBO_ERR_ARG,
                         "labelled rows per batch (%d) must be 0 (off) or fewer than the batch (%d)",
                         tc->labelled_batch, tc->batch_size);
    elbo_status st = m->ops->check_train ? m->ops->check_train(m, tc, err) : ELBO_OK;
    if (!st) st = check_optimizer(t, m, tc, err);
    return st ? st : check_ema(t, m, tc, err);
}

/* Row range of part w when B rows are split over nw parts (members of a
 * group, then workers of a member). */
static void split_rows(int B, int nw, int w, int *r0, int *n)
{
    int base = B / nw, extra = B % nw;
    *r0 = w * base + (w < extra ? w : extra);
    *n = base + (w < extra);
}

elbo_status trainer_set_group(trainer *t, const elbo_group *g, elbo_error *err)
{
    if (!g || g->size <= 1) {
        memset(&t->group, 0, sizeof t->group);
        t->group.size = 1;
        return ELBO_OK;
    }
    if (g->rank < 0 || g->rank >= g->size || !g->sum_f32 || !g->sum_f64)
        return elbo_fail(err, ELBO_ERR_ARG, "a group needs 0 <= rank < size and both sums "
                                            "(rank %d of %d)", g->rank, g->size);
    t->group = *g;
    return ELBO_OK;
}

int trainer_writes(const trainer *t) { return t->group.rank == 0; }

int trainer_agree(trainer *t, int flag)
{
    if (t->group.size <= 1) return flag;
    double f = flag ? 1.0 : 0.0;
    if (t->group.sum_f64(t->group.user, &f, 1)) return -1;
    return f > 0.0;
}

/* x[n] summed over the group (nothing alone); non-zero when that fails. */
static int group_sum64(trainer *t, double *x, size_t n)
{
    return t->group.size > 1 && t->group.sum_f64(t->group.user, x, n);
}

static int group_sum32(trainer *t, float *x, size_t n)
{
    return t->group.size > 1 && t->group.sum_f32(t->group.user, x, n);
}

/* This member's slice of the batch: rows [lo, lo + cnt) split over nw
 * workers. */
typedef struct {
    int lo, cnt, nw;
} step_rows;

/* Forward and backward on every worker over this member's rows; the term
 * sums into sums (this member's). Two-phase steps sum the batch
 * statistics over the group between the passes. */
static elbo_status run_workers(trainer *t, model *m, model_step *s, const model_batch *b,
                               const step_rows *rw, double *sums, double *counts, elbo_error *err)
{
    const model_ops *ops = m->ops;
    int nw = rw->nw; /* 0: a member without rows (a batch smaller than the group) */
#pragma omp parallel num_threads(nw > 1 ? nw : 1) if (nw > 1)
    if (nw > 0) {
        unsigned fp = elbo_fp_flush_begin(); /* util/fpenv.h */
        int w = omp_get_thread_num(), r0, n;
        split_rows(rw->cnt, nw, w, &r0, &n);
        ops->forward(m, s, w, b, rw->lo + r0, n, !s->two_phase);
        elbo_fp_flush_end(fp);
    }
    int nt = ops->n_terms;
    double part[MODEL_MAX_TERMS];
    if (s->two_phase) {
        int finite = 1;
        for (int w = 0; w < nw; w++) {
            ops->terms_of(m, w, part);
            for (int k = 0; k < nt; k++) finite &= isfinite(part[k]);
        }
        size_t ns = 0;
        double *bs = ops->batch_stats(m, nw, &ns);
        if (group_sum64(t, bs, ns))
            return elbo_fail(err, ELBO_ERR_IO, "step %ld: the group's batch statistics failed",
                             t->step + 1);
        ops->between(m, s, nw, b->n);
        if (finite && nw > 0) {
#pragma omp parallel num_threads(nw) if (nw > 1)
            {
                unsigned fp = elbo_fp_flush_begin();
                int w = omp_get_thread_num(), r0, n;
                split_rows(rw->cnt, nw, w, &r0, &n);
                ops->backward(m, s, w, n);
                elbo_fp_flush_end(fp);
            }
        }
    }
    double all[2 * MODEL_MAX_TERMS] = {0}; /* the sums, then the rows behind them */
    for (int w = 0; w < nw; w++) {
        ops->terms_of(m, w, part);
        for (int k = 0; k < nt; k++) all[k] += part[k];
        if (!ops->counts_of) continue;
        ops->counts_of(m, w, part);
        for (int k = 0; k < nt; k++) all[nt + k] += part[k];
    }
    if (!ops->counts_of)
        for (int k = 0; k < nt; k++) all[nt + k] = rw->cnt;
    if (group_sum64(t, all, 2 * (size_t)nt))
        return elbo_fail(err, ELBO_ERR_IO, "step %ld: the group's loss sums failed", t->step + 1);
    memcpy(sums, all, sizeof(double) * (size_t)nt);
    memcpy(counts, all + nt, sizeof(double) * (size_t)nt);
    return ELBO_OK;
}

/* The first non-finite term (the objective last), or -1. */
static int bad_term(const model_ops *ops, const double *sums)
{
    for (int k = 1; k < ops->n_terms; k++)
        if (!isfinite(sums[k])) return k;
    return isfinite(sums[0]) ? -1 : 0;
}

/* The whole gradient into t->grad (for clipping or a group), summed over
 * the group; its norm's clip factor into *scale. A member without rows
 * (nw 0) contributes zeros. */
static elbo_status whole_gradient(trainer *t, model *m, const elbo_train_config *tc, int nw,
                                  float *scale, elbo_error *err)
{
    int nt = m->n_workers, nc = m->n_chunks;
    const model_chunk *ch = m->chunks;
    if (nw == 0)
        memset(t->grad, 0, sizeof(float) * m->n_params);
    else {
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            unsigned fp = elbo_fp_flush_begin();
#pragma omp for schedule(dynamic, 1)
            for (int c = 0; c < nc; c++) m->ops->chunk_grad(m, nw, c, t->grad + ch[c].off);
            elbo_fp_flush_end(fp);
        }
    }
    if (group_sum32(t, t->grad, m->n_params))
        return elbo_fail(err, ELBO_ERR_IO, "step %ld: the group's gradient sum failed", t->step);
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

/* a <- d a + (1 - d) p over n values (while the chunk is in cache). */
static void ema_update(float *restrict a, const float *restrict p, size_t n, float d)
{
    float e = 1.0f - d;
    for (size_t i = 0; i < n; i++) a[i] = d * a[i] + e * p[i];
}

/* The parameter gradients, chunk by chunk, each followed at once by its
 * optimizer update while it is still in cache. A chunk's result does not
 * depend on which thread computes it, so chunks are handed out dynamically.
 * With clipping or a group the whole gradient is formed first. */
static elbo_status update(trainer *t, model *m, const elbo_train_config *tc, int nw,
                          elbo_error *err)
{
    optim *o = &t->opt;
    o->lr = trainer_lr(t, tc);
    o->beta1 = tc->beta1;
    o->beta2 = tc->beta2;
    o->eps = tc->eps;
    o->momentum = tc->momentum;
    int whole = tc->clip_grad > 0.0 || t->group.size > 1, nt = m->n_workers, nc = m->n_chunks;
    float scale = 1.0f;
    if (whole) {
        elbo_status st = whole_gradient(t, m, tc, nw, &scale, err);
        if (st) return st;
    }
    const model_chunk *ch = m->chunks;
    /* the average's rate: TensorFlow's ExponentialMovingAverage with
     * num_updates, so that the first steps do not pin it to the start */
    float d = (float)fmin(tc->ema, (1.0 + (double)t->step) / (10.0 + (double)t->step));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        unsigned fp = elbo_fp_flush_begin();
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nc; c++) {
            float *g = t->grad + ch[c].off;
            if (!whole) {
                g = t->scratch[omp_get_thread_num()];
                m->ops->chunk_grad(m, nw, c, g);
            }
            t->chunk_bad[c] = optim_update(o, m->params, g, ch[c].off, ch[c].n, t->step, scale);
            if (t->ema) ema_update(t->ema + ch[c].off, m->params + ch[c].off, ch[c].n, d);
        }
        elbo_fp_flush_end(fp);
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
    step_rows rw = {0, b->n, 0};
    if (t->group.size > 1) split_rows(b->n, t->group.size, t->group.rank, &rw.lo, &rw.cnt);
    rw.nw = m->n_workers < rw.cnt ? m->n_workers : rw.cnt;
    model_step s = {tc, trainer_kl_weight(t, tc), &t->rng, 0, t->group.rank == 0};
    ops->step_begin(m, &s, b);
    elbo_status st = run_workers(t, m, &s, b, &rw, sums, t->step_counts, err);
    if (st) return st;
    int k = bad_term(ops, sums);
    if (k >= 0) {
        ops->drop_grads(m, rw.nw);
        return elbo_fail(err, ELBO_ERR_NUMERIC,
                         "step %ld: the %s term is %g (not finite); try a smaller learning rate "
                         "or check that the data are scaled to [0,1]",
                         t->step + 1, ops->term_labels[k], sums[k]);
    }
    t->step++;
    if (!ops->apply) return update(t, m, tc, rw.nw, err);
    size_t n = 0; /* a step without a gradient: statistics, summed, then applied */
    float *stats = ops->stats(m, rw.nw, &n);
    if (group_sum32(t, stats, n))
        return elbo_fail(err, ELBO_ERR_IO, "step %ld: the group's statistics sum failed", t->step);
    return ops->apply(m, &s, b, t->step, err);
}

/* Grows *buf to hold n ints; -1 when out of memory. */
static int grow(int **buf, int *cap, int n)
{
    if (*cap >= n) return 0;
    int *p = realloc(*buf, (size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* 1 when ds's epoch takes the mixed order (labelled_batch, and both
 * labelled and unlabelled rows), with the labelled rows' count in *n_lab;
 * 0 for a plain shuffle. */
static int mixes(const elbo_dataset *ds, const elbo_train_config *tc, int *n_lab)
{
    *n_lab = 0;
    if (tc->labelled_batch <= 0 || !ds->labels) return 0;
    for (int i = 0; i < ds->n; i++) *n_lab += elbo_dataset_is_labelled(ds, i);
    return *n_lab > 0 && *n_lab < ds->n;
}

/* The mixed order (trainer_epoch in trainer.h) into t->perm, from r. */
static void mixed_order(trainer *t, const elbo_dataset *ds, const elbo_train_config *tc, int n_lab,
                        elbo_rng *r)
{
    int *lab = t->mix, *unl = t->mix + n_lab, nu = ds->n - n_lab, L = tc->labelled_batch;
    int U = tc->batch_size - L;
    for (int i = 0, a = 0, b = 0; i < ds->n; i++) {
        if (elbo_dataset_is_labelled(ds, i)) lab[a++] = i;
        else unl[b++] = i;
    }
    elbo_rng_shuffle(r, unl, nu);
    elbo_rng_shuffle(r, lab, n_lab);
    int pos = 0, li = 0;
    for (int u0 = 0; u0 < nu; u0 += U) {
        int start = pos, nb = nu - u0 < U ? nu - u0 : U;
        for (int k = 0; k < L; k++) {
            if (li == n_lab) { /* every labelled row used: a fresh order of them */
                elbo_rng_shuffle(r, lab, n_lab);
                li = 0;
            }
            t->perm[pos++] = lab[li++];
        }
        memcpy(t->perm + pos, unl + u0, sizeof(int) * (size_t)nb);
        pos += nb;
        elbo_rng_shuffle(r, t->perm + start, pos - start); /* labelled rows among the others */
    }
}

/* Makes t->perm this epoch's order (a fresh shuffle at a boundary) and
 * sets t->epoch_len. */
static elbo_status epoch_order(trainer *t, const elbo_dataset *ds, const elbo_train_config *tc,
                               elbo_error *err)
{
    int n = ds->n, n_lab, mix = mixes(ds, tc, &n_lab);
    long len = n;
    if (mix) {
        int U = tc->batch_size - tc->labelled_batch, nu = n - n_lab;
        len = nu + (long)((nu + U - 1) / U) * tc->labelled_batch;
        if (len > INT32_MAX)
            return elbo_fail(err, ELBO_ERR_ARG, "the mixed epoch would be %ld rows long", len);
    }
    if (grow(&t->perm, &t->perm_cap, (int)len) || (mix && grow(&t->mix, &t->mix_cap, n)))
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the shuffle order");
    t->epoch_len = (int)len;
    if (t->epoch_seen == 0) { /* a new epoch: remember the PRNG, then shuffle */
        t->epoch_rng = t->rng;
        t->epoch_n = n;
        memset(t->epoch_sums, 0, sizeof t->epoch_sums);
        memset(t->epoch_counts, 0, sizeof t->epoch_counts);
        t->perm_valid = 0;
    }
    if (!t->perm_valid) { /* (re)build this epoch's order from its PRNG state */
        elbo_rng r = t->epoch_rng;
        if (mix) {
            mixed_order(t, ds, tc, n_lab, &r);
        } else {
            for (int i = 0; i < n; i++) t->perm[i] = i;
            elbo_rng_shuffle(&r, t->perm, n);
        }
        if (t->epoch_seen == 0) t->rng = r;
        t->perm_valid = 1;
    }
    return ELBO_OK;
}

/* The epoch's mean of term k so far. */
static double epoch_mean(const trainer *t, int k)
{
    return t->epoch_counts[k] > 0 ? t->epoch_sums[k] / t->epoch_counts[k] : 0.0;
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
    if ((st = epoch_order(t, ds, tc, err))) return st;
    int nt = m->ops->n_terms, bs = tc->batch_size, len = t->epoch_len;
    int n_steps = (int)(t->epoch_seen / bs) + (int)((len - t->epoch_seen + bs - 1) / bs);
    int s = (int)(t->epoch_seen / bs), stopped = 0;
    while (t->epoch_seen < len && !stopped) {
        int start = (int)t->epoch_seen, B = len - start < bs ? len - start : bs;
        model_batch b = {ds, t->perm, NULL, start, B, t->epoch, t->seed, s, n_steps};
        double sums[MODEL_MAX_TERMS];
        if ((st = trainer_step(t, m, tc, &b, sums, err))) return st;
        for (int k = 0; k < nt; k++) {
            t->epoch_sums[k] += sums[k];
            t->epoch_counts[k] += t->step_counts[k];
        }
        t->epoch_seen += B;
        s++;
        if (progress && progress(user, s, n_steps, epoch_mean(t, 0))) stopped = 1;
    }
    for (int k = 0; k < nt && means; k++) means[k] = epoch_mean(t, k);
    if (n_seen) *n_seen = t->epoch_seen;
    if (t->epoch_seen >= len) { /* finished: back to a boundary */
        t->epoch++;
        t->epoch_seen = 0;
        memset(t->epoch_sums, 0, sizeof t->epoch_sums);
        memset(t->epoch_counts, 0, sizeof t->epoch_counts);
        t->perm_valid = 0;
    }
    return ELBO_OK;
}
