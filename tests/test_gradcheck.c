/* test_gradcheck.c — finite-difference gradient checks of every op and of
 * the whole VAE loss.
 *
 * For an op with output y, the scalar L = sum_i w_i y_i (w random) is
 * differentiated two ways: backward with dout = w, and central differences
 * (L(x+h) - L(x-h)) / 2h computed in double. Kinks are skipped:
 *  - the ReLU op skips inputs within 2h of its kink at 0;
 *  - the whole VAE (h = 1e-3) skips points whose second difference
 *    c = |L(x+h) - 2L(x) + L(x-h)| exceeds T = 4e-3 h (1 + |n|). A kink at
 *    distance d from x changes the slope by s and gives c = s (h - d) and a
 *    central-difference error of c / 2h, so an undetected kink costs at most
 *    2e-3 (1 + |n|), inside the tolerance; a smooth point has c = h^2 L''.
 *  - the other ops are smooth and nothing is skipped.
 * A gradient g matches the numerical n when |g - n| <= 2e-3 + 2e-2 |n|. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fd.h"
#include "models/vae_internal.h"
#include "nn/fastmath.h"
#include "nn/ops.h"
#include "nn/sparse.h"
#include "util/rng.h"


static elbo_rng rng;

static void fd_check(const char *what, float *x, const float *g, long n, loss_fn L, void *ctx)
{
    fd_check_h(what, x, g, n, L, ctx, 1e-2, SMOOTH);
}

/* ------------------------------------------------------------------ ops */

enum { B = 3, I = 5, O = 4, N = 24 };
static float in[B * I], W[O * I], b[O], out[B * O], w_out[B * O];
static float a1[N], a2[N], a3[N], tmp[N], w_n[N];

static double L_linear(void *c)
{
    (void)c;
    linear_forward(out, in, W, b, B, I, O);
    return fd_dot(out, w_out, B * O);
}

static void check_linear(void)
{
    fd_fill_normal(&rng, in, B * I, 1);
    fd_fill_normal(&rng, W, O * I, 1);
    fd_fill_normal(&rng, b, O, 1);
    fd_fill_normal(&rng, w_out, B * O, 1);
    float din[B * I] = {0}, dW[O * I] = {0}, db[O] = {0};
    linear_backward(din, dW, db, w_out, in, W, B, I, O);
    fd_check("linear.in", in, din, B * I, L_linear, NULL);
    fd_check("linear.W", W, dW, O * I, L_linear, NULL);
    fd_check("linear.b", b, db, O, L_linear, NULL);
    /* backward accumulates: a second call doubles the gradients */
    float db2[O];
    memcpy(db2, db, sizeof db);
    linear_backward(NULL, dW, db2, w_out, in, W, B, I, O);
    CHECK(fabsf(db2[0] - 2 * db[0]) < 1e-5f, "linear_backward does not accumulate");
    /* the weight and bias gradients in two pieces of rows, as the model
     * computes them, equal the whole */
    float dWf[O * I] = {0}, dWp[O * I] = {0}, dbf[O] = {0}, dbp[O] = {0};
    int cut = O / 2;
    linear_weight_rows(dWf, w_out, in, B, I, O, 0, O);
    bias_backward(dbf, w_out, B, O, 0, O);
    linear_weight_rows(dWp, w_out, in, B, I, O, 0, cut);
    linear_weight_rows(dWp + cut * I, w_out, in, B, I, O, cut, O);
    bias_backward(dbp, w_out, B, O, 0, cut);
    bias_backward(dbp + cut, w_out, B, O, cut, O);
    double worst = 0;
    for (int i = 0; i < O * I; i++) worst = fmax(worst, fabs(dWf[i] - dWp[i]) / (1 + fabs(dWf[i])));
    for (int i = 0; i < O; i++) worst = fmax(worst, fabs(dbf[i] - dbp[i]) / (1 + fabs(dbf[i])));
    CHECK(worst < 1e-6, "linear gradient rows in pieces differ from the whole by %g", worst);
}

static double L_relu(void *c)
{
    (void)c;
    relu_forward(tmp, a1, N);
    return fd_dot(tmp, w_n, N);
}

