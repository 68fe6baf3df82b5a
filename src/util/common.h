/* common.h — internal helpers shared by every part of the library:
 * error reporting, assertions, overflow-checked sizes, allocation.
 * Not installed; nothing here is part of the public API. */
#ifndef ELBO_COMMON_H
#define ELBO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "elbo.h"

/* Programmer bugs: abort with file and line. Never used for bad input. */
#define ELBO_ASSERT(cond)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "elbo: assertion failed: %s (%s:%d)\n", #cond,       \
                    __FILE__, __LINE__);                                         \
            abort();                                                             \
        }                                                                        \
    } while (0)

#if defined(__GNUC__)
#define ELBO_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ELBO_PRINTF(a, b)
#endif

/* Fills err (if non-NULL) with code and a printf-style message; returns code. */
elbo_status elbo_fail(elbo_error *err, elbo_status code, const char *fmt, ...) ELBO_PRINTF(3, 4);

/* a*b into *out; returns 0 on overflow of size_t. */
static inline int elbo_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* 64-byte aligned, zeroed allocation; NULL on failure or overflow. Free with
 * elbo_free_aligned. */
void *elbo_calloc_aligned(size_t n, size_t size);
/* Opens path for reading (*fd) when it is a regular file, with its size;
 * ELBO_ERR_IO naming the file otherwise. */
elbo_status elbo_open_regular(const char *path, int *fd, size_t *size, elbo_error *err);
/* The same, not zeroed: the pages cost no memory until first written. */
void *elbo_alloc_aligned(size_t n, size_t size);
void elbo_free_aligned(void *p);

#endif
