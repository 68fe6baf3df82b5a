/* test_flow.c — normalizing-flow posteriors (nn/flow.h, models/vae_flow.c):
 *  - finite differences through the planar layer (u, w, b, z, with shared
 *    parameter rows and a log-det weight), the IAF gate and the masked
 *    linear layer, and through the whole VAE loss with planar flows and with
 *    IAF, for the ELBO and for the IWAE;
 *  - the log-determinant against a numerical Jacobian on small z (planar,
 *    and a whole IAF step with its MADE);
 *  - MADE's masks give a strictly triangular dependence (perturbing z_i
 *    moves only outputs of higher order) and so a triangular Jacobian;
 *  - planar invertibility: w.u^ > -1 for any (u, w), and each layer is
 *    inverted by bisection on w.z;
 *  - the masked weights get no gradient and do not move the loss. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fd.h"
#include "models/vae_internal.h"
#include "nn/flow.h"
#include "nn/ops.h"
#include "util/rng.h"

static elbo_rng rng;

/* ------------------------------------------------------------ the ops */

enum { PR = 6, PREP = 2, PZ = 4, PS = 2 * PZ + 1 + 2 }; /* rows, rows per param row, Z, stride */

static float p_z[PR * PZ], p_par[PR / PREP * PS], p_out[PR * PZ], p_g[PR * PZ];
static double p_ld[PR], p_s[PR];

static double L_planar(void *c)
{
    (void)c;
    memset(p_ld, 0, sizeof p_ld);
    planar_forward(p_out, p_ld, p_z, p_par, PR, PREP, PZ, PS);
    double L = fd_dot(p_out, p_g, PR * PZ);
    for (int r = 0; r < PR; r++) L += p_s[r] * p_ld[r];
    return L;
}

static void check_planar_grad(void)
{
    fd_fill_normal(&rng, p_z, PR * PZ, 1.0);
    fd_fill_normal(&rng, p_par, PR / PREP * PS, 0.8);
    fd_fill_normal(&rng, p_g, PR * PZ, 1.0);
    for (int r = 0; r < PR; r++) p_s[r] = elbo_rng_normal(&rng);
    float dz[PR * PZ] = {0}, dpar[PR / PREP * PS] = {0};
    L_planar(NULL);
    planar_backward(dz, dpar, p_g, p_s, p_z, p_par, PR, PREP, PZ, PS);
    fd_check_h("planar.z", p_z, dz, PR * PZ, L_planar, NULL, 1e-2, SMOOTH);
    fd_check_h("planar.par", p_par, dpar, PR / PREP * PS, L_planar, NULL, 1e-2, SMOOTH);
    /* w = 0 (the constraint's division is skipped): a shift by u tanh(b),
     * log|det J| = 0, everything finite */
    {
        float par[2 * PZ + 1] = {0.5f, -1.0f, 0.25f, 2.0f, 0, 0, 0, 0, 0.3f}, z[PZ] = {1, 2, 3, 4}, o[PZ];
        float dz0[PZ] = {0}, dp[2 * PZ + 1] = {0}, g[PZ] = {1, 1, 1, 1};
        double ld = 0, s = 1;
        planar_forward(o, &ld, z, par, 1, 1, PZ, 2 * PZ + 1);
        planar_backward(dz0, dp, g, &s, z, par, 1, 1, PZ, 2 * PZ + 1);
        int finite = 1;
        for (int j = 0; j < PZ; j++) finite &= isfinite(o[j]) && isfinite(dz0[j]);
        for (int j = 0; j < 2 * PZ + 1; j++) finite &= isfinite(dp[j]);
        CHECK(finite && ld == 0 && fabsf(o[0] - (1 + 0.5f * tanhf(0.3f))) < 1e-6f,
              "planar with w = 0: logdet %g, z'0 %g", ld, o[0]);
    }
    /* the stride's padding gets no gradient */
    int pad_zero = 1;
    for (int p = 0; p < PR / PREP; p++) pad_zero &= dpar[p * PS + 2 * PZ + 1] == 0 && dpar[p * PS + 2 * PZ + 2] == 0;
    CHECK(pad_zero, "planar: gradient outside (u, w, b)");
}

