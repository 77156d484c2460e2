/*
 * vl conditioning, the state encoder and the Euler loop of the action head.
 */
#include "model/action_head.h"

#include "model/prenorm_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* nn.LayerNorm's default epsilon: vlln and the vl_self_attention norms. */
#define VL_EPS 1e-5f

/* ---- vl ---- */

groot_status gr_vl_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                 int64_t max_tokens, gr_vl_scratch *s)
{
    const gr_action_config *ac = &cfg->action;
    const int64_t D = ac->backbone_dim, inner = (int64_t)ac->vlsa.heads * ac->vlsa.head_dim, T = max_tokens;
    memset(s, 0, sizeof *s);
    s->cap_tokens = T;
    GR_TRY(be->ops->alloc(be, &s->h, T, D, p->act));
    GR_TRY(be->ops->alloc(be, &s->qkv, T, 3 * inner, p->act));
    GR_TRY(be->ops->alloc(be, &s->attn, T, inner, p->act));
    return be->ops->alloc(be, &s->ff, T, GR_FF_MULT * D, p->act);
}

void gr_vl_scratch_free(gr_backend *be, gr_vl_scratch *s)
{
    be->ops->free(be, &s->h);
    be->ops->free(be, &s->qkv);
    be->ops->free(be, &s->attn);
    be->ops->free(be, &s->ff);
    s->cap_tokens = 0;
}

groot_status vl_block_forward(gr_backend *be, const gr_model_config *cfg, const gr_prenorm_block_weights *w,
                              const gr_vl_scratch *s, const gr_batch *b, gr_tensor *vl)
{
    const gr_block_config *bc = &cfg->action.vlsa;
    const int64_t T = vl->rows;
    const gr_prenorm_block_scratch bs = {gr_view_rows(s->h, 0, T), gr_view_rows(s->qkv, 0, T),
                                         gr_view_rows(s->attn, 0, T), gr_view_rows(s->ff, 0, T)};
    /* Each sample attends only to its own tokens. */
    const gr_attention_spans spans = {.count = b->count, .span = 0, .batch = b};
    return gr_prenorm_block_forward(be, w, VL_EPS, bc->heads, bc->head_dim, &spans, &bs, vl);
}

groot_status gr_vl_forward(gr_backend *be, const gr_model_config *cfg, const gr_vl_weights *w,
                           const gr_vl_scratch *s, const gr_batch *b, const gr_tensor *backbone,
                           gr_tensor *vl_embs)
{
    if (!cfg->action.use_vlln)
        return be->ops->copy(be, backbone, vl_embs);
    if (backbone->rows > s->cap_tokens)
        return gr_fail(&be->err, GROOT_ERR_INTERNAL, "vl: %lld tokens exceed the planned %lld",
                       (long long)backbone->rows, (long long)s->cap_tokens);
    GR_TRY(be->ops->layernorm(be, backbone, &w->vlln_w, &w->vlln_b, VL_EPS, vl_embs));
    for (int i = 0; i < cfg->action.vlsa.layers; i++) {
        groot_status st = vl_block_forward(be, cfg, &w->blocks[i], s, b, vl_embs);
        if (st) {
            gr_error_prefix(&be->err, "vl_self_attention block %d", i);
            return st;
        }
    }
    return GROOT_OK;
}

/* ---- constants ---- */

void gr_action_tau(float t, int embed, float *tau)
{
    const int half = embed / 2;
    /* float32 as the reference: log(tensor(10000.0)) / half_dim, times -arange, exp. */
    const float step = logf(10000.0f) / (float)half;
    for (int i = 0; i < half; i++) {
        float arg = t * expf(-(float)i * step);
        tau[i] = sinf(arg);
        tau[half + i] = cosf(arg);
    }
}

/* c->act_in (see gr_action_constants) and fold_b [num_cat, E] float32 =
 * b1 W2_e + b2 per category. The GEMM's rows are W2_e[c]^T (act2_e's [out,
 * in] layout) and its weight W1[c] as stored ([action_dim, E]), so its
 * output is (W1 W2_e)^T, the [out, in] layout act_in needs. Operands in
 * their own dtype with float32 sums, also at tf32: the product is made once. */
