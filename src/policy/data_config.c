/*
 * Data config loading: assets/data_configs.json (or a user file in the same
 * schema) -> gr_data_config. See data_config.h and docs/data_configs.md.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/json_util.h"
#include "policy/data_config.h"

#ifndef GROOT_ASSETS_DIR
#define GROOT_ASSETS_DIR "assets"
#endif

/* Transforms that only act in training (random augmentation) or only change
 * the container type: nothing to do at inference. */
static const char *const k_noop_transforms[] = {
    "VideoToTensor", "VideoToNumpy", "VideoColorJitter", "VideoRandomGrayscale",
    "VideoRandomPosterize", "VideoRandomRotation", "VideoHorizontalFlip", "VideoGrayscale",
    "StateActionToTensor", "StateActionDropout", "StateActionPerturbation",
};

const char *gr_norm_mode_name(gr_norm_mode m)
{
    switch (m) {
    case GR_NORM_NONE: return "none";
    case GR_NORM_MIN_MAX: return "min_max";
    case GR_NORM_Q99: return "q99";
    case GR_NORM_MEAN_STD: return "mean_std";
    case GR_NORM_BINARY: return "binary";
    }
    return "?";
}

int gr_strlist_find(const gr_strlist *l, const char *key)
{
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->items[i], key) == 0)
            return i;
    return -1;
}

void gr_data_config_free(gr_data_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->video_keys.items);
    free(cfg->state_keys.items);
    free(cfg->action_keys.items);
    free(cfg->language_keys.items);
    free(cfg->video_order.items);
    free(cfg->state_order.items);
    free(cfg->action_order.items);
    free(cfg->observation_indices);
    free(cfg->action_indices);
    free(cfg->video);
    for (int i = 0; i < cfg->num_sa; i++)
        free(cfg->sa[i].steps);
    free(cfg->sa);
    cJSON_Delete(cfg->json_);
    free((char *)cfg->name);
    free((char *)cfg->source);
    free(cfg);
}

/* ---- parsing helpers; `ctx` is "file: config NAME" for messages ---- */

/* Whether a JSON number is a whole value within int range (range-checked
 * before the conversion, which is undefined for values out of range). */
static int is_int_number(const cJSON *it)
{
    if (!cJSON_IsNumber(it))
        return 0;
    double d = it->valuedouble;
    return d >= INT_MIN && d <= INT_MAX && d == (double)(int)d;
}

static groot_status get_strlist(const cJSON *obj, const char *field, const char *ctx, int required,
                                gr_strlist *out, gr_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, field);
    out->items = NULL;
    out->count = 0;
    if (!arr || cJSON_IsNull(arr)) {
        if (required)
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: missing \"%s\" (a list of strings)", ctx,
                           field);
        return GROOT_OK;
    }
    if (!cJSON_IsArray(arr))
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: \"%s\" must be a list of strings", ctx, field);
    int n = cJSON_GetArraySize(arr);
    out->items = calloc((size_t)(n ? n : 1), sizeof(char *));
    if (!out->items)
        return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", ctx);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it))
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: \"%s\"[%d] must be a string", ctx, field,
                           out->count);
        out->items[out->count++] = it->valuestring;
    }
    return GROOT_OK;
}

static groot_status get_intlist(const cJSON *obj, const char *field, const char *ctx, int **out,
                                int *count, gr_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, field);
    *out = NULL;
    *count = 0;
    if (!arr || cJSON_IsNull(arr))
        return GROOT_OK;
    if (!cJSON_IsArray(arr))
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: \"%s\" must be a list of integers", ctx, field);
    int n = cJSON_GetArraySize(arr);
    *out = calloc((size_t)(n ? n : 1), sizeof(int));
    if (!*out)
        return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", ctx);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!is_int_number(it))
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: \"%s\"[%d] must be an integer", ctx,
                           field, *count);
        (*out)[(*count)++] = (int)it->valuedouble;
    }
    return GROOT_OK;
}

static groot_status get_int_field(const cJSON *obj, const char *field, const char *ctx, int def,
                                  int *out, gr_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!it || cJSON_IsNull(it)) {
        *out = def;
        return GROOT_OK;
    }
    if (!is_int_number(it) || it->valuedouble < 1)
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: \"%s\" must be a positive integer", ctx, field);
    *out = (int)it->valuedouble;
    return GROOT_OK;
}

