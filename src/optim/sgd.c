/* sgd.c — see sgd.h. */
#include "sgd.h"

#include <math.h>
#include <stdint.h>

#include "nonfinite.h"

size_t sgd_step(float *params, const float *grads, float *buf, size_t n, double lr,
                double momentum, float scale)
{
    const float flr = (float)lr, mom = (float)momentum;
    size_t bad = (size_t)-1;
    /* blocks of 256 with the branch-free non-finite test of nonfinite.h */
    enum { BLK = 256 };
    for (size_t i0 = 0; i0 < n; i0 += BLK) {
        size_t w = n - i0 < BLK ? n - i0 : BLK;
        const float *restrict gg = grads + i0;
        float *restrict pp = params + i0, *restrict bb = buf + i0;
        uint32_t nonfinite = 0;
        for (size_t i = 0; i < w; i++) {
            float g = gg[i] * scale;
            nonfinite |= nonfinite_bit(g);
            float b = bb[i] * mom + g;
            bb[i] = b;
            pp[i] -= flr * b;
        }
        if (nonfinite && bad == (size_t)-1) bad = i0 + first_nonfinite(gg, w, scale);
    }
    return bad;
}
