/*
 * Observation in, actions out, tied to the goldens: the golden tiny checkpoint
 * driven through the policy API from the golden camera frames, the golden
 * instruction and a raw state that normalizes to the golden state must give
 * back the golden action_pred (unnormalized into robot units) within 1e-4.
 * Then every kind of bad observation must fail naming what is wrong.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "groot.h"
#include "io/safetensors.h"
#include "test_util.h"

#define STATE_DIM 44 /* the golden state is zero-padded from 44 to 64 */
#define ACTION_DIM 32
#define HORIZON 16

static double state_mean(int i) { return 0.1 * i - 1.0; }
static double state_std(int i) { return 0.5 + 0.01 * i; }
static const double action_min = -2.0, action_max = 3.0;

static void link_into(const char *dir, const char *name)
{
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", tu_data("goldens/tiny/checkpoint"), name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    if (symlink(src, dst) != 0) {
        perror(dst);
        exit(2);
    }
}

static void append_stats(char *buf, size_t size, const char *name, int dim, int is_state)
{
    size_t n = strlen(buf);
    n += (size_t)snprintf(buf + n, size - n, "\"%s\":{", name);
    const char *stats[] = {"min", "max", "mean", "std", "q01", "q99"};
    for (int s = 0; s < 6; s++) {
        n += (size_t)snprintf(buf + n, size - n, "%s\"%s\":[", s ? "," : "", stats[s]);
        for (int i = 0; i < dim; i++) {
            double v;
            if (is_state)
                v = s == 2 ? state_mean(i) : s == 3 ? state_std(i) : s == 0 || s == 4 ? -5.0 : 5.0;
            else
                v = s == 0 || s == 4 ? action_min : s == 1 || s == 5 ? action_max : s == 2 ? 0.5 : 1.0;
            n += (size_t)snprintf(buf + n, size - n, "%s%.17g", i ? "," : "", v);
        }
        n += (size_t)snprintf(buf + n, size - n, "]");
    }
    snprintf(buf + n, size - n, "}");
}

/* experiment_cfg/metadata.json with one state key of 44 dims and one action
 * key of 32 for each embodiment tag the golden cases use. */
static void write_metadata(const char *dir, int drop_std)
{
    static char buf[1 << 16];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{");
    const char *tags[] = {"gr1", "new_embodiment", "oxe_droid"};
    for (int t = 0; t < 3; t++) {
        n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "%s\"%s\":{\"statistics\":{\"state\":{", t ? "," : "", tags[t]);
        append_stats(buf, sizeof buf, "joints", STATE_DIM, 1);
        n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "},\"action\":{");
        append_stats(buf, sizeof buf, "all", ACTION_DIM, 0);
        n = strlen(buf);
        snprintf(buf + n, sizeof buf - n,
                 "}},\"modalities\":{\"video\":{\"front\":{\"resolution\":[224,224],\"channels\":3,\"fps\":20},"
                 "\"side\":{\"resolution\":[224,224],\"channels\":3,\"fps\":20}},"
                 "\"state\":{\"joints\":{\"absolute\":true,\"rotation_type\":null,\"shape\":[%d],\"continuous\":true}},"
                 "\"action\":{\"all\":{\"absolute\":true,\"rotation_type\":null,\"shape\":[%d],\"continuous\":true}}},"
                 "\"embodiment_tag\":\"%s\"}",
                 STATE_DIM, ACTION_DIM, tags[t]);
    }
    n = strlen(buf);
    snprintf(buf + n, sizeof buf - n, "}");
    if (drop_std) { /* a metadata file lacking the state's "std" statistic */
        char *p;
        while ((p = strstr(buf, "\"std\":[")) != NULL)
            memcpy(p, "\"sdt\"", 5);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/experiment_cfg", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/experiment_cfg/metadata.json", dir);
    tu_write_file(NULL, path, buf);
}

/* A data config with crop scale `crop` (1.0: the 224x224 golden frames pass
 * through unchanged), V views, the 44-dim state normalized mean_std and the
 * 32-dim action min_max. */
