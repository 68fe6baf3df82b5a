/*
 * elbo.h — public C API of elbo, a small library for variational inference.
 *
 * Conventions
 *  - Every exported name starts with elbo_ / ELBO_.
 *  - Stateful objects (elbo_vae) are opaque handles, created by *_create or
 *    *_load and released by *_free. Configuration is plain structs that the
 *    caller owns; the library copies what it needs.
 *  - Recoverable failures (bad files, bad arguments, out of memory, numeric
 *    faults) return an elbo_status and, when the caller passes a non-NULL
 *    elbo_error*, a human-readable message naming the file and the reason.
 *    Programmer bugs (NULL handles, shapes that break an invariant) hit an
 *    assertion.
 *  - The library never prints and never calls exit(); the CLI does.
 *  - No global mutable state: two models can live (and train) in one process.
 *    One handle must not be used from two threads at once.
 *  - Losses are nats, summed over pixels; per-example figures divide the sum
 *    over a data set by its size, as the PyTorch reference prints them.
 */
#ifndef ELBO_H
#define ELBO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ELBO_VERSION_MAJOR 0
#define ELBO_VERSION_MINOR 1
#define ELBO_VERSION_PATCH 0
#define ELBO_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define ELBO_API __attribute__((visibility("default")))
#else
#define ELBO_API
#endif

/** Runtime version string, e.g. "0.1.0". Static storage; do not free. */
ELBO_API const char *elbo_version(void);

/* ------------------------------------------------------------------ errors */

typedef enum {
    ELBO_OK = 0,
    ELBO_ERR_IO = 1,      /* a file could not be opened, read or written */
    ELBO_ERR_FORMAT = 2,  /* a file's contents are malformed or unexpected */
    ELBO_ERR_NOMEM = 3,   /* an allocation failed or a size would overflow */
    ELBO_ERR_ARG = 4,     /* an argument or configuration value is invalid */
    ELBO_ERR_NUMERIC = 5, /* a loss or gradient became NaN or infinite */
    ELBO_ERR_MISMATCH = 6 /* a checkpoint does not fit the requested model */
} elbo_status;

/** Filled by functions that can fail; pass NULL if you do not want text. */
typedef struct {
    elbo_status code;
    char msg[512];
} elbo_error;

/** Short constant name for a status ("I/O error", ...). Static storage. */
ELBO_API const char *elbo_status_str(elbo_status s);

/* ----------------------------------------------------------------- threads */

/** elbo parallelises over the rows of a batch with OpenMP, one team per
 *  model (elbo_vae_set_threads), and calls OpenBLAS from each worker; it
 *  therefore sets OpenBLAS to one thread when a model is created, so the two
 *  do not oversubscribe the cores. */

/* -------------------------------------------------------------------- data */

/** How a data set stores its values. */
typedef enum {
    ELBO_DTYPE_U8 = 0,  /* bytes (images), scaled to [0,1] as x / 255 when used */
    ELBO_DTYPE_F32 = 1, /* real values, used as they are */
    ELBO_DTYPE_COUNTS = 2 /* sparse word counts: the rows are the documents of
                             `counts` (elbo_lda.h), dim its vocabulary size */
} elbo_dtype;
struct elbo_corpus;

/** A data set: n rows of dim values, stored as uint8 (u8) or float32 (f32),
 *  with optional integer labels and a per-row "labelled" flag (for
 *  semi-supervised models). When the rows are images, height * width *
 *  channels == dim (row-major, channels last) and grids are drawn at that
 *  size; otherwise the three are 0. Owned by the caller: release with
 *  elbo_dataset_free. */
typedef struct {
    int n;                 /* number of rows */
    int dim;               /* values per row */
    int height, width, channels; /* image shape, or all 0 */
    elbo_dtype dtype;
    uint8_t *u8;           /* [n, dim] when dtype is ELBO_DTYPE_U8, else NULL */
    float *f32;            /* [n, dim] when dtype is ELBO_DTYPE_F32, else NULL */
    int32_t *labels;       /* [n] class labels in [0, n_classes), or NULL */
    uint8_t *labelled;     /* [n] 1 where labels[i] is known; NULL: every row
                              with a label is labelled */
    int n_classes;         /* 1 + the largest label; 0 without labels */
    float *targets;        /* [n] real-valued targets (regression), or NULL */
    struct elbo_corpus *counts; /* ELBO_DTYPE_COUNTS: the documents (owned), else NULL */
    void *map_base;        /* internal: a mapped file the values live in, or NULL */
    size_t map_len;
} elbo_dataset;
typedef enum { ELBO_SPLIT_TRAIN = 0, ELBO_SPLIT_TEST = 1 } elbo_split;

/** Reads an MNIST-layout split from dir: train-images-idx3-ubyte(.gz) and
 *  train-labels-idx1-ubyte(.gz), or t10k-* for the test split. Raw and gzip
 *  files are both accepted (the .gz name is tried first). Magic numbers,
 *  dimensions, counts and file lengths are validated. Fashion-MNIST uses the
 *  same layout. On success *out owns fresh buffers. */
ELBO_API elbo_status elbo_dataset_load_mnist(const char *dir, elbo_split split,
                                             elbo_dataset *out, elbo_error *err);
/** Reads one idx file pair given by explicit paths (labels_path may be NULL). */
ELBO_API elbo_status elbo_dataset_load_idx(const char *images_path, const char *labels_path,
                                           elbo_dataset *out, elbo_error *err);
/** How elbo_dataset_load reads a path. */
typedef struct {
    const char *format;       /* "npy", "csv", "idx", "mnist" (a folder of idx files) or
                                 "png" (a folder of images); NULL: from the path */
    const char *labels;       /* npy/idx data: a labels file (.npy or idx); NULL: none */
    const char *label_column; /* csv: the label column, by header name or 0-based index
                                 (negative from the end: "-1" is the last); NULL: none */
    int header;               /* csv: 1 a header line, 0 none, -1 detect (default) */
    int height, width, channels; /* the image shape of flat rows (all 0: none); their
                                    product must be the row length */
    elbo_split split;         /* mnist folders: which split (default train) */
    double scale;             /* every value multiplied by this (0: 1); e.g. 1/16 for
                                 scikit-learn's 0..16 digits. uint8 data become the
                                 floats x / 255 * scale */
    const char *targets;      /* real-valued targets, one per row: a 1-D (or [N, 1])
                                 .npy or a one-column .csv(.gz); NULL: none */
    const char *vocab;        /* ldac corpora: the vocabulary file; NULL: vocab.txt
                                 beside the corpus when it exists */
} elbo_load_opts;

/** Defaults: format from the path, no labels, detect a CSV header, no shape. */
ELBO_API void elbo_load_opts_default(elbo_load_opts *o);
/** Reads a data set from path: an MNIST-layout folder, a folder of PNG
 *  images (grey or RGB, one size; labels from sub-folder names, sorted),
 *  an idx file, a .npy
 *  (float32, float64 or uint8; [N, D], [N, H, W] or [N, H, W, C]; C or
 *  Fortran order; float32 and uint8 in C order are memory-mapped, not
 *  copied) or a numeric .csv (raw or .gz). uint8 values are scaled to
 *  [0, 1] when used. Errors name the file and the line, column, element or
 *  byte offset. On success *out owns its buffers (elbo_dataset_free). */