enum { GR = 5, GZ = 3 };
static float g_z[GR * GZ], g_ms[GR * 2 * GZ], g_out[GR * GZ], g_g[GR * GZ];
static double g_ld[GR], g_s[GR];

static double L_gate(void *c)
{
    (void)c;
    memset(g_ld, 0, sizeof g_ld);
    iaf_gate_forward(g_out, g_ld, g_z, g_ms, GR, GZ);
    double L = fd_dot(g_out, g_g, GR * GZ);
    for (int r = 0; r < GR; r++) L += g_s[r] * g_ld[r];
    return L;
}

static void check_gate_grad(void)
{
    fd_fill_normal(&rng, g_z, GR * GZ, 1.0);
    fd_fill_normal(&rng, g_ms, GR * 2 * GZ, 1.5);
    fd_fill_normal(&rng, g_g, GR * GZ, 1.0);
    for (int r = 0; r < GR; r++) g_s[r] = elbo_rng_normal(&rng);
    float dz[GR * GZ] = {0}, dms[GR * 2 * GZ] = {0};
    L_gate(NULL);
    iaf_gate_backward(dz, dms, g_g, g_s, g_z, g_ms, GR, GZ);
    fd_check_h("iaf_gate.z", g_z, dz, GR * GZ, L_gate, NULL, 1e-2, SMOOTH);
    fd_check_h("iaf_gate.ms", g_ms, dms, GR * 2 * GZ, L_gate, NULL, 1e-2, SMOOTH);
}

enum { MB = 3, MI = 5, MO = 4 };
static float m_in[MB * MI], m_W[MO * MI], m_M[MO * MI], m_b[MO], m_out[MB * MO], m_g[MB * MO],
    m_Wm[MO * MI];

static double L_masked(void *c)
{
    (void)c;
    masked_linear_forward(m_out, m_Wm, m_in, m_W, m_M, m_b, MB, MI, MO);
    return fd_dot(m_out, m_g, MB * MO);
}

static void check_masked_grad(void)
{
    fd_fill_normal(&rng, m_in, MB * MI, 1.0);
    fd_fill_normal(&rng, m_W, MO * MI, 1.0);
    fd_fill_normal(&rng, m_b, MO, 1.0);
    fd_fill_normal(&rng, m_g, MB * MO, 1.0);
    for (int i = 0; i < MO * MI; i++) m_M[i] = (float)(i % 3 != 1);
    float din[MB * MI] = {0}, dW[MO * MI] = {0}, db[MO] = {0};
    L_masked(NULL);
    masked_linear_backward_data(din, m_g, m_Wm, MB, MI, MO);
    linear_weight_rows(dW, m_g, m_in, MB, MI, MO, 0, MO);
    for (int i = 0; i < MO * MI; i++) dW[i] *= m_M[i];
    bias_backward(db, m_g, MB, MO, 0, MO);
    fd_check_h("masked_linear.in", m_in, din, MB * MI, L_masked, NULL, 1e-2, SMOOTH);
    fd_check_h("masked_linear.W", m_W, dW, MO * MI, L_masked, NULL, 1e-2, SMOOTH);
    fd_check_h("masked_linear.b", m_b, db, MO, L_masked, NULL, 1e-2, SMOOTH);
}

/* ------------------------------------------ log-det against a Jacobian */

/* log|det A| of an n x n matrix by Gaussian elimination with pivoting. */
static double log_abs_det(double *A, int n)
{
    double s = 0.0;
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(A[i * n + k]) > fabs(A[p * n + k])) p = i;
        if (p != k)
            for (int j = 0; j < n; j++) {
                double t = A[k * n + j];
                A[k * n + j] = A[p * n + j];
                A[p * n + j] = t;
            }
        s += log(fabs(A[k * n + k]));
        for (int i = k + 1; i < n; i++) {
            double f = A[i * n + k] / A[k * n + k];
            for (int j = k; j < n; j++) A[i * n + j] -= f * A[k * n + j];
        }
    }
    return s;
}

typedef void (*map_fn)(float *out, double *ld, const float *z, void *ctx);

