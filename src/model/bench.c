/*
 * Timing one component of the network over the buffers a full forward
 * planned and filled, the way the reference's benchmark times one module:
 * marks around the component alone, after warm-up runs.
 */
#include "model/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/random.h"

#define SLOT_A (GR_TIMER_SLOTS - 2) /* above the forward's stage marks */
#define SLOT_B (GR_TIMER_SLOTS - 1)
#define MAX_BATCH 4096
#define MAX_ITERS 1000000
#define INPUT_SEED 0x67723030ull

/* The reference prompt around the image tokens: the chat header, per view
 * "<image k><img>" before and "</img>" after its tokens, then the
 * instruction and the assistant turn. With one view that is 38 text tokens;
 * each extra view adds 7. */
#define PROMPT_HEAD 14
#define PROMPT_VIEW_OPEN 6
#define PROMPT_VIEW_CLOSE 1
#define PROMPT_TEXT_1VIEW 38

static const char *const names[GR_BENCH_COUNT] = {
    "vit", "llm", "vl", "state_encoder", "action_encoder", "dit", "action_decoder", "action_head", "backbone", "all",
};

const char *gr_bench_component_name(gr_bench_component c)
{
    return (int)c >= 0 && c < GR_BENCH_COUNT ? names[c] : NULL;
}