ELBO_API elbo_status elbo_dataset_load(const char *path, const elbo_load_opts *o, elbo_dataset *out,
                                       elbo_error *err);
/** A data set of n rows of dim float values copied from x [n, dim], with
 *  labels copied from labels [n] when not NULL (each >= 0). */
ELBO_API elbo_status elbo_dataset_from_float(int n, int dim, const float *x, const int32_t *labels,
                                             elbo_dataset *out, elbo_error *err);
/** Row i as floats into dst [dim] (uint8 scaled by 1/255). */
ELBO_API void elbo_dataset_row(const elbo_dataset *ds, int i, float *dst);
/** ELBO_ERR_ARG with a message unless ds is non-empty with rows of dim values. */
ELBO_API elbo_status elbo_dataset_check(const elbo_dataset *ds, int dim, elbo_error *err);
/** 1 when row i has a known label. */
ELBO_API int elbo_dataset_is_labelled(const elbo_dataset *ds, int i);
/** Marks every row unlabelled except the first `keep` rows of each class
 *  (in row order), for semi-supervised training; returns how many stay
 *  labelled, or -1 without labels or when out of memory. */
ELBO_API int elbo_dataset_keep_labels(elbo_dataset *ds, int keep);
/** Marks per_class rows of each class labelled, drawn at random (the same
 *  seed gives the same draw), and every other row unlabelled: a balanced
 *  labelled subset for semi-supervised training. Returns how many are
 *  labelled (fewer than per_class x classes when a class has fewer rows),
 *  or -1 without labels or when out of memory. */
ELBO_API int elbo_dataset_draw_labels(elbo_dataset *ds, int per_class, uint64_t seed);
/** Removes the examples labelled `label`, keeping the others in order (no
 *  reallocation); returns how many were removed (0 without labels). For
 *  held-out-class anomaly detection. */
ELBO_API int elbo_dataset_drop_label(elbo_dataset *ds, int label);
/** Moves a seeded random fraction (0 < fraction < 1; at least one row, and
 *  one left) of ds's rows into *val (fresh buffers, labels and flags
 *  along); ds keeps the others in their order. The same seed gives the
 *  same split. */
ELBO_API elbo_status elbo_dataset_split(elbo_dataset *ds, double fraction, uint64_t seed,
                                        elbo_dataset *val, elbo_error *err);
/** The same with the last rows in ds's order as the validation set: MNIST's
 *  customary 50,000 / 10,000 split (fraction 1/6 of its training file, as
 *  in the mnist.pkl.gz of the deep-learning tutorials), or time-ordered data
 *  validated on their latest rows. */
ELBO_API elbo_status elbo_dataset_split_tail(elbo_dataset *ds, double fraction, elbo_dataset *val,
                                             elbo_error *err);
/** Per-column mean and standard deviation of ds's values (as a model reads
 *  them) into mean [dim] and sd [dim] (a constant column gets sd 1). */
ELBO_API void elbo_dataset_moments(const elbo_dataset *ds, double *mean, double *sd);
/** x <- (x - mean) / sd per column, for float32 data (ELBO_ERR_ARG for uint8). */
ELBO_API elbo_status elbo_dataset_standardize(elbo_dataset *ds, const double *mean, const double *sd,
                                              elbo_error *err);
/** Keeps only the first n examples (no reallocation). */
ELBO_API void elbo_dataset_truncate(elbo_dataset *ds, int n);
/** Copies targets [ds->n] into ds (replacing any), each finite. */
ELBO_API elbo_status elbo_dataset_set_targets(elbo_dataset *ds, const float *targets, elbo_error *err);
/** Frees the buffers of ds and zeroes it. Safe on a zeroed struct. */
ELBO_API void elbo_dataset_free(elbo_dataset *ds);

/* ------------------------------------------------------------------- model */

#define ELBO_MAX_HIDDEN 8

typedef enum {
    ELBO_LIK_BERNOULLI = 0,       /* sigmoid decoder, BCE on grey levels (reference) */
    ELBO_LIK_GAUSSIAN = 1,        /* identity decoder, N(x; mean, 1) per pixel */
    ELBO_LIK_GAUSSIAN_LEARNED = 2 /* identity decoder, N(x; mean, sigma_d^2) with a learned
                                     log-variance per pixel (tensor fc{2L+2}.logvar) */
} elbo_likelihood;

/** Hidden-layer activation. */
typedef enum { ELBO_ACT_RELU = 0, ELBO_ACT_TANH = 1, ELBO_ACT_SOFTPLUS = 2 } elbo_activation;

/** How image bytes become the model's inputs. NONE: grey levels in [0,1]
 *  (the reference). STATIC: each training image binarized once (a fixed
 *  Bernoulli draw per pixel with probability pixel/255). DYNAMIC: a fresh draw
 *  every time a training image is used (Burda et al. 2015). With STATIC and
 *  DYNAMIC, evaluation binarizes each image with a draw fixed by the
 *  evaluation seed, so Bernoulli likelihoods are real log-probabilities. */
typedef enum {
    ELBO_BINARIZE_NONE = 0,
    ELBO_BINARIZE_STATIC = 1,
    ELBO_BINARIZE_DYNAMIC = 2
} elbo_binarize;

/** The approximate posterior's family beyond the diagonal Gaussian q0:
 *  a normalizing flow applied to its sample (docs/flows.md). PLANAR: flow_len
 *  planar layers (Rezende and Mohamed 2015) whose parameters the encoder
 *  emits. IAF: flow_len inverse autoregressive steps (Kingma et al. 2016),
 *  MADE networks of flow_hidden units fed a context of flow_hidden values
 *  from the encoder. With a flow the KL is a one-sample Monte Carlo
 *  estimate, log q(z_K|x) - log p(z_K). */
typedef enum { ELBO_FLOW_NONE = 0, ELBO_FLOW_PLANAR = 1, ELBO_FLOW_IAF = 2 } elbo_flow;

/** Architecture of an MLP VAE. Encoder: input -> hidden[0] -> ... ->
 *  hidden[n_hidden-1] -> (mu, logvar) in R^latent_dim; the decoder mirrors
 *  it: latent -> hidden[n_hidden-1] -> ... -> hidden[0] -> input. Every
 *  hidden layer uses `activation` (ReLU by default). */
typedef struct {
    int input_dim;                /* 784 for MNIST */
    int latent_dim;               /* 20 */
    int n_hidden;                 /* number of hidden layers, 1..ELBO_MAX_HIDDEN */
    int hidden[ELBO_MAX_HIDDEN];  /* widths, encoder order */
    elbo_likelihood likelihood;
    int max_batch;                /* activations are allocated for this many rows */
    int threads;                  /* worker threads (0: all cores); see elbo_vae_set_threads */
    elbo_binarize binarize;       /* how training data are read (kept in checkpoints) */
    elbo_activation activation;   /* hidden layers (kept in checkpoints) */
    elbo_flow flow;               /* NONE (default): the diagonal Gaussian */
    int flow_len;                 /* planar layers (1..256) or IAF steps (1..8) */
    int flow_hidden;              /* IAF: MADE width and context size (0: 4 x latent_dim) */
    /* A second stochastic layer (Burda et al. 2015; 0: none): z1 (latent_dim)
     * -> hidden2 -> z2 (latent2) in q(z2|z1), and the mirror z2 -> hidden2
     * reversed -> (mean, log-variance) of p(z1|z2); the prior N(0, I) is on
     * z2 and samples are drawn top-down. Not combined with a flow. */
    int latent2;
    int n_hidden2;                /* 1..ELBO_MAX_HIDDEN when latent2 > 0 */
    int hidden2[ELBO_MAX_HIDDEN]; /* widths, in q(z2|z1)'s order */
} elbo_vae_config;

