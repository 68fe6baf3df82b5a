/* optim.c — see optim.h. */
#include "optim.h"

#include <string.h>

#include "../util/common.h"
#include "adam.h"
#include "sgd.h"

int optim_init(optim *o, optim_kind kind, size_t n)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->n = n;
    o->lr = 1e-3;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    if (kind == OPTIM_ADAM) {
        o->n_state = 2;
        o->state_names[0] = "adam.exp_avg";
        o->state_names[1] = "adam.exp_avg_sq";
    } else if (kind == OPTIM_SGD) {
        o->n_state = 1;
        o->state_names[0] = "sgd.momentum_buffer";
    }
    size_t cells;
    if (!elbo_mul_ok(n, (size_t)o->n_state, &cells)) return -1;
    if (cells == 0) return 0;
    o->state = elbo_calloc_aligned(cells, sizeof(float));
    return o->state ? 0 : -1;
}

void optim_free(optim *o)
{
    elbo_free_aligned(o->state);
    o->state = NULL;
}

float *optim_state(const optim *o, int k)
{
    ELBO_ASSERT(k >= 0 && k < o->n_state);
    return o->state + (size_t)k * o->n;
}

const char *optim_name(optim_kind kind)
{
    return kind == OPTIM_ADAM ? "adam" : kind == OPTIM_SGD ? "sgd" : "none";
}

int optim_kind_of(const char *name)
{
    if (!strcmp(name, "adam")) return OPTIM_ADAM;
    if (!strcmp(name, "sgd")) return OPTIM_SGD;
    if (!strcmp(name, "none")) return OPTIM_NONE;
    return -1;
}

size_t optim_update(optim *o, float *params, const float *g, size_t off, size_t n, long t,
                    float scale)
{
    ELBO_ASSERT(o->kind != OPTIM_NONE && off + n <= o->n);
    if (o->kind == OPTIM_SGD)
        return sgd_step(params + off, g, optim_state(o, 0) + off, n, o->lr, o->momentum, scale);
    return adam_step(params + off, g, optim_state(o, 0) + off, optim_state(o, 1) + off, n, t,
                     o->lr, o->beta1, o->beta2, o->eps, scale);
}
