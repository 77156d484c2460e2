/*
 * The whole network against the reference's goldens (tests/data/goldens,
 * tiny model, float32 on the CPU), through the public API: every stage's
 * output per sample, alone and batched; input validation; and a checkpoint
 * missing one tensor.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groot.h"
#include "image/image.h"
#include "io/safetensors.h"
#include "test_util.h"

#define TOL 1e-4
#define BATCH_TOL 1e-6
#define CKPT "goldens/tiny/checkpoint"
#define SHARD2 "model-00002-of-00002.safetensors"
#define INDEX "model.safetensors.index.json"
#define DROPPED "action_head.model.transformer_blocks.1.attn1.to_v.bias"

enum { O_VIT, O_BACKBONE, O_VL, O_STATE, O_VEL, O_ACTION, O_COUNT };
static const char *const out_names[O_COUNT] = {"vit_embeds", "backbone_features", "vl_embs",
                                               "state_features", "velocities", "action_pred"};
static double worst[O_COUNT];

/* A golden sample: inputs copied out of the mapping (aligned, owned) and references. */
typedef struct golden {
    groot_sample in;
    int32_t *ids;
    float *pixels, *state, *noise;
    float *ref[O_COUNT];
    size_t len[O_COUNT];
} golden;

typedef struct outputs {
    float *buf[O_COUNT];
    groot_sample_out out;
} outputs;

static const gr_st_tensor *tensor(const gr_st_file *f, const char *cs, int i, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s.%d.%s", cs, i, name);
    const gr_st_tensor *t = gr_st_find(f, full);
    if (!t) {
        fprintf(stderr, "golden tensor %s is missing\n", full);
        exit(2);
    }
    return t;
}

static float *floats(const gr_st_file *f, const char *cs, int i, const char *name, size_t *n)
{
    const gr_st_tensor *t = tensor(f, cs, i, name);
    float *p = malloc((size_t)t->numel * sizeof(float));
    gr_error err;
    if (!p || gr_st_to_f32(t, p, &err)) {
        fprintf(stderr, "reading %s.%d.%s failed\n", cs, i, name);
        exit(2);
    }
    if (n)
        *n = (size_t)t->numel;
    return p;
}

static void golden_load(const gr_st_file *f, const char *cs, int i, golden *g)
{
    memset(g, 0, sizeof *g);
    const gr_st_tensor *ids = tensor(f, cs, i, "input_ids");
    g->ids = malloc(ids->nbytes);
    memcpy(g->ids, ids->data, ids->nbytes);
    int32_t cat;
    memcpy(&cat, tensor(f, cs, i, "embodiment_id")->data, sizeof cat);
    g->pixels = floats(f, cs, i, "pixel_values", NULL);
    g->state = floats(f, cs, i, "state", NULL);
    g->noise = floats(f, cs, i, "init_noise", NULL);
    for (int o = 0; o < O_COUNT; o++)
        g->ref[o] = floats(f, cs, i, out_names[o], &g->len[o]);
    g->in.input_ids = g->ids;
    g->in.seq_len = (int)ids->numel;
    g->in.pixel_values = g->pixels;
    g->in.num_views = (int)tensor(f, cs, i, "pixel_values")->shape[0];
    g->in.state = g->state;
    g->in.embodiment_id = cat;
    g->in.init_noise = g->noise;
}

static void golden_free(golden *g)
{
    free(g->ids);
    free(g->pixels);
    free(g->state);
    free(g->noise);
    for (int o = 0; o < O_COUNT; o++)
        free(g->ref[o]);
}

static void outputs_make(const golden *g, outputs *o)
{
    for (int k = 0; k < O_COUNT; k++) {
        o->buf[k] = malloc(g->len[k] * sizeof(float));
        for (size_t j = 0; j < g->len[k]; j++)
            o->buf[k][j] = NAN;
    }
    o->out.vit_embeds = o->buf[O_VIT];
    o->out.backbone_features = o->buf[O_BACKBONE];
    o->out.vl_embs = o->buf[O_VL];
    o->out.state_features = o->buf[O_STATE];
    o->out.velocities = o->buf[O_VEL];
    o->out.action_pred = o->buf[O_ACTION];
}

