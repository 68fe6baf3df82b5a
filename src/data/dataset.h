/* dataset.h — what readers and models share about elbo_dataset (elbo.h):
 * the class count, and rows turned into model inputs. */
#ifndef ELBO_DATASET_H
#define ELBO_DATASET_H

#include "elbo.h"

/* Sets ds->n_classes from ds->labels (0 without labels). */
void elbo_dataset_count_classes(elbo_dataset *ds);

/* Row i of ds into dst [dim]: values as they are (uint8 scaled by 1/255)
 * for ELBO_BINARIZE_NONE, else one Bernoulli draw per value determined by
 * key (the probability clamped to [0, 1] for float rows). */
void elbo_dataset_row_input(const elbo_dataset *ds, long i, float *dst, elbo_binarize mode,
                            uint64_t key);

/* Starts fetching row i into the cache. */
void elbo_dataset_prefetch(const elbo_dataset *ds, long i);

#endif