/** Fills c with the reference model: 784-400-20, Bernoulli, max_batch 128,
 *  threads 0 (all cores). */
ELBO_API void elbo_vae_config_default(elbo_vae_config *c);
/** Checks a configuration; ELBO_ERR_ARG with a message if it is invalid. */
ELBO_API elbo_status elbo_vae_config_check(const elbo_vae_config *c, elbo_error *err);

/** The training objective: the ELBO (closed-form KL), or the K-sample
 *  importance-weighted bound of the IWAE (Burda et al. 2015). */
typedef enum { ELBO_OBJ_ELBO = 0, ELBO_OBJ_IWAE = 1 } elbo_objective;

/** The optimizer: Adam (the default) or plain SGD with optional momentum
 *  (torch.optim.SGD: buf = momentum * buf + g; p -= lr * buf). */
typedef enum { ELBO_OPTIM_ADAM = 0, ELBO_OPTIM_SGD = 1 } elbo_optimizer;

/** Optimizer and training-loop settings. PyTorch semantics. */
typedef struct {
    double lr, beta1, beta2, eps; /* 1e-3, 0.9, 0.999, 1e-8 */
    int batch_size;              /* 128; must be <= the model's max_batch */
    double clip_grad;            /* 0: off; else rescale the gradient to at most
                                    this L2 norm (torch.nn.utils.clip_grad_norm_) */
    /* Posterior-collapse tools. They change the training objective, not the
     * reported losses (always the true -ELBO = recon + KL). */
    double beta;          /* KL weight (1: the ELBO; beta-VAE otherwise) */
    int kl_warmup_epochs; /* 0: off; else the KL weight rises linearly from 0
                             to beta over this many epochs (per step) */
    int kl_cycle_epochs;  /* 0: off; else cyclical annealing (Fu et al. 2019):
                             in each cycle of this many epochs the weight rises
                             linearly over the first half, then stays at beta */
    double free_bits;     /* 0: off; else lambda, nats per latent dimension
                             (Kingma et al. 2016): the objective's KL term is
                             sum_j max(lambda, mean-over-batch KL_j), so a
                             dimension below lambda gets no KL gradient */
    elbo_objective objective; /* ELBO (default) or IWAE */
    int samples;          /* IWAE's K (1 for the ELBO); batch_size * samples
                             must fit the model's max_batch. The IWAE cannot be
                             combined with free bits */
    int labelled_batch;   /* semi-supervised models (M2): labelled rows in every
                             batch, the rest unlabelled; an epoch is one pass
                             over the unlabelled rows, the labelled ones cycled
                             (0: rows as the shuffle gives them) */
    /* Learning-rate decay: the rate at fractional epoch e (epochs done plus
     * the share of this one seen) is max(lr_min, lr * lr_decay^e), so it
     * falls smoothly step by step and resumes exactly. 1 (the default) or 0
     * (a struct zeroed before this field existed): constant. */
    double lr_decay; /* in (0, 1]; e.g. 0.98: the rate halves every 34 epochs */
    double lr_min;   /* floor, >= 0 (default 0) */
    /* The optimizer (a struct zeroed before these fields existed: Adam).
     * A run keeps the optimizer it started with: resuming with another is
     * refused. beta1, beta2 and eps are Adam's alone. */
    elbo_optimizer optimizer;
    double momentum; /* SGD's, in [0, 1) (default 0: plain SGD) */
    /* Parameter averaging (Polyak and Juditsky 1992, as an exponential
     * moving average): 0 (the default) is off; else d in (0, 1), and after
     * step t the average a = d_t a + (1 - d_t) p with d_t = min(d, (1 + t) /
     * (10 + t)), starting from the weights at the step it was turned on.
     * Evaluation during training, best.safetensors and ema.safetensors then
     * use the average; training (and model.safetensors, which resumes it)
     * keeps the raw weights. Not for models without an optimizer (LDA). */
    double ema; /* e.g. 0.999: an average over about the last 1,000 steps */
} elbo_train_config;

ELBO_API void elbo_train_config_default(elbo_train_config *c);

typedef struct elbo_vae elbo_vae; /* opaque */

/** Creates a model with PyTorch's default nn.Linear initialisation
 *  (weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))), drawn from a
 *  PRNG seeded with seed. The same seed also drives shuffling and the
 *  reparameterisation noise during training. Returns NULL on failure. */
ELBO_API elbo_vae *elbo_vae_create(const elbo_vae_config *c, uint64_t seed, elbo_error *err);
/** Frees the model and everything it owns. NULL is a no-op. */
ELBO_API void elbo_vae_free(elbo_vae *m);
/** The model's configuration (read-only view owned by m). */
ELBO_API const elbo_vae_config *elbo_vae_get_config(const elbo_vae *m);
/** Sets the number of worker threads the model uses for training steps,
 *  evaluation and the batch calls (n <= 0: all cores; at most 64). A step
 *  splits its batch across the workers and sums their gradients in a fixed
 *  order, so results are bit-identical for a fixed seed and thread count (and
 *  differ in the last bits between thread counts). Allocates or frees worker
 *  buffers; call it between steps, not during one. */
ELBO_API elbo_status elbo_vae_set_threads(elbo_vae *m, int n, elbo_error *err);
/** Number of worker threads the model uses. */
ELBO_API int elbo_vae_get_threads(const elbo_vae *m);

/** Number of trainable scalars. */
ELBO_API size_t elbo_vae_num_params(const elbo_vae *m);

/* ---------------------------------------------------------------- training */

/** Loss figures, each a per-example mean in nats. */
typedef struct {
    double loss;  /* -ELBO = recon + kl (training with the IWAE objective:
                     minus the K-sample bound, recon averaged over the K) */
    double recon; /* -E_q[log p(x|z)] */
    double kl;    /* KL(q(z|x) || N(0, I)); with a flow or a second stochastic
                     layer a one-sample estimate of log q(z|x) - log p(z) */
    long n;       /* number of examples the figures average over */
} elbo_losses;

/** Called after each step of an epoch with the number of steps done and the
 *  total, and the running per-example loss. Return non-zero to stop early. */
typedef int (*elbo_progress_fn)(void *user, int step, int n_steps, double running_loss);

/** One Adam step on the batch x [B, input_dim] of values in [0,1], with
 *  B <= max_batch. Draws eps from the model's PRNG. out (may be NULL) gets the
 *  batch's per-example losses. A non-finite loss returns ELBO_ERR_NUMERIC
 *  before any weight changes; a non-finite gradient returns ELBO_ERR_NUMERIC
 *  naming the parameter, after which the model's weights are not usable (the
 *  last checkpoint on disk is). */
