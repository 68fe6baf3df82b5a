/* bayes.c — see bayes.h. Plain loops: these ops are O(rows x units) beside
 * the O(rows x units x inputs) products, which own the time. */
#include "bayes.h"

#include <string.h>

#include "fastmath.h"

#include <math.h>

/* The sum of m floats in double with 8 independent accumulators (a single
 * one would be a chain of dependent adds, 4 cycles each, slower than the
 * vectorised loops that fill the terms). */
static double sum_terms(const float *t, long m)
{
    double a[8] = {0};
    long j = 0;
    for (; j + 8 <= m; j += 8)
        for (int k = 0; k < 8; k++) a[k] += t[j + k];
    for (; j < m; j++) a[0] += t[j];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

void square_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++) out[i] = in[i] * in[i];
}

void square_backward(float *din, const float *dout, const float *in, long n)
{
    for (long i = 0; i < n; i++) din[i] += 2.0f * in[i] * dout[i];
}

void gauss_lrt_forward(float *out, const float *mean, const float *var, const float *eps, long n)
{
    for (long i = 0; i < n; i++) out[i] = mean[i] + sqrtf(var[i]) * eps[i];
}

void gauss_lrt_backward(float *dmean, float *dvar, const float *dout, const float *var,
                        const float *eps, long n)
{
    for (long i = 0; i < n; i++) {
        dmean[i] += dout[i];
        dvar[i] += dout[i] * eps[i] * 0.5f / sqrtf(var[i]);
    }
}

/* softplus and sigmoid of one value, stable for any rho */
static inline double sp(double r) { return r > 0 ? r + log1p(exp(-r)) : log1p(exp(r)); }
static inline double sig(double r)
{
    return r >= 0 ? 1.0 / (1.0 + exp(-r)) : exp(r) / (1.0 + exp(r));
}

void softplus_sq_forward(float *var, const float *rho, long n)
{
    for (long i = 0; i < n; i++) {
        double s = sp(rho[i]);
        var[i] = (float)(s * s);
    }
}

void softplus_sq_backward(float *drho, const float *dvar, const float *rho, long n)
{
    for (long i = 0; i < n; i++) drho[i] += (float)(dvar[i] * 2.0 * sp(rho[i]) * sig(rho[i]));
}

double kl_gauss_prior_forward(const float *mu, const float *rho, long n, double prior_var)
{
    double s = 0.0, half_log_pv = 0.5 * log(prior_var);
    for (long i = 0; i < n; i++) {
        double sd = sp(rho[i]);
        s += half_log_pv - log(sd) + (sd * sd + (double)mu[i] * mu[i]) / (2.0 * prior_var) - 0.5;
    }
    return s;
}

void kl_gauss_prior_backward(float *dmu, float *drho, const float *mu, const float *rho, long n,
                             double prior_var, float scale)
{
    float c = (float)(scale / prior_var);
    for (long i = 0; dmu && i < n; i++) dmu[i] += c * mu[i];
    for (long i = 0; drho && i < n; i++) {
        double sd = sp(rho[i]);
        drho[i] += (float)(scale * (sd / prior_var - 1.0 / sd) * sig(rho[i]));
    }
}

/* softplus(rho) and what the per-weight passes below build on it:
 * sd = sigma, lsd = log sigma, g = sigmoid(rho) = d sigma / d rho and
 * gsd = g / sigma. For rho <= 0 (nearly every weight of a network: rho
 * starts near -6), with e = e^rho, sigma = e P1(e) and log sigma =
 * rho + P2(e) (fastmath.h), and one division gives g / sigma =
 * 1 / ((1 + e) P1(e)) and so g: no log and one division instead of three.
 * For any rho, softplus and sigmoid from one exp and a log. Both are
 * branch-free, so the loops that call them vectorise; a pass takes the
 * first for a block of weights, and the block again with the second if
 * one of its rho is > 0. */
typedef struct {
    float sd, lsd, g, gsd;
} softplus_t;

static inline softplus_t softplus_neg(float r)
{
    float e = elbo_exp_neg(r), p1 = elbo_log1p_over_e(e), inv = 1.0f / ((1.0f + e) * p1);
    softplus_t o = {e * p1, r + elbo_log_log1p_over_e(e), e * p1 * inv, inv};
    return o;
}

