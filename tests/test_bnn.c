/* test_bnn.c — the Bayesian classifier (Bayes by Backprop, local
 * reparameterisation), the engine's second model:
 *  - finite differences in double for every op of nn/bayes.h;
 *  - the model's gradient for every tensor (mu and rho, with the KL term)
 *    against finite differences of its loss, for 0, 1 and 2 hidden layers;
 *  - the chunks cover every parameter once;
 *  - the analytic KL agrees with a Monte Carlo estimate within its error;
 *  - a near-deterministic posterior predicts as the plain network;
 *  - training through the shared engine learns MNIST digits, is
 *    deterministic, and resumes bit for bit through the shared checkpoints;
 *  - bad data and the wrong kind of checkpoint are refused with messages. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fd.h"
#include "models/bnn_internal.h"
#include "nn/bayes.h"
#include "util/rng.h"

static elbo_rng rng;

/* ------------------------------------------------------------------ ops */

enum { N = 24, B = 4, C = 5 };
static float a1[N], a2[N], a3[N], out[N], w_n[N];
static int32_t ys[B] = {0, 3, 4, 1};

static double L_square(void *c)
{
    (void)c;
    square_forward(out, a1, N);
    return fd_dot(out, w_n, N);
}

static double L_lrt(void *c)
{
    (void)c;
    gauss_lrt_forward(out, a1, a2, a3, N);
    return fd_dot(out, w_n, N);
}

static double L_sp2(void *c)
{
    (void)c;
    softplus_sq_forward(out, a1, N);
    return fd_dot(out, w_n, N);
}

static double L_klp(void *c)
{
    (void)c;
    return kl_gauss_prior_forward(a1, a2, N, 0.09);
}

static double L_mix(void *c)
{
    float d1[N], d2[N];
    (void)c;
    return kl_mixture_mc(d1, d2, NULL, NULL, a1, a2, a3, N, 0.3, 1.0, 0.05);
}

/* The mixture's Monte Carlo KL: its gradient against finite differences at
 * fixed noise, and its mean against the closed form where the mixture is
 * one Gaussian (pi = 1). */
static void check_mixture(void)
{
    float gm[N], gr[N];
    fd_fill_normal(&rng, a1, N, 0.3);
    fd_fill_normal(&rng, a2, N, 1);
    fd_fill_normal(&rng, a3, N, 1);
    float v[N], dv[N], v_ref[N], dv_ref[N], ones[N];
    kl_mixture_mc(gm, gr, v, dv, a1, a2, a3, N, 0.3, 1.0, 0.05);
    for (int i = 0; i < N; i++) ones[i] = 1.0f, dv_ref[i] = 0.0f;
    softplus_sq_forward(v_ref, a2, N);
    softplus_sq_backward(dv_ref, ones, a2, N);
    double worst = 0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fmax(fabs(v[i] - v_ref[i]), fabs(dv[i] - dv_ref[i])));
    CHECK(worst < 1e-5, "the mixture pass's sigma^2 and its derivative differ by %g", worst);
    fd_check_h("kl_mixture.mu", a1, gm, N, L_mix, NULL, 1e-3, SMOOTH);
    fd_check_h("kl_mixture.rho", a2, gr, N, L_mix, NULL, 1e-3, SMOOTH);
    double exact = kl_gauss_prior_forward(a1, a2, N, 0.25), s = 0, s2 = 0;
    enum { DRAWS = 20000 };
    for (int d = 0; d < DRAWS; d++) {
        fd_fill_normal(&rng, a3, N, 1);
        double kv = kl_mixture_mc(gm, gr, NULL, NULL, a1, a2, a3, N, 1.0, 0.5, 0.01);
        s += kv;
        s2 += kv * kv;
    }
    double mean = s / DRAWS, se = sqrt((s2 / DRAWS - mean * mean) / DRAWS);
    CHECK(fabs(mean - exact) < 4 * se, "Monte Carlo KL %.4f +- %.4f, closed form %.4f", mean, se, exact);
}

/* The mixture pass against double precision where the components are far
 * apart (Blundell's 0.5 N(0, 1) + 0.5 N(0, e^-12), rho = -6, weights of
 * 0.002 to 1): the narrow component's share underflows there, and its floor
 * (e^-40, against subnormal arithmetic) must not show in the KL or its
 * gradient. */
