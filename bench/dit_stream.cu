/*
 * One DiT step's 64 GEMMs as one persistent kernel, against the same 64
 * GEMMs as today's chain of Hopper-GEMM launches (src/backend/cuda/gemm_tma.cu).
 *
 * The question it answers: how much of a DiT step's time is the boundary
 * between kernels. A step is 16 blocks of (q or qkv, o, ff1 + GELU, ff2)
 * at 49 rows, ~850 MB of weights; as separate launches each GEMM refills
 * its pipeline and DRAM idles while one GEMM drains and the next starts.
 * Here one CTA per SM walks all 64 GEMMs: a producer warp streams the
 * CTA's weight tiles for the whole step into a ring without waiting for
 * anything (weights never depend on activations), so DRAM keeps streaming
 * across every boundary; a second warp loads the activation tiles once
 * the tiles of the previous GEMM they depend on are complete; the work of
 * each GEMM is split over the CTAs stream-K style (its tiles x K blocks,
 * flattened, cut into equal ranges), partial sums meet in float32 in
 * global memory (red.add), and the CTA that completes a tile applies bias
 * and activation, stores it and raises the tile's flag.
 *
 * The chain feeds each GEMM's output to the next (o reads q's, or the
 * first 1536 columns of qkv's; ff1 reads o's; ff2 reads ff1's; the next
 * block's q reads ff2's), so every boundary carries the real dependency;
 * attention, norms and residuals are left out of both sides alike. Every
 * output of both sides is checked against a plain reference kernel.
 *
 * Roles in a CTA: warp 4 streams weights, warp 5 activations, warps 0-3
 * issue the wgmmas and stage each finished partial tile in shared memory,
 * warp 6 adds the staged partials into the sums (red.add.v4) and, where
 * its CTA completes a tile, finishes it. Per-CTA timestamps show where a
 * launch's time goes.
 *
 * Built as tests/dit_stream (tests/cuda.cmake); usage: dit_stream [WS AS
 * [POLL_NS [NODEP [DEBUG]]]]: ring depths in 8 KB stages (weights,
 * activations), the flag poll's sleep, NODEP 1 to drop the dependencies
 * (every GEMM reads the input; outputs not checked), DEBUG the timing-only
 * bits of ds_params.debug. Not a test. What it showed: BENCHMARKS.md, "One
 * DiT step's GEMMs as one persistent kernel".
 */
#include "../src/backend/cuda/gemm_tma.cu"

#include "bench_util.cuh"

#include <math.h>

