/*
 * The policy: a raw observation in, actions in the robot's units out
 * (SPEC.md sections 2, 3 and 6 around the network of sections 4 and 5).
 *
 *   observation ──┬─ video.K  u8 [T,H,W,3] ─ crop window (the model resizes) ┐
 *                 ├─ state.K  [1,d]        ─ transforms, concat, pad ───┤
 *                 └─ instruction           ─ prompt + tokenizer ────────┤
 *                                                                       ▼
 *                                   groot_forward (one sample at a time │
 *                                   semantics, the whole batch at once) │
 *                                                                       ▼
 *                         action.K [16,d] ◄─ split, unnormalize ◄─ action_pred
 *
 * Buffers are owned by the policy and grown only when a larger batch
 * arrives, so a steady stream of calls allocates nothing. Camera frames go
 * to the network as they are, with their crop windows: the model's backend
 * resizes them (on the GPU, where the model runs there).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/error.h"
#include "image/image.h"
#include "policy/data_config.h"
#include "policy/metadata.h"
#include "policy/normalize.h"
#include "policy/noise.h"
#include "text/prompt.h"
#include "text/tokenizer.h"

#ifndef GROOT_ASSETS_DIR
#define GROOT_ASSETS_DIR "assets"
#endif

/* Per-sample inputs the network needs, grown on demand. */
typedef struct policy_sample_bufs {
    int32_t *ids;
    size_t ids_cap;
    groot_frame *frames; /* [V]: the observation's frames and crop windows */
    float *state;  /* [max_state_dim] */
    float *noise;  /* [horizon, action_dim] */
    float *action_pred;
} policy_sample_bufs;

struct groot_policy {
    gr_handle base;
    groot_model *model;
    groot_model_dims dims;
    gr_tokenizer *tok;
    gr_data_config *cfg;
    gr_metadata *md;
    gr_transform_plan *plan;
    int embodiment_id;
    gr_noise_rng rng;
    int num_state_keys, num_action_keys;
    double *state_row;      /* concatenated raw state values of one sample */
    const double **state_in; /* per key pointers into state_row */

    policy_sample_bufs *samples;
    int samples_cap;
    groot_sample *net_in;
    groot_sample_out *net_out;

    groot_array *actions;  /* one per action key */
    char **action_names;
    float *action_data;    /* [B, horizon, sum of raw dims] laid out per key */
    size_t action_cap;
    float **inverse_out;   /* per key destination rows of one sample */

    char *modality_json;
    groot_timings timings;
};

/* The reference's embodiment tag -> category id mapping (SPEC.md section 6). */
static int embodiment_category(const char *tag)
{
    static const struct { const char *tag; int id; } map[] = {
        {"new_embodiment", 31}, {"oxe_droid", 17}, {"agibot_genie1", 26}, {"gr1", 24},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].tag, tag))
            return map[i].id;
    return -1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static groot_status policy_fail(groot_policy *p, groot_status st, const char *fmt, const char *a,
                                const char *b)
{
    return gr_fail(&p->base.err, st, fmt, a, b);
}

void groot_policy_options_init(groot_policy_options *o)
{
    memset(o, 0, sizeof *o);
    groot_model_options_init(&o->model);
    o->data_config = "fourier_gr1_arms_only";
    o->embodiment_tag = "gr1";
}

/* {"delta_indices":[...],"modality_keys":[...]} under `name`, in cJSON so
 * that any key a user config holds comes out properly escaped. */
static int add_modality(cJSON *root, const char *name, const int *idx, int n_idx, const gr_strlist *keys)
{
    cJSON *m = cJSON_AddObjectToObject(root, name);
    cJSON *d = m ? cJSON_AddArrayToObject(m, "delta_indices") : NULL;
    cJSON *k = m ? cJSON_AddArrayToObject(m, "modality_keys") : NULL;
    if (!d || !k)
        return 0;
    for (int i = 0; i < n_idx; i++)
        if (!cJSON_AddItemToArray(d, cJSON_CreateNumber(idx[i])))
            return 0;
    for (int i = 0; i < keys->count; i++)
        if (!cJSON_AddItemToArray(k, cJSON_CreateString(keys->items[i])))
            return 0;
    return 1;
}

