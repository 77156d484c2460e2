/*
 * Where the time of the tensor-core attention (src/backend/cuda/attention.cu)
 * goes on the model's attention calls, q/k/v strided views of one fused qkv
 * buffer as the model makes them. For each call it prints, in microseconds
 * per launch of a chain of launches in a CUDA graph:
 *  - the block shape choose_tc picks, as programmatic dependents (as in the
 *    action head's chain), with per-block timestamps of the chain's last
 *    launch (cycles from a block's entry: wait passed, loads issued, first
 *    stage landed, keys done, key warps merged, exit);
 *  - the same as plain launches, and with its copies not through L1;
 *  - every block shape choose_tc considers, and the best of them;
 * and, for scale, a chain of kernels that only wait and release.
 *
 * Built as tests/attention_sweep with the CUDA backend (tests/cuda.cmake);
 * usage: attention_sweep [CHAIN LENGTH (32)].
 */
#define GRK_ATT_TRACE 4096
#include "../src/backend/cuda/attention.cu"

#include "bench_util.cuh"

struct att_shape {
    const char *name;
    int lq, lk, heads, kv_heads, d, causal;
};

__global__ void empty_kernel(int x)
{
    grk_pdl_wait();
    grk_pdl_release();
}

/* The last launch's stamps: median / max over blocks of each point, in
 * cycles from the block's entry, and the entries' spread in ns. */
static int print_trace(long blocks)
{
    const int n = (int)std::min<long>(blocks, GRK_ATT_TRACE), S = GRK_ATT_TRACE_SLOTS;
    std::vector<long long> tr((size_t)n * S);
    CK(cudaMemcpyFromSymbol(tr.data(), g_att_trace, sizeof(long long) * tr.size()));
    const char *names[] = {"wait passed", "first stage", "keys done", "merged", "exit", "", "", "issued"};
    long long g0 = tr[6], g0max = tr[6], g1 = tr[7];
    for (int b = 0; b < n; b++) {
        g0 = std::min(g0, tr[b * S + 6]);
        g0max = std::max(g0max, tr[b * S + 6]);
        g1 = std::max(g1, tr[b * S + 7]);
    }
    printf("    trace: entries spread %lld ns, first entry to last exit %lld ns; cycles from entry (median/max):",
           g0max - g0, g1 - g0);
    for (int j = 0; j < 8; j++) {
        if (j == 5 || j == 6)
            continue;
        std::vector<double> v;
        double mx = 0;
        for (int b = 0; b < n; b++) {
            const double d = (double)(tr[b * S + 1 + j] - tr[b * S]);
            v.push_back(d);
            mx = std::max(mx, d);
        }
        printf(" %s %.0f/%.0f;", names[j], median(v), mx);
    }
    printf("\n");
    return 0;
}

/* Microseconds per launch of `launch` repeated `chain` times in a graph. */
template <typename F> static int time_chain(cudaStream_t s, int chain, F launch, double *us)
{
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < chain; i++)
        CK(launch());
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    *us = replay_us(ge, s, chain, 15, 3, [] {});
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    return 0;
}

