/*
 * Row normalizations: LayerNorm, RMSNorm and AdaLN modulate share one
 * kernel, plus the Qwen3 per-head RMSNorm + RoPE.
 *
 * The model's rows are 1152-2048 wide and often few (49 DiT tokens), and
 * inside the call's graph these kernels are latency-bound: a thread's
 * chain of dependent instructions and trips to memory sets the time, not
 * bytes. So a row is spread over as many threads as it has 8-element
 * chunks (one 16-byte load each), and every thread issues all its loads
 * (its chunk of x and the per-column affine parameters, which the weight
 * stream has usually pushed out of L2) before the first reduction. One
 * trip to memory, not three; statistics stay float32 and two-pass (mean,
 * then squared deviations from it), from registers.
 */
#include "cuda_vec.cuh"
#include "launch.cuh"

namespace {

/* Rows up to 8 * kRowThreads columns keep their chunk in registers; wider
 * ones re-read x per pass. */
const int kRowThreads = 1024;

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

/* Sum over the row's threads: one warp (shuffles only), or the whole block.
 * `red` holds blockDim/32 floats; the first barrier protects it from the
 * previous call's readers. Every thread adds the warps' partials itself in
 * one fixed order: no second shuffle chain, and results do not depend on
 * timing. */
__device__ __forceinline__ float row_sum(float v, bool warp_row, float *red)
{
    v = warp_sum(v);
    if (warp_row)
        return v;
    int warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        red[warp] = v;
    __syncthreads();
    float t = 0.0f;
    for (int i = 0; i < nw; i++)
        t += red[i];
    return t;
}

/* One chunk's affine parameters, raw: loading them apart from their use
 * keeps every load in flight at once (a use right after its load would
 * stall the thread there, one trip to memory per parameter). */
struct par8 {
    float w[8], s[8], b[8], h[8];
};

__device__ __forceinline__ void par8_load(par8 &p, int64_t c0, int n, int vec, const float *w, const float *b,
                                          const float *scale, const float *shift)
{
    const float *src[4] = {w, scale, b, shift};
    float *dst[4] = {p.w, p.s, p.b, p.h};
#pragma unroll
    for (int q = 0; q < 4; q++) {
        float dflt = q == 0 ? 1.0f : 0.0f;
        if (src[q])
            grk_ldf8(src[q], c0, n, vec, dflt, dst[q]);
        else
#pragma unroll
            for (int j = 0; j < 8; j++)
                dst[q][j] = dflt;
    }
}

/* n * (w ? w : 1) * (scale ? 1 + scale : 1) + (b ? b : 0) + (shift ? shift : 0). */
__device__ __forceinline__ float par8_apply(const par8 &p, int j, float n)
{
    return fmaf(n, p.w[j] * (1.0f + p.s[j]), p.b[j] + p.h[j]);
}

/* A row is handled by one warp (warp_row: blockDim.x / 32 rows per block)
 * or by the whole block. HOLD: each thread owns at most one chunk of the
 * row and keeps it in registers; otherwise any width, x re-read per pass. */
template <bool HOLD>
__global__ void __launch_bounds__(kRowThreads) rownorm_kernel(grk_mat x, grk_mat y, int64_t rows, int64_t cols,
                                                              bool warp_row, int center, int vec, const float *w,
                                                              const float *b, const float *scale,
                                                              const float *shift, float eps, grk_pf pf)
{
    grk_prefetch_l2(pf);
    grk_pdl_wait();
    grk_pdl_release();
    __shared__ float red[32];
    int64_t row;
    int t, tpr;
    if (warp_row) {
        row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
        t = threadIdx.x & 31;
        tpr = 32;
        if (row >= rows)
            return; /* the whole warp: its row has no barrier */
    } else {
        row = blockIdx.x;
        t = threadIdx.x;
        tpr = blockDim.x;
    }
    const int64_t nch = (cols + 7) >> 3;
    const float inv_n = 1.0f / (float)cols;
    if (HOLD) {
        float v[8];
        par8 p;
        const int64_t c0 = (int64_t)t * 8;
        const int n = t < nch ? (int)min((int64_t)8, cols - c0) : 0;
        if (n > 0) {
            par8_load(p, c0, n, vec, w, b, scale, shift);
            grk_ld8(x, row, c0, n, vec, v);
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++)
                v[j] = 0.0f;
        }
        float mean = 0.0f;
        if (center) {
            float s = 0.0f;
#pragma unroll
            for (int j = 0; j < 8; j++)
                s += v[j];
            mean = row_sum(s, warp_row, red) * inv_n;
        }
        float ss = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            float d = j < n ? v[j] - mean : 0.0f;
            ss += d * d;
        }
        float rstd = rsqrtf(row_sum(ss, warp_row, red) * inv_n + eps);
        if (n > 0) {
#pragma unroll
            for (int j = 0; j < 8; j++)
                v[j] = par8_apply(p, j, (v[j] - mean) * rstd);
            grk_st8(y, row, c0, n, vec, v);
        }
    } else {
        float v[8];
        par8 p;
        float mean = 0.0f;
        if (center) {
            float s = 0.0f;
            for (int64_t ch = t; ch < nch; ch += tpr) {
                int nn = (int)min((int64_t)8, cols - ch * 8);
                grk_ld8(x, row, ch * 8, nn, vec, v);
#pragma unroll
                for (int j = 0; j < 8; j++)
                    s += v[j];
            }
            mean = row_sum(s, warp_row, red) * inv_n;
        }
        float ss = 0.0f;
        for (int64_t ch = t; ch < nch; ch += tpr) {
            int nn = (int)min((int64_t)8, cols - ch * 8);
            grk_ld8(x, row, ch * 8, nn, vec, v);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                float d = j < nn ? v[j] - mean : 0.0f;
                ss += d * d;
            }
        }
        float rstd = rsqrtf(row_sum(ss, warp_row, red) * inv_n + eps);
        for (int64_t ch = t; ch < nch; ch += tpr) {
            int nn = (int)min((int64_t)8, cols - ch * 8);
            par8_load(p, ch * 8, nn, vec, w, b, scale, shift);
            grk_ld8(x, row, ch * 8, nn, vec, v);
#pragma unroll
            for (int j = 0; j < 8; j++)
                v[j] = par8_apply(p, j, (v[j] - mean) * rstd);
            grk_st8(y, row, ch * 8, nn, vec, v);
        }
    }
}