/* The Jacobian of f at z by central differences (h = 1e-2, in double on
 * float maps: the maps are smooth and of order 1); returns log|det J|. */
static double numeric_logdet(map_fn f, const float *z, int n, void *ctx, double *J)
{
    float zp[16], op[16], om[16];
    double ld;
    for (int i = 0; i < n; i++) {
        memcpy(zp, z, sizeof(float) * n);
        zp[i] = z[i] + 1e-2f;
        double hp = (double)zp[i] - z[i];
        f(op, &ld, zp, ctx);
        zp[i] = z[i] - 1e-2f;
        double hm = (double)z[i] - zp[i];
        f(om, &ld, zp, ctx);
        for (int j = 0; j < n; j++) J[j * n + i] = ((double)op[j] - om[j]) / (hp + hm);
    }
    double A[256];
    memcpy(A, J, sizeof(double) * n * n);
    return log_abs_det(A, n);
}

static void planar_map(float *out, double *ld, const float *z, void *ctx)
{
    *ld = 0;
    planar_forward(out, ld, z, ctx, 1, 1, PZ, 2 * PZ + 1);
}

static void check_planar_logdet(void)
{
    double worst = 0;
    for (int trial = 0; trial < 20; trial++) {
        float par[2 * PZ + 1], z[PZ], out[PZ];
        fd_fill_normal(&rng, par, 2 * PZ + 1, trial < 10 ? 0.7 : 2.0);
        fd_fill_normal(&rng, z, PZ, 1.0);
        double J[PZ * PZ], ld = 0;
        double num = numeric_logdet(planar_map, z, PZ, par, J);
        planar_map(out, &ld, z, par);
        double e = fabs(num - ld);
        if (e > worst) worst = e;
    }
    CHECK(worst < 2e-3, "planar log|det J| differs from the numerical Jacobian's by %.3g", worst);
}

/* ------------------------------------------------------------ MADE/IAF */

enum { AZ = 5, AH = 12, AC = 3 };
typedef struct {
    float W1[AH * (AZ + AC)], b1[AH], W2[2 * AZ * AH], b2[2 * AZ];
    float M1[AH * (AZ + AC)], M2[2 * AZ * AH], ctx[AC];
} made_net;

/* One whole IAF step: MADE(z, ctx) -> (m, s) -> the gate, in one row. */
static void iaf_map(float *out, double *ld, const float *z, void *c)
{
    made_net *n = c;
    float cat[AZ + AC], hid[AH], ms[2 * AZ], Wm1[AH * (AZ + AC)], Wm2[2 * AZ * AH];
    memcpy(cat, z, sizeof(float) * AZ);
    memcpy(cat + AZ, n->ctx, sizeof(float) * AC);
    masked_linear_forward(hid, Wm1, cat, n->W1, n->M1, n->b1, 1, AZ + AC, AH);
    tanh_forward(hid, hid, AH);
    masked_linear_forward(ms, Wm2, hid, n->W2, n->M2, n->b2, 1, AH, 2 * AZ);
    *ld = 0;
    iaf_gate_forward(out, ld, z, ms, 1, AZ);
}

