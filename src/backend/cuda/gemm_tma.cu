/*
 * y = act(x W^T + bias) + residual on Hopper's tensor memory accelerator
 * (TMA) and warpgroup MMA (wgmma), for 16-bit x and W with float32
 * accumulation.
 *
 * Why not cuBLASLt alone: a call runs ~250 GEMMs in sequence whose
 * weights stream from DRAM once each. cuBLASLt's kernels start reading
 * only when the previous kernel has finished and cannot be launched as
 * programmatic dependents, so every GEMM pays its pipeline fill in full.
 * This kernel is launched as one: its CTAs are scheduled while the kernel
 * before is still finishing, fetch the first STAGES tiles of their weight
 * slice at once, and only then wait (griddepcontrol.wait) for the
 * activations the previous kernel writes.
 *
 * Shape of the work. A CTA owns a 64-row by BN-column output tile and a
 * contiguous range of K. One warpgroup (warps 0-3) issues the wgmmas; warp
 * 4 issues the TMA loads into a ring of STAGES shared-memory stages, 64
 * columns of K each (128 bytes of a 16-bit row: one 128-byte swizzle atom,
 * which both TMA and wgmma address directly). Full barriers tell the
 * consumers a stage has landed; empty barriers tell the producer it was
 * consumed. Small M leaves few output tiles for 132 SMs, so K is split
 * over the S CTAs of a thread-block cluster; each sends the partial sums
 * of the rows another rank finishes into that rank's shared memory
 * (st.async), and finishes its own rows (bias, activation, residual,
 * conversion) from registers: no second kernel, no float32 workspace in
 * global memory, no barrier that waits for the slowest rank's epilogue.
 * Rows past M and columns past K read as zeros (TMA's out-of-bounds
 * fill), so ragged M and K need no masks.
 *
 * The epilogue is short on purpose. One CTA lives ~5 us, and its tail ran
 * as long as its weight stream before (per-CTA timestamps,
 * bench/gemm_tma_trace.cu): a cluster barrier, reads of the other ranks'
 * partials, then ~40 dependent instructions per output pair on one warp
 * per scheduler. Bias and residual are now fetched before the main loop,
 * the activation costs a few instructions, and the code is specialised
 * on output type and activation so that no branch sits in it.
 *
 * Where it stands (H100, BENCHMARKS.md "Hopper GEMM"): in the graph the
 * DiT's 49-row GEMMs run 11% faster on it than on cuBLASLt, so it is the
 * default for GEMMs of at most 64 rows (cuda_gemm_tma.c); the backbone's
 * 256/304-row GEMMs are still up to 1.6x slower on it (one consumer
 * warpgroup, no multicast: cuBLASLt's kernels share tiles across
 * clusters), and stay on cuBLASLt.
 */
#include <cooperative_groups.h>
#include <cuda.h>
#include <cudaTypedefs.h>
#include <stdint.h>

#include "cuda_dtype.cuh"
#include "cuda_kernels.h"
#include "launch.cuh"
#include "wgmma_ops.cuh"

namespace cg = cooperative_groups;


/* Timestamps for bench/gemm_tma_trace.cu, which includes this file with
 * GRK_TMA_TRACE defined: per CTA, clock64 at the points of its life named
 * there, and %globaltimer at entry and exit. Nothing in normal builds. */
#define GRK_TMA_TRACE_SLOTS 12
#ifdef GRK_TMA_TRACE
__device__ long long g_tma_trace[GRK_TMA_TRACE][GRK_TMA_TRACE_SLOTS];
__device__ __forceinline__ void tma_trace_put(int slot, long long t)
{
    const int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    if (b < GRK_TMA_TRACE)
        g_tma_trace[b][slot] = t;
}
#define TMA_TRACE(slot) tma_trace_put(slot, clock64())
#define TMA_TRACE_GT(slot) tma_trace_put(slot, grk_global_ns())
#else
#define TMA_TRACE(slot) ((void)0)
#define TMA_TRACE_GT(slot) ((void)0)
#endif

