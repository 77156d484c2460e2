/*
 * A checkpoint's weights: model.safetensors.index.json plus its shards, or a
 * single model.safetensors (SPEC.md section 1). Every shard the index names
 * is opened and validated up front; a tensor the index maps to a shard that
 * does not hold it is an error.
 */
#ifndef GR_IO_CHECKPOINT_H
#define GR_IO_CHECKPOINT_H

#include "io/safetensors.h"

typedef struct gr_checkpoint {
    char *dir;
    gr_st_file **shards;
    int num_shards;
} gr_checkpoint;

groot_status gr_checkpoint_open(const char *dir, gr_checkpoint **out, gr_error *err);
void gr_checkpoint_close(gr_checkpoint *c);

/* Finds a tensor in any shard (NULL when absent); *file gets its shard if not NULL. */
const gr_st_tensor *gr_checkpoint_find(const gr_checkpoint *c, const char *name,
                                       const gr_st_file **file);

/* Finds a tensor that must exist with exactly this shape. Errors name the
 * tensor, its file, and the expected and actual shapes. */
groot_status gr_checkpoint_expect(const gr_checkpoint *c, const char *name, int ndim,
                                  const int64_t *shape, const gr_st_tensor **out, gr_error *err);

#endif