static void check_made(int reverse)
{
    made_net n;
    made_masks(n.M1, n.M2, AZ, AC, AH, reverse);
    fd_fill_normal(&rng, n.W1, AH * (AZ + AC), 1.0);
    fd_fill_normal(&rng, n.b1, AH, 1.0);
    fd_fill_normal(&rng, n.W2, 2 * AZ * AH, 1.0);
    fd_fill_normal(&rng, n.b2, 2 * AZ, 1.0);
    fd_fill_normal(&rng, n.ctx, AC, 1.0);
    float z[AZ], out[AZ];
    fd_fill_normal(&rng, z, AZ, 1.0);
    /* the dependence structure: output j of (m, s) moves with z_i only when
     * order(i) < order(j), exactly (perturb and compare bits) */
    int bad = 0, moved = 0;
    for (int i = 0; i < AZ; i++) {
        float cat[AZ + AC], hid[AH], ms0[2 * AZ], ms1[2 * AZ], Wm1[AH * (AZ + AC)], Wm2[2 * AZ * AH];
        for (int pass = 0; pass < 2; pass++) {
            memcpy(cat, z, sizeof z);
            memcpy(cat + AZ, n.ctx, sizeof n.ctx);
            if (pass) cat[i] += 0.5f;
            masked_linear_forward(hid, Wm1, cat, n.W1, n.M1, n.b1, 1, AZ + AC, AH);
            tanh_forward(hid, hid, AH);
            masked_linear_forward(pass ? ms1 : ms0, Wm2, hid, n.W2, n.M2, n.b2, 1, AH, 2 * AZ);
        }
        int oi = reverse ? AZ - i : i + 1;
        for (int j = 0; j < 2 * AZ; j++) {
            int oj = reverse ? AZ - j % AZ : j % AZ + 1;
            int changed = ms0[j] != ms1[j];
            if (oi >= oj && changed) bad++;
            moved += oi < oj && changed;
        }
    }
    CHECK(bad == 0, "MADE (reverse %d): %d outputs depend on inputs of equal or higher order", reverse, bad);
    CHECK(moved > AZ, "MADE (reverse %d): only %d outputs depend on lower-order inputs", reverse, moved);
    /* so the step's Jacobian is triangular in the order, with diagonal
     * sigma_j, and log|det| = sum log sigma_j matches the numerical one */
    double J[AZ * AZ], ld;
    double num = numeric_logdet(iaf_map, z, AZ, &n, J);
    iaf_map(out, &ld, z, &n);
    double upper = 0;
    for (int i = 0; i < AZ; i++)
        for (int j = 0; j < AZ; j++) {
            int oi = reverse ? AZ - i : i + 1, oj = reverse ? AZ - j : j + 1;
            if (oi > oj) upper = fmax(upper, fabs(J[j * AZ + i])); /* dz'_j / dz_i */
        }
    CHECK(upper < 1e-6, "IAF step (reverse %d): Jacobian not triangular (%.3g)", reverse, upper);
    CHECK(fabs(num - ld) < 2e-3, "IAF step (reverse %d): log|det| %.6f, numerical %.6f", reverse, ld, num);
}

/* ------------------------------------------------- planar invertibility */

static void check_planar_invertible(void)
{
    int bad_c = 0, bad_inv = 0;
    double worst = 0;
    for (int trial = 0; trial < 200; trial++) {
        float par[2 * PZ + 1], uh[PZ], z[PZ], y[PZ];
        double scale = trial < 100 ? 1.0 : 10.0; /* large |u| pushes w.u far below -1 */
        fd_fill_normal(&rng, par, 2 * PZ + 1, scale);
        if (trial % 4 == 0) /* u = -c w: w.u very negative, unconstrained f not invertible */
            for (int j = 0; j < PZ; j++) par[j] = -3.0f * par[PZ + j];
        planar_uhat(uh, par, PZ);
        const float *u = par, *w = par + PZ, b = par[2 * PZ];
        double wu0 = 0, wu = 0, uu = 0, ww = 0;
        for (int j = 0; j < PZ; j++) {
            wu0 += (double)w[j] * u[j];
            wu += (double)w[j] * uh[j];
            uu += (double)uh[j] * uh[j];
            ww += (double)w[j] * w[j];
        }
        /* w.u^ = m(w.u) = -1 + softplus(w.u): above -1 wherever softplus is
         * representable next to 1 (w.u > -30), never below it (beyond the
         * float rounding of u^) */
        double mwu = -1.0 + log1p(exp(wu0));
        bad_c += !(wu0 > -30 ? mwu > -1.0 : mwu >= -1.0) ||
                 fabs(wu - mwu) > 1e-5 * (1 + sqrt(uu * ww));
        fd_fill_normal(&rng, z, PZ, 1.5);
        double ld = 0;
        planar_forward(y, &ld, z, par, 1, 1, PZ, 2 * PZ + 1);
        /* invert: y = z + u^ tanh(w.z + b), so a = w.z solves
         * w.y = a + (w.u^) tanh(a + b), increasing in a when w.u^ > -1 */
        double wy = 0;
        for (int j = 0; j < PZ; j++) wy += (double)w[j] * y[j];
        double lo = -1e3, hi = 1e3;
        for (int it = 0; it < 200; it++) {
            double a = 0.5 * (lo + hi);
            if (a + wu * tanh(a + b) < wy) lo = a;
            else hi = a;
        }
        double a = 0.5 * (lo + hi), h = tanh(a + b), err = 0;
        for (int j = 0; j < PZ; j++) err = fmax(err, fabs(y[j] - uh[j] * h - z[j]));
        if (err > worst) worst = err;
        bad_inv += err > 1e-3 * (1 + scale);
    }
    CHECK(bad_c == 0, "planar: w.u^ is not m(w.u) > -1 in %d of 200 draws", bad_c);
    CHECK(bad_inv == 0, "planar: %d of 200 layers not inverted (worst %.3g)", bad_inv, worst);
}