static groot_status fold_action_input(gr_backend *be, const gr_action_config *ac, const gr_precision *p,
                                      const gr_action_weights *w, gr_action_constants *c, gr_tensor *fold_b)
{
    const int64_t E = ac->embed, A = ac->action_dim, nc = ac->num_embodiments;
    c->act_in.out = E;
    c->act_in.math = p->math;
    GR_TRY(be->ops->alloc(be, &c->act_in.w, nc * E, A, p->weight));
    GR_TRY(be->ops->alloc(be, fold_b, nc, E, GR_F32));
    gr_tensor b1 = {0};
    groot_status st = be->ops->alloc(be, &b1, nc, E, p->weight);
    if (!st)
        st = be->ops->copy(be, &w->act1_b, &b1);
    for (int cat = 0; cat < nc && !st; cat++) {
        gr_linear w2e = gr_category_select(&w->act2_e, cat);
        gr_linear w1 = {.w = gr_view_rows(w->act1_rows.w, cat * A, A), .math = GR_MATH_EXACT};
        gr_tensor folded = gr_view_rows(c->act_in.w, cat * E, E);
        st = be->ops->linear(be, &w2e.w, &w1, GR_ACT_NONE, NULL, &folded);
        if (!st) {
            w2e.b = gr_category_select(&w->act2_tau, cat).b;
            w2e.math = GR_MATH_EXACT;
            gr_tensor x = gr_view_rows(b1, cat, 1), y = gr_view_rows(*fold_b, cat, 1);
            st = be->ops->linear(be, &x, &w2e, GR_ACT_NONE, NULL, &y);
        }
    }
    if (!st)
        st = be->ops->sync(be);
    be->ops->free(be, &b1);
    return st;
}

groot_status gr_action_precompute(gr_backend *be, const gr_model_config *cfg, const gr_precision *p, int steps,
                                  const gr_action_weights *w, gr_action_constants *c)
{
    const gr_action_config *ac = &cfg->action;
    const int64_t E = ac->embed;
    memset(c, 0, sizeof *c);
    GR_TRY(gr_dit_precompute(be, cfg, p, steps, w, &c->dit));
    GR_TRY(be->ops->alloc(be, &c->tau_bias, (int64_t)ac->num_embodiments * steps, E, GR_F32));
    gr_tensor fold_b = {0}, tau = {0};
    float *host = NULL;
    groot_status st = fold_action_input(be, ac, p, w, c, &fold_b);
    if (!st && !(host = malloc((size_t)(steps * E) * sizeof(float))))
        st = gr_fail(&be->err, GROOT_ERR_NOMEM, "action encoder timestep encodings for %d steps", steps);
    for (int k = 0; k < steps && !st; k++)
        gr_action_tau(gr_dit_timestep(k, steps, ac->timestep_buckets), (int)E, host + k * E);
    if (!st)
        st = be->ops->alloc(be, &tau, steps, E, p->act);
    if (!st)
        st = be->ops->upload(be, &tau, host, GR_F32);
    for (int cat = 0; cat < ac->num_embodiments && !st; cat++) {
        gr_linear L = gr_category_select(&w->act2_tau, cat);
        L.b = gr_view_rows(fold_b, cat, 1);
        gr_tensor rows = gr_view_rows(c->tau_bias, (int64_t)cat * steps, steps);
        st = be->ops->linear(be, &tau, &L, GR_ACT_NONE, NULL, &rows);
    }
    if (!st)
        st = be->ops->sync(be);
    free(host);
    be->ops->free(be, &tau);
    be->ops->free(be, &fold_b);
    return st;
}

void gr_action_constants_free(gr_backend *be, gr_action_constants *c)
{
    gr_dit_constants_free(be, &c->dit);
    be->ops->free(be, &c->act_in.w);
    be->ops->free(be, &c->tau_bias);
}

/* ---- scratch ---- */

