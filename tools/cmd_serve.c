/*
 * groot serve: a policy server that the reference's robot clients talk to
 * unchanged (ZeroMQ REP + msgpack), plus an optional HTTP/JSON API.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "groot.h"
#include "server/protocol.h"

/* The one piece of global state: what a signal handler may touch. */
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: groot serve --model DIR --data-config NAME --embodiment TAG [options]\n"
            "  --device cuda|cpu        (default cpu)\n"
            "  --precision P            fp32, tf32, bf16, fp16 or per component (default fp32)\n"
            "  --host H                 address to bind (default *)\n"
            "  --port P                 ZeroMQ port (default 5555)\n"
            "  --http-port P            also serve HTTP (POST /act, GET /health) on this port\n"
            "  --api-token T            require this token (msgpack 'api_token', HTTP 'Authorization: Bearer')\n"
            "  --denoising-steps N      (default: the checkpoint's)\n"
            "  --max-message-bytes N    largest request accepted (default 64 MiB)\n"
            "  --assets DIR             groot's assets directory\n"
            "  --seed S                 initial-noise seed (default 0)\n");
}

typedef struct serve_args {
    const char *model, *data_config, *embodiment, *device, *precision, *host, *api_token, *assets;
    int port, http_port, denoising_steps;
    size_t max_bytes;
    uint64_t seed;
} serve_args;

static const char *const STRING_OPTS[] = {"--model", "--data-config", "--embodiment", "--device",
                                          "--precision", "--host", "--api-token", "--assets"};

/* Returns 0 to serve, 1 after --help, -1 on a bad command line. */
static int parse_args(int argc, char **argv, serve_args *a)
{
    memset(a, 0, sizeof *a);
    a->host = "*";
    a->port = 5555;
    a->max_bytes = (size_t)64 << 20;
    const char **strs[] = {&a->model, &a->data_config, &a->embodiment, &a->device,
                           &a->precision, &a->host, &a->api_token, &a->assets};
    for (int i = 1; i < argc; i++) {
        int bad = 0, matched = 0;
        const char *v;
        long x;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 1;
        }
        for (size_t k = 0; k < sizeof STRING_OPTS / sizeof STRING_OPTS[0] && !matched; k++)
            if ((v = cli_opt(argc, argv, &i, STRING_OPTS[k], &bad))) *strs[k] = v, matched = 1;
        if (matched) continue;
        if ((v = cli_opt(argc, argv, &i, "--port", &bad))) {
            if (!cli_parse_long("--port", v, 1, 65535, &x)) return -1;
            a->port = (int)x;
        } else if ((v = cli_opt(argc, argv, &i, "--http-port", &bad))) {
            if (!cli_parse_long("--http-port", v, 1, 65535, &x)) return -1;
            a->http_port = (int)x;
        } else if ((v = cli_opt(argc, argv, &i, "--denoising-steps", &bad))) {
            if (!cli_parse_long("--denoising-steps", v, 1, 1000, &x)) return -1;
            a->denoising_steps = (int)x;
        } else if ((v = cli_opt(argc, argv, &i, "--max-message-bytes", &bad))) {
            if (!cli_parse_long("--max-message-bytes", v, 1024, 1L << 40, &x)) return -1;
            a->max_bytes = (size_t)x;
        } else if ((v = cli_opt(argc, argv, &i, "--seed", &bad))) {
            char *end;
            errno = 0;
            unsigned long long sd = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-') {
                fprintf(stderr, "groot serve: --seed wants a non-negative integer, got '%s'\n", v);
                return -1;
            }
            a->seed = (uint64_t)sd;
        } else if (!bad) {
            fprintf(stderr, "groot serve: unknown option '%s'\n", argv[i]);
            return -1;
        }
        if (bad) return -1;
    }
    if (!a->model || !a->data_config || !a->embodiment) {
        fprintf(stderr, "groot serve: --model, --data-config and --embodiment are required\n");
        return -1;
    }
    if (a->http_port && a->http_port == a->port) {
        fprintf(stderr, "groot serve: --http-port must differ from --port\n");
        return -1;
    }
    return 0;
}

/* The policy behind the protocol's backend interface. */
static groot_status be_get_action(void *ctx, const groot_observation *obs, const groot_array **actions, int *n)
{
    return groot_policy_get_action(ctx, obs, actions, n);
}
static const char *be_modality(void *ctx) { return groot_policy_modality_json(ctx); }
static const char *be_errmsg(void *ctx) { return groot_errmsg(ctx); }

int cmd_serve(int argc, char **argv)
{
    serve_args a;
    int pr = parse_args(argc, argv, &a);
    if (pr != 0) {
        if (pr < 0) usage(stderr);
        return pr < 0 ? 2 : 0;
    }

    groot_policy_options opts;
    groot_policy_options_init(&opts);
    if (a.device) opts.model.device = a.device;
    if (a.precision) opts.model.precision = a.precision;
    if (a.denoising_steps) opts.model.denoising_steps = a.denoising_steps;
    opts.data_config = a.data_config;
    opts.embodiment_tag = a.embodiment;
    opts.seed = a.seed;
    opts.assets_dir = a.assets;

    double t0 = proto_now_ms();
    groot_policy *policy = NULL;
    groot_status st = groot_policy_open(a.model, &opts, &policy);
    if (st != GROOT_OK) {
        const char *m = policy ? groot_errmsg(policy) : "out of memory";
        fprintf(stderr, "groot serve: cannot open the policy in %s: %s (%s)\n", a.model, m, groot_status_name(st));
        groot_policy_close(policy);
        return 1;
    }
    proto_backend backend = {policy, be_get_action, be_modality, be_errmsg};
    proto_server server;
    char err[512];
    if (proto_server_init(&server, &backend, a.api_token, a.max_bytes, err, sizeof err) != 0) {
        fprintf(stderr, "groot serve: %s\n", err);
        groot_policy_close(policy);
        return 1;
    }
    /* Calls on a synthetic observation plan every buffer and, on CUDA, tune
     * and record the calls of instructions up to ~64 tokens before the first
     * robot asks (groot_policy_warmup); the noise stream is untouched. */
    if ((st = groot_policy_warmup(policy)) != GROOT_OK) {
        fprintf(stderr, "groot serve: warm-up failed: %s (%s)\n", groot_errmsg(policy), groot_status_name(st));
        groot_policy_close(policy);
        return 1;
    }
    fprintf(stderr, "groot serve: policy %s (%s, %s) ready in %.0f ms; modality %s\n", a.model, a.data_config,
            a.embodiment, proto_now_ms() - t0, groot_policy_modality_json(policy));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    http_server *http = NULL;
    int rc = 0;
    if (a.http_port && http_start(&server, a.host, a.http_port, &http, err, sizeof err) != 0) {
        fprintf(stderr, "groot serve: %s\n", err);
        rc = 1;
    }
    if (rc == 0 && zmq_serve(&server, a.host, a.port, &g_stop, err, sizeof err) != 0) {
        fprintf(stderr, "groot serve: %s\n", err);
        rc = 1;
    }
    if (g_stop) fprintf(stderr, "groot serve: stopping on a signal\n");
    http_stop(http);
    proto_server_destroy(&server);
    groot_policy_close(policy);
    return rc;
}
