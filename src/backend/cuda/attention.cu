/*
 * Fused multi-head attention, flash style: one block per (query tile, head)
 * walks the key/value tiles once, keeping the softmax online (running max
 * and sum in float32), so the [Lq, Lk] score matrix never reaches memory.
 *
 * Two kernels:
 *  - tc_attention: BF16/F16 q/k/v on the tensor cores (mma.sync m16n8k16,
 *    fp32 accumulation); head_dim padded with zeros to a multiple of 16.
 *  - ref_attention: any float dtypes on the CUDA cores in fp32; the path for
 *    F32 and for mixed input dtypes.
 * Both take strided q/k/v views (row stride ld; head h at column h*head_dim)
 * and map query head h to kv head h / (heads / kv_heads).
 */
#include <math.h>

#include "cuda_dtype.cuh"

namespace {

const float kLog2e = 1.4426950408889634f;

/* ------------------------------------------------------------------ */
/* fp32 CUDA-core kernel                                               */
/* ------------------------------------------------------------------ */

const int kRefWarps = 4;
const int kRefQPW = 8;                    /* queries per warp */
const int kRefBQ = kRefWarps * kRefQPW;   /* queries per block */
const int kRefBK = 32;                    /* keys per tile: one per lane */

size_t ref_smem_bytes(int d)
{
    return sizeof(float) * ((size_t)kRefBQ * d + (size_t)kRefBK * (d + 1) + (size_t)kRefBK * d);
}

/* DCH = ceil(head_dim / 32): output columns per lane. Lane l scores key l of
 * the tile against its warp's 8 queries, then accumulates output columns
 * l, l+32, ... with the probabilities broadcast by shuffles. */
template <int DCH>
__global__ void __launch_bounds__(kRefWarps * 32)
ref_attention(grk_mat q, grk_mat k, grk_mat v, grk_mat out, int lq, int lk, int group, int d,
              int causal, float scale_log2)
{
    extern __shared__ float sm[];
    float *Qs = sm;                          /* [BQ][d] */
    float *Ks = Qs + kRefBQ * d;             /* [BK][d+1]: +1 spreads lanes over banks */
    float *Vs = Ks + kRefBK * (d + 1);       /* [BK][d] */
    const int h = blockIdx.y, kvh = h / group;
    const int q0 = blockIdx.x * kRefBQ;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t qc = (int64_t)h * d, kc = (int64_t)kvh * d;

    for (int i = threadIdx.x; i < kRefBQ * d; i += blockDim.x) {
        int r = i / d, c = i - r * d;
        Qs[i] = q0 + r < lq ? grk_at(q, q0 + r, qc + c) : 0.0f;
    }

    float m[kRefQPW], l[kRefQPW], acc[kRefQPW][DCH];
#pragma unroll
    for (int i = 0; i < kRefQPW; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
#pragma unroll
        for (int j = 0; j < DCH; j++)
            acc[i][j] = 0.0f;
    }

    int kend = lk;
    if (causal && q0 + kRefBQ < kend)
        kend = q0 + kRefBQ;
    for (int k0 = 0; k0 < kend; k0 += kRefBK) {
        __syncthreads();
        for (int i = threadIdx.x; i < kRefBK * d; i += blockDim.x) {
            int r = i / d, c = i - r * d;
            bool in = k0 + r < lk;
            Ks[r * (d + 1) + c] = in ? grk_at(k, k0 + r, kc + c) : 0.0f;
            Vs[i] = in ? grk_at(v, k0 + r, kc + c) : 0.0f; /* zeros: p = 0 must not meet NaN */
        }
        __syncthreads();

        float s[kRefQPW];
#pragma unroll
        for (int i = 0; i < kRefQPW; i++)
            s[i] = 0.0f;
        const float *kr = Ks + lane * (d + 1);
        const float *qr = Qs + warp * kRefQPW * d;
        for (int c = 0; c < d; c++) {
            float kv = kr[c];
#pragma unroll
            for (int i = 0; i < kRefQPW; i++)
                s[i] += qr[i * d + c] * kv;
        }
        const int key = k0 + lane;
#pragma unroll
        for (int i = 0; i < kRefQPW; i++) {
            int qi = q0 + warp * kRefQPW + i;
            bool masked = key >= lk || (causal && key > qi);
            float x = masked ? -INFINITY : s[i] * scale_log2;
            float mx = x;
            for (int off = 16; off > 0; off >>= 1)
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            float mnew = fmaxf(m[i], mx);
            float base = mnew == -INFINITY ? 0.0f : mnew;
            float corr = exp2f(m[i] - base);
            float p = exp2f(x - base);
            float ps = p;
            for (int off = 16; off > 0; off >>= 1)
                ps += __shfl_xor_sync(0xffffffffu, ps, off);
            l[i] = l[i] * corr + ps;
            m[i] = mnew;
#pragma unroll
            for (int j = 0; j < DCH; j++)
                acc[i][j] *= corr;
            s[i] = p;
        }
        for (int kk = 0; kk < kRefBK; kk++) {
            float vv[DCH];
#pragma unroll
            for (int j = 0; j < DCH; j++) {
                int c = lane + 32 * j;
                vv[j] = c < d ? Vs[kk * d + c] : 0.0f;
            }
#pragma unroll
            for (int i = 0; i < kRefQPW; i++) {
                float p = __shfl_sync(0xffffffffu, s[i], kk);
#pragma unroll
                for (int j = 0; j < DCH; j++)
                    acc[i][j] += p * vv[j];
            }
        }
    }

#pragma unroll
    for (int i = 0; i < kRefQPW; i++) {
        int qi = q0 + warp * kRefQPW + i;
        if (qi >= lq)
            continue;
        float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
#pragma unroll
        for (int j = 0; j < DCH; j++) {
            int c = lane + 32 * j;
            if (c < d)
                grk_put(out, qi, qc + c, acc[i][j] * inv);
        }
    }
}

/* ------------------------------------------------------------------ */
/* tensor-core kernel (BF16 / F16)                                     */
/* ------------------------------------------------------------------ */

const int kTcWarps = 4;
const int kTcBQ = 16 * kTcWarps; /* each warp owns 16 query rows */
const int kTcBK = 64;
const int kTcPad = 8;            /* halves of row padding: rows land 4 banks apart */

template <int DP>
constexpr size_t tc_smem_bytes()
{
    return 2 * ((size_t)kTcBQ * (DP + kTcPad) + (size_t)kTcBK * (DP + kTcPad) +
                (size_t)DP * (kTcBK + kTcPad));
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

/* Copies rows [r0, r0+nrows) x columns [c0, c0+d) of m into a zero-padded
 * [nrows][DP] tile (row stride `stride` halves), or transposed into
 * [DP][nrows] when TRANS. vec: 16-byte loads are legal (checked by the host). */
template <typename T, int DP, bool TRANS>
__device__ __forceinline__ void load_tile(T *dst, int stride, const grk_mat &m, int r0, int rmax,
                                          int64_t c0, int d, int nrows, bool vec)
{
    const T *src = (const T *)m.p;
    const T zero = T(0.0f);
    if (vec) {
        const int chunks = DP / 8;
        for (int i = threadIdx.x; i < nrows * chunks; i += blockDim.x) {
            /* TRANS walks rows fastest so that the scattered 2-byte stores
             * of neighbouring threads share words instead of banks. */
            int r = TRANS ? i % nrows : i / chunks;
            int ch = TRANS ? i / nrows : i % chunks;
            int c = ch * 8;
            uint4 val = make_uint4(0, 0, 0, 0);
            if (r0 + r < rmax && c < d)
                val = *(const uint4 *)(src + (int64_t)(r0 + r) * m.ld + c0 + c);
            if (TRANS) {
                const T *e = (const T *)&val;
#pragma unroll
                for (int j = 0; j < 8; j++)
                    dst[(c + j) * stride + r] = e[j];
            } else {
                *(uint4 *)(dst + r * stride + c) = val;
            }
        }
    } else {
        for (int i = threadIdx.x; i < nrows * DP; i += blockDim.x) {
            int r = TRANS ? i % nrows : i / DP;
            int c = TRANS ? i / nrows : i % DP;
            T val = zero;
            if (r0 + r < rmax && c < d)
                val = src[(int64_t)(r0 + r) * m.ld + c0 + c];
            if (TRANS)
                dst[c * stride + r] = val;
            else
                dst[r * stride + c] = val;
        }
    }
}

template <typename T, int DP>
__global__ void __launch_bounds__(kTcWarps * 32)
tc_attention(grk_mat q, grk_mat k, grk_mat v, grk_mat out, int lq, int lk, int group, int d,
             int causal, float scale_log2, int vec, int kchunk, float *ws_o, float *ws_ml)
{
    extern __shared__ __align__(16) unsigned char smraw[];
    const int QS = DP + kTcPad, VS = kTcBK + kTcPad;
    T *Qs = (T *)smraw;            /* [BQ][QS] */
    T *Ks = Qs + kTcBQ * QS;       /* [BK][QS] */
    T *Vt = Ks + kTcBK * QS;       /* [DP][VS]: V transposed, so B fragments are contiguous pairs */
    typedef mma_op<T> op;

    const int h = blockIdx.y, kvh = h / group;
    const int q0 = blockIdx.x * kTcBQ;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t4 = lane & 3; /* mma fragment coordinates */
    const int64_t qc = (int64_t)h * d, kc = (int64_t)kvh * d;

    load_tile<T, DP, false>(Qs, QS, q, q0, lq, qc, d, kTcBQ, vec);
    __syncthreads();

    /* This warp's Q rows as A fragments, kept for the whole key loop. */
    uint32_t qf[DP / 16][4];
    {
        const T *qr = Qs + (warp * 16) * QS;
#pragma unroll
        for (int kk = 0; kk < DP / 16; kk++) {
            int c = kk * 16 + t4 * 2;
            qf[kk][0] = *(const uint32_t *)(qr + g * QS + c);
            qf[kk][1] = *(const uint32_t *)(qr + (g + 8) * QS + c);
            qf[kk][2] = *(const uint32_t *)(qr + g * QS + c + 8);
            qf[kk][3] = *(const uint32_t *)(qr + (g + 8) * QS + c + 8);
        }
    }

    float o[DP / 8][4];
#pragma unroll
    for (int i = 0; i < DP / 8; i++)
        o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};
    const int qrow0 = q0 + warp * 16 + g, qrow1 = qrow0 + 8;

    int kend = lk;
    if (causal && q0 + kTcBQ < kend)
        kend = q0 + kTcBQ;
    /* Split-KV: block z walks only its chunk of the keys. */
    const int kbeg = blockIdx.z * kchunk;
    if (kbeg + kchunk < kend)
        kend = kbeg + kchunk;
    for (int k0 = kbeg; k0 < kend; k0 += kTcBK) {
        __syncthreads();
        load_tile<T, DP, false>(Ks, QS, k, k0, lk, kc, d, kTcBK, vec);
        load_tile<T, DP, true>(Vt, VS, v, k0, lk, kc, d, kTcBK, vec);
        __syncthreads();

        /* S = Q K^T for this warp's 16 rows x 64 keys. */
        float s[kTcBK / 8][4];
#pragma unroll
        for (int nt = 0; nt < kTcBK / 8; nt++) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
            const T *kr = Ks + (nt * 8 + g) * QS + t4 * 2;
#pragma unroll
            for (int kk = 0; kk < DP / 16; kk++) {
                uint32_t b0 = *(const uint32_t *)(kr + kk * 16);
                uint32_t b1 = *(const uint32_t *)(kr + kk * 16 + 8);
                op::run(s[nt], qf[kk], b0, b1);
            }
        }

        /* Online softmax over the tile; rows qrow0 (s[][0..1]) and qrow1 (s[][2..3]). */
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kTcBK / 8; nt++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = k0 + nt * 8 + t4 * 2 + (e & 1);
                int qi = e < 2 ? qrow0 : qrow1;
                bool masked = key >= lk || (causal && key > qi);
                s[nt][e] = masked ? -INFINITY : s[nt][e] * scale_log2;
            }
            mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
            mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
        }
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
        }
        float mn0 = fmaxf(mrow[0], mx0), mn1 = fmaxf(mrow[1], mx1);
        float b0 = mn0 == -INFINITY ? 0.0f : mn0, b1 = mn1 == -INFINITY ? 0.0f : mn1;
        float c0 = exp2f(mrow[0] - b0), c1 = exp2f(mrow[1] - b1);
        mrow[0] = mn0;
        mrow[1] = mn1;
        float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kTcBK / 8; nt++) {
            s[nt][0] = exp2f(s[nt][0] - b0);
            s[nt][1] = exp2f(s[nt][1] - b0);
            s[nt][2] = exp2f(s[nt][2] - b1);
            s[nt][3] = exp2f(s[nt][3] - b1);
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

        /* O += P V: the S accumulators of two neighbouring key tiles are
         * exactly one A fragment of the next mma. */
#pragma unroll
        for (int kt = 0; kt < kTcBK / 16; kt++) {
            uint32_t a[4];
            a[0] = op::pack(s[2 * kt][0], s[2 * kt][1]);
            a[1] = op::pack(s[2 * kt][2], s[2 * kt][3]);
            a[2] = op::pack(s[2 * kt + 1][0], s[2 * kt + 1][1]);
            a[3] = op::pack(s[2 * kt + 1][2], s[2 * kt + 1][3]);
#pragma unroll
            for (int nt = 0; nt < DP / 8; nt++) {
                const T *vr = Vt + (nt * 8 + g) * VS + kt * 16 + t4 * 2;
                uint32_t bb0 = *(const uint32_t *)vr;
                uint32_t bb1 = *(const uint32_t *)(vr + 8);
                op::run(o[nt], a, bb0, bb1);
            }
        }
    }

