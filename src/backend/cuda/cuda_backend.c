/*
 * The CUDA backend object: device, stream, cuBLASLt handle and workspace,
 * pinned staging for host transfers, timer events; memory and transfers.
 * The ops live in cuda_gemm.c, cuda_ops.c (kernels) and graph.c.
 */
#include "backend/cuda/cuda_backend.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_kernels.h"
#include "core/half.h"

/* Largest staging chunk: big uploads (the embedding table) go through in
 * pieces rather than pinning hundreds of MiB of host memory. */
#define STAGING_CHUNK ((size_t)64 << 20)
/* Smallest staging buffer: a 16-sample call's inputs fit without a wait. */
#define STAGING_MIN ((size_t)16 << 20)
#define LT_WORKSPACE ((size_t)64 << 20)
/* Host copies through staging at least this large are split over threads:
 * one core filled pinned memory at ~6 GB/s, so a batch's pixels (602 KB a
 * sample) took longer to stage than to cross PCIe (B=8 uploads 0.54-0.56
 * against 0.89-1.09 ms on an H100 host; B=1 unchanged). */
#define STAGING_PARALLEL_MIN ((size_t)256 << 10)
#define STAGING_PARALLEL_PIECE ((size_t)64 << 10)
#define STAGING_THREADS 8

groot_status gr_cuda_fail(gr_backend *be, cudaError_t e, const char *op, const char *detail)
{
    groot_status st = e == cudaErrorMemoryAllocation ? GROOT_ERR_NOMEM : GROOT_ERR_DEVICE;
    return gr_fail(&be->err, st, "cuda %s: %s: %s (%s)", op, detail ? detail : "",
                   cudaGetErrorName(e), cudaGetErrorString(e));
}

int gr_cuda_is_float(gr_dtype t) { return t == GR_F32 || t == GR_BF16 || t == GR_F16; }

groot_status gr_cuda_check(gr_backend *be, const char *op, const char *what, const gr_tensor *t,
                           gr_dtype want, int64_t rows, int64_t cols)
{
    if (!gr_tensor_present(t))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda %s: %s is missing", op, what);
    if (want == GR_DTYPE_COUNT ? !gr_cuda_is_float(t->dtype) : t->dtype != want)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda %s: %s has dtype %s, expected %s", op,
                       what, gr_dtype_name(t->dtype),
                       want == GR_DTYPE_COUNT ? "F32, BF16 or F16" : gr_dtype_name(want));
    if (t->rows < 0 || t->cols < 0 || t->ld < t->cols)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda %s: %s is [%lld, %lld] with ld %lld", op,
                       what, (long long)t->rows, (long long)t->cols, (long long)t->ld);
    if ((rows >= 0 && t->rows != rows) || (cols >= 0 && t->cols != cols))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda %s: %s is [%lld, %lld], expected [%lld, %lld]",
                       op, what, (long long)t->rows, (long long)t->cols, (long long)rows, (long long)cols);
    return GROOT_OK;
}

groot_status gr_cuda_scratch(gr_cuda_backend *cb, size_t bytes, void **out)
{
    if (bytes <= cb->scratch_cap) {
        *out = cb->scratch;
        return GROOT_OK;
    }
    if (cb->capturing)
        return gr_fail(&cb->base.err, GROOT_ERR_UNSUPPORTED,
                       "cuda: scratch of %zu bytes needed inside run_recorded (have %zu); run the "
                       "same work once outside a recording first",
                       bytes, cb->scratch_cap);
    /* The old buffer may still be read by queued work. */
    GR_CUDA_TRY(&cb->base, cudaStreamSynchronize(cb->stream), "scratch", "sync");
    cudaFree(cb->scratch);
    cb->scratch = NULL;
    cb->scratch_cap = 0;
    GR_CUDA_TRY(&cb->base, cudaMalloc(&cb->scratch, bytes), "scratch", "cudaMalloc");
    cb->scratch_cap = bytes;
    *out = cb->scratch;
    return GROOT_OK;
}

/* ---- memory ---- */

static groot_status cuda_alloc(gr_backend *be, gr_tensor *t, int64_t rows, int64_t cols, gr_dtype dtype)
{
    memset(t, 0, sizeof *t);
    size_t bytes = 0;
    GR_TRY(gr_tensor_bytes(be, "cuda alloc", rows, cols, dtype, &bytes));
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 16);
    if (e != cudaSuccess) {
        char d[96];
        snprintf(d, sizeof d, "[%lld, %lld] %s (%zu bytes)", (long long)rows, (long long)cols,
                 gr_dtype_name(dtype), bytes);
        return gr_cuda_fail(be, e, "alloc", d);
    }
    *t = gr_tensor_dense(p, dtype, rows, cols);
    return GROOT_OK;
}

