/*
 * Launchers of the CUDA kernels (norm.cu, attention.cu, elementwise.cu),
 * callable from C. Each enqueues on `s` and returns the launch's error;
 * shapes and dtypes were checked by the host wrappers in cuda_ops.c.
 * Dtype codes are gr_dtype values (0 F32, 1 BF16, 2 F16, 3 I32).
 */
#ifndef GR_CUDA_KERNELS_H
#define GR_CUDA_KERNELS_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A strided 2-D operand: element (r, c) is at p + r*ld + c, of dtype dt. */
typedef struct grk_mat {
    void *p;
    int dt;
    int64_t ld;
} grk_mat;

/* Bytes [p, p + bytes) of a weight that the kernel after this one reads
 * (gr_cuda_prefetch): the kernels that take one (row norms, q/k-norm +
 * RoPE, attention, the row-wise maps, the Hopper GEMM) ask L2 for it, the
 * small ones as they start (before waiting for the kernel before them),
 * the GEMM once its own weight stream is issued, so that DRAM streams the
 * next weight while the short work in between runs. bytes 0: nothing;
 * p 16-byte aligned and bytes a multiple of 16. */
typedef struct grk_pf {
    const void *p;
    uint64_t bytes;
} grk_pf;

/* Where a launcher enqueues: the stream, and whether its kernel is launched
 * as a programmatic dependent (launch.cuh), which only pays where the
 * kernels around it are launched so too (the Hopper GEMMs): among
 * cuBLASLt's kernels it made TF32 calls 12% slower on an H100. */
typedef struct grk_stream {
    cudaStream_t s;
    int pdl;
    grk_pf pf;
} grk_stream;

/* Activation codes match gr_act. */

/* ---- norm.cu ---- */
/* Per row: n = (x - mean?) / sqrt(var + eps) (rms when !center); then
 * y = n * (w ? w : 1) * (scale ? 1 + scale : 1) + (b ? b : 0) + (shift ? shift : 0).
 * w, b, scale, shift are float32 [cols] or NULL. */
cudaError_t grk_rownorm(grk_mat x, grk_mat y, int64_t rows, int64_t cols, int center,
                        const float *w, const float *b, const float *scale, const float *shift,
                        float eps, grk_stream s);
/* In place on x [rows, heads*head_dim]: per head RMSNorm(w) then rotate_half RoPE
 * with cos/sin [rows, head_dim/2] (row strides ldc). */
cudaError_t grk_qk_norm_rope(grk_mat x, int64_t rows, int heads, int head_dim, const float *w,
                             float eps, const float *cos, const float *sin, int64_t ldc,
                             grk_stream s);

/* ---- attention.cu ---- */
/* Samples stacked in rows: span i's queries are rows [q0[i], q0[i] + qn[i])
 * of q and out, its keys and values rows [k0[i], k0[i] + kn[i]) of k, v. */
#define GRK_SPANS_MAX 64
typedef struct grk_spans {
    int count;
    int q0[GRK_SPANS_MAX], qn[GRK_SPANS_MAX], k0[GRK_SPANS_MAX], kn[GRK_SPANS_MAX];
} grk_spans;

/* out = softmax(q k^T * scale [causal]) v per head and span, every span in
 * one launch. lk_dev (NULL: all of each span's keys) points at spans->count
 * int32s on the device, span i's real keys. num_sms sizes the block shape so
 * that short sequences still spread over the multiprocessors. kv_ready: k, v
 * and lk_dev were written before the kernel this one follows (not by it),
 * so a programmatic dependent may fetch them before waiting. */
cudaError_t grk_attention(grk_mat q, grk_mat k, grk_mat v, grk_mat out, const grk_spans *spans,
                          const int32_t *lk_dev, int heads, int kv_heads, int head_dim, int causal, float scale,
                          int kv_ready, int num_sms, grk_stream s);

