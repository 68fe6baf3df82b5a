/* model.c — helpers over a model's tensor table (see model.h). */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int model_tensor_at(const model *m, size_t i)
{
    for (int t = 0; t < m->n_tensors; t++)
        if (i >= m->tensors[t].off && i < m->tensors[t].off + m->tensors[t].n) return t;
    return -1;
}

int model_tensor_find(const model *m, const char *name)
{
    for (int t = 0; t < m->n_tensors; t++)
        if (strcmp(m->tensors[t].name, name) == 0) return t;
    return -1;
}

const char *model_param_name(const model *m, size_t i, char *buf, size_t cap)
{
    int t = model_tensor_at(m, i);
    if (t >= 0)
        snprintf(buf, cap, "%s", m->tensors[t].name);
    else
        snprintf(buf, cap, "parameter %zu", i);
    return buf;
}

void model_tensor_export(const model *m, int ti, const float *base, float *dst)
{
    const model_tensor *t = &m->tensors[ti];
    const float *src = base + t->off;
    if (!t->transposed) {
        memcpy(dst, src, sizeof(float) * t->n);
        return;
    }
    /* user layout [R, C]; memory [C, R] */
    size_t R = (size_t)t->shape[0], C = (size_t)t->shape[1];
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++) dst[r * C + c] = src[c * R + r];
}

void model_tensor_import(const model *m, int ti, float *base, const float *src)
{
    const model_tensor *t = &m->tensors[ti];
    float *dst = base + t->off;
    if (!t->transposed) {
        memcpy(dst, src, sizeof(float) * t->n);
        return;
    }
    size_t R = (size_t)t->shape[0], C = (size_t)t->shape[1];
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++) dst[c * R + r] = src[r * C + c];
}

int model_meta_put(elbo_kv *out, int n, const char *key, const char *fmt, ...)
{
    ELBO_ASSERT(n < MODEL_MAX_META);
    snprintf(out[n].key, sizeof out[n].key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out[n].value, sizeof out[n].value, fmt, ap);
    va_end(ap);
    return n + 1;
}

int model_meta_put_widths(elbo_kv *out, int n, const char *key, const int *w, int count)
{
    n = model_meta_put(out, n, key, "%s", "");
    for (int i = 0; i < count; i++) {
        size_t len = strlen(out[n - 1].value);
        snprintf(out[n - 1].value + len, sizeof out->value - len, "%s%d", i ? "," : "", w[i]);
    }
    return n;
}

int model_meta_lookup(const char *s, const char *const *names, int n, int dflt)
{
    if (!s) return dflt;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

elbo_status model_meta_pos_int(const char *v, const char *key, const char *file, int *out,
                               elbo_error *err)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ lacks '%s'", file, key);
    if (errno || end == v || *end || x < 1 || x > (1L << 20))
        return elbo_fail(err, ELBO_ERR_FORMAT,
                         "%s: __metadata__ '%s' = '%s' is not an integer in 1..%ld", file, key, v,
                         1L << 20);
    *out = (int)x;
    return ELBO_OK;
}

elbo_status model_meta_double(const char *v, const char *key, const char *file, double *out,
                              elbo_error *err)
{
    if (!v) return ELBO_OK;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x))
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ '%s' = '%s' is not a finite number",
                         file, key, v);
    *out = x;
    return ELBO_OK;
}

elbo_status model_meta_widths(const char *v, const char *key, const char *file, int *w, int *count,
                              int max, elbo_error *err)
{
    if (!v) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ lacks '%s'", file, key);
    *count = 0;
    const char *p = v;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 1 || x > (1 << 20) || *count >= max || (*end && *end != ','))
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad '%s' metadata '%s'", file, key, v);
        w[(*count)++] = (int)x;
        p = *end ? end + 1 : end;
    }
    return ELBO_OK;
}
