/*
 * Buffers for a batch shape and the batch's layout in them. Samples are
 * stacked (tokens, images, horizon rows), so every buffer is sized for the
 * batch's totals; the RoPE table alone for the longest sample.
 */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

static void buffers_free(gr_backend *be, gr_plan *p)
{
    be->ops->free(be, &p->ids);
    be->ops->free(be, &p->valid);
    be->ops->free(be, &p->pixels);
    free(p->frame_jobs);
    p->frame_jobs = NULL;
    be->ops->free(be, &p->vit_embeds);
    be->ops->free(be, &p->backbone);
    be->ops->free(be, &p->vl_embs);
    be->ops->free(be, &p->state);
    be->ops->free(be, &p->state_features);
    be->ops->free(be, &p->actions);
    be->ops->free(be, &p->velocities);
    gr_vision_scratch_free(be, &p->vision);
    gr_text_scratch_free(be, &p->text);
    gr_vl_scratch_free(be, &p->vl);
    gr_action_scratch_free(be, &p->action);
    p->cap_tokens = p->cap_views = p->cap_len = 0;
}

static groot_status buffers_alloc(gr_model *m, int64_t tokens, int64_t views, int64_t len, int64_t batch)
{
    gr_backend *be = m->be;
    gr_plan *p = &m->plan;
    const gr_model_config *cfg = &m->cfg;
    const gr_action_config *ac = &cfg->action;
    const int64_t pixels = (int64_t)cfg->vision.channels * cfg->vision.image_size * cfg->vision.image_size;
    const int64_t BH = batch * ac->horizon;
    GR_TRY(be->ops->alloc(be, &p->ids, 1, tokens, GR_I32));
    GR_TRY(be->ops->alloc(be, &p->valid, 1, batch, GR_I32));
    GR_TRY(be->ops->alloc(be, &p->pixels, views, pixels, GR_F32));
    p->frame_jobs = malloc((size_t)views * sizeof *p->frame_jobs);
    if (!p->frame_jobs)
        return gr_fail(&be->err, GROOT_ERR_NOMEM, "plan: %lld camera frame jobs", (long long)views);
    GR_TRY(be->ops->alloc(be, &p->vit_embeds, views * cfg->tokens_per_image, cfg->vision_out_dim, GR_F32));
    GR_TRY(be->ops->alloc(be, &p->backbone, tokens, cfg->text.hidden, GR_F32));
    GR_TRY(be->ops->alloc(be, &p->vl_embs, tokens, ac->backbone_dim, GR_F32));
    GR_TRY(be->ops->alloc(be, &p->state, batch, ac->max_state_dim, m->prec[GR_COMP_DIT].act));
    GR_TRY(be->ops->alloc(be, &p->state_features, batch, ac->embed, GR_F32));
    GR_TRY(be->ops->alloc(be, &p->actions, BH, ac->action_dim, GR_F32));
    GR_TRY(be->ops->alloc(be, &p->velocities, (int64_t)m->steps * BH, ac->action_dim, GR_F32));
    GR_TRY(gr_vision_scratch_alloc(be, cfg, &m->prec[GR_COMP_VIT], views, &p->vision));
    GR_TRY(gr_text_scratch_alloc(be, cfg, &m->prec[GR_COMP_LLM], tokens, len, &p->text));
    GR_TRY(gr_vl_scratch_alloc(be, cfg, &m->prec[GR_COMP_VL], tokens, &p->vl));
    GR_TRY(gr_action_scratch_alloc(be, cfg, &m->prec[GR_COMP_DIT], tokens, batch, &p->action));
    p->cap_tokens = tokens;
    p->cap_views = views;
    p->cap_len = len;
    return GROOT_OK;
}

static groot_status grow_layout(gr_plan *p, gr_backend *be, int batch)
{
    if (batch <= p->cap_batch)
        return GROOT_OK;
    gr_batch_sample *sample = realloc(p->batch.sample, (size_t)batch * sizeof *sample);
    if (sample)
        p->batch.sample = sample;
    gr_batch_run *run = sample ? realloc(p->batch.run, (size_t)batch * sizeof *run) : NULL;
    if (run)
        p->batch.run = run;
    if (!sample || !run)
        return gr_fail(&be->err, GROOT_ERR_NOMEM, "plan for a batch of %d", batch);
    return GROOT_OK;
}