namespace {

const int kBM = 64;           /* rows per CTA: one warpgroup's wgmma M */
const int kBK = 64;           /* K per stage: 128 bytes of 16-bit values */
const int kConsumers = 128;   /* one warpgroup */
const int kThreads = kConsumers + 32;
const int kPad = 8;           /* floats of padding per received row: 2-way banks at most */

/* The configurations: BN and ring depth, sized so that two CTAs fit on
 * one SM (about 100 KB each, receive buffer included), which lets the
 * next GEMM's CTAs start fetching while this one's finish. */
struct tma_cfg {
    int bn, stages;
};
constexpr tma_cfg kCfgs[] = {{64, 5}, {128, 3}, {256, 2}};
const int kNumCfgs = (int)(sizeof kCfgs / sizeof kCfgs[0]);

__host__ __device__ constexpr int stage_bytes(int bn) { return (kBM + bn) * kBK * 2; }

/* Rows of the tile each rank finishes (at most), and the rows of partials
 * it receives: one range from each other rank. */
__host__ __device__ constexpr int rows_per_rank(int splits) { return (kBM + splits - 1) / splits; }
__host__ __device__ constexpr int recv_bytes(int bn, int splits)
{
    return (splits - 1) * rows_per_rank(splits) * (bn + kPad) * 4;
}

size_t smem_bytes(int bn, int stages, int splits)
{
    return 1024 /* alignment slack */ + (size_t)stages * stage_bytes(bn) + recv_bytes(bn, splits) +
           (2 * (size_t)stages + 1) * sizeof(uint64_t);
}


#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void mbar_init(uint64_t *bar, int count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count));
}

__device__ __forceinline__ void mbar_expect_tx(uint64_t *bar, uint32_t bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint64_t *bar)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}

__device__ __forceinline__ void mbar_wait(uint64_t *bar, int parity)
{
    asm volatile("{\n"
                 ".reg .pred done;\n"
                 "wait_%=:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra wait_%=;\n"
                 "}\n" ::"r"(smem_addr(bar)),
                 "r"(parity)
                 : "memory");
}

/* The same wait, ordered after writes other CTAs of the cluster made
 * into this CTA's shared memory with st.async. */
__device__ __forceinline__ void mbar_wait_cluster(uint64_t *bar, int parity)
{
    asm volatile("{\n"
                 ".reg .pred done;\n"
                 "wait_%=:\n"
                 "mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra wait_%=;\n"
                 "}\n" ::"r"(smem_addr(bar)),
                 "r"(parity)
                 : "memory");
}

/* The address of a shared-memory location of this CTA in CTA `rank` of the cluster. */
__device__ __forceinline__ uint32_t map_rank(uint32_t addr, int rank)
{
    uint32_t r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(addr), "r"(rank));
    return r;
}

/* Two floats into another CTA's shared memory; its barrier counts the bytes. */
__device__ __forceinline__ void st_async2(uint32_t dst, float a, float b, uint32_t bar)
{
    asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.v2.f32 [%0], {%1, %2}, [%3];\n" ::"r"(dst),
                 "f"(a), "f"(b), "r"(bar)
                 : "memory");
}

/* One box of a 2-D tensor map (inner coordinate first) into shared memory;
 * the barrier counts its bytes. */
__device__ __forceinline__ void tma_load(void *dst, const CUtensorMap *map, uint64_t *bar, int c_inner, int c_outer)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], "
                 "[%2];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(smem_addr(bar)), "r"(c_inner), "r"(c_outer)
                 : "memory");
}

/* A shared-memory matrix descriptor for a K-major tile of 128-byte rows
 * in the 128-byte swizzle TMA wrote: 8-row groups 1024 bytes apart. */
__device__ __forceinline__ uint64_t smem_desc(const void *tile)
{
    uint64_t d = 0;
    d |= (uint64_t)((smem_addr(tile) & 0x3FFFF) >> 4);
    d |= (uint64_t)1 << 16;             /* leading byte offset: unused with this swizzle */
    d |= (uint64_t)(1024 >> 4) << 32;   /* stride byte offset */
    d |= (uint64_t)1 << 62;             /* 128-byte swizzle */
    return d;
}

template <int BN, int F16>
__device__ __forceinline__ void wgmma_tile(float *acc, uint64_t a, uint64_t b, int zero)
{
    if (F16) {
        if (BN == 64) wgmma_m64n64k16_f16(acc, a, b, zero);
        else if (BN == 128) wgmma_m64n128k16_f16(acc, a, b, zero);
        else wgmma_m64n256k16_f16(acc, a, b, zero);
    } else {
        if (BN == 64) wgmma_m64n64k16_bf16(acc, a, b, zero);
        else if (BN == 128) wgmma_m64n128k16_bf16(acc, a, b, zero);
        else wgmma_m64n256k16_bf16(acc, a, b, zero);
    }
}
#endif

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
/* grk_act (not NONE) in few instructions, since the epilogue is unrolled over a whole
 * row of fragments and runs once per CTA (its code is fetched cold):
 * 0.5(1 + tanh u) = sigmoid(2u), so GELU(tanh) and SiLU are both
 * x * sigmoid(t), here with the hardware exp2 (relative error ~1e-6). */
