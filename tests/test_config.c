/* config.json + backbone config loading (SPEC.md section 1): the golden tiny
 * model, the fallback to the bundled backbone config, a 3B-sized config, and
 * errors naming file and key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "model/config.h"
#include "test_util.h"

#define ASSETS GROOT_ASSETS_DIR

/* The released GR00T N1.5 3B config.json's fields (SPEC.md section 1). */
static const char *config_3b =
    "{\"action_dim\": 32, \"action_horizon\": 16, \"model_type\": \"gr00t_n1_5\","
    " \"hidden_size\": 2048,"
    " \"backbone_cfg\": {\"select_layer\": 12, \"project_to_dim\": null, \"tune_llm\": false},"
    " \"action_head_cfg\": {"
    "  \"action_dim\": 32, \"action_horizon\": 16, \"add_pos_embed\": true,"
    "  \"backbone_embedding_dim\": 2048, \"hidden_size\": 1024, \"input_embedding_dim\": 1536,"
    "  \"max_action_dim\": 32, \"max_state_dim\": 64, \"num_inference_timesteps\": 4,"
    "  \"num_target_vision_tokens\": 32, \"num_timestep_buckets\": 1000, \"use_vlln\": true,"
    "  \"diffusion_model_cfg\": {\"attention_head_dim\": 48, \"cross_attention_dim\": 2048,"
    "   \"dropout\": 0.2, \"final_dropout\": true, \"interleave_self_attention\": true,"
    "   \"norm_type\": \"ada_norm\", \"num_attention_heads\": 32, \"num_layers\": 16,"
    "   \"output_dim\": 1024, \"positional_embeddings\": null},"
    "  \"vl_self_attention_cfg\": {\"attention_head_dim\": 64, \"dropout\": 0.2,"
    "   \"final_dropout\": true, \"num_attention_heads\": 32, \"num_layers\": 4,"
    "   \"positional_embeddings\": null}}}";

static void write_json(const char *dir, const char *name, const cJSON *root)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = cJSON_Print(root);
    FILE *f = fopen(path, "wb");
    if (!f || !text || fputs(text, f) < 0) {
        perror(path);
        exit(2);
    }
    fclose(f);
    free(text);
}

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    if (!j) {
        fprintf(stderr, "cannot parse %s\n", path);
        exit(2);
    }
    return j;
}

/* The object holding the last key of a dotted path, and that key. */
static cJSON *parent_of(cJSON *root, const char *keypath, const char **last)
{
    static char seg[256];
    cJSON *cur = root;
    const char *p = keypath, *dot;
    while ((dot = strchr(p, '.'))) {
        snprintf(seg, sizeof seg, "%.*s", (int)(dot - p), p);
        cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
        p = dot + 1;
    }
    *last = p;
    return cur;
}

static void set(cJSON *root, const char *keypath, cJSON *value)
{
    const char *last;
    cJSON *obj = parent_of(root, keypath, &last);
    if (cJSON_GetObjectItemCaseSensitive(obj, last))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, last, value);
    else
        cJSON_AddItemToObject(obj, last, value);
}

static void del(cJSON *root, const char *keypath)
{
    const char *last;
    cJSON *obj = parent_of(root, keypath, &last);
    cJSON_DeleteItemFromObjectCaseSensitive(obj, last);
}

typedef enum { GR00T, BACKBONE } which;

/* Loads a 3B checkpoint dir whose config (or, for BACKBONE, whose own copy of
 * the bundled backbone config) has keypath set to value (NULL: deleted). */
static groot_status load_mutated(which w, const char *keypath, cJSON *value, gr_model_config *cfg,
                                 gr_error *err, char *dir_out)
{
    const char *dir = tu_tmpdir();
    strcpy(dir_out, dir);
    cJSON *g = cJSON_Parse(config_3b);
    cJSON *b = NULL;
    if (w == BACKBONE) {
        b = read_json(ASSETS "/eagle2_hg_model/config.json");
        char sub[512];
        snprintf(sub, sizeof sub, "%s/eagle2_hg_model", dir);
        mkdir(sub, 0755);
    }
    cJSON *target = w == GR00T ? g : b;
    if (keypath) {
        if (value)
            set(target, keypath, value);
        else
            del(target, keypath);
    }
    write_json(dir, "config.json", g);
    if (b)
        write_json(dir, "eagle2_hg_model/config.json", b);
    cJSON_Delete(g);
    cJSON_Delete(b);
    return gr_model_config_load(dir, ASSETS, cfg, err);
}

