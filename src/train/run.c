/* run.c — see run.h. */
#include "run.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../io/checkpoint.h"
#include "metrics.h"

void elbo_run_config_default(elbo_run_config *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->epochs = 20;
    rc->ckpt_epochs = 1;
    rc->eval_every = 1;
    rc->val = NULL;
    rc->early_stop = 0;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The progress callback the trainer sees: the caller's, then the stop
 * request, then a step-based checkpoint that is due. */
typedef struct {
    const run_client *c;
    const elbo_run_config *rc;
    const elbo_run_callbacks *cb;
    long last_saved;
    int stop;
    int fail; /* the group's stop agreement failed */
} run_state;

static int on_step(void *user, int step, int n_steps, double loss)
{
    run_state *s = user;
    const elbo_run_callbacks *cb = s->cb;
    if (cb && cb->progress && cb->progress(cb->user, step, n_steps, loss)) s->stop = 1;
    if (cb && cb->should_stop && cb->should_stop(cb->user)) s->stop = 1;
    /* a group stops together, at the same step, when any member is asked to */
    int any = trainer_agree(s->c->t, s->stop);
    if (any < 0) s->fail = 1;
    s->stop = any != 0;
    return s->stop || (s->rc->ckpt_steps > 0 && s->c->t->step - s->last_saved >= s->rc->ckpt_steps);
}

/* The checkpoint (rank 0 of a group writes; the others only note it),
 * and with a parameter average its weights as ema.safetensors. */
static elbo_status save(run_state *s, elbo_error *err)
{
    trainer *t = s->c->t;
    elbo_status st = trainer_writes(t) ? ckpt_save(s->rc->out_dir, s->c->m, t, s->c->record, err)
                                       : ELBO_OK;
    char path[4200];
    snprintf(path, sizeof path, "%s/ema.safetensors", s->rc->out_dir);
    if (!st && t->ema && trainer_writes(t)) {
        trainer_ema_swap(t, s->c->m);
        st = ckpt_save_weights(path, s->c->m, t, s->c->record, err);
        trainer_ema_swap(t, s->c->m);
    } else if (!st && trainer_writes(t)) {
        unlink(path); /* an average turned off: none of this step's */
    }
    if (!st) s->last_saved = t->step;
    return st;
}

/* The validation set's terms of finished epoch r->epoch, and a new best:
 * its weights into best.safetensors, written just before the checkpoint
 * that records it (run_train saves at every new best): a crash between the
 * two leaves the previous checkpoint, whose rerun of the epoch writes the
 * same best again. */
static elbo_status validate(run_state *s, elbo_epoch_report *r, elbo_error *err)
{
    model *m = s->c->m;
    trainer *t = s->c->t;
    int e = r->epoch;
    r->has_val = 0;
    if (!s->rc->val) return ELBO_OK;
    elbo_status st = m->ops->eval(m, s->rc->val, t->seed * 1000003u + (uint64_t)e + 0x5a17u, r->val, err);
    if (st) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return elbo_fail(err, st, "epoch %d: validation set: %s", e, why);
    }
    r->has_val = 1;
    double v = r->val[m->ops->select_term];
    if (t->best_epoch == 0 || v < t->best_loss) {
        char path[4200];
        snprintf(path, sizeof path, "%s/best.safetensors", s->rc->out_dir);
        if (trainer_writes(t) && (st = ckpt_save_weights(path, m, t, s->c->record, err))) return st;
        t->best_epoch = e;
        t->best_loss = v;
    }
    r->best_epoch = t->best_epoch;
    return ELBO_OK;
}

/* Early stopping: rc->early_stop epochs without a lower validation loss. */
static int early_stop_due(const run_state *s)
{
    const trainer *t = s->c->t;
    return s->rc->val && s->rc->early_stop > 0 && t->best_epoch > 0 &&
           t->epoch - t->best_epoch >= s->rc->early_stop;
}

/* Evaluation, diagnostics and the metrics line of finished epoch e (of
 * the averaged weights, with a parameter average: finish_epoch). */
static elbo_status evaluate_epoch(run_state *s, const elbo_train_config *tc,
                                  const elbo_dataset *test, elbo_epoch_report *r, char *extra,
                                  size_t extra_cap, char *summary, char *warning, elbo_error *err)
{
    model *m = s->c->m;
    const trainer *t = s->c->t;
    int e = r->epoch, due = test && s->rc->eval_every > 0 && e % s->rc->eval_every == 0;
    extra[0] = summary[0] = warning[0] = 0;
    r->has_test = 0;
    if (due) {
        elbo_status st = m->ops->eval(m, test, t->seed * 1000003u + (uint64_t)e, r->test, err);
        if (st) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err ? err->msg : "");
            return elbo_fail(err, st, "epoch %d: test set: %s", e, why);
        }
        r->has_test = 1;
        if (m->ops->diagnose)
            m->ops->diagnose(m, test, r->test, trainer_kl_weight(t, tc), extra, extra_cap, summary,
                             128, warning, 256);
    }
    elbo_status st = validate(s, r, err);
    if (st) return st;
    r->step = t->step;
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", s->rc->out_dir);
    /* metrics first: a crash before the checkpoint's commit leaves a line
     * that resume trims, never a missing one */
    return trainer_writes(t) ? metrics_append(path, r, err) : ELBO_OK;
}

