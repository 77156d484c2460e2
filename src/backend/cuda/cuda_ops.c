/*
 * Host side of the kernel ops: check shapes and dtypes (cheaply, naming
 * the op and operand), then enqueue the launcher on the backend's stream.
 */
#include "backend/cuda/cuda_backend.h"

#include <stdio.h>

#include "backend/cuda/cuda_kernels.h"

static grk_mat mat(const gr_tensor *t)
{
    grk_mat m = {t->data, (int)t->dtype, t->ld};
    return m;
}

static const float *opt_row(gr_backend *be, const char *op, const char *what, const gr_tensor *t,
                            int64_t cols, groot_status *st)
{
    *st = GROOT_OK;
    if (!gr_tensor_present(t))
        return NULL;
    *st = gr_cuda_check(be, op, what, t, GR_F32, 1, cols);
    return (const float *)t->data;
}

/* After an op's launch: records what it writes (out), or reports the
 * failure on its operand t. */
static groot_status launched(gr_backend *be, cudaError_t e, const char *op, const gr_tensor *t,
                             const gr_tensor *out)
{
    gr_cuda_note_output(gr_cuda(be), out);
    if (e == cudaSuccess)
        return GROOT_OK;
    char d[96];
    snprintf(d, sizeof d, "launch on [%lld, %lld] %s", (long long)t->rows, (long long)t->cols,
             gr_dtype_name(t->dtype));
    return gr_cuda_fail(be, e, op, d);
}

static groot_status rownorm(gr_backend *be, const char *op, const gr_tensor *x, int center,
                            const gr_tensor *w, const gr_tensor *b, const gr_tensor *scale,
                            const gr_tensor *shift, float eps, gr_tensor *y)
{
    groot_status st;
    GR_TRY(gr_cuda_check(be, op, "x", x, GR_DTYPE_COUNT, -1, -1));
    GR_TRY(gr_cuda_check(be, op, "y", y, GR_DTYPE_COUNT, x->rows, x->cols));
    const float *wp = opt_row(be, op, "weight", w, x->cols, &st);
    GR_TRY(st);
    const float *bp = opt_row(be, op, "bias", b, x->cols, &st);
    GR_TRY(st);
    const float *sp = opt_row(be, op, "scale", scale, x->cols, &st);
    GR_TRY(st);
    const float *hp = opt_row(be, op, "shift", shift, x->cols, &st);
    GR_TRY(st);
    return launched(be, grk_rownorm(mat(x), mat(y), x->rows, x->cols, center, wp, bp, sp, hp, eps,
                                    gr_cuda_ks(gr_cuda(be))), op, x, y);
}

groot_status gr_cuda_layernorm(gr_backend *be, const gr_tensor *x, const gr_tensor *w,
                               const gr_tensor *b, float eps, gr_tensor *y)
{
    return rownorm(be, "layernorm", x, 1, w, b, NULL, NULL, eps, y);
}

groot_status gr_cuda_rmsnorm(gr_backend *be, const gr_tensor *x, const gr_tensor *w, float eps,
                             gr_tensor *y)
{
    return rownorm(be, "rmsnorm", x, 0, w, NULL, NULL, NULL, eps, y);
}

groot_status gr_cuda_modulate(gr_backend *be, const gr_tensor *x, const gr_tensor *scale,
                              const gr_tensor *shift, float eps, gr_tensor *y)
{
    GR_TRY(gr_cuda_check(be, "modulate", "scale", scale, GR_F32, 1, -1));
    GR_TRY(gr_cuda_check(be, "modulate", "shift", shift, GR_F32, 1, -1));
    return rownorm(be, "modulate", x, 1, NULL, NULL, scale, shift, eps, y);
}

