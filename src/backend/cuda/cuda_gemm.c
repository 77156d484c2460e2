/*
 * linear on cuBLASLt. Row-major y[M,N] = x[M,K] @ W[N,K]^T is, read
 * column-major, D(N x M) = op_T(W) * x^T: A = W transposed (lda = W.ld),
 * B = x (ldb = x.ld), D = y (ldd = y.ld), C = the residual (beta 1, may be
 * D itself). Bias, GELU and ReLU ride in cuBLASLt's epilogue; what it cannot
 * express (SiLU; an activation before a residual add) runs the plain GEMM
 * into a float32 scratch and finishes in one elementwise kernel.
 *
 * cuBLASLt reads an epilogue's bias in D's type (a float32 bias with a
 * 16-bit D finds no algorithm), so a 16-bit D gets a 16-bit copy of the
 * float32 bias, made on first use outside a capture and kept, keyed by
 * address and the driver's id of its allocation (weights never change
 * after upload; a freed and reused address is a different bias).
 *
 * Descriptors, layouts and the algorithm are cached per shape key, so a
 * repeated call allocates nothing and can be captured in a graph. The
 * first use of a key outside a capture times candidate algorithms on the
 * real operands, the weight read from DRAM as the model reads it, and
 * keeps the fastest (plan_tune): the heuristic's first pick is a guess,
 * on an H100 up to a fifth slower than another of its own candidates for
 * the language model's 294-row GEMMs.
 */
#include "backend/cuda/cuda_backend.h"

#include <cuda.h> /* types of cuPointerGetAttribute only; no driver library is linked */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    for (size_t i = 0; i < cb->bias16_cap; i++)
        if (cb->bias16[i].src)
            cudaFree(cb->bias16[i].dev);
    free(cb->bias16);
    cb->bias16 = NULL;
    cb->bias16_cap = cb->bias16_count = 0;
    gr_cuda_gemm_tune_release(cb);
    if (cb->tune_ev_ready) {
        cudaEventDestroy(cb->tune_ev[0]);
        cudaEventDestroy(cb->tune_ev[1]);
    }
    cb->tune_ev_ready = 0;
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

/* The heuristic's candidates for p, best first: up to max of them, those
 * that fit the workspace; with algo_id >= 0, only configurations of that
 * algorithm. *found is 0 when cuBLASLt has none. */
static groot_status heuristics(gr_cuda_backend *cb, gr_cuda_gemm_plan *p, cublasLtMatmulHeuristicResult_t *res,
                               int max, int algo_id, int *found)
{
    const gr_cuda_gemm_key *k = &p->key;
    *found = 0;
    memset(res, 0, sizeof *res * (size_t)max);
    if (algo_id >= 0) {
        cudaDataType_t ab = cuda_type((gr_dtype)k->ab_type), dt = cuda_type((gr_dtype)k->d_type);
        cudaDataType_t scale = k->compute == CUBLAS_COMPUTE_16F ? CUDA_R_16F : CUDA_R_32F;
        for (int i = 0; i < max; i++)
            if (cublasLtMatmulAlgoInit(cb->lt, (cublasComputeType_t)k->compute, scale, ab, ab, dt, dt, algo_id,
                                       &res[i].algo) != CUBLAS_STATUS_SUCCESS)
                return GROOT_OK;
    }
    cublasLtMatmulPreference_t pref = NULL;
    LT_TRY(&cb->base, cublasLtMatmulPreferenceCreate(&pref), "preference", k);
    uint64_t ws = cb->lt_ws_size;
    uint32_t al[4] = {k->align_a, k->align_b, k->align_c, k->align_d};
    uint32_t mode = algo_id >= 0 ? CUBLASLT_SEARCH_LIMITED_BY_ALGO_ID : CUBLASLT_SEARCH_BEST_FIT;
    cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_SEARCH_MODE, &mode, sizeof mode);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0], 4);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1], 4);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2], 4);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[3], 4);
    if (s == CUBLAS_STATUS_SUCCESS) {
        int n = 0;
        cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(cb->lt, p->desc, p->la, p->lb, p->lc, p->ld, pref, max,
                                                           res, &n);
        if (hs != CUBLAS_STATUS_SUCCESS)
            n = 0; /* NOT_SUPPORTED: the caller falls back */
        for (int i = 0; i < n; i++)
            if (res[i].state == CUBLAS_STATUS_SUCCESS && res[i].workspaceSize <= cb->lt_ws_size)
                res[(*found)++] = res[i];
    }
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS && algo_id < 0)
        return lt_fail(&cb->base, s, "preference", k);
    return GROOT_OK;
}

/* Builds the descriptors for key and takes the heuristic's first pick. */
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

    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    GR_TRY(heuristics(cb, p, &res, 1, -1, &found));
    p->ok = found > 0;
    if (p->ok)
        p->algo = res.algo;
    return GROOT_OK;
}

/* ---- autotuning ---- */