/* Every key of `list` must be one of the config's keys of its modality. */
static groot_status check_keys(const gr_data_config *cfg, const gr_strlist *list,
                               const char *what, const char *ctx, gr_error *err)
{
    for (int i = 0; i < list->count; i++) {
        const char *k = list->items[i];
        const gr_strlist *pool = strncmp(k, "video.", 6) == 0    ? &cfg->video_keys
                                 : strncmp(k, "state.", 6) == 0  ? &cfg->state_keys
                                 : strncmp(k, "action.", 7) == 0 ? &cfg->action_keys
                                                                 : NULL;
        if (!pool)
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "%s: %s names \"%s\": expected a video., state. or action. key", ctx,
                           what, k);
        if (gr_strlist_find(pool, k) < 0)
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "%s: %s names \"%s\", which is not among the config's keys", ctx, what,
                           k);
    }
    return GROOT_OK;
}

static groot_status parse_mode(const char *s, const char *key, const char *ctx, gr_norm_mode *m,
                               gr_error *err)
{
    if (strcmp(s, "min_max") == 0)
        *m = GR_NORM_MIN_MAX;
    else if (strcmp(s, "q99") == 0)
        *m = GR_NORM_Q99;
    else if (strcmp(s, "mean_std") == 0)
        *m = GR_NORM_MEAN_STD;
    else if (strcmp(s, "binary") == 0)
        *m = GR_NORM_BINARY;
    else
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: normalization_modes[\"%s\"] is \"%s\": expected min_max, q99, "
                       "mean_std or binary",
                       ctx, key, s);
    return GROOT_OK;
}

static groot_status parse_sa(gr_data_config *cfg, const cJSON *t, gr_sa_kind kind,
                             const gr_strlist *apply, const char *ctx, gr_error *err)
{
    gr_sa_transform *x = &cfg->sa[cfg->num_sa];
    x->kind = kind;
    x->steps = calloc((size_t)(apply->count ? apply->count : 1), sizeof(gr_sa_step));
    if (!x->steps)
        return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", ctx);
    cfg->num_sa++;
    x->num_steps = apply->count;
    const cJSON *modes = cJSON_GetObjectItemCaseSensitive(t, "normalization_modes");
    const cJSON *rots = cJSON_GetObjectItemCaseSensitive(t, "target_rotations");
    if (kind == GR_SA_SINCOS && (modes || rots))
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: StateActionSinCosTransform takes no normalization_modes or "
                       "target_rotations", ctx);
    if ((modes && !cJSON_IsNull(modes) && !cJSON_IsObject(modes)) ||
        (rots && !cJSON_IsNull(rots) && !cJSON_IsObject(rots)))
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: normalization_modes and target_rotations must map keys to strings",
                       ctx);
    for (int i = 0; i < apply->count; i++) {
        gr_sa_step *s = &x->steps[i];
        s->key = apply->items[i];
        if (strncmp(s->key, "state.", 6) != 0 && strncmp(s->key, "action.", 7) != 0)
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "%s: a state/action transform applies to \"%s\": expected a state. or "
                           "action. key", ctx, s->key);
    }
    /* Every key named in the maps must be one the transform applies to:
     * otherwise the entry would silently do nothing. */
    const cJSON *maps[2] = {cJSON_IsObject(modes) ? modes : NULL,
                            cJSON_IsObject(rots) ? rots : NULL};
    for (int m = 0; m < 2; m++) {
        const cJSON *e;
        if (!maps[m])
            continue;
        cJSON_ArrayForEach(e, maps[m])
        {
            const char *field = m == 0 ? "normalization_modes" : "target_rotations";
            int idx = gr_strlist_find(apply, e->string);
            if (idx < 0)
                return gr_fail(err, GROOT_ERR_FORMAT,
                               "%s: %s names \"%s\", which is not in the transform's apply_to",
                               ctx, field, e->string);
            if (!cJSON_IsString(e))
                return gr_fail(err, GROOT_ERR_FORMAT, "%s: %s[\"%s\"] must be a string", ctx,
                               field, e->string);
            gr_sa_step *s = &x->steps[idx];
            if (m == 0) {
                GR_TRY(parse_mode(e->valuestring, e->string, ctx, &s->mode, err));
            } else {
                char what[512];
                snprintf(what, sizeof what, "%.300s: target_rotations[\"%.150s\"]", ctx, e->string);
                GR_TRY(gr_rotation_parse(e->valuestring, what, &s->target, err));
                s->has_target = 1;
            }
        }
    }
    return GROOT_OK;
}

