/* adam.h — Adam with PyTorch's semantics (torch.optim.Adam, no weight decay,
 * no amsgrad), over a contiguous slice of the parameter buffer. */
#ifndef ELBO_ADAM_H
#define ELBO_ADAM_H

#include <stddef.h>

/* One step t (1-based, already incremented by the caller) over n scalars
 * with gradient g = scale * grads:
 *   m = b1 m + (1-b1) g;   v = b2 v + (1-b2) g^2
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * exactly as torch.optim.Adam computes it. params, m, v are updated (the
 * whole slice, whatever grads holds); grads is only read. Returns the index
 * of the first non-finite element of grads * scale, or (size_t)-1 if all
 * were finite. */
size_t adam_step(float *params, const float *grads, float *m, float *v, size_t n, long t,
                 double lr, double beta1, double beta2, double eps, float scale);

/* Sum of g[i]^2 over n scalars, in double. */
double grad_sq_norm(const float *g, size_t n);

#endif
