/* groot_synth: the tiny preset against the golden tiny checkpoint (same keys,
 * same shapes, same configuration), reproducibility, metadata.json, and the
 * 3B plan (shard sizes, totals) without writing the 3B weights. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/half.h"
#include "groot.h"
#include "io/checkpoint.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/describe.h"
#include "model/synth.h"
#include "test_util.h"

static char golden_dir[4096];

static void synth_ok(const char *preset, uint64_t seed, const char *dir)
{
    char eb[512] = "x";
    groot_status st = groot_synth(preset, seed, dir, eb, sizeof eb);
    CHECK(st == GROOT_OK, "groot_synth(%s, %llu): %s: %s", preset, (unsigned long long)seed,
          groot_status_name(st), eb);
    CHECK(eb[0] == '\0', "errbuf not cleared on success: '%s'", eb);
}

/* 1 when the two files hold the same bytes; -1 when either is unreadable. */
static int same_file(const char *a, const char *b)
{
    char *x, *y;
    size_t nx, ny;
    gr_error err;
    if (gr_read_file(a, &x, &nx, &err) != GROOT_OK)
        return -1;
    if (gr_read_file(b, &y, &ny, &err) != GROOT_OK) {
        free(x);
        return -1;
    }
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

static cJSON *load(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cJSON *j = NULL;
    gr_error err;
    groot_status st = gr_json_load_object(path, &j, &err);
    CHECK(st == GROOT_OK, "%s", err.msg);
    return j;
}

/* Every file a synthesized tiny checkpoint holds. */
static const char *const tiny_files[] = {
    "config.json",
    "eagle2_hg_model/config.json",
    "experiment_cfg/metadata.json",
    "model.safetensors.index.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
};
#define NUM_TINY_FILES (int)(sizeof tiny_files / sizeof tiny_files[0])

static void compare_dirs(const char *a, const char *b, int expect_same_weights)
{
    for (int i = 0; i < NUM_TINY_FILES; i++) {
        char pa[4096], pb[4096];
        snprintf(pa, sizeof pa, "%s/%s", a, tiny_files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, tiny_files[i]);
        int same = same_file(pa, pb);
        CHECK(same >= 0, "cannot read %s or %s", pa, pb);
        /* Only the weights and the statistics come from the seed. */
        int seeded = (strstr(tiny_files[i], "safetensors") != NULL &&
                      strstr(tiny_files[i], "index") == NULL) ||
                     strstr(tiny_files[i], "metadata") != NULL;
        if (expect_same_weights || !seeded)
            CHECK(same == 1, "%s and %s differ", pa, pb);
        else
            CHECK(same == 0, "%s and %s are identical across seeds", pa, pb);
    }
}

/* Keys and shapes against keys.json and the golden checkpoint; every value
 * finite, and each large tensor's sample moments near its planned ones. */
static void check_weights(const char *dir)
{
    gr_error err;
    gr_checkpoint *ours = NULL, *gold = NULL;
    groot_status st = gr_checkpoint_open(dir, &ours, &err);
    CHECK(st == GROOT_OK, "opening the synthesized checkpoint: %s", err.msg);
    st = gr_checkpoint_open(golden_dir, &gold, &err);
    CHECK(st == GROOT_OK, "opening the golden checkpoint: %s", err.msg);
    cJSON *keys = NULL;
    char *text = NULL;
    size_t len;
    if (gr_read_file(tu_data("goldens/tiny/keys.json"), &text, &len, &err) == GROOT_OK)
        keys = cJSON_ParseWithLength(text, len);
    free(text);
    CHECK(cJSON_IsArray(keys), "keys.json does not parse");
    if (!ours || !gold || !cJSON_IsArray(keys)) {
        cJSON_Delete(keys);
        gr_checkpoint_close(ours);
        gr_checkpoint_close(gold);
        return;
    }

    int ours_count = 0;
    for (int s = 0; s < ours->num_shards; s++) {
        ours_count += ours->shards[s]->count;
        /* safetensors asks for 8-byte aligned data. */
        uint64_t hlen = 0;
        for (int i = 0; i < 8; i++)
            hlen |= (uint64_t)((const unsigned char *)ours->shards[s]->map)[i] << (8 * i);
        CHECK((8 + hlen) % 8 == 0, "%s: data starts at %llu", ours->shards[s]->path,
              (unsigned long long)(8 + hlen));
    }
    CHECK(ours_count == cJSON_GetArraySize(keys), "%d tensors, keys.json lists %d", ours_count,
          cJSON_GetArraySize(keys));

    gr_synth_plan plan;
    st = gr_synth_plan_build(&gr_synth_find_preset("tiny")->cfg, 16000000, &plan, &err);
    CHECK(st == GROOT_OK, "%s", err.msg);
    int checked_moments = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        const char *name = cJSON_GetStringValue(k);
        const gr_st_tensor *t = gr_checkpoint_find(ours, name, NULL);
        const gr_st_tensor *g = gr_checkpoint_find(gold, name, NULL);
        CHECK(t != NULL, "'%s' missing from the synthesized checkpoint", name);
        CHECK(g != NULL, "'%s' missing from the golden checkpoint", name);
        if (!t || !g)
            continue;
        CHECK(t->dtype == GR_BF16, "'%s' is not bf16", name);
        int same = t->ndim == g->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == g->shape[d];
        CHECK(same, "'%s': shape differs from the golden checkpoint's", name);

        const gr_synth_tensor *p = NULL;
        for (int i = 0; i < plan.count; i++)
            if (strcmp(plan.tensors[i].name, name) == 0)
                p = &plan.tensors[i];
        CHECK(p != NULL, "'%s' not in the plan", name);
        const uint16_t *v = t->data;
        double sum = 0, sq = 0;
        int finite = 1;
        for (int64_t i = 0; i < t->numel; i++) {
            float x = gr_bf16_to_f32(v[i]);
            finite &= isfinite(x);
            sum += x;
            sq += (double)x * x;
        }
        CHECK(finite, "'%s' has non-finite values", name);
        if (p && t->numel >= 4096) {
            double mean = sum / (double)t->numel;
            double sd = sqrt(sq / (double)t->numel - mean * mean);
            CHECK(fabs(mean - p->mean) < 0.1 * p->std + 1e-3 && fabs(sd / p->std - 1) < 0.1,
                  "'%s': mean %g std %g, planned %g and %g", name, mean, sd, (double)p->mean,
                  (double)p->std);
            checked_moments++;
        }
    }
    CHECK(checked_moments >= 30, "only %d tensors large enough to check", checked_moments);
    gr_synth_plan_free(&plan);
    cJSON_Delete(keys);
    gr_checkpoint_close(ours);
    gr_checkpoint_close(gold);
}

