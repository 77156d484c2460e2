/*
 * Qwen3 decoder layers: pre-RMSNorm, fused q/k/v, per-head q/k RMSNorm +
 * RoPE, causal GQA attention, o_proj, SwiGLU MLP (fused gate/up).
 */
#include "model/language.h"

#include "model/sample_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gr_rope_tables(const gr_text_config *tc, int64_t len, float *cos_out, float *sin_out)
{
    const int half = tc->head_dim / 2;
    const float base = (float)tc->rope_theta;
    for (int i = 0; i < half; i++) {
        /* float32 throughout, as the reference: (arange(0, D, 2).float() / D), base ** that, 1 / that. */
        float expo = (float)(2 * i) / (float)tc->head_dim;
        float inv_freq = 1.0f / powf(base, expo);
        for (int64_t pos = 0; pos < len; pos++) {
            float angle = (float)pos * inv_freq;
            cos_out[pos * half + i] = cosf(angle);
            sin_out[pos * half + i] = sinf(angle);
        }
    }
}

groot_status gr_text_scratch_alloc(gr_backend *be, const gr_model_config *cfg, const gr_precision *p,
                                   int64_t max_tokens, int64_t max_len, gr_text_scratch *s)
{
    const gr_text_config *tc = &cfg->text;
    const int64_t T = max_tokens, L = max_len, H = tc->hidden, Dh = tc->head_dim, F = tc->intermediate;
    memset(s, 0, sizeof *s);
    s->cap_tokens = T;
    s->cap_len = L;
    GR_TRY(be->ops->alloc(be, &s->x, T, H, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->h, T, H, p->act));
    GR_TRY(be->ops->alloc(be, &s->qkv, T, (tc->heads + 2 * (int64_t)tc->kv_heads) * Dh, p->act));
    GR_TRY(be->ops->alloc(be, &s->attn, T, tc->heads * Dh, p->act));
    GR_TRY(be->ops->alloc(be, &s->gate_up, T, 2 * F, p->act));
    GR_TRY(be->ops->alloc(be, &s->ff, T, F, p->act));
    GR_TRY(be->ops->alloc(be, &s->cos, L, Dh / 2, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->sin, L, Dh / 2, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->pos_cos, T, Dh / 2, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->pos_sin, T, Dh / 2, GR_F32));

    float *host = malloc((size_t)(L * Dh) * sizeof(float));
    if (!host)
        return gr_fail(&be->err, GROOT_ERR_NOMEM, "RoPE tables for %lld positions", (long long)L);
    gr_rope_tables(tc, L, host, host + L * (Dh / 2));
    groot_status st = be->ops->upload(be, &s->cos, host, GR_F32);
    if (st == GROOT_OK)
        st = be->ops->upload(be, &s->sin, host + L * (Dh / 2), GR_F32);
    /* upload may be asynchronous but lets the source go as soon as it returns. */
    free(host);
    return st;
}

void gr_text_scratch_free(gr_backend *be, gr_text_scratch *s)
{
    be->ops->free(be, &s->x);
    be->ops->free(be, &s->h);
    be->ops->free(be, &s->qkv);
    be->ops->free(be, &s->attn);
    be->ops->free(be, &s->gate_up);
    be->ops->free(be, &s->ff);
    be->ops->free(be, &s->cos);
    be->ops->free(be, &s->sin);
    be->ops->free(be, &s->pos_cos);
    be->ops->free(be, &s->pos_sin);
    s->cap_tokens = s->cap_len = 0;
}

