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
 * over the S CTAs of a thread-block cluster; they add their partial tiles
 * through distributed shared memory, each finishing 64/S of the rows
 * (bias, activation, residual, conversion), so no second kernel and no
 * float32 workspace in global memory. Rows past M and columns past K read
 * as zeros (TMA's out-of-bounds fill), so ragged M and K need no masks.
 *
 * Where it stands (H100, BENCHMARKS.md "Hopper GEMM"): correct for every
 * configuration and split, but not yet faster than cuBLASLt, so it is off
 * by default (cuda_gemm_tma.c). With the wgmmas removed a kernel takes
 * nearly as long, so the limit is how fast the tiles arrive, not the math;
 * deeper rings (12 stages) and other L2 promotions did not change that.
 * cuBLASLt's kernels for these shapes share tiles across a cluster (e.g.
 * 192x8 tiles in 2x4 clusters for the DiT's 49-row GEMMs): multicast
 * loads are where to go next.
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

namespace {

const int kBM = 64;           /* rows per CTA: one warpgroup's wgmma M */
const int kBK = 64;           /* K per stage: 128 bytes of 16-bit values */
const int kConsumers = 128;   /* one warpgroup */
const int kThreads = kConsumers + 32;
const int kPad = 4;           /* floats of padding per row of the partial tile */

/* The configurations: BN and ring depth, sized so that two CTAs fit on
 * one SM (about 100 KB each), which lets the next GEMM's CTAs start
 * fetching while this one's finish. */
struct tma_cfg {
    int bn, stages;
};
const tma_cfg kCfgs[] = {{64, 6}, {128, 4}, {256, 2}};
const int kNumCfgs = (int)(sizeof kCfgs / sizeof kCfgs[0]);

__host__ __device__ constexpr int stage_bytes(int bn) { return (kBM + bn) * kBK * 2; }

size_t smem_bytes(int bn, int stages)
{
    size_t ring = (size_t)stages * stage_bytes(bn);
    size_t part = (size_t)kBM * (bn + kPad) * sizeof(float);
    size_t body = ring > part ? ring : part;
    return 1024 /* alignment slack */ + body + 2 * (size_t)stages * sizeof(uint64_t);
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
/* Four consecutive values of a float32 or 16-bit row at element offset o
 * (o a multiple of 4, the base 16-byte aligned). */
__device__ __forceinline__ float4 ld4(const void *p, int dt, int64_t o)
{
    if (dt == GRK_F32)
        return *(const float4 *)((const float *)p + o);
    const uint2 u = *(const uint2 *)((const uint16_t *)p + o);
    if (dt == GRK_BF16) {
        const float2 a = __bfloat1622float2(*(const __nv_bfloat162 *)&u.x), b = __bfloat1622float2(*(const __nv_bfloat162 *)&u.y);
        return make_float4(a.x, a.y, b.x, b.y);
    }
    const float2 a = __half22float2(*(const __half2 *)&u.x), b = __half22float2(*(const __half2 *)&u.y);
    return make_float4(a.x, a.y, b.x, b.y);
}

__device__ __forceinline__ void st4(void *p, int dt, int64_t o, float4 v)
{
    if (dt == GRK_F32) {
        *(float4 *)((float *)p + o) = v;
    } else if (dt == GRK_BF16) {
        __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
        *(uint2 *)((uint16_t *)p + o) = make_uint2(*(uint32_t *)&lo, *(uint32_t *)&hi);
    } else {
        __half2 lo = __floats2half2_rn(v.x, v.y), hi = __floats2half2_rn(v.z, v.w);
        *(uint2 *)((uint16_t *)p + o) = make_uint2(*(uint32_t *)&lo, *(uint32_t *)&hi);
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
    const int ring = STAGES * stage_bytes(BN);
    const int part_bytes = kBM * (BN + kPad) * (int)sizeof(float);
    uint64_t *full = (uint64_t *)(sm + (ring > part_bytes ? ring : part_bytes));
    uint64_t *empty = full + STAGES;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

    cg::cluster_group cluster = cg::this_cluster();
    const int splits = (int)cluster.num_blocks(); /* the cluster spans only the split dimension */
    const int rank = (int)cluster.block_rank();
    const int kb0 = blockIdx.z * kb_per_split;
    const int kb1 = min(kblocks, kb0 + kb_per_split);
    const int nk = max(0, kb1 - kb0);
    const int n0 = blockIdx.x * BN, m0 = blockIdx.y * kBM;

    if (tid == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], kConsumers / 32);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; i++)
        acc[i] = 0.0f;

    if (warp == kConsumers / 32) {
        /* Producer. The weights never change, so their first tiles are
         * requested before waiting for the previous kernel. */
        if (lane == 0) {
            asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)&map_w) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)&map_x) : "memory");
            const int pre = nk < STAGES ? nk : STAGES;
            for (int i = 0; i < pre; i++) {
                unsigned char *st = sm + i * stage_bytes(BN);
                mbar_expect_tx(&full[i], stage_bytes(BN));
                tma_load(st + kBM * kBK * 2, &map_w, &full[i], (kb0 + i) * kBK, n0);
            }
            grk_pdl_wait();
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
        }
    } else {
        for (int i = 0; i < nk; i++) {
            const int s = i % STAGES;
            unsigned char *st = sm + s * stage_bytes(BN);
            mbar_wait(&full[s], (i / STAGES) & 1);
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
    }
    grk_pdl_release();
    /* Everything below reads or writes what other kernels touch. */
    grk_pdl_wait();
    __syncthreads(); /* the ring is drained; reuse it for the partial tile */

    float *part = (float *)sm; /* [kBM][BN + kPad] */
    const int ldp = BN + kPad;
    if (tid < kConsumers) {
        const int r = 16 * warp + (lane >> 2), c = 2 * (lane & 3);
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
            *(float2 *)&part[r * ldp + 8 * j + c] = make_float2(acc[4 * j], acc[4 * j + 1]);
            *(float2 *)&part[(r + 8) * ldp + 8 * j + c] = make_float2(acc[4 * j + 2], acc[4 * j + 3]);
        }
    }

    cluster.sync();

    /* This CTA finishes rows [r0, r1) of the tile, summing every rank's
     * partial; 4 columns per thread. All loads of an element group are
     * issued before any arithmetic, so their latencies overlap. */
    const int r0 = rank * kBM / splits, r1 = (rank + 1) * kBM / splits;
    const int q4 = BN / 4;
    for (int idx = tid; idx < (r1 - r0) * q4; idx += kThreads) {
        const int r = r0 + idx / q4, c = 4 * (idx % q4);
        const int gm = m0 + r, gn = n0 + c;
        if (gm >= e.m || gn >= e.n)
            continue;
        float4 pv[8];
#pragma unroll
        for (int q = 0; q < 8; q++)
            if (q < splits)
                pv[q] = q == rank ? *(const float4 *)&part[r * ldp + c]
                                  : *(const float4 *)cluster.map_shared_rank(&part[r * ldp + c], q);
        const float4 bias = e.bias ? *(const float4 *)&e.bias[gn] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        const float4 res = e.res ? ld4(e.res, e.y_dt, (int64_t)gm * e.ldr + gn) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        float4 v = pv[0];
#pragma unroll
        for (int q = 1; q < 8; q++)
            if (q < splits)
                v.x += pv[q].x, v.y += pv[q].y, v.z += pv[q].z, v.w += pv[q].w;
        v.x = grk_act(e.act, v.x + bias.x) + res.x;
        v.y = grk_act(e.act, v.y + bias.y) + res.y;
        v.z = grk_act(e.act, v.z + bias.z) + res.z;
        v.w = grk_act(e.act, v.w + bias.w) + res.w;
        st4(e.y, e.y_dt, (int64_t)gm * e.ldy + gn, v);
    }
    cluster.sync(); /* the other ranks may still be reading this CTA's partial */