/* ------------------------------------------------------ the whole VAE */

typedef struct {
    elbo_vae *m;
    const float *x, *eps;
    int B, K; /* K > 0: the IWAE with K samples */
} vae_ctx;

/* The loss of v's batch; the noise is z1's rows, then z2's (two layers), as
 * the fixture hook lays it out. */
static double L_vae(void *c)
{
    vae_ctx *v = c;
    vae_worker *w = vae_worker_of(v->m, 0);
    const elbo_vae_config *cf = elbo_vae_get_config(v->m);
    int R = v->B * (v->K ? v->K : 1);
    memcpy(w->x, v->x, sizeof(float) * v->B * cf->input_dim);
    memcpy(w->eps, v->eps, sizeof(float) * R * cf->latent_dim);
    if (cf->latent2) memcpy(w->h.eps2, v->eps + R * cf->latent_dim, sizeof(float) * R * cf->latent2);
    if (v->K) {
        vae_forward_iwae(v->m, w, v->B, v->K);
        return w->iwae_t; /* the tempered bound when iw_beta < 1 */
    }
    vae_forward(v->m, w, v->B);
    return w->recon + w->kl;
}

/* A small VAE for the whole-loss checks: 10 inputs, hidden 7 (then 5),
 * latent Z, one of the flows or a second layer (latent2 > 0). */
static elbo_vae *small_vae(int Z, int n_hidden, elbo_activation act, elbo_flow flow, int len,
                           int latent2, int n_hidden2)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.input_dim = 10;
    c.latent_dim = Z;
    c.n_hidden = n_hidden;
    c.hidden[0] = 7;
    c.hidden[1] = 5;
    c.max_batch = 8;
    c.threads = 1;
    c.activation = act;
    c.flow = flow;
    c.flow_len = len;
    c.flow_hidden = flow == ELBO_FLOW_IAF ? 6 : 0;
    c.latent2 = latent2;
    c.n_hidden2 = n_hidden2;
    c.hidden2[0] = 5;
    c.hidden2[1] = 6;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, 7, &err);
    CHECK(m != NULL, "%s", err.msg);
    return m;
}

static elbo_vae *flow_vae(elbo_flow flow, int len, int n_hidden, elbo_activation act)
{
    return small_vae(3, n_hidden, act, flow, len, 0, 0);
}

/* The whole loss of m (ELBO, or the IWAE with K > 0 samples) on a random
 * batch: every tensor's gradient against finite differences. Returns how
 * many tensor names contain mark (the new layers' tensors). */
static float iw_beta = 1.0f; /* the IWAE checks' KL weight (a warm-up's) */

