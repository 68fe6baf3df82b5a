/* common.c — error messages, aligned allocation, version, threads. */
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE */
#include "common.h"

#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>

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
    /* Buffers of 2 MB and more (parameters, Adam's moments, the data) are
     * streamed through every step: they are aligned to 2 MB and offered to
     * the kernel as huge pages, so a stream crosses a page boundary (a TLB
     * miss, and the end of a hardware prefetch run) every 2 MB rather than
     * every 4 KB. Where the kernel says no, they are ordinary pages. */
    enum { HUGE = 2 << 20 };
    size_t align = bytes >= HUGE ? HUGE : 64;
    if (bytes > SIZE_MAX - (align - 1)) return NULL;
    bytes = (bytes + align - 1) & ~(align - 1);
    void *p = aligned_alloc(align, bytes);
#ifdef MADV_HUGEPAGE
    if (p && align == HUGE) (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
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
