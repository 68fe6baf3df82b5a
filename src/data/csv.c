/* csv.c — numeric CSV files as data sets (raw or gzip, through zlib):
 * comma-separated cells, one row per line (\n or \r\n), an optional header
 * line (detected when its cells are not all numbers, or forced), and an
 * optional label column chosen by header name or by index (negative counts
 * from the end: -1 is the last column). Every row must have as many cells
 * as the first; every cell must be a finite number, and a label a whole
 * number >= 0. Errors name the file, the line and the column. The values
 * are stored as float32 (the text is read whole first: CSV is for data
 * sets that fit in memory twice). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "../util/common.h"
#include "dataset.h"

#define CSV_MAX_BYTES ((size_t)1 << 32)

elbo_status elbo_read_text(const char *path, char **text, size_t *len, elbo_error *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    elbo_status st = buf ? ELBO_OK : elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    while (!st) {
        if (cap - n < (1 << 15)) {
            char *nb = cap < CSV_MAX_BYTES ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: too large to read (%zu bytes so far)", path, n);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t want = cap - n - 1 < (1u << 30) ? cap - n - 1 : (1u << 30); /* gzread takes an int */
        int r = gzread(f, buf + n, (unsigned)want);
        if (r < 0) {
            int zerr;
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: corrupt data near byte %zu: %s", path, n, gzerror(f, &zerr));
        }
        if (r <= 0) break;
        n += (size_t)r;
    }
    int zc = gzclose(f); /* a gzip stream cut short ends "normally" here: its error comes at close */
    if (!st && zc != Z_OK)
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: %s after %zu bytes", path,
                       zc == Z_BUF_ERROR ? "the gzip stream is truncated" : "the gzip stream is corrupt", n);
    if (st) {
        free(buf);
        return st;
    }
    buf[n] = 0;
    const char *nul = memchr(buf, 0, n);
    if (nul) {
        size_t at = (size_t)(nul - buf);
        free(buf);
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: NUL byte in the text at byte %zu: not a text file", path, at);
    }
    *text = buf;
    *len = n;
    return ELBO_OK;
}

/* Cells of line s (up to its end) as pointers into s, which is cut at the
 * delimiters and the line end; delim ' ' splits at runs of spaces and tabs
 * (ignoring them at the ends). Returns the number of cells, or -1 for more
 * than max. *next gets the start of the following line. */
static int split_line(char *s, char delim, char **cells, int max, char **next)
{
    char *end = strchr(s, '\n');
    *next = end ? end + 1 : s + strlen(s);
    if (end) *end = 0;
    size_t l = strlen(s);
    if (l && s[l - 1] == '\r') s[--l] = 0;
    int n = 0;
    if (delim == ' ') {
        for (char *p = s; *p;) {
            while (*p == ' ' || *p == '\t') *p++ = 0;
            if (!*p) break;
            if (n >= max) return -1;
            cells[n++] = p;
            while (*p && *p != ' ' && *p != '\t') p++;
        }
        return n;
    }
    for (char *p = s;; p++) {
        if (n >= max) return -1;
        cells[n++] = p;
        p = strchr(p, delim);
        if (!p) break;
        *p = 0;
    }
    return n;
}

/* A number in cell c (spaces around allowed) that is finite as a float32. */
static int parse_num(const char *c, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(c, &end);
    if (end == c || errno == ERANGE) return 0;
    while (*end == ' ' || *end == '\t') end++;
    return *end == 0 && fabs(*v) <= FLT_MAX;
}

/* 1 when nothing but white space remains. */
static int rest_blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    return *s == 0;
}

/* Which column holds the labels: by header name, or by index. */
static elbo_status label_index(const char *path, const char *want, char **head, int ncol, int has_header,
                               int *col, elbo_error *err)
{
    *col = -1;
    if (!want) return ELBO_OK;
    char *end;
    long k = strtol(want, &end, 10);
    if (end != want && *end == 0) {
        if (k < 0) k += ncol;
        if (k < 0 || k >= ncol)
            return elbo_fail(err, ELBO_ERR_ARG, "%s: label column %s is outside the %d columns", path, want, ncol);
        *col = (int)k;
        return ELBO_OK;
    }
    for (int c = 0; has_header && c < ncol; c++) {
        const char *h = head[c];
        while (*h == ' ' || *h == '"') h++;
        size_t l = strlen(h);
        while (l && (h[l - 1] == ' ' || h[l - 1] == '"')) l--;
        if (l == strlen(want) && !strncmp(h, want, l)) {
            *col = c;
            return ELBO_OK;
        }
    }
    return elbo_fail(err, ELBO_ERR_ARG, "%s: no column named '%s'%s", path, want,
                     has_header ? "" : " (the file has no header line)");
}

enum { CSV_MAX_COLS = 1 << 20 };

/* Parses the rows of text after the header into out (float32 values and,
 * with lcol >= 0, labels). line0 is the first data line's number. */