static groot_status build_modality_json(groot_policy *p)
{
    const gr_data_config *c = p->cfg;
    cJSON *root = cJSON_CreateObject();
    int ok = root &&
             add_modality(root, "video", c->observation_indices, c->num_observation_indices, &c->video_keys) &&
             add_modality(root, "state", c->observation_indices, c->num_observation_indices, &c->state_keys) &&
             add_modality(root, "action", c->action_indices, c->num_action_indices, &c->action_keys) &&
             add_modality(root, "language", c->observation_indices, c->num_observation_indices,
                          &c->language_keys);
    p->modality_json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!p->modality_json)
        return gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory");
    return GROOT_OK;
}

/* Checks that the data config fits the network it drives. */
static groot_status check_config_fits_model(groot_policy *p)
{
    const gr_data_config *c = p->cfg;
    char a[64], b[64];
    for (int i = 0; i < c->video_keys.count; i++) {
        const gr_video_prep *v = &c->video[i];
        if (v->resize_h != 0 && (v->resize_h != p->dims.image_size || v->resize_w != p->dims.image_size)) {
            snprintf(a, sizeof a, "%dx%d", v->resize_h, v->resize_w);
            snprintf(b, sizeof b, "%dx%d", p->dims.image_size, p->dims.image_size);
            return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG,
                           "data config '%s' resizes %s to %s but the model takes %s images", c->name,
                           v->key, a, b);
        }
    }
    if (c->num_observation_indices != 1)
        return gr_fail(&p->base.err, GROOT_ERR_UNSUPPORTED,
                       "data config '%s' uses %d observation steps; groot supports 1", c->name,
                       c->num_observation_indices);
    if (c->action_horizon != p->dims.action_horizon)
        return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG,
                       "data config '%s' has action horizon %d but the model predicts %d", c->name,
                       c->action_horizon, p->dims.action_horizon);
    if (c->max_state_dim != p->dims.max_state_dim)
        return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG,
                       "data config '%s' pads the state to %d but the model takes %d", c->name,
                       c->max_state_dim, p->dims.max_state_dim);
    if (gr_plan_total_model_dim(p->plan, GR_SIDE_ACTION) > p->dims.action_dim)
        return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG,
                       "data config '%s' needs %d action dims but the model predicts %d", c->name,
                       gr_plan_total_model_dim(p->plan, GR_SIDE_ACTION), p->dims.action_dim);
    if (c->language_keys.count != 1)
        return gr_fail(&p->base.err, GROOT_ERR_UNSUPPORTED,
                       "data config '%s' has %d language keys; groot supports exactly 1", c->name,
                       c->language_keys.count);
    return GROOT_OK;
}

static groot_status alloc_fixed(groot_policy *p)
{
    p->num_state_keys = gr_plan_num_keys(p->plan, GR_SIDE_STATE);
    p->num_action_keys = gr_plan_num_keys(p->plan, GR_SIDE_ACTION);
    int raw_state = 0;
    for (int i = 0; i < p->num_state_keys; i++)
        raw_state += gr_plan_raw_dim(p->plan, GR_SIDE_STATE, i);
    p->state_row = calloc((size_t)raw_state + 1, sizeof(double));
    p->state_in = calloc((size_t)p->num_state_keys + 1, sizeof *p->state_in);
    p->actions = calloc((size_t)p->num_action_keys + 1, sizeof *p->actions);
    p->action_names = calloc((size_t)p->num_action_keys + 1, sizeof *p->action_names);
    p->inverse_out = calloc((size_t)p->num_action_keys + 1, sizeof *p->inverse_out);
    if (!p->state_row || !p->state_in || !p->actions || !p->action_names || !p->inverse_out)
        return gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory");
    double *row = p->state_row;
    for (int i = 0; i < p->num_state_keys; i++) {
        p->state_in[i] = row;
        row += gr_plan_raw_dim(p->plan, GR_SIDE_STATE, i);
    }
    for (int i = 0; i < p->num_action_keys; i++) {
        p->action_names[i] = strdup(gr_plan_key(p->plan, GR_SIDE_ACTION, i));
        if (!p->action_names[i])
            return gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory");
    }
    return GROOT_OK;
}

