/*
 * The opened network: configuration, backend, weights, the per-step
 * constants, and the plan of buffers for the batch shape last seen. The
 * forward pipeline is written once against the backend ops and never asks
 * which backend it runs on.
 */
#ifndef GR_MODEL_MODEL_H
#define GR_MODEL_MODEL_H

#include "model/action_head.h"
#include "model/language.h"
#include "model/vision.h"

/* Bounds on a sample's shape, so that sizes stay far from overflow. */
#define GR_MODEL_MAX_SEQ_LEN 65536
#define GR_MODEL_MAX_VIEWS 64

/* Every buffer a forward needs, the samples' rows stacked as batch lays
 * them out (batch.h): stages run their GEMMs once over all samples. A
 * repeated shape reuses them all; a larger one reallocates and bumps the
 * generation, so work recorded against the old buffers is never replayed. */
typedef struct gr_plan {
    uint64_t generation;
    gr_batch batch; /* the current call's layout; its arrays hold cap_batch entries */
    int cap_batch;
    int64_t cap_tokens, cap_views, cap_len; /* sums over a batch; cap_len: one sample */
    gr_tensor ids;            /* int32 [1, cap_tokens]: each sample's ids, then token 0 up to its rows */
    gr_tensor valid;          /* int32 [1, cap_batch]: each sample's len (batch.valid views it) */
    gr_tensor pixels;         /* float32 [cap_views, C*S*S] */
    gr_frame_job *frame_jobs; /* host [cap_views]: the call's camera frames given as such */
    gr_tensor vit_embeds;     /* float32 [cap_views*tokens_per_image, text hidden] */
    gr_tensor backbone;       /* float32 [cap_tokens, text hidden] */
    gr_tensor vl_embs;        /* float32 [cap_tokens, backbone_dim] */
    gr_tensor state;          /* DiT act [cap_batch, max_state_dim] */
    gr_tensor state_features; /* float32 [cap_batch, embed] */
    gr_tensor actions;        /* float32 [cap_batch*horizon, action_dim]: noise in, action_pred out */
    gr_tensor velocities;     /* float32 [steps*cap_batch*horizon, action_dim]: step k at rows k*B*horizon */
    gr_vision_scratch vision;
    gr_text_scratch text;
    gr_vl_scratch vl;
    gr_action_scratch action;
} gr_plan;

typedef struct gr_model {
    gr_model_config cfg;
    gr_precision prec[GR_COMP_COUNT];
    int steps;
    gr_backend *be;
    gr_model_weights w;
    gr_action_constants consts;
    gr_plan plan;
} gr_model;

/* Parses a precision spec ("fp32", "bf16", "vit=bf16,llm=fp16", ...; a bare
 * precision sets every component, later entries override earlier ones). */
groot_status gr_precision_parse(const char *spec, int fp32_accumulate, gr_precision out[GR_COMP_COUNT],
                                gr_error *err);

groot_status gr_model_open(const char *checkpoint_dir, const char *assets_dir, const groot_model_options *opts,
                           gr_model **out, gr_error *err);
void gr_model_close(gr_model *m);

/* Fits the plan to this batch and lays it out in plan.batch (plan.c);
 * allocation only for a new, larger shape. */
groot_status gr_plan_reserve(gr_model *m, const groot_sample *samples, int batch);
void gr_plan_free(gr_backend *be, gr_plan *p);

/* The current batch's views of the stacked buffers (all samples' rows). */
/* One recording per shape: the buffers (generation) and everything baked
 * into the recorded ops (rows, views, the embodiment's weight rows). */
uint64_t gr_plan_shape_key(const gr_plan *p);
/* Folds v into the key h (FNV-1a over 64-bit words). */
static inline uint64_t gr_key_mix(uint64_t h, uint64_t v) { return (h ^ v) * 1099511628211ull; }

gr_tensor gr_plan_pixels(const gr_plan *p);
gr_tensor gr_plan_vit(const gr_plan *p, const gr_model_config *cfg);
gr_tensor gr_plan_tokens(const gr_plan *p, gr_tensor t); /* backbone, vl_embs */
gr_tensor gr_plan_ids(const gr_plan *p);
gr_tensor gr_plan_per_sample(const gr_plan *p, gr_tensor t, int64_t rows_each); /* state, actions, ... */

/* Checks every sample on the host: errors name the sample index and field. */
groot_status gr_model_validate(const gr_model *m, const groot_sample *samples, int batch, gr_error *err);

groot_status gr_model_forward(gr_model *m, const groot_sample *samples, int batch, groot_sample_out *outs,
                              groot_timings *timings, gr_error *err);

#endif
