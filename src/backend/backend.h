/*
 * The backend interface: every operation the model layer calls, and nothing
 * model-specific. The model is written once against these ops; backend/cpu
 * and backend/cuda implement them. A backend owns its memory (host for the
 * CPU, device for CUDA) and its ordering: ops run in the order they are
 * called (on CUDA, asynchronously on one stream); gr_backend_ops.download
 * and .sync wait for everything issued before them.
 *
 * Tensors are 2-D row-major views: [rows, cols] with a row stride `ld` in
 * elements, so that column slices (q, k, v out of one fused projection) and
 * row slices (one sample's tokens) are views, never copies.
 *
 * Each op returns GROOT_OK or a failure status with a message in be->err.
 * Ops check what they can cheaply (shapes, dtypes); a backend that cannot do
 * a dtype combination says GROOT_ERR_UNSUPPORTED naming it.
 */
#ifndef GR_BACKEND_H
#define GR_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum gr_dtype {
    GR_F32 = 0,
    GR_BF16,
    GR_F16,
    GR_I32,
    GR_U8,
    GR_DTYPE_COUNT
} gr_dtype;

size_t gr_dtype_size(gr_dtype t);
/* The safetensors spelling ("F32", "BF16", ...), which files and messages share. */
const char *gr_dtype_name(gr_dtype t);

typedef struct gr_tensor {
    void *data;      /* backend memory; NULL means "absent" where an op allows it */
    gr_dtype dtype;
    int64_t rows, cols;
    int64_t ld;      /* elements from one row to the next, >= cols */
} gr_tensor;

/* Views share data with t. Bounds are the caller's duty (asserted in debug). */
gr_tensor gr_view_rows(gr_tensor t, int64_t row0, int64_t nrows);
gr_tensor gr_view_cols(gr_tensor t, int64_t col0, int64_t ncols);
/* Reinterprets a contiguous tensor as [rows, cols] with rows*cols equal. */
gr_tensor gr_reshape(gr_tensor t, int64_t rows, int64_t cols);
static inline int gr_tensor_present(const gr_tensor *t) { return t && t->data != NULL; }

/* A dense [rows, cols] tensor of dtype over data (ld = cols). */
gr_tensor gr_tensor_dense(void *data, gr_dtype dtype, int64_t rows, int64_t cols);

/* How a GEMM may round its float32 inputs. */
typedef enum gr_math {
    GR_MATH_EXACT = 0, /* operands in their own dtype, fp32 accumulation */
    GR_MATH_TF32,      /* fp32 operands may be rounded to tf32 on the matrix units */
    GR_MATH_REDUCED_ACC /* bf16/fp16 operands may accumulate in their own dtype */
} gr_math;

/* A linear layer y = x @ w^T + b, weights laid out [out, in] as nn.Linear stores them. */
typedef struct gr_linear {
    gr_tensor w;  /* [out, in] */
    gr_tensor b;  /* [1, out] float32; data NULL when the layer has no bias */
    gr_math math;
} gr_linear;

typedef enum gr_act {
    GR_ACT_NONE = 0,
    GR_ACT_GELU_TANH, /* 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))) */
    GR_ACT_RELU,
    GR_ACT_SILU       /* x * sigmoid(x), also called swish */
} gr_act;

/* Samples stacked in rows for attention_spans: sample i's queries are rows
 * [q_row[i], q_row[i] + q_rows[i]) of q and out, its keys and values rows
 * [kv_row[i], kv_row[i] + kv_rows[i]) of k and v. */
#define GR_SPANS_MAX 64
typedef struct gr_row_spans {
    int count;
    int64_t q_row[GR_SPANS_MAX], q_rows[GR_SPANS_MAX];
    int64_t kv_row[GR_SPANS_MAX], kv_rows[GR_SPANS_MAX];
} gr_row_spans;

/* One camera frame for frames_to_pixels: an RGB image in host memory, the
 * window of it to resize, and the row of pixels its result fills. */
typedef struct gr_frame_job {
    const uint8_t *rgb; /* host [height, width, 3] */
    int height, width;
    int top, left, crop_h, crop_w;
    int64_t row;
} gr_frame_job;

typedef struct gr_backend gr_backend;

/* Work recorded by run_recorded. It must issue the same ops on the same
 * buffers every time it is called with the same key. */
typedef groot_status (*gr_recorded_fn)(void *ctx);

