/*
 * The flow-matching DiT (SPEC.md section 5, DiT): AdaLN-modulated blocks
 * that alternate cross-attention to vl with self-attention, and the
 * modulated output projection. Everything that depends only on the step
 * (temb, every block's scale/shift, the output shift/scale) is computed
 * once at load; vl's keys/values are computed once per call.
 */
#ifndef GR_MODEL_DIT_H
#define GR_MODEL_DIT_H

#include "model/batch.h"
#include "model/weights.h"

typedef struct gr_dit_constants {
    int steps;
    gr_tensor block_mod; /* float32 [layers*steps, 2E]; row b*steps+k: scale | shift */
    gr_tensor out_mod;   /* float32 [steps, 2E]; row k: shift | scale */
} gr_dit_constants;

/* The DiT's timestep of Euler step k of n: floor(k / n * buckets). */
float gr_dit_timestep(int k, int n, int buckets);

/* diffusers' Timesteps(256, flip_sin_to_cos=True, shift=1) of t, float32. */
void gr_dit_timestep_sinusoid(float t, float *emb);

groot_status gr_dit_precompute(gr_backend *be, const gr_model_config *cfg, const gr_precision *p, int steps,
                               const gr_action_weights *w, gr_dit_constants *c);
void gr_dit_constants_free(gr_backend *be, gr_dit_constants *c);

/* Buffers for every sample's token sequence (S = 1 + future + horizon rows
 * each, stacked: sample i's at rows i*S) and the vl keys/values. */
typedef struct gr_dit_scratch {
    int64_t cap_batch;
    int64_t cap_tokens; /* vl rows the kv buffer holds */
    gr_tensor x;        /* residual stream, float32 [B*S, E] */
    gr_tensor y;        /* act [B*S, E]: modulated / normed GEMM input */
    gr_tensor q;        /* act [B*S, inner] (cross blocks) */
    gr_tensor qkv;      /* act [B*S, 3*inner] (self blocks) */
    gr_tensor attn;     /* act [B*S, inner] */
    gr_tensor ff;       /* act [B*S, 4E] */
    gr_tensor out;      /* act [B*horizon, output_dim]: proj_out_2 of the action rows */
    gr_tensor kv;       /* act [cap_tokens, cross_blocks * 2*inner]: block c's k, v at columns 2c*inner */
} gr_dit_scratch;

int64_t gr_dit_tokens(const gr_model_config *cfg);
groot_status gr_dit_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                  int64_t max_tokens, int64_t max_batch, gr_dit_scratch *s);
void gr_dit_scratch_free(gr_backend *be, gr_dit_scratch *s);

/* Keys/values of vl ([tokens, cross_dim] stacked, in the DiT's act dtype)
 * for every cross-attention block: the same for all steps. */
groot_status gr_dit_prepare_cross(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                  const gr_dit_scratch *s, const gr_batch *b, const gr_tensor *vl);

/* Block i at step k: x_in [B*S, E] float32 in (s->x itself, or the step's
 * input tokens for block 0), s->x out; each sample attends to its own
 * tokens and vl rows. */
groot_status dit_block_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                               const gr_dit_constants *c, const gr_dit_scratch *s, const gr_batch *b, int i, int k,
                               const gr_tensor *x_in);

/* All blocks and the output projection at step k: the step's tokens x_in
 * [B*S, E] float32 in (left unchanged: the residual stream continues in
 * s->x, so a step needs no copy of its input), s->out (each sample's last
 * horizon tokens, stacked; the others are never read) out. */
groot_status gr_dit_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                            const gr_dit_constants *c, const gr_dit_scratch *s, const gr_batch *b, int k,
                            const gr_tensor *x_in);

#endif
