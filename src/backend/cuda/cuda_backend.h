/*
 * The CUDA backend's private state, shared by its host files (cuda_backend.c,
 * cuda_gemm.c, cuda_ops.c, graph.c). All device work goes to one
 * non-blocking stream in issue order; nothing here is global, so several
 * backends can coexist in one process.
 */
#ifndef GR_BACKEND_CUDA_H
#define GR_BACKEND_CUDA_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_kernels.h"

/* A cached cuBLASLt plan: everything the heuristic decided for one GEMM
 * shape, so repeated calls (and graph capture) allocate nothing. */
typedef struct gr_cuda_gemm_key {
    int64_t m, n, k, lda, ldb, ldc, ldd;
    int ab_type, d_type;   /* gr_dtype */
    int epilogue;          /* cublasLtEpilogue_t */
    int beta_one;          /* C (residual) is read */
    int compute;           /* cublasComputeType_t */
    int bias_f32;          /* bias given as float32 to a 16-bit D */
    unsigned align_a, align_b, align_c, align_d; /* pointer alignment, bytes (<= 256) */
} gr_cuda_gemm_key;

typedef struct gr_cuda_gemm_plan {
    gr_cuda_gemm_key key;
    int used;
    uint64_t last_use;     /* for LRU eviction */
    int ok;                /* 0: the heuristic found nothing; don't ask again */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc, ld;
    cublasLtMatmulAlgo_t algo;
    int tuned;             /* tuning ran (or was not worth it) */
    int timed;             /* algo won a timing against other candidates */
} gr_cuda_gemm_plan;

/* A 16-bit copy of a float32 bias, for cuBLASLt epilogues writing a 16-bit
 * D (they read the bias in D's type). buf_id is the driver's id of the
 * allocation holding src, so a freed and reused address is not mistaken
 * for the same bias. */
typedef struct gr_cuda_bias16 {
    const float *src;
    int64_t n;
    int dtype;             /* gr_dtype of dev */
    unsigned long long buf_id;
    void *dev;
} gr_cuda_bias16;

/* Which kernel runs a linear of one shape (cuda_gemm_tma.c): cuBLASLt
 * (cfg -1) or gemm_tma.cu's configuration cfg with K split `splits` ways. */
typedef struct gr_cuda_tma_key {
    int64_t m, n, k, ldx, ldw, ldy, ldr;
    int ab_type, y_type, act, has_bias, has_res, res_is_y;
} gr_cuda_tma_key;

typedef struct gr_cuda_tma_route {
    gr_cuda_tma_key key;
    int used;
    uint64_t last_use;
    int cfg, splits;
} gr_cuda_tma_route;

#define GR_CUDA_GEMM_PLANS 256
#define GR_CUDA_GRAPHS 32
/* Resize axes kept on the device (two per camera frame size). */
#define GR_CUDA_AXES 16
/* cuBLASLt calls recorded per capture (graph_pdl.c); beyond, edges stay full. */
#define GR_CUDA_CUBLAS_SPANS 2048
/* graph_pdl unset: on only where cublas_pdl_probe verified cuBLASLt's
 * kernels wait (compute capability 9.x with cuBLASLt 13.x). */
#define GR_GRAPH_PDL_VERIFIED 2

typedef struct gr_cuda_graph {
    uint64_t key;
    int used;
    uint64_t born;         /* insertion order, for evicting the oldest */
    cudaGraphExec_t exec;
} gr_cuda_graph;

