/* groot bench: time components of the network on synthetic inputs and set
 * each against its floor on this device; the counterpart of the reference's
 * run_groot_torchtrt.py --fn_name ... --benchmark cuda_event. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The order `--component every` runs them in: parts first, then the sums. */
static const char *const every[] = {
    "vit", "llm", "vl", "state_encoder", "action_encoder", "dit", "action_decoder", "action_head", "backbone", "all",
};

static void bench_usage(void)
{
    fprintf(stderr,
            "usage: groot bench --model DIR [--component C] [--precision P] [--batch B] [--views V]\n"
            "                   [--iters N] [--warmup W] [--device cpu|cuda] [--seq-len L] [--json]\n"
            "                   [--threads N] [--denoising-steps N] [--assets DIR]\n"
            "C: vit, llm, vl, state_encoder, action_encoder, dit (one step), action_decoder,\n"
            "   action_head (all steps), backbone (vit + llm), all (whole forward: upload,\n"
            "   network, download; the default), or every (each of them, one table).\n"
            "Defaults: batch 1, views 1, iters 20, warmup 3, seq-len 0 (the reference\n"
            "benchmark's prompt: 294 tokens for one view). Times are per call of the\n"
            "component over the whole batch. floor = max(bytes / copy bandwidth, FLOPs /\n"
            "GEMM rate), both measured on the device; ratio = median / floor.\n"
            "--json prints one JSON object per component per line instead of the table.\n");
}

/* A JSON string: the device and precision come from the command line. */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_json(const groot_bench_result *r, const char *device, const char *precision)
{
    printf("{\"component\":");
    json_string(r->component);
    printf(",\"device\":");
    json_string(device);
    printf(",\"precision\":");
    json_string(precision);
    printf(",\"batch\":%d,\"views\":%d,\"seq_len\":%d,\"iters\":%d,\"median_ms\":%.6g,\"min_ms\":%.6g,"
           "\"p90_ms\":%.6g,\"mean_ms\":%.6g,\"bytes\":%.0f,\"flops\":%.0f,\"bandwidth_gbs\":%.6g,"
           "\"matrix_tflops\":%.6g,\"floor_ms\":%.6g,\"ratio\":%.6g,\"memory_mib\":%.1f",
           r->batch, r->views, r->seq_len, r->iters, r->median_ms, r->min_ms, r->p90_ms, r->mean_ms, r->bytes,
           r->flops, r->bandwidth_gbs, r->matrix_tflops, r->floor_ms, r->ratio, r->memory_mib);
    if (!strcmp(r->component, "all"))
        printf(",\"upload_ms\":%.6g,\"network_ms\":%.6g,\"download_ms\":%.6g", r->upload_ms, r->network_ms,
               r->download_ms);
    printf("}\n");
}

static void print_header(void)
{
    printf("%-15s %5s %5s %5s %5s %10s %10s %10s %10s %10s %10s %8s %10s %7s\n", "component", "batch", "views",
           "seq", "iters", "median_ms", "min_ms", "p90_ms", "mean_ms", "MB", "GFLOP", "TFLOP/s", "floor_ms",
           "ratio");
}

static void print_row(const groot_bench_result *r)
{
    printf("%-15s %5d %5d %5d %5d %10.4f %10.4f %10.4f %10.4f %10.3f %10.4f %8.4f %10.4f %7.1f\n", r->component,
           r->batch, r->views, r->seq_len, r->iters, r->median_ms, r->min_ms, r->p90_ms, r->mean_ms, r->bytes / 1e6,
           r->flops / 1e9, r->matrix_tflops, r->floor_ms, r->ratio);
    if (!strcmp(r->component, "all"))
        printf("%-15s upload %.4f ms, network %.4f ms, download %.4f ms (medians)\n", "  all's parts", r->upload_ms,
               r->network_ms, r->download_ms);
}

typedef struct bench_args {
    const char *model_dir, *assets, *component;
    int batch, views, seq_len, iters, warmup, json;
    groot_model_options opts;
} bench_args;