static void expect_error(which w, const char *keypath, cJSON *value, groot_status status,
                         const char *w1, const char *w2, int line)
{
    gr_model_config cfg;
    gr_error err = {0};
    char dir[512];
    groot_status s = load_mutated(w, keypath, value, &cfg, &err, dir);
    CHECK(s == status, "line %d: %s: %s, want %s: %s", line, keypath, groot_status_name(s),
          groot_status_name(status), err.msg);
    /* Every message names the file it is about. */
    const char *file = w == GR00T ? "/config.json'" : "/eagle2_hg_model/config.json'";
    CHECK(strstr(err.msg, dir) && strstr(err.msg, file), "line %d: file not named: %s", line,
          err.msg);
    if (w1)
        CHECK(strstr(err.msg, w1) != NULL, "line %d: '%s' not in: %s", line, w1, err.msg);
    if (w2)
        CHECK(strstr(err.msg, w2) != NULL, "line %d: '%s' not in: %s", line, w2, err.msg);
}
#define ERR(w, key, value, status, w1, w2) expect_error(w, key, value, status, w1, w2, __LINE__)

static void test_golden(void)
{
    gr_model_config c;
    gr_error err = {0};
    CHECK(gr_model_config_load(tu_data("goldens/tiny/checkpoint"), ASSETS, &c, &err) == GROOT_OK,
          "%s", err.msg);
    /* From the checkpoint's own eagle2_hg_model/config.json. */
    CHECK(c.vision.hidden == 64 && c.vision.intermediate == 96 && c.vision.heads == 4 &&
              c.vision.layers == 2 && c.vision.patch == 14 && c.vision.image_size == 224 &&
              c.vision.channels == 3 && c.vision.ln_eps == 1e-6f,
          "vision %d %d %d %d %d %d %d %g", c.vision.hidden, c.vision.intermediate, c.vision.heads,
          c.vision.layers, c.vision.patch, c.vision.image_size, c.vision.channels,
          c.vision.ln_eps);
    CHECK(c.text.hidden == 48 && c.text.intermediate == 80 && c.text.heads == 4 &&
              c.text.kv_heads == 2 && c.text.head_dim == 16 && c.text.layers == 3 &&
              c.text.vocab == 151680 && c.text.rms_eps == 1e-6f && c.text.rope_theta == 1e6,
          "text %d %d %d %d %d %d %d %g %g", c.text.hidden, c.text.intermediate, c.text.heads,
          c.text.kv_heads, c.text.head_dim, c.text.layers, c.text.vocab, c.text.rms_eps,
          c.text.rope_theta);
    CHECK(c.image_token_id == 151669 && c.tokens_per_image == 256 && c.vision_out_dim == 48,
          "image token %d, tokens %d, out %d", c.image_token_id, c.tokens_per_image,
          c.vision_out_dim);
    /* From config.json's action_head_cfg. */
    const gr_action_config *a = &c.action;
    CHECK(a->action_dim == 32 && a->horizon == 16 && a->hidden == 40 && a->embed == 32 &&
              a->backbone_dim == 48 && a->max_state_dim == 64 && a->steps == 4 &&
              a->timestep_buckets == 1000 && a->future_tokens == 32,
          "action %d %d %d %d %d %d %d %d %d", a->action_dim, a->horizon, a->hidden, a->embed,
          a->backbone_dim, a->max_state_dim, a->steps, a->timestep_buckets, a->future_tokens);
    CHECK(a->max_seq_len == 1024 && a->num_embodiments == 32, "defaults %d %d", a->max_seq_len,
          a->num_embodiments);
    CHECK(a->add_pos_embed == 1 && a->use_vlln == 1 && a->dit_interleave == 1, "flags");
    CHECK(a->dit.heads == 4 && a->dit.head_dim == 8 && a->dit.layers == 4 &&
              a->dit_output_dim == 40 && a->dit_cross_dim == 48,
          "dit %d %d %d %d %d", a->dit.heads, a->dit.head_dim, a->dit.layers, a->dit_output_dim,
          a->dit_cross_dim);
    CHECK(a->vlsa.heads == 4 && a->vlsa.head_dim == 12 && a->vlsa.layers == 2, "vlsa %d %d %d",
          a->vlsa.heads, a->vlsa.head_dim, a->vlsa.layers);
}

