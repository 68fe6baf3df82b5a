/* elbo_m2.h — semi-supervised learning with the M2 model of Kingma,
 * Rezende, Mohamed and Welling, "Semi-Supervised Learning with Deep
 * Generative Models" (NeurIPS 2014): a classifier q(y|x), an encoder
 * q(z|x,y) and a decoder p(x|y,z) with p(y) uniform and p(z) = N(0, I).
 *
 * Per labelled row (x, y):   L(x,y) + alpha * (-log q(y|x)),
 *                            L(x,y) = -E_q[log p(x|y,z)] + KL(q(z|x,y) || p(z)) + log C;
 * per unlabelled row x:      U(x) = sum_y q(y|x) L(x,y) - H(q(.|x)),
 * every class enumerated (C decoder rows per unlabelled row). Trained by
 * the shared engine (elbo_model_run, elbo.h): batches mix labelled and
 * unlabelled rows (elbo_train_config.labelled_batch), checkpoints,
 * resume and metrics.jsonl are the engine's.
 *
 *   elbo_m2_config c;
 *   elbo_m2_config_default(&c);               784 inputs, 10 classes, 500 hidden, z 50
 *   elbo_m2 *m = elbo_m2_create(&c, seed, &err);
 *   elbo_dataset_draw_labels(&train, 10, label_seed);   100 labels
 *   tc.labelled_batch = 10;
 *   elbo_model_run(elbo_m2_model(m), &tc, &rc, &train, &test, NULL, NULL, &err);
 *   elbo_m2_predict(m, x, n, probs, &err);
 */
#ifndef ELBO_M2_H
#define ELBO_M2_H

#include "elbo.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The likelihood p(x|y,z): Bernoulli on values in [0, 1] (images), or a
 *  Gaussian with a learned variance per input (M1+M2: M1's latent means). */
typedef enum { ELBO_M2_BERNOULLI = 0, ELBO_M2_GAUSSIAN = 1 } elbo_m2_likelihood;

typedef struct {
    int input_dim;  /* D: 784 for MNIST */
    int n_classes;  /* C: 10 */
    int latent_dim; /* z: 50 (Kingma et al.) */
    int n_hidden;   /* hidden layers of each of the three networks: 1 */
    int hidden[ELBO_MAX_HIDDEN]; /* their widths (the decoder's reversed): 500 */
    elbo_activation activation;  /* softplus (Kingma et al.) */
    elbo_m2_likelihood likelihood; /* Bernoulli */
    double alpha;   /* weight of -log q(y|x) per labelled row */
    int max_batch;  /* rows per step (labelled and unlabelled): 100 */
    int threads;    /* 0: all cores */
    int gaussian_inputs; /* 1: a data set's rows may hold 2 input_dim values, the means
                            then the log-variances of a diagonal Gaussian over the
                            input (M1+M2: M1's q(z1|x)); training draws each step's
                            input from it, evaluation and prediction read its means;
                            rows of input_dim values are read as they are (0) */
    int binarize_inputs; /* 1: training reads each input x in [0, 1] as a fresh draw
                            from Bernoulli(x) every step (dynamic binarization, with
                            the Bernoulli likelihood); evaluation and prediction read
                            the values themselves, the draws' means (0: off) */
} elbo_m2_config;

typedef struct elbo_m2 elbo_m2; /* opaque */

ELBO_API void elbo_m2_config_default(elbo_m2_config *c);
ELBO_API elbo_status elbo_m2_config_check(const elbo_m2_config *c, elbo_error *err);
/** Weights and biases as PyTorch's nn.Linear initialises them, from seed. */
ELBO_API elbo_m2 *elbo_m2_create(const elbo_m2_config *c, uint64_t seed, elbo_error *err);
ELBO_API void elbo_m2_free(elbo_m2 *m);
ELBO_API const elbo_m2_config *elbo_m2_get_config(const elbo_m2 *m);
/** A checkpoint (model.safetensors of a run folder, or best.safetensors). */
ELBO_API elbo_m2 *elbo_m2_load(const char *path, int max_batch, elbo_error *err);
/** The engine's handle: training, checkpoints, threads, the run record. */
ELBO_API elbo_model *elbo_m2_model(elbo_m2 *m);

/** ELBO_ERR_ARG unless ds has rows of input_dim values and labels in
 *  [0, n_classes) wherever a row is labelled. */
ELBO_API elbo_status elbo_m2_check_dataset(const elbo_m2 *m, const elbo_dataset *ds, elbo_error *err);
/** q(y|x) of n rows x [n, input_dim] into probs [n, n_classes]. */
ELBO_API elbo_status elbo_m2_predict(elbo_m2 *m, const float *x, int n, float *probs, elbo_error *err);

/** Classification on the labelled rows of ds, by q(y|x)'s most probable class. */
typedef struct {
    double accuracy;  /* fraction right */
    double nll;       /* -log q(y|x), nats per row */
    long n;           /* rows scored */
    long *confusion;  /* [C * C] row: true class, column: predicted; owned by
                         the caller (elbo_m2_metrics_free) */
    int n_classes;
} elbo_m2_metrics;
ELBO_API elbo_status elbo_m2_evaluate(elbo_m2 *m, const elbo_dataset *ds, elbo_m2_metrics *out,
                                      elbo_error *err);
ELBO_API void elbo_m2_metrics_free(elbo_m2_metrics *r);

/** p(x|y,z)'s mean (Bernoulli probabilities or Gaussian means) of n rows
 *  z [n, latent_dim] with classes y [n] into out [n, input_dim]. */
ELBO_API void elbo_m2_decode(elbo_m2 *m, const float *z, const int32_t *y, int n, float *out);
/** n draws from p(x|y) (z ~ N(0, I) from seed, then the decoder's mean)
 *  with classes y [n] into out [n, input_dim]; The draws go through the model's own buffers,
 *  max_batch rows at a time. */
ELBO_API void elbo_m2_sample(elbo_m2 *m, const int32_t *y, int n, uint64_t seed, float *out);
/** The mean of q(z|x,y) of n rows x with classes y into z [n, latent_dim]:
 *  a row's "style" apart from its class. */
ELBO_API void elbo_m2_encode(elbo_m2 *m, const float *x, const int32_t *y, int n, float *z);

#ifdef __cplusplus
}
#endif

#endif
