/* test_iw.c — importance-weighted log-likelihoods: log-mean-exp is stable at
 * extreme values; on a trained model the IW estimate equals the ELBO in
 * expectation at K = 1, is at least the ELBO, and grows with K; it does not
 * depend on the thread count; binarization is deterministic and has the
 * right mean. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fd.h"
#include "data/binarize.h"
#include "models/vae_internal.h"
#include "util/lme.h"

static double lme_of(const double *v, int n)
{
    elbo_lme a;
    elbo_lme_init(&a);
    for (int i = 0; i < n; i++) elbo_lme_add(&a, v[i]);
    return elbo_lme_result(&a);
}

static void test_lme(void)
{
    double a[] = {1000.0, 1000.0};
    CHECK(lme_of(a, 2) == 1000.0, "lme(1000,1000) = %g", lme_of(a, 2));
    double b[] = {-1000.0, -1000.0, -1000.0};
    CHECK(fabs(lme_of(b, 3) + 1000.0) < 1e-12, "lme(-1000 x3) = %g", lme_of(b, 3));
    double c[] = {0.0, -1e10};
    CHECK(fabs(lme_of(c, 2) - log(0.5)) < 1e-15, "lme(0,-1e10) = %g", lme_of(c, 2));
    double d[] = {-1e10, 0.0}; /* the maximum arriving last */
    CHECK(fabs(lme_of(d, 2) - log(0.5)) < 1e-15, "order independent");
    double e[] = {-INFINITY, 3.0};
    CHECK(fabs(lme_of(e, 2) - (3.0 - log(2.0))) < 1e-15, "-inf contributes zero");
    double f[] = {-INFINITY, -INFINITY};
    CHECK(lme_of(f, 2) == -INFINITY, "all -inf");
    double g[] = {1e308, 1e308};
    CHECK(lme_of(g, 2) == 1e308, "no overflow at 1e308");
    double h[] = {-5000.0, -5001.0, -4999.0};
    double ref = -4999.0 + log((exp(-1.0) + exp(-2.0) + 1.0) / 3.0);
    CHECK(fabs(lme_of(h, 3) - ref) < 1e-9, "lme of -5000s: %.12g vs %.12g", lme_of(h, 3), ref);
}

static void test_binarize(void)
{
    uint8_t src[784];
    for (int k = 0; k < 784; k++) src[k] = (uint8_t)(k % 256);
    float a[784], b[784], c[784];
    elbo_row_to_float(a, src, 784, ELBO_BINARIZE_DYNAMIC, 42);
    elbo_row_to_float(b, src, 784, ELBO_BINARIZE_DYNAMIC, 42);
    elbo_row_to_float(c, src, 784, ELBO_BINARIZE_DYNAMIC, 43);
    CHECK(memcmp(a, b, sizeof a) == 0, "same key, same draw");
    CHECK(memcmp(a, c, sizeof a) != 0, "other key, other draw");
    int ok = 1;
    for (int k = 0; k < 784; k++) ok &= (a[k] == 0.0f || a[k] == 1.0f) && (src[k] != 0 || a[k] == 0.0f) &&
                                       (src[k] != 255 || a[k] == 1.0f);
    CHECK(ok, "draws are 0/1, exact at 0 and 255");
    /* mean of many draws of pixel value 64 is 64/255 */
    uint8_t p[784];
    memset(p, 64, sizeof p);
    long ones = 0;
    for (uint64_t key = 0; key < 200; key++) {
        elbo_row_to_float(a, p, 784, ELBO_BINARIZE_DYNAMIC, elbo_binarize_key(7, key));
        for (int k = 0; k < 784; k++) ones += a[k] == 1.0f;
    }
    double rate = ones / (200.0 * 784.0), want = 64.0 / 255.0;
    CHECK(fabs(rate - want) < 0.005, "Bernoulli rate %g, want %g", rate, want);
    elbo_row_to_float(a, src, 784, ELBO_BINARIZE_NONE, 0);
    CHECK(a[255] == 1.0f && fabsf(a[51] - 0.2f) < 1e-7f, "grey levels");
}

static int count_calls(void *user, int done, int total, double loss)
{
    (void)loss;
    int *c = user;
    if (done >= 1 && done <= total) (*c)++;
    return 0;
}