#define TUNE_MAX_CANDS 64
#define TUNE_PER_ALGO_ID 4
#define TUNE_MAX_IDS 32
#define TUNE_MAX_COPIES 32
/* Bigger scratch outputs are not worth the memory: such GEMMs are
 * compute-bound, where the heuristic's pick is good. */
#define TUNE_MAX_D_BYTES ((size_t)256 << 20)

/* Estimated microseconds of p at about the device's rates: sets how much
 * tuning it is worth. */
static double est_us(const gr_cuda_gemm_key *k)
{
    const double es = (double)gr_dtype_size((gr_dtype)k->ab_type);
    const double bytes = es * (double)(k->n * k->k + k->m * k->k) +
                         (double)gr_dtype_size((gr_dtype)k->d_type) * (double)(k->m * k->n);
    const double flops = 2.0 * (double)k->m * (double)k->n * (double)k->k;
    const double tb = bytes / 2.5e6, tf = flops / 7e8;
    return tb > tf ? tb : tf;
}

/* How hard to search: 0 not at all, 1 the heuristic's own list, 2 also
 * every algorithm id's best configurations and split-K variants of the
 * fastest. On an H100 with cuBLASLt 13.0 level 2 never beat level 1 on the
 * model's shapes (the nvjet kernels the heuristic lists win) but makes
 * first runs several times slower, so 1 is the default;
 * GROOT_GEMM_TUNE=0|1|2 picks. Below about a microsecond a GEMM is
 * launch-bound whatever the algorithm, and is not tuned (which also keeps
 * first runs under compute-sanitizer short). */
static int tune_level(const gr_cuda_backend *cb, const gr_cuda_gemm_key *k)
{
    const int level = cb->tune_level;
    /* Long GEMMs are compute-bound, where the heuristic's pick won every
     * time; timing them only heats the card (and slowed the GEMMs right
     * after by a tenth). */
    const double us = est_us(k);
    return us >= 1.0 && us <= 100.0 ? level : 0;
}

static int capturing_now(gr_cuda_backend *cb)
{
    if (cb->capturing)
        return 1;
    enum cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(cb->stream, &cs) != cudaSuccess)
        return 1; /* unknown: do nothing that cannot be captured */
    return cs != cudaStreamCaptureStatusNone;
}

void gr_cuda_gemm_tune_release(gr_cuda_backend *cb)
{
    if (!cb->tune_d && !cb->tune_rot && !cb->tma_tune_y)
        return;
    /* Queued timing runs may still use them. */
    cudaStreamSynchronize(cb->stream);
    cudaFree(cb->tune_d);
    cudaFree(cb->tune_rot);
    cudaFree(cb->tma_tune_y);
    cb->tune_d = cb->tune_rot = cb->tma_tune_y = NULL;
    cb->tune_d_cap = cb->tune_rot_cap = cb->tma_tune_y_cap = 0;
}

groot_status gr_cuda_tune_events(gr_cuda_backend *cb)
{
    if (cb->tune_ev_ready)
        return GROOT_OK;
    cudaError_t e = cudaEventCreate(&cb->tune_ev[0]);
    if (e == cudaSuccess && (e = cudaEventCreate(&cb->tune_ev[1])) != cudaSuccess)
        cudaEventDestroy(cb->tune_ev[0]);
    if (e != cudaSuccess)
        return gr_cuda_fail(&cb->base, e, "linear", "tuning events");
    cb->tune_ev_ready = 1;
    return GROOT_OK;
}

groot_status gr_cuda_tune_alloc(gr_cuda_backend *cb, void **buf, size_t *cap, size_t bytes, const char *what)
{
    if (bytes <= *cap)
        return GROOT_OK;
    GR_CUDA_TRY(&cb->base, cudaStreamSynchronize(cb->stream), "linear", "tuning sync");
    cudaFree(*buf);
    *buf = NULL;
    *cap = 0;
    GR_CUDA_TRY(&cb->base, cudaMalloc(buf, bytes), "linear", what);
    *cap = bytes;
    return GROOT_OK;
}

static int algo_attr(const cublasLtMatmulAlgo_t *a, cublasLtMatmulAlgoConfigAttributes_t attr)
{
    uint32_t v = 0;
    size_t w = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(a, attr, &v, sizeof v, &w) != CUBLAS_STATUS_SUCCESS)
        return -1;
    return (int)v;
}

typedef struct tune_cand {
    cublasLtMatmulAlgo_t algo;
    float us;  /* per run; < 0: refused or failed */
    char from; /* P plan's pick, H heuristic, L heuristic limited to one algorithm id, S split-K variant */
} tune_cand;

/* What every timed run of one plan shares. The weight operand rotates
 * through `copies` copies of A whose total exceeds L2. */