/* 0: parsed; otherwise the exit code (0 for --help is returned as -1). */
static int parse_args(int argc, char **argv, bench_args *a)
{
    int bad = 0;
    groot_model_options_init(&a->opts);
    a->component = "all";
    a->batch = a->views = 1;
    a->iters = 20;
    a->warmup = 3;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        long n;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            bench_usage();
            return -1;
        } else if (!strcmp(argv[i], "--json")) {
            a->json = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--model", &bad))) {
            a->model_dir = v;
        } else if ((v = cli_opt(argc, argv, &i, "--component", &bad))) {
            a->component = v;
        } else if ((v = cli_opt(argc, argv, &i, "--precision", &bad))) {
            a->opts.precision = v;
        } else if ((v = cli_opt(argc, argv, &i, "--device", &bad))) {
            a->opts.device = v;
        } else if ((v = cli_opt(argc, argv, &i, "--assets", &bad))) {
            a->assets = v;
        } else if ((v = cli_opt(argc, argv, &i, "--batch", &bad))) {
            if (!cli_parse_long("--batch", v, 1, 4096, &n))
                return 2;
            a->batch = (int)n;
        } else if ((v = cli_opt(argc, argv, &i, "--views", &bad))) {
            if (!cli_parse_long("--views", v, 1, 64, &n))
                return 2;
            a->views = (int)n;
        } else if ((v = cli_opt(argc, argv, &i, "--seq-len", &bad))) {
            if (!cli_parse_long("--seq-len", v, 0, 65536, &n))
                return 2;
            a->seq_len = (int)n;
        } else if ((v = cli_opt(argc, argv, &i, "--iters", &bad))) {
            if (!cli_parse_long("--iters", v, 1, 1000000, &n))
                return 2;
            a->iters = (int)n;
        } else if ((v = cli_opt(argc, argv, &i, "--warmup", &bad))) {
            if (!cli_parse_long("--warmup", v, 0, 1000000, &n))
                return 2;
            a->warmup = (int)n;
        } else if ((v = cli_opt(argc, argv, &i, "--threads", &bad))) {
            if (!cli_parse_long("--threads", v, 0, 1024, &n))
                return 2;
            a->opts.num_threads = (int)n;
        } else if ((v = cli_opt(argc, argv, &i, "--denoising-steps", &bad))) {
            if (!cli_parse_long("--denoising-steps", v, 1, 1000, &n))
                return 2;
            a->opts.denoising_steps = (int)n;
        } else if (!bad) {
            fprintf(stderr, "groot bench: unknown option '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (bad || !a->model_dir) {
        bench_usage();
        return 2;
    }
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    bench_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;

    groot_model *model = NULL;
    groot_status st = groot_model_open(a.model_dir, a.assets, &a.opts, &model);
    if (st != GROOT_OK) {
        cli_report("bench", "opening the model", st, model);
        groot_model_close(model);
        return 1;
    }
    const char *device = a.opts.device ? a.opts.device : "cpu";
    const char *precision = a.opts.precision ? a.opts.precision : "fp32";
    int all = !strcmp(a.component, "every");
    size_t count = all ? sizeof every / sizeof every[0] : 1;

    rc = 1;
    for (size_t i = 0; i < count; i++) {
        groot_bench_result r;
        const char *name = all ? every[i] : a.component;
        if ((st = groot_bench(model, name, a.batch, a.views, a.seq_len, a.iters, a.warmup, &r)) != GROOT_OK) {
            fflush(stdout);
            cli_report("bench", name, st, model);
            goto done;
        }
        /* After the first result: a bad argument fails before any output,
         * and the rates are the ones that result was measured against. */
        if (i == 0 && !a.json) {
            double bw, tflops;
            if ((st = groot_bench_device_rates(model, &bw, &tflops)) != GROOT_OK) {
                cli_report("bench", "measuring the device", st, model);
                goto done;
            }
            printf("groot bench: device %s, precision %s: copy %.2f GB/s, GEMM %.4f TFLOP/s (llm precision)\n",
                   device, precision, bw, tflops);
            print_header();
        }
        if (a.json)
            print_json(&r, device, precision);
        else
            print_row(&r);
        fflush(stdout);
    }
    rc = 0;
done:
    groot_model_close(model);
    return rc;
}
