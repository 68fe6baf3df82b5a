/* sgd.h — stochastic gradient descent with PyTorch's semantics
 * (torch.optim.SGD: no dampening, no Nesterov, no weight decay) over a
 * contiguous slice of the parameter buffer. */
#ifndef ELBO_SGD_H
#define ELBO_SGD_H

#include <stddef.h>

/* One step over n scalars with gradient g = scale * grads:
 *   buf = momentum * buf + g;   p -= lr * buf
 * (PyTorch starts buf at the first gradient; a zeroed buf gives the same
 * first step). With momentum 0, p -= lr * g and buf holds the last g.
 * params and buf are updated; grads is only read. Returns the index of
 * the first non-finite element of grads * scale, or (size_t)-1. */
size_t sgd_step(float *params, const float *grads, float *buf, size_t n, double lr,
                double momentum, float scale);

#endif
