/*
 * Opening the network and running it: precision options, load-time
 * consistency checks, input validation, and the staged forward pipeline.
 */
#include "model/model.h"
#include "image/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- precision ---- */

static const char *const component_names[GR_COMP_COUNT] = {"vit", "llm", "vl", "dit"};

static groot_status parse_one_precision(const char *name, size_t n, int fp32_accumulate, gr_precision *p)
{
    static const struct {
        const char *name;
        gr_dtype weight, act;
        gr_math math;
    } table[] = {
        {"fp32", GR_F32, GR_F32, GR_MATH_EXACT},
        {"tf32", GR_F32, GR_F32, GR_MATH_TF32},
        {"bf16", GR_BF16, GR_BF16, GR_MATH_EXACT},
        {"fp16", GR_F16, GR_F16, GR_MATH_EXACT},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strlen(table[i].name) == n && strncmp(table[i].name, name, n) == 0) {
            p->weight = table[i].weight;
            p->act = table[i].act;
            p->math = table[i].math;
            if (!fp32_accumulate && p->act != GR_F32)
                p->math = GR_MATH_REDUCED_ACC;
            return GROOT_OK;
        }
    }
    return GROOT_ERR_INVALID_ARG;
}

groot_status gr_precision_parse(const char *spec, int fp32_accumulate, gr_precision out[GR_COMP_COUNT],
                                gr_error *err)
{
    for (int i = 0; i < GR_COMP_COUNT; i++)
        out[i] = (gr_precision){GR_F32, GR_F32, GR_MATH_EXACT};
    if (!spec || !*spec)
        return GROOT_OK;
    const char *item = spec;
    while (*item) {
        size_t n = strcspn(item, ",");
        const char *eq = memchr(item, '=', n);
        if (!eq) {
            gr_precision p;
            if (parse_one_precision(item, n, fp32_accumulate, &p))
                return gr_fail(err, GROOT_ERR_INVALID_ARG,
                               "precision '%.*s' is unknown (expected fp32, tf32, bf16 or fp16)", (int)n, item);
            for (int i = 0; i < GR_COMP_COUNT; i++)
                out[i] = p;
        } else {
            size_t klen = (size_t)(eq - item), vlen = n - klen - 1;
            int comp = -1;
            for (int i = 0; i < GR_COMP_COUNT; i++)
                if (strlen(component_names[i]) == klen && strncmp(component_names[i], item, klen) == 0)
                    comp = i;
            if (comp < 0)
                return gr_fail(err, GROOT_ERR_INVALID_ARG,
                               "precision component '%.*s' is unknown (expected vit, llm, vl or dit)", (int)klen,
                               item);
            if (parse_one_precision(eq + 1, vlen, fp32_accumulate, &out[comp]))
                return gr_fail(err, GROOT_ERR_INVALID_ARG,
                               "precision '%.*s' for %s is unknown (expected fp32, tf32, bf16 or fp16)", (int)vlen,
                               eq + 1, component_names[comp]);
        }
        item += n;
        if (*item == ',')
            item++;
    }
    return GROOT_OK;
}

/* ---- open / close ---- */

/* The widths that one stage hands to the next must agree. */
static groot_status check_consistency(const gr_model_config *cfg, gr_error *err)
{
    const gr_action_config *ac = &cfg->action;
    if (cfg->vision_out_dim != cfg->text.hidden)
        return gr_fail(err, GROOT_ERR_FORMAT, "config: mlp1 output %d differs from the text hidden size %d",
                       cfg->vision_out_dim, cfg->text.hidden);
    if (ac->backbone_dim != cfg->text.hidden)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "config: action_head_cfg.backbone_embedding_dim %d differs from the text hidden size %d",
                       ac->backbone_dim, cfg->text.hidden);
    if (ac->dit_cross_dim != ac->backbone_dim)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "config: diffusion_model_cfg.cross_attention_dim %d differs from backbone_embedding_dim %d",
                       ac->dit_cross_dim, ac->backbone_dim);
    if (ac->dit.heads * ac->dit.head_dim != ac->embed)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "config: DiT width %d x %d differs from action_head_cfg.input_embedding_dim %d",
                       ac->dit.heads, ac->dit.head_dim, ac->embed);
    if (ac->embed % 2 != 0)
        return gr_fail(err, GROOT_ERR_FORMAT, "config: input_embedding_dim %d must be even", ac->embed);
    if (ac->add_pos_embed && ac->horizon > ac->max_seq_len)
        return gr_fail(err, GROOT_ERR_FORMAT, "config: action_horizon %d exceeds max_seq_len %d", ac->horizon,
                       ac->max_seq_len);
    if (cfg->vision.hidden % cfg->vision.heads != 0)
        return gr_fail(err, GROOT_ERR_FORMAT, "config: vision hidden_size %d is not a multiple of %d heads",
                       cfg->vision.hidden, cfg->vision.heads);
    return GROOT_OK;
}

