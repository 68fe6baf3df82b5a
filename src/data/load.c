/* load.c — elbo_dataset_load: the reader for a path (a folder, or a file's
 * format from --format or its name), optional labels beside it, and the
 * image shape given for flat rows. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "../util/common.h"
#include "dataset.h"
#include "elbo_lda.h"

void elbo_load_opts_default(elbo_load_opts *o)
{
    memset(o, 0, sizeof *o);
    o->header = -1;
    o->split = ELBO_SPLIT_TRAIN;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The format of path: from o->format, else from the name. NULL if unknown. */
static const char *format_of(const char *path, const elbo_load_opts *o)
{
    struct stat sb;
    if (o->format) return o->format;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) { /* MNIST's idx files, or images */
        char p[4200];
        snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", path);
        int idx = stat(p, &sb) == 0;
        snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", path);
        idx |= stat(p, &sb) == 0;
        return idx ? "mnist" : "png";
    }
    if (ends_with(path, ".npy")) return "npy";
    if (ends_with(path, ".ldac") || ends_with(path, ".ldac.gz")) return "ldac";
    if (ends_with(path, ".csv") || ends_with(path, ".csv.gz")) return "csv";
    if (strstr(path, "idx") || ends_with(path, "-ubyte") || ends_with(path, "-ubyte.gz")) return "idx";
    return NULL;
}

/* Labels from a file beside the data: .npy or idx. */
static elbo_status load_labels(const char *path, elbo_dataset *ds, elbo_error *err)
{
    if (ends_with(path, ".npy")) {
        elbo_status st = elbo_npy_load_labels(path, ds->n, &ds->labels, err);
        if (!st) elbo_dataset_count_classes(ds);
        return st;
    }
    return elbo_fail(err, ELBO_ERR_ARG, "%s: labels must be an .npy file (idx labels go with "
                                        "elbo_dataset_load_idx)", path);
}

/* Real-valued targets from a file of one value per row (a data set of one
 * column: .npy or .csv), as many as ds has rows. */
static elbo_status load_targets(const char *path, elbo_dataset *ds, elbo_error *err)
{
    elbo_dataset t;
    elbo_load_opts o;
    elbo_load_opts_default(&o);
    elbo_status st = elbo_dataset_load(path, &o, &t, err);
    if (st) return st;
    if (t.dim != 1 || t.n != ds->n)
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: targets must be one value per row: %d rows of %d, for %d data "
                                             "rows", path, t.n, t.dim, ds->n);
    float *v = st ? NULL : malloc(sizeof(float) * (size_t)t.n);
    if (!st && !v) st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; !st && i < t.n; i++) {
        elbo_dataset_row(&t, i, v + i);
        if (!isfinite(v[i])) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: target %d is not finite", path, i);
    }
    if (!st) st = elbo_dataset_set_targets(ds, v, err);
    free(v);
    elbo_dataset_free(&t);
    return st;
}

/* The image shape for flat rows. */
static elbo_status apply_shape(const char *path, const elbo_load_opts *o, elbo_dataset *ds, elbo_error *err)
{
    if (!o->height && !o->width && !o->channels) return ELBO_OK;
    int c = o->channels ? o->channels : 1;
    if (o->height < 1 || o->width < 1 || c < 1 || (long)o->height * o->width * c != ds->dim)
        return elbo_fail(err, ELBO_ERR_ARG, "%s: an image shape %dx%dx%d does not fit rows of %d values", path,
                         o->height, o->width, c, ds->dim);
    ds->height = o->height;
    ds->width = o->width;
    ds->channels = c;
    return ELBO_OK;
}

/* Bytes as the floats x / 255 that every model reads them as, so that a
 * scale can multiply them (Blundell et al.'s x / 126 is --scale 255/126). */
static elbo_status u8_to_float(const char *path, elbo_dataset *ds, elbo_error *err)
{
    size_t cells = (size_t)ds->n * (size_t)ds->dim;
    float *f = malloc(sizeof(float) * (cells ? cells : 1));
    if (!f) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory for %zu scaled values", path, cells);
    for (size_t i = 0; i < cells; i++) f[i] = (float)ds->u8[i] / 255.0f;
    if (ds->map_base)
        munmap(ds->map_base, ds->map_len);
    else
        free(ds->u8);
    ds->map_base = NULL;
    ds->map_len = 0;
    ds->u8 = NULL;
    ds->f32 = f;
    ds->dtype = ELBO_DTYPE_F32;
    return ELBO_OK;
}

elbo_status elbo_dataset_load(const char *path, const elbo_load_opts *opts, elbo_dataset *out,
                              elbo_error *err)
{
    elbo_load_opts dflt;
    elbo_load_opts_default(&dflt);
    const elbo_load_opts *o = opts ? opts : &dflt;
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    const char *fmt = format_of(path, o);
    elbo_status st;
    if (!fmt)
        return elbo_fail(err, ELBO_ERR_ARG, "%s: cannot tell the format from the name (.npy, .csv, .csv.gz, "
                                            ".ldac, idx, an MNIST or a PNG folder); give it (--format)", path);
    if (!strcmp(fmt, "mnist"))
        st = elbo_dataset_load_mnist(path, o->split, out, err);
    else if (!strcmp(fmt, "idx"))
        st = elbo_dataset_load_idx(path, NULL, out, err);
    else if (!strcmp(fmt, "npy"))
        st = elbo_npy_load(path, out, err);
    else if (!strcmp(fmt, "csv"))
        st = elbo_csv_load(path, o->label_column, o->header, out, err);
    else if (!strcmp(fmt, "png"))
        st = elbo_pngdir_load(path, out, err);
    else if (!strcmp(fmt, "ldac"))
        st = elbo_dataset_load_ldac(path, o->vocab, out, err);
    else
        return elbo_fail(err, ELBO_ERR_ARG, "unknown format '%s' (npy, csv, idx, mnist, png or ldac)", fmt);
    if (!st && o->labels && !out->labels) st = load_labels(o->labels, out, err);
    if (!st && o->targets) st = load_targets(o->targets, out, err);
    if (!st && o->scale != 0.0 && o->scale != 1.0) {
        if (!isfinite(o->scale) || (out->dtype != ELBO_DTYPE_F32 && out->dtype != ELBO_DTYPE_U8))
            st = elbo_fail(err, ELBO_ERR_ARG, "%s: a scale must be finite and applies to images or "
                                              "float data", path);
        if (!st && out->dtype == ELBO_DTYPE_U8) st = u8_to_float(path, out, err);
        /* (a mapped .npy is private: its scaled pages become copies, never the file) */
        for (size_t i = 0; !st && i < (size_t)out->n * out->dim; i++) {
            out->f32[i] *= (float)o->scale;
            if (!isfinite(out->f32[i]))
                st = elbo_fail(err, ELBO_ERR_ARG, "%s: row %zu, column %zu is not finite once scaled by %g", path,
                               i / out->dim, i % out->dim, o->scale);
        }
    }
    if (!st) st = apply_shape(path, o, out, err);
    if (st) elbo_dataset_free(out);
    return st;
}
