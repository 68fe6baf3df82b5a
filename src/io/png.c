/* png.c — image grids as 8-bit greyscale PNG through libpng. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
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

#define PNG_MAX_SIDE 8192

elbo_status elbo_png_read(const char *path, uint8_t **pix, int *w, int *h, int *c, elbo_error *err)
{
    *pix = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) {
        fclose(f);
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: not a PNG file (bad signature)", path);
    }
    /* the error context lives on the heap: what the handler writes before
     * longjmp stays defined (an automatic variable would not) */
    png_ctx *ctx = malloc(sizeof *ctx);
    if (!ctx) {
        fclose(f);
        return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    elbo_status st = ELBO_OK;
    if (!png || !info) {
        st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    } else if (setjmp(ctx->jb)) {
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: corrupt PNG: %s", path, ctx->msg);
    } else {
        png_init_io(png, f);
        png_set_sig_bytes(png, 8);
        png_set_user_limits(png, PNG_MAX_SIDE, PNG_MAX_SIDE);
        png_read_info(png, info);
        png_set_strip_16(png);
        png_set_strip_alpha(png);
        png_set_palette_to_rgb(png);
        png_set_expand_gray_1_2_4_to_8(png);
        png_read_update_info(png, info);
        int ct = png_get_color_type(png, info);
        *w = (int)png_get_image_width(png, info);
        *h = (int)png_get_image_height(png, info);
        *c = ct == PNG_COLOR_TYPE_GRAY ? 1 : 3;
        if ((ct != PNG_COLOR_TYPE_GRAY && ct != PNG_COLOR_TYPE_RGB) || png_get_bit_depth(png, info) != 8 ||
            png_get_rowbytes(png, info) != (size_t)*w * *c) {
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: unsupported PNG (colour type %d)", path, ct);
        } else {
            buf = malloc((size_t)*w * *h * *c);
            rows = malloc(sizeof(png_bytep) * (size_t)*h);
            if (!buf || !rows) {
                st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
            } else {
                for (int r = 0; r < *h; r++) rows[r] = buf + (size_t)r * *w * *c;
                png_read_image(png, rows);
                png_read_end(png, NULL);
            }
        }
    }
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    fclose(f);
    free(rows);
    free(ctx);
    if (st) {
        free(buf);
        return st;
    }
    *pix = buf;
    return ELBO_OK;
}
