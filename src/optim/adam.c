/* adam.c — see adam.h. */
#include "adam.h"

#include <math.h>

typedef struct {
    float step_size, bc2_sqrt, b1, b2, omb1, omb2, eps;
} adam_consts;

/* PyTorch computes the bias corrections in double (Python floats) and the
 * update in float. */
static adam_consts consts(long t, double lr, double beta1, double beta2, double eps)
{
    double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    adam_consts c = {(float)(lr / bc1), (float)sqrt(bc2), (float)beta1, (float)beta2,
                     (float)(1.0 - beta1), (float)(1.0 - beta2), (float)eps};
    return c;
}

static inline void update(float *restrict p, float *restrict m, float *restrict v, float g,
                          const adam_consts *c)
{
    float mi = *m * c->b1 + c->omb1 * g;
    float vi = *v * c->b2 + c->omb2 * g * g;
    *m = mi;
    *v = vi;
    float denom = sqrtf(vi) / c->bc2_sqrt + c->eps;
    *p -= c->step_size * (mi / denom);
}

void adam_step(float *params, const float *grads, float *m, float *v, size_t n, long t, double lr,
               double beta1, double beta2, double eps)
{
    adam_consts c = consts(t, lr, beta1, beta2, eps);
    for (size_t i = 0; i < n; i++) update(&params[i], &m[i], &v[i], grads[i], &c);
}

size_t adam_step_sum(float *params, float *const *parts, int n_parts, size_t offset, float *m,
                     float *v, size_t n, long t, double lr, double beta1, double beta2, double eps,
                     float scale)
{
    adam_consts c = consts(t, lr, beta1, beta2, eps);
    size_t bad = (size_t)-1;
    /* blocks of 256 so the summed gradient stays in L1 and loops vectorise */
    enum { BLK = 256 };
    float g[BLK];
    for (size_t i0 = 0; i0 < n; i0 += BLK) {
        size_t w = n - i0 < BLK ? n - i0 : BLK;
        float *p0 = parts[0] + offset + i0;
        for (size_t i = 0; i < w; i++) {
            g[i] = p0[i];
            p0[i] = 0.0f;
        }
        for (int k = 1; k < n_parts; k++) {
            float *pk = parts[k] + offset + i0;
            for (size_t i = 0; i < w; i++) {
                g[i] += pk[i];
                pk[i] = 0.0f;
            }
        }
        if (scale != 1.0f)
            for (size_t i = 0; i < w; i++) g[i] *= scale;
        /* 0 * g is 0 for every finite g and NaN for inf or NaN: a
         * branch-free, vectorisable finiteness check */
        float probe = 0.0f;
        for (size_t i = 0; i < w; i++) probe += 0.0f * g[i];
        if (probe != 0.0f && bad == (size_t)-1)
            for (size_t i = 0; i < w; i++)
                if (!isfinite(g[i])) {
                    bad = i0 + i;
                    break;
                }
        float *restrict pp = params + i0, *restrict mm = m + i0, *restrict vv = v + i0;
        for (size_t i = 0; i < w; i++) {
            float mi = mm[i] * c.b1 + c.omb1 * g[i];
            float vi = vv[i] * c.b2 + c.omb2 * g[i] * g[i];
            mm[i] = mi;
            vv[i] = vi;
            pp[i] -= c.step_size * (mi / (sqrtf(vi) / c.bc2_sqrt + c.eps));
        }
    }
    return bad;
}

double grad_sq_norm(float *const *parts, int n_parts, size_t offset, size_t n)
{
    enum { BLK = 256 };
    double total = 0.0;
    for (size_t i0 = 0; i0 < n; i0 += BLK) {
        size_t w = n - i0 < BLK ? n - i0 : BLK;
        float g[BLK], acc = 0.0f;
        for (size_t i = 0; i < w; i++) g[i] = parts[0][offset + i0 + i];
        for (int k = 1; k < n_parts; k++)
            for (size_t i = 0; i < w; i++) g[i] += parts[k][offset + i0 + i];
        for (size_t i = 0; i < w; i++) acc += g[i] * g[i];
        total += acc;
    }
    return total;
}