static groot_status open_into(gr_model *m, const char *dir, const char *assets, const groot_model_options *opts,
                              gr_error *err)
{
    GR_TRY(gr_model_config_load(dir, assets, &m->cfg, err));
    GR_TRY(check_consistency(&m->cfg, err));
    if (opts->denoising_steps < 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "denoising_steps %d is negative", opts->denoising_steps);
    m->steps = opts->denoising_steps > 0 ? opts->denoising_steps : m->cfg.action.steps;
    GR_TRY(gr_precision_parse(opts->precision, opts->fp32_accumulate, m->prec, err));
    GR_TRY(gr_backend_create(opts->device, opts->num_threads, &m->be, err));

    gr_checkpoint *ckpt = NULL;
    GR_TRY(gr_checkpoint_open(dir, &ckpt, err));
    groot_status st = gr_model_weights_load(m->be, ckpt, &m->cfg, m->prec, &m->w, err);
    gr_checkpoint_close(ckpt);
    GR_TRY(st);

    st = gr_action_precompute(m->be, &m->cfg, &m->prec[GR_COMP_DIT], m->steps, &m->w.action, &m->consts);
    if (st) {
        *err = m->be->err;
        err->status = st;
        gr_error_prefix(err, "precomputing the per-step DiT constants");
        return st;
    }
    gr_model_weights_drop_precompute(m->be, &m->cfg, &m->w);
    return GROOT_OK;
}

groot_status gr_model_open(const char *checkpoint_dir, const char *assets_dir, const groot_model_options *opts,
                           gr_model **out, gr_error *err)
{
    *out = NULL;
    gr_model *m = calloc(1, sizeof *m);
    if (!m)
        return gr_fail(err, GROOT_ERR_NOMEM, "model handle");
    groot_status st = open_into(m, checkpoint_dir, assets_dir, opts, err);
    if (st) {
        gr_model_close(m);
        return st;
    }
    *out = m;
    return GROOT_OK;
}

void gr_model_close(gr_model *m)
{
    if (!m)
        return;
    if (m->be) {
        gr_plan_free(m->be, &m->plan);
        gr_action_constants_free(m->be, &m->consts);
        gr_model_weights_free(m->be, &m->cfg, &m->w);
        gr_backend_destroy(m->be);
    }
    free(m);
}

/* ---- validation ---- */

/* Every call checks its camera frames (150,528 floats a view): the whole
 * array is scanned without an early exit first, which the compiler turns
 * into vector code (several times faster than stopping at the first bad
 * value), and searched for the index only when something is wrong. An
 * exponent of all ones is an infinity or a NaN. */
static groot_status check_finite(const float *x, size_t n, int sample, const char *field, gr_error *err)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    for (size_t i = 0; bad && i < n; i++)
        if (!isfinite(x[i]))
            return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: %s[%zu] is not finite (%g)", sample, field, i,
                           (double)x[i]);
    return GROOT_OK;
}

/* Camera frames the backend is to crop and resize: what frames_to_pixels
 * accepts (the image layer's bounds), named by sample and view. */
static groot_status check_frames(const gr_model_config *cfg, const groot_sample *s, int i, gr_error *err)
{
    if (cfg->vision.channels != 3)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: frames are RGB but the vision model takes %d channels",
                       i, cfg->vision.channels);
    for (int v = 0; v < s->num_views; v++) {
        const groot_frame *f = &s->frames[v];
        if (!f->rgb)
            return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: frames[%d].rgb is NULL", i, v);
        if (!gr_image_size_ok(f->height, f->width))
            return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: frames[%d] is %dx%d; expected 1..%d on each side",
                           i, v, f->height, f->width, GR_IMAGE_SIDE_MAX);
        if (!gr_image_window_ok(f->height, f->width, f->crop_top, f->crop_left, f->crop_height, f->crop_width))
            return gr_fail(err, GROOT_ERR_INVALID_ARG,
                           "sample %d: frames[%d]: crop window %dx%d at (%d,%d) does not fit its %dx%d image", i, v,
                           f->crop_height, f->crop_width, f->crop_top, f->crop_left, f->height, f->width);
    }
    return GROOT_OK;
}