groot_status groot_policy_open(const char *checkpoint_dir, const groot_policy_options *opts,
                               groot_policy **out)
{
    groot_policy *p = calloc(1, sizeof *p);
    *out = p;
    if (!p)
        return GROOT_ERR_NOMEM;
    gr_handle_init(&p->base);
    groot_policy_options defaults;
    if (!opts) {
        groot_policy_options_init(&defaults);
        opts = &defaults;
    }
    gr_error *err = &p->base.err;
    const char *assets = opts->assets_dir ? opts->assets_dir : GROOT_ASSETS_DIR;
    groot_status st;

    if (!checkpoint_dir)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "no checkpoint directory given");
    if (!opts->embodiment_tag || !opts->data_config)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "a data config and an embodiment tag are required");
    p->embodiment_id = embodiment_category(opts->embodiment_tag);
    if (p->embodiment_id < 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "unknown embodiment tag '%s' (known: new_embodiment, oxe_droid, agibot_genie1, gr1)",
                       opts->embodiment_tag);

    char path[4096];
    snprintf(path, sizeof path, "%s/eagle2_hg_model", assets);
    if ((st = gr_tokenizer_load(path, &p->tok, err)) != GROOT_OK)
        return st;
    if ((st = gr_data_config_open(opts->data_config, assets, &p->cfg, err)) != GROOT_OK)
        return st;
    snprintf(path, sizeof path, "%s/experiment_cfg/metadata.json", checkpoint_dir);
    if ((st = gr_metadata_load(path, opts->embodiment_tag, &p->md, err)) != GROOT_OK)
        return st;
    if ((st = gr_transform_plan_build(p->cfg, p->md, &p->plan, err)) != GROOT_OK)
        return st;

    if ((st = groot_model_open(checkpoint_dir, opts->assets_dir, &opts->model, &p->model)) != GROOT_OK) {
        gr_fail(err, st, "%s", groot_errmsg(p->model));
        return st;
    }
    groot_model_get_dims(p->model, &p->dims);
    if ((st = check_config_fits_model(p)) != GROOT_OK)
        return st;
    if ((st = alloc_fixed(p)) != GROOT_OK)
        return st;
    if ((st = build_modality_json(p)) != GROOT_OK)
        return st;
    gr_noise_seed(&p->rng, opts->seed);
    return GROOT_OK;
}

static void free_samples(groot_policy *p)
{
    for (int i = 0; i < p->samples_cap; i++) {
        free(p->samples[i].ids);
        free(p->samples[i].frames);
        free(p->samples[i].state);
        free(p->samples[i].noise);
        free(p->samples[i].action_pred);
    }
    free(p->samples);
    free(p->net_in);
    free(p->net_out);
    p->samples = NULL;
    p->net_in = NULL;
    p->net_out = NULL;
    p->samples_cap = 0;
}

void groot_policy_close(groot_policy *p)
{
    if (!p)
        return;
    groot_model_close(p->model);
    gr_tokenizer_free(p->tok);
    gr_transform_plan_free(p->plan);
    gr_metadata_free(p->md);
    gr_data_config_free(p->cfg);
    free_samples(p);
    if (p->action_names)
        for (int i = 0; i < p->num_action_keys; i++)
            free(p->action_names[i]);
    free(p->action_names);
    free(p->actions);
    free(p->action_data);
    free(p->inverse_out);
    free(p->state_row);
    free(p->state_in);
    free(p->modality_json);
    free(p);
}

void groot_policy_seed(groot_policy *p, uint64_t seed)
{
    if (p)
        gr_noise_seed(&p->rng, seed);
}

const char *groot_policy_modality_json(groot_policy *p)
{
    return p ? p->modality_json : NULL;
}

groot_status groot_policy_timings(groot_policy *p, groot_timings *t)
{
    if (!p || !t)
        return GROOT_ERR_INVALID_ARG;
    *t = p->timings;
    return GROOT_OK;
}