typedef struct tune_ctx {
    gr_cuda_gemm_plan *p;
    const void *alpha, *beta, *a, *b, *c;
    const void *rot[TUNE_MAX_COPIES];
    int copies, reps;
    tune_cand cand[TUNE_MAX_CANDS];
    int n;
} tune_ctx;

static void cand_add(tune_ctx *t, const cublasLtMatmulAlgo_t *a, char from)
{
    if (t->n >= TUNE_MAX_CANDS)
        return;
    for (int i = 0; i < t->n; i++)
        if (!memcmp(&t->cand[i].algo, a, sizeof *a))
            return;
    t->cand[t->n].algo = *a;
    t->cand[t->n].us = -1.0f;
    t->cand[t->n].from = from;
    t->n++;
}

static cublasStatus_t run_one(gr_cuda_backend *cb, const tune_ctx *t, const cublasLtMatmulAlgo_t *algo,
                              const void *a)
{
    const gr_cuda_gemm_plan *p = t->p;
    return cublasLtMatmul(cb->lt, p->desc, t->alpha, a, p->la, t->b, p->lb, t->beta, t->c, p->lc, cb->tune_d, p->ld,
                          algo, cb->lt_ws, cb->lt_ws_size, cb->stream);
}

/* Microseconds per run of algo, as a graph of t->reps back-to-back runs
 * replays: the model runs as a graph, and a graph's launch gaps (not the
 * host's enqueue rate) are what separate its kernels. A split-K
 * candidate's reduction kernel is part of each run, so it is paid for.
 * The better of two replays; *us < 0 when cuBLASLt refuses the algo. */
static groot_status time_algo(gr_cuda_backend *cb, const tune_ctx *t, const cublasLtMatmulAlgo_t *algo, float *us)
{
    gr_backend *be = &cb->base;
    *us = -1.0f;
    /* Outside the capture first: a refusal must not break a capture, and
     * lazy module loading stays out of the timing. */
    if (run_one(cb, t, algo, t->a) != CUBLAS_STATUS_SUCCESS)
        return GROOT_OK;
    GR_CUDA_TRY(be, cudaStreamBeginCapture(cb->stream, cudaStreamCaptureModeThreadLocal), "linear",
                "tuning capture");
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    for (int i = 0; i < t->reps && s == CUBLAS_STATUS_SUCCESS; i++)
        s = run_one(cb, t, algo, t->rot[i % t->copies]);
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(cb->stream, &g);
    cudaGraphExec_t x = NULL;
    if (e == cudaSuccess && s == CUBLAS_STATUS_SUCCESS)
        e = cudaGraphInstantiate(&x, g, 0);
    if (g)
        cudaGraphDestroy(g);
    if (s != CUBLAS_STATUS_SUCCESS || e != cudaSuccess) { /* this candidate cannot be captured: skip it */
        if (x)
            cudaGraphExecDestroy(x);
        (void)cudaGetLastError(); /* so no later launch check reports it */
        return GROOT_OK;
    }
    float best = -1.0f;
    e = cudaGraphLaunch(x, cb->stream); /* warm: first replay uploads the graph */
    for (int r = 0; r < 2 && e == cudaSuccess; r++) {
        float ms = 0.0f;
        e = cudaEventRecord(cb->tune_ev[0], cb->stream);
        if (e == cudaSuccess)
            e = cudaGraphLaunch(x, cb->stream);
        if (e == cudaSuccess)
            e = cudaEventRecord(cb->tune_ev[1], cb->stream);
        if (e == cudaSuccess)
            e = cudaEventSynchronize(cb->tune_ev[1]);
        if (e == cudaSuccess)
            e = cudaEventElapsedTime(&ms, cb->tune_ev[0], cb->tune_ev[1]);
        if (e == cudaSuccess && (best < 0.0f || ms < best))
            best = ms;
    }
    cudaGraphExecDestroy(x);
    GR_CUDA_TRY(be, e, "linear", "tuning run");
    *us = best * 1000.0f / (float)t->reps;
    return GROOT_OK;
}

