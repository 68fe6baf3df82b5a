/* model.h — what a model gives the engine (src/train/, src/io/checkpoint.c).
 *
 * A model is a struct whose first member is a `model`: the table of its
 * named tensors over one flat parameter buffer, the gradient chunks that
 * cover that buffer, and a few function pointers (model_ops) over flat call
 * sequences. The trainer owns everything else: the PRNG, shuffling and
 * batching, worker threads, KL schedules, the optimizer and its state, the
 * gradient reduce, non-finite detection, checkpoints and metrics.
 *
 * One training step, as the trainer runs it (train/trainer.c):
 *
 *   ops->step_begin(m, &step, &batch)           serial: noise of the whole batch,
 *                                               per-step state
 *   parallel over workers t < nw:               rows [r0, r0 + n) of this
 *       ops->forward(m, &step, t, &batch, r0, n, fused)   member's slice
 *   if step.two_phase:                          (batch-level statistics)
 *       ops->batch_stats(m, nw, &n)  [summed over the group]
 *       ops->between(m, &step, nw, B);  parallel: ops->backward(...)
 *   terms = sum over t of ops->terms(m, t)      [summed over the group],
 *                                               refused when not finite
 *   for every chunk c (any thread, any order):
 *       ops->chunk_grad(m, nw, c, g)            the summed gradient of chunk c
 *       [group sum, clipping]  optimizer update of params[chunk c]
 *
 * The forward/backward calls compute activation gradients only; the
 * parameter gradient of chunk c is formed in chunk_grad from what the
 * workers kept, summed in worker order, so a step's result depends on the
 * thread count but not on which thread did what. A chunk is small enough to
 * stay in cache between chunk_grad and the optimizer (the VAE's speed).
 *
 * A model without a gradient (LDA) sets ops->apply instead: after the
 * workers, ops->stats sums their statistics, the group sums them and
 * ops->apply updates the parameters (no optimizer state).
 *
 * Data parallelism (elbo_group, trainer.h): every member of a group runs
 * step_begin on the whole batch (the same noise everywhere) and its
 * workers on its slice of the rows; what the step sums over rows is summed
 * over the group. A term or gradient that belongs to the step rather than
 * to rows (the BNN's KL) is added by the lead member only (step.lead).
 *
 * Ownership: the model allocates and frees its parameters, tensors, chunks
 * and per-worker scratch (model_set_workers over its model_workers); nothing is allocated during a
 * step. See docs/architecture.md, "Adding a model". */
#ifndef ELBO_MODEL_H
#define ELBO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../optim/optim.h"
#include "../util/common.h"
#include "../util/rng.h"

#define MODEL_MAX_TERMS 8   /* named loss terms per model */
#define MODEL_MAX_DIMS 4
#define MODEL_MAX_META 24   /* config metadata pairs per model */

/* How a tensor's gradient is reduced over workers and group members. */
typedef enum {
    MODEL_REDUCE_SUM = 0, /* the loss is a sum over rows: gradients add */
    MODEL_REDUCE_NONE = 1 /* no gradient (statistics, constants) */
} model_reduce;

/* One named tensor: a view of params[off .. off + n). shape is the layout
 * users see (PyTorch's); a 2-D tensor with `transposed` set is stored
 * [shape[1], shape[0]] in memory (checkpoints convert at the edge). */
typedef struct {
    char name[48];
    int ndim;
    int64_t shape[MODEL_MAX_DIMS];
    size_t off, n;
    int transposed;
    model_reduce reduce;
} model_tensor;

/* A piece of the parameter buffer whose gradient is formed in one call:
 * params[off .. off + n). Chunks cover every parameter exactly once. layer,
 * kind and rows [r0, r1) say where it lies, in the model's own terms (for
 * its chunk_grad; the engine reads only off and n). */
typedef struct {
    size_t off, n;
    int layer, kind, r0, r1;
} model_chunk;

/* The rows of one batch: rows idx[start .. start + n) of ds (consecutive
 * rows from start when idx is NULL), or float rows x + start * dim. */
typedef struct {
    const elbo_dataset *ds;
    const int *idx;
    const float *x;
    int start, n;
    int epoch;     /* completed epochs of the run (keys per-use randomness) */
    uint64_t seed; /* the run's seed (keys per-example randomness) */
    int index, count; /* this is batch index (0-based) of count in its epoch
                         (0 of 1 for a lone step): per-minibatch KL weights */
} model_batch;