static void check_mixture_separated(void)
{
    float gm[N], gr[N];
    const double pi = 0.5, s1 = 1.0, s2 = exp(-6.0), c = 0.91893853320467274178; /* log(2 pi) / 2 */
    for (int i = 0; i < N; i++) {
        a1[i] = (float)((i % 2 ? 1 : -1) * 0.002 * pow(500.0, (double)i / (N - 1))); /* |mu| 0.002 .. 1 */
        a2[i] = (float)(-6.0 + 0.5 * elbo_rng_normal(&rng));
        a3[i] = (float)elbo_rng_normal(&rng);
    }
    double kl = kl_mixture_mc(gm, gr, NULL, NULL, a1, a2, a3, N, pi, s1, s2), ref = 0, worst = 0;
    for (int i = 0; i < N; i++) {
        double r = a2[i], sd = log1p(exp(r)), w = a1[i] + sd * a3[i];
        double la = log(pi) - log(s1) - w * w / (2 * s1 * s1), lb = log(1 - pi) - log(s2) - w * w / (2 * s2 * s2);
        double mx = fmax(la, lb), logp = mx + log(exp(la - mx) + exp(lb - mx)) - c;
        double ra = exp(la - mx) / (exp(la - mx) + exp(lb - mx));
        double dlogp = -w * (ra / (s1 * s1) + (1 - ra) / (s2 * s2));
        ref += -log(sd) - 0.5 * a3[i] * a3[i] - c - logp;
        double dmu = -dlogp, drho = (-1 / sd - a3[i] * dlogp) / (1 + exp(-r));
        worst = fmax(worst, fmax(fabs(gm[i] - dmu) / fmax(fabs(dmu), 1.0), fabs(gr[i] - drho) / fmax(fabs(drho), 1.0)));
    }
    CHECK(fabs(kl - ref) < 1e-5 * fabs(ref) && worst < 1e-4,
          "separated mixture: KL %.6f vs %.6f in double, gradients' worst relative error %.2g", kl, ref, worst);
}

/* normal_fill_fast: moments and the normal CDF at a few points, for 2M
 * draws (standard errors: mean 7e-4, variance 1e-3, P(z < t) 3.5e-4). */
static void check_normal_fast(void)
{
    enum { M = 2000000 };
    float *z = malloc(sizeof(float) * M);
    if (!z) return;
    elbo_rng r;
    elbo_rng_seed(&r, 42);
    normal_fill_fast(&r, z, 7); /* an odd count first: no overrun */
    normal_fill_fast(&r, z, M);
    double s1 = 0, s2 = 0, s4 = 0, below[5] = {0}, t[5] = {-2.0, -1.0, 0.0, 0.5, 3.0};
    for (long i = 0; i < M; i++) {
        double v = z[i];
        s1 += v;
        s2 += v * v;
        s4 += v * v * v * v;
        for (int k = 0; k < 5; k++) below[k] += v < t[k];
    }
    double mean = s1 / M, var = s2 / M - mean * mean;
    CHECK(fabs(mean) < 4 * 7.1e-4 && fabs(var - 1) < 4 * 1e-3 && fabs(s4 / M - 3) < 0.05,
          "normal_fill_fast: mean %g, variance %g, 4th moment %g", mean, var, s4 / M);
    for (int k = 0; k < 5; k++) {
        double want = 0.5 * erfc(-t[k] / sqrt(2.0));
        CHECK(fabs(below[k] / M - want) < 4 * sqrt(want * (1 - want) / M) + 1e-6,
              "normal_fill_fast: P(z < %g) = %g, expected %g", t[k], below[k] / M, want);
    }
    free(z);
}

static double L_xent(void *c)
{
    (void)c;
    return softmax_xent_forward(out, a1, ys, B, C);
}

/* gauss_prior_stats over 1,300 weights (3 blocks of its 512) against double
 * precision, relative to each output's size: rho in [-30, 0] (its fast path
 * for blocks without a positive rho) with one positive rho in the middle
 * block (the general path), mu ~ N(0, 0.1). */
static void check_prior_stats_wide(void)
{
    enum { NW = 1300 };
    static float mu[NW], rho[NW], v[NW], dv[NW], dk[NW];
    elbo_rng r;
    elbo_rng_seed(&r, 7);
    for (int i = 0; i < NW; i++) {
        rho[i] = -30.0f * (float)elbo_rng_uniform(&r);
        mu[i] = 0.1f * (float)elbo_rng_normal(&r);
    }
    rho[700] = 0.75f;
    const double pv = 0.01;
    double kl = gauss_prior_stats(v, dv, dk, mu, rho, NW, pv), kl_ref = 0.0, wv = 0.0, wd = 0.0, wk = 0.0;
    for (int i = 0; i < NW; i++) {
        double x = rho[i], sd = x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)), g = 1.0 / (1.0 + exp(-x));
        kl_ref += 0.5 * log(pv) - log(sd) + (sd * sd + (double)mu[i] * mu[i]) / (2.0 * pv) - 0.5;
        wv = fmax(wv, fabs(v[i] - sd * sd) / (sd * sd));
        wd = fmax(wd, fabs(dv[i] - 2.0 * sd * g) / (2.0 * sd * g));
        wk = fmax(wk, fabs(dk[i] - (sd / pv - 1.0 / sd) * g) / ((sd / pv + 1.0 / sd) * g));
    }
    CHECK(wv < 2e-6 && wd < 2e-6 && wk < 2e-6, "prior stats relative errors: var %.3g, dvar %.3g, dkl %.3g", wv,
          wd, wk);
    CHECK(fabs(kl - kl_ref) < 1e-6 * fabs(kl_ref), "prior stats KL %.9g, in double %.9g", kl, kl_ref);
}

