/* fit_report.c — `elbo fit` after the plug-in is open: the gradient check,
 * the fit, the summary table (mean, sd, 5/50/95% quantiles, the Monte
 * Carlo error of the mean), draws as CSV or .npy, and --out's
 * metrics.jsonl, trace.png and summary.csv. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fit.h"
#include "opts.h"

int check_gradients(const fit_opts *o, const elbo_vi_model *m, const elbo_vi_target *t, const double *theta0)
{
    if (!m->has_grad) return 0;
    double *th = malloc(sizeof(double) * (size_t)m->dim), worst_e = 0;
    int worst_i = -1, at = -1;
    if (!th) return 1;
    for (int k = 0; k < 6; k++) { /* the start, then points spread around it */
        for (int i = 0; i < m->dim; i++) th[i] = theta0[i] + (k ? 0.5 * sin(1.7 * k + 0.9 * i) : 0.0);
        int w;
        double e = elbo_check_gradient(t, th, 0, &w);
        if (isfinite(e) && e > worst_e) {
            worst_e = e;
            worst_i = w;
            at = k;
        }
    }
    free(th);
    int bad = worst_e > 1e-3;
    if (bad || o->check_only)
        fprintf(bad ? stderr : stdout, "elbo fit: %s: gradient check: worst relative error %.3g at coordinate %d "
                "(point %d of 6)%s\n", o->lib, worst_e, worst_i, at,
                bad ? ": the gradient does not match finite differences; fix logp (or set has_grad = 0)" : ": ok");
    return bad;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void name_of(const elbo_vi_model *m, int constrained, int k, char *buf, size_t cap)
{
    const char *const *names = constrained ? m->out_names : m->names;
    if (names && names[k]) snprintf(buf, cap, "%s", names[k]);
    else snprintf(buf, cap, "%s[%d]", constrained ? "out" : "theta", k);
}

typedef struct {
    double mean, sd, q5, q50, q95, mcse;
} col_stats;

typedef struct {
    double v, w;
} weighted;

static int cmp_w(const void *a, const void *b) { return cmp_d(&((const weighted *)a)->v, &((const weighted *)b)->v); }

/* Quantile q of the weighted sample (sorted by value, weights summing to 1). */
static double wquantile(const weighted *c, int n, double q)
{
    double acc = 0;
    for (int d = 0; d < n; d++) {
        acc += c[d].w;
        if (acc >= q) return c[d].v;
    }
    return c[n - 1].v;
}

/* Column k of x [n, K]: its statistics with weights w [n] (summing to 1;
 * NULL: equal), the Monte Carlo error of the mean from the effective
 * sample size 1 / sum w^2 (Kish; n for equal weights). */
static void stats_of(const double *x, const double *w, int n, int K, int k, weighted *col, col_stats *s)
{
    double mean = 0, var = 0, w2 = 0;
    for (int d = 0; d < n; d++) {
        col[d] = (weighted){x[(size_t)d * K + k], w ? w[d] : 1.0 / n};
        mean += col[d].w * col[d].v;
        w2 += col[d].w * col[d].w;
    }
    for (int d = 0; d < n; d++) var += col[d].w * (col[d].v - mean) * (col[d].v - mean);
    s->mean = mean;
    s->sd = sqrt(var * (w ? 1.0 : n / (n - 1.0)));
    s->mcse = s->sd * sqrt(w2); /* sd / sqrt(ESS) */
    qsort(col, (size_t)n, sizeof(weighted), cmp_w);
    s->q5 = wquantile(col, n, 0.05);
    s->q50 = wquantile(col, n, 0.5);
    s->q95 = wquantile(col, n, 0.95);
}

/* The reported values of every draw: constrain's outputs (allocated), or
 * NULL for theta itself (or, with *failed set, when constrain failed). */
static double *reported(const elbo_vi_target *t, const double *z, int n, int *failed)
{
    *failed = 0;
    if (!t->constrain) return NULL;
    double *y = malloc(sizeof(double) * (size_t)n * t->n_out);
    elbo_error err;
    if (y && elbo_vi_constrain(t, z, n, y, &err) == ELBO_OK) return y;
    fprintf(stderr, "elbo fit: the plug-in's %s\n", y ? err.msg : "draws: out of memory");
    free(y);
    *failed = 1;
    return NULL;
}

