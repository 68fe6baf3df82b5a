/* rank.c — ranking metrics for anomaly detection: AUROC (the Mann-Whitney
 * probability that a random positive scores above a random negative, ties
 * counting one half) and AUPRC as average precision (the mean, over
 * positives, of the precision at that positive's score threshold; tied
 * scores are one threshold). Higher scores mean "more anomalous". */
#include <math.h>
#include <stdlib.h>

#include "../util/common.h"

typedef struct {
    double s;
    int pos;
} item;

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const item *)a)->s, y = ((const item *)b)->s;
    return (x < y) - (x > y);
}

/* Sorted copy (descending); NULL on failure or a NaN score. */
static item *sorted(const double *scores, const uint8_t *is_pos, long n, long *n_pos)
{
    item *it = malloc(sizeof(item) * (size_t)n);
    if (!it) return NULL;
    *n_pos = 0;
    for (long i = 0; i < n; i++) {
        if (isnan(scores[i])) {
            free(it);
            return NULL;
        }
        it[i].s = scores[i];
        it[i].pos = is_pos[i] != 0;
        *n_pos += it[i].pos;
    }
    qsort(it, (size_t)n, sizeof(item), by_score_desc);
    return it;
}

double elbo_auroc(const double *scores, const uint8_t *is_pos, long n)
{
    long P;
    item *it = sorted(scores, is_pos, n, &P);
    if (!it || P == 0 || P == n) {
        free(it);
        return NAN;
    }
    /* walk groups of tied scores from the top: every positive in a group
     * beats all negatives below it and half of the negatives tied with it */
    double wins = 0.0;
    long neg_below = n - P;
    for (long i = 0; i < n;) {
        long j = i, p = 0, q = 0;
        while (j < n && it[j].s == it[i].s) {
            p += it[j].pos;
            q += !it[j].pos;
            j++;
        }
        neg_below -= q;
        wins += p * (neg_below + 0.5 * q);
        i = j;
    }
    free(it);
    return wins / ((double)P * (double)(n - P));
}

double elbo_auprc(const double *scores, const uint8_t *is_pos, long n)
{
    long P;
    item *it = sorted(scores, is_pos, n, &P);
    if (!it || P == 0) {
        free(it);
        return NAN;
    }
    double ap = 0.0;
    long tp = 0, seen = 0;
    for (long i = 0; i < n;) {
        long j = i, p = 0;
        while (j < n && it[j].s == it[i].s) {
            p += it[j].pos;
            j++;
        }
        tp += p;
        seen = j;
        ap += p * ((double)tp / (double)seen); /* precision at this threshold */
        i = j;
    }
    free(it);
    return ap / (double)P;
}
