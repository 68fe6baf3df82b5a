/* test_readers.c — elbo_dataset_load on the user's files: .npy (float32
 * mapped as it is, uint8 images, float64 and Fortran order converted,
 * labels beside), CSV (comma, semicolon and white space, header detected,
 * label column by name or index, gzip), the format chosen from the name or
 * given, the image shape and scale options, and every kind of bad input
 * refused with a message naming the file and the place. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <png.h>
#include <sys/stat.h>
#include <zlib.h>

#include "check.h"
#include "util/common.h"

static char dir[256];

static const char *path_of(const char *name)
{
    static char p[4][512];
    static int slot;
    char *s = p[slot++ % 4];
    snprintf(s, 512, "%s/%s", dir, name);
    return s;
}

static void write_bytes(const char *name, const void *b, size_t n)
{
    FILE *f = fopen(path_of(name), "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void write_text(const char *name, const char *text)
{
    write_bytes(name, text, strlen(text));
}

/* An .npy with a header given as text (version 1.0) and raw data. */
static void write_npy_raw(const char *name, const char *dict, const void *data, size_t n)
{
    char hdr[256];
    size_t hl = strlen(dict), total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)((hl + pad + 1) & 0xff);
    hdr[9] = (char)((hl + pad + 1) >> 8);
    memcpy(hdr + 10, dict, hl);
    memset(hdr + 10 + hl, ' ', pad);
    hdr[10 + hl + pad] = '\n';
    char *buf = malloc(total + pad + n);
    memcpy(buf, hdr, total + pad);
    memcpy(buf + total + pad, data, n);
    write_bytes(name, buf, total + pad + n);
    free(buf);
}

static void expect_fail(const char *what, const char *path, const elbo_load_opts *o, const char *needle)
{
    elbo_dataset ds;
    elbo_error err;
    elbo_status st = elbo_dataset_load(path, o, &ds, &err);
    CHECK(st != ELBO_OK && strstr(err.msg, needle) && strstr(err.msg, dir),
          "%s: status %d, message '%s' (wanted '%s' and the file)", what, (int)st, err.msg, needle);
    if (st == ELBO_OK) elbo_dataset_free(&ds);
}

