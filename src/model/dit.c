/*
 * DiT blocks and their load-time constants.
 */
#include "model/dit.h"

#include "model/sample_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LayerNorm epsilons fixed by the architecture (GR00T's DiT). */
#define DIT_BLOCK_EPS 1e-5f
#define DIT_OUT_EPS 1e-6f

float gr_dit_timestep(int k, int n, int buckets)
{
    /* Python: int(k / float(n) * buckets), in double. */
    return (float)(int)((double)k / (double)n * (double)buckets);
}

void gr_dit_timestep_sinusoid(float t, float *emb)
{
    const int half = GR_DIT_TIMESTEP_CHANNELS / 2;
    const float neg_log_period = (float)-log(10000.0);
    for (int i = 0; i < half; i++) {
        float expo = neg_log_period * (float)i / (float)(half - 1);
        float arg = t * expf(expo);
        emb[i] = cosf(arg); /* flip_sin_to_cos: cos first */
        emb[half + i] = sinf(arg);
    }
}

int64_t gr_dit_tokens(const gr_model_config *cfg)
{
    return 1 + (int64_t)cfg->action.future_tokens + cfg->action.horizon;
}

groot_status gr_dit_precompute(gr_backend *be, const gr_model_config *cfg, const gr_precision *p, int steps,
                               const gr_action_weights *w, gr_dit_constants *c)
{
    const gr_action_config *ac = &cfg->action;
    const int64_t E = ac->embed, CH = GR_DIT_TIMESTEP_CHANNELS;
    memset(c, 0, sizeof *c);
    c->steps = steps;
    GR_TRY(be->ops->alloc(be, &c->block_mod, (int64_t)ac->dit.layers * steps, 2 * E, GR_F32));
    GR_TRY(be->ops->alloc(be, &c->out_mod, steps, 2 * E, GR_F32));

    float *host = malloc((size_t)(steps * CH) * sizeof(float));
    if (!host)
        return gr_fail(&be->err, GROOT_ERR_NOMEM, "DiT timestep embeddings for %d steps", steps);
    for (int k = 0; k < steps; k++)
        gr_dit_timestep_sinusoid(gr_dit_timestep(k, steps, ac->timestep_buckets), host + k * CH);

    gr_tensor sinus = {0}, t1 = {0}, temb = {0};
    groot_status st = be->ops->alloc(be, &sinus, steps, CH, p->act);
    if (!st)
        st = be->ops->alloc(be, &t1, steps, E, p->act);
    if (!st)
        st = be->ops->alloc(be, &temb, steps, E, p->act);
    if (!st)
        st = be->ops->upload(be, &sinus, host, GR_F32);
    if (!st)
        st = be->ops->linear(be, &sinus, &w->temb1, GR_ACT_SILU, NULL, &t1);
    if (!st)
        st = be->ops->linear(be, &t1, &w->temb2, GR_ACT_NONE, NULL, &temb);
    /* Every consumer of temb (each block's norm1.linear, proj_out_1) takes silu(temb). */
    if (!st)
        st = be->ops->activation(be, &temb, GR_ACT_SILU, &temb);
    for (int i = 0; i < ac->dit.layers && !st; i++) {
        gr_tensor rows = gr_view_rows(c->block_mod, (int64_t)i * steps, steps);
        st = be->ops->linear(be, &temb, &w->blocks[i].ada, GR_ACT_NONE, NULL, &rows);
    }
    if (!st)
        st = be->ops->linear(be, &temb, &w->proj_out_1, GR_ACT_NONE, NULL, &c->out_mod);
    if (!st)
        st = be->ops->sync(be);
    free(host);
    be->ops->free(be, &sinus);
    be->ops->free(be, &t1);
    be->ops->free(be, &temb);
    return st;
}

void gr_dit_constants_free(gr_backend *be, gr_dit_constants *c)
{
    be->ops->free(be, &c->block_mod);
    be->ops->free(be, &c->out_mod);
}

