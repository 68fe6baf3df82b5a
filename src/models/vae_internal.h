/* vae_internal.h — the layout of an elbo_vae, shared by the model code, the
 * checkpoint code and the tests. Not installed.
 *
 * Memory (llm.c style): parameters, the gradient, Adam's two moments and
 * each worker's activations are contiguous buffers allocated at creation;
 * layers and activations are named views (offsets) into them. Nothing is
 * allocated during a training step.
 *
 * Layers, for L = n_hidden hidden widths h[0..L-1] (encoder order):
 *   enc[i]   fc{i+1}            h[i-1] (or D) -> h[i]        then the activation
 *   mu       fc{L+1}_mu         h[L-1] -> Z
 *   logvar   fc{L+1}_logvar     h[L-1] -> Z
 *   dec[j]   fc{L+2+j}          Z (or h[L-j]) -> h[L-1-j]    then the activation
 *   out      fc{2L+2}           h[0] -> D                    (logits / mean)
 * For L = 1 these are the reference's fc1, fc2_mu, fc2_logvar, fc3, fc4.
 * With the learned-variance Gaussian a vector fc{2L+2}.logvar [D] follows
 * the layers (lv_off).
 * Every weight is stored [out, in] as in PyTorch, except fc1's, which is
 * stored transposed [in, out] (layer flag `transposed`) so that the sparse
 * input layer (nn/sparse.h) reads contiguous rows; vae_weight_export and
 * vae_weight_import convert at the edges (checkpoints, tests).
 *
 * Threads: a training step splits its batch into n_workers contiguous row
 * ranges; each worker runs forward and backward on its rows with its own
 * activations, computing the gradients of the activations only. Then the
 * parameter gradients are computed in chunks of whole weight rows, each the
 * sum over all workers' rows in worker order (models/grad.c), and Adam
 * updates each chunk as soon as its gradient is ready, while it is still in
 * cache. The result therefore depends on the thread count (the row split)
 * but is bit-identical for a fixed seed and thread count. */
#ifndef ELBO_VAE_INTERNAL_H
#define ELBO_VAE_INTERNAL_H

#include "../nn/sparse.h"
#include "../train/run.h"
#include "model.h"
#include "../util/common.h"
#include "../util/rng.h"

#define VAE_MAX_IAF 8      /* IAF steps */
#define VAE_MAX_PLANAR 256 /* planar layers */
#define VAE_MAX_LAYERS (4 * ELBO_MAX_HIDDEN + 7 + 2 * VAE_MAX_IAF)
#define VAE_MAX_WORKERS 64

/* A piece of the parameter buffer whose gradient is computed in one go:
 * rows [r0, r1) of layer `layer`'s stored weight (output features, or input
 * features for the transposed first layer), entries [r0, r1) of its bias, or
 * of the parameters outside the layers. params[off .. off + n). */
enum { VAE_CHUNK_WEIGHT, VAE_CHUNK_BIAS, VAE_CHUNK_OTHER }; /* model_chunk.kind */

typedef struct {
    char name[32]; /* tensor name prefix, e.g. "fc1" */
    int in, out;
    int transposed;      /* 1: W stored [in, out] */
    size_t w_off, b_off; /* offsets into params/grads */
    const float *mask;   /* [out, in] 0/1 (MADE layers; owned by the model) or NULL */
} vae_layer;

/* A worker's buffers for the posterior stage (vae_flow.c), for up to cap
 * rows; all NULL without a flow. */
typedef struct {
    float *head, *dhead; /* [cap, width] the encoder's flow head (planar: every
                            layer's (u, w, b); IAF: the context) and its gradient */
    float *fz;           /* [K, cap, Z]: the input of flow layer k (slab 0 = z0) */
    float *dza, *dzb;    /* [cap, Z] gradient ping-pong */
    double *ld, *dld;    /* [cap] sum of log|det J| per row, and d loss / d ld */
    /* IAF step t: [z, ctx] [cap, Z + C], hidden [cap, H], (m, s) [cap, 2Z],
     * the gradients at the hidden pre-activation and at (m, s), and the
     * masked weights of the last forward pass */
    float *icat[VAE_MAX_IAF], *ihid[VAE_MAX_IAF], *ims[VAE_MAX_IAF];
    float *dipre[VAE_MAX_IAF], *dims[VAE_MAX_IAF];
    float *wm_in[VAE_MAX_IAF], *wm_out[VAE_MAX_IAF];
    float *dihid, *dicat; /* scratch of one step's backward */
    float *buf;           /* the one allocation behind the float views */
} vae_flow_work;

