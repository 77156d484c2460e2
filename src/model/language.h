/*
 * The Qwen3 language model (SPEC.md section 4, Embeddings and Language
 * model): token embeddings with the image rows scattered in, select_layer
 * decoder layers, the final RMSNorm. The LM head is never computed.
 */
#ifndef GR_MODEL_LANGUAGE_H
#define GR_MODEL_LANGUAGE_H

#include "model/weights.h"

/* Buffers for sequences of up to cap_len tokens. */
typedef struct gr_text_scratch {
    int64_t cap_len;
    gr_tensor x;        /* residual stream, float32 [L, hidden] */
    gr_tensor h;        /* act [L, hidden] */
    gr_tensor qkv;      /* act [L, (H + 2*Hkv)*Dh] */
    gr_tensor attn;     /* act [L, H*Dh] */
    gr_tensor gate_up;  /* act [L, 2F] */
    gr_tensor ff;       /* act [L, F] */
    gr_tensor cos, sin; /* float32 [L, Dh/2]: row i is position i */
} gr_text_scratch;

/* Allocates the buffers and uploads the RoPE tables for positions 0..max_len-1. */
groot_status gr_text_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                   int64_t max_len, gr_text_scratch *s);
void gr_text_scratch_free(gr_backend *be, gr_text_scratch *s);

/* RoPE cos/sin [len, head_dim/2] on the host, in float32 the way PyTorch
 * computes them (inv_freq = 1 / theta^(2i/D), angle = pos * inv_freq). */
void gr_rope_tables(const gr_text_config *tc, int64_t len, float *cos_out, float *sin_out);

/* One decoder layer on the first len rows of s->x, in place. */
groot_status qwen3_layer_forward(gr_backend *be, const gr_model_config *cfg, const gr_text_layer_weights *l,
                                 const gr_text_scratch *s, int64_t len);

/* ids [1, len] int32 and vit_embeds (one row per image token, in order)
 * -> backbone_features [len, hidden] float32. */
groot_status gr_language_forward(gr_backend *be, const gr_model_config *cfg, const gr_text_weights *w,
                                 const gr_text_scratch *s, const gr_tensor *ids, int64_t len,
                                 const gr_tensor *vit_embeds, gr_tensor *backbone_features);

#endif