/* Split-K variants of base (other fields kept) that cuBLASLt accepts. */
static void add_splitk_variants(gr_cuda_backend *cb, tune_ctx *t, const cublasLtMatmulAlgo_t *base)
{
    const gr_cuda_gemm_plan *p = t->p;
    int32_t sk_ok = 0;
    uint32_t mask = 0;
    size_t w = 0;
    if (cublasLtMatmulAlgoCapGetAttribute(base, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, &sk_ok, sizeof sk_ok, &w) !=
            CUBLAS_STATUS_SUCCESS ||
        !sk_ok)
        return;
    if (cublasLtMatmulAlgoCapGetAttribute(base, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK, &mask, sizeof mask, &w) !=
        CUBLAS_STATUS_SUCCESS)
        mask = 0;
    const int base_red = algo_attr(base, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME);
    const int splits[] = {1, 2, 3, 4, 6, 8};
    const uint32_t schemes[] = {CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE, CUBLASLT_REDUCTION_SCHEME_INPLACE,
                                CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE};
    for (size_t si = 0; si < sizeof splits / sizeof *splits; si++) {
        for (size_t ri = 0; ri < 3; ri++) {
            uint32_t red = splits[si] == 1 ? CUBLASLT_REDUCTION_SCHEME_NONE
                           : base_red > 0  ? (uint32_t)base_red
                                           : schemes[ri];
            if (splits[si] > 1 && base_red <= 0 && !(mask & red))
                continue;
            cublasLtMatmulAlgo_t a = *base;
            int32_t sk = splits[si];
            cublasLtMatmulHeuristicResult_t r;
            memset(&r, 0, sizeof r);
            if (cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &sk, sizeof sk) ==
                    CUBLAS_STATUS_SUCCESS &&
                cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red) ==
                    CUBLAS_STATUS_SUCCESS &&
                cublasLtMatmulAlgoCheck(cb->lt, p->desc, p->la, p->lb, p->lc, p->ld, &a, &r) ==
                    CUBLAS_STATUS_SUCCESS &&
                r.state == CUBLAS_STATUS_SUCCESS && r.workspaceSize <= cb->lt_ws_size)
                cand_add(t, &a, 'S');
            if (splits[si] == 1 || base_red > 0)
                break; /* one scheme to try */
        }
    }
}

static float d_value(const void *d, gr_dtype dt, size_t i)
{
    if (dt == GR_BF16)
        return gr_bf16_to_f32(((const uint16_t *)d)[i]);
    if (dt == GR_F16)
        return gr_f16_to_f32(((const uint16_t *)d)[i]);
    return ((const float *)d)[i];
}

/* Whether algo computes what the plan's own pick computes, up to rounding
 * and summation order: a configuration cuBLASLt accepted but that we
 * assembled ourselves (or a heuristic one) is used only once it agrees. */
static groot_status agrees(gr_cuda_backend *cb, const tune_ctx *t, const cublasLtMatmulAlgo_t *algo, size_t d_bytes,
                           int *ok)
{
    gr_backend *be = &cb->base;
    const gr_cuda_gemm_key *k = &t->p->key;
    *ok = 0;
    unsigned char *ref = malloc(d_bytes), *got = malloc(d_bytes);
    cudaError_t e = ref && got ? cudaSuccess : cudaErrorMemoryAllocation;
    if (!e && run_one(cb, t, &t->p->algo, t->a) != CUBLAS_STATUS_SUCCESS)
        e = cudaErrorUnknown;
    if (!e)
        e = cudaMemcpyAsync(ref, cb->tune_d, d_bytes, cudaMemcpyDeviceToHost, cb->stream);
    if (!e && run_one(cb, t, algo, t->a) != CUBLAS_STATUS_SUCCESS)
        e = cudaErrorUnknown;
    if (!e)
        e = cudaMemcpyAsync(got, cb->tune_d, d_bytes, cudaMemcpyDeviceToHost, cb->stream);
    if (!e)
        e = cudaStreamSynchronize(cb->stream);
    if (!e) {
        double amax = 0.0, dmax = 0.0;
        int bad = 0;
        for (int64_t m = 0; m < k->m && !bad; m++)
            for (int64_t n = 0; n < k->n; n++) {
                size_t i = (size_t)(m * k->ldd + n);
                double r = d_value(ref, (gr_dtype)k->d_type, i), g = d_value(got, (gr_dtype)k->d_type, i);
                if (!(fabs(r - g) <= 1e30)) { /* NaN or Inf on either side */
                    bad = 1;
                    break;
                }
                amax = fabs(r) > amax ? fabs(r) : amax;
                dmax = fabs(r - g) > dmax ? fabs(r - g) : dmax;
            }
        *ok = !bad && dmax <= 2e-2 * (amax > 1e-20 ? amax : 1e-20);
    }
    free(ref);
    free(got);
    if (e == cudaErrorUnknown)
        return GROOT_OK; /* cuBLASLt refused a run: not agreeing */
    GR_CUDA_TRY(be, e, "linear", "tuning check");
    return GROOT_OK;
}

/* Times candidates for p on the real operands and keeps the fastest:
 * the heuristic's own list (split-K ones among them, their reduction
 * kernel timed too) and, at level 2, its best configurations of every
 * other algorithm id, then split-K variants of the three fastest. Runs
 * write a scratch D (C is only read, so an aliased residual survives). */
/* GROOT_GEMM_BORROW=1: a plan for the same GEMM at another M (a new prompt
 * length bucket or batch size) whose pick was timed lends its algorithm,
 * if cuBLASLt takes it for this M (within a factor 1.5), instead of a new
 * search. On the 3B model that cut the first call of a new bucket from
 * ~240 ms to ~12 ms but left later calls of that bucket 4-11% slower (the
 * search picks other tiles at M 320 and 336 than at 304), so it is off
 * unless a deployment prefers the first call's latency. */
