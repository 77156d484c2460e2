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
    int64_t cap_len;
    gr_tensor h;    /* act [L, D] */
    gr_tensor qkv;  /* act [L, 3*inner] */
    gr_tensor attn; /* act [L, inner] */
    gr_tensor ff;   /* act [L, 4D] */
} gr_vl_scratch;

groot_status gr_vl_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                 int64_t max_len, gr_vl_scratch *s);
void gr_vl_scratch_free(gr_backend *be, gr_vl_scratch *s);

/* One vl_self_attention block on vl [len, D] float32, in place. */
groot_status vl_block_forward(gr_backend *be, const gr_model_config *cfg, const gr_vl_block_weights *b,
                              const gr_vl_scratch *s, gr_tensor *vl);

/* backbone_features [len, D] -> vl_embs [len, D], both float32. */
groot_status gr_vl_forward(gr_backend *be, const gr_model_config *cfg, const gr_vl_weights *w,
                           const gr_vl_scratch *s, const gr_tensor *backbone, gr_tensor *vl_embs);

/* ---- the flow-matching head ---- */

typedef struct gr_action_constants {
    gr_dit_constants dit;
    gr_tensor tau_bias; /* float32 [num_cat*steps, E]; row c*steps+k: tau_k @ W2_tau[c] + b2[c] */
} gr_action_constants;

/* The action encoder's timestep encoding of t: [sin(t f), cos(t f)], width embed. */
void gr_action_tau(float t, int embed, float *tau);

/* Everything that depends only on the step index (uses the load-time-only
 * weights; gr_model_weights_drop_precompute may follow). */
groot_status gr_action_precompute(gr_backend *be, const gr_model_config *cfg, const gr_precision *p, int steps,
                                  const gr_action_weights *w, gr_action_constants *c);
void gr_action_constants_free(gr_backend *be, gr_action_constants *c);

typedef struct gr_action_scratch {
    gr_dit_scratch dit;
    gr_tensor vl_act;  /* act [cap_len, D] when act is not float32 (else absent) */
    gr_tensor state_h; /* act [1, hidden] */
    gr_tensor a_act;   /* act [horizon, action_dim] when act is not float32 */
    gr_tensor e, h;    /* act [horizon, E] */
    gr_tensor dec_h;   /* act [horizon, hidden] */
} gr_action_scratch;

groot_status gr_action_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                     int64_t max_len, gr_action_scratch *s);
void gr_action_scratch_free(gr_backend *be, gr_action_scratch *s);

/* state [1, max_state_dim] in the DiT's act dtype -> state_features [1, E] float32. */
groot_status gr_state_encoder_forward(gr_backend *be, const gr_action_weights *w, const gr_action_scratch *s,
                                      const gr_tensor *state, int cat, gr_tensor *state_features);

/* The action tokens of Euler step k (actions [horizon, action_dim] float32),
 * written into tokens: their rows of the DiT input. */
groot_status gr_action_encoder_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                       const gr_action_constants *c, const gr_action_scratch *s,
                                       const gr_tensor *actions, int cat, int k, gr_tensor *tokens);

/* The Euler loop: actions [horizon, action_dim] float32 hold the initial
 * noise on entry and action_pred on return; velocities [steps*horizon,
 * action_dim] float32 receive each step's velocity. */
groot_status gr_action_head_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                    const gr_action_constants *c, const gr_action_scratch *s,
                                    const gr_tensor *vl_embs, const gr_tensor *state_features, int cat,
                                    gr_tensor *actions, gr_tensor *velocities);

#endif