/* What the trainer tells a model about the step it runs. */
typedef struct {
    const elbo_train_config *tc; /* every training option */
    double kl_weight;            /* the KL schedule's weight for this step */
    elbo_rng *rng;               /* the run's PRNG: draw this step's noise */
    int two_phase;               /* set by step_begin: forward, between, backward */
    int lead;                    /* 1: this process adds the step's own terms and
                                    gradients (alone, or rank 0 of a group) */
} model_step;

typedef struct model model;

/* A model's per-worker scratch: worker i at (char *)at + i * size, at most
 * max of them, made by alloc (0 on success) and released by release. */
typedef struct {
    void *at;
    size_t size;
    int max;
    int (*alloc)(model *m, void *w);
    void (*release)(void *w);
} model_workers;

typedef struct {
    const char *kind;   /* "vae": checkpoint metadata "model" */
    const char *format; /* model.safetensors "format", e.g. "elbo-vae-1" */
    int n_terms;        /* terms[0] is the objective, reported as "loss" */
    int select_term;    /* the term whose validation mean model selection and
                           early stopping minimise (0: the loss; M2 and the
                           Bayesian classifier: a classification error) */
    const char *const *terms;       /* metric names: "loss", "recon", "kl" */
    const char *const *term_labels; /* in messages: "loss", "reconstruction", "KL" */

    /* A data set that does not fit this model (ELBO_ERR_ARG with a message
     * naming the row, column or label). */
    elbo_status (*check_data)(const model *m, const elbo_dataset *ds, elbo_error *err);
    /* Options that do not fit this model (ELBO_ERR_ARG with a message). */
    elbo_status (*check_train)(const model *m, const elbo_train_config *tc, elbo_error *err);
    /* Serial, before the workers: draws the step's noise from s->rng, sets
     * per-step state and s->two_phase. */
    void (*step_begin)(model *m, model_step *s, const model_batch *b);
    /* Worker t's rows [r0, r0 + n) of b: loads them and runs the forward
     * pass; with fused set, also the backward pass when the loss is finite. */
    void (*forward)(model *m, const model_step *s, int t, const model_batch *b, int r0, int n,
                    int fused);
    /* Two-phase steps: batch_stats sums what between needs over workers
     * 0 .. nw-1 (none when nw is 0) into a buffer the model owns and
     * returns it (n doubles in *n); the engine sums it over the group; then
     * between, serial, with B the rows of the whole batch; then backward per
     * worker. Both NULL when the model never asks for two phases. */
    double *(*batch_stats)(model *m, int nw, size_t *n);
    void (*between)(model *m, const model_step *s, int nw, int B);
    void (*backward)(model *m, const model_step *s, int t, int n);
    /* Worker t's sums of the terms over its rows, in ops->terms order. */
    void (*terms_of)(const model *m, int t, double *sums);
    /* The rows behind each of those sums, for terms that only some rows
     * have (M2's labelled and unlabelled bounds): epoch means divide by
     * them. NULL: every term sums over every row. */
    void (*counts_of)(const model *m, int t, double *counts);
    /* The summed gradient of chunk c over workers 0 .. nw-1 into dst [n]. */
    void (*chunk_grad)(model *m, int nw, int c, float *dst);
    /* Drops what workers accumulated for a step that was refused. */
    void (*drop_grads)(model *m, int nw);
    /* The mean of every term over ds with noise from seed, into terms. */
    elbo_status (*eval)(model *m, const elbo_dataset *ds, uint64_t seed, double *terms,
                        elbo_error *err);
    /* After an epoch's test evaluation (test_terms: its means): the model's
     * extra metrics fields as a JSON fragment ",\"key\":value...", a short
     * summary for the epoch line and a warning; each may stay "". NULL: none. */
    void (*diagnose)(model *m, const elbo_dataset *test, const double *test_terms,
                     double kl_weight, char *json, size_t json_cap, char *summary,
                     size_t summary_cap, char *warning, size_t warning_cap);
    /* The config as metadata pairs; returns how many (<= MODEL_MAX_META). */
    int (*config_to_meta)(const model *m, elbo_kv *out);

    /* Models whose step is not "gradient, then optimizer" (LDA's
     * sufficient statistics) set optimizer to OPTIM_NONE (no optimizer
     * state: checkpoints carry the trainer's position only) and these two,
     * which replace chunk_grad and the optimizer: stats sums what workers
     * 0 .. nw-1 kept into a buffer the model owns and returns it (n
     * floats in *n), the engine sums it over the group, then apply
     * updates the parameters from it for step number step (1-based).
     * apply's failure fails the step. chunk_grad may then be NULL. */
    optim_kind optimizer;
    float *(*stats)(model *m, int nw, size_t *n);
    elbo_status (*apply)(model *m, const model_step *s, const model_batch *b, long step,
                         elbo_error *err);
} model_ops;

