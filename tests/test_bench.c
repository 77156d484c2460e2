/*
 * The benchmark tool works: on the tiny golden checkpoint (CPU, fp32) every
 * component gives finite, ordered times and a floor that follows from its
 * bytes, FLOPs and the measured rates; bad arguments are refused; and the
 * vl component's work is checked against arithmetic written out by hand.
 * The times themselves are not checked: benchmarks are not tests.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "groot.h"
#include "model/bench.h"
#include "test_util.h"

#define CKPT "goldens/tiny/checkpoint"

static const char *const components[] = {
    "vit", "llm", "vl", "state_encoder", "action_encoder", "dit", "action_decoder", "action_head", "backbone", "all",
};
#define NCOMP ((int)(sizeof components / sizeof components[0]))

static int close_to(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)); }

static void check_times(const char *what, double median, double min, double p90, double mean)
{
    CHECK(isfinite(median) && isfinite(min) && isfinite(p90) && isfinite(mean), "%s: times not finite", what);
    CHECK(min > 0, "%s: min %g", what, min);
    CHECK(min <= median && median <= p90, "%s: min %g median %g p90 %g", what, min, median, p90);
    CHECK(mean >= min, "%s: mean %g below min %g", what, mean, min);
}

/* floor_ms = max(bytes / bandwidth, flops / rate), and ratio = median / floor. */
static void check_floor(const char *what, double bytes, double flops, double bw_gbs, double tflops, double floor_ms,
                        double ratio, double median)
{
    CHECK(bytes > 0 && flops > 0, "%s: bytes %g flops %g", what, bytes, flops);
    CHECK(bw_gbs > 0 && tflops > 0, "%s: bandwidth %g GB/s, %g TFLOP/s", what, bw_gbs, tflops);
    double byte_ms = bytes / (bw_gbs * 1e9) * 1e3, flop_ms = flops / (tflops * 1e12) * 1e3;
    CHECK(close_to(floor_ms, fmax(byte_ms, flop_ms)), "%s: floor %g, bytes %g ms, flops %g ms", what, floor_ms,
          byte_ms, flop_ms);
    CHECK(close_to(ratio, median / floor_ms), "%s: ratio %g, median %g, floor %g", what, ratio, median, floor_ms);
}

static void check_public(groot_model *model, const char *name, int batch, int views, int want_len)
{
    groot_bench_result r;
    char what[64];
    snprintf(what, sizeof what, "%s b%d v%d", name, batch, views);
    groot_status st = groot_bench(model, name, batch, views, 0, 3, 1, &r);
    CHECK(st == GROOT_OK, "%s: %s: %s", what, groot_status_name(st), groot_errmsg(model));
    if (st)
        return;
    CHECK(!strcmp(r.component, name), "%s: component '%s'", what, r.component);
    CHECK(r.batch == batch && r.views == views && r.iters == 3, "%s: shape %d %d %d", what, r.batch, r.views,
          r.iters);
    CHECK(r.seq_len == want_len, "%s: seq_len %d, want %d", what, r.seq_len, want_len);
    check_times(what, r.median_ms, r.min_ms, r.p90_ms, r.mean_ms);
    check_floor(what, r.bytes, r.flops, r.bandwidth_gbs, r.matrix_tflops, r.floor_ms, r.ratio, r.median_ms);
    /* The whole call's parts: each measured, together within its range
     * (medians of parts need not add up to the median of the whole). */
    const double parts = r.upload_ms + r.network_ms + r.download_ms;
    if (!strcmp(name, "all"))
        CHECK(r.upload_ms > 0 && r.network_ms > 0 && r.download_ms >= 0 && parts <= 1.05 * r.p90_ms + 0.01 &&
                  parts >= 0.95 * r.min_ms - 0.01,
              "%s: parts %g + %g + %g ms against median %g (min %g, p90 %g)", what, r.upload_ms, r.network_ms,
              r.download_ms, r.median_ms, r.min_ms, r.p90_ms);
    else
        CHECK(r.upload_ms == 0 && r.network_ms == 0 && r.download_ms == 0, "%s: parts set outside all", what);
}

