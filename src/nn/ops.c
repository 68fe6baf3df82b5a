/* ops.c — forward/backward pairs of the VAE's layers. See ops.h. */
#include "ops.h"

#include <math.h>

#include "fastmath.h"
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
    if (din) linear_backward_data(din, dout, W, B, I, O);
    linear_weight_rows(dW, dout, in, B, I, O, 0, O);
    bias_backward(db, dout, B, O, 0, O);
}

void linear_backward_data(float *din, const float *dout, const float *W, int B, int I, int O)
{
    elbo_matmul(din, dout, W, B, I, O, 0, 0, 1.0f); /* [B,O] @ [O,I] */
}

void linear_weight_rows(float *dW_rows, const float *dout, const float *in, int B, int I, int O,
                        int o0, int o1)
{
    /* [o1-o0, B] @ [B, I]: columns o0.. of dout, transposed, times in */
    elbo_matmul_ld(dW_rows, I, dout + o0, O, in, I, o1 - o0, I, B, 1, 0, 1.0f);
}

void bias_backward(float *db_part, const float *dout, int B, int O, int o0, int o1)
{
    for (int r = 0; r < B; r++) {
        const float *d = dout + (long)r * O + o0;
        for (int o = 0; o < o1 - o0; o++) db_part[o] += d[o];
    }
}

void linear_t_forward(float *out, const float *in, const float *WT, const float *b, int B, int I,
                      int O)
{
    for (int r = 0; r < B; r++)
        for (int o = 0; o < O; o++) out[(long)r * O + o] = b[o];
    elbo_matmul(out, in, WT, B, O, I, 0, 0, 1.0f);
}

void linear_t_backward(float *dWT, float *db, const float *dout, const float *in, int B, int I,
                       int O)
{
    linear_t_weight_rows(dWT, dout, in, B, I, O, 0, I);
    bias_backward(db, dout, B, O, 0, O);
}

void linear_t_weight_rows(float *dWT_rows, const float *dout, const float *in, int B, int I, int O,
                          int k0, int k1)
{
    /* [k1-k0, B] @ [B, O]: columns k0.. of in, transposed, times dout */
    elbo_matmul_ld(dWT_rows, O, in + k0, I, dout, O, k1 - k0, O, B, 1, 0, 1.0f);
}

void relu_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward(float *din, const float *dout, const float *out, long n)
{
    for (long i = 0; i < n; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void tanh_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++) out[i] = elbo_tanh(in[i]);
}

void tanh_backward(float *din, const float *dout, const float *out, long n)
{
    for (long i = 0; i < n; i++) din[i] += dout[i] * (1.0f - out[i] * out[i]);
}

void softplus_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++) {
        float x = in[i];
        out[i] = (x > 0.0f ? x : 0.0f) + elbo_log1p_01(elbo_exp_neg(-fabsf(x)));
    }
}

void softplus_backward(float *din, const float *dout, const float *out, long n)
{
    /* sigmoid(x) = 1 - exp(-softplus(x)) */
    for (long i = 0; i < n; i++) din[i] += dout[i] * (1.0f - expf(-out[i]));
}

void sigmoid_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++) {
        float l = in[i], e = elbo_exp_neg(-fabsf(l)), inv = 1.0f / (1.0f + e);
        out[i] = l >= 0.0f ? inv : e * inv;
    }
}

double bce_logits_forward(float *probs, const float *logits, const float *x, long n)
{
    /* per-element terms in float, vectorised, in chunks; summed in double */
    enum { CHUNK = 256 };
    float t[CHUNK];
    double sum = 0.0;
    for (long i0 = 0; i0 < n; i0 += CHUNK) {
        int m = n - i0 < CHUNK ? (int)(n - i0) : CHUNK;
        const float *l = logits + i0, *xx = x + i0;
        float *p = probs + i0;
        for (int i = 0; i < m; i++) {
            float li = l[i], e = elbo_exp_neg(-fabsf(li)), inv = 1.0f / (1.0f + e);
            p[i] = li >= 0.0f ? inv : e * inv;
            t[i] = (li > 0.0f ? li : 0.0f) - li * xx[i] + elbo_log1p_01(e);
        }
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= m; i += 4) {
            s0 += t[i];
            s1 += t[i + 1];
            s2 += t[i + 2];
            s3 += t[i + 3];
        }
        for (; i < m; i++) s0 += t[i];
        sum += (s0 + s1) + (s2 + s3);
    }
    return sum;
}