static groot_status parse_config(gr_data_config *cfg, const cJSON *c, const char *ctx,
                                 gr_error *err)
{
    if (!cJSON_IsObject(c))
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: a config must be a JSON object", ctx);
    GR_TRY(get_strlist(c, "video_keys", ctx, 1, &cfg->video_keys, err));
    GR_TRY(get_strlist(c, "state_keys", ctx, 1, &cfg->state_keys, err));
    GR_TRY(get_strlist(c, "action_keys", ctx, 1, &cfg->action_keys, err));
    GR_TRY(get_strlist(c, "language_keys", ctx, 1, &cfg->language_keys, err));
    GR_TRY(get_intlist(c, "observation_indices", ctx, &cfg->observation_indices,
                       &cfg->num_observation_indices, err));
    GR_TRY(get_intlist(c, "action_indices", ctx, &cfg->action_indices, &cfg->num_action_indices,
                       err));
    const gr_strlist *lists[3] = {&cfg->video_keys, &cfg->state_keys, &cfg->action_keys};
    const char *prefixes[3] = {"video.", "state.", "action."};
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < lists[l]->count; i++)
            if (strncmp(lists[l]->items[i], prefixes[l], strlen(prefixes[l])) != 0)
                return gr_fail(err, GROOT_ERR_FORMAT, "%s: key \"%s\" should start with \"%s\"",
                               ctx, lists[l]->items[i], prefixes[l]);

    cfg->video = calloc((size_t)(cfg->video_keys.count ? cfg->video_keys.count : 1),
                        sizeof(gr_video_prep));
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(c, "transforms");
    int nt = cJSON_IsArray(ts) ? cJSON_GetArraySize(ts) : 0;
    cfg->sa = calloc((size_t)(nt ? nt : 1), sizeof(gr_sa_transform));
    if (!cfg->video || !cfg->sa)
        return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", ctx);
    for (int i = 0; i < cfg->video_keys.count; i++) {
        cfg->video[i].key = cfg->video_keys.items[i];
        cfg->video[i].crop_scale = 1.0;
    }
    if (ts && !cJSON_IsArray(ts))
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: \"transforms\" must be a list", ctx);
    cfg->state_horizon = 1;
    cfg->action_horizon = 16;
    cfg->max_state_dim = 64;
    cfg->max_action_dim = 32;
    int have_concat = 0;

    int ti = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, ts)
    {
        char tctx[768];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "transform");
        if (!cJSON_IsObject(t) || !cJSON_IsString(nm))
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "%s: transforms[%d] must be an object with a \"transform\" name", ctx,
                           ti);
        const char *name = nm->valuestring;
        snprintf(tctx, sizeof tctx, "%.500s: transforms[%d] (%.100s)", ctx, ti, name);
        ti++;
        int noop = 0;
        for (size_t k = 0; k < sizeof k_noop_transforms / sizeof *k_noop_transforms; k++)
            noop |= strcmp(name, k_noop_transforms[k]) == 0;
        if (noop)
            continue;

        gr_strlist apply = {0};
        int is_video = strcmp(name, "VideoCrop") == 0 || strcmp(name, "VideoResize") == 0;
        int is_sa = strcmp(name, "StateActionSinCosTransform") == 0 ||
                    strcmp(name, "StateActionTransform") == 0;
        if (is_video || is_sa) {
            groot_status st = get_strlist(t, "apply_to", tctx, 1, &apply, err);
            if (st == GROOT_OK)
                st = check_keys(cfg, &apply, "apply_to", tctx, err);
            if (st == GROOT_OK && is_video) {
                for (int k = 0; k < apply.count && st == GROOT_OK; k++) {
                    int vi = gr_strlist_find(&cfg->video_keys, apply.items[k]);
                    if (vi < 0) {
                        st = gr_fail(err, GROOT_ERR_FORMAT,
                                     "%s: applies to \"%s\": expected a video key", tctx,
                                     apply.items[k]);
                        break;
                    }
                    gr_video_prep *v = &cfg->video[vi];
                    if (strcmp(name, "VideoCrop") == 0) {
                        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(t, "scale");
                        if (!cJSON_IsNumber(sc) || !(sc->valuedouble > 0 && sc->valuedouble <= 1))
                            st = gr_fail(err, GROOT_ERR_FORMAT,
                                         "%s: \"scale\" must be a number in (0, 1]", tctx);
                        else
                            v->crop_scale = sc->valuedouble;
                    } else {
                        const cJSON *ip = cJSON_GetObjectItemCaseSensitive(t, "interpolation");
                        if (ip && !(cJSON_IsString(ip) && strcmp(ip->valuestring, "linear") == 0))
                            st = gr_fail(err, GROOT_ERR_UNSUPPORTED,
                                         "%s: interpolation \"%s\": only \"linear\" (antialiased "
                                         "bilinear) is implemented",
                                         tctx, cJSON_IsString(ip) ? ip->valuestring : "?");
                        if (st == GROOT_OK)
                            st = get_int_field(t, "height", tctx, 0, &v->resize_h, err);
                        if (st == GROOT_OK)
                            st = get_int_field(t, "width", tctx, 0, &v->resize_w, err);
                        if (st == GROOT_OK && (v->resize_h == 0 || v->resize_w == 0))
                            st = gr_fail(err, GROOT_ERR_FORMAT,
                                         "%s: \"height\" and \"width\" are required", tctx);
                    }
                }
            } else if (st == GROOT_OK) {
                st = parse_sa(cfg, t,
                              strcmp(name, "StateActionTransform") == 0 ? GR_SA_TRANSFORM
                                                                          : GR_SA_SINCOS,
                              &apply, tctx, err);
            }
            free(apply.items);
            GR_TRY(st);
        } else if (strcmp(name, "ConcatTransform") == 0) {
            free(cfg->video_order.items);
            free(cfg->state_order.items);
            free(cfg->action_order.items);
            memset(&cfg->video_order, 0, sizeof cfg->video_order);
            memset(&cfg->state_order, 0, sizeof cfg->state_order);
            memset(&cfg->action_order, 0, sizeof cfg->action_order);
            GR_TRY(get_strlist(t, "video_concat_order", tctx, 0, &cfg->video_order, err));
            GR_TRY(get_strlist(t, "state_concat_order", tctx, 0, &cfg->state_order, err));
            GR_TRY(get_strlist(t, "action_concat_order", tctx, 0, &cfg->action_order, err));
            GR_TRY(check_keys(cfg, &cfg->video_order, "video_concat_order", tctx, err));
            GR_TRY(check_keys(cfg, &cfg->state_order, "state_concat_order", tctx, err));
            GR_TRY(check_keys(cfg, &cfg->action_order, "action_concat_order", tctx, err));
            have_concat = 1;
        } else if (strcmp(name, "GR00TTransform") == 0) {
            GR_TRY(get_int_field(t, "state_horizon", tctx, 1, &cfg->state_horizon, err));
            GR_TRY(get_int_field(t, "action_horizon", tctx, 16, &cfg->action_horizon, err));
            GR_TRY(get_int_field(t, "max_state_dim", tctx, 64, &cfg->max_state_dim, err));
            GR_TRY(get_int_field(t, "max_action_dim", tctx, 32, &cfg->max_action_dim, err));
        } else {
            return gr_fail(err, GROOT_ERR_UNSUPPORTED,
                           "%s: unknown transform \"%s\" (known: VideoCrop, VideoResize, "
                           "StateActionSinCosTransform, StateActionTransform, ConcatTransform, "
                           "GR00TTransform and the train-only/no-op Video*/StateAction* ones)",
                           ctx, name);
        }
    }
    /* Without a ConcatTransform (or without one of its orders), the key
     * lists' own order is the order. */
    const gr_strlist *defaults[3] = {&cfg->video_keys, &cfg->state_keys, &cfg->action_keys};
    gr_strlist *orders[3] = {&cfg->video_order, &cfg->state_order, &cfg->action_order};
    (void)have_concat;
    for (int l = 0; l < 3; l++) {
        if (orders[l]->items)
            continue;
        int n = defaults[l]->count;
        orders[l]->items = calloc((size_t)(n ? n : 1), sizeof(char *));
        if (!orders[l]->items)
            return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory", ctx);
        memcpy(orders[l]->items, defaults[l]->items, (size_t)n * sizeof(char *));
        orders[l]->count = n;
    }
    return GROOT_OK;
}