static void check_errors(groot_model *model)
{
    groot_bench_result r;
    groot_status st = groot_bench(model, "vitt", 1, 1, 0, 3, 1, &r);
    const char *msg = groot_errmsg(model);
    CHECK(st == GROOT_ERR_INVALID_ARG, "unknown component: %s", groot_status_name(st));
    for (int i = 0; i < NCOMP; i++)
        CHECK(strstr(msg, components[i]) != NULL, "unknown component: message '%s' does not list %s", msg,
              components[i]);
    CHECK(strstr(msg, "vitt") != NULL, "unknown component: message '%s' does not name it", msg);
    CHECK(groot_bench(model, NULL, 1, 1, 0, 3, 1, &r) == GROOT_ERR_INVALID_ARG, "NULL component");
    CHECK(groot_bench(model, "vit", 0, 1, 0, 3, 1, &r) == GROOT_ERR_INVALID_ARG, "batch 0");
    CHECK(groot_bench(model, "vit", 1, 0, 0, 3, 1, &r) == GROOT_ERR_INVALID_ARG, "views 0");
    CHECK(groot_bench(model, "vit", 1, 1, 0, 0, 1, &r) == GROOT_ERR_INVALID_ARG, "iters 0");
    CHECK(groot_bench(model, "vit", 1, 1, 0, 3, -1, &r) == GROOT_ERR_INVALID_ARG, "warmup -1");
    CHECK(groot_bench(model, "vit", 1, 1, 255, 3, 1, &r) == GROOT_ERR_INVALID_ARG, "seq_len below the image tokens");
    CHECK(groot_bench(model, "vit", 1, 1, 0, 3, 1, NULL) == GROOT_ERR_INVALID_ARG, "NULL out");
    /* After the errors the handle still works, and a longer prompt is taken as given. */
    st = groot_bench(model, "vl", 1, 1, 300, 3, 0, &r);
    CHECK(st == GROOT_OK && r.seq_len == 300, "seq_len 300: %s %s", groot_status_name(st), groot_errmsg(model));
}

/* The vl component of the tiny config, written out. From config.json:
 * backbone_embedding_dim D = 48, vl_self_attention 4 heads x 12 = 48 wide
 * (i), 2 layers, vlln on. One view of 224/14 = 16x16 = 256 image tokens
 * and 38 text tokens: L = 294. Per layer:
 *   qkv        2*L*D*3i = 2*294*48*144 =  4,064,256
 *   out        2*L*i*D  = 2*294*48*48  =  1,354,752
 *   ff1        2*L*D*4D = 2*294*48*192 =  5,419,008
 *   ff2        2*L*4D*D = 2*294*192*48 =  5,419,008
 *   attention  4*L*L*i  = 4*294*294*48 = 16,595,712
 *                                 sum = 32,852,736, x 2 layers = 65,705,472.
 * Bytes (fp32): parameters vlln 2*48 = 96, and per layer 2 norms 4*48 = 192,
 * q, k, v, out 4*(48*48 + 48) = 9,408, ff1 48*192 + 192 = 9,408, ff2
 * 192*48 + 48 = 9,264: 28,272 per layer, 56,640 in all, 226,560 bytes;
 * activations in and out 2*294*48*4 = 112,896 bytes. */
static void check_vl_by_hand(void)
{
    gr_model_config cfg;
    gr_precision prec[GR_COMP_COUNT];
    gr_error err;
    groot_status st = gr_model_config_load(tu_data(CKPT), GROOT_ASSETS_DIR, &cfg, &err);
    CHECK(st == GROOT_OK, "config: %s", err.msg);
    if (st)
        return;
    CHECK(gr_precision_parse("fp32", 1, prec, &err) == GROOT_OK, "precision: %s", err.msg);
    CHECK(gr_bench_default_seq_len(&cfg, 1) == 294, "default seq_len %d", gr_bench_default_seq_len(&cfg, 1));
    CHECK(gr_bench_default_seq_len(&cfg, 2) == 38 + 2 * 256 + 7, "default seq_len for 2 views %d",
          gr_bench_default_seq_len(&cfg, 2));

    gr_bench_work w;
    st = gr_bench_work_count(&cfg, prec, 4, GR_BENCH_VL, 1, 1, 294, &w, &err);
    CHECK(st == GROOT_OK, "vl work: %s", err.msg);
    CHECK(w.flops[GR_COMP_VL] == 65705472.0, "vl flops %.0f, want 65,705,472", w.flops[GR_COMP_VL]);
    CHECK(w.flops[GR_COMP_VIT] == 0 && w.flops[GR_COMP_LLM] == 0 && w.flops[GR_COMP_DIT] == 0,
          "vl flops outside its group");
    CHECK(w.bytes == 226560.0 + 112896.0, "vl bytes %.0f, want 339,456", w.bytes);
    /* A batch of 3: three times the FLOPs and activations, the weights once. */
    st = gr_bench_work_count(&cfg, prec, 4, GR_BENCH_VL, 3, 1, 294, &w, &err);
    CHECK(st == GROOT_OK && w.flops[GR_COMP_VL] == 3 * 65705472.0 && w.bytes == 226560.0 + 3 * 112896.0,
          "vl batch 3: flops %.0f bytes %.0f", w.flops[GR_COMP_VL], w.bytes);
    /* bf16 halves the weights only: the interfaces stay float32. */
    CHECK(gr_precision_parse("vl=bf16", 1, prec, &err) == GROOT_OK, "precision: %s", err.msg);
    st = gr_bench_work_count(&cfg, prec, 4, GR_BENCH_VL, 1, 1, 294, &w, &err);
    CHECK(st == GROOT_OK && w.bytes == 226560.0 / 2 + 112896.0, "vl bf16 bytes %.0f", w.bytes);
}

