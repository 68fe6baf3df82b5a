/* npy.c — NumPy .npy files (format version 1.0), written atomically:
 * "\x93NUMPY", version 1.0, a little-endian uint16 header length, a Python
 * dict literal {'descr': ..., 'fortran_order': False, 'shape': (...), }
 * padded with spaces to a multiple of 64 bytes and ended by '\n', then the
 * data in C order. numpy.load reads them as they are. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../util/common.h"
#include "safetensors.h"

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
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return elbo_fail(err, ELBO_ERR_ARG, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return elbo_fail(err, ELBO_ERR_IO, "%s: cannot create a file beside it: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return elbo_fail(err, ELBO_ERR_IO, "%s: %s", path, strerror(errno));
    }
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(o & 0xff),
                             (unsigned char)(o >> 8)};
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(hdr, 1, (size_t)o, f) != (size_t)o ||
              (count && fwrite(data, esize, count, f) != count);
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return elbo_fail(err, ELBO_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    st_sync_dir(path);
    return ELBO_OK;
}
