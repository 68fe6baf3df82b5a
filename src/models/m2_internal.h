/* m2_internal.h — the M2 semi-supervised model (elbo_m2.h), the engine's
 * fourth client. Not installed.
 *
 * Layers (all stored [out, in] as PyTorch's nn.Linear), for hidden widths
 * h[0..L-1]:
 *   cls.fc1 .. cls.fcL, cls.out      x -> h[0] .. h[L-1] -> C logits  q(y|x)
 *   enc.fc1 [h[0], D + C], enc.fc2 .. enc.fcL, enc.mu, enc.logvar      q(z|x,y)
 *   dec.fc1 [h[L-1], Z + C], dec.fc2 .. dec.fcL, dec.out [D]          p(x|y,z)
 * The first encoder and decoder layers read [x, onehot(y)] and
 * [z, onehot(y)] without building them (nn/semisup.h, linear_cat). With
 * the Gaussian likelihood a vector dec.out.logvar [D] follows.
 *
 * One step, per worker over its rows (m2.c): the classifier on the rows;
 * the rows' "copies" (a labelled row: one, with its label; an unlabelled
 * row: C, one per class, contiguous), each with its own noise; the
 * encoder over the copies (its first product with x computed once per
 * row), z, the KL, the decoder and the likelihood per copy, giving each
 * copy's bound L_c; then the losses of the header of elbo_m2.h and the
 * backward pass in reverse. Parameter gradients are formed per chunk
 * afterwards from what each worker kept (m2_chunk_grad): each worker's
 * part on its own, then added in worker order, so that the sum is the
 * one a group of processes forms (2 ranks x 1 thread == 1 rank x 2
 * threads, bit for bit).
 *
 * Ownership: the model owns params, the step's noise, the chunk list and
 * the workers' scratch (allocated at creation or by model_set_workers). */
#ifndef ELBO_M2_INTERNAL_H
#define ELBO_M2_INTERNAL_H

#include "../train/run.h"
#include "elbo_m2.h"
#include "model.h"

#define M2_MAX_LAYERS (3 * ELBO_MAX_HIDDEN + 4)
#define M2_MAX_WORKERS 64

/* The networks a layer belongs to. */
enum { M2_CLS, M2_ENC, M2_DEC };

typedef struct {
    char name[24];  /* "enc.fc1" */
    int in, cat, out; /* inputs, one-hot columns appended (C or 0), outputs */
    int net;
    size_t w, b;    /* offsets of weight [out, in + cat] and bias [out] */
} m2_layer;

/* One worker's scratch for N rows and R = C x N copies. Per layer l: out[l]
 * the layer's output (after the activation for hidden layers), dpre[l] the
 * gradient at its linear output, dh[l] at its activation's output (hidden
 * layers). */
typedef struct {
    float *x;                   /* [N, D] the rows */
    float *xrow;                /* [2 D] gaussian_inputs: one row's means and log-variances */
    int32_t *y;                 /* [N] labels (labelled rows) */
    uint8_t *lab;               /* [N] 1: labelled */
    int32_t *src, *cy;          /* [R] each copy's row and class */
    int32_t *first;             /* [N] each row's first copy */
    float *out[M2_MAX_LAYERS], *dpre[M2_MAX_LAYERS], *dh[M2_MAX_LAYERS];
    float *probs;               /* [N, C] q(y|x) (cls.out's out holds the logits) */
    float *eps, *z, *dz;        /* [R, Z] (enc.mu's and enc.logvar's out and dpre
                                   hold the means, log-variances and their gradients) */
    float *wc;                  /* [R] each copy's weight in the loss: 1, or q(k|x) */
    float *xp;                  /* [R, D] the likelihood's saved probabilities */
    float *dsum;                /* [N, enc.fc1 out] the encoder's first gradient by row */
    float *tmp;                 /* [N, enc.fc1 out] its first product by row */
    float *qu, *du, *dq;        /* [N, C] the unlabelled rows' q, copy weights and
                                   gradient at the logits */
    double *lc;                 /* [R] each copy's bound L_c, nats */
    double *vu;                 /* [N, C] the unlabelled rows' copies' L_c */
    float *dlogvar;             /* [D] Gaussian likelihood: dec.out.logvar's gradient */
    float *gpart;               /* [n_params] workers after the first: their part of
                                   a chunk's gradient, added to the others' in order */
    float *block;               /* the one allocation the float pointers carve */
    void *iblock;               /* the int allocation */
    int n, nl, R;               /* rows, labelled rows, copies of the last pass */
    double sums[5], counts[5];  /* the terms of the last pass (m2_ops.c) */
} m2_worker;

