/*
 * Loading the action head: vlln + vl_self_attention, the category-specific
 * encoders and decoder, and the DiT.
 */
#include <stdio.h>

#include "model/prenorm_block.h"
#include "model/weights_loader.h"

#define VL_BLOCK "action_head.vl_self_attention.transformer_blocks.%d."
#define DIT_BLOCK "action_head.model.transformer_blocks.%d."
#define TEMB "action_head.model.timestep_encoder.timestep_embedder."

/* vl_self_attention block names (diffusers' BasicTransformerBlock). */
static const gr_prenorm_block_names vl_block_names = {
    .ln1_w = VL_BLOCK "norm1.weight", .ln1_b = VL_BLOCK "norm1.bias",
    .ln2_w = VL_BLOCK "norm3.weight", .ln2_b = VL_BLOCK "norm3.bias",
    .q_w = VL_BLOCK "attn1.to_q.weight", .k_w = VL_BLOCK "attn1.to_k.weight",
    .v_w = VL_BLOCK "attn1.to_v.weight", .q_b = VL_BLOCK "attn1.to_q.bias",
    .k_b = VL_BLOCK "attn1.to_k.bias", .v_b = VL_BLOCK "attn1.to_v.bias",
    .out_w = VL_BLOCK "attn1.to_out.0.weight", .out_b = VL_BLOCK "attn1.to_out.0.bias",
    .ff1_w = VL_BLOCK "ff.net.0.proj.weight", .ff1_b = VL_BLOCK "ff.net.0.proj.bias",
    .ff2_w = VL_BLOCK "ff.net.2.weight", .ff2_b = VL_BLOCK "ff.net.2.bias",
};

groot_status gr_load_vl(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p, gr_vl_weights *w)
{
    const gr_action_config *ac = &cfg->action;
    if (!ac->use_vlln)
        return GROOT_OK;
    GR_TRY(gr_load_vector(ld, &w->vlln_w, "action_head.vlln.weight", ac->backbone_dim));
    GR_TRY(gr_load_vector(ld, &w->vlln_b, "action_head.vlln.bias", ac->backbone_dim));
    GR_TRY(gr_loader_array(ld, (void **)&w->blocks, ac->vlsa.layers, sizeof *w->blocks, "vl blocks"));
    for (int i = 0; i < ac->vlsa.layers; i++)
        GR_TRY(gr_load_prenorm_block(ld, p, &vl_block_names, i, ac->backbone_dim,
                                     (int64_t)ac->vlsa.heads * ac->vlsa.head_dim, GR_FF_MULT * ac->backbone_dim,
                                     &w->blocks[i]));
    return GROOT_OK;
}

static groot_status load_dit_block(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p, int i,
                                   gr_dit_block_weights *b, gr_linear *cross_kv)
{
    char n0[GR_NAME_MAX], n1[GR_NAME_MAX], n2[GR_NAME_MAX], n3[GR_NAME_MAX], n4[GR_NAME_MAX], n5[GR_NAME_MAX];
    const gr_action_config *ac = &cfg->action;
    const int64_t E = ac->embed, inner = (int64_t)ac->dit.heads * ac->dit.head_dim;
    const int cross = gr_dit_block_is_cross(cfg, i);
    if (!ld->check_only)
        b->cross = cross;

    snprintf(n0, sizeof n0, DIT_BLOCK "norm1.linear.weight", i);
    snprintf(n1, sizeof n1, DIT_BLOCK "norm1.linear.bias", i);
    GR_TRY(gr_load_linear(ld, &b->ada, p, n0, n1, 2 * E, E));

    snprintf(n0, sizeof n0, DIT_BLOCK "attn1.to_q.weight", i);
    snprintf(n1, sizeof n1, DIT_BLOCK "attn1.to_k.weight", i);
    snprintf(n2, sizeof n2, DIT_BLOCK "attn1.to_v.weight", i);
    snprintf(n3, sizeof n3, DIT_BLOCK "attn1.to_q.bias", i);
    snprintf(n4, sizeof n4, DIT_BLOCK "attn1.to_k.bias", i);
    snprintf(n5, sizeof n5, DIT_BLOCK "attn1.to_v.bias", i);
    if (cross) {
        GR_TRY(gr_load_linear(ld, &b->q, p, n0, n3, inner, E));
        const char *wn[2] = {n1, n2}, *bn[2] = {n4, n5};
        const int64_t outs[2] = {inner, inner};
        GR_TRY(gr_load_linear_parts_at(ld, cross_kv, gr_dit_cross_index(cfg, i) * 2 * inner, 2, wn, bn, outs,
                                       ac->dit_cross_dim));
    } else {
        const char *wn[3] = {n0, n1, n2}, *bn[3] = {n3, n4, n5};
        const int64_t outs[3] = {inner, inner, inner};
        GR_TRY(gr_load_linear_parts(ld, &b->qkv, p, 3, wn, bn, outs, E));
    }
    snprintf(n0, sizeof n0, DIT_BLOCK "attn1.to_out.0.weight", i);
    snprintf(n1, sizeof n1, DIT_BLOCK "attn1.to_out.0.bias", i);
    GR_TRY(gr_load_linear(ld, &b->out, p, n0, n1, E, inner));
    snprintf(n0, sizeof n0, DIT_BLOCK "ff.net.0.proj.weight", i);
    snprintf(n1, sizeof n1, DIT_BLOCK "ff.net.0.proj.bias", i);
    GR_TRY(gr_load_linear(ld, &b->ff1, p, n0, n1, GR_FF_MULT * E, E));
    snprintf(n0, sizeof n0, DIT_BLOCK "ff.net.2.weight", i);
    snprintf(n1, sizeof n1, DIT_BLOCK "ff.net.2.bias", i);
    return gr_load_linear(ld, &b->ff2, p, n0, n1, E, GR_FF_MULT * E);
}