typedef struct gr_backend_ops {
    const char *name; /* "cpu", "cuda" */

    void (*destroy)(gr_backend *be);

    /* ---- memory ---- */
    /* Allocates a contiguous [rows, cols] tensor (ld = cols). Contents undefined. */
    groot_status (*alloc)(gr_backend *be, gr_tensor *t, int64_t rows, int64_t cols, gr_dtype dtype);
    void (*free)(gr_backend *be, gr_tensor *t); /* NULL data is a no-op; clears t */
    /* Copies rows*cols host elements of src_dtype (contiguous) into dst,
     * converting float dtypes (f32/bf16/f16) to dst's dtype. Integer dtypes
     * must match exactly. May return before the copy lands on an async
     * backend, but src may be reused as soon as it returns. */
    groot_status (*upload)(gr_backend *be, gr_tensor *dst, const void *src, gr_dtype src_dtype);
    /* Waits for pending work, then copies src (any float dtype) to host float32, contiguous. */
    groot_status (*download)(gr_backend *be, const gr_tensor *src, float *dst);
    /* Waits for all issued work. */
    groot_status (*sync)(gr_backend *be);

    /* ---- ops (x, y: any float dtype the backend supports; y may not alias x unless said) ---- */

    /* y = act(x @ L.w^T + L.b) + residual. residual may be NULL, or alias y
     * (in-place accumulation); it has y's shape and dtype. */
    groot_status (*linear)(gr_backend *be, const gr_tensor *x, const gr_linear *L, gr_act act,
                           const gr_tensor *residual, gr_tensor *y);
    /* Per row: y = (x - mean) / sqrt(var + eps) * w + b; w and b ([1, cols],
     * float32) may each be NULL (no affine). Statistics in float32. */
    groot_status (*layernorm)(gr_backend *be, const gr_tensor *x, const gr_tensor *w,
                              const gr_tensor *b, float eps, gr_tensor *y);
    /* Per row: y = x / sqrt(mean(x^2) + eps) * w (w [1, cols] float32). */
    groot_status (*rmsnorm)(gr_backend *be, const gr_tensor *x, const gr_tensor *w, float eps,
                            gr_tensor *y);
    /* AdaLN: y = layernorm_noaffine(x, eps) * (1 + scale) + shift, where
     * scale and shift are [1, cols] float32 rows broadcast over x's rows. */
    groot_status (*modulate)(gr_backend *be, const gr_tensor *x, const gr_tensor *scale,
                             const gr_tensor *shift, float eps, gr_tensor *y);
    /* Qwen3 q/k path, in place on x = [L, heads*head_dim]: per head an RMSNorm
     * over head_dim with weight w ([1, head_dim] float32), then RoPE in the
     * rotate_half convention with cos/sin tables [L, head_dim/2] float32
     * (row i is position i of this sequence). */
    groot_status (*qk_norm_rope)(gr_backend *be, gr_tensor *x, int heads, int head_dim,
                                 const gr_tensor *w, float eps, const gr_tensor *cos,
                                 const gr_tensor *sin);
    /* Multi-head attention, softmax(q k^T * scale [+ causal mask]) v, with
     * q [Lq, heads*head_dim], k and v [Lk, kv_heads*head_dim] and out
     * [Lq, heads*head_dim]; query head h reads kv head h / (heads/kv_heads).
     * Causal masks key j > query i (Lq == Lk). Softmax in float32.
     * kv_valid (NULL: every key) is an int32 [1, 1] tensor of this backend
     * holding how many leading keys are real, 1..Lk: the rest are a
     * sequence's padding up to its bucket (gr_backend.seq_bucket). It is read
     * when the op runs, so a recorded call serves every length of a bucket. */
    groot_status (*attention)(gr_backend *be, const gr_tensor *q, const gr_tensor *k,
                              const gr_tensor *v, int heads, int kv_heads, int head_dim,
                              int causal, float scale, const gr_tensor *kv_valid, gr_tensor *out);
    /* attention() for each of spans->count (1..GR_SPANS_MAX) samples stacked
     * in rows, each attending to its own keys only; kv_valid (NULL, or int32
     * [1, count]) column i counts sample i's real keys. On the GPU one launch
     * serves every sample. */
    groot_status (*attention_spans)(gr_backend *be, const gr_tensor *q, const gr_tensor *k,
                                    const gr_tensor *v, int heads, int kv_heads, int head_dim, int causal,
                                    float scale, const gr_row_spans *spans, const gr_tensor *kv_valid,
                                    gr_tensor *out);
    /* y = silu(gate) * up, elementwise; gate, up, y all [rows, cols]. */
    groot_status (*swiglu)(gr_backend *be, const gr_tensor *gate, const gr_tensor *up, gr_tensor *y);
    /* y = act(x) elementwise (y may alias x). */
    groot_status (*activation)(gr_backend *be, const gr_tensor *x, gr_act act, gr_tensor *y);
    /* y[r] = x[r] + rows[r % rows->rows]: positional embeddings, broadcast
     * biases (y may alias x). */
    groot_status (*add_rows)(gr_backend *be, const gr_tensor *x, const gr_tensor *rows, gr_tensor *y);
    /* y += alpha * x (the Euler step). */
    groot_status (*axpy)(gr_backend *be, float alpha, const gr_tensor *x, gr_tensor *y);
    /* dst = src (same shape; dtypes may differ: converts). Views allowed both sides. */
    groot_status (*copy)(gr_backend *be, const gr_tensor *src, gr_tensor *dst);
    /* Token embedding: y[i] = table[ids[i]], except that rows whose id equals
     * image_token_id take, in order, the rows of images (which has exactly
     * as many rows as there are such ids). ids: [1, L] int32 (validated by
     * the caller); table: [vocab, dim] any float dtype; y: [L, dim]. */
    groot_status (*embed)(gr_backend *be, const gr_tensor *ids, const gr_tensor *table,
                          int image_token_id, const gr_tensor *images, gr_tensor *y);
    /* Patchify images for a stride-p convolution: pixels [V, C*H*W] (CHW,
     * float32) to y [V*(H/p)*(W/p), C*p*p], patches in raster order, each
     * patch's elements ordered (c, ky, kx) as a conv weight [out, C, p, p]
     * flattens. */
    groot_status (*patchify)(gr_backend *be, const gr_tensor *pixels, int channels, int height,
                             int width, int patch, gr_tensor *y);
    /* Camera frames to network pixels, with the bytes gr_image_resize_window
     * and gr_image_to_pixels give on the host (SPEC.md section 3): each
     * job's window resized to size x size, truncated to uint8, normalized
     * and written channels-first into row job.row of pixels [V, 3*size*size]
     * float32. The frames are read from host memory and may be reused as
     * soon as the op returns. Not for recorded work: a GPU backend copies
     * the frames in and may grow its buffers. */
    groot_status (*frames_to_pixels)(gr_backend *be, int n, const gr_frame_job *jobs, int size,
                                     gr_tensor *pixels);

    /* A hint that results never depend on: t (a weight) is read by the op
     * after the next one. A backend may start moving it nearer: the CUDA
     * backend has its next kernel op (a norm, attention, SwiGLU, or a GEMM
     * once its own weight is requested) ask L2 for the first megabytes, so
     * that DRAM streams them where it would idle; the CPU backend does
     * nothing. */
    groot_status (*prefetch)(gr_backend *be, const gr_tensor *t);

    /* ---- execution ---- */
    /* Runs fn(ctx). A backend that records (CUDA graphs) captures the first
     * run under key and replays it on later calls with that key; others call
     * fn every time. */
    groot_status (*run_recorded)(gr_backend *be, uint64_t key, gr_recorded_fn fn, void *ctx);
    /* Marks a point in the op stream in timer slot `slot` (0..GR_TIMER_SLOTS-1). */
    groot_status (*timer_mark)(gr_backend *be, int slot);
    /* Milliseconds between two marks, after the work that follows them is done. */
    groot_status (*timer_elapsed)(gr_backend *be, int slot_from, int slot_to, double *ms);
    /* Bytes of the backend's memory in use: the device's used memory on a
     * GPU (all processes), this process's resident memory on the CPU. */
    groot_status (*memory_in_use)(gr_backend *be, size_t *bytes);
} gr_backend_ops;