static void write_data_config(const char *path, int views, const char *crop)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"video_keys\":[\"video.front\"%s],\"state_keys\":[\"state.joints\"],"
             "\"action_keys\":[\"action.all\"],\"language_keys\":[\"annotation.human.task_description\"],"
             "\"observation_indices\":[0],\"action_indices\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15],"
             "\"transforms\":["
             "{\"transform\":\"VideoCrop\",\"apply_to\":[\"video.front\"%s],\"scale\":%s},"
             "{\"transform\":\"VideoResize\",\"apply_to\":[\"video.front\"%s],\"height\":224,\"width\":224,"
             "\"interpolation\":\"linear\"},"
             "{\"transform\":\"StateActionTransform\",\"apply_to\":[\"state.joints\"],"
             "\"normalization_modes\":{\"state.joints\":\"mean_std\"}},"
             "{\"transform\":\"StateActionTransform\",\"apply_to\":[\"action.all\"],"
             "\"normalization_modes\":{\"action.all\":\"min_max\"}},"
             "{\"transform\":\"ConcatTransform\",\"video_concat_order\":[\"video.front\"%s],"
             "\"state_concat_order\":[\"state.joints\"],\"action_concat_order\":[\"action.all\"]},"
             "{\"transform\":\"GR00TTransform\",\"state_horizon\":1,\"action_horizon\":16,"
             "\"max_state_dim\":64,\"max_action_dim\":32}]}",
             views > 1 ? ",\"video.side\"" : "", views > 1 ? ",\"video.side\"" : "", crop,
             views > 1 ? ",\"video.side\"" : "", views > 1 ? ",\"video.side\"" : "");
    tu_write_file(NULL, path, buf);
}

static const gr_st_tensor *golden(const gr_st_file *f, const char *c, int i, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s.%d.%s", c, i, name);
    const gr_st_tensor *t = gr_st_find(f, full);
    if (!t) {
        fprintf(stderr, "golden tensor %s missing\n", full);
        exit(2);
    }
    return t;
}

typedef struct e2e_inputs {
    groot_array arrays[3];
    int num_arrays;
    double state[STATE_DIM];
    float noise[HORIZON * ACTION_DIM];
    float expect[HORIZON * ACTION_DIM]; /* golden action_pred in robot units */
} e2e_inputs;

static void build_inputs(const gr_st_file *gf, const char *c, int i, int views, e2e_inputs *in)
{
    const gr_st_tensor *img = golden(gf, c, i, "images_u8");
    const gr_st_tensor *st = golden(gf, c, i, "state");
    const gr_st_tensor *noise = golden(gf, c, i, "init_noise");
    const gr_st_tensor *pred = golden(gf, c, i, "action_pred");
    float state64[64], pred_f[HORIZON * ACTION_DIM];
    gr_st_to_f32(st, state64, NULL);
    gr_st_to_f32(noise, in->noise, NULL);
    gr_st_to_f32(pred, pred_f, NULL);
    for (int k = STATE_DIM; k < 64; k++)
        CHECK(state64[k] == 0.0f, "golden state[%d] = %g is not zero padding", k, state64[k]);
    for (int k = 0; k < STATE_DIM; k++)
        in->state[k] = (double)state64[k] * state_std(k) + state_mean(k);
    for (int k = 0; k < HORIZON * ACTION_DIM; k++)
        in->expect[k] = (float)((pred_f[k] + 1.0) / 2.0 * (action_max - action_min) + action_min);
    const size_t frame = 224 * 224 * 3;
    in->num_arrays = 0;
    const char *names[2] = {"video.front", "video.side"};
    for (int v = 0; v < views; v++)
        in->arrays[in->num_arrays++] = (groot_array){names[v], GROOT_U8, 4, {1, 224, 224, 3},
                                                     (const uint8_t *)img->data + v * frame};
    in->arrays[in->num_arrays++] = (groot_array){"state.joints", GROOT_F64, 2, {1, STATE_DIM}, in->state};
}

/* argv[1]: the device the policies run on (default cpu; fp32 either way),
 * so that the device check runs the same cases on the GPU. */
static const char *device = "cpu";

