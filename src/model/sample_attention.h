/*
 * Attention over the samples of a batch stacked in rows, each sample
 * attending to its own rows only (SPEC's batching rule), as one
 * attention_spans call per GR_SPANS_MAX samples: on the GPU one launch per
 * layer whatever the batch size.
 */
#ifndef GR_MODEL_SAMPLE_ATTENTION_H
#define GR_MODEL_SAMPLE_ATTENTION_H

#include "model/batch.h"

/* Sample i's queries are rows [i*q_span, (i+1)*q_span) of q and out, or
 * with q_span 0 its token rows in b (tok0, rows); its keys and values
 * likewise with kv_span. masked: b->valid column i counts sample i's real
 * keys (a padded sequence's). b may be NULL when both spans are fixed. */
groot_status gr_sample_attention(gr_backend *be, const gr_tensor *q, const gr_tensor *k, const gr_tensor *v,
                                 int heads, int kv_heads, int head_dim, int causal, float scale, int count,
                                 const gr_batch *b, int64_t q_span, int64_t kv_span, int masked, gr_tensor *out);

#endif
