/*
 * The CPU backend: host memory, synchronous execution, the ops table. The
 * ops themselves live in cpu_gemm.c, cpu_norm.c, cpu_attention.c and
 * cpu_elementwise.c.
 */
#include "backend/cpu/cpu_backend.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/half.h"

/* Cache-line alignment keeps sgemm and vector loops on their fast paths. */
#define CPU_ALIGN 64

static void *aligned_bytes(size_t n)
{
    size_t rounded = (n + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    return aligned_alloc(CPU_ALIGN, rounded ? rounded : CPU_ALIGN);
}

groot_status gr_cpu_scratch(gr_cpu_backend *cb, size_t n, float **out)
{
    if (n > cb->scratch_cap) {
        if (n > SIZE_MAX / sizeof(float))
            return gr_fail(&cb->base.err, GROOT_ERR_NOMEM, "cpu scratch of %zu floats overflows", n);
        float *p = aligned_bytes(n * sizeof(float));
        if (!p)
            return gr_fail(&cb->base.err, GROOT_ERR_NOMEM, "cpu scratch of %zu floats", n);
        free(cb->scratch);
        cb->scratch = p;
        cb->scratch_cap = n;
    }
    *out = cb->scratch;
    return GROOT_OK;
}

groot_status gr_cpu_check(gr_backend *be, const char *op, const char *what, const gr_tensor *t,
                          gr_dtype want, int64_t rows, int64_t cols)
{
    if (!gr_tensor_present(t))
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: %s is missing", op, what);
    if (want != GR_DTYPE_COUNT && t->dtype != want)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "%s: %s has dtype %s; the cpu backend needs %s",
                       op, what, gr_dtype_name(t->dtype), gr_dtype_name(want));
    if (t->rows < 0 || t->cols < 0 || t->ld < t->cols)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: %s is a malformed view [%lld, %lld] ld %lld",
                       op, what, (long long)t->rows, (long long)t->cols, (long long)t->ld);
    if ((rows >= 0 && t->rows != rows) || (cols >= 0 && t->cols != cols)) {
        char r[24] = "*", c[24] = "*"; /* "*": any size */
        if (rows >= 0)
            snprintf(r, sizeof r, "%lld", (long long)rows);
        if (cols >= 0)
            snprintf(c, sizeof c, "%lld", (long long)cols);
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "%s: %s is [%lld, %lld], expected [%s, %s]", op, what,
                       (long long)t->rows, (long long)t->cols, r, c);
    }
    return GROOT_OK;
}

int gr_cpu_is_float(gr_dtype t) { return t == GR_F32 || t == GR_BF16 || t == GR_F16; }

void gr_cpu_to_f32(const void *src, gr_dtype from, float *dst, int64_t n)
{
    if (from == GR_F32) {
        memmove(dst, src, (size_t)n * sizeof(float));
        return;
    }
    const uint16_t *h = src;
    if (from == GR_BF16)
        for (int64_t i = 0; i < n; i++)
            dst[i] = gr_bf16_to_f32(h[i]);
    else
        for (int64_t i = 0; i < n; i++)
            dst[i] = gr_f16_to_f32(h[i]);
}

void gr_cpu_from_f32(const float *src, gr_dtype to, void *dst, int64_t n)
{
    if (to == GR_F32) {
        memmove(dst, src, (size_t)n * sizeof(float));
        return;
    }
    uint16_t *h = dst;
    if (to == GR_BF16)
        for (int64_t i = 0; i < n; i++)
            h[i] = gr_f32_to_bf16(src[i]);
    else
        for (int64_t i = 0; i < n; i++)
            h[i] = gr_f32_to_f16(src[i]);
}

/* ---- memory ---- */