static void check_index(const char *dir)
{
    cJSON *idx = load(dir, "model.safetensors.index.json");
    const cJSON *total = gr_json_at(idx, "metadata.total_size");
    /* The golden index's total: the same tensors at the same sizes. */
    CHECK(cJSON_IsNumber(total) && total->valuedouble == 16012624.0, "total_size %g",
          total ? total->valuedouble : -1);
    const cJSON *map = gr_json_at(idx, "weight_map");
    CHECK(cJSON_GetArraySize(map) == 199, "weight_map has %d entries", cJSON_GetArraySize(map));
    cJSON_Delete(idx);
}

static int ordered(const cJSON *stats, int dim, const char *where)
{
    static const char *const keys[] = {"min", "q01", "mean", "q99", "max", "std"};
    const cJSON *a[6];
    for (int i = 0; i < 6; i++) {
        a[i] = cJSON_GetObjectItemCaseSensitive(stats, keys[i]);
        CHECK(cJSON_GetArraySize(a[i]) == dim, "%s.%s has %d values, want %d", where, keys[i],
              cJSON_GetArraySize(a[i]), dim);
        if (cJSON_GetArraySize(a[i]) != dim)
            return 0;
    }
    int ok = 1;
    for (int d = 0; d < dim; d++) {
        double v[6];
        for (int i = 0; i < 6; i++)
            v[i] = cJSON_GetArrayItem(a[i], d)->valuedouble;
        ok &= v[0] <= v[1] && v[1] <= v[2] && v[2] <= v[3] && v[3] <= v[4] && v[5] > 0 &&
              v[0] < v[4];
    }
    CHECK(ok, "%s: statistics out of order", where);
    return ok;
}

