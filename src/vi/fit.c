/* fit.c — black-box VI (elbo_vi.h): the step-size trial, the windowed
 * loop with step halving and iterate averaging, the final ELBO and k-hat,
 * and what a fit gives back. The families are family.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/common.h"
#include "../util/rng.h"
#include "vi_internal.h"

struct elbo_vi {
    vi_family fam;
    double *lam;          /* [n_lambda] the result: the last window's average */
    double *trace;        /* [n_trace] the mean ELBO estimate of every window */
    int n_trace;
    elbo_vi_summary sum;
};

void elbo_vi_config_default(elbo_vi_config *c)
{
    memset(c, 0, sizeof *c);
    c->family = ELBO_VI_FULLRANK;
    c->rank = 2;
    c->draws = 8;
    c->max_iters = 20000;
    c->window = 100;
    c->max_halvings = 6;
    c->eval_draws = 10000;
    c->seed = 1;
    c->laplace_init = 1;
}

static elbo_status check(const elbo_vi_target *t, const elbo_vi_config *c, elbo_error *err)
{
    if (!t || !t->logp || t->dim < 1 || t->dim > 100000)
        return elbo_fail(err, ELBO_ERR_ARG, "a target needs a log density and a dimension in 1..100000");
    if (c->family == ELBO_VI_FULLRANK && t->dim > 4000)
        return elbo_fail(err, ELBO_ERR_ARG, "full rank for %d dimensions is %zu parameters: use low rank",
                         t->dim, (size_t)t->dim * t->dim / 2);
    if (c->family < ELBO_VI_MEANFIELD || c->family > ELBO_VI_LOWRANK)
        return elbo_fail(err, ELBO_ERR_ARG, "unknown family %d", (int)c->family);
    if (c->family == ELBO_VI_LOWRANK && (c->rank < 1 || c->rank > t->dim))
        return elbo_fail(err, ELBO_ERR_ARG, "rank %d out of range 1..%d", c->rank, t->dim);
    if (c->draws < 1 || c->draws > 100000 || c->window < 10 || c->window > 1000000 || c->max_halvings < 0 ||
        c->eval_draws < 10 || c->max_iters < 2L * c->window || c->max_iters > 2000000000L || !(c->lr >= 0) ||
        !isfinite(c->lr))
        return elbo_fail(err, ELBO_ERR_ARG, "config out of range: draws >= 1, window in 10..1e6, eval_draws >= 10, "
                                            "max_iters in 2 windows..2e9, lr >= 0");
    if (c->lr == 0 && c->max_iters < 7L * c->window) /* the trial's 5 windows, then at least 2 */
        return elbo_fail(err, ELBO_ERR_ARG, "max_iters %ld leaves no room after the step-size trial's 5 windows of "
                                            "%d: give at least %ld, or an lr", c->max_iters, c->window, 7L * c->window);
    return ELBO_OK;
}

/* log p at theta and, when grad is not NULL, its gradient (by central
 * differences without the user's; x: [dim] scratch). */
double vi_logp_at(const elbo_vi_target *t, const double *theta, double *grad, double *x)
{
    if (!grad || t->has_grad) return t->logp(t->state, theta, grad);
    double v = t->logp(t->state, theta, NULL);
    memcpy(x, theta, sizeof(double) * (size_t)t->dim);
    for (int i = 0; i < t->dim; i++) {
        double h = 1e-5 * fmax(1.0, fabs(theta[i]));
        x[i] = theta[i] + h;
        double up = t->logp(t->state, x, NULL);
        x[i] = theta[i] - h;
        double dn = t->logp(t->state, x, NULL);
        x[i] = theta[i];
        grad[i] = (up - dn) / (2 * h);
    }
    return v;
}

/* Everything a step uses, allocated once. */
typedef struct {
    const elbo_vi_target *t;
    const vi_family *f;
    int S;
    elbo_rng rng;
    double *eps, *z, *glogp, *x, *work, *g, *m, *v;
    fam_prep prep;
} stepper;

static void stepper_free(stepper *s)
{
    free(s->eps);
    free(s->z);
    free(s->glogp);
    free(s->x);
    free(s->work);
    free(s->g);
    free(s->m);
    free(s->v);
}

