/* optim.h — the optimizer interface the trainer uses: an update over a
 * contiguous slice of the parameter buffer, its state as one buffer with
 * named views (so checkpoints can save it by name). The learning rate is
 * o->lr, which the trainer sets before every step (trainer_lr: the decay
 * schedule needs the epoch position, which only the trainer knows). Adam
 * and SGD with momentum (PyTorch's semantics, adam.h and sgd.h);
 * OPTIM_NONE for models whose step is not "gradient, then optimizer" (they
 * update their parameters themselves and keep no optimizer state). */
#ifndef ELBO_OPTIM_H
#define ELBO_OPTIM_H

#include <stddef.h>

typedef enum { OPTIM_ADAM = 0, OPTIM_NONE = 1, OPTIM_SGD = 2 } optim_kind;

#define OPTIM_MAX_STATE 2

typedef struct {
    optim_kind kind;
    double lr, beta1, beta2, eps; /* beta1, beta2, eps: Adam's */
    double momentum;              /* SGD's */
    size_t n;          /* parameters it updates */
    int n_state;       /* state vectors of n floats each */
    const char *state_names[OPTIM_MAX_STATE]; /* "adam.exp_avg", ... */
    float *state;      /* [n_state * n], owned; zero at creation */
} optim;

/* Sets up o for n parameters (allocates zeroed state). -1: out of memory. */
int optim_init(optim *o, optim_kind kind, size_t n);
void optim_free(optim *o);
/* The state vector k (a view into o->state). */
float *optim_state(const optim *o, int k);
/* "adam", "sgd" or "none". */
const char *optim_name(optim_kind kind);
/* The kind named name ("adam", "sgd", "none"); -1 for any other. */
int optim_kind_of(const char *name);
/* Step t over params[off .. off + n) with gradient scale * g[0 .. n).
 * Returns the index (relative to off) of the first non-finite gradient
 * element, or (size_t)-1. */
size_t optim_update(optim *o, float *params, const float *g, size_t off, size_t n, long t,
                    float scale);

#endif
