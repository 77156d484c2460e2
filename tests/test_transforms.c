/* Data configs, metadata, rotations and the state/action transforms:
 * hand-checked values for every normalization mode (degenerate statistics
 * included), forward-then-inverse round trips for every mode and rotation
 * type, the twelve bundled configs, a user config, and the errors for
 * unknown names, unknown tags and missing statistics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data_config.h"
#include "policy/metadata.h"
#include "policy/normalize.h"
#include "policy/rotation.h"
#include "test_util.h"

static const char *g_dir;

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 512, "%s/%s", g_dir, name);
    return b;
}

/* Deterministic uniform [0,1): a test-local LCG (no global state needed). */
static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static void json_array(char *out, size_t cap, const double *v, int n)
{
    size_t o = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%.9g", i ? ", " : "", v[i]);
    snprintf(out + o, cap - o, "]");
}

/* One state key "state.s" and one action key "action.k", both given the same
 * StateActionTransform (mode, target rotation; either may be NULL), with
 * metadata of dim `dim`, rotation_type `rot` (NULL: null) and the given
 * statistics (any NULL is omitted). Builds the plan. */
typedef struct fixture {
    gr_data_config *cfg;
    gr_metadata *md;
    gr_transform_plan *plan;
    gr_error err;
    groot_status st;
} fixture;

static void fixture_free(fixture *f)
{
    gr_transform_plan_free(f->plan);
    gr_metadata_free(f->md);
    gr_data_config_free(f->cfg);
    memset(f, 0, sizeof *f);
}

static void fixture_make_n(fixture *f, const char *mode, const char *target, const char *rot,
                           int dim, int stat_dim, int absolute, const double *const stats[6],
                           int sincos)
{
    memset(f, 0, sizeof *f);
    char modes[256] = "", rots[256] = "";
    if (mode)
        snprintf(modes, sizeof modes,
                 ", \"normalization_modes\": {\"%s.%s\": \"%s\", \"%s.%s\": \"%s\"}", "state", "s",
                 mode, "action", "k", mode);
    if (target)
        snprintf(rots, sizeof rots,
                 ", \"target_rotations\": {\"state.s\": \"%s\", \"action.k\": \"%s\"}", target,
                 target);
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"video_keys\": [\"video.cam\"], \"state_keys\": [\"state.s\"],"
             " \"action_keys\": [\"action.k\"], \"language_keys\": [\"annotation.task\"],"
             " \"observation_indices\": [0], \"action_indices\": [0, 1, 2, 3],"
             " \"transforms\": ["
             "  {\"transform\": \"VideoToTensor\", \"apply_to\": [\"video.cam\"]},"
             "  {\"transform\": \"VideoCrop\", \"apply_to\": [\"video.cam\"], \"scale\": 0.9},"
             "  {\"transform\": \"VideoResize\", \"apply_to\": [\"video.cam\"], \"height\": 224,"
             "   \"width\": 224, \"interpolation\": \"linear\"},"
             "  {\"transform\": \"%s\", \"apply_to\": [\"state.s\", \"action.k\"]%s%s},"
             "  {\"transform\": \"ConcatTransform\", \"video_concat_order\": [\"video.cam\"],"
             "   \"state_concat_order\": [\"state.s\"], \"action_concat_order\": [\"action.k\"]},"
             "  {\"transform\": \"GR00TTransform\", \"state_horizon\": 1, \"action_horizon\": 4,"
             "   \"max_state_dim\": 16, \"max_action_dim\": 12}]}",
             sincos ? "StateActionSinCosTransform" : "StateActionTransform", modes, rots);
    tu_write_file(NULL, tmp_path("cfg.json"), cfg);

    char st[4096] = "";
    size_t o = 0;
    static const char *names[6] = {"min", "max", "mean", "std", "q01", "q99"};
    for (int i = 0; i < 6; i++) {
        if (!stats || !stats[i])
            continue;
        char arr[1024];
        json_array(arr, sizeof arr, stats[i], stat_dim);
        o += (size_t)snprintf(st + o, sizeof st - o, "%s\"%s\": %s", o ? ", " : "", names[i], arr);
    }
    char rt[64];
    snprintf(rt, sizeof rt, rot ? "\"%s\"" : "null", rot);
    char md[12000];
    snprintf(md, sizeof md,
             "{\"new_embodiment\": {\"statistics\": {\"state\": {\"s\": {%s}}, \"action\": "
             "{\"k\": {%s}}},"
             " \"modalities\": {\"video\": {\"cam\": {\"resolution\": [640, 480], \"channels\": 3,"
             " \"fps\": 30.0}}, \"state\": {\"s\": {\"absolute\": %s, \"rotation_type\": %s,"
             " \"shape\": [%d], \"continuous\": true}}, \"action\": {\"k\": {\"absolute\": %s,"
             " \"rotation_type\": %s, \"shape\": [%d], \"continuous\": true}}},"
             " \"embodiment_tag\": \"new_embodiment\"},"
             " \"gr1\": {\"statistics\": {}, \"modalities\": {}}}",
             st, st, absolute ? "true" : "false", rt, dim, absolute ? "true" : "false", rt, dim);
    tu_write_file(NULL, tmp_path("metadata.json"), md);

    f->st = gr_data_config_open(tmp_path("cfg.json"), NULL, &f->cfg, &f->err);
    if (f->st == GROOT_OK)
        f->st = gr_metadata_load(tmp_path("metadata.json"), "new_embodiment", &f->md, &f->err);
    if (f->st == GROOT_OK)
        f->st = gr_transform_plan_build(f->cfg, f->md, &f->plan, &f->err);
}

