/*
 * groot_synth: a complete checkpoint in the released layout with seeded
 * random weights, so that the engine can be tested and timed at full size
 * without the real weights.
 *
 * Every shard's header is known from the plan before any value exists, so
 * each shard is streamed: header first, then each tensor generated and
 * written chunk by chunk. Memory stays at a few chunk buffers whatever the
 * model size. The index is written last, so an interrupted run leaves no
 * index pointing at incomplete shards.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/synth.h"

#define PATH_CAP 4096

static groot_status join(char *buf, const char *dir, const char *name, gr_error *err)
{
    int n = snprintf(buf, PATH_CAP, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_CAP)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "path too long: '%s/%s'", dir, name);
    return GROOT_OK;
}

/* mkdir -p: existing directories are fine, anything else in the way is not. */
static groot_status make_dirs(const char *path, gr_error *err)
{
    char buf[PATH_CAP];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bad output directory '%s'", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return gr_fail(err, GROOT_ERR_IO, "cannot create directory '%s': %s", buf,
                           strerror(errno));
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return gr_fail(err, GROOT_ERR_IO, "'%s' exists and is not a directory", buf);
        buf[i] = saved;
    }
    return GROOT_OK;
}

static groot_status write_shard(const gr_synth_plan *plan, int shard, uint64_t seed,
                                const char *path, gr_error *err)
{
    char *header;
    size_t header_len;
    GR_TRY(gr_synth_shard_header(plan, shard, &header, &header_len, err));
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        free(header);
        return gr_fail(err, GROOT_ERR_IO, "cannot create '%s': %s", path, strerror(e));
    }
    groot_status st = GROOT_OK;
    if (fwrite(header, 1, header_len, f) != header_len)
        st = gr_fail(err, GROOT_ERR_IO, "writing the header of '%s': %s", path,
                     errno ? strerror(errno) : "short write");
    free(header);
    for (int i = 0; st == GROOT_OK && i < plan->count; i++)
        if (plan->tensors[i].shard == shard)
            st = gr_synth_write_tensor(f, path, &plan->tensors[i], seed, err);
    /* Buffered data reaches the disk only here: a full disk shows up now. */
    if (fclose(f) != 0 && st == GROOT_OK)
        st = gr_fail(err, GROOT_ERR_IO, "writing '%s': %s", path, strerror(errno));
    if (st != GROOT_OK)
        gr_synth_discard(path);
    return st;
}

static groot_status write_index(const gr_synth_plan *plan, const char *path, gr_error *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = root ? cJSON_AddObjectToObject(root, "metadata") : NULL;
    int ok = meta && cJSON_AddNumberToObject(meta, "total_size", (double)plan->total_bytes);
    cJSON *map = ok ? cJSON_AddObjectToObject(root, "weight_map") : NULL;
    ok = map != NULL;
    for (int i = 0; ok && i < plan->count; i++) {
        char name[64];
        gr_synth_shard_name(plan->tensors[i].shard, plan->num_shards, name, sizeof name);
        ok = cJSON_AddStringToObject(map, plan->tensors[i].name, name) != NULL;
    }
    groot_status st = ok ? gr_synth_write_json(root, path, err)
                         : gr_fail(err, GROOT_ERR_NOMEM, "out of memory building '%s'", path);
    cJSON_Delete(root);
    return st;
}

static groot_status synth(const char *preset_name, uint64_t seed, const char *out_dir,
                          gr_synth_plan *plan, gr_error *err)
{
    const gr_synth_preset *preset = gr_synth_find_preset(preset_name);
    if (!preset)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "unknown synth preset '%s' (expected \"tiny\" or \"n1.5-3b\")",
                       preset_name ? preset_name : "(null)");
    if (!out_dir || !*out_dir)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "no output directory given");
    GR_TRY(gr_synth_plan_build(&preset->cfg, preset->max_shard_bytes, plan, err));

    char path[PATH_CAP];
    GR_TRY(join(path, out_dir, "eagle2_hg_model", err));
    GR_TRY(make_dirs(path, err));
    GR_TRY(join(path, out_dir, "experiment_cfg", err));
    GR_TRY(make_dirs(path, err));

    GR_TRY(join(path, out_dir, "config.json", err));
    GR_TRY(gr_synth_write_config(preset, path, err));
    GR_TRY(join(path, out_dir, "eagle2_hg_model/config.json", err));
    GR_TRY(gr_synth_write_eagle_config(preset, path, err));
    GR_TRY(join(path, out_dir, "experiment_cfg/metadata.json", err));
    GR_TRY(gr_synth_write_metadata(seed, path, err));

    for (int s = 0; s < plan->num_shards; s++) {
        char name[64];
        gr_synth_shard_name(s, plan->num_shards, name, sizeof name);
        GR_TRY(join(path, out_dir, name, err));
        GR_TRY(write_shard(plan, s, seed, path, err));
    }
    GR_TRY(join(path, out_dir, "model.safetensors.index.json", err));
    return write_index(plan, path, err);
}

groot_status groot_synth(const char *preset, uint64_t seed, const char *out_dir, char *errbuf,
                         size_t errbuf_size)
{
    gr_error err;
    gr_error_clear(&err);
    gr_synth_plan plan;
    memset(&plan, 0, sizeof plan);
    groot_status st = synth(preset, seed, out_dir, &plan, &err);
    gr_synth_plan_free(&plan);
    if (errbuf && errbuf_size > 0)
        snprintf(errbuf, errbuf_size, "%s", st == GROOT_OK ? "" : err.msg);
    return st;
}