/* A worker's buffers for the second stochastic layer (vae_hier.c), for up
 * to cap rows (one per z1 sample); all NULL without one. */
typedef struct {
    float *hq[ELBO_MAX_HIDDEN], *dhq[ELBO_MAX_HIDDEN], *dpreq[ELBO_MAX_HIDDEN]; /* q(z2|z1) */
    float *mu2, *lv2, *eps2, *z2, *dmu2, *dlv2, *dz2;                            /* [cap, Z2] */
    float *hp[ELBO_MAX_HIDDEN], *dhp[ELBO_MAX_HIDDEN], *dprep[ELBO_MAX_HIDDEN]; /* p(z1|z2) */
    float *pmu, *plv, *dpmu, *dplv;                                              /* [cap, Z1] */
    double kl1, kl2; /* the last forward's sums: log q(z1|x) - log p(z1|z2) (one sample)
                        and KL(q(z2|z1) || p(z2)) (closed form; IW: one sample) */
    double *lr;      /* [cap] per row, IW: -log p(z1|z2) - log p(z2) + log q(z2|z1)
                        (2 pi terms cancel against q(z1|x)'s); ELBO: the row's
                        KL, kl1 + kl2 */
    float *buf;
} vae_hier_work;

/* One thread's share of a batch: activations for up to `cap` rows. */
typedef struct {
    int cap;
    float *act, *dact;
    /* [n_params] laid out like params: gradients that backward accumulates
     * directly (parameters outside the layers: the learned log-variance);
     * summed and zeroed by the parameter-gradient pass. calloc'd, so the
     * pages no backward writes cost no memory. */
    float *grads;
    int n_enc, n_dec; /* encoder and decoder rows of the last backward pass */
    /* activations */
    float *x;                      /* [B, D] input in [0,1] */
    float *h_enc[ELBO_MAX_HIDDEN]; /* [B, h[i]] after the activation */
    float *mu, *logvar, *eps, *z;  /* [B, Z] */
    float *h_dec[ELBO_MAX_HIDDEN]; /* [B, h[L-1-j]] after the activation */
    float *logits;                 /* [B, D] decoder output */
    float *probs;                  /* [B, D] sigmoid(logits), saved by the BCE */
    /* their gradients */
    float *dh_enc[ELBO_MAX_HIDDEN], *dpre_enc[ELBO_MAX_HIDDEN];
    float *dmu, *dlogvar, *dz;
    float *dh_dec[ELBO_MAX_HIDDEN], *dpre_dec[ELBO_MAX_HIDDEN];
    float *dlogits;
    sparse_batch xs; /* non-zeros of x for the first layer */
    int x_sparse;    /* 1 if this batch's first layer ran sparse */
    double recon, kl; /* sums from the last forward pass */
    double *kl_dims;  /* [Z] KL per latent dimension, summed over the rows */
    double iwae;      /* minus the IWAE bound, summed (IWAE objective only) */
    double iwae_t;    /* minus the tempered bound that backward differentiates
                         (m->iw_beta < 1); iwae at beta = 1 */
    double *lw;       /* [cap] log importance weights, then normalised weights */
    vae_flow_work f;  /* the posterior stage's buffers (flows only) */
    vae_hier_work h;  /* the second stochastic layer's (hierarchical only) */
} vae_worker;

