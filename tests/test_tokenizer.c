/* The tokenizer against the goldens' tokenizer cases, against ids computed
 * by the reference tokenizer for harder inputs, on invalid UTF-8, and on a
 * 10 kB mixed text whose decoding must give back its NFC form. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <utf8proc.h>

#include "groot.h"
#include "io/json_util.h"
#include "test_util.h"
#include "text/tokenizer.h"

#define TOK_DIR GROOT_ASSETS_DIR "/eagle2_hg_model"

static int same_ids(const int32_t *got, size_t n, const int32_t *want, size_t m)
{
    return n == m && (n == 0 || !memcmp(got, want, n * sizeof *got));
}

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 64; i++)
        fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, n > 64 ? " ...\n" : "\n");
}

static void check_encodes(gr_tokenizer *tok, const char *text, size_t len, const int32_t *want,
                          size_t m)
{
    gr_error err = {0};
    const int32_t *ids;
    size_t n;
    groot_status st = gr_tokenizer_encode(tok, text, len, &ids, &n, &err);
    CHECK(st == GROOT_OK, "'%s': %s", text, err.msg);
    if (st != GROOT_OK)
        return;
    int ok = same_ids(ids, n, want, m);
    CHECK(ok, "ids of '%s'", text);
    if (!ok) {
        print_ids("got ", ids, n);
        print_ids("want", want, m);
    }
}

static void test_golden_cases(gr_tokenizer *tok)
{
    cJSON *root = NULL;
    char *text = NULL;
    size_t len;
    gr_error err = {0};
    groot_status st = gr_read_file(tu_data("goldens/tiny/tokenizer_cases.json"), &text, &len, &err);
    CHECK(st == GROOT_OK, "%s", err.msg);
    if (st != GROOT_OK)
        return;
    root = cJSON_ParseWithLength(text, len);
    CHECK(cJSON_IsArray(root), "tokenizer_cases.json is an array");
    int cases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, root)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c, "ids");
        CHECK(cJSON_IsString(t) && cJSON_IsArray(ids), "case %d is {text, ids}", cases);
        if (!cJSON_IsString(t) || !cJSON_IsArray(ids))
            continue;
        int m = cJSON_GetArraySize(ids);
        int32_t *want = malloc((size_t)(m ? m : 1) * sizeof *want);
        for (int i = 0; i < m; i++)
            want[i] = (int32_t)cJSON_GetArrayItem(ids, i)->valuedouble;
        check_encodes(tok, t->valuestring, strlen(t->valuestring), want, (size_t)m);
        free(want);
        cases++;
    }
    CHECK(cases == 15, "%d golden tokenizer cases", cases);
    cJSON_Delete(root);
    free(text);
}

/* Ids from the reference tokenizer (HF tokenizers 0.23.3 built as SPEC.md
 * section 2 describes from the same vocab.json, merges.txt and
 * added_tokens.json), for inputs the golden cases do not reach. */
typedef struct ref_case {
    const char *text;
    int32_t ids[48];
    int n;
} ref_case;

