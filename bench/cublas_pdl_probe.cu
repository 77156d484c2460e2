/*
 * Whether cuBLASLt's GEMM kernels wait for the kernel before them
 * (griddepcontrol.wait) when a captured graph's edge into them is made
 * programmatic, as src/backend/cuda/graph_pdl.c does: rerun it when the
 * cuBLAS version changes.
 *
 * For the best heuristic algorithms (3, or ALGOS) of one GEMM shape
 * (default 256 x 4304 x 1152, bf16, the ViT's fc1; or M N K): a kernel that releases its dependents at once,
 * spins 50 us and only then writes the GEMM's input (ones; zeros before),
 * then the GEMM, captured; with the edge full and made programmatic.
 * Every output must equal K (rounded to bf16): a GEMM that did not wait
 * reads zeros. Then a chain of 40 (small kernel -> GEMM) pairs timed with
 * full edges, with programmatic edges into the GEMMs' kernels, with every
 * edge programmatic, and with those out of the GEMMs' kernels only.
 * Prints each edge of the graphs with its kernels' names.
 *
 * Built as tests/cublas_pdl_probe with the CUDA backend (tests/cuda.cmake);
 * usage: cublas_pdl_probe [M N K [ALGOS]].
 * What it showed is in BENCHMARKS.md ("Programmatic edges into cuBLASLt").
 */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <string.h>

#include "bench_util.cuh"
#include "cublaslt_gemm.cuh"

__global__ void spin_write(__nv_bfloat16 *a, size_t n, float v, long long ns)
{
    asm volatile("griddepcontrol.launch_dependents;");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < ns);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        a[i] = __float2bfloat16(v);
}

__global__ void tiny(__nv_bfloat16 *a, int n)
{
    asm volatile("griddepcontrol.launch_dependents;");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) a[i] = __float2bfloat16(__bfloat162float(a[i]) * 1.0f);
}

struct Mm {
    cublasLtHandle_t lt; cublasLtMatmulDesc_t d; cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo; void *ws; size_t wss; int M, N, K;
};

static int mm_init(Mm &m, int M, int N, int K, int which)
{
    m.M = M; m.N = N; m.K = K;
    LK(cublasLtCreate(&m.lt));
    groot_gemm_describe(M, N, K, &m.d, &m.la, &m.lb, &m.lc);
    m.wss = 32 << 20;
    CK(cudaMalloc(&m.ws, m.wss));
    cublasLtMatmulHeuristicResult_t r[8];
    const int found = groot_gemm_heuristic(m.lt, m.d, m.la, m.lb, m.lc, m.wss, r, 8);
    if (which >= found)
        return 0;
    m.algo = r[which].algo;
    return 1;
}

static void mm_run(Mm &m, const void *x, const void *w, void *y, cudaStream_t s)
{
    float one = 1, zero = 0;
    LK(cublasLtMatmul(m.lt, m.d, &one, w, m.la, x, m.lb, &zero, y, m.lc, y, m.lc, &m.algo, m.ws, m.wss, s));
}

static const char *node_name(cudaGraphNode_t n)
{
    static PFN_cuGraphKernelNodeGetParams_v12000 get;
    static PFN_cuFuncGetName_v12030 fname;
    static PFN_cuKernelGetName_v12030 kname;
    cudaDriverEntryPointQueryResult q;
    if (!get) {
        CK(cudaGetDriverEntryPointByVersion("cuGraphKernelNodeGetParams", (void **)&get, 12000, cudaEnableDefault, &q));
        CK(cudaGetDriverEntryPointByVersion("cuFuncGetName", (void **)&fname, 12030, cudaEnableDefault, &q));
        CK(cudaGetDriverEntryPointByVersion("cuKernelGetName", (void **)&kname, 12030, cudaEnableDefault, &q));
    }
    CUDA_KERNEL_NODE_PARAMS_v2 p;
    memset(&p, 0, sizeof p);
    const char *name = "?";
    if (get((CUgraphNode)n, &p) != CUDA_SUCCESS) return "?";
    if (p.func && fname) fname(&name, p.func);
    else if (p.kern && kname) kname(&name, p.kern);
    return name ? name : "?";
}

// Makes every kernel->kernel edge programmatic (prog=1) and reports names.
/* which: 0 every kernel edge, 1 only those into nvjet kernels, 2 only those out of them. */
static int make_programmatic(cudaGraph_t g, int verbose, int which)
{
    size_t ne = 0;
    CK(cudaGraphGetEdges(g, NULL, NULL, NULL, &ne));
    std::vector<cudaGraphNode_t> from(ne), to(ne);
    std::vector<cudaGraphEdgeData> ed(ne);
    CK(cudaGraphGetEdges(g, from.data(), to.data(), ed.data(), &ne));
    int changed = 0;
    for (size_t i = 0; i < ne; i++) {
        cudaGraphNodeType tf, tt;
        CK(cudaGraphNodeGetType(from[i], &tf));
        CK(cudaGraphNodeGetType(to[i], &tt));
        if (verbose)
            printf("  edge %s -> %s type %d port %d\n", tf == cudaGraphNodeTypeKernel ? node_name(from[i]) : "(non-kernel)",
                   tt == cudaGraphNodeTypeKernel ? node_name(to[i]) : "(non-kernel)", ed[i].type, ed[i].from_port);
        if (tf != cudaGraphNodeTypeKernel || tt != cudaGraphNodeTypeKernel || ed[i].type != 0)
            continue;
        if (which == 1 && strncmp(node_name(to[i]), "nvjet", 5) != 0)
            continue;
        if (which == 2 && strncmp(node_name(from[i]), "nvjet", 5) != 0)
            continue;
        CK(cudaGraphRemoveDependencies(g, &from[i], &to[i], &ed[i], 1));
        cudaGraphEdgeData e = {};
        e.from_port = cudaGraphKernelNodePortProgrammatic;
        e.type = cudaGraphDependencyTypeProgrammatic;
        CK(cudaGraphAddDependencies(g, &from[i], &to[i], &e, 1));
        changed++;
    }
    return changed;
}

