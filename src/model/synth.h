/*
 * Checkpoint synthesis (groot_synth): the pieces behind the public call,
 * exposed so that tests can check the plan for the 3B model without writing
 * 5 GB of weights.
 *
 * The work is split in three: a preset names every size (synth_presets.c);
 * the plan lists every tensor with its shape, initial distribution and place
 * in a shard (synth_plan.c); synth.c streams the plan to disk while
 * synth_config.c and synth_metadata.c write the JSON files around it.
 */
#ifndef GR_MODEL_SYNTH_H
#define GR_MODEL_SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "model/config.h"

/* A preset: gr_model_config plus the few config-file values the engine never
 * reads but a checkpoint in the released layout carries. */
typedef struct gr_synth_preset {
    const char *name;
    gr_model_config cfg;
    /* The backbone config's text num_hidden_layers: the full LLM's depth (28
     * for the 3B model), of which the checkpoint keeps cfg.text.layers. */
    int text_config_layers;
    /* Shard size limit, header included. */
    uint64_t max_shard_bytes;
} gr_synth_preset;

/* NULL when no preset has that name. */
const gr_synth_preset *gr_synth_find_preset(const char *name);

#define GR_SYNTH_NAME_MAX 128

/* One tensor of the checkpoint. Every value is mean + std * N(0,1), rounded to bf16. */
typedef struct gr_synth_tensor {
    char name[GR_SYNTH_NAME_MAX];
    int ndim;
    int64_t shape[4];
    int64_t numel;
    float mean, std;
    int shard;       /* 0-based */
    uint64_t offset; /* bytes from the start of its shard's data section */
} gr_synth_tensor;

typedef struct gr_synth_plan {
    gr_synth_tensor *tensors; /* sorted by name: shard order and data order */
    int count;
    int num_shards;
    uint64_t *shard_data_bytes;   /* [num_shards] */
    uint64_t *shard_header_bytes; /* [num_shards]: 8-byte length + padded JSON */
    uint64_t total_bytes;         /* tensor data only, as the index's total_size */
    int64_t total_params;
} gr_synth_plan;

/* Lists every tensor a checkpoint of cfg holds (SPEC.md section 1, plus the
 * vision pooling head; no lm_head) and splits them into shards, in name
 * order, so that each shard file (header included) stays within
 * max_shard_bytes; a tensor larger than that alone would get a shard of its
 * own. Free with gr_synth_plan_free, also after a failure. */
groot_status gr_synth_plan_build(const gr_model_config *cfg, uint64_t max_shard_bytes,
                                 gr_synth_plan *plan, gr_error *err);
void gr_synth_plan_free(gr_synth_plan *plan);

/* The safetensors header of one shard: the 8-byte little-endian length
 * followed by the JSON, space-padded so the data starts 8-byte aligned.
 * *len equals plan->shard_header_bytes[shard]. free() it. */
groot_status gr_synth_shard_header(const gr_synth_plan *plan, int shard, char **out, size_t *len,
                                   gr_error *err);

/* "model-0000K-of-0000N.safetensors" for 0-based shard k. */
void gr_synth_shard_name(int shard, int num_shards, char *buf, size_t size);

/* Streams one tensor's bf16 values into f: generated in blocks seeded from
 * (seed, name, block index), so the bytes do not depend on the thread count.
 * path is for messages. */
groot_status gr_synth_write_tensor(FILE *f, const char *path, const gr_synth_tensor *t,
                                   uint64_t seed, gr_error *err);

/* The JSON files. */
groot_status gr_synth_write_config(const gr_synth_preset *p, const char *path, gr_error *err);
groot_status gr_synth_write_eagle_config(const gr_synth_preset *p, const char *path,
                                         gr_error *err);
/* experiment_cfg/metadata.json: plausible "gr1" statistics for the
 * fourier_gr1_arms_only keys, drawn from the seed. */
groot_status gr_synth_write_metadata(uint64_t seed, const char *path, gr_error *err);

/* Prints json (formatted) to path; GROOT_ERR_IO naming the path when any write fails. */
groot_status gr_synth_write_json(const cJSON *json, const char *path, gr_error *err);

/* Removes a file a failed write left behind, if it is a regular file (never
 * a device such as /dev/full that a caller pointed a write at). */
void gr_synth_discard(const char *path);

#endif
