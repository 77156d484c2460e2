#include "text/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>

#include "io/json_util.h"
#include "text/bpe.h"
#include "text/nfc.h"

/* Unicode White_Space, spelled out instead of \s: the reference runs this
 * pattern on Oniguruma, whose \s is exactly White_Space, while PCRE2's \s
 * under UCP also takes U+180E (a format character since Unicode 6.3). */
#define WS "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
           "\\x{202F}\\x{205F}\\x{3000}"

/* SPEC.md section 2's pattern with \s as [WS] and \S as [^WS]. */
static const char PRETOKENIZE_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
    "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
    "|\\p{N}"
    "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
    "|[" WS "]*[\\r\\n]+"
    "|[" WS "]+(?![^" WS "])"
    "|[" WS "]+";

/* Pieces up to this many bytes are remembered; longer ones are rare. */
#define CACHE_MAX_PIECE 64
#define CACHE_SLOTS 8192 /* power of two; at most half of them used */
#define CACHE_MAX_ENTRIES (CACHE_SLOTS / 2)

typedef struct added_token {
    char *content;
    size_t len;
    int32_t id;
} added_token;

typedef struct cache_slot {
    uint64_t hash;
    uint32_t key_off, key_len; /* key_len 0: empty (pieces are never empty) */
    uint32_t ids_off, ids_len;
} cache_slot;

struct gr_tokenizer {
    gr_bpe *bpe;
    added_token *added; /* longest first, so the first match is the longest */
    size_t num_added;
    unsigned char starts_added[256]; /* first bytes of added tokens */
    int32_t num_ids;

    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    int jit;

    /* piece -> ids, bounded: emptied whenever it fills */
    cache_slot *cache;
    size_t cache_entries;
    unsigned char *cache_keys;
    size_t cache_keys_len, cache_keys_cap;
    int32_t *cache_ids;
    size_t cache_ids_len, cache_ids_cap;

    gr_nfc nfc;

    int32_t *ids;
    size_t num_ids_out, ids_cap;
    char *text;
    size_t text_cap;
};

/* ---------------------------------------------------------------- UTF-8 --- */

size_t gr_utf8_invalid_offset(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* below: overlong */
            else if (c == 0xED)
                hi = 0x9F; /* above: UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* below: overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above: beyond U+10FFFF */
        } else {
            return i; /* continuation byte, C0/C1 overlong lead, or F5..FF */
        }
        if (len - i <= need || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += need + 1;
    }
    return len;
}

/* ------------------------------------------------------------- loading --- */

static int added_longer_first(const void *a, const void *b)
{
    const added_token *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return memcmp(x->content, y->content, x->len);
}

static groot_status load_added(gr_tokenizer *tok, const char *path, gr_error *err)
{
    cJSON *root = NULL;
    GR_TRY(gr_json_load_object(path, &root, err));
    groot_status st = GROOT_OK;
    size_t n = (size_t)cJSON_GetArraySize(root);
    tok->added = calloc(n ? n : 1, sizeof *tok->added);
    if (!tok->added) {
        st = gr_fail(err, GROOT_ERR_NOMEM, "out of memory loading '%s'", path);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        long long v;
        size_t len = strlen(it->string);
        if (!cJSON_IsNumber(it) || !gr_json_as_size(it, &v) || v > INT32_MAX - 1) {
            st = gr_fail(err, GROOT_ERR_FORMAT, "'%s': token '%s' has no valid id", path,
                         it->string);
            goto done;
        }
        if (len == 0 || gr_utf8_invalid_offset(it->string, len) != len) {
            st = gr_fail(err, GROOT_ERR_FORMAT, "'%s': token '%s' is empty or not UTF-8", path,
                         it->string);
            goto done;
        }
        added_token *a = &tok->added[tok->num_added++];
        a->content = strdup(it->string);
        a->len = len;
        a->id = (int32_t)v;
        if (!a->content) {
            st = gr_fail(err, GROOT_ERR_NOMEM, "out of memory loading '%s'", path);
            goto done;
        }
        tok->starts_added[(unsigned char)a->content[0]] = 1;
        if (a->id >= tok->num_ids)
            tok->num_ids = a->id + 1;
    }
    qsort(tok->added, tok->num_added, sizeof *tok->added, added_longer_first);
    for (size_t i = 1; i < tok->num_added; i++)
        if (tok->added[i].len == tok->added[i - 1].len &&
            !memcmp(tok->added[i].content, tok->added[i - 1].content, tok->added[i].len)) {
            st = gr_fail(err, GROOT_ERR_FORMAT, "'%s': token '%s' appears twice", path,
                         tok->added[i].content);
            goto done;
        }
done:
    cJSON_Delete(root);
    return st;
}