static groot_status cpu_alloc(gr_backend *be, gr_tensor *t, int64_t rows, int64_t cols, gr_dtype dtype)
{
    memset(t, 0, sizeof *t);
    size_t bytes = 0;
    GR_TRY(gr_tensor_bytes(be, "alloc", rows, cols, dtype, &bytes));
    void *p = aligned_bytes(bytes);
    if (!p)
        return gr_fail(&be->err, GROOT_ERR_NOMEM, "alloc: %zu bytes for [%lld, %lld] %s", bytes,
                       (long long)rows, (long long)cols, gr_dtype_name(dtype));
    *t = gr_tensor_dense(p, dtype, rows, cols);
    return GROOT_OK;
}

static void cpu_free(gr_backend *be, gr_tensor *t)
{
    (void)be;
    if (!t)
        return;
    free(t->data);
    memset(t, 0, sizeof *t);
}

static groot_status cpu_upload(gr_backend *be, gr_tensor *dst, const void *src, gr_dtype src_dtype)
{
    GR_TRY(gr_cpu_check(be, "upload", "dst", dst, GR_DTYPE_COUNT, -1, -1));
    if (!src && dst->rows * dst->cols > 0)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "upload: NULL source");
    int both_float = gr_cpu_is_float(dst->dtype) && gr_cpu_is_float(src_dtype);
    if (!both_float && dst->dtype != src_dtype)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "upload: %s host data into a %s tensor",
                       gr_dtype_name(src_dtype), gr_dtype_name(dst->dtype));
    size_t ses = gr_dtype_size(src_dtype), des = gr_dtype_size(dst->dtype);
    int64_t rows = dst->rows, cols = dst->cols;
    const char *s = src;
    char *d = dst->data;
    if (dst->dtype == src_dtype) {
        if (dst->ld == cols) {
            memcpy(d, s, (size_t)(rows * cols) * des);
        } else {
            for (int64_t r = 0; r < rows; r++)
                memcpy(d + (size_t)(r * dst->ld) * des, s + (size_t)(r * cols) * ses, (size_t)cols * des);
        }
        return GROOT_OK;
    }
    /* Half to float (the usual weight path) converts straight into place;
     * anything else goes through float32 one row at a time. */
    if (dst->dtype == GR_F32) {
        gr_cpu_backend *cb = gr_cpu(be);
        const int team = gr_cpu_team(cb, (double)rows * (double)cols * 1.0);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
        for (int64_t r = 0; r < rows; r++)
            gr_cpu_to_f32(s + (size_t)(r * cols) * ses, src_dtype, (float *)d + r * dst->ld, cols);
        return GROOT_OK;
    }
    float *row = NULL;
    GR_TRY(gr_cpu_scratch(gr_cpu(be), (size_t)cols, &row));
    for (int64_t r = 0; r < rows; r++) {
        gr_cpu_to_f32(s + (size_t)(r * cols) * ses, src_dtype, row, cols);
        gr_cpu_from_f32(row, dst->dtype, d + (size_t)(r * dst->ld) * des, cols);
    }
    return GROOT_OK;
}

static groot_status cpu_download(gr_backend *be, const gr_tensor *src, float *dst)
{
    GR_TRY(gr_cpu_check(be, "download", "src", src, GR_DTYPE_COUNT, -1, -1));
    if (!gr_cpu_is_float(src->dtype))
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "download: %s tensor (float dtypes only)",
                       gr_dtype_name(src->dtype));
    size_t es = gr_dtype_size(src->dtype);
    for (int64_t r = 0; r < src->rows; r++)
        gr_cpu_to_f32((const char *)src->data + (size_t)(r * src->ld) * es, src->dtype, dst + r * src->cols,
                      src->cols);
    return GROOT_OK;
}

static groot_status cpu_sync(gr_backend *be)
{
    (void)be;
    return GROOT_OK;
}

/* ---- execution ---- */

static groot_status cpu_run_recorded(gr_backend *be, uint64_t key, gr_recorded_fn fn, void *ctx)
{
    (void)key;
    be->replayed = 0;
    return fn(ctx);
}