static int is_bare_config(const cJSON *root)
{
    return cJSON_GetObjectItemCaseSensitive(root, "video_keys") != NULL;
}

static void list_names(const cJSON *root, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        if (o + 1 >= size)
            break;
        int n = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", e->string);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

groot_status gr_data_config_list(const char *path, char *buf, size_t size, gr_error *err)
{
    cJSON *root = NULL;
    GR_TRY(gr_json_load_object(path, &root, err));
    if (is_bare_config(root))
        snprintf(buf, size, "(one unnamed config)");
    else
        list_names(root, buf, size);
    cJSON_Delete(root);
    return GROOT_OK;
}

groot_status gr_data_config_load_file(const char *path, const char *name, gr_data_config **out,
                                      gr_error *err)
{
    *out = NULL;
    cJSON *root = NULL;
    GR_TRY(gr_json_load_object(path, &root, err));
    const cJSON *c = NULL;
    const char *cname = name;
    if (is_bare_config(root)) {
        c = root;
        if (!cname)
            cname = "custom";
    } else if (name) {
        c = cJSON_GetObjectItemCaseSensitive(root, name);
        if (!c) {
            char names[2048];
            list_names(root, names, sizeof names);
            cJSON_Delete(root);
            return gr_fail(err, GROOT_ERR_INVALID_ARG,
                           "unknown data config \"%s\" in %s: available: %s", name, path, names);
        }
    } else {
        if (cJSON_GetArraySize(root) != 1) {
            char names[2048];
            list_names(root, names, sizeof names);
            cJSON_Delete(root);
            return gr_fail(err, GROOT_ERR_INVALID_ARG,
                           "%s holds several data configs (%s): name one as %s:NAME", path,
                           names, path);
        }
        c = root->child;
        cname = c->string;
    }
    gr_data_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        cJSON_Delete(root);
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory");
    }
    cfg->json_ = root;
    cfg->name = strdup(cname);
    cfg->source = strdup(path);
    if (!cfg->name || !cfg->source) {
        gr_data_config_free(cfg);
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory");
    }
    char ctx[768];
    snprintf(ctx, sizeof ctx, "%s: data config \"%s\"", path, cname);
    groot_status st = parse_config(cfg, c, ctx, err);
    if (st != GROOT_OK) {
        gr_data_config_free(cfg);
        return st;
    }
    *out = cfg;
    return GROOT_OK;
}

groot_status gr_data_config_open(const char *spec, const char *assets_dir, gr_data_config **out,
                                 gr_error *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "no data config given");
    size_t n = strlen(spec);
    const char *json_colon = strstr(spec, ".json:");
    if (json_colon) {
        size_t plen = (size_t)(json_colon - spec) + 5;
        char *path = malloc(plen + 1);
        if (!path)
            return gr_fail(err, GROOT_ERR_NOMEM, "out of memory");
        memcpy(path, spec, plen);
        path[plen] = '\0';
        groot_status st = gr_data_config_load_file(path, json_colon + 6, out, err);
        free(path);
        return st;
    }
    if ((n > 5 && strcmp(spec + n - 5, ".json") == 0) || strchr(spec, '/'))
        return gr_data_config_load_file(spec, NULL, out, err);
    char path[4096];
    snprintf(path, sizeof path, "%s/data_configs.json", assets_dir ? assets_dir : GROOT_ASSETS_DIR);
    return gr_data_config_load_file(path, spec, out, err);
}
