/*
 * Fused multi-head attention, flash style: each warp walks key/value tiles
 * keeping the softmax online (running max and sum in float32), so the
 * [Lq, Lk] score matrix never reaches memory.
 *
 * Two kernels:
 *  - tc_attention: BF16/F16 q/k/v on the tensor cores (mma.sync m16n8k16,
 *    fp32 accumulation, ldmatrix operands, cp.async tiles); head_dim padded
 *    with zeros to a multiple of 16. The model's calls are small (49-294
 *    queries), so the block shape is picked per call to spread the work over
 *    the SMs and shorten the busiest warp's chain (see choose_tc).
 *  - ref_attention: any float dtypes on the CUDA cores in fp32; the path for
 *    F32 and for mixed input dtypes.
 * Both take strided q/k/v views (row stride ld; head h at column h*head_dim)
 * and map query head h to kv head h / (heads / kv_heads). A launch serves
 * every span of a batch (samples stacked in rows, grid z = span): at B = 8
 * one launch where a loop made eight took the whole call from 21.2 to 17.4
 * ms (BENCHMARKS.md).
 */
#include <math.h>

#include "cuda_dtype.cuh"
#include "launch.cuh"

/* Timestamps for bench/attention_sweep.cu, which includes this file with
 * GRK_ATT_TRACE defined: per block, clock64 at entry, after the wait for
 * the kernel before, first stage landed, key loop done, key warps merged,
 * exit, and after the prologue's loads were issued; %globaltimer at entry
 * and exit. Nothing in normal builds. */
#define GRK_ATT_TRACE_SLOTS 9
#ifdef GRK_ATT_TRACE
__device__ long long g_att_trace[GRK_ATT_TRACE][GRK_ATT_TRACE_SLOTS];
__device__ __forceinline__ void att_trace_put(int slot, long long t)
{
    const int b = blockIdx.x + gridDim.x * blockIdx.y;
    if (b < GRK_ATT_TRACE && threadIdx.x == 0)
        g_att_trace[b][slot] = t;
}
#define ATT_TRACE(slot) att_trace_put(slot, clock64())
#define ATT_TRACE_GT(slot) att_trace_put(slot, grk_global_ns())
#else
#define ATT_TRACE(slot) ((void)0)
#define ATT_TRACE_GT(slot) ((void)0)
#endif

