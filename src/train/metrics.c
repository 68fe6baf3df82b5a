/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "../io/atomic.h"
#include "../io/json.h"

elbo_status metrics_append(const char *path, const elbo_epoch_report *r, elbo_error *err)
{
    FILE *f = fopen(path, "a");
    if (!f) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot append: %s", path, strerror(errno));
    fprintf(f, "{\"epoch\":%d,\"step\":%ld", r->epoch, r->step);
    for (int k = 0; k < r->n_terms; k++) fprintf(f, ",\"train_%s\":%.6f", r->terms[k], r->train[k]);
    for (int k = 0; k < r->n_terms && r->has_test; k++)
        fprintf(f, ",\"test_%s\":%.6f", r->terms[k], r->test[k]);
    for (int k = 0; k < r->n_terms && r->has_val; k++)
        fprintf(f, ",\"val_%s\":%.6f", r->terms[k], r->val[k]);
    if (r->has_val) fprintf(f, ",\"best_epoch\":%d", r->best_epoch);
    if (r->extra_json) fputs(r->extra_json, f);
    fprintf(f, ",\"seconds\":%.4f}\n", r->seconds);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    if ((fclose(f) != 0) | bad)
        return elbo_fail(err, ELBO_ERR_IO, "%s: cannot append: %s", path, strerror(errno));
    return ELBO_OK;
}

typedef struct {
    FILE *from;
    int epochs;
} trim_arg;

/* The complete lines of the epochs the checkpoint covers, copied. */
static int keep_epochs(FILE *g, void *arg)
{
    const trim_arg *a = arg;
    char line[1 << 14];
    while (fgets(line, sizeof line, a->from)) {
        int e;
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\n' && sscanf(line, "{\"epoch\":%d,", &e) == 1 && e <= a->epochs)
            fputs(line, g);
    }
    return ferror(a->from) != 0;
}

elbo_status metrics_trim(const char *path, int epochs, elbo_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return ELBO_OK;
        return elbo_fail(err, ELBO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    trim_arg a = {f, epochs};
    elbo_status st = elbo_write_atomic(path, keep_epochs, &a, err);
    fclose(f);
    return st;
}

/* A numeric field of a line; NaN when absent. */
static double field(const json_node *o, const char *key)
{
    const json_node *n = json_get(o, key);
    return n && n->type == JSON_NUMBER ? n->num : NAN;
}

/* Grows x and cols[nk] to cap entries; -1 when out of memory. */
static int grow(double **x, double **cols, int nk, int cap)
{
    double *p = realloc(*x, sizeof(double) * (size_t)cap);
    if (!p) return -1;
    *x = p;
    for (int k = 0; k < nk; k++) {
        p = realloc(cols[k], sizeof(double) * (size_t)cap);
        if (!p) return -1;
        cols[k] = p;
    }
    return 0;
}

elbo_status metrics_read(const char *path, const char *const *keys, int nk, double **x,
                         double **cols, int *n, elbo_error *err)
{
    *x = NULL;
    for (int k = 0; k < nk; k++) cols[k] = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open", path);
    char line[1 << 14];
    int lineno = 0, cap = 0;
    elbo_status st = ELBO_OK;
    while (!st && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        if (*n == cap && grow(x, cols, nk, cap = cap ? 2 * cap : 64)) {
            st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        json_doc doc;
        size_t off;
        const char *msg;
        if (json_parse(line, len, &doc, &off, &msg) != 0) {
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s:%d: bad JSON at column %zu: %s", path, lineno,
                           off + 1, msg);
            break;
        }
        (*x)[*n] = field(doc.root, "epoch");
        for (int k = 0; k < nk; k++) cols[k][*n] = field(doc.root, keys[k]);
        json_free(&doc);
        if (!isfinite((*x)[*n]))
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s:%d: no \"epoch\"", path, lineno);
        else
            (*n)++;
    }
    fclose(f);
    if (!st && *n == 0) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: no epochs", path);
    if (st) {
        free(*x);
        *x = NULL;
        for (int k = 0; k < nk; k++) {
            free(cols[k]);
            cols[k] = NULL;
        }
    }
    return st;
}
