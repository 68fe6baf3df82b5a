/* bnn_predict.c — the predictive distribution of the Bayesian MLP (and of
 * its point-weight baseline): S draws of the weights (or of the dropout
 * masks) per row, averaged; the classifier's and the regressor's metrics;
 * the standardization moments. The model and its step are bnn.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../nn/bayes.h"
#include "bnn_internal.h"

/* Draws with any randomness: a point network without dropout has one. */
static int draws(const elbo_bnn *m, int S) { return m->point && !(m->cfg.dropout > 0) ? 1 : S; }

/* Worker w's noise for one draw: the pre-activations' eps and the dropout
 * masks of its B rows. */
static void draw_noise(const elbo_bnn *m, bnn_worker *w, int B, elbo_rng *rng)
{
    for (int l = 0; !m->point && l < m->n_layers; l++)
        normal_fill_fast(rng, w->eps[l], (long)B * m->layers[l].out);
    for (int l = 0; m->cfg.dropout > 0 && l + 1 < m->n_layers; l++)
        bnn_fill_masks(w->mask[l], (long)B * m->layers[l].out, m->cfg.dropout, rng);
}

/* Adds the entropy of every row's probabilities / S to ent [B]. */
static void add_entropy(float *ent, const float *probs, int B, int C, int S)
{
    for (int r = 0; r < B; r++) {
        double h = 0.0;
        for (int k = 0; k < C; k++) {
            double q = probs[(size_t)r * C + k];
            h -= q > 0 ? q * log(q) : 0.0;
        }
        ent[r] += (float)(h / S);
    }
}

/* A regressor's draw into the sums of row r: mean, mean square and the
 * running log-sum-exp of the standardized target's log density. */
static void add_regression(const elbo_bnn *m, const bnn_worker *w, const bnn_pred *o, int start, int S, int s)
{
    const float *f = w->out[m->n_layers - 1];
    double lv = m->base.params[m->logvar], half_log_2pi = 0.91893853320467274178;
    for (int r = 0; r < w->rows; r++) {
        o->probs[start + r] += f[r] / (float)S;
        o->ent[start + r] += f[r] * f[r] / (float)S;
        if (!o->lpd) continue;
        double e = (double)w->t[r] - f[r], lp = -0.5 * (e * e * exp(-lv) + lv) - half_log_2pi;
        double *acc = &o->lpd[start + r], hi = s == 0 || lp > *acc ? lp : *acc, lo = s == 0 ? lp : lp + *acc - hi;
        *acc = s == 0 ? lp : hi + log1p(exp(lo - hi));
    }
}

typedef struct {
    const elbo_dataset *ds;
    const float *x;
    int S;
    const bnn_pred *out;
} predict_arg;

/* One chunk of B rows from start, with its own PRNG stream. */
static void predict_chunk(model *base, int t, int c, int start, int B, elbo_rng *rng, void *arg)
{
    elbo_bnn *m = (elbo_bnn *)base;
    bnn_worker *w = &m->w[t];
    const predict_arg *a = arg;
    const bnn_pred *o = a->out;
    int C = m->layers[m->n_layers - 1].out, D = m->cfg.input_dim, S = a->S;
    if (a->ds) {
        bnn_load_rows(m, w, a->ds, NULL, start, B);
    } else {
        elbo_dataset view = {.n = start + B, .dim = D, .dtype = ELBO_DTYPE_F32, .f32 = (float *)a->x};
        bnn_load_rows(m, w, &view, NULL, start, B); /* standardized as training rows are */
    }
    float *probs = o->probs + (size_t)start * C;
    memset(probs, 0, sizeof(float) * (size_t)B * C);
    if (o->ent) memset(o->ent + start, 0, sizeof(float) * (size_t)B);
    for (int s = 0; s < S; s++) {
        draw_noise(m, w, B, rng);
        double nll = bnn_forward(m, w);
        if (s == 0 && o->nll1) o->nll1[c] = nll;
        if (m->regress) {
            add_regression(m, w, o, start, S, s);
            continue;
        }
        for (long i = 0; i < (long)B * C; i++) probs[i] += w->probs[i] / (float)S;
        if (o->ent) add_entropy(o->ent + start, w->probs, B, C, S);
    }
}

int bnn_eval_rows(const elbo_bnn *m) { return m->cfg.max_batch < 128 ? m->cfg.max_batch : 128; }

void bnn_predict_all(elbo_bnn *m, const elbo_dataset *ds, const float *x, int n, int S, uint64_t seed,
                     const bnn_pred *out)
{
    bnn_update_sigma(m);
    predict_arg a = {ds, x, draws(m, S), out};
    model_for_row_chunks(&m->base, n, bnn_eval_rows(m), seed, predict_chunk, &a);
}

/* ---------------------------------------------------------- the classifier */

static elbo_status need(const elbo_bnn *m, int regress, elbo_error *err)
{
    if (m->regress == regress) return ELBO_OK;
    return elbo_fail(err, ELBO_ERR_ARG, "the model is a %s; this call is for a %s",
                     m->regress ? "regressor" : "classifier", regress ? "regressor" : "classifier");
}