namespace {

const float kLog2e = 1.4426950408889634f;

/* The real keys: all lk, or the leading *lk_dev of them (a padded
 * sequence's length, written before a recorded call is replayed), kept in
 * [1, lk] so that a bad value cannot read past the rows. */
__device__ __forceinline__ int valid_keys(int lk, const int *lk_dev)
{
    if (!lk_dev)
        return lk;
    const int n = *lk_dev;
    return n < 1 ? 1 : n > lk ? lk : n;
}

/* Row r of m (a span's first row). */
__device__ __forceinline__ grk_mat rows_from(grk_mat m, int r)
{
    m.p = (char *)m.p + (int64_t)r * m.ld * (m.dt == GRK_F32 ? 4 : 2);
    return m;
}

/* ------------------------------------------------------------------ */
/* fp32 CUDA-core kernel                                               */
/* ------------------------------------------------------------------ */

/* A warp owns QPW queries; a tile is 32 keys, one per lane for the scores.
 * The instruction mix decides this kernel's speed: scores read a key row
 * and each query's row as float4 (4 FMAs a load), and P V reads the tile's
 * probabilities back from shared memory as broadcasts rather than one
 * shuffle per key and query (the previous form spent more issue slots on
 * shuffles and scalar loads than on FMAs). */
const int kRefWarps = 8;
const int kRefBK = 32;

__host__ __device__ inline int ref_dq(int d) { return (d + 3) & ~3; }

/* K's row stride in floats: 8 lanes' float4 reads of 8 consecutive rows
 * land on distinct banks when the stride is an odd number of float4s. */
__host__ __device__ inline int ref_kstride(int d)
{
    const int dq = ref_dq(d);
    return (dq / 4) % 2 ? dq : dq + 4;
}

size_t ref_smem_bytes(int d, int qpw, int nw)
{
    const size_t dq = (size_t)ref_dq(d);
    return sizeof(float) * ((size_t)nw * qpw * dq + (size_t)kRefBK * ref_kstride(d) + (size_t)kRefBK * dq +
                            (size_t)nw * kRefBK * qpw);
}

/* Rows [r0, r0+nrows) x columns [c0, c0+d) of m into dst (row stride
 * `stride` floats, dq = ref_dq(d) columns written), zeros past row rmax
 * and column d. vec: m is float32 with 16-byte aligned rows and c0, d a
 * multiple of 4, so whole float4s move. */
__device__ __forceinline__ void ref_load_tile(float *dst, int stride, const grk_mat &m, int r0, int nrows, int rmax,
                                              int64_t c0, int d, int vec)
{
    const int dq = ref_dq(d);
    if (vec) {
        const int cpr = dq / 4;
        for (int i = threadIdx.x; i < nrows * cpr; i += blockDim.x) {
            const int r = i / cpr, c = (i - r * cpr) * 4;
            float4 val = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (r0 + r < rmax)
                val = *(const float4 *)((const float *)m.p + (int64_t)(r0 + r) * m.ld + c0 + c);
            *(float4 *)(dst + r * stride + c) = val;
        }
    } else {
        for (int i = threadIdx.x; i < nrows * dq; i += blockDim.x) {
            const int r = i / dq, c = i - r * dq;
            dst[r * stride + c] = r0 + r < rmax && c < d ? grk_at(m, r0 + r, c0 + c) : 0.0f;
        }
    }
}

/* DCH = ceil(head_dim / 32): output columns per lane (l, l+32, ...). */
template <int DCH, int QPW, int NW>
__global__ void __launch_bounds__(NW * 32)
ref_attention(grk_mat q, grk_mat k, grk_mat v, grk_mat out, const grk_spans sp, const int *lk_dev, int group,
              int d, int causal, float scale_log2, int vec)
{
    grk_pdl_wait();
    grk_pdl_release();
    const int z = blockIdx.z;
    const int lq = sp.qn[z];
    const int BQ = NW * QPW, q0 = blockIdx.x * BQ;
    if (q0 >= lq)
        return;
    q = rows_from(q, sp.q0[z]);
    out = rows_from(out, sp.q0[z]);
    k = rows_from(k, sp.k0[z]);
    v = rows_from(v, sp.k0[z]);
    const int lk = valid_keys(sp.kn[z], lk_dev ? lk_dev + z : NULL);
    extern __shared__ float4 sm4[];
    const int dq = ref_dq(d), ks = ref_kstride(d);
    float *Qs = (float *)sm4;        /* [BQ][dq] */
    float *Ks = Qs + BQ * dq;        /* [BK][ks] */
    float *Vs = Ks + kRefBK * ks;    /* [BK][dq] */
    float *Ps = Vs + kRefBK * dq;    /* [warps][BK][QPW]: this tile's probabilities */
    const int h = blockIdx.y, kvh = h / group;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t qc = (int64_t)h * d, kc = (int64_t)kvh * d;

    ref_load_tile(Qs, dq, q, q0, BQ, lq, qc, d, vec);

    /* l holds this lane's keys' share of each row sum; the lanes' shares
     * share the correction factors and are added once at the end. */
    float m[QPW], l[QPW], acc[QPW][DCH];
#pragma unroll
    for (int i = 0; i < QPW; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
#pragma unroll
        for (int j = 0; j < DCH; j++)
            acc[i][j] = 0.0f;
    }

    int kend = lk;
    if (causal && q0 + BQ < kend)
        kend = q0 + BQ;
    const float *qr = Qs + warp * QPW * dq;
    float *pw = Ps + warp * kRefBK * QPW;
    for (int k0 = 0; k0 < kend; k0 += kRefBK) {
        __syncthreads();
        /* Rows past the real keys load as zeros: p = 0 must not meet NaN. */
        ref_load_tile(Ks, ks, k, k0, kRefBK, lk, kc, d, vec);
        ref_load_tile(Vs, dq, v, k0, kRefBK, lk, kc, d, vec);
        __syncthreads();

        float s[QPW];
#pragma unroll
        for (int i = 0; i < QPW; i++)
            s[i] = 0.0f;
        const float *kr = Ks + lane * ks;
        for (int c = 0; c < dq; c += 4) {
            const float4 kv = *(const float4 *)(kr + c);
#pragma unroll
            for (int i = 0; i < QPW; i++) {
                const float4 qv = *(const float4 *)(qr + i * dq + c);
                s[i] = fmaf(qv.x, kv.x, s[i]);
                s[i] = fmaf(qv.y, kv.y, s[i]);
                s[i] = fmaf(qv.z, kv.z, s[i]);
                s[i] = fmaf(qv.w, kv.w, s[i]);
            }
        }
        const int key = k0 + lane;
#pragma unroll
        for (int i = 0; i < QPW; i++) {
            const int qi = q0 + warp * QPW + i;
            const bool masked = key >= lk || (causal && key > qi);
            const float x = masked ? -INFINITY : s[i] * scale_log2;
            float mx = x;
            for (int off = 16; off > 0; off >>= 1)
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            const float mnew = fmaxf(m[i], mx);
            const float base = mnew == -INFINITY ? 0.0f : mnew;
            const float corr = exp2f(m[i] - base);
            const float p = exp2f(x - base);
            l[i] = l[i] * corr + p;
            m[i] = mnew;
#pragma unroll
            for (int j = 0; j < DCH; j++)
                acc[i][j] *= corr;
            pw[lane * QPW + i] = p;
        }
        __syncwarp();
        for (int kk = 0; kk < kRefBK; kk++) {
            float pv[QPW];
#pragma unroll
            for (int i = 0; i < QPW; i += 2) {
                const float2 t = *(const float2 *)(pw + kk * QPW + i);
                pv[i] = t.x;
                pv[i + 1] = t.y;
            }
            float vv[DCH];
#pragma unroll
            for (int j = 0; j < DCH; j++) {
                const int c = lane + 32 * j;
                vv[j] = c < d ? Vs[kk * dq + c] : 0.0f;
            }
#pragma unroll
            for (int i = 0; i < QPW; i++)
#pragma unroll
                for (int j = 0; j < DCH; j++)
                    acc[i][j] = fmaf(pv[i], vv[j], acc[i][j]);
        }
        __syncwarp(); /* the next tile's probabilities overwrite pw */
    }

#pragma unroll
    for (int i = 0; i < QPW; i++) {
        float sum = l[i];
        for (int off = 16; off > 0; off >>= 1)
            sum += __shfl_xor_sync(0xffffffffu, sum, off);
        const int qi = q0 + warp * QPW + i;
        if (qi >= lq)
            continue;
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
#pragma unroll
        for (int j = 0; j < DCH; j++) {
            const int c = lane + 32 * j;
            if (c < d)
                grk_put(out, qi, qc + c, acc[i][j] * inv);
        }
    }
}

/* ------------------------------------------------------------------ */
/* tensor-core kernel (BF16 / F16)                                     */
/* ------------------------------------------------------------------ */

/* Work split. A block holds NW warps = wr row warps x wk key warps. Each
 * row warp owns 16 query rows of one head; the block's rows may span hpc
 * heads of one kv group, so their keys and values are fetched once. The key
 * warps of a row walk interleaved 64-key tiles (a stage = wk tiles, streamed
 * through shared memory with cp.async, as many stages in flight as fit) and
 * merge their partial softmaxes through shared memory at the end: short
 * query sets (DiT: 49 queries) get parallelism without a second kernel. */
const int kBK = 64;  /* keys per warp tile */
const int kPad = 8;  /* halves of row padding: an odd number of 16-byte units
                      * per row keeps ldmatrix's 8 row reads on distinct banks */

struct tc_cfg {
    int nw, hpc, wr, wk, nb; /* nb: stages in flight, 0 = as many as fit */
};

struct tc_args {
    grk_mat q, k, v, out;
    const int *lk_dev; /* NULL, or the real keys (valid_keys) */
    int lq, lk, group, d, causal, vec, outvec;
    float scale_log2;
    int hpc, wr, wk, nbuf, rev;
    int kv_ready; /* k, v, lk_dev may be read before grk_pdl_wait (grk_attention) */
    int l1;       /* copies made after the wait go through L1 (cp16) */
    grk_pf pf; /* asked of L2 first thing (cuda_kernels.h) */
};

size_t tc_smem(int dp, int wr, int wk, int nbuf)
{
    return 2 * (size_t)(dp + kPad) * ((size_t)16 * wr + (size_t)2 * nbuf * wk * kBK);
}

template <typename T> struct mma_op;
template <> struct mma_op<__nv_bfloat16> {
    static __device__ __forceinline__ void run(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi)
    {
        __nv_bfloat162 t = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&t);
    }
};
template <> struct mma_op<__half> {
    static __device__ __forceinline__ void run(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi)
    {
        __half2 t = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&t);
    }
};

