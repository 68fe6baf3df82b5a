/* dataset.c — elbo_dataset: n rows of dim values (uint8 or float32) with
 * optional labels and labelled flags. Readers fill it (mnist.c for idx);
 * this file holds what every data set shares: construction from floats,
 * row access, label bookkeeping, subsetting and freeing. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../util/common.h"
#include "../util/rng.h"
#include "binarize.h"
#include "dataset.h"
#include "elbo_lda.h"

void elbo_dataset_count_classes(elbo_dataset *ds)
{
    int c = 0;
    for (int i = 0; ds->labels && i < ds->n; i++)
        if (ds->labels[i] + 1 > c) c = ds->labels[i] + 1;
    ds->n_classes = c;
}

elbo_status elbo_dataset_from_float(int n, int dim, const float *x, const int32_t *labels,
                                    elbo_dataset *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || dim < 1 || !x)
        return elbo_fail(err, ELBO_ERR_ARG, "a data set needs at least one row and one column (got %d x %d)",
                         n, dim);
    for (int i = 0; labels && i < n; i++)
        if (labels[i] < 0 || labels[i] >= ELBO_MAX_LABEL)
            return elbo_fail(err, ELBO_ERR_ARG, "label %d of row %d is outside 0..%d", (int)labels[i], i,
                             ELBO_MAX_LABEL - 1);
    out->f32 = malloc(sizeof(float) * (size_t)n * dim);
    out->labels = labels ? malloc(sizeof(int32_t) * (size_t)n) : NULL;
    if (!out->f32 || (labels && !out->labels)) {
        elbo_dataset_free(out);
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for a %d x %d data set", n, dim);
    }
    memcpy(out->f32, x, sizeof(float) * (size_t)n * dim);
    if (labels) memcpy(out->labels, labels, sizeof(int32_t) * (size_t)n);
    out->n = n;
    out->dim = dim;
    out->dtype = ELBO_DTYPE_F32;
    elbo_dataset_count_classes(out);
    return ELBO_OK;
}

void elbo_dataset_row(const elbo_dataset *ds, int i, float *dst)
{
    elbo_dataset_row_input(ds, i, dst, ELBO_BINARIZE_NONE, 0);
}

void elbo_dataset_row_input(const elbo_dataset *ds, long i, float *dst, elbo_binarize mode,
                            uint64_t key)
{
    int D = ds->dim;
    if (ds->dtype == ELBO_DTYPE_COUNTS) { /* a document's counts, dense */
        const elbo_corpus *c = ds->counts;
        memset(dst, 0, sizeof(float) * (size_t)D);
        for (int j = c->doc_ptr[i]; j < c->doc_ptr[i + 1]; j++) dst[c->word[j]] = (float)c->count[j];
        (void)mode;
        (void)key;
        return;
    }
    if (ds->dtype == ELBO_DTYPE_U8) {
        elbo_row_to_float(dst, ds->u8 + (size_t)i * D, D, mode, key);
        return;
    }
    const float *src = ds->f32 + (size_t)i * D;
    if (mode == ELBO_BINARIZE_NONE) {
        memcpy(dst, src, sizeof(float) * (size_t)D);
        return;
    }
    elbo_frow_to_float(dst, src, D, key);
}

void elbo_dataset_prefetch(const elbo_dataset *ds, long i)
{
    size_t D = (size_t)ds->dim;
    if (ds->dtype == ELBO_DTYPE_COUNTS) return;
    if (ds->dtype == ELBO_DTYPE_U8)
        for (size_t k = 0; k < D; k += 64) __builtin_prefetch(ds->u8 + (size_t)i * D + k);
    else
        for (size_t k = 0; k < D; k += 16) __builtin_prefetch(ds->f32 + (size_t)i * D + k);
}