struct elbo_vae {
    model base;                /* tensor table, params, chunks, workers (model.h) */
    elbo_vae_config cfg;
    int n_layers;              /* 2L + 3, then the flow's or the second layer's */
    vae_layer layers[VAE_MAX_LAYERS];
    int l_mu, l_logvar, l_out; /* indices of the special layers */
    int l_flow, l_iaf;         /* the flow head and the first MADE layer, or -1 */
    float *masks;              /* IAF: every MADE layer's mask (vae_flow.c) */
    int l_q2, l_p1;            /* the first layer of q(z2|z1) and of p(z1|z2), or -1 */
    float *eps2_step;          /* [max_batch, latent2]: z2's noise of the step */
    size_t lv_off;             /* learned per-pixel log-variance [D] (Gaussian,
                                  learned variance) or (size_t)-1 */
    model_tensor tensors[2 * VAE_MAX_LAYERS + 1];
    vae_worker w[VAE_MAX_WORKERS];
    float *eps_step;           /* [max_batch, Z] eps of the current step */
    const float *eps_fixed;    /* test hook (vae_set_step_noise) or NULL: z1's noise,
                                  then z2's with a second layer */
    double *kl_batch;          /* [Z] free bits: the batch's KL per dimension
                                  (summed over workers and group members) */
    float *kl_scale;           /* [Z] weight of each dimension's KL in backward
                                  (KL weight, free bits); 1 unless a step sets it */
    int objective, samples;    /* of the current step (elbo_train_config) */
    float iw_beta;             /* the step's KL weight, which tempers the IWAE
                                  log-weights' latent terms (iwae.c) */
    uint64_t seed;             /* the run's seed and completed epochs at the */
    int epoch;                 /* current step (model_batch): they key the
                                  training binarization */

    /* The handle also carries the run: optimizer, PRNG, position, record. */
    trainer tr;
    elbo_model handle; /* the public elbo_model: base, tr and record */
    elbo_run_record record;
};

/* Forward pass of worker w over its first B rows (x and eps filled).
 * Sets w->recon and w->kl to the batch sums. */
void vae_forward(elbo_vae *m, vae_worker *w, int B);
/* Zeroes w's activation gradients, then backpropagates the summed loss
 * down to every layer's output; keeps what the parameter gradients need
 * (vae_chunk_grad). Gradients of parameters outside the layers accumulate
 * into w->grads. */
void vae_backward(elbo_vae *m, vae_worker *w, int B);
/* The likelihood term over `rows` rows of logits against targets x: for
 * x_stride 0 every row is compared with the same image x (IW, IWAE), else
 * with x + r * D. Forward returns the summed -log p(x|z) (and keeps what
 * backward needs, in probs); with each_row non-NULL it also stores each
 * row's term. Backward accumulates scale (or row_scale[r] when non-NULL)
 * times the gradient into dlogits (and the learned log-variance's gradient
 * into w->grads). */
double vae_recon_forward(const elbo_vae *m, float *probs, const float *logits, const float *x,
                         long x_stride, int rows, double *each_row);
void vae_recon_backward(elbo_vae *m, vae_worker *w, float *dlogits, const float *probs,
                        const float *logits, const float *x, long x_stride, int rows,
                        const double *row_scale);

/* The pieces of vae_backward, for objectives that combine them differently
 * (IWAE): zero the activation gradients of n_enc encoder rows and n_dec
 * decoder rows; backpropagate w->dlogits through the decoder's R rows into
 * w->dz; backpropagate w->dmu and w->dlogvar through the encoder's B rows. */
void vae_zero_dgrads(elbo_vae *m, vae_worker *w, int n_enc, int n_dec);
void vae_decoder_backward(elbo_vae *m, vae_worker *w, int R);
void vae_encoder_backward(elbo_vae *m, vae_worker *w, int B);
/* IWAE (Burda et al. 2015) on worker w's n examples with K samples each:
 * w->eps holds n*K rows of noise (example-major). Forward sets w->recon (the
 * reconstruction term averaged over the K samples, summed over examples),
 * w->kl (closed form) and w->iwae (minus the K-sample bound, summed); backward
 * backpropagates that bound down to every layer's output, as vae_backward
 * does for the ELBO (parameter gradients then come from vae_chunk_grad). */
