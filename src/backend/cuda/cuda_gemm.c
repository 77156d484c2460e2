/*
 * linear on cuBLASLt. Row-major y[M,N] = x[M,K] @ W[N,K]^T is, read
 * column-major, D(N x M) = op_T(W) * x^T: A = W transposed (lda = W.ld),
 * B = x (ldb = x.ld), D = y (ldd = y.ld), C = the residual (beta 1, may be
 * D itself). Bias, GELU and ReLU ride in cuBLASLt's epilogue; what it cannot
 * express (SiLU; an activation before a residual add) runs the plain GEMM
 * into a float32 scratch and finishes in one elementwise kernel.
 *
 * Descriptors, layouts and the heuristic's algorithm are cached per shape
 * key, so a repeated call allocates nothing and can be captured in a graph.
 */
#include "backend/cuda/cuda_backend.h"

#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_kernels.h"
#include "core/half.h"

static cudaDataType_t cuda_type(gr_dtype t)
{
    switch (t) {
    case GR_BF16: return CUDA_R_16BF;
    case GR_F16: return CUDA_R_16F;
    default: return CUDA_R_32F;
    }
}

static unsigned ptr_align(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    unsigned al = 256;
    while (al > 1 && (a % al) != 0)
        al >>= 1;
    return al;
}

static void plan_release(gr_cuda_gemm_plan *p)
{
    if (p->desc)
        cublasLtMatmulDescDestroy(p->desc);
    if (p->la)
        cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb)
        cublasLtMatrixLayoutDestroy(p->lb);
    if (p->lc)
        cublasLtMatrixLayoutDestroy(p->lc);
    if (p->ld)
        cublasLtMatrixLayoutDestroy(p->ld);
    memset(p, 0, sizeof *p);
}

void gr_cuda_gemm_plans_destroy(gr_cuda_backend *cb)
{
    for (int i = 0; i < GR_CUDA_GEMM_PLANS; i++)
        if (cb->plans[i].used)
            plan_release(&cb->plans[i]);
}

static groot_status lt_fail(gr_backend *be, cublasStatus_t s, const char *what, const gr_cuda_gemm_key *k)
{
    return gr_fail(&be->err, GROOT_ERR_DEVICE,
                   "cuda linear: %s failed (%s) for M=%lld N=%lld K=%lld %s->%s", what,
                   cublasLtGetStatusString(s), (long long)k->m, (long long)k->n, (long long)k->k,
                   gr_dtype_name((gr_dtype)k->ab_type), gr_dtype_name((gr_dtype)k->d_type));
}

#define LT_TRY(be, call, what, key)                          \
    do {                                                     \
        cublasStatus_t lt_s_ = (call);                       \
        if (lt_s_ != CUBLAS_STATUS_SUCCESS)                  \
            return lt_fail((be), lt_s_, (what), (key));      \
    } while (0)

/* Builds the descriptors for key and asks the heuristic once. */
static groot_status plan_build(gr_cuda_backend *cb, gr_cuda_gemm_plan *p)
{
    gr_backend *be = &cb->base;
    const gr_cuda_gemm_key *k = &p->key;
    cudaDataType_t ab = cuda_type((gr_dtype)k->ab_type), dt = cuda_type((gr_dtype)k->d_type);
    cudaDataType_t scale = k->compute == CUBLAS_COMPUTE_16F ? CUDA_R_16F : CUDA_R_32F;
    LT_TRY(be, cublasLtMatmulDescCreate(&p->desc, (cublasComputeType_t)k->compute, scale), "desc", k);
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    LT_TRY(be, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "transa", k);
    LT_TRY(be, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "transb", k);
    cublasLtEpilogue_t epi = (cublasLtEpilogue_t)k->epilogue;
    LT_TRY(be, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), "epilogue", k);
    if (k->bias_f32) {
        int32_t bt = CUDA_R_32F;
        LT_TRY(be, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt),
               "bias type", k);
    }
    LT_TRY(be, cublasLtMatrixLayoutCreate(&p->la, ab, (uint64_t)k->k, (uint64_t)k->n, k->lda), "layout A", k);
    LT_TRY(be, cublasLtMatrixLayoutCreate(&p->lb, ab, (uint64_t)k->k, (uint64_t)k->m, k->ldb), "layout B", k);
    LT_TRY(be, cublasLtMatrixLayoutCreate(&p->lc, dt, (uint64_t)k->n, (uint64_t)k->m, k->ldc), "layout C", k);
    LT_TRY(be, cublasLtMatrixLayoutCreate(&p->ld, dt, (uint64_t)k->n, (uint64_t)k->m, k->ldd), "layout D", k);

    cublasLtMatmulPreference_t pref = NULL;
    LT_TRY(be, cublasLtMatmulPreferenceCreate(&pref), "preference", k);
    uint64_t ws = cb->lt_ws_size;
    uint32_t al[4] = {k->align_a, k->align_b, k->align_c, k->align_d};
    cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0], 4);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1], 4);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2], 4);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[3], 4);
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS) {
        memset(&res, 0, sizeof res);
        cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(cb->lt, p->desc, p->la, p->lb, p->lc, p->ld,
                                                           pref, 1, &res, &found);
        if (hs != CUBLAS_STATUS_SUCCESS)
            found = 0; /* NOT_SUPPORTED: the caller falls back */
    }
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS)
        return lt_fail(be, s, "preference", k);
    p->ok = found > 0;
    if (p->ok)
        p->algo = res.algo;
    return GROOT_OK;
}

