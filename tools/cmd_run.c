/* groot run: one observation in (camera files, joint readings, an
 * instruction), the next actions out per action key, with stage times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_INPUTS 32

static void run_usage(void)
{
    fprintf(stderr,
            "usage: groot run --model DIR --data-config NAME --embodiment TAG\n"
            "                 --image video.KEY=FILE ... --state state.KEY=v1,v2,... ...\n"
            "                 --instruction TEXT [--seed S] [--json] [--device cpu|cuda]\n"
            "                 [--precision P] [--denoising-steps N] [--threads N] [--assets DIR]\n"
            "FILE is a PNG, a JPEG or a .npy (uint8 HxWx3). The data config is a bundled\n"
            "name (e.g. fourier_gr1_arms_only) or a JSON file (docs/data_configs.md).\n");
}

/* "KEY=VALUE" -> key (a copy) and a pointer to the value inside arg. */
static int split_kv(const char *arg, char **key, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return 0;
    size_t n = (size_t)(eq - arg);
    *key = malloc(n + 1);
    if (!*key)
        return 0;
    memcpy(*key, arg, n);
    (*key)[n] = '\0';
    *value = eq + 1;
    return 1;
}

/* "v1,v2,..." -> a malloc'd array of doubles. */
static int parse_values(const char *key, const char *s, double **out, int *count)
{
    int n = 1;
    for (const char *c = s; *c; c++)
        n += *c == ',';
    double *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return 0;
    const char *c = s;
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(c, &end);
        if (end == c || (*end != ',' && *end != '\0')) {
            fprintf(stderr, "groot run: %s: value %d ('%.20s') is not a number\n", key, i, c);
            free(v);
            return 0;
        }
        c = *end ? end + 1 : end;
    }
    *out = v;
    *count = n;
    return 1;
}

static void print_json(const groot_array *acts, int n, const groot_timings *t)
{
    printf("{\"actions\":{");
    for (int k = 0; k < n; k++) {
        const groot_array *a = &acts[k];
        const float *x = a->data;
        int rows = (int)a->shape[0], cols = (int)a->shape[1];
        printf("%s\"%s\":[", k ? "," : "", a->name);
        for (int r = 0; r < rows; r++) {
            printf("%s[", r ? "," : "");
            for (int c = 0; c < cols; c++)
                printf("%s%.9g", c ? "," : "", x[(size_t)r * cols + c]);
            printf("]");
        }
        printf("]");
    }
    printf("},\"timings_ms\":{\"preprocess\":%.3f,\"upload\":%.3f,\"vision\":%.3f,\"language\":%.3f,"
           "\"vl\":%.3f,\"action_head\":%.3f,\"download\":%.3f,\"postprocess\":%.3f,\"total\":%.3f},"
           "\"replayed\":%s}\n",
           t->preprocess_ms, t->upload_ms, t->vision_ms, t->language_ms, t->vl_ms, t->action_head_ms,
           t->download_ms, t->postprocess_ms, t->total_ms, t->replayed ? "true" : "false");
}

static void print_text(const groot_array *acts, int n, const groot_timings *t)
{
    for (int k = 0; k < n; k++) {
        const groot_array *a = &acts[k];
        const float *x = a->data;
        int rows = (int)a->shape[0], cols = (int)a->shape[1];
        printf("%s [%d x %d]\n", a->name, rows, cols);
        for (int r = 0; r < rows; r++) {
            printf("  t+%-2d", r);
            for (int c = 0; c < cols; c++)
                printf(" %9.4f", x[(size_t)r * cols + c]);
            printf("\n");
        }
    }
    printf("time (ms): preprocess %.2f | upload %.2f | vision %.2f | language %.2f | vl %.2f | "
           "action head %.2f | download %.2f | postprocess %.2f | total %.2f%s\n",
           t->preprocess_ms, t->upload_ms, t->vision_ms, t->language_ms, t->vl_ms, t->action_head_ms,
           t->download_ms, t->postprocess_ms, t->total_ms, t->replayed ? " (replayed)" : "");
}

