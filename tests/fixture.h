/* fixture.h — reading PyTorch fixtures (dev/make_*fixture.py) and comparing
 * elbo's tensors with them, for any model through its tensor table. An
 * element a matches reference r when |a - r| <= atol + rtol * |r| (with
 * rel_to_max, atol is relative to the largest |r| of the tensor). Include
 * after check.h. */
#ifndef ELBO_TEST_FIXTURE_H
#define ELBO_TEST_FIXTURE_H

#include <math.h>
#include <stdlib.h>

#include "io/safetensors.h"
#include "models/model.h"

static int n_checked;

/* Compares n floats; returns the worst |a-r| / (atol + rtol|r| + extra[i])
 * ratio (extra: a per-element allowance, or NULL). */
static double worst(const float *a, const float *r, long n, double atol, double rtol, const double *extra)
{
    double w = 0;
    for (long i = 0; i < n; i++) {
        double e = fabs((double)a[i] - r[i]) / (atol + rtol * fabs(r[i]) + (extra ? extra[i] : 0.0));
        if (!(e <= w)) w = e; /* NaN propagates as failure */
    }
    return w;
}

static float *read_any(st_file *f, const char *name, long n, int ndim, const int64_t *shape)
{
    float *buf = malloc(sizeof(float) * (size_t)(n ? n : 1));
    elbo_error err;
    if (st_read_f32(f, name, ndim, shape, buf, &err) != ELBO_OK) {
        CHECK(0, "%s", err.msg);
        free(buf);
        return NULL;
    }
    return buf;
}

static void cmp(st_file *f, const char *name, const float *got, int ndim, const int64_t *shape,
                double atol, double rtol, int rel_to_max)
{
    long n = 1;
    for (int d = 0; d < ndim; d++) n *= (long)shape[d];
    float *ref = read_any(f, name, n, ndim, shape);
    if (!ref) return;
    if (rel_to_max) {
        double mx = 0;
        for (long i = 0; i < n; i++) mx = fmax(mx, fabs(ref[i]));
        atol *= mx > 0 ? mx : 1;
    }
    double w = worst(got, ref, n, atol, rtol, NULL);
    CHECK(w <= 1.0, "%s: %s differs from the reference (worst error %.3g x tolerance)", f->path, name, w);
    n_checked++;
    free(ref);
}

__attribute__((unused)) static void set_params(model *mb, st_file *f, const char *prefix)
{
    for (int i = 0; i < mb->n_tensors; i++) { /* every tensor of the table, by name */
        const model_tensor *t = &mb->tensors[i];
        char name[96];
        elbo_error err;
        float *tmp = malloc(sizeof(float) * t->n);
        snprintf(name, sizeof name, "%s.%s", prefix, t->name);
        CHECK(st_read_f32(f, name, t->ndim, t->shape, tmp, &err) == ELBO_OK, "%s", err.msg);
        model_tensor_import(mb, i, mb->params, tmp);
        free(tmp);
    }
}

/* Compares every tensor of buf (laid out like params) with prefix.* tensors. */
__attribute__((unused)) static void cmp_params(const model *mb, st_file *f, const char *prefix, const float *buf, double atol,
                       double rtol, int rel_to_max)
{
    for (int i = 0; i < mb->n_tensors; i++) {
        const model_tensor *t = &mb->tensors[i];
        char name[96];
        float *tmp = malloc(sizeof(float) * t->n);
        model_tensor_export(mb, i, buf, tmp);
        snprintf(name, sizeof name, "%s.%s", prefix, t->name);
        cmp(f, name, tmp, t->ndim, t->shape, atol, rtol, rel_to_max);
        free(tmp);
    }
}

/* The parameters after `steps` Adam steps (learning rate lr) against the
 * fixture's adam3.*, with g (laid out like params) our first-step gradient,
 * compared by cmp_params with the fixture's grad.*. Adam's update
 * m^/sqrt(v^) does not change when an element's gradients are all scaled
 * alike, so a relative error d in that element's gradient moves its update
 * by about 2 d lr per step at most, whatever the gradient's size: an
 * element whose gradient nearly cancels (the gradient check holds small
 * elements only to a fraction of the tensor's largest) may end a few lr d
 * away from PyTorch's. Each element is held to atol + rtol |r| plus
 * 2 steps lr d, d its measured relative gradient difference (at most 1);
 * for every other element that term is below float32 rounding. */
__attribute__((unused)) static void cmp_adam_params(const model *mb, st_file *f, const float *params,
                                                    const float *g, int steps, double lr, double atol,
                                                    double rtol)
{
    for (int i = 0; i < mb->n_tensors; i++) {
        const model_tensor *t = &mb->tensors[i];
        char name[96];
        float *a = malloc(sizeof(float) * t->n), *ga = malloc(sizeof(float) * t->n);
        double *extra = malloc(sizeof(double) * t->n);
        model_tensor_export(mb, i, params, a);
        model_tensor_export(mb, i, g, ga);
        snprintf(name, sizeof name, "grad.%s", t->name);
        float *gr = read_any(f, name, (long)t->n, t->ndim, t->shape);
        snprintf(name, sizeof name, "adam3.%s", t->name);
        float *r = gr ? read_any(f, name, (long)t->n, t->ndim, t->shape) : NULL;
        if (r) {
            for (size_t k = 0; k < t->n; k++) {
                double d = fabs((double)ga[k] - gr[k]) / fmax(fabs((double)gr[k]), 1e-30);
                extra[k] = 2.0 * steps * lr * fmin(d, 1.0);
            }
            double w = worst(a, r, (long)t->n, atol, rtol, extra);
            CHECK(w <= 1.0, "%s: %s differs from the reference (worst error %.3g x tolerance)", f->path, name, w);
            n_checked++;
        }
        free(a);
        free(ga);
        free(extra);
        free(gr);
        free(r);
    }
}

/* The fixture's "hidden" metadata ("32" or "24,16") into w; returns the count. */
/* The widths listed in metadata key (e.g. "hidden": "24,16"); returns the count. */
__attribute__((unused)) static int fixture_widths(const st_file *f, const char *key, int *w)
{
    int n = 0;
    for (const char *p = st_meta_get(f, key); p && *p && n < ELBO_MAX_HIDDEN;) {
        char *end;
        w[n++] = (int)strtol(p, &end, 10);
        p = *end ? end + 1 : end;
    }
    return n;
}

__attribute__((unused)) static int fixture_hidden(const st_file *f, int *w)
{
    return fixture_widths(f, "hidden", w);
}

#endif
