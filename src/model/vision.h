/*
 * The SigLIP vision tower and the mlp1 projector (SPEC.md section 4,
 * Vision): pixels of a batch's images (every sample's views, stacked) in,
 * one text-width row per patch out. Images never mix but in attention,
 * which runs per image, so one call serves the whole batch.
 */
#ifndef GR_MODEL_VISION_H
#define GR_MODEL_VISION_H

#include "model/weights.h"

/* Buffers for up to max_views images in all (rows = views * tokens_per_image). */
typedef struct gr_vision_scratch {
    int64_t cap_rows;
    gr_tensor x;       /* residual stream, float32 [rows, D] */
    gr_tensor patches; /* act [rows, C*p*p] */
    gr_tensor h;       /* act [rows, D]: normed GEMM input */
    gr_tensor qkv;     /* act [rows, 3D] */
    gr_tensor attn;    /* act [rows, D] */
    gr_tensor ff;      /* act [rows, intermediate] */
} gr_vision_scratch;

groot_status gr_vision_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                     int64_t max_views, gr_vision_scratch *s);
void gr_vision_scratch_free(gr_backend *be, gr_vision_scratch *s);

/* One pre-LN encoder layer on x (views * tokens rows), in place. */
groot_status siglip_layer_forward(gr_backend *be, const gr_model_config *cfg, const gr_prenorm_block_weights *l,
                                  const gr_vision_scratch *s, int views);

/* pixels [views, C*H*W] float32 -> vit_embeds [views*tokens_per_image, text hidden]. */
groot_status gr_vision_forward(gr_backend *be, const gr_model_config *cfg, const gr_vision_weights *w,
                               const gr_vision_scratch *s, const gr_tensor *pixels, int views,
                               gr_tensor *vit_embeds);

#endif
