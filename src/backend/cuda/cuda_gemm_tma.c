/*
 * Chooses, per linear shape, between cuBLASLt and the Hopper kernel of
 * gemm_tma.cu, and runs the latter.
 *
 * The first use of a shape outside a capture times every candidate
 * configuration of gemm_tma.cu (tile width, K split) and the cuBLASLt
 * route (after cuBLASLt's own tuning), each run alone with the L2 flushed
 * before it, so the weight comes from DRAM as in the model; the fastest
 * is kept. Inside a graph gemm_tma.cu gains more than this measures (it
 * overlaps its weight fetch with the previous kernel), so it keeps ties.
 * Timing runs write a scratch output of their own (the real one may be
 * the residual; cuBLASLt's tuning, which a timed cuBLASLt run may start,
 * may reallocate its own scratch).
 *
 * GROOT_GEMM_TMA, read when the backend is made (gr_cuda_knobs_from_env),
 * picks the policy: unset (or "small") runs gemm_tma.cu for GEMMs of at
 * most TMA_SMALL_M rows and cuBLASLt for the rest; 0 never uses
 * gemm_tma.cu, 1 chooses by timing against cuBLASLt, 2 uses it wherever it
 * fits; anything else fails the backend's creation. Every
 * policy but 0 times gemm_tma.cu's configurations on a shape's first use.
 * Why by rows: alone, each of the DiT's 49-row GEMMs is a little slower on
 * gemm_tma.cu than on cuBLASLt, but in the graph, where it fetches its
 * weights while the kernel before it finishes, the DiT step is 11% faster
 * (0.669 against 0.749 ms on an H100), which timing shapes alone cannot
 * see; the 256/304-row GEMMs of the backbone are up to twice as slow on it
 * (BENCHMARKS.md, "Hopper GEMM").
 */
#include "backend/cuda/cuda_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_kernels.h"
#include "core/env.h"

#define TMA_MAX_CANDS 64
#define TMA_SMALL_M 64
#define TMA_REPS 9

typedef struct tma_cand {
    int cfg, splits; /* cfg -1: cuBLASLt */
    float us;
} tma_cand;

groot_status gr_cuda_knobs_from_env(gr_cuda_backend *cb, gr_error *err)
{
    static const char *const tma[] = {"0", "1", "2", "small"}, *const levels[] = {"0", "1", "2"};
    static const char *const onoff[] = {"0", "1"};
    int i;
    GR_TRY(gr_env_choice("GROOT_GEMM_TMA", tma, 4, &i, err));
    const int modes[] = {GR_TMA_OFF, GR_TMA_TIMED, GR_TMA_ALWAYS, GR_TMA_SMALL};
    cb->tma_mode = !cb->tma_encoder ? GR_TMA_OFF : i < 0 ? GR_TMA_SMALL : modes[i];
    GR_TRY(gr_env_choice("GROOT_GEMM_TUNE", levels, 3, &i, err));
    cb->tune_level = i < 0 ? 1 : i;
    GR_TRY(gr_env_choice("GROOT_GEMM_BORROW", onoff, 2, &i, err));
    cb->borrow = i == 1;
    GR_TRY(gr_env_choice("GROOT_GEMM_LOG", levels, 3, &i, err)); /* 2: every candidate too */
    cb->gemm_log = i < 0 ? 0 : i;
    GR_TRY(gr_env_choice("GROOT_L2_PREFETCH", onoff, 2, &i, err));
    cb->l2_prefetch = i != 0;
    GR_TRY(gr_env_choice("GROOT_GRAPH_PDL", onoff, 2, &i, err));
    cb->graph_pdl = i < 0 ? GR_GRAPH_PDL_VERIFIED : i; /* cuda_backend.c narrows "verified" */
    cb->profile_replay = 0;
    return gr_env_int("GROOT_PROFILE_REPLAY", 0, 1000000, &cb->profile_replay, err);
}

static void fill_args(grk_gemm_args *a, const gr_tensor *x, const gr_linear *L, gr_act act,
                      const gr_tensor *residual, const gr_tensor *y)
{
    memset(a, 0, sizeof *a);
    a->x = x->data;
    a->ldx = x->ld;
    a->w = L->w.data;
    a->ldw = L->w.ld;
    a->ab_dt = (int)x->dtype;
    a->bias = gr_tensor_present(&L->b) ? (const float *)L->b.data : NULL;
    a->act = (int)act;
    a->res = residual ? residual->data : NULL;
    a->ldr = residual ? residual->ld : 0;
    a->y = y->data;
    a->ldy = y->ld;
    a->y_dt = (int)y->dtype;
    a->m = x->rows;
    a->n = L->w.rows;
    a->k = x->cols;
}

/* Configurations worth timing: for each tile width, no split, and the
 * splits that bring the CTA count to at least half the SMs and at most
 * what fits at once (per_sm CTAs on each). */