/* exp2 on the SFU alone: inputs are <= 0 here (or -inf, giving 0), so the
 * subnormal handling exp2f adds only changes results below 2^-126. */
__device__ __forceinline__ float ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

__device__ __forceinline__ uint32_t smem_u32(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global -> shared without a register round trip; src_bytes 0
 * writes zeros (padding rows and columns). l1 routes it through L1: only
 * after grk_pdl_wait, since lines cached before the kernel before has
 * finished could be stale (default loads are cached so too, and the wait
 * makes that kernel's writes visible). The ViT attention's 144-byte rows
 * at a large stride arrived ~10% sooner so (bench/attention_sweep). */
__device__ __forceinline__ void cp16(uint32_t dst, const void *src, int src_bytes, int l1)
{
    if (l1)
        asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
    else
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}

__device__ __forceinline__ void cp_commit()
{
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int N> __device__ __forceinline__ void cp_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* wait_group takes an immediate; past 6 it waits for more than asked, which
 * is only less overlap. */
__device__ __forceinline__ void cp_wait_upto(int n)
{
    switch (n) {
    case 0: cp_wait<0>(); break;
    case 1: cp_wait<1>(); break;
    case 2: cp_wait<2>(); break;
    case 3: cp_wait<3>(); break;
    case 4: cp_wait<4>(); break;
    case 5: cp_wait<5>(); break;
    default: cp_wait<6>(); break;
    }
}

__device__ __forceinline__ void ldsm4(uint32_t *r, uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void ldsm4_t(uint32_t *r, uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* Rows [r0, r0+nrows) x columns [c0, c0+d) of m into a [nrows][DP+kPad]
 * tile, zeros past row rmax and column d; NT threads share the work. The
 * vec path only enqueues (cp.async; the caller commits and waits). Each
 * thread keeps one 16-byte column for all its rows, so a copy costs a few
 * instructions: the key loop issues them from the critical warps; l1
 * (after grk_pdl_wait only) routes them through L1 (cp16). The scalar
 * path, for views that are not 16-byte aligned, stores directly. */
template <typename T, int DP, int NT>
__device__ __forceinline__ void load_rows(T *dst, const grk_mat &m, int r0, int nrows, int rmax,
                                          int64_t c0, int d, int vec, int l1, int tid)
{
    const int S = DP + kPad;
    const T *src = (const T *)m.p;
    if (vec) {
        const int CH = DP / 8, RPP = NT / CH; /* NT >= 64 > CH */
        const int r = tid / CH, c = (tid - r * CH) * 8;
        if (r >= RPP)
            return;
        const int nvalid = c < d ? rmax - r0 : 0;
        const T *p = src + (int64_t)(r0 + r) * m.ld + c0 + c;
        const int64_t step = (int64_t)RPP * m.ld;
        uint32_t sa = smem_u32(dst + r * S + c);
#pragma unroll 4
        for (int row = r; row < nrows; row += RPP) {
            const bool in = row < nvalid;
            cp16(sa, in ? p : src, in ? 16 : 0, l1);
            p += step;
            sa += RPP * S * 2;
        }
    } else {
        for (int i = tid; i < nrows * DP; i += NT) {
            int r = i / DP, c = i - r * DP;
            T val = T(0.0f);
            if (r0 + r < rmax && c < d)
                val = src[(int64_t)(r0 + r) * m.ld + c0 + c];
            dst[r * S + c] = val;
        }
    }
}

/* This block's query rows, hpc heads of rph rows each, into Qs. */
template <typename T, int DP, int NT>
__device__ __forceinline__ void load_queries(T *Qs, const tc_args &a, int q0, int h0, int rph, int tid)
{
    for (int hh = 0; hh < a.hpc; hh++)
        load_rows<T, DP, NT>(Qs + hh * rph * (DP + kPad), a.q, q0, rph, a.lq, (int64_t)(h0 + hh) * a.d, a.d, a.vec,
                             a.l1, tid);
}

template <typename T, int DP, int NW>
__global__ void __launch_bounds__(NW * 32, 1)
tc_attention(const tc_args a0, const grk_spans sp)
{
    ATT_TRACE(0);
    ATT_TRACE_GT(6);
    grk_prefetch_l2(a0.pf);
    /* This block's span (blockIdx.z): its rows, lengths and key count. */
    tc_args a = a0;
    {
        const int z = blockIdx.z;
        a.q = rows_from(a0.q, sp.q0[z]);
        a.out = rows_from(a0.out, sp.q0[z]);
        a.k = rows_from(a0.k, sp.k0[z]);
        a.v = rows_from(a0.v, sp.k0[z]);
        a.lq = sp.qn[z];
        a.lk = sp.kn[z];
        a.lk_dev = a0.lk_dev ? a0.lk_dev + z : NULL;
    }
    if (!a.kv_ready) {
        grk_pdl_wait();
        grk_pdl_release();
        ATT_TRACE(1);
    }
    extern __shared__ __align__(16) unsigned char smraw[];
    const int S = DP + kPad;
    typedef mma_op<T> op;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int g = lane >> 2, t4 = lane & 3; /* mma fragment coordinates */
    const int wr = warp % a.wr, wk = warp / a.wr;
    const int rph = 16 * a.wr / a.hpc; /* query rows per head in this block */
    /* Causal: the longest blocks (last rows) go first, so the short ones
     * fill in behind them. */
    const int bx = a.rev ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    const int q0 = bx * rph, h0 = blockIdx.y * a.hpc;
    if (q0 >= a.lq)
        return; /* a shorter span than the grid was sized for */
    const int64_t kc = (int64_t)(h0 / a.group) * a.d;
    const int stk = a.wk * kBK; /* keys per stage */
    T *Qs = (T *)smraw;              /* [16 wr][S] */
    T *Ks = Qs + 16 * a.wr * S;      /* [nbuf][stk][S] */
    T *Vs = Ks + a.nbuf * stk * S;   /* [nbuf][stk][S] */

    const int lk = valid_keys(a.lk, a.lk_dev);
    int kend = lk;
    if (a.causal && q0 + rph < kend)
        kend = q0 + rph;
    const int nst = (kend + stk - 1) / stk;

    /* Prologue: the first nbuf stages in flight at once (Q rides with the
     * first); the key loop is latency-bound, so depth matters more than
     * overlap with compute. With keys and values made earlier (a DiT
     * cross-attention's, once per call), they are requested while the
     * previous kernel finishes, and Q, its output, after the wait. */
    if (!a.kv_ready)
        load_queries<T, DP, NW * 32>(Qs, a, q0, h0, rph, tid);
    for (int p = 0; p < a.nbuf && p < nst; p++) {
        /* With kv_ready these are issued before the wait: not through L1. */
        const int l1 = a.l1 && !a.kv_ready;
        load_rows<T, DP, NW * 32>(Ks + p * stk * S, a.k, p * stk, stk, kend, kc, a.d, a.vec, l1, tid);
        load_rows<T, DP, NW * 32>(Vs + p * stk * S, a.v, p * stk, stk, kend, kc, a.d, a.vec, l1, tid);
        cp_commit();
    }
    ATT_TRACE(8);
    if (a.kv_ready) {
        grk_pdl_wait();
        grk_pdl_release();
        ATT_TRACE(1);
        load_queries<T, DP, NW * 32>(Qs, a, q0, h0, rph, tid);
        cp_commit();
    }

    /* This warp's rows: head h, rows r0 .. r0+15. */
    const int slot = wr * 16;
    const int h = h0 + slot / rph;
    const int r0 = q0 + slot % rph;
    int wend = r0 < a.lq ? kend : 0; /* keys this warp must visit */
    if (a.causal && r0 + 16 < wend)
        wend = r0 + 16;
    const int qrow0 = r0 + g, qrow1 = qrow0 + 8;

    /* ldmatrix lane addresses (byte offsets within a tile). Q: matrices
     * (rows 0-7 | 8-15) x (dims 0-7 | 8-15) in A-fragment order. K: keys
     * (0-7 | 8-15) x dims (0-7 | 8-15) -> b0 b1 of two key n-tiles. V
     * (transposed on load): keys (0-7 | 8-15) x dims (0-7 | 8-15) -> b0 b1
     * of two dim n-tiles. */
    const uint32_t qoff = (uint32_t)(((slot + (lane & 15)) * S + (lane >> 4) * 8) * 2);
    const uint32_t koff = (uint32_t)((((lane & 7) + ((lane >> 4) << 3)) * S + ((lane >> 3) & 1) * 8) * 2);
    const uint32_t voff = (uint32_t)((((lane & 7) + (((lane >> 3) & 1) << 3)) * S + (lane >> 4) * 8) * 2);

    uint32_t qf[DP / 16][4];
    float o[DP / 8][4];
#pragma unroll
    for (int i = 0; i < DP / 8; i++)
        o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};

    for (int st = 0; st < nst; st++) {
        const int issued = st + a.nbuf < nst ? st + a.nbuf : nst;
        if (st == 0 && a.kv_ready)
            cp_wait<0>(); /* Q's group came last */
        else
            cp_wait_upto(issued - st - 1);
        __syncthreads();
        if (st == 0) {
            ATT_TRACE(2);
            const uint32_t qa = smem_u32(Qs) + qoff;
#pragma unroll
            for (int kk = 0; kk < DP / 16; kk++)
                ldsm4(qf[kk], qa + kk * 32);
        }
        const int k0 = st * stk + wk * kBK;
        if (k0 < wend) {
            const int toff = ((st % a.nbuf) * stk + wk * kBK) * S;
            const uint32_t ka = smem_u32(Ks + toff) + koff;
            const uint32_t va = smem_u32(Vs + toff) + voff;

            /* S = Q K^T for 16 rows x 64 keys. */
            float s[kBK / 8][4];
#pragma unroll
            for (int nt = 0; nt < kBK / 8; nt++)
                s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < DP / 16; kk++) {
                uint32_t b[kBK / 16][4];
#pragma unroll
                for (int np = 0; np < kBK / 16; np++)
                    ldsm4(b[np], ka + (np * 16 * S + kk * 16) * 2);
#pragma unroll
                for (int np = 0; np < kBK / 16; np++) {
                    op::run(s[2 * np], qf[kk], b[np][0], b[np][1]);
                    op::run(s[2 * np + 1], qf[kk], b[np][2], b[np][3]);
                }
            }

            /* Online softmax in the log2 domain; rows qrow0 (s[][0..1]) and
             * qrow1 (s[][2..3]). The scale (> 0, checked by the host) goes
             * in after the row max and inside one fma with the shift. */
            const float sl2 = a.scale_log2;
            const bool edge = k0 + kBK > lk || (a.causal && k0 + kBK - 1 > r0);
            if (edge) {
#pragma unroll
                for (int nt = 0; nt < kBK / 8; nt++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int key = k0 + nt * 8 + t4 * 2 + (e & 1);
                        int qi = e < 2 ? qrow0 : qrow1;
                        if (key >= lk || (a.causal && key > qi))
                            s[nt][e] = -INFINITY;
                    }
                }
            }
            float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < kBK / 8; nt++) {
                mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
                mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
            }
#pragma unroll
            for (int off = 1; off < 4; off <<= 1) {
                mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
                mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
            }
            const float mn0 = fmaxf(mrow[0], mx0 * sl2), mn1 = fmaxf(mrow[1], mx1 * sl2);
            /* A row with nothing unmasked yet keeps m = -inf: base 0 keeps exp2 finite. */
            const float b0 = mn0 == -INFINITY ? 0.0f : mn0, b1 = mn1 == -INFINITY ? 0.0f : mn1;
            const float c0 = ex2(mrow[0] - b0), c1 = ex2(mrow[1] - b1);
            mrow[0] = mn0;
            mrow[1] = mn1;
            float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
            for (int nt = 0; nt < kBK / 8; nt++) {
                s[nt][0] = ex2(fmaf(s[nt][0], sl2, -b0));
                s[nt][1] = ex2(fmaf(s[nt][1], sl2, -b0));
                s[nt][2] = ex2(fmaf(s[nt][2], sl2, -b1));
                s[nt][3] = ex2(fmaf(s[nt][3], sl2, -b1));
                ps0 += s[nt][0] + s[nt][1];
                ps1 += s[nt][2] + s[nt][3];
            }
            /* Row sums stay partial per thread (the 4 threads of a row share
             * the correction factors) and are combined once at the end. */
            lrow[0] = lrow[0] * c0 + ps0;
            lrow[1] = lrow[1] * c1 + ps1;
#pragma unroll
            for (int i = 0; i < DP / 8; i++) {
                o[i][0] *= c0;
                o[i][1] *= c0;
                o[i][2] *= c1;
                o[i][3] *= c1;
            }

            /* O += P V: the S accumulators of two neighbouring key n-tiles
             * are exactly one A fragment. */
#pragma unroll
            for (int kt = 0; kt < kBK / 16; kt++) {
                uint32_t pa[4];
                pa[0] = op::pack(s[2 * kt][0], s[2 * kt][1]);
                pa[1] = op::pack(s[2 * kt][2], s[2 * kt][3]);
                pa[2] = op::pack(s[2 * kt + 1][0], s[2 * kt + 1][1]);
                pa[3] = op::pack(s[2 * kt + 1][2], s[2 * kt + 1][3]);
#pragma unroll
                for (int n0 = 0; n0 < DP / 16; n0 += 4) {
                    uint32_t b[4][4];
#pragma unroll
                    for (int j = 0; j < 4; j++)
                        if (n0 + j < DP / 16)
                            ldsm4_t(b[j], va + (kt * 16 * S + (n0 + j) * 16) * 2);
#pragma unroll
                    for (int j = 0; j < 4; j++) {
                        if (n0 + j < DP / 16) {
                            op::run(o[2 * (n0 + j)], pa, b[j][0], b[j][1]);
                            op::run(o[2 * (n0 + j) + 1], pa, b[j][2], b[j][3]);
                        }
                    }
                }
            }
        }
        if (st + a.nbuf < nst) {
            __syncthreads(); /* the stage after next reuses this buffer */
            const int b = st % a.nbuf, nx = st + a.nbuf;
            load_rows<T, DP, NW * 32>(Ks + b * stk * S, a.k, nx * stk, stk, kend, kc, a.d, a.vec, a.l1, tid);
            load_rows<T, DP, NW * 32>(Vs + b * stk * S, a.v, nx * stk, stk, kend, kc, a.d, a.vec, a.l1, tid);
            cp_commit();
        }
    }

    ATT_TRACE(3);
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        lrow[0] += __shfl_xor_sync(0xffffffffu, lrow[0], off);
        lrow[1] += __shfl_xor_sync(0xffffffffu, lrow[1], off);
    }

    if (a.wk > 1) {
        /* Key warps 1.. hand (O, m, l) to key warp 0 of their row through
         * the now idle K/V buffers, lane-major so each lane reads back what
         * the same lane wrote. */
        const int PW = DP / 2 + 4;
        float *part = (float *)Ks;
        __syncthreads(); /* every warp is done with the last stage */
        if (wk > 0) {
            float *p = part + ((wk - 1) * a.wr + wr) * PW * 32 + lane;
#pragma unroll
            for (int nt = 0; nt < DP / 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    p[(nt * 4 + e) * 32] = o[nt][e];
            p[(DP / 2) * 32] = mrow[0];
            p[(DP / 2 + 1) * 32] = mrow[1];
            p[(DP / 2 + 2) * 32] = lrow[0];
            p[(DP / 2 + 3) * 32] = lrow[1];
        }
        __syncthreads();
        if (wk > 0)
            return;
        for (int w = 1; w < a.wk; w++) {
            const float *p = part + ((w - 1) * a.wr + wr) * PW * 32 + lane;
            const float m0 = p[(DP / 2) * 32], m1 = p[(DP / 2 + 1) * 32];
            const float mn0 = fmaxf(mrow[0], m0), mn1 = fmaxf(mrow[1], m1);
            const float b0 = mn0 == -INFINITY ? 0.0f : mn0, b1 = mn1 == -INFINITY ? 0.0f : mn1;
            const float ca0 = ex2(mrow[0] - b0), cb0 = ex2(m0 - b0);
            const float ca1 = ex2(mrow[1] - b1), cb1 = ex2(m1 - b1);
            lrow[0] = lrow[0] * ca0 + p[(DP / 2 + 2) * 32] * cb0;
            lrow[1] = lrow[1] * ca1 + p[(DP / 2 + 3) * 32] * cb1;
            mrow[0] = mn0;
            mrow[1] = mn1;
#pragma unroll
            for (int nt = 0; nt < DP / 8; nt++) {
                o[nt][0] = o[nt][0] * ca0 + p[(nt * 4 + 0) * 32] * cb0;
                o[nt][1] = o[nt][1] * ca0 + p[(nt * 4 + 1) * 32] * cb0;
                o[nt][2] = o[nt][2] * ca1 + p[(nt * 4 + 2) * 32] * cb1;
                o[nt][3] = o[nt][3] * ca1 + p[(nt * 4 + 3) * 32] * cb1;
            }
        }
    }

    ATT_TRACE(4);
    if (r0 >= a.lq)
        return;
    const float inv0 = lrow[0] > 0.0f ? 1.0f / lrow[0] : 0.0f;
    const float inv1 = lrow[1] > 0.0f ? 1.0f / lrow[1] : 0.0f;
    const int64_t oc = (int64_t)h * a.d;
#pragma unroll
    for (int nt = 0; nt < DP / 8; nt++) {
        const int c = nt * 8 + t4 * 2;
        if (a.outvec) { /* d even, out of T, 4-byte aligned pairs */
            if (c < a.d) {
                T *op0 = (T *)a.out.p + oc + c;
                if (qrow0 < a.lq)
                    *(uint32_t *)(op0 + (int64_t)qrow0 * a.out.ld) =
                        op::pack(o[nt][0] * inv0, o[nt][1] * inv0);
                if (qrow1 < a.lq)
                    *(uint32_t *)(op0 + (int64_t)qrow1 * a.out.ld) =
                        op::pack(o[nt][2] * inv1, o[nt][3] * inv1);
            }
        } else {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                if (c + e < a.d) {
                    if (qrow0 < a.lq)
                        grk_put(a.out, qrow0, oc + c + e, o[nt][e] * inv0);
                    if (qrow1 < a.lq)
                        grk_put(a.out, qrow1, oc + c + e, o[nt][2 + e] * inv1);
                }
            }
        }
    }
    ATT_TRACE(5);
    ATT_TRACE_GT(7);
}

