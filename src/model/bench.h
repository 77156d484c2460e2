/*
 * Timing one part of the network on synthetic inputs, and the floor that
 * part cannot beat on this device: the bytes it must move over the measured
 * copy bandwidth, or the FLOPs it must do over the measured GEMM rate,
 * whichever is larger. `groot bench` reports both and their ratio, the way
 * the reference's run_groot_torchtrt.py --benchmark cuda_event reports times.
 *
 * bench.c times (gr_model_bench), bench_floor.c counts the work
 * (gr_bench_work) and turns it into a floor (gr_bench_floor), bench_rates.c
 * measures the device (gr_bench_measure_rates).
 */
#ifndef GR_MODEL_BENCH_H
#define GR_MODEL_BENCH_H

#include "model/model.h"

typedef enum gr_bench_component {
    GR_BENCH_VIT = 0,        /* SigLIP + mlp1 */
    GR_BENCH_LLM,            /* embedding + Qwen3 layers + final norm */
    GR_BENCH_VL,             /* vlln + vl_self_attention */
    GR_BENCH_STATE_ENCODER,
    GR_BENCH_ACTION_ENCODER, /* one step's action tokens */
    GR_BENCH_DIT,            /* one step (step 0), cross k/v already prepared */
    GR_BENCH_ACTION_DECODER, /* one step's two category linears */
    GR_BENCH_ACTION_HEAD,    /* state encoder, cross k/v, every Euler step */
    GR_BENCH_BACKBONE,       /* vit + llm */
    GR_BENCH_ALL,            /* the whole forward: upload, network, download */
    GR_BENCH_COUNT
} gr_bench_component;

/* "vit", "llm", ...; NULL outside the enum. */
const char *gr_bench_component_name(gr_bench_component c);
/* The component called name, or -1. */
int gr_bench_component_parse(const char *name);
/* "vit, llm, vl, ..., all": for error messages and usage text. */
const char *gr_bench_component_list(void);

typedef struct gr_bench_result {
    gr_bench_component component;
    int batch, views, seq_len, iters;
    double median_ms, min_ms, p90_ms, mean_ms;
    /* From gr_bench_work (bench_floor.c). */
    double bytes, flops;
    /* From gr_bench_floor: zero until it runs. matrix_tflops is the rate
     * the component's FLOPs see (an effective rate when its parts differ in
     * precision). */
    double bandwidth_gbs, matrix_tflops, floor_ms, ratio;
    /* The backend's memory in use after the timed runs (device memory on a
     * GPU, resident memory on the CPU), MiB; 0 when unknown. */
    double memory_mib;
    /* GR_BENCH_ALL only (0 otherwise): medians of the call's parts. */
    double upload_ms, network_ms, download_ms;
} gr_bench_result;

/* Times component on a synthetic batch: one full gr_model_forward plans
 * the buffers and fills every intermediate, then `warmup` untimed and
 * `iters` timed runs of the component alone over those buffers (recorded:
 * CUDA graphs replay after the first run). seq_len 0 takes the reference
 * benchmark's prompt length for `views` views. Fills the times, the shape
 * and bytes/flops; the floor fields stay zero (see gr_bench_floor). An
 * unknown component is GROOT_ERR_INVALID_ARG listing the valid names. */
groot_status gr_model_bench(gr_model *m, const char *component, int batch, int views, int seq_len, int iters,
                            int warmup, gr_bench_result *out, gr_error *err);

/* The reference benchmark's sequence length for V views: 38 text tokens
 * for one view, 7 more per extra view, plus V*tokens_per_image. */
int gr_bench_default_seq_len(const gr_model_config *cfg, int views);

/* ---- the floor (bench_floor.c) ---- */

/* What one call of a component must do. FLOPs are split by the precision
 * group that does them, because each group's GEMMs run at its own rate. */
typedef struct gr_bench_work {
    double bytes;
    double flops[GR_COMP_COUNT];
} gr_bench_work;

groot_status gr_bench_work_count(const gr_model_config *cfg, const gr_precision prec[GR_COMP_COUNT], int steps,
                                 gr_bench_component c, int batch, int views, int seq_len, gr_bench_work *out,
                                 gr_error *err);

/* The device's measured rates. */
typedef struct gr_bench_rates {
    int measured;
    double bandwidth_gbs;                /* bytes read + written by a large copy, per second / 1e9 */
    double matrix_tflops[GR_COMP_COUNT]; /* a large GEMM in each component's precision, FLOP/s / 1e12 */
} gr_bench_rates;

/* Sets r's bytes and flops from w, and, given measured rates (NULL or
 * unmeasured leaves them zero), bandwidth_gbs, matrix_tflops, floor_ms =
 * max(bytes / bandwidth, flops / matrix rate) and ratio = median / floor. */
void gr_bench_floor(const gr_bench_work *w, const gr_bench_rates *rates, gr_bench_result *r);

/* ---- the device (bench_rates.c) ---- */

/* Measures the copy bandwidth and the GEMM rate of each of the model's
 * precisions through the backend ops. Sizes grow until one measurement
 * takes long enough to time, so a slow device (the CPU) stops small and
 * fast (well under 2 s in all) and a fast one runs large. */
groot_status gr_bench_measure_rates(gr_model *m, gr_bench_rates *out, gr_error *err);

/* ---- the public handle (model_api.c) ---- */

/* bench_api.c's way into a groot_model: its network, its cached rates and
 * its error slot (cleared). Fails when the model did not open. */
groot_status gr_model_handle_bench(groot_model *model, gr_model **m, gr_bench_rates **rates, gr_error **err);

#endif
