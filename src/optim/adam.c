/* adam.c — see adam.h. */
#include "adam.h"

#include <math.h>
#include <stdint.h>

#include "nonfinite.h"

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

size_t adam_step(float *params, const float *grads, float *m, float *v, size_t n, long t,
                 double lr, double beta1, double beta2, double eps, float scale)
{
    adam_consts c = consts(t, lr, beta1, beta2, eps);
    size_t bad = (size_t)-1;
    /* One pass over blocks of 256, the non-finite test branch-free
     * (nonfinite.h). Multiplying by a scale of 1 is exact. */
    enum { BLK = 256 };
    for (size_t i0 = 0; i0 < n; i0 += BLK) {
        size_t w = n - i0 < BLK ? n - i0 : BLK;
        const float *restrict gg = grads + i0;
        float *restrict pp = params + i0, *restrict mm = m + i0, *restrict vv = v + i0;
        uint32_t nonfinite = 0;
        for (size_t i = 0; i < w; i++) {
            float g = gg[i] * scale;
            nonfinite |= nonfinite_bit(g);
            float mi = mm[i] * c.b1 + c.omb1 * g;
            float vi = vv[i] * c.b2 + c.omb2 * g * g;
            mm[i] = mi;
            vv[i] = vi;
            pp[i] -= c.step_size * (mi / (sqrtf(vi) / c.bc2_sqrt + c.eps));
        }
        if (nonfinite && bad == (size_t)-1) bad = i0 + first_nonfinite(gg, w, scale);
    }
    return bad;
}

double grad_sq_norm(const float *g, size_t n)
{
    enum { BLK = 256 };
    double total = 0.0;
    for (size_t i0 = 0; i0 < n; i0 += BLK) {
        size_t w = n - i0 < BLK ? n - i0 : BLK;
        float acc = 0.0f;
        for (size_t i = 0; i < w; i++) acc += g[i0 + i] * g[i0 + i];
        total += acc;
    }
    return total;
}