#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        lrow[0] += __shfl_xor_sync(0xffffffffu, lrow[0], off);
        lrow[1] += __shfl_xor_sync(0xffffffffu, lrow[1], off);
    }
    if (ws_o) { /* a partial result: unnormalized O with its row max and sum */
        const int64_t base = ((int64_t)blockIdx.z * gridDim.y + h) * lq;
#pragma unroll
        for (int e = 0; e < 2; e++) {
            int qi = e ? qrow1 : qrow0;
            if (qi >= lq)
                continue;
            if (t4 == 0) {
                ws_ml[(base + qi) * 2] = mrow[e];
                ws_ml[(base + qi) * 2 + 1] = lrow[e];
            }
#pragma unroll
            for (int nt = 0; nt < DP / 8; nt++) {
                int c = nt * 8 + t4 * 2;
                ws_o[(base + qi) * DP + c] = o[nt][2 * e];
                ws_o[(base + qi) * DP + c + 1] = o[nt][2 * e + 1];
            }
        }
        return;
    }
    float inv0 = lrow[0] > 0.0f ? 1.0f / lrow[0] : 0.0f;
    float inv1 = lrow[1] > 0.0f ? 1.0f / lrow[1] : 0.0f;
#pragma unroll
    for (int nt = 0; nt < DP / 8; nt++) {
        int c = nt * 8 + t4 * 2;
#pragma unroll
        for (int e = 0; e < 2; e++) {
            if (c + e < d) {
                if (qrow0 < lq)
                    grk_put(out, qrow0, qc + c + e, o[nt][e] * inv0);
                if (qrow1 < lq)
                    grk_put(out, qrow1, qc + c + e, o[nt][2 + e] * inv1);
            }
        }
    }
}