static void cuda_free(gr_backend *be, gr_tensor *t)
{
    /* A prefetch still pending (its op never came: a forward that failed
     * in between) must not reach a kernel once its memory may be gone. */
    gr_cuda_take_prefetch(gr_cuda(be));
    if (t->data)
        cudaFree(t->data);
    memset(t, 0, sizeof *t);
}

/* Space for `bytes` in the pinned staging buffer. While copies are in
 * flight it is taken behind what they read, so a call's uploads (token
 * ids, pixels, state, noise: a few for each sample) queue without the host
 * waiting for each; only when it does not fit there does the host wait for
 * them all and start again at the beginning, growing the buffer if one
 * request is larger (the first calls only). The event that wait needs is
 * recorded then, not after every copy: a call's download synchronizes the
 * stream anyway, so the next call starts at the beginning without it. */
static groot_status staging_take(gr_cuda_backend *cb, size_t bytes, const char *op, void **at)
{
    size_t off = cb->staging_pending ? (cb->staging_used + 255) & ~(size_t)255 : 0;
    if (off > cb->staging_cap || bytes > cb->staging_cap - off) {
        if (cb->staging_pending) {
            GR_CUDA_TRY(&cb->base, cudaEventRecord(cb->staging_done, cb->stream), op, "staging event");
            GR_CUDA_TRY(&cb->base, cudaEventSynchronize(cb->staging_done), op, "staging wait");
            cb->staging_pending = 0;
        }
        off = 0;
        if (bytes > cb->staging_cap) {
            const size_t cap = bytes > STAGING_MIN ? bytes : STAGING_MIN;
            cudaFreeHost(cb->staging);
            cb->staging = NULL;
            cb->staging_cap = 0;
            GR_CUDA_TRY(&cb->base, cudaHostAlloc(&cb->staging, cap, cudaHostAllocDefault), op, "pinned staging");
            cb->staging_cap = cap;
        }
    }
    cb->staging_used = off + bytes;
    *at = (char *)cb->staging + off;
    return GROOT_OK;
}

/* memcpy, in 64 KB pieces over up to STAGING_THREADS threads when large. */
static void staging_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes < STAGING_PARALLEL_MIN) {
        memcpy(dst, src, bytes);
        return;
    }
    const long pieces = (long)((bytes + STAGING_PARALLEL_PIECE - 1) / STAGING_PARALLEL_PIECE);
    int team = omp_get_max_threads();
    team = team > STAGING_THREADS ? STAGING_THREADS : team;
#pragma omp parallel for num_threads(team) schedule(static)
    for (long i = 0; i < pieces; i++) {
        const size_t off = (size_t)i * STAGING_PARALLEL_PIECE;
        const size_t n = bytes - off < STAGING_PARALLEL_PIECE ? bytes - off : STAGING_PARALLEL_PIECE;
        memcpy((char *)dst + off, (const char *)src + off, n);
    }
}

static void convert_to(void *dst, gr_dtype to, const void *src, gr_dtype from, size_t n)
{
    if (to == from) {
        staging_copy(dst, src, n * gr_dtype_size(to));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v;
        switch (from) {
        case GR_F32: v = ((const float *)src)[i]; break;
        case GR_BF16: v = gr_bf16_to_f32(((const uint16_t *)src)[i]); break;
        default: v = gr_f16_to_f32(((const uint16_t *)src)[i]); break;
        }
        switch (to) {
        case GR_F32: ((float *)dst)[i] = v; break;
        case GR_BF16: ((uint16_t *)dst)[i] = gr_f32_to_bf16(v); break;
        default: ((uint16_t *)dst)[i] = gr_f32_to_f16(v); break;
        }
    }
}

static int64_t chunk_rows(int64_t rows, size_t row_bytes)
{
    int64_t n = row_bytes ? (int64_t)(STAGING_CHUNK / row_bytes) : rows;
    if (n < 1)
        n = 1;
    return n < rows ? n : rows;
}