static int stepper_alloc(stepper *s, const elbo_vi_target *t, const vi_family *f, int S, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->f = f;
    s->S = S;
    elbo_rng_seed(&s->rng, seed);
    size_t D = (size_t)f->D, n = f->n_lambda;
    s->eps = malloc(sizeof(double) * (size_t)fam_eps_dim(f));
    s->z = malloc(sizeof(double) * D);
    s->glogp = malloc(sizeof(double) * D);
    s->x = malloc(sizeof(double) * D);
    s->work = malloc(sizeof(double) * fam_work_size(f));
    s->g = malloc(sizeof(double) * n);
    s->m = calloc(n, sizeof(double));
    s->v = calloc(n, sizeof(double));
    return s->eps && s->z && s->glogp && s->x && s->work && s->g && s->m && s->v ? 0 : -1;
}

/* The STL gradient of the ELBO at lam over S draws, averaged into s->g;
 * returns the mean of the draws' log p - log q (NaN when no draw had a
 * finite density and gradient). */
static double grad_step(stepper *s, const double *lam)
{
    const vi_family *f = s->f;
    int E = fam_eps_dim(f), ok = 0;
    memset(s->g, 0, sizeof(double) * f->n_lambda);
    fam_prepare(f, lam, s->work, &s->prep);
    double sum = 0.0;
    for (int d = 0; d < s->S; d++) {
        for (int i = 0; i < E; i++) s->eps[i] = elbo_rng_normal(&s->rng);
        fam_sample(f, lam, s->eps, s->z);
        double lp = vi_logp_at(s->t, s->z, s->glogp, s->x);
        int fin = isfinite(lp);
        for (int i = 0; fin && i < f->D; i++) fin = isfinite(s->glogp[i]);
        if (!fin) continue; /* outside the support: the draw is skipped */
        sum += lp - fam_log_q(f, lam, &s->prep, s->z, s->eps);
        fam_stl_grad(f, lam, &s->prep, s->eps, s->z, s->glogp, s->g);
        ok++;
    }
    if (!ok) return NAN;
    for (size_t k = 0; k < f->n_lambda; k++) s->g[k] /= ok;
    return sum / ok;
}

/* One Adam ascent step of lam along s->g (the step counter t >= 1). */
static void adam_ascent(stepper *s, double *lam, long t, double lr)
{
    const double b1 = 0.9, b2 = 0.999, e = 1e-8, c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(b2, (double)t);
    for (size_t k = 0; k < s->f->n_lambda; k++) {
        s->m[k] = b1 * s->m[k] + (1 - b1) * s->g[k];
        s->v[k] = b2 * s->v[k] + (1 - b2) * s->g[k] * s->g[k];
        lam[k] += lr * (s->m[k] / c1) / (sqrt(s->v[k] / c2) + e);
    }
}

/* A window of W steps from lam at lr: the mean and standard error of the
 * steps' ELBO estimates, the average iterate into avg. Steps without a
 * finite estimate do not move lam. */
static void run_window(stepper *s, double *lam, long *t, double lr, int W, double *avg, double *mean, double *se)
{
    double sum = 0, sq = 0;
    int n = 0;
    memset(avg, 0, sizeof(double) * s->f->n_lambda);
    for (int w = 0; w < W; w++) {
        double e = grad_step(s, lam);
        if (isfinite(e)) {
            adam_ascent(s, lam, ++*t, lr);
            sum += e;
            sq += e * e;
            n++;
        }
        for (size_t k = 0; k < s->f->n_lambda; k++) avg[k] += lam[k] / W;
    }
    *mean = n ? sum / n : -INFINITY;
    *se = n > 1 ? sqrt(fmax(sq / n - *mean * *mean, 0.0) / n) : INFINITY;
}

static const double TRIAL_LR[] = {1.0, 0.3, 0.1, 0.03, 0.01};
enum { N_TRIAL = sizeof TRIAL_LR / sizeof TRIAL_LR[0] };

/* The trial: one window per step size from the start; the best window's
 * end state (lam, Adam moments, step count) is kept. Returns its lr. */
