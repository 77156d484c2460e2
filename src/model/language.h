/*
 * The Qwen3 language model (SPEC.md section 4, Embeddings and Language
 * model): token embeddings with the image rows scattered in, select_layer
 * decoder layers, the final RMSNorm. The LM head is never computed.
 */
#ifndef GR_MODEL_LANGUAGE_H
#define GR_MODEL_LANGUAGE_H

#include "model/batch.h"
#include "model/weights.h"

/* Buffers for a batch of up to cap_tokens tokens in all, cap_len in one
 * sample; T below is the batch's rows (its tokens stacked). */
typedef struct gr_text_scratch {
    int64_t cap_tokens, cap_len;
    gr_tensor x;        /* residual stream, float32 [T, hidden] */
    gr_tensor h;        /* act [T, hidden] */
    gr_tensor qkv;      /* act [T, (H + 2*Hkv)*Dh] */
    gr_tensor attn;     /* act [T, H*Dh] */
    gr_tensor gate_up;  /* act [T, 2F] */
    gr_tensor ff;       /* act [T, F] */
    gr_tensor cos, sin; /* float32 [cap_len, Dh/2]: row i is position i */
    /* float32 [T, Dh/2]: each sample's rows hold positions 0..len-1, so that
     * one qk_norm_rope covers the batch (a batch of one uses cos/sin). */
    gr_tensor pos_cos, pos_sin;
} gr_text_scratch;

/* Allocates the buffers and uploads the RoPE tables for positions 0..max_len-1. */
groot_status gr_text_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                   int64_t max_tokens, int64_t max_len, gr_text_scratch *s);
void gr_text_scratch_free(gr_backend *be, gr_text_scratch *s);

/* RoPE cos/sin [len, head_dim/2] on the host, in float32 the way PyTorch
 * computes them (inv_freq = 1 / theta^(2i/D), angle = pos * inv_freq). */
void gr_rope_tables(const gr_text_config *tc, int64_t len, float *cos_out, float *sin_out);

/* One decoder layer on the batch's rows of s->x, in place (the position
 * tables ready, see gr_language_forward). */
groot_status qwen3_layer_forward(gr_backend *be, const gr_model_config *cfg, const gr_text_layer_weights *l,
                                 const gr_text_scratch *s, const gr_batch *b);

/* ids [1, tokens] int32 and vit_embeds (one row per image token; sample i's
 * from row view0 * tokens_per_image) -> backbone_features [tokens, hidden]
 * float32, all stacked as b lays them out. */
groot_status gr_language_forward(gr_backend *be, const gr_model_config *cfg, const gr_text_weights *w,
                                 const gr_text_scratch *s, const gr_batch *b, const gr_tensor *ids,
                                 const gr_tensor *vit_embeds, gr_tensor *backbone_features);

#endif
