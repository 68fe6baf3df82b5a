/* safetensors.c — see safetensors.h. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20) /* the format's own limit is 100 MB */

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
              {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}};

static size_t dtype_size(const char *s)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(s, dtypes[i].name) == 0) return dtypes[i].size;
    return 0;
}

void st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* ------------------------------------------------------------------ write */

/* Writes all of buf to fd; 0 on success. */
static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

elbo_status st_write_tmp(const char *path, const st_meta *meta, int nmeta, const st_tensor *t,
                         int nt, char *tmp, size_t tmp_cap, elbo_error *err)
{
    /* header JSON: sized in a first pass, written in a second */
    size_t cap = 256;
    for (int i = 0; i < nmeta; i++) cap += 2 * (strlen(meta[i].key) + strlen(meta[i].value)) + 32;
    for (int i = 0; i < nt; i++) cap += 2 * strlen(t[i].name) + 96 + 24 * (size_t)t[i].ndim;
    for (int i = 0; i < nmeta; i++) cap += 6 * (strlen(meta[i].key) + strlen(meta[i].value));
    char *hdr = malloc(cap + 8);
    if (!hdr) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory for the header", path);
    size_t o = 0;
    o += (size_t)snprintf(hdr + o, cap - o, "{");
    if (nmeta > 0) {
        o += (size_t)snprintf(hdr + o, cap - o, "\"__metadata__\":{");
        for (int i = 0; i < nmeta; i++) {
            if (i) hdr[o++] = ',';
            o += json_quote(hdr + o, cap - o, meta[i].key);
            hdr[o++] = ':';
            o += json_quote(hdr + o, cap - o, meta[i].value);
        }
        o += (size_t)snprintf(hdr + o, cap - o, "}");
    }
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        if (nmeta > 0 || i > 0) hdr[o++] = ',';
        o += json_quote(hdr + o, cap - o, t[i].name);
        o += (size_t)snprintf(hdr + o, cap - o, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++)
            o += (size_t)snprintf(hdr + o, cap - o, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        o += (size_t)snprintf(hdr + o, cap - o, "],\"data_offsets\":[%zu,%zu]}", off, off + 4 * numel);
        off += 4 * numel;
    }
    o += (size_t)snprintf(hdr + o, cap - o, "}");
    ELBO_ASSERT(o < cap);
    while (o % 8) hdr[o++] = ' '; /* pad so the data start is 8-byte aligned */

    if (snprintf(tmp, tmp_cap, "%s.tmp.XXXXXX", path) >= (int)tmp_cap) {
        free(hdr);
        return elbo_fail(err, ELBO_ERR_ARG, "%s: path too long", path);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(hdr);
        return elbo_fail(err, ELBO_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                         strerror(errno));
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)o >> (8 * i));
    int bad = write_all(fd, len8, 8) || write_all(fd, hdr, o);
    free(hdr);
    for (int i = 0; i < nt && !bad; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        bad = write_all(fd, t[i].data, 4 * numel); /* little-endian host assumed */
    }
    if (!bad) bad = fsync(fd);
    int saved = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        unlink(tmp);
        return elbo_fail(err, ELBO_ERR_IO, "%s: write failed: %s", path, strerror(saved));
    }
    return ELBO_OK;
}

void st_sync_dir(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir[0] ? dir : "/", O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

elbo_status st_write(const char *path, const st_meta *meta, int nmeta, const st_tensor *t, int nt,
                     elbo_error *err)
{
    char tmp[4200];
    elbo_status st = st_write_tmp(path, meta, nmeta, t, nt, tmp, sizeof tmp, err);
    if (st) return st;
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return elbo_fail(err, ELBO_ERR_IO, "%s: rename failed: %s", path, strerror(saved));
    }
    st_sync_dir(path); /* make the rename itself durable */
    return ELBO_OK;
}

/* ------------------------------------------------------------------- read */

static elbo_status check_entry(const st_file *f, const json_node *e, size_t data_len, elbo_error *err)
{
    const char *p = f->path;
    if (e->type != JSON_OBJECT)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: header entry '%s' is not an object", p, e->key);
    const json_node *dt = json_get(e, "dtype"), *sh = json_get(e, "shape"),
                    *of = json_get(e, "data_offsets");
    if (!dt || dt->type != JSON_STRING || !sh || sh->type != JSON_ARRAY || !of ||
        of->type != JSON_ARRAY || of->count != 2)
        return elbo_fail(err, ELBO_ERR_FORMAT,
                         "%s: tensor '%s' lacks a valid dtype, shape or data_offsets", p, e->key);
    size_t es = dtype_size(dt->str);
    if (!es)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", p, e->key,
                         dt->str);
    if (sh->count > ST_MAX_DIMS)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: tensor '%s' has %zu dimensions (at most %d)", p,
                         e->key, sh->count, ST_MAX_DIMS);
    size_t bytes = es;
    for (const json_node *d = sh->child; d; d = d->next) {
        if (d->type != JSON_NUMBER || d->num < 0 || d->num > 9.0e15 || d->num != (double)(int64_t)d->num)
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: tensor '%s' has a bad shape entry", p, e->key);
        if (!elbo_mul_ok(bytes, (size_t)d->num, &bytes))
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: tensor '%s' shape overflows", p, e->key);
    }
    double a = of->child->num, b = of->child->next->num;
    if (of->child->type != JSON_NUMBER || of->child->next->type != JSON_NUMBER || a < 0 || b < a ||
        b > (double)data_len || a != (double)(int64_t)a || b != (double)(int64_t)b)
        return elbo_fail(err, ELBO_ERR_FORMAT,
                         "%s: tensor '%s' data_offsets [%.0f, %.0f] lie outside the %zu data bytes",
                         p, e->key, a, b, data_len);
    if ((size_t)(b - a) != bytes)
        return elbo_fail(err, ELBO_ERR_FORMAT,
                         "%s: tensor '%s' spans %.0f bytes but its dtype and shape need %zu", p,
                         e->key, b - a, bytes);
    return ELBO_OK;
}

