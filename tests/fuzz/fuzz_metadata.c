/* libFuzzer target for experiment_cfg/metadata.json: the bytes are loaded
 * for the "gr1" tag; metadata that loads is compiled into a transform plan
 * with the bundled fourier_gr1_arms_only data config, and a plan that builds
 * is run forward (state) and inverse (action) on numbers derived from the
 * bytes (special values included). Errors are fine; crashes, leaks and
 * undefined behaviour are not.
 *   fuzz_metadata -max_total_time=30 [corpus dir] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/data_config.h"
#include "policy/metadata.h"
#include "policy/normalize.h"

static char tmp_dir[64], md_path[128];
static gr_data_config *data_cfg;

static void cleanup(void)
{
    unlink(md_path);
    rmdir(tmp_dir);
    gr_data_config_free(data_cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/fuzz_metadata.XXXXXX");
    if (!mkdtemp(tmp_dir))
        abort();
    snprintf(md_path, sizeof md_path, "%s/metadata.json", tmp_dir);
    gr_error err = {0};
    if (gr_data_config_open("fourier_gr1_arms_only", GROOT_ASSETS_DIR, &data_cfg, &err) != GROOT_OK) {
        fprintf(stderr, "fuzz_metadata: %s\n", err.msg);
        abort();
    }
    atexit(cleanup);
    return 0;
}

/* Numbers for the transforms: a small generator seeded by the bytes. */
static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static double number(uint64_t *s)
{
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 0.5, 3.141592653589793, 1e308,
                                     -1e308, 5e-324, 1e-300};
    uint64_t r = next(s);
    switch (r % 8) {
    case 0: return special[(r >> 8) % (sizeof special / sizeof special[0])];
    case 1: return (r >> 8) % 16 == 0 ? NAN : ((r >> 8) % 2 ? INFINITY : -INFINITY);
    default: return ((double)(r >> 11) / 9007199254740992.0 - 0.5) * 8.0;
    }
}

static void run_plan(gr_transform_plan *p, uint64_t seed)
{
    gr_error err = {0};
    /* State: one row forward into max_state_dim, and a narrower output. */
    int n = gr_plan_num_keys(p, GR_SIDE_STATE);
    double **in = calloc((size_t)n + 1, sizeof *in);
    if (!in)
        abort();
    for (int i = 0; i < n; i++) {
        int d = gr_plan_raw_dim(p, GR_SIDE_STATE, i);
        in[i] = malloc(sizeof(double) * (size_t)(d ? d : 1));
        if (!in[i])
            abort();
        for (int j = 0; j < d; j++)
            in[i][j] = number(&seed);
    }
    int out_dim = data_cfg->max_state_dim;
    float *out = malloc(sizeof(float) * (size_t)out_dim);
    if (!out)
        abort();
    if (gr_plan_forward(p, GR_SIDE_STATE, (const double *const *)in, out, out_dim, &err) != GROOT_OK)
        abort();
    if (gr_plan_forward(p, GR_SIDE_STATE, (const double *const *)in, out, out_dim / 3, &err) != GROOT_OK)
        abort();
    for (int i = 0; i < n; i++)
        free(in[i]);
    free(in);
    free(out);

    /* Action: horizon rows of max_action_dim back to raw values. */
    int na = gr_plan_num_keys(p, GR_SIDE_ACTION);
    int rows = data_cfg->action_horizon, dim = data_cfg->max_action_dim;
    float *model = malloc(sizeof(float) * (size_t)rows * (size_t)dim);
    float **outs = calloc((size_t)na + 1, sizeof *outs);
    if (!model || !outs)
        abort();
    for (int i = 0; i < rows * dim; i++)
        model[i] = (float)number(&seed);
    for (int i = 0; i < na; i++) {
        int d = gr_plan_raw_dim(p, GR_SIDE_ACTION, i);
        outs[i] = malloc(sizeof(float) * (size_t)rows * (size_t)(d ? d : 1));
        if (!outs[i])
            abort();
    }
    if (gr_plan_inverse(p, GR_SIDE_ACTION, model, rows, dim, outs, &err) != GROOT_OK)
        abort();
    /* Too narrow an input is refused, not read past. */
    int total = gr_plan_total_model_dim(p, GR_SIDE_ACTION);
    if (total > 0 && gr_plan_inverse(p, GR_SIDE_ACTION, model, 1, total - 1, outs, &err) == GROOT_OK)
        abort();
    for (int i = 0; i < na; i++)
        free(outs[i]);
    free(outs);
    free(model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(md_path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    gr_metadata *md = NULL;
    gr_error err = {0};
    if (gr_metadata_load(md_path, "gr1", &md, &err) != GROOT_OK) {
        if (md || !err.msg[0])
            abort();
        return 0;
    }
    /* Lookups by every name the file gave, and by one it cannot have. */
    for (int i = 0; i < md->num_state; i++)
        if (gr_metadata_key(md, "state", md->state[i].name) == NULL)
            abort();
    for (int i = 0; i < md->num_video; i++)
        if (gr_metadata_video(md, md->video[i].name) == NULL)
            abort();
    const double *vals;
    (void)gr_metadata_stat(md, "action", "left_arm", GR_STAT_MAX, 0, &vals, &err);

    gr_transform_plan *p = NULL;
    if (gr_transform_plan_build(data_cfg, md, &p, &err) == GROOT_OK) {
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < size; i++)
            seed = (seed ^ data[i]) * 0x100000001b3ull;
        if (!seed)
            seed = 1;
        run_plan(p, seed);
        gr_transform_plan_free(p);
    } else if (p || !err.msg[0]) {
        abort();
    }
    gr_metadata_free(md);
    return 0;
}