static int check_whole_loss(elbo_vae *m, int K, const char *tag, const char *mark)
{
    m->iw_beta = K ? iw_beta : 1.0f;
    const elbo_vae_config *cf = elbo_vae_get_config(m);
    int B = K ? 2 : 4, R = B * (K ? K : 1), nz = cf->latent_dim + cf->latent2;
    float x[8 * 10], eps[8 * 16];
    for (int i = 0; i < B * 10; i++) x[i] = (float)elbo_rng_uniform(&rng);
    fd_fill_normal(&rng, eps, R * nz, 1);
    vae_ctx v = {m, x, eps, B, K};
    double L = L_vae(&v);
    vae_worker *w = vae_worker_of(m, 0);
    if (K) vae_backward_iwae(m, w, B, K);
    else vae_backward(m, w, B);
    if (cf->latent2 && !K)
        CHECK(fabs(w->kl - (w->h.kl1 + w->h.kl2)) < 1e-9 * (1 + fabs(L)), "kl != kl_z1 + kl_z2");
    model *mb = vae_base(m);
    float *g = malloc(sizeof(float) * mb->n_params);
    vae_param_grads(m, 1, g);
    char what[96];
    int marked = 0;
    for (int ti = 0; ti < mb->n_tensors; ti++) {
        const model_tensor *t = &mb->tensors[ti];
        snprintf(what, sizeof what, "%s,K=%d,beta=%g.%s", tag, K, (double)m->iw_beta, t->name);
        for (const char *p = mark; *p;) { /* mark: names separated by '|' */
            size_t n = strcspn(p, "|");
            char one[16];
            snprintf(one, sizeof one, "%.*s", (int)n, p);
            if (strstr(t->name, one)) {
                marked++;
                break;
            }
            p += n + (p[n] == '|');
        }
        fd_check_h(what, mb->params + t->off, g + t->off, (long)t->n, L_vae, &v, 1e-3, DETECT_KINKS);
    }
    free(g);
    return marked;
}

static void check_vae_flow(elbo_flow flow, int len, int n_hidden, elbo_activation act, int K)
{
    elbo_vae *m = flow_vae(flow, len, n_hidden, act);
    if (!m) return;
    char tag[64];
    snprintf(tag, sizeof tag, "vae(%s%d,L=%d,act%d)", flow == ELBO_FLOW_PLANAR ? "planar" : "iaf", len,
             n_hidden, (int)act);
    int n = check_whole_loss(m, K, tag, "_flow|_ctx|iaf");
    CHECK(n == (flow == ELBO_FLOW_PLANAR ? 2 : 2 + 4 * len), "%d flow tensors in the table", n);
    elbo_vae_free(m);
}

/* The masked weights stay out of the gradient: Adam never moves them away
 * from whatever they hold, and the forward pass ignores them. */
static void check_mask_gradient(void)
{
    elbo_vae *m = flow_vae(ELBO_FLOW_IAF, 2, 1, ELBO_ACT_TANH);
    if (!m) return;
    float x[4 * 10], eps[4 * 3];
    for (int i = 0; i < 40; i++) x[i] = (float)elbo_rng_uniform(&rng);
    fd_fill_normal(&rng, eps, 12, 1);
    vae_ctx v = {m, x, eps, 4, 0};
    L_vae(&v);
    vae_backward(m, vae_worker_of(m, 0), 4);
    model *mb = vae_base(m);
    float *g = malloc(sizeof(float) * mb->n_params);
    vae_param_grads(m, 1, g);
    int leaks = 0, masked = 0;
    for (int li = 0; li < m->n_layers; li++) {
        const vae_layer *l = &m->layers[li];
        if (!l->mask) continue;
        for (long i = 0; i < (long)l->in * l->out; i++)
            if (l->mask[i] == 0) {
                masked++;
                leaks += g[l->w_off + i] != 0;
            }
    }
    CHECK(masked > 0 && leaks == 0, "%d of %d masked weights got a gradient", leaks, masked);
    /* changing a masked weight does not change the loss */
    double L0 = L_vae(&v);
    for (int li = 0; li < m->n_layers; li++) {
        const vae_layer *l = &m->layers[li];
        if (!l->mask) continue;
        for (long i = 0; i < (long)l->in * l->out; i++)
            if (l->mask[i] == 0) mb->params[l->w_off + i] += 3.0f;
    }
    CHECK(L_vae(&v) == L0, "the loss moved with masked weights");
    free(g);
    elbo_vae_free(m);
}

