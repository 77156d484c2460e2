/*
 * The network's weights as backend tensors, in the layout the forward wants
 * (SPEC.md section 1 for the names; fusions below follow from the math):
 * q/k/v projections that read the same input are one linear, Qwen3's gate
 * and up are one linear, and category-specific weights W [cat, in, out]
 * (applied as x @ W[cat]) are stored transposed as [cat*out, in] so that
 * one category is a row view usable as an nn.Linear-style gr_linear.
 *
 * Matrices are in their component's weight dtype; biases, norm weights,
 * position embeddings and future tokens are float32. The token embedding
 * table keeps the checkpoint's dtype (the embed op reads any float table).
 */
#ifndef GR_MODEL_WEIGHTS_H
#define GR_MODEL_WEIGHTS_H

#include "backend/backend.h"
#include "io/checkpoint.h"
#include "model/config.h"

/* Channels of the DiT's sinusoidal timestep embedding (diffusers Timesteps(256)). */
#define GR_DIT_TIMESTEP_CHANNELS 256
/* diffusers' FeedForward widens by this fixed factor (mult=4). */
#define GR_FF_MULT 4

/* The four parts of the network whose precision can be chosen separately. */
typedef enum gr_component {
    GR_COMP_VIT = 0, /* SigLIP tower + mlp1 */
    GR_COMP_LLM,     /* Qwen3 */
    GR_COMP_VL,      /* vlln + vl_self_attention */
    GR_COMP_DIT,     /* state/action encoders, DiT, action decoder */
    GR_COMP_COUNT
} gr_component;

typedef struct gr_precision {
    gr_dtype weight; /* GEMM weight storage */
    gr_dtype act;    /* GEMM inputs and per-layer activations */
    gr_math math;
} gr_precision;

/* A category-specific linear: w [num_cat*out, in], b [num_cat, out] float32. */
typedef struct gr_category_linear {
    gr_tensor w;
    gr_tensor b;
    int64_t out;
    gr_math math;
} gr_category_linear;

/* The plain linear of one category: row views of the stacked weights. */
static inline gr_linear gr_category_select(const gr_category_linear *c, int cat)
{
    gr_linear L;
    L.w = gr_view_rows(c->w, (int64_t)cat * c->out, c->out);
    L.b = gr_tensor_present(&c->b) ? gr_view_rows(c->b, cat, 1) : c->b;
    L.math = c->math;
    return L;
}

/* A pre-LayerNorm transformer block (model/prenorm_block.h): a SigLIP
 * encoder layer or a vl_self_attention block. */
typedef struct gr_prenorm_block_weights {
    gr_tensor ln1_w, ln1_b, ln2_w, ln2_b;
    gr_linear qkv; /* [3*inner, dim] */
    gr_linear out, ff1, ff2;
} gr_prenorm_block_weights;

typedef struct gr_vision_weights {
    gr_linear patch; /* conv weight [D, C, p, p] viewed [D, C*p*p] */
    gr_tensor pos;   /* [tokens_per_image, D] float32 */
    gr_prenorm_block_weights *layers;
    gr_tensor post_w, post_b;
    gr_linear mlp1;
} gr_vision_weights;

typedef struct gr_text_layer_weights {
    gr_tensor in_norm, post_norm, q_norm, k_norm;
    gr_linear qkv;     /* [(H + 2*Hkv)*Dh, hidden] */
    gr_linear o;
    gr_linear gate_up; /* [2F, hidden]: gate rows first */
    gr_linear down;
} gr_text_layer_weights;

typedef struct gr_text_weights {
    gr_tensor embed; /* [vocab, hidden], the checkpoint's dtype */
    gr_text_layer_weights *layers;
    gr_tensor norm;
} gr_text_weights;

/* One vl_self_attention block (diffusers BasicTransformerBlock, layer_norm). */
typedef struct gr_vl_weights {
    gr_tensor vlln_w, vlln_b;
    gr_prenorm_block_weights *blocks;
} gr_vl_weights;

/* One DiT block. Cross-attention blocks read keys/values from vl (q here,
 * their k/v projections in gr_action_weights.cross_kv); self-attention
 * blocks fuse qkv. */
typedef struct gr_dit_block_weights {
    int cross;
    gr_linear q;   /* cross only */
    gr_linear qkv; /* self only */
    gr_linear out, ff1, ff2;
    gr_linear ada; /* norm1.linear: only until the per-step constants exist */
} gr_dit_block_weights;

typedef struct gr_action_weights {
    gr_category_linear state1, state2;        /* state encoder */
    /* The action encoder (SPEC.md section 5) reaches the run as
     * gr_action_constants.act_in and act3: W1 folded into W2's e half, and
     * W2's tau half into per-step biases, at load. These are load-time only. */
    gr_linear act1_rows;                      /* W1 as stored [num_cat*action_dim, E], no bias */
    gr_tensor act1_b;                         /* b1 [num_cat, E] float32 */
    gr_category_linear act2_e;                /* W2's e half, no bias */
    gr_category_linear act2_tau;              /* W2's tau half + b2 */
    gr_category_linear act3;
    gr_category_linear dec1, dec2;            /* action decoder */
    gr_tensor future_tokens;                  /* [future, embed] float32 */
    gr_tensor pos;                            /* [horizon, embed] float32 (first rows only) */
    gr_linear temb1, temb2, proj_out_1;       /* load-time only */
    gr_linear proj_out_2;
    gr_dit_block_weights *blocks;
    /* Every cross-attention block's k and v projections of vl, stacked
     * [cross_blocks * 2*inner, cross_dim] (block c's k rows at 2c*inner,
     * v rows after them): vl is the same for all of them, so one GEMM a
     * call makes all keys and values. */
    gr_linear cross_kv;
} gr_action_weights;

typedef struct gr_model_weights {
    gr_vision_weights vision;
    gr_text_weights text;
    gr_vl_weights vl;
    gr_action_weights action;
} gr_model_weights;

/* Whether DiT block i cross-attends to vl (the others self-attend). */
static inline int gr_dit_block_is_cross(const gr_model_config *cfg, int i)
{
    return !(cfg->action.dit_interleave && (i % 2) == 1);
}

/* How many DiT blocks cross-attend, and which of them block i is. */
static inline int gr_dit_cross_blocks(const gr_model_config *cfg)
{
    int n = 0;
    for (int i = 0; i < cfg->action.dit.layers; i++)
        n += gr_dit_block_is_cross(cfg, i);
    return n;
}

static inline int gr_dit_cross_index(const gr_model_config *cfg, int i)
{
    int n = 0;
    for (int j = 0; j < i; j++)
        n += gr_dit_block_is_cross(cfg, j);
    return n;
}

/* Checks every tensor's presence and shape first (a wrong checkpoint fails
 * before anything is allocated, naming the tensor), then loads. Errors go
 * to err (checkpoint problems) with backend failures copied in. */
groot_status gr_model_weights_load(gr_backend *be, const gr_checkpoint *ckpt, const gr_model_config *cfg,
                                   const gr_precision prec[GR_COMP_COUNT], gr_model_weights *w,
                                   gr_error *err);

/* Only the checking pass: every tensor the network needs is present with
 * the right shape (no backend, nothing loaded). */
groot_status gr_model_weights_check(const gr_checkpoint *ckpt, const gr_model_config *cfg, gr_error *err);

/* Frees the weights only the load-time precomputation needs. */
void gr_model_weights_drop_precompute(gr_backend *be, const gr_model_config *cfg, gr_model_weights *w);
void gr_model_weights_free(gr_backend *be, const gr_model_config *cfg, gr_model_weights *w);

#endif