static void fixture_make(fixture *f, const char *mode, const char *target, const char *rot, int dim,
                         int absolute, const double *const stats[6], int sincos)
{
    fixture_make_n(f, mode, target, rot, dim, dim, absolute, stats, sincos);
}

/* ---------------------------------------------------------------- configs */

static void test_bundled_configs(void)
{
    static const char *names[12] = {
        "fourier_gr1_arms_waist", "fourier_gr1_arms_only", "fourier_gr1_full_upper_body",
        "bimanual_panda_gripper", "bimanual_panda_hand", "single_panda_gripper", "so100",
        "so100_dualcam", "unitree_g1", "unitree_g1_full_body", "oxe_droid", "agibot_genie1"};
    gr_error err;
    for (int i = 0; i < 12; i++) {
        gr_data_config *c = NULL;
        groot_status st = gr_data_config_open(names[i], GROOT_ASSETS_DIR, &c, &err);
        CHECK(st == GROOT_OK, "%s: %s", names[i], err.msg);
        if (st != GROOT_OK)
            continue;
        CHECK(strcmp(c->name, names[i]) == 0, "name %s", c->name);
        CHECK(c->video_keys.count >= 1 && c->state_keys.count >= 1 && c->action_keys.count >= 1,
              "%s: keys", names[i]);
        CHECK(c->language_keys.count == 1, "%s: language keys", names[i]);
        CHECK(c->num_action_indices == 16 && c->action_horizon == 16, "%s: horizon", names[i]);
        CHECK(c->max_state_dim == 64 && c->max_action_dim == 32, "%s: dims", names[i]);
        CHECK(c->video_order.count == c->video_keys.count, "%s: video order", names[i]);
        for (int v = 0; v < c->video_keys.count; v++)
            CHECK(c->video[v].crop_scale == 0.95 && c->video[v].resize_h == 224 &&
                      c->video[v].resize_w == 224,
                  "%s: video prep of %s", names[i], c->video[v].key);
        gr_data_config_free(c);
    }

    gr_data_config *c = NULL;
    CHECK(gr_data_config_open("fourier_gr1_arms_only", GROOT_ASSETS_DIR, &c, &err) == GROOT_OK,
          "%s", err.msg);
    if (c) {
        CHECK(c->num_sa == 2, "fourier_gr1_arms_only: %d state/action transforms", c->num_sa);
        CHECK(c->sa[0].kind == GR_SA_SINCOS && c->sa[0].num_steps == 4, "sincos on states");
        CHECK(c->sa[1].kind == GR_SA_TRANSFORM && c->sa[1].steps[0].mode == GR_NORM_MIN_MAX,
              "min_max on actions");
        CHECK(strcmp(c->state_order.items[3], "state.right_hand") == 0, "state order");
        CHECK(strcmp(c->language_keys.items[0], "annotation.human.action.task_description") == 0,
              "language key");
        gr_data_config_free(c);
    }
    CHECK(gr_data_config_open("oxe_droid", GROOT_ASSETS_DIR, &c, &err) == GROOT_OK, "%s",
          err.msg);
    if (c) {
        int found = 0;
        for (int t = 0; t < c->num_sa; t++)
            for (int s = 0; s < c->sa[t].num_steps; s++) {
                const gr_sa_step *st = &c->sa[t].steps[s];
                if (strcmp(st->key, "action.eef_rotation_delta") == 0 && st->has_target &&
                    st->target.kind == GR_ROT_AXIS_ANGLE && st->mode == GR_NORM_NONE)
                    found = 1;
                if (strcmp(st->key, "action.gripper_position") == 0)
                    CHECK(st->mode == GR_NORM_BINARY, "droid gripper binary");
            }
        CHECK(found, "oxe_droid: action.eef_rotation_delta -> axis_angle, unnormalized");
        CHECK(c->video_keys.count == 3, "oxe_droid: 3 cameras");
        gr_data_config_free(c);
    }

    /* Unknown name: the message lists what exists. */
    groot_status st = gr_data_config_open("no_such_robot", GROOT_ASSETS_DIR, &c, &err);
    CHECK(st == GROOT_ERR_INVALID_ARG, "unknown config accepted");
    CHECK(strstr(err.msg, "no_such_robot") && strstr(err.msg, "so100_dualcam") &&
              strstr(err.msg, "agibot_genie1") && strstr(err.msg, "fourier_gr1_arms_waist"),
          "message: %s", err.msg);
    char names_buf[1024];
    char dc[512];
    snprintf(dc, sizeof dc, "%s/data_configs.json", GROOT_ASSETS_DIR);
    CHECK(gr_data_config_list(dc, names_buf, sizeof names_buf, &err) == GROOT_OK, "%s", err.msg);
    CHECK(strstr(names_buf, "unitree_g1_full_body") != NULL, "list: %s", names_buf);
}

