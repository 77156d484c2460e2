/*
 * vl conditioning, the state encoder and the Euler loop of the action head.
 */
#include "model/action_head.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* nn.LayerNorm's default epsilon: vlln and the vl_self_attention norms. */
#define VL_EPS 1e-5f

/* ---- vl ---- */

groot_status gr_vl_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                 int64_t max_len, gr_vl_scratch *s)
{
    const gr_action_config *ac = &cfg->action;
    const int64_t D = ac->backbone_dim, inner = (int64_t)ac->vlsa.heads * ac->vlsa.head_dim;
    memset(s, 0, sizeof *s);
    s->cap_len = max_len;
    GR_TRY(be->ops->alloc(be, &s->h, max_len, D, p->act));
    GR_TRY(be->ops->alloc(be, &s->qkv, max_len, 3 * inner, p->act));
    GR_TRY(be->ops->alloc(be, &s->attn, max_len, inner, p->act));
    return be->ops->alloc(be, &s->ff, max_len, GR_FF_MULT * D, p->act);
}

void gr_vl_scratch_free(gr_backend *be, gr_vl_scratch *s)
{
    be->ops->free(be, &s->h);
    be->ops->free(be, &s->qkv);
    be->ops->free(be, &s->attn);
    be->ops->free(be, &s->ff);
    s->cap_len = 0;
}

groot_status vl_block_forward(gr_backend *be, const gr_model_config *cfg, const gr_vl_block_weights *b,
                              const gr_vl_scratch *s, gr_tensor *vl)
{
    const gr_block_config *bc = &cfg->action.vlsa;
    const int64_t len = vl->rows, inner = (int64_t)bc->heads * bc->head_dim;
    const float scale = 1.0f / sqrtf((float)bc->head_dim);
    gr_tensor h = gr_view_rows(s->h, 0, len), qkv = gr_view_rows(s->qkv, 0, len);
    gr_tensor attn = gr_view_rows(s->attn, 0, len), ff = gr_view_rows(s->ff, 0, len);
    gr_tensor q = gr_view_cols(qkv, 0, inner), k = gr_view_cols(qkv, inner, inner);
    gr_tensor v = gr_view_cols(qkv, 2 * inner, inner);

    GR_TRY(be->ops->layernorm(be, vl, &b->norm1_w, &b->norm1_b, VL_EPS, &h));
    GR_TRY(be->ops->linear(be, &h, &b->qkv, GR_ACT_NONE, NULL, &qkv));
    GR_TRY(be->ops->attention(be, &q, &k, &v, bc->heads, bc->heads, bc->head_dim, 0, scale, &attn));
    GR_TRY(be->ops->linear(be, &attn, &b->out, GR_ACT_NONE, vl, vl));
    GR_TRY(be->ops->layernorm(be, vl, &b->norm3_w, &b->norm3_b, VL_EPS, &h));
    GR_TRY(be->ops->linear(be, &h, &b->ff1, GR_ACT_GELU_TANH, NULL, &ff));
    return be->ops->linear(be, &ff, &b->ff2, GR_ACT_NONE, vl, vl);
}