/* Stacks the samples in order; runs group neighbours of one embodiment. */
static void lay_out(gr_batch *b, const groot_sample *samples, int batch, int bucket)
{
    b->count = batch;
    b->tokens = b->views = b->max_rows = 0;
    b->runs = 0;
    for (int i = 0; i < batch; i++) {
        gr_batch_sample *s = &b->sample[i];
        s->len = samples[i].seq_len;
        s->rows = (s->len + bucket - 1) / bucket * bucket;
        s->views = samples[i].num_views;
        s->cat = samples[i].embodiment_id;
        s->tok0 = b->tokens;
        s->view0 = b->views;
        b->tokens += s->rows;
        b->views += s->views;
        b->max_rows = s->rows > b->max_rows ? s->rows : b->max_rows;
        if (b->runs > 0 && b->run[b->runs - 1].cat == s->cat)
            b->run[b->runs - 1].count++;
        else
            b->run[b->runs++] = (gr_batch_run){i, 1, s->cat};
    }
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static int64_t round_up(int64_t n, int64_t step) { return (n + step - 1) / step * step; }

#define TOKEN_STEP 256

groot_status gr_plan_reserve(gr_model *m, const groot_sample *samples, int batch)
{
    gr_plan *p = &m->plan;
    gr_backend *be = m->be;
    GR_TRY(grow_layout(p, be, batch));
    lay_out(&p->batch, samples, batch, be->seq_bucket > 0 ? be->seq_bucket : 1);
    gr_batch *b = &p->batch;
    if (batch <= p->cap_batch && b->tokens <= p->cap_tokens && b->views <= p->cap_views && b->max_rows <= p->cap_len) {
        b->valid = gr_view_cols(p->valid, 0, batch);
        return GROOT_OK;
    }

    /* Every cap only grows, so alternating shapes settle on one set of
     * buffers. New buffers are a new generation, which every recorded call
     * must be recorded again for; where calls are recorded (seq_bucket > 1),
     * token rows grow in steps of TOKEN_STEP so that prompts a few buckets
     * longer do not set that off each time. */
    const int64_t step = be->seq_bucket > 1 ? TOKEN_STEP : 1;
    const int64_t tokens = max64(round_up(b->tokens, step), p->cap_tokens), views = max64(b->views, p->cap_views);
    const int64_t len = max64(round_up(b->max_rows, step), p->cap_len), cap_batch = max64(batch, p->cap_batch);
    buffers_free(be, p);
    p->cap_batch = 0;
    p->generation++;
    groot_status st = buffers_alloc(m, tokens, views, len, cap_batch);
    if (st) {
        buffers_free(be, p);
        gr_error_prefix(&be->err, "planning buffers for %d samples, %lld tokens, %lld views", batch,
                        (long long)tokens, (long long)views);
        return st;
    }
    p->cap_batch = (int)cap_batch;
    b->valid = gr_view_cols(p->valid, 0, batch);
    return GROOT_OK;
}

void gr_plan_free(gr_backend *be, gr_plan *p)
{
    if (!be)
        return;
    buffers_free(be, p);
    free(p->batch.sample);
    free(p->batch.run);
    memset(p, 0, sizeof *p);
}

uint64_t gr_plan_shape_key(const gr_plan *p)
{
    uint64_t h = gr_key_mix(1469598103934665603ull, p->generation);
    h = gr_key_mix(h, (uint64_t)p->batch.count);
    for (int i = 0; i < p->batch.count; i++) {
        const gr_batch_sample *s = &p->batch.sample[i];
        h = gr_key_mix(h, (uint64_t)s->rows);
        h = gr_key_mix(h, (uint64_t)s->views);
        h = gr_key_mix(h, (uint64_t)s->cat);
    }
    return h;
}

gr_tensor gr_plan_pixels(const gr_plan *p) { return gr_view_rows(p->pixels, 0, p->batch.views); }

gr_tensor gr_plan_vit(const gr_plan *p, const gr_model_config *cfg)
{
    return gr_view_rows(p->vit_embeds, 0, p->batch.views * cfg->tokens_per_image);
}

gr_tensor gr_plan_tokens(const gr_plan *p, gr_tensor t) { return gr_view_rows(t, 0, p->batch.tokens); }

gr_tensor gr_plan_ids(const gr_plan *p) { return gr_view_cols(p->ids, 0, p->batch.tokens); }

gr_tensor gr_plan_per_sample(const gr_plan *p, gr_tensor t, int64_t rows_each)
{
    return gr_view_rows(t, 0, p->batch.count * rows_each);
}