void vae_forward_iwae(elbo_vae *m, vae_worker *w, int n, int K);
void vae_backward_iwae(elbo_vae *m, vae_worker *w, int n, int K);
/* Encoder only: w->x -> w->mu, w->logvar. */
void vae_encode_forward(elbo_vae *m, vae_worker *w, int B);
/* Decoder only: w->z -> w->logits. */
void vae_decode_forward(elbo_vae *m, vae_worker *w, int B);
/* Parameter gradients (models/grad.c), after the backward passes of
 * workers 0 .. nw-1. vae_list_chunks lists the chunks for
 * model_chunks_build at creation; vae_chunk_grad writes chunk c's summed gradient to dst
 * [chunk n] (and zeroes what the workers accumulated for it in w->grads);
 * vae_param_grads does every chunk into dst laid out like params;
 * vae_zero_worker_grads drops what the workers accumulated. */
int vae_list_chunks(const void *owner, model_chunk *chunks);
void vae_chunk_grad(elbo_vae *m, int nw, int c, float *dst);
void vae_param_grads(elbo_vae *m, int nw, float *dst);
void vae_zero_worker_grads(elbo_vae *m, int nw);


/* The posterior stage (vae_flow.c); only called when cfg.flow is set.
 * vae_flow_width: the flow head's width. Layout, masks and initialisation
 * at creation; worker buffers; the passes:
 *  - head forward/backward: h_enc[L-1] <-> f.head (B encoder rows);
 *  - forward: f.fz slab 0 (z0, R rows) -> w->z, log-dets into f.ld; row r
 *    uses example ex0 + r / rep's head row (rep samples per example);
 *  - backward (training: ex0 = 0): w->dz and f.dld -> returns the gradient
 *    at z0, head gradients into f.dhead (zeroed by vae_flow_zero_dgrads);
 *  - the MC KL: per row (eps, w->z, f.ld of the last forward), summed, and
 *    its gradient times scale through the flow and the reparameterisation
 *    into dmu, dlogvar (w->dz holding the decoder's gradient). */
int vae_flow_width(const elbo_vae_config *c);
void vae_flow_layout(elbo_vae *m, void (*add)(elbo_vae *, const char *, int, int, int));
int vae_flow_masks(elbo_vae *m);
void vae_flow_init(elbo_vae *m);
size_t vae_flow_carve(const elbo_vae *m, vae_flow_work *f, float *base, int cap);
int vae_flow_worker_alloc(const elbo_vae *m, vae_flow_work *f, int cap);
void vae_flow_worker_free(vae_flow_work *f);
void vae_flow_head_forward(elbo_vae *m, vae_worker *w, int B);
void vae_flow_head_backward(elbo_vae *m, vae_worker *w, int B);
void vae_flow_forward(elbo_vae *m, vae_worker *w, int R, int rep, int ex0);
const float *vae_flow_backward(elbo_vae *m, vae_worker *w, int R, int rep);
void vae_flow_zero_dgrads(elbo_vae *m, vae_worker *w, int n_enc);
double vae_flow_kl_row(const elbo_vae *m, const vae_worker *w, int r, const float *logvar);
double vae_flow_kl_forward(elbo_vae *m, vae_worker *w, int B);
void vae_flow_kl_backward(elbo_vae *m, vae_worker *w, int B, float scale);
/* w->z = the posterior's centre for B encoded rows: mu, pushed through the
 * flow when there is one (the eps = 0 path; reconstructions, active units). */
void vae_posterior_centre(elbo_vae *m, vae_worker *w, int B);
/* The base sample's buffer: f.fz slab 0 with a flow, else w->z. */
static inline float *vae_z0(vae_worker *w, int flow) { return flow ? w->f.fz : w->z; }

/* The second stochastic layer (vae_hier.c); only called when cfg.latent2
 * is set. Layers:
 *   q2_fc{i+1}  z1 (or hidden2[i-1]) -> hidden2[i]         then the activation
 *   q2_mu, q2_logvar                  hidden2[L2-1] -> Z2
 *   p1_fc{j+1}  z2 (or hidden2[L2-j]) -> hidden2[L2-1-j]   then the activation
 *   p1_mu, p1_logvar                  hidden2[0] -> Z1
 * forward: from w->z (z1, R rows) and w->h.eps2, q(z2|z1), z2 and
 * p(z1|z2); h.kl1 (with eps of w->eps and logvar row ex0 + r / rep), h.kl2
 * (closed form, or one sample with iw = 1) and h.lr per row (the IW
 * estimate, iw.c, draws z1's noise inline and reads lr only).
 * backward: the gradient of scale * (kl1 + kl2) (iw = 0) or of sum_r
 * row_scale[r] lr[r] (iw = 1) through both stacks into w->dz (z1); the z1
 * reparameterisation stays the caller's. top_down: z2 ~ N(0, I) from rng,
 * z1 = mean + sd * eps of p(z1|z2) into w->z (n rows). */