static void test_user_configs(void)
{
    gr_error err;
    gr_data_config *c = NULL;
    /* A file mapping names to configs, several of them: name one. */
    tu_write_file(NULL, tmp_path("multi.json"),
               "{\"a\": {\"video_keys\": [\"video.v\"], \"state_keys\": [\"state.x\"],"
               " \"action_keys\": [\"action.x\"], \"language_keys\": [\"annotation.t\"]},"
               " \"b\": {\"video_keys\": [\"video.w\"], \"state_keys\": [\"state.y\"],"
               " \"action_keys\": [\"action.y\"], \"language_keys\": [\"annotation.t\"],"
               " \"transforms\": [{\"transform\": \"VideoCrop\", \"apply_to\": [\"video.w\"],"
               " \"scale\": 0.8}]}}");
    char spec[600];
    snprintf(spec, sizeof spec, "%s:b", tmp_path("multi.json"));
    CHECK(gr_data_config_open(spec, NULL, &c, &err) == GROOT_OK, "%s", err.msg);
    if (c) {
        CHECK(strcmp(c->name, "b") == 0 && c->video[0].crop_scale == 0.8 &&
                  c->video[0].resize_h == 0,
              "config b: %s %g", c->name, c->video[0].crop_scale);
        CHECK(c->state_order.count == 1 && strcmp(c->state_order.items[0], "state.y") == 0,
              "default concat order");
        CHECK(c->max_state_dim == 64 && c->action_horizon == 16, "GR00TTransform defaults");
        gr_data_config_free(c);
        c = NULL;
    }
    CHECK(gr_data_config_open(tmp_path("multi.json"), NULL, &c, &err) == GROOT_ERR_INVALID_ARG,
          "ambiguous file accepted");
    CHECK(strstr(err.msg, "a, b") != NULL, "message: %s", err.msg);
    snprintf(spec, sizeof spec, "%s:zz", tmp_path("multi.json"));
    CHECK(gr_data_config_open(spec, NULL, &c, &err) == GROOT_ERR_INVALID_ARG, "zz accepted");
    CHECK(strstr(err.msg, "\"zz\"") && strstr(err.msg, "a, b"), "message: %s", err.msg);

    /* Schema errors name what is wrong. */
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"video_keys\": [\"video.v\"], \"state_keys\": [\"state.x\"], \"action_keys\": "
         "[\"action.x\"]}",
         "language_keys"},
        {"{\"video_keys\": [\"video.v\"], \"state_keys\": [\"x\"], \"action_keys\": [], "
         "\"language_keys\": []}",
         "\"x\" should start with \"state.\""},
        {"{\"video_keys\": [], \"state_keys\": [\"state.x\"], \"action_keys\": [\"action.x\"], "
         "\"language_keys\": [], \"transforms\": [{\"transform\": \"Frobnicate\"}]}",
         "Frobnicate"},
        {"{\"video_keys\": [], \"state_keys\": [\"state.x\"], \"action_keys\": [\"action.x\"], "
         "\"language_keys\": [], \"transforms\": [{\"transform\": \"StateActionTransform\", "
         "\"apply_to\": [\"state.x\"], \"normalization_modes\": {\"state.x\": \"zscore\"}}]}",
         "zscore"},
        {"{\"video_keys\": [], \"state_keys\": [\"state.x\"], \"action_keys\": [\"action.x\"], "
         "\"language_keys\": [], \"transforms\": [{\"transform\": \"StateActionTransform\", "
         "\"apply_to\": [\"state.x\"], \"target_rotations\": {\"state.x\": \"euler_angles_rrp\"}}]}",
         "euler_angles_rrp"},
        {"{\"video_keys\": [], \"state_keys\": [\"state.x\"], \"action_keys\": [\"action.x\"], "
         "\"language_keys\": [], \"transforms\": [{\"transform\": \"StateActionTransform\", "
         "\"apply_to\": [\"state.x\"], \"normalization_modes\": {\"state.q\": \"min_max\"}}]}",
         "\"state.q\""},
        {"{\"video_keys\": [], \"state_keys\": [\"state.x\"], \"action_keys\": [\"action.x\"], "
         "\"language_keys\": [], \"transforms\": [{\"transform\": \"ConcatTransform\", "
         "\"state_concat_order\": [\"state.nope\"]}]}",
         "state.nope"},
        {"{\"video_keys\": [\"video.v\"], \"state_keys\": [], \"action_keys\": [], "
         "\"language_keys\": [], \"transforms\": [{\"transform\": \"VideoResize\", \"apply_to\": "
         "[\"video.v\"], \"height\": 224, \"width\": 224, \"interpolation\": \"cubic\"}]}",
         "cubic"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tu_write_file(NULL, tmp_path("bad.json"), bad[i].json);
        groot_status st = gr_data_config_open(tmp_path("bad.json"), NULL, &c, &err);
        CHECK(st != GROOT_OK, "bad config %zu accepted", i);
        CHECK(strstr(err.msg, bad[i].needle) != NULL, "bad config %zu: message \"%s\" lacks %s",
              i, err.msg, bad[i].needle);
        if (st == GROOT_OK)
            gr_data_config_free(c);
    }
}

/* --------------------------------------------------------------- metadata */