static void check_ops(void)
{
    float g1[N], g2[N];
    fd_fill_normal(&rng, a1, N, 1);
    fd_fill_normal(&rng, w_n, N, 1);
    memset(g1, 0, sizeof g1);
    square_backward(g1, w_n, a1, N);
    fd_check_h("square", a1, g1, N, L_square, NULL, 1e-2, SMOOTH);

    fd_fill_normal(&rng, a1, N, 1);
    for (int i = 0; i < N; i++) a2[i] = 0.5f + (float)elbo_rng_uniform(&rng); /* var > 0 */
    fd_fill_normal(&rng, a3, N, 1);
    memset(g1, 0, sizeof g1);
    memset(g2, 0, sizeof g2);
    gauss_lrt_backward(g1, g2, w_n, a2, a3, N);
    fd_check_h("gauss_lrt.mean", a1, g1, N, L_lrt, NULL, 1e-2, SMOOTH);
    fd_check_h("gauss_lrt.var", a2, g2, N, L_lrt, NULL, 1e-3, SMOOTH);

    fd_fill_normal(&rng, a1, N, 2);
    memset(g1, 0, sizeof g1);
    softplus_sq_backward(g1, w_n, a1, N);
    fd_check_h("softplus_sq", a1, g1, N, L_sp2, NULL, 1e-2, SMOOTH);

    fd_fill_normal(&rng, a1, N, 0.3);
    fd_fill_normal(&rng, a2, N, 1);
    memset(g1, 0, sizeof g1);
    memset(g2, 0, sizeof g2);
    kl_gauss_prior_backward(g1, g2, a1, a2, N, 0.09, 1.0f);
    fd_check_h("kl_prior.mu", a1, g1, N, L_klp, NULL, 1e-2, SMOOTH);
    fd_check_h("kl_prior.rho", a2, g2, N, L_klp, NULL, 1e-2, SMOOTH);
    /* zero exactly when q is the prior: softplus(rho) = 0.3 */
    float mu0 = 0.0f, rho0 = (float)log(expm1(0.3));
    CHECK(fabs(kl_gauss_prior_forward(&mu0, &rho0, 1, 0.09)) < 1e-6, "KL(p || p) = %g",
          kl_gauss_prior_forward(&mu0, &rho0, 1, 0.09));
    float mu1 = 0.2f, rho1 = (float)log(expm1(0.1));
    double ref = log(0.3 / 0.1) + (0.01 + 0.04) / (2 * 0.09) - 0.5;
    CHECK(fabs(kl_gauss_prior_forward(&mu1, &rho1, 1, 0.09) - ref) < 1e-5, "KL closed form");

    /* the fused per-step pass equals the separate ops */
    float v[N], dv[N], dk[N], ones[N], dv_ref[N] = {0}, dk_ref[N] = {0}, v_ref[N];
    for (int i = 0; i < N; i++) ones[i] = 1.0f;
    double kl_fused = gauss_prior_stats(v, dv, dk, a1, a2, N, 0.09);
    softplus_sq_forward(v_ref, a2, N);
    softplus_sq_backward(dv_ref, ones, a2, N);
    kl_gauss_prior_backward(NULL, dk_ref, NULL, a2, N, 0.09, 1.0f);
    double worst = fabs(kl_fused - kl_gauss_prior_forward(a1, a2, N, 0.09));
    for (int i = 0; i < N; i++)
        worst = fmax(worst, fmax(fabs(v[i] - v_ref[i]), fmax(fabs(dv[i] - dv_ref[i]), fabs(dk[i] - dk_ref[i]))));
    CHECK(worst < 1e-5, "gauss_prior_stats differs from the separate ops by %g", worst);
    check_prior_stats_wide();

    fd_fill_normal(&rng, a1, B * C, 2);
    memset(g1, 0, sizeof g1);
    softmax_xent_forward(out, a1, ys, B, C);
    softmax_xent_backward(g1, out, ys, B, C, 1.0f);
    fd_check_h("softmax_xent", a1, g1, B * C, L_xent, NULL, 1e-2, SMOOTH);
    float big[3] = {1000.0f, -1000.0f, 0.0f};
    int32_t y0 = 1;
    double nll = softmax_xent_forward(out, big, &y0, 1, 3);
    CHECK(isfinite(nll) && fabs(nll - 2000.0) < 1e-3, "stable for large logits: %g", nll);
}

/* ------------------------------------------------------------ the model */

/* The variants of the network the gradient checks cover. */
typedef struct {
    elbo_bnn_weights weights;
    elbo_bnn_task task;
    double dropout;
    int standardize;
    int sparse_x; /* inputs mostly zero: the first layer's sparse path */
} variant;

static const variant PLAIN = {ELBO_WEIGHTS_GAUSSIAN, ELBO_BNN_CLASSIFIER, 0.0, 0, 0};