/* Merges the split-KV partials: one thread per output element. */
__global__ void combine_splits(const float *ws_o, const float *ws_ml, int nsplit, int heads, int lq,
                               int d, int dp, grk_mat out)
{
    int64_t n = (int64_t)lq * heads * d;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int c = (int)(i % d);
        int64_t rest = i / d;
        int h = (int)(rest % heads);
        int qi = (int)(rest / heads);
        float m = -INFINITY;
        for (int z = 0; z < nsplit; z++)
            m = fmaxf(m, ws_ml[(((int64_t)z * heads + h) * lq + qi) * 2]);
        float l = 0.0f, acc = 0.0f;
        for (int z = 0; z < nsplit; z++) {
            int64_t r = ((int64_t)z * heads + h) * lq + qi;
            float w = exp2f(ws_ml[r * 2] - m); /* an empty split has m = -inf: weight 0 */
            l += w * ws_ml[r * 2 + 1];
            acc += w * ws_o[r * dp + c];
        }
        grk_put(out, qi, (int64_t)h * d + c, l > 0.0f ? acc / l : 0.0f);
    }
}

struct split_ws {
    void *p;
    size_t bytes;
    int num_sms;
};

template <typename T, int DP>
cudaError_t launch_tc(grk_mat q, grk_mat k, grk_mat v, grk_mat out, int lq, int lk, int heads,
                      int group, int d, int causal, float scale_log2, int vec, split_ws ws,
                      cudaStream_t s)
{
    const size_t smem = tc_smem_bytes<DP>();
    cudaError_t e = cudaFuncSetAttribute(tc_attention<T, DP>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return e;
    const int qtiles = (lq + kTcBQ - 1) / kTcBQ;
    const int ktiles = (lk + kTcBK - 1) / kTcBK;
    /* Few queries against many keys (DiT cross-attention) leave most SMs
     * idle with one block per (tile, head): split the keys across blocks
     * and merge the partial softmaxes after. */
    int nsplit = 1;
    if (!causal && ws.p && qtiles * heads < ws.num_sms && ktiles >= 4) {
        nsplit = (2 * ws.num_sms + qtiles * heads - 1) / (qtiles * heads);
        if (nsplit > ktiles / 2)
            nsplit = ktiles / 2;
        if (nsplit > 16)
            nsplit = 16;
        size_t need = (size_t)nsplit * heads * lq * (DP + 2) * sizeof(float);
        if (need > ws.bytes)
            nsplit = 1;
    }
    int kchunk = ktiles * kTcBK;
    float *ws_o = NULL, *ws_ml = NULL;
    if (nsplit > 1) {
        kchunk = (ktiles + nsplit - 1) / nsplit * kTcBK;
        nsplit = (lk + kchunk - 1) / kchunk; /* no empty trailing split */
        ws_o = (float *)ws.p;
        ws_ml = ws_o + (size_t)nsplit * heads * lq * DP;
    }
    dim3 grid((unsigned)qtiles, (unsigned)heads, (unsigned)nsplit);
    tc_attention<T, DP><<<grid, kTcWarps * 32, smem, s>>>(q, k, v, out, lq, lk, group, d, causal,
                                                         scale_log2, vec, kchunk,
                                                         nsplit > 1 ? ws_o : NULL, ws_ml);
    if (nsplit > 1) {
        e = cudaGetLastError();
        if (e != cudaSuccess)
            return e;
        int64_t n = (int64_t)lq * heads * d;
        unsigned blocks = (unsigned)((n + 255) / 256);
        combine_splits<<<blocks, 256, 0, s>>>(ws_o, ws_ml, nsplit, heads, lq, d, DP, out);
    }
    return cudaGetLastError();
}

template <typename T>
cudaError_t dispatch_tc(grk_mat q, grk_mat k, grk_mat v, grk_mat out, int lq, int lk, int heads,
                        int group, int d, int causal, float sl2, int vec, split_ws ws, cudaStream_t s)
{
    if (d <= 16) return launch_tc<T, 16>(q, k, v, out, lq, lk, heads, group, d, causal, sl2, vec, ws, s);
    if (d <= 32) return launch_tc<T, 32>(q, k, v, out, lq, lk, heads, group, d, causal, sl2, vec, ws, s);
    if (d <= 48) return launch_tc<T, 48>(q, k, v, out, lq, lk, heads, group, d, causal, sl2, vec, ws, s);
    if (d <= 64) return launch_tc<T, 64>(q, k, v, out, lq, lk, heads, group, d, causal, sl2, vec, ws, s);
    if (d <= 80) return launch_tc<T, 80>(q, k, v, out, lq, lk, heads, group, d, causal, sl2, vec, ws, s);
    if (d <= 96) return launch_tc<T, 96>(q, k, v, out, lq, lk, heads, group, d, causal, sl2, vec, ws, s);
    return launch_tc<T, 128>(q, k, v, out, lq, lk, heads, group, d, causal, sl2, vec, ws, s);
}

template <int DCH>
cudaError_t launch_ref(grk_mat q, grk_mat k, grk_mat v, grk_mat out, int lq, int lk, int heads,
                       int group, int d, int causal, float sl2, cudaStream_t s)
{
    size_t smem = ref_smem_bytes(d);
    cudaError_t e = cudaFuncSetAttribute(ref_attention<DCH>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return e;
    dim3 grid((unsigned)((lq + kRefBQ - 1) / kRefBQ), (unsigned)heads);
    ref_attention<DCH><<<grid, kRefWarps * 32, smem, s>>>(q, k, v, out, lq, lk, group, d, causal, sl2);
    return cudaGetLastError();
}

bool aligned16(const grk_mat &m, int64_t col_step)
{
    return ((uintptr_t)m.p % 16) == 0 && m.ld % 8 == 0 && col_step % 8 == 0;
}

} // namespace

extern "C" cudaError_t grk_attention(grk_mat q, grk_mat k, grk_mat v, grk_mat out, int lq, int lk,
                                     int heads, int kv_heads, int head_dim, int causal,
                                     float scale, void *ws, size_t ws_bytes, int num_sms,
                                     cudaStream_t s)
{
    split_ws sw = {ws, ws_bytes, num_sms};
    if (lq <= 0 || heads <= 0)
        return cudaSuccess;
    if (head_dim <= 0 || head_dim > 128 || kv_heads <= 0 || heads % kv_heads)
        return cudaErrorInvalidValue;
    const int group = heads / kv_heads;
    const float sl2 = scale * kLog2e;
    const bool same = q.dt == k.dt && k.dt == v.dt;
    if (same && (q.dt == GRK_BF16 || q.dt == GRK_F16)) {
        int vec = aligned16(q, head_dim) && aligned16(k, head_dim) && aligned16(v, head_dim);
        if (q.dt == GRK_BF16)
            return dispatch_tc<__nv_bfloat16>(q, k, v, out, lq, lk, heads, group, head_dim, causal,
                                              sl2, vec, sw, s);
        return dispatch_tc<__half>(q, k, v, out, lq, lk, heads, group, head_dim, causal, sl2, vec, sw, s);
    }
    switch ((head_dim + 31) / 32) {
    case 1: return launch_ref<1>(q, k, v, out, lq, lk, heads, group, head_dim, causal, sl2, s);
    case 2: return launch_ref<2>(q, k, v, out, lq, lk, heads, group, head_dim, causal, sl2, s);
    case 3: return launch_ref<3>(q, k, v, out, lq, lk, heads, group, head_dim, causal, sl2, s);
    default: return launch_ref<4>(q, k, v, out, lq, lk, heads, group, head_dim, causal, sl2, s);
    }
}