static groot_status plan_get(gr_cuda_backend *cb, const gr_cuda_gemm_key *key, gr_cuda_gemm_plan **out)
{
    gr_cuda_gemm_plan *victim = NULL;
    cb->plan_clock++;
    for (int i = 0; i < GR_CUDA_GEMM_PLANS; i++) {
        gr_cuda_gemm_plan *p = &cb->plans[i];
        if (p->used && memcmp(&p->key, key, sizeof *key) == 0) {
            p->last_use = cb->plan_clock;
            *out = p;
            return GROOT_OK;
        }
        /* Prefer a free slot, else the least recently used plan. */
        if (!victim || (victim->used && (!p->used || p->last_use < victim->last_use)))
            victim = p;
    }
    plan_release(victim);
    victim->used = 1;
    victim->key = *key;
    victim->last_use = cb->plan_clock;
    groot_status st = plan_build(cb, victim);
    if (st != GROOT_OK) {
        plan_release(victim);
        return st;
    }
    *out = victim;
    return GROOT_OK;
}

/* One cublasLtMatmul. *ran is 0 when no algorithm exists for this
 * combination (the caller then takes a simpler route). */
static groot_status gemm(gr_cuda_backend *cb, const gr_tensor *x, const gr_tensor *w, const float *bias,
                         cublasLtEpilogue_t epi, const gr_tensor *c, void *d, int64_t ldd, gr_dtype d_type,
                         gr_math math, int *ran)
{
    gr_cuda_gemm_key key;
    memset(&key, 0, sizeof key); /* padding too: keys compare with memcmp */
    key.m = x->rows;
    key.n = w->rows;
    key.k = x->cols;
    key.lda = w->ld;
    key.ldb = x->ld;
    key.ldd = ldd;
    key.ldc = c ? c->ld : ldd;
    key.ab_type = x->dtype;
    key.d_type = d_type;
    key.epilogue = epi;
    key.beta_one = c != NULL;
    key.bias_f32 = bias != NULL && d_type != GR_F32;
    key.align_a = ptr_align(w->data);
    key.align_b = ptr_align(x->data);
    key.align_c = ptr_align(c ? c->data : d);
    key.align_d = ptr_align(d);
    int try16 = 0;
    if (x->dtype == GR_F32)
        key.compute = math == GR_MATH_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    else if (x->dtype == GR_F16 && d_type == GR_F16 && math == GR_MATH_REDUCED_ACC)
        key.compute = CUBLAS_COMPUTE_16F, try16 = 1;
    else
        key.compute = CUBLAS_COMPUTE_32F;

    gr_cuda_gemm_plan *p;
    GR_TRY(plan_get(cb, &key, &p));
    if (!p->ok && try16) { /* no fp16-accumulating kernel for this shape: accumulate in fp32 */
        key.compute = CUBLAS_COMPUTE_32F;
        GR_TRY(plan_get(cb, &key, &p));
    }
    *ran = p->ok;
    if (!p->ok)
        return GROOT_OK;
    if (bias)
        LT_TRY(&cb->base, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                                         sizeof bias), "bias pointer", &key);
    float one = 1.0f, zero = 0.0f;
    uint16_t one16 = gr_f32_to_f16(1.0f), zero16 = 0;
    const void *alpha = &one, *beta = c ? (const void *)&one : (const void *)&zero;
    if (key.compute == CUBLAS_COMPUTE_16F) {
        alpha = &one16;
        beta = c ? (const void *)&one16 : (const void *)&zero16;
    }
    LT_TRY(&cb->base,
           cublasLtMatmul(cb->lt, p->desc, alpha, w->data, p->la, x->data, p->lb, beta, c ? c->data : d, p->lc,
                          d, p->ld, &p->algo, cb->lt_ws, cb->lt_ws_size, cb->stream),
           "cublasLtMatmul", &key);
    return GROOT_OK;
}