static groot_status cuda_upload(gr_backend *be, gr_tensor *dst, const void *src, gr_dtype src_dtype)
{
    gr_cuda_backend *cb = gr_cuda(be);
    if (!gr_tensor_present(dst) || dst->ld < dst->cols)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda upload: destination missing or bad ld");
    if (cb->capturing)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED,
                       "cuda upload: not allowed inside run_recorded (host data is not recorded)");
    int both_float = gr_cuda_is_float(dst->dtype) && gr_cuda_is_float(src_dtype);
    if (!both_float && dst->dtype != src_dtype)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda upload: %s host data into a %s tensor",
                       gr_dtype_name(src_dtype), gr_dtype_name(dst->dtype));
    const size_t es = gr_dtype_size(dst->dtype), ses = gr_dtype_size(src_dtype);
    const size_t row_bytes = (size_t)dst->cols * es;
    if (dst->rows == 0 || dst->cols == 0)
        return GROOT_OK;
    const int64_t step = chunk_rows(dst->rows, row_bytes);
    for (int64_t r0 = 0; r0 < dst->rows; r0 += step) {
        int64_t nr = dst->rows - r0 < step ? dst->rows - r0 : step;
        void *st = NULL;
        GR_TRY(staging_take(cb, (size_t)nr * row_bytes, "upload", &st));
        convert_to(st, dst->dtype, (const char *)src + (size_t)r0 * dst->cols * ses, src_dtype,
                   (size_t)nr * dst->cols);
        char *d = (char *)dst->data + (size_t)r0 * dst->ld * es;
        GR_CUDA_TRY(be, cudaMemcpy2DAsync(d, (size_t)dst->ld * es, st, row_bytes, row_bytes, (size_t)nr,
                                          cudaMemcpyHostToDevice, cb->stream),
                    "upload", "copy");
        cb->staging_pending = 1;
    }
    return GROOT_OK;
}

static groot_status cuda_download(gr_backend *be, const gr_tensor *src, float *dst)
{
    gr_cuda_backend *cb = gr_cuda(be);
    GR_TRY(gr_cuda_check(be, "download", "src", src, GR_DTYPE_COUNT, -1, -1));
    if (cb->capturing)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda download: not allowed inside run_recorded");
    if (src->rows == 0 || src->cols == 0)
        return GROOT_OK;
    const size_t es = gr_dtype_size(src->dtype);
    const size_t row_bytes = (size_t)src->cols * es;
    const int64_t step = chunk_rows(src->rows, row_bytes);
    for (int64_t r0 = 0; r0 < src->rows; r0 += step) {
        int64_t nr = src->rows - r0 < step ? src->rows - r0 : step;
        const char *s = (const char *)src->data + (size_t)r0 * src->ld * es;
        void *st = NULL;
        GR_TRY(staging_take(cb, (size_t)nr * row_bytes, "download", &st));
        GR_CUDA_TRY(be, cudaMemcpy2DAsync(st, row_bytes, s, (size_t)src->ld * es, row_bytes, (size_t)nr,
                                          cudaMemcpyDeviceToHost, cb->stream),
                    "download", "copy");
        /* Surfaces any earlier asynchronous kernel failure too; every copy
         * through staging is done after it. */
        GR_CUDA_TRY(be, cudaStreamSynchronize(cb->stream), "download", "sync");
        cb->staging_pending = 0;
        convert_to(dst + (size_t)r0 * src->cols, GR_F32, st, src->dtype, (size_t)nr * src->cols);
    }
    return GROOT_OK;
}

static groot_status cuda_sync(gr_backend *be)
{
    gr_cuda_backend *cb = gr_cuda(be);
    if (cb->capturing)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda sync: not allowed inside run_recorded");
    GR_CUDA_TRY(be, cudaStreamSynchronize(cb->stream), "sync", "stream");
    return GROOT_OK;
}

static void cuda_destroy(gr_backend *be)
{
    gr_cuda_backend *cb = gr_cuda(be);
    if (!cb)
        return;
    if (cb->stream)
        cudaStreamSynchronize(cb->stream);
    gr_cuda_graphs_destroy(cb);
    gr_cuda_gemm_plans_destroy(cb);
    gr_cuda_frames_free(cb);
    for (int i = 0; i < GR_TIMER_SLOTS; i++)
        if (cb->timers[i])
            cudaEventDestroy(cb->timers[i]);
    if (cb->staging_done)
        cudaEventDestroy(cb->staging_done);
    cudaFreeHost(cb->staging);
    cudaFree(cb->scratch);
    cudaFree(cb->lt_ws);
    if (cb->lt)
        cublasLtDestroy(cb->lt);
    if (cb->stream)
        cudaStreamDestroy(cb->stream);
    free(cb);
}

static groot_status cuda_memory_in_use(gr_backend *be, size_t *bytes)
{
    size_t free_b = 0, total_b = 0;
    cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
    if (e != cudaSuccess)
        return gr_fail(&be->err, GROOT_ERR_DEVICE, "cudaMemGetInfo: %s", cudaGetErrorString(e));
    *bytes = total_b - free_b;
    return GROOT_OK;
}