int cmd_run(int argc, char **argv)
{
    groot_policy_options opts;
    groot_policy_options_init(&opts);
    const char *model_dir = NULL, *instruction = NULL;
    const char *image_args[MAX_INPUTS], *state_args[MAX_INPUTS];
    int n_images = 0, n_states = 0, json = 0, bad = 0;
    long n;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help")) {
            run_usage();
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--model", &bad))) {
            model_dir = v;
        } else if ((v = cli_opt(argc, argv, &i, "--data-config", &bad))) {
            opts.data_config = v;
        } else if ((v = cli_opt(argc, argv, &i, "--embodiment", &bad))) {
            opts.embodiment_tag = v;
        } else if ((v = cli_opt(argc, argv, &i, "--image", &bad))) {
            if (n_images == MAX_INPUTS)
                bad = 1;
            else
                image_args[n_images++] = v;
        } else if ((v = cli_opt(argc, argv, &i, "--state", &bad))) {
            if (n_states == MAX_INPUTS)
                bad = 1;
            else
                state_args[n_states++] = v;
        } else if ((v = cli_opt(argc, argv, &i, "--instruction", &bad))) {
            instruction = v;
        } else if ((v = cli_opt(argc, argv, &i, "--seed", &bad))) {
            if (!cli_parse_long("--seed", v, 0, 0x7fffffffL, &n))
                return 2;
            opts.seed = (uint64_t)n;
        } else if ((v = cli_opt(argc, argv, &i, "--device", &bad))) {
            opts.model.device = v;
        } else if ((v = cli_opt(argc, argv, &i, "--precision", &bad))) {
            opts.model.precision = v;
        } else if ((v = cli_opt(argc, argv, &i, "--assets", &bad))) {
            opts.assets_dir = v;
        } else if ((v = cli_opt(argc, argv, &i, "--denoising-steps", &bad))) {
            if (!cli_parse_long("--denoising-steps", v, 1, 1000, &n))
                return 2;
            opts.model.denoising_steps = (int)n;
        } else if ((v = cli_opt(argc, argv, &i, "--threads", &bad))) {
            if (!cli_parse_long("--threads", v, 0, 1024, &n))
                return 2;
            opts.model.num_threads = (int)n;
        } else if (!bad) {
            fprintf(stderr, "groot run: unknown option '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (bad || !model_dir || !instruction) {
        run_usage();
        return 2;
    }

    int rc = 1, n_arrays = 0;
    groot_array arrays[2 * MAX_INPUTS];
    char *names[2 * MAX_INPUTS];
    void *data[2 * MAX_INPUTS];
    memset(names, 0, sizeof names);
    memset(data, 0, sizeof data);
    groot_policy *policy = NULL;

    for (int i = 0; i < n_images; i++, n_arrays++) {
        const char *file;
        if (!split_kv(image_args[i], &names[n_arrays], &file)) {
            fprintf(stderr, "groot run: --image takes video.KEY=FILE (got '%s')\n", image_args[i]);
            goto done;
        }
        uint8_t *pix;
        int h, w;
        char err[512];
        if (groot_image_load(file, &pix, &h, &w, err, sizeof err) != GROOT_OK) {
            fprintf(stderr, "groot run: %s: %s\n", names[n_arrays], err);
            goto done;
        }
        data[n_arrays] = pix;
        arrays[n_arrays] = (groot_array){names[n_arrays], GROOT_U8, 4, {1, h, w, 3}, pix};
    }
    for (int i = 0; i < n_states; i++, n_arrays++) {
        const char *vals;
        if (!split_kv(state_args[i], &names[n_arrays], &vals)) {
            fprintf(stderr, "groot run: --state takes state.KEY=v1,v2,... (got '%s')\n", state_args[i]);
            goto done;
        }
        double *v;
        int count;
        if (!parse_values(names[n_arrays], vals, &v, &count))
            goto done;
        data[n_arrays] = v;
        arrays[n_arrays] = (groot_array){names[n_arrays], GROOT_F64, 2, {1, count}, v};
    }

    groot_status st = groot_policy_open(model_dir, &opts, &policy);
    if (st != GROOT_OK) {
        cli_report("run", "opening the policy", st, policy);
        goto done;
    }
    const char *instructions[1] = {instruction};
    groot_observation obs = {.arrays = arrays, .num_arrays = n_arrays, .instructions = instructions};
    const groot_array *acts;
    int n_acts;
    if ((st = groot_policy_get_action(policy, &obs, &acts, &n_acts)) != GROOT_OK) {
        cli_report("run", "computing actions", st, policy);
        goto done;
    }
    groot_timings t;
    groot_policy_timings(policy, &t);
    if (json)
        print_json(acts, n_acts, &t);
    else
        print_text(acts, n_acts, &t);
    rc = 0;
done:
    groot_policy_close(policy);
    for (int i = 0; i < 2 * MAX_INPUTS; i++) {
        free(names[i]);
        if (i < n_images)
            groot_image_free(data[i]);
        else
            free(data[i]);
    }
    return rc;
}
