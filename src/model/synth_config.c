/*
 * config.json and eagle2_hg_model/config.json of a synthesized checkpoint,
 * with the same keys (and key order) as the released files, so that any
 * loader that takes the released checkpoint takes these, including fields
 * groot itself ignores (dropout, tuning flags, the Eagle tiling settings).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/synth.h"

/* Defaults of the reference's action head config; written only when a preset
 * departs from them, as the released config.json omits them. */
#define DEFAULT_MAX_SEQ_LEN 1024
#define DEFAULT_MAX_EMBODIMENTS 32

void gr_synth_discard(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        remove(path);
}

groot_status gr_synth_write_json(const cJSON *json, const char *path, gr_error *err)
{
    char *text = cJSON_Print(json);
    if (!text)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory printing '%s'", path);
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        free(text);
        return gr_fail(err, GROOT_ERR_IO, "cannot create '%s': %s", path, strerror(e));
    }
    size_t len = strlen(text);
    int ok = fwrite(text, 1, len, f) == len && fputc('\n', f) != EOF;
    int e = errno;
    free(text);
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        gr_synth_discard(path);
        return gr_fail(err, GROOT_ERR_IO, "writing '%s': %s", path, e ? strerror(e) : "short write");
    }
    return GROOT_OK;
}

/* A float config value (1e-6f) as the short decimal a Python config holds
 * (1e-06), not its exact binary expansion (9.99999997e-07). */
static double decimal(float x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)x);
    return strtod(buf, NULL);
}

/* cJSON_Add* return NULL only when out of memory; one check at the end
 * catches any of them, because a failed add leaves its key absent. */
static int complete(const cJSON *o, int expected) { return cJSON_GetArraySize(o) == expected; }