static void check_relu(void)
{
    fd_fill_normal(&rng, a1, N, 1);
    a1[0] = 0.004f; /* within H of the kink: must be detected and skipped */
    fd_fill_normal(&rng, w_n, N, 1);
    float d[N] = {0};
    relu_forward(tmp, a1, N);
    relu_backward(d, w_n, tmp, N);
    fd_check_h("relu", a1, d, N, L_relu, NULL, 1e-2, RELU_KINK);
}

static double L_mask(void *c)
{
    mask_forward(tmp, a1, c, N);
    return fd_dot(tmp, w_n, N);
}

/* dropout by a fixed mask: linear in the input, zero through dropped units */
static void check_mask(void)
{
    float mask[N], d[N] = {0};
    fd_fill_normal(&rng, a1, N, 1);
    fd_fill_normal(&rng, w_n, N, 1);
    for (int i = 0; i < N; i++) mask[i] = i % 3 == 0 ? 0.0f : 1.5f;
    mask_backward(d, w_n, mask, N);
    fd_check("mask", a1, d, N, L_mask, mask);
    CHECK(d[0] == 0.0f && d[3] == 0.0f, "a dropped unit passes no gradient");
    memcpy(tmp, a1, sizeof tmp);
    mask_forward(tmp, tmp, mask, N); /* in place */
    CHECK(tmp[1] == a1[1] * 1.5f && tmp[0] == 0.0f, "mask_forward in place");
}

static double L_tanh(void *c)
{
    (void)c;
    tanh_forward(tmp, a1, N);
    return fd_dot(tmp, w_n, N);
}

static double L_softplus(void *c)
{
    (void)c;
    softplus_forward(tmp, a1, N);
    return fd_dot(tmp, w_n, N);
}

static void check_smooth_activations(void)
{
    fd_fill_normal(&rng, a1, N, 2);
    a1[1] = 30.0f; /* saturated: softplus(30) = 30, tanh(30) = 1 */
    a1[2] = -30.0f;
    fd_fill_normal(&rng, w_n, N, 1);
    float d[N] = {0};
    tanh_forward(tmp, a1, N);
    tanh_backward(d, w_n, tmp, N);
    fd_check("tanh", a1, d, N, L_tanh, NULL);
    memset(d, 0, sizeof d);
    softplus_forward(tmp, a1, N);
    CHECK(fabsf(tmp[1] - 30.0f) < 1e-5f && tmp[2] >= 0.0f && tmp[2] < 1e-12f, "softplus at +-30");
    float x0 = 0.0f, y0;
    softplus_forward(&y0, &x0, 1);
    CHECK(fabsf(y0 - 0.69314718f) < 1e-6f, "softplus(0) = log 2");
    softplus_backward(d, w_n, tmp, N);
    fd_check("softplus", a1, d, N, L_softplus, NULL);
}

static double L_bce(void *c)
{
    (void)c;
    return bce_logits_forward(tmp, a1, a2, N);
}

static void check_bce(void)
{
    fd_fill_normal(&rng, a1, N, 3);
    for (int i = 0; i < N; i++) a2[i] = (float)elbo_rng_uniform(&rng);
    float d[N] = {0};
    bce_logits_forward(tmp, a1, a2, N);
    bce_logits_backward(d, tmp, a2, N, 1.0f);
    fd_check("bce_logits", a1, d, N, L_bce, NULL);
    /* stability at extreme logits: finite loss, exact limits of the gradient */
    float l[4] = {-200.0f, 200.0f, -90.0f, 90.0f}, x[4] = {1.0f, 0.0f, 0.5f, 0.5f}, g[4] = {0}, p[4];
    double s = bce_logits_forward(p, l, x, 4);
    CHECK(isfinite(s) && fabs(s - (200 + 200 + 45 + 45)) < 1e-3, "bce at |l|=200/90: %g", s);
    bce_logits_backward(g, p, x, 4, 1.0f);
    CHECK(g[0] == -1.0f && g[1] == 1.0f && g[2] == -0.5f && g[3] == 0.5f,
          "bce grads at extremes: %g %g %g %g", g[0], g[1], g[2], g[3]);
    /* against the textbook formula at a moderate logit */
    float l1 = 0.7f, x1 = 0.3f;
    double pr = 1 / (1 + exp(-0.7)), ref = -(0.3 * log(pr) + 0.7 * log(1 - pr));
    float p1;
    CHECK(fabs(bce_logits_forward(&p1, &l1, &x1, 1) - ref) < 1e-6, "bce value");
    CHECK(fabs(p1 - pr) < 1e-7, "bce saves sigmoid");
}