/* model_chunk.kind */
enum { M2_WEIGHT, M2_BIAS, M2_LOGVAR };

struct elbo_m2 {
    model base;
    elbo_m2_config cfg;
    int n_layers, n_cls, n_enc, n_dec; /* layers, and per network */
    int l_cls, l_enc, l_mu, l_lv, l_dec, l_out; /* first layer of each part */
    m2_layer layers[M2_MAX_LAYERS];
    size_t lv_off;           /* dec.out.logvar, or (size_t)-1 */
    model_tensor tensors[2 * M2_MAX_LAYERS + 1];
    float *eps_step;         /* [max_batch, C, Z] the step's noise, per row and class */
    float *xeps_step;        /* [max_batch, D] the step's input noise: normals
                                (gaussian_inputs) or uniforms (binarize_inputs) */
    const float *eps_fixed;  /* test hook: the step's noise copied from here */
    m2_worker w[M2_MAX_WORKERS];
    trainer tr;
    elbo_run_record record;
    elbo_model handle;
};

extern const model_ops m2_ops;

/* Rows [start, start + n) of ds (through idx when not NULL), or of the
 * float rows x when ds is NULL, into worker w; all_unlabelled treats
 * every row as unlabelled (evaluation: every class enumerated). Rows of
 * 2 D values under gaussian_inputs are Gaussians: drawn with the noise
 * xeps [n, D] (training), or their means when xeps is NULL; under
 * binarize_inputs, rows of D values become 1 where the uniform xeps is
 * below the value, else 0 (training), or stay as they are (xeps NULL). */
void m2_load_rows(const elbo_m2 *m, m2_worker *w, const elbo_dataset *ds, const float *x,
                  const int *idx, int start, int n, int all_unlabelled, const float *xeps);
/* The copies of w's rows and their noise from eps [n, C, Z] (row-major
 * by row, then class). */
void m2_make_copies(const elbo_m2 *m, m2_worker *w, const float *eps);
/* The classifier over w's rows into w->probs. */
void m2_classify(elbo_m2 *m, m2_worker *w);
/* The whole forward pass (m2_classify, copies made): every copy's L_c
 * and the worker's terms; returns the summed loss. */
double m2_forward(elbo_m2 *m, m2_worker *w);
/* The backward pass of the loss m2_forward returned. */
void m2_backward(elbo_m2 *m, m2_worker *w);
/* The encoder over w's copies (means in enc.mu's out), and the decoder
 * from w->z over w->R copies (likelihood means into w->xp): for
 * elbo_m2_encode and elbo_m2_decode. */
void m2_encode(elbo_m2 *m, m2_worker *w);
void m2_decode(elbo_m2 *m, m2_worker *w);
/* -log q(y|x) of one row from its C logits (log-sum-exp, stable); the
 * most probable class is nn/semisup.h's row_argmax. */
double m2_row_xent(const float *logits, int C, int y);
/* Chunks for model_chunks_build, and chunk c's gradient summed over
 * workers 0 .. nw-1 into dst. */
int m2_list_chunks(const void *owner, model_chunk *out);
void m2_chunk_grad(elbo_m2 *m, int nw, int c, float *dst);

static inline model *m2_base(elbo_m2 *m) { return &m->base; }
static inline trainer *m2_trainer(elbo_m2 *m) { return &m->tr; }
static inline m2_worker *m2_worker_of(elbo_m2 *m, int t) { return &m->w[t]; }
/* Test hook: with eps non-NULL, training steps copy their noise ([rows,
 * C, Z]) from eps instead of drawing it (PyTorch fixtures). */
static inline void m2_set_step_noise(elbo_m2 *m, const float *eps) { m->eps_fixed = eps; }

#endif
