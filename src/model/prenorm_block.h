/*
 * The pre-LayerNorm transformer block that the SigLIP vision tower and the
 * action head's vl_self_attention share (SPEC.md sections 4 and 5):
 *   x += out(attention(LN1(x)));  x += ff2(gelu_tanh(ff1(LN2(x))))
 * with affine LayerNorms, q/k/v/out and both feed-forward linears biased,
 * and attention unmasked over row spans (one image, or one sample's tokens).
 * Only the tensor names, sizes and the LayerNorm epsilon differ.
 */
#ifndef GR_MODEL_PRENORM_BLOCK_H
#define GR_MODEL_PRENORM_BLOCK_H

#include "model/batch.h"
#include "model/weights.h"

/* printf patterns (one %d: the block index) of a block's tensors. */
typedef struct gr_prenorm_block_names {
    const char *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    const char *q_w, *k_w, *v_w, *q_b, *k_b, *v_b;
    const char *out_w, *out_b, *ff1_w, *ff1_b, *ff2_w, *ff2_b;
} gr_prenorm_block_names;

/* Sizes: residual width dim, attention width inner (heads * head_dim),
 * feed-forward width ff_dim. q/k/v are fused into one [3*inner, dim]. */
struct gr_loader;
groot_status gr_load_prenorm_block(struct gr_loader *ld, const gr_precision *p, const gr_prenorm_block_names *n,
                                   int i, int64_t dim, int64_t inner, int64_t ff_dim, gr_prenorm_block_weights *b);
void gr_prenorm_block_free(gr_backend *be, gr_prenorm_block_weights *b);

/* The rows attention runs over: `count` spans of `span` rows each when
 * batch is NULL (images), else batch's samples (tok0, rows; keys past a
 * sample's len are masked). */
typedef struct gr_attention_spans {
    int count;
    int64_t span;
    const gr_batch *batch;
} gr_attention_spans;

/* Buffers of x's row count: h [R, dim], qkv [R, 3*inner], attn [R, inner],
 * ff [R, ff_dim], in the component's activation dtype. */
typedef struct gr_prenorm_block_scratch {
    gr_tensor h, qkv, attn, ff;
} gr_prenorm_block_scratch;

groot_status gr_prenorm_block_forward(gr_backend *be, const gr_prenorm_block_weights *w, float eps, int heads,
                                      int head_dim, const gr_attention_spans *spans,
                                      const gr_prenorm_block_scratch *s, gr_tensor *x);

#endif
