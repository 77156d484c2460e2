/*
 * experiment_cfg/metadata.json for one embodiment tag (see metadata.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/json_util.h"
#include "policy/metadata.h"

static const char *const k_stat_names[GR_STAT_COUNT] = {"min", "max", "mean", "std", "q01", "q99"};

const char *gr_stat_name(gr_stat s)
{
    return (unsigned)s < GR_STAT_COUNT ? k_stat_names[s] : "?";
}

static void free_key(gr_meta_key *k)
{
    free(k->name);
    free(k->rotation_type);
    for (int s = 0; s < GR_STAT_COUNT; s++)
        free(k->stat[s]);
}

void gr_metadata_free(gr_metadata *md)
{
    if (!md)
        return;
    for (int i = 0; i < md->num_state; i++)
        free_key(&md->state[i]);
    for (int i = 0; i < md->num_action; i++)
        free_key(&md->action[i]);
    for (int i = 0; i < md->num_video; i++)
        free(md->video[i].name);
    free(md->state);
    free(md->action);
    free(md->video);
    free(md->tag);
    free(md->path);
    free(md);
}

/* Counts the numbers of a (possibly nested) list; -1 if anything else. */
static int count_numbers(const cJSON *a)
{
    if (cJSON_IsNumber(a))
        return 1;
    if (!cJSON_IsArray(a))
        return -1;
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        int c = count_numbers(e);
        if (c < 0)
            return -1;
        n += c;
    }
    return n;
}

static void flatten(const cJSON *a, double *out, int *n)
{
    if (cJSON_IsNumber(a)) {
        /* float32, as torch.tensor(list) makes it in the reference */
        out[(*n)++] = (double)(float)a->valuedouble;
        return;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, a) flatten(e, out, n);
}

/* Finds or adds subkey `name` in the list. */
static gr_meta_key *key_slot(gr_meta_key **list, int *count, const char *name)
{
    for (int i = 0; i < *count; i++)
        if (strcmp((*list)[i].name, name) == 0)
            return &(*list)[i];
    gr_meta_key *l = realloc(*list, (size_t)(*count + 1) * sizeof **list);
    if (!l)
        return NULL;
    *list = l;
    gr_meta_key *k = &l[*count];
    memset(k, 0, sizeof *k);
    k->name = strdup(name);
    if (!k->name)
        return NULL;
    k->absolute = 1;
    k->continuous = 1;
    (*count)++;
    return k;
}

static groot_status parse_stats(gr_metadata *md, const cJSON *sec, const char *modality,
                                gr_meta_key **list, int *count, gr_error *err)
{
    if (!sec || cJSON_IsNull(sec))
        return GROOT_OK;
    if (!cJSON_IsObject(sec))
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.statistics.%s must be an object", md->path,
                       md->tag, modality);
    const cJSON *e;
    cJSON_ArrayForEach(e, sec)
    {
        if (!cJSON_IsObject(e))
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.statistics.%s.%s must be an object",
                           md->path, md->tag, modality, e->string);
        gr_meta_key *k = key_slot(list, count, e->string);
        if (!k)
            return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", md->path);
        /* A key given twice: the last entry wins, as with Python's json. */
        for (int s = 0; s < GR_STAT_COUNT; s++) {
            free(k->stat[s]);
            k->stat[s] = NULL;
            k->stat_len[s] = 0;
        }
        for (int s = 0; s < GR_STAT_COUNT; s++) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, k_stat_names[s]);
            if (!a || cJSON_IsNull(a))
                continue;
            int n = count_numbers(a);
            if (n < 0)
                return gr_fail(err, GROOT_ERR_FORMAT,
                               "%s: %s.statistics.%s.%s.%s must be a list of numbers", md->path,
                               md->tag, modality, e->string, k_stat_names[s]);
            k->stat[s] = malloc(sizeof(double) * (size_t)(n ? n : 1));
            if (!k->stat[s])
                return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", md->path);
            int m = 0;
            flatten(a, k->stat[s], &m);
            k->stat_len[s] = n;
        }
    }
    return GROOT_OK;
}