static void outputs_free(outputs *o)
{
    for (int k = 0; k < O_COUNT; k++)
        free(o->buf[k]);
}

static void compare(const char *what, const golden *g, const outputs *o)
{
    for (int k = 0; k < O_COUNT; k++) {
        double e = tu_rel_err(o->buf[k], g->ref[k], g->len[k]);
        if (e > worst[k] || isnan(e))
            worst[k] = e;
        CHECK(e <= TOL, "%s %s: rel err %.3g > %.0e", what, out_names[k], e, TOL);
    }
}

static void compare_same(const char *what, const golden *g, const outputs *a, const outputs *b)
{
    for (int k = 0; k < O_COUNT; k++) {
        double e = tu_rel_err(a->buf[k], b->buf[k], g->len[k]);
        CHECK(e <= BATCH_TOL, "%s %s: batched vs alone rel diff %.3g", what, out_names[k], e);
    }
}

static void check_goldens(groot_model *m, const gr_st_file *cases)
{
    golden a, b0, b1;
    golden_load(cases, "a", 0, &a);
    golden_load(cases, "b", 0, &b0);
    golden_load(cases, "b", 1, &b1);
    outputs oa, oa2, ob0, ob1, bb0, bb1;
    outputs_make(&a, &oa);
    outputs_make(&a, &oa2);
    outputs_make(&b0, &ob0);
    outputs_make(&b1, &ob1);
    outputs_make(&b0, &bb0);
    outputs_make(&b1, &bb1);

    groot_timings t;
    groot_status st = groot_forward(m, &a.in, 1, &oa.out, &t);
    CHECK(st == GROOT_OK, "forward a.0: %s", groot_errmsg(m));
    compare("a.0", &a, &oa);
    printf("a.0 timings (ms): upload %.2f vision %.2f language %.2f vl %.2f action %.2f download %.2f total %.2f\n",
           t.upload_ms, t.vision_ms, t.language_ms, t.vl_ms, t.action_head_ms, t.download_ms, t.total_ms);

    st = groot_forward(m, &b0.in, 1, &ob0.out, NULL);
    CHECK(st == GROOT_OK, "forward b.0: %s", groot_errmsg(m));
    compare("b.0", &b0, &ob0);
    st = groot_forward(m, &b1.in, 1, &ob1.out, NULL);
    CHECK(st == GROOT_OK, "forward b.1: %s", groot_errmsg(m));
    compare("b.1", &b1, &ob1);

    groot_sample batch[2] = {b0.in, b1.in};
    groot_sample_out outs[2] = {bb0.out, bb1.out};
    st = groot_forward(m, batch, 2, outs, NULL);
    CHECK(st == GROOT_OK, "forward b batch: %s", groot_errmsg(m));
    compare("b batch[0]", &b0, &bb0);
    compare("b batch[1]", &b1, &bb1);
    compare_same("b.0", &b0, &ob0, &bb0);
    compare_same("b.1", &b1, &ob1, &bb1);

    /* A shape seen before runs on the buffers planned for it. */
    st = groot_forward(m, &a.in, 1, &oa2.out, NULL);
    CHECK(st == GROOT_OK, "forward a.0 again: %s", groot_errmsg(m));
    compare_same("a.0 repeated", &a, &oa, &oa2);

    outputs_free(&oa);
    outputs_free(&oa2);
    outputs_free(&ob0);
    outputs_free(&ob1);
    outputs_free(&bb0);
    outputs_free(&bb1);
    golden_free(&a);
    golden_free(&b0);
    golden_free(&b1);
}

static void expect_invalid(groot_model *m, const groot_sample *s, const char *field, const char *what)
{
    float action[16 * 32];
    groot_sample_out out = {.action_pred = action};
    groot_status st = groot_forward(m, s, 1, &out, NULL);
    const char *msg = groot_errmsg(m);
    CHECK(st == GROOT_ERR_INVALID_ARG, "%s: status %s", what, groot_status_name(st));
    CHECK(strstr(msg, field) != NULL, "%s: message '%s' does not name %s", what, msg, field);
    printf("%s -> %s: %s\n", what, groot_status_name(st), msg);
}