/* Makes room for B samples of V views each. */
static groot_status ensure_samples(groot_policy *p, int B, int V)
{
    if (B > p->samples_cap) {
        free_samples(p);
        p->samples = calloc((size_t)B, sizeof *p->samples);
        p->net_in = calloc((size_t)B, sizeof *p->net_in);
        p->net_out = calloc((size_t)B, sizeof *p->net_out);
        if (!p->samples || !p->net_in || !p->net_out)
            return gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory for a batch of %d", B);
        p->samples_cap = B;
        size_t act = (size_t)p->dims.action_horizon * p->dims.action_dim;
        for (int b = 0; b < B; b++) {
            policy_sample_bufs *s = &p->samples[b];
            s->frames = calloc((size_t)V, sizeof *s->frames);
            s->state = malloc((size_t)p->dims.max_state_dim * sizeof(float));
            s->noise = malloc(act * sizeof(float));
            s->action_pred = malloc(act * sizeof(float));
            if (!s->frames || !s->state || !s->noise || !s->action_pred)
                return gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory for a batch of %d", B);
        }
    }
    return GROOT_OK;
}

static const groot_array *find_array(const groot_observation *obs, const char *name)
{
    for (int i = 0; i < obs->num_arrays; i++)
        if (obs->arrays[i].name && !strcmp(obs->arrays[i].name, name))
            return &obs->arrays[i];
    return NULL;
}

static void shape_str(const groot_array *a, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < a->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? "," : "", (long long)a->shape[d]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* Every array must be one the data config asks for. */
static groot_status check_keys(groot_policy *p, const groot_observation *obs)
{
    const gr_data_config *c = p->cfg;
    for (int i = 0; i < obs->num_arrays; i++) {
        const char *name = obs->arrays[i].name;
        if (!name)
            return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "observation array %d has no name", i);
        if (gr_strlist_find(&c->video_keys, name) < 0 && gr_strlist_find(&c->state_keys, name) < 0)
            return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG,
                           "unexpected key '%s' in the observation (data config '%s' takes its video.* "
                           "and state.* keys only)",
                           name, c->name);
        for (int j = 0; j < i; j++)
            if (obs->arrays[j].name && !strcmp(obs->arrays[j].name, name))
                return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "key '%s' appears twice", name);
    }
    return GROOT_OK;
}

/* Every video key present as one uint8 RGB frame per sample. */
static groot_status check_video(groot_policy *p, const groot_observation *obs, int batched)
{
    const gr_data_config *c = p->cfg;
    char shp[128];
    for (int v = 0; v < c->video_order.count; v++) {
        const char *key = c->video_order.items[v];
        const groot_array *a = find_array(obs, key);
        if (!a)
            return policy_fail(p, GROOT_ERR_INVALID_ARG, "missing key '%s' (video of data config '%s')",
                               key, c->name);
        int lead = batched ? 1 : 0;
        shape_str(a, shp, sizeof shp);
        if (a->dtype != GROOT_U8)
            return policy_fail(p, GROOT_ERR_INVALID_ARG, "'%s' must be uint8 (got another dtype, shape %s)",
                               key, shp);
        if (a->ndim != 4 + lead || a->shape[lead] != 1 || a->shape[lead + 3] != 3 || a->shape[lead + 1] < 1 ||
            a->shape[lead + 2] < 1 || a->shape[lead + 1] > GR_IMAGE_SIDE_MAX ||
            a->shape[lead + 2] > GR_IMAGE_SIDE_MAX)
            return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG,
                           "'%s' has shape %s; expected %s[1,H,W,3] (one RGB frame)", key, shp,
                           batched ? "[B," : "");
    }
    return GROOT_OK;
}

/* View v of sample b (checked by check_video) as the network takes it: the
 * frame and the data config's center crop window of it (the backend crops
 * and resizes), in video concat order. */
