/* bnn_internal.h — the Bayesian MLP (elbo_bnn in elbo.h), classifier or
 * regressor, and the same network with point weights; the engine's second
 * client after the VAE.
 *
 * Layout of the flat parameter buffer, layer by layer (fc1 .. fcL+1):
 *   weight_mu [O, I], weight_rho [O, I], bias_mu [O], bias_rho [O]
 * (point weights: weight [O, I], bias [O]) all in PyTorch's [out, in]
 * order, so the checkpoint tensors are views of the buffer as they are.
 * sigma = softplus(rho). Then a regressor's noise.logvar [1]; then, with
 * cfg.standardize, the fixed buffers input.mean [I], input.sd [I] (and a
 * regressor's target.mean [1], target.sd [1]), which no chunk covers, so
 * the optimizer never moves them.
 *
 * One training step (bnn.c), per worker over its rows, for every layer l
 * with input a (the data for fc1, else the previous layer's ReLU output):
 *   mean = a @ Wmu^T + bmu            linear_forward
 *   a2   = a * a                      square_forward
 *   var  = a2 @ S2^T + s2b            linear_forward (S2 = sigma^2, per step)
 *   out  = mean + sqrt(var) * eps     gauss_lrt_forward
 *   a'   = relu(out) * mask   (mask: dropout, when cfg.dropout > 0)
 *   nll  = softmax cross-entropy of the logits (the last layer's out), or
 *          a regressor's Gaussian NLL with the learned noise.logvar
 * With point weights a layer is out = a @ W^T + b (linear_forward) and the
 * gradient at mean is the one at out. The first layer reads the data: its
 * weights are stored transposed, and when the rows are mostly zeros (MNIST:
 * ~81%) both of its products and their weight gradients run over the
 * non-zeros only (nn/sparse.h; exact up to the order of float additions).
 * and backward in reverse, keeping dmean and dvar per layer. The parameter
 * gradients are formed per chunk afterwards (bnn_chunk_grad): dWmu rows =
 * dmean^T @ a, dS2 rows = dvar^T @ a2, summed over workers in order, then
 * the chain rule to rho and the KL's gradient, scaled by the step's KL
 * weight times B / N.
 *
 * Ownership: the model owns params, the per-step sigma^2 and noise, the
 * chunk list and the workers' scratch (all allocated at creation or by
 * model_set_workers); the trainer owns the optimizer state. */
#ifndef ELBO_BNN_INTERNAL_H
#define ELBO_BNN_INTERNAL_H

#include "../nn/semisup.h"
#include "../nn/sparse.h"
#include "../train/run.h"
#include "model.h"

#define BNN_MAX_LAYERS (ELBO_MAX_HIDDEN + 1)
#define BNN_MAX_WORKERS 64

#define BNN_NONE ((size_t)-1) /* an offset of a tensor the model does not have */

typedef struct {
    int in, out;
    size_t wmu, wrho, bmu, brho; /* offsets into params (rho: BNN_NONE with point weights) */
    int transposed; /* the first layer: weights stored [in, out] in memory (nn/sparse.h's
                       layout), shown and saved [out, in] */
} bnn_layer;

/* One worker's scratch for max_rows rows. a[l] is layer l's input (a[0]
 * the data rows); the others are per layer as in the header comment; dout
 * is the gradient at out, da / da2 at a / a2. */
typedef struct {
    float *a[BNN_MAX_LAYERS], *a2[BNN_MAX_LAYERS];
    float *mean[BNN_MAX_LAYERS], *var[BNN_MAX_LAYERS], *out[BNN_MAX_LAYERS];
    float *eps[BNN_MAX_LAYERS], *mask[BNN_MAX_LAYERS];
    float *dout[BNN_MAX_LAYERS], *dmean[BNN_MAX_LAYERS], *dvar[BNN_MAX_LAYERS];
    float *da[BNN_MAX_LAYERS], *da2[BNN_MAX_LAYERS], *dact[BNN_MAX_LAYERS]; /* dact: at relu's output */
    float *probs;  /* [rows, C] */
    float *t;      /* [rows] a regressor's targets (standardized) */
    float *dlv;    /* [1] the gradient at noise.logvar */
    int32_t *y;    /* [rows] */
    /* the first layer's input a[0] and its square a2[0] by their non-zeros
     * (one pattern, two value arrays), used when at most half are non-zero */
    sparse_batch xs, xs2;
    int x_sparse;
    float *block;  /* the one allocation the pointers above carve */
    int rows;
    double nll;
    double nerr;   /* classifier: rows of the last pass whose most probable class is not the label */
} bnn_worker;

/* model_chunk.kind: rows [r0, r1) of a layer's weight_mu, weight_rho, or
 * entries of its bias_mu, bias_rho */
enum { BNN_WMU, BNN_WRHO, BNN_BMU, BNN_BRHO, BNN_LOGVAR };