typedef struct gr_cuda_backend {
    gr_backend base; /* first, so a gr_backend * is a gr_cuda_backend * */
    int device;
    int num_sms;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *lt_ws;
    size_t lt_ws_size;

    /* Pinned host staging for uploads/downloads. Copies still in flight
     * read its first staging_used bytes; the event marks when the last of
     * them has finished, so that it can be refilled from the start. */
    void *staging;
    size_t staging_cap, staging_used;
    cudaEvent_t staging_done;
    int staging_pending;

    /* Device scratch for GEMM epilogues that cuBLASLt cannot fuse with an
     * aliased residual. Grown outside capture only. */
    void *scratch;
    size_t scratch_cap;

    cudaEvent_t timers[GR_TIMER_SLOTS];
    unsigned char marked[GR_TIMER_SLOTS];

    gr_cuda_gemm_plan plans[GR_CUDA_GEMM_PLANS];
    uint64_t plan_clock;

    gr_cuda_graph graphs[GR_CUDA_GRAPHS];
    uint64_t graph_clock;
    int capturing;

    /* GROOT_PROFILE_REPLAY=N: the Nth graph replay runs kernel by kernel
     * (not as the graph) between cudaProfilerStart and Stop, so `ncu
     * --profile-from-start off` sees one whole steady-state call and
     * nothing of loading or autotuning. */
    long profile_replay;
    long replays;
    /* The other knobs, read and checked once (gr_cuda_knobs_from_env):
     * GROOT_GEMM_TUNE (0, 1, 2), GROOT_GEMM_BORROW (0, 1), GROOT_GEMM_LOG
     * (0, 1, 2: every candidate too), GROOT_L2_PREFETCH (0, 1),
     * GROOT_GRAPH_PDL (0, 1, unset: GR_GRAPH_PDL_VERIFIED; see graph_pdl.c). */
    int tune_level, borrow, gemm_log, l2_prefetch, graph_pdl;
    /* graph_pdl.c: where each cublasLtMatmul of the capture under way sits
     * (the capture's tail before and after it) and whether its operands
     * are 16-bit; the driver calls that name a graph node's kernel; and how
     * many edges the last capture had made programmatic. */
    struct {
        cudaGraphNode_t before, after;
        int pdl;
    } cublas_spans[GR_CUDA_CUBLAS_SPANS];
    int cublas_spans_n, cublas_spans_lost;
    void *drv_node_params, *drv_func_name, *drv_kernel_name;
    int graph_pdl_edges;
    /* gr_cuda_prefetch: the weight the next kernel op is to ask L2 for
     * (bytes 0: none); taken by that op's launch (gr_cuda_ks). */
    grk_pf pf_next;

    /* cuda_frames.c: the camera frames of a call, copied in (grown on
     * demand), and the resize weight tables of each (input, output)
     * length seen, made once; when all slots are taken the oldest goes. */
    uint8_t *frames;
    size_t frames_cap;
    struct gr_cuda_axis {
        int in, out, taps;
        float *w;
        int *bounds;
    } axes[GR_CUDA_AXES];
    int axes_next;

    /* graph.c: fn of run_recorded is running (eagerly or captured), so a
     * nested run_recorded just calls its fn. */
    int recording;

    /* cuda_gemm.c: the 16-bit bias copies (open addressing on src, capacity
     * a power of two) and cuPointerGetAttribute, fetched through the
     * runtime so that no driver library is linked. */
    gr_cuda_bias16 *bias16;
    size_t bias16_cap, bias16_count;
    void *ptr_attr_fn;
    int ptr_attr_tried;

    /* cuda_gemm.c: GEMM autotuning, outside captures only: a scratch D,
     * copies of the weight to rotate through (so timed runs read it from
     * DRAM, as the model does, not from L2), events. Released after each
     * eager run. */
    void *tune_d;
    size_t tune_d_cap;
    void *tune_rot;
    size_t tune_rot_cap;
    cudaEvent_t tune_ev[2];
    int tune_ev_ready;

    /* cuda_gemm_tma.c: the driver's tensor-map encoder (NULL: no Hopper
     * GEMMs on this device), the routes chosen per shape, and a scratch
     * output for timing them (released with the tuning buffers). */
    void *tma_encoder;
    /* GROOT_GEMM_TMA as a gr_tma_mode (GR_TMA_OFF without an encoder). */
    int tma_mode;
    /* The last GEMM issued ran on gemm_tma.cu: groot's own kernels then
     * launch as programmatic dependents (gr_cuda_ks), so that the chain of
     * early starts reaches the next GEMM. Among cuBLASLt's kernels, which
     * neither start early nor let others, it slowed TF32 calls by 12%. */
    int pdl_chain;
    /* Bytes [last_out_lo, last_out_hi) hold what the last kernel op
     * enqueued writes. A programmatic dependent starts once the kernel
     * before it has passed its own wait, so everything written earlier is
     * complete: an op whose inputs lie outside this range may fetch them
     * before waiting (gr_cuda_written_by_last). */
    uintptr_t last_out_lo, last_out_hi;
    gr_cuda_tma_route tma_routes[GR_CUDA_GEMM_PLANS];
    uint64_t tma_clock;
    void *tma_tune_y;
    size_t tma_tune_y_cap;
} gr_cuda_backend;