static double trial(stepper *s, double *lam, long *t, int W, double *scratch, long *iters)
{
    size_t n = s->f->n_lambda;
    double *start = scratch, *best = scratch + n, *bm = scratch + 2 * n, *bv = scratch + 3 * n, *avg = scratch + 4 * n;
    memcpy(start, lam, sizeof(double) * n);
    double best_elbo = -INFINITY, best_lr = TRIAL_LR[N_TRIAL - 1];
    long best_t = 0;
    for (int k = 0; k < N_TRIAL; k++) {
        long tk = 0;
        double mean, se;
        memcpy(lam, start, sizeof(double) * n);
        memset(s->m, 0, sizeof(double) * n);
        memset(s->v, 0, sizeof(double) * n);
        run_window(s, lam, &tk, TRIAL_LR[k], W, avg, &mean, &se);
        *iters += W;
        if (mean > best_elbo) {
            best_elbo = mean;
            best_lr = TRIAL_LR[k];
            best_t = tk;
            memcpy(best, lam, sizeof(double) * n);
            memcpy(bm, s->m, sizeof(double) * n);
            memcpy(bv, s->v, sizeof(double) * n);
        }
    }
    if (best_elbo > -INFINITY) {
        memcpy(lam, best, sizeof(double) * n);
        memcpy(s->m, bm, sizeof(double) * n);
        memcpy(s->v, bv, sizeof(double) * n);
    } else { /* no step size gave a finite ELBO: back to the start, fresh moments */
        memcpy(lam, start, sizeof(double) * n);
        memset(s->m, 0, sizeof(double) * n);
        memset(s->v, 0, sizeof(double) * n);
    }
    *t = best_t;
    return best_lr;
}

/* A draw z = m + A eps of q (lambda prepared in p) into z, and its log
 * ratio log p(z) - log q(z): -inf outside p's support. */
static double draw_log_ratio(const elbo_vi_target *t, const vi_family *f, const double *lam, const fam_prep *p,
                             const double *eps, double *z)
{
    fam_sample(f, lam, eps, z);
    double lp = t->logp(t->state, z, NULL);
    return (isfinite(lp) ? lp : -INFINITY) - fam_log_q(f, lam, p, z, eps);
}

/* The ELBO at the result by fresh draws, its standard error and k-hat. */
static void evaluate(stepper *s, const elbo_vi_config *c, const double *lam, elbo_vi_summary *out)
{
    const vi_family *f = s->f;
    int n = c->eval_draws, E = fam_eps_dim(f);
    double *lw = malloc(sizeof(double) * (size_t)n), sum = 0, sq = 0;
    out->elbo = out->elbo_se = out->khat = NAN;
    if (!lw) return;
    elbo_rng_seed(&s->rng, c->seed ^ 0xe1b0e7a1ULL);
    fam_prepare(f, lam, s->work, &s->prep);
    for (int d = 0; d < n; d++) {
        for (int i = 0; i < E; i++) s->eps[i] = elbo_rng_normal(&s->rng);
        lw[d] = draw_log_ratio(s->t, f, lam, &s->prep, s->eps, s->z);
        sum += lw[d];
    }
    out->elbo = sum / n;
    for (int d = 0; d < n; d++) sq += (lw[d] - out->elbo) * (lw[d] - out->elbo); /* two passes: large ELBOs */
    out->elbo_se = isfinite(out->elbo) ? sqrt(sq / ((double)n * (n - 1))) : NAN;
    out->khat = elbo_psis_khat(lw, n);
    free(lw);
}

enum { CRN = 128 }; /* common draws for comparing windows */

/* log p - log q at lam for the CRN fixed noise draws crn [CRN, E] into lw. */
static void crn_ratios(stepper *s, const double *lam, const double *crn, double *lw)
{
    const vi_family *f = s->f;
    int E = fam_eps_dim(f);
    fam_prepare(f, lam, s->work, &s->prep);
    for (int j = 0; j < CRN; j++) /* finite even outside the support: differences stay defined */
        lw[j] = fmax(draw_log_ratio(s->t, f, lam, &s->prep, crn + (size_t)j * E, s->z), -1e300);
}

