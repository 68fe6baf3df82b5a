/* dataset.h — what readers and models share about elbo_dataset (elbo.h):
 * the class count, and rows turned into model inputs. */
#ifndef ELBO_DATASET_H
#define ELBO_DATASET_H

#include "elbo.h"

/* Labels lie in [0, ELBO_MAX_LABEL): readers refuse others. */
#define ELBO_MAX_LABEL 65536

/* Sets ds->n_classes from ds->labels (0 without labels). */
void elbo_dataset_count_classes(elbo_dataset *ds);
/* ELBO_ERR_ARG naming the first row and column of float data outside
 * [0, 1], which a Bernoulli likelihood cannot model (uint8 data always fit). */
elbo_status elbo_dataset_check_unit(const elbo_dataset *ds, elbo_error *err);

/* Row i of ds into dst [dim]: values as they are (uint8 scaled by 1/255)
 * for ELBO_BINARIZE_NONE, else one Bernoulli draw per value determined by
 * key (the probability clamped to [0, 1] for float rows). */
void elbo_dataset_row_input(const elbo_dataset *ds, long i, float *dst, elbo_binarize mode,
                            uint64_t key);

/* Readers (npy_read.c): an .npy data set ([N, D], [N, H, W], [N, H, W, C];
 * float32 and uint8 in C order mapped as they are), and n integer labels
 * from a 1-D .npy into a fresh array. */
elbo_status elbo_npy_load(const char *path, elbo_dataset *out, elbo_error *err);
elbo_status elbo_npy_load_labels(const char *path, int n, int32_t **labels, elbo_error *err);

/* The whole file (raw or gzip), decompressed and NUL-terminated, into
 * *text (malloc'd) of *len bytes; a NUL byte inside is refused (csv.c). */
elbo_status elbo_read_text(const char *path, char **text, size_t *len, elbo_error *err);

/* A numeric CSV file (csv.c): label_column by name or index (NULL: none),
 * header 1, 0 or -1 (detect). */
elbo_status elbo_csv_load(const char *path, const char *label_column, int header, elbo_dataset *out,
                          elbo_error *err);

/* A folder of PNG images (pngdir.c): its *.png files, or its sub-folders
 * files (labels by the folders' sorted names). */
elbo_status elbo_pngdir_load(const char *dir, elbo_dataset *out, elbo_error *err);

/* Starts fetching row i into the cache. */
void elbo_dataset_prefetch(const elbo_dataset *ds, long i);

#endif
