/* checkpoint.h — saving and loading any model over its tensor table, with
 * the optimizer and trainer state and the run record. Knows nothing of any
 * particular model: a model's loader (e.g. models/vae_io.c) reads the
 * config from the metadata, creates the model, then calls these.
 *
 * model.safetensors: every tensor of the table under its name, in its user
 *   layout (PyTorch's), and in __metadata__: "format" (the model's, e.g.
 *   elbo-vae-1), "model" (its kind), "elbo_version", "step", the model's
 *   config pairs and the run record as "run.KEY".
 * optim.safetensors: the optimizer's state vectors under their names (flat
 *   over the parameter buffer in table order) and the trainer's state in
 *   __metadata__: step, epoch, seed, PRNG states, the position in an
 *   unfinished epoch and its term sums ("epoch_TERM"); with a parameter
 *   average (elbo_train_config.ema) also "ema.params", that average.
 * Both are written to fsync'd temporaries and renamed (see ckpt_save). */
#ifndef ELBO_CHECKPOINT_H
#define ELBO_CHECKPOINT_H

#include "../models/model.h"
#include "../train/trainer.h"
#include "safetensors.h"

/* The name of the parameter average in optim.safetensors. */
#define CKPT_EMA_TENSOR "ema.params"

typedef struct {
    char model[4200], optim[4200], prev[4200];
    int with_optim; /* optimizer state rides along (a folder or model.safetensors) */
} ckpt_paths;

/* The files of a checkpoint at path: a folder, or a weights file. */
void ckpt_paths_of(const char *path, ckpt_paths *p);

/* Writes dir/model.safetensors and dir/optim.safetensors (commit protocol
 * in checkpoint.c). dir must exist. */
elbo_status ckpt_save(const char *dir, const model *m, const trainer *t,
                      const elbo_run_record *rec, elbo_error *err);
/* Writes only the weights to path, atomically. */
elbo_status ckpt_save_weights(const char *path, const model *m, const trainer *t,
                              const elbo_run_record *rec, elbo_error *err);

/* Reads every tensor of m's table from f (shapes checked, values finite)
 * and refuses tensors the table does not have. */
elbo_status ckpt_read_tensors(const st_file *f, model *m, elbo_error *err);
/* The "run.*" metadata of f into rec (rec is cleared first). */
void ckpt_read_record(const st_file *f, elbo_run_record *rec);
/* The model file's step: -1 when absent; ELBO_ERR_FORMAT when malformed. */
elbo_status ckpt_model_step(const st_file *f, long *step, elbo_error *err);
/* The optimizer and trainer state beside the model: optim.safetensors, or
 * after an interrupted save optim.prev.safetensors, whichever is from
 * model_step (< 0: any). Without either file t is left as it is. */
elbo_status ckpt_load_trainer(const ckpt_paths *p, long model_step, trainer *t, const model *m,
                              elbo_error *err);

/* What a model's loader hands the shared one: the parts of the handle it
 * made. */
typedef struct {
    model *m;
    trainer *t;
    elbo_run_record *rec;
} ckpt_parts;
/* Creates the model (with its trainer) that the metadata of f describes,
 * max_batch overriding its rows when > 0; returns the handle and sets
 * *parts, or NULL with err set. */
typedef void *(*ckpt_make_fn)(const st_file *f, int max_batch, ckpt_parts *parts, elbo_error *err);

/* Loads the checkpoint at path (a folder or a weights file) for any model:
 * make creates it, then the step, every tensor, the run record and, beside
 * a folder's model, the optimizer and trainer state follow. On failure the
 * handle is released with release and NULL returned. */
void *ckpt_load(const char *path, int max_batch, ckpt_make_fn make, void (*release)(void *),
                elbo_error *err);

/* Defines the make and release that ckpt_load takes for model type T:
 * static ckpt_make_T and ckpt_release_T. They rely on elbo_T_config, a
 * static config_from_file(f, &config, err) that parses the metadata,
 * elbo_T_create(&config, 0, err) (the parameters then come from the file),
 * elbo_T_free, and a handle with the fields base, tr and record. Every
 * model's loader is the same but for the type; this writes it once. */
#define CKPT_DEFINE_MAKE(T)                                                                            \
    static void *ckpt_make_##T(const st_file *f, int max_batch, ckpt_parts *parts, elbo_error *err)    \
    {                                                                                                  \
        elbo_##T##_config c;                                                                           \
        if (config_from_file(f, &c, err)) return NULL;                                                 \
        if (max_batch > 0) c.max_batch = max_batch;                                                    \
        elbo_##T *m = elbo_##T##_create(&c, 0, err);                                                   \
        if (m) *parts = (ckpt_parts){&m->base, &m->tr, &m->record};                                    \
        return m;                                                                                      \
    }                                                                                                  \
    static void ckpt_release_##T(void *m) { elbo_##T##_free(m); }

/* Metadata getter for config parsers: st_meta_get over an st_file. */
const char *ckpt_meta_get(const void *f, const char *key);

#endif
