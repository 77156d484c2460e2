#include "backend/backend.h"

#include "core/env.h"

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
