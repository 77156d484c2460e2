/* safetensors reading, writing and validation, and the public groot_tensors API. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/half.h"
#include "io/safetensors.h"
#include "test_util.h"

static const char *tmp;

static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, 512, "%s/%s", tmp, name);
    return b;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

/* A raw file: the 8-byte length (declared, which may lie), the header text,
 * then data_len bytes of a counting pattern. */
static void write_raw(const char *path, uint64_t declared, const char *header, size_t data_len)
{
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + data_len + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(declared >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + hl + i] = (unsigned char)i;
    write_bytes(path, buf, 8 + hl + data_len);
    free(buf);
}

static void write_header(const char *path, const char *header, size_t data_len)
{
    write_raw(path, strlen(header), header, data_len);
}

/* Opening path must fail with status, and the message must hold every string given. */
static void expect_open_fails(const char *path, groot_status status, const char *want1,
                              const char *want2, int line)
{
    gr_st_file *f = (gr_st_file *)1;
    gr_error err = {0};
    groot_status s = gr_st_open(path, &f, &err);
    CHECK(s == status, "line %d: status %s, want %s (%s)", line, groot_status_name(s),
          groot_status_name(status), err.msg);
    CHECK(f == NULL, "line %d: handle left set on failure", line);
    CHECK(strstr(err.msg, path) != NULL, "line %d: message does not name the file: %s", line,
          err.msg);
    if (want1)
        CHECK(strstr(err.msg, want1) != NULL, "line %d: '%s' not in: %s", line, want1, err.msg);
    if (want2)
        CHECK(strstr(err.msg, want2) != NULL, "line %d: '%s' not in: %s", line, want2, err.msg);
    if (s == GROOT_OK)
        gr_st_close(f);
}
#define FAILS(path, status, w1, w2) expect_open_fails(path, status, w1, w2, __LINE__)

static void test_golden_shard(void)
{
    const char *path = tu_data("goldens/tiny/checkpoint/model-00002-of-00002.safetensors");
    gr_st_file *f;
    gr_error err = {0};
    CHECK(gr_st_open(path, &f, &err) == GROOT_OK, "%s", err.msg);
    if (!f)
        return;
    /* 199 header entries, one of them __metadata__. */
    CHECK(f->count == 198, "count %d", f->count);
    for (int i = 1; i < f->count; i++)
        CHECK(strcmp(f->tensors[i - 1].name, f->tensors[i].name) < 0, "not sorted at %d", i);

    const gr_st_tensor *t = gr_st_find(f, "action_head.model.proj_out_2.weight");
    CHECK(t && t->dtype == GR_BF16 && t->ndim == 2 && t->shape[0] == 40 && t->shape[1] == 32,
          "proj_out_2.weight");
    if (t) {
        CHECK(t->numel == 1280 && t->nbytes == 2560, "numel %lld", (long long)t->numel);
        float v[1280];
        CHECK(gr_st_to_f32(t, v, &err) == GROOT_OK, "%s", err.msg);
        /* First elements as decoded independently from the file with Python. */
        CHECK(v[0] == -0.047119140625f && v[1] == 0.05126953125f && v[2] == 0.048828125f &&
                  v[3] == -0.0810546875f,
              "values %g %g %g %g", v[0], v[1], v[2], v[3]);
    }
    t = gr_st_find(f, "action_head.model.proj_out_2.bias");
    CHECK(t && t->ndim == 1 && t->shape[0] == 40, "proj_out_2.bias");
    if (t) {
        float v[40];
        CHECK(gr_st_to_f32(t, v, &err) == GROOT_OK, "%s", err.msg);
        CHECK(v[0] == 0.12451171875f && v[3] == -0.08740234375f, "bias %g %g", v[0], v[3]);
    }
    t = gr_st_find(f, "action_head.action_decoder.layer1.W");
    CHECK(t && t->ndim == 3 && t->shape[0] == 32 && t->shape[1] == 40 && t->shape[2] == 40,
          "action_decoder.layer1.W");
    t = gr_st_find(f, "action_head.position_embedding.weight");
    CHECK(t && t->shape[0] == 1024 && t->shape[1] == 32, "position_embedding");
    t = gr_st_find(f,
                   "backbone.eagle_model.vision_model.vision_model.embeddings.position_embedding.weight");
    CHECK(t && t->shape[0] == 256 && t->shape[1] == 64, "vision position_embedding");
    CHECK(gr_st_find(f, "__metadata__") == NULL, "metadata is not a tensor");
    CHECK(gr_st_find(f, "backbone.eagle_model.language_model.model.embed_tokens.weight") == NULL,
          "embed_tokens lives in shard 1");
    CHECK(gr_st_find(f, "") == NULL, "empty name");

    /* Releasing pages is advice only: the data must read the same afterwards. */
    t = gr_st_find(f, "action_head.position_embedding.weight");
    if (t) {
        float *a = malloc((size_t)t->numel * 4), *b = malloc((size_t)t->numel * 4);
        gr_st_to_f32(t, a, &err);
        gr_st_release(f, t);
        gr_st_to_f32(t, b, &err);
        CHECK(memcmp(a, b, (size_t)t->numel * 4) == 0, "data changed after release");
        free(a);
        free(b);
    }
    gr_st_close(f);
}