static inline gr_cuda_backend *gr_cuda(gr_backend *be) { return (gr_cuda_backend *)be; }

/* Bytes from t's first element to just past its last (0 for no rows). */
static inline size_t gr_cuda_span_bytes(const gr_tensor *t)
{
    return t->rows > 0 ? gr_dtype_size(t->dtype) * (size_t)(t->ld * (t->rows - 1) + t->cols) : 0;
}

/* Records t as the output of the kernel op being enqueued. */
static inline void gr_cuda_note_output(gr_cuda_backend *cb, const gr_tensor *t)
{
    cb->last_out_lo = (uintptr_t)t->data;
    cb->last_out_hi = cb->last_out_lo + gr_cuda_span_bytes(t);
}

/* Whether t may overlap what the last kernel op writes. */
static inline int gr_cuda_written_by_last(const gr_cuda_backend *cb, const gr_tensor *t)
{
    if (!gr_tensor_present(t) || t->rows <= 0)
        return 0;
    const uintptr_t lo = (uintptr_t)t->data, hi = lo + gr_cuda_span_bytes(t);
    return lo < cb->last_out_hi && cb->last_out_lo < hi;
}

/* The pending L2 prefetch (gr_cuda_prefetch), which is then no longer pending. */
static inline grk_pf gr_cuda_take_prefetch(gr_cuda_backend *cb)
{
    const grk_pf pf = cb->pf_next;
    cb->pf_next.p = NULL;
    cb->pf_next.bytes = 0;
    return pf;
}

/* Where a kernel op launches; it takes the pending L2 prefetch along. */
static inline grk_stream gr_cuda_ks(gr_cuda_backend *cb)
{
    grk_stream k = {cb->stream, cb->pdl_chain, gr_cuda_take_prefetch(cb)};
    return k;
}

/* Turns a CUDA error into a status and a message naming the op. */
groot_status gr_cuda_fail(gr_backend *be, cudaError_t e, const char *op, const char *detail);
#define GR_CUDA_TRY(be, call, op, detail)                                           \
    do {                                                                        \
        cudaError_t gr_cu_e_ = (call);                                          \
        if (gr_cu_e_ != cudaSuccess)                                            \
            return gr_cuda_fail((be), gr_cu_e_, (op), (detail));                \
    } while (0)

/* Validates t: present, float dtype (or exactly `want` unless GR_DTYPE_COUNT),
 * ld >= cols, and rows/cols where >= 0. The message names op and operand. */
groot_status gr_cuda_check(gr_backend *be, const char *op, const char *what, const gr_tensor *t,
                           gr_dtype want, int64_t rows, int64_t cols);
int gr_cuda_is_float(gr_dtype t);

/* Device scratch of at least `bytes`; fails (no allocation) while capturing. */
groot_status gr_cuda_scratch(gr_cuda_backend *cb, size_t bytes, void **out);

/* Ops by file. */
groot_status gr_cuda_linear(gr_backend *be, const gr_tensor *x, const gr_linear *L, gr_act act,
                            const gr_tensor *residual, gr_tensor *y);
void gr_cuda_gemm_plans_destroy(gr_cuda_backend *cb);
/* The cuBLASLt route of linear, operands already checked. */
groot_status gr_cuda_linear_cublas(gr_cuda_backend *cb, const gr_tensor *x, const gr_linear *L, gr_act act,
                                   const gr_tensor *residual, gr_tensor *y);
/* Runs linear on gemm_tma.cu when that is the faster route for this
 * shape (chosen by timing on first use); *done 0 leaves it to cuBLASLt. */
groot_status gr_cuda_linear_tma(gr_cuda_backend *cb, const gr_tensor *x, const gr_linear *L, gr_act act,
                                const gr_tensor *residual, gr_tensor *y, grk_pf pf, int *done);
/* Where 16-bit GEMMs run (GROOT_GEMM_TMA, cuda_gemm_tma.c). */
typedef enum gr_tma_mode {
    GR_TMA_OFF = 0,    /* "0" (or anything unknown): cuBLASLt only */
    GR_TMA_TIMED = 1,  /* "1": per shape, the faster alone */
    GR_TMA_ALWAYS = 2, /* "2": gemm_tma.cu wherever it fits */
    GR_TMA_SMALL = 3   /* unset or "small": gemm_tma.cu for few rows */
} gr_tma_mode;
/* Reads GROOT_GEMM_TMA, GROOT_GEMM_TUNE, GROOT_GEMM_BORROW, GROOT_GEMM_LOG
 * and GROOT_PROFILE_REPLAY into cb; an unknown value is an error. */