/* The internal entry point with a batch, and the floor from rates measured apart. */
static void check_internal(void)
{
    groot_model_options opts;
    groot_model_options_init(&opts);
    gr_model *m = NULL;
    gr_error err;
    groot_status st = gr_model_open(tu_data(CKPT), GROOT_ASSETS_DIR, &opts, &m, &err);
    CHECK(st == GROOT_OK, "gr_model_open: %s", err.msg);
    if (st)
        return;
    gr_bench_rates rates;
    st = gr_bench_measure_rates(m, &rates, &err);
    CHECK(st == GROOT_OK && rates.measured, "rates: %s", err.msg);
    for (int c = 0; c < NCOMP && !st; c++) {
        gr_bench_result r;
        st = gr_model_bench(m, components[c], 2, 2, 0, 3, 1, &r, &err);
        CHECK(st == GROOT_OK, "gr_model_bench %s: %s", components[c], err.msg);
        if (st)
            break;
        CHECK(r.component == (gr_bench_component)c && r.seq_len == 38 + 7 + 512, "%s: component %d, seq_len %d",
              components[c], (int)r.component, r.seq_len);
        CHECK(r.floor_ms == 0, "%s: floor before gr_bench_floor", components[c]);
        check_times(components[c], r.median_ms, r.min_ms, r.p90_ms, r.mean_ms);
        gr_bench_work w;
        CHECK(gr_bench_work_count(&m->cfg, m->prec, m->steps, r.component, 2, 2, r.seq_len, &w, &err) == GROOT_OK,
              "%s work: %s", components[c], err.msg);
        gr_bench_floor(&w, &rates, &r);
        check_floor(components[c], r.bytes, r.flops, r.bandwidth_gbs, r.matrix_tflops, r.floor_ms, r.ratio,
                    r.median_ms);
    }
    /* The internal entry point refuses an unknown component the same way. */
    gr_bench_result r;
    st = gr_model_bench(m, "bogus", 1, 1, 0, 3, 1, &r, &err);
    CHECK(st == GROOT_ERR_INVALID_ARG && strstr(err.msg, "action_head"), "bogus: %s", err.msg);
    gr_model_close(m);
}

int main(void)
{
    groot_model *model = NULL;
    groot_status st = groot_model_open(tu_data(CKPT), GROOT_ASSETS_DIR, NULL, &model);
    CHECK(st == GROOT_OK, "open: %s", groot_errmsg(model));
    if (st == GROOT_OK) {
        double bw = 0, tf = 0;
        st = groot_bench_device_rates(model, &bw, &tf);
        CHECK(st == GROOT_OK && bw > 0 && tf > 0, "device rates: %g GB/s %g TFLOP/s: %s", bw, tf,
              groot_errmsg(model));
        for (int i = 0; i < NCOMP; i++)
            check_public(model, components[i], 1, 1, 294);
        check_public(model, "dit", 2, 2, 38 + 7 + 512);
        check_public(model, "all", 2, 2, 38 + 7 + 512);
        check_errors(model);
    }
    groot_model_close(model);
    check_vl_by_hand();
    check_internal();
    return tu_finish("test_bench");
}