static elbo_bnn *variant_bnn(int n_hidden, int threads, double rho, uint64_t seed, variant v)
{
    elbo_bnn_config c;
    elbo_bnn_config_default(&c);
    c.weights = v.weights;
    c.task = v.task;
    c.dropout = v.dropout;
    c.standardize = v.standardize;
    c.input_dim = 6;
    c.n_classes = 3;
    c.n_hidden = n_hidden;
    c.hidden[0] = 5;
    c.hidden[1] = 4;
    c.max_batch = 8;
    c.threads = threads;
    c.rho_init = rho;
    c.prior_sigma = 0.5;
    elbo_error err;
    elbo_bnn *m = elbo_bnn_create(&c, seed, &err);
    CHECK(m != NULL, "%s", err.msg);
    return m;
}

static elbo_bnn *small_bnn(int n_hidden, int threads, double rho, uint64_t seed)
{
    return variant_bnn(n_hidden, threads, rho, seed, PLAIN);
}

typedef struct {
    elbo_bnn *m;
    const float *x, *eps; /* eps: per layer [B, out], concatenated */
    const int32_t *y;
    int rows;
    double kl_scale;
    const float *t, *mask; /* a regressor's targets [rows]; dropout masks laid out as eps */
} model_ctx;

/* Fills worker 0 with the context's rows and noise. */
static void load_ctx(model_ctx *c)
{
    elbo_bnn *m = c->m;
    bnn_worker *w = bnn_worker_of(m, 0);
    memcpy(w->a[0], c->x, sizeof(float) * (size_t)c->rows * m->cfg.input_dim);
    memcpy(w->y, c->y, sizeof(int32_t) * (size_t)c->rows);
    const float *e = c->eps, *k = c->mask;
    for (int l = 0; l < m->n_layers; l++) {
        size_t n = (size_t)c->rows * m->layers[l].out;
        memcpy(w->eps[l], e, sizeof(float) * n);
        if (k) memcpy(w->mask[l], k, sizeof(float) * n);
        e += n;
        k = k ? k + n : NULL;
    }
    if (c->t) memcpy(w->t, c->t, sizeof(float) * (size_t)c->rows);
    w->rows = c->rows;
}

static double L_model(void *p)
{
    model_ctx *c = p;
    bnn_update_sigma(c->m);
    load_ctx(c);
    return bnn_forward(c->m, bnn_worker_of(c->m, 0)) + c->kl_scale * bnn_kl(c->m);
}

/* The standardization buffers: no gradient, never moved by the optimizer. */
static int is_buffer(const model_tensor *t)
{
    return !strncmp(t->name, "input.", 6) || !strncmp(t->name, "target.", 7);
}

/* Finite differences on every trainable tensor of a variant, with fixed
 * noise (and masks), and the chunks cover each trainable value once. */
static void check_model_grad(int n_hidden, variant v)
{
    elbo_bnn *m = variant_bnn(n_hidden, 1, -1.5, 11, v);
    if (!m) return;
    enum { R = 5 };
    float x[R * 6], eps[R * 20], t[R], mask[R * 20];
    int32_t y[R] = {0, 2, 1, 1, 0};
    fd_fill_normal(&rng, x, R * 6, 1);
    for (int i = 0; v.sparse_x && i < R * 6; i++) x[i] = i % 3 ? 0.0f : x[i]; /* 2/3 zeros */
    fd_fill_normal(&rng, eps, R * 20, 1);
    fd_fill_normal(&rng, t, R, 1);
    for (int i = 0; i < R * 20; i++) mask[i] = elbo_rng_uniform(&rng) < v.dropout ? 0.0f : (float)(1 / (1 - v.dropout));
    model *mb = bnn_base(m);
    for (int k = 0; k < mb->n_tensors; k++) /* mu away from 0, rho spread */
        for (size_t i = 0; i < mb->tensors[k].n && !is_buffer(&mb->tensors[k]); i++)
            mb->params[mb->tensors[k].off + i] += (float)(0.3 * elbo_rng_normal(&rng));
    model_ctx c = {m, x, eps, y, R, v.weights == ELBO_WEIGHTS_POINT ? 0.0 : 0.37, t, v.dropout > 0 ? mask : NULL};
    L_model(&c);
    bnn_backward(m, bnn_worker_of(m, 0));
    m->kl_scale = c.kl_scale;
    float *g = calloc(mb->n_params, sizeof(float));
    for (int k = 0; k < mb->n_chunks; k++) bnn_chunk_grad(m, 1, k, g + mb->chunks[k].off);
    char name[64];
    snprintf(name, sizeof name, "bnn(L=%d,%s,%s,p=%g%s%s)", n_hidden, v.weights ? "point" : "gauss",
             v.task ? "regress" : "classify", v.dropout, v.standardize ? ",std" : "", v.sparse_x ? ",sparse" : "");
    unsigned char *want = calloc(mb->n_params, 1), *seen = calloc(mb->n_params, 1);
    for (int k = 0; k < mb->n_tensors; k++) {
        const model_tensor *tt = &mb->tensors[k];
        if (is_buffer(tt)) continue;
        memset(want + tt->off, 1, tt->n);
        char what[128];
        snprintf(what, sizeof what, "%s.%s", name, tt->name);
        fd_check_h(what, mb->params + tt->off, g + tt->off, (long)tt->n, L_model, &c, 1e-3, DETECT_KINKS);
    }
    int ok = 1;
    for (int k = 0; k < mb->n_chunks; k++)
        for (size_t i = 0; i < mb->chunks[k].n; i++) ok &= mb->chunks[k].off + i < mb->n_params && !seen[mb->chunks[k].off + i]++;
    for (size_t i = 0; i < mb->n_params; i++) ok &= seen[i] == want[i];
    CHECK(ok, "%s: chunks do not cover each of the trainable parameters once", name);
    free(want);
    free(seen);
    free(g);
    elbo_bnn_free(m);
}