static void check_bad_inputs(groot_model *m, const gr_st_file *cases)
{
    groot_model_dims dims;
    CHECK(groot_model_get_dims(m, &dims) == GROOT_OK, "get_dims: %s", groot_errmsg(m));
    golden g;
    golden_load(cases, "a", 0, &g);
    groot_sample s = g.in;
    int32_t *ids = malloc((size_t)s.seq_len * sizeof *ids);
    memcpy(ids, g.ids, (size_t)s.seq_len * sizeof *ids);
    s.input_ids = ids;

    ids[3] = dims.vocab_size;
    expect_invalid(m, &s, "input_ids", "token id == vocab");
    ids[3] = g.ids[3];

    int first_image = 0;
    while (ids[first_image] != dims.image_token_id)
        first_image++;
    ids[first_image] = 0;
    expect_invalid(m, &s, "image tokens", "one image token too few");
    ids[first_image] = dims.image_token_id;

    float state[256];
    memcpy(state, g.state, (size_t)dims.max_state_dim * sizeof(float));
    state[5] = NAN;
    s.state = state;
    expect_invalid(m, &s, "state", "NaN in state");
    s.state = g.state;

    /* A camera frame's bad value is found wherever it lies, and named by its index. */
    const size_t npix = (size_t)s.num_views * 3 * dims.image_size * dims.image_size;
    float *pix = malloc(npix * sizeof *pix);
    memcpy(pix, g.in.pixel_values, npix * sizeof *pix);
    s.pixel_values = pix;
    const size_t at[3] = {0, npix / 2 + 1, npix - 1};
    const float bad[3] = {INFINITY, NAN, -INFINITY};
    for (int i = 0; i < 3; i++) {
        char field[64];
        snprintf(field, sizeof field, "pixel_values[%zu]", at[i]);
        pix[at[i]] = bad[i];
        expect_invalid(m, &s, field, "a non-finite pixel");
        pix[at[i]] = g.in.pixel_values[at[i]];
    }
    s.pixel_values = g.in.pixel_values;
    free(pix);

    s.embodiment_id = dims.num_embodiments;
    expect_invalid(m, &s, "embodiment_id", "embodiment id 32");
    s.embodiment_id = g.in.embodiment_id;

    /* Still healthy after the rejected calls. */
    float action[16 * 32];
    groot_sample_out out = {.action_pred = action};
    CHECK(groot_forward(m, &s, 1, &out, NULL) == GROOT_OK, "forward after bad inputs: %s", groot_errmsg(m));
    CHECK(tu_rel_err(action, g.ref[O_ACTION], g.len[O_ACTION]) <= TOL, "action_pred after bad inputs");
    free(ids);
    golden_free(&g);
}

static void link_from_golden(const char *dir, const char *name)
{
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", tu_data(CKPT), name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    if (symlink(src, dst) != 0) {
        perror(dst);
        exit(2);
    }
}

