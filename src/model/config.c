#include "model/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/json_util.h"

#define DIT "action_head_cfg.diffusion_model_cfg."
#define VLSA "action_head_cfg.vl_self_attention_cfg."

/* One parsed JSON file and its path, for messages. */
typedef struct jfile {
    char path[4096];
    cJSON *root;
} jfile;

static groot_status get_int(const jfile *f, const char *key, int *out, gr_error *err)
{
    return gr_json_get_int(f->root, key, f->path, out, err);
}

static groot_status get_positive(const jfile *f, const char *key, int *out, gr_error *err)
{
    GR_TRY(gr_json_get_int(f->root, key, f->path, out, err));
    if (*out <= 0)
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be positive, not %d", f->path,
                       key, *out);
    return GROOT_OK;
}

static groot_status get_positive_or(const jfile *f, const char *key, int def, int *out,
                                    gr_error *err)
{
    GR_TRY(gr_json_get_int_or(f->root, key, f->path, def, out, err));
    if (*out <= 0)
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be positive, not %d", f->path,
                       key, *out);
    return GROOT_OK;
}

static groot_status get_positive_real(const jfile *f, const char *key, double *out,
                                      gr_error *err)
{
    GR_TRY(gr_json_get_double(f->root, key, f->path, out, err));
    if (!(*out > 0))
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be positive, not %g", f->path,
                       key, *out);
    return GROOT_OK;
}

/* An optional string setting that, when present, must have the one value the
 * engine implements. */
static groot_status expect_string(const jfile *f, const char *key, const char *want,
                                  gr_error *err)
{
    const char *v;
    GR_TRY(gr_json_get_string_or(f->root, key, f->path, want, &v, err));
    if (strcmp(v, want) != 0)
        return gr_fail(err, GROOT_ERR_UNSUPPORTED, "'%s': key '%s' is \"%s\"; only \"%s\" is supported",
                       f->path, key, v, want);
    return GROOT_OK;
}

static groot_status expect_null(const jfile *f, const char *key, const char *why, gr_error *err)
{
    if (!gr_json_is_absent(f->root, key))
        return gr_fail(err, GROOT_ERR_UNSUPPORTED, "'%s': key '%s' must be null (%s)", f->path,
                       key, why);
    return GROOT_OK;
}

/* positional_embeddings defaults to "sinusoidal" in the reference, which
 * this engine does not implement: it must be there and null. */
static groot_status expect_no_posemb(const jfile *f, const char *key, gr_error *err)
{
    if (!gr_json_at(f->root, key))
        return gr_fail(err, GROOT_ERR_UNSUPPORTED,
                       "'%s': key '%s' is missing, which means \"sinusoidal\" in the reference; "
                       "only null is supported",
                       f->path, key);
    return expect_null(f, key, "sinusoidal positional embeddings are not supported", err);
}

