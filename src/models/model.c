/* model.c — helpers over a model's tensor table (see model.h). */
#include "model.h"

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