groot_status qwen3_layer_forward(gr_backend *be, const gr_model_config *cfg, const gr_text_layer_weights *l,
                                 const gr_text_scratch *s, const gr_batch *b)
{
    const gr_text_config *tc = &cfg->text;
    const int64_t T = b->tokens, Dh = tc->head_dim, F = tc->intermediate;
    const int64_t qw = tc->heads * Dh, kvw = tc->kv_heads * Dh;
    const float scale = 1.0f / sqrtf((float)Dh);
    gr_tensor x = gr_view_rows(s->x, 0, T), h = gr_view_rows(s->h, 0, T);
    gr_tensor qkv = gr_view_rows(s->qkv, 0, T), attn = gr_view_rows(s->attn, 0, T);
    gr_tensor gu = gr_view_rows(s->gate_up, 0, T), ff = gr_view_rows(s->ff, 0, T);
    gr_tensor cos = gr_view_rows(b->count == 1 ? s->cos : s->pos_cos, 0, T);
    gr_tensor sin = gr_view_rows(b->count == 1 ? s->sin : s->pos_sin, 0, T);
    gr_tensor q = gr_view_cols(qkv, 0, qw), k = gr_view_cols(qkv, qw, kvw), v = gr_view_cols(qkv, qw + kvw, kvw);

    /* Each weight is asked for ahead of its GEMM (prefetch), while the
     * norms, RoPE, attention and SwiGLU leave DRAM idle. */
    GR_TRY(be->ops->prefetch(be, &l->qkv.w));
    GR_TRY(be->ops->rmsnorm(be, &x, &l->in_norm, tc->rms_eps, &h));
    GR_TRY(be->ops->linear(be, &h, &l->qkv, GR_ACT_NONE, NULL, &qkv));
    GR_TRY(be->ops->prefetch(be, &l->o.w));
    GR_TRY(be->ops->qk_norm_rope(be, &q, tc->heads, tc->head_dim, &l->q_norm, tc->rms_eps, &cos, &sin));
    GR_TRY(be->ops->qk_norm_rope(be, &k, tc->kv_heads, tc->head_dim, &l->k_norm, tc->rms_eps, &cos, &sin));
    /* Each sample attends to its own rows (causal: padding rows come last,
     * so no real token sees them). */
    GR_TRY(gr_sample_attention(be, &q, &k, &v, tc->heads, tc->kv_heads, tc->head_dim, 1, scale, b->count, b, 0, 0,
                               0, &attn));
    GR_TRY(be->ops->linear(be, &attn, &l->o, GR_ACT_NONE, &x, &x));

    GR_TRY(be->ops->prefetch(be, &l->gate_up.w));
    GR_TRY(be->ops->rmsnorm(be, &x, &l->post_norm, tc->rms_eps, &h));
    GR_TRY(be->ops->linear(be, &h, &l->gate_up, GR_ACT_NONE, NULL, &gu));
    gr_tensor gate = gr_view_cols(gu, 0, F), up = gr_view_cols(gu, F, F);
    GR_TRY(be->ops->prefetch(be, &l->down.w));
    GR_TRY(be->ops->swiglu(be, &gate, &up, &ff));
    return be->ops->linear(be, &ff, &l->down, GR_ACT_NONE, &x, &x);
}

/* Each sample's embedding rows, with its own images, and (in a batch) its
 * rows of the stacked position tables: positions restart at 0 per sample. */
static groot_status embed_samples(gr_backend *be, const gr_model_config *cfg, const gr_text_weights *w,
                                  const gr_text_scratch *s, const gr_batch *b, const gr_tensor *ids,
                                  const gr_tensor *vit_embeds)
{
    const int64_t T = cfg->tokens_per_image;
    for (int i = 0; i < b->count; i++) {
        const gr_batch_sample *bs = &b->sample[i];
        gr_tensor id = gr_view_cols(*ids, bs->tok0, bs->rows);
        gr_tensor img = gr_view_rows(*vit_embeds, bs->view0 * T, bs->views * T);
        gr_tensor x = gr_view_rows(s->x, bs->tok0, bs->rows);
        GR_TRY(be->ops->embed(be, &id, &w->embed, cfg->image_token_id, &img, &x));
        if (b->count == 1)
            continue;
        gr_tensor cos = gr_view_rows(s->cos, 0, bs->rows), sin = gr_view_rows(s->sin, 0, bs->rows);
        gr_tensor pc = gr_view_rows(s->pos_cos, bs->tok0, bs->rows), ps = gr_view_rows(s->pos_sin, bs->tok0, bs->rows);
        GR_TRY(be->ops->copy(be, &cos, &pc));
        GR_TRY(be->ops->copy(be, &sin, &ps));
    }
    return GROOT_OK;
}

groot_status gr_language_forward(gr_backend *be, const gr_model_config *cfg, const gr_text_weights *w,
                                 const gr_text_scratch *s, const gr_batch *b, const gr_tensor *ids,
                                 const gr_tensor *vit_embeds, gr_tensor *backbone_features)
{
    const gr_text_config *tc = &cfg->text;
    if (b->tokens > s->cap_tokens || b->max_rows > s->cap_len)
        return gr_fail(&be->err, GROOT_ERR_INTERNAL,
                       "language: %lld tokens (%lld in one sample) exceed the planned %lld (%lld)",
                       (long long)b->tokens, (long long)b->max_rows, (long long)s->cap_tokens,
                       (long long)s->cap_len);
    GR_TRY(embed_samples(be, cfg, w, s, b, ids, vit_embeds));
    gr_tensor x = gr_view_rows(s->x, 0, b->tokens);
    for (int i = 0; i < tc->layers; i++) {
        groot_status st = qwen3_layer_forward(be, cfg, &w->layers[i], s, b);
        if (st) {
            gr_error_prefix(&be->err, "language layer %d", i);
            return st;
        }
    }
    return be->ops->rmsnorm(be, &x, &w->norm, tc->rms_eps, backbone_features);
}
