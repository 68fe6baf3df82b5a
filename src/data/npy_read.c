/* npy_read.c — NumPy .npy files as data sets and labels (format versions
 * 1.0, 2.0 and 3.0): "\x93NUMPY", the version, a little-endian header
 * length (2 bytes for 1.0, 4 for later), a Python dict literal with
 * 'descr', 'fortran_order' and 'shape', then the data.
 *
 * Data: '<f4' and '|u1' in C order are memory-mapped and used as they are
 * (one copy of the data in memory, the page cache's; MAP_PRIVATE, so
 * subsetting the set in place never writes the file); '<f8', and any
 * Fortran-order array, are converted into a fresh buffer. Shapes [N, D],
 * [N, H, W] and [N, H, W, C] (images, channels last). Labels: a 1-D array
 * of integers (|u1, |i1, <i2, <u2, <i4, <u4, <i8, <u8), each >= 0 and
 * < 2^31. Every size is checked against the file before use; errors name
 * the file, the byte offset or element, and the reason. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/common.h"
#include "dataset.h"

#define NPY_MAX_HEADER (1u << 20)

typedef struct {
    char kind;      /* 'f', 'u', 'i' */
    int size;       /* bytes per element */
    int fortran;
    int ndim;
    int64_t shape[8];
    size_t data_off; /* where the data start */
    size_t count;    /* elements */
} npy_header;

/* Skips spaces in s. */
static const char *ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return s;
}

/* The value text after 'key': in the dict d, or NULL. */
static const char *dict_value(const char *d, const char *key)
{
    char q[40];
    for (int quote = 0; quote < 2; quote++) {
        snprintf(q, sizeof q, quote ? "\"%s\"" : "'%s'", key);
        const char *p = strstr(d, q);
        if (!p) continue;
        p = ws(p + strlen(q));
        if (*p != ':') return NULL;
        return ws(p + 1);
    }
    return NULL;
}

static elbo_status parse_descr(const char *path, const char *v, npy_header *h, elbo_error *err)
{
    if (!v || (*v != '\'' && *v != '"'))
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: header has no 'descr' string", path);
    char q = *v++, d[16];
    size_t n = 0;
    while (v[n] && v[n] != q && n + 1 < sizeof d) n++;
    if (v[n] != q) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unterminated 'descr'", path);
    memcpy(d, v, n);
    d[n] = 0;
    /* byte order: '<' little, '|' not applicable, '=' native (little here) */
    if (n != 3 || (d[0] != '<' && d[0] != '|' && d[0] != '=') || !strchr("fui", d[1]) ||
        !strchr("1248", d[2]))
        return elbo_fail(err, ELBO_ERR_FORMAT,
                         "%s: unsupported dtype '%s' (elbo reads little-endian float32, float64, "
                         "uint8 and, for labels, integers)",
                         path, d);
    h->kind = d[1];
    h->size = d[2] - '0';
    if (h->kind == 'f' && h->size < 4)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unsupported dtype '%s' (float16)", path, d);
    if (h->size > 1 && d[0] == '|')
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: dtype '%s' has no byte order", path, d);
    return ELBO_OK;
}

static elbo_status parse_shape(const char *path, const char *v, npy_header *h, elbo_error *err)
{
    if (!v || *v != '(') return elbo_fail(err, ELBO_ERR_FORMAT, "%s: header has no 'shape' tuple", path);
    v = ws(v + 1);
    h->ndim = 0;
    h->count = 1;
    while (*v != ')') {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || errno || x < 0 || h->ndim >= 8)
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad 'shape' (dimension %d)", path, h->ndim + 1);
        h->shape[h->ndim++] = x;
        if (!elbo_mul_ok(h->count, (size_t)x, &h->count))
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: 'shape' overflows", path);
        v = ws(end);
        if (*v == ',') v = ws(v + 1);
        else if (*v != ')') return elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad 'shape' tuple", path);
    }
    return ELBO_OK;
}

/* Reads and checks the header of the file of length len (its first bytes
 * in buf, n of them). */