void bce_logits_backward(float *dlogits, const float *probs, const float *x, long n, float scale)
{
    for (long i = 0; i < n; i++) dlogits[i] += scale * (probs[i] - x[i]);
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

void mask_forward(float *out, const float *in, const float *mask, long n)
{
    for (long i = 0; i < n; i++) out[i] = in[i] * mask[i];
}

void mask_backward(float *din, const float *dout, const float *mask, long n)
{
    for (long i = 0; i < n; i++) din[i] += dout[i] * mask[i];
}

double gaussian_lv_nll_forward(const float *mean, const float *logvar, const float *x, int B, int D)
{
    const double half_log_2pi = 0.91893853320467274178;
    double sum = 0.0;
    for (int r = 0; r < B; r++)
        for (int d = 0; d < D; d++) {
            double e = (double)x[(long)r * D + d] - mean[(long)r * D + d];
            sum += 0.5 * (e * e * exp(-(double)logvar[d]) + logvar[d]) + half_log_2pi;
        }
    return sum;
}

void gaussian_lv_nll_backward(float *dmean, float *dlogvar, const float *mean, const float *logvar,
                              const float *x, int B, int D, float scale)
{
    for (int r = 0; r < B; r++)
        for (int d = 0; d < D; d++) {
            long i = (long)r * D + d;
            float e = mean[i] - x[i], iv = expf(-logvar[d]);
            dmean[i] += scale * e * iv;
            dlogvar[d] += scale * 0.5f * (1.0f - e * e * iv);
        }
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

double kl_normal_dims_forward(double *kl_dims, const float *mu, const float *logvar, int B, int Z)
{
    double total = 0.0;
    for (int j = 0; j < Z; j++) kl_dims[j] = 0.0;
    for (int r = 0; r < B; r++) {
        const float *m = mu + (long)r * Z, *lv = logvar + (long)r * Z;
        for (int j = 0; j < Z; j++)
            kl_dims[j] += -0.5 * (double)(1.0f + lv[j] - m[j] * m[j] - expf(lv[j]));
    }
    for (int j = 0; j < Z; j++) total += kl_dims[j];
    return total;
}

void kl_normal_dims_backward(float *dmu, float *dlogvar, const float *mu, const float *logvar, int B,
                             int Z, const float *scale)
{
    for (int r = 0; r < B; r++) {
        long o = (long)r * Z;
        for (int j = 0; j < Z; j++) {
            dmu[o + j] += scale[j] * mu[o + j];
            dlogvar[o + j] += scale[j] * 0.5f * (expf(logvar[o + j]) - 1.0f);
        }
    }
}

void activation_forward(int act, float *h, long n)
{
    switch (act) {
    case 1: tanh_forward(h, h, n); break;
    case 2: softplus_forward(h, h, n); break;
    default: relu_forward(h, h, n); break;
    }
}

void activation_backward(int act, float *dpre, const float *dh, const float *h, long n)
{
    switch (act) {
    case 1: tanh_backward(dpre, dh, h, n); break;
    case 2: softplus_backward(dpre, dh, h, n); break;
    default: relu_backward(dpre, dh, h, n); break;
    }
}

double normal_nll_forward(const float *x, const float *mean, const float *logvar, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++) {
        double d = (double)x[i] - mean[i];
        s += 0.5 * (d * d * exp(-(double)logvar[i]) + logvar[i]) + 0.91893853320467274178;
    }
    return s;
}

void normal_nll_backward(float *dx, float *dmean, float *dlogvar, const float *x, const float *mean,
                         const float *logvar, long n, float scale)
{
    for (long i = 0; i < n; i++) {
        float d = x[i] - mean[i], ip = expf(-logvar[i]), g = scale * d * ip;
        if (dx) dx[i] += g;
        dmean[i] -= g;
        dlogvar[i] += scale * 0.5f * (1.0f - d * d * ip);
    }
}