static groot_status parse_modality(gr_metadata *md, const cJSON *sec, const char *modality,
                                   gr_meta_key **list, int *count, gr_error *err)
{
    if (!sec || cJSON_IsNull(sec))
        return GROOT_OK;
    if (!cJSON_IsObject(sec))
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.modalities.%s must be an object", md->path,
                       md->tag, modality);
    const cJSON *e;
    cJSON_ArrayForEach(e, sec)
    {
        char ctx[512];
        snprintf(ctx, sizeof ctx, "%s.modalities.%s.%s", md->tag, modality, e->string);
        if (!cJSON_IsObject(e))
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s must be an object", md->path, ctx);
        gr_meta_key *k = key_slot(list, count, e->string);
        if (!k)
            return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", md->path);
        /* A key given twice: the last entry wins, as with Python's json. */
        k->has_modality = 1;
        k->dim = 0;
        free(k->rotation_type);
        k->rotation_type = NULL;
        k->absolute = 1;
        k->continuous = 1;
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        if (shape && !cJSON_IsNull(shape)) {
            if (!cJSON_IsArray(shape))
                return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.shape must be a list of integers",
                               md->path, ctx);
            long long dim = 1;
            const cJSON *d;
            cJSON_ArrayForEach(d, shape)
            {
                /* Range-checked before any conversion: a huge value must not
                 * reach the cast or overflow the product. */
                long long v;
                if (!gr_json_as_size(d, &v))
                    return gr_fail(err, GROOT_ERR_FORMAT,
                                   "%s: %s.shape must be a list of non-negative integers",
                                   md->path, ctx);
                if (dim != 0 && v > 1 << 20)
                    return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.shape is implausibly large",
                                   md->path, ctx);
                dim *= v;
                if (dim > 1 << 20)
                    return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.shape is implausibly large",
                                   md->path, ctx);
            }
            k->dim = (int)dim;
        }
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(e, "rotation_type");
        if (rt && !cJSON_IsNull(rt)) {
            if (!cJSON_IsString(rt))
                return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.rotation_type must be a string or null",
                               md->path, ctx);
            k->rotation_type = strdup(rt->valuestring);
            if (!k->rotation_type)
                return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", md->path);
        }
        const char *flags[2] = {"absolute", "continuous"};
        int *dst[2] = {&k->absolute, &k->continuous};
        for (int f = 0; f < 2; f++) {
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, flags[f]);
            if (!b || cJSON_IsNull(b))
                continue;
            if (!cJSON_IsBool(b))
                return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.%s must be true or false",
                               md->path, ctx, flags[f]);
            *dst[f] = cJSON_IsTrue(b);
        }
    }
    return GROOT_OK;
}

static groot_status parse_video(gr_metadata *md, const cJSON *sec, gr_error *err)
{
    if (!sec || cJSON_IsNull(sec))
        return GROOT_OK;
    if (!cJSON_IsObject(sec))
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s.modalities.video must be an object",
                       md->path, md->tag);
    int n = cJSON_GetArraySize(sec);
    md->video = calloc((size_t)(n ? n : 1), sizeof *md->video);
    if (!md->video)
        return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", md->path);
    const cJSON *e;
    cJSON_ArrayForEach(e, sec)
    {
        gr_meta_video *v = &md->video[md->num_video++];
        v->name = strdup(e->string);
        if (!v->name)
            return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", md->path);
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(e, "resolution");
        if (res && !cJSON_IsNull(res)) {
            if (!cJSON_IsArray(res) || cJSON_GetArraySize(res) != 2 ||
                !cJSON_IsNumber(cJSON_GetArrayItem(res, 0)) ||
                !cJSON_IsNumber(cJSON_GetArrayItem(res, 1)))
                return gr_fail(err, GROOT_ERR_FORMAT,
                               "%s: %s.modalities.video.%s.resolution must be [width, height]",
                               md->path, md->tag, e->string);
            v->width = cJSON_GetArrayItem(res, 0)->valueint;
            v->height = cJSON_GetArrayItem(res, 1)->valueint;
        }
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(e, "channels");
        v->channels = cJSON_IsNumber(ch) ? ch->valueint : 3;
        const cJSON *fps = cJSON_GetObjectItemCaseSensitive(e, "fps");
        v->fps = cJSON_IsNumber(fps) ? fps->valuedouble : 0.0;
    }
    return GROOT_OK;
}

