/*
 * The device's copy bandwidth and GEMM rate, measured through the backend
 * ops the model itself uses (be->ops->copy, be->ops->linear), so that the
 * floor is what this backend could reach, not a datasheet number.
 *
 * Sizes are not chosen per backend by name: each measurement starts small
 * and grows until one op takes GROW_MS (or a size cap is hit). The CPU
 * reaches GROW_MS at a modest size and stops there, within a fraction of a
 * second; a GPU runs to the caps, where its kernels are at full speed. The
 * final figure is the best of a few timed runs, each repeating the op
 * until it covers at least GROW_MS, so timer resolution does not matter.
 */
#include "model/bench.h"

#include <stdlib.h>
#include <string.h>

#define GROW_MS 25.0
#define BEST_OF 3
#define SLOT_A (GR_TIMER_SLOTS - 2)
#define SLOT_B (GR_TIMER_SLOTS - 1)
/* Caps: a 256 MiB float32 copy (512 MiB moved) and an 8192^3 GEMM (1.1 TFLOP). */
#define COPY_COLS 1024
#define COPY_MAX_ROWS (64 * 1024)
#define GEMM_MAX_N 8192

typedef groot_status (*op_fn)(gr_backend *be, void *ctx);

/* Milliseconds per op: the best over BEST_OF runs of `reps` ops. */
static groot_status time_op(gr_backend *be, op_fn op, void *ctx, int reps, double *ms)
{
    double best = -1;
    for (int r = 0; r < BEST_OF; r++) {
        GR_TRY(be->ops->timer_mark(be, SLOT_A));
        for (int i = 0; i < reps; i++)
            GR_TRY(op(be, ctx));
        GR_TRY(be->ops->timer_mark(be, SLOT_B));
        double t;
        GR_TRY(be->ops->timer_elapsed(be, SLOT_A, SLOT_B, &t));
        if (best < 0 || t < best)
            best = t;
    }
    *ms = best / reps;
    return GROOT_OK;
}

/* One warm op (first touch, library set-up), then one timed op. */
static groot_status probe_op(gr_backend *be, op_fn op, void *ctx, double *ms)
{
    GR_TRY(op(be, ctx));
    GR_TRY(be->ops->timer_mark(be, SLOT_A));
    GR_TRY(op(be, ctx));
    GR_TRY(be->ops->timer_mark(be, SLOT_B));
    return be->ops->timer_elapsed(be, SLOT_A, SLOT_B, ms);
}

static int reps_for(double ms)
{
    if (ms <= 0)
        return 1000;
    double r = GROW_MS / ms;
    return r < 1 ? 1 : r > 1000 ? 1000 : (int)r + 1;
}

/* ---- bandwidth ---- */

typedef struct copy_ctx {
    gr_tensor src, dst;
} copy_ctx;

static groot_status copy_op(gr_backend *be, void *ctx)
{
    copy_ctx *c = ctx;
    return be->ops->copy(be, &c->src, &c->dst);
}

static groot_status measure_bandwidth(gr_backend *be, double *gbs)
{
    copy_ctx c = {{0}, {0}};
    groot_status st = GROOT_OK;
    double ms = 0;
    int64_t rows = 256; /* 1 MiB */
    for (;;) {
        st = be->ops->alloc(be, &c.src, rows, COPY_COLS, GR_F32);
        if (!st)
            st = be->ops->alloc(be, &c.dst, rows, COPY_COLS, GR_F32);
        if (!st)
            st = probe_op(be, copy_op, &c, &ms);
        if (st || ms >= GROW_MS || rows * 4 > COPY_MAX_ROWS)
            break;
        be->ops->free(be, &c.src);
        be->ops->free(be, &c.dst);
        rows *= 4;
    }
    if (!st)
        st = time_op(be, copy_op, &c, reps_for(ms), &ms);
    /* The copy reads and writes every byte. */
    if (!st)
        *gbs = 2.0 * (double)rows * COPY_COLS * 4.0 / (ms * 1e6);
    be->ops->free(be, &c.src);
    be->ops->free(be, &c.dst);
    return st;
}

