/*
 * Every size of the GR00T N1.5 network, read from the checkpoint's
 * config.json and the backbone config (SPEC.md section 1). Nothing about the
 * released 3B model is hard-coded anywhere else: the tiny golden model and
 * the 3B model differ only here.
 */
#ifndef GR_MODEL_CONFIG_H
#define GR_MODEL_CONFIG_H

#include "core/error.h"

typedef struct gr_vision_config {
    int hidden;         /* 1152 */
    int intermediate;   /* 4304 */
    int heads;          /* 16 */
    int layers;         /* 27 */
    int patch;          /* 14 */
    int image_size;     /* 224 */
    int channels;       /* 3 */
    float ln_eps;       /* 1e-6 */
} gr_vision_config;

typedef struct gr_text_config {
    int hidden;         /* 2048 */
    int intermediate;   /* 6144 */
    int heads;          /* 16 */
    int kv_heads;       /* 8 */
    int head_dim;       /* 128 */
    int layers;         /* select_layer: 12 (the checkpoint holds exactly these) */
    int vocab;          /* 151680 */
    float rms_eps;      /* 1e-6 */
    double rope_theta;  /* 1e6 */
} gr_text_config;

typedef struct gr_block_config {
    int heads;
    int head_dim;
    int layers;
} gr_block_config;

typedef struct gr_action_config {
    int action_dim;          /* 32 (max_action_dim) */
    int horizon;             /* 16 */
    int hidden;              /* hidden_size 1024: state/action decoder width, DiT output_dim */
    int embed;               /* input_embedding_dim 1536: DiT token width */
    int backbone_dim;        /* backbone_embedding_dim 2048 */
    int max_state_dim;       /* 64 */
    int steps;               /* num_inference_timesteps 4 */
    int timestep_buckets;    /* 1000 */
    int future_tokens;       /* num_target_vision_tokens 32 */
    int max_seq_len;         /* 1024: rows of position_embedding */
    int num_embodiments;     /* max_num_embodiments 32 */
    int add_pos_embed;       /* true */
    int use_vlln;            /* true */
    gr_block_config dit;     /* 32 x 48, 16 layers */
    int dit_output_dim;      /* 1024 */
    int dit_cross_dim;       /* 2048 */
    int dit_interleave;      /* interleave_self_attention: odd blocks self-attend */
    gr_block_config vlsa;    /* vl_self_attention: 32 x 64, 4 layers */
} gr_action_config;

typedef struct gr_model_config {
    gr_vision_config vision;
    gr_text_config text;
    gr_action_config action;
    int image_token_id;      /* 151669 */
    int tokens_per_image;    /* (image_size / patch)^2 = 256 */
    int vision_out_dim;      /* mlp1's output width = text.hidden */
} gr_model_config;

/* Reads <checkpoint_dir>/config.json and the backbone config: the checkpoint's
 * eagle2_hg_model/config.json when present, else <assets_dir>/eagle2_hg_model/
 * config.json. Validates every value (positive, consistent: heads*head_dim,
 * kv_heads dividing heads, even head dims for RoPE, patch dividing
 * image_size). Errors name the file and key. */
groot_status gr_model_config_load(const char *checkpoint_dir, const char *assets_dir,
                                  gr_model_config *cfg, gr_error *err);

#endif