static groot_status load_backbone(const jfile *b, gr_model_config *cfg, gr_error *err)
{
    gr_vision_config *v = &cfg->vision;
    double d;
    GR_TRY(get_positive(b, "vision_config.hidden_size", &v->hidden, err));
    GR_TRY(get_positive(b, "vision_config.intermediate_size", &v->intermediate, err));
    GR_TRY(get_positive(b, "vision_config.num_attention_heads", &v->heads, err));
    GR_TRY(get_positive(b, "vision_config.num_hidden_layers", &v->layers, err));
    GR_TRY(get_positive(b, "vision_config.patch_size", &v->patch, err));
    GR_TRY(get_positive(b, "vision_config.image_size", &v->image_size, err));
    GR_TRY(get_positive_or(b, "vision_config.num_channels", 3, &v->channels, err));
    GR_TRY(get_positive_real(b, "vision_config.layer_norm_eps", &d, err));
    v->ln_eps = (float)d;
    GR_TRY(expect_string(b, "vision_config.hidden_act", "gelu_pytorch_tanh", err));
    if (v->hidden % v->heads)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': vision_config.hidden_size %d is not a multiple of "
                       "vision_config.num_attention_heads %d",
                       b->path, v->hidden, v->heads);
    if (v->image_size % v->patch)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': vision_config.patch_size %d does not divide "
                       "vision_config.image_size %d",
                       b->path, v->patch, v->image_size);

    gr_text_config *t = &cfg->text;
    int total_layers;
    GR_TRY(get_positive(b, "text_config.hidden_size", &t->hidden, err));
    GR_TRY(get_positive(b, "text_config.intermediate_size", &t->intermediate, err));
    GR_TRY(get_positive(b, "text_config.num_attention_heads", &t->heads, err));
    GR_TRY(get_positive(b, "text_config.num_key_value_heads", &t->kv_heads, err));
    GR_TRY(get_positive(b, "text_config.num_hidden_layers", &total_layers, err));
    GR_TRY(get_positive(b, "text_config.vocab_size", &t->vocab, err));
    GR_TRY(get_positive_real(b, "text_config.rms_norm_eps", &d, err));
    t->rms_eps = (float)d;
    GR_TRY(get_positive_real(b, "text_config.rope_theta", &t->rope_theta, err));
    GR_TRY(expect_string(b, "text_config.hidden_act", "silu", err));
    GR_TRY(expect_null(b, "text_config.rope_scaling", "RoPE scaling is not supported", err));
    /* Qwen3 states head_dim outright (it need not be hidden/heads); older
     * configs leave it implied. */
    if (gr_json_is_absent(b->root, "text_config.head_dim")) {
        if (t->hidden % t->heads)
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "'%s': text_config.head_dim is absent and hidden_size %d is not a "
                           "multiple of num_attention_heads %d",
                           b->path, t->hidden, t->heads);
        t->head_dim = t->hidden / t->heads;
    } else {
        GR_TRY(get_positive(b, "text_config.head_dim", &t->head_dim, err));
    }
    if (t->heads % t->kv_heads)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': text_config.num_key_value_heads %d does not divide "
                       "num_attention_heads %d",
                       b->path, t->kv_heads, t->heads);
    if (t->head_dim % 2)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': text_config.head_dim %d must be even (RoPE rotates pairs)", b->path,
                       t->head_dim);
    /* text->layers is select_layer, set by the caller; keep the total for its check. */
    t->layers = total_layers;

    GR_TRY(get_int(b, "image_token_index", &cfg->image_token_id, err));
    if (cfg->image_token_id < 0 || cfg->image_token_id >= t->vocab)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': image_token_index %d is outside the vocabulary (%d tokens)", b->path,
                       cfg->image_token_id, t->vocab);
    int pixel_shuffle, mlp_layers;
    GR_TRY(gr_json_get_bool_or(b->root, "use_pixel_shuffle", b->path, 0, &pixel_shuffle, err));
    if (pixel_shuffle)
        return gr_fail(err, GROOT_ERR_UNSUPPORTED,
                       "'%s': use_pixel_shuffle is true; only false is supported", b->path);
    GR_TRY(gr_json_get_int_or(b->root, "mlp_connector_layers", b->path, 1, &mlp_layers, err));
    if (mlp_layers != 1)
        return gr_fail(err, GROOT_ERR_UNSUPPORTED,
                       "'%s': mlp_connector_layers is %d; only 1 (a single Linear) is supported",
                       b->path, mlp_layers);
    return GROOT_OK;
}