ELBO_API elbo_status elbo_vae_train_step(elbo_vae *m, const elbo_train_config *tc,
                                         const float *x, int B, elbo_losses *out,
                                         elbo_error *err);

/** Trains to the end of the current epoch over ds: at an epoch boundary a
 *  fresh shuffle from the model's PRNG, then batches of tc->batch_size with
 *  the last partial batch included (as PyTorch's DataLoader), one Adam step
 *  each. progress may be NULL; when it returns non-zero the call returns
 *  ELBO_OK after the current step with the epoch unfinished
 *  (elbo_vae_epoch_examples > 0): save a checkpoint then if you like, and
 *  call again to continue exactly where it stopped, also after a reload. out
 *  gets the losses of the epoch so far. */
ELBO_API elbo_status elbo_vae_train_epoch(elbo_vae *m, const elbo_train_config *tc,
                                          const elbo_dataset *ds, elbo_progress_fn progress,
                                          void *user, elbo_losses *out, elbo_error *err);

/** Number of Adam steps taken so far. */
ELBO_API long elbo_vae_steps(const elbo_vae *m);
/** Number of completed epochs (advanced by elbo_vae_train_epoch). */
ELBO_API int elbo_vae_epochs(const elbo_vae *m);
/** The KL weight the next training step will use: beta times the warm-up or
 *  cyclical schedule at the model's current position (epochs, fractional). */
ELBO_API double elbo_vae_kl_weight(const elbo_vae *m, const elbo_train_config *tc);
/** Examples consumed in the current, unfinished epoch (0 at a boundary). */
ELBO_API long elbo_vae_epoch_examples(const elbo_vae *m);
/** The seed the model was created with (kept in checkpoints). */
ELBO_API uint64_t elbo_vae_seed(const elbo_vae *m);

/* --------------------------------------------------------------- inference */

/** Single-sample -ELBO over ds, as the reference's test loss: z is drawn
 *  with eps from a PRNG seeded with seed (the model's own PRNG is not
 *  touched). */
ELBO_API elbo_status elbo_vae_eval(elbo_vae *m, const elbo_dataset *ds, uint64_t seed,
                                   elbo_losses *out, elbo_error *err);

/** Importance-weighted estimate of -log p(x) (Burda et al. 2015) with K
 *  samples per example: -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x). A bound
 *  that tightens as K grows; K = 1 is the ELBO. nll_mean gets the mean over
 *  ds; nll_each ([ds->n], may be NULL) each example's estimate. Deterministic
 *  for a seed (independent of the thread count). Cost: K decoder passes per
 *  example (see docs/toolbox.md for timings). progress (may be NULL) is called
 *  after each block of max_batch examples with (blocks done, blocks, NaN),
 *  from a worker thread, one call at a time; its return value is ignored. */
ELBO_API elbo_status elbo_vae_eval_iw(elbo_vae *m, const elbo_dataset *ds, int K, uint64_t seed,
                                      elbo_progress_fn progress, void *user, double *nll_mean,
                                      double *nll_each, elbo_error *err);

typedef enum {
    ELBO_SCORE_ELBO = 0,  /* -ELBO, one z draw (as elbo_vae_eval with the seed) */
    ELBO_SCORE_IW = 1,    /* -log p(x), IW estimate with K samples */
    ELBO_SCORE_RECON = 2  /* squared error of the reconstruction from z = mu
                             (with a flow: its image f(mu)) */
} elbo_score_kind;

/** Anomaly scores, one per example of ds, into scores [ds->n] (higher: less
 *  like the training data). K is used by ELBO_SCORE_IW only. */
ELBO_API elbo_status elbo_vae_score(elbo_vae *m, const elbo_dataset *ds, elbo_score_kind kind, int K,
                                    uint64_t seed, double *scores, elbo_error *err);

/** Posterior-collapse diagnostics over ds: kl[j] is the mean per example of
 *  KL(q(z_j|x) || N(0, 1)), mu_var[j] the variance over ds of E_q[z_j] =
 *  mu_j(x). Unit j is active when mu_var[j] > 0.01 (Burda et al. 2015).
 *  With a flow, mu_var is that of the posterior's centre f(mu(x)) and kl
 *  that of the base Gaussian (docs/flows.md); with a second layer these
 *  are z1's.
 *  kl and mu_var ([latent_dim] each, caller-owned) may be NULL. Returns the
 *  number of active units, or -1 with err filled. */
ELBO_API int elbo_vae_latent_stats(elbo_vae *m, const elbo_dataset *ds, double *kl, double *mu_var,
                                   elbo_error *err);

/** The rotation-invariant count of active latent dimensions: eig[j] are the
 *  eigenvalues, descending, of the covariance over ds of the posterior's
 *  centre (mu(x); with a flow f(mu(x)); layer 2: z2's, as in
 *  elbo_vae_latent_stats), and the count is how many exceed 0.01. For a
 *  diagonal q whose active means are uncorrelated it equals the active
 *  units; a flow, which rotates and mixes z, can spread one direction of
 *  variation over many coordinates, and this count does not move with it
 *  (docs/flows.md). layer is 1 or 2 (a model with latent2); eig [that
 *  layer's size <= 512] is caller-owned; units, when not NULL, receives
 *  the same layer's active units (Burda's coordinate count), from the same
 *  pass. Returns the count, or -1 with err filled. */
ELBO_API int elbo_vae_active_dims(elbo_vae *m, const elbo_dataset *ds, int layer, double *eig,
                                  int *units, elbo_error *err);

/** Encoder: x [B, input_dim] -> mu, logvar [B, latent_dim]. Any B >= 0. */
ELBO_API void elbo_vae_encode(elbo_vae *m, const float *x, int B, float *mu, float *logvar);

/** Decoder: z [B, latent_dim] -> mean image [B, input_dim] (Bernoulli
 *  probabilities, or Gaussian means). Any B >= 0. */
ELBO_API void elbo_vae_decode(elbo_vae *m, const float *z, int B, float *out);

/** Draws n latents from the prior with a PRNG seeded with seed and decodes
 *  them into out [n, input_dim]: N(0, I), or with a second stochastic layer
 *  top-down (z2 ~ N(0, I), z1 ~ p(z1|z2)). */
ELBO_API void elbo_vae_sample(elbo_vae *m, int n, uint64_t seed, float *out);
/** The latents elbo_vae_sample(m, n, seed, ...) decodes, into z [n, latent_dim]:
 *  elbo_vae_decode of them gives its output exactly. Uses the model's worker
 *  buffers (top-down sampling), like every call on m. */
ELBO_API void elbo_vae_sample_latents(elbo_vae *m, int n, uint64_t seed, float *z);

/** Encodes x, takes z = mu (the posterior mean; with a flow its image
 *  f(mu), the eps = 0 path) and decodes it into out. */
ELBO_API void elbo_vae_reconstruct(elbo_vae *m, const float *x, int B, float *out);

/* ------------------------------------------------------------- checkpoints */

/** Writes dir/model.safetensors (weights under the reference's names, config
 *  in __metadata__) and dir/optim.safetensors (Adam moments, step, epoch,
 *  PRNG state). Each file is written to a temporary name, flushed and renamed,
 *  so an interrupted save leaves the previous checkpoint intact. dir must
 *  exist. */