#endif
}

/* Shapes the kernel takes; the host wrapper checks before it picks this path. */
template <int BN, int STAGES, int F16>
cudaError_t launch_cfg(const CUtensorMap &mx, const CUtensorMap &mw, const grk_gemm_args &e, int splits, cudaStream_t s)
{
    const int kblocks = (int)((e.k + kBK - 1) / kBK);
    const int per = (kblocks + splits - 1) / splits;
    const size_t smem = smem_bytes(BN, STAGES);
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
    at[0].val.programmaticStreamSerializationAllowed = 1;
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
                      cudaStream_t s)
{
    switch (cfg) {
    case 0: return launch_cfg<64, 6, F16>(mx, mw, e, splits, s);
    case 1: return launch_cfg<128, 4, F16>(mx, mw, e, splits, s);
    default: return launch_cfg<256, 2, F16>(mx, mw, e, splits, s);
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
    return smem_bytes(kCfgs[cfg].bn, kCfgs[cfg].stages) * 2 <= 227 * 1024 ? 2 : 1;
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

extern "C" cudaError_t grk_gemm_tma(void *encoder, const grk_gemm_args *a, int cfg, int splits, cudaStream_t s)
{
    if (!encoder || cfg < 0 || cfg >= kNumCfgs || splits < 1 || splits > 8 || !grk_gemm_tma_fits(a))
        return cudaErrorInvalidValue;
    PFN_cuTensorMapEncodeTiled_v12000 enc = (PFN_cuTensorMapEncodeTiled_v12000)encoder;
    CUtensorMap mx, mw;
    if (encode_map(enc, &mx, a->x, a->ab_dt, a->m, a->k, a->ldx, kBM) != CUDA_SUCCESS ||
        encode_map(enc, &mw, a->w, a->ab_dt, a->n, a->k, a->ldw, kCfgs[cfg].bn) != CUDA_SUCCESS)
        return cudaErrorInvalidValue;
    if (a->ab_dt == GRK_F16)
        return launch_dt<1>(cfg, mx, mw, *a, splits, s);
    return launch_dt<0>(cfg, mx, mw, *a, splits, s);
}