static groot_status validate_sample(const gr_model *m, const groot_sample *s, int i, gr_error *err)
{
    const gr_model_config *cfg = &m->cfg;
    const gr_action_config *ac = &cfg->action;
    if (!s->input_ids)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: input_ids is NULL", i);
    if (s->seq_len < 1 || s->seq_len > GR_MODEL_MAX_SEQ_LEN)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: seq_len %d is outside [1, %d]", i, s->seq_len,
                       GR_MODEL_MAX_SEQ_LEN);
    if (s->num_views < 1 || s->num_views > GR_MODEL_MAX_VIEWS)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: num_views %d is outside [1, %d]", i, s->num_views,
                       GR_MODEL_MAX_VIEWS);
    if (!s->state || !s->init_noise)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: %s is NULL", i, !s->state ? "state" : "init_noise");
    if (!s->pixel_values == !s->frames)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: %s", i,
                       s->frames ? "pixel_values and frames are both set (give one)"
                                 : "pixel_values is NULL and so is frames (give one)");
    if (s->embodiment_id < 0 || s->embodiment_id >= ac->num_embodiments)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: embodiment_id %d is outside [0, %d)", i,
                       s->embodiment_id, ac->num_embodiments);
    int64_t image_tokens = 0;
    for (int t = 0; t < s->seq_len; t++) {
        int32_t id = s->input_ids[t];
        if (id < 0 || id >= cfg->text.vocab)
            return gr_fail(err, GROOT_ERR_INVALID_ARG, "sample %d: input_ids[%d] = %d is outside [0, %d)", i, t,
                           id, cfg->text.vocab);
        image_tokens += id == cfg->image_token_id;
    }
    int64_t want = (int64_t)s->num_views * cfg->tokens_per_image;
    if (image_tokens != want)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "sample %d: input_ids hold %lld image tokens (id %d) but num_views %d needs %lld", i,
                       (long long)image_tokens, cfg->image_token_id, s->num_views, (long long)want);
    const size_t pixels = (size_t)s->num_views * (size_t)cfg->vision.channels * (size_t)cfg->vision.image_size *
                          (size_t)cfg->vision.image_size;
    if (s->pixel_values)
        GR_TRY(check_finite(s->pixel_values, pixels, i, "pixel_values", err));
    else
        GR_TRY(check_frames(cfg, s, i, err));
    GR_TRY(check_finite(s->state, (size_t)ac->max_state_dim, i, "state", err));
    return check_finite(s->init_noise, (size_t)ac->horizon * (size_t)ac->action_dim, i, "init_noise", err);
}

groot_status gr_model_validate(const gr_model *m, const groot_sample *samples, int batch, gr_error *err)
{
    if (batch < 1)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "batch %d: at least one sample is needed", batch);
    if (!samples)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "samples is NULL");
    for (int i = 0; i < batch; i++)
        GR_TRY(validate_sample(m, &samples[i], i, err));
    return GROOT_OK;
}

/* ---- forward ---- */

enum {
    MARK_START,
    MARK_UPLOADED,
    MARK_VISION,
    MARK_LANGUAGE,
    MARK_VL,
    MARK_ACTION,
    MARK_DOWNLOADED
};

static groot_status in_stage(gr_backend *be, groot_status st, const char *stage)
{
    if (st)
        gr_error_prefix(&be->err, "%s", stage);
    return st;
}

/* The whole network over the batch, stage by stage: each stage's GEMMs
 * once over all samples' rows, each sample as if alone (batch.h). */