ELBO_API elbo_status elbo_vae_save(const elbo_vae *m, const char *dir, elbo_error *err);

/** Writes only the weights (as model.safetensors) to path, atomically. */
ELBO_API elbo_status elbo_vae_save_weights(const elbo_vae *m, const char *path, elbo_error *err);

/** Loads a model from path: a directory holding model.safetensors, or a
 *  weights file. When path is a directory or a file named model.safetensors
 *  and optim.safetensors sits beside it, Adam state, step, epoch and PRNG
 *  state are restored too, so training resumes where it stopped. A weights
 *  file without elbo metadata (e.g. a PyTorch state_dict of the reference
 *  model) loads as the reference architecture, sizes taken from the shapes.
 *  Tensors that do not fit the architecture are refused. max_batch
 *  <= 0 keeps the default (128). Returns NULL with a message on failure. */
ELBO_API elbo_vae *elbo_vae_load(const char *path, int max_batch, elbo_error *err);

/* ------------------------------------------------------------- whole runs */

#define ELBO_MAX_TERMS 8

/** One finished epoch, as elbo_vae_run reports it and metrics.jsonl
 *  records it. Term names come from the model ("loss", "recon", "kl" for
 *  the VAE; "loss" is always the objective); figures are per-example means
 *  in nats. Static strings and arrays owned by the run. */
typedef struct {
    int epoch;                 /* 1-based */
    long step;                 /* optimizer steps so far */
    double seconds;            /* training time of the epoch (not evaluation) */
    int n_terms;
    const char *const *terms;
    double train[ELBO_MAX_TERMS];
    int has_test;
    double test[ELBO_MAX_TERMS];
    int has_val;               /* a validation set was evaluated */
    double val[ELBO_MAX_TERMS];
    int best_epoch;            /* with a validation set: the epoch of the lowest
                                  validation select_term so far (best.safetensors) */
    int select_term;           /* the term that model selection minimises: 0 (the
                                  loss), M2's classification error, or a Bayesian
                                  classifier's draw_error */
    const char *extra_json;    /* the model's extra metrics fields, ",\"key\":value..." */
    const char *summary;       /* the model's short summary ("active 20/20"), may be "" */
    const char *warning;       /* a diagnosis worth telling the user, or "" */
} elbo_epoch_report;

/** How a run goes (elbo_vae_run). */
typedef struct {
    int epochs;          /* train until this many epochs are complete */
    const char *out_dir; /* checkpoints and metrics.jsonl go here (must exist) */
    long ckpt_steps;     /* save every this many steps (0: by epochs) */
    int ckpt_epochs;     /* save every this many epochs (0: only at the end) */
    int eval_every;      /* test-set evaluation every this many epochs (0: never) */
    const elbo_dataset *val; /* a validation set (NULL: none): evaluated every
                                epoch; the weights of the epoch with the lowest
                                validation loss (the classifiers: error, see
                                elbo_epoch_report.select_term) are kept in
                                out_dir/best.safetensors */
    int early_stop;      /* with val: stop after this many epochs without a better
                            validation figure (0: never) */
} elbo_run_config;

/** Sets the defaults: 20 epochs, a checkpoint and an evaluation each epoch,
 *  no validation set. */
ELBO_API void elbo_run_config_default(elbo_run_config *rc);

/** Callbacks of a run; any may be NULL. progress is called after each step
 *  (as in elbo_vae_train_epoch); a non-zero return from progress or
 *  should_stop (asked after each step) ends the run after a checkpoint.
 *  epoch_done is called after each epoch's metrics line and checkpoint. */
typedef struct {
    elbo_progress_fn progress;
    int (*should_stop)(void *user);
    void (*epoch_done)(void *user, const elbo_epoch_report *r);
    void *user;
} elbo_run_callbacks;

/** Trains m over train until rc->epochs are complete: per epoch a training
 *  pass (elbo_vae_train_epoch), the test evaluation with seed
 *  seed x 1000003 + epoch and the model's diagnostics (when test is non-NULL
 *  and due), a line appended to out_dir/metrics.jsonl (fsync'd before the
 *  checkpoint, so a crash leaves a line that resume trims, never a missing
 *  one) and checkpoints by the cadence, always one at the end. On entry
 *  metrics.jsonl is trimmed to the epochs the model has completed. With
 *  rc->val, the validation terms join each metrics line (val_*, best_epoch)
 *  and best.safetensors holds the weights of the best epoch. A stop request
 *  saves and returns ELBO_OK with *stopped = 1; early stopping (rc->early_stop
 *  epochs without a better validation loss) with *stopped = 2 (stopped may
 *  be NULL). */
ELBO_API elbo_status elbo_vae_run(elbo_vae *m, const elbo_train_config *tc, const elbo_run_config *rc,
                                  const elbo_dataset *train, const elbo_dataset *test,
                                  const elbo_run_callbacks *cb, int *stopped, elbo_error *err);

/** Opens a run folder for training: creates it if needed, takes an
 *  exclusive lock (flock on DIR/.lock, holding the process id) that lasts
 *  until elbo_rundir_close, removes temporaries of interrupted saves, and
 *  checks what the folder holds. A folder already holding a run is refused
 *  (ELBO_ERR_ARG) unless resume (then it must hold one) or force (then its
 *  run files are deleted; `replaced` gets their names, comma-separated). A
 *  folder locked by another process fails at once (ELBO_ERR_IO, naming the
 *  process). */
typedef struct elbo_rundir elbo_rundir;
ELBO_API elbo_rundir *elbo_rundir_open(const char *dir, int resume, int force, char *replaced,
                                       size_t replaced_cap, elbo_error *err);
ELBO_API void elbo_rundir_close(elbo_rundir *d);

/* ------------------------------------------------------ run records, info */

/** A key and its value, as stored in checkpoint metadata. */
typedef struct {
    char key[32];
    char value[480];
} elbo_kv;

#define ELBO_KV_MAX 64

/** The run record: every option a training run was started with (lr,
 *  batch, epochs, objective, schedules, seed, threads, data path, ...), as
 *  key/value strings. Saved in model.safetensors' metadata as "run.KEY", so
 *  that a run can be resumed from its folder alone and a checkpoint says how
 *  it was made. The library records the options it knows (the model's
 *  config and elbo_train_config) itself; callers add their own (data path,
 *  limits) with elbo_run_record_set. */
typedef struct {
    int n;
    elbo_kv e[ELBO_KV_MAX];
} elbo_run_record;

/** Sets key to value (replacing an earlier value). ELBO_ERR_ARG when the
 *  key or value is too long or the record is full. */
ELBO_API elbo_status elbo_run_record_set(elbo_run_record *r, const char *key, const char *value,
                                         elbo_error *err);
/** The canonical spelling of a number in run records and metadata: the
 *  shortest %g form (15 to 17 digits) that reads back as exactly v ("0.1",
 *  not "0.10000000000000001"). Returns buf. */
ELBO_API const char *elbo_format_double(char *buf, size_t cap, double v);
/** The value of key, or NULL. */
ELBO_API const char *elbo_run_record_get(const elbo_run_record *r, const char *key);
/** Records the training options of tc (lr, batch, adam_eps, clip_grad,
 *  beta, kl_warmup, kl_cycle, free_bits, objective, samples) in r, in
 *  canonical spellings (numbers by elbo_format_double). */
