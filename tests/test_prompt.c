/* The prompt: its string equals the goldens' prompt strings (cases.json) and
 * its ids equal the goldens' input_ids (cases.safetensors) for every case
 * and sample. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/json_util.h"
#include "test_util.h"
#include "text/prompt.h"
#include "text/tokenizer.h"

#define TOKENS_PER_IMAGE 256
#define IMAGE_TOKEN_ID 151669

/* Just enough safetensors to pull int32 vectors out of the goldens: an
 * 8-byte little-endian header length, a JSON header, then the data. Kept
 * here so that this test depends on nothing but the tokenizer. */
typedef struct st_file {
    unsigned char *bytes;
    size_t size;
    cJSON *header;
    size_t data_start;
} st_file;

static int st_load(st_file *f, const char *path)
{
    gr_error err = {0};
    memset(f, 0, sizeof *f);
    if (gr_read_file(path, (char **)&f->bytes, &f->size, &err) != GROOT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 0;
    }
    if (f->size < 8)
        return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | f->bytes[i];
    if (n > f->size - 8)
        return 0;
    f->header = cJSON_ParseWithLength((const char *)f->bytes + 8, (size_t)n);
    f->data_start = 8 + (size_t)n;
    return f->header != NULL;
}

/* A copy of the int32 vector `name` (free() it), or NULL (with *n = 0). */
static int32_t *st_i32(const st_file *f, const char *name, size_t *n)
{
    *n = 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(f->header, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "I32") || cJSON_GetArraySize(offs) != 2)
        return NULL;
    size_t b = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
    size_t e = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (e < b || (e - b) % 4 || f->data_start + e > f->size)
        return NULL;
    *n = (e - b) / 4;
    int32_t *v = malloc(e - b + 4); /* copied: the data need not be aligned */
    if (v)
        memcpy(v, f->bytes + f->data_start + b, e - b);
    return v;
}

static void test_case(gr_tokenizer *tok, const st_file *st, const char *name, const cJSON *c)
{
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(c, "texts");
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(c, "prompts");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(c, "seq_len");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "V");
    int b = cJSON_GetArraySize(texts);
    CHECK(b > 0 && b == cJSON_GetArraySize(prompts) && cJSON_IsNumber(v), "case %s shape", name);
    int views = cJSON_IsNumber(v) ? v->valueint : 0;
    for (int i = 0; i < b; i++) {
        const char *text = cJSON_GetArrayItem(texts, i)->valuestring;
        const char *want = cJSON_GetArrayItem(prompts, i)->valuestring;
        gr_error err = {0};
        char *prompt = NULL;
        size_t len = 0;
        groot_status s = gr_prompt_build(views, text, TOKENS_PER_IMAGE, &prompt, &len, &err);
        CHECK(s == GROOT_OK, "%s.%d: %s", name, i, err.msg);
        CHECK(prompt && len == strlen(want) && !strcmp(prompt, want),
              "%s.%d: prompt string equals the golden", name, i);
        free(prompt);

        char key[64];
        snprintf(key, sizeof key, "%s.%d.input_ids", name, i);
        size_t m;
        int32_t *golden = st_i32(st, key, &m);
        CHECK(golden != NULL, "golden %s present", key);
        const int32_t *ids;
        size_t n;
        s = gr_prompt_ids(tok, views, text, TOKENS_PER_IMAGE, &ids, &n, &err);
        CHECK(s == GROOT_OK, "%s: %s", key, err.msg);
        if (s != GROOT_OK || !golden) {
            free(golden);
            continue;
        }
        CHECK(n == m, "%s: %zu ids, golden %zu", key, n, m);
        size_t first_diff = n < m ? n : m;
        for (size_t k = 0; k < (n < m ? n : m); k++)
            if (ids[k] != golden[k]) {
                first_diff = k;
                break;
            }
        CHECK(n == m && first_diff == n, "%s: first difference at %zu (%d vs %d)", key, first_diff,
              first_diff < n ? (int)ids[first_diff] : -1,
              first_diff < m ? (int)golden[first_diff] : -1);
        CHECK(cJSON_IsNumber(cJSON_GetArrayItem(seq, i)) &&
                  (size_t)cJSON_GetArrayItem(seq, i)->valueint == n,
              "%s: seq_len", key);
        size_t image_tokens = 0;
        for (size_t k = 0; k < n; k++)
            image_tokens += ids[k] == IMAGE_TOKEN_ID;
        CHECK(image_tokens == (size_t)views * TOKENS_PER_IMAGE, "%s: %zu image tokens", key,
              image_tokens);
        free(golden);
    }
}