static double L_gauss(void *c)
{
    (void)c;
    return gaussian_nll_forward(a1, a2, N);
}

static void check_gauss(void)
{
    fd_fill_normal(&rng, a1, N, 1);
    fd_fill_normal(&rng, a2, N, 1);
    float d[N] = {0};
    gaussian_nll_backward(d, a1, a2, N, 1.0f);
    fd_check("gaussian_nll", a1, d, N, L_gauss, NULL);
    float m0 = 0.0f, x0 = 0.0f;
    CHECK(fabs(gaussian_nll_forward(&m0, &x0, 1) - 0.91893853320467274178) < 1e-9, "gaussian constant");
}

static float lv_d[8];

static double L_gauss_lv(void *c)
{
    (void)c;
    return gaussian_lv_nll_forward(a1, lv_d, a2, 3, 8); /* 3 rows of 8 */
}

static void check_gauss_learned(void)
{
    fd_fill_normal(&rng, a1, 24, 1);
    fd_fill_normal(&rng, a2, 24, 1);
    fd_fill_normal(&rng, lv_d, 8, 0.5);
    float dm[24] = {0}, dlv[8] = {0};
    gaussian_lv_nll_backward(dm, dlv, a1, lv_d, a2, 3, 8, 1.0f);
    fd_check("gaussian_lv.mean", a1, dm, 24, L_gauss_lv, NULL);
    fd_check("gaussian_lv.logvar", lv_d, dlv, 8, L_gauss_lv, NULL);
    float zero[8] = {0};
    CHECK(fabs(gaussian_lv_nll_forward(a1, zero, a2, 3, 8) - gaussian_nll_forward(a1, a2, 24)) < 1e-9,
          "learned variance at logvar 0 equals the unit-variance Gaussian");
}

static double L_reparam(void *c)
{
    (void)c;
    reparam_forward(tmp, a1, a2, a3, N);
    return fd_dot(tmp, w_n, N);
}

static void check_reparam(void)
{
    fd_fill_normal(&rng, a1, N, 1);
    fd_fill_normal(&rng, a2, N, 1);
    fd_fill_normal(&rng, a3, N, 1);
    fd_fill_normal(&rng, w_n, N, 1);
    float dmu[N] = {0}, dlv[N] = {0};
    reparam_backward(dmu, dlv, w_n, a2, a3, N);
    fd_check("reparam.mu", a1, dmu, N, L_reparam, NULL);
    fd_check("reparam.logvar", a2, dlv, N, L_reparam, NULL);
}

static double L_kl(void *c)
{
    (void)c;
    return kl_normal_forward(a1, a2, N);
}

static void check_kl(void)
{
    fd_fill_normal(&rng, a1, N, 1);
    fd_fill_normal(&rng, a2, N, 1);
    float dmu[N] = {0}, dlv[N] = {0};
    kl_normal_backward(dmu, dlv, a1, a2, N, 1.0f);
    fd_check("kl.mu", a1, dmu, N, L_kl, NULL);
    fd_check("kl.logvar", a2, dlv, N, L_kl, NULL);
    float z0 = 0.0f;
    CHECK(kl_normal_forward(&z0, &z0, 1) == 0.0, "KL(N(0,1)||N(0,1)) must be 0");
    float mu1 = 1.0f, lv1 = (float)log(2.0);
    double ref = 0.5 * (2.0 + 1.0 - 1.0 - log(2.0));
    CHECK(fabs(kl_normal_forward(&mu1, &lv1, 1) - ref) < 1e-6, "KL closed form");
}

