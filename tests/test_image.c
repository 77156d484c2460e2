/* Camera preprocessing against the reference's goldens (tests/data/goldens/
 * images): center crop + antialiased resize, byte for byte within the
 * README's tolerance; the model's pixel normalization against the tiny
 * cases; crop boxes; PNG and .npy files through the public API. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "groot.h"
#include "image/image.h"
#include "io/json_util.h"
#include "test_util.h"

/* A tiny safetensors reader for the test's own use: the goldens are trusted
 * files, so it checks only what it needs. */
typedef struct st_blob {
    char *bytes;
    size_t len;
    cJSON *header;
    const uint8_t *data;
} st_blob;

static int st_open(const char *path, st_blob *b)
{
    gr_error err;
    memset(b, 0, sizeof *b);
    if (gr_read_file(path, &b->bytes, &b->len, &err) != GROOT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 0;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | (uint8_t)b->bytes[i];
    if (n + 8 > b->len)
        return 0;
    b->header = cJSON_ParseWithLength(b->bytes + 8, (size_t)n);
    b->data = (const uint8_t *)b->bytes + 8 + n;
    return b->header != NULL;
}

static const void *st_get(st_blob *b, const char *name, const char *dtype, int64_t *shape,
                          int *ndim)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(b->header, name);
    if (!t)
        return NULL;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    if (!cJSON_IsString(dt) || strcmp(dt->valuestring, dtype) != 0)
        return NULL;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
    *ndim = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, sh) shape[(*ndim)++] = (int64_t)d->valuedouble;
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    return b->data + (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
}

static void st_close(st_blob *b)
{
    cJSON_Delete(b->header);
    free(b->bytes);
}

static void test_goldens(void)
{
    gr_error err;
    cJSON *cases = NULL;
    CHECK(gr_json_load_object(tu_data("goldens/images/image_cases.json"), &cases, &err) ==
              GROOT_OK, "%s", err.msg);
    st_blob b;
    CHECK(st_open(tu_data("goldens/images/image_cases.safetensors"), &b), "cannot read goldens");
    if (!cases || !b.header)
        return;
    gr_resizer r;
    gr_resizer_init(&r);
    uint8_t *out = NULL;
    size_t total_vals = 0, total_diff = 0;
    int ncases = 0, worst = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = c->string;
        char key[64];
        int64_t ish[8], osh[8];
        int ind, ond;
        snprintf(key, sizeof key, "%s.input", name);
        const uint8_t *in = st_get(&b, key, "U8", ish, &ind);
        snprintf(key, sizeof key, "%s.output", name);
        const uint8_t *ref = st_get(&b, key, "U8", osh, &ond);
        CHECK(in && ref && ind == 3 && ond == 3, "case %s: tensors missing", name);
        if (!in || !ref)
            continue;
        double scale = cJSON_GetObjectItemCaseSensitive(c, "crop_scale")->valuedouble;
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "resize");
        int oh = cJSON_GetArrayItem(rs, 0)->valueint, ow = cJSON_GetArrayItem(rs, 1)->valueint;
        CHECK(osh[0] == oh && osh[1] == ow, "case %s: output shape", name);
        size_t n = (size_t)oh * ow * 3;
        out = realloc(out, n);
        groot_status st = gr_image_crop_resize(&r, in, (int)ish[0], (int)ish[1], scale, oh, ow,
                                               out, &err);
        CHECK(st == GROOT_OK, "case %s: %s", name, err.msg);
        if (st != GROOT_OK)
            continue;
        size_t ndiff = 0;
        int maxd = 0;
        for (size_t i = 0; i < n; i++) {
            int d = abs((int)out[i] - (int)ref[i]);
            ndiff += d != 0;
            if (d > maxd)
                maxd = d;
        }
        double pct = 100.0 * (double)ndiff / (double)n;
        printf("image case %s: %lldx%lld crop %.2f -> %dx%d: %zu of %zu values differ (%.4f%%), "
               "max diff %d\n",
               name, (long long)ish[0], (long long)ish[1], scale, oh, ow, ndiff, n, pct, maxd);
        CHECK(maxd <= 1, "case %s: max diff %d > 1", name, maxd);
        CHECK(pct <= 0.5, "case %s: %.4f%% of values differ (> 0.5%%)", name, pct);
        total_vals += n;
        total_diff += ndiff;
        if (maxd > worst)
            worst = maxd;
        ncases++;
    }
    printf("image goldens: %d cases, %zu of %zu values differ (%.4f%%), max diff %d\n", ncases,
           total_diff, total_vals, 100.0 * (double)total_diff / (double)(total_vals ? total_vals : 1),
           worst);
    CHECK(ncases == 8, "expected 8 image cases, ran %d", ncases);
    /* The implementation's own figure: a change of arithmetic (order of the
     * sums, a multiply and add where the reference fuses them) moves it. */
    CHECK(total_diff <= 12, "%zu values differ from the reference; this implementation had 12", total_diff);

    /* A second call on a resizer that has grown must give the same bytes. */
    const cJSON *c0 = cJSON_GetObjectItemCaseSensitive(cases, "c1");
    if (c0) {
        int64_t ish[8];
        int ind;
        const uint8_t *in = st_get(&b, "c1.input", "U8", ish, &ind);
        uint8_t *again = malloc(224 * 224 * 3), *first = malloc(224 * 224 * 3);
        gr_image_crop_resize(&r, in, (int)ish[0], (int)ish[1], 0.95, 224, 224, first, &err);
        gr_image_crop_resize(&r, in, (int)ish[0], (int)ish[1], 0.95, 224, 224, again, &err);
        CHECK(memcmp(first, again, 224 * 224 * 3) == 0, "resizer reuse changed the result");
        /* The public call agrees with the internal one. */
        char eb[256];
        CHECK(groot_image_preprocess(in, (int)ish[0], (int)ish[1], 0.95, 224, 224, again, eb,
                                     sizeof eb) == GROOT_OK, "%s", eb);
        CHECK(memcmp(first, again, 224 * 224 * 3) == 0, "public preprocess differs");
        free(again);
        free(first);
    }
    free(out);
    gr_resizer_free(&r);
    st_close(&b);
    cJSON_Delete(cases);
}