/* The windows after the trial. After each, the ELBO at its average iterate
 * is compared with the last window's on the same CRN noise draws (common
 * random numbers: the draws' noise cancels in the paired differences).
 * Two windows running without a gain above twice its standard error mean
 * the iterates are stationary at this step size: it is halved. The result is the last
 * window's average iterate. */
static void optimise(stepper *s, const elbo_vi_config *c, double *lam, long t, double lr, elbo_vi *fit,
                     int max_windows, double *avg)
{
    int E = fam_eps_dim(s->f);
    double *crn = malloc(sizeof(double) * CRN * (size_t)E), *lw = calloc(2 * CRN, sizeof(double));
    if (!crn || !lw) {
        free(crn);
        free(lw);
        return;
    }
    double *prev = lw + CRN;
    elbo_rng r;
    elbo_rng_seed(&r, c->seed ^ 0xc0ffee5ULL);
    for (size_t k = 0; k < (size_t)CRN * E; k++) crn[k] = elbo_rng_normal(&r);
    int have_prev = 0, flat = 0;
    elbo_vi_summary *sum = &fit->sum;
    while (sum->iters + c->window <= c->max_iters && fit->n_trace < max_windows) {
        double mean, se;
        run_window(s, lam, &t, lr, c->window, avg, &mean, &se);
        sum->iters += c->window;
        fit->trace[fit->n_trace++] = mean;
        memcpy(fit->lam, avg, sizeof(double) * fit->fam.n_lambda);
        crn_ratios(s, avg, crn, lw);
        double dm = 0, dq = 0;
        for (int j = 0; j < CRN; j++) {
            double d = lw[j] - prev[j];
            dm += d / CRN;
            dq += d * d / CRN;
        }
        double dse = sqrt(fmax(dq - dm * dm, 0.0) / CRN);
        flat = have_prev && !(dm > 2 * dse) ? flat + 1 : 0;
        if (flat == 2) { /* no significant gain twice running: stationary */
            flat = 0;
            if (++sum->halvings > c->max_halvings) {
                sum->halvings = c->max_halvings;
                sum->converged = 1;
                break;
            }
            lr *= 0.5;
        }
        memcpy(prev, lw, sizeof(double) * CRN);
        have_prev = 1;
    }
    free(crn);
    free(lw);
}

/* The problem in whitened coordinates: theta = m0 + W zeta (W lower
 * triangular [D, D], or its diagonal [D]). */
typedef struct {
    const elbo_vi_target *t;
    const double *m0, *W;
    int full;
    double *theta, *g, *x; /* [D] each, scratch */
} whitened;

static double whitened_logp(void *st, const double *zeta, double *grad)
{
    const whitened *w = st;
    int D = w->t->dim;
    for (int i = 0; i < D; i++) {
        double v = w->m0[i];
        if (w->full)
            for (int k = 0; k <= i; k++) v += w->W[(size_t)i * D + k] * zeta[k];
        else
            v += w->W[i] * zeta[i];
        w->theta[i] = v;
    }
    double lp = vi_logp_at(w->t, w->theta, grad ? w->g : NULL, w->x);
    for (int j = 0; grad && j < D; j++) { /* W^T g */
        double v = 0;
        if (w->full)
            for (int i = j; i < D; i++) v += w->W[(size_t)i * D + j] * w->g[i];
        else
            v = w->W[j] * w->g[j];
        grad[j] = v;
    }
    return lp;
}

/* The mode and the whitening for t (allocated into *m0, *W), or 0 with
 * nothing allocated when there is no positive-definite mode. */
static int whiten(const elbo_vi_target *t, const elbo_vi_config *c, double **m0, double **W)
{
    int D = t->dim, full = c->family == ELBO_VI_FULLRANK;
    double *H = malloc(sizeof(double) * (size_t)D * D);
    *m0 = calloc((size_t)D, sizeof(double));
    *W = malloc(sizeof(double) * (full ? (size_t)D * D : (size_t)D));
    int ok = H && *m0 && *W;
    for (int i = 0; ok && c->init && i < D; i++) (*m0)[i] = c->init[i];
    ok = ok && vi_laplace(t, *m0, H, 100) == 0 && vi_whitening(H, D, full, *W) == 0;
    free(H);
    if (!ok) {
        free(*m0);
        free(*W);
        *m0 = *W = NULL;
    }
    return ok;
}

