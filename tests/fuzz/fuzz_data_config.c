/* libFuzzer target for user data-config files: the bytes are loaded as a
 * JSON data config (unnamed, then by the name of its first entry); a config
 * that loads must be self-consistent, and is compiled into a transform plan
 * against the gr1 metadata of the metadata seed corpus, which is then run.
 * Errors are fine; crashes, leaks and undefined behaviour are not.
 *   fuzz_data_config -max_total_time=30 [corpus dir] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "policy/data_config.h"
#include "policy/metadata.h"
#include "policy/normalize.h"

static char tmp_dir[64], cfg_path[128];
static gr_metadata *meta;

static void cleanup(void)
{
    unlink(cfg_path);
    rmdir(tmp_dir);
    gr_metadata_free(meta);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/fuzz_data_config.XXXXXX");
    if (!mkdtemp(tmp_dir))
        abort();
    snprintf(cfg_path, sizeof cfg_path, "%s/data_config.json", tmp_dir);
    gr_error err = {0};
    if (gr_metadata_load(GROOT_FUZZ_CORPUS "/metadata/gr1.json", "gr1", &meta, &err) != GROOT_OK) {
        fprintf(stderr, "fuzz_data_config: %s\n", err.msg);
        abort();
    }
    atexit(cleanup);
    return 0;
}

static void check_list(const gr_strlist *l)
{
    for (int i = 0; i < l->count; i++)
        if (!l->items[i] || gr_strlist_find(l, l->items[i]) < 0)
            abort();
}

static void check_config(const gr_data_config *c)
{
    if (!c->name || !c->source)
        abort();
    check_list(&c->video_keys), check_list(&c->state_keys), check_list(&c->action_keys);
    check_list(&c->language_keys), check_list(&c->video_order), check_list(&c->state_order);
    check_list(&c->action_order);
    for (int i = 0; i < c->video_keys.count; i++)
        if (strcmp(c->video[i].key, c->video_keys.items[i]) != 0 ||
            !(c->video[i].crop_scale > 0 && c->video[i].crop_scale <= 1) || c->video[i].resize_h < 0 ||
            c->video[i].resize_w < 0)
            abort();
    for (int t = 0; t < c->num_sa; t++)
        for (int i = 0; i < c->sa[t].num_steps; i++)
            if (!c->sa[t].steps[i].key)
                abort();
    if (c->state_horizon < 1 || c->action_horizon < 1 || c->max_state_dim < 1 || c->max_action_dim < 1)
        abort();
}

static void run_plan(const gr_data_config *c)
{
    gr_transform_plan *p = NULL;
    gr_error err = {0};
    if (gr_transform_plan_build(c, meta, &p, &err) != GROOT_OK) {
        if (p || !err.msg[0])
            abort();
        return;
    }
    int n = gr_plan_num_keys(p, GR_SIDE_STATE), width = 0;
    for (int i = 0; i < n; i++)
        if (gr_plan_raw_dim(p, GR_SIDE_STATE, i) > width)
            width = gr_plan_raw_dim(p, GR_SIDE_STATE, i);
    double *row = calloc((size_t)width + 1, sizeof *row);
    const double **in = calloc((size_t)n + 1, sizeof *in);
    /* Small configs only: a fuzzed horizon or width may be huge. */
    int out_dim = c->max_state_dim < 4096 ? c->max_state_dim : 4096;
    float *out = calloc((size_t)out_dim, sizeof *out);
    if (!row || !in || !out)
        abort();
    for (int j = 0; j < width; j++)
        row[j] = 0.25 * j - 1.0;
    for (int i = 0; i < n; i++)
        in[i] = row;
    if (gr_plan_forward(p, GR_SIDE_STATE, in, out, out_dim, &err) != GROOT_OK)
        abort();
    free(row), free(in), free(out);

    int na = gr_plan_num_keys(p, GR_SIDE_ACTION), dim = c->max_action_dim;
    int rows = c->action_horizon < 64 ? c->action_horizon : 64;
    if (dim <= 4096) {
        float *model = calloc((size_t)rows * (size_t)dim + 1, sizeof *model);
        float **outs = calloc((size_t)na + 1, sizeof *outs);
        if (!model || !outs)
            abort();
        for (int i = 0; i < rows * dim; i++)
            model[i] = (float)(i % 7) * 0.3f - 1.0f;
        for (int i = 0; i < na; i++)
            if (!(outs[i] = calloc((size_t)rows * (size_t)gr_plan_raw_dim(p, GR_SIDE_ACTION, i) + 1,
                                   sizeof(float))))
                abort();
        if (gr_plan_inverse(p, GR_SIDE_ACTION, model, rows, dim, outs, &err) != GROOT_OK)
            abort();
        for (int i = 0; i < na; i++)
            free(outs[i]);
        free(outs), free(model);
    }
    gr_transform_plan_free(p);
}

static void try_load(const char *name)
{
    gr_data_config *c = NULL;
    gr_error err = {0};
    if (gr_data_config_load_file(cfg_path, name, &c, &err) != GROOT_OK) {
        if (c || !err.msg[0])
            abort();
        return;
    }
    check_config(c);
    run_plan(c);
    gr_data_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(cfg_path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    try_load(NULL);
    /* By name: the first entry of a file of several configs. */
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (cJSON_IsObject(root) && root->child && root->child->string && root->child->next) {
        char *name = strdup(root->child->string);
        if (!name)
            abort();
        try_load(name);
        free(name);
    }
    cJSON_Delete(root);
    char buf[256];
    gr_error err = {0};
    (void)gr_data_config_list(cfg_path, buf, sizeof buf, &err);
    return 0;
}