groot_status gr_cuda_qk_norm_rope(gr_backend *be, gr_tensor *x, int heads, int head_dim,
                                  const gr_tensor *w, float eps, const gr_tensor *cos,
                                  const gr_tensor *sin)
{
    const char *op = "qk_norm_rope";
    if (heads <= 0 || head_dim <= 0 || head_dim % 2)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda %s: heads %d, head_dim %d (must be even)",
                       op, heads, head_dim);
    GR_TRY(gr_cuda_check(be, op, "x", x, GR_DTYPE_COUNT, -1, (int64_t)heads * head_dim));
    GR_TRY(gr_cuda_check(be, op, "weight", w, GR_F32, 1, head_dim));
    GR_TRY(gr_cuda_check(be, op, "cos", cos, GR_F32, -1, head_dim / 2));
    GR_TRY(gr_cuda_check(be, op, "sin", sin, GR_F32, -1, head_dim / 2));
    if (cos->rows < x->rows || sin->rows < x->rows || cos->ld != sin->ld)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG,
                       "cuda %s: cos [%lld] / sin [%lld] rows (ld %lld/%lld) for %lld positions", op,
                       (long long)cos->rows, (long long)sin->rows, (long long)cos->ld,
                       (long long)sin->ld, (long long)x->rows);
    return launched(be, grk_qk_norm_rope(mat(x), x->rows, heads, head_dim, (const float *)w->data, eps,
                                         (const float *)cos->data, (const float *)sin->data, cos->ld,
                                         gr_cuda_ks(gr_cuda(be))), op, x, x);
}

/* Every span of one attention call in one launch (grk_attention). */
static groot_status attention_launch(gr_backend *be, const char *op, const gr_tensor *q, const gr_tensor *k,
                                     const gr_tensor *v, int heads, int kv_heads, int head_dim, int causal,
                                     float scale, const gr_row_spans *spans, const gr_tensor *kv_valid,
                                     gr_tensor *out)
{
    if (heads <= 0 || kv_heads <= 0 || heads % kv_heads || head_dim <= 0)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda %s: heads %d, kv_heads %d, head_dim %d",
                       op, heads, kv_heads, head_dim);
    if (head_dim > 128)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda %s: head_dim %d > 128", op, head_dim);
    GR_TRY(gr_cuda_check(be, op, "q", q, GR_DTYPE_COUNT, -1, (int64_t)heads * head_dim));
    GR_TRY(gr_cuda_check(be, op, "k", k, GR_DTYPE_COUNT, -1, (int64_t)kv_heads * head_dim));
    GR_TRY(gr_cuda_check(be, op, "v", v, GR_DTYPE_COUNT, k->rows, (int64_t)kv_heads * head_dim));
    GR_TRY(gr_cuda_check(be, op, "out", out, GR_DTYPE_COUNT, q->rows, (int64_t)heads * head_dim));
    if (q->rows > INT32_MAX || k->rows > INT32_MAX)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda %s: sequence too long", op);
    GR_TRY(gr_row_spans_check(be, op, q, k, causal, spans, kv_valid));
    const int32_t *valid = NULL;
    if (kv_valid) { /* its values are on the device: the kernel checks their range */
        GR_TRY(gr_cuda_check(be, op, "kv_valid", kv_valid, GR_I32, 1, spans->count));
        valid = (const int32_t *)kv_valid->data;
    }
    grk_spans ks;
    ks.count = spans->count;
    for (int i = 0; i < spans->count; i++) {
        ks.q0[i] = (int)spans->q_row[i];
        ks.qn[i] = (int)spans->q_rows[i];
        ks.k0[i] = (int)spans->kv_row[i];
        ks.kn[i] = (int)spans->kv_rows[i];
    }
    gr_cuda_backend *cb = gr_cuda(be);
    const int kv_ready = !gr_cuda_written_by_last(cb, k) && !gr_cuda_written_by_last(cb, v) &&
                         !gr_cuda_written_by_last(cb, kv_valid);
    return launched(be, grk_attention(mat(q), mat(k), mat(v), mat(out), &ks, valid, heads, kv_heads, head_dim,
                                      causal, scale, kv_ready, cb->num_sms, gr_cuda_ks(cb)),
                    op, q, out);
}

groot_status gr_cuda_attention(gr_backend *be, const gr_tensor *q, const gr_tensor *k,
                               const gr_tensor *v, int heads, int kv_heads, int head_dim,
                               int causal, float scale, const gr_tensor *kv_valid, gr_tensor *out)
{
    const char *op = "attention";
    if (causal && q->rows != k->rows)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda %s: causal needs Lq == Lk (got %lld, %lld)",
                       op, (long long)q->rows, (long long)k->rows);
    if (q->rows > 0 && k->rows == 0)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda %s: no keys", op);
    if (q->rows == 0)
        return GROOT_OK;
    gr_row_spans one;
    one.count = 1;
    one.q_row[0] = 0;
    one.q_rows[0] = q->rows;
    one.kv_row[0] = 0;
    one.kv_rows[0] = k->rows;
    return attention_launch(be, op, q, k, v, heads, kv_heads, head_dim, causal, scale, &one, kv_valid, out);
}

