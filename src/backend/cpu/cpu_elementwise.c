/*
 * Elementwise and data-movement ops on the CPU: activations, swiglu,
 * broadcast row adds, axpy, dtype-converting copies, token embedding and
 * patch extraction. Row-parallel over this backend's OpenMP team when big
 * enough to pay for the fork (gr_cpu_team).
 */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_backend.h"

float gr_cpu_act1(gr_act act, float x)
{
    switch (act) {
    case GR_ACT_GELU_TANH: {
        /* PyTorch's gelu(approximate="tanh") in float32, same association. */
        const float k0 = 0.7978845608028654f, k1 = 0.044715f;
        float inner = k0 * (x + k1 * x * x * x);
        return 0.5f * x * (1.0f + tanhf(inner));
    }
    case GR_ACT_RELU:
        return x > 0.0f ? x : 0.0f;
    case GR_ACT_SILU:
        return x / (1.0f + expf(-x));
    case GR_ACT_NONE:
    default:
        return x;
    }
}

int gr_cpu_act_valid(gr_act act)
{
    return act == GR_ACT_NONE || act == GR_ACT_GELU_TANH || act == GR_ACT_RELU || act == GR_ACT_SILU;
}

groot_status gr_cpu_activation(gr_backend *be, const gr_tensor *x, gr_act act, gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_cpu_check(be, "activation", "x", x, GR_F32, -1, -1));
    GR_TRY(gr_cpu_check(be, "activation", "y", y, GR_F32, x->rows, x->cols));
    if (!gr_cpu_act_valid(act))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "activation: unknown activation %d", (int)act);
    const int64_t rows = x->rows, n = x->cols;
    const int team = gr_cpu_team(cb, (double)rows * (double)n * (0.25 + gr_cpu_act_cost(act)));
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * x->ld;
        float *yr = (float *)y->data + r * y->ld;
        for (int64_t j = 0; j < n; j++)
            yr[j] = gr_cpu_act1(act, xr[j]);
    }
    return GROOT_OK;
}

groot_status gr_cpu_swiglu(gr_backend *be, const gr_tensor *gate, const gr_tensor *up, gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_cpu_check(be, "swiglu", "gate", gate, GR_F32, -1, -1));
    GR_TRY(gr_cpu_check(be, "swiglu", "up", up, GR_F32, gate->rows, gate->cols));
    GR_TRY(gr_cpu_check(be, "swiglu", "y", y, GR_F32, gate->rows, gate->cols));
    const int64_t rows = gate->rows, n = gate->cols;
    const int team = gr_cpu_team(cb, (double)rows * (double)n * (0.25 + gr_cpu_act_cost(GR_ACT_SILU)));
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *g = (const float *)gate->data + r * gate->ld;
        const float *u = (const float *)up->data + r * up->ld;
        float *yr = (float *)y->data + r * y->ld;
        for (int64_t j = 0; j < n; j++)
            yr[j] = gr_cpu_act1(GR_ACT_SILU, g[j]) * u[j];
    }
    return GROOT_OK;
}

groot_status gr_cpu_add_rows(gr_backend *be, const gr_tensor *x, const gr_tensor *rows, gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_cpu_check(be, "add_rows", "x", x, GR_F32, -1, -1));
    GR_TRY(gr_cpu_check(be, "add_rows", "rows", rows, GR_F32, -1, x->cols));
    GR_TRY(gr_cpu_check(be, "add_rows", "y", y, GR_F32, x->rows, x->cols));
    if (rows->rows == 0 && x->rows > 0)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "add_rows: rows tensor is empty");
    const int64_t nr = x->rows, n = x->cols;
    const int team = gr_cpu_team(cb, (double)nr * (double)n * 0.25);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < nr; r++) {
        const float *xr = (const float *)x->data + r * x->ld;
        const float *ar = (const float *)rows->data + (r % rows->rows) * rows->ld;
        float *yr = (float *)y->data + r * y->ld;
        for (int64_t j = 0; j < n; j++)
            yr[j] = xr[j] + ar[j];
    }
    return GROOT_OK;
}

groot_status gr_cpu_axpy(gr_backend *be, float alpha, const gr_tensor *x, gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_cpu_check(be, "axpy", "x", x, GR_F32, -1, -1));
    GR_TRY(gr_cpu_check(be, "axpy", "y", y, GR_F32, x->rows, x->cols));
    const int64_t nr = x->rows, n = x->cols;
    const int team = gr_cpu_team(cb, (double)nr * (double)n * 0.25);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < nr; r++) {
        const float *xr = (const float *)x->data + r * x->ld;
        float *yr = (float *)y->data + r * y->ld;
        for (int64_t j = 0; j < n; j++)
            yr[j] += alpha * xr[j];
    }
    return GROOT_OK;
}

/* Converts one row of n elements between float dtypes; a row of at most
 * `chunk` floats goes through tmp when neither side is float32. */
static void convert_row(const void *src, gr_dtype from, void *dst, gr_dtype to, int64_t n, float *tmp,
                        int64_t chunk)
{
    if (to == GR_F32) {
        gr_cpu_to_f32(src, from, dst, n);
    } else if (from == GR_F32) {
        gr_cpu_from_f32(src, to, dst, n);
    } else {
        size_t fs = gr_dtype_size(from), ts = gr_dtype_size(to);
        for (int64_t j = 0; j < n; j += chunk) {
            int64_t c = n - j < chunk ? n - j : chunk;
            gr_cpu_to_f32((const char *)src + (size_t)j * fs, from, tmp, c);
            gr_cpu_from_f32(tmp, to, (char *)dst + (size_t)j * ts, c);
        }
    }
}