static void test_fallback(void)
{
    /* The tiny config.json alone: the bundled 3B backbone config is used, and
     * its 2048-wide language model does not match backbone_embedding_dim 48. */
    const char *dir = tu_tmpdir();
    cJSON *g = read_json(tu_data("goldens/tiny/checkpoint/config.json"));
    write_json(dir, "config.json", g);
    cJSON_Delete(g);
    gr_model_config c;
    gr_error err = {0};
    groot_status s = gr_model_config_load(dir, ASSETS, &c, &err);
    CHECK(s == GROOT_ERR_FORMAT, "%s: %s", groot_status_name(s), err.msg);
    CHECK(strstr(err.msg, "backbone_embedding_dim 48") && strstr(err.msg, "hidden_size 2048") &&
              strstr(err.msg, ASSETS "/eagle2_hg_model/config.json") && strstr(err.msg, dir),
          "message: %s", err.msg);

    /* No checkpoint copy and no bundled copy either. */
    const char *empty_assets = tu_tmpdir();
    s = gr_model_config_load(dir, empty_assets, &c, &err);
    CHECK(s == GROOT_ERR_IO && strstr(err.msg, empty_assets) &&
              strstr(err.msg, "eagle2_hg_model/config.json"),
          "no backbone config: %s", err.msg);
}

static void test_3b(void)
{
    const char *dir = tu_tmpdir();
    tu_write_file(dir, "config.json", config_3b);
    gr_model_config c;
    gr_error err = {0};
    CHECK(gr_model_config_load(dir, ASSETS, &c, &err) == GROOT_OK, "%s", err.msg);
    CHECK(c.vision.hidden == 1152 && c.vision.intermediate == 4304 && c.vision.heads == 16 &&
              c.vision.layers == 27 && c.vision.patch == 14 && c.vision.image_size == 224,
          "vision %d %d %d %d", c.vision.hidden, c.vision.intermediate, c.vision.heads,
          c.vision.layers);
    CHECK(c.text.hidden == 2048 && c.text.intermediate == 6144 && c.text.heads == 16 &&
              c.text.kv_heads == 8 && c.text.head_dim == 128 && c.text.layers == 12 &&
              c.text.vocab == 151680 && c.text.rope_theta == 1e6,
          "text %d %d %d %d %d %d", c.text.hidden, c.text.intermediate, c.text.heads,
          c.text.kv_heads, c.text.head_dim, c.text.layers);
    CHECK(c.tokens_per_image == 256 && c.vision_out_dim == 2048 && c.image_token_id == 151669,
          "derived");
    CHECK(c.action.hidden == 1024 && c.action.embed == 1536 && c.action.backbone_dim == 2048 &&
              c.action.dit.heads == 32 && c.action.dit.head_dim == 48 &&
              c.action.dit.layers == 16 && c.action.dit_output_dim == 1024 &&
              c.action.dit_cross_dim == 2048 && c.action.vlsa.heads == 32 &&
              c.action.vlsa.head_dim == 64 && c.action.vlsa.layers == 4 &&
              c.action.max_seq_len == 1024 && c.action.num_embodiments == 32,
          "action");
    /* NULL assets uses the compiled-in directory. */
    CHECK(gr_model_config_load(dir, NULL, &c, &err) == GROOT_OK && c.text.hidden == 2048, "%s",
          err.msg);
}