static elbo_status parse_header(const char *path, const uint8_t *buf, size_t n, size_t len,
                                npy_header *h, elbo_error *err)
{
    memset(h, 0, sizeof *h);
    if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: not an .npy file (bad magic at byte 0)", path);
    int major = buf[6];
    if (major < 1 || major > 3)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unsupported .npy version %d.%d", path, major, buf[7]);
    size_t pre = major == 1 ? 10 : 12, hl;
    if (n < pre) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: truncated header", path);
    hl = major == 1 ? (size_t)(buf[8] | buf[9] << 8)
                    : (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    if (hl > NPY_MAX_HEADER || pre + hl > n)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: header of %zu bytes runs past the file (%zu bytes)",
                         path, hl, len);
    char *d = malloc(hl + 1);
    if (!d) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory for the header", path);
    memcpy(d, buf + pre, hl);
    d[hl] = 0;
    if (strlen(d) != hl) {
        free(d);
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: NUL byte inside the header", path);
    }
    elbo_status st = parse_descr(path, dict_value(d, "descr"), h, err);
    const char *fo = dict_value(d, "fortran_order");
    if (!st && (!fo || (strncmp(fo, "True", 4) != 0 && strncmp(fo, "False", 5) != 0)))
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: header has no 'fortran_order' True/False", path);
    if (!st) {
        h->fortran = fo[0] == 'T';
        st = parse_shape(path, dict_value(d, "shape"), h, err);
    }
    free(d);
    if (st) return st;
    h->data_off = pre + hl;
    size_t bytes;
    if (!elbo_mul_ok(h->count, (size_t)h->size, &bytes) || h->data_off + bytes != len)
        return elbo_fail(err, ELBO_ERR_FORMAT,
                         "%s: the shape and dtype need %zu data bytes after byte %zu, the file has %zu",
                         path, h->count * (size_t)h->size, h->data_off, len - h->data_off);
    return ELBO_OK;
}

/* The whole file mapped (private, writable pages are copies). */
static elbo_status map_file(const char *path, void **base, size_t *len, elbo_error *err)
{
    int fd;
    elbo_status st = elbo_open_regular(path, &fd, len, err);
    if (st) return st;
    if (*len == 0) {
        close(fd);
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: the file is empty", path);
    }
    *base = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (*base == MAP_FAILED) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    return ELBO_OK;
}

/* Where element (row r, k-th value of the row in C order) lies in a
 * Fortran-order array of h's shape: r + N (i1 + s1 (i2 + s2 ...)). */
static size_t fortran_index(const npy_header *h, size_t r, size_t k)
{
    size_t digit[8], rem = k;
    for (int d = h->ndim - 1; d >= 1; d--) { /* C order: the last index runs fastest */
        digit[d] = rem % (size_t)h->shape[d];
        rem /= (size_t)h->shape[d];
    }
    size_t idx = r, stride = (size_t)h->shape[0];
    for (int d = 1; d < h->ndim; d++) {
        idx += digit[d] * stride;
        stride *= (size_t)h->shape[d];
    }
    return idx;
}

/* Element i of the data as a double (little-endian file and host). */
static double element(const npy_header *h, const uint8_t *data, size_t i)
{
    const uint8_t *p = data + i * (size_t)h->size;
    if (h->kind == 'f') {
        if (h->size == 4) {
            float f;
            memcpy(&f, p, 4);
            return f;
        }
        double v;
        memcpy(&v, p, 8);
        return v;
    }
    uint64_t u = 0;
    memcpy(&u, p, (size_t)h->size);
    if (h->kind == 'u' || h->size == 8) return h->kind == 'u' ? (double)u : (double)(int64_t)u;
    uint64_t sign = 1ULL << (8 * h->size - 1); /* sign-extend a narrower integer */
    return (double)(int64_t)((u ^ sign) - sign);
}

/* The file mapped and its header read; unmapped again on failure. */
static elbo_status open_npy(const char *path, void **base, size_t *len, npy_header *h, elbo_error *err)
{
    elbo_status st = map_file(path, base, len, err);
    if (st) return st;
    st = parse_header(path, *base, *len, *len, h, err);
    if (st) munmap(*base, *len);
    return st;
}

