/*
 * Embodiment data configs (SPEC.md section 6): which camera, state, action
 * and language keys an embodiment uses, and the eval-mode transforms applied
 * to them, as transcribed in assets/data_configs.json. A user file in the
 * same schema is accepted too (docs/data_configs.md).
 *
 * Only what matters at inference is kept: train-only augmentations are
 * recognized and dropped; an unknown transform name is an error, so that a
 * config that means something we do not do never runs silently.
 */
#ifndef GR_POLICY_DATA_CONFIG_H
#define GR_POLICY_DATA_CONFIG_H

#include "core/error.h"
#include "policy/rotation.h"

typedef enum gr_norm_mode {
    GR_NORM_NONE = 0, /* key not in normalization_modes: values pass through */
    GR_NORM_MIN_MAX,
    GR_NORM_Q99,
    GR_NORM_MEAN_STD,
    GR_NORM_BINARY
} gr_norm_mode;

/* "min_max" etc.; "none" for GR_NORM_NONE. */
const char *gr_norm_mode_name(gr_norm_mode m);

typedef enum gr_sa_kind {
    GR_SA_SINCOS = 0, /* StateActionSinCosTransform: x -> [sin(x), cos(x)] */
    GR_SA_TRANSFORM   /* StateActionTransform: rotation conversion, then normalization */
} gr_sa_kind;

/* What one state/action transform does to one key it applies to. */
typedef struct gr_sa_step {
    const char *key;     /* "state.left_arm" */
    gr_norm_mode mode;   /* GR_SA_TRANSFORM only */
    int has_target;      /* target_rotations names this key */
    gr_rotation target;  /* valid when has_target */
} gr_sa_step;

/* One state/action transform, in config order. */
typedef struct gr_sa_transform {
    gr_sa_kind kind;
    gr_sa_step *steps; /* one per apply_to key */
    int num_steps;
} gr_sa_transform;

/* Camera preprocessing of one video key. */
typedef struct gr_video_prep {
    const char *key;
    double crop_scale; /* 1.0 when the config has no VideoCrop for it */
    int resize_h, resize_w; /* 0 when the config has no VideoResize for it */
} gr_video_prep;

typedef struct gr_strlist {
    const char **items;
    int count;
} gr_strlist;

typedef struct gr_data_config {
    const char *name;
    const char *source; /* file it came from, for messages */
    gr_strlist video_keys, state_keys, action_keys, language_keys;
    int *observation_indices, num_observation_indices;
    int *action_indices, num_action_indices;
    gr_video_prep *video; /* one per video key, in video_keys order */
    gr_sa_transform *sa;  /* state/action transforms in config order */
    int num_sa;
    /* ConcatTransform; an absent order defaults to the key list. */
    gr_strlist video_order, state_order, action_order;
    /* GR00TTransform (defaults 1, 16, 64, 32 when absent). */
    int state_horizon, action_horizon, max_state_dim, max_action_dim;

    void *json_; /* the parsed file: strings above point into it */
} gr_data_config;

/* Opens a data config by spec: a bundled config's name (looked up in
 * assets_dir/data_configs.json; assets_dir NULL: the compiled-in path), or a
 * path to a JSON file (a spec ending in ".json" or containing '/'); a file
 * holding several configs needs "path.json:name". An unknown name is
 * GROOT_ERR_INVALID_ARG listing the names available. */
groot_status gr_data_config_open(const char *spec, const char *assets_dir, gr_data_config **out,
                                 gr_error *err);

/* Loads config `name` from a file mapping names to configs, or, with name
 * NULL, the file's only config (the file may also be one bare config
 * object, recognized by its "video_keys"). */
groot_status gr_data_config_load_file(const char *path, const char *name, gr_data_config **out,
                                      gr_error *err);

/* The names of the configs in a file, comma-separated, into buf. */
groot_status gr_data_config_list(const char *path, char *buf, size_t size, gr_error *err);

void gr_data_config_free(gr_data_config *cfg);

/* Index of key in list, or -1. */
int gr_strlist_find(const gr_strlist *l, const char *key);

#endif