/* One warp per (row, head); lane l owns the rotation pairs (i, i + half)
 * for i = l, l + 32, ..., so the in-place update never races. P > 0: at
 * most P pairs per lane (head_dim <= 64 P), held in registers with their
 * weights and angles, all loaded before the reduction. P == 0: any size. */
template <int P>
__global__ void qk_norm_rope_kernel(grk_pf pf, grk_mat x, int64_t rows, int heads, int hd, const float *__restrict__ w,
                                    float eps, const float *__restrict__ cosT, const float *__restrict__ sinT,
                                    int64_t ldc)
{
    grk_prefetch_l2(pf);
    grk_pdl_wait();
    grk_pdl_release();
    int h = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (h >= heads)
        return;
    const int half = hd >> 1;
    const int64_t base = (int64_t)h * hd;
    for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
        const float *cr = cosT + row * ldc, *sr = sinT + row * ldc;
        if (P > 0) {
            float a[P > 0 ? P : 1], bb[P > 0 ? P : 1], wa[P > 0 ? P : 1], wb[P > 0 ? P : 1];
            float c[P > 0 ? P : 1], s[P > 0 ? P : 1];
#pragma unroll
            for (int k = 0; k < P; k++) {
                int i = lane + 32 * k;
                bool on = i < half;
                a[k] = on ? grk_at(x, row, base + i) : 0.0f;
                bb[k] = on ? grk_at(x, row, base + i + half) : 0.0f;
                wa[k] = on ? __ldg(w + i) : 0.0f;
                wb[k] = on ? __ldg(w + i + half) : 0.0f;
                c[k] = on ? __ldg(cr + i) : 0.0f;
                s[k] = on ? __ldg(sr + i) : 0.0f;
            }
            float ss = 0.0f;
#pragma unroll
            for (int k = 0; k < P; k++)
                ss += a[k] * a[k] + bb[k] * bb[k];
            float r = rsqrtf(warp_sum(ss) / (float)hd + eps);
#pragma unroll
            for (int k = 0; k < P; k++) {
                int i = lane + 32 * k;
                if (i < half) {
                    float u = a[k] * r * wa[k], q = bb[k] * r * wb[k];
                    grk_put(x, row, base + i, u * c[k] - q * s[k]);
                    grk_put(x, row, base + i + half, q * c[k] + u * s[k]);
                }
            }
        } else {
            float ss = 0.0f;
            for (int i = lane; i < hd; i += 32) {
                float v = grk_at(x, row, base + i);
                ss += v * v;
            }
            float r = rsqrtf(warp_sum(ss) / (float)hd + eps);
            for (int i = lane; i < half; i += 32) {
                float u = grk_at(x, row, base + i) * r * w[i];
                float q = grk_at(x, row, base + i + half) * r * w[i + half];
                float c = cr[i], s = sr[i];
                grk_put(x, row, base + i, u * c - q * s);
                grk_put(x, row, base + i + half, q * c + u * s);
            }
        }
    }
}

/* The same op with 16-byte accesses, for power-of-two heads of 16-256
 * whose operands the launcher found aligned. A head is spread over
 * tph = head_dim / 8 consecutive lanes, 8 elements each; its rotation
 * partner (i + half) sits tph / 2 lanes away and arrives by shuffle, so
 * every load is a vector load and a thread's work is one chunk. A block
 * covers 256 threads' chunks of one row (gridDim.x blocks per row). */