/* Trial and windows on target u from lam; the result (in u's coordinates)
 * in fit->lam. */
static void run_fit(stepper *s, const elbo_vi_config *c, elbo_vi *fit, double *lam, double *scratch, int max_windows)
{
    long step = 0;
    double lr = c->lr;
    if (lr <= 0) lr = trial(s, lam, &step, c->window, scratch, &fit->sum.iters);
    fit->sum.lr = lr;
    optimise(s, c, lam, step, lr, fit, max_windows, scratch + 4 * fit->fam.n_lambda);
}

elbo_vi *elbo_vi_fit(const elbo_vi_target *t, const elbo_vi_config *c, elbo_error *err)
{
    if (check(t, c, err)) return NULL;
    int D = t->dim;
    elbo_vi *fit = calloc(1, sizeof *fit);
    stepper s;
    memset(&s, 0, sizeof s);
    double *lam = NULL, *scratch = NULL, *m0 = NULL, *W = NULL, *wbuf = NULL;
    int ok = 0;
    if (!fit) goto nomem;
    fam_init(&fit->fam, D, c->family, c->rank);
    size_t n = fit->fam.n_lambda;
    int max_windows = (int)(c->max_iters / c->window) + 1;
    lam = malloc(sizeof(double) * n);
    scratch = malloc(sizeof(double) * 5 * n);
    fit->lam = malloc(sizeof(double) * n);
    fit->trace = malloc(sizeof(double) * (size_t)max_windows);
    wbuf = malloc(sizeof(double) * 3 * (size_t)D);
    if (!lam || !scratch || !fit->lam || !fit->trace || !wbuf || stepper_alloc(&s, t, &fit->fam, c->draws, c->seed))
        goto nomem;
    fam_start(&fit->fam, lam, c->init, c->seed);
    if (!isfinite(vi_logp_at(t, lam, NULL, s.x))) {
        elbo_fail(err, ELBO_ERR_NUMERIC, "log p is not finite at the starting point (give init inside the support)");
        goto fail;
    }
    whitened w = {t, NULL, NULL, c->family == ELBO_VI_FULLRANK, wbuf, wbuf + D, wbuf + 2 * (size_t)D};
    elbo_vi_target u = {.dim = D, .logp = whitened_logp, .state = &w, .names = t->names, .has_grad = 1};
    if (c->laplace_init && D <= 1000 && whiten(t, c, &m0, &W)) { /* fit zeta ~ N(0, I) roughly, from 0, sd 1 */
        w.m0 = m0;
        w.W = W;
        s.t = &u;
        fam_start(&fit->fam, lam, NULL, c->seed);
    }
    memcpy(fit->lam, lam, sizeof(double) * n);
    run_fit(&s, c, fit, lam, scratch, max_windows);
    if (m0) { /* back to theta: q's parameters, and the trace's log |det W| */
        if (fam_unwhiten(&fit->fam, fit->lam, m0, W)) goto nomem;
        double ld = 0;
        for (int i = 0; i < D; i++) ld += log(w.full ? W[(size_t)i * D + i] : W[i]);
        for (int k = 0; k < fit->n_trace; k++) fit->trace[k] += ld;
    }
    s.t = t;
    evaluate(&s, c, fit->lam, &fit->sum);
    ok = 1;
    goto done;
nomem:
    elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the variational parameters of %d dimensions", D);
fail:
done:
    stepper_free(&s);
    free(lam);
    free(scratch);
    free(m0);
    free(W);
    free(wbuf);
    if (!ok) {
        elbo_vi_free(fit);
        fit = NULL;
    }
    return fit;
}

void elbo_vi_free(elbo_vi *fit)
{
    if (!fit) return;
    free(fit->lam);
    free(fit->trace);
    free(fit);
}

void elbo_vi_get_summary(const elbo_vi *fit, elbo_vi_summary *s) { *s = fit->sum; }
int elbo_vi_dim(const elbo_vi *fit) { return fit->fam.D; }
void elbo_vi_mean(const elbo_vi *fit, double *mean) { memcpy(mean, fit->lam, sizeof(double) * (size_t)fit->fam.D); }
void elbo_vi_cov(const elbo_vi *fit, double *cov) { fam_cov(&fit->fam, fit->lam, cov); }