/* shard 2 rewritten without DROPPED; the index kept as is or without it too. */
static void make_checkpoint_without_tensor(const char *dir, int drop_from_index)
{
    link_from_golden(dir, "config.json");
    link_from_golden(dir, "eagle2_hg_model");
    link_from_golden(dir, "model-00001-of-00002.safetensors");

    char path[4096];
    gr_error err;
    gr_st_file *shard = NULL;
    snprintf(path, sizeof path, "%s/%s", tu_data(CKPT), SHARD2);
    CHECK(gr_st_open(path, &shard, &err) == GROOT_OK, "open %s: %s", path, err.msg);
    gr_st_writer *w = NULL;
    CHECK(gr_st_writer_create(&w, &err) == GROOT_OK, "writer: %s", err.msg);
    for (int i = 0; i < shard->count; i++) {
        const gr_st_tensor *t = &shard->tensors[i];
        if (strcmp(t->name, DROPPED) == 0)
            continue;
        CHECK(gr_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, &err) == GROOT_OK, "add %s: %s",
              t->name, err.msg);
    }
    snprintf(path, sizeof path, "%s/%s", dir, SHARD2);
    CHECK(gr_st_writer_write(w, path, &err) == GROOT_OK, "write %s: %s", path, err.msg);
    gr_st_writer_destroy(w);
    gr_st_close(shard);

    if (!drop_from_index) {
        link_from_golden(dir, INDEX);
        return;
    }
    /* The index has one "name": "file", entry per line. */
    snprintf(path, sizeof path, "%s/%s", tu_data(CKPT), INDEX);
    FILE *in = fopen(path, "r");
    snprintf(path, sizeof path, "%s/%s", dir, INDEX);
    FILE *out = fopen(path, "w");
    CHECK(in && out, "copying the index");
    char line[4096];
    while (in && out && fgets(line, sizeof line, in))
        if (!strstr(line, "\"" DROPPED "\""))
            fputs(line, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

static void check_missing_tensor(const groot_model_options *opts)
{
    for (int drop_from_index = 0; drop_from_index < 2; drop_from_index++) {
        const char *dir = tu_tmpdir();
        make_checkpoint_without_tensor(dir, drop_from_index);
        groot_model *m = NULL;
        groot_status st = groot_model_open(dir, NULL, opts, &m);
        const char *msg = groot_errmsg(m);
        CHECK(st != GROOT_OK, "a checkpoint without %s opened", DROPPED);
        CHECK(strstr(msg, DROPPED) != NULL, "the error '%s' does not name %s", msg, DROPPED);
        printf("checkpoint without %s (%s): %s: %s\n", DROPPED,
               drop_from_index ? "dropped from the index too" : "index still lists it", groot_status_name(st), msg);
        groot_model_close(m);
    }
}

/* Camera frames given as such (groot_frame): the network must see the
 * pixels the host's crop + resize + normalization make, so every output
 * equals the pixel_values path's bit for bit, alone and beside a sample
 * given as pixels; bad frames are refused naming the sample and view. */
static void check_frame_inputs(groot_model *m, const gr_st_file *cases)
{
    groot_model_dims dims;
    CHECK(groot_model_get_dims(m, &dims) == GROOT_OK, "get_dims: %s", groot_errmsg(m));
    golden g;
    golden_load(cases, "a", 0, &g);
    const int V = g.in.num_views, S = dims.image_size;
    CHECK(V >= 1 && V <= 4, "golden a has %d views", V);
    groot_frame fr[4];
    uint8_t *rgb[4], *resized = malloc((size_t)S * S * 3);
    float *pix = malloc((size_t)V * 3 * S * S * sizeof *pix);
    gr_resizer r;
    gr_resizer_init(&r);
    gr_error err;
    uint32_t x = 12345;
    for (int v = 0; v < V; v++) {
        const int H = 90 + 61 * v, W = 120 + 37 * v;
        rgb[v] = malloc((size_t)H * W * 3);
        for (size_t k = 0; k < (size_t)H * W * 3; k++)
            rgb[v][k] = (uint8_t)((x = x * 1664525u + 1013904223u) >> 24);
        fr[v] = (groot_frame){.rgb = rgb[v], .height = H, .width = W};
        CHECK(gr_center_crop_box(H, W, 0.95, &fr[v].crop_top, &fr[v].crop_left, &fr[v].crop_height,
                                 &fr[v].crop_width, &err) == GROOT_OK, "crop box: %s", err.msg);
        CHECK(gr_image_resize_window(&r, rgb[v], H, W, fr[v].crop_top, fr[v].crop_left, fr[v].crop_height,
                                     fr[v].crop_width, S, S, resized, &err) == GROOT_OK, "resize: %s", err.msg);
        gr_image_to_pixels(resized, S, S, pix + (size_t)v * 3 * S * S);
    }
    groot_sample as_pixels = g.in, as_frames = g.in;
    as_pixels.pixel_values = pix;
    as_frames.pixel_values = NULL;
    as_frames.frames = fr;
    outputs want, got[2];
    outputs_make(&g, &want);
    outputs_make(&g, &got[0]);
    outputs_make(&g, &got[1]);
    CHECK(groot_forward(m, &as_pixels, 1, &want.out, NULL) == GROOT_OK, "pixels: %s", groot_errmsg(m));
    CHECK(groot_forward(m, &as_frames, 1, &got[0].out, NULL) == GROOT_OK, "frames: %s", groot_errmsg(m));
    /* In a batch the GEMMs run over both samples' rows, so the reference
     * for the second sample is the same batch given as pixels. */
    outputs scratch, want_batch;
    outputs_make(&g, &scratch);
    outputs_make(&g, &want_batch);
    groot_sample two_pixels[2] = {as_pixels, as_pixels}, mixed[2] = {as_pixels, as_frames};
    groot_sample_out two_out[2] = {scratch.out, want_batch.out}, mixed_out[2] = {scratch.out, got[1].out};
    CHECK(groot_forward(m, two_pixels, 2, two_out, NULL) == GROOT_OK, "batch of pixels: %s", groot_errmsg(m));
    CHECK(groot_forward(m, mixed, 2, mixed_out, NULL) == GROOT_OK, "mixed batch: %s", groot_errmsg(m));
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < O_COUNT; k++)
            CHECK(memcmp(got[c].buf[k], (c ? want_batch : want).buf[k], g.len[k] * sizeof(float)) == 0,
                  "frames %s: %s differs from the pixel_values path", c ? "beside pixels in a batch" : "alone",
                  out_names[k]);
    printf("frames in place of pixel_values: every output equal (alone and in a mixed batch of 2)\n");

    expect_invalid(m, &(groot_sample){0}, "input_ids", "an empty sample");
    groot_sample s = as_frames;
    s.pixel_values = pix;
    expect_invalid(m, &s, "frames are both set", "pixel_values and frames both set");
    s.pixel_values = NULL;
    s.frames = NULL;
    expect_invalid(m, &s, "pixel_values is NULL", "neither pixel_values nor frames");
    groot_frame bad[4];
    memcpy(bad, fr, sizeof bad);
    s.frames = bad;
    bad[V - 1].rgb = NULL;
    expect_invalid(m, &s, "rgb is NULL", "a frame without pixels");
    bad[V - 1] = fr[V - 1];
    bad[V - 1].crop_left = bad[V - 1].width - bad[V - 1].crop_width + 1;
    expect_invalid(m, &s, "crop window", "a crop window past the frame's right edge");
    bad[V - 1] = fr[V - 1];
    bad[V - 1].crop_height = 0;
    expect_invalid(m, &s, "crop window", "an empty crop window");
    bad[V - 1] = fr[V - 1];
    bad[V - 1].height = 20000;
    expect_invalid(m, &s, "frames[", "a frame taller than 16384");

    for (int v = 0; v < V; v++)
        free(rgb[v]);
    free(resized);
    free(pix);
    gr_resizer_free(&r);
    outputs_free(&want);
    outputs_free(&got[0]);
    outputs_free(&got[1]);
    outputs_free(&scratch);
    outputs_free(&want_batch);
    golden_free(&g);
}