ELBO_API elbo_status elbo_run_record_train_config(elbo_run_record *r, const elbo_train_config *tc,
                                                  elbo_error *err);
/** The inverse: reads the options of tc that r holds (others untouched).
 *  ELBO_ERR_FORMAT naming the key when a value does not parse. */
ELBO_API elbo_status elbo_train_config_from_record(const elbo_run_record *r, elbo_train_config *tc,
                                                   elbo_error *err);

/** The model's run record (what elbo_vae_save writes; loaded with it). */
ELBO_API const elbo_run_record *elbo_vae_get_run_record(const elbo_vae *m);
ELBO_API void elbo_vae_set_run_record(elbo_vae *m, const elbo_run_record *r);

/** What a checkpoint holds, read from its metadata without building the
 *  model: kind ("vae"), format, the elbo version that wrote it, step and
 *  epoch (from the optimizer state when present), parameter and tensor
 *  counts, the model's configuration and the run record. */
typedef struct {
    char kind[32], format[48], version[32];
    long step, epoch_examples;
    int epoch, has_optim, n_tensors;
    size_t n_params;
    elbo_run_record config;
    elbo_run_record run;
} elbo_checkpoint_info;

/** Fills info for path (a folder or a model.safetensors file). */
ELBO_API elbo_status elbo_checkpoint_info_read(const char *path, elbo_checkpoint_info *info,
                                               elbo_error *err);

/* -------------------------------------------------------------- any model */

/** What every model shares: training through one engine (an epoch, a whole
 *  run), checkpoints, threads, the run record and the position in the run.
 *  A handle views one model and lives as long as it; get it from the model
 *  (elbo_vae_model, elbo_bnn_model). The model's own calls (sampling,
 *  prediction, evaluation) stay with its type. */
typedef struct elbo_model elbo_model;

/** "vae", "bnn": the checkpoint's "model" metadata. */
ELBO_API const char *elbo_model_kind(const elbo_model *h);
/** The names of the model's loss terms (names[0] is "loss", the objective);
 *  returns how many (<= ELBO_MAX_TERMS). */
ELBO_API int elbo_model_terms(const elbo_model *h, const char *const **names);
/** Trains to the end of the current epoch over ds: at an epoch boundary a
 *  fresh shuffle from the model's PRNG, then batches of tc->batch_size (the
 *  last partial batch included), one optimizer step each. progress may be
 *  NULL; when it returns non-zero the call returns ELBO_OK after the
 *  current step with the epoch unfinished (elbo_model_epoch_examples > 0):
 *  call again to continue exactly, also after a reload. terms (may be
 *  NULL) gets the per-example means of the epoch so far, in the order of
 *  elbo_model_terms. */
ELBO_API elbo_status elbo_model_train_epoch(elbo_model *h, const elbo_train_config *tc,
                                            const elbo_dataset *ds, elbo_progress_fn progress,
                                            void *user, double *terms, elbo_error *err);
/** A whole run (see elbo_vae_run for the contract, which is this). */
ELBO_API elbo_status elbo_model_run(elbo_model *h, const elbo_train_config *tc,
                                    const elbo_run_config *rc, const elbo_dataset *train,
                                    const elbo_dataset *test, const elbo_run_callbacks *cb,
                                    int *stopped, elbo_error *err);
/** DIR/model.safetensors and DIR/optim.safetensors, atomically (DIR must exist). */
ELBO_API elbo_status elbo_model_save(const elbo_model *h, const char *dir, elbo_error *err);
ELBO_API elbo_status elbo_model_set_threads(elbo_model *h, int n, elbo_error *err);
/** Data parallelism: a group of processes that train one model together.
 *  Every member builds the same model with the same seed, options and data
 *  and makes the same calls; each step, member `rank` computes its slice of
 *  the batch (rows split as evenly as possible, rank order) and the engine
 *  combines the members with sum_f32 and sum_f64: the loss terms, batch
 *  statistics the objective needs (free bits' per-dimension KL), the
 *  gradient (or LDA's sufficient statistics) and stop requests. Both must
 *  sum x[0..n) over the members in place, in rank order
 *  (((x_0 + x_1) + x_2) + ...), leaving the same bits on every member, and
 *  return 0 (non-zero fails the step with ELBO_ERR_IO). The PRNG, noise and
 *  shuffled order are the same on every member, so a run's result depends
 *  on the number of members and threads but not on the transport. Only
 *  rank 0 writes (checkpoints, best.safetensors, metrics.jsonl); the others
 *  only read. The elbo CLI's MPI build (cli/par.c) makes one over
 *  MPI_COMM_WORLD; any other transport works the same way. */
typedef struct {
    int rank, size; /* 0 <= rank < size */
    int (*sum_f32)(void *user, float *x, size_t n);
    int (*sum_f64)(void *user, double *x, size_t n);
    void *user;
} elbo_group;
/** Makes h a member of g (copied; NULL or size 1: alone again). */
ELBO_API elbo_status elbo_model_set_group(elbo_model *h, const elbo_group *g, elbo_error *err);
ELBO_API int elbo_model_threads(const elbo_model *h);
ELBO_API size_t elbo_model_num_params(const elbo_model *h);
/** Optimizer steps taken; completed epochs; examples into the unfinished one. */
ELBO_API long elbo_model_steps(const elbo_model *h);
ELBO_API int elbo_model_epochs(const elbo_model *h);
ELBO_API long elbo_model_epoch_examples(const elbo_model *h);
ELBO_API uint64_t elbo_model_seed(const elbo_model *h);
/** Swaps the model's weights with their moving average (elbo_train_config.
 *  ema), so that the model's own calls (evaluation, prediction, sampling)
 *  see the average; a second call swaps back. Returns 1 when it swapped, 0
 *  when the model keeps no average (nothing changes). Swap back before
 *  training or saving: training steps the raw weights. */
ELBO_API int elbo_model_swap_average(elbo_model *h);
/** The run record saved with the model's checkpoints. */
ELBO_API const elbo_run_record *elbo_model_get_run_record(const elbo_model *h);
ELBO_API void elbo_model_set_run_record(elbo_model *h, const elbo_run_record *r);
/** The VAE's handle. */
ELBO_API elbo_model *elbo_vae_model(elbo_vae *m);

/* ------------------------------------------------- Bayesian neural networks */

/** A Bayesian MLP, a classifier or a regressor, trained by Bayes by
 *  Backprop (Blundell et al. 2015): every weight and bias has a mean-field
 *  Gaussian posterior N(mu, softplus(rho)^2) and a Gaussian or
 *  scale-mixture prior (below). Training maximises the ELBO by the local
 *  reparameterisation trick (Kingma, Salimans and Welling 2015:
 *  pre-activations are sampled from their Gaussian, one draw per example).
 *  It trains through elbo_model (elbo_bnn_model). Its loss terms, in nats
 *  per example: "nll" (softmax cross-entropy, or the Gaussian negative
 *  log-likelihood, of one posterior draw), "kl" (KL(q || p) / N over a data
 *  set of N rows: each minibatch of B rows carries B/N of it, Blundell's
 *  1/M weighting) and "loss" = nll + kl; a classifier adds "draw_error",
 *  the fraction of rows one posterior draw misclassifies (a fraction, not
 *  nats), which model selection on a validation set minimises (a
 *  regressor's selection minimises the loss). With point weights
 *  (ELBO_WEIGHTS_POINT) the same network is the deterministic baseline
 *  (optionally with dropout): kl is 0 and loss is the plain NLL. The shared
 *  engine trains it: elbo_train_config's lr, batch_size, clip_grad, beta
 *  and kl_warmup_epochs apply; the VAE's objective, samples and free bits
 *  do not. */