static int borrow_nearby(gr_cuda_backend *cb, gr_cuda_gemm_plan *p)
{
    if (!cb->borrow)
        return 0;
    const gr_cuda_gemm_key *k = &p->key;
    for (int i = 0; i < GR_CUDA_GEMM_PLANS; i++) {
        const gr_cuda_gemm_plan *q = &cb->plans[i];
        if (q == p || !q->used || !q->ok || !q->timed)
            continue;
        gr_cuda_gemm_key same;
        memcpy(&same, &q->key, sizeof same);
        same.m = k->m;
        if (memcmp(&same, k, sizeof same) != 0 || 2 * q->key.m > 3 * k->m || 2 * k->m > 3 * q->key.m)
            continue;
        cublasLtMatmulHeuristicResult_t r;
        if (cublasLtMatmulAlgoCheck(cb->lt, p->desc, p->la, p->lb, p->lc, p->ld, &q->algo, &r) !=
                CUBLAS_STATUS_SUCCESS ||
            r.workspaceSize > cb->lt_ws_size)
            continue;
        p->algo = q->algo;
        if (cb->gemm_log)
            fprintf(stderr, "gemm tune M=%lld N=%lld K=%lld: the pick of M=%lld, not searched again\n",
                    (long long)k->m, (long long)k->n, (long long)k->k, (long long)q->key.m);
        return 1;
    }
    return 0;
}