static groot_status cpu_timer_mark(gr_backend *be, int slot)
{
    gr_cpu_backend *cb = gr_cpu(be);
    if (slot < 0 || slot >= GR_TIMER_SLOTS)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "timer_mark: slot %d out of [0, %d)", slot,
                       GR_TIMER_SLOTS);
    clock_gettime(CLOCK_MONOTONIC, &cb->marks[slot]);
    cb->marked[slot] = 1;
    return GROOT_OK;
}

static groot_status cpu_timer_elapsed(gr_backend *be, int from, int to, double *ms)
{
    gr_cpu_backend *cb = gr_cpu(be);
    if (from < 0 || from >= GR_TIMER_SLOTS || to < 0 || to >= GR_TIMER_SLOTS)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "timer_elapsed: slots %d, %d out of [0, %d)", from,
                       to, GR_TIMER_SLOTS);
    if (!cb->marked[from] || !cb->marked[to])
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "timer_elapsed: slot %d never marked",
                       cb->marked[from] ? to : from);
    const struct timespec *a = &cb->marks[from], *b = &cb->marks[to];
    *ms = (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) * 1e-6;
    return GROOT_OK;
}

static void cpu_destroy(gr_backend *be)
{
    gr_cpu_backend *cb = gr_cpu(be);
    gr_cpu_frames_free(cb);
    free(cb->scratch);
    free(cb);
}

static groot_status cpu_memory_in_use(gr_backend *be, size_t *bytes)
{
    /* statm's second field: resident pages. */
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    int ok = f && fscanf(f, "%lu %lu", &size, &resident) == 2;
    if (f)
        fclose(f);
    if (!ok)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cannot read /proc/self/statm");
    *bytes = (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
    return GROOT_OK;
}

/* Weights are read straight from host memory, streamed by the GEMM itself. */
static groot_status cpu_prefetch(gr_backend *be, const gr_tensor *t)
{
    (void)be;
    (void)t;
    return GROOT_OK;
}

static const gr_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .sync = cpu_sync,
    .linear = gr_cpu_linear,
    .layernorm = gr_cpu_layernorm,
    .rmsnorm = gr_cpu_rmsnorm,
    .modulate = gr_cpu_modulate,
    .qk_norm_rope = gr_cpu_qk_norm_rope,
    .attention = gr_cpu_attention,
    .attention_spans = gr_attention_spans_each,
    .swiglu = gr_cpu_swiglu,
    .activation = gr_cpu_activation,
    .add_rows = gr_cpu_add_rows,
    .axpy = gr_cpu_axpy,
    .copy = gr_cpu_copy,
    .embed = gr_cpu_embed,
    .patchify = gr_cpu_patchify,
    .frames_to_pixels = gr_cpu_frames_to_pixels,
    .prefetch = cpu_prefetch,
    .run_recorded = cpu_run_recorded,
    .timer_mark = cpu_timer_mark,
    .timer_elapsed = cpu_timer_elapsed,
    .memory_in_use = cpu_memory_in_use,
};

groot_status gr_backend_cpu_create(int num_threads, gr_backend **out, gr_error *err)
{
    *out = NULL;
    gr_cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb)
        return gr_fail(err, GROOT_ERR_NOMEM, "cpu backend");
    cb->base.ops = &cpu_ops;
    cb->base.num_threads = num_threads > 0 ? num_threads : 0;
    cb->base.seq_bucket = 1; /* nothing is recorded: padding would only cost */
    /* The team size is fixed here and passed to every parallel region with a
     * num_threads clause, so two backends in one process never fight over
     * the global OpenMP setting. OpenBLAS keeps its own (global) pool. */
    cb->threads = num_threads > 0 ? num_threads : omp_get_max_threads();
    if (cb->threads < 1)
        cb->threads = 1;
    /* All parallelism is ours: sgemm runs single-threaded inside our OpenMP
     * regions. OpenBLAS's pthread pool busy-waits between calls, and on a
     * few cores that pool and an OpenMP team alternating op by op starve
     * each other (measured: attention 2x slower). This setting is global to
     * the process, but nothing else in groot calls BLAS. */
    openblas_set_num_threads(1);
    *out = &cb->base;
    return GROOT_OK;
}