elbo_status st_open(const char *path, st_file *f, elbo_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    int fd;
    elbo_status ost = elbo_open_regular(path, &fd, &f->size, err);
    if (ost) return ost;
    if (f->size < 8) {
        close(fd);
        return elbo_fail(err, ELBO_ERR_FORMAT,
                         "%s: file is %zu bytes, too short for a safetensors header", path, f->size);
    }
    f->buf = malloc(f->size);
    if (!f->buf) {
        close(fd);
        return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory for %zu bytes", path, f->size);
    }
    size_t got = 0;
    while (got < f->size) {
        ssize_t r = read(fd, f->buf + got, f->size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            close(fd);
            st_close(f);
            return elbo_fail(err, ELBO_ERR_IO, "%s: read failed at byte %zu", path, got);
        }
        got += (size_t)r;
    }
    close(fd);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)f->buf[i] << (8 * i);
    if (hlen > ST_MAX_HEADER || hlen > f->size - 8) {
        elbo_status st = elbo_fail(err, ELBO_ERR_FORMAT,
                                   "%s: header length %llu at offset 0 exceeds the file (%zu bytes) "
                                   "or the 100 MB limit",
                                   path, (unsigned long long)hlen, f->size);
        st_close(f);
        return st;
    }
    f->data_start = 8 + (size_t)hlen;
    size_t eoff;
    const char *emsg;
    if (json_parse((const char *)f->buf + 8, (size_t)hlen, &f->doc, &eoff, &emsg) != 0) {
        elbo_status st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad JSON header at offset %zu: %s",
                                   path, 8 + eoff, emsg);
        st_close(f);
        return st;
    }
    const json_node *root = f->doc.root;
    elbo_status st = ELBO_OK;
    if (root->type != JSON_OBJECT)
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: header is not a JSON object", path);
    size_t data_len = f->size - f->data_start;
    for (const json_node *e = root->child; !st && e; e = e->next) {
        if (strcmp(e->key, "__metadata__") == 0) {
            if (e->type != JSON_OBJECT) {
                st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ is not an object", path);
                break;
            }
            for (const json_node *kv = e->child; kv; kv = kv->next)
                if (kv->type != JSON_STRING) {
                    st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ value '%s' is not a string",
                                   path, kv->key);
                    break;
                }
            f->meta = e;
            continue;
        }
        st = check_entry(f, e, data_len, err);
    }
    if (st) st_close(f);
    return st;
}

void st_close(st_file *f)
{
    json_free(&f->doc);
    free(f->buf);
    f->buf = NULL;
}

const char *st_meta_get(const st_file *f, const char *key)
{
    const json_node *n = json_get(f->meta, key);
    return n && n->type == JSON_STRING ? n->str : NULL;
}

int st_has(const st_file *f, const char *name)
{
    return strcmp(name, "__metadata__") != 0 && json_get(f->doc.root, name) != NULL;
}

elbo_status st_read_f32(const st_file *f, const char *name, int ndim, const int64_t *shape,
                        float *dst, elbo_error *err)
{
    const json_node *e = strcmp(name, "__metadata__") ? json_get(f->doc.root, name) : NULL;
    if (!e) return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: tensor '%s' is missing", f->path, name);
    const json_node *dt = json_get(e, "dtype"), *sh = json_get(e, "shape"),
                    *of = json_get(e, "data_offsets");
    if (strcmp(dt->str, "F32") != 0)
        return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: tensor '%s' has dtype %s (F32 expected)",
                         f->path, name, dt->str);
    int same = (int)sh->count == ndim;
    int64_t got[ST_MAX_DIMS];
    int k = 0;
    for (const json_node *d = sh->child; d; d = d->next, k++) {
        got[k] = (int64_t)d->num;
        if (same && got[k] != shape[k]) same = 0;
    }
    if (!same) {
        char a[128], b[128];
        st_shape_str(a, sizeof a, (int)sh->count, got);
        st_shape_str(b, sizeof b, ndim, shape);
        return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: tensor '%s' has shape %s, expected %s",
                         f->path, name, a, b);
    }
    size_t begin = (size_t)of->child->num, end = (size_t)of->child->next->num;
    memcpy(dst, f->buf + f->data_start + begin, end - begin);
    for (size_t i = 0; i < (end - begin) / 4; i++)
        if (!isfinite(dst[i]))
            return elbo_fail(err, ELBO_ERR_FORMAT,
                             "%s: tensor '%s' holds a non-finite value (%g) at element %zu", f->path,
                             name, (double)dst[i], i);
    return ELBO_OK;
}
