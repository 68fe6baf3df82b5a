/* model.c — helpers over a model's tensor table (see model.h). */
#include "model.h"

#include "../train/trainer.h"
#include "../util/fpenv.h"

#include <errno.h>
#include <omp.h>
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

/* Larger chunks first, ties in parameter order. */
static int larger_first(const void *a, const void *b)
{
    const model_chunk *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return (x->off > y->off) - (x->off < y->off);
}

int model_chunks_build(model *m, int (*list)(const void *owner, model_chunk *out), const void *owner)
{
    m->n_chunks = list(owner, NULL);
    m->chunks = malloc(sizeof(model_chunk) * (size_t)(m->n_chunks > 0 ? m->n_chunks : 1));
    if (!m->chunks) return -1;
    list(owner, m->chunks);
    qsort(m->chunks, (size_t)m->n_chunks, sizeof(model_chunk), larger_first);
    m->chunk_max = 0;
    for (int c = 0; c < m->n_chunks; c++)
        if (m->chunks[c].n > m->chunk_max) m->chunk_max = m->chunks[c].n;
    return 0;
}

void model_chunks_free(model *m)
{
    free(m->chunks);
    m->chunks = NULL;
    m->n_chunks = 0;
}

elbo_status model_set_workers(model *m, int n, elbo_error *err)
{
    char *w = m->wk.at;
    size_t sz = m->wk.size;
    if (n <= 0) n = omp_get_num_procs();
    if (n > m->wk.max) n = m->wk.max;
    for (int i = n; i < m->n_workers; i++) m->wk.release(w + (size_t)i * sz);
    for (int i = m->n_workers; i < n; i++)
        if (m->wk.alloc(m, w + (size_t)i * sz) != 0) {
            for (int k = m->n_workers; k < i; k++) m->wk.release(w + (size_t)k * sz);
            return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d worker threads", n);
        }
    m->n_workers = n;
    return ELBO_OK;
}

void model_free_workers(model *m)
{
    for (int i = 0; i < m->n_workers; i++) m->wk.release((char *)m->wk.at + (size_t)i * m->wk.size);
    m->n_workers = 0;
}

elbo_status model_setup(model *m, trainer *t, int (*list)(const void *owner, model_chunk *out),
                        const void *owner, int threads, uint64_t seed,
                        void (*init)(model *m, elbo_rng *rng), elbo_error *err)
{
    m->params = elbo_calloc_aligned(m->n_params, sizeof(float));
    if (!m->params || model_chunks_build(m, list, owner) != 0)
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory allocating %zu parameters", m->n_params);
    elbo_status st = model_set_workers(m, threads, err);
    if (st) return st;
    elbo_rng rng;
    elbo_rng_seed(&rng, seed);
    init(m, &rng);
    return trainer_init(t, m, seed, &rng, err);
}

void model_for_row_chunks(model *m, int n, int rows, uint64_t seed, model_chunk_fn fn, void *arg)
{
    int n_chunks = (n + rows - 1) / rows;
    int nt = m->n_workers < n_chunks ? m->n_workers : n_chunks;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        unsigned fp = elbo_fp_flush_begin(); /* util/fpenv.h */
#pragma omp for schedule(static)
        for (int c = 0; c < n_chunks; c++) {
            int start = c * rows, count = n - start < rows ? n - start : rows;
            elbo_rng rng;
            elbo_rng_seed(&rng, seed + 0x9e3779b97f4a7c15ULL * (uint64_t)c);
            fn(m, omp_get_thread_num(), c, start, count, &rng, arg);
        }
        elbo_fp_flush_end(fp);
    }
}
