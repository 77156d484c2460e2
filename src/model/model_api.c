/*
 * The public groot_model_* API (include/groot.h) over gr_model.
 */
#include <stdlib.h>

#include "model/bench.h"
#include "model/describe.h"
#include "model/model.h"

#ifndef GROOT_ASSETS_DIR
#error "GROOT_ASSETS_DIR must be defined by the build"
#endif

/* Room for the describe report; it is a few dozen lines. */
#define DESCRIBE_BUF_SIZE 16384

struct groot_model {
    gr_handle h; /* first: groot_errmsg reads any handle through it */
    gr_model *m;
    char *describe;
    gr_bench_rates bench_rates; /* measured by the first benchmark (bench_api.c) */
};

void groot_model_options_init(groot_model_options *opts)
{
    if (!opts)
        return;
    opts->device = "cpu";
    opts->precision = "fp32";
    opts->denoising_steps = 0;
    opts->fp32_accumulate = 1;
    opts->num_threads = 0;
}

groot_status groot_model_open(const char *checkpoint_dir, const char *assets_dir,
                              const groot_model_options *opts, groot_model **out)
{
    if (!out)
        return GROOT_ERR_INVALID_ARG;
    groot_model *h = calloc(1, sizeof *h);
    *out = h;
    if (!h)
        return GROOT_ERR_NOMEM;
    gr_handle_init(&h->h);
    if (!checkpoint_dir)
        return gr_fail(&h->h.err, GROOT_ERR_INVALID_ARG, "checkpoint_dir is NULL");
    groot_model_options defaults;
    if (!opts) {
        groot_model_options_init(&defaults);
        opts = &defaults;
    }
    return gr_model_open(checkpoint_dir, assets_dir ? assets_dir : GROOT_ASSETS_DIR, opts, &h->m, &h->h.err);
}

void groot_model_close(groot_model *model)
{
    if (!model)
        return;
    gr_model_close(model->m);
    free(model->describe);
    free(model);
}

static groot_status require_open(groot_model *model)
{
    gr_error_clear(&model->h.err);
    if (!model->m)
        return gr_fail(&model->h.err, GROOT_ERR_INVALID_ARG, "the model failed to open");
    return GROOT_OK;
}

groot_status groot_model_get_dims(groot_model *model, groot_model_dims *dims)
{
    if (!model)
        return GROOT_ERR_INVALID_ARG;
    GR_TRY(require_open(model));
    if (!dims)
        return gr_fail(&model->h.err, GROOT_ERR_INVALID_ARG, "dims is NULL");
    const gr_model_config *cfg = &model->m->cfg;
    dims->image_size = cfg->vision.image_size;
    dims->tokens_per_image = cfg->tokens_per_image;
    dims->image_token_id = cfg->image_token_id;
    dims->vocab_size = cfg->text.vocab;
    dims->backbone_dim = cfg->text.hidden;
    dims->max_state_dim = cfg->action.max_state_dim;
    dims->action_horizon = cfg->action.horizon;
    dims->action_dim = cfg->action.action_dim;
    dims->state_feature_dim = cfg->action.embed;
    dims->denoising_steps = model->m->steps;
    dims->num_embodiments = cfg->action.num_embodiments;
    dims->seq_bucket = model->m->be->seq_bucket;
    return GROOT_OK;
}

groot_status groot_forward(groot_model *model, const groot_sample *samples, int batch, groot_sample_out *outs,
                           groot_timings *timings)
{
    if (!model)
        return GROOT_ERR_INVALID_ARG;
    GR_TRY(require_open(model));
    return gr_model_forward(model->m, samples, batch, outs, timings, &model->h.err);
}

const char *groot_model_describe(groot_model *model)
{
    if (!model)
        return "";
    if (require_open(model))
        return model->h.err.msg;
    if (!model->describe) {
        model->describe = malloc(DESCRIBE_BUF_SIZE);
        if (!model->describe) {
            gr_fail(&model->h.err, GROOT_ERR_NOMEM, "describe buffer");
            return model->h.err.msg;
        }
    }
    groot_status st = gr_model_describe_config(&model->m->cfg, model->describe, DESCRIBE_BUF_SIZE);
    if (st)
        gr_fail(&model->h.err, st, "describing the model: the report was cut short");
    return model->describe;
}

groot_status gr_model_handle_bench(groot_model *model, gr_model **m, gr_bench_rates **rates, gr_error **err)
{
    if (!model)
        return GROOT_ERR_INVALID_ARG;
    *err = &model->h.err;
    GR_TRY(require_open(model));
    *m = model->m;
    *rates = &model->bench_rates;
    return GROOT_OK;
}
