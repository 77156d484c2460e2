/* Checkpoint directories: the golden sharded one, single-file ones, hostile indexes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "test_util.h"

#define SHARD1 "model-00001-of-00002.safetensors"
#define SHARD2 "model-00002-of-00002.safetensors"
#define EMBED "backbone.eagle_model.language_model.model.embed_tokens.weight"
#define PROJ "action_head.model.proj_out_2.weight"

/* A fresh directory holding links to the golden shards and the given index. */
static const char *dir_with_index(const char *index)
{
    const char *dir = tu_tmpdir();
    const char *shards[2] = {SHARD1, SHARD2};
    for (int i = 0; i < 2; i++) {
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s", tu_data("goldens/tiny/checkpoint/"));
        strncat(from, shards[i], sizeof from - strlen(from) - 1);
        snprintf(to, sizeof to, "%s/%s", dir, shards[i]);
        if (symlink(from, to) != 0) {
            perror(to);
            exit(2);
        }
    }
    if (index)
        tu_write_file(dir, "model.safetensors.index.json", index);
    return dir;
}

static void expect_fail(const char *dir, groot_status status, const char *w1, const char *w2,
                        int line)
{
    gr_checkpoint *c = (gr_checkpoint *)1;
    gr_error err = {0};
    groot_status s = gr_checkpoint_open(dir, &c, &err);
    CHECK(s == status, "line %d: %s, want %s: %s", line, groot_status_name(s),
          groot_status_name(status), err.msg);
    CHECK(c == NULL, "line %d: handle set on failure", line);
    if (w1)
        CHECK(strstr(err.msg, w1) != NULL, "line %d: '%s' not in: %s", line, w1, err.msg);
    if (w2)
        CHECK(strstr(err.msg, w2) != NULL, "line %d: '%s' not in: %s", line, w2, err.msg);
    if (s == GROOT_OK)
        gr_checkpoint_close(c);
}
#define FAILS(dir, status, w1, w2) expect_fail(dir, status, w1, w2, __LINE__)

static void test_golden(void)
{
    const char *dir = tu_data("goldens/tiny/checkpoint");
    gr_checkpoint *c;
    gr_error err = {0};
    CHECK(gr_checkpoint_open(dir, &c, &err) == GROOT_OK, "%s", err.msg);
    if (!c)
        return;
    CHECK(c->num_shards == 2, "shards %d", c->num_shards);

    const gr_st_file *file;
    const gr_st_tensor *t = gr_checkpoint_find(c, EMBED, &file);
    CHECK(t && t->dtype == GR_BF16 && t->shape[0] == 151680 && t->shape[1] == 48, "embed_tokens");
    CHECK(t && strstr(file->path, SHARD1), "embed_tokens in shard 1: %s", t ? file->path : "");
    t = gr_checkpoint_find(c, PROJ, &file);
    CHECK(t && t->shape[0] == 40 && t->shape[1] == 32, "proj_out_2");
    CHECK(t && strstr(file->path, SHARD2), "proj_out_2 in shard 2");
    CHECK(gr_checkpoint_find(c, "nope", &file) == NULL && file == NULL, "absent tensor");
    CHECK(gr_checkpoint_find(c, PROJ, NULL) != NULL, "file pointer optional");

    const int64_t good[2] = {40, 32}, swapped[2] = {32, 40}, embed[2] = {151680, 48};
    const gr_st_tensor *out = NULL;
    CHECK(gr_checkpoint_expect(c, PROJ, 2, good, &out, &err) == GROOT_OK && out &&
              out->nbytes == 40 * 32 * 2,
          "%s", err.msg);
    CHECK(gr_checkpoint_expect(c, EMBED, 2, embed, NULL, &err) == GROOT_OK, "%s", err.msg);
    groot_status s = gr_checkpoint_expect(c, PROJ, 2, swapped, &out, &err);
    CHECK(s == GROOT_ERR_FORMAT && out == NULL, "wrong shape accepted");
    CHECK(strstr(err.msg, "tensor '" PROJ "' in '") && strstr(err.msg, SHARD2 "'") &&
              strstr(err.msg, "shape [40,32] but expected [32,40]"),
          "message: %s", err.msg);
    s = gr_checkpoint_expect(c, PROJ, 1, good, &out, &err);
    CHECK(s == GROOT_ERR_FORMAT && strstr(err.msg, "shape [40,32] but expected [40]"),
          "rank: %s", err.msg);
    s = gr_checkpoint_expect(c, "action_head.missing.weight", 2, good, &out, &err);
    CHECK(s == GROOT_ERR_FORMAT &&
              strstr(err.msg, "tensor 'action_head.missing.weight' not found in checkpoint") &&
              strstr(err.msg, dir),
          "missing: %s", err.msg);
    gr_checkpoint_close(c);
}