static elbo_status finish_epoch(run_state *s, const elbo_train_config *tc, const elbo_dataset *test,
                                elbo_epoch_report *r, char *extra, size_t extra_cap, char *summary,
                                char *warning, elbo_error *err)
{
    trainer_ema_swap(s->c->t, s->c->m);
    elbo_status st = evaluate_epoch(s, tc, test, r, extra, extra_cap, summary, warning, err);
    trainer_ema_swap(s->c->t, s->c->m);
    return st;
}

/* The checks every training call makes before it changes anything, and
 * the run record. */
static elbo_status prepare(const run_client *c, const elbo_train_config *tc,
                           const elbo_dataset *train, const elbo_dataset *test,
                           const elbo_dataset *rc_val, elbo_error *err)
{
    const model_ops *ops = c->m->ops;
    elbo_status st = ops->check_data(c->m, train, err);
    if (!st && test) st = ops->check_data(c->m, test, err);
    if (!st && rc_val) st = ops->check_data(c->m, rc_val, err);
    if (!st) st = trainer_check(c->t, c->m, tc, err);
    if (!st) st = trainer_record(c->t, tc, train->n, c->record, err);
    return st;
}

elbo_status run_epoch(const run_client *c, const elbo_train_config *tc, const elbo_dataset *ds,
                      elbo_progress_fn progress, void *user, double *means, long *n_seen,
                      elbo_error *err)
{
    elbo_status st = prepare(c, tc, ds, NULL, NULL, err);
    return st ? st : trainer_epoch(c->t, c->m, tc, ds, progress, user, means, n_seen, err);
}

elbo_status run_train(const run_client *c, const elbo_train_config *tc, const elbo_run_config *rc,
                      const elbo_dataset *train, const elbo_dataset *test,
                      const elbo_run_callbacks *cb, int *stopped, elbo_error *err)
{
    ELBO_ASSERT(rc->out_dir);
    run_state s = {c, rc, cb, c->t->step, 0, 0};
    char path[4200], extra[64 + 40 * 256], summary[128], warning[256];
    snprintf(path, sizeof path, "%s/metrics.jsonl", rc->out_dir);
    elbo_status st = prepare(c, tc, train, test, rc->val, err);
    if (!st && trainer_writes(c->t)) st = metrics_trim(path, c->t->epoch, err);
    double secs = 0.0;
    if (stopped) *stopped = 0;
    if (early_stop_due(&s)) s.stop = 2; /* a resumed run that had stopped early */
    while (!st && c->t->epoch < rc->epochs && !s.stop) {
        int e = c->t->epoch + 1;
        elbo_epoch_report r = {.epoch = e, .n_terms = c->m->ops->n_terms, .terms = c->m->ops->terms,
                               .select_term = c->m->ops->select_term,
                               .extra_json = extra, .summary = summary, .warning = warning};
        double t0 = seconds_now();
        long n;
        st = trainer_epoch(c->t, c->m, tc, train, on_step, &s, r.train, &n, err);
        secs += seconds_now() - t0;
        if (!st && s.fail)
            st = elbo_fail(err, ELBO_ERR_IO, "step %ld: the group's stop agreement failed", c->t->step);
        if (st) break;
        if (c->t->epoch < e) { /* stopped inside the epoch: a step checkpoint or a stop */
            st = save(&s, err);
            continue;
        }
        r.seconds = secs;
        secs = 0.0;
        st = finish_epoch(&s, tc, test, &r, extra, sizeof extra, summary, warning, err);
        if (!st && early_stop_due(&s)) s.stop = 2;
        /* a new best is checkpointed at once, so that best.safetensors and the
         * best epoch the trainer records never disagree after a crash */
        int new_best = r.has_val && r.best_epoch == e;
        if (!st && ((rc->ckpt_epochs > 0 && e % rc->ckpt_epochs == 0) || e == rc->epochs || s.stop || new_best))
            st = save(&s, err);
        if (!st && cb && cb->epoch_done) cb->epoch_done(cb->user, &r);
        if (!st && !s.stop) { /* a stop asked for at the epoch's end, agreed by a group */
            int any = trainer_agree(c->t, cb && cb->should_stop && cb->should_stop(cb->user));
            if (any < 0) st = elbo_fail(err, ELBO_ERR_IO, "epoch %d: the group's stop agreement failed", e);
            s.stop = any > 0;
        }
    }
    if (!st && s.stop && c->t->step != s.last_saved) st = save(&s, err);
    if (stopped) *stopped = s.stop;
    return st;
}
