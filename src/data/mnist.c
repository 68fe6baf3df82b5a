/* mnist.c — idx file reader (raw or gzip, through zlib's transparent gzread)
 * for MNIST-layout data sets. Every size is checked against the header and
 * the actual file length before anything large is allocated. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "../util/common.h"
#include "dataset.h"

#define IDX_MAX_DIM 4096      /* rows / cols larger than this are refused */
#define IDX_MAX_COUNT 100000000

/* Reads exactly n bytes. Returns 0 on success; on failure sets err naming
 * path, the byte offset reached and why (truncated or corrupt gzip). */
static elbo_status read_exact(gzFile f, const char *path, void *buf, size_t n, size_t offset,
                              const char *what, elbo_error *err)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: corrupt data near byte %zu while reading %s: %s",
                             path, offset + got, what, zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            if (zerr != Z_OK && zerr != Z_BUF_ERROR)
                return elbo_fail(err, ELBO_ERR_FORMAT, "%s: corrupt data near byte %zu: %s", path,
                                 offset + got, msg);
            return elbo_fail(err, ELBO_ERR_FORMAT,
                             "%s: file is truncated: it ends after %zu bytes while reading %s "
                             "(%zu bytes expected)",
                             path, offset + got, what, offset + n);
        }
        got += (size_t)r;
    }
    return ELBO_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Reads an idx file with ndim dimensions (3 for images, 1 for labels).
 * dims[] receives the sizes; *data a malloc'd uint8 payload. */
static elbo_status read_idx(const char *path, int ndim, uint32_t dims[3], uint8_t **data,
                            elbo_error *err)
{
    *data = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return elbo_fail(err, ELBO_ERR_IO, "%s: is a directory", path);
    gzFile f = gzopen(path, "rb");
    if (!f) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(f, 1 << 17);

    uint8_t hdr[16];
    size_t hlen = 4 + 4 * (size_t)ndim;
    elbo_status st = read_exact(f, path, hdr, hlen, 0, "the header", err);
    if (st) goto done;
    uint32_t magic = be32(hdr), want = 0x00000800u | (uint32_t)ndim;
    if (magic != want) {
        st = elbo_fail(err, ELBO_ERR_FORMAT,
                       "%s: bad magic number 0x%08x at offset 0 (expected 0x%08x: an idx file of "
                       "unsigned bytes with %d dimension%s)",
                       path, magic, want, ndim, ndim == 1 ? "" : "s");
        goto done;
    }
    size_t total = 1;
    for (int d = 0; d < ndim; d++) {
        dims[d] = be32(hdr + 4 + 4 * d);
        uint32_t lim = d == 0 ? IDX_MAX_COUNT : IDX_MAX_DIM;
        if (dims[d] == 0 || dims[d] > lim) {
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: dimension %d at offset %d is %u (must be 1..%u)",
                           path, d, 4 + 4 * d, dims[d], lim);
            goto done;
        }
        if (!elbo_mul_ok(total, dims[d], &total)) {
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: declared size overflows", path);
            goto done;
        }
    }
    /* For raw files the length is known up front: refuse before allocating. */
    if (gzdirect(f) && (size_t)sb.st_size != hlen + total) {
        st = elbo_fail(err, ELBO_ERR_FORMAT,
                       "%s: file is %lld bytes but its header declares %zu (%zu header + %zu data)",
                       path, (long long)sb.st_size, hlen + total, hlen, total);
        goto done;
    }
    /* deflate expands at most ~1032:1, so a gzip file this size cannot hold
     * more than this: refuse absurd headers before allocating. */
    if (!gzdirect(f) && total / 1032 > (size_t)sb.st_size + 1024) {
        st = elbo_fail(err, ELBO_ERR_FORMAT,
                       "%s: header declares %zu bytes of data, more than a %lld-byte gzip file "
                       "can hold",
                       path, total, (long long)sb.st_size);
        goto done;
    }
    *data = malloc(total ? total : 1);
    if (!*data) {
        st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory for %zu bytes", path, total);
        goto done;
    }
    st = read_exact(f, path, *data, total, hlen, "the data", err);
    if (st) goto done;
    char extra;
    int r = gzread(f, &extra, 1);
    if (r != 0) {
        int zerr;
        const char *msg = gzerror(f, &zerr);
        st = r < 0 ? elbo_fail(err, ELBO_ERR_FORMAT, "%s: corrupt data at the end: %s", path, msg)
                   : elbo_fail(err, ELBO_ERR_FORMAT,
                               "%s: trailing data after the %zu bytes the header declares", path,
                               hlen + total);
    } else {
        int zerr;
        const char *msg = gzerror(f, &zerr);
        if (zerr != Z_OK)
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: corrupt gzip stream: %s", path, msg);
    }
done:
    gzclose(f);
    if (st) {
        free(*data);
        *data = NULL;
    }
    return st;
}

elbo_status elbo_dataset_load_idx(const char *images_path, const char *labels_path,
                                  elbo_dataset *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    uint32_t idims[3], ldims[3];
    uint8_t *pix = NULL, *lab = NULL;
    elbo_status st = read_idx(images_path, 3, idims, &pix, err);
    if (st) return st;
    if (labels_path) {
        st = read_idx(labels_path, 1, ldims, &lab, err);
        if (st) {
            free(pix);
            return st;
        }
        if (ldims[0] != idims[0]) {
            free(pix);
            free(lab);
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s holds %u labels but %s holds %u images",
                             labels_path, ldims[0], images_path, idims[0]);
        }
    }
    int32_t *labels = NULL;
    if (lab) {
        labels = malloc(sizeof(int32_t) * (idims[0] ? idims[0] : 1));
        if (!labels) {
            free(pix);
            free(lab);
            return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory for %u labels", labels_path,
                             ldims[0]);
        }
        for (uint32_t i = 0; i < idims[0]; i++) labels[i] = lab[i];
        free(lab);
    }
    out->n = (int)idims[0];
    out->height = (int)idims[1];
    out->width = (int)idims[2];
    out->channels = 1;
    out->dim = out->height * out->width;
    out->dtype = ELBO_DTYPE_U8;
    out->u8 = pix;
    out->labels = labels;
    elbo_dataset_count_classes(out);
    return ELBO_OK;
}

/* dir/name.gz if it exists, else dir/name. */
static void pick_path(char *buf, size_t cap, const char *dir, const char *name)
{
    struct stat sb;
    snprintf(buf, cap, "%s/%s.gz", dir, name);
    if (stat(buf, &sb) == 0) return;
    snprintf(buf, cap, "%s/%s", dir, name);
}

elbo_status elbo_dataset_load_mnist(const char *dir, elbo_split split, elbo_dataset *out,
                                    elbo_error *err)
{
    const char *pre = split == ELBO_SPLIT_TRAIN ? "train" : "t10k";
    char img[4096], lab[4096], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", pre);
    pick_path(img, sizeof img, dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", pre);
    pick_path(lab, sizeof lab, dir, name);
    return elbo_dataset_load_idx(img, lab, out, err);
}
