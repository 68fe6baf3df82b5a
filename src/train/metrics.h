/* metrics.h — metrics.jsonl, written and read in one place: one JSON object
 * per epoch, {"epoch":E,"step":S,"train_TERM":...,"test_TERM":...,<the
 * model's extra fields>,"seconds":T}, each line fsync'd. */
#ifndef ELBO_METRICS_H
#define ELBO_METRICS_H

#include "../util/common.h"

/* Appends r's line to path (created if absent). */
elbo_status metrics_append(const char *path, const elbo_epoch_report *r, elbo_error *err);
/* Rewrites path keeping only complete lines of epochs <= epochs (resume:
 * the lines of epochs the checkpoint covers). A missing file is fine. */
elbo_status metrics_trim(const char *path, int epochs, elbo_error *err);
/* Reads the numeric fields keys[nk] of every line: epochs into x[n] and
 * field k into cols[k][n] (NaN where absent). *x and *cols[k] are malloc'd
 * (free each); *n >= 1 on success. */
elbo_status metrics_read(const char *path, const char *const *keys, int nk, double **x,
                         double **cols, int *n, elbo_error *err);

#endif