static void test_errors(gr_tokenizer *tok)
{
    gr_error err = {0};
    char *p = (char *)&err;
    CHECK(gr_prompt_build(0, "x", 256, &p, NULL, &err) == GROOT_ERR_INVALID_ARG && !p, "0 views");
    CHECK(gr_prompt_build(GR_PROMPT_MAX_VIEWS + 1, "x", 256, &p, NULL, &err) ==
              GROOT_ERR_INVALID_ARG,
          "too many views");
    CHECK(gr_prompt_build(1, "x", 0, &p, NULL, &err) == GROOT_ERR_INVALID_ARG, "0 image tokens");
    CHECK(gr_prompt_build(1, NULL, 256, &p, NULL, &err) == GROOT_ERR_INVALID_ARG, "NULL text");
    CHECK(gr_prompt_build(1, "bad \xC3(", 256, &p, NULL, &err) == GROOT_ERR_INVALID_ARG &&
              strstr(err.msg, "byte offset 4"),
          "invalid UTF-8 instruction: %s", err.msg);
    const int32_t *ids;
    size_t n;
    CHECK(gr_prompt_ids(tok, 1, "\xFF", 256, &ids, &n, &err) == GROOT_ERR_INVALID_ARG && n == 0,
          "ids of an invalid instruction");

    /* Two-digit view numbers and a small image block are written as asked. */
    size_t len;
    CHECK(gr_prompt_build(12, "", 2, &p, &len, &err) == GROOT_OK, "%s", err.msg);
    CHECK(p && strstr(p, "<image 12><img><IMG_CONTEXT><IMG_CONTEXT></img><|im_end|>") &&
              len == strlen(p),
          "12 views");
    free(p);
    CHECK(gr_prompt_ids(tok, 3, "go", 5, &ids, &n, &err) == GROOT_OK, "%s", err.msg);
    size_t image_tokens = 0;
    for (size_t k = 0; k < n; k++)
        image_tokens += ids[k] == IMAGE_TOKEN_ID;
    CHECK(image_tokens == 15, "3 views x 5 tokens: %zu", image_tokens);
}

int main(void)
{
    gr_error err = {0};
    gr_tokenizer *tok = NULL;
    groot_status s = gr_tokenizer_load(GROOT_ASSETS_DIR "/eagle2_hg_model", &tok, &err);
    CHECK(s == GROOT_OK, "load: %s", err.msg);
    cJSON *cases = NULL;
    s = gr_json_load_object(tu_data("goldens/tiny/cases.json"), &cases, &err);
    CHECK(s == GROOT_OK, "cases.json: %s", err.msg);
    st_file st;
    int have_st = st_load(&st, tu_data("goldens/tiny/cases.safetensors"));
    CHECK(have_st, "cases.safetensors readable");
    if (tok && cases && have_st) {
        int n = 0;
        for (const cJSON *c = cases->child; c; c = c->next, n++)
            test_case(tok, &st, c->string, c);
        CHECK(n == 2, "%d golden cases", n);
        test_errors(tok);
    }
    if (have_st)
        cJSON_Delete(st.header);
    free(st.bytes);
    cJSON_Delete(cases);
    gr_tokenizer_free(tok);
    return tu_finish("test_prompt");
}