static groot_status compile_regex(gr_tokenizer *tok, gr_error *err)
{
    int code;
    PCRE2_SIZE at;
    tok->re = pcre2_compile((PCRE2_SPTR)PRETOKENIZE_PATTERN, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    if (!tok->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return gr_fail(err, GROOT_ERR_INTERNAL, "pre-tokenization regex: %s at offset %zu",
                       (const char *)msg, (size_t)at);
    }
    tok->md = pcre2_match_data_create_from_pattern(tok->re, NULL);
    tok->mctx = pcre2_match_context_create(NULL);
    if (!tok->md || !tok->mctx)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory creating the regex match data");
    /* JIT is an optimisation: without it (no JIT support for this CPU or
     * build) the interpreter gives the same matches. */
    if (pcre2_jit_compile(tok->re, PCRE2_JIT_COMPLETE) == 0) {
        /* The default 32 KiB JIT stack is enough for this pattern's simple
         * repeats; a larger ceiling keeps pathological inputs from failing. */
        tok->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
        if (tok->jit_stack)
            pcre2_jit_stack_assign(tok->mctx, NULL, tok->jit_stack);
        tok->jit = 1;
    }
    return GROOT_OK;
}

static groot_status join_path(char *buf, size_t size, const char *dir, const char *name,
                              gr_error *err)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "path too long: '%s/%s'", dir, name);
    return GROOT_OK;
}

