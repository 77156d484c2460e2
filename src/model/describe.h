/*
 * What a model configuration amounts to: parameter counts per component,
 * from the config alone (no weights needed), and a human-readable report
 * of them with the weight memory each precision would take.
 */
#ifndef GR_MODEL_DESCRIBE_H
#define GR_MODEL_DESCRIBE_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"

typedef struct gr_param_counts {
    int64_t vision;         /* patch + position embeddings, encoder layers, post_layernorm */
    int64_t vision_head;    /* the pooling head: in checkpoints, never computed */
    int64_t mlp1;           /* vision -> language projection */
    int64_t embed_tokens;
    int64_t language;       /* decoder layers (select_layer of them) + final norm */
    int64_t vl;             /* vlln + vl_self_attention */
    int64_t state_encoder;
    int64_t action_encoder;
    int64_t dit;            /* timestep encoder, blocks, proj_out_1/2 */
    int64_t action_decoder;
    int64_t tokens;         /* future tokens + action position embedding */
    int64_t total;          /* everything above: the checkpoint's parameter count */
} gr_param_counts;

void gr_model_param_counts(const gr_model_config *cfg, gr_param_counts *out);

/* Writes the report into buf (always NUL-terminated when size > 0).
 * GROOT_ERR_INVALID_ARG when an argument is NULL or buf is too small (the
 * report is then cut short). */
groot_status gr_model_describe_config(const gr_model_config *cfg, char *buf, size_t size);

#endif
