/* plot.c — the plots elbo draws itself, with no plotting library: a latent
 * scatter coloured by label, and line charts of metrics.jsonl. Rendering is
 * a few hundred lines over a raster canvas (canvas.c) with a 5x7 bitmap font,
 * which keeps the dependencies at libpng. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canvas.h"
#include "json.h"
#include "../train/metrics.h"

static const rgb_t BLACK = {0, 0, 0}, GREY = {200, 200, 200}, DARK = {90, 90, 90}, WHITE = {255, 255, 255};

/* A "nice" tick step for a range (1, 2 or 5 times a power of ten). */
static double nice_step(double range, int target)
{
    double raw = range / target, p = pow(10.0, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_num(char *buf, size_t cap, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step));
    if (dec > 6) dec = 6;
    if (fabs(v) < 1e-6 * step) v = 0.0; /* a tick at 0 reached by steps from below: not "-0.00" */
    snprintf(buf, cap, "%.*f", dec, v);
}

typedef struct {
    int x0, y0, x1, y1; /* plot area in pixels */
    double xmin, xmax, ymin, ymax;
} frame;

static int px_x(const frame *f, double x) { return f->x0 + (int)lround((x - f->xmin) / (f->xmax - f->xmin) * (f->x1 - f->x0)); }
static int px_y(const frame *f, double y) { return f->y1 - (int)lround((y - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0)); }

/* Axes, grid and tick labels for frame f. */
static void draw_axes(canvas *c, frame *f, const char *title, const char *xlabel)
{
    if (!(f->xmax > f->xmin)) f->xmax = f->xmin + 1;
    if (!(f->ymax > f->ymin)) {
        f->ymax = f->ymin + 1;
        f->ymin -= 1;
    }
    double xs = nice_step(f->xmax - f->xmin, 6), ys = nice_step(f->ymax - f->ymin, 5);
    char buf[32];
    for (double v = ceil(f->xmin / xs) * xs; v <= f->xmax + 1e-9 * xs; v += xs) {
        int x = px_x(f, v);
        canvas_line(c, x, f->y0, x, f->y1, GREY, 1);
        fmt_num(buf, sizeof buf, v, xs);
        canvas_text(c, x - canvas_text_width(buf, 1) / 2, f->y1 + 6, buf, DARK, 1);
    }
    for (double v = ceil(f->ymin / ys) * ys; v <= f->ymax + 1e-9 * ys; v += ys) {
        int y = px_y(f, v);
        canvas_line(c, f->x0, y, f->x1, y, GREY, 1);
        fmt_num(buf, sizeof buf, v, ys);
        canvas_text(c, f->x0 - 6 - canvas_text_width(buf, 1), y - 3, buf, DARK, 1);
    }
    canvas_line(c, f->x0, f->y1, f->x1, f->y1, BLACK, 1);
    canvas_line(c, f->x0, f->y0, f->x0, f->y1, BLACK, 1);
    if (title) canvas_text(c, f->x0, f->y0 - 20, title, BLACK, 2);
    if (xlabel) canvas_text(c, (f->x0 + f->x1 - canvas_text_width(xlabel, 1)) / 2, f->y1 + 18, xlabel, DARK, 1);
}