static cJSON *dit_json(const gr_action_config *a)
{
    cJSON *d = cJSON_CreateObject();
    if (!d)
        return NULL;
    cJSON_AddNumberToObject(d, "attention_head_dim", a->dit.head_dim);
    cJSON_AddNumberToObject(d, "cross_attention_dim", a->dit_cross_dim);
    cJSON_AddNumberToObject(d, "dropout", 0.2);
    cJSON_AddTrueToObject(d, "final_dropout");
    cJSON_AddBoolToObject(d, "interleave_self_attention", a->dit_interleave);
    cJSON_AddStringToObject(d, "norm_type", "ada_norm");
    cJSON_AddNumberToObject(d, "num_attention_heads", a->dit.heads);
    cJSON_AddNumberToObject(d, "num_layers", a->dit.layers);
    cJSON_AddNumberToObject(d, "output_dim", a->dit_output_dim);
    cJSON_AddNullToObject(d, "positional_embeddings");
    if (!complete(d, 10)) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

static cJSON *vlsa_json(const gr_block_config *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "attention_head_dim", v->head_dim);
    cJSON_AddNumberToObject(o, "dropout", 0.2);
    cJSON_AddTrueToObject(o, "final_dropout");
    cJSON_AddNumberToObject(o, "num_attention_heads", v->heads);
    cJSON_AddNumberToObject(o, "num_layers", v->layers);
    cJSON_AddNullToObject(o, "positional_embeddings");
    if (!complete(o, 6)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *action_head_json(const gr_action_config *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int n = 0;
    cJSON_AddNumberToObject(o, "action_dim", a->action_dim), n++;
    cJSON_AddNumberToObject(o, "action_horizon", a->horizon), n++;
    cJSON_AddBoolToObject(o, "add_pos_embed", a->add_pos_embed), n++;
    cJSON_AddNumberToObject(o, "backbone_embedding_dim", a->backbone_dim), n++;
    cJSON *dit = dit_json(a);
    if (dit && !cJSON_AddItemToObject(o, "diffusion_model_cfg", dit))
        cJSON_Delete(dit);
    n++;
    cJSON_AddNumberToObject(o, "hidden_size", a->hidden), n++;
    cJSON_AddNumberToObject(o, "input_embedding_dim", a->embed), n++;
    cJSON_AddNumberToObject(o, "max_action_dim", a->action_dim), n++;
    if (a->num_embodiments != DEFAULT_MAX_EMBODIMENTS)
        cJSON_AddNumberToObject(o, "max_num_embodiments", a->num_embodiments), n++;
    if (a->max_seq_len != DEFAULT_MAX_SEQ_LEN)
        cJSON_AddNumberToObject(o, "max_seq_len", a->max_seq_len), n++;
    cJSON_AddNumberToObject(o, "max_state_dim", a->max_state_dim), n++;
    cJSON_AddStringToObject(o, "model_dtype", "float32"), n++;
    cJSON_AddNumberToObject(o, "noise_beta_alpha", 1.5), n++;
    cJSON_AddNumberToObject(o, "noise_beta_beta", 1.0), n++;
    cJSON_AddNumberToObject(o, "noise_s", 0.999), n++;
    cJSON_AddNumberToObject(o, "num_inference_timesteps", a->steps), n++;
    cJSON_AddNumberToObject(o, "num_target_vision_tokens", a->future_tokens), n++;
    cJSON_AddNumberToObject(o, "num_timestep_buckets", a->timestep_buckets), n++;
    cJSON_AddTrueToObject(o, "tune_diffusion_model"), n++;
    cJSON_AddTrueToObject(o, "tune_projector"), n++;
    cJSON_AddBoolToObject(o, "use_vlln", a->use_vlln), n++;
    cJSON *vl = vlsa_json(&a->vlsa);
    if (vl && !cJSON_AddItemToObject(o, "vl_self_attention_cfg", vl))
        cJSON_Delete(vl);
    n++;
    if (!complete(o, n)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *backbone_json(const gr_model_config *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "eagle_path",
                            "NVEagle/eagle_er-qwen3_1_7B-Siglip2_400M_stage1_5_128gpu_er_v7_1mlp_nops");
    cJSON_AddFalseToObject(o, "load_bf16");
    cJSON_AddNullToObject(o, "project_to_dim");
    cJSON_AddFalseToObject(o, "reproject_vision");
    cJSON_AddNumberToObject(o, "select_layer", c->text.layers);
    cJSON_AddFalseToObject(o, "tune_llm");
    cJSON_AddTrueToObject(o, "tune_visual");
    cJSON_AddTrueToObject(o, "use_flash_attention");
    if (!complete(o, 8)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *string_array(const char *s)
{
    cJSON *a = cJSON_CreateArray();
    cJSON *item = cJSON_CreateString(s);
    if (!a || !item || !cJSON_AddItemToArray(a, item)) {
        cJSON_Delete(a);
        cJSON_Delete(item);
        return NULL;
    }
    return a;
}

/* item NULL (out of memory) leaves the key absent, which complete() then notices. */
static void add_object(cJSON *o, const char *key, cJSON *item)
{
    if (item && !cJSON_AddItemToObject(o, key, item))
        cJSON_Delete(item);
}

groot_status gr_synth_write_config(const gr_synth_preset *p, const char *path, gr_error *err)
{
    const gr_model_config *c = &p->cfg;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory building '%s'", path);
    cJSON_AddNumberToObject(o, "action_dim", c->action.action_dim);
    add_object(o, "action_head_cfg", action_head_json(&c->action));
    cJSON_AddNumberToObject(o, "action_horizon", c->action.horizon);
    add_object(o, "architectures", string_array("GR00T_N1_5"));
    cJSON_AddNullToObject(o, "attn_implementation");
    add_object(o, "backbone_cfg", backbone_json(c));
    cJSON_AddStringToObject(o, "compute_dtype", "bfloat16");
    cJSON_AddNumberToObject(o, "hidden_size", c->action.backbone_dim);
    cJSON_AddStringToObject(o, "model_dtype", "float32");
    cJSON_AddStringToObject(o, "model_type", "gr00t_n1_5");
    cJSON_AddStringToObject(o, "torch_dtype", "bfloat16");
    cJSON_AddStringToObject(o, "transformers_version", "4.51.3");
    groot_status st = complete(o, 12)
                          ? gr_synth_write_json(o, path, err)
                          : gr_fail(err, GROOT_ERR_NOMEM, "out of memory building '%s'", path);
    cJSON_Delete(o);
    return st;
}

static cJSON *vision_json(const gr_vision_config *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddTrueToObject(o, "_attn_implementation_autoset");
    cJSON_AddNumberToObject(o, "attention_dropout", 0);
    cJSON_AddStringToObject(o, "hidden_act", "gelu_pytorch_tanh");
    cJSON_AddNumberToObject(o, "hidden_size", v->hidden);
    cJSON_AddNumberToObject(o, "image_size", v->image_size);
    cJSON_AddNumberToObject(o, "intermediate_size", v->intermediate);
    cJSON_AddNumberToObject(o, "layer_norm_eps", decimal(v->ln_eps));
    cJSON_AddStringToObject(o, "model_type", "siglip_vision_model");
    cJSON_AddNumberToObject(o, "num_attention_heads", v->heads);
    cJSON_AddNumberToObject(o, "num_channels", v->channels);
    cJSON_AddNumberToObject(o, "num_hidden_layers", v->layers);
    cJSON_AddNumberToObject(o, "patch_size", v->patch);
    cJSON_AddStringToObject(o, "torch_dtype", "bfloat16");
    if (!complete(o, 13)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *text_json(const gr_text_config *t, int total_layers)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddTrueToObject(o, "_attn_implementation_autoset");
    cJSON_AddStringToObject(o, "_name_or_path", "Qwen/Qwen3-1.7B");
    add_object(o, "architectures", string_array("Qwen3ForCausalLM"));
    cJSON_AddFalseToObject(o, "attention_bias");
    cJSON_AddNumberToObject(o, "attention_dropout", 0);
    cJSON_AddNumberToObject(o, "bos_token_id", 151643);
    cJSON_AddNumberToObject(o, "eos_token_id", 151645);
    cJSON_AddNumberToObject(o, "head_dim", t->head_dim);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddNumberToObject(o, "hidden_size", t->hidden);
    cJSON_AddNumberToObject(o, "initializer_range", 0.02);
    cJSON_AddNumberToObject(o, "intermediate_size", t->intermediate);
    cJSON_AddNumberToObject(o, "max_position_embeddings", 40960);
    cJSON_AddNumberToObject(o, "max_window_layers", 28);
    cJSON_AddStringToObject(o, "model_type", "qwen3");
    cJSON_AddNumberToObject(o, "num_attention_heads", t->heads);
    cJSON_AddNumberToObject(o, "num_hidden_layers", total_layers);
    cJSON_AddNumberToObject(o, "num_key_value_heads", t->kv_heads);
    cJSON_AddNumberToObject(o, "rms_norm_eps", decimal(t->rms_eps));
    cJSON_AddNullToObject(o, "rope_scaling");
    cJSON_AddNumberToObject(o, "rope_theta", t->rope_theta);
    cJSON_AddNullToObject(o, "sliding_window");
    cJSON_AddTrueToObject(o, "tie_word_embeddings");
    cJSON_AddStringToObject(o, "torch_dtype", "bfloat16");
    cJSON_AddFalseToObject(o, "use_cache");
    cJSON_AddFalseToObject(o, "use_sliding_window");
    cJSON_AddNumberToObject(o, "vocab_size", t->vocab);
    if (!complete(o, 27)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *auto_map_json(void)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "AutoConfig", "configuration_eagle2_5_vl.Eagle2_5_VLConfig");
    cJSON_AddStringToObject(o, "AutoModel",
                            "modeling_eagle2_5_vl.Eagle2_5_VLForConditionalGeneration");
    if (!complete(o, 2)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

groot_status gr_synth_write_eagle_config(const gr_synth_preset *p, const char *path,
                                         gr_error *err)
{
    const gr_model_config *c = &p->cfg;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory building '%s'", path);
    cJSON_AddStringToObject(o, "_attn_implementation", "flash_attention_2");
    cJSON_AddNullToObject(o, "_commit_hash");
    add_object(o, "architectures", string_array("Eagle2_5_VLForConditionalGeneration"));
    add_object(o, "auto_map", auto_map_json());
    cJSON_AddNumberToObject(o, "downsample_ratio", 0.5);
    cJSON_AddTrueToObject(o, "dynamic_image_size");
    cJSON_AddNumberToObject(o, "force_image_size", c->vision.image_size);
    cJSON_AddNumberToObject(o, "image_token_index", c->image_token_id);
    cJSON_AddStringToObject(o, "loss_version", "efficient_v2_cp_head");
    cJSON_AddNumberToObject(o, "max_dynamic_tiles", 12);
    cJSON_AddNumberToObject(o, "min_dynamic_tiles", 1);
    cJSON_AddFalseToObject(o, "mlp_checkpoint");
    cJSON_AddNumberToObject(o, "mlp_connector_layers", 1);
    cJSON_AddStringToObject(o, "model_type", "eagle_2_5_vl");
    cJSON_AddFalseToObject(o, "pad2square");
    cJSON_AddNumberToObject(o, "select_layer", -1);
    cJSON_AddStringToObject(o, "template", "qwen3-chat");
    add_object(o, "text_config", text_json(&c->text, p->text_config_layers));
    cJSON_AddStringToObject(o, "torch_dtype", "bfloat16");
    cJSON_AddNullToObject(o, "transformers_version");
    cJSON_AddNumberToObject(o, "use_backbone_lora", 0);
    cJSON_AddNumberToObject(o, "use_llm_lora", 0);
    cJSON_AddFalseToObject(o, "use_pixel_shuffle");
    cJSON_AddTrueToObject(o, "use_thumbnail");
    add_object(o, "vision_config", vision_json(&c->vision));
    groot_status st = complete(o, 25)
                          ? gr_synth_write_json(o, path, err)
                          : gr_fail(err, GROOT_ERR_NOMEM, "out of memory building '%s'", path);
    cJSON_Delete(o);
    return st;
}