static groot_status plan_tune(gr_cuda_backend *cb, gr_cuda_gemm_plan *p, const void *alpha, const void *a,
                              const void *b, const void *beta, const void *c)
{
    gr_backend *be = &cb->base;
    const gr_cuda_gemm_key *k = &p->key;
    p->tuned = 1; /* once, whatever happens below */
    const int level = tune_level(cb, k);
    if (!level || (level < 2 && borrow_nearby(cb, p)))
        return GROOT_OK;
    const size_t d_bytes = gr_dtype_size((gr_dtype)k->d_type) * (size_t)(k->ldd * (k->m - 1) + k->n);
    if (d_bytes > TUNE_MAX_D_BYTES)
        return GROOT_OK;
    const int deep = level >= 2;

    tune_ctx *t = calloc(1, sizeof *t);
    if (!t)
        return gr_fail(&be->err, GROOT_ERR_NOMEM, "cuda linear: out of host memory for tuning");
    groot_status st = GROOT_OK;
    t->p = p;
    t->alpha = alpha;
    t->beta = beta;
    t->a = a;
    t->b = b;
    cand_add(t, &p->algo, 'P');
    {
        cublasLtMatmulHeuristicResult_t res[16];
        int n = 0;
        st = heuristics(cb, p, res, 16, -1, &n);
        for (int i = 0; !st && i < n; i++)
            cand_add(t, &res[i].algo, 'H');
    }
    if (!st && deep) {
        cudaDataType_t abt = cuda_type((gr_dtype)k->ab_type), dt = cuda_type((gr_dtype)k->d_type);
        cudaDataType_t scale = k->compute == CUBLAS_COMPUTE_16F ? CUDA_R_16F : CUDA_R_32F;
        int ids[TUNE_MAX_IDS], nid = 0;
        if (cublasLtMatmulAlgoGetIds(cb->lt, (cublasComputeType_t)k->compute, scale, abt, abt, dt, dt, TUNE_MAX_IDS,
                                     ids, &nid) != CUBLAS_STATUS_SUCCESS)
            nid = 0;
        for (int j = 0; !st && j < nid; j++) {
            cublasLtMatmulHeuristicResult_t res[TUNE_PER_ALGO_ID];
            int n = 0;
            st = heuristics(cb, p, res, TUNE_PER_ALGO_ID, ids[j], &n);
            for (int i = 0; !st && i < n; i++)
                cand_add(t, &res[i].algo, 'L');
        }
    }
    if (!st && t->n <= 1) { /* nothing to choose from */
        free(t);
        return GROOT_OK;
    }

    if (!st) {
        const double es = (double)gr_dtype_size((gr_dtype)k->ab_type);
        const size_t span = (size_t)(es * (double)(k->lda * (k->n - 1) + k->k));
        const size_t stride = (span + 255) & ~(size_t)255;
        int l2 = 0;
        if (cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, cb->device) != cudaSuccess || l2 <= 0)
            l2 = 64 << 20;
        size_t copies = ((size_t)l2 * 2 + span - 1) / span;
        copies = copies < 1 ? 1 : copies > TUNE_MAX_COPIES ? TUNE_MAX_COPIES : copies;
        t->copies = (int)copies;
        t->reps = t->copies < 8 ? 8 : t->copies;
        t->rot[0] = a;
        if (copies > 1)
            st = gr_cuda_tune_alloc(cb, &cb->tune_rot, &cb->tune_rot_cap, copies * stride, "tuning weight copies");
        for (size_t i = 0; !st && copies > 1 && i < copies; i++) {
            t->rot[i] = (const char *)cb->tune_rot + i * stride;
            cudaError_t e = cudaMemcpyAsync((void *)t->rot[i], a, span, cudaMemcpyDeviceToDevice, cb->stream);
            if (e != cudaSuccess)
                st = gr_cuda_fail(be, e, "linear", "tuning weight copy");
        }
    }
    if (!st)
        st = gr_cuda_tune_alloc(cb, &cb->tune_d, &cb->tune_d_cap, d_bytes, "tuning scratch");
    if (!st)
        st = gr_cuda_tune_events(cb);
    t->c = c ? c : cb->tune_d; /* beta 0: C is not read, and lc is ld's layout */

    int timed = 0;
    for (int pass = 0; !st && pass < 2; pass++) {
        for (int i = timed; !st && i < t->n; i++)
            st = time_algo(cb, t, &t->cand[i].algo, &t->cand[i].us);
        timed = t->n;
        if (pass == 0 && deep) { /* split-K of the three fastest so far */
            int pick[3] = {-1, -1, -1};
            for (int i = 0; i < t->n; i++) {
                if (t->cand[i].us < 0.0f)
                    continue;
                for (int q = 0; q < 3; q++)
                    if (pick[q] < 0 || t->cand[i].us < t->cand[pick[q]].us) {
                        for (int z = 2; z > q; z--)
                            pick[z] = pick[z - 1];
                        pick[q] = i;
                        break;
                    }
            }
            for (int q = 0; q < 3; q++)
                if (pick[q] >= 0)
                    add_splitk_variants(cb, t, &t->cand[pick[q]].algo);
        }
    }

    /* The fastest that agrees with the plan's pick; that pick stays unless
     * another is clearly faster (within the noise it is the tested one). */
    int best = 0;
    for (int tries = 0; !st && tries < 4; tries++) {
        best = 0;
        for (int i = 1; i < t->n; i++)
            if (t->cand[i].us >= 0.0f && (t->cand[best].us < 0.0f || t->cand[i].us < t->cand[best].us))
                best = i;
        if (best == 0 || (t->cand[0].us >= 0.0f && t->cand[best].us > 0.97f * t->cand[0].us)) {
            best = 0;
            break;
        }
        int ok = 0;
        st = agrees(cb, t, &t->cand[best].algo, d_bytes, &ok);
        if (ok)
            break;
        t->cand[best].us = -1.0f;
        best = 0;
    }
    if (!st && best > 0)
        p->algo = t->cand[best].algo;
    if (!st)
        p->timed = 1;

    if (!st && cb->gemm_log) {
        const tune_cand *bc = &t->cand[best];
        fprintf(stderr,
                "gemm tune M=%lld N=%lld K=%lld %s->%s epi=%d beta=%d: %d cand (copies %d, reps %d), "
                "pick %.2f us, best %c#%d %.2f us (algo %d tile %d splitK %d red %d)\n",
                (long long)k->m, (long long)k->n, (long long)k->k, gr_dtype_name((gr_dtype)k->ab_type),
                gr_dtype_name((gr_dtype)k->d_type), k->epilogue, k->beta_one, t->n, t->copies, t->reps,
                t->cand[0].us, bc->from, best, bc->us, algo_attr(&bc->algo, CUBLASLT_ALGO_CONFIG_ID),
                algo_attr(&bc->algo, CUBLASLT_ALGO_CONFIG_TILE_ID),
                algo_attr(&bc->algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM),
                algo_attr(&bc->algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME));
        if (cb->gemm_log == 2)
            for (int i = 0; i < t->n; i++)
                fprintf(stderr, "  %c#%d %.2f us algo %d tile %d splitK %d red %d\n", t->cand[i].from, i,
                        t->cand[i].us, algo_attr(&t->cand[i].algo, CUBLASLT_ALGO_CONFIG_ID),
                        algo_attr(&t->cand[i].algo, CUBLASLT_ALGO_CONFIG_TILE_ID),
                        algo_attr(&t->cand[i].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM),
                        algo_attr(&t->cand[i].algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME));
    }
    free(t);
    return st;
}

/* ---- 16-bit bias copies ---- */

typedef CUresult (*ptr_attr_fn)(void *data, CUpointer_attribute attr, CUdeviceptr ptr);

/* The driver's id of the allocation holding p; 0 when unknown. */
static unsigned long long buffer_id(gr_cuda_backend *cb, const void *p)
{
    if (!cb->ptr_attr_tried) {
        cb->ptr_attr_tried = 1;
        void *fn = NULL;
        enum cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
        if (cudaGetDriverEntryPointByVersion("cuPointerGetAttribute", &fn, 12000, cudaEnableDefault, &q) ==
                cudaSuccess &&
            q == cudaDriverEntryPointSuccess)
            cb->ptr_attr_fn = fn;
    }
    if (!cb->ptr_attr_fn)
        return 0;
    unsigned long long id = 0;
    ptr_attr_fn f = (ptr_attr_fn)cb->ptr_attr_fn;
    if (f(&id, CU_POINTER_ATTRIBUTE_BUFFER_ID, (CUdeviceptr)(uintptr_t)p) != CUDA_SUCCESS)
        return 0;
    return id;
}