static inline softplus_t softplus_any(float r)
{
    float e = elbo_exp_neg(-fabsf(r)), s = (r > 0 ? r : 0.0f) + elbo_log1p_01(e);
    float g = (r >= 0 ? 1.0f : e) / (1.0f + e);
    softplus_t o = {s, elbo_log_pos(s), g, g / s};
    return o;
}

/* The per-weight passes work in blocks of SP_BLOCK weights. */
enum { SP_BLOCK = 512 };

/* gauss_prior_stats' outputs for weight i from its softplus t; returns
 * its KL term. */
static inline float gauss_prior_elem(float *var, float *dvar, float *dkl, float mu, softplus_t t, float hl,
                                     float ipv, float h)
{
    *var = t.sd * t.sd;
    *dvar = 2.0f * t.sd * t.g; /* the factors of the rho gradient */
    *dkl = t.sd * t.g * ipv - t.gsd;
    return hl - t.lsd + (t.sd * t.sd + mu * mu) * h - 0.5f;
}

double gauss_prior_stats(float *var, float *dvar, float *dkl, const float *mu, const float *rho,
                         long n, double prior_var)
{
    const float hl = (float)(0.5 * log(prior_var)), ipv = (float)(1.0 / prior_var), h = (float)(0.5 / prior_var);
    float term[SP_BLOCK];
    double kl = 0.0;
    for (long i0 = 0; i0 < n; i0 += SP_BLOCK) {
        long m = n - i0 < SP_BLOCK ? n - i0 : SP_BLOCK;
        float *v = var + i0, *dv = dvar + i0, *dk = dkl + i0;
        const float *u = mu + i0, *r = rho + i0;
        int pos = 0;
        for (long j = 0; j < m; j++) {
            pos |= r[j] > 0.0f;
            term[j] = gauss_prior_elem(v + j, dv + j, dk + j, u[j], softplus_neg(r[j]), hl, ipv, h);
        }
        if (pos) /* some rho > 0: the block again, for any rho */
            for (long j = 0; j < m; j++)
                term[j] = gauss_prior_elem(v + j, dv + j, dk + j, u[j], softplus_any(r[j]), hl, ipv, h);
        kl += sum_terms(term, m);
    }
    return kl;
}

void normal_fill_fast(elbo_rng *rng, float *out, long n)
{
    enum { CH = 256 };
    uint64_t bits[CH];
    for (long i0 = 0; i0 < n; i0 += 2 * CH) {
        long m = n - i0 < 2 * CH ? n - i0 : 2 * CH, pairs = (m + 1) / 2;
        uint64_t st[4] = {rng->s[0], rng->s[1], rng->s[2], rng->s[3]}; /* in registers */
        for (long k = 0; k < pairs; k++) bits[k] = elbo_rng_next_inline(st);
        memcpy(rng->s, st, sizeof st);
        float z[2 * CH];
        for (long k = 0; k < pairs; k++) { /* vectorised: no calls, no branches */
            uint64_t x = bits[k];
            float u1 = ((float)(uint32_t)(x >> 40) + 0.5f) * (1.0f / 16777216.0f);     /* (0, 1) */
            float u2 = ((float)(uint32_t)((x >> 16) & 0xffffff) + 0.5f) * (1.0f / 16777216.0f);
            float sign = (x & 1) ? -1.0f : 1.0f, sn, cs;
            float rad = sqrtf(-2.0f * elbo_log_pos(u1));
            elbo_sincos_half_pi(3.14159265f * (u2 - 0.5f), &sn, &cs); /* the angle's other half: the sign */
            z[2 * k] = sign * rad * cs;
            z[2 * k + 1] = sign * rad * sn;
        }
        memcpy(out + i0, z, sizeof(float) * (size_t)m);
    }
}

/* The constants of kl_mixture_mc's mixture. */
typedef struct {
    float c, la, lb, h1, h2, i1, i2;
} mixture_k;

/* kl_mixture_mc's gradients and factors for one weight (mu, eps) from its
 * softplus t; returns its term log q - log p. */