static void test_metadata_errors(void)
{
    static const double mn[2] = {0, 1}, mx[2] = {2, 3};
    const double *stats[6] = {mn, mx, NULL, NULL, NULL, NULL};
    fixture f;
    fixture_make(&f, "min_max", NULL, NULL, 2, 1, stats, 0);
    CHECK(f.st == GROOT_OK, "%s", f.err.msg);
    if (f.md) {
        const gr_meta_key *k = gr_metadata_key(f.md, "state", "s");
        CHECK(k && k->dim == 2 && k->absolute && !k->rotation_type && k->stat_len[GR_STAT_MIN] == 2,
              "metadata key s");
        const gr_meta_video *v = gr_metadata_video(f.md, "cam");
        CHECK(v && v->width == 640 && v->height == 480 && v->channels == 3, "video cam");
    }
    fixture_free(&f);

    /* Unknown tag: the tags present are listed. */
    gr_metadata *md = NULL;
    gr_error err;
    CHECK(gr_metadata_load(tmp_path("metadata.json"), "oxe_droid", &md, &err) ==
              GROOT_ERR_INVALID_ARG, "unknown tag accepted");
    CHECK(strstr(err.msg, "\"oxe_droid\"") && strstr(err.msg, "new_embodiment, gr1"),
          "message: %s", err.msg);

    /* A statistic the mode needs is missing: named with tag, modality, key. */
    const double *no_max[6] = {mn, NULL, NULL, NULL, NULL, NULL};
    fixture_make(&f, "min_max", NULL, NULL, 2, 1, no_max, 0);
    CHECK(f.st == GROOT_ERR_FORMAT, "missing max accepted");
    CHECK(strstr(f.err.msg, "\"new_embodiment\"") && strstr(f.err.msg, "\"max\"") &&
              strstr(f.err.msg, "state key \"s\""),
          "message: %s", f.err.msg);
    fixture_free(&f);
    const double *q[6] = {mn, mx, NULL, NULL, mn, NULL};
    fixture_make(&f, "q99", NULL, NULL, 2, 1, q, 0);
    CHECK(f.st == GROOT_ERR_FORMAT && strstr(f.err.msg, "\"q99\""), "message: %s", f.err.msg);
    fixture_free(&f);
    fixture_make(&f, "mean_std", NULL, NULL, 2, 1, stats, 0);
    CHECK(f.st == GROOT_ERR_FORMAT && strstr(f.err.msg, "\"mean\""), "message: %s", f.err.msg);
    fixture_free(&f);
    /* binary needs no statistics at all. */
    fixture_make(&f, "binary", NULL, NULL, 2, 1, NULL, 0);
    CHECK(f.st == GROOT_OK, "%s", f.err.msg);
    fixture_free(&f);
    /* Wrong statistic length. */
    fixture_make_n(&f, "min_max", NULL, NULL, 3, 2, 1, stats, 0);
    CHECK(f.st == GROOT_ERR_FORMAT && strstr(f.err.msg, "has 2 values, expected 3"),
          "message: %s", f.err.msg);
    fixture_free(&f);
    /* Rotation conversion without a metadata rotation_type. */
    fixture_make(&f, NULL, "rotation_6d", NULL, 4, 1, NULL, 0);
    CHECK(f.st == GROOT_ERR_FORMAT && strstr(f.err.msg, "rotation_type"), "message: %s",
          f.err.msg);
    fixture_free(&f);
    /* Normalizing a converted relative rotation is refused. */
    fixture_make(&f, "min_max", "rotation_6d", "quaternion", 4, 0, NULL, 0);
    CHECK(f.st == GROOT_ERR_INVALID_ARG && strstr(f.err.msg, "relative"), "message: %s",
          f.err.msg);
    fixture_free(&f);
    /* Shape that does not match the rotation type. */
    fixture_make(&f, NULL, "rotation_6d", "quaternion", 3, 1, NULL, 0);
    CHECK(f.st == GROOT_ERR_FORMAT && strstr(f.err.msg, "quaternion"), "message: %s", f.err.msg);
    fixture_free(&f);
}

/* Inputs the fuzzers (tests/fuzz) found: a key given twice leaked its
 * first statistics and rotation_type (the last entry now wins, as with
 * Python's json); huge numbers reached float-to-integer conversions that are
 * undefined out of range, or overflowed the shape product. Run under the
 * sanitizers, these fail on a leak or on undefined behaviour. */