groot_status gr_cuda_attention_spans(gr_backend *be, const gr_tensor *q, const gr_tensor *k, const gr_tensor *v,
                                     int heads, int kv_heads, int head_dim, int causal, float scale,
                                     const gr_row_spans *spans, const gr_tensor *kv_valid, gr_tensor *out)
{
    return attention_launch(be, "attention_spans", q, k, v, heads, kv_heads, head_dim, causal, scale, spans,
                            kv_valid, out);
}

groot_status gr_cuda_swiglu(gr_backend *be, const gr_tensor *gate, const gr_tensor *up, gr_tensor *y)
{
    GR_TRY(gr_cuda_check(be, "swiglu", "gate", gate, GR_DTYPE_COUNT, -1, -1));
    GR_TRY(gr_cuda_check(be, "swiglu", "up", up, GR_DTYPE_COUNT, gate->rows, gate->cols));
    GR_TRY(gr_cuda_check(be, "swiglu", "y", y, GR_DTYPE_COUNT, gate->rows, gate->cols));
    return launched(be, grk_swiglu(mat(gate), mat(up), mat(y), gate->rows, gate->cols, gr_cuda_ks(gr_cuda(be))),
                    "swiglu", gate, y);
}

groot_status gr_cuda_activation(gr_backend *be, const gr_tensor *x, gr_act act, gr_tensor *y)
{
    GR_TRY(gr_cuda_check(be, "activation", "x", x, GR_DTYPE_COUNT, -1, -1));
    GR_TRY(gr_cuda_check(be, "activation", "y", y, GR_DTYPE_COUNT, x->rows, x->cols));
    if ((unsigned)act > GR_ACT_SILU)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda activation: unknown activation %d", (int)act);
    grk_mat none = {NULL, 0, 0};
    return launched(be, grk_act_add(mat(x), NULL, (int)act, none, mat(y), x->rows, x->cols,
                                    gr_cuda_ks(gr_cuda(be))), "activation", x, y);
}

groot_status gr_cuda_add_rows(gr_backend *be, const gr_tensor *x, const gr_tensor *rows, gr_tensor *y)
{
    GR_TRY(gr_cuda_check(be, "add_rows", "x", x, GR_DTYPE_COUNT, -1, -1));
    GR_TRY(gr_cuda_check(be, "add_rows", "rows", rows, GR_DTYPE_COUNT, -1, x->cols));
    GR_TRY(gr_cuda_check(be, "add_rows", "y", y, GR_DTYPE_COUNT, x->rows, x->cols));
    if (rows->rows <= 0 && x->rows > 0)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda add_rows: rows is empty");
    return launched(be, grk_add_rows(mat(x), mat(rows), rows->rows, mat(y), x->rows, x->cols,
                                     gr_cuda_ks(gr_cuda(be))), "add_rows", x, y);
}

groot_status gr_cuda_axpy(gr_backend *be, float alpha, const gr_tensor *x, gr_tensor *y)
{
    GR_TRY(gr_cuda_check(be, "axpy", "x", x, GR_DTYPE_COUNT, -1, -1));
    GR_TRY(gr_cuda_check(be, "axpy", "y", y, GR_DTYPE_COUNT, x->rows, x->cols));
    return launched(be, grk_axpy(alpha, mat(x), mat(y), x->rows, x->cols, gr_cuda_ks(gr_cuda(be))), "axpy", x, y);
}

groot_status gr_cuda_copy(gr_backend *be, const gr_tensor *src, gr_tensor *dst)
{
    gr_cuda_backend *cb = gr_cuda(be);
    if (!gr_tensor_present(src) || !gr_tensor_present(dst))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda copy: src or dst missing");
    if (src->rows != dst->rows || src->cols != dst->cols || src->ld < src->cols || dst->ld < dst->cols)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG,
                       "cuda copy: src [%lld, %lld] ld %lld vs dst [%lld, %lld] ld %lld",
                       (long long)src->rows, (long long)src->cols, (long long)src->ld,
                       (long long)dst->rows, (long long)dst->cols, (long long)dst->ld);
    if (src->rows == 0 || src->cols == 0)
        return GROOT_OK;
    /* Same dtype: a memcpy node measured no slower in a graph than a copy
     * kernel, even for the DiT's 32 x 1536 rows. */
    if (src->dtype == dst->dtype) {
        size_t es = gr_dtype_size(src->dtype);
        GR_CUDA_TRY(be, cudaMemcpy2DAsync(dst->data, (size_t)dst->ld * es, src->data, (size_t)src->ld * es,
                                          (size_t)src->cols * es, (size_t)src->rows,
                                          cudaMemcpyDeviceToDevice, cb->stream),
                    "copy", gr_dtype_name(src->dtype));
        return GROOT_OK;
    }
    if (!gr_cuda_is_float(src->dtype) || !gr_cuda_is_float(dst->dtype))
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda copy: %s to %s", gr_dtype_name(src->dtype),
                       gr_dtype_name(dst->dtype));
    return launched(be, grk_copy(mat(src), mat(dst), src->rows, src->cols, gr_cuda_ks(cb)), "copy", src, dst);
}