void elbo_vi_sd(const elbo_vi *fit, double *sd)
{
    int D = fit->fam.D;
    double *cov = malloc(sizeof(double) * (size_t)D * D);
    for (int i = 0; i < D; i++) sd[i] = NAN;
    if (!cov) return;
    fam_cov(&fit->fam, fit->lam, cov);
    for (int i = 0; i < D; i++) sd[i] = sqrt(cov[(size_t)i * D + i]);
    free(cov);
}

void elbo_vi_draws(const elbo_vi *fit, int n, uint64_t seed, double *out)
{
    int E = fam_eps_dim(&fit->fam);
    double *eps = malloc(sizeof(double) * (size_t)E);
    if (!eps) return;
    elbo_rng r;
    elbo_rng_seed(&r, seed);
    for (int d = 0; d < n; d++) {
        for (int i = 0; i < E; i++) eps[i] = elbo_rng_normal(&r);
        fam_sample(&fit->fam, fit->lam, eps, out + (size_t)d * fit->fam.D);
    }
    free(eps);
}

double elbo_vi_weighted_draws(const elbo_vi *fit, const elbo_vi_target *t, int n, uint64_t seed, double *out,
                              double *w)
{
    const vi_family *f = &fit->fam;
    int D = f->D, E = fam_eps_dim(f);
    if (n < 1) return NAN;
    double *eps = malloc(sizeof(double) * (size_t)E), *lw = malloc(sizeof(double) * (size_t)n);
    double *work = malloc(sizeof(double) * fam_work_size(f)), k = NAN;
    if (eps && lw && work) {
        fam_prep p;
        fam_prepare(f, fit->lam, work, &p);
        elbo_rng r;
        elbo_rng_seed(&r, seed);
        for (int d = 0; d < n; d++) {
            for (int i = 0; i < E; i++) eps[i] = elbo_rng_normal(&r);
            lw[d] = draw_log_ratio(t, f, fit->lam, &p, eps, out + (size_t)d * D);
        }
        k = elbo_psis_weights(lw, n, w);
    }
    free(eps);
    free(lw);
    free(work);
    return k;
}

double elbo_vi_psis_draws(const elbo_vi *fit, const elbo_vi_target *t, int n, uint64_t seed, double *out)
{
    int D = fit->fam.D;
    if (n < 1) return NAN;
    double *z = malloc(sizeof(double) * (size_t)n * D), *w = malloc(sizeof(double) * (size_t)n), k = NAN;
    if (z && w) {
        k = elbo_vi_weighted_draws(fit, t, n, seed, z, w);
        elbo_rng r;
        elbo_rng_seed(&r, seed ^ 0x5eed5ULL);
        double u = elbo_rng_uniform(&r), c = w[0];
        for (int d = 0, j = 0; d < n; d++) { /* systematic: one uniform, n evenly spaced points */
            double pt = (d + u) / n;
            while (c < pt && j < n - 1) c += w[++j];
            memcpy(out + (size_t)d * D, z + (size_t)j * D, sizeof(double) * (size_t)D);
        }
    }
    free(z);
    free(w);
    return k;
}

elbo_status elbo_vi_constrain(const elbo_vi_target *t, const double *theta, int n, double *out, elbo_error *err)
{
    if (!t->constrain) {
        memcpy(out, theta, sizeof(double) * (size_t)n * t->dim);
        return ELBO_OK;
    }
    for (int d = 0; d < n; d++)
        if (t->constrain(t->state, theta + (size_t)d * t->dim, out + (size_t)d * t->n_out) != 0)
            return elbo_fail(err, ELBO_ERR_NUMERIC, "constrain failed on draw %d", d);
    return ELBO_OK;
}

int elbo_vi_trace(const elbo_vi *fit, double *trace)
{
    if (trace) memcpy(trace, fit->trace, sizeof(double) * (size_t)fit->n_trace);
    return fit->n_trace;
}