static void test_fuzz_regressions(void)
{
    gr_metadata *md = NULL;
    gr_error err;
    tu_write_file(NULL, tmp_path("dup.json"),
               "{\"gr1\": {\"statistics\": {\"state\": {\"a\": {\"min\": [1, 2]},"
               " \"a\": {\"min\": [3], \"max\": [4]}}},"
               " \"modalities\": {\"state\": {\"a\": {\"shape\": [9], \"rotation_type\": \"quaternion\"},"
               " \"a\": {\"shape\": [1], \"rotation_type\": \"euler_angles_rpy\"}}}}}");
    CHECK(gr_metadata_load(tmp_path("dup.json"), "gr1", &md, &err) == GROOT_OK, "%s", err.msg);
    if (md) {
        const gr_meta_key *k = gr_metadata_key(md, "state", "a");
        CHECK(md->num_state == 1 && k && k->stat_len[GR_STAT_MIN] == 1 && k->stat[GR_STAT_MIN][0] == 3 &&
                  k->stat_len[GR_STAT_MAX] == 1 && k->dim == 1 &&
                  strcmp(k->rotation_type, "euler_angles_rpy") == 0,
              "duplicate key: the last entry must win");
    }
    gr_metadata_free(md);

    static const char *const shapes[] = {"[1e300]", "[2, 9e18]", "[-1]", "[1.5]", "[2000000, 2]"};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"gr1\": {\"modalities\": {\"state\": {\"a\": {\"shape\": %s}}}}}", shapes[i]);
        tu_write_file(NULL, tmp_path("shape.json"), text);
        md = NULL;
        CHECK(gr_metadata_load(tmp_path("shape.json"), "gr1", &md, &err) == GROOT_ERR_FORMAT,
              "shape %s accepted", shapes[i]);
        gr_metadata_free(md);
    }
    /* A zero dimension still makes an empty shape, whatever follows it. */
    tu_write_file(NULL, tmp_path("shape.json"),
               "{\"gr1\": {\"modalities\": {\"state\": {\"a\": {\"shape\": [0, 3000000]}}}}}");
    md = NULL;
    CHECK(gr_metadata_load(tmp_path("shape.json"), "gr1", &md, &err) == GROOT_OK, "%s", err.msg);
    gr_metadata_free(md);

    static const char *const bad[] = {
        "\"observation_indices\": [1e10]",
        "\"action_indices\": [-3e9]",
        "\"transforms\": [{\"transform\": \"GR00TTransform\", \"max_state_dim\": 1e12}]",
        ("\"transforms\": [{\"transform\": \"VideoResize\", \"apply_to\": [\"video.v\"],"
         " \"height\": 1e300, \"width\": 8}]"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"video_keys\": [\"video.v\"], \"state_keys\": [], \"action_keys\": [],"
                 " \"language_keys\": [], %s}", bad[i]);
        tu_write_file(NULL, tmp_path("big.json"), text);
        gr_data_config *c = NULL;
        CHECK(gr_data_config_load_file(tmp_path("big.json"), NULL, &c, &err) == GROOT_ERR_FORMAT,
              "data config with %s accepted", bad[i]);
        gr_data_config_free(c);
    }
}

/* ---------------------------------------------------- hand-checked values */

static void check_forward(fixture *f, const double *x, const double *want, int n, const char *what)
{
    float out[16];
    const double *in[1] = {x};
    CHECK(gr_plan_forward(f->plan, GR_SIDE_STATE, in, out, 16, &f->err) == GROOT_OK, "%s",
          f->err.msg);
    for (int i = 0; i < n; i++)
        CHECK(fabs(out[i] - want[i]) < 1e-6, "%s forward [%d]: %g, want %g", what, i, out[i],
              want[i]);
    for (int i = n; i < 16; i++)
        CHECK(out[i] == 0.0f, "%s: padding [%d] = %g", what, i, out[i]);
}

static void check_inverse(fixture *f, const float *y, const double *want, int n, const char *what)
{
    float in[2 * 12], out[2 * 8];
    /* Two rows, the second a copy, and 12 model dims (extra ones dropped). */
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 12; i++)
            in[r * 12 + i] = i < n ? y[i] : 99.0f;
    float *outs[1] = {out};
    CHECK(gr_plan_inverse(f->plan, GR_SIDE_ACTION, in, 2, 12, outs, &f->err) == GROOT_OK, "%s",
          f->err.msg);
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < n; i++)
            CHECK(fabs(out[r * n + i] - want[i]) < 1e-6, "%s inverse row %d [%d]: %g, want %g",
                  what, r, i, out[r * n + i], want[i]);
}