groot_status gr_action_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                     int64_t max_tokens, int64_t max_batch, gr_action_scratch *s)
{
    const gr_action_config *ac = &cfg->action;
    const int64_t BH = max_batch * ac->horizon;
    memset(s, 0, sizeof *s);
    GR_TRY(gr_dit_scratch_alloc(be, cfg, p, max_tokens, max_batch, &s->dit));
    if (p->act != GR_F32) {
        GR_TRY(be->ops->alloc(be, &s->vl_act, max_tokens, ac->backbone_dim, p->act));
        GR_TRY(be->ops->alloc(be, &s->a_act, BH, ac->action_dim, p->act));
    }
    GR_TRY(be->ops->alloc(be, &s->tokens0, max_batch * gr_dit_tokens(cfg), ac->embed, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->state_h, max_batch, ac->hidden, p->act));
    GR_TRY(be->ops->alloc(be, &s->h, BH, ac->embed, p->act));
    GR_TRY(be->ops->alloc(be, &s->enc, BH, ac->embed, GR_F32));
    return be->ops->alloc(be, &s->dec_h, BH, ac->hidden, p->act);
}

void gr_action_scratch_free(gr_backend *be, gr_action_scratch *s)
{
    gr_dit_scratch_free(be, &s->dit);
    be->ops->free(be, &s->vl_act);
    be->ops->free(be, &s->tokens0);
    be->ops->free(be, &s->state_h);
    be->ops->free(be, &s->a_act);
    be->ops->free(be, &s->h);
    be->ops->free(be, &s->enc);
    be->ops->free(be, &s->dec_h);
}

/* ---- forward ---- */

/* The category layers run once per run of samples sharing an embodiment. */
groot_status gr_state_encoder_forward(gr_backend *be, const gr_action_weights *w, const gr_action_scratch *s,
                                      const gr_batch *b, const gr_tensor *state, gr_tensor *state_features)
{
    for (int r = 0; r < b->runs; r++) {
        const gr_batch_run *run = &b->run[r];
        gr_linear l1 = gr_category_select(&w->state1, run->cat), l2 = gr_category_select(&w->state2, run->cat);
        gr_tensor x = gr_view_rows(*state, run->first, run->count);
        gr_tensor h = gr_view_rows(s->state_h, run->first, run->count);
        gr_tensor y = gr_view_rows(*state_features, run->first, run->count);
        GR_TRY(be->ops->linear(be, &x, &l1, GR_ACT_RELU, NULL, &h));
        GR_TRY(be->ops->linear(be, &h, &l2, GR_ACT_NONE, NULL, &y));
    }
    return GROOT_OK;
}

groot_status gr_action_prepare(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                               const gr_action_scratch *s, const gr_batch *b, const gr_tensor *vl_embs,
                               const gr_tensor *state_features)
{
    const int64_t S = gr_dit_tokens(cfg), F = cfg->action.future_tokens;
    gr_tensor vl = *vl_embs;
    if (gr_tensor_present(&s->vl_act)) {
        vl = gr_view_rows(s->vl_act, 0, vl_embs->rows);
        GR_TRY(be->ops->copy(be, vl_embs, &vl));
    }
    GR_TRY(gr_dit_prepare_cross(be, cfg, w, &s->dit, b, &vl));
    for (int i = 0; i < b->count; i++) {
        gr_tensor feat = gr_view_rows(*state_features, i, 1);
        gr_tensor state_row = gr_view_rows(s->tokens0, i * S, 1), future_rows = gr_view_rows(s->tokens0, i * S + 1, F);
        GR_TRY(be->ops->copy(be, &feat, &state_row));
        GR_TRY(be->ops->copy(be, &w->future_tokens, &future_rows));
    }
    return GROOT_OK;
}

