#include "backend/backend.h"

#include "core/env.h"
#include "image/image.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

size_t gr_dtype_size(gr_dtype t)
{
    switch (t) {
    case GR_F32: return 4;
    case GR_BF16: return 2;
    case GR_F16: return 2;
    case GR_I32: return 4;
    case GR_U8: return 1;
    default: return 0;
    }
}

const char *gr_dtype_name(gr_dtype t)
{
    switch (t) {
    case GR_F32: return "F32";
    case GR_BF16: return "BF16";
    case GR_F16: return "F16";
    case GR_I32: return "I32";
    case GR_U8: return "U8";
    default: return "?";
    }
}

groot_status gr_tensor_bytes(gr_backend *be, const char *op, int64_t rows, int64_t cols, gr_dtype dtype,
                             size_t *bytes)
{
    const size_t es = gr_dtype_size(dtype);
    if (es == 0)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: unknown dtype %d", op, (int)dtype);
    if (rows < 0 || cols < 0 || (cols > 0 && (uint64_t)rows > (uint64_t)(SIZE_MAX / es) / (uint64_t)cols))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: bad shape [%lld, %lld]", op, (long long)rows,
                       (long long)cols);
    *bytes = (size_t)rows * (size_t)cols * es;
    return GROOT_OK;
}

gr_tensor gr_tensor_dense(void *data, gr_dtype dtype, int64_t rows, int64_t cols)
{
    gr_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dtype;
    t.rows = rows;
    t.cols = cols;
    t.ld = cols;
    return t;
}

gr_tensor gr_view_rows(gr_tensor t, int64_t row0, int64_t nrows)
{
    assert(row0 >= 0 && nrows >= 0 && row0 + nrows <= t.rows);
    gr_tensor v = t;
    v.data = (char *)t.data + (size_t)(row0 * t.ld) * gr_dtype_size(t.dtype);
    v.rows = nrows;
    return v;
}

gr_tensor gr_view_cols(gr_tensor t, int64_t col0, int64_t ncols)
{
    assert(col0 >= 0 && ncols >= 0 && col0 + ncols <= t.cols);
    gr_tensor v = t;
    v.data = (char *)t.data + (size_t)col0 * gr_dtype_size(t.dtype);
    v.cols = ncols;
    return v;
}

gr_tensor gr_reshape(gr_tensor t, int64_t rows, int64_t cols)
{
    assert(t.ld == t.cols && rows * cols == t.rows * t.cols);
    gr_tensor v = t;
    v.rows = rows;
    v.cols = cols;
    v.ld = cols;
    return v;
}

/* GROOT_SEQ_BUCKET=N (1..GR_SEQ_BUCKET_MAX) replaces the backend's own
 * bucket: 1 gives every prompt length its own recorded call; a bucket on
 * the CPU exercises the padding without a GPU (tests). */
static groot_status seq_bucket_from_env(gr_backend *be, gr_error *err)
{
    long n = be->seq_bucket;
    GR_TRY(gr_env_int("GROOT_SEQ_BUCKET", 1, GR_SEQ_BUCKET_MAX, &n, err));
    be->seq_bucket = (int)n;
    return GROOT_OK;
}

groot_status gr_backend_create(const char *device, int num_threads, gr_backend **out, gr_error *err)
{
    *out = NULL;
    groot_status st;
    if (!device || strcmp(device, "cpu") == 0)
        st = gr_backend_cpu_create(num_threads, out, err);
    else if (strcmp(device, "cuda") == 0)
        st = gr_backend_cuda_create(num_threads, out, err);
    else
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "unknown device '%s' (expected cpu or cuda)", device);
    if (st == GROOT_OK && (st = seq_bucket_from_env(*out, err)) != GROOT_OK) {
        gr_backend_destroy(*out);
        *out = NULL;
    }
    return st;
}

void gr_backend_destroy(gr_backend *be)
{
    if (be)
        be->ops->destroy(be);
}

