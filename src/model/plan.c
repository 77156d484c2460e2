/*
 * Buffers for a batch shape: per-sample slots and the shared scratch of
 * each stage. Stages run one sample at a time, so scratch is sized for the
 * largest sample, not the batch.
 */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

static void slot_free(gr_backend *be, gr_sample_slot *s)
{
    be->ops->free(be, &s->ids);
    be->ops->free(be, &s->pixels);
    be->ops->free(be, &s->vit_embeds);
    be->ops->free(be, &s->backbone);
    be->ops->free(be, &s->vl_embs);
    be->ops->free(be, &s->state);
    be->ops->free(be, &s->state_features);
    be->ops->free(be, &s->actions);
    be->ops->free(be, &s->velocities);
    s->cap_len = s->cap_views = 0;
}

static groot_status slot_alloc(gr_model *m, gr_sample_slot *s, int64_t len, int64_t views)
{
    gr_backend *be = m->be;
    const gr_model_config *cfg = &m->cfg;
    const gr_action_config *ac = &cfg->action;
    const int64_t pixels = (int64_t)cfg->vision.channels * cfg->vision.image_size * cfg->vision.image_size;
    GR_TRY(be->ops->alloc(be, &s->ids, 1, len, GR_I32));
    GR_TRY(be->ops->alloc(be, &s->pixels, views, pixels, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->vit_embeds, views * cfg->tokens_per_image, cfg->vision_out_dim, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->backbone, len, cfg->text.hidden, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->vl_embs, len, ac->backbone_dim, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->state, 1, ac->max_state_dim, m->prec[GR_COMP_DIT].act));
    GR_TRY(be->ops->alloc(be, &s->state_features, 1, ac->embed, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->actions, ac->horizon, ac->action_dim, GR_F32));
    GR_TRY(be->ops->alloc(be, &s->velocities, (int64_t)m->steps * ac->horizon, ac->action_dim, GR_F32));
    s->cap_len = len;
    s->cap_views = views;
    return GROOT_OK;
}

static void scratch_free_len(gr_backend *be, gr_plan *p)
{
    gr_text_scratch_free(be, &p->text);
    gr_vl_scratch_free(be, &p->vl);
    gr_action_scratch_free(be, &p->action);
    p->cap_len = 0;
}

static groot_status scratch_alloc_len(gr_model *m, int64_t len)
{
    gr_plan *p = &m->plan;
    GR_TRY(gr_text_scratch_alloc(m->be, &m->cfg, &m->prec[GR_COMP_LLM], len, &p->text));
    GR_TRY(gr_vl_scratch_alloc(m->be, &m->cfg, &m->prec[GR_COMP_VL], len, &p->vl));
    GR_TRY(gr_action_scratch_alloc(m->be, &m->cfg, &m->prec[GR_COMP_DIT], len, &p->action));
    p->cap_len = len;
    return GROOT_OK;
}

groot_status gr_plan_reserve(gr_model *m, const groot_sample *samples, int batch)
{
    gr_plan *p = &m->plan;
    gr_backend *be = m->be;
    int changed = 0;
    groot_status st = GROOT_OK;

    if (batch > p->cap_batch) {
        gr_sample_slot *slots = realloc(p->slots, (size_t)batch * sizeof *slots);
        if (!slots)
            return gr_fail(&be->err, GROOT_ERR_NOMEM, "plan for a batch of %d", batch);
        memset(slots + p->cap_batch, 0, (size_t)(batch - p->cap_batch) * sizeof *slots);
        p->slots = slots;
        p->cap_batch = batch;
    }
    int64_t max_len = 0, max_views = 0;
    for (int i = 0; i < batch && !st; i++) {
        gr_sample_slot *s = &p->slots[i];
        int64_t len = samples[i].seq_len, views = samples[i].num_views;
        max_len = len > max_len ? len : max_len;
        max_views = views > max_views ? views : max_views;
        if (len > s->cap_len || views > s->cap_views) {
            int64_t new_len = len > s->cap_len ? len : s->cap_len;
            int64_t new_views = views > s->cap_views ? views : s->cap_views;
            slot_free(be, s);
            changed = 1;
            st = slot_alloc(m, s, new_len, new_views);
            if (st)
                slot_free(be, s);
        }
    }
    if (!st && max_len > p->cap_len) {
        scratch_free_len(be, p);
        changed = 1;
        st = scratch_alloc_len(m, max_len);
        if (st)
            scratch_free_len(be, p);
    }
    if (!st && max_views > p->cap_views) {
        gr_vision_scratch_free(be, &p->vision);
        changed = 1;
        st = gr_vision_scratch_alloc(be, &m->cfg, &m->prec[GR_COMP_VIT], max_views, &p->vision);
        p->cap_views = st ? 0 : max_views;
        if (st)
            gr_vision_scratch_free(be, &p->vision);
    }
    if (changed)
        p->generation++;
    if (st)
        gr_error_prefix(&be->err, "planning buffers for %lld tokens, %lld views", (long long)max_len,
                        (long long)max_views);
    return st;
}

void gr_plan_free(gr_backend *be, gr_plan *p)
{
    if (!be)
        return;
    for (int i = 0; i < p->cap_batch; i++)
        slot_free(be, &p->slots[i]);
    free(p->slots);
    scratch_free_len(be, p);
    gr_vision_scratch_free(be, &p->vision);
    memset(p, 0, sizeof *p);
}