static groot_status forward_recorded(void *ctx)
{
    gr_model *m = ctx;
    gr_backend *be = m->be;
    const gr_model_config *cfg = &m->cfg;
    gr_plan *p = &m->plan;
    const gr_batch *b = &p->batch;
    const int64_t H = cfg->action.horizon;
    gr_tensor pixels = gr_plan_pixels(p), vit = gr_plan_vit(p, cfg), ids = gr_plan_ids(p);
    gr_tensor bb = gr_plan_tokens(p, p->backbone), vl = gr_plan_tokens(p, p->vl_embs);
    gr_tensor state = gr_plan_per_sample(p, p->state, 1), feat = gr_plan_per_sample(p, p->state_features, 1);
    gr_tensor actions = gr_plan_per_sample(p, p->actions, H);
    gr_tensor vel = gr_plan_per_sample(p, p->velocities, m->steps * H);

    GR_TRY(in_stage(be, gr_vision_forward(be, cfg, &m->w.vision, &p->vision, &pixels, (int)b->views, &vit),
                    "vision"));
    GR_TRY(be->ops->timer_mark(be, MARK_VISION));
    GR_TRY(in_stage(be, gr_language_forward(be, cfg, &m->w.text, &p->text, b, &ids, &vit, &bb), "language model"));
    GR_TRY(be->ops->timer_mark(be, MARK_LANGUAGE));
    GR_TRY(in_stage(be, gr_vl_forward(be, cfg, &m->w.vl, &p->vl, b, &bb, &vl), "vl conditioning"));
    GR_TRY(be->ops->timer_mark(be, MARK_VL));
    groot_status st = gr_state_encoder_forward(be, &m->w.action, &p->action, b, &state, &feat);
    if (!st)
        st = gr_action_head_forward(be, cfg, &m->w.action, &m->consts, &p->action, b, &vl, &feat, &actions, &vel);
    return in_stage(be, st, "action head");
}

/* Token 0 for the rows that pad a sample to its bucket (batch.h). */
static const int32_t pad_ids[GR_SEQ_BUCKET_MAX];

/* A sample's camera frames as jobs for frames_to_pixels, appended at *n. */
static void add_frame_jobs(const groot_sample *s, const gr_batch_sample *bs, gr_frame_job *jobs, int *n)
{
    for (int v = 0; v < s->num_views; v++) {
        const groot_frame *f = &s->frames[v];
        jobs[(*n)++] = (gr_frame_job){.rgb = f->rgb, .height = f->height, .width = f->width, .top = f->crop_top,
                                      .left = f->crop_left, .crop_h = f->crop_height, .crop_w = f->crop_width,
                                      .row = bs->view0 + v};
    }
}

/* Inputs into the plan's buffers; camera frames given as such are
 * cropped and resized into the pixels there, all in one backend call. */
static groot_status upload_inputs(gr_model *m, const groot_sample *samples)
{
    gr_backend *be = m->be;
    gr_plan *p = &m->plan;
    const int64_t H = m->cfg.action.horizon;
    int frames = 0;
    for (int i = 0; i < p->batch.count; i++) {
        const gr_batch_sample *s = &p->batch.sample[i];
        gr_tensor ids = gr_view_cols(p->ids, s->tok0, s->len);
        gr_tensor pad = gr_view_cols(p->ids, s->tok0 + s->len, s->rows - s->len);
        gr_tensor valid = gr_view_cols(p->valid, i, 1);
        gr_tensor pixels = gr_view_rows(p->pixels, s->view0, s->views);
        gr_tensor state = gr_view_rows(p->state, i, 1), actions = gr_view_rows(p->actions, i * H, H);
        const int32_t len = s->len;
        GR_TRY(be->ops->upload(be, &ids, samples[i].input_ids, GR_I32));
        if (s->rows > s->len)
            GR_TRY(be->ops->upload(be, &pad, pad_ids, GR_I32));
        GR_TRY(be->ops->upload(be, &valid, &len, GR_I32));
        if (samples[i].frames)
            add_frame_jobs(&samples[i], s, p->frame_jobs, &frames);
        else
            GR_TRY(be->ops->upload(be, &pixels, samples[i].pixel_values, GR_F32));
        GR_TRY(be->ops->upload(be, &state, samples[i].state, GR_F32));
        GR_TRY(be->ops->upload(be, &actions, samples[i].init_noise, GR_F32));
    }
    if (!frames)
        return GROOT_OK;
    gr_tensor pixels = gr_plan_pixels(p);
    return be->ops->frames_to_pixels(be, frames, p->frame_jobs, m->cfg.vision.image_size, &pixels);
}

static groot_status download_one(gr_backend *be, const gr_tensor *t, float *dst)
{
    return dst ? be->ops->download(be, t, dst) : GROOT_OK;
}