namespace {

const int kMaxGemms = 64;
const int kStreamThreads = 224; /* warps 0-3 MMA, 4 weight producer, 5 activation producer, 6 reducer */
const int kTile = 64 * 64 * 2;  /* one 64 x 64 16-bit box */
const int kMaxIters = 1024;     /* stamped iterations per CTA */

struct ds_gemm {
    int n, k, act, src; /* src: the GEMM whose output is this one's A (-1: the input) */
    int wmap, wrow;     /* weight: which map (by K), first row in it */
    int aplane;         /* A: plane of the activation map (the source's output, or the input's) */
    const float *bias;
    __nv_bfloat16 *y;   /* [m, n], rows ldy apart */
    float *acc;         /* [m, n], rows ldy apart: partial sums, zero between launches */
    unsigned *count;    /* [n / 64] K blocks summed into each tile */
    unsigned *flag;     /* [n / 64] the epoch of the launch that completed it */
};

struct ds_params {
    /* Three maps for the whole step: weights of one K stacked in one
     * arena each, and every GEMM's output (and the input) a plane [m, ldy]
     * of one 3-D map. (A map per GEMM measured no different.) */
    CUtensorMap wmap[2]; /* [rows, 1536] and [rows, 6144], boxes 64 x 64 */
    CUtensorMap amap;    /* [planes, m, ldy], boxes 64 x 64 x 1 (rows past m read as zeros) */
    int ldy;
    ds_gemm g[kMaxGemms];
    int count, m;
    unsigned epoch;
    int poll_ns; /* the activation warp's sleep between polls of the flags */
    int debug; /* timing only: 1 skips the partial sums' red.add, 4 the A loads, 16 the cooperative
                  attribute, 128 the consumers (weight stages handed straight back) */
    long long *stamps; /* [ctas][kMaxGemms][2]: A ready, GEMM done (ns) */
    long long *iters;  /* [ctas][kMaxIters][3]: W issued, W seen landed, A seen landed (ns) */
    long long *red;    /* [ctas][6]: the reducer on its last segment of GEMM 1 (ns) */
};

__device__ __forceinline__ void range_of(int iters, int c, int ctas, int &i0, int &i1)
{
    i0 = (int)((long long)iters * c / ctas);
    i1 = (int)((long long)iters * (c + 1) / ctas);
}

__device__ __forceinline__ unsigned ld_relaxed(const unsigned *p)
{
    unsigned v;
    asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ void st_release(unsigned *p, unsigned v)
{
    asm volatile("st.release.gpu.global.u32 [%0], %1;\n" ::"l"(p), "r"(v) : "memory");
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ void tma_load3(void *dst, const CUtensorMap *map, uint64_t *bar, int c0, int c1, int c2)
{
    asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], "
                 "[%2];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "r"(c2)
                 : "memory");
}
#endif

/* Four float32 sums added in L2, no value returned. */
__device__ __forceinline__ void red_add4(float *p, float4 v)
{
    asm volatile("red.relaxed.gpu.global.add.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"l"(p), "f"(v.x), "f"(v.y), "f"(v.z),
                 "f"(v.w)
                 : "memory");
}

/* A CTA's work in GEMM g, cut at tile boundaries: segment (t, first K
 * block, K blocks). Every role walks the same sequence. */
struct segment_walk {
    int kb, i, i1;
    __device__ segment_walk(const ds_gemm &G, int c, int ctas)
    {
        kb = G.k / 64;
        range_of((G.n / 64) * kb, c, ctas, i, i1);
    }
    __device__ bool next(int &t, int &k0, int &len)
    {
        if (i >= i1)
            return false;
        t = i / kb;
        k0 = i % kb;
        len = min(kb - k0, i1 - i);
        i += len;
        return true;
    }
};

const int kStageLd = 64 + 4; /* floats per row of a staged partial tile */
const int kMaxPer = 64 * 16 / 32; /* float4s of a tile per reducer lane, at most */

template <int WS, int AS>
__global__ void __launch_bounds__(kStreamThreads, 1) dit_stream_kernel(const __grid_constant__ ds_params p)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char smem_raw[];
    unsigned char *sm = (unsigned char *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    unsigned char *ring_w = sm, *ring_a = sm + WS * kTile;
    float *staged = (float *)(ring_a + AS * kTile); /* [2][64][kStageLd] */
    uint64_t *full_w = (uint64_t *)(staged + 2 * 64 * kStageLd), *empty_w = full_w + WS;
    uint64_t *full_a = empty_w + WS, *empty_a = full_a + AS;
    uint64_t *staged_full = empty_a + AS, *staged_empty = staged_full + 2;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int c = blockIdx.x, ctas = gridDim.x;

    if (tid == 0) {
        for (int s = 0; s < WS; s++) {
            mbar_init(&full_w[s], 1);
            mbar_init(&empty_w[s], 4);
        }
        for (int s = 0; s < AS; s++) {
            mbar_init(&full_a[s], 1);
            mbar_init(&empty_a[s], 4);
        }
        for (int b = 0; b < 2; b++) {
            mbar_init(&staged_full[b], 128);
            mbar_init(&staged_empty[b], 1);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (p.debug & 128) { /* timing only: no consumers; weight stages handed straight back */
        if (tid == 0) {
            int total = 0;
            for (int g = 0; g < p.count; g++) {
                int i0, i1;
                range_of((p.g[g].n / 64) * (p.g[g].k / 64), c, ctas, i0, i1);
                total += i1 - i0;
            }
            for (int i = 0; i < total; i++) {
                mbar_wait(&full_w[i % WS], (i / WS) & 1);
                for (int a = 0; a < 4; a++)
                    mbar_arrive(&empty_w[i % WS]);
            }
        }
        if (warp != 4)
            return;
    }

    if (warp == 4) {
        /* Weights: the whole step's share, in order, as fast as the ring frees. */
        if (lane == 0) {
            int q = 0;
            for (int g = 0; g < p.count; g++) {
                segment_walk sw(p.g[g], c, ctas);
                int t, k0, len;
                while (sw.next(t, k0, len)) {
                    for (int k = k0; k < k0 + len; k++, q++) {
                        const int s = q % WS;
                        if (q >= WS)
                            mbar_wait(&empty_w[s], ((q / WS) + 1) & 1);
                        if (p.iters && q < kMaxIters)
                            p.iters[((long long)c * kMaxIters + q) * 3] = grk_global_ns();
                        mbar_expect_tx(&full_w[s], kTile);
                        tma_load(ring_w + s * kTile, &p.wmap[p.g[g].wmap], &full_w[s], k * 64, p.g[g].wrow + t * 64);
                    }
                }
            }
        }
    } else if (warp == 5) {
        /* Activations: once every tile of the source GEMM this CTA's range
         * reads is complete (the warp polls those flags together). */
        int q = 0;
        for (int g = 0; g < p.count; g++) {
            const int kb = p.g[g].k / 64, it = (p.g[g].n / 64) * kb;
            int i0, i1;
            range_of(it, c, ctas, i0, i1);
            const int src = p.g[g].src;
            if (src >= 0 && i1 > i0) {
                /* K blocks read: a range of one tile, or the end of one and the start of the next (or all) */
                const int t0 = i0 / kb, t1 = (i1 - 1) / kb, e0 = i0 % kb, e1 = (i1 - 1) % kb;
                const unsigned *fl = p.g[src].flag;
                for (;;) {
                    bool ok = true;
                    for (int j = lane; j < kb; j += 32) {
                        const bool need = t0 == t1 ? (j >= e0 && j <= e1) : (t1 - t0 > 1 || j <= e1 || j >= e0);
                        if (need && ld_relaxed(fl + j) < p.epoch)
                            ok = false;
                    }
                    if (__all_sync(0xffffffffu, ok))
                        break;
                    __nanosleep(p.poll_ns);
                }
                asm volatile("fence.acq_rel.gpu;\n" ::: "memory");
                asm volatile("fence.proxy.async.global;\n" ::: "memory");
            }
            if (lane == 0 && p.stamps)
                p.stamps[((long long)c * kMaxGemms + g) * 2] = grk_global_ns();
            if (lane == 0 && !(p.debug & 4)) {
                for (int i = i0; i < i1; i++, q++) {
                    const int s = q % AS;
                    if (q >= AS)
                        mbar_wait(&empty_a[s], ((q / AS) + 1) & 1);
                    mbar_expect_tx(&full_a[s], kTile);
                    tma_load3(ring_a + s * kTile, &p.amap, &full_a[s], (i % kb) * 64, 0, p.g[g].aplane);
                }
            }
            q = __shfl_sync(0xffffffffu, q, 0);
        }
    } else if (warp == 6) {
        /* Reducer: each staged partial tile into the float32 sums; the CTA
         * that completes a tile finishes it (bias, activation, bf16) and
         * raises its flag. Off the MMA warps' path, so the weight stream
         * keeps being consumed meanwhile. */
        int n_seg = 0;
        for (int g = 0; g < p.count; g++) {
            const ds_gemm &G = p.g[g];
            segment_walk sw(G, c, ctas);
            int t, k0, len;
            while (sw.next(t, k0, len)) {
                const int b = n_seg & 1;
                const bool stamp = p.red && lane == 0 && g == 1; /* its last segment's stamps stay */
                long long *rs = p.red ? p.red + (long long)c * 6 : NULL;
                mbar_wait(&staged_full[b], (n_seg >> 1) & 1);
                if (stamp)
                    rs[0] = grk_global_ns();
                const float *st = staged + b * 64 * kStageLd;
                for (int e = lane; e < p.m * 16; e += 32) {
                    const int row = e >> 4, col = (e & 15) * 4;
                    const float4 v = *(const float4 *)(st + row * kStageLd + col);
                    if (!(p.debug & 1))
                        red_add4(G.acc + (int64_t)row * p.ldy + t * 64 + col, v);
                }
                __syncwarp();
                if (lane == 0)
                    mbar_arrive(&staged_empty[b]);
                n_seg++;
                if (stamp)
                    rs[1] = grk_global_ns();
                __threadfence();
                __syncwarp();
                if (stamp)
                    rs[2] = grk_global_ns();
                unsigned done = 0;
                if (lane == 0)
                    done = atomicAdd(G.count + t, (unsigned)len) + len == (unsigned)sw.kb;
                done = __shfl_sync(0xffffffffu, done, 0);
                if (stamp)
                    rs[3] = grk_global_ns();
                if (!done)
                    continue;
                __threadfence();
                /* All of this lane's sums requested before any is used: one
                 * L2 round trip, not one per element. */
                float4 v[kMaxPer];
                /* a lane's columns are the same in every row it finishes */
                const float4 bb = __ldg((const float4 *)(G.bias + t * 64 + (lane & 15) * 4));
#pragma unroll
                for (int u = 0; u < kMaxPer; u++) {
                    const int e = lane + 32 * u, row = e >> 4, col = (e & 15) * 4;
                    if (row < p.m)
                        v[u] = __ldcg((const float4 *)(G.acc + (int64_t)row * p.ldy + t * 64 + col));
                }
#pragma unroll
                for (int u = 0; u < kMaxPer; u++) {
                    const int e = lane + 32 * u, row = e >> 4, col = (e & 15) * 4;
                    if (row >= p.m)
                        continue;
                    float *a = G.acc + (int64_t)row * p.ldy + t * 64 + col;
                    __stcg((float4 *)a, make_float4(0.0f, 0.0f, 0.0f, 0.0f));
                    float4 x = v[u];
                    x.x += bb.x;
                    x.y += bb.y;
                    x.z += bb.z;
                    x.w += bb.w;
                    if (G.act) {
                        x.x = tail_act(1, x.x);
                        x.y = tail_act(1, x.y);
                        x.z = tail_act(1, x.z);
                        x.w = tail_act(1, x.w);
                    }
                    __nv_bfloat162 *y = (__nv_bfloat162 *)(G.y + (int64_t)row * p.ldy + t * 64 + col);
                    y[0] = __floats2bfloat162_rn(x.x, x.y);
                    y[1] = __floats2bfloat162_rn(x.z, x.w);
                }
                asm volatile("fence.proxy.async.global;\n" ::: "memory");
                __threadfence();
                __syncwarp();
                if (stamp)
                    rs[4] = grk_global_ns();
                if (lane == 0) {
                    G.count[t] = 0;
                    st_release(G.flag + t, p.epoch);
                }
                if (stamp)
                    rs[5] = grk_global_ns();
            }
        }
    } else {
        /* MMA warpgroup: one segment at a time, one wgmma group in flight. */
        int q = 0, n_seg = 0;
        float acc[32];
#pragma unroll
        for (int j = 0; j < 32; j++)
            acc[j] = 0.0f;
        for (int g = 0; g < p.count; g++) {
            segment_walk sw(p.g[g], c, ctas);
            int t, k0, len;
            while (sw.next(t, k0, len)) {
                for (int k = 0; k < len; k++, q++) {
                    const int s_w = q % WS, s_a = q % AS;
                    mbar_wait(&full_w[s_w], (q / WS) & 1);
                    if (tid == 0 && p.iters && q < kMaxIters)
                        p.iters[((long long)c * kMaxIters + q) * 3 + 1] = grk_global_ns();
                    if (!(p.debug & 4))
                        mbar_wait(&full_a[s_a], (q / AS) & 1);
                    if (tid == 0 && p.iters && q < kMaxIters)
                        p.iters[((long long)c * kMaxIters + q) * 3 + 2] = grk_global_ns();
                    const uint64_t da = smem_desc(ring_a + s_a * kTile), db = smem_desc(ring_w + s_w * kTile);
                    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
                    for (int kk = 0; kk < 4; kk++)
                        wgmma_m64n64k16_bf16(acc, da + 2 * kk, db + 2 * kk, kk == 0 && k == 0);
                    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
                    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
                    __syncwarp();
                    if (lane == 0 && k > 0) {
                        mbar_arrive(&empty_w[(q - 1) % WS]);
                        mbar_arrive(&empty_a[(q - 1) % AS]);
                    }
                }
                asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
                __syncwarp();
                if (lane == 0) {
                    mbar_arrive(&empty_w[(q - 1) % WS]);
                    mbar_arrive(&empty_a[(q - 1) % AS]);
                }
                /* Stage the partial tile for the reducer. */
                const int b = n_seg & 1;
                if (n_seg >= 2)
                    mbar_wait(&staged_empty[b], ((n_seg >> 1) + 1) & 1);
                float *st = staged + b * 64 * kStageLd;
                const int r = 16 * warp + (lane >> 2), cl = 2 * (lane & 3);
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    *(float2 *)(st + r * kStageLd + 8 * j + cl) = make_float2(acc[4 * j], acc[4 * j + 1]);
                    *(float2 *)(st + (r + 8) * kStageLd + 8 * j + cl) = make_float2(acc[4 * j + 2], acc[4 * j + 3]);
                }
                mbar_arrive(&staged_full[b]);
                n_seg++;
            }
            if (tid == 0 && p.stamps)
                p.stamps[((long long)c * kMaxGemms + g) * 2 + 1] = grk_global_ns();
        }
    }
#endif
}

size_t stream_smem(int ws, int as)
{
    return 1024 + (size_t)(ws + as) * kTile + 2 * 64 * kStageLd * 4 + (2 * (ws + as) + 4) * 8;
}

template <int WS, int AS>
cudaError_t stream_launch(const ds_params &p, int ctas, cudaStream_t s)
{
    const size_t smem = stream_smem(WS, AS);
    cudaError_t e = cudaFuncSetAttribute(dit_stream_kernel<WS, AS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)smem);
    if (e != cudaSuccess)
        return e;
    cudaLaunchConfig_t lc = {};
    lc.gridDim = dim3((unsigned)ctas);
    lc.blockDim = dim3(kStreamThreads);
    lc.dynamicSmemBytes = smem;
    lc.stream = s;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeCooperative; /* every CTA resident: they wait on each other */
    at[0].val.cooperative = 1;
    lc.attrs = at;
    lc.numAttrs = p.debug & 16 ? 0 : 1;
    return cudaLaunchKernelEx(&lc, dit_stream_kernel<WS, AS>, p);
}

typedef cudaError_t (*stream_fn)(const ds_params &, int, cudaStream_t);

stream_fn pick_stream(int ws, int as)
{
    if (ws == 16 && as == 7) return stream_launch<16, 7>;
    if (ws == 15 && as == 8) return stream_launch<15, 8>;
    if (ws == 19 && as == 4) return stream_launch<19, 4>;
    if (ws == 11 && as == 12) return stream_launch<11, 12>;
    return NULL;
}

/* y = act(A W^T + b) in float32 from the 16-bit operands: the check. */
__global__ void reference_gemm(const __nv_bfloat16 *a, int64_t lda, const __nv_bfloat16 *w, const float *bias,
                               int act, __nv_bfloat16 *y, int64_t ldy, int m, int n, int k)
{
    const int col = blockIdx.x * blockDim.x + threadIdx.x, row = blockIdx.y;
    if (col >= n || row >= m)
        return;
    float s = 0.0f;
    for (int j = 0; j < k; j++)
        s += __bfloat162float(a[(int64_t)row * lda + j]) * __bfloat162float(w[(int64_t)col * k + j]);
    s += bias[col];
    if (act)
        s = 0.5f * s * (1.0f + tanhf(0.7978845608028654f * (s + 0.044715f * s * s * s)));
    y[(int64_t)row * ldy + col] = __float2bfloat16(s);
}

/* max |a - b| / max |b| over one GEMM's output. */
double rel_err(const __nv_bfloat16 *a, const __nv_bfloat16 *b, size_t n)
{
    std::vector<__nv_bfloat16> ha(n), hb(n);
    CK(cudaMemcpy(ha.data(), a, n * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hb.data(), b, n * 2, cudaMemcpyDeviceToHost));
    double d = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = __bfloat162float(ha[i]), r = __bfloat162float(hb[i]);
        if (!(fabs(x - r) <= d)) /* NaN counts */
            d = isnan(x - r) ? INFINITY : fabs(x - r);
        mx = fmax(mx, fabs(r));
    }
    return mx > 0 ? d / mx : d;
}