int pad16(int d)
{
    return (d + 15) / 16 * 16;
}

int cdiv(long a, long b)
{
    return (int)((a + b - 1) / b);
}

long tc_blocks(int lq, int heads, tc_cfg c)
{
    return (long)cdiv(lq, 16 * c.wr / c.hpc) * (heads / c.hpc);
}

/* Stages in flight: every stage of the keys when they fit, within the
 * shared memory left per block once the grid is spread over the SMs. */
int tc_stages(int dp, tc_cfg c, int lk, long blocks, int num_sms)
{
    const int nst = cdiv(lk, c.wk * kBK);
    if (c.nb > 0)
        return c.nb < nst ? c.nb : nst;
    const long per_sm = blocks > num_sms ? cdiv(blocks, num_sms) : 1;
    const size_t budget = (size_t)(227 * 1024) / (size_t)per_sm - 1024;
    int nb = nst;
    while (nb > 2 && tc_smem(dp, c.wr, c.wk, nb) > budget)
        nb--;
    return nb;
}

/* a.lq and a.lk: the longest span's queries and keys. */
template <typename T, int DP, int NW>
cudaError_t launch_tc_nw(tc_args a, const grk_spans &sp, int heads, tc_cfg c, int num_sms, grk_stream s)
{
    a.hpc = c.hpc;
    a.wr = c.wr;
    a.wk = c.wk;
    const long blocks = tc_blocks(a.lq, heads, c) * sp.count;
    a.nbuf = tc_stages(DP, c, a.lk, blocks, num_sms);
    a.rev = a.causal;
    const size_t smem = tc_smem(DP, c.wr, c.wk, a.nbuf);
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(tc_attention<T, DP, NW>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess)
            return e;
    }
    dim3 grid((unsigned)cdiv(a.lq, 16 * c.wr / c.hpc), (unsigned)(heads / c.hpc), (unsigned)sp.count);
    return grk_launch(tc_attention<T, DP, NW>, dim3(grid), dim3(NW * 32), smem, s, a, sp);
}

