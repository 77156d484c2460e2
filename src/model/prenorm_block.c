#include "model/prenorm_block.h"

#include "model/sample_attention.h"

#include <math.h>
#include <stdio.h>

#include "model/weights_loader.h"

/* The patterns are the caller's constants with exactly one %d. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

groot_status gr_load_prenorm_block(gr_loader *ld, const gr_precision *p, const gr_prenorm_block_names *n, int i,
                                   int64_t dim, int64_t inner, int64_t ff_dim, gr_prenorm_block_weights *b)
{
    char w[3][GR_NAME_MAX], bias[3][GR_NAME_MAX];
    const char *vec_pat[4] = {n->ln1_w, n->ln1_b, n->ln2_w, n->ln2_b};
    gr_tensor *vec[4] = {&b->ln1_w, &b->ln1_b, &b->ln2_w, &b->ln2_b};
    for (int k = 0; k < 4; k++) {
        snprintf(w[0], sizeof w[0], vec_pat[k], i);
        GR_TRY(gr_load_vector(ld, vec[k], w[0], dim));
    }

    const char *wp[3] = {n->q_w, n->k_w, n->v_w}, *bp[3] = {n->q_b, n->k_b, n->v_b};
    const char *wn[3], *bn[3];
    for (int k = 0; k < 3; k++) {
        snprintf(w[k], sizeof w[k], wp[k], i);
        snprintf(bias[k], sizeof bias[k], bp[k], i);
        wn[k] = w[k];
        bn[k] = bias[k];
    }
    const int64_t outs[3] = {inner, inner, inner};
    GR_TRY(gr_load_linear_parts(ld, &b->qkv, p, 3, wn, bn, outs, dim));

    const struct { const char *w, *b; gr_linear *L; int64_t out, in; } lin[3] = {
        {n->out_w, n->out_b, &b->out, dim, inner},
        {n->ff1_w, n->ff1_b, &b->ff1, ff_dim, dim},
        {n->ff2_w, n->ff2_b, &b->ff2, dim, ff_dim},
    };
    for (int k = 0; k < 3; k++) {
        snprintf(w[0], sizeof w[0], lin[k].w, i);
        snprintf(bias[0], sizeof bias[0], lin[k].b, i);
        GR_TRY(gr_load_linear(ld, lin[k].L, p, w[0], bias[0], lin[k].out, lin[k].in));
    }
    return GROOT_OK;
}

void gr_prenorm_block_free(gr_backend *be, gr_prenorm_block_weights *b)
{
    be->ops->free(be, &b->ln1_w);
    be->ops->free(be, &b->ln1_b);
    be->ops->free(be, &b->ln2_w);
    be->ops->free(be, &b->ln2_b);
    gr_linear *lin[4] = {&b->qkv, &b->out, &b->ff1, &b->ff2};
    for (int k = 0; k < 4; k++) {
        be->ops->free(be, &lin[k]->w);
        be->ops->free(be, &lin[k]->b);
    }
}

groot_status gr_prenorm_block_forward(gr_backend *be, const gr_prenorm_block_weights *w, float eps, int heads,
                                      int head_dim, const gr_attention_spans *spans,
                                      const gr_prenorm_block_scratch *s, gr_tensor *x)
{
    const int64_t inner = (int64_t)heads * head_dim;
    const float scale = 1.0f / sqrtf((float)head_dim);
    gr_tensor h = s->h, qkv = s->qkv, attn = s->attn, ff = s->ff;

    /* Each weight is asked for one op ahead (prefetch: while the norm or
     * attention runs, DRAM would otherwise idle). */
    GR_TRY(be->ops->prefetch(be, &w->qkv.w));
    GR_TRY(be->ops->layernorm(be, x, &w->ln1_w, &w->ln1_b, eps, &h));
    GR_TRY(be->ops->linear(be, &h, &w->qkv, GR_ACT_NONE, NULL, &qkv));
    GR_TRY(be->ops->prefetch(be, &w->out.w));
    /* Every sample (or image) attends to its own rows; a sample's padding
     * rows are keys of no real token. */
    gr_tensor q = gr_view_cols(qkv, 0, inner), k = gr_view_cols(qkv, inner, inner);
    gr_tensor v = gr_view_cols(qkv, 2 * inner, inner);
    const int64_t span = spans->batch ? 0 : spans->span;
    GR_TRY(gr_sample_attention(be, &q, &k, &v, heads, heads, head_dim, 0, scale, spans->count, spans->batch, span,
                               span, spans->batch != NULL, &attn));
    GR_TRY(be->ops->linear(be, &attn, &w->out, GR_ACT_NONE, x, x));
    GR_TRY(be->ops->prefetch(be, &w->ff1.w));
    GR_TRY(be->ops->layernorm(be, x, &w->ln2_w, &w->ln2_b, eps, &h));
    GR_TRY(be->ops->linear(be, &h, &w->ff1, GR_ACT_GELU_TANH, NULL, &ff));
    return be->ops->linear(be, &ff, &w->ff2, GR_ACT_NONE, x, x);
}