/* The two-stochastic-layer VAE (vae_hier.c): every tensor, ELBO and IWAE. */
static void check_vae_hier(int n_hidden2, elbo_activation act, int K)
{
    elbo_vae *m = small_vae(4, 1, act, ELBO_FLOW_NONE, 0, 3, n_hidden2);
    if (!m) return;
    char tag[64];
    snprintf(tag, sizeof tag, "hier(L2=%d,act%d)", n_hidden2, (int)act);
    int n = check_whole_loss(m, K, tag, "q2_|p1_");
    CHECK(n == 4 * (n_hidden2 + 2), "%d second-layer tensors", n);
    elbo_vae_free(m);
}

/* The tempered IWAE: the bound reported stays the beta = 1 one, the
 * objective is the tempered one (they differ), and at beta = 0 the
 * normalised weights are those of the reconstruction terms alone. */
static void check_tempered_iwae(void)
{
    elbo_vae *m = small_vae(3, 1, ELBO_ACT_TANH, ELBO_FLOW_NONE, 0, 0, 0);
    if (!m) return;
    float x[2 * 10], eps[2 * 4 * 3];
    for (int i = 0; i < 20; i++) x[i] = (float)elbo_rng_uniform(&rng);
    fd_fill_normal(&rng, eps, 24, 1);
    vae_ctx v = {m, x, eps, 2, 4};
    vae_worker *w = vae_worker_of(m, 0);
    m->iw_beta = 1.0f;
    double L1 = L_vae(&v), L1r = w->iwae;
    m->iw_beta = 0.4f;
    double Lt = L_vae(&v), Ltr = w->iwae;
    CHECK(L1 == L1r && Ltr == L1r, "the reported bound moved with beta: %.17g, %.17g", L1r, Ltr);
    CHECK(fabs(Lt - L1) > 1e-3, "the tempered objective equals the untempered one (%g)", Lt);
    m->iw_beta = 0.0f;
    L_vae(&v);
    for (int i = 0; i < 2; i++) { /* w~_k = softmax_k(-recon_k) */
        double rec[4], mx = -1e300, s = 0;
        for (int k = 0; k < 4; k++) {
            long r = i * 4 + k;
            vae_recon_forward(m, w->probs + r * 10, w->logits + r * 10, x + i * 10, 0, 1, &rec[k]);
            mx = fmax(mx, -rec[k]);
        }
        for (int k = 0; k < 4; k++) s += exp(-rec[k] - mx);
        for (int k = 0; k < 4; k++)
            CHECK(fabs(w->lw[i * 4 + k] - exp(-rec[k] - mx) / s) < 1e-9, "beta = 0 weight %d,%d", i, k);
    }
    elbo_vae_free(m);
}

int main(void)
{
    elbo_rng_seed(&rng, 515);
    check_planar_grad();
    check_gate_grad();
    check_masked_grad();
    check_planar_logdet();
    check_made(0);
    check_made(1);
    check_planar_invertible();
    check_mask_gradient();
    check_vae_flow(ELBO_FLOW_PLANAR, 1, 1, ELBO_ACT_TANH, 0);
    check_vae_flow(ELBO_FLOW_PLANAR, 4, 2, ELBO_ACT_RELU, 0);
    check_vae_flow(ELBO_FLOW_PLANAR, 3, 1, ELBO_ACT_SOFTPLUS, 3);
    check_vae_flow(ELBO_FLOW_IAF, 1, 1, ELBO_ACT_TANH, 0);
    check_vae_flow(ELBO_FLOW_IAF, 3, 2, ELBO_ACT_SOFTPLUS, 0);
    check_vae_flow(ELBO_FLOW_IAF, 2, 1, ELBO_ACT_TANH, 2);
    check_vae_hier(1, ELBO_ACT_TANH, 0);
    check_vae_hier(2, ELBO_ACT_RELU, 0);
    check_vae_hier(2, ELBO_ACT_TANH, 3);
    iw_beta = 0.3f; /* the IWAE under a KL warm-up: log-weights' latent terms tempered */
    check_vae_flow(ELBO_FLOW_PLANAR, 3, 1, ELBO_ACT_SOFTPLUS, 3);
    check_vae_flow(ELBO_FLOW_IAF, 2, 1, ELBO_ACT_TANH, 2);
    check_vae_hier(2, ELBO_ACT_TANH, 3);
    check_tempered_iwae();
    return check_summary("test_flow");
}