static void test_iw(void)
{
    int calls = 0;
    elbo_error err;
    elbo_dataset tr, te;
    CHECK(elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TRAIN, &tr, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TEST, &te, &err) == ELBO_OK, "%s", err.msg);
    elbo_dataset_truncate(&tr, 3000);
    elbo_dataset_truncate(&te, 300);
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.hidden[0] = 64;
    c.latent_dim = 8;
    c.threads = 2;
    c.binarize = ELBO_BINARIZE_DYNAMIC;
    elbo_vae *m = elbo_vae_create(&c, 2, &err);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    for (int e = 0; e < 3; e++) elbo_vae_train_epoch(m, &tc, &tr, NULL, NULL, NULL, &err);
    /* the ELBO averaged over several eps draws, against IW with K = 1, 10, 100 */
    double elbo = 0;
    for (uint64_t s = 1; s <= 8; s++) {
        elbo_losses l;
        elbo_vae_eval(m, &te, s, &l, &err);
        elbo += l.loss / 8;
    }
    double k1 = 0, k10, k100, k100b;
    for (uint64_t s = 1; s <= 8; s++) {
        double v;
        elbo_vae_eval_iw(m, &te, 1, s, NULL, NULL, &v, NULL, &err);
        k1 += v / 8;
    }
    CHECK(elbo_vae_eval_iw(m, &te, 10, 5, NULL, NULL, &k10, NULL, &err) == ELBO_OK, "%s", err.msg);
    double *each = malloc(sizeof(double) * te.n);
    CHECK(elbo_vae_eval_iw(m, &te, 100, 5, count_calls, &calls, &k100, each, &err) == ELBO_OK, "%s", err.msg);
    CHECK(calls == 3, "IW progress called %d times for 3 blocks", calls); /* 300 examples / 128 */
    printf("test_iw: -ELBO %.3f, -log p IW K=1 %.3f, K=10 %.3f, K=100 %.3f\n", elbo, k1, k10, k100);
    CHECK(fabs(k1 - elbo) < 0.5, "K = 1 is the ELBO in expectation: %g vs %g", k1, elbo);
    CHECK(k10 < elbo - 0.5, "IW K=10 (%g) must be tighter than the ELBO (%g)", k10, elbo);
    CHECK(k100 < k10, "IW must tighten from K=10 (%g) to K=100 (%g)", k10, k100);
    double mean = 0;
    for (int i = 0; i < te.n; i++) mean += each[i] / te.n;
    CHECK(fabs(mean - k100) < 1e-9, "per-example estimates average to the mean");
    /* independent of the thread count */
    elbo_vae_set_threads(m, 1, &err);
    CHECK(elbo_vae_eval_iw(m, &te, 100, 5, NULL, NULL, &k100b, NULL, &err) == ELBO_OK && k100b == k100,
          "IW differs with 1 thread: %.17g vs %.17g", k100b, k100);
    CHECK(elbo_vae_eval_iw(m, &te, 0, 5, NULL, NULL, &k100b, NULL, &err) == ELBO_ERR_ARG, "K = 0 refused");
    free(each);
    elbo_vae_free(m);
    elbo_dataset_free(&tr);
    elbo_dataset_free(&te);
}

/* The IWAE objective's gradient against central finite differences, with
 * the noise held fixed: -sum_i log (1/K) sum_k w_ik for a tiny model. */
typedef struct {
    elbo_vae *m;
    const float *x, *eps;
    int n, K;
} iwae_ctx;

static double J_iwae(iwae_ctx *c)
{
    vae_worker *w = &(*vae_worker_of(c->m, 0));
    int D = (*elbo_vae_get_config(c->m)).input_dim, Z = (*elbo_vae_get_config(c->m)).latent_dim;
    memcpy(w->x, c->x, sizeof(float) * c->n * D);
    memcpy(w->eps, c->eps, sizeof(float) * c->n * c->K * Z);
    vae_forward_iwae(c->m, w, c->n, c->K);
    return w->iwae;
}

static double L_iwae(void *c) { return J_iwae(c); }

static void test_iwae_gradient(int K, elbo_activation act)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.input_dim = 9;
    c.hidden[0] = 5;
    c.latent_dim = 3;
    c.max_batch = 2 * K;
    c.threads = 1;
    c.activation = act;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, 11, &err);
    elbo_rng r;
    elbo_rng_seed(&r, 4);
    float x[18], *eps = malloc(sizeof(float) * 2 * K * 3);
    for (int i = 0; i < 18; i++) x[i] = (float)elbo_rng_uniform(&r);
    elbo_rng_normal_fill(&r, eps, 2L * K * 3);
    iwae_ctx ctx = {m, x, eps, 2, K};
    J_iwae(&ctx);
    vae_backward_iwae(m, &(*vae_worker_of(m, 0)), 2, K);
    float *g = malloc(sizeof(float) * vae_base(m)->n_params);
    vae_param_grads(m, 1, g);
    char what[48];
    snprintf(what, sizeof what, "IWAE K=%d", K);
    fd_check_h(what, vae_base(m)->params, g, (long)vae_base(m)->n_params, L_iwae, &ctx, 1e-3, DETECT_KINKS);
    free(g);
    free(eps);
    elbo_vae_free(m);
}

int main(void)
{
    test_iwae_gradient(1, ELBO_ACT_RELU);
    test_iwae_gradient(5, ELBO_ACT_TANH);
    test_lme();
    test_binarize();
    test_iw();
    return check_summary("test_iw");
}