__device__ __forceinline__ float tail_act(int act, float x)
{
    const float t = act == 1 ? 1.5957691216057308f * (x + 0.044715f * x * x * x) : x;
    const float sig = __fdividef(x, 1.0f + __expf(-t));
    return act == 2 ? fmaxf(x, 0.0f) : sig;
}

/* Two consecutive values of a row of T, as float32, and back. */
__device__ __forceinline__ float2 ld2(const float *p) { return *(const float2 *)p; }
__device__ __forceinline__ float2 ld2(const __nv_bfloat16 *p) { return __bfloat1622float2(*(const __nv_bfloat162 *)p); }
__device__ __forceinline__ float2 ld2(const __half *p) { return __half22float2(*(const __half2 *)p); }
__device__ __forceinline__ void st2(float *p, float2 v) { *(float2 *)p = v; }
__device__ __forceinline__ void st2(__nv_bfloat16 *p, float2 v) { *(__nv_bfloat162 *)p = __floats2bfloat162_rn(v.x, v.y); }
__device__ __forceinline__ void st2(__half *p, float2 v) { *(__half2 *)p = __floats2half2_rn(v.x, v.y); }

/* Bias and residual are fetched before the main loop where registers
 * allow (bias up to 128 columns, residual up to 64): their latency then
 * hides under the weight stream instead of lengthening the epilogue. */
template <int BN> struct prefetch_plan {
    static constexpr bool bias = BN <= 128, res = BN <= 64;
};

/* The residual values of the accumulator rows this thread finishes, as
 * float32 (zeros where absent): pr[(BN/8)h + j] for row half h, column group j. */
template <int BN, typename T>
__device__ __forceinline__ void prefetch_residual(float2 *pr, bool mine0, bool mine1, int gm, int gn,
                                                  const grk_gemm_args &e)
{
    const T *res = (const T *)e.res;
#pragma unroll
    for (int h = 0; h < 2; h++) {
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
            const int col = gn + 8 * j;
            pr[(BN / 8) * h + j] = (h ? mine1 : mine0) && res && col < e.n
                                       ? ld2(res + (int64_t)(gm + 8 * h) * e.ldr + col)
                                       : make_float2(0.0f, 0.0f);
        }
    }
}

/* y = act(acc + bias) + residual for the accumulator rows this thread
 * holds and this rank finishes (row half h when mine_h): rows gm and
 * gm + 8, columns gn + 8j (+1). pb / pr: the prefetched bias and residual
 * when prefetch_plan says so; otherwise those of eight column groups are
 * requested here before any of their arithmetic. */
template <int BN, typename T, bool ACT>
__device__ __forceinline__ void finish_rows(const float *acc, const float2 *pb, const float2 *pr, bool mine0,
                                            bool mine1, int gm, int gn, const grk_gemm_args &e)
{
    const T *res = (const T *)e.res;
    T *y = (T *)e.y;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        if (!(h ? mine1 : mine0))
            continue;
        const int64_t row = gm + 8 * h;
#pragma unroll
        for (int j0 = 0; j0 < BN / 8; j0 += 8) {
            float2 b[8], rv[8];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const int col = gn + 8 * (j0 + j);
                const bool in = col < e.n;
                if (prefetch_plan<BN>::bias)
                    b[j] = pb[j0 + j];
                else
                    b[j] = in && e.bias ? ld2(e.bias + col) : make_float2(0.0f, 0.0f);
                if (prefetch_plan<BN>::res)
                    rv[j] = pr[(BN / 8) * h + j0 + j];
                else
                    rv[j] = in && res ? ld2(res + row * e.ldr + col) : make_float2(0.0f, 0.0f);
            }
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const int col = gn + 8 * (j0 + j);
                float2 v;
                v.x = acc[4 * (j0 + j) + 2 * h] + b[j].x;
                v.y = acc[4 * (j0 + j) + 2 * h + 1] + b[j].y;
                if (ACT) {
                    v.x = tail_act(e.act, v.x);
                    v.y = tail_act(e.act, v.y);
                }
                v.x += rv[j].x;
                v.y += rv[j].y;
                if (col < e.n)
                    st2(y + row * e.ldy + col, v);
            }
        }
    }
}
#endif