static double L_linear_t(void *c)
{
    (void)c;
    linear_t_forward(out, in, W, b, B, I, O); /* W read as WT [I,O] */
    return fd_dot(out, w_out, B * O);
}

static void check_linear_t(void)
{
    fd_fill_normal(&rng, in, B * I, 1);
    fd_fill_normal(&rng, W, O * I, 1);
    fd_fill_normal(&rng, b, O, 1);
    fd_fill_normal(&rng, w_out, B * O, 1);
    float dWT[I * O] = {0}, db[O] = {0};
    linear_t_backward(dWT, db, w_out, in, B, I, O);
    fd_check("linear_t.WT", W, dWT, O * I, L_linear_t, NULL);
    fd_check("linear_t.b", b, db, O, L_linear_t, NULL);
    float dWf[I * O] = {0}, dWp[I * O] = {0};
    int cut = I / 2;
    linear_t_weight_rows(dWf, w_out, in, B, I, O, 0, I);
    linear_t_weight_rows(dWp, w_out, in, B, I, O, 0, cut);
    linear_t_weight_rows(dWp + cut * O, w_out, in, B, I, O, cut, I);
    double worst = 0;
    for (int i = 0; i < I * O; i++) worst = fmax(worst, fabs(dWf[i] - dWp[i]) / (1 + fabs(dWf[i])));
    CHECK(worst < 1e-6, "linear_t gradient rows in pieces differ from the whole by %g", worst);
}

/* The sparse first layer against the dense one on an input that is mostly
 * zeros, and finite differences. The kernel splits the O outputs into
 * register blocks of whole vectors plus scalar columns; the widths below
 * cover scalar columns only, one partial block, one block, several blocks of
 * unequal size, and all of these with scalar columns after them. */
enum { SB = 5, SI = 37, SO_MAX = 1203 };
static int SO; /* the width under test */
static float s_x[SB * SI], s_WT[SI * SO_MAX], s_b[SO_MAX], s_out[SB * SO_MAX], s_w[SB * SO_MAX];
static sparse_batch s_xs;

static double L_sparse(void *c)
{
    (void)c;
    linear_sparse_forward(s_out, &s_xs, s_WT, s_b, SO);
    return fd_dot(s_out, s_w, SB * SO);
}

static void check_sparse_width(int width, int fd)
{
    SO = width;
    int rp[SB + 1], rc[SB * SI], cp[SI + 1], cr[SB * SI];
    float rv[SB * SI], cv[SB * SI];
    sparse_batch xs = {0, 0, 0, 0, rp, rc, rv, cp, cr, cv};
    s_xs = xs;
    fd_fill_normal(&rng, s_x, SB * SI, 1);
    for (int i = 0; i < SB * SI; i++)
        if (elbo_rng_uniform(&rng) < 0.7) s_x[i] = 0.0f;
    for (int k = 0; k < SI; k++) s_x[2 * SI + k] = 0.0f; /* an all-zero row */
    fd_fill_normal(&rng, s_WT, SI * SO, 1);
    fd_fill_normal(&rng, s_b, SO, 1);
    fd_fill_normal(&rng, s_w, SB * SO, 1);
    sparse_batch_build(&s_xs, s_x, SB, SI);
    CHECK(!s_xs.has_csc, "CSC built only on demand");
    sparse_batch_build_csc(&s_xs);
    int nnz = 0;
    for (int i = 0; i < SB * SI; i++) nnz += s_x[i] != 0.0f;
    CHECK(s_xs.nnz == nnz && s_xs.row_ptr[SB] == nnz && s_xs.col_ptr[SI] == nnz, "nnz counts");
    int ok = 1;
    for (int k = 0; k < SI; k++)
        for (int j = s_xs.col_ptr[k]; j < s_xs.col_ptr[k + 1]; j++)
            ok &= s_x[s_xs.col_row[j] * SI + k] == s_xs.col_val[j];
    CHECK(ok, "CSC entries match the dense input");
    static float dense[SB * SO_MAX], dWs[SI * SO_MAX], dWd[SI * SO_MAX], dbs[SO_MAX], dbd[SO_MAX];
    linear_t_forward(dense, s_x, s_WT, s_b, SB, SI, SO);
    linear_sparse_forward(s_out, &s_xs, s_WT, s_b, SO);
    double worst = 0;
    for (int i = 0; i < SB * SO; i++) worst = fmax(worst, fabs(dense[i] - s_out[i]));
    CHECK(worst < 1e-5, "O=%d: sparse forward differs from dense by %g", width, worst);
    /* backward accumulates: start both from the same non-zero gradient */
    fd_fill_normal(&rng, dWs, SI * SO, 1);
    fd_fill_normal(&rng, dbs, SO, 1);
    memcpy(dWd, dWs, sizeof(float) * SI * SO);
    memcpy(dbd, dbs, sizeof(float) * SO);
    linear_sparse_backward(dWs, dbs, s_w, &s_xs, SO);
    linear_t_backward(dWd, dbd, s_w, s_x, SB, SI, SO);
    worst = 0;
    for (int i = 0; i < SI * SO; i++) worst = fmax(worst, fabs(dWs[i] - dWd[i]));
    for (int i = 0; i < SO; i++) worst = fmax(worst, fabs(dbs[i] - dbd[i]));
    CHECK(worst < 1e-5, "O=%d: sparse backward differs from dense by %g", width, worst);
    if (fd) {
        memset(dWs, 0, sizeof(float) * SI * SO);
        memset(dbs, 0, sizeof(float) * SO);
        linear_sparse_backward(dWs, dbs, s_w, &s_xs, SO);
        fd_check("linear_sparse.WT", s_WT, dWs, SI * SO, L_sparse, NULL);
        fd_check("linear_sparse.b", s_b, dbs, SO, L_sparse, NULL);
    }
}