/* The CPU backend computes in float32 only: a bf16 model must either run
 * within the reduced-precision tolerance or refuse cleanly (never crash). */
static void check_reduced_precision(const groot_model_options *base)
{
    groot_model_options opts = *base;
    opts.precision = "dit=bf16";
    groot_model *m = NULL;
    groot_status st = groot_model_open(tu_data(CKPT), NULL, &opts, &m);
    if (st == GROOT_OK) {
        gr_st_file *cases = NULL;
        gr_error err;
        CHECK(gr_st_open(tu_data("goldens/tiny/cases.safetensors"), &cases, &err) == GROOT_OK, "cases: %s",
              err.msg);
        golden g;
        golden_load(cases, "a", 0, &g);
        outputs o;
        outputs_make(&g, &o);
        st = groot_forward(m, &g.in, 1, &o.out, NULL);
        if (st == GROOT_OK) {
            double e = tu_rel_err(o.buf[O_ACTION], g.ref[O_ACTION], g.len[O_ACTION]);
            printf("dit=bf16 on %s: action_pred rel err %.3e\n", opts.device, e);
            CHECK(e <= 2e-2, "dit=bf16 action_pred rel err %.3g", e);
        } else {
            CHECK(st == GROOT_ERR_UNSUPPORTED, "dit=bf16 forward: %s: %s", groot_status_name(st), groot_errmsg(m));
        }
        outputs_free(&o);
        golden_free(&g);
        gr_st_close(cases);
    } else {
        CHECK(st == GROOT_ERR_UNSUPPORTED, "dit=bf16 open: %s: %s", groot_status_name(st), groot_errmsg(m));
        printf("dit=bf16 on %s refused: %s\n", opts.device, groot_errmsg(m));
    }
    groot_model_close(m);
}