elbo_status elbo_dataset_check(const elbo_dataset *ds, int dim, elbo_error *err)
{
    if (ds && ds->dtype == ELBO_DTYPE_COUNTS)
        return elbo_fail(err, ELBO_ERR_ARG, "the data set holds word counts (a corpus); this model "
                                            "needs dense rows (a topic model takes corpora)");
    if (!ds || ds->n < 1 || (ds->dtype == ELBO_DTYPE_U8 ? !ds->u8 : !ds->f32))
        return elbo_fail(err, ELBO_ERR_ARG, "the data set is empty");
    if (ds->dim == dim) return ELBO_OK;
    if (ds->height > 0)
        return elbo_fail(err, ELBO_ERR_ARG,
                         "the data set's images are %dx%dx%d = %d values but the model expects %d",
                         ds->height, ds->width, ds->channels, ds->dim, dim);
    return elbo_fail(err, ELBO_ERR_ARG, "the data set's rows hold %d values but the model expects %d",
                     ds->dim, dim);
}

int elbo_dataset_is_labelled(const elbo_dataset *ds, int i)
{
    return ds->labels && i >= 0 && i < ds->n && (!ds->labelled || ds->labelled[i]);
}

int elbo_dataset_keep_labels(elbo_dataset *ds, int keep)
{
    if (!ds->labels || keep < 0) return -1;
    if (!ds->labelled) {
        ds->labelled = malloc((size_t)(ds->n > 0 ? ds->n : 1));
        if (!ds->labelled) return -1;
        memset(ds->labelled, 1, (size_t)ds->n);
    }
    int *seen = calloc((size_t)ds->n_classes + 1, sizeof(int)), kept = 0;
    if (!seen) return -1;
    for (int i = 0; i < ds->n; i++) {
        int y = ds->labels[i];
        if (y < 0 || y >= ds->n_classes) { /* labels changed behind n_classes' back */
            free(seen);
            return -1;
        }
        ds->labelled[i] = ds->labelled[i] && seen[y] < keep;
        if (ds->labelled[i]) {
            seen[y]++;
            kept++;
        }
    }
    free(seen);
    return kept;
}

elbo_status elbo_dataset_check_unit(const elbo_dataset *ds, elbo_error *err)
{
    if (ds->dtype != ELBO_DTYPE_F32) return ELBO_OK;
    for (size_t i = 0; i < (size_t)ds->n * ds->dim; i++)
        if (!(ds->f32[i] >= 0.0f && ds->f32[i] <= 1.0f))
            return elbo_fail(err, ELBO_ERR_ARG,
                             "row %zu, column %zu holds %g, outside [0, 1], which a Bernoulli "
                             "likelihood cannot model: use --likelihood gaussian",
                             i / ds->dim, i % ds->dim, (double)ds->f32[i]);
    return ELBO_OK;
}

int elbo_dataset_draw_labels(elbo_dataset *ds, int per_class, uint64_t seed)
{
    if (!ds->labels || per_class < 0) return -1;
    int *order = malloc(sizeof(int) * (size_t)(ds->n > 0 ? ds->n : 1));
    int *seen = calloc((size_t)ds->n_classes + 1, sizeof(int));
    if (!ds->labelled) ds->labelled = malloc((size_t)(ds->n > 0 ? ds->n : 1));
    if (!order || !seen || !ds->labelled) {
        free(order);
        free(seen);
        return -1;
    }
    elbo_rng r;
    elbo_rng_seed(&r, seed);
    for (int i = 0; i < ds->n; i++) order[i] = i;
    elbo_rng_shuffle(&r, order, ds->n);
    int kept = 0;
    for (int k = 0; k < ds->n; k++) {
        int i = order[k], y = ds->labels[i];
        if (y < 0 || y >= ds->n_classes) {
            kept = -1;
            break;
        }
        ds->labelled[i] = seen[y] < per_class;
        if (ds->labelled[i]) seen[y]++, kept++;
    }
    free(order);
    free(seen);
    return kept;
}