elbo_status elbo_bnn_predict(elbo_bnn *m, const float *x, int n, int S, uint64_t seed, float *probs,
                             float *exp_entropy, elbo_error *err)
{
    ELBO_ASSERT(m && x && probs);
    if (need(m, 0, err)) return ELBO_ERR_ARG;
    if (n < 1 || S < 1) return elbo_fail(err, ELBO_ERR_ARG, "need n >= 1 rows and S >= 1 draws");
    bnn_pred o = {.probs = probs, .ent = exp_entropy};
    bnn_predict_all(m, NULL, x, n, S, seed, &o);
    for (long i = 0; i < (long)n * m->cfg.n_classes; i++)
        if (!isfinite(probs[i])) return elbo_fail(err, ELBO_ERR_NUMERIC, "row %ld: prediction is not finite", i / m->cfg.n_classes);
    return ELBO_OK;
}

/* What every evaluation checks: the kind of model, the data set, the draws. */
static elbo_status eval_check(const elbo_bnn *m, int regress, const elbo_dataset *ds, int S, elbo_error *err)
{
    elbo_status st = need(m, regress, err);
    if (!st) st = elbo_bnn_check_dataset(m, ds, err);
    if (!st && S < 1) st = elbo_fail(err, ELBO_ERR_ARG, "S = %d draws; need at least 1", S);
    return st;
}

/* Accuracy, NLL, ECE (15 bins) and Brier score of probs against labels. */
static void metrics_of(const float *probs, const int32_t *y, int n, int C, elbo_bnn_metrics *out)
{
    enum { BINS = 15 };
    double conf[BINS] = {0}, hit[BINS] = {0}, cnt[BINS] = {0}, nll = 0, brier = 0;
    long correct = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * C;
        int best = row_argmax(p, C);
        correct += best == y[i];
        double py = p[y[i]];
        nll -= log(py > 1e-30 ? py : 1e-30);
        for (int c = 0; c < C; c++) brier += (p[c] - (c == y[i])) * (p[c] - (c == y[i]));
        int b = (int)(p[best] * BINS);
        b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
        conf[b] += p[best];
        hit[b] += best == y[i];
        cnt[b]++;
    }
    double ece = 0;
    for (int b = 0; b < BINS; b++) ece += fabs(hit[b] - conf[b]) / n;
    memset(out, 0, sizeof *out);
    *out = (elbo_bnn_metrics){.accuracy = (double)correct / n, .nll = nll / n, .ece = ece, .brier = brier / n, .n = n};
    for (int b = 0; b < BINS; b++) {
        out->bin_n[b] = (long)cnt[b];
        out->bin_acc[b] = cnt[b] > 0 ? hit[b] / cnt[b] : NAN;
        out->bin_conf[b] = cnt[b] > 0 ? conf[b] / cnt[b] : NAN;
    }
}

elbo_status elbo_bnn_evaluate(elbo_bnn *m, const elbo_dataset *ds, int S, uint64_t seed,
                              elbo_bnn_metrics *out, elbo_error *err)
{
    ELBO_ASSERT(m && out);
    elbo_status st = eval_check(m, 0, ds, S, err);
    if (st) return st;
    float *probs = malloc(sizeof(float) * (size_t)ds->n * m->cfg.n_classes);
    if (!probs) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d predictions", ds->n);
    bnn_pred o = {.probs = probs};
    bnn_predict_all(m, ds, NULL, ds->n, S, seed, &o);
    metrics_of(probs, ds->labels, ds->n, m->cfg.n_classes, out);
    free(probs);
    if (!isfinite(out->nll)) return elbo_fail(err, ELBO_ERR_NUMERIC, "the predictive NLL is not finite");
    return ELBO_OK;
}


/* ----------------------------------------------------------- the regressor */

/* The targets' mean and sd (0 and 1 without standardization). */
static void target_moments(const elbo_bnn *m, double *ym, double *ys)
{
    size_t D = (size_t)m->cfg.input_dim;
    const float *p = m->base.params;
    *ym = m->norm != BNN_NONE ? p[m->norm + 2 * D] : 0.0;
    *ys = m->norm != BNN_NONE ? p[m->norm + 2 * D + 1] : 1.0;
}

/* The predictive of n rows (ds or x) in the targets' units: mean, model and
 * noise sd [n]; with lpd, the log predictive density of each row's target. */
static elbo_status regress_rows(elbo_bnn *m, const elbo_dataset *ds, const float *x, int n, int S,
                                uint64_t seed, float *mean, float *model_sd, float *noise_sd, double *lpd,
                                elbo_error *err)
{
    float *sq = malloc(sizeof(float) * (size_t)n);
    if (!sq) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d predictions", n);
    bnn_pred o = {.probs = mean, .ent = sq, .lpd = lpd};
    bnn_predict_all(m, ds, x, n, S, seed, &o);
    double ym, ys, nsd;
    target_moments(m, &ym, &ys);
    nsd = ys * exp(0.5 * m->base.params[m->logvar]);
    int S_eff = draws(m, S);
    elbo_status st = ELBO_OK;
    for (int i = 0; i < n; i++) {
        double f = mean[i], v = sq[i] - f * f;
        mean[i] = (float)(ym + ys * f);
        if (model_sd) model_sd[i] = (float)(ys * sqrt(v > 0 ? v : 0.0));
        if (noise_sd) noise_sd[i] = (float)nsd;
        if (lpd) lpd[i] += -log((double)S_eff) - log(ys);
        if (!st && !isfinite(mean[i]))
            st = elbo_fail(err, ELBO_ERR_NUMERIC, "row %d: prediction is not finite", i);
    }
    free(sq);
    return st;
}

