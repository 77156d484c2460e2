/*
 * Camera frames to pixels on the GPU, with the host's bytes (image/resize.c):
 * each output pixel runs the width pass for the input rows its height pass
 * reads, then the height pass, each a sequential sum that starts with a
 * plain product and goes on by fused multiply-adds in the host's order; then
 * truncation to uint8 and the model's normalization. The weight tables are
 * the host's own (gr_image_axis_weights). Every operation is spelled with
 * its round-to-nearest intrinsic so that no compiler contraction or fast
 * division can change a value: the bytes must match the CPU's exactly.
 */
#include <stdint.h>

#include "cuda_kernels.h"
#include "launch.cuh"

namespace {

constexpr int kThreads = 256;

/* One value of the width-resized crop: row r, output column x, channel c. */
__device__ __forceinline__ float width_value(const uint8_t *crop, int64_t row_bytes, const float *unit, int r,
                                             int x, int c, const grk_axis &ax)
{
    const uint8_t *row = crop + (int64_t)r * row_bytes + c;
    if (!ax.w)
        return unit[row[3 * x]];
    const int first = ax.bounds[2 * x], n = ax.bounds[2 * x + 1];
    if (n == 0)
        return 0.0f;
    const float *w = ax.w + (int64_t)x * ax.taps;
    float v = __fmul_rn(unit[row[3 * first]], w[0]);
    for (int j = 1; j < n; j++)
        v = __fmaf_rn(unit[row[3 * (first + j)]], w[j], v);
    return v;
}

__global__ void frame_to_pixels_kernel(const uint8_t *crop, int64_t row_bytes, grk_axis ax, grk_axis ay, int size,
                                       float *out)
{
    /* u8 / 255 and the normalization of each level, as the host computes them. */
    __shared__ float unit[256], norm[256];
    const int t = threadIdx.x;
    unit[t] = __fdiv_rn((float)t, 255.0f);
    norm[t] = __fdiv_rn(__fsub_rn(unit[t], 0.5f), 0.5f);
    __syncthreads();
    const int64_t plane = (int64_t)size * size;
    const int64_t p = (int64_t)blockIdx.x * kThreads + t;
    if (p >= plane)
        return;
    const int y = (int)(p / size), x = (int)(p % size);
    for (int c = 0; c < 3; c++) {
        float v;
        if (!ay.w) {
            v = width_value(crop, row_bytes, unit, y, x, c, ax);
        } else {
            const int first = ay.bounds[2 * y], n = ay.bounds[2 * y + 1];
            const float *w = ay.w + (int64_t)y * ay.taps;
            v = 0.0f;
            if (n > 0) {
                v = __fmul_rn(width_value(crop, row_bytes, unit, first, x, c, ax), w[0]);
                for (int i = 1; i < n; i++)
                    v = __fmaf_rn(width_value(crop, row_bytes, unit, first + i, x, c, ax), w[i], v);
            }
        }
        const float s = __fmul_rn(v, 255.0f);
        const int level = !(s > 0.0f) ? 0 : s >= 255.0f ? 255 : __float2int_rz(s);
        out[c * plane + p] = norm[level];
    }
}

} // namespace

extern "C" cudaError_t grk_frame_to_pixels(const uint8_t *crop, int64_t row_bytes, grk_axis ax, grk_axis ay,
                                           int size, float *out, cudaStream_t s)
{
    const int64_t plane = (int64_t)size * size;
    if (plane <= 0)
        return cudaSuccess;
    const int64_t blocks = (plane + kThreads - 1) / kThreads;
    const grk_stream ks = {s, 0, {NULL, 0}};
    return grk_launch(frame_to_pixels_kernel, dim3((unsigned)blocks), dim3(kThreads), 0, ks, crop, row_bytes, ax, ay,
                      size, out);
}
