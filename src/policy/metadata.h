/*
 * experiment_cfg/metadata.json (SPEC.md section 6): per embodiment tag, the
 * normalization statistics of every state/action subkey and the modality
 * descriptions (shapes, rotation types, video resolutions).
 *
 * Statistics are kept in double but rounded through float32 on load: the
 * reference turns them into torch.tensor(list), float32, before use, and
 * the transforms must see the same numbers.
 */
#ifndef GR_POLICY_METADATA_H
#define GR_POLICY_METADATA_H

#include "core/error.h"

typedef enum gr_stat {
    GR_STAT_MIN = 0,
    GR_STAT_MAX,
    GR_STAT_MEAN,
    GR_STAT_STD,
    GR_STAT_Q01,
    GR_STAT_Q99,
    GR_STAT_COUNT
} gr_stat;

/* "min", "max", "mean", "std", "q01", "q99". */
const char *gr_stat_name(gr_stat s);

/* One state or action subkey ("left_arm" of "state.left_arm"). */
typedef struct gr_meta_key {
    char *name;
    double *stat[GR_STAT_COUNT]; /* NULL when the statistic is absent */
    int stat_len[GR_STAT_COUNT];
    int has_modality;            /* the modalities section describes it */
    int dim;                     /* product of "shape"; 0 when absent */
    char *rotation_type;         /* NULL when null or absent */
    int absolute;                /* default 1 */
    int continuous;              /* default 1 */
} gr_meta_key;

typedef struct gr_meta_video {
    char *name;
    int width, height; /* "resolution": [W, H]; 0 when absent */
    int channels;
    double fps;
} gr_meta_video;

typedef struct gr_metadata {
    char *tag;
    char *path;
    gr_meta_key *state, *action;
    int num_state, num_action;
    gr_meta_video *video;
    int num_video;
} gr_metadata;

/* Loads the entry for `tag`. An unknown tag is GROOT_ERR_INVALID_ARG listing
 * the tags present; malformed content is GROOT_ERR_FORMAT naming the key. */
groot_status gr_metadata_load(const char *path, const char *tag, gr_metadata **out,
                              gr_error *err);
void gr_metadata_free(gr_metadata *md);

/* modality: "state" or "action"; subkey without prefix. NULL when absent. */
const gr_meta_key *gr_metadata_key(const gr_metadata *md, const char *modality,
                                   const char *subkey);
const gr_meta_video *gr_metadata_video(const gr_metadata *md, const char *subkey);

/* A statistic that must exist with `len` values (len 0: any length):
 * GROOT_ERR_FORMAT naming file, tag, modality, key and statistic otherwise. */
groot_status gr_metadata_stat(const gr_metadata *md, const char *modality, const char *subkey,
                              gr_stat which, int len, const double **vals, gr_error *err);

#endif
