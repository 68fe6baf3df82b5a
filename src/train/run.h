/* run.h — a whole training run over any model: epochs, evaluation and
 * checkpoint cadence, metrics.jsonl and stop requests (elbo_vae_run in
 * elbo.h is the VAE's door to it). */
#ifndef ELBO_RUN_H
#define ELBO_RUN_H

#include "trainer.h"

/* Saves the run's checkpoint into dir (the handle knows its run record). */
typedef elbo_status (*run_save_fn)(void *handle, const char *dir, elbo_error *err);

typedef struct {
    trainer *t;
    model *m;
    void *handle;     /* passed to save */
    run_save_fn save;
} run_client;

elbo_status run_train(const run_client *c, const elbo_train_config *tc, const elbo_run_config *rc,
                      const elbo_dataset *train, const elbo_dataset *test,
                      const elbo_run_callbacks *cb, int *stopped, elbo_error *err);

#endif