/* The resize passes run on several threads: the bytes must not depend on
 * how many (a frame that shrinks in both axes, one that grows in both, and
 * one that keeps its height). */
static void test_threads(void)
{
    const int sizes[3][4] = {{480, 640, 224, 224}, {100, 90, 224, 224}, {224, 300, 224, 224}};
    gr_resizer r;
    gr_resizer_init(&r);
    gr_error err;
    for (int s = 0; s < 3; s++) {
        const int H = sizes[s][0], W = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3];
        uint8_t *in = malloc((size_t)H * W * 3), *one = malloc((size_t)oh * ow * 3), *many = malloc((size_t)oh * ow * 3);
        for (size_t i = 0; i < (size_t)H * W * 3; i++)
            in[i] = (uint8_t)((i * 2654435761u) >> 13);
        const int was = omp_get_max_threads();
        omp_set_num_threads(1);
        CHECK(gr_image_resize_window(&r, in, H, W, 0, 0, H, W, oh, ow, one, &err) == GROOT_OK, "%s", err.msg);
        omp_set_num_threads(was > 3 ? was : 3);
        CHECK(gr_image_resize_window(&r, in, H, W, 0, 0, H, W, oh, ow, many, &err) == GROOT_OK, "%s", err.msg);
        omp_set_num_threads(was);
        CHECK(memcmp(one, many, (size_t)oh * ow * 3) == 0, "%dx%d -> %dx%d: bytes differ with the thread count", H,
              W, oh, ow);
        free(in);
        free(one);
        free(many);
    }
    gr_resizer_free(&r);
}

/* pixel = (u8/255 - 0.5)/0.5, channels-first: the tiny cases hold both. */
static void test_pixels(void)
{
    st_blob b;
    CHECK(st_open(tu_data("goldens/tiny/cases.safetensors"), &b), "cannot read tiny cases");
    if (!b.header)
        return;
    int64_t ush[8], psh[8];
    int und, pnd;
    const uint8_t *u8 = st_get(&b, "a.0.images_u8", "U8", ush, &und);
    const float *pv = st_get(&b, "a.0.pixel_values", "F32", psh, &pnd);
    CHECK(u8 && pv, "a.0.images_u8 / a.0.pixel_values missing");
    if (u8 && pv) {
        int h = (int)ush[1], w = (int)ush[2];
        float *out = malloc(sizeof(float) * 3 * h * w);
        gr_image_to_pixels(u8, h, w, out);
        size_t diff = 0;
        for (size_t i = 0; i < (size_t)3 * h * w; i++)
            diff += memcmp(&out[i], &pv[i], sizeof(float)) != 0;
        printf("pixel normalization: %zu of %d values differ from the reference\n", diff,
               3 * h * w);
        CHECK(diff == 0, "%zu pixel values differ", diff);
        free(out);
    }
    st_close(&b);
}

