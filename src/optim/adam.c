/* adam.c — see adam.h. */
#include "adam.h"

#include <math.h>

void adam_step(float *params, const float *grads, float *m, float *v, size_t n, long t, double lr,
               double beta1, double beta2, double eps)
{
    /* PyTorch computes the bias corrections in double (Python floats). */
    double bc1 = 1.0 - pow(beta1, (double)t);
    double bc2 = 1.0 - pow(beta2, (double)t);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1 = (float)beta1, b2 = (float)beta2, epsf = (float)eps;
    const float omb1 = (float)(1.0 - beta1), omb2 = (float)(1.0 - beta2);
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        float mi = m[i] * b1 + omb1 * g;
        float vi = v[i] * b2 + omb2 * g * g;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + epsf;
        params[i] -= step_size * (mi / denom);
    }
}
