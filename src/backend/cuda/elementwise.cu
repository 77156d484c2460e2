/*
 * Memory-bound elementwise kernels: activations and epilogues, swiglu,
 * broadcast row adds, axpy, dtype-converting copies, token embedding with
 * image-row scatter, and patchify. Strided 2-D operands throughout; one
 * thread per element on a grid-stride loop.
 */
#include "cuda_dtype.cuh"

namespace {

const int kThreads = 256;

unsigned grid_for(int64_t n)
{
    int64_t b = (n + kThreads - 1) / kThreads;
    if (b > (1 << 20))
        b = 1 << 20; /* the grid-stride loop covers the rest */
    return (unsigned)(b > 0 ? b : 1);
}

__global__ void act_add_kernel(grk_mat t, const float *bias, int act, grk_mat r, grk_mat y,
                               int64_t rows, int64_t cols)
{
    int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / cols, col = i - row * cols;
        float v = grk_at(t, row, col);
        if (bias)
            v += bias[col];
        v = grk_act(act, v);
        if (r.p)
            v += grk_at(r, row, col);
        grk_put(y, row, col, v);
    }
}

__global__ void swiglu_kernel(grk_mat g, grk_mat u, grk_mat y, int64_t rows, int64_t cols)
{
    int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / cols, col = i - row * cols;
        float a = grk_at(g, row, col);
        float b = grk_at(u, row, col);
        grk_put(y, row, col, a / (1.0f + expf(-a)) * b);
    }
}

__global__ void add_rows_kernel(grk_mat x, grk_mat add, int64_t add_rows, grk_mat y, int64_t rows,
                                int64_t cols)
{
    int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / cols, col = i - row * cols;
        grk_put(y, row, col, grk_at(x, row, col) + grk_at(add, row % add_rows, col));
    }
}

__global__ void axpy_kernel(float alpha, grk_mat x, grk_mat y, int64_t rows, int64_t cols)
{
    int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / cols, col = i - row * cols;
        grk_put(y, row, col, grk_at(y, row, col) + alpha * grk_at(x, row, col));
    }
}

/* One block per output row. The row's image index is the count of image
 * tokens before it, counted here so that the host never scans ids. */
__global__ void embed_kernel(const int32_t *ids, int64_t n, grk_mat table, int image_id,
                             grk_mat images, grk_mat y, int64_t dim)
{
    __shared__ int warp_counts[32];
    int64_t row = blockIdx.x;
    int id = ids[row];
    grk_mat src = table;
    int64_t src_row = id;
    if (id == image_id) {
        int c = 0;
        for (int64_t j = threadIdx.x; j < row; j += blockDim.x)
            c += ids[j] == image_id;
        for (int off = 16; off > 0; off >>= 1)
            c += __shfl_xor_sync(0xffffffffu, c, off);
        int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        if (lane == 0)
            warp_counts[warp] = c;
        __syncthreads();
        if (warp == 0) {
            int nw = (blockDim.x + 31) >> 5;
            c = lane < nw ? warp_counts[lane] : 0;
            for (int off = 16; off > 0; off >>= 1)
                c += __shfl_xor_sync(0xffffffffu, c, off);
            if (lane == 0)
                warp_counts[0] = c;
        }
        __syncthreads();
        src = images;
        src_row = warp_counts[0];
    }
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x)
        grk_put(y, row, c, grk_at(src, src_row, c));
}

__global__ void patchify_kernel(const float *pix, int64_t ldp, int64_t views, int C, int H, int W,
                                int p, grk_mat y)
{
    int gw = W / p, gh = H / p;
    int64_t cols = (int64_t)C * p * p;
    int64_t rows = views * gh * gw;
    int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / cols;
        int col = (int)(i - row * cols);
        int64_t v = row / ((int64_t)gh * gw);
        int pr = (int)(row - v * gh * gw);
        int py = pr / gw, px = pr - py * gw;
        int c = col / (p * p), rem = col - c * p * p;
        int ky = rem / p, kx = rem - ky * p;
        int64_t src = v * ldp + ((int64_t)c * H + py * p + ky) * W + px * p + kx;
        grk_put(y, row, col, pix[src]);
    }
}

} // namespace

extern "C" cudaError_t grk_act_add(grk_mat t, const float *bias, int act, grk_mat r, grk_mat y,
                                   int64_t rows, int64_t cols, cudaStream_t s)
{
    if (rows <= 0 || cols <= 0)
        return cudaSuccess;
    act_add_kernel<<<grid_for(rows * cols), kThreads, 0, s>>>(t, bias, act, r, y, rows, cols);
    return cudaGetLastError();
}

extern "C" cudaError_t grk_swiglu(grk_mat gate, grk_mat up, grk_mat y, int64_t rows, int64_t cols,
                                  cudaStream_t s)
{
    if (rows <= 0 || cols <= 0)
        return cudaSuccess;
    swiglu_kernel<<<grid_for(rows * cols), kThreads, 0, s>>>(gate, up, y, rows, cols);
    return cudaGetLastError();
}

extern "C" cudaError_t grk_add_rows(grk_mat x, grk_mat add, int64_t add_rows, grk_mat y,
                                    int64_t rows, int64_t cols, cudaStream_t s)
{
    if (rows <= 0 || cols <= 0)
        return cudaSuccess;
    add_rows_kernel<<<grid_for(rows * cols), kThreads, 0, s>>>(x, add, add_rows, y, rows, cols);
    return cudaGetLastError();
}

extern "C" cudaError_t grk_axpy(float alpha, grk_mat x, grk_mat y, int64_t rows, int64_t cols,
                                cudaStream_t s)
{
    if (rows <= 0 || cols <= 0)
        return cudaSuccess;
    axpy_kernel<<<grid_for(rows * cols), kThreads, 0, s>>>(alpha, x, y, rows, cols);
    return cudaGetLastError();
}

extern "C" cudaError_t grk_embed(const int32_t *ids, int64_t n, grk_mat table, int image_id,
                                 grk_mat images, grk_mat y, int64_t dim, cudaStream_t s)
{
    if (n <= 0)
        return cudaSuccess;
    embed_kernel<<<(unsigned)n, kThreads, 0, s>>>(ids, n, table, image_id, images, y, dim);
    return cudaGetLastError();
}

extern "C" cudaError_t grk_patchify(const float *pixels, int64_t ldp, int64_t views, int channels,
                                    int height, int width, int patch, grk_mat y, cudaStream_t s)
{
    int64_t n = views * (height / patch) * (width / patch) * (int64_t)channels * patch * patch;
    if (n <= 0)
        return cudaSuccess;
    patchify_kernel<<<grid_for(n), kThreads, 0, s>>>(pixels, ldp, views, channels, height, width,
                                                      patch, y);
    return cudaGetLastError();
}