template <typename T, int DP>
cudaError_t launch_tc_dp(const tc_args &a, const grk_spans &sp, int heads, tc_cfg c, int num_sms, grk_stream s)
{
    if (c.nw == 8)
        return launch_tc_nw<T, DP, 8>(a, sp, heads, c, num_sms, s);
    if (c.nw == 2)
        return launch_tc_nw<T, DP, 2>(a, sp, heads, c, num_sms, s);
    return launch_tc_nw<T, DP, 4>(a, sp, heads, c, num_sms, s);
}

template <typename T>
cudaError_t launch_tc(const tc_args &a, const grk_spans &sp, int heads, tc_cfg c, int num_sms, grk_stream s)
{
    const int d = a.d;
    if (d <= 16) return launch_tc_dp<T, 16>(a, sp, heads, c, num_sms, s);
    if (d <= 32) return launch_tc_dp<T, 32>(a, sp, heads, c, num_sms, s);
    if (d <= 48) return launch_tc_dp<T, 48>(a, sp, heads, c, num_sms, s);
    if (d <= 64) return launch_tc_dp<T, 64>(a, sp, heads, c, num_sms, s);
    if (d <= 80) return launch_tc_dp<T, 80>(a, sp, heads, c, num_sms, s);
    if (d <= 96) return launch_tc_dp<T, 96>(a, sp, heads, c, num_sms, s);
    return launch_tc_dp<T, 128>(a, sp, heads, c, num_sms, s);
}