static groot_status load_action(const jfile *g, gr_action_config *a, gr_error *err)
{
    GR_TRY(get_positive(g, "action_head_cfg.max_action_dim", &a->action_dim, err));
    if (!gr_json_is_absent(g->root, "action_head_cfg.action_dim")) {
        int used;
        GR_TRY(get_positive(g, "action_head_cfg.action_dim", &used, err));
        if (used > a->action_dim)
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "'%s': action_head_cfg.action_dim %d exceeds max_action_dim %d",
                           g->path, used, a->action_dim);
    }
    GR_TRY(get_positive(g, "action_head_cfg.action_horizon", &a->horizon, err));
    GR_TRY(get_positive(g, "action_head_cfg.hidden_size", &a->hidden, err));
    GR_TRY(get_positive(g, "action_head_cfg.input_embedding_dim", &a->embed, err));
    GR_TRY(get_positive(g, "action_head_cfg.backbone_embedding_dim", &a->backbone_dim, err));
    GR_TRY(get_positive(g, "action_head_cfg.max_state_dim", &a->max_state_dim, err));
    GR_TRY(get_positive(g, "action_head_cfg.num_inference_timesteps", &a->steps, err));
    GR_TRY(get_positive(g, "action_head_cfg.num_timestep_buckets", &a->timestep_buckets, err));
    GR_TRY(get_positive(g, "action_head_cfg.num_target_vision_tokens", &a->future_tokens, err));
    GR_TRY(get_positive_or(g, "action_head_cfg.max_seq_len", 1024, &a->max_seq_len, err));
    GR_TRY(get_positive_or(g, "action_head_cfg.max_num_embodiments", 32, &a->num_embodiments,
                           err));
    GR_TRY(gr_json_get_bool_or(g->root, "action_head_cfg.add_pos_embed", g->path, 1,
                               &a->add_pos_embed, err));
    GR_TRY(gr_json_get_bool_or(g->root, "action_head_cfg.use_vlln", g->path, 1, &a->use_vlln,
                               err));

    GR_TRY(get_positive(g, DIT "num_attention_heads", &a->dit.heads, err));
    GR_TRY(get_positive(g, DIT "attention_head_dim", &a->dit.head_dim, err));
    GR_TRY(get_positive(g, DIT "num_layers", &a->dit.layers, err));
    GR_TRY(get_positive(g, DIT "output_dim", &a->dit_output_dim, err));
    GR_TRY(get_positive(g, DIT "cross_attention_dim", &a->dit_cross_dim, err));
    GR_TRY(gr_json_get_bool_or(g->root, DIT "interleave_self_attention", g->path, 0,
                               &a->dit_interleave, err));
    GR_TRY(expect_string(g, DIT "norm_type", "ada_norm", err));
    GR_TRY(expect_no_posemb(g, DIT "positional_embeddings", err));

    GR_TRY(get_positive(g, VLSA "num_attention_heads", &a->vlsa.heads, err));
    GR_TRY(get_positive(g, VLSA "attention_head_dim", &a->vlsa.head_dim, err));
    GR_TRY(get_positive(g, VLSA "num_layers", &a->vlsa.layers, err));
    GR_TRY(expect_no_posemb(g, VLSA "positional_embeddings", err));

    /* Products in long long: two positive ints cannot overflow it. */
    if ((long long)a->dit.heads * a->dit.head_dim != a->embed)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': " DIT "num_attention_heads %d * attention_head_dim %d = %lld, but "
                       "action_head_cfg.input_embedding_dim is %d",
                       g->path, a->dit.heads, a->dit.head_dim,
                       (long long)a->dit.heads * a->dit.head_dim, a->embed);
    if ((long long)a->vlsa.heads * a->vlsa.head_dim != a->backbone_dim)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': " VLSA "num_attention_heads %d * attention_head_dim %d = %lld, but "
                       "action_head_cfg.backbone_embedding_dim is %d",
                       g->path, a->vlsa.heads, a->vlsa.head_dim,
                       (long long)a->vlsa.heads * a->vlsa.head_dim, a->backbone_dim);
    if (a->dit_cross_dim != a->backbone_dim)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': " DIT "cross_attention_dim %d != action_head_cfg."
                       "backbone_embedding_dim %d (the DiT cross-attends to the backbone "
                       "features)",
                       g->path, a->dit_cross_dim, a->backbone_dim);
    if (a->dit_output_dim != a->hidden)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': " DIT "output_dim %d != action_head_cfg.hidden_size %d (the action "
                       "decoder's input)",
                       g->path, a->dit_output_dim, a->hidden);
    if (a->horizon > a->max_seq_len)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s': action_head_cfg.action_horizon %d exceeds max_seq_len %d (rows of "
                       "the position embedding)",
                       g->path, a->horizon, a->max_seq_len);
    return GROOT_OK;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static groot_status load_file(jfile *f, const char *dir, const char *rel, gr_error *err)
{
    int n = snprintf(f->path, sizeof f->path, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof f->path)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "path too long: '%s/%s'", dir, rel);
    return gr_json_load_object(f->path, &f->root, err);
}

