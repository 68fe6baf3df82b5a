/* test_m2.c — the M2 semi-supervised model (Kingma et al. 2014):
 *  - finite differences in double for the ops of nn/semisup.h (softmax
 *    entropy, the softmax expectation, the linear layer on [a, onehot(y)]
 *    with and without shared rows);
 *  - the whole M2 loss against finite differences for every tensor, on
 *    labelled, unlabelled and mixed batches, 1 and 2 hidden layers, both
 *    likelihoods, and the chunks cover every parameter once;
 *  - the engine's mixed batches: every batch holds labelled_batch labelled
 *    rows, every unlabelled row comes once an epoch, the labelled ones
 *    cycle; the per-term row counts;
 *  - training on 200 labels of MNIST learns, is deterministic, and resumes
 *    mid-epoch bit for bit through the shared checkpoints;
 *  - gaussian_inputs: a step reads draws of the Gaussian rows, evaluation
 *    their means;
 *  - binarize_inputs: a step reads binary draws of the pixels, fresh every
 *    step, evaluation the grey levels, and the checkpoint keeps it;
 *  - bad data and bad options are refused with messages. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "fd.h"
#include "models/m2_internal.h"
#include "nn/ops.h"
#include "nn/semisup.h"
#include "train/trainer.h"
#include "util/rng.h"

static elbo_rng rng;

/* ------------------------------------------------------------------ ops */

enum { B = 4, C = 5, I = 3, O = 6, R = 9 };
static float lg[B * C], pr[B * C], a_in[B * I], W[O * (I + C)], bias[O], out_[R * O], wout[R * O], tmp[B * O];
static double v[B * C];
static int32_t src[R] = {0, 0, 1, 2, 2, 2, 3, 1, 0}, ycls[R] = {4, 1, 0, 2, 3, 4, 0, 1, 2};

static double L_entropy(void *c)
{
    (void)c;
    softmax_forward(pr, lg, B, C);
    return entropy_forward(pr, B, C, NULL);
}

static float vf[B * C]; /* v as floats, for finite differences in v */

static double L_expect(void *c)
{
    (void)c;
    for (int i = 0; i < B * C; i++) v[i] = vf[i];
    softmax_forward(pr, lg, B, C);
    return softmax_expect_forward(pr, v, B, C);
}

static const int32_t *cat_src; /* NULL: the identity (R rows of a) */
static int cat_rows;

static double L_cat(void *c)
{
    (void)c;
    linear_cat_forward(out_, a_in, cat_src, ycls, W, bias, cat_rows, cat_src ? B : cat_rows, I, C, O, tmp);
    return fd_dot(out_, wout, (long)cat_rows * O);
}


/* The encoder's case: R copies sharing B rows of a through src. */
static void check_cat_shared(void)
{
    cat_src = src;
    cat_rows = R;
    fd_fill_normal(&rng, a_in, B * I, 1);
    fd_fill_normal(&rng, W, O * (I + C), 0.5);
    fd_fill_normal(&rng, bias, O, 0.5);
    fd_fill_normal(&rng, wout, R * O, 1);
    float da[B * I] = {0}, dW[O * (I + C)] = {0}, db[O] = {0}, dsum[B * O];
    linear_cat_backward_data(da, dsum, wout, src, W, R, B, I, C, O);
    linear_cat_weight_rows(dW, dsum, a_in, wout, ycls, R, B, I, C, O, 0, 2); /* in two pieces of rows */
    linear_cat_weight_rows(dW + 2 * (I + C), dsum, a_in, wout, ycls, R, B, I, C, O, 2, O);
    bias_backward(db, wout, R, O, 0, O);
    fd_check_h("linear_cat(shared rows).a", a_in, da, B * I, L_cat, NULL, 1e-2, SMOOTH);
    fd_check_h("linear_cat(shared rows).W", W, dW, O * (I + C), L_cat, NULL, 1e-2, SMOOTH);
    fd_check_h("linear_cat(shared rows).b", bias, db, O, L_cat, NULL, 1e-2, SMOOTH);
}

static float a_big[R * I]; /* R rows of a for the identity case */

static double L_cat_id(void *c)
{
    (void)c;
    linear_cat_forward(out_, a_big, NULL, ycls, W, bias, R, R, I, C, O, NULL);
    return fd_dot(out_, wout, (long)R * O);
}

