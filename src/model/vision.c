/*
 * SigLIP: patch conv as a GEMM over patchified pixels, learned positions,
 * pre-LN encoder layers, post_layernorm, then mlp1 (pooling head unused).
 */
#include "model/vision.h"

#include "model/prenorm_block.h"

#include <math.h>
#include <string.h>

groot_status gr_vision_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                     int64_t max_views, gr_vision_scratch *s)
{
    const gr_vision_config *vc = &cfg->vision;
    const int64_t R = max_views * cfg->tokens_per_image, D = vc->hidden;
    const int64_t patch_len = (int64_t)vc->channels * vc->patch * vc->patch;
    memset(s, 0, sizeof *s);
    s->cap_rows = R;
    GR_TRY(be->ops->alloc(be, &s->x, R, D, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->patches, R, patch_len, p->act));
    GR_TRY(be->ops->alloc(be, &s->h, R, D, p->act));
    GR_TRY(be->ops->alloc(be, &s->qkv, R, 3 * D, p->act));
    GR_TRY(be->ops->alloc(be, &s->attn, R, D, p->act));
    return be->ops->alloc(be, &s->ff, R, vc->intermediate, p->act);
}

void gr_vision_scratch_free(gr_backend *be, gr_vision_scratch *s)
{
    be->ops->free(be, &s->x);
    be->ops->free(be, &s->patches);
    be->ops->free(be, &s->h);
    be->ops->free(be, &s->qkv);
    be->ops->free(be, &s->attn);
    be->ops->free(be, &s->ff);
    s->cap_rows = 0;
}

groot_status siglip_layer_forward(gr_backend *be, const gr_model_config *cfg, const gr_prenorm_block_weights *l,
                                  const gr_vision_scratch *s, int views)
{
    const gr_vision_config *vc = &cfg->vision;
    const int64_t T = cfg->tokens_per_image, R = views * T;
    gr_tensor x = gr_view_rows(s->x, 0, R);
    const gr_prenorm_block_scratch bs = {gr_view_rows(s->h, 0, R), gr_view_rows(s->qkv, 0, R),
                                         gr_view_rows(s->attn, 0, R), gr_view_rows(s->ff, 0, R)};
    /* Each image attends only to its own patches. */
    const gr_attention_spans spans = {.count = views, .span = T, .batch = NULL};
    return gr_prenorm_block_forward(be, l, vc->ln_eps, vc->heads, vc->hidden / vc->heads, &spans, &bs, &x);
}

groot_status gr_vision_forward(gr_backend *be, const gr_model_config *cfg, const gr_vision_weights *w,
                               const gr_vision_scratch *s, const gr_tensor *pixels, int views,
                               gr_tensor *vit_embeds)
{
    const gr_vision_config *vc = &cfg->vision;
    const int64_t R = views * (int64_t)cfg->tokens_per_image;
    if (R > s->cap_rows)
        return gr_fail(&be->err, GROOT_ERR_INTERNAL, "vision: %d views exceed the planned %lld rows", views,
                       (long long)s->cap_rows);
    gr_tensor x = gr_view_rows(s->x, 0, R), h = gr_view_rows(s->h, 0, R);
    gr_tensor patches = gr_view_rows(s->patches, 0, R);

    GR_TRY(be->ops->patchify(be, pixels, vc->channels, vc->image_size, vc->image_size, vc->patch, &patches));
    GR_TRY(be->ops->linear(be, &patches, &w->patch, GR_ACT_NONE, NULL, &x));
    GR_TRY(be->ops->add_rows(be, &x, &w->pos, &x));
    for (int i = 0; i < vc->layers; i++) {
        groot_status st = siglip_layer_forward(be, cfg, &w->layers[i], s, views);
        if (st) {
            gr_error_prefix(&be->err, "vision layer %d", i);
            return st;
        }
    }
    GR_TRY(be->ops->layernorm(be, &x, &w->post_w, &w->post_b, vc->ln_eps, &h));
    return be->ops->linear(be, &h, &w->mlp1, GR_ACT_NONE, NULL, vit_embeds);
}
