/*
 * The action head (SPEC.md section 5): vlln + vl_self_attention over the
 * backbone features, the state encoder, and the Euler loop of action
 * encoder -> DiT -> action decoder.
 */
#ifndef GR_MODEL_ACTION_HEAD_H
#define GR_MODEL_ACTION_HEAD_H

#include "model/dit.h"

/* ---- vl: vlln + vl_self_attention ---- */

typedef struct gr_vl_scratch {
    int64_t cap_tokens;
    gr_tensor h;    /* act [T, D] (T: the batch's tokens, stacked) */
    gr_tensor qkv;  /* act [T, 3*inner] */
    gr_tensor attn; /* act [T, inner] */
    gr_tensor ff;   /* act [T, 4D] */
} gr_vl_scratch;

groot_status gr_vl_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                 int64_t max_tokens, gr_vl_scratch *s);
void gr_vl_scratch_free(gr_backend *be, gr_vl_scratch *s);

/* One vl_self_attention block on vl [tokens, D] float32, in place; each
 * sample attends to its own rows only. */
groot_status vl_block_forward(gr_backend *be, const gr_model_config *cfg, const gr_prenorm_block_weights *w,
                              const gr_vl_scratch *s, const gr_batch *b, gr_tensor *vl);

/* backbone_features [tokens, D] -> vl_embs [tokens, D], both float32, stacked. */
groot_status gr_vl_forward(gr_backend *be, const gr_model_config *cfg, const gr_vl_weights *w,
                           const gr_vl_scratch *s, const gr_batch *b, const gr_tensor *backbone,
                           gr_tensor *vl_embs);

/* ---- the flow-matching head ---- */

/* The action encoder's first two layers, W2 (cat(a W1 + b1, tau)) + b2,
 * are one small GEMM: a (W1 W2_e) + [b1 W2_e + tau W2_tau + b2], the
 * bracket precomputed per category and step. Exact in real arithmetic;
 * a step streams a [E, action_dim] weight instead of W2_e's [E, E]. */
typedef struct gr_action_constants {
    gr_dit_constants dit;
    gr_category_linear act_in; /* W1 W2_e per category as [num_cat*E, action_dim], no bias */
    gr_tensor tau_bias; /* float32 [num_cat*steps, E]; row c*steps+k: b1 W2_e + tau_k W2_tau + b2 of c */
} gr_action_constants;

/* The action encoder's timestep encoding of t: [sin(t f), cos(t f)], width embed. */
void gr_action_tau(float t, int embed, float *tau);

/* Everything that depends only on the step index (uses the load-time-only
 * weights; gr_model_weights_drop_precompute may follow). */
groot_status gr_action_precompute(gr_backend *be, const gr_model_config *cfg, const gr_precision *p, int steps,
                                  const gr_action_weights *w, gr_action_constants *c);
void gr_action_constants_free(gr_backend *be, gr_action_constants *c);

/* Per-sample rows are stacked: sample i's horizon rows at i*horizon, its
 * DiT tokens at i*S (see gr_dit_scratch). */
typedef struct gr_action_scratch {
    gr_dit_scratch dit;
    gr_tensor vl_act;  /* act [cap_tokens, D] when act is not float32 (else absent) */
    gr_tensor tokens0; /* float32 [B*S, E]: the DiT input; state and future rows laid once per call */
    gr_tensor state_h; /* act [B, hidden] */
    gr_tensor a_act;   /* act [B*horizon, action_dim] when act is not float32 */
    gr_tensor h;       /* act [B*horizon, E] */
    gr_tensor enc;     /* float32 [B*horizon, E]: action tokens before they take their rows of x */
    gr_tensor dec_h;   /* act [B*horizon, hidden] */
} gr_action_scratch;

groot_status gr_action_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                     int64_t max_tokens, int64_t max_batch, gr_action_scratch *s);
void gr_action_scratch_free(gr_backend *be, gr_action_scratch *s);

/* state [B, max_state_dim] in the DiT's act dtype -> state_features [B, E] float32. */
groot_status gr_state_encoder_forward(gr_backend *be, const gr_action_weights *w, const gr_action_scratch *s,
                                      const gr_batch *b, const gr_tensor *state, gr_tensor *state_features);

/* What every step shares: vl in the DiT's dtype, its cross keys/values
 * (vl_embs [tokens, D] float32), and each sample's state and future
 * tokens (state_features [B, E]) in s->tokens0. */
groot_status gr_action_prepare(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                               const gr_action_scratch *s, const gr_batch *b, const gr_tensor *vl_embs,
                               const gr_tensor *state_features);

/* The DiT input of Euler step k in s->tokens0: the prepared rows, and the
 * action tokens of actions [B*horizon, action_dim] float32. */
groot_status gr_action_encoder_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                       const gr_action_constants *c, const gr_action_scratch *s,
                                       const gr_batch *b, const gr_tensor *actions, int k);

/* s->dit.out -> velocities [B*horizon, action_dim] float32. */
groot_status gr_action_decoder_forward(gr_backend *be, const gr_action_weights *w, const gr_action_scratch *s,
                                       const gr_batch *b, int64_t horizon, gr_tensor *velocities);

/* The Euler loop: actions [B*horizon, action_dim] float32 hold the initial
 * noise on entry and action_pred on return; velocities [steps*B*horizon,
 * action_dim] float32 receive each step's velocities (step k's at rows
 * k*B*horizon). */
groot_status gr_action_head_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                    const gr_action_constants *c, const gr_action_scratch *s, const gr_batch *b,
                                    const gr_tensor *vl_embs, const gr_tensor *state_features,
                                    gr_tensor *actions, gr_tensor *velocities);

#endif