static void check_cat_identity(void)
{
    fd_fill_normal(&rng, a_big, R * I, 1);
    fd_fill_normal(&rng, W, O * (I + C), 0.5);
    fd_fill_normal(&rng, bias, O, 0.5);
    fd_fill_normal(&rng, wout, R * O, 1);
    float da[R * I] = {0}, dW[O * (I + C)] = {0};
    linear_cat_backward_data(da, NULL, wout, NULL, W, R, R, I, C, O);
    linear_cat_weight_rows(dW, wout, a_big, wout, ycls, R, R, I, C, O, 0, O);
    fd_check_h("linear_cat.a", a_big, da, R * I, L_cat_id, NULL, 1e-2, SMOOTH);
    fd_check_h("linear_cat.W", W, dW, O * (I + C), L_cat_id, NULL, 1e-2, SMOOTH);
    /* the concatenation it never builds: [a, onehot(y)] @ W^T + b */
    linear_cat_forward(out_, a_big, NULL, ycls, W, bias, R, R, I, C, O, NULL);
    double worst = 0;
    for (int r = 0; r < R; r++)
        for (int o = 0; o < O; o++) {
            double s = bias[o] + W[o * (I + C) + I + ycls[r]];
            for (int k = 0; k < I; k++) s += (double)W[o * (I + C) + k] * a_big[r * I + k];
            worst = fmax(worst, fabs(s - out_[r * O + o]));
        }
    CHECK(worst < 1e-5, "linear_cat equals the product with the built concatenation (worst %.2g)", worst);
}

