/*
 * Eight-element chunks of a strided row for the memory-bound kernels
 * (norm.cu, elementwise.cu). Scalar 2-byte loads leave those kernels
 * issue- and latency-bound far below bandwidth, so a chunk moves as 16-byte
 * accesses (two for float32) when its launcher has checked, on the host,
 * that the base pointer, the leading dimension and the width allow it
 * (grk_vec_ok); the same code falls back to scalar accesses otherwise, and
 * for a row's partial last chunk.
 */
#ifndef GR_CUDA_VEC_CUH
#define GR_CUDA_VEC_CUH

#include <stdint.h>

#include "cuda_dtype.cuh"

/* Host side: every chunk of m's rows starts on a 16-byte boundary. */
static inline int grk_vec_ok(const grk_mat &m, int64_t cols)
{
    return ((uintptr_t)m.p & 15) == 0 && m.ld % 8 == 0 && cols % 8 == 0;
}

static inline int grk_vec_ok_f32(const float *p) { return ((uintptr_t)p & 15) == 0; }

__device__ __forceinline__ float grk_bf16_lo(unsigned w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float grk_bf16_hi(unsigned w) { return __uint_as_float(w & 0xffff0000u); }
__device__ __forceinline__ float grk_f16_lo(unsigned w)
{
    return __half2float(__ushort_as_half((unsigned short)(w & 0xffffu)));
}
__device__ __forceinline__ float grk_f16_hi(unsigned w)
{
    return __half2float(__ushort_as_half((unsigned short)(w >> 16)));
}

__device__ __forceinline__ unsigned grk_pack2(int dt, float a, float b)
{
    unsigned lo, hi;
    if (dt == GRK_BF16) {
        lo = __bfloat16_as_ushort(__float2bfloat16_rn(a));
        hi = __bfloat16_as_ushort(__float2bfloat16_rn(b));
    } else {
        lo = __half_as_ushort(__float2half_rn(a));
        hi = __half_as_ushort(__float2half_rn(b));
    }
    return lo | (hi << 16);
}

/* v[0..7] = m[r, c0 .. c0+7]; elements at or past n read as 0. */
__device__ __forceinline__ void grk_ld8(const grk_mat &m, int64_t r, int64_t c0, int n, int vec, float *v)
{
    int64_t i = r * m.ld + c0;
    if (vec) {
        if (m.dt == GRK_F32) {
            const float4 *q = (const float4 *)((const float *)m.p + i);
            float4 a = q[0], b = q[1];
            v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
            v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
        } else {
            uint4 u = *(const uint4 *)((const unsigned short *)m.p + i);
            unsigned w[4] = {u.x, u.y, u.z, u.w};
            if (m.dt == GRK_BF16) {
#pragma unroll
                for (int k = 0; k < 4; k++)
                    v[2 * k] = grk_bf16_lo(w[k]), v[2 * k + 1] = grk_bf16_hi(w[k]);
            } else {
#pragma unroll
                for (int k = 0; k < 4; k++)
                    v[2 * k] = grk_f16_lo(w[k]), v[2 * k + 1] = grk_f16_hi(w[k]);
            }
        }
    } else {
#pragma unroll
        for (int j = 0; j < 8; j++)
            v[j] = j < n ? grk_ld(m.p, m.dt, i + j) : 0.0f;
    }
}

/* m[r, c0 .. c0+n-1] = v[0 .. n-1]. */
__device__ __forceinline__ void grk_st8(const grk_mat &m, int64_t r, int64_t c0, int n, int vec, const float *v)
{
    int64_t i = r * m.ld + c0;
    if (vec) {
        if (m.dt == GRK_F32) {
            float4 *q = (float4 *)((float *)m.p + i);
            q[0] = make_float4(v[0], v[1], v[2], v[3]);
            q[1] = make_float4(v[4], v[5], v[6], v[7]);
        } else {
            uint4 u;
            u.x = grk_pack2(m.dt, v[0], v[1]);
            u.y = grk_pack2(m.dt, v[2], v[3]);
            u.z = grk_pack2(m.dt, v[4], v[5]);
            u.w = grk_pack2(m.dt, v[6], v[7]);
            *(uint4 *)((unsigned short *)m.p + i) = u;
        }
    } else {
#pragma unroll
        for (int j = 0; j < 8; j++)
            if (j < n)
                grk_st(m.p, m.dt, i + j, v[j]);
    }
}

/* v[0..7] = p[c0 .. c0+7] of a float32 row that no kernel writes; past n, dflt. */
__device__ __forceinline__ void grk_ldf8(const float *p, int64_t c0, int n, int vec, float dflt, float *v)
{
    if (vec) {
        const float4 *q = (const float4 *)(p + c0);
        float4 a = __ldg(q), b = __ldg(q + 1);
        v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
        v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
    } else {
#pragma unroll
        for (int j = 0; j < 8; j++)
            v[j] = j < n ? __ldg(p + c0 + j) : dflt;
    }
}

#endif