static int list_candidates(const grk_gemm_args *a, int num_sms, tma_cand *c, int max)
{
    int n = 0;
    const int64_t mt = (a->m + 63) / 64, kblocks = (a->k + 63) / 64;
    for (int cfg = 0; cfg < grk_gemm_tma_configs(); cfg++) {
        const int bn = grk_gemm_tma_bn(cfg), per_sm = grk_gemm_tma_per_sm(cfg);
        if (bn > 64 && a->n <= bn / 2)
            continue; /* a narrower tile covers N with less padding */
        const int64_t tiles = mt * ((a->n + bn - 1) / bn);
        for (int s = 1; s <= 8 && s <= kblocks && n < max; s++) {
            const int64_t ctas = tiles * s;
            const int64_t per = (kblocks + s - 1) / s;
            if (s > 1 && ((kblocks + per - 1) / per < s || ctas > per_sm * (int64_t)num_sms))
                break;
            if (s == 1 || 2 * ctas >= num_sms) {
                c[n].cfg = cfg;
                c[n].splits = s;
                c[n].us = -1.0f;
                n++;
            }
        }
    }
    return n;
}

static groot_status run_cand(gr_cuda_backend *cb, const tma_cand *c, const grk_gemm_args *a, const gr_tensor *x,
                             const gr_linear *L, gr_act act, const gr_tensor *residual, gr_tensor *y)
{
    if (c->cfg < 0)
        return gr_cuda_linear_cublas(cb, x, L, act, residual, y);
    GR_CUDA_TRY(&cb->base, grk_gemm_tma(cb->tma_encoder, a, c->cfg, c->splits, cb->stream), "linear",
                "Hopper GEMM launch");
    return GROOT_OK;
}

static int cmp_float(const void *p, const void *q)
{
    float a = *(const float *)p, b = *(const float *)q;
    return a < b ? -1 : a > b;
}

/* Median of TMA_REPS runs, each after the L2 was overwritten. */
static groot_status time_cand(gr_cuda_backend *cb, tma_cand *c, const grk_gemm_args *a, const gr_tensor *x,
                              const gr_linear *L, gr_act act, const gr_tensor *residual, gr_tensor *y,
                              size_t flush_bytes)
{
    gr_backend *be = &cb->base;
    float t[TMA_REPS];
    GR_TRY(run_cand(cb, c, a, x, L, act, residual, y)); /* warm: first-use work happens here */
    for (int r = 0; r < TMA_REPS; r++) {
        GR_CUDA_TRY(be, cudaMemsetAsync(cb->tune_rot, r & 0xff, flush_bytes, cb->stream), "linear", "L2 flush");
        GR_CUDA_TRY(be, cudaEventRecord(cb->tune_ev[0], cb->stream), "linear", "tuning event");
        GR_TRY(run_cand(cb, c, a, x, L, act, residual, y));
        GR_CUDA_TRY(be, cudaEventRecord(cb->tune_ev[1], cb->stream), "linear", "tuning event");
        GR_CUDA_TRY(be, cudaEventSynchronize(cb->tune_ev[1]), "linear", "tuning sync");
        float ms = 0.0f;
        GR_CUDA_TRY(be, cudaEventElapsedTime(&ms, cb->tune_ev[0], cb->tune_ev[1]), "linear", "tuning time");
        t[r] = 1000.0f * ms;
    }
    qsort(t, TMA_REPS, sizeof t[0], cmp_float);
    c->us = t[TMA_REPS / 2];
    return GROOT_OK;
}

/* gemm_tma.cu wins ties (cuBLASLt must be 3% faster): it gains more
 * inside a graph than timing it alone shows. */
static float weighted_us(const tma_cand *c) { return c->cfg < 0 ? 0.97f * c->us : c->us; }