static cublasLtEpilogue_t epilogue_for(gr_act act, int has_bias)
{
    switch (act) {
    case GR_ACT_GELU_TANH: return has_bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    case GR_ACT_RELU: return has_bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    default: return has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    }
}

groot_status gr_cuda_linear(gr_backend *be, const gr_tensor *x, const gr_linear *L, gr_act act,
                            const gr_tensor *residual, gr_tensor *y)
{
    gr_cuda_backend *cb = gr_cuda(be);
    const gr_tensor *w = &L->w;
    GR_TRY(gr_cuda_check(be, "linear", "x", x, GR_DTYPE_COUNT, -1, -1));
    GR_TRY(gr_cuda_check(be, "linear", "w", w, GR_DTYPE_COUNT, -1, x->cols));
    if (x->dtype != w->dtype)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED,
                       "cuda linear: x is %s but w is %s (x [%lld, %lld], w [%lld, %lld]); convert one",
                       gr_dtype_name(x->dtype), gr_dtype_name(w->dtype), (long long)x->rows,
                       (long long)x->cols, (long long)w->rows, (long long)w->cols);
    const int64_t M = x->rows, N = w->rows;
    GR_TRY(gr_cuda_check(be, "linear", "y", y, GR_DTYPE_COUNT, M, N));
    if (y->dtype != x->dtype && y->dtype != GR_F32)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda linear: %s inputs cannot write a %s output",
                       gr_dtype_name(x->dtype), gr_dtype_name(y->dtype));
    const float *bias = NULL;
    if (gr_tensor_present(&L->b)) {
        GR_TRY(gr_cuda_check(be, "linear", "bias", &L->b, GR_F32, 1, N));
        bias = (const float *)L->b.data;
    }
    if (gr_tensor_present(residual)) {
        GR_TRY(gr_cuda_check(be, "linear", "residual", residual, y->dtype, M, N));
    } else {
        residual = NULL;
    }
    if ((unsigned)act > GR_ACT_SILU)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda linear: unknown activation %d", (int)act);
    if (M == 0 || N == 0)
        return GROOT_OK;

    int ran = 0;
    if (act == GR_ACT_NONE || ((act == GR_ACT_GELU_TANH || act == GR_ACT_RELU) && !residual)) {
        GR_TRY(gemm(cb, x, w, bias, epilogue_for(act, bias != NULL), residual, y->data, y->ld, y->dtype,
                    L->math, &ran));
        if (ran)
            return GROOT_OK;
    }
    /* Unfused: plain GEMM into float32 T (y itself when y is float32 and
     * not the residual), then y = act(T + bias) + residual. */
    void *t = y->data;
    int64_t ldt = y->ld;
    if (y->dtype != GR_F32 || (residual && residual->data == y->data)) {
        GR_TRY(gr_cuda_scratch(cb, (size_t)M * (size_t)N * sizeof(float), &t));
        ldt = N;
    }
    GR_TRY(gemm(cb, x, w, NULL, CUBLASLT_EPILOGUE_DEFAULT, NULL, t, ldt, GR_F32, L->math, &ran));
    if (!ran)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED,
                       "cuda linear: cuBLASLt has no algorithm for M=%lld N=%lld K=%lld %s (lds %lld/%lld)",
                       (long long)M, (long long)N, (long long)x->cols, gr_dtype_name(x->dtype),
                       (long long)x->ld, (long long)w->ld);
    grk_mat tm = {t, GR_F32, ldt};
    grk_mat rm = {residual ? residual->data : NULL, residual ? (int)residual->dtype : 0, residual ? residual->ld : 0};
    grk_mat ym = {y->data, y->dtype, y->ld};
    GR_CUDA_TRY(be, grk_act_add(tm, bias, act, rm, ym, M, N, cb->stream), "linear", "epilogue kernel");
    return GROOT_OK;
}
