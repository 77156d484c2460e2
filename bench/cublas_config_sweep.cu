/*
 * Whether cuBLASLt has faster configurations for the backbone's GEMMs than
 * its heuristic offers: for each shape (bf16 in and out, fp32 accumulation,
 * groot's layout: y[M,N] = x[M,K] w[N,K]^T), times
 *  - the heuristic's candidates (up to 16), and
 *  - every algorithm id's tiles x cluster shapes (stages left to cuBLASLt)
 *    that cublasLtMatmulAlgoCheck accepts,
 * each as a chain of 16 GEMMs over distinct weight copies (more bytes than
 * L2 holds, as in a call) in a CUDA graph: microseconds per GEMM, median of
 * 5 replays. Prints the heuristic's best and the five fastest others, and
 * checks the fastest against the heuristic's output.
 *
 * Built as tests/cublas_config_sweep with the CUDA backend (tests/cuda.cmake);
 * usage: cublas_config_sweep [M N K].
 */
#include <math.h>

#include "bench_util.cuh"
#include "cublaslt_gemm.cuh"

struct cand {
    cublasLtMatmulAlgo_t algo;
    double us;
    char from;
};

static int attr(const cublasLtMatmulAlgo_t &a, cublasLtMatmulAlgoConfigAttributes_t at)
{
    uint32_t v = 0;
    size_t w = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(&a, at, &v, sizeof v, &w) != CUBLAS_STATUS_SUCCESS)
        return -1;
    return w == 2 ? (int)(uint16_t)v : (int)v;
}

struct ctx : groot_lt {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    __nv_bfloat16 *w, *x, *y;
    int copies;
    shape sh;
    cudaEvent_t e0, e1;
};