static groot_status open_policy(const char *ckpt, const char *cfg, const char *tag, groot_policy **p)
{
    groot_policy_options o;
    groot_policy_options_init(&o);
    o.model.device = device;
    o.model.precision = "fp32";
    o.data_config = cfg;
    o.embodiment_tag = tag;
    o.assets_dir = GROOT_ASSETS_DIR;
    return groot_policy_open(ckpt, &o, p);
}

static double run_case(const char *ckpt, const char *cfg, const char *tag, const gr_st_file *gf, const char *c,
                       int i, int views, const char *instruction)
{
    groot_policy *p = NULL;
    groot_status st = open_policy(ckpt, cfg, tag, &p);
    CHECK(st == GROOT_OK, "open policy for %s.%d: %s", c, i, groot_errmsg(p));
    double err = INFINITY;
    if (st == GROOT_OK) {
        e2e_inputs in;
        build_inputs(gf, c, i, views, &in);
        const char *instr[1] = {instruction};
        groot_observation obs = {.arrays = in.arrays, .num_arrays = in.num_arrays, .instructions = instr,
                                 .init_noise = in.noise};
        const groot_array *acts;
        int n;
        st = groot_policy_get_action(p, &obs, &acts, &n);
        CHECK(st == GROOT_OK, "get_action %s.%d: %s", c, i, groot_errmsg(p));
        if (st == GROOT_OK) {
            CHECK(n == 1 && !strcmp(acts[0].name, "action.all") && acts[0].ndim == 2 &&
                      acts[0].shape[0] == HORIZON && acts[0].shape[1] == ACTION_DIM,
                  "action arrays of %s.%d", c, i);
            err = tu_rel_err(acts[0].data, in.expect, HORIZON * ACTION_DIM);
        }
    }
    groot_policy_close(p);
    return err;
}

/* A batch of three (b.0, b.1, b.0 again; two views each) in one call: its
 * frames are prepared side by side, and each sample's actions must be its
 * own - b.0's the golden's, b.1's those of b.1 alone. */
static void batch_matches_single(const char *ckpt, const char *cfg2, const gr_st_file *gf, const char *text0,
                                 const char *text1)
{
    enum { B = 3, V = 2 };
    const size_t frame = 224 * 224 * 3, act = HORIZON * ACTION_DIM;
    e2e_inputs in[2];
    build_inputs(gf, "b", 0, V, &in[0]);
    build_inputs(gf, "b", 1, V, &in[1]);
    const int pick[B] = {0, 1, 0};
    uint8_t *video[V];
    double state[B * STATE_DIM];
    float noise[B * HORIZON * ACTION_DIM];
    const char *instr[B];
    for (int v = 0; v < V; v++)
        video[v] = malloc(B * frame);
    for (int b = 0; b < B; b++) {
        const e2e_inputs *x = &in[pick[b]];
        for (int v = 0; v < V; v++)
            memcpy(video[v] + b * frame, x->arrays[v].data, frame);
        memcpy(state + b * STATE_DIM, x->state, sizeof x->state);
        memcpy(noise + b * act, x->noise, sizeof x->noise);
        instr[b] = pick[b] ? text1 : text0;
    }
    groot_array arrays[3] = {{"video.front", GROOT_U8, 5, {B, 1, 224, 224, 3}, video[0]},
                             {"video.side", GROOT_U8, 5, {B, 1, 224, 224, 3}, video[1]},
                             {"state.joints", GROOT_F64, 3, {B, 1, STATE_DIM}, state}};
    groot_policy *p = NULL;
    groot_status st = open_policy(ckpt, cfg2, "new_embodiment", &p);
    CHECK(st == GROOT_OK, "open policy: %s", groot_errmsg(p));
    float single[HORIZON * ACTION_DIM];
    if (st == GROOT_OK) {
        /* b.1 alone first */
        const char *one[1] = {text1};
        groot_observation obs1 = {.arrays = in[1].arrays, .num_arrays = in[1].num_arrays, .instructions = one,
                                  .init_noise = in[1].noise};
        const groot_array *acts;
        int n;
        st = groot_policy_get_action(p, &obs1, &acts, &n);
        CHECK(st == GROOT_OK, "b.1 alone: %s", groot_errmsg(p));
        if (st == GROOT_OK)
            memcpy(single, acts[0].data, sizeof single);
        groot_observation obs = {.arrays = arrays, .num_arrays = 3, .instructions = instr, .batch = B,
                                 .init_noise = noise};
        st = groot_policy_get_action(p, &obs, &acts, &n);
        CHECK(st == GROOT_OK, "batch of %d: %s", B, groot_errmsg(p));
        if (st == GROOT_OK) {
            CHECK(n == 1 && acts[0].ndim == 3 && acts[0].shape[0] == B, "batched action arrays");
            const float *a = acts[0].data;
            const double e0 = tu_rel_err(a, in[0].expect, act), e1 = tu_rel_err(a + act, single, act),
                         e2 = tu_rel_err(a + 2 * act, in[0].expect, act);
            printf("policy batch of 3: b.0 vs golden %.3e, b.1 vs b.1 alone %.3e, b.0 again vs golden %.3e\n", e0,
                   e1, e2);
            CHECK(e0 <= 1e-4 && e2 <= 1e-4, "batched b.0 against the golden: %.3e, %.3e", e0, e2);
            CHECK(e1 <= 1e-5, "batched b.1 against b.1 alone: %.3e", e1);
        }
    }
    groot_policy_close(p);
    for (int v = 0; v < V; v++)
        free(video[v]);
}