static groot_status prepare_frame(groot_policy *p, const groot_observation *obs, int batched, int b, int v)
{
    const gr_data_config *c = p->cfg;
    const int lead = batched ? 1 : 0;
    const char *key = c->video_order.items[v];
    const groot_array *a = find_array(obs, key);
    const gr_video_prep *prep = &c->video[gr_strlist_find(&c->video_keys, key)];
    const int H = (int)a->shape[lead + 1], W = (int)a->shape[lead + 2];
    groot_frame *f = &p->samples[b].frames[v];
    *f = (groot_frame){.rgb = (const uint8_t *)a->data + (size_t)b * H * W * 3, .height = H, .width = W};
    groot_status st = gr_center_crop_box(H, W, prep->crop_scale, &f->crop_top, &f->crop_left, &f->crop_height,
                                         &f->crop_width, &p->base.err);
    if (st != GROOT_OK)
        return batched ? gr_error_prefix(&p->base.err, "'%s' of sample %d", key, b)
                       : gr_error_prefix(&p->base.err, "'%s'", key);
    return GROOT_OK;
}

/* Raw state of sample b, normalized and padded into its state buffer. */
static groot_status prepare_state(groot_policy *p, const groot_observation *obs, int batched, int b)
{
    char shp[128];
    double *row = p->state_row;
    for (int k = 0; k < p->num_state_keys; k++) {
        const char *key = gr_plan_key(p->plan, GR_SIDE_STATE, k);
        int d = gr_plan_raw_dim(p->plan, GR_SIDE_STATE, k);
        const groot_array *a = find_array(obs, key);
        if (!a)
            return policy_fail(p, GROOT_ERR_INVALID_ARG, "missing key '%s' (state of data config '%s')", key,
                               p->cfg->name);
        int lead = batched ? 1 : 0;
        shape_str(a, shp, sizeof shp);
        if (a->dtype != GROOT_F32 && a->dtype != GROOT_F64)
            return policy_fail(p, GROOT_ERR_INVALID_ARG, "'%s' must be float32 or float64 (shape %s)", key, shp);
        if (a->ndim != 2 + lead || a->shape[lead] != 1 || a->shape[lead + 1] != d)
            return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "'%s' has shape %s; expected %s[1,%d]", key,
                           shp, batched ? "[B," : "", d);
        for (int j = 0; j < d; j++) {
            double x = a->dtype == GROOT_F32 ? (double)((const float *)a->data)[(size_t)b * d + j]
                                             : ((const double *)a->data)[(size_t)b * d + j];
            if (!isfinite(x))
                return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "'%s'[%d] is %s (sample %d)", key, j,
                               isnan(x) ? "NaN" : "infinite", b);
            row[j] = x;
        }
        row += d;
    }
    return gr_plan_forward(p->plan, GR_SIDE_STATE, p->state_in, p->samples[b].state, p->dims.max_state_dim,
                           &p->base.err);
}

static groot_status prepare_prompt(groot_policy *p, const char *instruction, int V, int b)
{
    if (!instruction)
        return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "missing instruction for sample %d ('%s')", b,
                       p->cfg->language_keys.items[0]);
    const int32_t *ids;
    size_t n;
    groot_status st = gr_prompt_ids(p->tok, V, instruction, p->dims.tokens_per_image, &ids, &n, &p->base.err);
    if (st != GROOT_OK)
        return gr_error_prefix(&p->base.err, "instruction of sample %d ('%s')", b, p->cfg->language_keys.items[0]);
    policy_sample_bufs *s = &p->samples[b];
    if (n > s->ids_cap) {
        int32_t *ni = realloc(s->ids, n * sizeof *ni);
        if (!ni)
            return gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory for a %zu-token prompt", n);
        s->ids = ni;
        s->ids_cap = n;
    }
    memcpy(s->ids, ids, n * sizeof *ids);
    groot_sample *in = &p->net_in[b];
    in->input_ids = s->ids;
    in->seq_len = (int)n;
    return GROOT_OK;
}