static const gr_backend_ops cuda_ops = {
    .name = "cuda",
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .sync = cuda_sync,
    .linear = gr_cuda_linear,
    .layernorm = gr_cuda_layernorm,
    .rmsnorm = gr_cuda_rmsnorm,
    .modulate = gr_cuda_modulate,
    .qk_norm_rope = gr_cuda_qk_norm_rope,
    .attention = gr_cuda_attention,
    .attention_spans = gr_cuda_attention_spans,
    .swiglu = gr_cuda_swiglu,
    .activation = gr_cuda_activation,
    .add_rows = gr_cuda_add_rows,
    .axpy = gr_cuda_axpy,
    .copy = gr_cuda_copy,
    .embed = gr_cuda_embed,
    .patchify = gr_cuda_patchify,
    .frames_to_pixels = gr_cuda_frames_to_pixels,
    .prefetch = gr_cuda_prefetch,
    .run_recorded = gr_cuda_run_recorded,
    .timer_mark = gr_cuda_timer_mark,
    .timer_elapsed = gr_cuda_timer_elapsed,
    .memory_in_use = cuda_memory_in_use,
};

static groot_status create_fail(gr_cuda_backend *cb, gr_error *err, cudaError_t e, const char *what)
{
    groot_status st = gr_fail(err, GROOT_ERR_DEVICE, "cuda backend: %s: %s (%s)", what,
                              cudaGetErrorName(e), cudaGetErrorString(e));
    cuda_destroy(&cb->base);
    return st;
}

groot_status gr_backend_cuda_create(int num_threads, gr_backend **out, gr_error *err)
{
    *out = NULL;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return gr_fail(err, GROOT_ERR_UNSUPPORTED, "cuda backend: no CUDA device (%s)",
                       e != cudaSuccess ? cudaGetErrorString(e) : "device count 0");
    gr_cuda_backend *cb = calloc(1, sizeof *cb);
    if (!cb)
        return gr_fail(err, GROOT_ERR_NOMEM, "cuda backend: out of host memory");
    cb->base.ops = &cuda_ops;
    cb->base.num_threads = num_threads;
    /* 16 rows: prompts usually differ by a few tokens, and at most 15 padding
     * rows cost a few percent of the language model. */
    cb->base.seq_bucket = 16;
    cb->device = 0;
    if ((e = cudaSetDevice(0)) != cudaSuccess)
        return create_fail(cb, err, e, "cudaSetDevice(0)");
    if ((e = cudaDeviceGetAttribute(&cb->num_sms, cudaDevAttrMultiProcessorCount, 0)) != cudaSuccess)
        return create_fail(cb, err, e, "device attributes");
    int cc_major = 0, cc_minor = 0;
    if ((e = cudaDeviceGetAttribute(&cc_major, cudaDevAttrComputeCapabilityMajor, 0)) != cudaSuccess ||
        (e = cudaDeviceGetAttribute(&cc_minor, cudaDevAttrComputeCapabilityMinor, 0)) != cudaSuccess)
        return create_fail(cb, err, e, "device attributes");
    /* gemm_tma.cu is built for sm_90a, which runs on compute capability 9.0 only. */
    if (cc_major == 9 && cc_minor == 0)
        cb->tma_encoder = grk_gemm_tma_encoder();
    gr_cuda_pdl_drivers(cb);
    groot_status knobs = gr_cuda_knobs_from_env(cb, err);
    if (knobs != GROOT_OK) {
        cuda_destroy(&cb->base);
        return knobs;
    }
    if (cc_major < 9) /* no griddepcontrol: nothing would wait */
        cb->graph_pdl = 0;
    if (cb->graph_pdl == GR_GRAPH_PDL_VERIFIED)
        cb->graph_pdl = cc_major == 9 && cublasLtGetVersion() / 10000 == 13;
    if ((e = cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking)) != cudaSuccess)
        return create_fail(cb, err, e, "stream");
    cublasStatus_t bs = cublasLtCreate(&cb->lt);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        cb->lt = NULL;
        groot_status st = gr_fail(err, GROOT_ERR_DEVICE, "cuda backend: cublasLtCreate: %s",
                                  cublasLtGetStatusString(bs));
        cuda_destroy(&cb->base);
        return st;
    }
    cb->lt_ws_size = LT_WORKSPACE;
    if ((e = cudaMalloc(&cb->lt_ws, cb->lt_ws_size)) != cudaSuccess)
        return create_fail(cb, err, e, "cuBLASLt workspace");
    /* Enough for the unfused GEMM epilogues of the model's shapes, so that
     * a first run inside a graph capture need not allocate. */
    if ((e = cudaMalloc(&cb->scratch, (size_t)16 << 20)) != cudaSuccess)
        return create_fail(cb, err, e, "scratch");
    cb->scratch_cap = (size_t)16 << 20;
    if ((e = cudaEventCreateWithFlags(&cb->staging_done, cudaEventDisableTiming)) != cudaSuccess)
        return create_fail(cb, err, e, "event");
    for (int i = 0; i < GR_TIMER_SLOTS; i++)
        if ((e = cudaEventCreate(&cb->timers[i])) != cudaSuccess)
            return create_fail(cb, err, e, "timer event");
    *out = &cb->base;
    return GROOT_OK;
}