static int write_draws(const fit_opts *o, const elbo_vi_model *m, const double *y, int n, int K)
{
    size_t len = strlen(o->draws);
    if (len > 4 && !strcmp(o->draws + len - 4, ".npy")) {
        elbo_error err;
        int64_t shape[2] = {n, K};
        if (elbo_write_npy(o->draws, y, ELBO_NPY_F64, 2, shape, &err) == ELBO_OK) return 0;
        fprintf(stderr, "elbo fit: %s\n", err.msg);
        return 1;
    }
    text_out t;
    if (text_open("fit", o->draws, &t)) return 1;
    char name[128];
    for (int k = 0; k < K; k++) {
        name_of(m, m->constrain != NULL, k, name, sizeof name);
        fprintf(t.f, "%s%s", k ? "," : "", name);
    }
    fprintf(t.f, "\n");
    for (int d = 0; d < n; d++)
        for (int k = 0; k < K; k++) fprintf(t.f, "%.9g%s", y[(size_t)d * K + k], k + 1 < K ? "," : "\n");
    return text_commit("fit", o->draws, &t);
}

/* --out: metrics.jsonl (one line per window), trace.png, summary.csv. */
static int write_out(const fit_opts *o, const elbo_vi *fit, const elbo_vi_model *m, const col_stats *st, int K)
{
    if (mkdir(o->out, 0777) != 0) {
        struct stat sb;
        if (stat(o->out, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "elbo fit: %s: cannot create the folder\n", o->out);
            return 1;
        }
    }
    int n = elbo_vi_trace(fit, NULL);
    double *tr = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1)), *x = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    char path[4300], name[128];
    int rc = !tr || !x;
    if (!rc) elbo_vi_trace(fit, tr);
    text_out t;
    snprintf(path, sizeof path, "%s/metrics.jsonl", o->out);
    if (!rc && !(rc = text_open("fit", path, &t))) {
        for (int w = 0; w < n; w++) fprintf(t.f, "{\"window\":%d,\"iter\":%ld,\"elbo\":%.9g}\n", w + 1,
                                            (long)(w + 1) * o->cfg.window, tr[w]);
        rc = text_commit("fit", path, &t);
    }
    snprintf(path, sizeof path, "%s/summary.csv", o->out);
    if (!rc && !(rc = text_open("fit", path, &t))) {
        fprintf(t.f, "name,mean,sd,q5,q50,q95,mcse_mean\n");
        for (int k = 0; k < K; k++) {
            name_of(m, m->constrain != NULL, k, name, sizeof name);
            fprintf(t.f, "%s,%.9g,%.9g,%.9g,%.9g,%.9g,%.3g\n", name, st[k].mean, st[k].sd, st[k].q5, st[k].q50,
                    st[k].q95, st[k].mcse);
        }
        rc = text_commit("fit", path, &t);
    }
    snprintf(path, sizeof path, "%s/trace.png", o->out);
    for (int w = 0; !rc && w < n; w++) x[w] = (double)(w + 1) * o->cfg.window;
    elbo_series se = {"ELBO (window mean)", tr};
    elbo_panel p = {"ELBO trace", 1, &se};
    elbo_error err;
    if (!rc && n >= 2 && elbo_write_plot_png(path, x, n, "iteration (after the step-size trial)", 1, &p, &err)) {
        fprintf(stderr, "elbo fit: %s\n", err.msg);
        rc = 1;
    }
    free(tr);
    free(x);
    return rc;
}

/* A number for JSON: non-finite ones are null. */
static void json_num(double v)
{
    if (isfinite(v)) printf("%.9g", v);
    else printf("null");
}