typedef struct elbo_bnn elbo_bnn;

/** The prior on every weight: a Gaussian (the KL in closed form), or
 *  Blundell's scale mixture (the KL by a one-draw Monte Carlo estimate per
 *  step, reparameterised). */
typedef enum { ELBO_PRIOR_GAUSSIAN = 0, ELBO_PRIOR_MIXTURE = 1 } elbo_bnn_prior;

/** How the KL is shared among the M minibatches of an epoch (the weights
 *  sum to 1 over an epoch). */
typedef enum {
    ELBO_KL_UNIFORM = 0, /* B / N for a batch of B of N rows (1/M for equal batches) */
    ELBO_KL_BLUNDELL = 1 /* 2^(M-i) / (2^M - 1) for batch i = 1..M (Blundell et al. 2015,
                            eq. 9): the first batches carry most of it */
} elbo_kl_weighting;

/** What the network predicts. */
typedef enum {
    ELBO_BNN_CLASSIFIER = 0, /* a class: softmax likelihood over n_classes */
    ELBO_BNN_REGRESSOR = 1   /* a real target: N(y; f(x), s^2) with the noise variance s^2
                                learned (tensor noise.logvar, a point estimate) */
} elbo_bnn_task;

/** The weights: a mean-field Gaussian posterior, or point values (the
 *  deterministic network, trained by maximum likelihood: no prior, no KL). */
typedef enum { ELBO_WEIGHTS_GAUSSIAN = 0, ELBO_WEIGHTS_POINT = 1 } elbo_bnn_weights;

typedef struct {
    int input_dim;                /* values per row (784) */
    int n_classes;                /* classifier: 10 (a regressor has one output) */
    elbo_bnn_task task;           /* ELBO_BNN_CLASSIFIER (default) or ELBO_BNN_REGRESSOR */
    elbo_bnn_weights weights;     /* ELBO_WEIGHTS_GAUSSIAN (default) or ELBO_WEIGHTS_POINT */
    double dropout;               /* probability in [0, 1) of dropping each hidden unit in
                                     training (0); predictions then average `samples`
                                     dropout masks (MC dropout, Gal and Ghahramani 2016) */
    int standardize;              /* 1: the model standardizes its inputs (and a regressor
                                     its targets) itself, with the moments given by
                                     elbo_bnn_set_standardization, kept in the checkpoint
                                     (tensors input.mean, input.sd, target.mean, target.sd) */
    int n_hidden;                 /* ReLU hidden layers (2) */
    int hidden[ELBO_MAX_HIDDEN];  /* their widths (400, 400) */
    elbo_bnn_prior prior;         /* ELBO_PRIOR_GAUSSIAN (default) or ELBO_PRIOR_MIXTURE */
    double prior_sigma;           /* Gaussian: the prior N(0, prior_sigma^2) on every weight (0.1) */
    double prior_pi, prior_sigma1, prior_sigma2; /* mixture: pi N(0, s1^2) + (1 - pi) N(0, s2^2)
                                     (0.5, 1, e^-6: one of Blundell's settings) */
    double rho_init;              /* every rho starts here: sigma = softplus(rho_init) (-6) */
    elbo_kl_weighting kl_weighting; /* how minibatches share the KL (uniform) */
    int samples;                  /* posterior draws averaged by predictions and the
                                     per-epoch test metrics (10) */
    int max_batch;                /* rows the activations are sized for (128) */
    int threads;                  /* worker threads at creation (0: all cores); the
                                     count in use is elbo_model_threads */
} elbo_bnn_config;

/** Prediction quality on a labelled data set, from the predictive
 *  distribution (class probabilities averaged over S posterior draws). */
typedef struct {
    double accuracy; /* fraction of rows whose most probable class is the label */
    double nll;      /* -log of the predictive probability of the label, nats per row */
    double ece;      /* expected calibration error: 15 equal-width confidence bins */
    double brier;    /* sum over classes of (p - onehot)^2, mean over rows */
    long n;
    /* the reliability diagram: per confidence bin [b/15, (b+1)/15), the rows
     * whose top probability falls in it, their accuracy and mean confidence */
    long bin_n[15];
    double bin_acc[15], bin_conf[15];
} elbo_bnn_metrics;

ELBO_API void elbo_bnn_config_default(elbo_bnn_config *c);
ELBO_API elbo_status elbo_bnn_config_check(const elbo_bnn_config *c, elbo_error *err);
/** mu as PyTorch's nn.Linear initialises weights and biases, rho = rho_init. */
ELBO_API elbo_bnn *elbo_bnn_create(const elbo_bnn_config *c, uint64_t seed, elbo_error *err);
ELBO_API void elbo_bnn_free(elbo_bnn *m);
ELBO_API const elbo_bnn_config *elbo_bnn_get_config(const elbo_bnn *m);
/** ELBO_ERR_ARG unless ds has rows of input_dim values, every row labelled,
 *  with labels in [0, n_classes). */
ELBO_API elbo_status elbo_bnn_check_dataset(const elbo_bnn *m, const elbo_dataset *ds, elbo_error *err);
/** Predictive class probabilities of n rows x [n, input_dim] into probs
 *  [n, n_classes]: the mean over S posterior draws (seeded: the same seed
 *  gives the same result for any thread count). exp_entropy [n] (may be
 *  NULL) gets the mean over the draws of each draw's entropy, in nats: the
 *  aleatoric part; the entropy of probs minus it is the mutual information
 *  between the label and the weights (the epistemic part). */
ELBO_API elbo_status elbo_bnn_predict(elbo_bnn *m, const float *x, int n, int S, uint64_t seed,
                                      float *probs, float *exp_entropy, elbo_error *err);
/** Metrics of the predictive distribution (S draws) over a labelled ds. */
ELBO_API elbo_status elbo_bnn_evaluate(elbo_bnn *m, const elbo_dataset *ds, int S, uint64_t seed,
                                       elbo_bnn_metrics *out, elbo_error *err);
/** A regressor's predictive distribution, in the targets' units. For each
 *  of n rows x [n, input_dim]: mean [n], the mean over S posterior draws
 *  of the network's output; model_sd [n] (may be NULL), their standard
 *  deviation (epistemic); noise_sd [n] (may be NULL), the learned noise
 *  (aleatoric). The predictive variance is model_sd^2 + noise_sd^2. */
ELBO_API elbo_status elbo_bnn_predict_regression(elbo_bnn *m, const float *x, int n, int S, uint64_t seed,
                                                 float *mean, float *model_sd, float *noise_sd,
                                                 elbo_error *err);