static elbo_status parse_rows(const char *path, char *p, char delim, int line0, int ncol, int lcol,
                              char **cells, elbo_dataset *out, elbo_error *err)
{
    size_t cap = 1024, n = 0;
    int D = ncol - (lcol >= 0);
    float *x = malloc(sizeof(float) * cap * (size_t)D);
    int32_t *y = lcol >= 0 ? malloc(sizeof(int32_t) * cap) : NULL;
    elbo_status st = x && (lcol < 0 || y) ? ELBO_OK : elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    for (int line = line0; !st && *p; line++) {
        char *next;
        if (rest_blank(p)) break; /* blank lines at the end */
        int nc = split_line(p, delim, cells, ncol + 1, &next);
        if (nc != ncol) {
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d has %s%d cells, the first row %d", path, line,
                           nc < 0 ? "more than " : "", nc < 0 ? ncol : nc, ncol);
            break;
        }
        if (n == cap) {
            float *nx = realloc(x, sizeof(float) * cap * 2 * (size_t)D);
            int32_t *ny = y ? realloc(y, sizeof(int32_t) * cap * 2) : NULL;
            if (nx) x = nx;
            if (ny) y = ny;
            if (!nx || (y && !ny) || cap > (1u << 30)) {
                st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory at line %d", path, line);
                break;
            }
            cap *= 2;
        }
        for (int c = 0, k = 0; c < ncol && !st; c++) {
            double v;
            if (!parse_num(cells[c], &v))
                st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, column %d: '%.40s' is not a finite number",
                               path, line, c + 1, cells[c]);
            else if (c == lcol && (v < 0 || v != floor(v) || v >= ELBO_MAX_LABEL))
                st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, column %d: label %g is not a whole number in "
                               "0..%d", path, line, c + 1, v, ELBO_MAX_LABEL - 1);
            else if (c == lcol)
                y[n] = (int32_t)v;
            else
                x[n * (size_t)D + (size_t)k++] = (float)v;
        }
        n++;
        p = next;
    }
    if (!st && n == 0) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: no data rows", path);
    if (st) {
        free(x);
        free(y);
        return st;
    }
    out->n = (int)n;
    out->dim = D;
    out->dtype = ELBO_DTYPE_F32;
    out->f32 = x;
    out->labels = y;
    elbo_dataset_count_classes(out);
    return ELBO_OK;
}

/* The delimiter of line s: a comma, else a semicolon, else white space. */
static char delimiter_of(const char *s)
{
    const char *eol = strchr(s, '\n');
    size_t n = eol ? (size_t)(eol - s) : strlen(s);
    if (memchr(s, ',', n)) return ',';
    if (memchr(s, ';', n)) return ';';
    if (memchr(s, '\t', n) && !memchr(s, ' ', n)) return '\t';
    return ' ';
}

/* A copy of the line at s, split: *cells (allocated, as many as the line
 * can hold) point into *copy. Returns the count, -1 as split_line, -2 when
 * out of memory. */
static int split_copy(const char *s, char delim, char **copy, char ***cells, char **next)
{
    const char *eol = strchr(s, '\n');
    size_t l = eol ? (size_t)(eol - s) : strlen(s), max = l + 1 < CSV_MAX_COLS ? l + 1 : CSV_MAX_COLS;
    *copy = malloc(l + 1);
    *cells = malloc(sizeof(char *) * (max + 1));
    if (!*copy || !*cells) return -2;
    memcpy(*copy, s, l);
    (*copy)[l] = 0;
    char *dummy;
    *next = (char *)s + l + (eol ? 1 : 0);
    return split_line(*copy, delim, *cells, (int)max, &dummy);
}

static int all_numeric(char **cells, int n)
{
    double v;
    for (int c = 0; c < n; c++)
        if (!parse_num(cells[c], &v)) return 0;
    return n > 0;
}

elbo_status elbo_csv_load(const char *path, const char *label_column, int header, elbo_dataset *out,
                          elbo_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL, *p, *next, *hcopy = NULL, *dcopy = NULL, **cells = NULL, **hcells = NULL;
    size_t len = 0;
    elbo_status st = elbo_read_text(path, &text, &len, err);
    if (st) return st;
    int line = 1;
    for (p = text; *p == '\n' || *p == '\r'; p++) line += *p == '\n';
    if (!*p) {
        free(text);
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: the file is empty", path);
    }
    char delim = delimiter_of(p), **dcells = NULL;
    int hn = split_copy(p, delim, &hcopy, &hcells, &next);
    int has_header = hn > 0 && (header == 1 || (header < 0 && !all_numeric(hcells, hn)));
    int ncol = hn, lcol = -1;
    if (hn == -2) st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    else if (hn == -1) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d has too many cells", path, line);
    if (!st && has_header) { /* the columns are the first data row's */
        p = next;
        line++;
        while (*p == '\n' || *p == '\r') line += *p++ == '\n';
        ncol = *p ? split_copy(p, delim, &dcopy, &dcells, &next) : 0;
        if (ncol < 1) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: a header but no data rows", path);
    }
    if (!st)
        st = label_index(path, label_column, hcells, ncol, has_header && hn == ncol, &lcol, err);
    if (!st && ncol - (lcol >= 0) < 1) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: no value columns", path);
    if (!st && !(cells = malloc(sizeof(char *) * ((size_t)ncol + 2))))
        st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    if (!st) st = parse_rows(path, p, delim, line, ncol, lcol, cells, out, err);
    free(hcopy);
    free(dcopy);
    free(cells);
    free(hcells);
    free(dcells);
    free(text);
    return st;
}
