/* canvas.h — a small RGB raster for plots: pixels, lines, rectangles and
 * 5x7 text, written out as PNG. Internal; the public plot functions are in
 * plot.c. */
#ifndef ELBO_CANVAS_H
#define ELBO_CANVAS_H

#include <stdint.h>

#include "../util/common.h"

typedef struct {
    int w, h;
    uint8_t *rgb; /* [h, w, 3] */
} canvas;

typedef struct {
    uint8_t r, g, b;
} rgb_t;

/* White canvas; rgb NULL on allocation failure. */
canvas canvas_new(int w, int h);
void canvas_free(canvas *c);
void canvas_px(canvas *c, int x, int y, rgb_t col);
void canvas_rect(canvas *c, int x0, int y0, int x1, int y1, rgb_t col); /* filled, inclusive */
void canvas_line(canvas *c, int x0, int y0, int x1, int y1, rgb_t col, int thick);
/* Text with its top-left corner at (x, y), each font pixel scale x scale. */
void canvas_text(canvas *c, int x, int y, const char *s, rgb_t col, int scale);
int canvas_text_width(const char *s, int scale);
elbo_status canvas_write_png(const canvas *c, const char *path, elbo_error *err);

/* The ten colours of matplotlib's "tab10" palette. */
rgb_t canvas_palette(int i);

/* Reads the PNG at path as 8-bit grey (c = 1) or RGB (c = 3) into *pix
 * (malloc'd, h * w * c bytes, row-major, channels last): palettes and low
 * bit depths expanded, 16-bit samples stripped to 8, alpha dropped; sides
 * up to 8192. Errors name the file (png.c). */
elbo_status elbo_png_read(const char *path, uint8_t **pix, int *w, int *h, int *c, elbo_error *err);

/* Writes w x h RGB pixels (3 bytes each, row-major) as PNG (png.c). */
elbo_status elbo_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, elbo_error *err);

#endif