static const ref_case REF_CASES[] = {
    {"cafe\xCC\x81 na\xC3\xAFve A\xCC\x8A",
     {924, 58858, 94880, 586, 79252},
     5},
    {"\xE6\x9C\xBA\xE5\x99\xA8\xE4\xBA\xBA\xE6\x8A\x93\xE5\x8F\x96\xE8\x8B\xB9\xE6\x9E\x9C",
     {104354, 99745, 18158, 104167},
     4},
    {"\xF0\x9F\xA4\x96 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
     {147238, 61804, 235, 145375, 61804, 101, 378, 235, 145233, 378, 235, 145665},
     12},
    {"I'LL go, she's here, we'Re done",
     {40, 6, 4086, 728, 11, 1340, 594, 1588, 11, 582, 49427, 2814},
     12},
    {"line one\r\nline two\n\n\n  indented\t\ttabs  \n",
     {1056, 825, 319, 1056, 1378, 1406, 220, 1257, 15864, 197, 3244, 3435, 2303},
     13},
    {"trailing spaces   ",
     {376, 14277, 12621, 262},
     4},
    {"   leading",
     {256, 6388},
     2},
    {"1234567 + 89 = 1234656",
     {16, 17, 18, 19, 20, 21, 22, 488, 220, 23, 24, 284, 220, 16, 17, 18, 19, 21, 20, 21},
     20},
    {"\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",
     {124122, 29825, 124671, 124756, 123881, 79484, 26991, 8178},
     8},
    {"!\xE1\xA0\x8E! a\xE3\x80\x80" "b\xC2\xA0" "c\xE2\x80\xA8" "d",
     {0, 123970, 236, 0, 264, 22441, 65, 4102, 66, 378, 101, 67},
     12},
    {"x\xCC\xA3\xCC\x87 \xE1\xBA\x9B\xCC\xA3 \xE2\x84\xAB \xE2\x84\xA6",
     {6518, 233, 136, 96, 220, 149616, 136, 96, 79252, 7851, 102},
     11},
    {"<|im_start|>user\nhi<|im_end|>\n",
     {151644, 872, 198, 6023, 151645, 198},
     6},
    {"<img><IMG_CONTEXT></img><image 1>",
     {151670, 151669, 151671, 27, 1805, 220, 16, 29},
     8},
    {"<|im_end<|im_end|>|>",
     {27, 91, 318, 6213, 151645, 91, 29},
     7},
    {"<think>\n</think>",
     {151667, 198, 151668},
     3},
    {"$5.99 (approx.) -- 100% {ok} [yes] #tag @user",
     {3, 20, 13, 24, 24, 320, 48053, 6138, 1177, 220, 16, 15, 15, 4, 314, 562, 92, 508, 9693, 60, 671, 4578, 569, 872},
     24},
    {"\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB\xEA\xB8\x80 \xED\x95\x9C\xEA\xB8\x80",
     {23573, 83291, 61298, 83291},
     4},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     {69440, 69440, 69440, 69440},
     4},
    {"               ",
     {394},
     1},
};

static void test_reference_cases(gr_tokenizer *tok)
{
    for (size_t i = 0; i < sizeof REF_CASES / sizeof REF_CASES[0]; i++)
        check_encodes(tok, REF_CASES[i].text, strlen(REF_CASES[i].text), REF_CASES[i].ids,
                      (size_t)REF_CASES[i].n);
}

static void test_added_tokens(gr_tokenizer *tok)
{
    CHECK(gr_tokenizer_added_id(tok, "<|endoftext|>") == 151643, "endoftext");
    CHECK(gr_tokenizer_added_id(tok, "<|im_start|>") == 151644, "im_start");
    CHECK(gr_tokenizer_added_id(tok, "<|im_end|>") == 151645, "im_end");
    CHECK(gr_tokenizer_added_id(tok, "<img>") == 151670, "img");
    CHECK(gr_tokenizer_added_id(tok, "</img>") == 151671, "/img");
    CHECK(gr_tokenizer_added_id(tok, "<IMG_CONTEXT>") == 151669, "IMG_CONTEXT");
    CHECK(gr_tokenizer_added_id(tok, "<nope>") == -1, "absent");
    CHECK(gr_tokenizer_num_ids(tok) == 151680, "num ids %d", (int)gr_tokenizer_num_ids(tok));

    const char *t = "<img><IMG_CONTEXT><IMG_CONTEXT></img>";
    const int32_t want[] = {151670, 151669, 151669, 151671};
    check_encodes(tok, t, strlen(t), want, 4);
    /* An added token inside a word still splits it; a partial one does not. */
    const char *t2 = "ab<|im_end|>cd<|im_end";
    gr_error err = {0};
    const int32_t *ids;
    size_t n;
    CHECK(gr_tokenizer_encode(tok, t2, strlen(t2), &ids, &n, &err) == GROOT_OK, "%s", err.msg);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found += ids[i] == 151645;
    CHECK(found == 1, "one <|im_end|> in '%s' (found %d)", t2, found);
}