groot_status gr_vl_forward(gr_backend *be, const gr_model_config *cfg, const gr_vl_weights *w,
                           const gr_vl_scratch *s, const gr_tensor *backbone, gr_tensor *vl_embs)
{
    if (!cfg->action.use_vlln)
        return be->ops->copy(be, backbone, vl_embs);
    if (backbone->rows > s->cap_len)
        return gr_fail(&be->err, GROOT_ERR_INTERNAL, "vl: %lld tokens exceed the planned %lld",
                       (long long)backbone->rows, (long long)s->cap_len);
    GR_TRY(be->ops->layernorm(be, backbone, &w->vlln_w, &w->vlln_b, VL_EPS, vl_embs));
    for (int i = 0; i < cfg->action.vlsa.layers; i++) {
        groot_status st = vl_block_forward(be, cfg, &w->blocks[i], s, vl_embs);
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

groot_status gr_action_precompute(gr_backend *be, const gr_model_config *cfg, const gr_precision *p, int steps,
                                  const gr_action_weights *w, gr_action_constants *c)
{
    const gr_action_config *ac = &cfg->action;
    const int64_t E = ac->embed;
    memset(c, 0, sizeof *c);
    GR_TRY(gr_dit_precompute(be, cfg, p, steps, w, &c->dit));
    GR_TRY(be->ops->alloc(be, &c->tau_bias, (int64_t)ac->num_embodiments * steps, E, GR_F32));

    float *host = malloc((size_t)(steps * E) * sizeof(float));
    if (!host)
        return gr_fail(&be->err, GROOT_ERR_NOMEM, "action encoder timestep encodings for %d steps", steps);
    for (int k = 0; k < steps; k++)
        gr_action_tau(gr_dit_timestep(k, steps, ac->timestep_buckets), (int)E, host + k * E);
    gr_tensor tau = {0};
    groot_status st = be->ops->alloc(be, &tau, steps, E, p->act);
    if (!st)
        st = be->ops->upload(be, &tau, host, GR_F32);
    for (int cat = 0; cat < ac->num_embodiments && !st; cat++) {
        gr_linear L = gr_category_select(&w->act2_tau, cat);
        gr_tensor rows = gr_view_rows(c->tau_bias, (int64_t)cat * steps, steps);
        st = be->ops->linear(be, &tau, &L, GR_ACT_NONE, NULL, &rows);
    }
    if (!st)
        st = be->ops->sync(be);
    free(host);
    be->ops->free(be, &tau);
    return st;
}

void gr_action_constants_free(gr_backend *be, gr_action_constants *c)
{
    gr_dit_constants_free(be, &c->dit);
    be->ops->free(be, &c->tau_bias);
}

/* ---- scratch ---- */

groot_status gr_action_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                     int64_t max_len, gr_action_scratch *s)
{
    const gr_action_config *ac = &cfg->action;
    memset(s, 0, sizeof *s);
    GR_TRY(gr_dit_scratch_alloc(be, cfg, p, max_len, &s->dit));
    if (p->act != GR_F32) {
        GR_TRY(be->ops->alloc(be, &s->vl_act, max_len, ac->backbone_dim, p->act));
        GR_TRY(be->ops->alloc(be, &s->a_act, ac->horizon, ac->action_dim, p->act));
    }
    GR_TRY(be->ops->alloc(be, &s->state_h, 1, ac->hidden, p->act));
    GR_TRY(be->ops->alloc(be, &s->e, ac->horizon, ac->embed, p->act));
    GR_TRY(be->ops->alloc(be, &s->h, ac->horizon, ac->embed, p->act));
    return be->ops->alloc(be, &s->dec_h, ac->horizon, ac->hidden, p->act);
}

void gr_action_scratch_free(gr_backend *be, gr_action_scratch *s)
{
    gr_dit_scratch_free(be, &s->dit);
    be->ops->free(be, &s->vl_act);
    be->ops->free(be, &s->state_h);
    be->ops->free(be, &s->a_act);
    be->ops->free(be, &s->e);
    be->ops->free(be, &s->h);
    be->ops->free(be, &s->dec_h);
}

/* ---- forward ---- */

groot_status gr_state_encoder_forward(gr_backend *be, const gr_action_weights *w, const gr_action_scratch *s,
                                      const gr_tensor *state, int cat, gr_tensor *state_features)
{
    gr_linear l1 = gr_category_select(&w->state1, cat), l2 = gr_category_select(&w->state2, cat);
    gr_tensor h = s->state_h;
    GR_TRY(be->ops->linear(be, state, &l1, GR_ACT_RELU, NULL, &h));
    return be->ops->linear(be, &h, &l2, GR_ACT_NONE, NULL, state_features);
}

groot_status gr_action_encoder_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                       const gr_action_constants *c, const gr_action_scratch *s,
                                       const gr_tensor *actions, int cat, int k, gr_tensor *tokens)
{
    const int steps = c->dit.steps;
    gr_tensor a = *actions, e = s->e, h = s->h;
    if (gr_tensor_present(&s->a_act)) {
        a = s->a_act;
        GR_TRY(be->ops->copy(be, actions, &a));
    }
    gr_linear l1 = gr_category_select(&w->act1, cat), l3 = gr_category_select(&w->act3, cat);
    /* W2 on cat(e, tau) = e @ W2_e + (tau @ W2_tau + b2), the bracket precomputed per step. */
    gr_linear l2 = gr_category_select(&w->act2_e, cat);
    l2.b = gr_view_rows(c->tau_bias, (int64_t)cat * steps + k, 1);
    GR_TRY(be->ops->linear(be, &a, &l1, GR_ACT_NONE, NULL, &e));
    GR_TRY(be->ops->linear(be, &e, &l2, GR_ACT_SILU, NULL, &h));
    GR_TRY(be->ops->linear(be, &h, &l3, GR_ACT_NONE, NULL, tokens));
    if (cfg->action.add_pos_embed)
        GR_TRY(be->ops->add_rows(be, tokens, &w->pos, tokens));
    return GROOT_OK;
}

groot_status gr_action_head_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                    const gr_action_constants *c, const gr_action_scratch *s,
                                    const gr_tensor *vl_embs, const gr_tensor *state_features, int cat,
                                    gr_tensor *actions, gr_tensor *velocities)
{
    const gr_action_config *ac = &cfg->action;
    const int steps = c->dit.steps;
    const int64_t len = vl_embs->rows, F = ac->future_tokens, H = ac->horizon;
    const float dt = (float)(1.0 / steps);
    const gr_dit_scratch *d = &s->dit;

    gr_tensor vl = *vl_embs;
    if (gr_tensor_present(&s->vl_act)) {
        vl = gr_view_rows(s->vl_act, 0, len);
        GR_TRY(be->ops->copy(be, vl_embs, &vl));
    }
    GR_TRY(gr_dit_prepare_cross(be, cfg, w, d, &vl, len));

    gr_tensor state_row = gr_view_rows(d->x, 0, 1), future_rows = gr_view_rows(d->x, 1, F);
    gr_tensor action_rows = gr_view_rows(d->x, 1 + F, H);
    gr_linear dec1 = gr_category_select(&w->dec1, cat), dec2 = gr_category_select(&w->dec2, cat);
    for (int k = 0; k < steps; k++) {
        /* The DiT works in place on its tokens, so the fixed rows are laid down again each step. */
        GR_TRY(be->ops->copy(be, state_features, &state_row));
        GR_TRY(be->ops->copy(be, &w->future_tokens, &future_rows));
        GR_TRY(gr_action_encoder_forward(be, cfg, w, c, s, actions, cat, k, &action_rows));
        GR_TRY(gr_dit_forward(be, cfg, w, &c->dit, d, k, len));
        gr_tensor v = gr_view_rows(*velocities, (int64_t)k * H, H), dh = s->dec_h;
        GR_TRY(be->ops->linear(be, &d->out, &dec1, GR_ACT_RELU, NULL, &dh));
        GR_TRY(be->ops->linear(be, &dh, &dec2, GR_ACT_NONE, NULL, &v));
        GR_TRY(be->ops->axpy(be, dt, &v, actions));
    }
    return GROOT_OK;
}
