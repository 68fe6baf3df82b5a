/* bayes.c — see bayes.h. Plain loops: these ops are O(rows x units) beside
 * the O(rows x units x inputs) products, which own the time. */
#include "bayes.h"

#include <math.h>

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
    for (long i = 0; dmu && i < n; i++) dmu[i] += (float)(scale * (double)mu[i] / prior_var);
    for (long i = 0; drho && i < n; i++) {
        double sd = sp(rho[i]);
        drho[i] += (float)(scale * (sd / prior_var - 1.0 / sd) * sig(rho[i]));
    }
}

double gauss_prior_stats(float *var, float *dvar, float *dkl, const float *mu, const float *rho,
                         long n, double prior_var)
{
    double s = 0.0, half_log_pv = 0.5 * log(prior_var);
    for (long i = 0; i < n; i++) {
        double r = rho[i], e = exp(-fabs(r)); /* softplus and sigmoid from one exp */
        double sd = (r > 0 ? r : 0.0) + log1p(e), g = r >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        var[i] = (float)(sd * sd);
        dvar[i] = (float)(2.0 * sd * g);
        dkl[i] = (float)((sd / prior_var - 1.0 / sd) * g);
        s += half_log_pv - log(sd) + (sd * sd + (double)mu[i] * mu[i]) / (2.0 * prior_var) - 0.5;
    }
    return s;
}

double kl_mixture_mc(float *dmu, float *drho, float *var, float *dvar, const float *mu,
                     const float *rho, const float *eps, long n, double pi, double s1, double s2)
{
    /* log N(w; 0, s^2) = -w^2 / 2s^2 - log s - log(2 pi) / 2; the mixture by
     * log-sum-exp, its derivative through the responsibilities */
    const double half_log_2pi = 0.91893853320467274178, la = log(pi), lb = log1p(-pi);
    double kl = 0.0;
    for (long i = 0; i < n; i++) {
        double r = rho[i], e = exp(-fabs(r));
        double sd = (r > 0 ? r : 0.0) + log1p(e), g = r >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        double w = mu[i] + sd * eps[i], w2 = w * w;
        double a = la - w2 / (2 * s1 * s1) - log(s1), b = lb - w2 / (2 * s2 * s2) - log(s2);
        double mx = a > b ? a : b, za = exp(a - mx), zb = exp(b - mx);
        double logp = mx + log(za + zb) - half_log_2pi;
        double ra = za / (za + zb), dlogp = -w * (ra / (s1 * s1) + (1 - ra) / (s2 * s2));
        double logq = -log(sd) - 0.5 * (double)eps[i] * eps[i] - half_log_2pi;
        kl += logq - logp;
        dmu[i] = (float)-dlogp;
        drho[i] = (float)((-1.0 / sd - eps[i] * dlogp) * g);
        if (var) {
            var[i] = (float)(sd * sd);
            dvar[i] = (float)(2.0 * sd * g);
        }
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