static void check_invalid(gr_tokenizer *tok, const char *text, size_t len, size_t offset)
{
    gr_error err = {0};
    const int32_t *ids;
    size_t n;
    groot_status st = gr_tokenizer_encode(tok, text, len, &ids, &n, &err);
    CHECK(st == GROOT_ERR_INVALID_ARG, "status %s for invalid UTF-8", groot_status_name(st));
    char want[64];
    snprintf(want, sizeof want, "byte offset %zu", offset);
    CHECK(strstr(err.msg, want) != NULL, "message '%s' names '%s'", err.msg, want);
    CHECK(gr_utf8_invalid_offset(text, len) == offset, "offset %zu",
          gr_utf8_invalid_offset(text, len));
}

static void test_invalid_utf8(gr_tokenizer *tok)
{
    check_invalid(tok, "ab\x80" "cd", 5, 2);             /* lone continuation byte */
    check_invalid(tok, "abc\xE2\x82", 5, 3);             /* truncated 3-byte sequence */
    check_invalid(tok, "abc\xE2\x82z", 6, 3);            /* interrupted 3-byte sequence */
    check_invalid(tok, "\xC0\xAF", 2, 0);                /* overlong '/' (2 bytes) */
    check_invalid(tok, "x\xE0\x80\xAF", 4, 1);           /* overlong '/' (3 bytes) */
    check_invalid(tok, "xy\xF0\x80\x80\xAF", 6, 2);      /* overlong '/' (4 bytes) */
    check_invalid(tok, "\xED\xA0\x80", 3, 0);            /* surrogate U+D800 */
    check_invalid(tok, "ok \xED\xBF\xBF", 6, 3);         /* surrogate U+DFFF */
    check_invalid(tok, "hello \xFF", 7, 6);              /* byte 0xFF */
    check_invalid(tok, "\xF4\x90\x80\x80", 4, 0);        /* above U+10FFFF */
    check_invalid(tok, "<img>\xFE<img>", 11, 5);         /* between added tokens */

    /* The public API reports it through the handle. */
    groot_tokenizer *pub = NULL;
    groot_status st = groot_tokenizer_open(GROOT_ASSETS_DIR, &pub);
    CHECK(st == GROOT_OK, "groot_tokenizer_open: %s", groot_errmsg(pub));
    if (st == GROOT_OK) {
        const int32_t *ids;
        size_t n;
        st = groot_tokenize(pub, "a\xC3", 2, &ids, &n);
        CHECK(st == GROOT_ERR_INVALID_ARG, "public status %s", groot_status_name(st));
        CHECK(strstr(groot_errmsg(pub), "byte offset 1") != NULL, "public message '%s'",
              groot_errmsg(pub));
        st = groot_tokenize(pub, "put 2 cups", 10, &ids, &n);
        const int32_t want[] = {628, 220, 17, 25374};
        CHECK(st == GROOT_OK && same_ids(ids, n, want, 4), "public tokenize");
        CHECK(groot_errmsg(pub)[0] == '\0', "message cleared on success");
    }
    groot_tokenizer_close(pub);

    /* Valid edge sequences pass. */
    const char *edge = "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80"
                       "\xF4\x8F\xBF\xBF";
    CHECK(gr_utf8_invalid_offset(edge, strlen(edge)) == strlen(edge), "edge sequences valid");
    CHECK(gr_utf8_invalid_offset("a\0b", 3) == 3, "NUL is valid UTF-8");
}

static void test_empty(gr_tokenizer *tok)
{
    gr_error err = {0};
    const int32_t *ids = (const int32_t *)&err;
    size_t n = 99;
    CHECK(gr_tokenizer_encode(tok, "", 0, &ids, &n, &err) == GROOT_OK, "%s", err.msg);
    CHECK(n == 0 && ids != NULL, "empty text gives %zu ids (and a non-NULL array)", n);
    CHECK(gr_tokenizer_encode(tok, NULL, 0, &ids, &n, &err) == GROOT_OK && n == 0, "NULL, 0");
}