static void check_metadata(const char *dir)
{
    cJSON *m = load(dir, "experiment_cfg/metadata.json");
    static const char *const parts[] = {"left_arm", "right_arm", "left_hand", "right_hand"};
    static const int dims[] = {7, 7, 6, 6};
    static const char *const modalities[] = {"state", "action"};
    for (int mo = 0; mo < 2; mo++) {
        for (int p = 0; p < 4; p++) {
            char key[128];
            snprintf(key, sizeof key, "gr1.statistics.%s.%s", modalities[mo], parts[p]);
            const cJSON *s = gr_json_at(m, key);
            CHECK(cJSON_IsObject(s), "%s missing", key);
            if (s)
                ordered(s, dims[p], key);
            snprintf(key, sizeof key, "gr1.modalities.%s.%s.shape", modalities[mo], parts[p]);
            const cJSON *shape = gr_json_at(m, key);
            CHECK(cJSON_GetArraySize(shape) == 1 &&
                      cJSON_GetArrayItem(shape, 0)->valuedouble == dims[p],
                  "%s wrong", key);
            snprintf(key, sizeof key, "gr1.modalities.%s.%s.absolute", modalities[mo], parts[p]);
            CHECK(cJSON_IsTrue(gr_json_at(m, key)), "%s not true", key);
            snprintf(key, sizeof key, "gr1.modalities.%s.%s.rotation_type", modalities[mo],
                     parts[p]);
            CHECK(cJSON_IsNull(gr_json_at(m, key)), "%s not null", key);
        }
    }
    CHECK(cJSON_GetArraySize(gr_json_at(m, "gr1.modalities.video.ego_view.resolution")) == 2,
          "video resolution");
    CHECK(gr_json_at(m, "gr1.modalities.video.ego_view.channels") &&
              gr_json_at(m, "gr1.modalities.video.ego_view.channels")->valuedouble == 3,
          "video channels");
    CHECK(cJSON_IsString(gr_json_at(m, "gr1.embodiment_tag")) &&
              strcmp(gr_json_at(m, "gr1.embodiment_tag")->valuestring, "gr1") == 0,
          "embodiment_tag");
    cJSON_Delete(m);
}

static int same_config(const gr_model_config *a, const gr_model_config *b)
{
    const gr_vision_config *va = &a->vision, *vb = &b->vision;
    const gr_text_config *ta = &a->text, *tb = &b->text;
    const gr_action_config *x = &a->action, *y = &b->action;
    return va->hidden == vb->hidden && va->intermediate == vb->intermediate &&
           va->heads == vb->heads && va->layers == vb->layers && va->patch == vb->patch &&
           va->image_size == vb->image_size && va->channels == vb->channels &&
           va->ln_eps == vb->ln_eps && ta->hidden == tb->hidden &&
           ta->intermediate == tb->intermediate && ta->heads == tb->heads &&
           ta->kv_heads == tb->kv_heads && ta->head_dim == tb->head_dim &&
           ta->layers == tb->layers && ta->vocab == tb->vocab && ta->rms_eps == tb->rms_eps &&
           ta->rope_theta == tb->rope_theta && x->action_dim == y->action_dim &&
           x->horizon == y->horizon && x->hidden == y->hidden && x->embed == y->embed &&
           x->backbone_dim == y->backbone_dim && x->max_state_dim == y->max_state_dim &&
           x->steps == y->steps && x->timestep_buckets == y->timestep_buckets &&
           x->future_tokens == y->future_tokens && x->max_seq_len == y->max_seq_len &&
           x->num_embodiments == y->num_embodiments && x->add_pos_embed == y->add_pos_embed &&
           x->use_vlln == y->use_vlln && x->dit.heads == y->dit.heads &&
           x->dit.head_dim == y->dit.head_dim && x->dit.layers == y->dit.layers &&
           x->dit_output_dim == y->dit_output_dim && x->dit_cross_dim == y->dit_cross_dim &&
           x->dit_interleave == y->dit_interleave && x->vlsa.heads == y->vlsa.heads &&
           x->vlsa.head_dim == y->vlsa.head_dim && x->vlsa.layers == y->vlsa.layers &&
           a->image_token_id == b->image_token_id && a->tokens_per_image == b->tokens_per_image &&
           a->vision_out_dim == b->vision_out_dim;
}

