/* npy.c — NumPy .npy files (format version 1.0), written atomically:
 * "\x93NUMPY", version 1.0, a little-endian uint16 header length, a Python
 * dict literal {'descr': ..., 'fortran_order': False, 'shape': (...), }
 * padded with spaces to a multiple of 64 bytes and ended by '\n', then the
 * data in C order. numpy.load reads them as they are. */
#include <string.h>

#include "../util/common.h"
#include "atomic.h"

/* The file's bytes after the header is formed. */
typedef struct {
    const char *hdr;
    int o;
    const void *data;
    size_t esize, count;
} npy_body;

static int put_npy(FILE *f, void *arg)
{
    const npy_body *b = arg;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(b->o & 0xff),
                             (unsigned char)(b->o >> 8)};
    return fwrite(pre, 1, 10, f) != 10 || fwrite(b->hdr, 1, (size_t)b->o, f) != (size_t)b->o ||
           (b->count && fwrite(b->data, b->esize, b->count, f) != b->count);
}

elbo_status elbo_write_npy(const char *path, const void *data, elbo_npy_dtype dtype, int ndim,
                           const int64_t *shape, elbo_error *err)
{
    if (ndim < 0 || ndim > 8) return elbo_fail(err, ELBO_ERR_ARG, "%s: %d dimensions", path, ndim);
    static const char *const descrs[] = {"<f4", "<f8", "|u1", "<i4"};
    static const size_t sizes[] = {4, 8, 1, 4};
    if ((int)dtype < 0 || (int)dtype > 3) return elbo_fail(err, ELBO_ERR_ARG, "%s: dtype %d", path, (int)dtype);
    const char *descr = descrs[dtype];
    size_t esize = sizes[dtype], count = 1;
    char hdr[512];
    int o = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || !elbo_mul_ok(count, (size_t)shape[d], &count))
            return elbo_fail(err, ELBO_ERR_ARG, "%s: bad shape", path);
        o += snprintf(hdr + o, sizeof hdr - (size_t)o, "%lld%s", (long long)shape[d],
                      ndim == 1 ? "," : d + 1 < ndim ? ", " : "");
    }
    o += snprintf(hdr + o, sizeof hdr - (size_t)o, "), }");
    size_t total = 10 + (size_t)o + 1, pad = (64 - total % 64) % 64;
    if (total + pad > sizeof hdr) return elbo_fail(err, ELBO_ERR_ARG, "%s: header too long", path);
    memset(hdr + o, ' ', pad);
    o += (int)pad;
    hdr[o++] = '\n';
    npy_body b = {hdr, o, data, esize, count};
    return elbo_write_atomic(path, put_npy, &b, err);
}