/* A deterministic mix of everything a prompt might hold: ASCII words and
 * punctuation, precomposed and decomposed accents, CJK, emoji (with ZWJ
 * and skin tones), digits, tabs and newlines (\n, \r\n), runs of spaces. */
static char *mixed_text(size_t target, size_t *len)
{
    static const char *const parts[] = {
        "pick ", "the ", "pear", " from", " counter", ". ", ", ", "!", "?", "It's ", "WE'LL ",
        "caf\xC3\xA9 ", "cafe\xCC\x81 ", "na\xC3\xAFve ", "A\xCC\x8A", "\xC3\x85ngstr\xC3\xB6m ",
        "\xE6\x9C\xBA\xE5\x99\xA8\xE4\xBA\xBA", "\xE6\x8A\x93\xE5\x8F\x96", "\xE3\x81\x93\xE3\x82\x93",
        "\xED\x95\x9C\xEA\xB8\x80 ", "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", /* conjoining jamo */
        "\xF0\x9F\xA4\x96", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD ",
        "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
        "0", "42", "3.14159", " 1000000 ", "\n", "\r\n", "\n\n", "\t", "   ", "  \n ",
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 ", "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 ",
        "x\xCC\xA3\xCC\x87", "\xE2\x80\x94", "\xC2\xA0", "\xE3\x80\x80", "(a)", "[b]", "{c}", "_",
        "--", "#", "@", "$5", "100%", "\xE2\x82\xAC", "\xC2\xBD"};
    size_t np = sizeof parts / sizeof parts[0];
    char *s = malloc(target + 64);
    size_t n = 0;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    while (n < target) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const char *p = parts[x % np];
        size_t l = strlen(p);
        memcpy(s + n, p, l);
        n += l;
    }
    s[n] = '\0';
    *len = n;
    return s;
}