/* groot_policy_warmup with prompts padded to buckets of 16 (its five-bucket
 * round, as on a GPU, here on the CPU): it succeeds, and leaves the noise
 * stream and the results exactly as they were without it. */
static void warmup_keeps_results(const char *ckpt, const char *cfg, const gr_st_file *gf, const char *instruction)
{
    setenv("GROOT_SEQ_BUCKET", "16", 1);
    groot_policy *warm = NULL, *cold = NULL;
    CHECK(open_policy(ckpt, cfg, "gr1", &warm) == GROOT_OK && open_policy(ckpt, cfg, "gr1", &cold) == GROOT_OK,
          "open: %s %s", groot_errmsg(warm), groot_errmsg(cold));
    unsetenv("GROOT_SEQ_BUCKET");
    if (!warm || !cold) {
        groot_policy_close(warm);
        groot_policy_close(cold);
        return;
    }
    CHECK(groot_policy_warmup(warm) == GROOT_OK, "warm-up: %s", groot_errmsg(warm));
    e2e_inputs in;
    build_inputs(gf, "a", 0, 1, &in);
    const char *instr[1] = {instruction};
    groot_observation obs = {.arrays = in.arrays, .num_arrays = in.num_arrays, .instructions = instr};
    for (int call = 0; call < 2; call++) { /* the seeded noise, twice: the stream moves on alike */
        const groot_array *a = NULL, *b = NULL;
        int na = 0, nb = 0;
        CHECK(groot_policy_get_action(warm, &obs, &a, &na) == GROOT_OK, "warm call: %s", groot_errmsg(warm));
        float first[HORIZON * ACTION_DIM];
        if (na == 1)
            memcpy(first, a[0].data, sizeof first);
        CHECK(groot_policy_get_action(cold, &obs, &b, &nb) == GROOT_OK, "cold call: %s", groot_errmsg(cold));
        CHECK(na == 1 && nb == 1 && memcmp(first, b[0].data, sizeof first) == 0,
              "call %d: actions after the warm-up differ from those without it", call);
        groot_timings t;
        groot_policy_timings(warm, &t);
        /* Recorded by the warm-up on a GPU, so replayed; never on the CPU. */
        const int gpu = strcmp(device, "cpu") != 0;
        CHECK(t.replayed == gpu, "a %s call after the warm-up: replayed %d", device, t.replayed);
    }
    obs.init_noise = in.noise;
    const groot_array *a = NULL;
    int na = 0;
    CHECK(groot_policy_get_action(warm, &obs, &a, &na) == GROOT_OK && na == 1, "golden noise: %s", groot_errmsg(warm));
    if (na == 1) {
        double e = tu_rel_err(a[0].data, in.expect, HORIZON * ACTION_DIM);
        CHECK(e <= 1e-4, "after the warm-up, a.0 vs golden %.3e", e);
    }
    groot_policy_close(warm);
    groot_policy_close(cold);
}

