/*
 * groot's 16-bit GEMM as the cuBLASLt probes in bench/ describe it:
 * y[M,N] = x[M,K] w[N,K]^T, bf16 operands and output, fp32 accumulation,
 * cuBLASLt's column-major view (A = w transposed, B = x), as
 * src/backend/cuda/cuda_gemm.c builds it; and a check that stops the
 * program on a cuBLASLt error, naming the call and line.
 */
#ifndef GR_BENCH_CUBLASLT_GEMM_CUH
#define GR_BENCH_CUBLASLT_GEMM_CUH

#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>

#define LK(x)                                                                                                 \
    do {                                                                                                      \
        cublasStatus_t e_ = (x);                                                                              \
        if (e_ != CUBLAS_STATUS_SUCCESS) {                                                                    \
            fprintf(stderr, "%s:%d: %s: %d\n", __FILE__, __LINE__, #x, (int)e_);                              \
            exit(1);                                                                                          \
        }                                                                                                     \
    } while (0)

#include <vector>

/* A GEMM shape y[m, n] = x[m, k] w[n, k]^T, named for the output. */
struct shape {
    const char *name;
    int m, n, k;
};

/* The probe's own shapes, or the one its command line gives (M N K). */
static std::vector<shape> shapes_or_given(int argc, char **argv, std::vector<shape> own)
{
    if (argc == 4)
        return {{"given", atoi(argv[1]), atoi(argv[2]), atoi(argv[3])}};
    return own;
}

/* What every probe runs on: a handle, a 32 MB workspace, a stream. */
struct groot_lt {
    cublasLtHandle_t lt;
    void *ws;
    size_t wss;
    cudaStream_t s;
};

static void groot_lt_open(groot_lt *g)
{
    LK(cublasLtCreate(&g->lt));
    g->wss = 32 << 20;
    if (cudaMalloc(&g->ws, g->wss) != cudaSuccess || cudaStreamCreateWithFlags(&g->s, cudaStreamNonBlocking)) {
        fprintf(stderr, "no workspace or stream for cuBLASLt\n");
        exit(1);
    }
}

/* The descriptor and the layouts of A (w), B (x) and C = D (y). */
static void groot_gemm_describe(int m, int n, int k, cublasLtMatmulDesc_t *desc, cublasLtMatrixLayout_t *la,
                                cublasLtMatrixLayout_t *lb, cublasLtMatrixLayout_t *lc)
{
    LK(cublasLtMatmulDescCreate(desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t t = CUBLAS_OP_T, nn = CUBLAS_OP_N;
    LK(cublasLtMatmulDescSetAttribute(*desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    LK(cublasLtMatmulDescSetAttribute(*desc, CUBLASLT_MATMUL_DESC_TRANSB, &nn, sizeof nn));
    LK(cublasLtMatrixLayoutCreate(la, CUDA_R_16BF, k, n, k));
    LK(cublasLtMatrixLayoutCreate(lb, CUDA_R_16BF, k, m, k));
    LK(cublasLtMatrixLayoutCreate(lc, CUDA_R_16BF, n, m, n));
}

static void groot_gemm_forget(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb,
                              cublasLtMatrixLayout_t lc)
{
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(desc);
}

/* The heuristic's best max algorithms within wss bytes of workspace; how many. */
static int groot_gemm_heuristic(cublasLtHandle_t lt, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t la,
                                cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t lc, size_t wss,
                                cublasLtMatmulHeuristicResult_t *r, int max)
{
    cublasLtMatmulPreference_t pref;
    LK(cublasLtMatmulPreferenceCreate(&pref));
    LK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wss, sizeof wss));
    int found = 0;
    LK(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, max, r, &found));
    cublasLtMatmulPreferenceDestroy(pref);
    return found;
}

#endif
