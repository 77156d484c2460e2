/*
 * The public benchmark calls (include/groot.h) over gr_model_bench, with
 * the device rates measured once per model and kept in its handle.
 */
#include "model/bench.h"

static groot_status ensure_rates(gr_model *m, gr_bench_rates *rates, gr_error *err)
{
    return rates->measured ? GROOT_OK : gr_bench_measure_rates(m, rates, err);
}

groot_status groot_bench(groot_model *model, const char *component, int batch, int views, int seq_len, int iters,
                         int warmup, groot_bench_result *out)
{
    gr_model *m;
    gr_bench_rates *rates;
    gr_error *err;
    GR_TRY(gr_model_handle_bench(model, &m, &rates, &err));
    if (!out)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bench: out is NULL");
    gr_bench_result r;
    gr_bench_work w;
    GR_TRY(gr_model_bench(m, component, batch, views, seq_len, iters, warmup, &r, err));
    GR_TRY(ensure_rates(m, rates, err));
    GR_TRY(gr_bench_work_count(&m->cfg, m->prec, m->steps, r.component, r.batch, r.views, r.seq_len, &w, err));
    gr_bench_floor(&w, rates, &r);
    *out = (groot_bench_result){
        .component = gr_bench_component_name(r.component),
        .batch = r.batch,
        .views = r.views,
        .seq_len = r.seq_len,
        .iters = r.iters,
        .median_ms = r.median_ms,
        .min_ms = r.min_ms,
        .p90_ms = r.p90_ms,
        .mean_ms = r.mean_ms,
        .bytes = r.bytes,
        .flops = r.flops,
        .bandwidth_gbs = r.bandwidth_gbs,
        .matrix_tflops = r.matrix_tflops,
        .floor_ms = r.floor_ms,
        .ratio = r.ratio,
        .memory_mib = r.memory_mib,
        .upload_ms = r.upload_ms,
        .network_ms = r.network_ms,
        .download_ms = r.download_ms,
    };
    return GROOT_OK;
}

groot_status groot_bench_device_rates(groot_model *model, double *bandwidth_gbs, double *matrix_tflops)
{
    gr_model *m;
    gr_bench_rates *rates;
    gr_error *err;
    GR_TRY(gr_model_handle_bench(model, &m, &rates, &err));
    GR_TRY(ensure_rates(m, rates, err));
    if (bandwidth_gbs)
        *bandwidth_gbs = rates->bandwidth_gbs;
    if (matrix_tflops)
        *matrix_tflops = rates->matrix_tflops[GR_COMP_LLM];
    return GROOT_OK;
}