static void check_config(const char *dir)
{
    gr_model_config ours, gold;
    gr_error err;
    groot_status st = gr_model_config_load(dir, GROOT_ASSETS_DIR, &ours, &err);
    CHECK(st == GROOT_OK, "loading the synthesized config: %s", err.msg);
    st = gr_model_config_load(golden_dir, GROOT_ASSETS_DIR, &gold, &err);
    CHECK(st == GROOT_OK, "loading the golden config: %s", err.msg);
    CHECK(same_config(&ours, &gold), "synthesized tiny config differs from the golden one");
    CHECK(same_config(&ours, &gr_synth_find_preset("tiny")->cfg),
          "synthesized tiny config differs from the preset");
    /* The text depth the backbone config declares, beyond select_layer. */
    cJSON *e = load(dir, "eagle2_hg_model/config.json");
    const cJSON *n = gr_json_at(e, "text_config.num_hidden_layers");
    CHECK(n && n->valuedouble == 4, "text_config.num_hidden_layers");
    cJSON_Delete(e);
    cJSON *c = load(dir, "config.json");
    CHECK(cJSON_IsString(gr_json_at(c, "model_type")) &&
              strcmp(gr_json_at(c, "model_type")->valuestring, "gr00t_n1_5") == 0,
          "model_type");
    cJSON_Delete(c);
}

/* The 3B model's plan: shards within 4 GiB, totals consistent with the
 * formula counts of describe.c. */
static void check_3b_plan(void)
{
    const gr_synth_preset *p = gr_synth_find_preset("n1.5-3b");
    CHECK(p != NULL, "no n1.5-3b preset");
    if (!p)
        return;
    gr_synth_plan plan;
    gr_error err;
    groot_status st = gr_synth_plan_build(&p->cfg, p->max_shard_bytes, &plan, &err);
    CHECK(st == GROOT_OK, "%s", err.msg);
    CHECK(p->max_shard_bytes == 4ull << 30, "shard limit %llu",
          (unsigned long long)p->max_shard_bytes);
    uint64_t data = 0;
    for (int s = 0; s < plan.num_shards; s++) {
        CHECK(plan.shard_header_bytes[s] + plan.shard_data_bytes[s] <= (4ull << 30),
              "shard %d: %llu bytes", s + 1,
              (unsigned long long)(plan.shard_header_bytes[s] + plan.shard_data_bytes[s]));
        char *h;
        size_t len;
        st = gr_synth_shard_header(&plan, s, &h, &len, &err);
        CHECK(st == GROOT_OK && len == plan.shard_header_bytes[s] && len % 8 == 0,
              "shard %d header", s + 1);
        cJSON *j = st == GROOT_OK ? cJSON_ParseWithLength(h + 8, len - 8) : NULL;
        CHECK(cJSON_IsObject(j), "shard %d header is not a JSON object", s + 1);
        cJSON_Delete(j);
        free(h);
        data += plan.shard_data_bytes[s];
    }
    CHECK(plan.num_shards == 2, "%d shards", plan.num_shards);
    CHECK(data == plan.total_bytes, "shards hold %llu bytes, total %llu", (unsigned long long)data,
          (unsigned long long)plan.total_bytes);
    CHECK(plan.total_bytes == 2 * (uint64_t)plan.total_params, "bytes %llu params %lld",
          (unsigned long long)plan.total_bytes, (long long)plan.total_params);
    gr_param_counts c;
    gr_model_param_counts(&p->cfg, &c);
    CHECK(c.total == plan.total_params, "describe counts %lld, plan %lld", (long long)c.total,
          (long long)plan.total_params);
    /* Component figures from the released model's sizes, worked by hand. */
    CHECK(c.embed_tokens == 151680LL * 2048, "embed_tokens %lld", (long long)c.embed_tokens);
    CHECK(c.mlp1 == 1152LL * 2048 + 2048, "mlp1 %lld", (long long)c.mlp1);
    CHECK(c.state_encoder == 32LL * (64 * 1024 + 1024 + 1024 * 1536 + 1536), "state encoder %lld",
          (long long)c.state_encoder);
    for (int i = 0; i < plan.count; i++)
        if (strstr(plan.tensors[i].name, "lm_head")) {
            CHECK(0, "the plan has %s", plan.tensors[i].name);
            break;
        }
    gr_synth_plan_free(&plan);

    char buf[8192];
    st = gr_model_describe_config(&p->cfg, buf, sizeof buf);
    CHECK(st == GROOT_OK, "describe: %s", groot_status_name(st));
    char want[64];
    snprintf(want, sizeof want, "%lld", (long long)c.total);
    CHECK(strstr(buf, want) != NULL, "the report lacks the total %s:\n%s", want, buf);
    CHECK(strstr(buf, "DiT") && strstr(buf, "bf16"), "report:\n%s", buf);
    char small[64];
    st = gr_model_describe_config(&p->cfg, small, sizeof small);
    CHECK(st == GROOT_ERR_INVALID_ARG && strlen(small) == sizeof small - 1,
          "a short buffer: %s, %zu chars", groot_status_name(st), strlen(small));
}