static void test_indexes(void)
{
    /* A valid hand-written index over the same shards works. */
    const char *dir = dir_with_index("{\"metadata\": {}, \"weight_map\": {\"" EMBED "\": \"" SHARD1
                                     "\", \"" PROJ "\": \"" SHARD2 "\"}}");
    gr_checkpoint *c;
    gr_error err = {0};
    CHECK(gr_checkpoint_open(dir, &c, &err) == GROOT_OK, "%s", err.msg);
    if (c) {
        CHECK(c->num_shards == 2 && gr_checkpoint_find(c, PROJ, NULL), "hand index");
        gr_checkpoint_close(c);
    }
    /* Only the shards the index names are opened. */
    dir = dir_with_index("{\"weight_map\": {\"" PROJ "\": \"" SHARD2 "\"}}");
    CHECK(gr_checkpoint_open(dir, &c, &err) == GROOT_OK, "%s", err.msg);
    if (c) {
        CHECK(c->num_shards == 1 && !gr_checkpoint_find(c, EMBED, NULL), "one shard");
        gr_checkpoint_close(c);
    }

    dir = dir_with_index("{\"weight_map\": {\"" PROJ "\": \"model-00003-of-00003.safetensors\"}}");
    FAILS(dir, GROOT_ERR_IO, "model-00003-of-00003.safetensors", "model.safetensors.index.json");

    dir = dir_with_index("{\"weight_map\": {\"" EMBED "\": \"" SHARD2 "\"}}");
    FAILS(dir, GROOT_ERR_FORMAT, "'" EMBED "'", "'" SHARD2 "'");

    dir = dir_with_index("{\"weight_map\": {\"" PROJ "\": \"../" SHARD2 "\"}}");
    FAILS(dir, GROOT_ERR_FORMAT, "'../" SHARD2 "'", "model.safetensors.index.json");
    dir = dir_with_index("{\"weight_map\": {\"" PROJ "\": \"/etc/passwd\"}}");
    FAILS(dir, GROOT_ERR_FORMAT, "'/etc/passwd'", NULL);
    dir = dir_with_index("{\"weight_map\": {\"" PROJ "\": \"..\"}}");
    FAILS(dir, GROOT_ERR_FORMAT, "'..'", NULL);
    dir = dir_with_index("{\"weight_map\": {\"" PROJ "\": \"\"}}");
    FAILS(dir, GROOT_ERR_FORMAT, "''", NULL);

    dir = dir_with_index("{\"weight_map\": {\"" PROJ "\": 3}}");
    FAILS(dir, GROOT_ERR_FORMAT, "'" PROJ "'", "file name");
    dir = dir_with_index("{\"weight_map\": {}}");
    FAILS(dir, GROOT_ERR_FORMAT, "weight_map", "model.safetensors.index.json");
    dir = dir_with_index("{\"metadata\": {}}");
    FAILS(dir, GROOT_ERR_FORMAT, "weight_map", NULL);
    dir = dir_with_index("{\"weight_map\": {\"" PROJ "\": ");
    FAILS(dir, GROOT_ERR_FORMAT, "invalid JSON", "model.safetensors.index.json");
    dir = dir_with_index("[]");
    FAILS(dir, GROOT_ERR_FORMAT, "object", "model.safetensors.index.json");

    /* A corrupt shard is reported through the index. */
    dir = dir_with_index("{\"weight_map\": {\"w\": \"bad.safetensors\"}}");
    tu_write_file(dir, "bad.safetensors", "\x04");
    FAILS(dir, GROOT_ERR_FORMAT, "bad.safetensors", "too short");
}

static void test_single_and_none(void)
{
    const char *dir = tu_tmpdir();
    FAILS(dir, GROOT_ERR_IO, dir, "model.safetensors.index.json");
    FAILS(dir, GROOT_ERR_IO, "neither", " model.safetensors ");
    FAILS("/nonexistent/checkpoint", GROOT_ERR_IO, "/nonexistent/checkpoint", NULL);

    gr_st_writer *w;
    gr_error err = {0};
    gr_st_writer_create(&w, &err);
    const int64_t shape[2] = {3, 2};
    const float v[6] = {1, 2, 3, 4, 5, 6};
    gr_st_writer_add_f32(w, "a.weight", GR_F16, 2, shape, v, &err);
    gr_st_writer_add_f32(w, "a.bias", GR_F32, 1, shape, v, &err);
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(gr_st_writer_write(w, path, &err) == GROOT_OK, "%s", err.msg);
    gr_st_writer_destroy(w);

    gr_checkpoint *c;
    CHECK(gr_checkpoint_open(dir, &c, &err) == GROOT_OK, "%s", err.msg);
    if (c) {
        const gr_st_tensor *t;
        CHECK(c->num_shards == 1, "shards %d", c->num_shards);
        CHECK(gr_checkpoint_expect(c, "a.weight", 2, shape, &t, &err) == GROOT_OK, "%s", err.msg);
        float back[6];
        CHECK(t && t->dtype == GR_F16 && gr_st_to_f32(t, back, &err) == GROOT_OK &&
                  memcmp(back, v, sizeof v) == 0,
              "single-file values");
        CHECK(gr_checkpoint_expect(c, "a.bias", 1, shape, &t, &err) == GROOT_OK, "%s", err.msg);
        CHECK(gr_checkpoint_expect(c, "a.bias", 2, shape, &t, &err) == GROOT_ERR_FORMAT &&
                  strstr(err.msg, "model.safetensors'") && strstr(err.msg, "shape [3] but expected [3,2]"),
              "%s", err.msg);
        gr_checkpoint_close(c);
    }

    /* With both present, the index wins: here it names a shard that is absent. */
    tu_write_file(dir, "model.safetensors.index.json",
               "{\"weight_map\": {\"a.weight\": \"model-00001-of-00001.safetensors\"}}");
    FAILS(dir, GROOT_ERR_IO, "model-00001-of-00001.safetensors", NULL);
}

int main(void)
{
    test_golden();
    test_indexes();
    test_single_and_none();
    return tu_finish("test_checkpoint");
}