/* Step k's velocities of the whole batch lie together, so a sample's come back one step at a time. */
static groot_status download_velocities(gr_model *m, int i, float *dst)
{
    const gr_plan *p = &m->plan;
    const int64_t H = m->cfg.action.horizon, BH = p->batch.count * H;
    if (!dst)
        return GROOT_OK;
    if (p->batch.count == 1) {
        gr_tensor v = gr_view_rows(p->velocities, 0, m->steps * H);
        return m->be->ops->download(m->be, &v, dst);
    }
    for (int k = 0; k < m->steps; k++) {
        gr_tensor v = gr_view_rows(p->velocities, k * BH + i * H, H);
        GR_TRY(m->be->ops->download(m->be, &v, dst + k * H * m->cfg.action.action_dim));
    }
    return GROOT_OK;
}

static groot_status download_outputs(gr_model *m, groot_sample_out *outs)
{
    gr_backend *be = m->be;
    gr_plan *p = &m->plan;
    const int64_t T = m->cfg.tokens_per_image, H = m->cfg.action.horizon;
    for (int i = 0; i < p->batch.count; i++) {
        const gr_batch_sample *s = &p->batch.sample[i];
        groot_sample_out *o = &outs[i];
        gr_tensor vit = gr_view_rows(p->vit_embeds, s->view0 * T, s->views * T);
        gr_tensor bb = gr_view_rows(p->backbone, s->tok0, s->len), vl = gr_view_rows(p->vl_embs, s->tok0, s->len);
        gr_tensor actions = gr_view_rows(p->actions, i * H, H), feat = gr_view_rows(p->state_features, i, 1);
        GR_TRY(download_one(be, &actions, o->action_pred));
        GR_TRY(download_one(be, &vit, o->vit_embeds));
        GR_TRY(download_one(be, &bb, o->backbone_features));
        GR_TRY(download_one(be, &vl, o->vl_embs));
        GR_TRY(download_one(be, &feat, o->state_features));
        GR_TRY(download_velocities(m, i, o->velocities));
    }
    return GROOT_OK;
}

static groot_status read_timings(gr_backend *be, groot_timings *t)
{
    memset(t, 0, sizeof *t);
    GR_TRY(be->ops->timer_elapsed(be, MARK_START, MARK_UPLOADED, &t->upload_ms));
    GR_TRY(be->ops->timer_elapsed(be, MARK_UPLOADED, MARK_VISION, &t->vision_ms));
    GR_TRY(be->ops->timer_elapsed(be, MARK_VISION, MARK_LANGUAGE, &t->language_ms));
    GR_TRY(be->ops->timer_elapsed(be, MARK_LANGUAGE, MARK_VL, &t->vl_ms));
    GR_TRY(be->ops->timer_elapsed(be, MARK_VL, MARK_ACTION, &t->action_head_ms));
    GR_TRY(be->ops->timer_elapsed(be, MARK_ACTION, MARK_DOWNLOADED, &t->download_ms));
    t->replayed = be->replayed;
    return be->ops->timer_elapsed(be, MARK_START, MARK_DOWNLOADED, &t->total_ms);
}

static groot_status run_batch(gr_model *m, const groot_sample *samples, int batch, groot_sample_out *outs,
                              groot_timings *timings)
{
    gr_backend *be = m->be;
    gr_plan *p = &m->plan;
    GR_TRY(gr_plan_reserve(m, samples, batch));
    GR_TRY(be->ops->timer_mark(be, MARK_START));
    GR_TRY(upload_inputs(m, samples));
    GR_TRY(be->ops->timer_mark(be, MARK_UPLOADED));
    GR_TRY(be->ops->run_recorded(be, gr_plan_shape_key(p), forward_recorded, m));
    GR_TRY(be->ops->timer_mark(be, MARK_ACTION));
    GR_TRY(download_outputs(m, outs));
    GR_TRY(be->ops->timer_mark(be, MARK_DOWNLOADED));
    GR_TRY(be->ops->sync(be));
    return timings ? read_timings(be, timings) : GROOT_OK;
}

groot_status gr_model_forward(gr_model *m, const groot_sample *samples, int batch, groot_sample_out *outs,
                              groot_timings *timings, gr_error *err)
{
    GR_TRY(gr_model_validate(m, samples, batch, err));
    if (!outs)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "outs is NULL");
    gr_error_clear(&m->be->err);
    groot_status st = run_batch(m, samples, batch, outs, timings);
    if (st) {
        *err = m->be->err;
        err->status = st;
    }
    return st;
}