/* ---- elementwise.cu ---- */
/* y = act(t + bias) + r, with bias float32 [cols] or NULL and r.p NULL when absent
 * (t, r and y may alias each other element for element). */
cudaError_t grk_act_add(grk_mat t, const float *bias, int act, grk_mat r, grk_mat y, int64_t rows,
                        int64_t cols, grk_stream s);
/* y = silu(gate) * up. */
cudaError_t grk_swiglu(grk_mat gate, grk_mat up, grk_mat y, int64_t rows, int64_t cols,
                       grk_stream s);
/* y[r] = x[r] + add[r % add_rows]. */
cudaError_t grk_add_rows(grk_mat x, grk_mat add, int64_t add_rows, grk_mat y, int64_t rows,
                         int64_t cols, grk_stream s);
/* y += alpha * x. */
cudaError_t grk_axpy(float alpha, grk_mat x, grk_mat y, int64_t rows, int64_t cols, grk_stream s);
/* dst = src, converting dtype (any float pair). */
cudaError_t grk_copy(grk_mat src, grk_mat dst, int64_t rows, int64_t cols, grk_stream s);
/* y[i] = table[ids[i]], or the next images row where ids[i] == image_id. */
cudaError_t grk_embed(const int32_t *ids, int64_t n, grk_mat table, int image_id, grk_mat images,
                      grk_mat y, int64_t dim, grk_stream s);
/* pixels [V, C*H*W] float32 -> y [V*(H/p)*(W/p), C*p*p]. */
cudaError_t grk_patchify(const float *pixels, int64_t ldp, int64_t views, int channels, int height,
                         int width, int patch, grk_mat y, grk_stream s);

/* ---- gemm_tma.cu (Hopper sm_90a only) ---- */
/* y = act(x w^T + bias) + res: x [m, k] and w [n, k] 16-bit (ab_dt), y and
 * res (optional) of y_dt (ab_dt or float32), bias float32 [n] or NULL. */
typedef struct grk_gemm_args {
    const void *x, *w;
    int64_t ldx, ldw;
    int ab_dt;
    const float *bias;
    int act;
    const void *res;
    int64_t ldr;
    void *y;
    int64_t ldy;
    int y_dt;
    int64_t m, n, k;
    grk_pf pf; /* asked of L2 once the weight stream is issued (bytes 0: nothing) */
} grk_gemm_args;
/* cuTensorMapEncodeTiled from the driver (NULL when unavailable). */
void *grk_gemm_tma_encoder(void);
/* Number of tile configurations, and the output columns per CTA of one. */
int grk_gemm_tma_configs(void);
int grk_gemm_tma_bn(int cfg);
/* Its ring depth, and how many of its CTAs fit on one SM. */
int grk_gemm_tma_stages(int cfg);
int grk_gemm_tma_per_sm(int cfg);
/* 1 when the kernel takes these operands (dtypes, alignment, strides). */
int grk_gemm_tma_fits(const grk_gemm_args *a);
/* Launches as a programmatic dependent with K split over `splits` (1..8)
 * CTAs of a cluster. */
cudaError_t grk_gemm_tma(void *encoder, const grk_gemm_args *a, int cfg, int splits, cudaStream_t s);

/* ---- frames.cu ---- */
/* One axis of a camera frame's resize: per output index its weights
 * [out, taps] and bounds [out, 2] (first input index, count), device
 * memory, as gr_image_axis_weights makes them; w NULL: the axis keeps its
 * size and the pass is skipped. */
typedef struct grk_axis {
    const float *w;
    const int *bounds;
    int taps;
} grk_axis;
/* The crop at `crop` (its rows row_bytes apart, 3 bytes a pixel) resized
 * by ax (width) then ay (height) to size x size, truncated to uint8 and
 * normalized to (u8/255 - 0.5)/0.5, into out [3, size, size] float32. */
cudaError_t grk_frame_to_pixels(const uint8_t *crop, int64_t row_bytes, grk_axis ax, grk_axis ay, int size,
                                float *out, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