elbo_status elbo_bnn_predict_regression(elbo_bnn *m, const float *x, int n, int S, uint64_t seed,
                                        float *mean, float *model_sd, float *noise_sd, elbo_error *err)
{
    ELBO_ASSERT(m && x && mean);
    if (need(m, 1, err)) return ELBO_ERR_ARG;
    if (n < 1 || S < 1) return elbo_fail(err, ELBO_ERR_ARG, "need n >= 1 rows and S >= 1 draws");
    return regress_rows(m, NULL, x, n, S, seed, mean, model_sd, noise_sd, NULL, err);
}

/* Two-sided standard normal quantiles of the central 50%, 90% and 95%. */
static const double Z_COVER[3] = {0.6744897501960817, 1.6448536269514722, 1.959963984540054};

elbo_status elbo_bnn_evaluate_regression(elbo_bnn *m, const elbo_dataset *ds, int S, uint64_t seed,
                                         elbo_bnn_regression_metrics *out, elbo_error *err)
{
    ELBO_ASSERT(m && out);
    elbo_status st = eval_check(m, 1, ds, S, err);
    if (st) return st;
    int n = ds->n;
    float *buf = malloc(sizeof(float) * 3 * (size_t)n);
    double *lpd = malloc(sizeof(double) * (size_t)n);
    if (!buf || !lpd) st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d predictions", n);
    if (!st) st = regress_rows(m, ds, NULL, n, S, seed, buf, buf + n, buf + 2 * (size_t)n, lpd, err);
    memset(out, 0, sizeof *out);
    double se = 0, nll = 0, sd_sum = 0, in[3] = {0};
    for (int i = 0; !st && i < n; i++) {
        double e = ds->targets[i] - buf[i], msd = buf[n + i], nsd = buf[2 * n + i];
        double sd = sqrt(msd * msd + nsd * nsd);
        se += e * e;
        nll -= lpd[i];
        sd_sum += sd;
        for (int k = 0; k < 3; k++) in[k] += fabs(e) <= Z_COVER[k] * sd;
        out->noise_sd = nsd;
    }
    if (!st) {
        out->rmse = sqrt(se / n);
        out->nll = nll / n;
        out->mean_sd = sd_sum / n;
        for (int k = 0; k < 3; k++) out->coverage[k] = in[k] / n;
        out->n = n;
        if (!isfinite(out->nll)) st = elbo_fail(err, ELBO_ERR_NUMERIC, "the predictive NLL is not finite");
    }
    free(buf);
    free(lpd);
    return st;
}

/* --------------------------------------------------------- standardization */

elbo_status elbo_bnn_set_standardization(elbo_bnn *m, const double *x_mean, const double *x_sd, double y_mean,
                                         double y_sd, elbo_error *err)
{
    ELBO_ASSERT(m && x_mean && x_sd);
    if (m->norm == BNN_NONE)
        return elbo_fail(err, ELBO_ERR_ARG, "the model was created without standardize");
    int D = m->cfg.input_dim;
    for (int k = 0; k < D; k++)
        if (!isfinite(x_mean[k]) || !(x_sd[k] > 0) || !isfinite(x_sd[k]))
            return elbo_fail(err, ELBO_ERR_ARG, "column %d: mean %g, sd %g (need finite, sd > 0)", k, x_mean[k],
                             x_sd[k]);
    if (m->regress && (!isfinite(y_mean) || !(y_sd > 0) || !isfinite(y_sd)))
        return elbo_fail(err, ELBO_ERR_ARG, "targets: mean %g, sd %g (need finite, sd > 0)", y_mean, y_sd);
    float *p = m->base.params + m->norm;
    for (int k = 0; k < D; k++) {
        p[k] = (float)x_mean[k];
        p[D + k] = (float)x_sd[k];
    }
    if (m->regress) {
        p[2 * D] = (float)y_mean;
        p[2 * D + 1] = (float)y_sd;
    }
    return ELBO_OK;
}

void elbo_bnn_moments_of(const elbo_dataset *ds, double *x_mean, double *x_sd, double *y_mean, double *y_sd)
{
    elbo_dataset_moments(ds, x_mean, x_sd);
    double m = 0, s = 0;
    for (int i = 0; ds->targets && i < ds->n; i++) { /* Welford */
        double d = ds->targets[i] - m;
        m += d / (i + 1);
        s += d * (ds->targets[i] - m);
    }
    double v = ds->targets && ds->n > 1 ? s / (ds->n - 1) : 0.0;
    *y_mean = m;
    *y_sd = v > 1e-24 ? sqrt(v) : 1.0;
}