double elbo_check_gradient(const elbo_vi_target *t, const double *theta, double h, int *worst)
{
    int D = t->dim;
    double *g = malloc(sizeof(double) * (size_t)D), *x = malloc(sizeof(double) * (size_t)D), bad = 0.0;
    if (worst) *worst = -1;
    if (!t->has_grad || !g || !x || !isfinite(t->logp(t->state, theta, g))) { /* nothing to check without one */
        free(g);
        free(x);
        return NAN;
    }
    memcpy(x, theta, sizeof(double) * (size_t)D);
    for (int i = 0; i < D; i++) {
        double hi = h > 0 ? h : 1e-5 * fmax(1.0, fabs(theta[i]));
        x[i] = theta[i] + hi;
        double up = t->logp(t->state, x, NULL);
        x[i] = theta[i] - hi;
        double dn = t->logp(t->state, x, NULL);
        x[i] = theta[i];
        double fd = (up - dn) / (2 * hi), e = fabs(g[i] - fd) / fmax(1.0, fabs(fd));
        if (!(e <= bad)) { /* NaN counts as the worst */
            bad = isfinite(e) ? e : INFINITY;
            if (worst) *worst = i;
        }
    }
    free(g);
    free(x);
    return bad;
}

double elbo_vi_positive(double u, double *dx_du, double *log_jac, double *dlog_jac_du)
{
    double x = exp(u);
    if (dx_du) *dx_du = x;
    if (log_jac) *log_jac += u;
    if (dlog_jac_du) *dlog_jac_du += 1.0;
    return x;
}

double elbo_vi_interval(double u, double lo, double hi, double *dx_du, double *log_jac, double *dlog_jac_du)
{
    double e = exp(-fabs(u)), s = u >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e), w = hi - lo;
    if (dx_du) *dx_du = w * e / ((1.0 + e) * (1.0 + e)); /* s (1 - s), without cancellation */
    /* log(w s (1 - s)) = log w - |u| - 2 log(1 + e^-|u|), stable for any u */
    if (log_jac) *log_jac += log(w) - fabs(u) - 2.0 * log1p(e);
    if (dlog_jac_du) *dlog_jac_du += 1.0 - 2.0 * s;
    return lo + w * s;
}

/* a_k = u_k - log(K - 1 - k) (0-based), z_k = sigmoid(a_k); log z_k and
 * log(1 - z_k) without rounding z to 0 or 1. */
static double stick_a(const double *u, int K, int k) { return u[k] - log((double)(K - 1 - k)); }
static double log_sigmoid(double a) { return a > 0 ? -log1p(exp(-a)) : a - log1p(exp(a)); }

double elbo_vi_simplex(const double *u, int K, double *x)
{
    double log_stick = 0.0, lj = 0.0;
    for (int k = 0; k + 1 < K; k++) {
        double a = stick_a(u, K, k), lz = log_sigmoid(a), l1z = log_sigmoid(-a);
        x[k] = exp(log_stick + lz);
        lj += lz + l1z + log_stick;
        log_stick += l1z; /* what is left: the product of (1 - z), in logs */
    }
    x[K - 1] = exp(log_stick);
    return lj;
}

void elbo_vi_simplex_grad(const double *u, int K, const double *gx, double *gu)
{
    /* reverse mode over the sticks s_k (s_0 = 1, s_{k+1} = s_k (1 - z_k)),
     * x_k = s_k z_k, x_{K-1} = s_{K-1}; log J = sum log z + log(1 - z) + log s_k,
     * whose derivative in a_k through z is (1 - 2 z_k) */
    double ls = 0.0;
    for (int k = 0; k + 1 < K; k++) ls += log_sigmoid(-stick_a(u, K, k));
    double g_next = gx[K - 1]; /* d/d s_{K-1} */
    for (int k = K - 2; k >= 0; k--) {
        double a = stick_a(u, K, k), l1z = log_sigmoid(-a), z = exp(log_sigmoid(a)), zz = exp(log_sigmoid(a) + l1z);
        ls -= l1z; /* log s_k */
        double sk = exp(ls);
        gu[k] += (gx[k] - g_next) * sk * zz + (1.0 - 2.0 * z);
        g_next = g_next * (1.0 - z) + gx[k] * z + 1.0 / sk;
    }
}
