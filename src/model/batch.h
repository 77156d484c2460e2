/*
 * Where each sample of a batch lives in the stacked buffers of a forward.
 * Stages run their GEMMs and norms once over the rows of all samples (rows
 * never interact there) and everything that mixes rows (embedding scatter,
 * RoPE positions, attention) per sample on its own row range — attention
 * as one attention_spans call with a span per sample — so that each sample
 * is computed exactly as if it were alone (SPEC's batching rule).
 *
 * A sample's tokens take `rows` rows: its length padded to the backend's
 * seq_bucket, so that nearby prompt lengths share one recorded call. The
 * padding rows hold token 0; the causal language model never lets a real
 * token see them, and every other attention over tokens masks them with
 * the sample's entry of `valid`.
 */
#ifndef GR_MODEL_BATCH_H
#define GR_MODEL_BATCH_H

#include <stdint.h>

#include "backend/backend.h"

typedef struct gr_batch_sample {
    int len, views, cat;
    int rows;      /* len padded to the bucket */
    int64_t tok0;  /* first row of its tokens (ids, backbone, vl, cross k/v) */
    int64_t view0; /* first of its images (pixels; vit rows start at view0 * tokens_per_image) */
} gr_batch_sample;

/* Consecutive samples of one embodiment: the category layers (state
 * encoder, action encoder and decoder) take their rows in one GEMM. */
typedef struct gr_batch_run {
    int first, count, cat;
} gr_batch_run;

typedef struct gr_batch {
    int count;              /* samples */
    int64_t tokens, views;  /* sums over the samples (tokens: of rows) */
    int64_t max_rows;        /* the most rows of one sample */
    gr_tensor valid;        /* int32 [1, count] on the backend: each sample's len */
    gr_batch_sample *sample;
    int runs;
    gr_batch_run *run;
} gr_batch;

#endif