/* Unnormalizes every sample's action_pred into per-key arrays. */
static groot_status postprocess(groot_policy *p, int B, int batched)
{
    int H = p->dims.action_horizon;
    size_t per_sample = 0;
    for (int k = 0; k < p->num_action_keys; k++)
        per_sample += (size_t)H * gr_plan_raw_dim(p->plan, GR_SIDE_ACTION, k);
    size_t need = per_sample * (size_t)B;
    if (need > p->action_cap) {
        float *nd = realloc(p->action_data, need * sizeof(float));
        if (!nd)
            return gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory for actions");
        p->action_data = nd;
        p->action_cap = need;
    }
    /* Key-major layout: each action.K is one contiguous [B, H, d] array. */
    float *base = p->action_data;
    for (int k = 0; k < p->num_action_keys; k++) {
        int d = gr_plan_raw_dim(p->plan, GR_SIDE_ACTION, k);
        groot_array *a = &p->actions[k];
        a->name = p->action_names[k];
        a->dtype = GROOT_F32;
        a->data = base;
        if (batched) {
            a->ndim = 3;
            a->shape[0] = B, a->shape[1] = H, a->shape[2] = d;
        } else {
            a->ndim = 2;
            a->shape[0] = H, a->shape[1] = d;
        }
        base += (size_t)B * H * d;
    }
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < p->num_action_keys; k++) {
            int d = gr_plan_raw_dim(p->plan, GR_SIDE_ACTION, k);
            p->inverse_out[k] = (float *)p->actions[k].data + (size_t)b * H * d;
        }
        groot_status st = gr_plan_inverse(p->plan, GR_SIDE_ACTION, p->samples[b].action_pred, H,
                                          p->dims.action_dim, p->inverse_out, &p->base.err);
        if (st != GROOT_OK)
            return st;
    }
    return GROOT_OK;
}

groot_status groot_policy_get_action(groot_policy *p, const groot_observation *obs,
                                     const groot_array **actions, int *num_actions)
{
    if (!p)
        return GROOT_ERR_INVALID_ARG;
    gr_error_clear(&p->base.err);
    if (actions)
        *actions = NULL;
    if (num_actions)
        *num_actions = 0;
    if (!p->model || !p->plan)
        return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "the policy did not open");
    if (!obs || obs->batch < 0 || obs->batch > 64 || (obs->num_arrays > 0 && !obs->arrays))
        return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "bad observation (batch must be 0..64)");
    int batched = obs->batch > 0, B = batched ? obs->batch : 1;
    int V = p->cfg->video_order.count;
    groot_status st;
    double t0 = now_ms();

    if ((st = check_keys(p, obs)) != GROOT_OK)
        return st;
    if (batched) {
        char shp[128];
        for (int i = 0; i < obs->num_arrays; i++) {
            if (obs->arrays[i].ndim < 1 || obs->arrays[i].shape[0] != B) {
                shape_str(&obs->arrays[i], shp, sizeof shp);
                return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG,
                               "'%s' has shape %s but the batch is %d: every array needs a leading %d",
                               obs->arrays[i].name, shp, B, B);
            }
        }
    }
    if (!obs->instructions)
        return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "missing instruction ('%s')",
                       p->cfg->language_keys.items[0]);
    if ((st = ensure_samples(p, B, V)) != GROOT_OK)
        return st;
    if ((st = check_video(p, obs, batched)) != GROOT_OK)
        return st;
    for (int b = 0; b < B; b++) {
        for (int v = 0; v < V; v++)
            if ((st = prepare_frame(p, obs, batched, b, v)) != GROOT_OK)
                return st;
        if ((st = prepare_state(p, obs, batched, b)) != GROOT_OK)
            return st;
        if ((st = prepare_prompt(p, obs->instructions[b], V, b)) != GROOT_OK)
            return st;
        policy_sample_bufs *s = &p->samples[b];
        size_t noise_n = (size_t)p->dims.action_horizon * p->dims.action_dim;
        if (obs->init_noise) {
            const float *src = obs->init_noise + (size_t)b * noise_n;
            for (size_t j = 0; j < noise_n; j++)
                if (!isfinite(src[j]))
                    return gr_fail(&p->base.err, GROOT_ERR_INVALID_ARG, "init_noise of sample %d is not finite", b);
            memcpy(s->noise, src, noise_n * sizeof(float));
        } else {
            gr_noise_fill(&p->rng, s->noise, noise_n);
        }
        groot_sample *in = &p->net_in[b];
        in->frames = s->frames;
        in->num_views = V;
        in->state = s->state;
        in->embodiment_id = p->embodiment_id;
        in->init_noise = s->noise;
        memset(&p->net_out[b], 0, sizeof p->net_out[b]);
        p->net_out[b].action_pred = s->action_pred;
    }
    double t1 = now_ms();
    groot_timings net;
    if ((st = groot_forward(p->model, p->net_in, B, p->net_out, &net)) != GROOT_OK)
        return gr_fail(&p->base.err, st, "%s", groot_errmsg(p->model));
    double t2 = now_ms();
    if ((st = postprocess(p, B, batched)) != GROOT_OK)
        return st;
    double t3 = now_ms();

    p->timings = net;
    p->timings.preprocess_ms = t1 - t0;
    p->timings.postprocess_ms = t3 - t2;
    p->timings.total_ms = t3 - t0;
    if (actions)
        *actions = p->actions;
    if (num_actions)
        *num_actions = p->num_action_keys;
    return GROOT_OK;
}