/* A whole category-specific layer x @ W[cat] + b[cat]. */
static groot_status load_category(gr_loader *ld, gr_category_linear *c, const gr_precision *p,
                                  const char *prefix, int num_cat, int64_t in, int64_t out)
{
    char wn[GR_NAME_MAX], bn[GR_NAME_MAX];
    snprintf(wn, sizeof wn, "%s.W", prefix);
    snprintf(bn, sizeof bn, "%s.b", prefix);
    return gr_load_category_part(ld, c, p, wn, bn, num_cat, in, 0, in, out);
}

groot_status gr_load_action(gr_loader *ld, const gr_model_config *cfg, const gr_precision *p,
                            gr_action_weights *w)
{
    const gr_action_config *ac = &cfg->action;
    const int nc = ac->num_embodiments;
    const int64_t E = ac->embed, Hd = ac->hidden;

    GR_TRY(load_category(ld, &w->state1, p, "action_head.state_encoder.layer1", nc, ac->max_state_dim, Hd));
    GR_TRY(load_category(ld, &w->state2, p, "action_head.state_encoder.layer2", nc, Hd, E));

    /* W1 as stored ([in, out] per category): the fold into W2's e half
     * (gr_action_precompute) multiplies it as the right-hand operand. */
    const int64_t w1_shape[3] = {nc, ac->action_dim, E};
    GR_TRY(gr_load_linear_shaped(ld, &w->act1_rows, p, "action_head.action_encoder.W1.W", 3, w1_shape, NULL,
                                 (int64_t)nc * ac->action_dim, E));
    GR_TRY(gr_load_f32_rows(ld, &w->act1_b, "action_head.action_encoder.W1.b", nc, E, nc));
    /* W2 acts on cat(e, tau): the tau half is folded into per-step biases at load. */
    GR_TRY(gr_load_category_part(ld, &w->act2_e, p, "action_head.action_encoder.W2.W", NULL, nc, 2 * E, 0, E,
                                 E));
    GR_TRY(gr_load_category_part(ld, &w->act2_tau, p, "action_head.action_encoder.W2.W",
                                 "action_head.action_encoder.W2.b", nc, 2 * E, E, E, E));
    GR_TRY(load_category(ld, &w->act3, p, "action_head.action_encoder.W3", nc, E, E));

    GR_TRY(load_category(ld, &w->dec1, p, "action_head.action_decoder.layer1", nc, ac->dit_output_dim, Hd));
    GR_TRY(load_category(ld, &w->dec2, p, "action_head.action_decoder.layer2", nc, Hd, ac->action_dim));

    GR_TRY(gr_load_f32_rows(ld, &w->future_tokens, "action_head.future_tokens.weight", ac->future_tokens, E,
                            ac->future_tokens));
    if (ac->add_pos_embed)
        GR_TRY(gr_load_f32_rows(ld, &w->pos, "action_head.position_embedding.weight", ac->max_seq_len, E,
                                ac->horizon));

    GR_TRY(gr_load_linear(ld, &w->temb1, p, TEMB "linear_1.weight", TEMB "linear_1.bias", E,
                          GR_DIT_TIMESTEP_CHANNELS));
    GR_TRY(gr_load_linear(ld, &w->temb2, p, TEMB "linear_2.weight", TEMB "linear_2.bias", E, E));
    GR_TRY(gr_loader_array(ld, (void **)&w->blocks, ac->dit.layers, sizeof *w->blocks, "DiT blocks"));
    const int64_t inner = (int64_t)ac->dit.heads * ac->dit.head_dim;
    const int cross = gr_dit_cross_blocks(cfg);
    if (cross > 0)
        GR_TRY(gr_alloc_linear(ld, &w->cross_kv, p, cross * 2 * inner, ac->dit_cross_dim, 1,
                               "DiT cross-attention k/v"));
    for (int i = 0; i < ac->dit.layers; i++)
        GR_TRY(load_dit_block(ld, cfg, p, i, &w->blocks[i], &w->cross_kv));
    GR_TRY(gr_load_linear(ld, &w->proj_out_1, p, "action_head.model.proj_out_1.weight",
                          "action_head.model.proj_out_1.bias", 2 * E, E));
    return gr_load_linear(ld, &w->proj_out_2, p, "action_head.model.proj_out_2.weight",
                          "action_head.model.proj_out_2.bias", ac->dit_output_dim, E);
}
