/*
 * Device-side float conversions shared by the .cu files. The dtype of an
 * operand is a run-time code (gr_dtype) in memory-bound kernels: the branch
 * is uniform across the grid and costs far less than instantiating every
 * in/out combination.
 */
#ifndef GR_CUDA_DTYPE_CUH
#define GR_CUDA_DTYPE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_kernels.h"

#define GRK_F32 0
#define GRK_BF16 1
#define GRK_F16 2

__device__ __forceinline__ float grk_ld(const void *p, int dt, int64_t i)
{
    if (dt == GRK_F32)
        return ((const float *)p)[i];
    if (dt == GRK_BF16)
        return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    return __half2float(((const __half *)p)[i]);
}

__device__ __forceinline__ void grk_st(void *p, int dt, int64_t i, float v)
{
    if (dt == GRK_F32)
        ((float *)p)[i] = v;
    else if (dt == GRK_BF16)
        ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
    else
        ((__half *)p)[i] = __float2half_rn(v);
}

__device__ __forceinline__ float grk_at(const grk_mat &m, int64_t r, int64_t c)
{
    return grk_ld(m.p, m.dt, r * m.ld + c);
}

__device__ __forceinline__ void grk_put(const grk_mat &m, int64_t r, int64_t c, float v)
{
    grk_st(m.p, m.dt, r * m.ld + c, v);
}

/* Activations exactly as the reference writes them, in float32. */
__device__ __forceinline__ float grk_act(int act, float x)
{
    switch (act) {
    case 1: { /* GELU, tanh approximation */
        const float k0 = 0.7978845608028654f, k1 = 0.044715f;
        return 0.5f * x * (1.0f + tanhf(k0 * (x + k1 * x * x * x)));
    }
    case 2: return x > 0.0f ? x : 0.0f;
    case 3: return x / (1.0f + expf(-x));
    default: return x;
    }
}

#endif