static void check_round_trip(gr_tokenizer *tok, const char *text, size_t len, const char *what)
{
    gr_error err = {0};
    const int32_t *ids;
    size_t n;
    groot_status st = gr_tokenizer_encode(tok, text, len, &ids, &n, &err);
    CHECK(st == GROOT_OK, "%s: %s", what, err.msg);
    if (st != GROOT_OK)
        return;
    CHECK(n > 0 && n <= len, "%s: %zu ids for %zu bytes", what, n, len);
    int32_t *copy = malloc((n ? n : 1) * sizeof *copy);
    memcpy(copy, ids, n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        if (copy[i] < 0 || copy[i] >= 151643) {
            CHECK(0, "%s: id %d at %zu is not a vocabulary token", what, (int)copy[i], i);
            break;
        }
    const char *back;
    size_t blen;
    st = gr_tokenizer_decode(tok, copy, n, &back, &blen, &err);
    CHECK(st == GROOT_OK, "%s: decode: %s", what, err.msg);
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t nlen =
        utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &nfc,
                     UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    CHECK(nlen >= 0, "%s: utf8proc NFC", what);
    CHECK(st == GROOT_OK && nlen >= 0 && (size_t)nlen == blen && !memcmp(back, nfc, blen),
          "%s: decode(encode(text)) == NFC(text) (%zu vs %zd bytes)", what, blen, nlen);

    /* Encoding again (warm cache) gives the same ids. */
    const int32_t *again;
    size_t n2;
    st = gr_tokenizer_encode(tok, text, len, &again, &n2, &err);
    CHECK(st == GROOT_OK && same_ids(again, n2, copy, n), "%s: stable across calls", what);
    free(nfc);
    free(copy);
}

static void test_mixed(gr_tokenizer *tok)
{
    size_t len;
    char *text = mixed_text(10 * 1024, &len);
    check_round_trip(tok, text, len, "10 kB mixed text");
    free(text);
    text = mixed_text(300 * 1024, &len); /* enough distinct pieces to refill the cache */
    check_round_trip(tok, text, len, "300 kB mixed text");
    free(text);

    /* One huge piece each: letters, digits, spaces, punctuation. */
    size_t big = 200000;
    char *s = malloc(big + 1);
    const char fills[] = {'a', '7', ' ', '!', '\n'};
    for (size_t f = 0; f < sizeof fills; f++) {
        memset(s, fills[f], big);
        s[big] = '\0';
        char what[64];
        snprintf(what, sizeof what, "200000 x 0x%02X", fills[f]);
        check_round_trip(tok, s, big, what);
    }
    free(s);
    const char nul[] = "a\0b";
    check_round_trip(tok, nul, 3, "embedded NUL");
}

/* Long runs of combining marks need canonical reordering: checked against
 * utf8proc on a run of 3000, and for time (it must be linear) on 200000. */
static void test_combining_runs(gr_tokenizer *tok)
{
    static const char *const marks[] = {"\xCC\x81", "\xCC\xA3", "\xCC\x87", "\xD6\xB0",
                                        "\xCC\x9B"}; /* classes 230, 220, 230, 10, 216 */
    size_t count[] = {3000, 200000};
    for (int r = 0; r < 2; r++) {
        char *s = malloc(2 * count[r] + 8);
        size_t n = 0;
        s[n++] = 'o';
        for (size_t i = 0; i < count[r]; i++) {
            memcpy(s + n, marks[(i * 7 + i / 3) % 5], 2);
            n += 2;
        }
        s[n++] = 'x';
        if (r == 0) {
            check_round_trip(tok, s, n, "3000 combining marks");
        } else {
            gr_error err = {0};
            const int32_t *ids;
            size_t k;
            clock_t t0 = clock();
            groot_status st = gr_tokenizer_encode(tok, s, n, &ids, &k, &err);
            double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
            CHECK(st == GROOT_OK && k > 0, "200000 combining marks: %s", err.msg);
            /* Quadratic reordering takes minutes here; linear, milliseconds. */
            CHECK(secs < 5.0, "200000 combining marks took %.1f s", secs);
        }
        free(s);
    }
}

static void test_load_errors(void)
{
    gr_tokenizer *tok = (gr_tokenizer *)&tok;
    gr_error err = {0};
    groot_status st = gr_tokenizer_load("/nonexistent/dir", &tok, &err);
    CHECK(st == GROOT_ERR_IO, "missing dir: %s", groot_status_name(st));
    CHECK(tok == NULL, "no tokenizer on failure");
    CHECK(strstr(err.msg, "vocab.json") != NULL, "message names the file: %s", err.msg);

    groot_tokenizer *pub = NULL;
    st = groot_tokenizer_open("/nonexistent/assets", &pub);
    CHECK(st == GROOT_ERR_IO && pub != NULL, "public open of a missing dir");
    CHECK(strstr(groot_errmsg(pub), "/nonexistent/assets") != NULL, "'%s'", groot_errmsg(pub));
    const int32_t *ids;
    size_t n;
    CHECK(groot_tokenize(pub, "x", 1, &ids, &n) == GROOT_ERR_INVALID_ARG, "unopened tokenizer");
    groot_tokenizer_close(pub);
    groot_tokenizer_close(NULL);
}

int main(void)
{
    gr_error err = {0};
    gr_tokenizer *tok = NULL;
    groot_status st = gr_tokenizer_load(TOK_DIR, &tok, &err);
    CHECK(st == GROOT_OK, "load: %s", err.msg);
    if (st != GROOT_OK)
        return tu_finish("test_tokenizer");
    test_golden_cases(tok);
    test_reference_cases(tok);
    test_added_tokens(tok);
    test_invalid_utf8(tok);
    test_empty(tok);
    test_mixed(tok);
    test_combining_runs(tok);
    test_load_errors();
    gr_tokenizer_free(tok);
    return tu_finish("test_tokenizer");
}
