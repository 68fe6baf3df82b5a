/* trainer.h — the engine: one training step and the epoch loop over any
 * model (models/model.h), with the run's PRNG, shuffling and batching,
 * worker threads, KL schedules, the optimizer, data parallelism over a
 * group of processes (elbo_group) and non-finite detection. The
 * multi-epoch run with evaluation, checkpoints and metrics is train/run.c.
 *
 * State that a checkpoint must restore to continue a run exactly lives
 * here (step, epoch, PRNG, the position inside an unfinished epoch and its
 * loss sums); the model holds only its parameters and scratch.
 *
 * Ownership: trainer_init allocates the optimizer state, the whole-gradient
 * buffer (untouched unless needed) and per-worker chunk scratch, and
 * trainer_ema_start the parameter average; trainer_free releases them. The shuffle order grows with the data set. */
#ifndef ELBO_TRAINER_H
#define ELBO_TRAINER_H

#include "../models/model.h"
#include "../optim/optim.h"

typedef struct trainer_s {
    optim opt;
    long step;           /* optimizer steps taken */
    int epoch;           /* completed epochs */
    uint64_t seed;       /* the run's seed */
    elbo_rng rng;        /* shuffling and noise */

    /* an unfinished epoch (all zero at an epoch boundary): enough to
     * continue it exactly after a stop or a reload */
    long epoch_seen;     /* positions of the epoch's order consumed so far */
    int epoch_n;         /* size of the data set it runs over */
    double epoch_sums[MODEL_MAX_TERMS]; /* term sums so far */
    double epoch_counts[MODEL_MAX_TERMS]; /* the rows behind each sum */
    elbo_rng epoch_rng;  /* PRNG state before the epoch's shuffle */
    int perm_valid;      /* perm holds this epoch's order */
    int *perm;
    int perm_cap;
    int epoch_len;       /* positions in perm: the data set's rows, or with
                            tc->labelled_batch one pass over the unlabelled
                            rows plus the labelled rows mixed in */
    int *mix;            /* [n] scratch of the mixed order (labelled, unlabelled) */
    int mix_cap;
    double step_counts[MODEL_MAX_TERMS]; /* the rows behind the last step's sums */

    /* model selection on a validation set (run.c), kept in checkpoints */
    int best_epoch;      /* epoch of the lowest validation loss (0: none yet) */
    double best_loss;    /* that loss */

    float *ema;          /* [n_params] the parameters' moving average
                            (elbo_train_config.ema), owned; NULL when off */

    float *grad;         /* [n_params] the summed gradient when a step needs it
                            whole (clipping, a group) */
    float *scratch[64];  /* per worker [chunk_max]: a chunk on its way to the
                            optimizer */
    int n_scratch;
    size_t *chunk_bad;   /* [n_chunks] per step: first non-finite element */
    double *chunk_sq;    /* [n_chunks] per step: squared gradient norm */

    /* data parallelism (elbo.h, elbo_group): size 1 alone; this member
     * computes rows split_rows(B, size, rank) of every batch and the group
     * sums terms, batch statistics, the gradient and stop requests */
    elbo_group group;
} trainer;

/* Sets up t for model m: the optimizer for m's parameters, the PRNG from
 * rng (the state after the model's initialisation, which drew from it). */
elbo_status trainer_init(trainer *t, const model *m, uint64_t seed, const elbo_rng *rng,
                         elbo_error *err);
void trainer_free(trainer *t);
/* Matches the per-worker scratch to m->n_workers. */
elbo_status trainer_fit_workers(trainer *t, const model *m, elbo_error *err);

/* The checks every model shares (optimizer, batch, schedules), then the
 * model's own, then the optimizer tc names: a trainer that has taken no
 * step switches to it (fresh, zeroed state); one that has must already use
 * it (ELBO_ERR_MISMATCH otherwise: its state belongs to the other). */
elbo_status trainer_check(trainer *t, const model *m, const elbo_train_config *tc,
                          elbo_error *err);
/* Allocates t->ema for m's parameters, as a copy of them (the average
 * starts here); NULL-safe to call when it exists (nothing changes). */
elbo_status trainer_ema_start(trainer *t, const model *m, elbo_error *err);
/* Swaps m's parameters with their average (no-op without one): call it
 * twice around an evaluation that should see the averaged weights. */
void trainer_ema_swap(trainer *t, model *m);
/* Replaces t's optimizer by a fresh one of kind (nothing if it is that
 * kind already): a checkpoint's optimizer before its state is read. */
elbo_status trainer_use_optimizer(trainer *t, const model *m, optim_kind kind, elbo_error *err);
/* Writes the options of tc, the run's seed and the number of training
 * rows into r (elbo_run_record_train_config plus "seed", "train_rows"). */
elbo_status trainer_record(const trainer *t, const elbo_train_config *tc, int train_rows,
                           elbo_run_record *r, elbo_error *err);
/* Joins group g (NULL or size 1: alone). */
elbo_status trainer_set_group(trainer *t, const elbo_group *g, elbo_error *err);
/* Whether this member writes outputs (rank 0, or alone). */
int trainer_writes(const trainer *t);
/* Any member's flag: the group's agreement on a stop request (flag itself
 * when alone); -1 when the group's sum fails. */
int trainer_agree(trainer *t, int flag);

/* The KL weight of the next step: beta times the warm-up or cyclical
 * schedule at the current position (epochs, fractional). */
double trainer_kl_weight(const trainer *t, const elbo_train_config *tc);
/* Whether tc decays the learning rate (lr_decay 1, or 0 from a struct zeroed
 * before the field existed, means a constant rate). */
static inline int trainer_lr_decays(const elbo_train_config *tc)
{
    return tc->lr_decay != 0.0 && tc->lr_decay != 1.0;
}
/* The learning rate of the coming step: tc->lr, decayed by tc->lr_decay per
 * (fractional) epoch down to tc->lr_min. */
double trainer_lr(const trainer *t, const elbo_train_config *tc);

/* One step on batch b (b->n rows): forward and backward over the workers,
 * term sums into sums[ops->n_terms] (and the rows behind each into
 * t->step_counts: b->n unless the model's counts_of says otherwise), then
 * the gradient chunk by chunk into the optimizer. A non-finite term is
 * refused before any weight changes. */
elbo_status trainer_step(trainer *t, model *m, const elbo_train_config *tc, const model_batch *b,
                         double *sums, elbo_error *err);

/* Trains to the end of the current epoch over ds (see elbo_vae_train_epoch
 * in elbo.h for the contract); means gets the per-example means of the
 * terms of the epoch so far (each over the rows its model counts for it).
 *
 * The epoch's order is a fresh shuffle of ds's rows; with
 * tc->labelled_batch L > 0 (semi-supervised models) and a data set with
 * both labelled and unlabelled rows, it is instead one pass over the
 * shuffled unlabelled rows in batches of B - L, each batch completed by
 * the next L of the labelled rows (reshuffled whenever they run out) and
 * then shuffled within itself: every batch mixes the two as M2's training
 * needs, however few the labels. */
elbo_status trainer_epoch(trainer *t, model *m, const elbo_train_config *tc,
                          const elbo_dataset *ds, elbo_progress_fn progress, void *user,
                          double *means, long *n_seen, elbo_error *err);

#endif