static void print_result(const fit_opts *o, const elbo_vi_model *m, const elbo_vi_summary *s, const col_stats *st,
                         int K, double khat_draws, int weighted_summary)
{
    char name[128];
    if (o->json) {
        printf("{\"elbo\":");
        json_num(s->elbo);
        printf(",\"elbo_se\":");
        json_num(s->elbo_se);
        printf(",\"khat\":");
        json_num(s->khat);
        printf(",\"iters\":%ld,\"halvings\":%d,\"converged\":%d,\"lr\":%g,\"weighted\":%d,\"params\":[", s->iters,
               s->halvings, s->converged, s->lr, weighted_summary);
        for (int k = 0; k < K; k++) {
            name_of(m, m->constrain != NULL, k, name, sizeof name);
            printf("%s{\"name\":", k ? "," : "");
            json_string(name);
            const double v[5] = {st[k].mean, st[k].sd, st[k].q5, st[k].q50, st[k].q95};
            const char *keys[5] = {"mean", "sd", "q5", "q50", "q95"};
            for (int j = 0; j < 5; j++) {
                printf(",\"%s\":", keys[j]);
                json_num(v[j]);
            }
            printf("}");
        }
        printf("]}\n");
        return;
    }
    printf("ELBO %.4f +- %.4f (Monte Carlo se)  k-hat %.2f  %ld steps, step size %g halved %d times%s\n", s->elbo,
           s->elbo_se, s->khat, s->iters, s->lr, s->halvings, s->converged ? "" : " (max-iters reached first)");
    if (s->khat > 0.7)
        printf("WARNING: k-hat %.2f > 0.7: the importance ratios p/q are heavy-tailed: q misses posterior mass "
               "(often in the tails), importance-weighted estimates (--psis) are unreliable and the table may be "
               "off. Try --family fullrank, or reparameterise the model (docs/vi.md).\n", s->khat);
    else if (s->khat > 0.5)
        printf("note: k-hat %.2f in (0.5, 0.7]: usable, with care\n", s->khat);
    printf("summary over %ld draws from q%s (their k-hat %.2f)%s\n", o->n_draws,
           weighted_summary ? ", weighted by their PSIS importance weights" : "", khat_draws,
           o->psis ? "; --draws resampled by those weights" : "");
    printf("%-24s %12s %12s %12s %12s %12s %10s\n", "parameter", "mean", "sd", "5%", "50%", "95%", "mcse");
    for (int k = 0; k < K; k++) {
        name_of(m, m->constrain != NULL, k, name, sizeof name);
        printf("%-24s %12.5g %12.5g %12.5g %12.5g %12.5g %10.2g\n", name, st[k].mean, st[k].sd, st[k].q5, st[k].q50,
               st[k].q95, st[k].mcse);
    }
}

int fit_and_report(const fit_opts *o, const elbo_vi_model *m, const elbo_vi_target *t)
{
    elbo_error err;
    elbo_vi *fit = elbo_vi_fit(t, &o->cfg, &err);
    if (!fit) {
        fprintf(stderr, "elbo fit: %s: %s\n", o->lib, err.msg);
        return 1;
    }
    elbo_vi_summary s;
    elbo_vi_get_summary(fit, &s);
    int n = (int)o->n_draws, K = m->constrain ? m->n_out : m->dim, rc = 1;
    uint64_t seed = o->cfg.seed ^ 0x9515ULL;
    double *z = malloc(sizeof(double) * (size_t)n * m->dim), *w = malloc(sizeof(double) * (size_t)n), *y = NULL;
    weighted *col = malloc(sizeof(weighted) * (size_t)n);
    col_stats *st = malloc(sizeof(col_stats) * (size_t)K);
    if (!z || !w || !col || !st) {
        fprintf(stderr, "elbo fit: out of memory for %d draws\n", n);
        goto out;
    }
    /* q's draws and their PSIS weights: the summary is weighted when they
     * can be trusted (k-hat < 0.7) unless --raw */
    double khat_draws = elbo_vi_weighted_draws(fit, t, n, seed, z, w);
    int use_w = !o->raw && khat_draws < 0.7;
    int failed;
    y = reported(t, z, n, &failed);
    if (failed) goto out;
    for (int k = 0; k < K; k++) stats_of(y ? y : z, use_w ? w : NULL, n, K, k, col, &st[k]);
    print_result(o, m, &s, st, K, khat_draws, use_w);
    if (o->psis) { /* the written draws resampled by the weights */
        free(y);
        elbo_vi_psis_draws(fit, t, n, seed, z);
        y = reported(t, z, n, &failed);
        if (failed) goto out;
    }
    rc = (o->draws && write_draws(o, m, y ? y : z, n, K)) || (o->out && write_out(o, fit, m, st, K));
out:
    free(z);
    free(w);
    free(y);
    free(col);
    free(st);
    elbo_vi_free(fit);
    return rc;
}
