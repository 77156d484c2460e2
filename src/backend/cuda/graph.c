/*
 * run_recorded on CUDA graphs, and the timers. The first call under a key
 * runs fn directly: work that cannot be captured happens there, once
 * (GEMM autotuning, which synchronizes; scratch growth; 16-bit bias
 * copies), and a call that is made only once never pays for a capture.
 * The second call captures fn's work on the backend's stream and
 * instantiates it; later calls replay the graph with one launch, which
 * removes the per-kernel launch cost of the model's hundreds of small ops.
 */
#include "backend/cuda/cuda_backend.h"

#include <cuda_profiler_api.h>
#include <stdio.h>

void gr_cuda_graphs_destroy(gr_cuda_backend *cb)
{
    for (int i = 0; i < GR_CUDA_GRAPHS; i++) {
        if (cb->graphs[i].used && cb->graphs[i].exec)
            cudaGraphExecDestroy(cb->graphs[i].exec);
        cb->graphs[i].used = 0;
        cb->graphs[i].exec = NULL;
    }
}

static gr_cuda_graph *graph_find(gr_cuda_backend *cb, uint64_t key)
{
    for (int i = 0; i < GR_CUDA_GRAPHS; i++)
        if (cb->graphs[i].used && cb->graphs[i].key == key)
            return &cb->graphs[i];
    return NULL;
}

/* A free slot, else the oldest one (its graph destroyed). A slot whose
 * exec is NULL only remembers that its key ran once, eagerly. */
static gr_cuda_graph *graph_slot(gr_cuda_backend *cb)
{
    gr_cuda_graph *v = &cb->graphs[0];
    for (int i = 0; i < GR_CUDA_GRAPHS; i++) {
        gr_cuda_graph *g = &cb->graphs[i];
        if (!g->used)
            return g;
        if (g->born < v->born)
            v = g;
    }
    if (v->exec)
        cudaGraphExecDestroy(v->exec);
    v->used = 0;
    v->exec = NULL;
    return v;
}

/* fn itself, with `recording` set while it runs: a run_recorded inside it
 * is part of this one. */
static groot_status run_fn(gr_cuda_backend *cb, gr_recorded_fn fn, void *ctx)
{
    cb->recording = 1;
    groot_status st = fn(ctx);
    cb->recording = 0;
    return st;
}

static groot_status run_eager(gr_cuda_backend *cb, uint64_t key, gr_recorded_fn fn, void *ctx)
{
    groot_status st = run_fn(cb, fn, ctx);
    gr_cuda_gemm_tune_release(cb);
    if (st != GROOT_OK)
        return st; /* not remembered: the next call runs eagerly again */
    gr_cuda_graph *g = graph_slot(cb);
    g->used = 1;
    g->key = key;
    g->exec = NULL;
    g->born = ++cb->graph_clock;
    return GROOT_OK;
}

