/* canvas.c — see canvas.h. */
#include "canvas.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "font5x7.h"


canvas canvas_new(int w, int h)
{
    canvas c = {w, h, malloc((size_t)w * h * 3)};
    if (c.rgb) memset(c.rgb, 255, (size_t)w * h * 3);
    return c;
}

void canvas_free(canvas *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

void canvas_px(canvas *c, int x, int y, rgb_t col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->rgb + ((size_t)y * c->w + x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

void canvas_rect(canvas *c, int x0, int y0, int x1, int y1, rgb_t col)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) canvas_px(c, x, y, col);
}

void canvas_line(canvas *c, int x0, int y0, int x1, int y1, rgb_t col, int thick)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int e = dx + dy, lo = -(thick - 1) / 2, hi = thick / 2;
    for (int guard = 0; guard < 100000; guard++) {
        for (int a = lo; a <= hi; a++)
            for (int b = lo; b <= hi; b++) canvas_px(c, x0 + a, y0 + b, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

static const glyph5x7 *find_glyph(char ch)
{
    ch = (char)tolower((unsigned char)ch);
    for (size_t i = 0; i < sizeof font5x7 / sizeof font5x7[0]; i++)
        if (font5x7[i].c == ch) return &font5x7[i];
    return NULL;
}

int canvas_text_width(const char *s, int scale) { return (int)strlen(s) * 6 * scale; }

void canvas_text(canvas *c, int x, int y, const char *s, rgb_t col, int scale)
{
    for (; *s; s++, x += 6 * scale) {
        const glyph5x7 *g = find_glyph(*s);
        if (!g) continue;
        for (int r = 0; r < 7; r++)
            for (int b = 0; b < 5; b++)
                if (g->rows[r] & (0x10 >> b))
                    canvas_rect(c, x + b * scale, y + r * scale, x + b * scale + scale - 1,
                                y + r * scale + scale - 1, col);
    }
}

elbo_status canvas_write_png(const canvas *c, const char *path, elbo_error *err)
{
    return elbo_png_write_rgb(path, c->rgb, c->w, c->h, err);
}

rgb_t canvas_palette(int i)
{
    static const rgb_t tab10[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                    {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                    {188, 189, 34}, {23, 190, 207}};
    return tab10[((i % 10) + 10) % 10];
}