groot_status gr_row_spans_check(gr_backend *be, const char *op, const gr_tensor *q, const gr_tensor *k,
                                int causal, const gr_row_spans *spans, const gr_tensor *kv_valid)
{
    if (!spans || spans->count < 1 || spans->count > GR_SPANS_MAX)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: %d spans (1..%d)", op, spans ? spans->count : 0,
                       GR_SPANS_MAX);
    for (int i = 0; i < spans->count; i++) {
        const int64_t q0 = spans->q_row[i], qn = spans->q_rows[i], k0 = spans->kv_row[i], kn = spans->kv_rows[i];
        if (q0 < 0 || qn < 0 || q0 > q->rows - qn || k0 < 0 || kn < 1 || k0 > k->rows - kn)
            return gr_fail(&be->err, GROOT_ERR_INVALID_ARG,
                           "%s: span %d (q rows %lld+%lld, kv rows %lld+%lld) outside q [%lld] or k [%lld]", op, i,
                           (long long)q0, (long long)qn, (long long)k0, (long long)kn, (long long)q->rows,
                           (long long)k->rows);
        if (causal && qn != kn)
            return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: span %d is causal with %lld queries, %lld keys",
                           op, i, (long long)qn, (long long)kn);
    }
    if (kv_valid && (kv_valid->dtype != GR_I32 || kv_valid->rows != 1 || kv_valid->cols != spans->count))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: kv_valid is %s [%lld, %lld], expected I32 [1, %d]", op,
                       gr_dtype_name(kv_valid->dtype), (long long)kv_valid->rows, (long long)kv_valid->cols,
                       spans->count);
    return GROOT_OK;
}

groot_status gr_attention_spans_each(gr_backend *be, const gr_tensor *q, const gr_tensor *k, const gr_tensor *v,
                                     int heads, int kv_heads, int head_dim, int causal, float scale,
                                     const gr_row_spans *spans, const gr_tensor *kv_valid, gr_tensor *out)
{
    GR_TRY(gr_row_spans_check(be, "attention_spans", q, k, causal, spans, kv_valid));
    if (v->rows != k->rows || out->rows != q->rows)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG,
                       "attention_spans: v has %lld rows for k's %lld, out %lld for q's %lld", (long long)v->rows,
                       (long long)k->rows, (long long)out->rows, (long long)q->rows);
    for (int i = 0; i < spans->count; i++) {
        if (spans->q_rows[i] == 0)
            continue;
        gr_tensor qi = gr_view_rows(*q, spans->q_row[i], spans->q_rows[i]);
        gr_tensor oi = gr_view_rows(*out, spans->q_row[i], spans->q_rows[i]);
        gr_tensor ki = gr_view_rows(*k, spans->kv_row[i], spans->kv_rows[i]);
        gr_tensor vi = gr_view_rows(*v, spans->kv_row[i], spans->kv_rows[i]);
        gr_tensor valid = kv_valid ? gr_view_cols(*kv_valid, i, 1) : (gr_tensor){0};
        GR_TRY(be->ops->attention(be, &qi, &ki, &vi, heads, kv_heads, head_dim, causal, scale,
                                  kv_valid ? &valid : NULL, &oi));
    }
    return GROOT_OK;
}

groot_status gr_frame_jobs_check(gr_backend *be, const char *op, int n, const gr_frame_job *jobs, int size,
                                 const gr_tensor *pixels)
{
    if (n < 0 || (n > 0 && !jobs))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: %d jobs at %p", op, n, (const void *)jobs);
    if (!gr_image_size_ok(size, size))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: image size %d is outside [1, %d]", op, size,
                       GR_IMAGE_SIDE_MAX);
    const int64_t plane = 3 * (int64_t)size * size;
    if (!pixels || !pixels->data || pixels->dtype != GR_F32 || pixels->cols != plane || pixels->ld < plane)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: pixels must be float32 [V, %lld]", op,
                       (long long)plane);
    for (int i = 0; i < n; i++) {
        const gr_frame_job *j = &jobs[i];
        if (!j->rgb)
            return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: frame %d has no pixels (rgb is NULL)", op, i);
        if (!gr_image_size_ok(j->height, j->width))
            return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: frame %d is %dx%d; expected 1..%d on each side",
                           op, i, j->height, j->width, GR_IMAGE_SIDE_MAX);
        if (!gr_image_window_ok(j->height, j->width, j->top, j->left, j->crop_h, j->crop_w))
            return gr_fail(&be->err, GROOT_ERR_INVALID_ARG,
                           "%s: frame %d: crop window %dx%d at (%d,%d) does not fit its %dx%d image", op, i,
                           j->crop_h, j->crop_w, j->top, j->left, j->height, j->width);
        if (j->row < 0 || j->row >= pixels->rows)
            return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: frame %d goes to row %lld of %lld", op, i,
                           (long long)j->row, (long long)pixels->rows);
    }
    return GROOT_OK;
}
