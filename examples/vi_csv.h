/* vi_csv.h — the example plug-ins' data reader: a CSV of rows
 * "x_1,...,x_K,y" (numbers; a first line that is not numbers is a header).
 * A plug-in reads its data however it likes; this is the examples' way. */
#ifndef VI_CSV_H
#define VI_CSV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads path into *n rows of *K features x [n, K] and y [n] (malloc'd; the
 * caller frees them, also after a failure). 0, or -1 with err [cap] set. */
static int vi_read_csv(const char *path, int *n, int *K, double **x, double **y, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(err, cap, "%s: cannot open", path), -1;
    char line[4096];
    int cap_rows = 0, line_no = 0;
    *n = *K = 0;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        double v[64];
        int c = 0;
        char *p = line, *end;
        while (c < 64) {
            v[c] = strtod(p, &end);
            if (end == p) break;
            c++;
            p = end + (*end == ',');
        }
        if (c == 0 && line_no == 1) continue; /* a header */
        if (c < 2 || (*K && c != *K + 1)) {
            fclose(f);
            return snprintf(err, cap, "%s: line %d: %d numbers, expected %s", path, line_no, c,
                            *K ? "one per feature and y" : "at least 2"), -1;
        }
        *K = c - 1;
        if (*n == cap_rows) {
            cap_rows = cap_rows ? 2 * cap_rows : 256;
            double *nx = realloc(*x, sizeof(double) * (size_t)cap_rows * *K), *ny = nx ? realloc(*y, sizeof(double) * (size_t)cap_rows) : NULL;
            if (nx) *x = nx;
            if (ny) *y = ny;
            if (!nx || !ny) return fclose(f), snprintf(err, cap, "out of memory"), -1;
        }
        memcpy(*x + (size_t)*n * *K, v, sizeof(double) * (size_t)*K);
        (*y)[(*n)++] = v[*K];
    }
    fclose(f);
    return *n ? 0 : (snprintf(err, cap, "%s: no rows", path), -1);
}

#endif
