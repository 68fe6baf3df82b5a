/* run.h — training over any model as a library call: an epoch, or a whole
 * run with evaluation and checkpoint cadence, metrics.jsonl and stop
 * requests. A model's public train_epoch and run calls (elbo_vae_run,
 * elbo_bnn_run) are one line each over these: the data sets are checked
 * (ops->check_data), the options (trainer_check), the run record is
 * written (the options, the seed and the training rows), then the trainer
 * runs. */
#ifndef ELBO_RUN_H
#define ELBO_RUN_H

#include "trainer.h"

/* Saves the run's checkpoint into dir (the handle knows its run record). */
typedef elbo_status (*run_save_fn)(void *handle, const char *dir, elbo_error *err);

typedef struct {
    trainer *t;
    model *m;
    elbo_run_record *record; /* the model's, saved with its checkpoints */
    void *handle;     /* passed to save */
    run_save_fn save; /* NULL: run_epoch only */
} run_client;

/* One epoch's worth of training (elbo_vae_train_epoch's contract). */
elbo_status run_epoch(const run_client *c, const elbo_train_config *tc, const elbo_dataset *ds,
                      elbo_progress_fn progress, void *user, double *means, long *n_seen,
                      elbo_error *err);

elbo_status run_train(const run_client *c, const elbo_train_config *tc, const elbo_run_config *rc,
                      const elbo_dataset *train, const elbo_dataset *test,
                      const elbo_run_callbacks *cb, int *stopped, elbo_error *err);

#endif