struct elbo_bnn {
    model base; /* first: the engine sees a model */
    elbo_bnn_config cfg;
    int n_layers;
    bnn_layer layers[BNN_MAX_LAYERS];
    int point;        /* point weights: no rho, no KL */
    int regress;      /* a regressor: one output, the Gaussian likelihood */
    size_t logvar;    /* offset of noise.logvar, or BNN_NONE */
    size_t norm;      /* offset of input.mean (then input.sd, target.mean, target.sd), or BNN_NONE */
    model_tensor tensors[4 * BNN_MAX_LAYERS + 5];
    float *s2;        /* [n_params] at the rho offsets, set per step: sigma^2, */
    float *gv, *gk;   /* d sigma^2 / d rho and d KL / d rho */
    float *gkm;       /* [n_params] at the mu offsets, the mixture prior's d KL / d mu */
    float *eps_w;     /* [n_params] at the rho offsets, the mixture's weight draws */
    int n_blocks;     /* pieces of (mu, rho) for the per-step pass, in order */
    size_t (*blocks)[3];  /* [n_blocks] {mu offset, rho offset, count} */
    double *block_kl; /* [n_blocks] their KL */
    float *eps_step;  /* [max_batch, sum of widths] the step's noise */
    float *mask_step; /* [max_batch, sum of widths] the step's dropout masks, or NULL */
    const float *eps_fixed; /* test hook: the step's noise copied from here */
    int eps_width;    /* sum of the layers' out */
    double kl_scale;  /* the step's KL weight x B / N */
    double kl_step;   /* the step's KL x B / N (reported) */
    long n_train;     /* rows of the data set trained on last (KL per example) */
    bnn_worker w[BNN_MAX_WORKERS];
    trainer tr;
    elbo_run_record record;
    elbo_model handle; /* the public elbo_model: base, tr and record */
};

extern const model_ops bnn_ops;           /* a classifier: loss, nll, kl, draw_error */
extern const model_ops bnn_regressor_ops; /* a regressor: loss, nll, kl */


/* Worker w's forward pass over its w->rows rows (w->a[0], w->y and w->eps
 * filled), using m->s2; returns the summed NLL. backward accumulates the
 * activation gradients (zeroed first by forward). */
double bnn_forward(elbo_bnn *m, bnn_worker *w);
void bnn_backward(elbo_bnn *m, bnn_worker *w);
/* The per-step statistics of every rho (s2, gv, gk) over the workers, in
 * blocks; returns the KL of the whole posterior to the prior (summed in
 * block order). Before any forward pass and gradient. */
double bnn_update_sigma(elbo_bnn *m);
/* The same KL computed directly (serially), in nats; for the mixture prior
 * a one-draw Monte Carlo estimate with fixed noise (seed 0). */
double bnn_kl(const elbo_bnn *m);
/* The mixture prior's step, in place of bnn_update_sigma: weight draws from
 * seed (one stream per block), s2 and gv, the Monte Carlo KL returned and
 * its gradient factors in gkm and gk. */
double bnn_mixture_pass(elbo_bnn *m, uint64_t seed);
/* The summed gradient of chunk c over workers 0 .. nw-1 into dst. */
void bnn_chunk_grad(elbo_bnn *m, int nw, int c, float *dst);

/* What bnn_predict_all fills for n rows (NULL: not wanted). A classifier:
 * probs [n, C] the mean of the S draws' probabilities, ent [n] the mean of
 * their entropies. A regressor (standardized units): probs [n] the mean
 * output, ent [n] the mean squared output, lpd [n] the log-sum-exp over
 * draws of the target's log density (with targets). nll1 [chunks of
 * bnn_eval_rows]: the first draw's summed NLL per chunk. */
typedef struct {
    float *probs, *ent;
    double *lpd, *nll1;
} bnn_pred;

/* Chunks of bnn_eval_rows rows, each with its own PRNG stream from seed,
 * so the result does not depend on the thread count; rows from ds, or x
 * [n, input_dim] when ds is NULL. */
void bnn_predict_all(elbo_bnn *m, const elbo_dataset *ds, const float *x, int n, int S, uint64_t seed,
                     const bnn_pred *out);
/* Rows per evaluation chunk: 128 whatever the model was sized for, so that
 * figures do not depend on max_batch. */
int bnn_eval_rows(const elbo_bnn *m);

/* n dropout masks (0, or 1 / (1 - p) for a kept unit) from rng. */
void bnn_fill_masks(float *mask, long n, double p, elbo_rng *rng);

/* Rows [start, start + n) of ds (through idx when not NULL) into worker w:
 * inputs (standardized with cfg.standardize), labels or targets. */
void bnn_load_rows(const elbo_bnn *m, bnn_worker *w, const elbo_dataset *ds, const int *idx,
                   int start, int n);

/* Test hook: with eps non-NULL, training steps copy their noise from eps
 * ([rows, sum of the layers' widths], each row's layers in order) instead
 * of drawing it (PyTorch fixtures). */
static inline void bnn_set_step_noise(elbo_bnn *m, const float *eps) { m->eps_fixed = eps; }
/* The gradient at layer l's pre-activation mean (with point weights, at
 * its output). */
static inline const float *bnn_dmean(const bnn_worker *w, const elbo_bnn *m, int l)
{
    return m->point ? w->dout[l] : w->dmean[l];
}
static inline trainer *bnn_trainer(elbo_bnn *m) { return &m->tr; }
static inline model *bnn_base(elbo_bnn *m) { return &m->base; }
static inline bnn_worker *bnn_worker_of(elbo_bnn *m, int t) { return &m->w[t]; }

#endif