/* Runs obs and expects failure whose message contains `needle`. */
static void expect_error(groot_policy *p, const groot_observation *obs, const char *needle, const char *what)
{
    const groot_array *acts = NULL;
    int n = -1;
    groot_status st = groot_policy_get_action(p, obs, &acts, &n);
    CHECK(st != GROOT_OK, "%s: accepted", what);
    CHECK(acts == NULL && n == 0, "%s: returned actions", what);
    CHECK(strstr(groot_errmsg(p), needle) != NULL, "%s: message '%s' lacks '%s'", what, groot_errmsg(p), needle);
}

static void bad_inputs(const char *ckpt, const char *cfg1, const gr_st_file *gf, const char *instruction)
{
    groot_policy *p = NULL;
    if (open_policy(ckpt, cfg1, "gr1", &p) != GROOT_OK) {
        CHECK(0, "open policy: %s", groot_errmsg(p));
        groot_policy_close(p);
        return;
    }
    e2e_inputs in;
    build_inputs(gf, "a", 0, 1, &in);
    const char *instr[1] = {instruction};
    groot_array arr[4];
    groot_observation obs = {.arrays = arr, .instructions = instr};

    memcpy(arr, in.arrays, sizeof in.arrays[0] * 2);
    obs.num_arrays = 1; /* no state */
    expect_error(p, &obs, "state.joints", "missing state key");

    obs.num_arrays = 3;
    arr[2] = (groot_array){"state.elbow", GROOT_F64, 2, {1, 3}, in.state};
    expect_error(p, &obs, "state.elbow", "extra key");

    obs.num_arrays = 2;
    arr[1].dtype = GROOT_I32;
    expect_error(p, &obs, "state.joints", "state of the wrong dtype");
    arr[1] = in.arrays[1];
    arr[1].shape[1] = STATE_DIM - 1;
    expect_error(p, &obs, "state.joints", "state of the wrong width");
    arr[1] = in.arrays[1];

    double nan_state[STATE_DIM];
    memcpy(nan_state, in.state, sizeof nan_state);
    nan_state[7] = NAN;
    arr[1].data = nan_state;
    expect_error(p, &obs, "NaN", "NaN in the state");
    nan_state[7] = INFINITY;
    expect_error(p, &obs, "state.joints", "inf in the state");
    arr[1] = in.arrays[1];

    arr[0].shape[3] = 4; /* RGBA frame */
    expect_error(p, &obs, "video.front", "a 4-channel frame");
    arr[0] = in.arrays[0];
    arr[0].dtype = GROOT_F32;
    expect_error(p, &obs, "video.front", "a float frame");
    arr[0] = in.arrays[0];

    const char *bad_utf8[1] = {"pick \xff the pear"};
    obs.instructions = bad_utf8;
    expect_error(p, &obs, "offset", "a non-UTF-8 instruction");
    obs.instructions = NULL;
    expect_error(p, &obs, "instruction", "no instruction");
    obs.instructions = instr;

    /* After all that, a good call still gives the golden answer. */
    obs.init_noise = in.noise;
    const groot_array *acts;
    int n;
    groot_status st = groot_policy_get_action(p, &obs, &acts, &n);
    CHECK(st == GROOT_OK, "good call after bad ones: %s", groot_errmsg(p));
    if (st == GROOT_OK)
        CHECK(tu_rel_err(acts[0].data, in.expect, HORIZON * ACTION_DIM) <= 1e-4, "good call after bad ones");
    groot_policy_close(p);

    p = NULL;
    CHECK(open_policy(ckpt, cfg1, "unitree_h1", &p) != GROOT_OK && strstr(groot_errmsg(p), "unitree_h1"),
          "unknown embodiment tag: %s", groot_errmsg(p));
    groot_policy_close(p);
    p = NULL;
    CHECK(open_policy(ckpt, "no_such_config", "gr1", &p) != GROOT_OK && strstr(groot_errmsg(p), "no_such_config"),
          "unknown data config: %s", groot_errmsg(p));
    groot_policy_close(p);
}

