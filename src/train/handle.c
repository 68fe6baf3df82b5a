/* handle.c — elbo_model (elbo.h, "any model"): the public calls every
 * model shares, over its run_client (run.h). */
#include "../io/checkpoint.h"
#include "run.h"

const char *elbo_model_kind(const elbo_model *h) { return h->c.m->ops->kind; }

int elbo_model_terms(const elbo_model *h, const char *const **names)
{
    if (names) *names = h->c.m->ops->terms;
    return h->c.m->ops->n_terms;
}

elbo_status elbo_model_train_epoch(elbo_model *h, const elbo_train_config *tc,
                                   const elbo_dataset *ds, elbo_progress_fn progress, void *user,
                                   double *terms, elbo_error *err)
{
    ELBO_ASSERT(h && tc);
    double means[MODEL_MAX_TERMS];
    elbo_status st = run_epoch(&h->c, tc, ds, progress, user, means, NULL, err);
    for (int k = 0; !st && terms && k < h->c.m->ops->n_terms; k++) terms[k] = means[k];
    return st;
}

elbo_status elbo_model_run(elbo_model *h, const elbo_train_config *tc, const elbo_run_config *rc,
                           const elbo_dataset *train, const elbo_dataset *test,
                           const elbo_run_callbacks *cb, int *stopped, elbo_error *err)
{
    ELBO_ASSERT(h && tc && rc && rc->out_dir);
    return run_train(&h->c, tc, rc, train, test, cb, stopped, err);
}

elbo_status elbo_model_save(const elbo_model *h, const char *dir, elbo_error *err)
{
    return ckpt_save(dir, h->c.m, h->c.t, h->c.record, err);
}

elbo_status elbo_model_set_threads(elbo_model *h, int n, elbo_error *err)
{
    int before = h->c.m->n_workers;
    elbo_status st = model_set_workers(h->c.m, n, err);
    if (!st && (st = trainer_fit_workers(h->c.t, h->c.m, err)) != ELBO_OK)
        model_set_workers(h->c.m, before, NULL); /* back to what the trainer fits */
    return st;
}

elbo_status elbo_model_set_group(elbo_model *h, const elbo_group *g, elbo_error *err)
{
    ELBO_ASSERT(h);
    return trainer_set_group(h->c.t, g, err);
}

int elbo_model_threads(const elbo_model *h) { return h->c.m->n_workers; }
size_t elbo_model_num_params(const elbo_model *h) { return h->c.m->n_params; }
long elbo_model_steps(const elbo_model *h) { return h->c.t->step; }
int elbo_model_epochs(const elbo_model *h) { return h->c.t->epoch; }
long elbo_model_epoch_examples(const elbo_model *h) { return h->c.t->epoch_seen; }
uint64_t elbo_model_seed(const elbo_model *h) { return h->c.t->seed; }
const elbo_run_record *elbo_model_get_run_record(const elbo_model *h) { return h->c.record; }
void elbo_model_set_run_record(elbo_model *h, const elbo_run_record *r) { *h->c.record = *r; }

int elbo_model_swap_average(elbo_model *h)
{
    ELBO_ASSERT(h);
    if (!h->c.t->ema) return 0;
    trainer_ema_swap(h->c.t, h->c.m);
    return 1;
}