#define GR_TIMER_SLOTS 16

/* The common head of every backend. */
struct gr_backend {
    const gr_backend_ops *ops;
    gr_error err;
    int num_threads;   /* CPU threads for host-side work (0: runtime default) */
    /* Token sequences are padded to a multiple of this many rows, so that
     * prompts of nearby lengths share one recorded call and one set of
     * tuned GEMMs (1: exact lengths, where nothing is recorded). */
    int seq_bucket;    /* 1 .. GR_SEQ_BUCKET_MAX */
    /* Set by run_recorded: its last call replayed a recording (0: it ran
     * fn, eagerly or while capturing it). */
    int replayed;
};

#define GR_SEQ_BUCKET_MAX 256

/* For a backend's alloc: the bytes of a [rows, cols] tensor of dtype, or an
 * error naming `op` for a negative shape, an unknown dtype or a size past
 * SIZE_MAX. */
groot_status gr_tensor_bytes(gr_backend *be, const char *op, int64_t rows, int64_t cols, gr_dtype dtype,
                             size_t *bytes);

/* attention_spans as one attention() call per sample (the CPU backend's). */
groot_status gr_attention_spans_each(gr_backend *be, const gr_tensor *q, const gr_tensor *k, const gr_tensor *v,
                                     int heads, int kv_heads, int head_dim, int causal, float scale,
                                     const gr_row_spans *spans, const gr_tensor *kv_valid, gr_tensor *out);
/* The spans' shape checks both backends make (rows inside q/k, causal
 * spans square, kv_valid int32 with a column per span); `op` names the op. */
groot_status gr_row_spans_check(gr_backend *be, const char *op, const gr_tensor *q, const gr_tensor *k,
                                int causal, const gr_row_spans *spans, const gr_tensor *kv_valid);

/* frames_to_pixels' checks both backends make: size and each frame within
 * the image layer's bounds (gr_image_size_ok), pixels float32 [>= rows,
 * 3*size*size], each window inside its frame (gr_image_window_ok) and each
 * row inside pixels; `op` names the op, messages name the job. */
groot_status gr_frame_jobs_check(gr_backend *be, const char *op, int n, const gr_frame_job *jobs, int size,
                                 const gr_tensor *pixels);

/* Creates the backend named by `device` ("cpu" or "cuda"). */
groot_status gr_backend_create(const char *device, int num_threads, gr_backend **out, gr_error *err);
void gr_backend_destroy(gr_backend *be);

groot_status gr_backend_cpu_create(int num_threads, gr_backend **out, gr_error *err);
/* Returns GROOT_ERR_UNSUPPORTED when groot was built without CUDA. */
groot_status gr_backend_cuda_create(int num_threads, gr_backend **out, gr_error *err);

#endif
