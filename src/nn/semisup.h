/* semisup.h — ops for semi-supervised models (M2, Kingma et al. 2014),
 * forward/backward pairs with the rules of ops.h: backward ACCUMULATES
 * into its outputs, nothing allocates.
 *
 * M2 enumerates the classes of an unlabelled row: every class k gives a
 * "copy" of the row, with its own bound L_k = -ELBO(x, k), and the row's
 * loss is sum_k q_k L_k - H(q) with q = softmax(classifier logits). The
 * ops here are the pieces of that: the softmax, the categorical entropy,
 * the q-weighted expectation of per-copy values, and a linear layer on the
 * concatenation [a, onehot(y)] that never builds the concatenation (the
 * one-hot part is a column of the weight). */
#ifndef ELBO_SEMISUP_H
#define ELBO_SEMISUP_H

#include <stdint.h>

/* probs[B,C] = softmax of logits[B,C] per row (max-shifted, stable). */
void softmax_forward(float *probs, const float *logits, int B, int C);

/* The most probable of the C classes in p[C] (the first of ties): the
 * prediction of a classifier from its probabilities or logits. */
int row_argmax(const float *p, int C);

/* Categorical entropy of each row of probs[B,C] (rows of a softmax):
 * returns sum_b H_b, H_b = -sum_k p_bk log p_bk (0 log 0 = 0); each [B]
 * (may be NULL) gets the H_b. */
double entropy_forward(const float *probs, int B, int C, double *each);
/* The gradient of scale * sum_b H_b with respect to the logits behind
 * probs: dlogits_bj += -scale p_bj (log p_bj + H_b). */
void entropy_backward(float *dlogits, const float *probs, int B, int C, float scale);

/* The expectation of per-class values under each row's softmax: returns
 * sum_b sum_k p_bk v_bk over probs[B,C] and v[B,C] (double: the values are
 * whole bounds in nats). */
double softmax_expect_forward(const float *probs, const double *v, int B, int C);
/* Its gradient, times scale: dv[B,C] += scale p_bk (NULL: skipped), and
 * through the softmax dlogits_bj += scale p_bj (v_bj - sum_k p_bk v_bk). */
void softmax_expect_backward(float *dlogits, float *dv, const float *probs, const double *v, int B,
                             int C, float scale);

/* A linear layer on [a, onehot(y)] (nn.Linear(I + C, O)), W [O, I+C]
 * row-major as PyTorch stores it, b [O]:
 *   out[r] = W[:, :I] a[src[r]] + W[:, I + y[r]] + b          r < R
 * a has N rows; src [R] maps each output row to its input row (NULL: the
 * identity, R == N), so that the C copies of an enumerated row share one
 * product with a: it is computed once per input row into tmp [N, O]
 * (unused when src is NULL), then gathered. */
void linear_cat_forward(float *out, const float *a, const int32_t *src, const int32_t *y, const float *W,
                        const float *b, int R, int N, int I, int C, int O, float *tmp);
/* dsum [N, O] = the rows of dout [R, O] added by src (dout copied when
 * src is NULL: the caller may then pass dsum = NULL and use dout), then
 * da [N, I] += dsum @ W[:, :I] (skipped when da is NULL; data inputs need
 * no gradient). The dy part would be a gradient at a one-hot label:
 * there is none. */
void linear_cat_backward_data(float *da, float *dsum, const float *dout, const int32_t *src,
                              const float *W, int R, int N, int I, int C, int O);
/* Rows o0 .. o1-1 of the weight gradient, dW_rows [o1 - o0, I + C]
 * pointing at row o0: dW[o, :I] += sum_n dsum[n, o] a[n] and
 * dW[o, I + y[r]] += dout[r, o], with dsum from linear_cat_backward_data
 * (dout itself when src was NULL). The bias is bias_backward over dout. */
void linear_cat_weight_rows(float *dW_rows, const float *dsum, const float *a, const float *dout,
                            const int32_t *y, int R, int N, int I, int C, int O, int o0, int o1);

#endif