static inline float mixture_elem(float *dmu, float *drho, float *sv, float *sdv, float mu, float eps,
                                 softplus_t t, const mixture_k *k)
{
    float w = mu + t.sd * eps, w2 = w * w;
    float a = k->la - w2 * k->h1, b = k->lb - w2 * k->h2, mx = a > b ? a : b, mn = a > b ? b : a;
    /* the smaller component's share e^(mn - mx), floored at e^-40 (4e-18,
     * beneath float's resolution next to 1): below that its powers in
     * log1p would be subnormal, and subnormal arithmetic is many times
     * slower on x86 */
    float d = mn - mx, z = elbo_exp_neg(d > -40.0f ? d : -40.0f), ra = (a > b ? 1.0f : z) / (1.0f + z);
    float logp = mx + elbo_log1p_01(z) - k->c;
    float dlogp = -w * (ra * k->i1 + (1.0f - ra) * k->i2);
    float logq = -t.lsd - 0.5f * eps * eps - k->c;
    *dmu = -dlogp;
    *drho = -t.gsd - eps * dlogp * t.g;
    *sv = t.sd * t.sd;
    *sdv = 2.0f * t.sd * t.g;
    return logq - logp;
}

double kl_mixture_mc(float *dmu, float *drho, float *var, float *dvar, const float *mu,
                     const float *rho, const float *eps, long n, double pi, double s1, double s2)
{
    /* log N(w; 0, s^2) = -w^2 / 2s^2 - log s - log(2 pi) / 2; the mixture by
     * log-sum-exp, its derivative through the responsibilities */
    const mixture_k k = {0.91893853320467274178f, (float)(log(pi) - log(s1)), (float)(log1p(-pi) - log(s2)),
                         (float)(0.5 / (s1 * s1)), (float)(0.5 / (s2 * s2)), (float)(1.0 / (s1 * s1)),
                         (float)(1.0 / (s2 * s2))};
    float term[SP_BLOCK], sv[SP_BLOCK], sdv[SP_BLOCK]; /* sigma^2 and its rho gradient factor, for var and dvar */
    double kl = 0.0;
    for (long i0 = 0; i0 < n; i0 += SP_BLOCK) {
        long m = n - i0 < SP_BLOCK ? n - i0 : SP_BLOCK;
        float *gm = dmu + i0, *gr = drho + i0;
        const float *u = mu + i0, *r = rho + i0, *e = eps + i0;
        int pos = 0;
        for (long j = 0; j < m; j++) {
            pos |= r[j] > 0.0f;
            term[j] = mixture_elem(gm + j, gr + j, sv + j, sdv + j, u[j], e[j], softplus_neg(r[j]), &k);
        }
        if (pos) /* some rho > 0: the block again, for any rho */
            for (long j = 0; j < m; j++)
                term[j] = mixture_elem(gm + j, gr + j, sv + j, sdv + j, u[j], e[j], softplus_any(r[j]), &k);
        if (var) { /* from the same sigma: softplus is computed once a weight */
            memcpy(var + i0, sv, sizeof(float) * (size_t)m);
            memcpy(dvar + i0, sdv, sizeof(float) * (size_t)m);
        }
        kl += sum_terms(term, m);
    }
    return kl;
}

double softmax_xent_forward(float *probs, const float *logits, const int32_t *y, int B, int C)
{
    double nll = 0.0;
    for (int b = 0; b < B; b++) {
        const float *l = logits + (long)b * C;
        float *p = probs + (long)b * C;
        float mx = l[0];
        for (int c = 1; c < C; c++) mx = l[c] > mx ? l[c] : mx;
        double z = 0.0;
        for (int c = 0; c < C; c++) z += exp((double)l[c] - mx);
        for (int c = 0; c < C; c++) p[c] = (float)(exp((double)l[c] - mx) / z);
        nll += log(z) + mx - l[y[b]];
    }
    return nll;
}

void softmax_xent_backward(float *dlogits, const float *probs, const int32_t *y, int B, int C,
                           float scale)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            dlogits[(long)b * C + c] += scale * (probs[(long)b * C + c] - (c == y[b] ? 1.0f : 0.0f));
}