elbo_status elbo_npy_load(const char *path, elbo_dataset *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    void *base;
    size_t len;
    npy_header h;
    elbo_status st = open_npy(path, &base, &len, &h, err);
    if (st) return st;
    if (h.ndim < 2 || h.ndim > 4)
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: shape has %d dimensions; elbo reads [N, D], [N, H, W] "
                                             "or [N, H, W, C]", path, h.ndim);
    if (!st && (h.kind == 'i' || (h.kind == 'u' && h.size != 1)))
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: integer dtype for data; elbo reads float32, float64 or uint8",
                       path);
    size_t dim = 1;
    for (int d = 1; !st && d < h.ndim; d++) dim *= (size_t)h.shape[d];
    if (!st && (h.shape[0] < 1 || dim < 1 || h.shape[0] > (1L << 30) || dim > (1L << 30)))
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: %lld rows of %zu values: empty or too large", path,
                       (long long)h.shape[0], dim);
    if (st) {
        munmap(base, len);
        return st;
    }
    out->n = (int)h.shape[0];
    out->dim = (int)dim;
    if (h.ndim >= 3) {
        out->height = (int)h.shape[1];
        out->width = (int)h.shape[2];
        out->channels = h.ndim == 4 ? (int)h.shape[3] : 1;
    }
    const uint8_t *data = (const uint8_t *)base + h.data_off;
    int as_is = !h.fortran && ((h.kind == 'f' && h.size == 4) || h.kind == 'u');
    out->dtype = h.kind == 'u' ? ELBO_DTYPE_U8 : ELBO_DTYPE_F32;
    if (as_is && ((uintptr_t)data % (size_t)h.size) == 0) {
        if (out->dtype == ELBO_DTYPE_U8) out->u8 = (uint8_t *)data;
        else out->f32 = (float *)data;
        out->map_base = base;
        out->map_len = len;
    } else { /* converted into a fresh C-order buffer */
        size_t total = (size_t)out->n * dim;
        void *buf = malloc(total * (out->dtype == ELBO_DTYPE_U8 ? 1 : sizeof(float)));
        if (!buf) {
            munmap(base, len);
            return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory for %zu values", path, total);
        }
        for (size_t r = 0; r < (size_t)out->n; r++)
            for (size_t k = 0; k < dim; k++) {
                size_t src = h.fortran ? fortran_index(&h, r, k) : r * dim + k;
                double v = element(&h, data, src);
                if (out->dtype == ELBO_DTYPE_U8) ((uint8_t *)buf)[r * dim + k] = (uint8_t)v;
                else ((float *)buf)[r * dim + k] = (float)v;
            }
        munmap(base, len);
        if (out->dtype == ELBO_DTYPE_U8) out->u8 = buf;
        else out->f32 = buf;
    }
    if (out->dtype == ELBO_DTYPE_F32)
        for (size_t i = 0; i < (size_t)out->n * dim; i++)
            if (!isfinite(out->f32[i])) {
                elbo_status bad = elbo_fail(err, ELBO_ERR_FORMAT, "%s: row %zu, column %zu is %g (not finite)",
                                            path, i / dim, i % dim, (double)out->f32[i]);
                elbo_dataset_free(out);
                return bad;
            }
    return ELBO_OK;
}

elbo_status elbo_npy_load_labels(const char *path, int n, int32_t **labels, elbo_error *err)
{
    *labels = NULL;
    void *base;
    size_t len;
    npy_header h;
    elbo_status st = open_npy(path, &base, &len, &h, err);
    if (st) return st;
    if (h.ndim != 1 || h.shape[0] != n)
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: labels must be a 1-D array of %d values (one per row)%s",
                       path, n, h.ndim == 1 ? ", it holds a different number" : "");
    int32_t *y = st ? NULL : malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!st && !y) st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory for %d labels", path, n);
    const uint8_t *data = (const uint8_t *)base + (st ? 0 : h.data_off);
    for (int i = 0; !st && i < n; i++) {
        double v = element(&h, data, (size_t)i);
        if (!(v >= 0 && v < ELBO_MAX_LABEL) || v != floor(v))
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: label %d is %g; labels are integers in 0..%d", path, i, v,
                           ELBO_MAX_LABEL - 1);
        else
            y[i] = (int32_t)v;
    }
    munmap(base, len);
    if (st) {
        free(y);
        return st;
    }
    *labels = y;
    return ELBO_OK;
}