int main(int argc, char **argv)
{
    const int chain = argc > 1 ? atoi(argv[1]) : 32;
    const att_shape shapes[] = {
        {"vit 256x256 h16 d72", 256, 256, 16, 16, 72, 0},
        {"llm 294x294 h16/8 d128 causal", 294, 294, 16, 8, 128, 1},
        {"vl 294x294 h32 d64", 294, 294, 32, 32, 64, 0},
        {"dit cross 49x294 h32 d48", 49, 294, 32, 32, 48, 0},
        {"dit self 49x49 h32 d48", 49, 49, 32, 32, 48, 0},
    };
    int num_sms = 0;
    CK(cudaDeviceGetAttribute(&num_sms, cudaDevAttrMultiProcessorCount, 0));
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    grk_stream gs = {s, 1, {NULL, 0}};

    double empty_us;
    if (time_chain(s, chain, [&]() { return grk_launch(empty_kernel, dim3(128), dim3(256), 0, gs, 0); }, &empty_us))
        return 1;
    printf("empty kernel (128 blocks, PDL): %.2f us a launch\n", empty_us);

    for (const att_shape &sh : shapes) {
        const int dq = sh.heads * sh.d, dkv = sh.kv_heads * sh.d, ld = dq + 2 * dkv;
        const int rows = sh.lq > sh.lk ? sh.lq : sh.lk;
        __nv_bfloat16 *qkv, *out;
        CK(cudaMalloc(&qkv, (size_t)rows * ld * 2));
        CK(cudaMalloc(&out, (size_t)sh.lq * dq * 2));
        fill_bf16<<<256, 256>>>(qkv, (int64_t)rows * ld, 7, 1.0f);
        CK(cudaDeviceSynchronize());
        grk_mat q = {qkv, GRK_BF16, ld}, k = {qkv + dq, GRK_BF16, ld}, v = {qkv + dq + dkv, GRK_BF16, ld};
        grk_mat o = {out, GRK_BF16, dq};
        const float sl2 = kLog2e / sqrtf((float)sh.d);
        tc_args a = tc_prepare(q, k, v, o, sh.lq, sh.lk, NULL, sh.heads / sh.kv_heads, sh.d, sh.causal, sl2);
        grk_spans one{};
        one.count = 1;
        one.qn[0] = sh.lq;
        one.kn[0] = sh.lk;
        const tc_cfg chosen = choose_tc(sh.lq, sh.lk, sh.heads, sh.heads / sh.kv_heads, sh.d, sh.causal, num_sms);
        /* The chosen shape launched as given: microseconds a launch, and
         * the last launch's timestamps when traced. */
        auto run = [&](const char *label, const tc_args &args, grk_stream st, bool trace) {
            double us = -1.0;
            time_chain(s, chain, [&]() { return launch_tc<__nv_bfloat16>(args, one, sh.heads, chosen, num_sms, st); },
                       &us);
            printf("  %s: %.2f us\n", label, us);
            if (trace)
                print_trace(tc_blocks(sh.lq, sh.heads, chosen));
            return us;
        };
        printf("%s: chosen nw %d hpc %d wr %d wk %d\n", sh.name, chosen.nw, chosen.hpc, chosen.wr, chosen.wk);
        const double us_chosen = run("as programmatic dependents", a, gs, true);
        /* The same launches without the programmatic attribute: each block
         * starts once the kernel before has finished. */
        grk_stream plain = gs;
        plain.pdl = 0;
        run("plain launches", a, plain, true);
        tc_args a_cg = a;
        a_cg.l1 = 0;
        run("copies not through L1", a_cg, gs, false);
        double best = 1e30;
        tc_cfg bestc = chosen;
        const int nws[3] = {2, 4, 8};
        for (int ni = 0; ni < 3; ni++)
            for (int wr = 1; wr <= nws[ni]; wr *= 2)
                for (int hpc = 1; hpc <= wr; hpc *= 2) {
                    const int group = sh.heads / sh.kv_heads;
                    if (wr % hpc || group % hpc)
                        continue;
                    tc_cfg c = {nws[ni], hpc, wr, nws[ni] / wr, 0};
                    const int dp = pad16(sh.d);
                    const long blocks = tc_blocks(sh.lq, sh.heads, c);
                    if (tc_smem(dp, c.wr, c.wk, tc_stages(dp, c, sh.lk, blocks, num_sms)) > 227 * 1024)
                        continue;
                    double us;
                    if (time_chain(s, chain,
                                   [&]() { return launch_tc<__nv_bfloat16>(a, one, sh.heads, c, num_sms, gs); }, &us))
                        return 1;
                    printf("    nw %d hpc %d wr %d wk %d blocks %ld: %.2f us\n", c.nw, c.hpc, c.wr, c.wk, blocks, us);
                    if (us < best) {
                        best = us;
                        bestc = c;
                    }
                }
        printf("  best nw %d hpc %d wr %d wk %d: %.2f us (chosen %.2f, empty %.2f)\n", bestc.nw, bestc.hpc, bestc.wr,
               bestc.wk, best, us_chosen, empty_us);
        cudaFree(qkv);
        cudaFree(out);
    }
    return 0;
}