static void check_tiny_counts(void)
{
    const gr_synth_preset *p = gr_synth_find_preset("tiny");
    gr_synth_plan plan;
    gr_error err;
    groot_status st = gr_synth_plan_build(&p->cfg, p->max_shard_bytes, &plan, &err);
    CHECK(st == GROOT_OK, "%s", err.msg);
    gr_param_counts c;
    gr_model_param_counts(&p->cfg, &c);
    CHECK(c.total == plan.total_params && plan.total_params == 8006312,
          "tiny: describe %lld, plan %lld, golden 8006312", (long long)c.total,
          (long long)plan.total_params);
    for (int s = 0; s < plan.num_shards; s++)
        CHECK(plan.shard_header_bytes[s] + plan.shard_data_bytes[s] <= p->max_shard_bytes,
              "tiny shard %d too big", s + 1);
    gr_synth_plan_free(&plan);
}

static void check_errors(const char *tmp)
{
    char eb[512];
    groot_status st = groot_synth("huge", 1, tmp, eb, sizeof eb);
    CHECK(st == GROOT_ERR_INVALID_ARG && strstr(eb, "huge"), "unknown preset: %s: %s",
          groot_status_name(st), eb);
    /* A file where the output directory should be. */
    char path[4096];
    snprintf(path, sizeof path, "%s/a/config.json/sub", tmp);
    st = groot_synth("tiny", 1, path, eb, sizeof eb);
    CHECK(st == GROOT_ERR_IO && strstr(eb, "config.json"), "blocked directory: %s: %s",
          groot_status_name(st), eb);
    st = groot_synth("tiny", 1, NULL, NULL, 0);
    CHECK(st == GROOT_ERR_INVALID_ARG, "NULL out_dir: %s", groot_status_name(st));
}

/* A full disk: every write is checked and the error names the file. */
static void check_disk_full(void)
{
    FILE *f = fopen("/dev/full", "wb");
    if (!f) {
        printf("no /dev/full: disk-full checks skipped\n");
        return;
    }
    gr_synth_tensor t = {.name = "big", .ndim = 1, .shape = {5000000}, .numel = 5000000, .std = 1};
    gr_error err;
    groot_status st = gr_synth_write_tensor(f, "/dev/full", &t, 1, &err);
    CHECK(st == GROOT_ERR_IO && strstr(err.msg, "/dev/full") && strstr(err.msg, "big"),
          "tensor to a full disk: %s: %s", groot_status_name(st), err.msg);
    fclose(f);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "k", "v");
    st = gr_synth_write_json(j, "/dev/full", &err);
    CHECK(st == GROOT_ERR_IO && strstr(err.msg, "/dev/full"), "json to a full disk: %s: %s",
          groot_status_name(st), err.msg);
    cJSON_Delete(j);
    FILE *again = fopen("/dev/full", "wb");
    CHECK(again != NULL, "/dev/full was removed after the failed write");
    if (again)
        fclose(again);
}

int main(void)
{
    snprintf(golden_dir, sizeof golden_dir, "%s", tu_data("goldens/tiny/checkpoint"));
    char tmp[256], a[512], b[512], c[512], d[512];
    snprintf(tmp, sizeof tmp, "%s", tu_tmpdir());
    snprintf(a, sizeof a, "%s/a", tmp);
    snprintf(b, sizeof b, "%s/b/nested", tmp); /* mkdir -p */
    snprintf(c, sizeof c, "%s/c", tmp);
    snprintf(d, sizeof d, "%s/d", tmp);

    synth_ok("tiny", 42, a);
    check_weights(a);
    check_index(a);
    check_metadata(a);
    check_config(a);

    synth_ok("tiny", 42, b);
    compare_dirs(a, b, 1);
    synth_ok("tiny", 43, c);
    compare_dirs(a, c, 0);
    /* The bytes do not depend on the thread count. */
    int threads = omp_get_max_threads();
    omp_set_num_threads(threads > 1 ? 1 : 3);
    synth_ok("tiny", 42, d);
    omp_set_num_threads(threads);
    compare_dirs(a, d, 1);
    /* Rewriting over an existing checkpoint gives the same files. */
    synth_ok("tiny", 42, a);
    compare_dirs(a, b, 1);

    check_tiny_counts();
    check_3b_plan();
    check_errors(tmp);
    check_disk_full();

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return tu_finish("test_synth");
}