/* Picks the block shape by a cost model fitted to H100 sweeps. These
 * grids are small, so a block's time is the issue time of its busiest warp
 * (~3.6 cycles an instruction at one or two warps per scheduler): its
 * copies (8 instructions per 16 bytes, split over the block's threads), its
 * 16x64 tiles (~2 dp + 200 instructions each) and the merge of key warps;
 * or, when larger, the block's share of L2 traffic. Times waves. */
tc_cfg choose_tc(int lq, int lk, int heads, int group, int d, int causal, int num_sms)
{
    const int dp = pad16(d);
    const int kmax = causal && lq < lk ? lq : lk;
    tc_cfg best = {4, 1, 4, 1, 0};
    double best_cost = 1e30;
    const int nws[3] = {2, 4, 8};
    for (int ni = 0; ni < 3; ni++) {
        const int nw = nws[ni];
        for (int wr = 1; wr <= nw; wr *= 2) {
            const int wk = nw / wr;
            for (int hpc = 1; hpc <= wr; hpc *= 2) {
                if (wr % hpc || group % hpc)
                    continue;
                tc_cfg c = {nw, hpc, wr, wk, 0};
                const int rph = 16 * wr / hpc;
                if (rph > 16 * cdiv(lq, 16) && wr > 1 && hpc == 1)
                    continue; /* whole row warps past the end */
                const long blocks = tc_blocks(lq, heads, c);
                const int nbuf = tc_stages(dp, c, lk, blocks, num_sms);
                const size_t smem = tc_smem(dp, wr, wk, nbuf);
                if (smem > 227 * 1024)
                    continue;
                const int regs = dp >= 128 ? 210 : dp >= 96 ? 178 : dp >= 80 ? 160 : dp >= 64 ? 146 : 136;
                int per_sm = (int)((227 * 1024) / (smem + 1024));
                if (per_sm > 65536 / (regs * 32 * nw))
                    per_sm = 65536 / (regs * 32 * nw);
                if (per_sm < 1)
                    per_sm = 1;
                const long slots = (long)num_sms * per_sm;
                const long waves = (blocks + slots - 1) / slots;
                const long resident = blocks < slots ? blocks : slots;
                const double per_sched = (double)cdiv(resident, num_sms) * nw / 4.0;
                const double cpi = 3.6 * (per_sched > 2.0 ? per_sched / 2.0 : 1.0);
                const int rpp = nw * 32 / (dp / 8);
                const int stk = wk * kBK;
                const double load = 2.0 * cdiv(stk, rpp) * 8;
                const double qload = (double)hpc * cdiv(rph, rpp) * 8;
                const double tile = 2.0 * dp + 200;
                const double merge = wk > 1 ? (dp / 2 + 10.0) * wk : 0.0;
                const double crit = (qload + cdiv(kmax, stk) * load + cdiv(cdiv(kmax, kBK), wk) * tile +
                                     merge) * cpi;
                const double kavg = causal ? kmax / 2.0 : kmax;
                const double l2 = blocks * (kavg * dp * 4.0 + rph * hpc * dp * 2.0) / 4000.0;
                const double cost = waves * (6000.0 + (crit > l2 ? crit : l2));
                if (cost < best_cost - 1e-9) {
                    best_cost = cost;
                    best = c;
                }
            }
        }
    }
    return best;
}