static size_t bias16_slot(const gr_cuda_bias16 *tab, size_t cap, const float *src, int64_t n, int dtype)
{
    size_t h = (size_t)(((uintptr_t)src >> 4) * 0x9e3779b97f4a7c15ull ^ (uint64_t)n ^ ((uint64_t)dtype << 40));
    size_t i = h & (cap - 1);
    while (tab[i].src && !(tab[i].src == src && tab[i].n == n && tab[i].dtype == dtype))
        i = (i + 1) & (cap - 1);
    return i;
}

static groot_status bias16_grow(gr_cuda_backend *cb)
{
    size_t cap = cb->bias16_cap ? cb->bias16_cap * 2 : 256;
    gr_cuda_bias16 *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return gr_fail(&cb->base.err, GROOT_ERR_NOMEM, "cuda linear: out of host memory for bias copies");
    for (size_t i = 0; i < cb->bias16_cap; i++)
        if (cb->bias16[i].src)
            tab[bias16_slot(tab, cap, cb->bias16[i].src, cb->bias16[i].n, cb->bias16[i].dtype)] = cb->bias16[i];
    free(cb->bias16);
    cb->bias16 = tab;
    cb->bias16_cap = cap;
    return GROOT_OK;
}

/* Fills e->dev with bias converted to e->dtype: once per bias, so a
 * synchronous round trip through the host is fine. */
static groot_status bias16_convert(gr_cuda_backend *cb, gr_cuda_bias16 *e, int fresh)
{
    gr_backend *be = &cb->base;
    const size_t n = (size_t)e->n;
    if (fresh)
        GR_CUDA_TRY(be, cudaMalloc(&e->dev, n * 2), "linear", "16-bit bias copy");
    float *h = malloc(n * sizeof *h);
    uint16_t *h16 = malloc(n * sizeof *h16);
    cudaError_t err = h && h16 ? cudaSuccess : cudaErrorMemoryAllocation;
    if (!err)
        err = cudaMemcpyAsync(h, e->src, n * sizeof *h, cudaMemcpyDeviceToHost, cb->stream);
    if (!err)
        err = cudaStreamSynchronize(cb->stream);
    if (!err) {
        for (size_t i = 0; i < n; i++)
            h16[i] = e->dtype == GR_BF16 ? gr_f32_to_bf16(h[i]) : gr_f32_to_f16(h[i]);
        err = cudaMemcpyAsync(e->dev, h16, n * sizeof *h16, cudaMemcpyHostToDevice, cb->stream);
    }
    if (!err) /* h16 is pageable and freed next */
        err = cudaStreamSynchronize(cb->stream);
    free(h);
    free(h16);
    GR_CUDA_TRY(be, err, "linear", "16-bit bias copy");
    return GROOT_OK;
}

/* bias as dtype (BF16/F16) for cuBLASLt, or *out NULL when no copy can be
 * had now (inside a capture, a new bias cannot be converted): the caller
 * then takes the unfused route. */