static void check_ops(void)
{
    fd_fill_normal(&rng, lg, B * C, 2);
    float g[B * C] = {0};
    softmax_forward(pr, lg, B, C);
    entropy_backward(g, pr, B, C, 1.0f);
    fd_check_h("entropy", lg, g, B * C, L_entropy, NULL, 1e-2, SMOOTH);
    double each[B], h = entropy_forward(pr, B, C, each);
    CHECK(fabs(h - (each[0] + each[1] + each[2] + each[3])) < 1e-12, "entropy: the rows add up");
    float uni[C] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, one[C] = {0, 0, 1, 0, 0};
    CHECK(fabs(entropy_forward(uni, 1, C, NULL) - log(5.0)) < 1e-6 && entropy_forward(one, 1, C, NULL) == 0.0,
          "entropy of the uniform is log C, of a point mass 0");

    fd_fill_normal(&rng, lg, B * C, 2);
    fd_fill_normal(&rng, vf, B * C, 3);
    float gl[B * C] = {0}, gv[B * C] = {0};
    L_expect(NULL);
    softmax_expect_backward(gl, gv, pr, v, B, C, 1.0f);
    fd_check_h("softmax_expect.logits", lg, gl, B * C, L_expect, NULL, 1e-2, SMOOTH);
    fd_check_h("softmax_expect.v", vf, gv, B * C, L_expect, NULL, 1e-2, SMOOTH);

    float big[3] = {1000.0f, -1000.0f, 0.0f}, p3[3];
    softmax_forward(p3, big, 1, 3);
    CHECK(p3[0] == 1.0f && p3[1] == 0.0f && isfinite(entropy_forward(p3, 1, 3, NULL)),
          "softmax and entropy stable for large logits");
    float tie[4] = {0.1f, 0.4f, 0.4f, 0.1f}, last[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    CHECK(row_argmax(tie, 4) == 1 && row_argmax(last, 4) == 3 && row_argmax(last, 1) == 0,
          "row_argmax: the first of ties, the last column, one class");
    check_cat_shared();
    check_cat_identity();
}

/* ------------------------------------------------------------ the model */

enum { D = 6, K = 3, Z = 2, N_ROWS = 5 };

static elbo_m2 *small_m2(int n_hidden, elbo_m2_likelihood lik, elbo_activation act, int threads, int max_batch)
{
    elbo_m2_config c;
    elbo_m2_config_default(&c);
    c.input_dim = D;
    c.n_classes = K;
    c.latent_dim = Z;
    c.n_hidden = n_hidden;
    c.hidden[0] = 5;
    c.hidden[1] = 4;
    c.activation = act;
    c.likelihood = lik;
    c.alpha = 0.7;
    c.max_batch = max_batch;
    c.threads = threads;
    elbo_error err;
    elbo_m2 *m = elbo_m2_create(&c, 3, &err);
    CHECK(m != NULL, "create: %s", m ? "" : err.msg);
    return m;
}

typedef struct {
    elbo_m2 *m;
    const elbo_dataset *ds;
    const float *eps;
} m2_ctx;

/* One forward pass over the context's rows with its fixed noise: the loss. */
static double L_m2(void *p)
{
    m2_ctx *c = p;
    model *b = m2_base(c->m);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    model_step s = {&tc, 1.0, &rng, 0, 1};
    model_batch bt = {c->ds, NULL, NULL, 0, c->ds->n, 0, 1, 0, 1};
    m2_set_step_noise(c->m, c->eps);
    b->ops->step_begin(b, &s, &bt);
    b->ops->forward(b, &s, 0, &bt, 0, bt.n, 0);
    double sums[8];
    b->ops->terms_of(b, 0, sums);
    return sums[0];
}

/* Labels: mode 0 all labelled, 1 none, 2 mixed. */
static void check_model_grad(int n_hidden, elbo_m2_likelihood lik, elbo_activation act, int mode)
{
    elbo_m2 *m = small_m2(n_hidden, lik, act, 1, 8);
    if (!m) return;
    float x[N_ROWS * D], eps[N_ROWS * K * Z];
    int32_t y[N_ROWS] = {0, 2, 1, 1, 0};
    for (int i = 0; i < N_ROWS * D; i++)
        x[i] = lik == ELBO_M2_BERNOULLI ? (float)elbo_rng_uniform(&rng) : (float)elbo_rng_normal(&rng);
    fd_fill_normal(&rng, eps, N_ROWS * K * Z, 1);
    elbo_dataset ds = {0};
    elbo_error err;
    CHECK(elbo_dataset_from_float(N_ROWS, D, x, y, &ds, &err) == ELBO_OK, "dataset: %s", err.msg);
    ds.labelled = calloc(N_ROWS, 1);
    for (int i = 0; i < N_ROWS; i++) ds.labelled[i] = mode == 0 || (mode == 2 && i % 2 == 0);
    model *mb = m2_base(m);
    for (size_t i = 0; i < mb->n_params; i++) mb->params[i] += (float)(0.3 * elbo_rng_normal(&rng));
    m2_ctx c = {m, &ds, eps};
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    model_step s = {&tc, 1.0, &rng, 0, 1};
    model_batch bt = {&ds, NULL, NULL, 0, N_ROWS, 0, 1, 0, 1};
    m2_set_step_noise(m, eps);
    mb->ops->step_begin(mb, &s, &bt);
    mb->ops->forward(mb, &s, 0, &bt, 0, N_ROWS, 1);
    float *g = calloc(mb->n_params, sizeof(float));
    for (int k = 0; k < mb->n_chunks; k++) m2_chunk_grad(m, 1, k, g + mb->chunks[k].off);
    char name[96];
    snprintf(name, sizeof name, "m2(L=%d,%s,%s,%s)", n_hidden, lik ? "gaussian" : "bernoulli",
             act == ELBO_ACT_RELU ? "relu" : act == ELBO_ACT_TANH ? "tanh" : "softplus",
             mode == 0 ? "labelled" : mode == 1 ? "unlabelled" : "mixed");
    for (int k = 0; k < mb->n_tensors; k++) {
        const model_tensor *t = &mb->tensors[k];
        char what[160];
        snprintf(what, sizeof what, "%s.%s", name, t->name);
        fd_check_h(what, mb->params + t->off, g + t->off, (long)t->n, L_m2, &c,
                   1e-3, act == ELBO_ACT_RELU ? DETECT_KINKS : SMOOTH);
    }
    unsigned char *seen = calloc(mb->n_params, 1);
    int ok = 1;
    for (int k = 0; k < mb->n_chunks; k++)
        for (size_t i = 0; i < mb->chunks[k].n; i++) ok &= !seen[mb->chunks[k].off + i]++;
    for (size_t i = 0; i < mb->n_params; i++) ok &= seen[i] == 1;
    CHECK(ok, "%s: chunks cover every parameter once", name);
    /* the terms: counts and the loss's parts */
    double sums[8], counts[8];
    mb->ops->terms_of(mb, 0, sums);
    mb->ops->counts_of(mb, 0, counts);
    int nl = mode == 0 ? N_ROWS : mode == 1 ? 0 : 3;
    CHECK(counts[0] == N_ROWS && counts[1] == nl && counts[2] == N_ROWS - nl && counts[4] == nl,
          "%s: row counts %g %g %g", name, counts[0], counts[1], counts[2]);
    CHECK(fabs(sums[0] - (sums[1] + 0.7 * sums[3] + sums[2])) < 1e-9 * fabs(sums[0]),
          "%s: loss = labelled + alpha class + unlabelled", name);
    free(seen);
    free(g);
    elbo_dataset_free(&ds);
    elbo_m2_free(m);
}

/* The unlabelled bound is the q-weighted labelled bounds minus H(q), and
 * never below the best class's bound minus log C... checked exactly: U(x)
 * computed by the model equals sum_k q_k L(x,k) - H from the labelled
 * passes with the same noise. */
static void check_bound_identity(void)
{
    elbo_m2 *m = small_m2(1, ELBO_M2_BERNOULLI, ELBO_ACT_SOFTPLUS, 1, 8);
    if (!m) return;
    float x[D], eps[K * Z];
    for (int i = 0; i < D; i++) x[i] = (float)elbo_rng_uniform(&rng);
    fd_fill_normal(&rng, eps, K * Z, 1);
    elbo_dataset ds = {0};
    int32_t y = 0;
    elbo_error err;
    elbo_dataset_from_float(1, D, x, &y, &ds, &err);
    ds.labelled = calloc(1, 1);
    m2_ctx c = {m, &ds, eps};
    L_m2(&c);
    double u = m2_worker_of(m, 0)->sums[2], lk[K];
    float q[K];
    memcpy(q, m2_worker_of(m, 0)->probs, sizeof q);
    ds.labelled[0] = 1;
    for (int k = 0; k < K; k++) {
        ds.labels[0] = k;
        L_m2(&c);
        lk[k] = m2_worker_of(m, 0)->sums[1];
    }
    double want = 0;
    for (int k = 0; k < K; k++) want += q[k] * (lk[k] + log(q[k]));
    CHECK(fabs(u - want) < 1e-5 * fabs(want), "U(x) = sum_k q_k L(x,k) - H(q): %.9g vs %.9g", u, want);
    elbo_dataset_free(&ds);
    elbo_m2_free(m);
}

/* ------------------------------------------------- mixed batches (engine) */

static void check_mixed_batches(void)
{
    enum { N = 230, NL = 30, BATCH = 20, LB = 5 };
    elbo_m2 *m = small_m2(1, ELBO_M2_BERNOULLI, ELBO_ACT_SOFTPLUS, 1, BATCH);
    if (!m) return;
    float *x = malloc(sizeof(float) * N * D);
    int32_t yy[N];
    for (int i = 0; i < N * D; i++) x[i] = (float)elbo_rng_uniform(&rng);
    for (int i = 0; i < N; i++) yy[i] = i % K;
    elbo_dataset ds = {0};
    elbo_error err;
    elbo_dataset_from_float(N, D, x, yy, &ds, &err);
    free(x);
    int kept = elbo_dataset_draw_labels(&ds, NL / K, 42);
    CHECK(kept == NL, "draw_labels keeps %d per class: %d", NL / K, kept);
    int per[K] = {0};
    for (int i = 0; i < N; i++) per[yy[i]] += ds.labelled[i];
    CHECK(per[0] == NL / K && per[1] == NL / K && per[2] == NL / K, "the draw is balanced");
    elbo_dataset d2 = {0};
    elbo_dataset_from_float(N, D, ds.f32, yy, &d2, &err);
    elbo_dataset_draw_labels(&d2, NL / K, 42);
    CHECK(!memcmp(d2.labelled, ds.labelled, N), "the same seed draws the same labels");
    elbo_dataset_draw_labels(&d2, NL / K, 43);
    CHECK(memcmp(d2.labelled, ds.labelled, N) != 0, "another seed draws others");
    elbo_dataset_free(&d2);

    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = BATCH;
    tc.labelled_batch = LB;
    double terms[8];
    elbo_model *h = elbo_m2_model(m);
    CHECK(elbo_model_train_epoch(h, &tc, &ds, NULL, NULL, terms, &err) == ELBO_OK, "epoch: %s", err.msg);
    trainer *t = m2_trainer(m);
    int nu = N - NL, nb = (nu + BATCH - LB - 1) / (BATCH - LB), len = nu + nb * LB;
    CHECK(t->epoch_len == len, "the mixed epoch is %d positions: %d", len, t->epoch_len);
    int *count = calloc(N, sizeof(int)), bad_batch = 0;
    for (int b = 0; b < nb; b++) {
        int lab = 0, n = len - b * BATCH < BATCH ? len - b * BATCH : BATCH;
        for (int k = 0; k < n; k++) {
            int i = t->perm[b * BATCH + k];
            count[i]++;
            lab += ds.labelled[i];
        }
        bad_batch += lab != LB;
    }
    int once = 1, lab_uses = 0;
    for (int i = 0; i < N; i++) {
        if (!ds.labelled[i]) once &= count[i] == 1;
        else lab_uses += count[i];
    }
    CHECK(bad_batch == 0, "every batch holds %d labelled rows (%d do not)", LB, bad_batch);
    CHECK(once && lab_uses == nb * LB, "each unlabelled row once; the labelled rows used %d times in all",
          lab_uses);
    int lo = N, hi = 0;
    for (int i = 0; i < N; i++)
        if (ds.labelled[i]) lo = count[i] < lo ? count[i] : lo, hi = count[i] > hi ? count[i] : hi;
    CHECK(hi - lo <= 1, "the labelled rows cycle evenly (%d..%d uses)", lo, hi);
    CHECK(isfinite(terms[1]) && isfinite(terms[2]) && terms[4] >= 0 && terms[4] <= 1,
          "epoch means: labelled %.3f, unlabelled %.3f, error %.3f", terms[1], terms[2], terms[4]);
    tc.labelled_batch = BATCH;
    CHECK(elbo_model_train_epoch(h, &tc, &ds, NULL, NULL, terms, &err) == ELBO_ERR_ARG &&
              strstr(err.msg, "fewer than the batch"), "labelled_batch >= batch refused: %s", err.msg);
    free(count);
    elbo_dataset_free(&ds);
    elbo_m2_free(m);
}

/* --------------------------------------------------- training on MNIST */

static int same_params(elbo_m2 *a, elbo_m2 *b)
{
    model *x = m2_base(a), *y = m2_base(b);
    return x->n_params == y->n_params && !memcmp(x->params, y->params, sizeof(float) * x->n_params);
}

static elbo_m2 *mnist_m2(int threads)
{
    elbo_m2_config c;
    elbo_m2_config_default(&c);
    c.hidden[0] = 64;
    c.latent_dim = 10;
    c.threads = threads;
    c.alpha = 5.0;
    elbo_error err;
    elbo_m2 *m = elbo_m2_create(&c, 5, &err);
    CHECK(m != NULL, "create: %s", m ? "" : err.msg);
    return m;
}

static int stop_at = 0;
static int stop_after(void *u, int step, int n, double loss)
{
    (void)u;
    (void)n;
    (void)loss;
    return step == stop_at;
}

static void check_training(const char *dir)
{
    elbo_dataset tr = {0}, te = {0};
    elbo_error err;
    if (elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TRAIN, &tr, &err) ||
        elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TEST, &te, &err)) {
        CHECK(0, "load: %s", err.msg);
        return;
    }
    elbo_dataset_truncate(&tr, 3000);
    elbo_dataset_truncate(&te, 1000);
    CHECK(elbo_dataset_draw_labels(&tr, 20, 1) == 200, "200 labels");
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = 100;
    tc.labelled_batch = 20;
    elbo_m2 *a = mnist_m2(2), *b = mnist_m2(2);
    double t1[8], t2[8];
    elbo_m2_metrics r0, r1;
    CHECK(elbo_m2_evaluate(a, &te, &r0, &err) == ELBO_OK, "%s", err.msg);
    for (int e = 0; e < 3; e++)
        CHECK(elbo_model_train_epoch(elbo_m2_model(a), &tc, &tr, NULL, NULL, t1, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_m2_evaluate(a, &te, &r1, &err) == ELBO_OK, "%s", err.msg);
    CHECK(r1.accuracy > 0.6 && r1.accuracy > r0.accuracy + 0.3 && r1.n == 1000,
          "test accuracy from 200 labels: %.3f before, %.3f after 3 epochs", r0.accuracy, r1.accuracy);
    long diag = 0, all = 0;
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) all += r1.confusion[i * 10 + j], diag += i == j ? r1.confusion[i * 10 + j] : 0;
    CHECK(all == 1000 && diag == (long)lround(r1.accuracy * 1000), "the confusion matrix adds up");
    elbo_m2_metrics_free(&r0);
    elbo_m2_metrics_free(&r1);
    CHECK(t1[1] > 50 && t1[1] < 400 && t1[2] > t1[1] - 50 && t1[3] >= 0, "train bounds: labelled %.2f, unlabelled %.2f nats, class %.3f",
          t1[1], t1[2], t1[3]);
    /* deterministic and resumable mid-epoch */
    for (int e = 0; e < 2; e++) elbo_model_train_epoch(elbo_m2_model(b), &tc, &tr, NULL, NULL, t2, &err);
    stop_at = 7;
    elbo_model_train_epoch(elbo_m2_model(b), &tc, &tr, stop_after, NULL, t2, &err);
    CHECK(elbo_model_epoch_examples(elbo_m2_model(b)) == 700, "stopped mid-epoch at 700 positions");
    CHECK(elbo_model_save(elbo_m2_model(b), dir, &err) == ELBO_OK, "save: %s", err.msg);
    elbo_m2 *c = elbo_m2_load(dir, 0, &err);
    CHECK(c != NULL, "load: %s", c ? "" : err.msg);
    if (c) {
        CHECK(elbo_model_train_epoch(elbo_m2_model(c), &tc, &tr, NULL, NULL, t2, &err) == ELBO_OK, "%s", err.msg);
        CHECK(same_params(a, c) && t2[0] == t1[0] && t2[1] == t1[1] && t2[4] == t1[4],
              "resumed mid-epoch run matches the straight one bit for bit (loss %.9g vs %.9g)", t2[0], t1[0]);
        const char *const *names;
        CHECK(!strcmp(elbo_model_kind(elbo_m2_model(c)), "m2") && elbo_model_terms(elbo_m2_model(c), &names) == 5 &&
                  !strcmp(names[4], "error"), "kind and terms of the handle");
        elbo_m2_free(c);
    }
    /* a wrong checkpoint kind and bad data */
    CHECK(elbo_bnn_load(dir, 0, &err) == NULL && strstr(err.msg, "'m2'"), "a BNN loader refuses it: %s", err.msg);
    elbo_dataset bad = {0};
    float xb[2 * 784];
    for (int i = 0; i < 2 * 784; i++) xb[i] = 0.5f;
    xb[3] = 2.0f;
    elbo_dataset_from_float(2, 784, xb, NULL, &bad, &err);
    CHECK(elbo_m2_check_dataset(a, &bad, &err) == ELBO_ERR_ARG && strstr(err.msg, "row 0, column 3 holds 2"),
          "values outside [0,1] refused: %s", err.msg);
    elbo_dataset_free(&bad);
    tc.samples = 2;
    CHECK(elbo_model_train_epoch(elbo_m2_model(a), &tc, &tr, NULL, NULL, t1, &err) == ELBO_ERR_ARG,
          "--samples refused: %s", err.msg);
    elbo_m2_free(a);
    elbo_m2_free(b);
    elbo_dataset_free(&tr);
    elbo_dataset_free(&te);
}