/* Microseconds per GEMM of a 16-long chain in a graph; < 0 if it failed. */
static double time_algo(ctx &c, const cublasLtMatmulAlgo_t &algo)
{
    const float one = 1.0f, zero = 0.0f;
    const int chain = 16;
    cudaGraph_t g;
    cudaGraphExec_t ge;
    if (cudaStreamBeginCapture(c.s, cudaStreamCaptureModeThreadLocal) != cudaSuccess)
        return -1;
    bool ok = true;
    for (int i = 0; i < chain && ok; i++) {
        const __nv_bfloat16 *w = c.w + (size_t)(i % c.copies) * c.sh.n * c.sh.k;
        ok = cublasLtMatmul(c.lt, c.desc, &one, w, c.la, c.x, c.lb, &zero, c.y, c.lc, c.y, c.lc, &algo, c.ws, c.wss,
                            c.s) == CUBLAS_STATUS_SUCCESS;
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
    std::vector<double> v;
    for (int rep = 0; rep < 6; rep++) {
        CK(cudaEventRecord(c.e0, c.s));
        CK(cudaGraphLaunch(ge, c.s));
        CK(cudaEventRecord(c.e1, c.s));
        if (cudaStreamSynchronize(c.s) != cudaSuccess) {
            cudaGetLastError();
            return -1;
        }
        float ms;
        CK(cudaEventElapsedTime(&ms, c.e0, c.e1));
        if (rep)
            v.push_back(ms * 1000.0 / chain);
    }
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    return median(v);
}

/* One GEMM's output (first weight copy) to the host. */
static std::vector<float> output(ctx &c, const cublasLtMatmulAlgo_t &algo)
{
    const float one = 1.0f, zero = 0.0f;
    LK(cublasLtMatmul(c.lt, c.desc, &one, c.w, c.la, c.x, c.lb, &zero, c.y, c.lc, c.y, c.lc, &algo, c.ws, c.wss, c.s));
    std::vector<__nv_bfloat16> h((size_t)c.sh.m * c.sh.n);
    CK(cudaMemcpyAsync(h.data(), c.y, h.size() * 2, cudaMemcpyDeviceToHost, c.s));
    CK(cudaStreamSynchronize(c.s));
    std::vector<float> f(h.size());
    for (size_t i = 0; i < h.size(); i++)
        f[i] = __bfloat162float(h[i]);
    return f;
}

static void describe(const char *label, const cand &c)
{
    printf("  %s %.2f us (%c algo %d tile %d stages %d cluster %d splitK %d swizzle %d custom %d)\n", label, c.us,
           c.from, attr(c.algo, CUBLASLT_ALGO_CONFIG_ID), attr(c.algo, CUBLASLT_ALGO_CONFIG_TILE_ID),
           attr(c.algo, CUBLASLT_ALGO_CONFIG_STAGES_ID), attr(c.algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID),
           attr(c.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM), attr(c.algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING),
           attr(c.algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION));
}

static void run_shape(ctx &c, const shape &sh)
{
    c.sh = sh;
    c.copies = (int)std::max<size_t>(2, ((size_t)160 << 20) / ((size_t)sh.n * sh.k * 2));
    CK(cudaMalloc(&c.w, (size_t)c.copies * sh.n * sh.k * 2));
    CK(cudaMalloc(&c.x, (size_t)sh.m * sh.k * 2));
    CK(cudaMalloc(&c.y, (size_t)sh.m * sh.n * 2));
    fill_bf16<<<1024, 256, 0, c.s>>>(c.w, (int64_t)c.copies * sh.n * sh.k, 1, 0.1f);
    fill_bf16<<<1024, 256, 0, c.s>>>(c.x, (int64_t)sh.m * sh.k, 2, 0.1f);
    CK(cudaStreamSynchronize(c.s));
    groot_gemm_describe(sh.m, sh.n, sh.k, &c.desc, &c.la, &c.lb, &c.lc);

    std::vector<cand> heur, other;
    cublasLtMatmulHeuristicResult_t r[16];
    const int found = groot_gemm_heuristic(c.lt, c.desc, c.la, c.lb, c.lc, c.wss, r, 16);
    for (int i = 0; i < found; i++) {
        cand x = {r[i].algo, time_algo(c, r[i].algo), 'H'};
        if (x.us > 0)
            heur.push_back(x);
    }

    int ids[64], nid = 0;
    LK(cublasLtMatmulAlgoGetIds(c.lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16BF, CUDA_R_16BF, CUDA_R_16BF,
                                CUDA_R_16BF, 64, ids, &nid));
    const uint16_t clusters[] = {CUBLASLT_CLUSTER_SHAPE_AUTO,  CUBLASLT_CLUSTER_SHAPE_1x1x1,
                                 CUBLASLT_CLUSTER_SHAPE_2x1x1, CUBLASLT_CLUSTER_SHAPE_1x2x1,
                                 CUBLASLT_CLUSTER_SHAPE_2x2x1, CUBLASLT_CLUSTER_SHAPE_4x1x1,
                                 CUBLASLT_CLUSTER_SHAPE_1x4x1};
    int checked = 0, timed = 0;
    for (int j = 0; j < nid && timed < 600; j++) {
        cublasLtMatmulAlgo_t base;
        if (cublasLtMatmulAlgoInit(c.lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16BF, CUDA_R_16BF, CUDA_R_16BF,
                                   CUDA_R_16BF, ids[j], &base) != CUBLAS_STATUS_SUCCESS)
            continue;
        size_t w = 0;
        std::vector<uint32_t> tiles(256);
        if (cublasLtMatmulAlgoCapGetAttribute(&base, CUBLASLT_ALGO_CAP_TILE_IDS, tiles.data(), tiles.size() * 4, &w) !=
            CUBLAS_STATUS_SUCCESS)
            w = 0;
        tiles.resize(w / 4);
        if (tiles.empty())
            tiles.push_back(CUBLASLT_MATMUL_TILE_UNDEFINED);
        for (uint32_t tile : tiles)
            for (uint16_t cl : clusters) {
                cublasLtMatmulAlgo_t a = base;
                if (cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile) !=
                        CUBLAS_STATUS_SUCCESS ||
                    cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cl, sizeof cl) !=
                        CUBLAS_STATUS_SUCCESS)
                    continue;
                cublasLtMatmulHeuristicResult_t chk;
                checked++;
                if (cublasLtMatmulAlgoCheck(c.lt, c.desc, c.la, c.lb, c.lc, c.lc, &a, &chk) != CUBLAS_STATUS_SUCCESS ||
                    chk.workspaceSize > c.wss)
                    continue;
                cand x = {a, time_algo(c, a), 'E'};
                timed++;
                if (x.us > 0)
                    other.push_back(x);
            }
    }
    auto by_us = [](const cand &a, const cand &b) { return a.us < b.us; };
    std::sort(heur.begin(), heur.end(), by_us);
    std::sort(other.begin(), other.end(), by_us);
    printf("%s %dx%dx%d: %zu heuristic candidates, %d algorithm ids, %d configurations checked, %d timed\n", sh.name,
           sh.m, sh.n, sh.k, heur.size(), nid, checked, timed);
    if (!heur.empty())
        describe("heuristic best  ", heur[0]);
    for (size_t i = 0; i < other.size() && i < 5; i++)
        describe("enumerated      ", other[i]);
    if (!heur.empty() && !other.empty()) {
        std::vector<float> ref = output(c, heur[0].algo), got = output(c, other[0].algo);
        double dmax = 0, amax = 0;
        for (size_t i = 0; i < ref.size(); i++) {
            dmax = std::max(dmax, (double)fabsf(ref[i] - got[i]));
            amax = std::max(amax, (double)fabsf(ref[i]));
        }
        printf("  fastest enumerated vs heuristic best: max |diff| %.3g (max |y| %.3g)\n", dmax, amax);
    }
    groot_gemm_forget(c.desc, c.la, c.lb, c.lc);
    cudaFree(c.w);
    cudaFree(c.x);
    cudaFree(c.y);
}

int main(int argc, char **argv)
{
    const std::vector<shape> shapes = shapes_or_given(argc, argv, {
        {"vit qkv", 256, 3456, 1152},  {"vit o", 256, 1152, 1152},   {"vit fc1", 256, 4304, 1152},
        {"vit fc2", 256, 1152, 4304},  {"llm qkv", 304, 4096, 2048}, {"llm o", 304, 2048, 2048},
        {"llm gate/up", 304, 12288, 2048}, {"llm down", 304, 2048, 6144}, {"vl ff1", 304, 8192, 2048},
        {"vl ff2", 304, 2048, 8192},
    });
    ctx c;
    groot_lt_open(&c);
    CK(cudaEventCreate(&c.e0));
    CK(cudaEventCreate(&c.e1));
    for (const shape &sh : shapes)
        run_shape(c, sh);
    return 0;
}