template <int BN, int STAGES, int F16>
__global__ void __launch_bounds__(kThreads, 1)
gemm_tma_kernel(const __grid_constant__ CUtensorMap map_x, const __grid_constant__ CUtensorMap map_w,
                const grk_gemm_args e, int kblocks, int kb_per_split)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char smem_raw[];
    unsigned char *sm = (unsigned char *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

    cg::cluster_group cluster = cg::this_cluster();
    const int splits = (int)cluster.num_blocks(); /* the cluster spans only the split dimension */
    const int rank = (int)cluster.block_rank();
    const int kb0 = blockIdx.z * kb_per_split;
    const int kb1 = min(kblocks, kb0 + kb_per_split);
    const int nk = max(0, kb1 - kb0);
    const int n0 = blockIdx.x * BN, m0 = blockIdx.y * kBM;
    /* The tile's valid rows are dealt out to the ranks in contiguous
     * ranges; rank q finishes rows [q*rows/S, (q+1)*rows/S). */
    const int rows = min(kBM, (int)(e.m - m0));
    const int ldp = BN + kPad, rpr = rows_per_rank(splits);
    float *recv = (float *)(sm + STAGES * stage_bytes(BN)); /* [splits-1][rpr][ldp] */
    uint64_t *full = (uint64_t *)((unsigned char *)recv + recv_bytes(BN, splits));
    uint64_t *empty = full + STAGES;
    uint64_t *reduced = empty + STAGES; /* the other ranks' partials have landed */
    const int r0 = rank * rows / splits, r1 = (rank + 1) * rows / splits;

    /* The producer sets up the barriers and requests its first weight
     * tiles before anything else: the weights never change, and this is
     * the part of the kernel that overlaps the one before it. */
    const int pre = nk < STAGES ? nk : STAGES;
    if (tid == 0) {
        TMA_TRACE_GT(10);
        TMA_TRACE(0);
    }
    if (warp == kConsumers / 32 && lane == 0) {
        asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)&map_w) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)&map_x) : "memory");
        for (int s = 0; s < STAGES; s++) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], kConsumers / 32);
        }
        mbar_init(reduced, 1);
        if (splits > 1)
            mbar_expect_tx(reduced, (uint32_t)((splits - 1) * (r1 - r0) * BN * 4));
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        for (int i = 0; i < pre; i++) {
            mbar_expect_tx(&full[i], stage_bytes(BN));
            tma_load(sm + i * stage_bytes(BN) + kBM * kBK * 2, &map_w, &full[i], (kb0 + i) * kBK, n0);
        }
        TMA_TRACE(1);
    }

    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; i++)
        acc[i] = 0.0f;

    /* Which rank finishes each accumulator row this thread holds: the
     * largest q with q*rows/S <= r. The accumulator layout (wgmma, 64xBN
     * f32): thread (warp w, lane l) holds rows 16w + l/4 (+8) and columns
     * 8j + 2(l%4) (+1), at acc[4j + 2h + {0,1}] for row half h. */
    const int c = 2 * (lane & 3);
    const int gm = m0 + 16 * warp + (lane >> 2), gn = n0 + c;
    int owner[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int r = 16 * warp + 8 * h + (lane >> 2);
        owner[h] = r < rows && tid < kConsumers ? ((r + 1) * splits - 1) / rows : -1;
    }
    const bool mine0 = owner[0] == rank, mine1 = owner[1] == rank;
    float2 pb[prefetch_plan<BN>::bias ? BN / 8 : 1], pr[prefetch_plan<BN>::res ? BN / 4 : 1];
    if (prefetch_plan<BN>::bias) {
#pragma unroll
        for (int j = 0; j < BN / 8; j++)
            pb[j] = (mine0 || mine1) && e.bias && gn + 8 * j < e.n ? ld2(e.bias + gn + 8 * j)
                                                                  : make_float2(0.0f, 0.0f);
    }
    __syncthreads(); /* the barriers exist */
    /* Other ranks may signal `reduced` only once it exists: they wait for
     * this arrival before their first st.async. */
    if (splits > 1)
        asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");

    if (warp == kConsumers / 32) {
        /* Producer: the activations of the first stages once the previous
         * kernel is done, then the rest of the ring as stages free up. */
        if (lane == 0) {
            grk_pdl_wait();
            TMA_TRACE(2);
            for (int i = 0; i < pre; i++)
                tma_load(sm + i * stage_bytes(BN), &map_x, &full[i], (kb0 + i) * kBK, m0);
            for (int i = pre; i < nk; i++) {
                const int s = i % STAGES;
                unsigned char *st = sm + s * stage_bytes(BN);
                mbar_wait(&empty[s], ((i / STAGES) + 1) & 1);
                mbar_expect_tx(&full[s], stage_bytes(BN));
                tma_load(st + kBM * kBK * 2, &map_w, &full[s], (kb0 + i) * kBK, n0);
                tma_load(st, &map_x, &full[s], (kb0 + i) * kBK, m0);
            }
            /* The next GEMM's weight (gr_cuda_prefetch): DRAM would idle
             * from here while the ring drains and the epilogue runs. */
            if (e.pf.bytes)
                grk_prefetch_l2_part(e.pf, grk_block_linear(), grk_grid_blocks());
        }
    } else {
        if (prefetch_plan<BN>::res) {
            if ((mine0 || mine1) && e.res)
                grk_pdl_wait(); /* the residual may be the previous kernel's output */
            if (e.y_dt == GRK_F32)
                prefetch_residual<BN, float>(pr, mine0, mine1, gm, gn, e);
            else if (F16)
                prefetch_residual<BN, __half>(pr, mine0, mine1, gm, gn, e);
            else
                prefetch_residual<BN, __nv_bfloat16>(pr, mine0, mine1, gm, gn, e);
        }
        for (int i = 0; i < nk; i++) {
            const int s = i % STAGES;
            unsigned char *st = sm + s * stage_bytes(BN);
            mbar_wait(&full[s], (i / STAGES) & 1);
            if (tid == 0 && i == 0)
                TMA_TRACE(3);
            if (tid == 0 && i == nk - 1)
                TMA_TRACE(4);
            const uint64_t da = smem_desc(st), db = smem_desc(st + kBM * kBK * 2);
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
            for (int kk = 0; kk < kBK / 16; kk++) /* 16 columns = 32 bytes = 2 descriptor units */
                wgmma_tile<BN, F16>(acc, da + 2 * kk, db + 2 * kk, 0);
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            /* One group stays in flight; the one before it is done, and
             * its stage goes back to the producer. */
            asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
            __syncwarp();
            if (lane == 0 && i > 0)
                mbar_arrive(&empty[(i - 1) % STAGES]);
        }
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        if (tid == 0)
            TMA_TRACE(5);
    }
    __syncwarp(); /* the producer warp's lanes meet again before the aligned barriers below */
    /* Dependents may launch now, not earlier: released at the start, the
     * next GEMM's CTAs took SM slots and bandwidth from this one's stream
     * (BENCHMARKS.md, "Hopper GEMM by default"). */
    grk_pdl_release();
    /* Everything below reads or writes what other kernels touch. */
    grk_pdl_wait();
    if (tid == 0)
        TMA_TRACE(6);

    /* Split-K reduction, pushed: each rank sends its partial of the rows
     * rank q finishes straight into q's receive buffer (st.async, counted
     * by q's `reduced` barrier) and keeps its own rows in registers. No
     * cluster-wide barrier waits on the slowest rank's epilogue, and
     * nothing reads another CTA's memory. */
    if (splits > 1)
        asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
    if (tid == 0)
        TMA_TRACE(7);
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int r = 16 * warp + 8 * h + (lane >> 2);
        const int q = owner[h];
        if (q < 0 || q == rank)
            continue;
        const int slot = rank < q ? rank : rank - 1;
        const uint32_t dst = map_rank(smem_addr(recv + (slot * rpr + r - q * rows / splits) * ldp + c), q);
        const uint32_t bar = map_rank(smem_addr(reduced), q);