/** A regressor's quality on a data set with targets, in the targets' units. */
typedef struct {
    double rmse;        /* root mean squared error of the predictive mean */
    double nll;         /* -log p(y | x) of the predictive mixture of the S draws' Gaussians,
                           nats per row */
    double coverage[3]; /* fraction of rows inside the central 50%, 90% and 95% intervals
                           of N(mean, model_sd^2 + noise_sd^2) */
    double mean_sd;     /* mean predictive standard deviation */
    double noise_sd;    /* the learned noise standard deviation */
    long n;
} elbo_bnn_regression_metrics;

ELBO_API elbo_status elbo_bnn_evaluate_regression(elbo_bnn *m, const elbo_dataset *ds, int S, uint64_t seed,
                                                  elbo_bnn_regression_metrics *out, elbo_error *err);
/** Weight pruning by signal-to-noise ratio (Blundell et al. 2015, Table 2):
 *  sets to zero (mu = 0, sigma ~ 0) the fraction (in [0, 1)) of the
 *  network's weights, over every layer together and biases excepted, with
 *  the lowest |mu| / sigma (|w| for point weights); *pruned (may be NULL)
 *  gets how many. In place: reload the model to undo. */
ELBO_API elbo_status elbo_bnn_prune(elbo_bnn *m, double fraction, long *pruned, elbo_error *err);
/** The number of weights (biases excepted), and each one's |mu| / sigma
 *  (|w| for point weights) into snr [that many], layer by layer in
 *  [out, in] order. */
ELBO_API long elbo_bnn_weight_count(const elbo_bnn *m);
ELBO_API elbo_status elbo_bnn_snr(const elbo_bnn *m, float *snr, elbo_error *err);
/** Sets the moments a model with cfg.standardize uses: x_mean and x_sd
 *  [input_dim] (each sd > 0), and for a regressor y_mean, y_sd (> 0). Before
 *  training; they are saved with the model. ELBO_ERR_ARG without
 *  cfg.standardize or for a non-positive or non-finite value. */
ELBO_API elbo_status elbo_bnn_set_standardization(elbo_bnn *m, const double *x_mean, const double *x_sd,
                                                  double y_mean, double y_sd, elbo_error *err);
/** Per-column mean and sd (a constant column gets sd 1) and the targets'
 *  moments (0 and 1 without targets) of ds, as elbo_bnn_set_standardization
 *  takes them. */
ELBO_API void elbo_bnn_moments_of(const elbo_dataset *ds, double *x_mean, double *x_sd, double *y_mean,
                                  double *y_sd);
/** Loads a checkpoint written by elbo_model_save (a folder, with the
 *  optimizer state for resuming, or a model.safetensors): tensors
 *  fcK.weight_mu, fcK.weight_rho, fcK.bias_mu, fcK.bias_rho in PyTorch's
 *  [out, in] layout, metadata model "bnn", format elbo-bnn-1. */
ELBO_API elbo_bnn *elbo_bnn_load(const char *path, int max_batch, elbo_error *err);
/** Training, checkpoints, threads and the run record go through the
 *  handle every model shares. */
ELBO_API elbo_model *elbo_bnn_model(elbo_bnn *m);

/* ------------------------------------------------------------------ images */

/** Writes n images of size rows x cols (values in [0,1], clamped) as a grid
 *  with ncol columns and a 2-pixel border, 8-bit greyscale PNG. */
ELBO_API elbo_status elbo_write_png_grid(const char *path, const float *images, int n,
                                         int rows, int cols, int ncol, elbo_error *err);
/** The same for images of 1 (grey) or 3 (RGB, channels last) channels. */
ELBO_API elbo_status elbo_write_png_grid_c(const char *path, const float *images, int n, int rows,
                                           int cols, int channels, int ncol, elbo_error *err);

/* ------------------------------------------------------------- evaluation */

/** Area under the ROC curve of scores [n] for positives is_pos [n] (non-zero)
 *  against the rest: the probability that a random positive scores higher
 *  than a random negative, ties counting one half. NaN if a class is empty or
 *  a score is NaN. */
ELBO_API double elbo_auroc(const double *scores, const uint8_t *is_pos, long n);
/** Area under the precision-recall curve as average precision (tied scores
 *  form one threshold). NaN if there are no positives. */
ELBO_API double elbo_auprc(const double *scores, const uint8_t *is_pos, long n);

/** Linear probe: multinomial logistic regression on standardised features,
 *  fitted on (xtr [ntr, d], ytr) by full-batch Adam with a small L2 penalty
 *  (deterministic), scored on (xte [nte, d], yte): *accuracy in [0, 1]. */
ELBO_API elbo_status elbo_linear_probe(const float *xtr, const int32_t *ytr, int ntr, const float *xte,
                                       const int32_t *yte, int nte, int d, int n_classes,
                                       double *accuracy, elbo_error *err);

/** 2-D projection of x [n, d] for plotting: the first two coordinates when
 *  d <= 2, else the top two principal components. xy is [n, 2]. */
ELBO_API elbo_status elbo_pca2(const float *x, int n, int d, float *xy, elbo_error *err);

/* ------------------------------------------------------------------ plots */

/** A scatter plot of n points xy [n, 2], coloured by labels (may be NULL),
 *  with axes, tick labels, a legend and an optional title, as RGB PNG. */
ELBO_API elbo_status elbo_write_scatter_png(const char *path, const float *xy, const int32_t *labels,
                                            int n, const char *title, elbo_error *err);

typedef struct {
    const char *name; /* legend text */
    const double *y;  /* [n_points]; NaN values are gaps */
} elbo_series;

typedef struct {
    const char *title;
    int n_series;
    const elbo_series *series;
} elbo_panel;

/** Line charts side by side (up to 8 panels) over a shared x [n_points]. */
ELBO_API elbo_status elbo_write_plot_png(const char *path, const double *x, int n_points,
                                         const char *xlabel, int n_panels, const elbo_panel *panels,
                                         elbo_error *err);

/** Reads metrics.jsonl (as written by elbo train) and plots train/test
 *  -ELBO, reconstruction and KL per epoch. */
ELBO_API elbo_status elbo_plot_metrics(const char *metrics_path, const char *png_path,
                                       elbo_error *err);
/** One panel per field keys[n_keys] of metrics.jsonl files paths[n_files]
 *  (1 to 8 each), one line per file named names[f], over the epochs (whole
 *  numbers from 1; a file's missing epochs are gaps): to compare runs or to
 *  plot any model's fields (val_error, train_class, ...). ELBO_ERR_FORMAT
 *  when no line of any file has a number for some key. */
ELBO_API elbo_status elbo_plot_metrics_compare(const char *const *paths, const char *const *names, int n_files,
                                               const char *const *keys, int n_keys, const char *png_path,
                                               elbo_error *err);

/* -------------------------------------------------------------- npy files */

typedef enum { ELBO_NPY_F32 = 0, ELBO_NPY_F64 = 1, ELBO_NPY_U8 = 2, ELBO_NPY_I32 = 3 } elbo_npy_dtype;

/** Writes a NumPy .npy file (format 1.0, C order, little-endian) that
 *  numpy.load reads: ndim dimensions of the given shape, data in that dtype.
 *  Written to a temporary file and renamed. */
ELBO_API elbo_status elbo_write_npy(const char *path, const void *data, elbo_npy_dtype dtype,
                                    int ndim, const int64_t *shape, elbo_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ELBO_H */
