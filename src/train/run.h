/* run.h — training over any model as a library call: an epoch, or a whole
 * run with evaluation and checkpoint cadence, metrics.jsonl and stop
 * requests, for the public elbo_model_train_epoch and elbo_model_run
 * (train/handle.c). The data sets are checked
 * (ops->check_data), the options (trainer_check), the run record is
 * written (the options, the seed and the training rows), then the trainer
 * runs. */
#ifndef ELBO_RUN_H
#define ELBO_RUN_H

#include "trainer.h"

/* A model as training sees it: its interface, its trainer and its run
 * record (saved with its checkpoints). The public elbo_model handle is
 * this; every model embeds one (elbo_vae, elbo_bnn). */
typedef struct {
    trainer *t;
    model *m;
    elbo_run_record *record;
} run_client;

struct elbo_model {
    run_client c;
};

/* One epoch's worth of training (elbo_vae_train_epoch's contract). */
elbo_status run_epoch(const run_client *c, const elbo_train_config *tc, const elbo_dataset *ds,
                      elbo_progress_fn progress, void *user, double *means, long *n_seen,
                      elbo_error *err);

elbo_status run_train(const run_client *c, const elbo_train_config *tc, const elbo_run_config *rc,
                      const elbo_dataset *train, const elbo_dataset *test,
                      const elbo_run_callbacks *cb, int *stopped, elbo_error *err);

#endif
