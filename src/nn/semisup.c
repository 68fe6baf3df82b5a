/* semisup.c — see semisup.h. */
#include "semisup.h"

#include <math.h>
#include <string.h>

#include "gemm.h"

int row_argmax(const float *p, int C)
{
    int best = 0;
    for (int k = 1; k < C; k++) best = p[k] > p[best] ? k : best;
    return best;
}

void softmax_forward(float *probs, const float *logits, int B, int C)
{
    for (int b = 0; b < B; b++) {
        const float *l = logits + (size_t)b * C;
        float *p = probs + (size_t)b * C, mx = l[0];
        for (int k = 1; k < C; k++) mx = l[k] > mx ? l[k] : mx;
        double s = 0.0;
        for (int k = 0; k < C; k++) s += (p[k] = expf(l[k] - mx));
        float inv = (float)(1.0 / s);
        for (int k = 0; k < C; k++) p[k] *= inv;
    }
}

/* H of one row; p log p is 0 at p = 0. */
static double row_entropy(const float *p, int C)
{
    double h = 0.0;
    for (int k = 0; k < C; k++)
        if (p[k] > 0.0f) h -= (double)p[k] * log((double)p[k]);
    return h;
}

double entropy_forward(const float *probs, int B, int C, double *each)
{
    double s = 0.0;
    for (int b = 0; b < B; b++) {
        double h = row_entropy(probs + (size_t)b * C, C);
        if (each) each[b] = h;
        s += h;
    }
    return s;
}

void entropy_backward(float *dlogits, const float *probs, int B, int C, float scale)
{
    for (int b = 0; b < B; b++) {
        const float *p = probs + (size_t)b * C;
        float *d = dlogits + (size_t)b * C;
        double h = row_entropy(p, C);
        for (int k = 0; k < C; k++)
            if (p[k] > 0.0f) d[k] -= (float)(scale * p[k] * (log((double)p[k]) + h));
    }
}

double softmax_expect_forward(const float *probs, const double *v, int B, int C)
{
    double s = 0.0;
    for (long i = 0; i < (long)B * C; i++) s += probs[i] * v[i];
    return s;
}

void softmax_expect_backward(float *dlogits, float *dv, const float *probs, const double *v, int B,
                             int C, float scale)
{
    for (int b = 0; b < B; b++) {
        const float *p = probs + (size_t)b * C;
        const double *vb = v + (size_t)b * C;
        double e = 0.0;
        for (int k = 0; k < C; k++) e += p[k] * vb[k];
        for (int k = 0; k < C; k++) {
            if (dv) dv[(size_t)b * C + k] += scale * p[k];
            dlogits[(size_t)b * C + k] += (float)(scale * p[k] * (vb[k] - e));
        }
    }
}

void linear_cat_forward(float *out, const float *a, const int32_t *src, const int32_t *y, const float *W,
                        const float *b, int R, int N, int I, int C, int O, float *tmp)
{
    int ld = I + C;
    float *prod = src ? tmp : out; /* a @ W[:, :I]^T, one row per input row */
    elbo_matmul_ld(prod, O, a, I, W, ld, N, O, I, 0, 1, 0.0f);
    for (int r = 0; r < R; r++) {
        float *o = out + (size_t)r * O;
        const float *p = prod + (size_t)(src ? src[r] : r) * O, *wy = W + I + y[r];
        for (int j = 0; j < O; j++) o[j] = p[j] + wy[(size_t)j * ld] + b[j];
    }
}

void linear_cat_backward_data(float *da, float *dsum, const float *dout, const int32_t *src,
                              const float *W, int R, int N, int I, int C, int O)
{
    const float *d = dout;
    if (src) {
        memset(dsum, 0, sizeof(float) * (size_t)N * O);
        for (int r = 0; r < R; r++) {
            float *s = dsum + (size_t)src[r] * O;
            const float *g = dout + (size_t)r * O;
            for (int j = 0; j < O; j++) s[j] += g[j];
        }
        d = dsum;
    } else if (dsum) {
        memcpy(dsum, dout, sizeof(float) * (size_t)N * O);
    }
    if (da) elbo_matmul_ld(da, I, d, O, W, I + C, N, I, O, 0, 0, 1.0f);
}

void linear_cat_weight_rows(float *dW_rows, const float *dsum, const float *a, const float *dout,
                            const int32_t *y, int R, int N, int I, int C, int O, int o0, int o1)
{
    int ld = I + C, M = o1 - o0;
    if (M <= 0) return;
    /* dW[o0:o1, :I] += dsum[:, o0:o1]^T @ a */
    elbo_matmul_ld(dW_rows, ld, dsum + o0, O, a, I, M, I, N, 1, 0, 1.0f);
    for (int r = 0; r < R; r++) {
        const float *g = dout + (size_t)r * O;
        float *col = dW_rows + I + y[r];
        for (int o = o0; o < o1; o++) col[(size_t)(o - o0) * ld] += g[o];
    }
}