/* ---- matrix rate ---- */

typedef struct gemm_ctx {
    gr_tensor x, y;
    gr_linear L;
} gemm_ctx;

static groot_status gemm_op(gr_backend *be, void *ctx)
{
    gemm_ctx *g = ctx;
    return be->ops->linear(be, &g->x, &g->L, GR_ACT_NONE, NULL, &g->y);
}

static void gemm_free(gr_backend *be, gemm_ctx *g)
{
    be->ops->free(be, &g->x);
    be->ops->free(be, &g->y);
    be->ops->free(be, &g->L.w);
}

/* x and w hold small ordinary values: uninitialized memory may hold NaNs
 * or denormals, which some CPUs compute far more slowly. */
static groot_status gemm_alloc(gr_backend *be, const gr_precision *p, int64_t n, gemm_ctx *g)
{
    float *host = malloc((size_t)(n * n) * sizeof(float));
    if (!host)
        return gr_fail(&be->err, GROOT_ERR_NOMEM, "bench: %lld x %lld GEMM operands", (long long)n, (long long)n);
    for (int64_t i = 0; i < n * n; i++)
        host[i] = (float)((i * 7919) % 255 - 127) / 1024.0f;
    g->L.math = p->math;
    groot_status st = be->ops->alloc(be, &g->x, n, n, p->act);
    if (!st)
        st = be->ops->alloc(be, &g->L.w, n, n, p->weight);
    if (!st)
        st = be->ops->alloc(be, &g->y, n, n, p->act);
    if (!st)
        st = be->ops->upload(be, &g->x, host, GR_F32);
    if (!st)
        st = be->ops->upload(be, &g->L.w, host, GR_F32);
    /* upload may run asynchronously but releases its source on return */
    free(host);
    return st;
}

static groot_status measure_gemm(gr_backend *be, const gr_precision *p, double *tflops)
{
    gemm_ctx g;
    memset(&g, 0, sizeof g);
    groot_status st = GROOT_OK;
    double ms = 0;
    int64_t n = 256;
    for (;;) {
        st = gemm_alloc(be, p, n, &g);
        if (!st)
            st = probe_op(be, gemm_op, &g, &ms);
        if (st || ms >= GROW_MS || n * 2 > GEMM_MAX_N)
            break;
        gemm_free(be, &g);
        n *= 2;
    }
    if (!st)
        st = time_op(be, gemm_op, &g, reps_for(ms), &ms);
    if (!st)
        *tflops = 2.0 * (double)n * (double)n * (double)n / (ms * 1e9);
    gemm_free(be, &g);
    return st;
}

static int same_precision(const gr_precision *a, const gr_precision *b)
{
    return a->weight == b->weight && a->act == b->act && a->math == b->math;
}

groot_status gr_bench_measure_rates(gr_model *m, gr_bench_rates *out, gr_error *err)
{
    gr_backend *be = m->be;
    gr_bench_rates r = {0};
    gr_error_clear(&be->err);
    groot_status st = measure_bandwidth(be, &r.bandwidth_gbs);
    if (st)
        gr_error_prefix(&be->err, "bench: measuring the copy bandwidth");
    for (int c = 0; c < GR_COMP_COUNT && !st; c++) {
        int done = 0;
        for (int d = 0; d < c && !done; d++)
            if (same_precision(&m->prec[c], &m->prec[d])) {
                r.matrix_tflops[c] = r.matrix_tflops[d];
                done = 1;
            }
        if (!done) {
            st = measure_gemm(be, &m->prec[c], &r.matrix_tflops[c]);
            if (st)
                gr_error_prefix(&be->err, "bench: measuring the GEMM rate in %s weights, %s activations",
                                gr_dtype_name(m->prec[c].weight), gr_dtype_name(m->prec[c].act));
        }
    }
    if (st) {
        *err = be->err;
        err->status = st;
        return st;
    }
    r.measured = 1;
    *out = r;
    return GROOT_OK;
}