/* One step's loss (fixed noise eps) of the rows of ds; with xeps, the
 * Gaussian rows' input noise replaced by it after step_begin drew its own. */
static double step_loss(elbo_m2 *m, const elbo_dataset *ds, const float *eps, const float *xeps)
{
    model *b = m2_base(m);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    model_step s = {&tc, 1.0, &rng, 0, 1};
    model_batch bt = {ds, NULL, NULL, 0, ds->n, 0, 1, 0, 1};
    m2_set_step_noise(m, eps);
    b->ops->step_begin(b, &s, &bt);
    if (xeps) memcpy(m->xeps_step, xeps, sizeof(float) * (size_t)ds->n * D);
    b->ops->forward(b, &s, 0, &bt, 0, bt.n, 0);
    double sums[8];
    b->ops->terms_of(b, 0, sums);
    return sums[0];
}

/* Whether two steps on ds draw different input noise; the second's is
 * left in first [N_ROWS * D]. */
static int fresh_input_noise(elbo_m2 *m, const elbo_dataset *ds, const float *eps, float *first)
{
    step_loss(m, ds, eps, NULL);
    memcpy(first, m->xeps_step, sizeof(float) * N_ROWS * D);
    step_loss(m, ds, eps, NULL);
    int differ = memcmp(first, m->xeps_step, sizeof(float) * N_ROWS * D) != 0;
    memcpy(first, m->xeps_step, sizeof(float) * N_ROWS * D);
    return differ;
}

