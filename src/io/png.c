/* png.c — image grids as 8-bit greyscale PNG through libpng. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>

#include "../util/common.h"
#include "canvas.h"

/* libpng reports errors by longjmp; keep the message for elbo_error. */
typedef struct {
    jmp_buf jb;
    char msg[200];
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Writes h rows of w pixels (grey: 1 byte, RGB: 3 bytes each) as PNG. */
static elbo_status write_png_rows(const char *path, png_bytep *rowp, int W, int H, int color_type,
                                  elbo_error *err)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    png_ctx ctx;
    ctx.msg[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    elbo_status st = ELBO_OK;
    if (!png || !info) {
        st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: cannot initialise libpng", path);
    } else if (setjmp(ctx.jb)) {
        st = elbo_fail(err, ELBO_ERR_IO, "%s: PNG write failed: %s", path, ctx.msg);
    } else {
        png_init_io(png, fp);
        png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, color_type, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        png_write_image(png, rowp);
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (fclose(fp) != 0 && !st) st = elbo_fail(err, ELBO_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return st;
}

elbo_status elbo_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, elbo_error *err)
{
    png_bytep *rowp = malloc(sizeof *rowp * (size_t)h);
    if (!rowp) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    for (int y = 0; y < h; y++) rowp[y] = (png_bytep)(rgb + (size_t)y * w * 3);
    elbo_status st = write_png_rows(path, rowp, w, h, PNG_COLOR_TYPE_RGB, err);
    free(rowp);
    return st;
}

elbo_status elbo_write_png_grid_c(const char *path, const float *images, int n, int rows, int cols,
                                  int channels, int ncol, elbo_error *err)
{
    if (n < 1 || rows < 1 || cols < 1 || ncol < 1 || rows > 4096 || cols > 4096 ||
        (channels != 1 && channels != 3))
        return elbo_fail(err, ELBO_ERR_ARG, "%s: bad image grid (%d images of %dx%dx%d, %d columns)",
                         path, n, rows, cols, channels, ncol);
    const int pad = 2, C = channels;
    if (ncol > n) ncol = n;
    int nrow = (n + ncol - 1) / ncol;
    size_t W = (size_t)ncol * (cols + pad) + pad, H = (size_t)nrow * (rows + pad) + pad;
    if (W > 65535 || H > 65535)
        return elbo_fail(err, ELBO_ERR_ARG, "%s: image grid %zux%zu is too large", path, W, H);
    uint8_t *pix = calloc(W * H * C, 1);
    png_bytep *rowp = malloc(H * sizeof *rowp);
    if (!pix || !rowp) {
        free(pix);
        free(rowp);
        return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    }
    memset(pix, 64, W * H * C); /* dark grey border */
    for (int k = 0; k < n; k++) {
        size_t oy = (size_t)(k / ncol) * (rows + pad) + pad, ox = (size_t)(k % ncol) * (cols + pad) + pad;
        const float *img = images + (size_t)k * rows * cols * C; /* channels last */
        for (int y = 0; y < rows; y++)
            for (size_t x = 0; x < (size_t)cols * C; x++) {
                float v = img[(size_t)y * cols * C + x];
                if (!(v > 0.0f)) v = 0.0f; /* NaN too */
                if (v > 1.0f) v = 1.0f;
                pix[((oy + y) * W + ox) * C + x] = (uint8_t)lrintf(v * 255.0f);
            }
    }
    for (size_t y = 0; y < H; y++) rowp[y] = pix + y * W * C;
    elbo_status st = write_png_rows(path, rowp, (int)W, (int)H, C == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                                    err);
    free(pix);
    free(rowp);
    return st;
}

elbo_status elbo_write_png_grid(const char *path, const float *images, int n, int rows, int cols,
                                int ncol, elbo_error *err)
{
    return elbo_write_png_grid_c(path, images, n, rows, cols, 1, ncol, err);
}
