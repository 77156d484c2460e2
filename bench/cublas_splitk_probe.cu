/*
 * Whether the backbone's residual GEMMs (small N, large K: ViT o-proj and
 * fc2, the language model's o and down projections, vl's o and ff2) run
 * faster as S K-slices in one strided-batched cuBLASLt call writing float32
 * partials, with the partials, bias and residual summed by the norm kernel
 * that follows each of them in the model anyway. cuBLASLt's heuristic
 * offers no split-K kernel for these shapes, and its kernels then walk all
 * of K in one CTA per output tile (67-96 k-steps): Nsight Compute shows
 * them at 20-35% of DRAM, L2 and tensor peaks.
 *
 * For each shape and S: the heuristic's candidates (up to 8) timed as a
 * chain of 16 GEMMs over distinct weight copies in a graph, then the best
 * one timed as a chain of 16 (GEMM, norm) pairs. S = 1 is groot's form
 * today: float32 output, residual as C (beta 1), bias in the epilogue, a
 * LayerNorm after it. S > 1: batched partials (beta 0), then one kernel
 * x += bias + sum of partials, h = LayerNorm(x). Checks every S's x and h
 * against S = 1's.
 *
 * Built as tests/cublas_splitk_probe with the CUDA backend (tests/cuda.cmake);
 * usage: cublas_splitk_probe [M N K].
 */
#include <math.h>

#include "bench_util.cuh"
#include "cublaslt_gemm.cuh"

/* x[row] += bias + sum over s of p[s][row]; h[row] = LayerNorm(x[row]) in
 * bf16 (gamma 1, beta 0: the cost is the same). One block of 256 threads
 * a row, up to 8 columns a thread, float32 statistics. */
__global__ void __launch_bounds__(256) reduce_layernorm(float *x, const float *p, int splits, int64_t pstride,
                                                       const float *bias, __nv_bfloat16 *h, int n, float eps)
{
    __shared__ float red[8];
    const int64_t row = blockIdx.x;
    float v[8];
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; j++) {
        const int c = threadIdx.x + 256 * j;
        v[j] = 0.0f;
        if (c < n) {
            float t = x[row * n + c];
            if (splits > 0) {
                t += bias[c];
                for (int q = 0; q < splits; q++)
                    t += p[q * pstride + row * n + c];
                x[row * n + c] = t;
            }
            v[j] = t;
            s += t;
        }
    }
    auto block_sum = [&](float a) {
        for (int off = 16; off > 0; off >>= 1)
            a += __shfl_xor_sync(0xffffffffu, a, off);
        __syncthreads();
        if ((threadIdx.x & 31) == 0)
            red[threadIdx.x >> 5] = a;
        __syncthreads();
        float t = 0.0f;
        for (int i = 0; i < 8; i++)
            t += red[i];
        return t;
    };
    const float mean = block_sum(s) / n;
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; j++)
        if (threadIdx.x + 256 * j < n)
            ss += (v[j] - mean) * (v[j] - mean);
    const float rstd = rsqrtf(block_sum(ss) / n + eps);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        const int c = threadIdx.x + 256 * j;
        if (c < n)
            h[row * n + c] = __float2bfloat16((v[j] - mean) * rstd);
    }
}

struct plan {
    shape sh;
    int splits;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    __nv_bfloat16 *w, *a, *h;
    float *x, *x0, *p, *bias;
    int copies;
};

