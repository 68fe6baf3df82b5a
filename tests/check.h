/* check.h — a tiny test harness. CHECK(cond, fmt, ...) counts a pass or
 * prints the failure with its location; check_summary() prints the counts
 * as "N passed, N failed" and returns the exit status. */
#ifndef ELBO_CHECK_H
#define ELBO_CHECK_H

#include <stdio.h>

static int check_pass_, check_fail_;

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (cond) {                                                                            \
            check_pass_++;                                                                     \
        } else {                                                                               \
            check_fail_++;                                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
        }                                                                                      \
    } while (0)

static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}

#endif