groot_status gr_action_encoder_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                       const gr_action_constants *c, const gr_action_scratch *s,
                                       const gr_batch *b, const gr_tensor *actions, int k)
{
    const int steps = c->dit.steps;
    const int64_t H = cfg->action.horizon, S = gr_dit_tokens(cfg), A0 = S - H, R = b->count * S;
    /* The step's tokens: the fixed rows laid once per call, the action rows now. */
    gr_tensor x = gr_view_rows(s->tokens0, 0, R);
    gr_tensor a = *actions;
    if (gr_tensor_present(&s->a_act)) {
        a = gr_view_rows(s->a_act, 0, actions->rows);
        GR_TRY(be->ops->copy(be, actions, &a));
    }
    /* A lone sample's tokens go straight to their rows; a batch's are
     * stacked first so that each run takes one GEMM, then moved. */
    gr_tensor tokens = b->count == 1 ? gr_view_rows(x, A0, H) : gr_view_rows(s->enc, 0, b->count * H);
    for (int r = 0; r < b->runs; r++) {
        const gr_batch_run *run = &b->run[r];
        const int64_t r0 = run->first * H, n = run->count * H;
        /* W1 and W2 as one GEMM (gr_action_constants), step k's bias. */
        gr_linear l12 = gr_category_select(&c->act_in, run->cat), l3 = gr_category_select(&w->act3, run->cat);
        l12.b = gr_view_rows(c->tau_bias, (int64_t)run->cat * steps + k, 1);
        gr_tensor ar = gr_view_rows(a, r0, n), h = gr_view_rows(s->h, r0, n);
        gr_tensor t = gr_view_rows(tokens, r0, n);
        GR_TRY(be->ops->linear(be, &ar, &l12, GR_ACT_SILU, NULL, &h));
        /* The position embedding (horizon rows, one per action token): the
         * GEMM's residual for a lone sample, added row-block-wise for more. */
        const int pos_residual = cfg->action.add_pos_embed && run->count == 1;
        GR_TRY(be->ops->linear(be, &h, &l3, GR_ACT_NONE, pos_residual ? &w->pos : NULL, &t));
        if (cfg->action.add_pos_embed && !pos_residual)
            GR_TRY(be->ops->add_rows(be, &t, &w->pos, &t));
    }
    for (int i = 0; i < b->count && b->count > 1; i++) {
        gr_tensor src = gr_view_rows(tokens, i * H, H), dst = gr_view_rows(x, i * S + A0, H);
        GR_TRY(be->ops->copy(be, &src, &dst));
    }
    return GROOT_OK;
}

groot_status gr_action_decoder_forward(gr_backend *be, const gr_action_weights *w, const gr_action_scratch *s,
                                       const gr_batch *b, int64_t horizon, gr_tensor *velocities)
{
    for (int r = 0; r < b->runs; r++) {
        const gr_batch_run *run = &b->run[r];
        const int64_t r0 = run->first * horizon, n = run->count * horizon;
        gr_linear dec1 = gr_category_select(&w->dec1, run->cat), dec2 = gr_category_select(&w->dec2, run->cat);
        gr_tensor out = gr_view_rows(s->dit.out, r0, n), dh = gr_view_rows(s->dec_h, r0, n);
        gr_tensor v = gr_view_rows(*velocities, r0, n);
        GR_TRY(be->ops->linear(be, &out, &dec1, GR_ACT_RELU, NULL, &dh));
        GR_TRY(be->ops->linear(be, &dh, &dec2, GR_ACT_NONE, NULL, &v));
    }
    return GROOT_OK;
}

groot_status gr_action_head_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                    const gr_action_constants *c, const gr_action_scratch *s, const gr_batch *b,
                                    const gr_tensor *vl_embs, const gr_tensor *state_features,
                                    gr_tensor *actions, gr_tensor *velocities)
{
    const int steps = c->dit.steps;
    const int64_t BH = b->count * (int64_t)cfg->action.horizon;
    const float dt = (float)(1.0 / steps);
    GR_TRY(gr_action_prepare(be, cfg, w, s, b, vl_embs, state_features));
    for (int k = 0; k < steps; k++) {
        gr_tensor v = gr_view_rows(*velocities, (int64_t)k * BH, BH);
        GR_TRY(gr_action_encoder_forward(be, cfg, w, c, s, b, actions, k));
        gr_tensor x0 = gr_view_rows(s->tokens0, 0, b->count * gr_dit_tokens(cfg));
        GR_TRY(gr_dit_forward(be, cfg, w, &c->dit, &s->dit, b, k, &x0));
        GR_TRY(gr_action_decoder_forward(be, w, s, b, cfg->action.horizon, &v));
        GR_TRY(be->ops->axpy(be, dt, &v, actions));
    }
    return GROOT_OK;
}