struct model {
    const model_ops *ops;
    size_t n_params;
    float *params;          /* [n_params] owned by the model */
    int n_tensors;
    model_tensor *tensors;  /* in checkpoint order */
    int n_chunks;
    model_chunk *chunks;    /* in the order the trainer hands them out */
    size_t chunk_max;       /* floats in the largest chunk */
    int n_workers;          /* workers with scratch (model_set_workers) */
    model_workers wk;       /* how the per-worker scratch is made */
    int max_rows;           /* rows a worker's scratch holds (batch x samples) */
};

/* Builds m->chunks from the model's lister: list(owner, NULL) returns the
 * count, list(owner, out) fills out; they are then ordered larger first
 * (ties in parameter order), so that threads taking chunks as they come
 * free end on small ones together, and m->chunk_max is set. -1 when out of
 * memory. model_chunks_free releases them. */
int model_chunks_build(model *m, int (*list)(const void *owner, model_chunk *out), const void *owner);
void model_chunks_free(model *m);

/* Grows or shrinks the per-worker scratch to n workers (0: all cores;
 * capped at wk.max) with the model's wk.alloc and wk.release.
 * Sets m->n_workers. */
elbo_status model_set_workers(model *m, int n, elbo_error *err);
/* Frees every worker's scratch. */
void model_free_workers(model *m);

/* The last part of creating a model whose ops, layout (n_params), tensor
 * table, max_rows and worker descriptor are set: the parameter buffer
 * (zeroed), the chunks from list, the workers (threads), then init(m,
 * rng) with the PRNG seeded from seed, and trainer_init(t, ...) continuing
 * that PRNG. On failure the caller frees the model. */
struct trainer_s;
elbo_status model_setup(model *m, struct trainer_s *t, int (*list)(const void *owner, model_chunk *out),
                        const void *owner, int threads, uint64_t seed,
                        void (*init)(model *m, elbo_rng *rng), elbo_error *err);

/* Runs fn over n rows in chunks of `rows` rows spread over m's workers:
 * fn(m, worker, c, start, count, rng, arg) for chunk c, with a PRNG seeded
 * from seed and c alone, so that results (kept per chunk by fn and
 * combined in chunk order) do not depend on the thread count. */
typedef void (*model_chunk_fn)(model *m, int worker, int c, int start, int count, elbo_rng *rng,
                               void *arg);
void model_for_row_chunks(model *m, int n, int rows, uint64_t seed, model_chunk_fn fn, void *arg);

/* Index of the tensor holding flat index i, or -1. */
int model_tensor_at(const model *m, size_t i);
/* Index of the tensor called name, or -1. */
int model_tensor_find(const model *m, const char *name);
/* "fc4.weight" for flat index i, or "parameter i". */
const char *model_param_name(const model *m, size_t i, char *buf, size_t cap);
/* A tensor's values in its user layout (transposed back) into dst [n], and
 * the way back. */
void model_tensor_export(const model *m, int ti, const float *base, float *dst);
void model_tensor_import(const model *m, int ti, float *base, const float *src);

/* Config <-> metadata helpers for a model's config_to_meta and loader.
 * model_meta_put sets out[n] to key and the formatted value and returns
 * n + 1; model_meta_put_widths writes "400,400" (n widths, "" for none). */
int model_meta_put(elbo_kv *out, int n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int model_meta_put_widths(elbo_kv *out, int n, const char *key, const int *w, int count);
/* Index of s in names[n]; dflt when s is NULL; -1 when unknown. */
int model_meta_lookup(const char *s, const char *const *names, int n, int dflt);
/* Parsers of metadata value v of key (NULL: absent) from file, each
 * ELBO_ERR_FORMAT naming file, key and value when it does not parse: an
 * integer in 1..2^20 (absent is an error); a finite number (absent leaves
 * *out); comma-separated widths in 1..2^20, at most max of them (absent
 * is an error, "" is none). */
elbo_status model_meta_pos_int(const char *v, const char *key, const char *file, int *out,
                               elbo_error *err);
elbo_status model_meta_double(const char *v, const char *key, const char *file, double *out,
                              elbo_error *err);
elbo_status model_meta_widths(const char *v, const char *key, const char *file, int *w, int *count,
                              int max, elbo_error *err);

#endif