groot_status gr_cuda_knobs_from_env(gr_cuda_backend *cb, gr_error *err);
/* Creates the two timing events of tuning, once. */
groot_status gr_cuda_tune_events(gr_cuda_backend *cb);
/* Grows a tuning buffer (synchronizes; outside captures only). */
groot_status gr_cuda_tune_alloc(gr_cuda_backend *cb, void **buf, size_t *cap, size_t bytes, const char *what);
/* Frees the autotuning buffers (plans and bias copies stay). */
void gr_cuda_gemm_tune_release(gr_cuda_backend *cb);

groot_status gr_cuda_layernorm(gr_backend *be, const gr_tensor *x, const gr_tensor *w,
                               const gr_tensor *b, float eps, gr_tensor *y);
groot_status gr_cuda_rmsnorm(gr_backend *be, const gr_tensor *x, const gr_tensor *w, float eps,
                             gr_tensor *y);
groot_status gr_cuda_modulate(gr_backend *be, const gr_tensor *x, const gr_tensor *scale,
                              const gr_tensor *shift, float eps, gr_tensor *y);
groot_status gr_cuda_qk_norm_rope(gr_backend *be, gr_tensor *x, int heads, int head_dim,
                                  const gr_tensor *w, float eps, const gr_tensor *cos,
                                  const gr_tensor *sin);
groot_status gr_cuda_attention(gr_backend *be, const gr_tensor *q, const gr_tensor *k,
                               const gr_tensor *v, int heads, int kv_heads, int head_dim,
                               int causal, float scale, const gr_tensor *kv_valid, gr_tensor *out);
groot_status gr_cuda_attention_spans(gr_backend *be, const gr_tensor *q, const gr_tensor *k, const gr_tensor *v,
                                     int heads, int kv_heads, int head_dim, int causal, float scale,
                                     const gr_row_spans *spans, const gr_tensor *kv_valid, gr_tensor *out);
groot_status gr_cuda_swiglu(gr_backend *be, const gr_tensor *gate, const gr_tensor *up, gr_tensor *y);
groot_status gr_cuda_activation(gr_backend *be, const gr_tensor *x, gr_act act, gr_tensor *y);
groot_status gr_cuda_add_rows(gr_backend *be, const gr_tensor *x, const gr_tensor *rows, gr_tensor *y);
groot_status gr_cuda_axpy(gr_backend *be, float alpha, const gr_tensor *x, gr_tensor *y);
groot_status gr_cuda_copy(gr_backend *be, const gr_tensor *src, gr_tensor *dst);
groot_status gr_cuda_embed(gr_backend *be, const gr_tensor *ids, const gr_tensor *table,
                           int image_token_id, const gr_tensor *images, gr_tensor *y);
groot_status gr_cuda_patchify(gr_backend *be, const gr_tensor *pixels, int channels, int height,
                              int width, int patch, gr_tensor *y);

groot_status gr_cuda_prefetch(gr_backend *be, const gr_tensor *t);
/* cuda_frames.c */
groot_status gr_cuda_frames_to_pixels(gr_backend *be, int n, const gr_frame_job *jobs, int size,
                                      gr_tensor *pixels);
void gr_cuda_frames_free(gr_cuda_backend *cb);

groot_status gr_cuda_run_recorded(gr_backend *be, uint64_t key, gr_recorded_fn fn, void *ctx);
groot_status gr_cuda_timer_mark(gr_backend *be, int slot);
groot_status gr_cuda_timer_elapsed(gr_backend *be, int slot_from, int slot_to, double *ms);
void gr_cuda_graphs_destroy(gr_cuda_backend *cb);

/* graph_pdl.c */
void gr_cuda_pdl_drivers(gr_cuda_backend *cb);
void gr_cuda_capture_begin_cublas(gr_cuda_backend *cb);
cudaGraphNode_t gr_cuda_capture_before_cublas(gr_cuda_backend *cb);
void gr_cuda_capture_note_cublas(gr_cuda_backend *cb, cudaGraphNode_t before, int pdl);
/* Makes the eligible kernel edges of g programmatic; how many, or -1 when
 * an edge could not be restored (g must not run). */
int gr_cuda_graph_programmatic(gr_cuda_backend *cb, cudaGraph_t g);

#endif