static void check_sparse(void)
{
    /* its own stream: the number of widths does not change later checks' data */
    elbo_rng saved = rng;
    elbo_rng_seed(&rng, 77);
    static const int widths[] = {3, 45, 256, 400, 407, 448, 449, 900, 1203};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        check_sparse_width(widths[i], widths[i] == 45);
    rng = saved;
}

/* The vectorisable exp and log1p against double-precision libm. */
static void check_fastmath(void)
{
    double we = 0, wl = 0;
    for (double x = -87.0; x <= 0.0; x += 1.1e-4) {
        double ref = exp((double)(float)x);
        we = fmax(we, fabs(elbo_exp_neg((float)x) - ref) / ref);
    }
    for (double e = 1e-7; e <= 1.0; e += 3.3e-6) {
        double ref = log1p((double)(float)e);
        wl = fmax(wl, fabs(elbo_log1p_01((float)e) - ref) / ref);
    }
    CHECK(we < 1e-7, "exp_neg relative error %.3g", we);
    double w1 = 0, w2 = 0; /* the softplus fits for rho <= 0, e = e^rho */
    for (double e = 1e-7; e <= 1.0; e += 3.3e-6) {
        float ef = (float)e;
        double ref = log1p((double)ef) / ef;
        w1 = fmax(w1, fabs(elbo_log1p_over_e(ef) - ref) / ref);
        w2 = fmax(w2, fabs(elbo_log_log1p_over_e(ef) - log(ref)));
    }
    CHECK(w1 < 3e-7, "log1p(e)/e relative error %.3g", w1);
    CHECK(w2 < 2e-7, "log(log1p(e)/e) absolute error %.3g", w2);
    CHECK(elbo_log1p_over_e(0.0f) == 1.0f && elbo_log_log1p_over_e(0.0f) == 0.0f, "softplus fits exact at 0");
    CHECK(wl < 3e-7, "log1p_01 relative error %.3g", wl);
    double wt = 0;
    for (double x = -12.0; x <= 12.0; x += 1.3e-4) {
        double ref = tanh((double)(float)x);
        if (ref != 0) wt = fmax(wt, fabs(elbo_tanh((float)x) - ref) / fabs(ref));
    }
    CHECK(wt < 2e-7, "tanh relative error %.3g", wt);
    CHECK(elbo_tanh(0.0f) == 0.0f && elbo_tanh(30.0f) == 1.0f && elbo_tanh(-30.0f) == -1.0f, "tanh limits");
    CHECK(elbo_exp_neg(-1000.0f) >= 0.0f && elbo_exp_neg(-1000.0f) < 1e-37f, "exp_neg clamps");
    CHECK(elbo_log1p_01(0.0f) == 0.0f && elbo_exp_neg(0.0f) == 1.0f, "exact at 0");
    /* log: absolute error (relative breaks down near x = 1, where log -> 0) */
    double wlog = 0, ws = 0, wc = 0;
    for (double x = 1e-30; x < 1e30; x *= 1.0007) {
        double ref = log((double)(float)x);
        wlog = fmax(wlog, fabs(elbo_log_pos((float)x) - ref) / fmax(1.0, fabs(ref)));
    }
    for (double a = -1.5707963; a <= 1.5707963; a += 1.1e-5) {
        float sn, cs;
        elbo_sincos_half_pi((float)a, &sn, &cs);
        ws = fmax(ws, fabs(sn - sin((double)(float)a)));
        wc = fmax(wc, fabs(cs - cos((double)(float)a)));
    }
    CHECK(wlog < 3e-7, "log_pos error %.3g (relative, or absolute below 1)", wlog);
    CHECK(ws < 2e-7 && wc < 2e-7, "sincos absolute errors %.3g, %.3g", ws, wc);
}