static groot_status choose(gr_cuda_backend *cb, gr_cuda_tma_route *rt, const grk_gemm_args *real, const gr_tensor *x,
                           const gr_linear *L, gr_act act, const gr_tensor *residual, const gr_tensor *y)
{
    tma_cand c[TMA_MAX_CANDS];
    int n = 0;
    if (cb->tma_mode == GR_TMA_TIMED) {
        c[0].cfg = -1;
        c[0].splits = 0;
        c[0].us = -1.0f;
        n = 1;
    }
    n += list_candidates(real, cb->num_sms, c + n, TMA_MAX_CANDS - n);

    int l2 = 0;
    if (cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, cb->device) != cudaSuccess || l2 <= 0)
        l2 = 64 << 20;
    const size_t flush = (size_t)l2 * 2;
    const size_t y_bytes = gr_cuda_span_bytes(y);
    GR_TRY(gr_cuda_tune_alloc(cb, &cb->tune_rot, &cb->tune_rot_cap, flush, "L2 flush buffer"));
    GR_TRY(gr_cuda_tune_alloc(cb, &cb->tma_tune_y, &cb->tma_tune_y_cap, y_bytes, "tuning output"));
    GR_TRY(gr_cuda_tune_events(cb));
    gr_tensor ys = *y;
    ys.data = cb->tma_tune_y;
    grk_gemm_args a = *real;
    a.y = ys.data;
    if (!grk_gemm_tma_fits(&a)) /* cannot happen: cudaMalloc aligns */
        return GROOT_OK;

    int best = -1;
    for (int i = 0; i < n; i++) {
        GR_TRY(time_cand(cb, &c[i], &a, x, L, act, residual, &ys, flush));
        if (best < 0 || weighted_us(&c[i]) < weighted_us(&c[best]))
            best = i;
    }
    rt->cfg = best >= 0 ? c[best].cfg : -1;
    rt->splits = best >= 0 ? c[best].splits : 0;

    if (cb->gemm_log) {
        fprintf(stderr, "gemm route M=%lld N=%lld K=%lld %s->%s act=%d bias=%d res=%d:", (long long)a.m,
                (long long)a.n, (long long)a.k, gr_dtype_name(x->dtype), gr_dtype_name(y->dtype), (int)act,
                a.bias != NULL, a.res != NULL);
        for (int i = 0; i < n; i++) {
            if (c[i].cfg < 0)
                fprintf(stderr, " %scublas %.2f", i == best ? "*" : "", c[i].us);
            else
                fprintf(stderr, " %s%d.%d/s%d %.2f", i == best ? "*" : "", grk_gemm_tma_bn(c[i].cfg),
                        grk_gemm_tma_stages(c[i].cfg), c[i].splits, c[i].us);
        }
        fprintf(stderr, "\n");
    }
    return GROOT_OK;
}

static gr_cuda_tma_route *route_find(gr_cuda_backend *cb, const gr_cuda_tma_key *key, int *fresh)
{
    gr_cuda_tma_route *victim = NULL;
    cb->tma_clock++;
    *fresh = 0;
    for (int i = 0; i < GR_CUDA_GEMM_PLANS; i++) {
        gr_cuda_tma_route *r = &cb->tma_routes[i];
        if (r->used && memcmp(&r->key, key, sizeof *key) == 0) {
            r->last_use = cb->tma_clock;
            return r;
        }
        if (!victim || (victim->used && (!r->used || r->last_use < victim->last_use)))
            victim = r;
    }
    memset(victim, 0, sizeof *victim);
    victim->key = *key;
    victim->used = 1;
    victim->last_use = cb->tma_clock;
    victim->cfg = -1;
    *fresh = 1;
    return victim;
}

groot_status gr_cuda_linear_tma(gr_cuda_backend *cb, const gr_tensor *x, const gr_linear *L, gr_act act,
                                const gr_tensor *residual, gr_tensor *y, grk_pf pf, int *done)
{
    *done = 0;
    if (cb->tma_mode == GR_TMA_OFF || (cb->tma_mode == GR_TMA_SMALL && x->rows > TMA_SMALL_M))
        return GROOT_OK;
    grk_gemm_args a;
    fill_args(&a, x, L, act, residual, y);
    if (!grk_gemm_tma_fits(&a))
        return GROOT_OK;

    gr_cuda_tma_key key;
    memset(&key, 0, sizeof key); /* padding too: keys compare with memcmp */
    key.m = a.m;
    key.n = a.n;
    key.k = a.k;
    key.ldx = a.ldx;
    key.ldw = a.ldw;
    key.ldy = a.ldy;
    key.ldr = a.ldr;
    key.ab_type = a.ab_dt;
    key.y_type = a.y_dt;
    key.act = a.act;
    key.has_bias = a.bias != NULL;
    key.has_res = a.res != NULL;
    key.res_is_y = a.res != NULL && a.res == a.y;
    int fresh = 0;
    gr_cuda_tma_route *rt = route_find(cb, &key, &fresh);
    if (fresh) {
        enum cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
        int capturing = cb->capturing || cudaStreamIsCapturing(cb->stream, &cs) != cudaSuccess ||
                        cs != cudaStreamCaptureStatusNone;
        if (capturing) {
            /* No timing inside a capture: cuBLASLt this time, and the
             * choice is made at the next use outside one. */
            rt->used = 0;
            return GROOT_OK;
        } else {
            groot_status st = choose(cb, rt, &a, x, L, act, residual, y);
            if (st != GROOT_OK) {
                rt->used = 0; /* try again next time */
                return st;
            }
        }
    }
    if (rt->cfg < 0)
        return GROOT_OK;
    a.pf = pf;
    GR_CUDA_TRY(&cb->base, grk_gemm_tma(cb->tma_encoder, &a, rt->cfg, rt->splits, cb->stream), "linear",
                "Hopper GEMM launch");
    *done = 1;
    return GROOT_OK;
}
