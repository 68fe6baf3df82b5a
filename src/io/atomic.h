/* atomic.h — a file written whole or not at all: a temporary file beside
 * it (mkstemp), filled, flushed and fsync'd, renamed over the path, and
 * the folder fsync'd, so that a crash or a failed write never leaves a
 * half-written file. The .npy writer, metrics.jsonl's trim and the lda-c
 * and vocabulary writers use it; safetensors checkpoints have their own
 * two-file commit (checkpoint.c). */
#ifndef ELBO_ATOMIC_H
#define ELBO_ATOMIC_H

#include <stdio.h>

#include "../util/common.h"

/* Writes path through fill(f, arg), which returns non-zero on failure.
 * Errors name path: the temporary file could not be made, or the write,
 * flush, sync or rename failed (the temporary file is removed). */
elbo_status elbo_write_atomic(const char *path, int (*fill)(FILE *f, void *arg), void *arg, elbo_error *err);

#endif
