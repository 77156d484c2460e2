/*
 * linear on the CPU: OpenBLAS sgemm, one single-threaded call per thread on
 * a band of output columns, plus a fused epilogue for bias, activation and
 * residual.
 */
#include <cblas.h>
#include <omp.h>
#include <stdint.h>

#include "backend/cpu/cpu_backend.h"

/* Output columns per thread are a multiple of this, so bands never share a
 * cache line of y. */
#define BAND_ALIGN 16

/* y = act(src + b) + res over an [m, n] band; b and res may be NULL, src may be y. */
static void epilogue(float *y, int64_t ldy, const float *src, int64_t lds, const float *b, gr_act act,
                     const float *res, int64_t ldr, int64_t m, int64_t n)
{
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

    /* Each thread owns a band of output columns: one single-threaded sgemm
     * on its slice of w, then the epilogue while that band is still in
     * cache. Math mode is irrelevant: the CPU always computes exact fp32. */
    float *prod = NULL; /* where the product goes when y already holds the residual */
    if (aliased && act != GR_ACT_NONE)
        GR_TRY(gr_cpu_scratch(cb, (size_t)(m * n), &prod));
    const int64_t ldy = y->ld, ldr = res ? residual->ld : 0;
    /* The column bands pay off only on a large product: ~0.03 ns per
     * multiply-add single-threaded (small shapes run below sgemm's peak),
     * plus the epilogue. Below the grain one thread does it all, no fork. */
    const double mn = (double)m * (double)n;
    int team = gr_cpu_team(cb, mn * (double)k * 0.03 + mn * (gr_cpu_act_cost(act) + (bias || res ? 0.25 : 0.0)));
    if ((int64_t)team > (n + BAND_ALIGN - 1) / BAND_ALIGN)
        team = (int)((n + BAND_ALIGN - 1) / BAND_ALIGN);
#pragma omp parallel num_threads(team) if (team > 1)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t per = ((n + nt - 1) / nt + BAND_ALIGN - 1) / BAND_ALIGN * BAND_ALIGN;
        const int64_t j0 = per * t < n ? per * t : n, j1 = j0 + per < n ? j0 + per : n;
        if (j1 > j0) {
            const float *wb = wd + j0 * L->w.ld;
            const float *bb = bias ? bias + j0 : NULL;
            if (prod) {
                /* y = act(x w^T + b) + y: the product needs a home other than y */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)(j1 - j0), (int)k, 1.0f, xd,
                            (int)x->ld, wb, (int)L->w.ld, 0.0f, prod + j0, (int)n);
                epilogue(yd + j0, ldy, prod + j0, n, bb, act, yd + j0, ldy, m, j1 - j0);
            } else {
                /* With the residual already in y and nothing between product
                 * and sum, sgemm accumulates onto it (beta = 1). */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)(j1 - j0), (int)k, 1.0f, xd,
                            (int)x->ld, wb, (int)L->w.ld, aliased ? 1.0f : 0.0f, yd + j0, (int)ldy);
                if (bb || act != GR_ACT_NONE || (res && !aliased))
                    epilogue(yd + j0, ldy, yd + j0, ldy, bb, act, res && !aliased ? res + j0 : NULL, ldr, m,
                             j1 - j0);
            }
        }
    }
    return GROOT_OK;
}