static void test_round_trip(void)
{
    gr_st_writer *w;
    gr_error err = {0};
    CHECK(gr_st_writer_create(&w, &err) == GROOT_OK, "%s", err.msg);

    const float f32[6] = {1.5f, -2.25f, 3e-8f, 65504.0f, -0.0f, 1e30f};
    const int64_t s23[2] = {2, 3};
    uint16_t bf16[5] = {0x3f80, 0xc000, 0x0001, 0x7f80, 0x8000};
    const int64_t s5[1] = {5};
    uint16_t f16[3] = {0x3c00, 0x3555, 0x0001};
    const int64_t s3[1] = {3};
    int32_t i32[4] = {-7, 0, 2147483647, -2147483647 - 1};
    const int64_t s221[3] = {2, 2, 1};
    uint8_t u8[7] = {0, 1, 2, 127, 128, 254, 255};
    const int64_t s7[1] = {7};
    const int64_t s0[2] = {4, 0};
    /* Ties for bf16 rounding: 1 + 2^-8 goes down to 1, 1 + 3*2^-8 up to 1 + 2^-6. */
    const float ties[3] = {1.00390625f, 1.01171875f, 1.0f / 3.0f};

    CHECK(gr_st_writer_add(w, "u8", GR_U8, 1, s7, u8, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_add(w, "f32", GR_F32, 2, s23, f32, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_add(w, "bf16", GR_BF16, 1, s5, bf16, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_add(w, "f16", GR_F16, 1, s3, f16, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_add(w, "i32", GR_I32, 3, s221, i32, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_add(w, "scalar", GR_F32, 0, NULL, &f32[0], &err) == GROOT_OK, "%s",
          err.msg);
    CHECK(gr_st_writer_add(w, "empty", GR_F32, 2, s0, NULL, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_add_f32(w, "ties.bf16", GR_BF16, 1, s3, ties, &err) == GROOT_OK, "%s",
          err.msg);
    CHECK(gr_st_writer_add_f32(w, "ties.f16", GR_F16, 1, s3, ties, &err) == GROOT_OK, "%s",
          err.msg);
    CHECK(gr_st_writer_add_f32(w, "ties.f32", GR_F32, 1, s3, ties, &err) == GROOT_OK, "%s",
          err.msg);
    /* Name that needs JSON escaping. */
    CHECK(gr_st_writer_add(w, "we\"ird\\name\n", GR_U8, 1, s7, u8, &err) == GROOT_OK, "%s",
          err.msg);
    CHECK(gr_st_writer_data_size(w) == 7 + 24 + 10 + 6 + 16 + 4 + 0 + 6 + 6 + 12 + 7,
          "data size %zu", gr_st_writer_data_size(w));

    /* Refusals. */
    const int64_t neg[1] = {-1};
    CHECK(gr_st_writer_add(w, "neg", GR_F32, 1, neg, f32, &err) == GROOT_ERR_INVALID_ARG &&
              strstr(err.msg, "neg"),
          "negative dim: %s", err.msg);
    CHECK(gr_st_writer_add(w, "__metadata__", GR_F32, 1, s3, f32, &err) ==
              GROOT_ERR_INVALID_ARG,
          "reserved name");
    CHECK(gr_st_writer_add(w, "nine", GR_F32, 9, s221, f32, &err) == GROOT_ERR_INVALID_ARG,
          "9 dims");
    CHECK(gr_st_writer_add_f32(w, "x", GR_I32, 1, s3, ties, &err) == GROOT_ERR_INVALID_ARG,
          "f32 to I32");
    CHECK(gr_st_writer_data_size(w) == 98, "refusals changed the size: %zu",
          gr_st_writer_data_size(w));

    const char *path = tmp_path("rt.safetensors");
    CHECK(gr_st_writer_write(w, path, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_data_size(w) == 0 && gr_st_writer_count(w) == 0, "writer not reset");

    /* Header length is a multiple of 8, so the data section is 8-byte aligned. */
    FILE *fp = fopen(path, "rb");
    unsigned char len8[8] = {0};
    CHECK(fp && fread(len8, 1, 8, fp) == 8, "read length");
    if (fp)
        fclose(fp);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | len8[i];
    CHECK(hl % 8 == 0 && hl > 0 && hl < 4096, "header length %llu", (unsigned long long)hl);

    gr_st_file *f;
    CHECK(gr_st_open(path, &f, &err) == GROOT_OK, "%s", err.msg);
    if (!f)
        return;
    CHECK(f->count == 11, "count %d", f->count);
    const gr_st_tensor *t;
    float out[8];

    t = gr_st_find(f, "f32");
    CHECK(t && t->dtype == GR_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
              t->nbytes == 24 && memcmp(t->data, f32, 24) == 0,
          "f32 bytes");
    CHECK(t && gr_st_to_f32(t, out, &err) == GROOT_OK && memcmp(out, f32, 24) == 0, "f32 conv");

    t = gr_st_find(f, "bf16");
    CHECK(t && t->dtype == GR_BF16 && t->numel == 5 && memcmp(t->data, bf16, 10) == 0,
          "bf16 bytes");
    CHECK(t && gr_st_to_f32(t, out, &err) == GROOT_OK, "bf16 conv");
    CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] > 0 && out[2] < 1e-38f &&
              out[3] == INFINITY && out[4] == 0 && signbit(out[4]),
          "bf16 values %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4]);

    t = gr_st_find(f, "f16");
    CHECK(t && t->dtype == GR_F16 && memcmp(t->data, f16, 6) == 0, "f16 bytes");
    CHECK(t && gr_st_to_f32(t, out, &err) == GROOT_OK, "f16 conv");
    /* 0x3555 is the half nearest 1/3: 0.333251953125; 0x0001 is 2^-24. */
    CHECK(out[0] == 1.0f && out[1] == 0.333251953125f && out[2] == 5.9604644775390625e-8f,
          "f16 values %.12g %.12g %.12g", out[0], out[1], out[2]);

    t = gr_st_find(f, "i32");
    CHECK(t && t->dtype == GR_I32 && t->ndim == 3 && t->shape[2] == 1 &&
              memcmp(t->data, i32, 16) == 0,
          "i32 bytes");
    CHECK(t && gr_st_to_f32(t, out, &err) == GROOT_ERR_UNSUPPORTED && strstr(err.msg, "i32"),
          "i32 to f32 must be refused: %s", err.msg);
    t = gr_st_find(f, "u8");
    CHECK(t && t->dtype == GR_U8 && memcmp(t->data, u8, 7) == 0, "u8 bytes");
    t = gr_st_find(f, "we\"ird\\name\n");
    CHECK(t && t->nbytes == 7 && memcmp(t->data, u8, 7) == 0, "escaped name");
    t = gr_st_find(f, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && memcmp(t->data, f32, 4) == 0, "scalar");
    t = gr_st_find(f, "empty");
    CHECK(t && t->ndim == 2 && t->shape[1] == 0 && t->numel == 0 && t->nbytes == 0, "empty");

    t = gr_st_find(f, "ties.bf16");
    uint16_t want_bf16[3] = {0x3f80, 0x3f82, 0x3eab};
    CHECK(t && memcmp(t->data, want_bf16, 6) == 0, "bf16 rounding %04x %04x %04x",
          t ? ((const uint16_t *)t->data)[0] : 0, t ? ((const uint16_t *)t->data)[1] : 0,
          t ? ((const uint16_t *)t->data)[2] : 0);
    t = gr_st_find(f, "ties.f16");
    uint16_t want_f16[3] = {0x3c04, 0x3c0c, 0x3555};
    CHECK(t && memcmp(t->data, want_f16, 6) == 0, "f16 rounding");
    t = gr_st_find(f, "ties.f32");
    CHECK(t && memcmp(t->data, ties, 12) == 0, "f32 from f32");

    /* Every tensor starts at a multiple of its element size. */
    for (int i = 0; i < f->count; i++) {
        size_t es = gr_dtype_size(f->tensors[i].dtype);
        CHECK((uintptr_t)f->tensors[i].data % es == 0, "'%s' misaligned", f->tensors[i].name);
    }
    gr_st_close(f);

    /* A set written twice with write_keep; a duplicate is refused at write. */
    CHECK(gr_st_writer_add(w, "a", GR_U8, 1, s7, u8, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_write_keep(w, tmp_path("k1.safetensors"), &err) == GROOT_OK, "%s",
          err.msg);
    CHECK(gr_st_writer_count(w) == 1, "write_keep emptied the writer");
    CHECK(gr_st_writer_add(w, "a", GR_U8, 1, s7, u8, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_write(w, tmp_path("dup.safetensors"), &err) == GROOT_ERR_INVALID_ARG &&
              strstr(err.msg, "'a'"),
          "duplicate: %s", err.msg);

    /* Disk full: the error is IO and names the path. */
    gr_st_writer_destroy(w);
    gr_st_writer_create(&w, &err);
    static float big[1 << 18];
    const int64_t sbig[1] = {1 << 18};
    gr_st_writer_add_f32(w, "big", GR_F32, 1, sbig, big, &err);
    groot_status s = gr_st_writer_write(w, "/dev/full", &err);
    CHECK(s == GROOT_ERR_IO && strstr(err.msg, "/dev/full"), "disk full: %s %s",
          groot_status_name(s), err.msg);
    s = gr_st_writer_write(w, tmp_path("no/such/dir.safetensors"), &err);
    CHECK(s == GROOT_ERR_IO && strstr(err.msg, "no/such/dir"), "bad dir: %s", err.msg);
    gr_st_writer_destroy(w);
}

/* A tensor large enough for the parallel conversion paths, both ways. */
static void test_large_conversion(void)
{
    const int64_t n = 300007;
    float *src = malloc((size_t)n * 4), *back = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++)
        src[i] = (float)((i % 1000) - 500) * 0.0137f;
    gr_st_writer *w;
    gr_error err = {0};
    gr_st_writer_create(&w, &err);
    CHECK(gr_st_writer_add_f32(w, "x", GR_BF16, 1, &n, src, &err) == GROOT_OK, "%s", err.msg);
    CHECK(gr_st_writer_add_f32(w, "y", GR_F16, 1, &n, src, &err) == GROOT_OK, "%s", err.msg);
    const char *path = tmp_path("large.safetensors");
    CHECK(gr_st_writer_write(w, path, &err) == GROOT_OK, "%s", err.msg);
    gr_st_writer_destroy(w);
    gr_st_file *f;
    CHECK(gr_st_open(path, &f, &err) == GROOT_OK, "%s", err.msg);
    if (!f)
        goto out;
    int bad_bf16 = 0, bad_f16 = 0;
    CHECK(gr_st_to_f32(gr_st_find(f, "x"), back, &err) == GROOT_OK, "%s", err.msg);
    for (int64_t i = 0; i < n; i++)
        bad_bf16 += back[i] != gr_bf16_to_f32(gr_f32_to_bf16(src[i]));
    CHECK(gr_st_to_f32(gr_st_find(f, "y"), back, &err) == GROOT_OK, "%s", err.msg);
    for (int64_t i = 0; i < n; i++)
        bad_f16 += back[i] != gr_f16_to_f32(gr_f32_to_f16(src[i]));
    CHECK(bad_bf16 == 0 && bad_f16 == 0, "conversion mismatches bf16 %d f16 %d", bad_bf16,
          bad_f16);
    CHECK(tu_rel_err(back, src, (size_t)n) < 1e-3, "f16 error %g",
          tu_rel_err(back, src, (size_t)n));
    gr_st_close(f);
out:
    free(src);
    free(back);
}

static void test_hostile(void)
{
    /* A valid file to cut. */
    gr_st_writer *w;
    gr_error err = {0};
    gr_st_writer_create(&w, &err);
    const int64_t s[2] = {4, 8};
    float v[32] = {0};
    gr_st_writer_add_f32(w, "alpha", GR_F32, 2, s, v, &err);
    gr_st_writer_add_f32(w, "beta", GR_BF16, 2, s, v, &err);
    const char *good = tmp_path("good.safetensors");
    gr_st_writer_write(w, good, &err);
    gr_st_writer_destroy(w);
    FILE *fp = fopen(good, "rb");
    unsigned char buf[4096];
    size_t size = fp ? fread(buf, 1, sizeof buf, fp) : 0;
    if (fp)
        fclose(fp);
    CHECK(size > 200, "good file %zu bytes", size);
    const char *p;

    p = tmp_path("cut_header.safetensors");
    write_bytes(p, buf, 40);
    FAILS(p, GROOT_ERR_FORMAT, "header length", "past the end");

    /* Cut in the data: the tensor laid out last (beta, after the wider alpha) runs past. */
    p = tmp_path("cut_data.safetensors");
    write_bytes(p, buf, size - 10);
    FAILS(p, GROOT_ERR_FORMAT, "'beta'", "past the data");

    p = tmp_path("len_past_eof.safetensors");
    write_raw(p, 1000, "{}      ", 0);
    FAILS(p, GROOT_ERR_FORMAT, "1000", "past the end");

    p = tmp_path("len_absurd.safetensors");
    write_raw(p, (uint64_t)1 << 63, "{}      ", 0);
    FAILS(p, GROOT_ERR_FORMAT, "9223372036854775808", NULL);

    p = tmp_path("bad_json.safetensors");
    write_header(p, "{\"a\": {\"dtype\": ", 0);
    FAILS(p, GROOT_ERR_FORMAT, "invalid JSON", NULL);

    p = tmp_path("trailing.safetensors");
    write_header(p, "{} x", 0);
    FAILS(p, GROOT_ERR_FORMAT, "invalid JSON", NULL);

    p = tmp_path("array.safetensors");
    write_header(p, "[1, 2, 3]", 0);
    FAILS(p, GROOT_ERR_FORMAT, "JSON object", NULL);

    p = tmp_path("dtype.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"X99\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "X99");

    p = tmp_path("f64.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", 8);
    FAILS(p, GROOT_ERR_UNSUPPORTED, "'w'", "F64");

    p = tmp_path("no_dtype.safetensors");
    write_header(p, "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "dtype");

    p = tmp_path("neg_shape.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1, 2], \"data_offsets\": [0, 8]}}",
                 8);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "shape");

    p = tmp_path("frac_shape.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}",
                 4);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "shape");

    p = tmp_path("str_shape.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}}",
                 8);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "shape");

    p = tmp_path("obj_shape.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": 2, \"data_offsets\": [0, 8]}}", 8);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "shape");

    p = tmp_path("dims.safetensors");
    write_header(p,
                 "{\"w\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], "
                 "\"data_offsets\": [0, 1]}}",
                 1);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "9 dimensions");

    p = tmp_path("overflow.safetensors");
    write_header(p,
                 "{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], "
                 "\"data_offsets\": [0, 4]}}",
                 4);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "overflow");

    p = tmp_path("span.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "need 12");

    p = tmp_path("past_end.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}",
                 16);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "past the data");

    p = tmp_path("overlap.safetensors");
    write_header(p,
                 "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
                 " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [20, 28]},"
                 " \"c\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [12, 20]}}",
                 28);
    FAILS(p, GROOT_ERR_FORMAT, "overlaps", "'a'");

    p = tmp_path("begin_end.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [8, 4]}}", 8);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "begin after end");

    p = tmp_path("offsets.safetensors");
    write_header(p, "{\"w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0]}}", 4);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "data_offsets");

    p = tmp_path("huge_offset.safetensors");
    write_header(p,
                 "{\"w\": {\"dtype\": \"U8\", \"shape\": [4], "
                 "\"data_offsets\": [1e300, 1e300]}}",
                 4);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "data_offsets");

    p = tmp_path("dup.safetensors");
    write_header(p,
                 "{\"w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]},"
                 " \"w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [4, 8]}}",
                 8);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "twice");

    p = tmp_path("entry.safetensors");
    write_header(p, "{\"w\": [1, 2]}", 0);
    FAILS(p, GROOT_ERR_FORMAT, "'w'", "object");

    p = tmp_path("empty.safetensors");
    write_bytes(p, "", 0);
    FAILS(p, GROOT_ERR_FORMAT, "too short", NULL);

    p = tmp_path("seven.safetensors");
    write_bytes(p, "\x02\0\0\0\0\0\0", 7);
    FAILS(p, GROOT_ERR_FORMAT, "7 bytes", NULL);

    FAILS(tmp_path("missing.safetensors"), GROOT_ERR_IO, "cannot open", NULL);
    FAILS(tmp, GROOT_ERR_IO, "not a regular file", NULL);
    /* A FIFO must be refused, not waited on. */
    p = tmp_path("fifo.safetensors");
    CHECK(mkfifo(p, 0600) == 0, "mkfifo");
    FAILS(p, GROOT_ERR_IO, "not a regular file", NULL);

    /* Acceptable oddities: metadata, empty header object, zero-size tensors sharing an offset. */
    gr_st_file *f;
    p = tmp_path("odd_ok.safetensors");
    write_header(p,
                 "{\"__metadata__\": {\"format\": \"pt\"},"
                 " \"z1\": {\"dtype\": \"F32\", \"shape\": [0, 3], \"data_offsets\": [4, 4]},"
                 " \"z2\": {\"dtype\": \"BF16\", \"shape\": [0], \"data_offsets\": [4, 4]},"
                 " \"x\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]}}",
                 8);
    CHECK(gr_st_open(p, &f, &err) == GROOT_OK, "%s", err.msg);
    if (f) {
        CHECK(f->count == 3 && strcmp(f->tensors[0].name, "x") == 0, "odd_ok tensors");
        const gr_st_tensor *x = gr_st_find(f, "x");
        CHECK(x && ((const unsigned char *)x->data)[7] == 7, "x data");
        gr_st_close(f);
    }
}

