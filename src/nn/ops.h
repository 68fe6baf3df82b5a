/* ops.h — the layers of a VAE as forward/backward pairs (llm.c style).
 *
 * Rules every op follows:
 *  - op_forward(out, in..., dims) writes out and reads nothing else.
 *  - op_backward(din..., dout, in..., dims) ACCUMULATES (+=) into din, so
 *    gradients from several consumers add up; callers zero them first.
 *  - Shapes are given in comments as [rows, cols], row-major, B = batch.
 *  - Loss ops return the summed loss in double and take a scale for backward
 *    (d loss/d in is multiplied by scale; 1.0 for the plain summed loss).
 * No op allocates memory. */
#ifndef ELBO_OPS_H
#define ELBO_OPS_H

/* Linear (nn.Linear): out[B,O] = in[B,I] @ W[O,I]^T + b[O]. */
void linear_forward(float *out, const float *in, const float *W, const float *b, int B, int I,
                    int O);
/* din[B,I] += dout @ W (skipped when din is NULL); dW[O,I] += dout^T @ in;
 * db[O] += sum over rows of dout. */
void linear_backward(float *din, float *dW, float *db, const float *dout, const float *in,
                     const float *W, int B, int I, int O);
/* The parts of linear_backward alone, for the model, which computes the
 * input gradient per worker and the weight and bias gradients later, in
 * pieces summed over all workers' rows (models/grad.c):
 *  - linear_backward_data: din[B,I] += dout @ W;
 *  - linear_weight_rows: rows o0 .. o1-1 of the weight gradient,
 *    dW_rows[o - o0, I] += (dout^T @ in)[o] (dW_rows points at row o0);
 *  - bias_backward: entries o0 .. o1-1 of the bias gradient,
 *    db_part[o - o0] += sum over the B rows of dout[:, o] (also the bias
 *    part of linear_t_backward and linear_sparse_backward). */
void linear_backward_data(float *din, const float *dout, const float *W, int B, int I, int O);
void linear_weight_rows(float *dW_rows, const float *dout, const float *in, int B, int I, int O,
                        int o0, int o1);
void bias_backward(float *db_part, const float *dout, int B, int O, int o0, int o1);

/* Linear with the weight stored transposed, WT [I,O] (used for the first
 * layer, see nn/sparse.h): out[B,O] = in[B,I] @ WT + b. */
void linear_t_forward(float *out, const float *in, const float *WT, const float *b, int B, int I,
                      int O);
/* dWT[I,O] += in^T @ dout; db[O] += sum over rows of dout. No input gradient. */
void linear_t_backward(float *dWT, float *db, const float *dout, const float *in, int B, int I,
                       int O);
/* Rows k0 .. k1-1 of its weight gradient alone: dWT_rows[k - k0, O] +=
 * (in^T @ dout)[k], dWT_rows pointing at row k0. */
void linear_t_weight_rows(float *dWT_rows, const float *dout, const float *in, int B, int I, int O,
                          int k0, int k1);

/* ReLU, usable in place (out == in): out[n] = max(in, 0). */
void relu_forward(float *out, const float *in, long n);
/* din[n] += dout * (out > 0), from the forward OUTPUT (in == out in place). */
void relu_backward(float *din, const float *dout, const float *out, long n);

/* tanh, usable in place: out[n] = tanh(in). */
void tanh_forward(float *out, const float *in, long n);
/* din[n] += dout * (1 - out^2), from the forward OUTPUT. */
void tanh_backward(float *din, const float *dout, const float *out, long n);

/* softplus, usable in place: out[n] = log(1 + exp(in)), stable for any in. */
void softplus_forward(float *out, const float *in, long n);
/* din[n] += dout * sigmoid(in), computed from the forward OUTPUT as
 * 1 - exp(-out). */
void softplus_backward(float *din, const float *dout, const float *out, long n);

/* A hidden layer's activation by its elbo_activation value (0 ReLU,
 * 1 tanh, 2 softplus), forward in place and backward from the OUTPUT:
 * dpre[n] += dh * act'(pre). */
void activation_forward(int act, float *h, long n);
void activation_backward(int act, float *dpre, const float *dh, const float *h, long n);

/* Sigmoid: out[n] = 1 / (1 + exp(-in)), stable for large |in|. */
void sigmoid_forward(float *out, const float *in, long n);