#pragma unroll
        for (int j = 0; j < BN / 8; j++)
            st_async2(dst + 32 * j, acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1], bar);
    }

    /* This rank's rows: add the others' partials, then bias, activation,
     * residual and conversion (finish_rows). */
    if (splits > 1 && r1 > r0 && (mine0 || mine1)) {
        mbar_wait_cluster(reduced, 0);
#pragma unroll 1
        for (int q = 0; q < splits - 1; q++) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                if (!(h ? mine1 : mine0))
                    continue;
                const int r = 16 * warp + 8 * h + (lane >> 2);
                const float *src = recv + (q * rpr + r - r0) * ldp + c;
#pragma unroll
                for (int j = 0; j < BN / 8; j++) {
                    const float2 p = *(const float2 *)&src[8 * j];
                    acc[4 * j + 2 * h] += p.x;
                    acc[4 * j + 2 * h + 1] += p.y;
                }
            }
        }
    }
    /* One copy of the unrolled code per output type and for activations
     * or not: the branch is uniform, and the code stays short. */
    if (e.y_dt == GRK_F32) {
        if (e.act)
            finish_rows<BN, float, true>(acc, pb, pr, mine0, mine1, gm, gn, e);
        else
            finish_rows<BN, float, false>(acc, pb, pr, mine0, mine1, gm, gn, e);
    } else if (F16) {
        if (e.act)
            finish_rows<BN, __half, true>(acc, pb, pr, mine0, mine1, gm, gn, e);
        else
            finish_rows<BN, __half, false>(acc, pb, pr, mine0, mine1, gm, gn, e);
    } else {
        if (e.act)
            finish_rows<BN, __nv_bfloat16, true>(acc, pb, pr, mine0, mine1, gm, gn, e);
        else
            finish_rows<BN, __nv_bfloat16, false>(acc, pb, pr, mine0, mine1, gm, gn, e);
    }
    if (tid == 0)
        TMA_TRACE(8);
    /* Where this rank finishes rows, its shared memory must outlive the
     * partials landing in it, even if thread 0 holds none of those rows. */
    if (splits > 1 && r1 > r0 && tid == 0 && !mine0 && !mine1)
        mbar_wait_cluster(reduced, 0);
    if (tid == 0) {
        TMA_TRACE(9);
        TMA_TRACE_GT(11);
    }