groot_status gr_model_config_load(const char *checkpoint_dir, const char *assets_dir,
                                  gr_model_config *cfg, gr_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    if (!checkpoint_dir)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "checkpoint directory is NULL");
#ifdef GROOT_ASSETS_DIR
    if (!assets_dir)
        assets_dir = GROOT_ASSETS_DIR;
#endif
    jfile g = {.root = NULL}, b = {.root = NULL};
    groot_status s = load_file(&g, checkpoint_dir, "config.json", err);
    if (s != GROOT_OK)
        goto done;

    /* The checkpoint's own backbone config wins over the bundled default. */
    int own = snprintf(b.path, sizeof b.path, "%s/eagle2_hg_model/config.json", checkpoint_dir);
    if (own > 0 && (size_t)own < sizeof b.path && is_file(b.path)) {
        s = load_file(&b, checkpoint_dir, "eagle2_hg_model/config.json", err);
    } else if (assets_dir) {
        s = load_file(&b, assets_dir, "eagle2_hg_model/config.json", err);
    } else {
        s = gr_fail(err, GROOT_ERR_INVALID_ARG,
                    "'%s' has no eagle2_hg_model/config.json and no assets directory was given",
                    checkpoint_dir);
    }
    if (s != GROOT_OK)
        goto done;

    if ((s = expect_string(&g, "model_type", "gr00t_n1_5", err)) != GROOT_OK ||
        (s = expect_null(&g, "backbone_cfg.project_to_dim",
                         "the backbone features are used without projection", err)) != GROOT_OK ||
        (s = load_backbone(&b, cfg, err)) != GROOT_OK ||
        (s = load_action(&g, &cfg->action, err)) != GROOT_OK)
        goto done;

    int select_layer, total_layers = cfg->text.layers;
    if ((s = get_int(&g, "backbone_cfg.select_layer", &select_layer, err)) != GROOT_OK)
        goto done;
    if (select_layer < 1 || select_layer > total_layers) {
        s = gr_fail(err, GROOT_ERR_FORMAT,
                    "'%s': backbone_cfg.select_layer %d must be in [1, %d] (text_config."
                    "num_hidden_layers of '%s')",
                    g.path, select_layer, total_layers, b.path);
        goto done;
    }
    cfg->text.layers = select_layer;

    if (cfg->action.backbone_dim != cfg->text.hidden) {
        s = gr_fail(err, GROOT_ERR_FORMAT,
                    "'%s': action_head_cfg.backbone_embedding_dim %d != text_config.hidden_size "
                    "%d of '%s'",
                    g.path, cfg->action.backbone_dim, cfg->text.hidden, b.path);
        goto done;
    }
    int side = cfg->vision.image_size / cfg->vision.patch;
    if (side > 46340) { /* side * side must fit in an int */
        s = gr_fail(err, GROOT_ERR_FORMAT, "'%s': vision_config.image_size %d / patch_size %d is "
                    "too many patches", b.path, cfg->vision.image_size, cfg->vision.patch);
        goto done;
    }
    cfg->tokens_per_image = side * side;
    cfg->vision_out_dim = cfg->text.hidden;
done:
    cJSON_Delete(g.root);
    cJSON_Delete(b.root);
    return s;
}