groot_status gr_metadata_load(const char *path, const char *tag, gr_metadata **out,
                              gr_error *err)
{
    *out = NULL;
    cJSON *root = NULL;
    GR_TRY(gr_json_load_object(path, &root, err));
    const cJSON *entry = tag ? cJSON_GetObjectItemCaseSensitive(root, tag) : NULL;
    if (!entry) {
        char tags[2048] = "";
        size_t o = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, root)
        {
            int n = snprintf(tags + o, sizeof tags - o, "%s%s", o ? ", " : "", e->string);
            if (n < 0 || (size_t)n >= sizeof tags - o)
                break;
            o += (size_t)n;
        }
        groot_status st = gr_fail(err, GROOT_ERR_INVALID_ARG,
                                  "%s: no embodiment tag \"%s\": the tags present are: %s", path,
                                  tag ? tag : "(null)", o ? tags : "(none)");
        cJSON_Delete(root);
        return st;
    }
    gr_metadata *md = calloc(1, sizeof *md);
    groot_status st = GROOT_OK;
    if (!md || !(md->tag = strdup(tag)) || !(md->path = strdup(path)))
        st = gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", path);
    if (st == GROOT_OK && !cJSON_IsObject(entry))
        st = gr_fail(err, GROOT_ERR_FORMAT, "%s: \"%s\" must be an object", path, tag);
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(entry, "statistics");
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(entry, "modalities");
    if (st == GROOT_OK)
        st = parse_stats(md, cJSON_GetObjectItemCaseSensitive(stats, "state"), "state",
                         &md->state, &md->num_state, err);
    if (st == GROOT_OK)
        st = parse_stats(md, cJSON_GetObjectItemCaseSensitive(stats, "action"), "action",
                         &md->action, &md->num_action, err);
    if (st == GROOT_OK)
        st = parse_modality(md, cJSON_GetObjectItemCaseSensitive(mods, "state"), "state",
                            &md->state, &md->num_state, err);
    if (st == GROOT_OK)
        st = parse_modality(md, cJSON_GetObjectItemCaseSensitive(mods, "action"), "action",
                            &md->action, &md->num_action, err);
    if (st == GROOT_OK)
        st = parse_video(md, cJSON_GetObjectItemCaseSensitive(mods, "video"), err);
    cJSON_Delete(root);
    if (st != GROOT_OK) {
        gr_metadata_free(md);
        return st;
    }
    *out = md;
    return GROOT_OK;
}

const gr_meta_key *gr_metadata_key(const gr_metadata *md, const char *modality,
                                   const char *subkey)
{
    int is_state = strcmp(modality, "state") == 0;
    const gr_meta_key *l = is_state ? md->state : md->action;
    int n = is_state ? md->num_state : md->num_action;
    for (int i = 0; i < n; i++)
        if (strcmp(l[i].name, subkey) == 0)
            return &l[i];
    return NULL;
}

const gr_meta_video *gr_metadata_video(const gr_metadata *md, const char *subkey)
{
    for (int i = 0; i < md->num_video; i++)
        if (strcmp(md->video[i].name, subkey) == 0)
            return &md->video[i];
    return NULL;
}

groot_status gr_metadata_stat(const gr_metadata *md, const char *modality, const char *subkey,
                              gr_stat which, int len, const double **vals, gr_error *err)
{
    const gr_meta_key *k = gr_metadata_key(md, modality, subkey);
    if (!k || !k->stat[which])
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: embodiment tag \"%s\": statistic \"%s\" of %s key \"%s\" is missing "
                       "(%s.statistics.%s.%s.%s)",
                       md->path, md->tag, k_stat_names[which], modality, subkey, md->tag,
                       modality, subkey, k_stat_names[which]);
    if (len > 0 && k->stat_len[which] != len)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: embodiment tag \"%s\": statistic \"%s\" of %s key \"%s\" has %d "
                       "values, expected %d",
                       md->path, md->tag, k_stat_names[which], modality, subkey,
                       k->stat_len[which], len);
    *vals = k->stat[which];
    return GROOT_OK;
}