static void describe_plan(plan &q)
{
    const int S = q.splits, kk = q.sh.k / S;
    LK(cublasLtMatmulDescCreate(&q.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t t = CUBLAS_OP_T, nn = CUBLAS_OP_N;
    LK(cublasLtMatmulDescSetAttribute(q.desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    LK(cublasLtMatmulDescSetAttribute(q.desc, CUBLASLT_MATMUL_DESC_TRANSB, &nn, sizeof nn));
    if (S == 1) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        LK(cublasLtMatmulDescSetAttribute(q.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        LK(cublasLtMatmulDescSetAttribute(q.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &q.bias, sizeof q.bias));
    }
    LK(cublasLtMatrixLayoutCreate(&q.la, CUDA_R_16BF, kk, q.sh.n, q.sh.k));
    LK(cublasLtMatrixLayoutCreate(&q.lb, CUDA_R_16BF, kk, q.sh.m, q.sh.k));
    LK(cublasLtMatrixLayoutCreate(&q.lc, CUDA_R_32F, q.sh.n, q.sh.m, q.sh.n));
    if (S > 1) {
        const int32_t count = S;
        const int64_t sk = kk, sc = (int64_t)q.sh.n * q.sh.m;
        cublasLtMatrixLayout_t ls[3] = {q.la, q.lb, q.lc};
        const int64_t strides[3] = {sk, sk, sc};
        for (int i = 0; i < 3; i++) {
            LK(cublasLtMatrixLayoutSetAttribute(ls[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
            LK(cublasLtMatrixLayoutSetAttribute(ls[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &strides[i],
                                                sizeof strides[i]));
        }
    }
}

static bool enqueue_gemm(groot_lt &c, plan &q, int i, const cublasLtMatmulAlgo_t &algo)
{
    const float one = 1.0f, zero = 0.0f;
    const __nv_bfloat16 *w = q.w + (size_t)(i % q.copies) * q.sh.n * q.sh.k;
    if (q.splits == 1)
        return cublasLtMatmul(c.lt, q.desc, &one, w, q.la, q.a, q.lb, &one, q.x, q.lc, q.x, q.lc, &algo, c.ws, c.wss,
                              c.s) == CUBLAS_STATUS_SUCCESS;
    return cublasLtMatmul(c.lt, q.desc, &one, w, q.la, q.a, q.lb, &zero, q.p, q.lc, q.p, q.lc, &algo, c.ws, c.wss,
                          c.s) == CUBLAS_STATUS_SUCCESS;
}

static void enqueue_norm(groot_lt &c, plan &q)
{
    reduce_layernorm<<<q.sh.m, 256, 0, c.s>>>(q.x, q.p, q.splits == 1 ? 0 : q.splits, (int64_t)q.sh.m * q.sh.n,
                                               q.bias, q.h, q.sh.n, 1e-6f);
}

/* Microseconds per item of a chain of 16 in a graph (GEMMs, or GEMM + norm
 * pairs); < 0 if the algorithm failed. x is reset before each replay. */
static double time_chain(groot_lt &c, plan &q, const cublasLtMatmulAlgo_t &algo, bool with_norm)
{
    const int chain = 16;
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(c.s, cudaStreamCaptureModeThreadLocal));
    bool ok = true;
    for (int i = 0; i < chain && ok; i++) {
        ok = enqueue_gemm(c, q, i, algo);
        if (ok && with_norm)
            enqueue_norm(c, q);
    }
    if (cudaStreamEndCapture(c.s, &g) != cudaSuccess || !ok) {
        cudaGetLastError();
        return -1;
    }
    if (cudaGraphInstantiate(&ge, g, 0) != cudaSuccess) {
        cudaGraphDestroy(g);
        cudaGetLastError();
        return -1;
    }
    const size_t xb = (size_t)q.sh.m * q.sh.n * 4;
    const double us = replay_us(ge, c.s, chain, 7, 1, [&] { CK(cudaMemcpyAsync(q.x, q.x0, xb, cudaMemcpyDeviceToDevice, c.s)); });
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    return us;
}

/* One (GEMM, norm) pair from the initial x: x and h to the host. */
static void one_pair(groot_lt &c, plan &q, const cublasLtMatmulAlgo_t &algo, std::vector<float> &x, std::vector<float> &h)
{
    const size_t e = (size_t)q.sh.m * q.sh.n;
    CK(cudaMemcpyAsync(q.x, q.x0, e * 4, cudaMemcpyDeviceToDevice, c.s));
    if (!enqueue_gemm(c, q, 0, algo)) {
        fprintf(stderr, "gemm failed\n");
        exit(1);
    }
    enqueue_norm(c, q);
    std::vector<__nv_bfloat16> hb(e);
    x.resize(e);
    h.resize(e);
    CK(cudaMemcpyAsync(x.data(), q.x, e * 4, cudaMemcpyDeviceToHost, c.s));
    CK(cudaMemcpyAsync(hb.data(), q.h, e * 2, cudaMemcpyDeviceToHost, c.s));
    CK(cudaStreamSynchronize(c.s));
    for (size_t i = 0; i < e; i++)
        h[i] = __bfloat162float(hb[i]);
}

static double max_diff(const std::vector<float> &a, const std::vector<float> &b)
{
    double d = 0;
    for (size_t i = 0; i < a.size(); i++)
        d = std::max(d, (double)fabsf(a[i] - b[i]));
    return d;
}

static void run_shape(groot_lt &c, const shape &sh)
{
    plan base = {};
    base.sh = sh;
    base.copies = (int)std::max<size_t>(2, ((size_t)160 << 20) / ((size_t)sh.n * sh.k * 2));
    CK(cudaMalloc(&base.w, (size_t)base.copies * sh.n * sh.k * 2));
    CK(cudaMalloc(&base.a, (size_t)sh.m * sh.k * 2));
    CK(cudaMalloc(&base.h, (size_t)sh.m * sh.n * 2));
    CK(cudaMalloc(&base.x, (size_t)sh.m * sh.n * 4));
    CK(cudaMalloc(&base.x0, (size_t)sh.m * sh.n * 4));
    CK(cudaMalloc(&base.p, (size_t)8 * sh.m * sh.n * 4));
    CK(cudaMalloc(&base.bias, (size_t)sh.n * 4));
    fill_bf16<<<1024, 256, 0, c.s>>>(base.w, (int64_t)base.copies * sh.n * sh.k, 1, 0.1f);
    fill_bf16<<<1024, 256, 0, c.s>>>(base.a, (int64_t)sh.m * sh.k, 2, 1.0f);
    fill_f32<<<1024, 256, 0, c.s>>>(base.x0, (int64_t)sh.m * sh.n, 3, 1.0f);
    fill_f32<<<64, 256, 0, c.s>>>(base.bias, sh.n, 4, 0.5f);
    CK(cudaStreamSynchronize(c.s));

    std::vector<float> x1, h1;
    double pair1 = 0;
    for (int S : {1, 2, 3, 4, 6, 8}) {
        if (sh.k % S || (sh.k / S) % 8)
            continue;
        plan q = base;
        q.splits = S;
        describe_plan(q);
        cublasLtMatmulHeuristicResult_t r[8];
        const int found = groot_gemm_heuristic(c.lt, q.desc, q.la, q.lb, q.lc, c.wss, r, 8);
        double best = 1e30;
        int bi = -1;
        for (int i = 0; i < found; i++) {
            const double us = time_chain(c, q, r[i].algo, false);
            if (us > 0 && us < best) {
                best = us;
                bi = i;
            }
        }
        if (bi < 0) {
            printf("%-8s %4dx%5dx%5d S=%d: no algorithm ran (%d candidates)\n", sh.name, sh.m, sh.n, sh.k, S, found);
        } else {
            const double pair = time_chain(c, q, r[bi].algo, true);
            std::vector<float> x, h;
            one_pair(c, q, r[bi].algo, x, h);
            if (S == 1) {
                x1 = x;
                h1 = h;
                pair1 = pair;
            }
            printf("%-8s %4dx%5dx%5d S=%d: gemm %6.2f us, gemm+norm %6.2f us (%+.2f vs S=1), %d candidates; "
                   "max|dx| %.2g max|dh| %.2g\n",
                   sh.name, sh.m, sh.n, sh.k, S, best, pair, pair - pair1, found, x1.empty() ? 0.0 : max_diff(x, x1),
                   h1.empty() ? 0.0 : max_diff(h, h1));
        }
        groot_gemm_forget(q.desc, q.la, q.lb, q.lc);
    }
    fflush(stdout);
    cudaFree(base.w);
    cudaFree(base.a);
    cudaFree(base.h);
    cudaFree(base.x);
    cudaFree(base.x0);
    cudaFree(base.p);
    cudaFree(base.bias);
}

int main(int argc, char **argv)
{
    const std::vector<shape> shapes = shapes_or_given(argc, argv, {
        {"vit o", 256, 1152, 1152}, {"vit fc2", 256, 1152, 4304}, {"llm o", 304, 2048, 2048},
        {"llm down", 304, 2048, 6144}, {"vl o", 304, 2048, 2048}, {"vl ff2", 304, 2048, 8192},
    });
    groot_lt c;
    groot_lt_open(&c);
    for (const shape &sh : shapes)
        run_shape(c, sh);
    return 0;
}