static void test_npy(void)
{
    elbo_error err;
    elbo_dataset ds;
    float x[6 * 4];
    for (int i = 0; i < 24; i++) x[i] = 0.01f * (float)i;
    int64_t s2[2] = {6, 4};
    CHECK(elbo_write_npy(path_of("x.npy"), x, ELBO_NPY_F32, 2, s2, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_dataset_load(path_of("x.npy"), NULL, &ds, &err) == ELBO_OK, "f32: %s", err.msg);
    CHECK(ds.n == 6 && ds.dim == 4 && ds.dtype == ELBO_DTYPE_F32 && ds.map_base != NULL && ds.height == 0,
          "float32 [6, 4] mapped as it is");
    CHECK(ds.f32 && ds.f32[23] == x[23] && ds.f32[5] == x[5], "float32 values");
    CHECK(elbo_dataset_drop_label(&ds, 0) == 0 && ds.n == 6, "no labels, nothing dropped");
    elbo_dataset_free(&ds);
    CHECK(ds.map_base == NULL && ds.f32 == NULL, "free unmaps");

    /* labels beside, int32 and uint8 */
    int32_t y[6] = {1, 0, 2, 1, 1, 0};
    uint8_t yb[6] = {3, 3, 0, 1, 2, 0};
    int64_t s1[1] = {6};
    elbo_write_npy(path_of("y.npy"), y, ELBO_NPY_I32, 1, s1, &err);
    elbo_write_npy(path_of("yb.npy"), yb, ELBO_NPY_U8, 1, s1, &err);
    elbo_load_opts o;
    elbo_load_opts_default(&o);
    o.labels = path_of("y.npy");
    CHECK(elbo_dataset_load(path_of("x.npy"), &o, &ds, &err) == ELBO_OK, "labels: %s", err.msg);
    CHECK(ds.labels && ds.labels[2] == 2 && ds.n_classes == 3, "int32 labels");
    CHECK(elbo_dataset_drop_label(&ds, 1) == 3 && ds.n == 3 && ds.f32[4] == x[4 * 1 + 0 + 4] &&
              ds.labels[1] == 2,
          "drop_label on a mapped file (private pages)");
    elbo_dataset_free(&ds);
    CHECK(elbo_dataset_load(path_of("x.npy"), NULL, &ds, &err) == ELBO_OK && ds.f32[4] == x[4],
          "the file itself is unchanged after an in-place drop");
    elbo_dataset_free(&ds);
    o.labels = path_of("yb.npy");
    CHECK(elbo_dataset_load(path_of("x.npy"), &o, &ds, &err) == ELBO_OK && ds.labels[0] == 3 && ds.n_classes == 4,
          "uint8 labels: %s", err.msg);
    elbo_dataset_free(&ds);

    /* uint8 images [N, H, W] and float64 [N, H, W, C] */
    uint8_t img[2 * 3 * 5];
    for (int i = 0; i < 30; i++) img[i] = (uint8_t)(i * 8);
    int64_t s3[3] = {2, 3, 5};
    elbo_write_npy(path_of("img.npy"), img, ELBO_NPY_U8, 3, s3, &err);
    CHECK(elbo_dataset_load(path_of("img.npy"), NULL, &ds, &err) == ELBO_OK && ds.dtype == ELBO_DTYPE_U8 &&
              ds.n == 2 && ds.dim == 15 && ds.height == 3 && ds.width == 5 && ds.channels == 1 &&
              ds.u8[29] == 232,
          "uint8 [2, 3, 5]: %s", err.msg);
    float row[15];
    elbo_dataset_row(&ds, 1, row);
    CHECK(fabsf(row[14] - 232 / 255.0f) < 1e-7f, "uint8 scaled by 1/255");
    elbo_dataset_free(&ds);
    double d[2 * 2 * 2 * 3];
    for (int i = 0; i < 24; i++) d[i] = 0.5 * i;
    int64_t s4[4] = {2, 2, 2, 3};
    elbo_write_npy(path_of("rgb.npy"), d, ELBO_NPY_F64, 4, s4, &err);
    CHECK(elbo_dataset_load(path_of("rgb.npy"), NULL, &ds, &err) == ELBO_OK && ds.map_base == NULL &&
              ds.dim == 12 && ds.channels == 3 && ds.f32[13] == 6.5f,
          "float64 [2, 2, 2, 3] converted: %s", err.msg);
    elbo_dataset_free(&ds);

    /* Fortran order: element (r, k) at r + N k */
    float fx[6 * 4];
    for (int r = 0; r < 6; r++)
        for (int k = 0; k < 4; k++) fx[r + 6 * k] = x[r * 4 + k];
    write_npy_raw("f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (6, 4), }", fx, sizeof fx);
    CHECK(elbo_dataset_load(path_of("f.npy"), NULL, &ds, &err) == ELBO_OK && ds.map_base == NULL &&
              memcmp(ds.f32, x, sizeof x) == 0,
          "Fortran order read as C order: %s", err.msg);
    elbo_dataset_free(&ds);

    /* bad files */
    write_bytes("magic.npy", "NUMPY\x01\x00xxxxxxxxxxxxxxxx", 22);
    expect_fail("bad magic", path_of("magic.npy"), NULL, "not an .npy file");
    write_npy_raw("c8.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (6, 4), }", x, 6 * 4 * 8 / 2);
    expect_fail("complex dtype", path_of("c8.npy"), NULL, "unsupported dtype '<c8'");
    write_npy_raw("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 5), }", x, sizeof x);
    expect_fail("shape larger than the data", path_of("short.npy"), NULL, "need 120 data bytes");
    write_npy_raw("one.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (24,), }", x, sizeof x);
    expect_fail("1-D data", path_of("one.npy"), NULL, "1 dimensions");
    write_npy_raw("big.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (6, 4), }", x, sizeof x);
    expect_fail("big-endian", path_of("big.npy"), NULL, "unsupported dtype");
    x[7] = NAN;
    elbo_write_npy(path_of("nan.npy"), x, ELBO_NPY_F32, 2, s2, &err);
    expect_fail("NaN value", path_of("nan.npy"), NULL, "row 1, column 3");
    x[7] = 0.07f;
    int64_t s5[1] = {5};
    elbo_write_npy(path_of("y5.npy"), y, ELBO_NPY_I32, 1, s5, &err);
    o.labels = path_of("y5.npy");
    expect_fail("labels of the wrong length", path_of("x.npy"), &o, "6 values");
    y[4] = -2;
    elbo_write_npy(path_of("yneg.npy"), y, ELBO_NPY_I32, 1, s1, &err);
    o.labels = path_of("yneg.npy");
    expect_fail("negative label", path_of("x.npy"), &o, "label 4 is -2");
    write_bytes("empty.npy", "", 0);
    expect_fail("empty file", path_of("empty.npy"), NULL, "empty");
}

static void test_csv(void)
{
    elbo_error err;
    elbo_dataset ds;
    elbo_load_opts o;
    elbo_load_opts_default(&o);
    write_text("h.csv", "a,b,label,c\n1,2,0,3\n4,5.5,2,6\r\n7,8,1,9e-1\n\n");
    o.label_column = "label";
    CHECK(elbo_dataset_load(path_of("h.csv"), &o, &ds, &err) == ELBO_OK, "header + label by name: %s", err.msg);
    CHECK(ds.n == 3 && ds.dim == 3 && ds.f32[4] == 5.5f && ds.f32[8] == 0.9f && ds.labels[1] == 2 &&
              ds.n_classes == 3,
          "values and labels");
    elbo_dataset_free(&ds);
    o.label_column = "-2"; /* the same column from the end */
    CHECK(elbo_dataset_load(path_of("h.csv"), &o, &ds, &err) == ELBO_OK && ds.labels[2] == 1, "label -2: %s",
          err.msg);
    elbo_dataset_free(&ds);
    write_text("ws.csv", "  1 2\t3\n4 5 6\n");
    elbo_load_opts_default(&o);
    o.label_column = "-1";
    CHECK(elbo_dataset_load(path_of("ws.csv"), &o, &ds, &err) == ELBO_OK && ds.dim == 2 && ds.f32[3] == 5 &&
              ds.labels[1] == 6,
          "white space, no header, last column labels: %s", err.msg);
    elbo_dataset_free(&ds);
    write_text("semi.txt", "1;2\n3;4\n");
    elbo_load_opts_default(&o);
    o.format = "csv";
    o.height = 1;
    o.width = 2;
    CHECK(elbo_dataset_load(path_of("semi.txt"), &o, &ds, &err) == ELBO_OK && ds.f32[3] == 4 && ds.height == 1 &&
              ds.width == 2 && ds.channels == 1,
          "semicolons, --format csv, an image shape: %s", err.msg);
    elbo_dataset_free(&ds);
    gzFile gz = gzopen(path_of("z.csv.gz"), "wb");
    gzputs(gz, "0,16,8\n16,0,4\n");
    gzclose(gz);
    elbo_load_opts_default(&o);
    o.scale = 1.0 / 16;
    CHECK(elbo_dataset_load(path_of("z.csv.gz"), &o, &ds, &err) == ELBO_OK && ds.f32[1] == 1.0f &&
              ds.f32[5] == 0.25f,
          "gzip and a scale: %s", err.msg);
    elbo_dataset_free(&ds);

    /* a gzip stream cut short is an error, not fewer rows */
    gz = gzopen(path_of("long.csv.gz"), "wb");
    for (int i = 0; i < 20000; i++) gzprintf(gz, "%d,%d,%d\n", i, i + 1, i + 2);
    gzclose(gz);
    FILE *g = fopen(path_of("long.csv.gz"), "rb");
    char half[4096];
    size_t got = fread(half, 1, sizeof half, g);
    fclose(g);
    write_bytes("cut.csv.gz", half, got / 2);
    expect_fail("truncated gzip CSV", path_of("cut.csv.gz"), NULL, "truncated");
    write_text("huge.csv", "1,2\n1e39,4\n");
    expect_fail("a value too large for float32", path_of("huge.csv"), NULL, "line 2, column 1");
    write_text("biglab.csv", "1,70000\n");
    o.label_column = "-1";
    expect_fail("a label too large", path_of("biglab.csv"), &o, "0..65535");
    elbo_load_opts_default(&o);
    o.scale = 1e38;
    write_text("big.csv", "3e38,1\n");
    expect_fail("a scale that overflows", path_of("big.csv"), &o, "not finite once scaled");
    elbo_load_opts_default(&o);
    write_text("rag.csv", "1,2,3\n4,5\n");
    expect_fail("ragged row", path_of("rag.csv"), NULL, "line 2 has 2 cells");
    write_text("word.csv", "1,2\n3,x4\n");
    expect_fail("non-numeric cell", path_of("word.csv"), NULL, "line 2, column 2");
    write_text("nan.csv", "1,2\nnan,4\n");
    expect_fail("NaN cell", path_of("nan.csv"), NULL, "line 2, column 1");
    write_text("inf.csv", "1,2\n3,inf\n");
    expect_fail("Inf cell", path_of("inf.csv"), NULL, "line 2, column 2");
    write_text("empty.csv", "\n\n");
    expect_fail("empty CSV", path_of("empty.csv"), NULL, "empty");
    write_text("hdr.csv", "a,b\n");
    expect_fail("a header alone", path_of("hdr.csv"), NULL, "no data rows");
    write_text("lab.csv", "1,0.5\n2,1\n");
    o.label_column = "1";
    expect_fail("fractional label", path_of("lab.csv"), &o, "label 0.5");
    o.label_column = "nope";
    expect_fail("unknown label column", path_of("h.csv"), &o, "no column named 'nope'");
    elbo_load_opts_default(&o);
    o.height = 2;
    o.width = 2;
    expect_fail("a shape that does not fit", path_of("ws.csv"), &o, "does not fit rows of 3");
    write_text("data.bin", "1,2\n");
    expect_fail("unknown extension", path_of("data.bin"), NULL, "cannot tell the format");
    expect_fail("missing file", path_of("none.csv"), NULL, "cannot open");
}

/* A w x h PNG with c channels (1 grey, 3 RGB) of pixels px. */
static void write_png(const char *name, int w, int h, int c, const uint8_t *px)
{
    FILE *f = fopen(path_of(name), "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int r = 0; r < h; r++) png_write_row(png, (png_bytep)(px + (size_t)r * w * c));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void test_png_folder(void)
{
    elbo_error err;
    elbo_dataset ds;
    uint8_t px[4 * 3 * 3];
    for (int i = 0; i < 36; i++) px[i] = (uint8_t)(7 * i);
    mkdir(path_of("pngs"), 0755);
    mkdir(path_of("pngs/cat"), 0755);
    mkdir(path_of("pngs/ant"), 0755);
    write_png("pngs/cat/b.png", 4, 3, 1, px);
    write_png("pngs/cat/a.png", 4, 3, 1, px + 12);
    write_png("pngs/ant/z.png", 4, 3, 1, px + 24);
    CHECK(elbo_dataset_load(path_of("pngs"), NULL, &ds, &err) == ELBO_OK, "labelled folder: %s", err.msg);
    CHECK(ds.n == 3 && ds.dim == 12 && ds.height == 3 && ds.width == 4 && ds.channels == 1 && ds.dtype == ELBO_DTYPE_U8,
          "3 grey 4x3 images");
    CHECK(ds.labels && ds.labels[0] == 0 && ds.labels[1] == 1 && ds.labels[2] == 1 && ds.n_classes == 2,
          "labels by sorted folder name (ant 0, cat 1)");
    CHECK(ds.u8 && ds.u8[0] == px[24] && ds.u8[12] == px[12] && ds.u8[24] == px[0], "files in name order");
    elbo_dataset_free(&ds);
    mkdir(path_of("rgb"), 0755);
    write_png("rgb/1.png", 3, 4, 3, px);
    write_png("rgb/2.png", 3, 4, 3, px);
    CHECK(elbo_dataset_load(path_of("rgb"), NULL, &ds, &err) == ELBO_OK && ds.channels == 3 && ds.dim == 36 &&
              !ds.labels && ds.u8[35] == px[35],
          "a flat RGB folder, no labels: %s", err.msg);
    elbo_dataset_free(&ds);
    write_png("rgb/3.png", 4, 3, 3, px);
    expect_fail("mixed sizes", path_of("rgb"), NULL, "the images must agree");
    write_png("pngs/stray.png", 4, 3, 1, px);
    expect_fail("files beside class folders", path_of("pngs"), NULL, "both PNG files and sub-folders");
    mkdir(path_of("broken"), 0755);
    write_bytes("broken/x.png", "\x89PNG\r\n\x1a\nxxxxxxxxxxxxxxxxxxxx", 28);
    expect_fail("corrupt PNG", path_of("broken"), NULL, "x.png: corrupt PNG");
    write_bytes("broken/x.png", "not a png at all", 16);
    expect_fail("not a PNG", path_of("broken"), NULL, "bad signature");
    mkdir(path_of("none"), 0755);
    expect_fail("no images", path_of("none"), NULL, "no PNG images");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/elbo-test-readers-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_npy();
    test_csv();
    test_png_folder();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_readers");
}