/* The analytic KL against the mean of log q(w) - log p(w) over draws. */
static void check_kl_mc(void)
{
    elbo_bnn *m = small_bnn(1, 1, -1.0, 5);
    if (!m) return;
    model *mb = bnn_base(m);
    double pv = 0.25, kl = bnn_kl(m), s = 0, s2 = 0, kl_blocks = bnn_update_sigma(m);
    /* the per-step pass is float with fastmath.h's exp and logs (relative
     * error ~1e-7 per term); bnn_kl is double with libm */
    CHECK(fabs(kl_blocks - kl) < 1e-6 * kl, "KL by blocks %.9g, directly %.9g", kl_blocks, kl);
    enum { DRAWS = 4000 };
    for (int d = 0; d < DRAWS; d++) {
        double v = 0;
        for (int t = 0; t < mb->n_tensors; t += 2) { /* (mu, rho) pairs: weight, then bias */
            const float *mu = mb->params + mb->tensors[t].off, *rho = mb->params + mb->tensors[t + 1].off;
            for (size_t i = 0; i < mb->tensors[t].n; i++) {
                double sd = log1p(exp(rho[i])), e = elbo_rng_normal(&rng), w = mu[i] + sd * e;
                v += -log(sd) - 0.5 * e * e + 0.5 * log(pv) + 0.5 * w * w / pv;
            }
        }
        s += v;
        s2 += v * v;
    }
    double mean = s / DRAWS, se = sqrt((s2 / DRAWS - mean * mean) / DRAWS);
    CHECK(fabs(mean - kl) < 4 * se, "analytic KL %.4f, Monte Carlo %.4f +- %.4f", kl, mean, se);
    elbo_bnn_free(m);
}

/* With sigma ~ 2e-9, predictions do not depend on the draws, and they are
 * the plain network's (point weights = the posterior means). */
