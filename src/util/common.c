/* common.c — error messages, aligned allocation, version, threads. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

elbo_status elbo_fail(elbo_error *err, elbo_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void *elbo_alloc_aligned(size_t n, size_t size)
{
    size_t bytes;
    if (!elbo_mul_ok(n, size, &bytes)) return NULL;
    if (bytes == 0) bytes = 64;
    if (bytes > SIZE_MAX - 63) return NULL;
    bytes = (bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes);
}

void *elbo_calloc_aligned(size_t n, size_t size)
{
    void *p = elbo_alloc_aligned(n, size);
    if (p) memset(p, 0, n * size);
    return p;
}

void elbo_free_aligned(void *p) { free(p); }

const char *elbo_version(void) { return ELBO_VERSION_STRING; }

const char *elbo_status_str(elbo_status s)
{
    switch (s) {
    case ELBO_OK: return "ok";
    case ELBO_ERR_IO: return "I/O error";
    case ELBO_ERR_FORMAT: return "bad file format";
    case ELBO_ERR_NOMEM: return "out of memory";
    case ELBO_ERR_ARG: return "invalid argument";
    case ELBO_ERR_NUMERIC: return "numerical fault";
    case ELBO_ERR_MISMATCH: return "checkpoint does not match";
    }
    return "unknown status";
}

elbo_status elbo_open_regular(const char *path, int *fd, size_t *size, elbo_error *err)
{
    *fd = open(path, O_RDONLY);
    if (*fd < 0) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(*fd);
        *fd = -1;
        return elbo_fail(err, ELBO_ERR_IO, "%s: not a regular file", path);
    }
    *size = (size_t)sb.st_size;
    return ELBO_OK;
}