#endif
}

/* Shapes the kernel takes; the host wrapper checks before it picks this path. */
template <int BN, int STAGES, int F16>
cudaError_t launch_cfg(const CUtensorMap &mx, const CUtensorMap &mw, const grk_gemm_args &e, int splits, int pdl,
                       cudaStream_t s)
{
    const int kblocks = (int)((e.k + kBK - 1) / kBK);
    const int per = (kblocks + splits - 1) / splits;
    const size_t smem = smem_bytes(BN, STAGES, splits);
    cudaError_t err = cudaFuncSetAttribute(gemm_tma_kernel<BN, STAGES, F16>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err == cudaSuccess) /* see launch.cuh */
        err = cudaFuncSetAttribute(gemm_tma_kernel<BN, STAGES, F16>, cudaFuncAttributePreferredSharedMemoryCarveout,
                                   (int)cudaSharedmemCarveoutMaxShared);
    if (err != cudaSuccess)
        return err;
    cudaLaunchConfig_t lc = {};
    lc.gridDim = dim3((unsigned)((e.n + BN - 1) / BN), (unsigned)((e.m + kBM - 1) / kBM), (unsigned)splits);
    lc.blockDim = dim3(kThreads);
    lc.dynamicSmemBytes = smem;
    lc.stream = s;
    cudaLaunchAttribute at[2];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = pdl;
    at[1].id = cudaLaunchAttributeClusterDimension;
    at[1].val.clusterDim.x = 1;
    at[1].val.clusterDim.y = 1;
    at[1].val.clusterDim.z = (unsigned)splits;
    lc.attrs = at;
    lc.numAttrs = splits > 1 ? 2 : 1; /* one CTA: an implicit cluster of one, launched more cheaply */
    return cudaLaunchKernelEx(&lc, gemm_tma_kernel<BN, STAGES, F16>, mx, mw, e, kblocks, per);
}

template <int F16>
cudaError_t launch_dt(int cfg, const CUtensorMap &mx, const CUtensorMap &mw, const grk_gemm_args &e, int splits,
                      int pdl, cudaStream_t s)
{
    switch (cfg) {
    case 0: return launch_cfg<kCfgs[0].bn, kCfgs[0].stages, F16>(mx, mw, e, splits, pdl, s);
    case 1: return launch_cfg<kCfgs[1].bn, kCfgs[1].stages, F16>(mx, mw, e, splits, pdl, s);
    default: return launch_cfg<kCfgs[2].bn, kCfgs[2].stages, F16>(mx, mw, e, splits, pdl, s);
    }
}