groot_status gr_cuda_embed(gr_backend *be, const gr_tensor *ids, const gr_tensor *table,
                           int image_token_id, const gr_tensor *images, gr_tensor *y)
{
    GR_TRY(gr_cuda_check(be, "embed", "ids", ids, GR_I32, 1, -1));
    GR_TRY(gr_cuda_check(be, "embed", "table", table, GR_DTYPE_COUNT, -1, -1));
    GR_TRY(gr_cuda_check(be, "embed", "y", y, GR_DTYPE_COUNT, ids->cols, table->cols));
    grk_mat im = {NULL, 0, 0};
    if (gr_tensor_present(images)) {
        GR_TRY(gr_cuda_check(be, "embed", "images", images, GR_DTYPE_COUNT, -1, table->cols));
        im = mat(images);
    } else {
        image_token_id = -1; /* ids are >= 0: no row takes the image path */
    }
    return launched(be, grk_embed((const int32_t *)ids->data, ids->cols, mat(table), image_token_id, im,
                                  mat(y), table->cols, gr_cuda_ks(gr_cuda(be))), "embed", y, y);
}

groot_status gr_cuda_patchify(gr_backend *be, const gr_tensor *pixels, int channels, int height,
                              int width, int patch, gr_tensor *y)
{
    if (channels <= 0 || height <= 0 || width <= 0 || patch <= 0 || height % patch || width % patch)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda patchify: C=%d H=%d W=%d patch %d", channels,
                       height, width, patch);
    GR_TRY(gr_cuda_check(be, "patchify", "pixels", pixels, GR_F32, -1, (int64_t)channels * height * width));
    int64_t per = (int64_t)(height / patch) * (width / patch);
    GR_TRY(gr_cuda_check(be, "patchify", "y", y, GR_DTYPE_COUNT, pixels->rows * per,
                         (int64_t)channels * patch * patch));
    return launched(be, grk_patchify((const float *)pixels->data, pixels->ld, pixels->rows, channels, height,
                                     width, patch, mat(y), gr_cuda_ks(gr_cuda(be))), "patchify", y, y);
}

/* At most this much of a weight is asked for. Measured on an H100 (bf16
 * DiT step, same run): 2-4 MB took it from 0.637 to 0.607 ms; 8 MB gave
 * 0.622 and 24 MB 0.652, as the prefetch then still streams when the GEMM
 * starts and competes with its loads. */
#define PREFETCH_MAX_BYTES (4u << 20)

/* Only where the op that takes the prefetch launches as a programmatic
 * dependent (the last GEMM ran on gemm_tma.cu), i.e. starts while the GEMM
 * before it drains, is DRAM idle long enough to pay: among cuBLASLt's
 * kernels the backbone measured 1-6% slower with it. */
groot_status gr_cuda_prefetch(gr_backend *be, const gr_tensor *t)
{
    gr_cuda_backend *cb = gr_cuda(be);
    gr_cuda_take_prefetch(cb); /* a newer hint replaces one not yet taken */
    if (!cb->l2_prefetch || !cb->pdl_chain || !gr_tensor_present(t) || (uintptr_t)t->data % 16)
        return GROOT_OK;
    size_t bytes = gr_cuda_span_bytes(t);
    if (bytes > PREFETCH_MAX_BYTES)
        bytes = PREFETCH_MAX_BYTES;
    cb->pf_next.p = t->data;
    cb->pf_next.bytes = bytes & ~(size_t)15; /* the instruction takes multiples of 16 */
    return GROOT_OK;
}
