/* adam.h — Adam with PyTorch's semantics (torch.optim.Adam, no weight decay,
 * no amsgrad), over a contiguous slice of the parameter buffer. */
#ifndef ELBO_ADAM_H
#define ELBO_ADAM_H

#include <stddef.h>

/* One step t (1-based, already incremented by the caller) over n scalars:
 *   m = b1 m + (1-b1) g;   v = b2 v + (1-b2) g^2
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * exactly as torch.optim.Adam computes it. params, m, v are updated. */
void adam_step(float *params, const float *grads, float *m, float *v, size_t n, long t, double lr,
               double beta1, double beta2, double eps);

/* The same step where the gradient is scale times the sum of n_parts partial
 * gradients parts[k][offset + i] (added in order k = 0, 1, ...), which are
 * zeroed after use; params, m, v point at the slice [offset, offset + n).
 * Returns the index (from offset) of the first non-finite gradient element,
 * or (size_t)-1 if all were finite; the slice is updated either way. */
size_t adam_step_sum(float *params, float *const *parts, int n_parts, size_t offset, float *m,
                     float *v, size_t n, long t, double lr, double beta1, double beta2, double eps,
                     float scale);

/* Sum over i in [offset, offset + n) of (sum_k parts[k][offset + i])^2, in
 * double: the squared L2 norm of a slice of the summed gradient. */
double grad_sq_norm(float *const *parts, int n_parts, size_t offset, size_t n);

#endif