static void test_public_api(void)
{
    groot_tensors *t;
    CHECK(groot_tensors_create(&t) == GROOT_OK, "create");
    const int64_t s[2] = {2, 2};
    const float v[4] = {1, 2, 3, 4};
    const int32_t ids[3] = {5, 6, 7};
    const int64_t s3[1] = {3};
    CHECK(groot_tensors_add(t, "zeta", GROOT_F32, 2, s, v) == GROOT_OK, "%s", groot_errmsg(t));
    CHECK(groot_tensors_add(t, "alpha", GROOT_I32, 1, s3, ids) == GROOT_OK, "%s",
          groot_errmsg(t));
    CHECK(groot_tensors_add(t, "alpha", GROOT_I32, 1, s3, ids) == GROOT_ERR_INVALID_ARG &&
              strstr(groot_errmsg(t), "'alpha'"),
          "duplicate: %s", groot_errmsg(t));
    CHECK(groot_tensors_add(t, "d", GROOT_F64, 1, s3, v) == GROOT_ERR_UNSUPPORTED &&
              strstr(groot_errmsg(t), "F64"),
          "F64: %s", groot_errmsg(t));
    CHECK(groot_tensors_count(t) == 2 && strcmp(groot_tensors_name(t, 0), "alpha") == 0 &&
              strcmp(groot_tensors_name(t, 1), "zeta") == 0 && !groot_tensors_name(t, 2),
          "names of a created set");
    groot_dtype dt;
    int nd;
    int64_t shape[GROOT_MAX_DIMS];
    const void *data;
    CHECK(groot_tensors_get(t, "zeta", &dt, &nd, shape, &data) == GROOT_OK && dt == GROOT_F32 &&
              nd == 2 && memcmp(data, v, 16) == 0,
          "get from a created set");
    const char *path = tmp_path("api.safetensors");
    CHECK(groot_tensors_write(t, path) == GROOT_OK, "%s", groot_errmsg(t));
    CHECK(groot_tensors_count(t) == 2, "write keeps the set");
    CHECK(groot_tensors_write(t, "/nonexistent-dir/x.safetensors") == GROOT_ERR_IO &&
              strstr(groot_errmsg(t), "/nonexistent-dir/x.safetensors"),
          "write error: %s", groot_errmsg(t));
    groot_tensors_close(t);

    CHECK(groot_tensors_open(path, &t) == GROOT_OK, "%s", groot_errmsg(t));
    CHECK(groot_tensors_count(t) == 2 && strcmp(groot_tensors_name(t, 1), "zeta") == 0,
          "names of a read set");
    CHECK(groot_tensors_get(t, "alpha", &dt, &nd, shape, &data) == GROOT_OK && dt == GROOT_I32 &&
              nd == 1 && shape[0] == 3 && shape[1] == 0 && memcmp(data, ids, 12) == 0,
          "get alpha");
    CHECK(strcmp(groot_errmsg(t), "") == 0, "message cleared after success");
    CHECK(groot_tensors_get(t, "zeta", NULL, NULL, NULL, NULL) == GROOT_OK, "NULL outs");
    CHECK(groot_tensors_get(t, "nope", &dt, &nd, shape, &data) == GROOT_ERR_INVALID_ARG &&
              strstr(groot_errmsg(t), "'nope'") && strstr(groot_errmsg(t), path),
          "missing: %s", groot_errmsg(t));
    CHECK(groot_tensors_add(t, "x", GROOT_F32, 2, s, v) == GROOT_ERR_INVALID_ARG, "add to read set");
    groot_tensors_close(t);

    /* Failure still yields a handle with the message. */
    t = NULL;
    CHECK(groot_tensors_open(tmp_path("absent.safetensors"), &t) == GROOT_ERR_IO && t &&
              strstr(groot_errmsg(t), "absent.safetensors"),
          "open failure: %s", t ? groot_errmsg(t) : "(no handle)");
    CHECK(t && groot_tensors_count(t) == 0 && !groot_tensors_name(t, 0), "failed set is empty");
    CHECK(t && groot_tensors_get(t, "x", NULL, NULL, NULL, NULL) == GROOT_ERR_INVALID_ARG,
          "get on a failed set");
    groot_tensors_close(t);
}

int main(void)
{
    tmp = tu_tmpdir();
    test_golden_shard();
    test_round_trip();
    test_large_conversion();
    test_hostile();
    test_public_api();
    return tu_finish("test_safetensors");
}