/* Buckets of prompt lengths the warm-up records on a recording backend. */
#define WARMUP_BUCKETS 5

groot_status groot_policy_warmup(groot_policy *p)
{
    if (!p || !p->model || !p->plan)
        return GROOT_ERR_INVALID_ARG;
    const gr_data_config *c = p->cfg;
    int nv = c->video_order.count, ns = p->num_state_keys, S = p->dims.image_size;
    groot_array *arrays = calloc((size_t)(nv + ns), sizeof *arrays);
    uint8_t *frame = malloc((size_t)S * S * 3);
    int total_state = 0;
    for (int k = 0; k < ns; k++)
        total_state += gr_plan_raw_dim(p->plan, GR_SIDE_STATE, k);
    double *state = calloc((size_t)total_state + 1, sizeof *state);
    char *text = NULL;
    groot_status st = GROOT_OK;
    if (!arrays || !frame || !state) {
        st = gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory for the warm-up");
        goto done;
    }
    memset(frame, 128, (size_t)S * S * 3);
    for (int v = 0; v < nv; v++)
        arrays[v] = (groot_array){c->video_order.items[v], GROOT_U8, 4, {1, S, S, 3}, frame};
    double *row = state;
    for (int k = 0; k < ns; k++) {
        const char *key = gr_plan_key(p->plan, GR_SIDE_STATE, k);
        int d = gr_plan_raw_dim(p->plan, GR_SIDE_STATE, k);
        const char *dot = strchr(key, '.');
        const gr_meta_key *mk = gr_metadata_key(p->md, "state", dot ? dot + 1 : key);
        for (int j = 0; j < d; j++)
            row[j] = mk && mk->stat[GR_STAT_MEAN] && j < mk->stat_len[GR_STAT_MEAN] ? mk->stat[GR_STAT_MEAN][j] : 0.0;
        arrays[nv + k] = (groot_array){key, GROOT_F64, 2, {1, d}, row};
        row += d;
    }
    /* One word is one token here ("up", then " up"), so n = 1, 1 + bucket,
     * ... words put the prompts in consecutive buckets; each runs twice,
     * since a shape's first call tunes and its second records. */
    const int bucket = p->dims.seq_bucket, rounds = bucket > 1 ? WARMUP_BUCKETS : 1;
    const int max_words = 1 + (rounds - 1) * bucket;
    text = malloc((size_t)max_words * 3 + 1);
    if (!text) {
        st = gr_fail(&p->base.err, GROOT_ERR_NOMEM, "out of memory for the warm-up");
        goto done;
    }
    gr_noise_rng saved = p->rng;
    for (int r = 0; r < rounds && st == GROOT_OK; r++) {
        size_t len = 0;
        for (int w = 0; w < 1 + r * bucket; w++)
            len += (size_t)sprintf(text + len, w ? " up" : "up");
        const char *instr[1] = {text};
        groot_observation obs = {.arrays = arrays, .num_arrays = nv + ns, .instructions = instr};
        for (int call = 0; call < (bucket > 1 ? 2 : 1) && st == GROOT_OK; call++)
            st = groot_policy_get_action(p, &obs, NULL, NULL);
    }
    p->rng = saved;
done:
    free(text);
    free(arrays);
    free(frame);
    free(state);
    return st;
}