void vae_hier_layout(elbo_vae *m, void (*add)(elbo_vae *, const char *, int, int, int));
int vae_hier_worker_alloc(const elbo_vae *m, vae_hier_work *h, int cap);
void vae_hier_worker_free(vae_hier_work *h);
void vae_hier_forward(elbo_vae *m, vae_worker *w, int R, int rep, int ex0, int iw);
void vae_hier_backward(elbo_vae *m, vae_worker *w, int R, int rep, int iw, float scale,
                       const double *row_scale);
void vae_hier_zero_dgrads(elbo_vae *m, vae_worker *w, int R);
void vae_hier_top_down(elbo_vae *m, vae_worker *w, int n, elbo_rng *rng);
int vae_hier_layer_io(const elbo_vae *m, const vae_worker *w, int li, const float **in,
                      const float **dout, int *rows);
/* q(z2|z1) alone on w->z (B rows): h.mu2, h.lv2. */
void vae_hier_q2_forward(elbo_vae *m, vae_worker *w, int B);
/* elbo_vae_latent_stats of layer 1 (z1) or 2 (z2, latent2 dimensions:
 * q(z2|z1 = mu1(x))); latent.c. With eig ([Z]) and n_dims, in the same pass,
 * elbo_vae_active_dims's eigenvalues and count (both NULL or neither). */
int vae_latent_stats(elbo_vae *m, const elbo_dataset *ds, int layer, double *kl, double *mu_var,
                     double *eig, int *n_dims, elbo_error *err);

/* Internal API for tests and tools: the model interface and trainer of a
 * handle, worker t's buffers, a tensor's values in memory layout. */
static inline model *vae_base(elbo_vae *m) { return &m->base; }
static inline trainer *vae_trainer(elbo_vae *m) { return &m->tr; }
static inline vae_worker *vae_worker_of(elbo_vae *m, int t) { return &m->w[t]; }
float *vae_tensor(elbo_vae *m, const char *name);
/* Test hook: with eps non-NULL, training steps copy their noise from eps
 * ([max_batch x samples, Z]) instead of drawing it (PyTorch fixtures). */
void vae_set_step_noise(elbo_vae *m, const float *eps);

/* The VAE's side of the engine (vae_ops.c): its model_ops table, and the
 * checks of a data set against the model. */
extern const model_ops vae_ops, vae_hier_ops; /* one or two stochastic layers */
elbo_status vae_check_dataset(const elbo_vae *m, const elbo_dataset *ds, elbo_error *err);
/* A config from checkpoint metadata (NULL get: every key absent). get
 * returns the value of a key or NULL; file names the source in messages. */
elbo_status vae_config_from_meta(const char *(*get)(const void *src, const char *key),
                                 const void *src, const char *file, elbo_vae_config *c,
                                 elbo_error *err);

/* Fills rows [0, n) of w->x from float rows xsrc (from row start), or from
 * uint8 rows of ds picked by idx[start..] (consecutive from start when idx is
 * NULL), applying the model's binarization: for training reads (train = 1) a
 * dynamic binarization draws afresh for every use of an example (keyed by the
 * use's position in the run), a static one once per example; evaluation
 * reads (train = 0) binarize each example with a draw fixed by eval_seed. */
void vae_load_rows(const elbo_vae *m, vae_worker *w, const float *xsrc, const elbo_dataset *ds,
                   const int *idx, int start, int n, int train, uint64_t eval_seed);

/* Weight of layer li in PyTorch layout [out, in], from a buffer laid out
 * like params (params itself, or a gradient), and back. */
void vae_weight_export(const elbo_vae *m, int li, const float *base, float *dst);
void vae_weight_import(const elbo_vae *m, int li, float *base, const float *src);

#endif