groot_status gr_cpu_copy(gr_backend *be, const gr_tensor *src, gr_tensor *dst)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_cpu_check(be, "copy", "src", src, GR_DTYPE_COUNT, -1, -1));
    GR_TRY(gr_cpu_check(be, "copy", "dst", dst, GR_DTYPE_COUNT, src->rows, src->cols));
    const size_t ss = gr_dtype_size(src->dtype), ds = gr_dtype_size(dst->dtype);
    const int64_t nr = src->rows, n = src->cols;
    if (src->dtype == dst->dtype) {
        const int team = gr_cpu_team(cb, (double)nr * (double)n * 0.25);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
        for (int64_t r = 0; r < nr; r++)
            memmove((char *)dst->data + (size_t)(r * dst->ld) * ds,
                    (const char *)src->data + (size_t)(r * src->ld) * ss, (size_t)n * ss);
        return GROOT_OK;
    }
    if (!gr_cpu_is_float(src->dtype) || !gr_cpu_is_float(dst->dtype))
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "copy: %s to %s (only float dtypes convert)",
                       gr_dtype_name(src->dtype), gr_dtype_name(dst->dtype));
    const int team = gr_cpu_team(cb, (double)nr * (double)n * 1.0);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < nr; r++) {
        float tmp[256];
        convert_row((const char *)src->data + (size_t)(r * src->ld) * ss, src->dtype,
                    (char *)dst->data + (size_t)(r * dst->ld) * ds, dst->dtype, n, tmp, 256);
    }
    return GROOT_OK;
}

groot_status gr_cpu_embed(gr_backend *be, const gr_tensor *ids, const gr_tensor *table,
                          int image_token_id, const gr_tensor *images, gr_tensor *y)
{
    GR_TRY(gr_cpu_check(be, "embed", "ids", ids, GR_I32, 1, -1));
    GR_TRY(gr_cpu_check(be, "embed", "table", table, GR_DTYPE_COUNT, -1, -1));
    if (!gr_cpu_is_float(table->dtype))
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "embed: table dtype %s", gr_dtype_name(table->dtype));
    const int64_t len = ids->cols, dim = table->cols, vocab = table->rows;
    GR_TRY(gr_cpu_check(be, "embed", "y", y, GR_F32, len, dim));
    const int32_t *id = ids->data;
    int64_t nimg = 0;
    for (int64_t i = 0; i < len; i++) {
        if (id[i] == image_token_id)
            nimg++;
        else if (id[i] < 0 || id[i] >= vocab)
            return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "embed: token id %d at %lld outside vocab %lld",
                           (int)id[i], (long long)i, (long long)vocab);
    }
    int64_t have = images && gr_tensor_present(images) ? images->rows : 0;
    if (nimg != have)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "embed: %lld image tokens but %lld image rows",
                       (long long)nimg, (long long)have);
    if (have)
        GR_TRY(gr_cpu_check(be, "embed", "images", images, GR_F32, have, dim));

    /* Serial: a prompt is a few hundred rows and the image rows must be
     * taken in order; each row is a plain copy or conversion. */
    const size_t es = gr_dtype_size(table->dtype);
    int64_t next = 0;
    for (int64_t i = 0; i < len; i++) {
        float *yr = (float *)y->data + i * y->ld;
        if (id[i] == image_token_id)
            memcpy(yr, (const float *)images->data + (next++) * images->ld, (size_t)dim * sizeof(float));
        else
            gr_cpu_to_f32((const char *)table->data + (size_t)((int64_t)id[i] * table->ld) * es, table->dtype,
                          yr, dim);
    }
    return GROOT_OK;
}

groot_status gr_cpu_patchify(gr_backend *be, const gr_tensor *pixels, int channels, int height,
                             int width, int patch, gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    if (channels <= 0 || height <= 0 || width <= 0 || patch <= 0 || height % patch || width % patch)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG,
                       "patchify: %dx%dx%d image does not tile into %dx%d patches", channels, height, width,
                       patch, patch);
    GR_TRY(gr_cpu_check(be, "patchify", "pixels", pixels, GR_F32, -1, (int64_t)channels * height * width));
    const int gh = height / patch, gw = width / patch;
    const int64_t per_view = (int64_t)gh * gw, views = pixels->rows;
    GR_TRY(gr_cpu_check(be, "patchify", "y", y, GR_F32, views * per_view, (int64_t)channels * patch * patch));
    const int64_t total = views * per_view;
    const int team = gr_cpu_team(cb, (double)total * (double)channels * patch * patch * 0.5);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t p = 0; p < total; p++) {
        const int64_t vi = p / per_view, pi = p % per_view;
        const int py = (int)(pi / gw), px = (int)(pi % gw);
        const float *img = (const float *)pixels->data + vi * pixels->ld;
        float *yr = (float *)y->data + p * y->ld;
        for (int c = 0; c < channels; c++)
            for (int ky = 0; ky < patch; ky++) {
                const float *src = img + ((int64_t)c * height + (int64_t)py * patch + ky) * width +
                                   (int64_t)px * patch;
                memcpy(yr + ((int64_t)c * patch + ky) * patch, src, (size_t)patch * sizeof(float));
            }
    }
    return GROOT_OK;
}
