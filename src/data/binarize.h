/* binarize.h — how image bytes become model inputs (see binarize.c). */
#ifndef ELBO_BINARIZE_H
#define ELBO_BINARIZE_H

#include <stdint.h>

#include "elbo.h"

/* A key for one image's binarization, from a seed-like a and a counter b. */
uint64_t elbo_binarize_key(uint64_t a, uint64_t b);

/* dst[D] from src[D]: grey levels for ELBO_BINARIZE_NONE, else one Bernoulli
 * draw per pixel determined by key. */
void elbo_row_to_float(float *dst, const uint8_t *src, int D, elbo_binarize mode, uint64_t key);
/* The same draw for float values in [0, 1] (clamped), one per value. */
void elbo_frow_to_float(float *dst, const float *src, int D, uint64_t key);

#endif