int elbo_dataset_drop_label(elbo_dataset *ds, int label)
{
    if (!ds->labels) return 0;
    size_t D = (size_t)ds->dim, es = ds->dtype == ELBO_DTYPE_U8 ? 1 : sizeof(float);
    char *base = ds->dtype == ELBO_DTYPE_U8 ? (char *)ds->u8 : (char *)ds->f32;
    int k = 0;
    for (int i = 0; i < ds->n; i++) {
        if (ds->labels[i] == label) continue;
        if (k != i) {
            memmove(base + (size_t)k * D * es, base + (size_t)i * D * es, D * es);
            ds->labels[k] = ds->labels[i];
            if (ds->labelled) ds->labelled[k] = ds->labelled[i];
            if (ds->targets) ds->targets[k] = ds->targets[i];
        }
        k++;
    }
    int dropped = ds->n - k;
    ds->n = k;
    return dropped;
}

elbo_status elbo_dataset_set_targets(elbo_dataset *ds, const float *targets, elbo_error *err)
{
    for (int i = 0; i < ds->n; i++)
        if (!isfinite(targets[i])) return elbo_fail(err, ELBO_ERR_ARG, "target %d is not finite", i);
    float *t = malloc(sizeof(float) * (size_t)(ds->n > 0 ? ds->n : 1));
    if (!t) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %d targets", ds->n);
    memcpy(t, targets, sizeof(float) * (size_t)ds->n);
    free(ds->targets);
    ds->targets = t;
    return ELBO_OK;
}

void elbo_dataset_truncate(elbo_dataset *ds, int n)
{
    if (n >= 0 && n < ds->n) ds->n = n;
    if (ds->counts && n >= 0 && n < ds->counts->n_docs) ds->counts->n_docs = n; /* the first n documents */
}

void elbo_dataset_free(elbo_dataset *ds)
{
    if (!ds) return;
    if (ds->map_base)
        munmap(ds->map_base, ds->map_len); /* the values were the file's pages */
    else {
        free(ds->u8);
        free(ds->f32);
    }
    free(ds->labels);
    free(ds->labelled);
    free(ds->targets);
    if (ds->counts) elbo_corpus_free(ds->counts);
    free(ds->counts);
    memset(ds, 0, sizeof *ds);
}

/* elbo_dataset_split (tail 0: a seeded draw) and elbo_dataset_split_tail
 * (tail 1: the last rows). */