/* Bernoulli negative log-likelihood fused with the sigmoid (BCE with
 * logits): returns sum_i max(l,0) - l*x + log1p(exp(-|l|)) over logits l[n]
 * and targets x[n] in [0,1]. Stable for any |l|. Also writes probs[n] =
 * sigmoid(l), kept for backward (as llm.c keeps softmax probabilities). */
double bce_logits_forward(float *probs, const float *logits, const float *x, long n);
/* dlogits[n] += scale * (probs - x), probs from the forward pass. */
void bce_logits_backward(float *dlogits, const float *probs, const float *x, long n, float scale);

/* Dropout by a given mask (0 for a dropped unit, 1 / (1 - p) for a kept
 * one, drawn by the caller and kept for backward): out[n] = in * mask
 * (out may be in). */
void mask_forward(float *out, const float *in, const float *mask, long n);
/* din[n] += dout * mask. */
void mask_backward(float *din, const float *dout, const float *mask, long n);

/* Gaussian negative log-likelihood with unit variance:
 * returns sum_i 0.5 * (x - mean)^2 + 0.5 * log(2 pi). */
double gaussian_nll_forward(const float *mean, const float *x, long n);
/* dmean[n] += scale * (mean - x). */
void gaussian_nll_backward(float *dmean, const float *mean, const float *x, long n, float scale);

/* Gaussian negative log-likelihood with a learned log-variance per input
 * dimension, over B rows of D: returns
 * sum_{b,d} 0.5 ((x - mean)^2 exp(-logvar_d) + logvar_d + log(2 pi)). */
double gaussian_lv_nll_forward(const float *mean, const float *logvar, const float *x, int B, int D);
/* dmean[B,D] += scale (mean - x) exp(-logvar); dlogvar[D] += scale * sum over
 * rows of 0.5 (1 - (x - mean)^2 exp(-logvar)). */
void gaussian_lv_nll_backward(float *dmean, float *dlogvar, const float *mean, const float *logvar,
                              const float *x, int B, int D, float scale);

/* Reparameterisation: z[n] = mu + exp(0.5 * logvar) * eps, eps given
 * (drawn by the caller and kept for backward). */
void reparam_forward(float *z, const float *mu, const float *logvar, const float *eps, long n);
/* dmu += dz; dlogvar += dz * eps * 0.5 * exp(0.5 * logvar). */
void reparam_backward(float *dmu, float *dlogvar, const float *dz, const float *logvar,
                      const float *eps, long n);

/* KL(N(mu, exp(logvar)) || N(0, 1)) summed over n elements:
 * -0.5 * sum(1 + logvar - mu^2 - exp(logvar)). */
double kl_normal_forward(const float *mu, const float *logvar, long n);
/* dmu += scale * mu; dlogvar += scale * 0.5 * (exp(logvar) - 1). */
void kl_normal_backward(float *dmu, float *dlogvar, const float *mu, const float *logvar, long n,
                        float scale);

/* Per-latent-dimension KL: kl_dims[j] = sum over the B rows of
 * -0.5 (1 + logvar - mu^2 - exp(logvar)) in column j of [B, Z]; returns
 * their total (equal to kl_normal_forward over all B*Z elements). */
double kl_normal_dims_forward(double *kl_dims, const float *mu, const float *logvar, int B, int Z);
/* dmu[B,Z] += scale[j] * mu; dlogvar += scale[j] * 0.5 (exp(logvar) - 1):
 * the KL's gradient with one weight per latent dimension (KL weight, free
 * bits). */
void kl_normal_dims_backward(float *dmu, float *dlogvar, const float *mu, const float *logvar, int B,
                             int Z, const float *scale);

/* Gaussian negative log-density with a mean and log-variance per element
 * (a conditional prior p(z1|z2) in a hierarchical VAE): returns
 * sum_i 0.5 ((x - mean)^2 exp(-logvar) + logvar + log(2 pi)) over n. */
double normal_nll_forward(const float *x, const float *mean, const float *logvar, long n);
/* dx += scale (x - mean) exp(-logvar) (skipped when dx is NULL); dmean +=
 * -scale (x - mean) exp(-logvar); dlogvar += scale 0.5 (1 - (x - mean)^2
 * exp(-logvar)). */
void normal_nll_backward(float *dx, float *dmean, float *dlogvar, const float *x, const float *mean,
                         const float *logvar, long n, float scale);

#endif