template <int DCH, int QPW, int NW>
cudaError_t launch_ref_qpw(grk_mat q, grk_mat k, grk_mat v, grk_mat out, const grk_spans &sp, int lq,
                           const int *lk_dev, int heads, int group, int d, int causal, float sl2, int vec,
                           grk_stream s)
{
    const size_t smem = ref_smem_bytes(d, QPW, NW);
    cudaError_t e = cudaFuncSetAttribute(ref_attention<DCH, QPW, NW>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)smem);
    if (e != cudaSuccess)
        return e;
    const int bq = NW * QPW;
    dim3 grid((unsigned)((lq + bq - 1) / bq), (unsigned)heads, (unsigned)sp.count);
    return grk_launch(ref_attention<DCH, QPW, NW>, dim3(grid), dim3(NW * 32), smem, s, q, k, v, out, sp, lk_dev,
                      group, d, causal, sl2, vec);
}

/* lq: the longest span's queries. Eight warps of four queries each (two
 * for short query sets, the DiT's 49): fewer queries a warp than would
 * share loads best, but eight warps a block keep each scheduler issuing
 * (H100, tf32 whole call: 13.8 ms with 4 x 8, 14.6 with 8 x 4, 15.0 with
 * 8 x 8, 16.3 with 4 x 2). */