int gr_bench_component_parse(const char *name)
{
    for (int i = 0; name && i < GR_BENCH_COUNT; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

const char *gr_bench_component_list(void)
{
    return "vit, llm, vl, state_encoder, action_encoder, dit, action_decoder, action_head, backbone, all";
}

int gr_bench_default_seq_len(const gr_model_config *cfg, int views)
{
    int per_view_text = PROMPT_VIEW_OPEN + PROMPT_VIEW_CLOSE;
    return PROMPT_TEXT_1VIEW + per_view_text * (views - 1) + views * cfg->tokens_per_image;
}

/* ---- synthetic inputs ---- */

/* splitmix64 streams: seeded, and the same inputs on every platform. */

/* Uniform in (0, 1]: never 0, so log() below is finite. */
static double rng_unit(uint64_t *s) { return ((double)(gr_splitmix64(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0); }

static float rng_normal(uint64_t *s)
{
    double u = rng_unit(s), v = rng_unit(s);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static int32_t text_id(uint64_t *s, const gr_model_config *cfg)
{
    for (;;) {
        int32_t id = (int32_t)(gr_splitmix64(s) % (uint64_t)cfg->text.vocab);
        if (id != cfg->image_token_id)
            return id;
    }
}

/* Image tokens where the real prompt has them; text ids fill the rest, the
 * view markers taking what text there is first. */
static void place_ids(const gr_model_config *cfg, int len, int views, uint64_t *s, int32_t *ids)
{
    int text = len - views * cfg->tokens_per_image, t = 0;
#define TEXT(n)                                  \
    do {                                         \
        int n_ = (n) < text ? (n) : text;        \
        for (int j_ = 0; j_ < n_; j_++)          \
            ids[t++] = text_id(s, cfg);          \
        text -= n_;                              \
    } while (0)
    TEXT(PROMPT_HEAD);
    for (int v = 0; v < views; v++) {
        TEXT(PROMPT_VIEW_OPEN);
        for (int j = 0; j < cfg->tokens_per_image; j++)
            ids[t++] = cfg->image_token_id;
        TEXT(PROMPT_VIEW_CLOSE);
    }
    TEXT(text);
#undef TEXT
}

typedef struct host_inputs {
    groot_sample *samples;
    groot_sample_out *outs;
    int32_t *ids;
    float *pixels, *state, *noise, *action_pred;
} host_inputs;

static void host_free(host_inputs *h)
{
    free(h->samples);
    free(h->outs);
    free(h->ids);
    free(h->pixels);
    free(h->state);
    free(h->noise);
    free(h->action_pred);
}

static groot_status host_make(const gr_model_config *cfg, int batch, int views, int len, host_inputs *h,
                              gr_error *err)
{
    const gr_action_config *ac = &cfg->action;
    const size_t B = (size_t)batch, L = (size_t)len, act = (size_t)ac->horizon * ac->action_dim;
    const size_t pix = (size_t)views * cfg->vision.channels * cfg->vision.image_size * cfg->vision.image_size;
    memset(h, 0, sizeof *h);
    h->samples = calloc(B, sizeof *h->samples);
    h->outs = calloc(B, sizeof *h->outs);
    h->ids = malloc(B * L * sizeof *h->ids);
    h->pixels = malloc(B * pix * sizeof *h->pixels);
    h->state = malloc(B * (size_t)ac->max_state_dim * sizeof *h->state);
    h->noise = malloc(B * act * sizeof *h->noise);
    h->action_pred = malloc(B * act * sizeof *h->action_pred);
    if (!h->samples || !h->outs || !h->ids || !h->pixels || !h->state || !h->noise || !h->action_pred)
        return gr_fail(err, GROOT_ERR_NOMEM, "bench: inputs for a batch of %d", batch);
    uint64_t s = INPUT_SEED;
    for (size_t i = 0; i < B; i++) {
        groot_sample *x = &h->samples[i];
        place_ids(cfg, len, views, &s, h->ids + i * L);
        for (size_t j = 0; j < pix; j++)
            h->pixels[i * pix + j] = (float)(2.0 * rng_unit(&s) - 1.0);
        for (int j = 0; j < ac->max_state_dim; j++)
            h->state[i * ac->max_state_dim + j] = rng_normal(&s);
        for (size_t j = 0; j < act; j++)
            h->noise[i * act + j] = rng_normal(&s);
        x->input_ids = h->ids + i * L;
        x->seq_len = len;
        x->pixel_values = h->pixels + i * pix;
        x->num_views = views;
        x->state = h->state + i * ac->max_state_dim;
        x->embodiment_id = 0;
        x->init_noise = h->noise + i * act;
        h->outs[i].action_pred = h->action_pred + i * act;
    }
    return GROOT_OK;
}

/* ---- the recorded components ---- */

typedef struct bench_ctx {
    gr_model *m;
    gr_bench_component c;
    gr_tensor noise;  /* float32 [batch*horizon, action_dim]: every sample's initial noise, stacked */
    gr_tensor dit_x0; /* float32 [batch*DiT tokens, embed]: the DiT's input at step 0 */
} bench_ctx;

static groot_status run_vit(gr_model *m)
{
    gr_plan *p = &m->plan;
    gr_tensor pixels = gr_plan_pixels(p), vit = gr_plan_vit(p, &m->cfg);
    return gr_vision_forward(m->be, &m->cfg, &m->w.vision, &p->vision, &pixels, (int)p->batch.views, &vit);
}

static groot_status run_llm(gr_model *m)
{
    gr_plan *p = &m->plan;
    gr_tensor ids = gr_plan_ids(p), vit = gr_plan_vit(p, &m->cfg), bb = gr_plan_tokens(p, p->backbone);
    return gr_language_forward(m->be, &m->cfg, &m->w.text, &p->text, &p->batch, &ids, &vit, &bb);
}

static groot_status run_vl(gr_model *m)
{
    gr_plan *p = &m->plan;
    gr_tensor bb = gr_plan_tokens(p, p->backbone), vl = gr_plan_tokens(p, p->vl_embs);
    return gr_vl_forward(m->be, &m->cfg, &m->w.vl, &p->vl, &p->batch, &bb, &vl);
}

static groot_status run_state_encoder(gr_model *m)
{
    gr_plan *p = &m->plan;
    gr_tensor state = gr_plan_per_sample(p, p->state, 1), feat = gr_plan_per_sample(p, p->state_features, 1);
    return gr_state_encoder_forward(m->be, &m->w.action, &p->action, &p->batch, &state, &feat);
}

static gr_tensor plan_actions(const gr_model *m)
{
    return gr_plan_per_sample(&m->plan, m->plan.actions, m->cfg.action.horizon);
}

static groot_status run_action_encoder(gr_model *m)
{
    gr_plan *p = &m->plan;
    gr_tensor actions = plan_actions(m);
    return gr_action_encoder_forward(m->be, &m->cfg, &m->w.action, &m->consts, &p->action, &p->batch, &actions, 0);
}

/* Step 0 from the same input each time (the DiT leaves its input alone). */
static groot_status run_dit(bench_ctx *b)
{
    gr_model *m = b->m;
    gr_plan *p = &m->plan;
    return gr_dit_forward(m->be, &m->cfg, &m->w.action, &m->consts.dit, &p->action.dit, &p->batch, 0, &b->dit_x0);
}

/* The decoder as the Euler loop applies it, into step 0's velocity rows. */
static groot_status run_action_decoder(gr_model *m)
{
    gr_plan *p = &m->plan;
    const int64_t H = m->cfg.action.horizon;
    gr_tensor v = gr_plan_per_sample(p, p->velocities, H);
    return gr_action_decoder_forward(m->be, &m->w.action, &p->action, &p->batch, H, &v);
}

/* What the forward's action stage does (state encoder, then the Euler
 * loop), starting each time from the saved noise so every run denoises the
 * same input. */
static groot_status run_action_head(bench_ctx *b)
{
    gr_model *m = b->m;
    gr_plan *p = &m->plan;
    const int64_t H = m->cfg.action.horizon;
    gr_tensor actions = plan_actions(m), vl = gr_plan_tokens(p, p->vl_embs);
    gr_tensor state = gr_plan_per_sample(p, p->state, 1), feat = gr_plan_per_sample(p, p->state_features, 1);
    gr_tensor vel = gr_plan_per_sample(p, p->velocities, m->steps * H);
    GR_TRY(m->be->ops->copy(m->be, &b->noise, &actions));
    GR_TRY(gr_state_encoder_forward(m->be, &m->w.action, &p->action, &p->batch, &state, &feat));
    return gr_action_head_forward(m->be, &m->cfg, &m->w.action, &m->consts, &p->action, &p->batch, &vl, &feat,
                                  &actions, &vel);
}

static groot_status bench_recorded(void *ctx)
{
    bench_ctx *b = ctx;
    switch (b->c) {
    case GR_BENCH_VIT:
        return run_vit(b->m);
    case GR_BENCH_LLM:
        return run_llm(b->m);
    case GR_BENCH_VL:
        return run_vl(b->m);
    case GR_BENCH_STATE_ENCODER:
        return run_state_encoder(b->m);
    case GR_BENCH_ACTION_ENCODER:
        return run_action_encoder(b->m);
    case GR_BENCH_DIT:
        return run_dit(b);
    case GR_BENCH_ACTION_DECODER:
        return run_action_decoder(b->m);
    case GR_BENCH_ACTION_HEAD:
        return run_action_head(b);
    case GR_BENCH_BACKBONE:
        GR_TRY(run_vit(b->m));
        return run_llm(b->m);
    case GR_BENCH_ALL:
    case GR_BENCH_COUNT:
        break;
    }
    return gr_fail(&b->m->be->err, GROOT_ERR_INTERNAL, "bench: component %d is not recorded", (int)b->c);
}

/* One recording per component, shape and buffer set: the plan's
 * generation, each sample's shape, and this bench's own buffers (their
 * addresses are baked into a recording). */
static uint64_t bench_key(const bench_ctx *b)
{
    uint64_t h = gr_plan_shape_key(&b->m->plan);
    h = gr_key_mix(h, 0x62656e6368ull); /* "bench": apart from the forward's keys */
    h = gr_key_mix(h, (uint64_t)b->c);
    h = gr_key_mix(h, (uintptr_t)b->noise.data);
    return gr_key_mix(h, (uintptr_t)b->dit_x0.data);
}

/* ---- set-up and the timing loop ---- */

/* The per-component state the full forward does not leave: the saved noise
 * back in the samples' actions, and the DiT's step-0 input. */
static groot_status prepare(bench_ctx *b, const host_inputs *h)
{
    gr_model *m = b->m;
    gr_backend *be = m->be;
    gr_plan *p = &m->plan;
    const gr_action_config *ac = &m->cfg.action;
    gr_tensor actions = plan_actions(m);

    GR_TRY(be->ops->alloc(be, &b->noise, actions.rows, ac->action_dim, GR_F32));
    GR_TRY(be->ops->upload(be, &b->noise, h->noise, GR_F32));
    GR_TRY(be->ops->copy(be, &b->noise, &actions));
    if (b->c != GR_BENCH_DIT)
        return GROOT_OK;
    gr_tensor vl = gr_plan_tokens(p, p->vl_embs), feat = gr_plan_per_sample(p, p->state_features, 1);
    GR_TRY(gr_action_prepare(be, &m->cfg, &m->w.action, &p->action, &p->batch, &vl, &feat));
    GR_TRY(run_action_encoder(m));
    gr_tensor x = gr_view_rows(p->action.tokens0, 0, p->batch.count * gr_dit_tokens(&m->cfg));
    GR_TRY(be->ops->alloc(be, &b->dit_x0, x.rows, x.cols, GR_F32));
    GR_TRY(be->ops->copy(be, &x, &b->dit_x0));
    return be->ops->sync(be);
}

/* One timed run; for GR_BENCH_ALL, parts[] gets its upload, network and
 * download times. */
static groot_status time_once(bench_ctx *b, const host_inputs *h, double *ms, double parts[3], gr_error *err)
{
    gr_model *m = b->m;
    gr_backend *be = m->be;
    if (b->c == GR_BENCH_ALL) {
        /* The forward's own marks span upload, network and download. */
        groot_timings t;
        GR_TRY(gr_model_forward(m, h->samples, m->plan.batch.count, h->outs, &t, err));
        *ms = t.total_ms;
        parts[0] = t.upload_ms;
        parts[1] = t.vision_ms + t.language_ms + t.vl_ms + t.action_head_ms;
        parts[2] = t.download_ms;
        return GROOT_OK;
    }
    GR_TRY(be->ops->timer_mark(be, SLOT_A));
    GR_TRY(be->ops->run_recorded(be, bench_key(b), bench_recorded, b));
    GR_TRY(be->ops->timer_mark(be, SLOT_B));
    return be->ops->timer_elapsed(be, SLOT_A, SLOT_B, ms);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts t[0..n) and returns its median. */
static double median_of(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void summarize(double *t, int n, gr_bench_result *r)
{
    r->median_ms = median_of(t, n); /* t is sorted from here on */
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    r->min_ms = t[0];
    /* nearest rank: the smallest time at least 90% of the runs reach */
    int k = (int)ceil(0.9 * n) - 1;
    r->p90_ms = t[k < 0 ? 0 : k];
    r->mean_ms = sum / n;
}

static groot_status check_args(const gr_model *m, int component, const char *name, int batch, int views,
                               int *seq_len, int iters, int warmup, gr_error *err)
{
    if (component < 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bench: component '%s' is unknown (expected one of %s)",
                       name ? name : "(null)", gr_bench_component_list());
    if (batch < 1 || batch > MAX_BATCH)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bench: batch %d is outside [1, %d]", batch, MAX_BATCH);
    if (views < 1 || views > GR_MODEL_MAX_VIEWS)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bench: views %d is outside [1, %d]", views,
                       GR_MODEL_MAX_VIEWS);
    if (iters < 1 || iters > MAX_ITERS || warmup < 0 || warmup > MAX_ITERS)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bench: iters %d must be in [1, %d] and warmup %d in [0, %d]",
                       iters, MAX_ITERS, warmup, MAX_ITERS);
    const int image_tokens = views * m->cfg.tokens_per_image;
    if (*seq_len == 0)
        *seq_len = gr_bench_default_seq_len(&m->cfg, views);
    if (*seq_len < image_tokens || *seq_len > GR_MODEL_MAX_SEQ_LEN)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "bench: seq_len %d is outside [%d, %d] (%d views need %d image tokens; 0 takes %d)", *seq_len,
                       image_tokens, GR_MODEL_MAX_SEQ_LEN, views, image_tokens,
                       gr_bench_default_seq_len(&m->cfg, views));
    return GROOT_OK;
}

/* A backend failure's message (in be->err) to the caller, unless a model
 * call already wrote one there. */
static groot_status be_error(gr_model *m, groot_status st, gr_error *err)
{
    if (st && err && err->status == GROOT_OK) {
        *err = m->be->err;
        err->status = st;
    }
    return st;
}

groot_status gr_model_bench(gr_model *m, const char *component, int batch, int views, int seq_len, int iters,
                            int warmup, gr_bench_result *out, gr_error *err)
{
    gr_error_clear(err);
    if (!m || !out)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bench: %s is NULL", !m ? "the model" : "out");
    int c = gr_bench_component_parse(component);
    GR_TRY(check_args(m, c, component, batch, views, &seq_len, iters, warmup, err));
    gr_bench_work work;
    GR_TRY(gr_bench_work_count(&m->cfg, m->prec, m->steps, (gr_bench_component)c, batch, views, seq_len, &work,
                               err));

    host_inputs h;
    bench_ctx b = {.m = m, .c = (gr_bench_component)c};
    double *times = malloc((size_t)iters * 4 * sizeof *times), *parts = times + iters; /* [3][iters] */
    groot_status st = times ? GROOT_OK : gr_fail(err, GROOT_ERR_NOMEM, "bench: %d timings", iters);
    if (!st)
        st = host_make(&m->cfg, batch, views, seq_len, &h, err);
    else
        memset(&h, 0, sizeof h);
    /* The full forward plans the buffers and fills what the component reads. */
    if (!st)
        st = gr_model_forward(m, h.samples, batch, h.outs, NULL, err);
    if (!st) {
        gr_error_clear(&m->be->err);
        st = be_error(m, prepare(&b, &h), err);
    }
    for (int i = 0; i < warmup + iters && !st; i++) {
        double ms = 0, part[3] = {0, 0, 0};
        gr_error_clear(&m->be->err);
        st = be_error(m, time_once(&b, &h, &ms, part, err), err);
        if (!st && i >= warmup) {
            times[i - warmup] = ms;
            for (int k = 0; k < 3; k++)
                parts[k * iters + i - warmup] = part[k];
        }
    }
    if (!st) {
        memset(out, 0, sizeof *out);
        out->component = (gr_bench_component)c;
        out->batch = batch;
        out->views = views;
        out->seq_len = seq_len;
        out->iters = iters;
        summarize(times, iters, out);
        if (c == GR_BENCH_ALL) {
            out->upload_ms = median_of(parts, iters);
            out->network_ms = median_of(parts + iters, iters);
            out->download_ms = median_of(parts + 2 * iters, iters);
        }
        gr_bench_floor(&work, NULL, out);
        size_t used = 0;
        if (m->be->ops->memory_in_use && m->be->ops->memory_in_use(m->be, &used) == GROOT_OK)
            out->memory_mib = used / (1024.0 * 1024.0);
    }
    m->be->ops->free(m->be, &b.noise);
    m->be->ops->free(m->be, &b.dit_x0);
    host_free(&h);
    free(times);
    return st;
}