/* gaussian_inputs (M1+M2 on draws of q(z1|x)): rows of 2 D values are
 * (means, log-variances); a training step reads mean + sd * eps with the
 * step's own noise, evaluation reads the means; rows of D values are
 * read as they are; the Bernoulli likelihood is refused. */
static void check_gaussian_inputs(void)
{
    elbo_m2_config c;
    elbo_m2_config_default(&c);
    c.input_dim = D, c.n_classes = K, c.latent_dim = Z, c.hidden[0] = 5, c.max_batch = 8, c.threads = 1;
    c.gaussian_inputs = 1;
    elbo_error err;
    CHECK(elbo_m2_create(&c, 3, &err) == NULL && strstr(err.msg, "Gaussian likelihood"),
          "gaussian_inputs with the Bernoulli likelihood is refused: %s", err.msg);
    c.likelihood = ELBO_M2_GAUSSIAN;
    elbo_m2 *m = elbo_m2_create(&c, 3, &err);
    CHECK(m != NULL, "create with gaussian_inputs: %s", m ? "" : err.msg);
    if (!m) return;
    float g[N_ROWS * 2 * D], mu[N_ROWS * D], xs[N_ROWS * D], e[N_ROWS * D], eps[N_ROWS * K * Z];
    int32_t y[N_ROWS] = {0, 2, 1, 1, 0};
    fd_fill_normal(&rng, e, N_ROWS * D, 1);
    fd_fill_normal(&rng, eps, N_ROWS * K * Z, 1);
    for (int i = 0; i < N_ROWS; i++)
        for (int j = 0; j < D; j++) {
            mu[i * D + j] = g[i * 2 * D + j] = (float)elbo_rng_normal(&rng);
            g[i * 2 * D + D + j] = (float)(-2.0 * elbo_rng_uniform(&rng)); /* log-variance */
            xs[i * D + j] = (float)(mu[i * D + j] + exp(0.5 * g[i * 2 * D + D + j]) * e[i * D + j]);
        }
    elbo_dataset dg = {0}, dm = {0}, dx = {0};
    CHECK(elbo_dataset_from_float(N_ROWS, 2 * D, g, y, &dg, &err) == ELBO_OK &&
              elbo_dataset_from_float(N_ROWS, D, mu, y, &dm, &err) == ELBO_OK &&
              elbo_dataset_from_float(N_ROWS, D, xs, y, &dx, &err) == ELBO_OK,
          "datasets: %s", err.msg);
    CHECK(elbo_m2_check_dataset(m, &dg, &err) == ELBO_OK && elbo_m2_check_dataset(m, &dm, &err) == ELBO_OK,
          "rows of 2 D and of D values are accepted: %s", err.msg);
    elbo_dataset bad = {0};
    CHECK(elbo_dataset_from_float(N_ROWS, D + 1, g, y, &bad, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_m2_check_dataset(m, &bad, &err) != ELBO_OK, "rows of D + 1 values are refused: %s", err.msg);
    elbo_dataset_free(&bad);
    /* a training step on the Gaussian rows is the step on their draws */
    double lgs = step_loss(m, &dg, eps, e), lx = step_loss(m, &dx, eps, NULL), lm = step_loss(m, &dm, eps, NULL);
    CHECK(fabs(lgs - lx) < 1e-5 * fabs(lx) && fabs(lgs - lm) > 1e-3 * fabs(lm),
          "the step reads mean + sd * eps: %.9g vs %.9g on the draws (%.9g on the means)", lgs, lx, lm);
    /* the step draws fresh input noise for Gaussian rows, none for plain ones */
    float first[N_ROWS * D];
    CHECK(fresh_input_noise(m, &dg, eps, first), "each step draws its own input noise");
    step_loss(m, &dm, eps, NULL);
    CHECK(!memcmp(first, m->xeps_step, sizeof first), "rows of D values draw no input noise");
    /* evaluation reads the means */
    elbo_m2_metrics rg, rm;
    CHECK(elbo_m2_evaluate(m, &dg, &rg, &err) == ELBO_OK && elbo_m2_evaluate(m, &dm, &rm, &err) == ELBO_OK,
          "evaluate: %s", err.msg);
    CHECK(rg.nll == rm.nll && rg.accuracy == rm.accuracy, "evaluation of Gaussian rows reads the means: %.9g vs %.9g",
          rg.nll, rm.nll);
    double tg[8], tm[8];
    model *b = m2_base(m);
    CHECK(b->ops->eval(b, &dg, 7, tg, &err) == ELBO_OK && b->ops->eval(b, &dm, 7, tm, &err) == ELBO_OK,
          "eval: %s", err.msg);
    CHECK(!memcmp(tg, tm, sizeof(double) * (size_t)b->ops->n_terms), "the engine's evaluation reads the means too");
    elbo_m2_metrics_free(&rg);
    elbo_m2_metrics_free(&rm);
    elbo_dataset_free(&dg);
    elbo_dataset_free(&dm);
    elbo_dataset_free(&dx);
    elbo_m2_free(m);
}

/* Replaces the first `from` in file path by `to` (as long); 1 when done. */
static int patch_file(const char *path, const char *from, const char *to)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    size_t k = strlen(from);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(buf + i, from, k)) {
            memcpy(buf + i, to, k);
            f = fopen(path, "wb");
            int ok = f && fwrite(buf, 1, n, f) == n;
            if (f) fclose(f);
            return ok;
        }
    return 0;
}