groot_status gr_cuda_run_recorded(gr_backend *be, uint64_t key, gr_recorded_fn fn, void *ctx)
{
    gr_cuda_backend *cb = gr_cuda(be);
    if (cb->capturing || cb->recording) /* nested: part of the outer run or recording */
        return fn(ctx);
    gr_cuda_graph *g = graph_find(cb, key);
    be->replayed = g && g->exec;
    if (!g)
        return run_eager(cb, key, fn, ctx);
    if (g->exec) {
        if (cb->profile_replay > 0 && ++cb->replays == cb->profile_replay) {
            /* The profiled call runs kernel by kernel, as the graph would
             * (its GEMMs tuned, nothing recorded): Nsight Compute stopped
             * at the first clustered Hopper GEMM of the graph's nodes. */
            cudaProfilerStart();
            groot_status st = run_fn(cb, fn, ctx);
            cudaStreamSynchronize(cb->stream);
            cudaProfilerStop();
            return st;
        }
        GR_CUDA_TRY(be, cudaGraphLaunch(g->exec, cb->stream), "run_recorded", "graph launch");
        return GROOT_OK;
    }

    char detail[64];
    snprintf(detail, sizeof detail, "key %llu", (unsigned long long)key);
    GR_CUDA_TRY(be, cudaStreamBeginCapture(cb->stream, cudaStreamCaptureModeThreadLocal), "run_recorded",
                detail);
    cb->capturing = 1;
    gr_cuda_capture_begin_cublas(cb);
    groot_status st = run_fn(cb, fn, ctx);
    cb->capturing = 0;
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(cb->stream, &graph);
    if (st != GROOT_OK) { /* fn's message stays in be->err */
        if (graph)
            cudaGraphDestroy(graph);
        return st;
    }
    if (e != cudaSuccess) {
        if (graph)
            cudaGraphDestroy(graph);
        return gr_cuda_fail(be, e, "run_recorded", "end capture (an op in fn cannot be captured)");
    }
    cb->graph_pdl_edges = 0;
    if (cb->graph_pdl) {
        const int changed = gr_cuda_graph_programmatic(cb, graph);
        if (changed < 0) {
            cudaGraphDestroy(graph);
            return gr_fail(&be->err, GROOT_ERR_DEVICE,
                           "cuda run_recorded: %s: a dependency removed to be made programmatic could not be "
                           "restored",
                           detail);
        }
        cb->graph_pdl_edges = changed;
        if (cb->gemm_log)
            fprintf(stderr, "groot cuda: graph %s: %d edges made programmatic (%d cuBLASLt calls%s)\n", detail,
                    changed, cb->cublas_spans_n, cb->cublas_spans_lost ? ", record incomplete: none" : "");
    }
    cudaGraphExec_t exec = NULL;
    e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess)
        return gr_cuda_fail(be, e, "run_recorded", "instantiate");
    g->exec = exec;
    g->born = ++cb->graph_clock;
    /* Capturing only recorded the work: run it now. */
    GR_CUDA_TRY(be, cudaGraphLaunch(exec, cb->stream), "run_recorded", "first launch");
    return GROOT_OK;
}

groot_status gr_cuda_timer_mark(gr_backend *be, int slot)
{
    gr_cuda_backend *cb = gr_cuda(be);
    if (slot < 0 || slot >= GR_TIMER_SLOTS)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda timer_mark: slot %d outside [0, %d)", slot,
                       GR_TIMER_SLOTS);
    /* Inside a capture the record becomes an external event node, so the
     * mark fires on every replay of the graph. */
    cudaError_t e = cb->capturing
                        ? cudaEventRecordWithFlags(cb->timers[slot], cb->stream, cudaEventRecordExternal)
                        : cudaEventRecord(cb->timers[slot], cb->stream);
    GR_CUDA_TRY(be, e, "timer_mark", "event record");
    cb->marked[slot] = 1;
    return GROOT_OK;
}

groot_status gr_cuda_timer_elapsed(gr_backend *be, int slot_from, int slot_to, double *ms)
{
    gr_cuda_backend *cb = gr_cuda(be);
    if (slot_from < 0 || slot_from >= GR_TIMER_SLOTS || slot_to < 0 || slot_to >= GR_TIMER_SLOTS)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda timer_elapsed: slots %d, %d outside [0, %d)",
                       slot_from, slot_to, GR_TIMER_SLOTS);
    if (!cb->marked[slot_from] || !cb->marked[slot_to])
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "cuda timer_elapsed: slot %d or %d never marked",
                       slot_from, slot_to);
    if (cb->capturing)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED, "cuda timer_elapsed: not allowed inside run_recorded");
    GR_CUDA_TRY(be, cudaEventSynchronize(cb->timers[slot_to]), "timer_elapsed", "event sync");
    float f = 0.0f;
    GR_CUDA_TRY(be, cudaEventElapsedTime(&f, cb->timers[slot_from], cb->timers[slot_to]), "timer_elapsed",
                "elapsed");
    *ms = f;
    return GROOT_OK;
}