static void test_hand_values(void)
{
    fixture f;
    /* min_max: 2(x-min)/(max-min)-1; 0 where max == min; no clamp. */
    {
        static const double mn[3] = {0, 1, -4}, mx[3] = {2, 1, 4};
        const double *st[6] = {mn, mx};
        fixture_make(&f, "min_max", NULL, NULL, 3, 1, st, 0);
        CHECK(f.st == GROOT_OK, "%s", f.err.msg);
        static const double x[3] = {1.5, 7, 6}, y[3] = {0.5, 0, 1.5};
        check_forward(&f, x, y, 3, "min_max");
        static const float yi[3] = {0.5f, 0.3f, -1.0f};
        static const double xi[3] = {1.5, 1, -4};
        check_inverse(&f, yi, xi, 3, "min_max");
        fixture_free(&f);
    }
    /* q99: same with q01/q99, x kept where q01 == q99, then clamp to [-1,1]. */
    {
        static const double q1[4] = {-1, 3, 0, 0}, q9[4] = {1, 3, 10, 10};
        const double *st[6] = {NULL, NULL, NULL, NULL, q1, q9};
        fixture_make(&f, "q99", NULL, NULL, 4, 1, st, 0);
        CHECK(f.st == GROOT_OK, "%s", f.err.msg);
        static const double x[4] = {0.5, 0.25, 12, -3}, y[4] = {0.5, 0.25, 1, -1};
        check_forward(&f, x, y, 4, "q99");
        static const double x2[4] = {0, 7, 2.5, 5}, y2[4] = {0, 1, -0.5, 0};
        check_forward(&f, x2, y2, 4, "q99 degenerate clamp");
        static const float yi[4] = {0.5f, 0.25f, -0.5f, 1.0f};
        static const double xi[4] = {0.5, 3, 2.5, 10};
        check_inverse(&f, yi, xi, 4, "q99");
        fixture_free(&f);
    }
    /* mean_std: (x-mean)/std, x kept where std == 0. */
    {
        static const double mean[2] = {1, 2}, sd[2] = {2, 0};
        const double *st[6] = {NULL, NULL, mean, sd};
        fixture_make(&f, "mean_std", NULL, NULL, 2, 1, st, 0);
        CHECK(f.st == GROOT_OK, "%s", f.err.msg);
        static const double x[2] = {5, 9}, y[2] = {2, 9};
        check_forward(&f, x, y, 2, "mean_std");
        static const float yi[2] = {2.0f, 9.0f};
        static const double xi[2] = {5, 2};
        check_inverse(&f, yi, xi, 2, "mean_std");
        fixture_free(&f);
    }
    /* binary: x > 0.5. */
    {
        fixture_make(&f, "binary", NULL, NULL, 3, 1, NULL, 0);
        CHECK(f.st == GROOT_OK, "%s", f.err.msg);
        static const double x[3] = {0.5, 0.51, -2}, y[3] = {0, 1, 0};
        check_forward(&f, x, y, 3, "binary");
        static const float yi[3] = {0.2f, 0.9f, 0.5f};
        static const double xi[3] = {0, 1, 0};
        check_inverse(&f, yi, xi, 3, "binary");
        fixture_free(&f);
    }
    /* sin/cos: [sin(x), cos(x)], dims doubled. */
    {
        fixture_make(&f, NULL, NULL, NULL, 2, 1, NULL, 1);
        CHECK(f.st == GROOT_OK, "%s", f.err.msg);
        static const double x[2] = {0, M_PI / 2}, y[4] = {0, 1, 1, 0};
        check_forward(&f, x, y, 4, "sincos");
        CHECK(gr_plan_model_dim(f.plan, GR_SIDE_STATE, 0) == 4, "sincos dim");
        fixture_free(&f);
    }
    /* Converted absolute rotation: fixed min_max ranges. quaternion -> euler
     * (rpy = XYZ) of a rotation of 0.3 about Z: [0, 0, 0.3] / pi. */
    {
        fixture_make(&f, "min_max", "euler_angles_rpy", "quaternion", 4, 1, NULL, 0);
        CHECK(f.st == GROOT_OK, "%s", f.err.msg);
        double x[4] = {cos(0.15), 0, 0, sin(0.15)};
        double y[3] = {0, 0, 0.3 / M_PI};
        check_forward(&f, x, y, 3, "quaternion->euler min_max");
        fixture_free(&f);
        fixture_make(&f, "min_max", "rotation_6d", "axis_angle", 3, 1, NULL, 0);
        CHECK(f.st == GROOT_OK, "%s", f.err.msg);
        double a[3] = {0, 0, 0.3};
        double s6[6] = {cos(0.3), -sin(0.3), 0, sin(0.3), cos(0.3), 0};
        check_forward(&f, a, s6, 6, "axis_angle->rotation_6d");
        fixture_free(&f);
    }
}

/* ------------------------------------------------------------- rotations */

