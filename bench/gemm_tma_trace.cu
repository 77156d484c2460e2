/*
 * Where the time of one Hopper GEMM goes (src/backend/cuda/gemm_tma.cu):
 * builds that kernel with per-CTA timestamps and, for the model's GEMM
 * shapes, prints
 *  - the kernel alone after an L2 flush (CUDA events around one launch);
 *  - a chain of launches over distinct weight copies (as in a call: each
 *    GEMM's weights come from DRAM), with and without programmatic
 *    dependent launch, in a CUDA graph: microseconds per GEMM;
 * *  - per CTA (median and max over CTAs, in SM
 *    cycles from the CTA's entry): weights requested, previous kernel done
 *    (griddepcontrol.wait), first and last stage landed, last wgmma done,
 *    tail reached (previous kernel done), every rank of the cluster started,
 *    epilogue done, exit; and the spread of CTA entry times (ns);
 * for the last GEMM of the PDL chain and for the flushed launch alone.
 *
 * Built as tests/gemm_tma_trace with the CUDA backend (tests/cuda.cmake);
 * usage: gemm_tma_trace [SHAPE INDEX], or gemm_tma_trace M N K ACT RESIDUAL
 * CFG SPLITS for a shape and configuration of one's own. What it showed is
 * in BENCHMARKS.md ("Hopper GEMM").
 */
#include "../src/backend/cuda/gemm_tma.cu"

#include "bench_util.cuh"

struct shape {
    const char *name;
    int64_t m, n, k;
    int act, residual;
    int cfg, splits;
};

/* One launch's stamps, GRK_TMA_TRACE_SLOTS per CTA. */
typedef std::vector<long long> trace;

static cudaError_t read_trace(trace &tr, int ctas)
{
    tr.assign((size_t)GRK_TMA_TRACE * GRK_TMA_TRACE_SLOTS, 0);
    return cudaMemcpyFromSymbol(tr.data(), g_tma_trace,
                                sizeof(long long) * GRK_TMA_TRACE_SLOTS * std::min(ctas, GRK_TMA_TRACE));
}

/* Slot 0 is a CTA's entry (clock64); 1-9 the points below; 10 and 11 its
 * entry and exit in %globaltimer nanoseconds. */
static void print_trace(const char *label, const trace &tr, int ctas)
{
    const char *names[] = {"weights requested", "pdl wait passed", "first stage", "last stage", "wgmma done",
                           "tail: pdl wait", "ranks started", "epilogue done", "exit"};
    const int n = std::min(ctas, GRK_TMA_TRACE), S = GRK_TMA_TRACE_SLOTS;
    long long gt0 = tr[10], gt1 = tr[11], gmax0 = tr[10];
    for (int b = 0; b < n; b++) {
        gt0 = std::min(gt0, tr[b * S + 10]);
        gmax0 = std::max(gmax0, tr[b * S + 10]);
        gt1 = std::max(gt1, tr[b * S + 11]);
    }
    printf("  %s\n    CTA entries spread over %lld ns, first entry to last exit %lld ns; cycles from entry "
           "(median / max):",
           label, gmax0 - gt0, gt1 - gt0);
    for (int j = 0; j < 9; j++) {
        const int slot = j + 1;
        std::vector<double> v;
        double mx = 0;
        for (int b = 0; b < n; b++) {
            /* consumer stamps (3-5) exist only where the CTA had K to do */
            if (slot >= 3 && slot <= 5 && tr[b * S + slot] == 0)
                continue;
            const double d = (double)(tr[b * S + slot] - tr[b * S]);
            v.push_back(d);
            mx = std::max(mx, d);
        }
        printf("%s%s %.0f / %.0f", j % 3 == 0 ? "\n      " : "; ", names[j], median(v), mx);
    }
    printf("\n");
}