static elbo_status split(elbo_dataset *ds, double fraction, uint64_t seed, int tail,
                         elbo_dataset *val, elbo_error *err)
{
    memset(val, 0, sizeof *val);
    if (ds->dtype == ELBO_DTYPE_COUNTS)
        return elbo_fail(err, ELBO_ERR_ARG, "a corpus is split when it is prepared (elbo lda prepare "
                                            "--test-fraction), not here");
    if (!(fraction > 0.0 && fraction < 1.0))
        return elbo_fail(err, ELBO_ERR_ARG, "a validation fraction must lie in (0, 1), not %g", fraction);
    int nv = (int)(fraction * ds->n + 0.5);
    nv = nv < 1 ? 1 : nv;
    if (ds->n < 2 || nv >= ds->n)
        return elbo_fail(err, ELBO_ERR_ARG, "%d rows cannot give %g of them to validation and keep some",
                         ds->n, fraction);
    int *perm = malloc(sizeof(int) * (size_t)ds->n);
    uint8_t *to_val = calloc((size_t)ds->n, 1);
    size_t es = ds->dtype == ELBO_DTYPE_U8 ? 1 : sizeof(float), row = (size_t)ds->dim * es;
    char *vx = malloc(row * (size_t)nv);
    val->labels = ds->labels ? malloc(sizeof(int32_t) * (size_t)nv) : NULL;
    val->labelled = ds->labelled ? malloc((size_t)nv) : NULL;
    val->targets = ds->targets ? malloc(sizeof(float) * (size_t)nv) : NULL;
    if (!perm || !to_val || !vx || (ds->labels && !val->labels) || (ds->labelled && !val->labelled) ||
        (ds->targets && !val->targets)) {
        free(perm);
        free(to_val);
        free(vx);
        elbo_dataset_free(val);
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory splitting %d rows", ds->n);
    }
    elbo_rng r;
    elbo_rng_seed(&r, seed ^ 0x7a11da7aULL);
    for (int i = 0; i < ds->n; i++) perm[i] = i;
    if (!tail) elbo_rng_shuffle(&r, perm, ds->n);
    for (int i = 0; i < nv; i++) to_val[tail ? ds->n - 1 - i : perm[i]] = 1;
    char *base = ds->dtype == ELBO_DTYPE_U8 ? (char *)ds->u8 : (char *)ds->f32;
    int k = 0, v = 0;
    for (int i = 0; i < ds->n; i++) { /* both sides keep the file's order */
        if (to_val[i]) {
            memcpy(vx + (size_t)v * row, base + (size_t)i * row, row);
            if (val->labels) val->labels[v] = ds->labels[i];
            if (val->labelled) val->labelled[v] = ds->labelled[i];
            if (val->targets) val->targets[v] = ds->targets[i];
            v++;
            continue;
        }
        if (k != i) {
            memmove(base + (size_t)k * row, base + (size_t)i * row, row);
            if (ds->labels) ds->labels[k] = ds->labels[i];
            if (ds->labelled) ds->labelled[k] = ds->labelled[i];
            if (ds->targets) ds->targets[k] = ds->targets[i];
        }
        k++;
    }
    free(perm);
    free(to_val);
    val->n = nv;
    val->dim = ds->dim;
    val->height = ds->height;
    val->width = ds->width;
    val->channels = ds->channels;
    val->dtype = ds->dtype;
    if (ds->dtype == ELBO_DTYPE_U8) val->u8 = (uint8_t *)vx;
    else val->f32 = (float *)vx;
    val->n_classes = ds->n_classes;
    ds->n = k;
    return ELBO_OK;
}

elbo_status elbo_dataset_split(elbo_dataset *ds, double fraction, uint64_t seed, elbo_dataset *val,
                               elbo_error *err)
{
    return split(ds, fraction, seed, 0, val, err);
}

elbo_status elbo_dataset_split_tail(elbo_dataset *ds, double fraction, elbo_dataset *val,
                                    elbo_error *err)
{
    return split(ds, fraction, 0, 1, val, err);
}

void elbo_dataset_moments(const elbo_dataset *ds, double *mean, double *sd)
{
    int D = ds->dim;
    float *row = malloc(sizeof(float) * (size_t)D);
    for (int k = 0; k < D; k++) mean[k] = sd[k] = 0.0;
    for (int i = 0; row && i < ds->n; i++) { /* Welford, column by column */
        elbo_dataset_row(ds, i, row);
        for (int k = 0; k < D; k++) {
            double d = row[k] - mean[k];
            mean[k] += d / (i + 1);
            sd[k] += d * (row[k] - mean[k]);
        }
    }
    for (int k = 0; k < D; k++) {
        double v = ds->n > 1 ? sd[k] / (ds->n - 1) : 0.0;
        sd[k] = v > 1e-24 ? sqrt(v) : 1.0;
    }
    free(row);
}

elbo_status elbo_dataset_standardize(elbo_dataset *ds, const double *mean, const double *sd,
                                     elbo_error *err)
{
    if (ds->dtype != ELBO_DTYPE_F32)
        return elbo_fail(err, ELBO_ERR_ARG, "standardizing needs float data (these are uint8 pixels)");
    for (size_t i = 0; i < (size_t)ds->n * ds->dim; i++) {
        size_t k = i % (size_t)ds->dim;
        ds->f32[i] = (float)((ds->f32[i] - mean[k]) / sd[k]);
    }
    return ELBO_OK;
}