__global__ void qk_norm_rope_vec_kernel(grk_pf pf, grk_mat x, int64_t rows, int64_t chunks, int hd, const float *__restrict__ w,
                                        float eps, const float *__restrict__ cosT, const float *__restrict__ sinT,
                                        int64_t ldc)
{
    grk_prefetch_l2(pf);
    grk_pdl_wait();
    grk_pdl_release();
    const int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const bool on = g < chunks; /* off lanes still shuffle: the masks are full */
    const int tph = hd >> 3, half = hd >> 1;
    const int p = (int)(g & (tph - 1)) * 8; /* position in the head */
    const int i0 = p & (half - 1);          /* rotation index of v[0] */
    float wv[8], c[8], sn[8], v[8];
    for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
        if (on) {
            grk_ldf8(w, p, 8, 1, 0.0f, wv);
            grk_ldf8(cosT + row * ldc, i0, 8, 1, 0.0f, c);
            grk_ldf8(sinT + row * ldc, i0, 8, 1, 0.0f, sn);
            grk_ld8(x, row, g * 8, 8, 1, v);
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++)
                v[j] = wv[j] = c[j] = sn[j] = 0.0f;
        }
        float ss = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++)
            ss += v[j] * v[j];
        for (int off = tph >> 1; off > 0; off >>= 1)
            ss += __shfl_xor_sync(0xffffffffu, ss, off);
        const float r = rsqrtf(ss / (float)hd + eps);
        const float sign = p < half ? -1.0f : 1.0f; /* first half: a c - b s; second: b c + a s */
#pragma unroll
        for (int j = 0; j < 8; j++) {
            v[j] *= r * wv[j];
            float other = __shfl_xor_sync(0xffffffffu, v[j], tph >> 1);
            v[j] = v[j] * c[j] + sign * other * sn[j];
        }
        if (on)
            grk_st8(x, row, g * 8, 8, 1, v);
    }
}

} // namespace

extern "C" cudaError_t grk_rownorm(grk_mat x, grk_mat y, int64_t rows, int64_t cols, int center,
                                   const float *w, const float *b, const float *scale,
                                   const float *shift, float eps, grk_stream s)
{
    if (rows <= 0 || cols <= 0)
        return cudaSuccess;
    if (rows > INT32_MAX)
        return cudaErrorInvalidValue;
    int vec = grk_vec_ok(x, cols) && grk_vec_ok(y, cols);
    const float *par[4] = {w, b, scale, shift};
    for (int i = 0; i < 4; i++)
        if (par[i] && !grk_vec_ok_f32(par[i]))
            vec = 0;
    const int64_t nch = (cols + 7) / 8;
    /* A warp holds a row where it can (no barriers; 8 rows per block), else
     * a block does, keeping its chunks in registers up to kRowThreads. */
    const bool warp_row = nch <= 32;
    void (*kernel)(grk_mat, grk_mat, int64_t, int64_t, bool, int, int, const float *, const float *, const float *,
                   const float *, float, grk_pf) = nch <= kRowThreads ? rownorm_kernel<true> : rownorm_kernel<false>;
    const dim3 grid((unsigned)(warp_row ? (rows + 7) / 8 : rows));
    const int threads = warp_row ? 256 : nch <= kRowThreads ? (int)((nch + 31) / 32 * 32) : kRowThreads;
    return grk_launch(kernel, grid, dim3(threads), 0, s, x, y, rows, cols, warp_row, center, vec, w, b, scale, shift,
                      eps, s.pf);
}

extern "C" cudaError_t grk_qk_norm_rope(grk_mat x, int64_t rows, int heads, int head_dim,
                                        const float *w, float eps, const float *cos,
                                        const float *sin, int64_t ldc, grk_stream s)
{
    if (rows <= 0 || heads <= 0)
        return cudaSuccess;
    const int64_t chunks = (int64_t)heads * head_dim / 8;
    const bool pow2 = head_dim >= 16 && head_dim <= 256 && (head_dim & (head_dim - 1)) == 0;
    if (pow2 && grk_vec_ok(x, (int64_t)heads * head_dim) && grk_vec_ok_f32(w) && grk_vec_ok_f32(cos) &&
        grk_vec_ok_f32(sin) && ldc % 4 == 0) {
        int threads = chunks < 256 ? (int)((chunks + 31) / 32 * 32) : 256;
        dim3 grid((unsigned)((chunks + threads - 1) / threads), (unsigned)(rows < 65535 ? rows : 65535));
        return grk_launch(qk_norm_rope_vec_kernel, grid, dim3(threads), 0, s, s.pf, x, rows, chunks, head_dim, w, eps,
                          cos, sin, ldc);
    }
    int wpb = heads < 8 ? heads : 8;
    dim3 grid((unsigned)((heads + wpb - 1) / wpb), (unsigned)(rows < 65535 ? rows : 65535));
    /* The fewest pairs per lane that cover the head: registers beyond that
     * cost occupancy (a second wave at 294 x 16 heads). */
    const int half = head_dim / 2;
    void (*kernel)(grk_pf, grk_mat, int64_t, int, int, const float *, float, const float *, const float *, int64_t) =
        half <= 32 ? qk_norm_rope_kernel<1> : half <= 64 ? qk_norm_rope_kernel<2>
                                            : half <= 128 ? qk_norm_rope_kernel<4> : qk_norm_rope_kernel<0>;
    return grk_launch(kernel, grid, dim3(32 * wpb), 0, s, s.pf, x, rows, heads, head_dim, w, eps, cos, sin, ldc);
}