/* A 2-D map over a row-major [rows, k] 16-bit matrix with row stride ld,
 * boxes of box_rows x 64, 128-byte swizzle. */
CUresult encode_map(PFN_cuTensorMapEncodeTiled_v12000 encode, CUtensorMap *map, const void *p, int dt, int64_t rows,
                    int64_t k, int64_t ld, int box_rows)
{
    cuuint64_t dims[2] = {(cuuint64_t)k, (cuuint64_t)rows};
    cuuint64_t strides[1] = {(cuuint64_t)ld * 2};
    cuuint32_t box[2] = {(cuuint32_t)kBK, (cuuint32_t)box_rows};
    cuuint32_t estr[2] = {1, 1};
    return encode(map, dt == GRK_F16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2,
                  (void *)p, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                  CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

} // namespace

extern "C" void *grk_gemm_tma_encoder(void)
{
    void *fn = NULL;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
        return NULL;
    return fn;
}

extern "C" int grk_gemm_tma_configs(void) { return kNumCfgs; }

extern "C" int grk_gemm_tma_bn(int cfg) { return cfg >= 0 && cfg < kNumCfgs ? kCfgs[cfg].bn : 0; }

extern "C" int grk_gemm_tma_stages(int cfg) { return cfg >= 0 && cfg < kNumCfgs ? kCfgs[cfg].stages : 0; }

extern "C" int grk_gemm_tma_per_sm(int cfg)
{
    if (cfg < 0 || cfg >= kNumCfgs)
        return 0;
    size_t most = 0; /* over the splits: the receive buffer varies with them */
    for (int s = 1; s <= 8; s++) {
        const size_t b = smem_bytes(kCfgs[cfg].bn, kCfgs[cfg].stages, s);
        most = b > most ? b : most;
    }
    return most * 2 <= 227 * 1024 ? 2 : 1;
}

extern "C" int grk_gemm_tma_fits(const grk_gemm_args *a)
{
    const int es = 2;
    if (a->ab_dt != GRK_BF16 && a->ab_dt != GRK_F16)
        return 0;
    if (a->m < 1 || a->n < 8 || a->k < 8 || a->m > INT32_MAX || a->n > INT32_MAX || a->k > INT32_MAX)
        return 0;
    /* TMA: 16-byte aligned bases and row strides. Epilogue: 4-column groups
     * stored whole, and 8-byte (or 16-byte for float32) aligned rows. */
    if ((uintptr_t)a->x % 16 || (uintptr_t)a->w % 16 || (a->ldx * es) % 16 || (a->ldw * es) % 16)
        return 0;
    if (a->n % 4 || (uintptr_t)a->y % 16 || a->ldy % 4 || (uintptr_t)a->bias % 16 || (uintptr_t)a->res % 16 ||
        a->ldr % 4)
        return 0;
    if (a->y_dt != GRK_F32 && a->y_dt != a->ab_dt)
        return 0;
    return 1;
}

/* The launch, optionally without the programmatic-dependent attribute
 * (bench/gemm_tma_trace.cu compares the two). */
static cudaError_t gemm_tma_launch(void *encoder, const grk_gemm_args *a, int cfg, int splits, int pdl, cudaStream_t s)
{
    if (!encoder || cfg < 0 || cfg >= kNumCfgs || splits < 1 || splits > 8 || !grk_gemm_tma_fits(a))
        return cudaErrorInvalidValue;
    PFN_cuTensorMapEncodeTiled_v12000 enc = (PFN_cuTensorMapEncodeTiled_v12000)encoder;
    CUtensorMap mx, mw;
    if (encode_map(enc, &mx, a->x, a->ab_dt, a->m, a->k, a->ldx, kBM) != CUDA_SUCCESS ||
        encode_map(enc, &mw, a->w, a->ab_dt, a->n, a->k, a->ldw, kCfgs[cfg].bn) != CUDA_SUCCESS)
        return cudaErrorInvalidValue;
    if (a->ab_dt == GRK_F16)
        return launch_dt<1>(cfg, mx, mw, *a, splits, pdl, s);
    return launch_dt<0>(cfg, mx, mw, *a, splits, pdl, s);
}

extern "C" cudaError_t grk_gemm_tma(void *encoder, const grk_gemm_args *a, int cfg, int splits, cudaStream_t s)
{
    return gemm_tma_launch(encoder, a, cfg, splits, 1, s);
}
