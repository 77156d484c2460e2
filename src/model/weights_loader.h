/*
 * The checkpoint-to-backend loading steps shared by weights_*.c. Every
 * component's loader runs twice: first with check_only set, which only
 * verifies names and shapes (so a wrong checkpoint fails before any
 * allocation or compute), then for real. Real loading converts one file
 * tensor at a time to float32 in a reused staging buffer, uploads it in the
 * target dtype, and releases the file pages, so that at most one tensor is
 * held twice on the host.
 */
#ifndef GR_MODEL_WEIGHTS_LOADER_H
#define GR_MODEL_WEIGHTS_LOADER_H

#include "model/weights.h"

typedef struct gr_loader {
    const gr_checkpoint *ckpt;
    gr_backend *be;
    gr_error *err;
    int check_only;
    float *staging; /* one file tensor as float32 */
    size_t staging_cap;
    float *reorder; /* a transposed or sliced copy of part of staging */
    size_t reorder_cap;
} gr_loader;

/* Name buffers large enough for every tensor name in the checkpoint. */
#define GR_NAME_MAX 256

/* A vector [n] as a float32 [1, n] tensor (norm weights, biases). */
groot_status gr_load_vector(gr_loader *ld, gr_tensor *t, const char *name, int64_t n);

/* nn.Linear weights [outs[i], in] (and biases [outs[i]] unless bnames is
 * NULL) of nparts projections that read the same input, stacked into one
 * [sum(outs), in] linear in p's weight dtype. */
groot_status gr_load_linear_parts(gr_loader *ld, gr_linear *L, const gr_precision *p, int nparts,
                                  const char *const *wnames, const char *const *bnames,
                                  const int64_t *outs, int64_t in);
groot_status gr_load_linear(gr_loader *ld, gr_linear *L, const gr_precision *p, const char *wname,
                            const char *bname, int64_t out, int64_t in);
/* The same in two steps: a [rows, in] linear (with a float32 bias when
 * `bias`), then parts read into its rows from row0 on (bnames NULL: no
 * biases read). For projections of one input spread over several blocks. */
groot_status gr_alloc_linear(gr_loader *ld, gr_linear *L, const gr_precision *p, int64_t rows, int64_t in,
                             int bias, const char *name);
groot_status gr_load_linear_parts_at(gr_loader *ld, gr_linear *L, int64_t row0, int nparts,
                                     const char *const *wnames, const char *const *bnames, const int64_t *outs,
                                     int64_t in);

/* A weight stored with more than two dims (a conv kernel [D, C, p, p]) used as
 * a [rows, cols] linear; bname may be NULL. */
groot_status gr_load_linear_shaped(gr_loader *ld, gr_linear *L, const gr_precision *p, const char *wname,
                                   int ndim, const int64_t *shape, const char *bname, int64_t rows,
                                   int64_t cols);

/* Category-specific W [num_cat, in_total, out] applied as x @ W[cat]: the
 * input rows [in0, in0+nin) of each W[cat], transposed to [out, nin] and
 * stacked into [num_cat*out, nin]. bname (b [num_cat, out]) may be NULL. */
groot_status gr_load_category_part(gr_loader *ld, gr_category_linear *c, const gr_precision *p,
                                   const char *wname, const char *bname, int num_cat, int64_t in_total,
                                   int64_t in0, int64_t nin, int64_t out);

/* The first use_rows rows of a [file_rows, cols] matrix as float32. */
groot_status gr_load_f32_rows(gr_loader *ld, gr_tensor *t, const char *name, int64_t file_rows,
                              int64_t cols, int64_t use_rows);

/* A [rows, cols] matrix uploaded in its file dtype, bypassing float32. */
groot_status gr_load_raw(gr_loader *ld, gr_tensor *t, const char *name, int64_t rows, int64_t cols);

/* A zeroed host array of count elements, made on the checking pass and kept
 * (the same pointer) for the loading pass. */
groot_status gr_loader_array(gr_loader *ld, void **arr, int count, size_t elem, const char *what);

/* Component loaders (weights_backbone.c, weights_action.c). */
groot_status gr_load_vision(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p,
                            gr_vision_weights *w);
groot_status gr_load_text(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p,
                          gr_text_weights *w);
groot_status gr_load_vl(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p,
                        gr_vl_weights *w);
groot_status gr_load_action(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p,
                            gr_action_weights *w);

#endif
