/*
 * linear on the CPU: one OpenBLAS sgemm (which threads itself) plus a fused
 * epilogue for bias, activation and residual.
 */
#include <cblas.h>
#include <stdint.h>

#include "backend/cpu/cpu_backend.h"

/* y = act(y + b) + res, over [m, n] views. res may be NULL, b may be NULL. */
static void epilogue(gr_cpu_backend *cb, float *y, int64_t ldy, const float *src, int64_t lds,
                     const float *b, gr_act act, const float *res, int64_t ldr, int64_t m, int64_t n)
{
#pragma omp parallel for num_threads(cb->threads) schedule(static)
    for (int64_t i = 0; i < m; i++) {
        float *yr = y + i * ldy;
        const float *sr = src + i * lds;
        const float *rr = res ? res + i * ldr : NULL;
        for (int64_t j = 0; j < n; j++) {
            float v = sr[j];
            if (b)
                v += b[j];
            v = gr_cpu_act1(act, v);
            if (rr)
                v += rr[j];
            yr[j] = v;
        }
    }
}

groot_status gr_cpu_linear(gr_backend *be, const gr_tensor *x, const gr_linear *L, gr_act act,
                           const gr_tensor *residual, gr_tensor *y)
{
    gr_cpu_backend *cb = gr_cpu(be);
    if (!L)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "linear: no layer");
    if (!gr_cpu_act_valid(act))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "linear: unknown activation %d", (int)act);
    GR_TRY(gr_cpu_check(be, "linear", "x", x, GR_F32, -1, -1));
    GR_TRY(gr_cpu_check(be, "linear", "w", &L->w, GR_F32, -1, -1));
    const int64_t m = x->rows, k = x->cols, n = L->w.rows;
    if (L->w.cols != k)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "linear: x [%lld, %lld] does not match w [%lld, %lld]",
                       (long long)m, (long long)k, (long long)n, (long long)L->w.cols);
    GR_TRY(gr_cpu_check(be, "linear", "y", y, GR_F32, m, n));
    const float *bias = NULL;
    if (gr_tensor_present(&L->b)) {
        GR_TRY(gr_cpu_check(be, "linear", "bias", &L->b, GR_F32, 1, n));
        bias = L->b.data;
    }
    const float *res = NULL;
    if (residual && gr_tensor_present(residual)) {
        GR_TRY(gr_cpu_check(be, "linear", "residual", residual, GR_F32, m, n));
        res = residual->data;
    }
    if (m == 0 || n == 0)
        return GROOT_OK;
    if (k == 0) /* sgemm rejects it, and no model has a zero-width input */
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "linear: x [%lld, 0] has no features", (long long)m);

    const float *xd = x->data, *wd = L->w.data;
    float *yd = y->data;
    int aliased = res == yd;
    if (aliased && residual->ld != y->ld)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "linear: residual aliases y with a different ld");
    if (!aliased && res && (uintptr_t)res < (uintptr_t)(yd + (m - 1) * y->ld + n) &&
        (uintptr_t)yd < (uintptr_t)(res + (m - 1) * residual->ld + n))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "linear: residual partially overlaps y");

    /* Math mode is irrelevant here: the CPU always computes exact fp32. */
    if (aliased && act == GR_ACT_NONE) {
        /* The residual is already in y: let sgemm accumulate onto it. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, xd, (int)x->ld, wd,
                    (int)L->w.ld, 1.0f, yd, (int)y->ld);
        if (bias)
            epilogue(cb, yd, y->ld, yd, y->ld, bias, GR_ACT_NONE, NULL, 0, m, n);
        return GROOT_OK;
    }
    if (aliased) {
        /* The activation sits between the product and the residual, so the
         * product needs a home other than y. */
        float *s;
        GR_TRY(gr_cpu_scratch(cb, (size_t)(m * n), &s));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, xd, (int)x->ld, wd,
                    (int)L->w.ld, 0.0f, s, (int)n);
        epilogue(cb, yd, y->ld, s, n, bias, act, yd, y->ld, m, n);
        return GROOT_OK;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, xd, (int)x->ld, wd,
                (int)L->w.ld, 0.0f, yd, (int)y->ld);
    if (bias || act != GR_ACT_NONE || res)
        epilogue(cb, yd, y->ld, yd, y->ld, bias, act, res, res ? residual->ld : 0, m, n);
    return GROOT_OK;
}