/* ------------------------------------------------------------ whole VAE */

typedef struct {
    elbo_vae *m;
    const float *x, *eps;
    int B;
} vae_ctx;

static double L_vae(void *c)
{
    vae_ctx *v = c;
    vae_worker *w = &(*vae_worker_of(v->m, 0));
    memcpy(w->x, v->x, sizeof(float) * v->B * (*elbo_vae_get_config(v->m)).input_dim);
    memcpy(w->eps, v->eps, sizeof(float) * v->B * (*elbo_vae_get_config(v->m)).latent_dim);
    vae_forward(v->m, w, v->B);
    return w->recon + w->kl;
}

/* The gradient chunks (models/grad.c) cover every parameter exactly once,
 * largest first, for shapes that give several chunks per weight, rows longer
 * than a chunk, and split biases and log-variances. */
static void check_chunks(void)
{
    const int shapes[][4] = {/* input, hidden, latent, learned variance */
                             {784, 400, 20, 0},
                             {40000, 3, 2, 1},
                             {3, 40000, 2, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        elbo_vae_config c;
        elbo_vae_config_default(&c);
        c.input_dim = shapes[s][0];
        c.hidden[0] = shapes[s][1];
        c.latent_dim = shapes[s][2];
        c.likelihood = shapes[s][3] ? ELBO_LIK_GAUSSIAN_LEARNED : ELBO_LIK_BERNOULLI;
        c.max_batch = 2;
        c.threads = 1;
        elbo_error err;
        elbo_vae *m = elbo_vae_create(&c, 1, &err);
        CHECK(m != NULL, "%s", err.msg);
        if (!m) continue;
        const model *mb = vae_base(m);
        unsigned char *seen = calloc(mb->n_params, 1);
        int ok = 1, sorted = 1, kinds[3] = {0, 0, 0};
        for (int k = 0; k < mb->n_chunks; k++) {
            const model_chunk *ch = &mb->chunks[k];
            ok &= ch->n > 0 && ch->n <= mb->chunk_max && ch->off + ch->n <= mb->n_params;
            for (size_t i = 0; ok && i < ch->n; i++) seen[ch->off + i]++;
            sorted &= k == 0 || mb->chunks[k - 1].n >= ch->n;
            /* a chunk lies inside one tensor: weight, bias or other */
            int t = model_tensor_at(mb, ch->off);
            ok &= t >= 0 && t == model_tensor_at(mb, ch->off + ch->n - 1);
            if (t < 0) continue;
            const char *dot = strrchr(mb->tensors[t].name, '.');
            kinds[!strcmp(dot, ".weight") ? 0 : !strcmp(dot, ".bias") ? 1 : 2]++;
        }
        for (size_t i = 0; ok && i < vae_base(m)->n_params; i++) ok &= seen[i] == 1;
        CHECK(ok, "shape %zu: chunks do not cover each of %zu parameters once", s, vae_base(m)->n_params);
        CHECK(sorted, "shape %zu: chunks not handed out largest first", s);
        int n_weights = 0;
        for (int t = 0; t < mb->n_tensors; t++) n_weights += strstr(mb->tensors[t].name, ".weight") != NULL;
        CHECK(kinds[0] > n_weights && (shapes[s][3] == 0) == (kinds[2] == 0),
              "shape %zu: %d weight, %d bias, %d other chunks", s, kinds[0], kinds[1], kinds[2]);
        free(seen);
        elbo_vae_free(m);
    }
}

static void check_vae(elbo_likelihood lik, int n_hidden, int sparse_x, elbo_activation act)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.input_dim = 12;
    c.latent_dim = 3;
    c.n_hidden = n_hidden;
    c.hidden[0] = 7;
    c.hidden[1] = 5;
    c.likelihood = lik;
    c.max_batch = 4;
    c.threads = 1;
    c.activation = act;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, 99, &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m) return;
    float x[4 * 12], eps[4 * 3];
    for (int i = 0; i < 4 * 12; i++) x[i] = (float)elbo_rng_uniform(&rng);
    if (sparse_x) /* 3 of 4 inputs zero: the first layer takes the sparse path */
        for (int i = 0; i < 4 * 12; i++) x[i] = i % 4 ? 0.0f : x[i];
    fd_fill_normal(&rng, eps, 4 * 3, 1);
    vae_ctx v = {m, x, eps, 4};
    model *mb = vae_base(m);
    int lvt = model_tensor_find(mb, "fc4.logvar"); /* the learned log-variance, away from 0 */
    for (size_t d = 0; lvt >= 0 && d < mb->tensors[lvt].n; d++)
        mb->params[mb->tensors[lvt].off + d] = 0.3f * (float)(d % 3) - 0.2f;
    L_vae(&v);
    CHECK((*vae_worker_of(m, 0)).x_sparse == sparse_x, "first layer sparse=%d, expected %d", (*vae_worker_of(m, 0)).x_sparse, sparse_x);
    vae_backward(m, &(*vae_worker_of(m, 0)), 4);
    float *g = malloc(sizeof(float) * mb->n_params);
    vae_param_grads(m, 1, g);
    char what[96];
    for (int ti = 0; ti < mb->n_tensors; ti++) { /* every tensor of the table */
        const model_tensor *t = &mb->tensors[ti];
        snprintf(what, sizeof what, "vae(%s,L=%d,%s,act%d).%s", lik ? "gauss" : "bern", n_hidden,
                 sparse_x ? "sparse" : "dense", (int)act, t->name);
        fd_check_h(what, mb->params + t->off, g + t->off, (long)t->n, L_vae, &v, 1e-3, DETECT_KINKS);
    }
    free(g);
    elbo_vae_free(m);
}

int main(void)
{
    elbo_rng_seed(&rng, 2024);
    check_linear();
    check_relu();
    check_mask();
    check_bce();
    check_gauss();
    check_reparam();
    check_kl();
    check_linear_t();
    check_sparse();
    check_chunks();
    check_fastmath();
    check_smooth_activations();
    check_vae(ELBO_LIK_BERNOULLI, 1, 0, ELBO_ACT_RELU);
    check_vae(ELBO_LIK_BERNOULLI, 1, 1, ELBO_ACT_RELU);
    check_vae(ELBO_LIK_BERNOULLI, 2, 0, ELBO_ACT_RELU);
    check_vae(ELBO_LIK_GAUSSIAN, 2, 1, ELBO_ACT_RELU);
    check_vae(ELBO_LIK_BERNOULLI, 2, 1, ELBO_ACT_TANH);
    check_vae(ELBO_LIK_GAUSSIAN, 1, 0, ELBO_ACT_SOFTPLUS);
    check_gauss_learned();
    check_vae(ELBO_LIK_GAUSSIAN_LEARNED, 2, 0, ELBO_ACT_RELU);
    return check_summary("test_gradcheck");
}