/* binarize_inputs (dynamic binarization of pixels): a training step reads
 * 1 where the step's uniform is below the value, else 0, with fresh
 * uniforms every step; evaluation reads the values; the checkpoint keeps
 * the option; the Gaussian likelihood is refused. */
static void check_binarize_inputs(const char *dir)
{
    elbo_m2_config c;
    elbo_m2_config_default(&c);
    c.input_dim = D, c.n_classes = K, c.latent_dim = Z, c.hidden[0] = 5, c.max_batch = 8, c.threads = 1;
    c.binarize_inputs = 1;
    c.likelihood = ELBO_M2_GAUSSIAN;
    elbo_error err;
    CHECK(elbo_m2_create(&c, 3, &err) == NULL && strstr(err.msg, "Bernoulli likelihood"),
          "binarize_inputs with the Gaussian likelihood is refused: %s", err.msg);
    c.likelihood = ELBO_M2_BERNOULLI;
    elbo_m2 *m = elbo_m2_create(&c, 3, &err);
    c.binarize_inputs = 0;
    elbo_m2 *plain = elbo_m2_create(&c, 3, &err);
    CHECK(m && plain && same_params(m, plain), "create with and without binarize_inputs, the same weights");
    if (!m || !plain) return;
    float x[N_ROWS * D], u[N_ROWS * D], xb[N_ROWS * D], eps[N_ROWS * K * Z];
    int32_t y[N_ROWS] = {0, 2, 1, 1, 0};
    fd_fill_normal(&rng, eps, N_ROWS * K * Z, 1);
    for (int i = 0; i < N_ROWS * D; i++) {
        x[i] = (float)elbo_rng_uniform(&rng);
        u[i] = (float)elbo_rng_uniform(&rng);
        xb[i] = u[i] < x[i] ? 1.0f : 0.0f;
    }
    elbo_dataset dx = {0}, db = {0};
    CHECK(elbo_dataset_from_float(N_ROWS, D, x, y, &dx, &err) == ELBO_OK &&
              elbo_dataset_from_float(N_ROWS, D, xb, y, &db, &err) == ELBO_OK,
          "datasets: %s", err.msg);
    double lm = step_loss(m, &dx, eps, u), lb = step_loss(plain, &db, eps, NULL), lx = step_loss(plain, &dx, eps, NULL);
    CHECK(lm == lb && fabs(lm - lx) > 1e-3 * fabs(lx),
          "the step reads the binary draws: %.9g vs %.9g on them (%.9g on the grey levels)", lm, lb, lx);
    /* fresh uniforms in [0, 1) every step, and they binarize: over many
     * steps a pixel of value v is 1 in about a fraction v of them */
    float first[N_ROWS * D];
    CHECK(fresh_input_noise(m, &dx, eps, first), "each step draws its own uniforms");
    int ok = 1, ones = 0, steps = 2000;
    for (int t = 0; t < steps; t++) {
        step_loss(m, &dx, eps, NULL);
        for (int i = 0; i < N_ROWS * D; i++) ok &= m->xeps_step[i] >= 0.0f && m->xeps_step[i] < 1.0f;
        m2_load_rows(m, &m->w[0], &dx, NULL, NULL, 0, N_ROWS, 0, m->xeps_step);
        for (int j = 0; j < D; j++) ok &= m->w[0].x[j] == 0.0f || m->w[0].x[j] == 1.0f;
        ones += m->w[0].x[0] == 1.0f;
    }
    double f = (double)ones / steps, se = sqrt(x[0] * (1.0 - x[0]) / steps);
    CHECK(ok && fabs(f - x[0]) < 4 * se + 1e-3, "draws are 0 or 1, and 1 in %.4f of %d steps for a value %.4f",
          f, steps, x[0]);
    /* evaluation reads the grey levels */
    elbo_m2_metrics rm, rp;
    CHECK(elbo_m2_evaluate(m, &dx, &rm, &err) == ELBO_OK && elbo_m2_evaluate(plain, &dx, &rp, &err) == ELBO_OK,
          "evaluate: %s", err.msg);
    CHECK(rm.nll == rp.nll, "evaluation reads the values, not draws: %.9g vs %.9g", rm.nll, rp.nll);
    elbo_m2_metrics_free(&rm);
    elbo_m2_metrics_free(&rp);
    /* the checkpoint keeps it */
    CHECK(elbo_model_save(elbo_m2_model(m), dir, &err) == ELBO_OK, "save: %s", err.msg);
    elbo_m2 *back = elbo_m2_load(dir, 0, &err);
    CHECK(back && elbo_m2_get_config(back)->binarize_inputs == 1, "binarize_inputs survives the checkpoint: %s",
          back ? "" : err.msg);
    elbo_m2_free(back);
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(patch_file(path, "\"binarize_inputs\":\"1\"", "\"binarize_inputs\":\"7\""), "patch the checkpoint");
    back = elbo_m2_load(dir, 0, &err);
    CHECK(!back && strstr(err.msg, "binarize_inputs '7' is not 0 or 1"), "a bad binarize_inputs is refused: %s",
          back ? "loaded" : err.msg);
    elbo_m2_free(back);
    elbo_dataset_free(&dx);
    elbo_dataset_free(&db);
    elbo_m2_free(m);
    elbo_m2_free(plain);
}

int main(void)
{
    elbo_rng_seed(&rng, 2014);
    check_ops();
    elbo_activation acts[3] = {ELBO_ACT_SOFTPLUS, ELBO_ACT_TANH, ELBO_ACT_RELU};
    for (int mode = 0; mode < 3; mode++) check_model_grad(1, ELBO_M2_BERNOULLI, ELBO_ACT_SOFTPLUS, mode);
    for (int a = 1; a < 3; a++) check_model_grad(2, ELBO_M2_BERNOULLI, acts[a], 2);
    check_model_grad(1, ELBO_M2_GAUSSIAN, ELBO_ACT_SOFTPLUS, 2);
    check_model_grad(2, ELBO_M2_GAUSSIAN, ELBO_ACT_TANH, 1);
    check_bound_identity();
    check_mixed_batches();
    check_gaussian_inputs();
    char dir[] = "/tmp/elbo_test_m2_XXXXXX";
    if (mkdtemp(dir)) {
        check_binarize_inputs(dir);
        check_training(dir);
    }
    return check_summary("test_m2");
}