elbo_status elbo_write_scatter_png(const char *path, const float *xy, const int32_t *labels, int n,
                                   const char *title, elbo_error *err)
{
    if (n < 1) return elbo_fail(err, ELBO_ERR_ARG, "%s: nothing to plot", path);
    canvas c = canvas_new(720, 640);
    if (!c.rgb) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    frame f = {70, 50, 600, 590, INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int i = 0; i < n; i++) {
        if (!isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1])) continue;
        f.xmin = fmin(f.xmin, xy[2 * i]);
        f.xmax = fmax(f.xmax, xy[2 * i]);
        f.ymin = fmin(f.ymin, xy[2 * i + 1]);
        f.ymax = fmax(f.ymax, xy[2 * i + 1]);
    }
    if (!isfinite(f.xmin)) {
        canvas_free(&c);
        return elbo_fail(err, ELBO_ERR_ARG, "%s: no finite points", path);
    }
    draw_axes(&c, &f, title, NULL);
    for (int i = 0; i < n; i++) {
        if (!isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1])) continue;
        int x = px_x(&f, xy[2 * i]), y = px_y(&f, xy[2 * i + 1]);
        canvas_rect(&c, x - 1, y - 1, x + 1, y + 1, canvas_palette(labels ? labels[i] : 0));
    }
    if (labels) /* legend: one swatch per label value present */
        for (int k = 0, row = 0; k < 256; k++) {
            int present = 0;
            for (int i = 0; i < n && !present; i++) present = labels[i] == k;
            if (!present) continue;
            char buf[8];
            snprintf(buf, sizeof buf, "%d", k);
            canvas_rect(&c, 625, 60 + 18 * row, 635, 70 + 18 * row, canvas_palette(k));
            canvas_text(&c, 642, 62 + 18 * row, buf, BLACK, 1);
            row++;
        }
    elbo_status st = canvas_write_png(&c, path, err);
    canvas_free(&c);
    return st;
}

/* The series' names and colours in a white box at the top right of f. */
static void draw_legend(canvas *c, const frame *f, const elbo_panel *pn)
{
    int w = 0;
    for (int s = 0; s < pn->n_series; s++) {
        int tw = canvas_text_width(pn->series[s].name, 1);
        w = tw > w ? tw : w;
    }
    int x0 = f->x1 - w - 32, y0 = f->y0 + 4;
    canvas_rect(c, x0, y0, f->x1 - 4, y0 + 6 + 12 * pn->n_series, WHITE);
    for (int s = 0; s < pn->n_series; s++) {
        int y = y0 + 4 + 12 * s;
        canvas_rect(c, x0 + 4, y + 2, x0 + 18, y + 4, canvas_palette(s));
        canvas_text(c, x0 + 24, y, pn->series[s].name, BLACK, 1);
    }
}

elbo_status elbo_write_plot_png(const char *path, const double *x, int n_points, const char *xlabel,
                                int n_panels, const elbo_panel *panels, elbo_error *err)
{
    if (n_points < 1 || n_panels < 1 || n_panels > 8)
        return elbo_fail(err, ELBO_ERR_ARG, "%s: %d points in %d panels", path, n_points, n_panels);
    const int pw = 460, ph = 340;
    canvas c = canvas_new(pw * n_panels, ph);
    if (!c.rgb) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    for (int p = 0; p < n_panels; p++) {
        const elbo_panel *pn = &panels[p];
        frame f = {p * pw + 70, 50, p * pw + pw - 20, ph - 50, INFINITY, -INFINITY, INFINITY, -INFINITY};
        for (int i = 0; i < n_points; i++) {
            f.xmin = fmin(f.xmin, x[i]);
            f.xmax = fmax(f.xmax, x[i]);
            for (int s = 0; s < pn->n_series; s++) {
                double v = pn->series[s].y[i];
                if (!isfinite(v)) continue;
                f.ymin = fmin(f.ymin, v);
                f.ymax = fmax(f.ymax, v);
            }
        }
        if (!isfinite(f.ymin)) f.ymin = 0, f.ymax = 1;
        double pad = 0.05 * (f.ymax - f.ymin);
        f.ymin -= pad;
        f.ymax += pad;
        draw_axes(&c, &f, pn->title, xlabel);
        for (int s = 0; s < pn->n_series; s++) {
            rgb_t col = canvas_palette(s);
            int have = 0, px = 0, py = 0;
            for (int i = 0; i < n_points; i++) {
                double v = pn->series[s].y[i];
                if (!isfinite(v)) {
                    have = 0;
                    continue;
                }
                int qx = px_x(&f, x[i]), qy = px_y(&f, v);
                if (have) canvas_line(&c, px, py, qx, qy, col, 2);
                canvas_rect(&c, qx - 2, qy - 2, qx + 2, qy + 2, col);
                px = qx;
                py = qy;
                have = 1;
            }
        }
        draw_legend(&c, &f, pn);
    }
    elbo_status st = canvas_write_png(&c, path, err);
    canvas_free(&c);
    return st;
}

