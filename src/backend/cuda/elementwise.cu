/*
 * Memory-bound elementwise kernels: activations and epilogues, swiglu,
 * broadcast row adds, axpy, copies (dtype-converting or not), token
 * embedding with image-row scatter, and patchify. Strided 2-D operands
 * throughout.
 */
#include "cuda_vec.cuh"
#include "launch.cuh"

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
    grk_pdl_wait();
    grk_pdl_release();
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

/* The row-wise maps share one kernel: each thread owns an 8-element chunk
 * of a row (16-byte accesses where the launcher found them aligned), on a
 * 2-D grid (x: chunks of a row, y: rows) so that no thread divides by the
 * width. The op is uniform across the grid. */
enum { EW_COPY, EW_SWIGLU, EW_ADD_ROWS, EW_AXPY };

/* y = op(a, b): copy a; silu(a) * b; a + b[r % b_rows]; b + alpha * a. */
__global__ void ew_kernel(int op, grk_mat a, grk_mat b, grk_mat y, int64_t rows, int64_t cols, int64_t b_rows,
                          float alpha, int vec, grk_pf pf)
{
    grk_prefetch_l2(pf);
    grk_pdl_wait();
    grk_pdl_release();
    int64_t c0 = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (c0 >= cols)
        return;
    int n = (int)min((int64_t)8, cols - c0);
    for (int64_t r = (int64_t)blockIdx.y * blockDim.y + threadIdx.y; r < rows;
         r += (int64_t)gridDim.y * blockDim.y) {
        float va[8], vb[8];
        grk_ld8(a, r, c0, n, vec, va);
        if (op == EW_SWIGLU) {
            grk_ld8(b, r, c0, n, vec, vb);
#pragma unroll
            for (int j = 0; j < 8; j++)
                va[j] = va[j] / (1.0f + expf(-va[j])) * vb[j];
        } else if (op == EW_ADD_ROWS) {
            grk_ld8(b, b_rows == rows ? r : r % b_rows, c0, n, vec, vb);
#pragma unroll
            for (int j = 0; j < 8; j++)
                va[j] += vb[j];
        } else if (op == EW_AXPY) {
            grk_ld8(b, r, c0, n, vec, vb);
#pragma unroll
            for (int j = 0; j < 8; j++)
                va[j] = vb[j] + alpha * va[j];
        }
        grk_st8(y, r, c0, n, vec, va);
    }
}

/* One block per output row. The row's image index is the count of image
 * tokens before it, counted here so that the host never scans ids. */
__global__ void embed_kernel(const int32_t *ids, int64_t n, grk_mat table, int image_id,
                             grk_mat images, grk_mat y, int64_t dim)
{
    grk_pdl_wait();
    grk_pdl_release();
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
    grk_pdl_wait();
    grk_pdl_release();
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
                                   int64_t rows, int64_t cols, grk_stream s)
{
    if (rows <= 0 || cols <= 0)
        return cudaSuccess;
    return grk_launch(act_add_kernel, dim3(grid_for(rows * cols)), dim3(kThreads), 0, s, t, bias, act, r, y, rows,
                      cols);
}

/* Threads along a row cover its chunks (at most 256, fewer for narrow
 * rows so that a block still holds 256 threads' work), the rest of the
 * block takes further rows. */
static cudaError_t ew_launch(int op, grk_mat a, grk_mat b, grk_mat y, int64_t rows, int64_t cols, int64_t b_rows,
                             float alpha, grk_stream s)
{
    if (rows <= 0 || cols <= 0)
        return cudaSuccess;
    int vec = grk_vec_ok(a, cols) && grk_vec_ok(y, cols) && (op == EW_COPY || grk_vec_ok(b, cols));
    int64_t chunks = (cols + 7) / 8;
    int tx = 1;
    while (tx < chunks && tx < kThreads)
        tx *= 2;
    int ty = kThreads / tx;
    int64_t gx = (chunks + tx - 1) / tx, gy = (rows + ty - 1) / ty;
    if (gx > INT32_MAX)
        return cudaErrorInvalidValue;
    dim3 grid((unsigned)gx, (unsigned)(gy < 65535 ? gy : 65535));
    return grk_launch(ew_kernel, grid, dim3((unsigned)tx, (unsigned)ty), 0, s, op, a, b, y, rows, cols, b_rows, alpha,
                      vec, s.pf);
}

extern "C" cudaError_t grk_swiglu(grk_mat gate, grk_mat up, grk_mat y, int64_t rows, int64_t cols,
                                  grk_stream s)
{
    return ew_launch(EW_SWIGLU, gate, up, y, rows, cols, rows, 0.0f, s);
}

extern "C" cudaError_t grk_add_rows(grk_mat x, grk_mat add, int64_t add_rows, grk_mat y,
                                    int64_t rows, int64_t cols, grk_stream s)
{
    return ew_launch(EW_ADD_ROWS, x, add, y, rows, cols, add_rows, 0.0f, s);
}

extern "C" cudaError_t grk_axpy(float alpha, grk_mat x, grk_mat y, int64_t rows, int64_t cols,
                                grk_stream s)
{
    return ew_launch(EW_AXPY, x, y, y, rows, cols, rows, alpha, s);
}

extern "C" cudaError_t grk_copy(grk_mat src, grk_mat dst, int64_t rows, int64_t cols, grk_stream s)
{
    return ew_launch(EW_COPY, src, src, dst, rows, cols, rows, 0.0f, s);
}

extern "C" cudaError_t grk_embed(const int32_t *ids, int64_t n, grk_mat table, int image_id,
                                 grk_mat images, grk_mat y, int64_t dim, grk_stream s)
{
    if (n <= 0)
        return cudaSuccess;
    return grk_launch(embed_kernel, dim3((unsigned)n), dim3(kThreads), 0, s, ids, n, table, image_id, images, y,
                      dim);
}

extern "C" cudaError_t grk_patchify(const float *pixels, int64_t ldp, int64_t views, int channels,
                                    int height, int width, int patch, grk_mat y, grk_stream s)
{
    int64_t n = views * (height / patch) * (width / patch) * (int64_t)channels * patch * patch;
    if (n <= 0)
        return cudaSuccess;
    return grk_launch(patchify_kernel, dim3(grid_for(n)), dim3(kThreads), 0, s, pixels, ldp, views, channels, height,
                      width, patch, y);
}
