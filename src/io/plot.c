/* plot.c — the plots elbo draws itself, with no plotting library: a latent
 * scatter coloured by label, and line charts of metrics.jsonl. Rendering is
 * a few hundred lines over a raster canvas (canvas.c) with a 5x7 bitmap font,
 * which keeps the dependencies at libpng. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "canvas.h"
#include "json.h"
#include "../train/metrics.h"

static const rgb_t BLACK = {0, 0, 0}, GREY = {200, 200, 200}, DARK = {90, 90, 90};

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
            /* legend in the title row, right-aligned, series side by side */
            int lx = f.x1 - 80 * (pn->n_series - s), ly = f.y0 - 16;
            canvas_rect(&c, lx, ly + 2, lx + 14, ly + 4, col);
            canvas_text(&c, lx + 20, ly, pn->series[s].name, BLACK, 1);
        }
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