static void check_near_deterministic(void)
{
    elbo_bnn *m = small_bnn(2, 1, -20.0, 3);
    elbo_bnn *d = variant_bnn(2, 1, 0.0, 4, (variant){ELBO_WEIGHTS_POINT, ELBO_BNN_CLASSIFIER, 0.0, 0, 0});
    if (!m || !d) return;
    model *mb = bnn_base(m), *db = bnn_base(d);
    for (int k = 0; k < db->n_tensors; k++) { /* fcK.weight <- fcK.weight_mu */
        char name[80];
        snprintf(name, sizeof name, "%s_mu", db->tensors[k].name);
        int si = model_tensor_find(mb, name);
        const model_tensor *src = si >= 0 ? &mb->tensors[si] : NULL;
        CHECK(src && src->n == db->tensors[k].n, "no %s", name);
        if (src) memcpy(db->params + db->tensors[k].off, mb->params + src->off, sizeof(float) * src->n);
    }
    float x[7 * 6], p1[7 * 3], p10[7 * 3], pd[7 * 3];
    fd_fill_normal(&rng, x, 7 * 6, 1);
    elbo_error err;
    CHECK(elbo_bnn_predict(m, x, 7, 1, 1, p1, NULL, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_bnn_predict(m, x, 7, 10, 2, p10, NULL, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_bnn_predict(d, x, 7, 10, 2, pd, NULL, &err) == ELBO_OK, "%s", err.msg);
    double worst = 0, worst_d = 0, entropy1 = 0, entropy10 = 0, entropy_d = 0;
    for (int i = 0; i < 21; i++) {
        worst = fmax(worst, fabs(p1[i] - p10[i]));
        worst_d = fmax(worst_d, fabs(pd[i] - p10[i]));
        entropy1 -= p1[i] * log(p1[i]);
        entropy10 -= p10[i] * log(p10[i]);
        entropy_d -= pd[i] * log(pd[i]);
    }
    CHECK(worst < 1e-5 && fabs(entropy1 - entropy10) < 1e-4,
          "near-deterministic posterior: probabilities differ by %g, entropies %g vs %g", worst,
          entropy1, entropy10);
    CHECK(worst_d < 1e-5 && fabs(entropy_d - entropy10) < 1e-4,
          "near-deterministic posterior against the plain network: probabilities differ by %g, "
          "entropies %g vs %g", worst_d, entropy10, entropy_d);
    elbo_bnn_free(m);
    elbo_bnn_free(d);
}

/* Pruning removes exactly the fraction asked, the lowest |mu|/sigma first,
 * and leaves biases alone. */
static void check_prune(void)
{
    elbo_bnn *m = small_bnn(2, 1, -2.0, 13);
    if (!m) return;
    model *mb = bnn_base(m);
    for (size_t i = 0; i < mb->n_params; i++) mb->params[i] += (float)(0.5 * elbo_rng_normal(&rng));
    long n = elbo_bnn_weight_count(m), gone = -1;
    CHECK(n == 6 * 5 + 5 * 4 + 4 * 3, "weight count %ld", n);
    float *before = malloc(sizeof(float) * (size_t)n), *after = malloc(sizeof(float) * (size_t)n);
    float *bias = malloc(sizeof(float) * mb->n_params);
    memcpy(bias, mb->params, sizeof(float) * mb->n_params);
    elbo_error err;
    elbo_bnn_snr(m, before, &err);
    CHECK(elbo_bnn_prune(m, 0.5, &gone, &err) == ELBO_OK && gone == n / 2, "pruned %ld of %ld", gone, n);
    elbo_bnn_snr(m, after, &err);
    float max_gone = 0, min_kept = INFINITY;
    long zero = 0;
    for (long i = 0; i < n; i++) {
        if (after[i] == 0) {
            zero++;
            max_gone = fmaxf(max_gone, before[i]);
        } else {
            min_kept = fminf(min_kept, before[i]);
            CHECK(after[i] == before[i], "kept weight %ld changed", i);
        }
    }
    CHECK(zero == n / 2 && max_gone <= min_kept, "%ld zeroed; the largest removed SNR %g, smallest kept %g", zero,
          max_gone, min_kept);
    int same_bias = 1;
    for (int k = 0; k < mb->n_tensors; k++)
        if (strstr(mb->tensors[k].name, "bias"))
            same_bias &= !memcmp(bias + mb->tensors[k].off, mb->params + mb->tensors[k].off,
                                 sizeof(float) * mb->tensors[k].n);
    CHECK(same_bias, "pruning touched a bias");
    CHECK(elbo_bnn_prune(m, 1.0, NULL, &err) == ELBO_ERR_ARG, "a fraction of 1 refused");
    free(before);
    free(after);
    free(bias);
    elbo_bnn_free(m);
}

/* The KL's share of a batch: B/N (uniform) or Blundell's 2^(M-i)/(2^M-1). */
static void check_kl_weighting(void)
{
    elbo_bnn *m = small_bnn(1, 1, -2.0, 9);
    if (!m) return;
    float x[12 * 6];
    int32_t y[12] = {0};
    fd_fill_normal(&rng, x, 12 * 6, 1);
    elbo_dataset ds;
    elbo_error err;
    CHECK(elbo_dataset_from_float(12, 6, x, y, &ds, &err) == ELBO_OK, "%s", err.msg);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    elbo_rng r;
    elbo_rng_seed(&r, 1);
    model_step s = {&tc, 1.0, &r, 0, 1};
    double kl = bnn_update_sigma(m); /* the step's own KL: the shares must be exact */
    model_batch b = {&ds, NULL, NULL, 0, 4, 0, 1, 0, 3}; /* batch 1 of 3, 4 of 12 rows */
    bnn_ops.step_begin(bnn_base(m), &s, &b);
    CHECK(fabs(m->kl_step - kl / 3) < 1e-9 * kl, "uniform share %g, expected %g", m->kl_step, kl / 3);
    m->cfg.kl_weighting = ELBO_KL_BLUNDELL;
    double sum = 0.0;
    for (int i = 0; i < 3; i++) {
        b.index = i;
        bnn_ops.step_begin(bnn_base(m), &s, &b);
        double want = kl * pow(2.0, 3 - (i + 1)) / (pow(2.0, 3) - 1);
        CHECK(fabs(m->kl_step - want) < 1e-9 * kl, "Blundell share of batch %d: %g, expected %g", i + 1,
              m->kl_step, want);
        sum += m->kl_step;
    }
    CHECK(fabs(sum - kl) < 1e-9 * kl, "Blundell shares sum to the KL: %g vs %g", sum, kl);
    b.count = 2000; /* 2^2000 overflows a double: the weights must not */
    b.index = 0;
    bnn_ops.step_begin(bnn_base(m), &s, &b);
    CHECK(fabs(m->kl_step - kl / 2) < 1e-9 * kl, "Blundell share with 2000 batches %g", m->kl_step);
    elbo_dataset_free(&ds);
    elbo_bnn_free(m);
}

/* ------------------------------------------------- training, checkpoints */

static elbo_bnn *mnist_bnn(int threads)
{
    elbo_bnn_config c;
    elbo_bnn_config_default(&c);
    c.n_hidden = 1;
    c.hidden[0] = 64;
    c.threads = threads;
    c.samples = 4;
    elbo_error err;
    elbo_bnn *m = elbo_bnn_create(&c, 7, &err);
    CHECK(m != NULL, "%s", err.msg);
    return m;
}

static int same_params(elbo_bnn *a, elbo_bnn *b)
{
    return bnn_base(a)->n_params == bnn_base(b)->n_params &&
           memcmp(bnn_base(a)->params, bnn_base(b)->params, sizeof(float) * bnn_base(a)->n_params) == 0;
}

/* The mixture prior trains through the engine and resumes exactly. */
static void check_mixture_training(const elbo_dataset *tr, const elbo_dataset *te, const char *dir)
{
    elbo_bnn_config c;
    elbo_bnn_config_default(&c);
    c.n_hidden = 1;
    c.hidden[0] = 64;
    c.threads = 2;
    c.samples = 4;
    c.prior = ELBO_PRIOR_MIXTURE;
    elbo_error err;
    elbo_bnn *a = elbo_bnn_create(&c, 8, &err), *b = elbo_bnn_create(&c, 8, &err);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = 100;
    double t[ELBO_MAX_TERMS];
    for (int e = 0; e < 3; e++) elbo_model_train_epoch(elbo_bnn_model(a), &tc, tr, NULL, NULL, t, &err);
    elbo_bnn_metrics r;
    CHECK(elbo_bnn_evaluate(a, te, 4, 1, &r, &err) == ELBO_OK && r.accuracy > 0.85,
          "mixture prior: accuracy after 3 epochs %.3f", r.accuracy);
    CHECK(isfinite(t[2]) && t[2] > 0, "mixture KL per example %g", t[2]);
    for (int e = 0; e < 2; e++) elbo_model_train_epoch(elbo_bnn_model(b), &tc, tr, NULL, NULL, t, &err);
    char sub[512];
    snprintf(sub, sizeof sub, "%s/mix", dir);
    mkdir(sub, 0755);
    CHECK(elbo_model_save(elbo_bnn_model(b), sub, &err) == ELBO_OK, "%s", err.msg);
    elbo_bnn *l = elbo_bnn_load(sub, 0, &err);
    CHECK(l && elbo_bnn_get_config(l)->prior == ELBO_PRIOR_MIXTURE &&
              elbo_bnn_get_config(l)->prior_sigma2 == c.prior_sigma2, "the prior reloads: %s", l ? "" : err.msg);
    if (l) elbo_model_train_epoch(elbo_bnn_model(l), &tc, tr, NULL, NULL, t, &err);
    CHECK(l && same_params(a, l), "mixture run resumed bit for bit");
    elbo_bnn_free(a);
    elbo_bnn_free(b);
    elbo_bnn_free(l);
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
    elbo_dataset_truncate(&tr, 10000);
    elbo_dataset_truncate(&te, 1000);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = 100;
    elbo_bnn *a = mnist_bnn(2), *b = mnist_bnn(2);
    double t1[ELBO_MAX_TERMS], t2[ELBO_MAX_TERMS];
    for (int e = 0; e < 3; e++) CHECK(elbo_model_train_epoch(elbo_bnn_model(a), &tc, &tr, NULL, NULL, t1, &err) == ELBO_OK, "%s", err.msg);
    CHECK(t1[0] == t1[1] + t1[2] || fabs(t1[0] - t1[1] - t1[2]) < 1e-9 * fabs(t1[0]), "loss = nll + kl");
    elbo_bnn_metrics r;
    CHECK(t1[3] >= 0 && t1[3] < 0.15, "the training rows' error of one draw after 3 epochs: %.4f", t1[3]);
    /* the evaluation's draw_error is the error of the one-draw predictive */
    double ev[ELBO_MAX_TERMS];
    elbo_bnn_metrics r1;
    CHECK(bnn_base(a)->ops->eval(bnn_base(a), &te, 99, ev, &err) == ELBO_OK &&
              elbo_bnn_evaluate(a, &te, 1, 99, &r1, &err) == ELBO_OK, "%s", err.msg);
    CHECK(fabs(ev[3] - (1.0 - r1.accuracy)) < 1e-12 && ev[3] > 0, "draw_error %.4f is the one-draw error %.4f", ev[3],
          1.0 - r1.accuracy);
    CHECK(bnn_base(a)->ops->select_term == 3, "a classifier selects on its draw_error");
    CHECK(elbo_bnn_evaluate(a, &te, 4, 1, &r, &err) == ELBO_OK, "%s", err.msg);
    CHECK(r.accuracy > 0.85 && r.n == 1000, "test accuracy after 3 epochs on 10000 digits: %.3f", r.accuracy);
    CHECK(r.ece >= 0 && r.ece < 0.2 && r.brier > 0 && r.brier < 0.4 && r.nll < 0.6,
          "ECE %.4f, Brier %.4f, NLL %.4f", r.ece, r.brier, r.nll);
    /* deterministic: the same run again; and resumed through a checkpoint */
    for (int e = 0; e < 2; e++) elbo_model_train_epoch(elbo_bnn_model(b), &tc, &tr, NULL, NULL, t2, &err);
    CHECK(elbo_model_save(elbo_bnn_model(b), dir, &err) == ELBO_OK, "save: %s", err.msg);
    elbo_bnn *c = elbo_bnn_load(dir, 0, &err);
    CHECK(c != NULL, "load: %s", err.msg);
    if (!c) return;
    CHECK(same_params(b, c) && elbo_model_epochs(elbo_bnn_model(c)) == 2 && elbo_model_steps(elbo_bnn_model(c)) == 200, "reloaded state");
    CHECK(elbo_model_train_epoch(elbo_bnn_model(c), &tc, &tr, NULL, NULL, t2, &err) == ELBO_OK, "%s", err.msg);
    CHECK(same_params(a, c) && t2[0] == t1[0], "resumed run matches the straight one bit for bit");
    check_mixture_training(&tr, &te, dir);
    /* the shared handle: kind, terms, threads, parameters */
    const char *const *names;
    elbo_model *hc = elbo_bnn_model(c);
    CHECK(!strcmp(elbo_model_kind(hc), "bnn") && elbo_model_terms(hc, &names) == 4 &&
              !strcmp(names[0], "loss") && !strcmp(names[1], "nll") && !strcmp(names[2], "kl") &&
              !strcmp(names[3], "draw_error"),
          "kind and terms of the handle");
    elbo_bnn_config rc;
    elbo_bnn_config_default(&rc);
    rc.task = ELBO_BNN_REGRESSOR;
    rc.input_dim = 6;
    elbo_bnn *g = elbo_bnn_create(&rc, 1, &err);
    CHECK(g && elbo_model_terms(elbo_bnn_model(g), &names) == 3 && bnn_base(g)->ops->select_term == 0,
          "a regressor has loss, nll and kl, and selects on the loss");
    elbo_bnn_free(g);
    CHECK(elbo_model_num_params(hc) == 2 * (784 * 64 + 64 + 64 * 10 + 10) && elbo_model_threads(hc) == 2,
          "parameters %zu, threads %d", elbo_model_num_params(hc), elbo_model_threads(hc));
    CHECK(elbo_run_record_get(elbo_model_get_run_record(hc), "train_rows") &&
              !strcmp(elbo_run_record_get(elbo_model_get_run_record(hc), "train_rows"), "10000"),
          "the run record holds the training rows");
    /* a VAE loader refuses it, naming the kind */
    elbo_vae *v = elbo_vae_load(dir, 0, &err);
    CHECK(!v && strstr(err.msg, "'bnn'"), "VAE loader on a BNN checkpoint: %s", err.msg);
    elbo_vae_free(v);
    /* bad data */
    elbo_dataset nolab = tr;
    nolab.labels = NULL;
    CHECK(elbo_model_train_epoch(elbo_bnn_model(c), &tc, &nolab, NULL, NULL, t2, &err) == ELBO_ERR_ARG && strstr(err.msg, "labels"),
          "no labels: %s", err.msg);
    tr.labels[17] = 12;
    CHECK(elbo_model_train_epoch(elbo_bnn_model(c), &tc, &tr, NULL, NULL, t2, &err) == ELBO_ERR_ARG && strstr(err.msg, "row 17"),
          "label out of range: %s", err.msg);
    tc.objective = ELBO_OBJ_IWAE;
    tc.samples = 5;
    tr.labels[17] = 1;
    CHECK(elbo_model_train_epoch(elbo_bnn_model(c), &tc, &tr, NULL, NULL, t2, &err) == ELBO_ERR_ARG, "IWAE refused: %s", err.msg);
    elbo_bnn_free(a);
    elbo_bnn_free(b);
    elbo_bnn_free(c);
    elbo_dataset_free(&tr);
    elbo_dataset_free(&te);
}

int main(void)
{
    elbo_rng_seed(&rng, 77);
    check_ops();
    check_normal_fast();
    check_model_grad(0, PLAIN);
    check_model_grad(1, PLAIN);
    check_model_grad(2, PLAIN);
    check_model_grad(0, (variant){ELBO_WEIGHTS_GAUSSIAN, ELBO_BNN_CLASSIFIER, 0.0, 0, 1});
    check_model_grad(2, (variant){ELBO_WEIGHTS_GAUSSIAN, ELBO_BNN_CLASSIFIER, 0.0, 0, 1});
    check_model_grad(2, (variant){ELBO_WEIGHTS_GAUSSIAN, ELBO_BNN_REGRESSOR, 0.0, 1, 0});
    check_model_grad(1, (variant){ELBO_WEIGHTS_POINT, ELBO_BNN_CLASSIFIER, 0.0, 0, 0});
    check_model_grad(1, (variant){ELBO_WEIGHTS_POINT, ELBO_BNN_CLASSIFIER, 0.0, 0, 1});
    check_model_grad(2, (variant){ELBO_WEIGHTS_POINT, ELBO_BNN_CLASSIFIER, 0.5, 0, 0});
    check_model_grad(2, (variant){ELBO_WEIGHTS_POINT, ELBO_BNN_REGRESSOR, 0.3, 1, 1});
    check_model_grad(2, (variant){ELBO_WEIGHTS_GAUSSIAN, ELBO_BNN_CLASSIFIER, 0.3, 0, 1});
    check_kl_mc();
    check_near_deterministic();
    check_prune();
    check_kl_weighting();
    check_mixture();
    check_mixture_separated();
    char dir[] = "/tmp/elbo-test-bnn-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    check_training(dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_bnn");
}