groot_status gr_dit_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                  int64_t max_tokens, int64_t max_batch, gr_dit_scratch *s)
{
    const gr_action_config *ac = &cfg->action;
    const int64_t R = max_batch * gr_dit_tokens(cfg), E = ac->embed;
    const int64_t inner = (int64_t)ac->dit.heads * ac->dit.head_dim;
    const int nc = gr_dit_cross_blocks(cfg);
    memset(s, 0, sizeof *s);
    s->cap_batch = max_batch;
    s->cap_tokens = max_tokens;
    GR_TRY(be->ops->alloc(be, &s->x, R, E, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->y, R, E, p->act));
    GR_TRY(be->ops->alloc(be, &s->q, R, inner, p->act));
    GR_TRY(be->ops->alloc(be, &s->qkv, R, 3 * inner, p->act));
    GR_TRY(be->ops->alloc(be, &s->attn, R, inner, p->act));
    GR_TRY(be->ops->alloc(be, &s->ff, R, GR_FF_MULT * E, p->act));
    GR_TRY(be->ops->alloc(be, &s->out, max_batch * ac->horizon, ac->dit_output_dim, p->act));
    return be->ops->alloc(be, &s->kv, max_tokens, (nc > 0 ? nc : 1) * 2 * inner, p->act);
}

void gr_dit_scratch_free(gr_backend *be, gr_dit_scratch *s)
{
    be->ops->free(be, &s->x);
    be->ops->free(be, &s->y);
    be->ops->free(be, &s->q);
    be->ops->free(be, &s->qkv);
    be->ops->free(be, &s->attn);
    be->ops->free(be, &s->ff);
    be->ops->free(be, &s->out);
    be->ops->free(be, &s->kv);
    s->cap_batch = s->cap_tokens = 0;
}

groot_status gr_dit_prepare_cross(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                                  const gr_dit_scratch *s, const gr_batch *b, const gr_tensor *vl)
{
    if (b->tokens > s->cap_tokens || b->count > s->cap_batch)
        return gr_fail(&be->err, GROOT_ERR_INTERNAL, "DiT: %d samples, %lld vl rows exceed the planned %lld, %lld",
                       b->count, (long long)b->tokens, (long long)s->cap_batch, (long long)s->cap_tokens);
    if (gr_dit_cross_blocks(cfg) == 0)
        return GROOT_OK;
    gr_tensor kv = gr_view_rows(s->kv, 0, b->tokens);
    return be->ops->linear(be, vl, &w->cross_kv, GR_ACT_NONE, NULL, &kv);
}

