/* safetensors.h — reader and atomic writer for the safetensors format
 * (8-byte little-endian header length, a JSON header mapping tensor names to
 * dtype, shape and data_offsets, optional "__metadata__" of string pairs,
 * then the raw little-endian data). Files written here load in PyTorch with
 * safetensors.torch.load_file, and vice versa for F32 tensors. */
#ifndef ELBO_SAFETENSORS_H
#define ELBO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/common.h"
#include "json.h"

#define ST_MAX_DIMS 8

typedef struct {
    const char *name;
    const float *data; /* float32, C order */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
} st_tensor;

typedef struct {
    const char *key, *value;
} st_meta;

/* Writes the tensors and metadata to path atomically: a temporary file in
 * the same directory is written, flushed, fsync'd and renamed over path. */
elbo_status st_write(const char *path, const st_meta *meta, int nmeta, const st_tensor *t, int nt,
                     elbo_error *err);

/* The first half of st_write: writes and fsyncs a temporary file beside path
 * (its name into tmp) without renaming it, for callers that commit several
 * files in an order of their own. */
elbo_status st_write_tmp(const char *path, const st_meta *meta, int nmeta, const st_tensor *t,
                         int nt, char *tmp, size_t tmp_cap, elbo_error *err);

/* fsyncs the directory holding path (makes renames in it durable). */
void st_sync_dir(const char *path);

/* A parsed file held in memory. Every entry of the header has been checked:
 * known dtype, non-negative shape, offsets inside the data and consistent
 * with dtype and shape. */
typedef struct {
    const char *path;
    unsigned char *buf;
    size_t size;
    size_t data_start; /* 8 + header length */
    json_doc doc;
    const json_node *meta; /* "__metadata__" object or NULL */
} st_file;

elbo_status st_open(const char *path, st_file *f, elbo_error *err);
void st_close(st_file *f);

/* Metadata value for key, or NULL. */
const char *st_meta_get(const st_file *f, const char *key);

/* Copies the F32 tensor name into dst, checking that it exists, is F32, has
 * exactly the given shape and holds only finite values. Errors name the file,
 * tensor and problem. */
elbo_status st_read_f32(const st_file *f, const char *name, int ndim, const int64_t *shape,
                        float *dst, elbo_error *err);

/* 1 if the file has a tensor of that name. */
int st_has(const st_file *f, const char *name);

/* Writes "[a, b, ...]" for a shape into buf. */
void st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);

#endif
