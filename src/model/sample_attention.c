#include "model/sample_attention.h"

groot_status gr_sample_attention(gr_backend *be, const gr_tensor *q, const gr_tensor *k, const gr_tensor *v,
                                 int heads, int kv_heads, int head_dim, int causal, float scale, int count,
                                 const gr_batch *b, int64_t q_span, int64_t kv_span, int masked, gr_tensor *out)
{
    if (!b && (q_span <= 0 || kv_span <= 0 || masked))
        return gr_fail(&be->err, GROOT_ERR_INTERNAL, "attention over samples: token rows asked of no batch");
    for (int i0 = 0; i0 < count; i0 += GR_SPANS_MAX) {
        gr_row_spans rs;
        rs.count = count - i0 < GR_SPANS_MAX ? count - i0 : GR_SPANS_MAX;
        for (int j = 0; j < rs.count; j++) {
            const int i = i0 + j;
            rs.q_row[j] = q_span ? i * q_span : b->sample[i].tok0;
            rs.q_rows[j] = q_span ? q_span : b->sample[i].rows;
            rs.kv_row[j] = kv_span ? i * kv_span : b->sample[i].tok0;
            rs.kv_rows[j] = kv_span ? kv_span : b->sample[i].rows;
        }
        gr_tensor valid = masked ? gr_view_cols(b->valid, i0, rs.count) : (gr_tensor){0};
        GR_TRY(be->ops->attention_spans(be, q, k, v, heads, kv_heads, head_dim, causal, scale, &rs,
                                        masked ? &valid : NULL, out));
    }
    return GROOT_OK;
}
