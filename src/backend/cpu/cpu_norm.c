/*
 * Row normalizations on the CPU: LayerNorm, RMSNorm, AdaLN modulation and
 * the Qwen3 per-head q/k RMSNorm + RoPE. Row statistics accumulate in
 * double so that long rows (2048) lose nothing to summation order; the
 * per-element arithmetic is float32 in the order the reference uses. Every
 * op reads a row's element before writing it, so y may alias x.
 */
#include <math.h>

#include "backend/cpu/cpu_backend.h"

/* Mean and 1/sqrt(biased variance + eps) of one row, as float32. */
static void row_stats(const float *x, int64_t n, float eps, float *mean, float *rstd)
{
    double s = 0;
    for (int64_t j = 0; j < n; j++)
        s += x[j];
    double mu = n ? s / (double)n : 0.0;
    double v = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = x[j] - mu;
        v += d * d;
    }
    double var = n ? v / (double)n : 0.0;
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(var + (double)eps));
}

/* 1/sqrt(mean(x^2) + eps): the mean rounded to float32 and the rsqrt taken
 * in float32, as Qwen3RMSNorm does after hidden.to(float32). */
static float rms_scale(const float *x, int64_t n, float eps)
{
    double ss = 0;
    for (int64_t j = 0; j < n; j++)
        ss += (double)x[j] * (double)x[j];
    float var = n ? (float)(ss / (double)n) : 0.0f;
    return 1.0f / sqrtf(var + eps);
}

groot_status gr_cpu_layernorm(gr_backend *be, const gr_tensor *x, const gr_tensor *w,
                              const gr_tensor *b, float eps, gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_cpu_check(be, "layernorm", "x", x, GR_F32, -1, -1));
    GR_TRY(gr_cpu_check(be, "layernorm", "y", y, GR_F32, x->rows, x->cols));
    const float *wd = NULL, *bd = NULL;
    if (w && gr_tensor_present(w)) {
        GR_TRY(gr_cpu_check(be, "layernorm", "weight", w, GR_F32, 1, x->cols));
        wd = w->data;
    }
    if (b && gr_tensor_present(b)) {
        GR_TRY(gr_cpu_check(be, "layernorm", "bias", b, GR_F32, 1, x->cols));
        bd = b->data;
    }
    const int64_t rows = x->rows, n = x->cols;
    const int team = gr_cpu_team(cb, (double)rows * (double)n * 1.2);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * x->ld;
        float *yr = (float *)y->data + r * y->ld;
        float mean, rstd;
        row_stats(xr, n, eps, &mean, &rstd);
        for (int64_t j = 0; j < n; j++) {
            float v = (xr[j] - mean) * rstd;
            if (wd)
                v *= wd[j];
            if (bd)
                v += bd[j];
            yr[j] = v;
        }
    }
    return GROOT_OK;
}

groot_status gr_cpu_rmsnorm(gr_backend *be, const gr_tensor *x, const gr_tensor *w, float eps,
                            gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_cpu_check(be, "rmsnorm", "x", x, GR_F32, -1, -1));
    GR_TRY(gr_cpu_check(be, "rmsnorm", "y", y, GR_F32, x->rows, x->cols));
    GR_TRY(gr_cpu_check(be, "rmsnorm", "weight", w, GR_F32, 1, x->cols));
    const int64_t rows = x->rows, n = x->cols;
    const float *wd = w->data;
    const int team = gr_cpu_team(cb, (double)rows * (double)n * 1.0);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * x->ld;
        float *yr = (float *)y->data + r * y->ld;
        float s = rms_scale(xr, n, eps);
        for (int64_t j = 0; j < n; j++)
            yr[j] = wd[j] * (xr[j] * s);
    }
    return GROOT_OK;
}

groot_status gr_cpu_modulate(gr_backend *be, const gr_tensor *x, const gr_tensor *scale,
                             const gr_tensor *shift, float eps, gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_cpu_check(be, "modulate", "x", x, GR_F32, -1, -1));
    GR_TRY(gr_cpu_check(be, "modulate", "y", y, GR_F32, x->rows, x->cols));
    GR_TRY(gr_cpu_check(be, "modulate", "scale", scale, GR_F32, 1, x->cols));
    GR_TRY(gr_cpu_check(be, "modulate", "shift", shift, GR_F32, 1, x->cols));
    const int64_t rows = x->rows, n = x->cols;
    const float *sc = scale->data, *sh = shift->data;
    const int team = gr_cpu_team(cb, (double)rows * (double)n * 1.2);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * x->ld;
        float *yr = (float *)y->data + r * y->ld;
        float mean, rstd;
        row_stats(xr, n, eps, &mean, &rstd);
        for (int64_t j = 0; j < n; j++)
            yr[j] = ((xr[j] - mean) * rstd) * (1.0f + sc[j]) + sh[j];
    }
    return GROOT_OK;
}

groot_status gr_cpu_qk_norm_rope(gr_backend *be, gr_tensor *x, int heads, int head_dim,
                                 const gr_tensor *w, float eps, const gr_tensor *cos,
                                 const gr_tensor *sin)
{
    gr_cpu_backend *cb = gr_cpu(be);
    if (heads <= 0 || head_dim <= 0 || head_dim % 2)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "qk_norm_rope: %d heads of dim %d (need > 0, even dim)",
                       heads, head_dim);
    GR_TRY(gr_cpu_check(be, "qk_norm_rope", "x", x, GR_F32, -1, (int64_t)heads * head_dim));
    GR_TRY(gr_cpu_check(be, "qk_norm_rope", "weight", w, GR_F32, 1, head_dim));
    const int half = head_dim / 2;
    GR_TRY(gr_cpu_check(be, "qk_norm_rope", "cos", cos, GR_F32, -1, half));
    GR_TRY(gr_cpu_check(be, "qk_norm_rope", "sin", sin, GR_F32, -1, half));
    if (cos->rows < x->rows || sin->rows < x->rows)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG,
                       "qk_norm_rope: cos/sin tables have %lld/%lld rows for %lld positions",
                       (long long)cos->rows, (long long)sin->rows, (long long)x->rows);
    const int64_t rows = x->rows;
    const float *wd = w->data;
    const int team = gr_cpu_team(cb, (double)rows * (double)heads * head_dim * 2.0);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *c = (const float *)cos->data + r * cos->ld;
        const float *s = (const float *)sin->data + r * sin->ld;
        for (int h = 0; h < heads; h++) {
            float *xh = (float *)x->data + r * x->ld + (int64_t)h * head_dim;
            float inv = rms_scale(xh, head_dim, eps);
            /* rotate_half pairs dim i with dim i + half, so each pair is
             * normalized and rotated together, in place. */
            for (int i = 0; i < half; i++) {
                float a = wd[i] * (xh[i] * inv);
                float b = wd[i + half] * (xh[i + half] * inv);
                xh[i] = a * c[i] - b * s[i];
                xh[i + half] = b * c[i] + a * s[i];
            }
        }
    }
    return GROOT_OK;
}