int main(int argc, char **argv)
{
    int M = 256, N = 4304, K = 1152, algos = 3;
    if (argc >= 4) {
        M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]);
        if (argc >= 5)
            algos = atoi(argv[4]);
        if (M < 1 || N < 1 || K < 1 || K > 8192 || algos < 1 || algos > 8) {
            printf("usage: cublas_pdl_probe [M N K [ALGOS]] (K <= 8192, so that K ones sum exactly; ALGOS <= 8)\n");
            return 2;
        }
    }
    printf("shape M=%d N=%d K=%d bf16, %d heuristic algorithms\n", M, N, K, algos);
    CK(cudaFree(0));
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    __nv_bfloat16 *x, *w, *y, *x2;
    CK(cudaMalloc(&x, (size_t)M * K * 2));
    CK(cudaMalloc(&x2, (size_t)M * K * 2));
    CK(cudaMalloc(&w, (size_t)N * K * 2));
    CK(cudaMalloc(&y, (size_t)M * N * 2));
    std::vector<__nv_bfloat16> h((size_t)N * K, __float2bfloat16(1.0f));
    CK(cudaMemcpy(w, h.data(), (size_t)N * K * 2, cudaMemcpyHostToDevice));

    /* K ones sum exactly in float32; the output is that sum rounded to bf16. */
    const float want = __bfloat162float(__float2bfloat16((float)K));
    for (int which = 0; which < algos; which++) {
        Mm m;
        if (!mm_init(m, M, N, K, which))
            break;
        for (int prog = 0; prog < 2; prog++) {
            CK(cudaMemset(x, 0, (size_t)M * K * 2));
            CK(cudaMemset(y, 0, (size_t)M * N * 2));
            CK(cudaStreamSynchronize(s));
            cudaGraph_t g;
            CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
            spin_write<<<132, 256, 0, s>>>(x, (size_t)M * K, 1.0f, 50000);
            mm_run(m, x, w, y, s);
            CK(cudaStreamEndCapture(s, &g));
            int ch = prog ? make_programmatic(g, 1, 1) : 0;
            cudaGraphExec_t ge;
            CK(cudaGraphInstantiate(&ge, g, 0));
            CK(cudaGraphLaunch(ge, s));
            CK(cudaStreamSynchronize(s));
            std::vector<__nv_bfloat16> hy((size_t)M * N);
            CK(cudaMemcpy(hy.data(), y, hy.size() * 2, cudaMemcpyDeviceToHost));
            size_t bad = 0;
            for (size_t i = 0; i < hy.size(); i++)
                if (__bfloat162float(hy[i]) != want) bad++;
            printf("algo#%d prog=%d changed=%d: %zu of %zu outputs != K (%s)\n", which, prog, ch, bad, hy.size(),
                   bad ? "DOES NOT WAIT" : "waits");
            CK(cudaGraphExecDestroy(ge));
            CK(cudaGraphDestroy(g));
        }
        // Timing: chain of 40 x (tiny -> matmul), normal vs programmatic into nvjet, and all.
        for (int mode = 0; mode < 4; mode++) {
            cudaGraph_t g;
            CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
            for (int i = 0; i < 40; i++) {
                tiny<<<(M * K + 255) / 256, 256, 0, s>>>(x2, M * K);
                mm_run(m, x2, w, y, s);
            }
            CK(cudaStreamEndCapture(s, &g));
            int ch = mode == 0 ? 0 : make_programmatic(g, 0, mode == 1 ? 1 : mode == 2 ? 0 : 2);
            cudaGraphExec_t ge;
            CK(cudaGraphInstantiate(&ge, g, 0));
            cudaEvent_t a, b;
            CK(cudaEventCreate(&a));
            CK(cudaEventCreate(&b));
            float best = 1e9, v[15];
            for (int r = 0; r < 15; r++) {
                CK(cudaEventRecord(a, s));
                CK(cudaGraphLaunch(ge, s));
                CK(cudaEventRecord(b, s));
                CK(cudaEventSynchronize(b));
                CK(cudaEventElapsedTime(&v[r], a, b));
                if (r >= 3 && v[r] < best) best = v[r];
            }
            std::sort(v + 3, v + 15);
            printf("algo#%d timing mode %d (%s) changed %d: median %.2f us per pair, min %.2f\n", which, mode,
                   mode == 0 ? "normal" : mode == 1 ? "into nvjet" : mode == 2 ? "all kernel edges" : "out of nvjet", ch, v[9] * 1000 / 40,
                   best * 1000 / 40);
            CK(cudaGraphExecDestroy(ge));
            CK(cudaGraphDestroy(g));
        }
    }
    return 0;
}