/* denoising_steps overrides the config: the loop, velocities and dims follow it. */
static void check_denoising_steps(const groot_model_options *base)
{
    enum { STEPS = 6 };
    groot_model_options opts = *base;
    opts.denoising_steps = STEPS;
    groot_model *m = NULL;
    groot_status st = groot_model_open(tu_data(CKPT), NULL, &opts, &m);
    CHECK(st == GROOT_OK, "open with %d steps: %s", STEPS, groot_errmsg(m));
    groot_model_dims dims;
    if (st == GROOT_OK && groot_model_get_dims(m, &dims) == GROOT_OK) {
        CHECK(dims.denoising_steps == STEPS, "dims.denoising_steps %d", dims.denoising_steps);
        gr_st_file *cases = NULL;
        gr_error err;
        CHECK(gr_st_open(tu_data("goldens/tiny/cases.safetensors"), &cases, &err) == GROOT_OK, "cases: %s",
              err.msg);
        golden g;
        golden_load(cases, "a", 0, &g);
        size_t n = (size_t)STEPS * (size_t)dims.action_horizon * (size_t)dims.action_dim;
        float *vel = malloc(n * sizeof(float)), *act = malloc(n / STEPS * sizeof(float));
        groot_sample_out out = {.velocities = vel, .action_pred = act};
        CHECK(groot_forward(m, &g.in, 1, &out, NULL) == GROOT_OK, "forward: %s", groot_errmsg(m));
        /* Euler: action_pred = noise + dt * sum of velocities. */
        double worst_euler = 0;
        for (size_t j = 0; j < n / STEPS; j++) {
            double a = g.noise[j];
            for (int k = 0; k < STEPS; k++)
                a += (1.0 / STEPS) * vel[(size_t)k * (n / STEPS) + j];
            double d = fabs(a - act[j]);
            worst_euler = d > worst_euler ? d : worst_euler;
        }
        CHECK(worst_euler < 1e-5, "%d-step Euler sum differs by %g", STEPS, worst_euler);
        free(vel);
        free(act);
        golden_free(&g);
        gr_st_close(cases);
    }
    groot_model_close(m);
}

int main(void)
{
    groot_model_options opts;
    groot_model_options_init(&opts);
    opts.device = "cpu";
    opts.precision = "fp32";

    groot_model *m = NULL;
    groot_status st = groot_model_open(tu_data(CKPT), NULL, &opts, &m);
    CHECK(st == GROOT_OK, "open: %s", groot_errmsg(m));
    gr_st_file *cases = NULL;
    gr_error err;
    CHECK(gr_st_open(tu_data("goldens/tiny/cases.safetensors"), &cases, &err) == GROOT_OK, "cases: %s", err.msg);
    if (st == GROOT_OK && cases) {
        check_goldens(m, cases);
        printf("worst rel err vs reference (fp32, tolerance %.0e):\n", TOL);
        for (int k = 0; k < O_COUNT; k++)
            printf("  %-18s %.3e\n", out_names[k], worst[k]);
        check_bad_inputs(m, cases);
        check_frame_inputs(m, cases);
    }
    gr_st_close(cases);
    groot_model_close(m);

    /* Option errors name what is wrong. */
    opts.precision = "vit=bf16,foo=fp16";
    st = groot_model_open(tu_data(CKPT), NULL, &opts, &m);
    CHECK(st == GROOT_ERR_INVALID_ARG && strstr(groot_errmsg(m), "foo"), "unknown component: %s",
          groot_errmsg(m));
    groot_model_close(m);
    opts.precision = "llm=fp8";
    st = groot_model_open(tu_data(CKPT), NULL, &opts, &m);
    CHECK(st == GROOT_ERR_INVALID_ARG && strstr(groot_errmsg(m), "fp8"), "unknown precision: %s", groot_errmsg(m));
    groot_model_close(m);
    opts.precision = "fp32";

    check_reduced_precision(&opts);
    check_denoising_steps(&opts);
    check_missing_tensor(&opts);
    return tu_finish("test_golden");
}