static int run_shape(void *enc, const shape &sh, unsigned char *flush, size_t flush_bytes)
{
    const int copies = (int)std::max<int64_t>(4, (int64_t)(400 << 20) / (sh.n * sh.k * 2)); /* > L2 */
    const int chain = 32;
    uint16_t *x, *w;
    float *bias;
    uint16_t *y;
    CK(cudaMalloc(&x, sh.m * sh.k * 2));
    CK(cudaMalloc(&w, (size_t)copies * sh.n * sh.k * 2));
    CK(cudaMalloc(&bias, sh.n * 4));
    CK(cudaMalloc(&y, sh.m * sh.n * 2));
    fill_bf16<<<1024, 256>>>((__nv_bfloat16 *)x, sh.m * sh.k, 1, 0.05f);
    fill_bf16<<<1024, 256>>>((__nv_bfloat16 *)w, (int64_t)copies * sh.n * sh.k, 2, 0.05f);
    CK(cudaMemset(bias, 0, sh.n * 4));
    CK(cudaMemset(y, 0, sh.m * sh.n * 2));
    CK(cudaDeviceSynchronize());

    grk_gemm_args a = {};
    a.x = x;
    a.ldx = sh.k;
    a.ab_dt = GRK_BF16;
    a.bias = bias;
    a.act = sh.act;
    a.res = sh.residual ? y : NULL;
    a.ldr = sh.n;
    a.y = y;
    a.ldy = sh.n;
    a.y_dt = GRK_BF16;
    a.m = sh.m;
    a.n = sh.n;
    a.k = sh.k;
    a.ldw = sh.k;

    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));

    /* One launch after an L2 flush, several times. */
    std::vector<double> alone;
    trace tr_alone(GRK_TMA_TRACE * GRK_TMA_TRACE_SLOTS, 0), tr_chain;
    CK(cudaMemcpyToSymbol(g_tma_trace, tr_alone.data(), sizeof(long long) * tr_alone.size()));
    const int ctas = (int)(((sh.n + grk_gemm_tma_bn(sh.cfg) - 1) / grk_gemm_tma_bn(sh.cfg)) *
                           ((sh.m + 63) / 64) * sh.splits);
    for (int rep = 0; rep < 9; rep++) {
        a.w = w + (size_t)(rep % copies) * sh.n * sh.k;
        flush_l2(flush, flush_bytes, s);
        CK(cudaEventRecord(e0, s));
        CK(grk_gemm_tma(enc, &a, sh.cfg, sh.splits, s));
        CK(cudaEventRecord(e1, s));
        CK(cudaStreamSynchronize(s));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        alone.push_back(ms * 1000.0);
    }
    CK(read_trace(tr_alone, ctas));

    /* Chains in a graph, weights from DRAM. */
    double chain_us[2];
    for (int pdl = 0; pdl < 2; pdl++) {
        cudaGraph_t g;
        cudaGraphExec_t ge;
        CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
        for (int i = 0; i < chain; i++) {
            a.w = w + (size_t)(i % copies) * sh.n * sh.k;
            CK(gemm_tma_launch(enc, &a, sh.cfg, sh.splits, pdl, s));
        }
        CK(cudaStreamEndCapture(s, &g));
        CK(cudaGraphInstantiate(&ge, g, 0));
        chain_us[pdl] = replay_us(ge, s, chain, 7, 0, [&] { flush_l2(flush, flush_bytes, s); });
        if (pdl) /* the last GEMM of the chain's last replay */
            CK(read_trace(tr_chain, ctas));
        CK(cudaGraphExecDestroy(ge));
        CK(cudaGraphDestroy(g));
    }

    printf("%-22s %5lldx%5lldx%5lld cfg %d (BN %3d) split %d: %4d CTAs | alone %6.2f us | chain %6.2f us/GEMM, "
           "PDL %6.2f (weights %.1f MB: %.2f TB/s)\n",
           sh.name, (long long)sh.m, (long long)sh.n, (long long)sh.k, sh.cfg, grk_gemm_tma_bn(sh.cfg), sh.splits,
           ctas, median(alone), chain_us[0], chain_us[1], sh.n * sh.k * 2 / 1e6,
           sh.n * sh.k * 2 / (chain_us[1] * 1e-6) / 1e12);

    print_trace("last GEMM of a PDL chain:", tr_chain, ctas);
    print_trace("alone, after an L2 flush:", tr_alone, ctas);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaFree(x);
    cudaFree(w);
    cudaFree(bias);
    cudaFree(y);
    cudaStreamDestroy(s);
    return 0;
}

int main(int argc, char **argv)
{
    void *enc = grk_gemm_tma_encoder();
    if (!enc) {
        fprintf(stderr, "no cuTensorMapEncodeTiled\n");
        return 1;
    }
    const size_t flush_bytes = 256 << 20;
    unsigned char *flush;
    CK(cudaMalloc(&flush, flush_bytes));
    const shape shapes[] = {
        {"dit q/o", 49, 1536, 1536, 0, 0, 0, 4},
        {"dit q/o", 49, 1536, 1536, 0, 0, 0, 2},
        {"dit q/o", 49, 1536, 1536, 0, 0, 0, 1},
        {"dit qkv", 49, 4608, 1536, 0, 0, 0, 2},
        {"dit ff1 gelu", 49, 6144, 1536, 1, 0, 0, 1},
        {"dit ff1 gelu", 49, 6144, 1536, 1, 0, 1, 2},
        {"dit ff2 +res", 49, 1536, 6144, 0, 1, 0, 4},
        {"dit ff2 +res", 49, 1536, 6144, 0, 1, 0, 8},
        {"dit ff2 +res", 49, 1536, 6144, 0, 1, 1, 8},
        {"vit fc1 gelu", 256, 4304, 1152, 1, 0, 1, 1},
        {"vit fc1 gelu", 256, 4304, 1152, 1, 0, 0, 1},
        {"llm gate/up", 304, 12288, 2048, 0, 0, 1, 1},
    };
    if (argc == 8) {
        const shape own = {"(given)", atoll(argv[1]), atoll(argv[2]), atoll(argv[3]), atoi(argv[4]),
                           atoi(argv[5]), atoi(argv[6]), atoi(argv[7])};
        if (own.m < 1 || own.n < 8 || own.k < 8 || own.cfg < 0 || own.cfg >= grk_gemm_tma_configs() ||
            own.splits < 1 || own.splits > 8) {
            fprintf(stderr, "usage: gemm_tma_trace M N K ACT RESIDUAL CFG(0-%d) SPLITS(1-8)\n",
                    grk_gemm_tma_configs() - 1);
            return 2;
        }
        return run_shape(enc, own, flush, flush_bytes);
    }
    int only = argc > 1 ? atoi(argv[1]) : -1;
    for (int i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); i++)
        if (only < 0 || only == i)
            if (run_shape(enc, shapes[i], flush, flush_bytes))
                return 1;
    return 0;
}