groot_status dit_block_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                               const gr_dit_constants *c, const gr_dit_scratch *s, const gr_batch *b, int i, int k,
                               const gr_tensor *x_in)
{
    const gr_action_config *ac = &cfg->action;
    const gr_dit_block_weights *bw = &w->blocks[i];
    const int64_t E = ac->embed, inner = (int64_t)ac->dit.heads * ac->dit.head_dim;
    const int64_t S = gr_dit_tokens(cfg), R = b->count * S;
    const float scale = 1.0f / sqrtf((float)ac->dit.head_dim);
    const int heads = ac->dit.heads, hd = ac->dit.head_dim;
    /* The step alone sets scale/shift, so one row serves every sample. */
    gr_tensor mod = gr_view_rows(c->block_mod, (int64_t)i * c->steps + k, 1);
    gr_tensor mod_scale = gr_view_cols(mod, 0, E), mod_shift = gr_view_cols(mod, E, E);
    gr_tensor x = gr_view_rows(s->x, 0, R), y = gr_view_rows(s->y, 0, R);
    gr_tensor attn = gr_view_rows(s->attn, 0, R), ff = gr_view_rows(s->ff, 0, R);

    /* Each weight is asked for one op ahead (prefetch): the norm, attention
     * or GEMM in between fetches it where DRAM would otherwise idle. */
    GR_TRY(be->ops->prefetch(be, bw->cross ? &bw->q.w : &bw->qkv.w));
    GR_TRY(be->ops->modulate(be, x_in, &mod_scale, &mod_shift, DIT_BLOCK_EPS, &y));
    if (bw->cross) {
        gr_tensor q = gr_view_rows(s->q, 0, R);
        gr_tensor kv = gr_view_cols(gr_view_rows(s->kv, 0, b->tokens), gr_dit_cross_index(cfg, i) * 2 * inner,
                                    2 * inner);
        GR_TRY(be->ops->linear(be, &y, &bw->q, GR_ACT_NONE, NULL, &q));
        GR_TRY(be->ops->prefetch(be, &bw->out.w));
        /* Sample j's S tokens attend to its own vl rows (their real count in valid). */
        gr_tensor key = gr_view_cols(kv, 0, inner), val = gr_view_cols(kv, inner, inner);
        GR_TRY(gr_sample_attention(be, &q, &key, &val, heads, heads, hd, 0, scale, b->count, b, S, 0, 1, &attn));
    } else {
        gr_tensor qkv = gr_view_rows(s->qkv, 0, R);
        GR_TRY(be->ops->linear(be, &y, &bw->qkv, GR_ACT_NONE, NULL, &qkv));
        GR_TRY(be->ops->prefetch(be, &bw->out.w));
        gr_tensor q = gr_view_cols(qkv, 0, inner), key = gr_view_cols(qkv, inner, inner);
        gr_tensor val = gr_view_cols(qkv, 2 * inner, inner);
        GR_TRY(gr_sample_attention(be, &q, &key, &val, heads, heads, hd, 0, scale, b->count, b, S, S, 0, &attn));
    }
    GR_TRY(be->ops->linear(be, &attn, &bw->out, GR_ACT_NONE, x_in, &x));
    GR_TRY(be->ops->prefetch(be, &bw->ff1.w));
    GR_TRY(be->ops->layernorm(be, &x, NULL, NULL, DIT_BLOCK_EPS, &y));
    GR_TRY(be->ops->prefetch(be, &bw->ff2.w));
    GR_TRY(be->ops->linear(be, &y, &bw->ff1, GR_ACT_GELU_TANH, NULL, &ff));
    return be->ops->linear(be, &ff, &bw->ff2, GR_ACT_NONE, &x, &x);
}

groot_status gr_dit_forward(gr_backend *be, const gr_model_config *cfg, const gr_action_weights *w,
                            const gr_dit_constants *c, const gr_dit_scratch *s, const gr_batch *b, int k,
                            const gr_tensor *x_in)
{
    const gr_action_config *ac = &cfg->action;
    const int64_t E = ac->embed, S = gr_dit_tokens(cfg), H = ac->horizon;
    if (b->count > s->cap_batch)
        return gr_fail(&be->err, GROOT_ERR_INTERNAL, "DiT: %d samples exceed the planned %lld", b->count,
                       (long long)s->cap_batch);
    if (x_in->rows != b->count * S || x_in->cols != E)
        return gr_fail(&be->err, GROOT_ERR_INTERNAL, "DiT: input tokens [%lld, %lld], expected [%lld, %lld]",
                       (long long)x_in->rows, (long long)x_in->cols, (long long)(b->count * S), (long long)E);
    const gr_tensor x = gr_view_rows(s->x, 0, b->count * S);
    for (int i = 0; i < ac->dit.layers; i++) {
        groot_status st = dit_block_forward(be, cfg, w, c, s, b, i, k, i == 0 ? x_in : &x);
        if (st) {
            gr_error_prefix(&be->err, "DiT block %d", i);
            return st;
        }
    }
    /* Only the action tokens reach the decoder, and everything from here on
     * is per row: each sample's are gathered into y so that one GEMM serves all. */
    gr_tensor mod = gr_view_rows(c->out_mod, k, 1);
    gr_tensor shift = gr_view_cols(mod, 0, E), scale = gr_view_cols(mod, E, E);
    for (int j = 0; j < b->count; j++) {
        gr_tensor x = gr_view_rows(s->x, j * S + S - H, H), y = gr_view_rows(s->y, j * H, H);
        GR_TRY(be->ops->modulate(be, &x, &scale, &shift, DIT_OUT_EPS, &y));
    }
    gr_tensor y = gr_view_rows(s->y, 0, b->count * H), out = gr_view_rows(s->out, 0, b->count * H);
    return be->ops->linear(be, &y, &w->proj_out_2, GR_ACT_NONE, NULL, &out);
}