static void test_errors(void)
{
    gr_model_config c;
    gr_error err = {0};
    char dir[512];

    /* Present optional keys override the defaults. */
    CHECK(load_mutated(GR00T, "action_head_cfg.max_seq_len", cJSON_CreateNumber(512), &c, &err,
                       dir) == GROOT_OK &&
              c.action.max_seq_len == 512,
          "max_seq_len: %s", err.msg);
    CHECK(load_mutated(GR00T, "action_head_cfg.max_num_embodiments", cJSON_CreateNumber(8), &c,
                       &err, dir) == GROOT_OK &&
              c.action.num_embodiments == 8,
          "max_num_embodiments: %s", err.msg);
    CHECK(load_mutated(BACKBONE, NULL, NULL, &c, &err, dir) == GROOT_OK, "own backbone copy: %s",
          err.msg);

    ERR(GR00T, "action_head_cfg.hidden_size", NULL, GROOT_ERR_FORMAT,
        "missing key 'action_head_cfg.hidden_size'", NULL);
    ERR(GR00T, "backbone_cfg.select_layer", NULL, GROOT_ERR_FORMAT,
        "missing key 'backbone_cfg.select_layer'", NULL);
    ERR(GR00T, "action_head_cfg.diffusion_model_cfg.num_attention_heads",
        cJSON_CreateString("32"), GROOT_ERR_FORMAT,
        "'action_head_cfg.diffusion_model_cfg.num_attention_heads'", "must be an integer");
    ERR(GR00T, "action_head_cfg.diffusion_model_cfg.attention_head_dim", cJSON_CreateNumber(48.5),
        GROOT_ERR_FORMAT, "'action_head_cfg.diffusion_model_cfg.attention_head_dim'",
        "must be an integer");
    ERR(GR00T, "action_head_cfg.use_vlln", cJSON_CreateNumber(1), GROOT_ERR_FORMAT,
        "'action_head_cfg.use_vlln'", "true or false");
    ERR(GR00T, "action_head_cfg.hidden_size", cJSON_CreateNumber(-5), GROOT_ERR_FORMAT,
        "'action_head_cfg.hidden_size'", "positive");
    ERR(GR00T, "action_head_cfg.hidden_size", cJSON_CreateNull(), GROOT_ERR_FORMAT,
        "'action_head_cfg.hidden_size'", "null");
    ERR(GR00T, "action_head_cfg.diffusion_model_cfg.attention_head_dim", cJSON_CreateNumber(40),
        GROOT_ERR_FORMAT, "attention_head_dim 40 = 1280", "input_embedding_dim is 1536");
    ERR(GR00T, "action_head_cfg.vl_self_attention_cfg.num_attention_heads",
        cJSON_CreateNumber(16), GROOT_ERR_FORMAT, "vl_self_attention_cfg.num_attention_heads 16",
        "backbone_embedding_dim is 2048");
    ERR(GR00T, "action_head_cfg.diffusion_model_cfg.cross_attention_dim",
        cJSON_CreateNumber(1024), GROOT_ERR_FORMAT, "cross_attention_dim 1024", "2048");
    ERR(GR00T, "action_head_cfg.diffusion_model_cfg.output_dim", cJSON_CreateNumber(512),
        GROOT_ERR_FORMAT, "output_dim 512", "hidden_size 1024");
    ERR(GR00T, "action_head_cfg.action_dim", cJSON_CreateNumber(40), GROOT_ERR_FORMAT,
        "action_dim 40", "max_action_dim 32");
    ERR(GR00T, "action_head_cfg.max_seq_len", cJSON_CreateNumber(8), GROOT_ERR_FORMAT,
        "action_horizon 16", "max_seq_len 8");
    ERR(GR00T, "backbone_cfg.select_layer", cJSON_CreateNumber(0), GROOT_ERR_FORMAT,
        "select_layer 0", "[1, 28]");
    ERR(GR00T, "backbone_cfg.select_layer", cJSON_CreateNumber(29), GROOT_ERR_FORMAT,
        "select_layer 29", "[1, 28]");
    ERR(GR00T, "backbone_cfg.project_to_dim", cJSON_CreateNumber(1536), GROOT_ERR_UNSUPPORTED,
        "'backbone_cfg.project_to_dim'", "null");
    ERR(GR00T, "action_head_cfg.diffusion_model_cfg.norm_type", cJSON_CreateString("layer_norm"),
        GROOT_ERR_UNSUPPORTED, "'action_head_cfg.diffusion_model_cfg.norm_type'", "layer_norm");
    ERR(GR00T, "action_head_cfg.diffusion_model_cfg.positional_embeddings",
        cJSON_CreateString("sinusoidal"), GROOT_ERR_UNSUPPORTED,
        "'action_head_cfg.diffusion_model_cfg.positional_embeddings'", "null");
    ERR(GR00T, "action_head_cfg.vl_self_attention_cfg.positional_embeddings", NULL,
        GROOT_ERR_UNSUPPORTED, "'action_head_cfg.vl_self_attention_cfg.positional_embeddings'",
        "sinusoidal");
    ERR(GR00T, "model_type", cJSON_CreateString("gr00t_n1"), GROOT_ERR_UNSUPPORTED, "model_type",
        "gr00t_n1_5");

    ERR(BACKBONE, "use_pixel_shuffle", cJSON_CreateTrue(), GROOT_ERR_UNSUPPORTED,
        "use_pixel_shuffle", NULL);
    ERR(BACKBONE, "mlp_connector_layers", cJSON_CreateNumber(2), GROOT_ERR_UNSUPPORTED,
        "mlp_connector_layers", NULL);
    ERR(BACKBONE, "text_config.num_key_value_heads", cJSON_CreateNumber(6), GROOT_ERR_FORMAT,
        "text_config.num_key_value_heads 6", "num_attention_heads 16");
    ERR(BACKBONE, "text_config.head_dim", cJSON_CreateNumber(127), GROOT_ERR_FORMAT,
        "text_config.head_dim 127", "even");
    ERR(BACKBONE, "text_config.rms_norm_eps", cJSON_CreateString("1e-6"), GROOT_ERR_FORMAT,
        "'text_config.rms_norm_eps'", "number");
    ERR(BACKBONE, "text_config.rope_scaling", cJSON_CreateObject(), GROOT_ERR_UNSUPPORTED,
        "'text_config.rope_scaling'", NULL);
    ERR(BACKBONE, "vision_config.patch_size", cJSON_CreateNumber(15), GROOT_ERR_FORMAT,
        "patch_size 15", "image_size 224");
    ERR(BACKBONE, "vision_config.num_attention_heads", cJSON_CreateNumber(7), GROOT_ERR_FORMAT,
        "hidden_size 1152", "num_attention_heads 7");
    ERR(BACKBONE, "vision_config.hidden_size", NULL, GROOT_ERR_FORMAT,
        "missing key 'vision_config.hidden_size'", NULL);
    ERR(BACKBONE, "vision_config", cJSON_CreateArray(), GROOT_ERR_FORMAT,
        "missing key 'vision_config.hidden_size'", NULL);
    ERR(BACKBONE, "image_token_index", cJSON_CreateNumber(151680), GROOT_ERR_FORMAT,
        "image_token_index 151680", "vocabulary");
    /* head_dim absent falls back to hidden / heads. */
    CHECK(load_mutated(BACKBONE, "text_config.head_dim", NULL, &c, &err, dir) == GROOT_OK &&
              c.text.head_dim == 128,
          "implied head_dim: %s", err.msg);

    /* Broken and missing files. */
    const char *d = tu_tmpdir();
    tu_write_file(d, "config.json", "{\"action_head_cfg\": {\n  \"hidden_size\": 40,,\n}}");
    groot_status s = gr_model_config_load(d, ASSETS, &c, &err);
    CHECK(s == GROOT_ERR_FORMAT && strstr(err.msg, "config.json") &&
              strstr(err.msg, "invalid JSON at line 2"),
          "bad JSON: %s", err.msg);
    tu_write_file(d, "config.json", "[]");
    s = gr_model_config_load(d, ASSETS, &c, &err);
    CHECK(s == GROOT_ERR_FORMAT && strstr(err.msg, "object"), "array: %s", err.msg);
    d = tu_tmpdir();
    s = gr_model_config_load(d, ASSETS, &c, &err);
    CHECK(s == GROOT_ERR_IO && strstr(err.msg, d) && strstr(err.msg, "config.json"),
          "missing: %s", err.msg);
}

int main(void)
{
    test_golden();
    test_fallback();
    test_3b();
    test_errors();
    return tu_finish("test_config");
}
