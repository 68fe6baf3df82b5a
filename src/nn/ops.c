/* ops.c — forward/backward pairs of the VAE's layers. See ops.h. */
#include "ops.h"

#include <math.h>

#include "gemm.h"

void linear_forward(float *out, const float *in, const float *W, const float *b, int B, int I,
                    int O)
{
    /* out[B,O] = b (broadcast), then += in[B,I] @ W^T[I,O] */
    for (int r = 0; r < B; r++)
        for (int o = 0; o < O; o++) out[(long)r * O + o] = b[o];
    elbo_matmul(out, in, W, B, O, I, 0, 1, 1.0f);
}

void linear_backward(float *din, float *dW, float *db, const float *dout, const float *in,
                     const float *W, int B, int I, int O)
{
    if (din) elbo_matmul(din, dout, W, B, I, O, 0, 0, 1.0f); /* [B,O] @ [O,I] */
    elbo_matmul(dW, dout, in, O, I, B, 1, 0, 1.0f);           /* [O,B] @ [B,I] */
    for (int r = 0; r < B; r++) {
        const float *d = dout + (long)r * O;
        for (int o = 0; o < O; o++) db[o] += d[o];
    }
}

void relu_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward(float *din, const float *dout, const float *out, long n)
{
    for (long i = 0; i < n; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

static inline float sigmoidf_stable(float l)
{
    if (l >= 0.0f) return 1.0f / (1.0f + expf(-l));
    float e = expf(l);
    return e / (1.0f + e);
}

void sigmoid_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++) out[i] = sigmoidf_stable(in[i]);
}

double bce_logits_forward(const float *logits, const float *x, long n)
{
    double sum = 0.0;
    for (long i = 0; i < n; i++) {
        float l = logits[i];
        float t = (l > 0.0f ? l : 0.0f) - l * x[i] + log1pf(expf(-fabsf(l)));
        sum += t;
    }
    return sum;
}

void bce_logits_backward(float *dlogits, const float *logits, const float *x, long n, float scale)
{
    for (long i = 0; i < n; i++) dlogits[i] += scale * (sigmoidf_stable(logits[i]) - x[i]);
}

double gaussian_nll_forward(const float *mean, const float *x, long n)
{
    const double half_log_2pi = 0.91893853320467274178;
    double sum = 0.0;
    for (long i = 0; i < n; i++) {
        double d = (double)x[i] - mean[i];
        sum += 0.5 * d * d;
    }
    return sum + (double)n * half_log_2pi;
}

void gaussian_nll_backward(float *dmean, const float *mean, const float *x, long n, float scale)
{
    for (long i = 0; i < n; i++) dmean[i] += scale * (mean[i] - x[i]);
}

void reparam_forward(float *z, const float *mu, const float *logvar, const float *eps, long n)
{
    for (long i = 0; i < n; i++) z[i] = mu[i] + expf(0.5f * logvar[i]) * eps[i];
}

void reparam_backward(float *dmu, float *dlogvar, const float *dz, const float *logvar,
                      const float *eps, long n)
{
    for (long i = 0; i < n; i++) {
        dmu[i] += dz[i];
        dlogvar[i] += dz[i] * eps[i] * 0.5f * expf(0.5f * logvar[i]);
    }
}

double kl_normal_forward(const float *mu, const float *logvar, long n)
{
    double sum = 0.0;
    for (long i = 0; i < n; i++) {
        float t = 1.0f + logvar[i] - mu[i] * mu[i] - expf(logvar[i]);
        sum += t;
    }
    return -0.5 * sum;
}

void kl_normal_backward(float *dmu, float *dlogvar, const float *mu, const float *logvar, long n,
                        float scale)
{
    for (long i = 0; i < n; i++) {
        dmu[i] += scale * mu[i];
        dlogvar[i] += scale * 0.5f * (expf(logvar[i]) - 1.0f);
    }
}