static groot_status bias16_get(gr_cuda_backend *cb, const float *bias, int64_t n, gr_dtype dtype,
                               const void **out)
{
    *out = NULL;
    unsigned long long id = buffer_id(cb, bias);
    if (!id)
        return GROOT_OK;
    if (cb->bias16_cap) {
        gr_cuda_bias16 *e = &cb->bias16[bias16_slot(cb->bias16, cb->bias16_cap, bias, n, (int)dtype)];
        if (e->src && e->buf_id == id) {
            *out = e->dev;
            return GROOT_OK;
        }
        if (e->src) { /* the address was freed and reused: a different bias */
            if (capturing_now(cb))
                return GROOT_OK;
            e->buf_id = 0;
            GR_TRY(bias16_convert(cb, e, 0));
            e->buf_id = id;
            *out = e->dev;
            return GROOT_OK;
        }
    }
    if (capturing_now(cb))
        return GROOT_OK;
    if (2 * (cb->bias16_count + 1) > cb->bias16_cap)
        GR_TRY(bias16_grow(cb));
    gr_cuda_bias16 *e = &cb->bias16[bias16_slot(cb->bias16, cb->bias16_cap, bias, n, (int)dtype)];
    gr_cuda_bias16 ne = {bias, n, (int)dtype, 0, NULL};
    groot_status st = bias16_convert(cb, &ne, 1);
    if (st != GROOT_OK) {
        cudaFree(ne.dev);
        return st;
    }
    ne.buf_id = id;
    *e = ne;
    cb->bias16_count++;
    *out = e->dev;
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

/* One cublasLtMatmul. bias is float32, or D's type when bias16 is set.
 * *ran is 0 when no algorithm exists for this combination (the caller
 * then takes a simpler route). */
static groot_status gemm(gr_cuda_backend *cb, const gr_tensor *x, const gr_tensor *w, const void *bias,
                         int bias16, cublasLtEpilogue_t epi, const gr_tensor *c, void *d, int64_t ldd,
                         gr_dtype d_type, gr_math math, int *ran)
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
    key.bias_f32 = bias != NULL && !bias16 && d_type != GR_F32;
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
    /* Tuning only speeds things up: if it fails (out of memory for its
     * scratch, say), the heuristic's pick runs and any real fault shows
     * up in the matmul below. */
    if (!p->tuned && !capturing_now(cb) &&
        plan_tune(cb, p, alpha, w->data, x->data, beta, c ? c->data : NULL) != GROOT_OK)
        (void)cudaGetLastError();
    /* graph_pdl.c needs to know which nodes of a capture are cuBLASLt's. */
    const int track = cb->graph_pdl && capturing_now(cb);
    cudaGraphNode_t before = track ? gr_cuda_capture_before_cublas(cb) : NULL;
    LT_TRY(&cb->base,
           cublasLtMatmul(cb->lt, p->desc, alpha, w->data, p->la, x->data, p->lb, beta, c ? c->data : d, p->lc,
                          d, p->ld, &p->algo, cb->lt_ws, cb->lt_ws_size, cb->stream),
           "cublasLtMatmul", &key);
    if (track)
        gr_cuda_capture_note_cublas(cb, before, x->dtype == GR_BF16 || x->dtype == GR_F16);
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
    if (gr_tensor_present(&L->b))
        GR_TRY(gr_cuda_check(be, "linear", "bias", &L->b, GR_F32, 1, N));
    if (gr_tensor_present(residual)) {
        GR_TRY(gr_cuda_check(be, "linear", "residual", residual, y->dtype, M, N));
    } else {
        residual = NULL;
    }
    if ((unsigned)act > GR_ACT_SILU)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda linear: unknown activation %d", (int)act);
    if (M == 0 || N == 0)
        return GROOT_OK;
    int done = 0;
    const grk_pf pf = gr_cuda_take_prefetch(cb); /* the Hopper GEMM issues it; cuBLASLt's kernels cannot */
    gr_cuda_note_output(cb, y);
    GR_TRY(gr_cuda_linear_tma(cb, x, L, act, residual, y, pf, &done));
    cb->pdl_chain = done;
    if (done)
        return GROOT_OK;
    return gr_cuda_linear_cublas(cb, x, L, act, residual, y);
}

groot_status gr_cuda_linear_cublas(gr_cuda_backend *cb, const gr_tensor *x, const gr_linear *L, gr_act act,
                                   const gr_tensor *residual, gr_tensor *y)
{
    gr_backend *be = &cb->base;
    const gr_tensor *w = &L->w;
    const int64_t M = x->rows, N = w->rows;
    const float *bias = gr_tensor_present(&L->b) ? (const float *)L->b.data : NULL;
    int ran = 0;
    if (act == GR_ACT_NONE || ((act == GR_ACT_GELU_TANH || act == GR_ACT_RELU) && !residual)) {
        cublasLtEpilogue_t epi = epilogue_for(act, bias != NULL);
        /* A float32 bias is tried as such first (exact, should cuBLASLt ever
         * take it with a 16-bit D), then as a copy in D's type. */
        GR_TRY(gemm(cb, x, w, bias, 0, epi, residual, y->data, y->ld, y->dtype, L->math, &ran));
        if (!ran && bias && y->dtype != GR_F32) {
            const void *b16 = NULL;
            GR_TRY(bias16_get(cb, bias, N, y->dtype, &b16));
            if (b16)
                GR_TRY(gemm(cb, x, w, b16, 1, epi, residual, y->data, y->ld, y->dtype, L->math, &ran));
        }
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
    GR_TRY(gemm(cb, x, w, NULL, 0, CUBLASLT_EPILOGUE_DEFAULT, NULL, t, ldt, GR_F32, L->math, &ran));
    if (!ran)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED,
                       "cuda linear: cuBLASLt has no algorithm for M=%lld N=%lld K=%lld %s (lds %lld/%lld)",
                       (long long)M, (long long)N, (long long)x->cols, gr_dtype_name(x->dtype),
                       (long long)x->ld, (long long)w->ld);
    grk_mat tm = {t, GR_F32, ldt};
    grk_mat rm = {residual ? residual->data : NULL, residual ? (int)residual->dtype : 0, residual ? residual->ld : 0};
    grk_mat ym = {y->data, y->dtype, y->ld};
    GR_CUDA_TRY(be, grk_act_add(tm, bias, act, rm, ym, M, N, gr_cuda_ks(cb)), "linear", "epilogue kernel");
    return GROOT_OK;
}