elbo_status elbo_plot_metrics(const char *metrics_path, const char *png_path, elbo_error *err)
{
    static const char *const keys[6] = {"train_loss", "test_loss", "train_recon",
                                        "test_recon", "train_kl",   "test_kl"};
    double *x, *y[6];
    int n;
    elbo_status st = metrics_read(metrics_path, keys, 6, &x, y, &n, err);
    if (st) return st;
    elbo_series s[3][2] = {{{"train", y[0]}, {"test", y[1]}},
                           {{"train", y[2]}, {"test", y[3]}},
                           {{"train", y[4]}, {"test", y[5]}}};
    elbo_panel p[3] = {{"-elbo (nats)", 2, s[0]}, {"reconstruction", 2, s[1]}, {"kl", 2, s[2]}};
    st = elbo_write_plot_png(png_path, x, n, "epoch", 3, p, err);
    free(x);
    for (int k = 0; k < 6; k++) free(y[k]);
    return st;
}

/* Epochs are whole numbers from 1: the shared x axis of several runs. */
enum { PLOT_MAX_EPOCH = 1000000 };

elbo_status elbo_plot_metrics_compare(const char *const *paths, const char *const *names, int n_files,
                                      const char *const *keys, int n_keys, const char *png_path,
                                      elbo_error *err)
{
    if (n_files < 1 || n_files > 8 || n_keys < 1 || n_keys > 8)
        return elbo_fail(err, ELBO_ERR_ARG, "%s: %d metrics files and %d keys (1 to 8 of each)", png_path,
                         n_files, n_keys);
    double *x[8] = {0}, *cols[8][8] = {{0}}, *grid = NULL, *ys[8][8] = {{0}};
    int n[8] = {0}, last = 0;
    elbo_status st = ELBO_OK;
    for (int f = 0; f < n_files && !st; f++) {
        st = metrics_read(paths[f], keys, n_keys, &x[f], cols[f], &n[f], err);
        for (int i = 0; !st && i < n[f]; i++) {
            double e = x[f][i];
            if (!(e >= 1 && e <= PLOT_MAX_EPOCH && e == floor(e)))
                st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: epoch %g is not a whole number in 1..%d",
                               paths[f], i + 1, e, PLOT_MAX_EPOCH);
            else if ((int)e > last)
                last = (int)e;
        }
    }
    for (int k = 0; !st && k < n_keys; k++) { /* a key no file has would be an empty panel */
        int any = 0;
        for (int f = 0; f < n_files && !any; f++)
            for (int i = 0; i < n[f] && !any; i++) any = isfinite(cols[f][k][i]);
        if (!any)
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s%s: no line has a number \"%s\"", paths[0],
                           n_files > 1 ? " and the others" : "", keys[k]);
    }
    if (!st && !(grid = malloc(sizeof(double) * (size_t)last)))
        st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", png_path);
    for (int f = 0; f < n_files && !st; f++)
        for (int k = 0; k < n_keys && !st; k++) {
            if (!(ys[k][f] = malloc(sizeof(double) * (size_t)last))) {
                st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", png_path);
                break;
            }
            for (int e = 0; e < last; e++) ys[k][f][e] = NAN;
            for (int i = 0; i < n[f]; i++) ys[k][f][(int)x[f][i] - 1] = cols[f][k][i]; /* a later line wins */
        }
    if (!st) {
        elbo_series series[8][8];
        elbo_panel panels[8];
        for (int e = 0; e < last; e++) grid[e] = e + 1;
        for (int k = 0; k < n_keys; k++) {
            for (int f = 0; f < n_files; f++) series[k][f] = (elbo_series){names[f], ys[k][f]};
            panels[k] = (elbo_panel){keys[k], n_files, series[k]};
        }
        st = elbo_write_plot_png(png_path, grid, last, "epoch", n_keys, panels, err);
    }
    free(grid);
    for (int f = 0; f < 8; f++) {
        free(x[f]);
        for (int k = 0; k < 8; k++) free(cols[f][k]), free(ys[k][f]);
    }
    return st;
}
