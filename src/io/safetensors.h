/*
 * safetensors files: memory-mapped reading with full validation, and writing.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON mapping each
 * tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * relative to the data section that follows the header) plus an optional
 * "__metadata__" map of strings.
 *
 * gr_st_open validates everything before returning: header length within the
 * file, well-formed JSON object, known dtype, shape entries non-negative and
 * their product times the dtype size equal to the byte span (no overflow),
 * spans inside the data section, no two spans overlapping. Any violation is
 * GROOT_ERR_FORMAT with a message naming the file and the tensor.
 */
#ifndef GR_IO_SAFETENSORS_H
#define GR_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h" /* gr_dtype */
#include "core/error.h"

#define GR_ST_MAX_DIMS 8

typedef struct gr_st_tensor {
    char *name;
    gr_dtype dtype;
    int ndim;
    int64_t shape[GR_ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* inside the mapping; valid until gr_st_close */
    size_t nbytes;
} gr_st_tensor;

typedef struct gr_st_file {
    char *path;
    void *map;          /* the whole file, read-only */
    size_t map_size;
    gr_st_tensor *tensors;
    int count;          /* sorted by name for lookup */
} gr_st_file;

groot_status gr_st_open(const char *path, gr_st_file **out, gr_error *err);
void gr_st_close(gr_st_file *f);
/* NULL when absent. */
const gr_st_tensor *gr_st_find(const gr_st_file *f, const char *name);
/* Tells the OS the pages of t will not be needed again (after conversion). */
void gr_st_release(const gr_st_file *f, const gr_st_tensor *t);

/* Converts t's elements (F32/BF16/F16) to float32 in dst (numel floats). */
groot_status gr_st_to_f32(const gr_st_tensor *t, float *dst, gr_error *err);

/* ---- writing ---- */
typedef struct gr_st_writer gr_st_writer;

groot_status gr_st_writer_create(gr_st_writer **out, gr_error *err);
/* Adds a tensor; data (numel * dtype size bytes) is copied. */
groot_status gr_st_writer_add(gr_st_writer *w, const char *name, gr_dtype dtype, int ndim,
                              const int64_t *shape, const void *data, gr_error *err);
/* Adds a tensor given float32 data, converted to dtype (F32/BF16/F16). */
groot_status gr_st_writer_add_f32(gr_st_writer *w, const char *name, gr_dtype dtype, int ndim,
                                  const int64_t *shape, const float *data, gr_error *err);
/* Bytes of tensor data added so far. */
size_t gr_st_writer_data_size(const gr_st_writer *w);
/* Writes the file (header sorted by name, 8-byte aligned data) and resets
 * the writer to empty so it can collect the next shard. */
groot_status gr_st_writer_write(gr_st_writer *w, const char *path, gr_error *err);
/* Same, but keeps the tensors (a set written to more than one place). */
groot_status gr_st_writer_write_keep(gr_st_writer *w, const char *path, gr_error *err);
void gr_st_writer_destroy(gr_st_writer *w);
/* Tensors added so far, in the order added; *out shares the writer's name
 * and data (valid until the writer is written, reset or destroyed). */
int gr_st_writer_count(const gr_st_writer *w);
void gr_st_writer_tensor(const gr_st_writer *w, int i, gr_st_tensor *out);

/* The dtype a safetensors name ("BF16") stands for, or -1 when the name is
 * not one this library reads; gr_dtype_name gives the name back. */
int gr_st_dtype_from_name(const char *name);

#endif