groot_status gr_tokenizer_load(const char *dir, gr_tokenizer **out, gr_error *err)
{
    *out = NULL;
    char vocab[4096], merges[4096], added[4096];
    GR_TRY(join_path(vocab, sizeof vocab, dir, "vocab.json", err));
    GR_TRY(join_path(merges, sizeof merges, dir, "merges.txt", err));
    GR_TRY(join_path(added, sizeof added, dir, "added_tokens.json", err));
    gr_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory creating the tokenizer");
    groot_status st = gr_bpe_load(vocab, merges, &tok->bpe, err);
    if (st == GROOT_OK) {
        tok->num_ids = gr_bpe_num_ids(tok->bpe);
        st = load_added(tok, added, err);
    }
    if (st == GROOT_OK)
        st = compile_regex(tok, err);
    if (st == GROOT_OK) {
        tok->cache = calloc(CACHE_SLOTS, sizeof *tok->cache);
        if (!tok->cache)
            st = gr_fail(err, GROOT_ERR_NOMEM, "out of memory creating the tokenizer cache");
    }
    if (st != GROOT_OK) {
        gr_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return GROOT_OK;
}

void gr_tokenizer_free(gr_tokenizer *tok)
{
    if (!tok)
        return;
    gr_bpe_free(tok->bpe);
    for (size_t i = 0; i < tok->num_added; i++)
        free(tok->added[i].content);
    free(tok->added);
    pcre2_match_data_free(tok->md);
    pcre2_match_context_free(tok->mctx);
    pcre2_jit_stack_free(tok->jit_stack);
    pcre2_code_free(tok->re);
    free(tok->cache);
    free(tok->cache_keys);
    free(tok->cache_ids);
    free(tok->ids);
    free(tok->text);
    gr_nfc_free(&tok->nfc);
    free(tok);
}

int32_t gr_tokenizer_added_id(const gr_tokenizer *tok, const char *content)
{
    size_t len = strlen(content);
    for (size_t i = 0; i < tok->num_added; i++)
        if (tok->added[i].len == len && !memcmp(tok->added[i].content, content, len))
            return tok->added[i].id;
    return -1;
}

int32_t gr_tokenizer_num_ids(const gr_tokenizer *tok) { return tok->num_ids; }

/* --------------------------------------------------------------- cache --- */

static void cache_clear(gr_tokenizer *tok)
{
    memset(tok->cache, 0, CACHE_SLOTS * sizeof *tok->cache);
    tok->cache_entries = 0;
    tok->cache_keys_len = 0;
    tok->cache_ids_len = 0;
}

/* The slot holding piece, or the empty slot where it belongs. */
static cache_slot *cache_find(gr_tokenizer *tok, const unsigned char *piece, size_t len,
                              uint64_t hash)
{
    for (size_t i = hash & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        cache_slot *s = &tok->cache[i];
        if (s->key_len == 0 ||
            (s->hash == hash && s->key_len == len && !memcmp(tok->cache_keys + s->key_off, piece, len)))
            return s;
    }
}

static groot_status cache_put(gr_tokenizer *tok, const unsigned char *piece, size_t len,
                              uint64_t hash, const int32_t *ids, size_t n, gr_error *err)
{
    if (tok->cache_entries >= CACHE_MAX_ENTRIES)
        cache_clear(tok);
    GR_TRY(gr_text_reserve((void **)&tok->cache_keys, &tok->cache_keys_cap,
                           tok->cache_keys_len + len, 1, err));
    GR_TRY(gr_text_reserve((void **)&tok->cache_ids, &tok->cache_ids_cap, tok->cache_ids_len + n,
                           sizeof *tok->cache_ids, err));
    cache_slot *s = cache_find(tok, piece, len, hash);
    memcpy(tok->cache_keys + tok->cache_keys_len, piece, len);
    memcpy(tok->cache_ids + tok->cache_ids_len, ids, n * sizeof *ids);
    *s = (cache_slot){hash, (uint32_t)tok->cache_keys_len, (uint32_t)len,
                      (uint32_t)tok->cache_ids_len, (uint32_t)n};
    tok->cache_keys_len += len;
    tok->cache_ids_len += n;
    tok->cache_entries++;
    return GROOT_OK;
}

/* ------------------------------------------------------------ encoding --- */

static groot_status encode_piece(gr_tokenizer *tok, const unsigned char *piece, size_t len,
                                 gr_error *err)
{
    if (len > CACHE_MAX_PIECE)
        return gr_bpe_encode_piece(tok->bpe, piece, len, &tok->ids, &tok->num_ids_out,
                                   &tok->ids_cap, err);
    uint64_t hash = gr_text_hash(piece, len);
    const cache_slot *s = cache_find(tok, piece, len, hash);
    if (s->key_len) {
        GR_TRY(gr_text_reserve((void **)&tok->ids, &tok->ids_cap, tok->num_ids_out + s->ids_len,
                               sizeof *tok->ids, err));
        memcpy(tok->ids + tok->num_ids_out, tok->cache_ids + s->ids_off,
               s->ids_len * sizeof *tok->ids);
        tok->num_ids_out += s->ids_len;
        return GROOT_OK;
    }
    size_t first = tok->num_ids_out;
    GR_TRY(gr_bpe_encode_piece(tok->bpe, piece, len, &tok->ids, &tok->num_ids_out, &tok->ids_cap,
                               err));
    return cache_put(tok, piece, len, hash, tok->ids + first, tok->num_ids_out - first, err);
}

/* Splits NFC text into pieces with the pre-tokenization regex. Text the
 * pattern skips (it cannot: every character fits one alternative) would
 * still be encoded, as a piece of its own. */
static groot_status encode_normalized(gr_tokenizer *tok, const unsigned char *s, size_t len,
                                      gr_error *err)
{
    size_t start = 0;
    while (start < len) {
        int rc = tok->jit ? pcre2_jit_match(tok->re, s, len, start, 0, tok->md, tok->mctx)
                          : pcre2_match(tok->re, s, len, start, PCRE2_NO_UTF_CHECK, tok->md,
                                        tok->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            return encode_piece(tok, s + start, len - start, err);
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return gr_fail(err, GROOT_ERR_INTERNAL, "pre-tokenization regex failed at byte %zu: %s",
                           start, (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(tok->md);
        size_t b = ov[0], e = ov[1];
        if (b > start)
            GR_TRY(encode_piece(tok, s + start, b - start, err));
        if (e == b) {
            /* An empty match (impossible with this pattern): step over one
             * character so that the loop always advances. */
            e = b + 1;
            while (e < len && (s[e] & 0xC0) == 0x80)
                e++;
        }
        GR_TRY(encode_piece(tok, s + b, e - b, err));
        start = e;
    }
    return GROOT_OK;
}

static groot_status encode_segment(gr_tokenizer *tok, const unsigned char *s, size_t len,
                                   gr_error *err)
{
    if (len == 0)
        return GROOT_OK;
    /* Every code point below U+0300 (lead bytes below 0xCC) is its own NFC
     * and composes with nothing before it, so such text skips normalization. */
    int plain = 1;
    for (size_t i = 0; i < len && plain; i++)
        plain = s[i] < 0xCC;
    if (plain)
        return encode_normalized(tok, s, len, err);
    const unsigned char *nfc;
    size_t n;
    GR_TRY(gr_nfc_apply(&tok->nfc, s, len, &nfc, &n, err));
    return encode_normalized(tok, nfc, n, err);
}

/* The longest added token at s[0..], or NULL. */
static const added_token *match_added(const gr_tokenizer *tok, const char *s, size_t left)
{
    for (size_t i = 0; i < tok->num_added; i++) {
        const added_token *a = &tok->added[i];
        if (a->len <= left && !memcmp(a->content, s, a->len))
            return a;
    }
    return NULL;
}

groot_status gr_tokenizer_encode(gr_tokenizer *tok, const char *text, size_t len,
                                 const int32_t **ids, size_t *num_ids, gr_error *err)
{
    *ids = NULL;
    *num_ids = 0;
    tok->num_ids_out = 0;
    if (len && !text)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "text is NULL");
    /* Never hand out NULL, not even for zero ids: callers memcpy from it. */
    GR_TRY(gr_text_reserve((void **)&tok->ids, &tok->ids_cap, 1, sizeof *tok->ids, err));
    size_t bad = gr_utf8_invalid_offset(text, len);
    if (bad < len)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "text is not valid UTF-8: byte 0x%02X at byte offset %zu does not start a "
                       "well-formed sequence",
                       (unsigned char)text[bad], bad);
    /* Added tokens split the text first, on the raw (unnormalized) bytes;
     * an added token never starts on a continuation byte, so the pieces
     * between them stay valid UTF-8. */
    size_t seg = 0;
    for (size_t i = 0; i < len;) {
        const added_token *a =
            tok->starts_added[(unsigned char)text[i]] ? match_added(tok, text + i, len - i) : NULL;
        if (!a) {
            i++;
            continue;
        }
        GR_TRY(encode_segment(tok, (const unsigned char *)text + seg, i - seg, err));
        GR_TRY(gr_text_reserve((void **)&tok->ids, &tok->ids_cap, tok->num_ids_out + 1,
                               sizeof *tok->ids, err));
        tok->ids[tok->num_ids_out++] = a->id;
        i += a->len;
        seg = i;
    }
    GR_TRY(encode_segment(tok, (const unsigned char *)text + seg, len - seg, err));
    *ids = tok->ids;
    *num_ids = tok->num_ids_out;
    return GROOT_OK;
}

/* ------------------------------------------------------------ decoding --- */

groot_status gr_tokenizer_decode(gr_tokenizer *tok, const int32_t *ids, size_t num_ids,
                                 const char **text, size_t *len, gr_error *err)
{
    *text = NULL;
    *len = 0;
    size_t n = 0;
    for (size_t k = 0; k < num_ids; k++) {
        const added_token *a = NULL;
        for (size_t i = 0; i < tok->num_added && !a; i++)
            if (tok->added[i].id == ids[k])
                a = &tok->added[i];
        if (a) {
            GR_TRY(gr_text_reserve((void **)&tok->text, &tok->text_cap, n + a->len, 1, err));
            memcpy(tok->text + n, a->content, a->len);
            n += a->len;
        } else {
            groot_status st =
                gr_bpe_decode_id(tok->bpe, ids[k], &tok->text, &n, &tok->text_cap, err);
            if (st != GROOT_OK) {
                if (err)
                    gr_error_prefix(err, "decoding id %zu of %zu", k, num_ids);
                return st;
            }
        }
    }
    GR_TRY(gr_text_reserve((void **)&tok->text, &tok->text_cap, n + 1, 1, err));
    tok->text[n] = '\0';
    *text = tok->text;
    *len = n;
    return GROOT_OK;
}