/* Frames a 0.95 crop leaves nothing of (1x1), in a batch of three prepared
 * side by side: the call fails naming the key and the first sample. */
static void batch_frame_error(const char *dir, const char *instruction)
{
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/cropped.json", dir);
    write_data_config(cfg, 1, "0.95");
    groot_policy *p = NULL;
    groot_status st = open_policy(dir, cfg, "gr1", &p);
    CHECK(st == GROOT_OK, "open policy with a 0.95 crop: %s", groot_errmsg(p));
    if (st == GROOT_OK) {
        uint8_t px[3 * 3] = {0};
        double state[3 * STATE_DIM] = {0};
        const char *instr[3] = {instruction, instruction, instruction};
        groot_array arrays[2] = {{"video.front", GROOT_U8, 5, {3, 1, 1, 1, 3}, px},
                                 {"state.joints", GROOT_F64, 3, {3, 1, STATE_DIM}, state}};
        groot_observation obs = {.arrays = arrays, .num_arrays = 2, .instructions = instr, .batch = 3};
        expect_error(p, &obs, "'video.front' of sample 0", "1x1 frames under a 0.95 crop");
        printf("1x1 frames in a batch -> %s\n", groot_errmsg(p));
    }
    groot_policy_close(p);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        device = argv[1];
    const char *dir = tu_tmpdir();
    link_into(dir, "config.json");
    link_into(dir, "model.safetensors.index.json");
    link_into(dir, "model-00001-of-00002.safetensors");
    link_into(dir, "model-00002-of-00002.safetensors");
    link_into(dir, "eagle2_hg_model");
    write_metadata(dir, 0);
    char cfg1[4096], cfg2[4096];
    snprintf(cfg1, sizeof cfg1, "%s/one_view.json", dir);
    snprintf(cfg2, sizeof cfg2, "%s/two_views.json", dir);
    write_data_config(cfg1, 1, "1.0");
    write_data_config(cfg2, 2, "1.0");

    gr_st_file *gf = NULL;
    gr_error err;
    if (gr_st_open(tu_data("goldens/tiny/cases.safetensors"), &gf, &err) != GROOT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    /* The instructions of tests/data/goldens/tiny/cases.json. */
    const char *text_a = "pick the pear from the counter and place it in the plate";
    const char *text_b0 = "Open the drawer, then put the red cube inside!";
    const char *text_b1 = "stack 3 blocks: blue on green; green on yellow (carefully)";

    double ea = run_case(dir, cfg1, "gr1", gf, "a", 0, 1, text_a);
    double eb0 = run_case(dir, cfg2, "new_embodiment", gf, "b", 0, 2, text_b0);
    double eb1 = run_case(dir, cfg2, "oxe_droid", gf, "b", 1, 2, text_b1);
    printf("policy end to end vs golden action_pred (robot units): a.0 %.3e, b.0 %.3e, b.1 %.3e\n", ea, eb0, eb1);
    CHECK(ea <= 1e-4, "a.0 %.3e", ea);
    CHECK(eb0 <= 1e-4, "b.0 %.3e", eb0);
    CHECK(eb1 <= 1e-4, "b.1 %.3e", eb1);

    batch_matches_single(dir, cfg2, gf, text_b0, text_b1);
    batch_frame_error(dir, text_a);
    bad_inputs(dir, cfg1, gf, text_a);
    warmup_keeps_results(dir, cfg1, gf, text_a);

    /* Metadata lacking a statistic the config needs. */
    char path[4096];
    snprintf(path, sizeof path, "%s/experiment_cfg/metadata.json", dir);
    unlink(path);
    write_metadata(dir, 1);
    groot_policy *p = NULL;
    CHECK(open_policy(dir, cfg1, "gr1", &p) != GROOT_OK && strstr(groot_errmsg(p), "std"),
          "metadata without std: %s", groot_errmsg(p));
    groot_policy_close(p);

    gr_st_close(gf);
    return tu_finish("test_policy_e2e");
}
