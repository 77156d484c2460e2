/*
 * Loading the backbone: the SigLIP vision tower with mlp1, and Qwen3.
 */
#include <stdio.h>

#include "model/prenorm_block.h"
#include "model/weights_loader.h"

#define VISION_PREFIX "backbone.eagle_model.vision_model.vision_model."
#define TEXT_PREFIX "backbone.eagle_model.language_model.model."

/* SigLIP encoder layer names. */
static const gr_prenorm_block_names vision_layer_names = {
#define LAYER VISION_PREFIX "encoder.layers.%d."
    .ln1_w = LAYER "layer_norm1.weight", .ln1_b = LAYER "layer_norm1.bias",
    .ln2_w = LAYER "layer_norm2.weight", .ln2_b = LAYER "layer_norm2.bias",
    .q_w = LAYER "self_attn.q_proj.weight", .k_w = LAYER "self_attn.k_proj.weight",
    .v_w = LAYER "self_attn.v_proj.weight", .q_b = LAYER "self_attn.q_proj.bias",
    .k_b = LAYER "self_attn.k_proj.bias", .v_b = LAYER "self_attn.v_proj.bias",
    .out_w = LAYER "self_attn.out_proj.weight", .out_b = LAYER "self_attn.out_proj.bias",
    .ff1_w = LAYER "mlp.fc1.weight", .ff1_b = LAYER "mlp.fc1.bias",
    .ff2_w = LAYER "mlp.fc2.weight", .ff2_b = LAYER "mlp.fc2.bias",
#undef LAYER
};

groot_status gr_load_vision(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p,
                            gr_vision_weights *w)
{
    const gr_vision_config *vc = &cfg->vision;
    const int64_t D = vc->hidden, C = vc->channels, P = vc->patch;
    const int64_t conv_shape[4] = {D, C, P, P};
    GR_TRY(gr_load_linear_shaped(ld, &w->patch, p, VISION_PREFIX "embeddings.patch_embedding.weight", 4,
                                 conv_shape, VISION_PREFIX "embeddings.patch_embedding.bias", D, C * P * P));
    GR_TRY(gr_load_f32_rows(ld, &w->pos, VISION_PREFIX "embeddings.position_embedding.weight",
                            cfg->tokens_per_image, D, cfg->tokens_per_image));
    GR_TRY(gr_loader_array(ld, (void **)&w->layers, vc->layers, sizeof *w->layers, "vision layers"));
    for (int i = 0; i < vc->layers; i++)
        GR_TRY(gr_load_prenorm_block(ld, p, &vision_layer_names, i, D, D, vc->intermediate, &w->layers[i]));
    GR_TRY(gr_load_vector(ld, &w->post_w, VISION_PREFIX "post_layernorm.weight", D));
    GR_TRY(gr_load_vector(ld, &w->post_b, VISION_PREFIX "post_layernorm.bias", D));
    return gr_load_linear(ld, &w->mlp1, p, "backbone.eagle_model.mlp1.0.weight",
                          "backbone.eagle_model.mlp1.0.bias", cfg->vision_out_dim, D);
}

static groot_status load_text_layer(gr_loader *ld, const gr_text_config *tc, const gr_precision *p, int i,
                                    gr_text_layer_weights *l)
{
    char a[GR_NAME_MAX], b[GR_NAME_MAX], c[GR_NAME_MAX];
    const int64_t H = tc->hidden, F = tc->intermediate, Dh = tc->head_dim;
#define LAYER TEXT_PREFIX "layers.%d."
    snprintf(a, sizeof a, LAYER "input_layernorm.weight", i);
    GR_TRY(gr_load_vector(ld, &l->in_norm, a, H));
    snprintf(a, sizeof a, LAYER "post_attention_layernorm.weight", i);
    GR_TRY(gr_load_vector(ld, &l->post_norm, a, H));
    snprintf(a, sizeof a, LAYER "self_attn.q_norm.weight", i);
    GR_TRY(gr_load_vector(ld, &l->q_norm, a, Dh));
    snprintf(a, sizeof a, LAYER "self_attn.k_norm.weight", i);
    GR_TRY(gr_load_vector(ld, &l->k_norm, a, Dh));

    snprintf(a, sizeof a, LAYER "self_attn.q_proj.weight", i);
    snprintf(b, sizeof b, LAYER "self_attn.k_proj.weight", i);
    snprintf(c, sizeof c, LAYER "self_attn.v_proj.weight", i);
    const char *qkv[3] = {a, b, c};
    const int64_t qkv_outs[3] = {tc->heads * Dh, tc->kv_heads * Dh, tc->kv_heads * Dh};
    GR_TRY(gr_load_linear_parts(ld, &l->qkv, p, 3, qkv, NULL, qkv_outs, H));

    snprintf(a, sizeof a, LAYER "self_attn.o_proj.weight", i);
    GR_TRY(gr_load_linear(ld, &l->o, p, a, NULL, H, tc->heads * Dh));

    snprintf(a, sizeof a, LAYER "mlp.gate_proj.weight", i);
    snprintf(b, sizeof b, LAYER "mlp.up_proj.weight", i);
    const char *gu[2] = {a, b};
    const int64_t gu_outs[2] = {F, F};
    GR_TRY(gr_load_linear_parts(ld, &l->gate_up, p, 2, gu, NULL, gu_outs, H));

    snprintf(a, sizeof a, LAYER "mlp.down_proj.weight", i);
    GR_TRY(gr_load_linear(ld, &l->down, p, a, NULL, H, F));
#undef LAYER
    return GROOT_OK;
}

groot_status gr_load_text(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p, gr_text_weights *w)
{
    const gr_text_config *tc = &cfg->text;
    GR_TRY(gr_load_raw(ld, &w->embed, TEXT_PREFIX "embed_tokens.weight", tc->vocab, tc->hidden));
    GR_TRY(gr_loader_array(ld, (void **)&w->layers, tc->layers, sizeof *w->layers, "text layers"));
    for (int i = 0; i < tc->layers; i++)
        GR_TRY(load_text_layer(ld, tc, p, i, &w->layers[i]));
    return gr_load_vector(ld, &w->norm, TEXT_PREFIX "norm.weight", tc->hidden);
}