template <int DCH>
cudaError_t launch_ref(grk_mat q, grk_mat k, grk_mat v, grk_mat out, const grk_spans &sp, int lq, const int *lk_dev,
                       int heads, int group, int d, int causal, float sl2, int vec, grk_stream s)
{
    if (lq <= 64)
        return launch_ref_qpw<DCH, 2, kRefWarps>(q, k, v, out, sp, lq, lk_dev, heads, group, d, causal, sl2, vec, s);
    return launch_ref_qpw<DCH, 4, kRefWarps>(q, k, v, out, sp, lq, lk_dev, heads, group, d, causal, sl2, vec, s);
}

/* Views whose head rows move in 16-byte pieces: a 16-byte aligned base,
 * and a row stride and head width of whole 16-byte units of its type. */
bool aligned16(const grk_mat &m, int64_t col_step)
{
    const int64_t per = m.dt == GRK_F32 ? 4 : 8;
    return ((uintptr_t)m.p % 16) == 0 && m.ld % per == 0 && col_step % per == 0;
}

/* The tensor-core path's arguments, before the block shape is chosen. */
tc_args tc_prepare(grk_mat q, grk_mat k, grk_mat v, grk_mat out, int lq, int lk, const int *lk_dev, int group,
                   int d, int causal, float sl2)
{
    tc_args a;
    a.lk_dev = lk_dev;
    a.q = q;
    a.k = k;
    a.v = v;
    a.out = out;
    a.lq = lq;
    a.lk = lk;
    a.group = group;
    a.d = d;
    a.causal = causal;
    a.scale_log2 = sl2;
    a.vec = aligned16(q, d) && aligned16(k, d) && aligned16(v, d);
    a.outvec = out.dt == q.dt && d % 2 == 0 && out.ld % 2 == 0 && ((uintptr_t)out.p % 4) == 0;
    a.hpc = a.wr = a.wk = a.nbuf = 1;
    a.rev = 0;
    a.kv_ready = 0;
    a.l1 = 1;
    a.pf.p = NULL;
    a.pf.bytes = 0;
    return a;
}

} // namespace

extern "C" cudaError_t grk_attention(grk_mat q, grk_mat k, grk_mat v, grk_mat out, const grk_spans *spans,
                                     const int32_t *lk_dev, int heads, int kv_heads, int head_dim, int causal,
                                     float scale, int kv_ready, int num_sms, grk_stream s)
{
    if (!spans || spans->count < 1 || spans->count > GRK_SPANS_MAX)
        return cudaErrorInvalidValue;
    if (head_dim <= 0 || head_dim > 128 || heads <= 0 || kv_heads <= 0 || heads % kv_heads)
        return cudaErrorInvalidValue;
    /* The grid is sized for the longest span; shorter spans' extra blocks return at once. */
    int lq = 0, lk = 0;
    for (int i = 0; i < spans->count; i++) {
        if (spans->kn[i] <= 0 || spans->qn[i] < 0)
            return cudaErrorInvalidValue;
        lq = spans->qn[i] > lq ? spans->qn[i] : lq;
        lk = spans->kn[i] > lk ? spans->kn[i] : lk;
    }
    if (lq == 0)
        return cudaSuccess;
    const int group = heads / kv_heads;
    const float sl2 = scale * kLog2e;
    if (num_sms <= 0)
        num_sms = 132;
    const bool same = q.dt == k.dt && k.dt == v.dt;
    if (same && (q.dt == GRK_BF16 || q.dt == GRK_F16) && sl2 > 0.0f) {
        tc_args a = tc_prepare(q, k, v, out, lq, lk, lk_dev, group, head_dim, causal, sl2);
        a.kv_ready = kv_ready && s.pdl;
        a.pf = s.pf;
        /* Block counts scale with the spans as with the heads. */
        tc_cfg c = choose_tc(lq, lk, heads * spans->count, group, head_dim, causal, num_sms);
        if (q.dt == GRK_BF16)
            return launch_tc<__nv_bfloat16>(a, *spans, heads, c, num_sms, s);
        return launch_tc<__half>(a, *spans, heads, c, num_sms, s);
    }
    /* The fp32 kernel moves float32 rows as float4s; other types one value at a time. */
    const int vec = q.dt == GRK_F32 && k.dt == GRK_F32 && v.dt == GRK_F32 && aligned16(q, head_dim) &&
                    aligned16(k, head_dim) && aligned16(v, head_dim);
    const grk_spans &sp = *spans;
    switch ((head_dim + 31) / 32) {
    case 1: return launch_ref<1>(q, k, v, out, sp, lq, lk_dev, heads, group, head_dim, causal, sl2, vec, s);
    case 2: return launch_ref<2>(q, k, v, out, sp, lq, lk_dev, heads, group, head_dim, causal, sl2, vec, s);
    case 3: return launch_ref<3>(q, k, v, out, sp, lq, lk_dev, heads, group, head_dim, causal, sl2, vec, s);
    default: return launch_ref<4>(q, k, v, out, sp, lq, lk_dev, heads, group, head_dim, causal, sl2, vec, s);
    }
}