static void test_crop_box(void)
{
    gr_error err;
    int t, l, h, w;
    /* (14 - 7) / 2 = 3.5 -> 4; (10 - 5) / 2 = 2.5 -> 2: ties to even. */
    CHECK(gr_center_crop_box(14, 10, 0.5, &t, &l, &h, &w, &err) == GROOT_OK, "%s", err.msg);
    CHECK(h == 7 && w == 5 && t == 4 && l == 2, "got %dx%d at (%d,%d)", h, w, t, l);
    /* 480 * 0.95 = 456.0 and 640 * 0.95 = 608.0 in double. */
    CHECK(gr_center_crop_box(480, 640, 0.95, &t, &l, &h, &w, &err) == GROOT_OK, "%s", err.msg);
    CHECK(h == 456 && w == 608 && t == 12 && l == 16, "got %dx%d at (%d,%d)", h, w, t, l);
    CHECK(gr_center_crop_box(100, 100, 0.0, &t, &l, &h, &w, &err) == GROOT_ERR_INVALID_ARG,
          "scale 0 accepted");
    CHECK(strstr(err.msg, "crop scale") != NULL, "message: %s", err.msg);
    CHECK(gr_center_crop_box(1, 1, 0.5, &t, &l, &h, &w, &err) == GROOT_ERR_INVALID_ARG,
          "empty crop accepted");
    CHECK(gr_center_crop_box(10, 10, 1.5, &t, &l, &h, &w, &err) == GROOT_ERR_INVALID_ARG,
          "scale > 1 accepted");
}

static void test_files(void)
{
    const char *dir = tu_tmpdir();
    char png[512], npy[512], txt[512];
    snprintf(png, sizeof png, "%s/x.png", dir);
    snprintf(npy, sizeof npy, "%s/x.npy", dir);
    snprintf(txt, sizeof txt, "%s/x.bmp", dir);
    /* Big enough for several stored deflate blocks (> 65535 bytes). */
    int h = 123, w = 301;
    uint8_t *img = malloc((size_t)h * w * 3);
    for (size_t i = 0; i < (size_t)h * w * 3; i++)
        img[i] = (uint8_t)(i * 2654435761u >> 13);
    char eb[512];
    CHECK(groot_image_save(png, img, h, w, eb, sizeof eb) == GROOT_OK, "%s", eb);
    CHECK(groot_image_save(npy, img, h, w, eb, sizeof eb) == GROOT_OK, "%s", eb);
    CHECK(groot_image_save(txt, img, h, w, eb, sizeof eb) == GROOT_ERR_INVALID_ARG,
          "unknown extension accepted");
    CHECK(strstr(eb, ".png") != NULL, "message: %s", eb);
    const char *paths[2] = {png, npy};
    for (int k = 0; k < 2; k++) {
        uint8_t *back = NULL;
        int bh = 0, bw = 0;
        CHECK(groot_image_load(paths[k], &back, &bh, &bw, eb, sizeof eb) == GROOT_OK, "%s: %s",
              paths[k], eb);
        CHECK(bh == h && bw == w, "%s: %dx%d", paths[k], bh, bw);
        CHECK(back && memcmp(back, img, (size_t)h * w * 3) == 0, "%s: pixels differ", paths[k]);
        groot_image_free(back);
    }
    /* Not an image. */
    FILE *f = fopen(txt, "wb");
    fputs("hello", f);
    fclose(f);
    uint8_t *back = NULL;
    int bh, bw;
    CHECK(groot_image_load(txt, &back, &bh, &bw, eb, sizeof eb) == GROOT_ERR_FORMAT,
          "garbage decoded");
    CHECK(strstr(eb, "x.bmp") != NULL, "message: %s", eb);
    CHECK(groot_image_load("/nonexistent/x.png", &back, &bh, &bw, eb, sizeof eb) == GROOT_ERR_IO,
          "missing file");
    free(img);
}

int main(void)
{
    test_goldens();
    test_threads();
    test_pixels();
    test_crop_box();
    test_files();
    return tu_finish("test_image");
}