/* The activation planes [planes, rows, ld] as one 3-D map, boxes 64 x 64 x 1. */
CUresult encode_planes(PFN_cuTensorMapEncodeTiled_v12000 encode, CUtensorMap *map, const void *p, int64_t planes,
                       int64_t rows, int64_t ld)
{
    cuuint64_t dims[3] = {(cuuint64_t)ld, (cuuint64_t)rows, (cuuint64_t)planes};
    cuuint64_t strides[2] = {(cuuint64_t)ld * 2, (cuuint64_t)(rows * ld * 2)};
    cuuint32_t box[3] = {64, 64, 1};
    cuuint32_t estr[3] = {1, 1, 1};
    return encode(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, (void *)p, dims, strides, box, estr,
                  CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                  CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

struct chain_gemm {
    const char *name;
    int n, k, act, src, cfg, splits;
};

} // namespace

int main(int argc, char **argv)
{
    const int ws = argc > 1 ? atoi(argv[1]) : 16, as = argc > 2 ? atoi(argv[2]) : 7;
    const int poll_ns = argc > 3 ? atoi(argv[3]) : 64;
    const bool nodep = argc > 4 && atoi(argv[4]);
    const int debug = argc > 5 ? atoi(argv[5]) : 0;
    const stream_fn launch = pick_stream(ws, as);
    if (!launch || poll_ns < 0 || poll_ns > 100000) {
        fprintf(stderr, "usage: dit_stream [WS AS [POLL_NS [NODEP [DEBUG]]]]: (WS, AS) one of (16, 7), (15, 8), "
                        "(19, 4), (11, 12)\n");
        return 2;
    }
    void *enc = grk_gemm_tma_encoder();
    if (!enc) {
        fprintf(stderr, "no cuTensorMapEncodeTiled\n");
        return 1;
    }
    PFN_cuTensorMapEncodeTiled_v12000 encode = (PFN_cuTensorMapEncodeTiled_v12000)enc;
    int dev = 0, sms = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));

    /* One DiT step: 16 blocks, cross-attention (q) and self-attention
     * (qkv) alternating; each GEMM's configuration as the model's profile
     * showed it on an H100 (BENCHMARKS.md, the action head's table). */
    const int m = 49, d = 1536, ff = 6144;
    std::vector<chain_gemm> cg;
    for (int b = 0; b < 16; b++) {
        const int base = (int)cg.size();
        if (b % 2 == 0)
            cg.push_back({"q", d, d, 0, base - 1, 0, 4});
        else
            cg.push_back({"qkv", 3 * d, d, 0, base - 1, 0, 3});
        cg.push_back({"o", d, d, 0, base, 0, 4});
        cg.push_back({"ff1", ff, d, 1, base + 1, 0, 2});
        cg.push_back({"ff2", d, ff, 0, base + 2, 0, 8});
    }
    const int G = (int)cg.size();

    /* Weights: the K = 1536 ones stacked, then the K = 6144 ones. Outputs:
     * plane g of [G + 1, m, ff] (plane G: the input), so every A is a
     * plane with row stride ff. */
    const int64_t ldy = ff;
    size_t wtotal = 0, ntiles = 0, rows1536 = 0;
    for (const chain_gemm &c : cg) {
        wtotal += (size_t)c.n * c.k;
        ntiles += c.n / 64;
        rows1536 += c.k == d ? c.n : 0;
    }
    const size_t plane = (size_t)m * ldy, ytotal = plane * (G + 1);
    __nv_bfloat16 *w, *y_ref, *y_chain, *y_stream;
    float *bias, *acc;
    unsigned *counts;
    long long *stamps;
    CK(cudaMalloc(&w, wtotal * 2));
    CK(cudaMalloc(&y_ref, ytotal * 2));
    CK(cudaMalloc(&y_chain, ytotal * 2));
    CK(cudaMalloc(&y_stream, ytotal * 2));
    CK(cudaMalloc(&bias, (size_t)G * ldy * 4));
    CK(cudaMalloc(&acc, ytotal * 4));
    CK(cudaMalloc(&counts, ntiles * 2 * 4));
    CK(cudaMalloc(&stamps, (size_t)sms * kMaxGemms * 2 * 8));
    long long *iters, *red;
    CK(cudaMalloc(&iters, (size_t)sms * kMaxIters * 3 * 8));
    CK(cudaMalloc(&red, (size_t)sms * 6 * 8));
    CK(cudaMemset(red, 0, (size_t)sms * 6 * 8));
    CK(cudaMemset(iters, 0, (size_t)sms * kMaxIters * 3 * 8));
    CK(cudaMemset(acc, 0, ytotal * 4));
    CK(cudaMemset(counts, 0, ntiles * 2 * 4));
    CK(cudaMemset(y_ref, 0, ytotal * 2));
    CK(cudaMemset(y_stream, 0, ytotal * 2));
    CK(cudaMemset(y_chain, 0, ytotal * 2));
    CK(cudaMemset(stamps, 0, (size_t)sms * kMaxGemms * 2 * 8));
    for (__nv_bfloat16 *ys : {y_ref, y_chain, y_stream})
        fill_bf16<<<1024, 256>>>(ys + G * plane, (int64_t)plane, 7, 3.4641f);
    fill_f32<<<256, 256>>>(bias, (int64_t)G * ldy, 9, 0.2f);

    std::vector<size_t> woff(G), yoff(G), toff(G);
    std::vector<int> wrow(G);
    size_t wo1 = 0, wo2 = rows1536 * d, to = 0;
    for (int g = 0; g < G; g++) {
        size_t &wo = cg[g].k == d ? wo1 : wo2;
        woff[g] = wo;
        wrow[g] = (int)((cg[g].k == d ? wo : wo - rows1536 * d) / cg[g].k);
        yoff[g] = g * plane;
        toff[g] = to;
        /* uniform with variance 1/k: the chain keeps unit scale */
        fill_bf16<<<1024, 256>>>(w + wo, (int64_t)cg[g].n * cg[g].k, 100 + g, 3.4641f / sqrtf((float)cg[g].k));
        wo += (size_t)cg[g].n * cg[g].k;
        to += cg[g].n / 64;
    }
    CK(cudaDeviceSynchronize());
    auto a_of = [&](__nv_bfloat16 *ys, int g, int64_t &lda) -> const __nv_bfloat16 * {
        lda = ldy;
        return ys + (cg[g].src < 0 ? G * plane : yoff[cg[g].src]);
    };

    /* The reference. */
    for (int g = 0; g < G; g++) {
        int64_t lda;
        const __nv_bfloat16 *a = a_of(y_ref, g, lda);
        reference_gemm<<<dim3((cg[g].n + 127) / 128, m), 128>>>(a, lda, w + woff[g], bias + g * ldy, cg[g].act,
                                                               y_ref + yoff[g], ldy, m, cg[g].n, cg[g].k);
    }
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());

    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    const size_t flush_bytes = 256 << 20;
    unsigned char *flush;
    CK(cudaMalloc(&flush, flush_bytes));

    /* Today: 64 Hopper-GEMM launches as programmatic dependents in a graph,
     * each asking L2 for the next weight's first 4 MB as in the model. */
    cudaGraph_t graph;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int g = 0; g < G; g++) {
        grk_gemm_args a = {};
        a.x = a_of(y_chain, g, a.ldx);
        a.w = w + woff[g];
        a.ldw = cg[g].k;
        a.ab_dt = GRK_BF16;
        a.bias = bias + g * ldy;
        a.act = cg[g].act;
        a.y = y_chain + yoff[g];
        a.ldy = ldy;
        a.y_dt = GRK_BF16;
        a.m = m;
        a.n = cg[g].n;
        a.k = cg[g].k;
        if (g + 1 < G) {
            a.pf.p = w + woff[g + 1];
            a.pf.bytes = std::min<uint64_t>(4u << 20, (uint64_t)cg[g + 1].n * cg[g + 1].k * 2);
        }
        CK(gemm_tma_launch(enc, &a, cg[g].cfg, cg[g].splits, 1, s));
    }
    CK(cudaStreamEndCapture(s, &graph));
    CK(cudaGraphInstantiate(&ge, graph, 0));

    /* The persistent kernel's parameters. */
    static ds_params p;
    memset(&p, 0, sizeof p);
    p.count = G;
    p.m = m;
    p.poll_ns = poll_ns;
    p.debug = debug;
    p.ldy = (int)ldy;
    if (encode_map(encode, &p.wmap[0], w, GRK_BF16, (int64_t)rows1536, d, d, 64) != CUDA_SUCCESS ||
        encode_map(encode, &p.wmap[1], w + rows1536 * d, GRK_BF16, 16 * d, ff, ff, 64) != CUDA_SUCCESS ||
        encode_planes(encode, &p.amap, y_stream, G + 1, m, ldy) != CUDA_SUCCESS) {
        fprintf(stderr, "tensor maps\n");
        return 1;
    }
    for (int g = 0; g < G; g++) {
        p.g[g].wmap = cg[g].k == d ? 0 : 1;
        p.g[g].wrow = wrow[g];
        /* nodep: every GEMM reads the input plane, as fast as its weights stream */
        p.g[g].aplane = nodep || cg[g].src < 0 ? G : cg[g].src;
        p.g[g].n = cg[g].n;
        p.g[g].k = cg[g].k;
        p.g[g].act = cg[g].act;
        p.g[g].src = nodep ? -1 : cg[g].src;
        p.g[g].bias = bias + g * ldy;
        p.g[g].y = y_stream + yoff[g];
        p.g[g].acc = acc + yoff[g];
        p.g[g].count = counts + toff[g];
        p.g[g].flag = counts + ntiles + toff[g];
    }

    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    const int reps = 15;
    std::vector<double> t_chain, t_stream;
    for (int rep = 0; rep < reps; rep++) {
        float ms;
        flush_l2(flush, flush_bytes, s);
        CK(cudaEventRecord(e0, s));
        CK(cudaGraphLaunch(ge, s));
        CK(cudaEventRecord(e1, s));
        CK(cudaStreamSynchronize(s));
        CK(cudaEventElapsedTime(&ms, e0, e1));
        t_chain.push_back(ms * 1000.0);

        p.epoch = rep + 1;
        p.stamps = rep == reps - 1 ? stamps : NULL;
        p.iters = rep == reps - 1 ? iters : NULL;
        p.red = rep == reps - 1 ? red : NULL;
        flush_l2(flush, flush_bytes, s);
        CK(cudaEventRecord(e0, s));
        CK(launch(p, sms, s));
        CK(cudaEventRecord(e1, s));
        CK(cudaStreamSynchronize(s));
        CK(cudaEventElapsedTime(&ms, e0, e1));
        t_stream.push_back(ms * 1000.0);
    }

    /* Every output against the reference. */
    double worst_chain = 0, worst_stream = 0, first_stream = 0;
    for (int g = 0; g < G; g++) {
        const double ec = rel_err(y_chain + yoff[g], y_ref + yoff[g], plane);
        const double es = rel_err(y_stream + yoff[g], y_ref + yoff[g], plane);
        worst_chain = fmax(worst_chain, ec);
        worst_stream = fmax(worst_stream, es);
        if (g == 0)
            first_stream = es;
    }

    /* The last launch's stamps: per GEMM of the first two blocks, the
     * median over CTAs of A-ready and done, ns from the first A-ready. */
    std::vector<long long> st((size_t)sms * kMaxGemms * 2);
    CK(cudaMemcpy(st.data(), stamps, st.size() * 8, cudaMemcpyDeviceToHost));
    long long t0 = st[0];
    for (int c = 0; c < sms; c++)
        t0 = std::min(t0, st[(size_t)c * kMaxGemms * 2]);
    printf("stamps of the last launch, us from the first CTA's start (median / max over CTAs):\n");
    for (int g = 0; g < G; g++) {
        if (g >= 8 && g < G - 4)
            continue;
        std::vector<double> ra, dn;
        double mra = 0, mdn = 0;
        for (int c = 0; c < sms; c++) {
            const double a = (st[((size_t)c * kMaxGemms + g) * 2] - t0) / 1e3;
            const double b = (st[((size_t)c * kMaxGemms + g) * 2 + 1] - t0) / 1e3;
            ra.push_back(a);
            dn.push_back(b);
            mra = std::max(mra, a);
            mdn = std::max(mdn, b);
        }
        printf("  %2d %-4s %5dx%5d: A ready %7.2f / %7.2f   done %7.2f / %7.2f\n", g, cg[g].name, cg[g].n, cg[g].k,
               median(ra), mra, median(dn), mdn);
    }

    /* Per CTA over its stamped iterations: time from the previous
     * iteration's A seen to this one's W seen (waiting for weights), from W
     * seen to A seen (waiting for activations), and W issue to W seen. */
    {
        std::vector<long long> it((size_t)sms * kMaxIters * 3);
        CK(cudaMemcpy(it.data(), iters, it.size() * 8, cudaMemcpyDeviceToHost));
        std::vector<double> wwait, await_, lat, span;
        for (int c = 0; c < sms; c++) {
            const long long *r = &it[(size_t)c * kMaxIters * 3];
            double ww = 0, aw = 0, l = 0;
            int n = 0;
            for (int q = 1; q < kMaxIters && r[q * 3 + 2]; q++, n++) {
                ww += (r[q * 3 + 1] - r[(q - 1) * 3 + 2]) / 1e3;
                aw += (r[q * 3 + 2] - r[q * 3 + 1]) / 1e3;
                l += (r[q * 3 + 1] - r[q * 3]) / 1e3;
            }
            wwait.push_back(ww);
            await_.push_back(aw);
            lat.push_back(n ? l / n : 0);
            span.push_back(n ? (r[(n)*3 + 2] - r[2]) / 1e3 : 0);
        }
        const int slow = (int)(std::max_element(span.begin(), span.end()) - span.begin());
        printf("iterations (first %d of each CTA), us: waiting for W / waiting for A / W issue-to-seen mean / span\n"
               "  median CTA %.1f / %.1f / %.2f / %.1f; slowest CTA (%d) %.1f / %.1f / %.2f / %.1f\n",
               kMaxIters, median(wwait), median(await_), median(lat), median(span), slow, wwait[slow], await_[slow],
               lat[slow], span[slow]);
    }

    {
        std::vector<long long> r((size_t)sms * 6);
        CK(cudaMemcpy(r.data(), red, r.size() * 8, cudaMemcpyDeviceToHost));
        std::vector<double> d[5];
        for (int c = 0; c < sms; c++)
            for (int k = 0; k < 5; k++)
                if (r[c * 6] && r[c * 6 + k + 1])
                    d[k].push_back((r[c * 6 + k + 1] - r[c * 6]) / 1e3);
        printf("reducer, last segment of GEMM 1, us after the staged tile is seen (median): sums issued %.2f, "
               "fenced %.2f, count returned %.2f; finishers (%zu): stored %.2f, flag raised %.2f\n",
               median(d[0]), median(d[1]), median(d[2]), d[3].size(), median(d[3]), median(d[4]));
    }

    const double mb = wtotal * 2 / 1e6;
    printf("one DiT step's 64 GEMMs (%.0f MB of weights, %d rows), H100 time per step, median of %d after an L2 "
           "flush:\n",
           mb, m, reps);
    printf("  chain of Hopper-GEMM launches (PDL, graph): %8.1f us (%.2f TB/s)  max rel err %.2e\n",
           median(t_chain), mb / median(t_chain), worst_chain);
    printf("  one persistent kernel, rings %d + %d:        %8.1f us (%.2f TB/s)  max rel err %.2e (first GEMM %.2e)\n",
           ws, as, median(t_stream), mb / median(t_stream), worst_stream, first_stream);
    const bool ok = worst_chain < 3e-2 && (nodep || debug || (worst_stream < 3e-2 && first_stream < 1e-2));
    if (nodep)
        printf("(no dependencies in the persistent kernel: its outputs are not the chain's, not checked)\n");
    printf("%s\n", ok ? "outputs match the reference" : "OUTPUTS DIFFER FROM THE REFERENCE");
    return ok ? 0 : 1;
}