static void test_rotation_values(void)
{
    gr_error err;
    gr_rotation q, e, aa, s6, m, zyx;
    CHECK(gr_rotation_parse("quaternion", "t", &q, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_rotation_parse("euler_angles_rpy", "t", &e, &err) == GROOT_OK, "%s", err.msg);
    CHECK(strcmp(e.convention, "XYZ") == 0, "rpy -> %s", e.convention);
    CHECK(gr_rotation_parse("euler_angles_ypr", "t", &zyx, &err) == GROOT_OK &&
              strcmp(zyx.convention, "ZYX") == 0, "ypr");
    gr_rotation up;
    CHECK(gr_rotation_parse("euler_angles_YZX", "t", &up, &err) == GROOT_OK &&
              strcmp(up.convention, "YZX") == 0, "upper-case convention");
    CHECK(gr_rotation_parse("axis_angle", "t", &aa, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_rotation_parse("rotation_6d", "t", &s6, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_rotation_parse("matrix", "t", &m, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_rotation_parse("euler", "key.x", &m, &err) == GROOT_ERR_FORMAT &&
              strstr(err.msg, "key.x") && strstr(err.msg, "\"euler\""), "message: %s", err.msg);
    gr_rotation_parse("matrix", "t", &m, &err);

    /* A rotation of t about X: quaternion [cos t/2, sin t/2, 0, 0]. */
    double t = 0.7, R[9];
    double qx[4] = {cos(t / 2), sin(t / 2), 0, 0};
    gr_rotation_to_matrix(&q, qx, R);
    double Rx[9] = {1, 0, 0, 0, cos(t), -sin(t), 0, sin(t), cos(t)};
    for (int i = 0; i < 9; i++)
        CHECK(fabs(R[i] - Rx[i]) < 1e-12, "quaternion X [%d]", i);
    /* Euler XYZ = R_X(a) R_Y(b) R_Z(c); check against explicit products. */
    double ang[3] = {0.3, -0.5, 1.1};
    gr_rotation_to_matrix(&e, ang, R);
    double ca = cos(0.3), sa = sin(0.3), cb = cos(-0.5), sb = sin(-0.5), cc = cos(1.1),
           sc = sin(1.1);
    double want[9] = {cb * cc,
                      -cb * sc,
                      sb,
                      ca * sc + sa * sb * cc,
                      ca * cc - sa * sb * sc,
                      -sa * cb,
                      sa * sc - ca * sb * cc,
                      sa * cc + ca * sb * sc,
                      ca * cb};
    for (int i = 0; i < 9; i++)
        CHECK(fabs(R[i] - want[i]) < 1e-12, "euler XYZ [%d]: %g vs %g", i, R[i], want[i]);
    double back[3];
    gr_rotation_from_matrix(&e, R, back);
    for (int i = 0; i < 3; i++)
        CHECK(fabs(back[i] - ang[i]) < 1e-12, "euler XYZ back [%d]", i);
    /* rotation_6d is the first two rows. */
    double six[6];
    gr_rotation_from_matrix(&s6, want, six);
    for (int i = 0; i < 6; i++)
        CHECK(six[i] == want[i], "6d [%d]", i);
    /* Gram-Schmidt from an unnormalized, skewed 6d. */
    double skew[6] = {2, 0, 0, 1, 3, 0}, G[9];
    gr_rotation_to_matrix(&s6, skew, G);
    double eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    for (int i = 0; i < 9; i++)
        CHECK(fabs(G[i] - eye[i]) < 1e-12, "6d Gram-Schmidt [%d]", i);
    /* Axis-angle of a half turn minus a bit about Y; quaternion of a matrix
     * keeps w >= 0. */
    double a3[3] = {0, 3.0, 0};
    gr_rotation_to_matrix(&aa, a3, R);
    double qb[4];
    gr_rotation_from_matrix(&q, R, qb);
    CHECK(qb[0] >= 0 && fabs(qb[0] - cos(1.5)) < 1e-12 && fabs(qb[2] - sin(1.5)) < 1e-12,
          "quaternion of Y 3.0: %g %g %g %g", qb[0], qb[1], qb[2], qb[3]);
    gr_rotation_from_matrix(&aa, R, back);
    CHECK(fabs(back[1] - 3.0) < 1e-9 && fabs(back[0]) < 1e-12, "axis angle back %g", back[1]);
    double zero[3] = {0, 0, 0};
    gr_rotation_to_matrix(&aa, zero, R);
    gr_rotation_from_matrix(&aa, R, back);
    CHECK(fabs(back[0]) + fabs(back[1]) + fabs(back[2]) < 1e-15, "axis angle of identity");
}

/* A random rotation of angle <= 0.9 pi, as a matrix; rejects matrices near
 * gimbal lock for the euler convention given (if any). */
static void random_rotation(uint64_t *seed, double R[9])
{
    double ax[3], n;
    do {
        for (int i = 0; i < 3; i++)
            ax[i] = urand(seed) * 2 - 1;
        n = sqrt(ax[0] * ax[0] + ax[1] * ax[1] + ax[2] * ax[2]);
    } while (n < 0.1 || n > 1);
    double th = (0.05 + 0.85 * urand(seed)) * M_PI;
    double q[4] = {cos(th / 2), sin(th / 2) * ax[0] / n, sin(th / 2) * ax[1] / n,
                   sin(th / 2) * ax[2] / n};
    gr_rotation qr = {GR_ROT_QUATERNION, ""};
    gr_rotation_to_matrix(&qr, q, R);
}

static void test_rotation_round_trips(void)
{
    static const char *types[10] = {"quaternion", "axis_angle", "rotation_6d", "matrix",
                                    "euler_angles_rpy", "euler_angles_ryp", "euler_angles_pry",
                                    "euler_angles_pyr", "euler_angles_yrp", "euler_angles_ypr"};
    uint64_t seed = 12345;
    double worst = 0;
    int combos = 0;
    for (int fi = 0; fi < 10; fi++) {
        for (int ti = 0; ti < 10; ti++) {
            if (fi == ti)
                continue;
            gr_rotation from, to;
            gr_error err;
            gr_rotation_parse(types[fi], "t", &from, &err);
            gr_rotation_parse(types[ti], "t", &to, &err);
            int dim = gr_rotation_dim(&from);
            for (int normalized = 0; normalized < 2; normalized++) {
                fixture f;
                fixture_make(&f, normalized ? "min_max" : NULL, types[ti], types[fi], dim, 1, NULL,
                             0);
                CHECK(f.st == GROOT_OK, "%s -> %s: %s", types[fi], types[ti], f.err.msg);
                if (f.st != GROOT_OK) {
                    fixture_free(&f);
                    continue;
                }
                CHECK(gr_plan_model_dim(f.plan, GR_SIDE_ACTION, 0) == gr_rotation_dim(&to),
                      "model dim");
                combos++;
                for (int trial = 0; trial < 20; trial++) {
                    double R[9], x[9];
                    double e[3];
                    int near_lock;
                    do {
                        random_rotation(&seed, R);
                        near_lock = 0;
                        /* Keep away from gimbal lock of either euler end,
                         * where float32 rounding is amplified. */
                        const gr_rotation *ends[2] = {&from, &to};
                        for (int k = 0; k < 2; k++)
                            if (ends[k]->kind == GR_ROT_EULER) {
                                gr_rotation_from_matrix(ends[k], R, e);
                                near_lock |= fabs(e[1]) > 1.3;
                            }
                    } while (near_lock);
                    gr_rotation_from_matrix(&from, R, x);
                    float y[12];
                    const double *in[1] = {x};
                    gr_plan_forward(f.plan, GR_SIDE_ACTION, in, y, 12, &f.err);
                    float back[9];
                    float *outs[1] = {back};
                    CHECK(gr_plan_inverse(f.plan, GR_SIDE_ACTION, y, 1, 12, outs, &f.err) ==
                              GROOT_OK, "%s", f.err.msg);
                    double d = 0;
                    for (int i = 0; i < dim; i++)
                        d = fmax(d, fabs(back[i] - x[i]));
                    if (d > worst)
                        worst = d;
                    CHECK(d <= 1e-5, "%s -> %s%s -> back: max error %g", types[fi], types[ti],
                          normalized ? " (min_max)" : "", d);
                }
                fixture_free(&f);
            }
        }
    }
    printf("rotation round trips: %d conversions x 20 rotations, max error %.3g\n", combos, worst);
}

/* Forward then inverse, every mode, random statistics and inputs. */
static void test_mode_round_trips(void)
{
    static const char *modes[4] = {"min_max", "q99", "mean_std", "binary"};
    uint64_t seed = 99;
    enum { D = 7 };
    for (int mi = 0; mi < 4; mi++) {
        double lo[D], hi[D], mean[D], sd[D];
        for (int i = 0; i < D; i++) {
            lo[i] = (double)(float)(urand(&seed) * 4 - 3);
            hi[i] = (double)(float)(lo[i] + 0.5 + urand(&seed) * 3);
            mean[i] = (double)(float)(urand(&seed) * 2 - 1);
            sd[i] = (double)(float)(0.2 + urand(&seed));
        }
        const double *st[6] = {lo, hi, mean, sd, lo, hi};
        fixture f;
        fixture_make(&f, modes[mi], NULL, NULL, D, 1, st, 0);
        CHECK(f.st == GROOT_OK, "%s: %s", modes[mi], f.err.msg);
        if (f.st != GROOT_OK) {
            fixture_free(&f);
            continue;
        }
        double worst = 0;
        for (int trial = 0; trial < 50; trial++) {
            double x[D];
            for (int i = 0; i < D; i++) {
                double u = urand(&seed);
                x[i] = mi == 3 ? (u > 0.5 ? 1.0 : 0.0) : lo[i] + u * (hi[i] - lo[i]);
            }
            for (int side = 0; side < 2; side++) {
                float y[16], back[D];
                const double *in[1] = {x};
                float *outs[1] = {back};
                gr_plan_forward(f.plan, (gr_sa_side)side, in, y, side ? 12 : 16, &f.err);
                gr_plan_inverse(f.plan, (gr_sa_side)side, y, 1, side ? 12 : 16, outs, &f.err);
                for (int i = 0; i < D; i++) {
                    double d = fabs(back[i] - x[i]);
                    worst = fmax(worst, d);
                    CHECK(d <= 1e-5, "%s round trip [%d]: %g -> %g", modes[mi], i, x[i], back[i]);
                }
            }
        }
        printf("%s round trip: max error %.3g\n", modes[mi], worst);
        fixture_free(&f);
    }
    /* sin/cos round trip through atan2, angles in (-pi, pi). */
    fixture f;
    fixture_make(&f, NULL, NULL, NULL, 3, 1, NULL, 1);
    double x[3] = {-3.0, 0.1, 2.9};
    float y[16], back[3];
    const double *in[1] = {x};
    float *outs[1] = {back};
    gr_plan_forward(f.plan, GR_SIDE_STATE, in, y, 16, &f.err);
    gr_plan_inverse(f.plan, GR_SIDE_STATE, y, 1, 16, outs, &f.err);
    for (int i = 0; i < 3; i++)
        CHECK(fabs(back[i] - x[i]) <= 1e-5, "sincos round trip [%d]", i);
    fixture_free(&f);
}

static void test_pad_truncate(void)
{
    /* A 20-dim state into max_state_dim 16: truncated; actions must fit. */
    double mn[20], mx[20];
    for (int i = 0; i < 20; i++)
        mn[i] = 0, mx[i] = 2;
    const double *st[6] = {mn, mx};
    fixture f;
    fixture_make(&f, "min_max", NULL, NULL, 20, 1, st, 0);
    /* 20 action dims do not fit max_action_dim 12. */
    CHECK(f.st == GROOT_ERR_FORMAT && strstr(f.err.msg, "max_action_dim"), "message: %s",
          f.err.msg);
    fixture_free(&f);
    fixture_make(&f, "min_max", NULL, NULL, 10, 1, st, 0);
    CHECK(f.st == GROOT_OK, "%s", f.err.msg);
    if (f.plan) {
        double x[10];
        for (int i = 0; i < 10; i++)
            x[i] = 2;
        float out[8];
        const double *in[1] = {x};
        CHECK(gr_plan_forward(f.plan, GR_SIDE_STATE, in, out, 8, &f.err) == GROOT_OK, "%s",
              f.err.msg);
        CHECK(out[7] == 1.0f, "truncated state");
        float y[12];
        float back[10];
        float *outs[1] = {back};
        CHECK(gr_plan_inverse(f.plan, GR_SIDE_ACTION, y, 1, 9, outs, &f.err) ==
                  GROOT_ERR_INVALID_ARG, "too few model dims accepted");
    }
    fixture_free(&f);
}

int main(void)
{
    g_dir = tu_tmpdir();
    test_bundled_configs();
    test_user_configs();
    test_metadata_errors();
    test_fuzz_regressions();
    test_hand_values();
    test_rotation_values();
    test_rotation_round_trips();
    test_mode_round_trips();
    test_pad_truncate();
    return tu_finish("test_transforms");
}
