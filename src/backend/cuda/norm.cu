/*
 * Row normalizations: LayerNorm, RMSNorm and AdaLN modulate share one
 * kernel (block per row, float32 statistics, the row held in registers when
 * it fits), plus the Qwen3 per-head RMSNorm + RoPE (warp per row and head).
 */
#include "cuda_dtype.cuh"

namespace {

/* Sum over the block; every thread gets the result. `red` holds 33 floats. */
__device__ float block_sum(float v, float *red)
{
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, off);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads(); /* red may still be read from the previous call */
    if (lane == 0)
        red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int nw = (blockDim.x + 31) >> 5;
        float t = lane < nw ? red[lane] : 0.0f;
        for (int off = 16; off > 0; off >>= 1)
            t += __shfl_xor_sync(0xffffffffu, t, off);
        if (lane == 0)
            red[32] = t;
    }
    __syncthreads();
    return red[32];
}

__device__ __forceinline__ float affine(float n, int64_t c, const float *w, const float *b,
                                        const float *scale, const float *shift)
{
    if (w)
        n *= w[c];
    if (scale)
        n *= 1.0f + scale[c];
    if (b)
        n += b[c];
    if (shift)
        n += shift[c];
    return n;
}

/* PER > 0: the row has at most PER * blockDim elements and stays in
 * registers (one read of x). PER == 0: any width, x re-read per pass. */
template <int PER>
__global__ void rownorm_kernel(grk_mat x, grk_mat y, int64_t cols, int center, const float *w,
                               const float *b, const float *scale, const float *shift, float eps)
{
    __shared__ float red[33];
    int64_t row = blockIdx.x;
    const float inv_n = 1.0f / (float)cols;
    if (PER > 0) {
        float v[PER > 0 ? PER : 1];
#pragma unroll
        for (int j = 0; j < PER; j++) {
            int64_t c = threadIdx.x + (int64_t)j * blockDim.x;
            v[j] = c < cols ? grk_at(x, row, c) : 0.0f;
        }
        float mean = 0.0f;
        if (center) {
            float s = 0.0f;
#pragma unroll
            for (int j = 0; j < PER; j++)
                s += v[j];
            mean = block_sum(s, red) * inv_n;
        }
        float ss = 0.0f;
#pragma unroll
        for (int j = 0; j < PER; j++) {
            int64_t c = threadIdx.x + (int64_t)j * blockDim.x;
            float d = c < cols ? v[j] - mean : 0.0f;
            ss += d * d;
        }
        float rstd = rsqrtf(block_sum(ss, red) * inv_n + eps);
#pragma unroll
        for (int j = 0; j < PER; j++) {
            int64_t c = threadIdx.x + (int64_t)j * blockDim.x;
            if (c < cols)
                grk_put(y, row, c, affine((v[j] - mean) * rstd, c, w, b, scale, shift));
        }
    } else {
        float mean = 0.0f;
        if (center) {
            float s = 0.0f;
            for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
                s += grk_at(x, row, c);
            mean = block_sum(s, red) * inv_n;
        }
        float ss = 0.0f;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            float d = grk_at(x, row, c) - mean;
            ss += d * d;
        }
        float rstd = rsqrtf(block_sum(ss, red) * inv_n + eps);
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
            grk_put(y, row, c, affine((grk_at(x, row, c) - mean) * rstd, c, w, b, scale, shift));
    }
}

/* One warp per (row, head). Lane l owns the rotation pairs (i, i + half)
 * for i = l, l + 32, ..., so the in-place update never races. */
__global__ void qk_norm_rope_kernel(grk_mat x, int64_t rows, int heads, int hd, const float *w,
                                    float eps, const float *cosT, const float *sinT, int64_t ldc)
{
    int64_t gw = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (gw >= rows * heads)
        return;
    int64_t row = gw / heads;
    int h = (int)(gw - row * heads);
    int64_t base = (int64_t)h * hd;
    int half = hd / 2;
    float ss = 0.0f;
    for (int i = lane; i < hd; i += 32) {
        float v = grk_at(x, row, base + i);
        ss += v * v;
    }
    for (int off = 16; off > 0; off >>= 1)
        ss += __shfl_xor_sync(0xffffffffu, ss, off);
    float r = rsqrtf(ss / (float)hd + eps);
    for (int i = lane; i < half; i += 32) {
        float a = grk_at(x, row, base + i) * r * w[i];
        float bb = grk_at(x, row, base + i + half) * r * w[i + half];
        float c = cosT[row * ldc + i], s = sinT[row * ldc + i];
        grk_put(x, row, base + i, a * c - bb * s);
        grk_put(x, row, base + i + half, bb * c + a * s);
    }
}

} // namespace

extern "C" cudaError_t grk_rownorm(grk_mat x, grk_mat y, int64_t rows, int64_t cols, int center,
                                   const float *w, const float *b, const float *scale,
                                   const float *shift, float eps, cudaStream_t s)
{
    if (rows <= 0 || cols <= 0)
        return cudaSuccess;
    int threads = cols >= 1024 ? 256 : cols >= 256 ? 128 : 32;
    if (cols <= (int64_t)threads * 8)
        rownorm_kernel<8><<<(unsigned)rows, threads, 0, s>>>(x, y, cols, center, w, b, scale, shift, eps);
    else
        rownorm_kernel<0><<<(unsigned)rows, threads, 0, s>>>(x, y, cols, center, w, b, scale, shift, eps);
    return cudaGetLastError();
}

extern "C" cudaError_t grk_qk_norm_rope(grk_mat x, int64_t rows, int heads, int head_dim,
                                        const float *w, float eps, const float *cos,
                                        const float *sin, int64_t ldc, cudaStream_t s)
{
    int64_t warps = rows * heads;
    if (warps <= 0)
        return cudaSuccess;
    const int threads = 128;
    unsigned blocks = (unsigned)((warps * 32 + threads - 1) / threads);
    qk_norm_rope_kernel<<<blocks, threads, 0, s>>>(x, rows, heads, head_dim, w, eps, cos, sin, ldc);
    return cudaGetLastError();
}
