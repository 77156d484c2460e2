#include "text/bpe.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/json_util.h"

#define NO_OFFSET UINT32_MAX
#define EMPTY_PAIR UINT64_MAX /* ids are < 2^31, so no real pair key is all ones */

typedef struct merge {
    int32_t left, right, result;
} merge;

/* A candidate merge of the symbol at pos with the one after it. */
typedef struct candidate {
    int32_t rank, pos;
} candidate;

struct gr_bpe {
    /* id -> token string (byte alphabet), NUL-terminated inside `strings` */
    char *strings;
    uint32_t *tok_off, *tok_len;
    int32_t num_ids;
    /* token string -> id: open addressing over ids, -1 empty */
    int32_t *tok_slots;
    size_t tok_mask;
    /* rank -> merge, and (left, right) -> rank */
    merge *merges;
    int32_t num_merges;
    uint64_t *pair_keys;
    int32_t *pair_rank;
    size_t pair_mask;
    /* the byte alphabet: byte -> id of its one-character token, and the
     * alphabet's code points (all below 512) back to bytes */
    int32_t byte_token[256];
    int16_t cp_byte[512];
    /* scratch of the merge loop, grown on demand */
    int32_t *sym, *prev, *next;
    size_t sym_cap;
    candidate *heap;
    size_t heap_cap;
};

uint64_t gr_text_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

groot_status gr_text_reserve(void **buf, size_t *cap, size_t need, size_t elem, gr_error *err)
{
    if (need <= *cap)
        return GROOT_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            return gr_fail(err, GROOT_ERR_NOMEM, "tokenizer buffer of %zu items is too large", need);
        c *= 2;
    }
    void *p = realloc(*buf, c * elem);
    if (!p)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory growing a tokenizer buffer to %zu items",
                       c);
    *buf = p;
    *cap = c;
    return GROOT_OK;
}

static size_t table_size(size_t n)
{
    size_t c = 16;
    while (c < n * 2) /* load factor at most 1/2 keeps probes short */
        c *= 2;
    return c;
}

/* GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves; the
 * rest (controls, space, DEL, NBSP, soft hyphen) take code points 256, 257,
 * ... in byte order, so that no token contains whitespace or controls. */
static int byte_codepoint(int b, int *next_extra)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
        return b;
    return 256 + (*next_extra)++;
}

static size_t utf8_put(unsigned char *out, int cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    out[0] = (unsigned char)(0xC0 | (cp >> 6)); /* the alphabet stays below 0x800 */
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
}

int32_t gr_bpe_num_ids(const gr_bpe *bpe) { return bpe->num_ids; }

int32_t gr_bpe_token_id(const gr_bpe *bpe, const char *token, size_t len)
{
    for (size_t i = gr_text_hash(token, len) & bpe->tok_mask;; i = (i + 1) & bpe->tok_mask) {
        int32_t id = bpe->tok_slots[i];
        if (id < 0)
            return -1;
        if (bpe->tok_len[id] == len && !memcmp(bpe->strings + bpe->tok_off[id], token, len))
            return id;
    }
}

static uint64_t pair_key(int32_t left, int32_t right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

static size_t pair_hash(uint64_t key)
{
    key ^= key >> 31;
    key *= 0x9e3779b97f4a7c15ull;
    return (size_t)(key ^ key >> 29);
}

static int32_t pair_rank(const gr_bpe *bpe, int32_t left, int32_t right)
{
    uint64_t key = pair_key(left, right);
    for (size_t i = pair_hash(key) & bpe->pair_mask;; i = (i + 1) & bpe->pair_mask) {
        if (bpe->pair_keys[i] == key)
            return bpe->pair_rank[i];
        if (bpe->pair_keys[i] == EMPTY_PAIR)
            return -1;
    }
}

static groot_status load_vocab(gr_bpe *bpe, const char *path, gr_error *err)
{
    cJSON *root = NULL;
    GR_TRY(gr_json_load_object(path, &root, err));
    groot_status st = GROOT_OK;
    size_t count = 0, bytes = 0;
    int32_t max_id = -1;
    for (const cJSON *it = root->child; it; it = it->next) {
        long long v;
        if (!cJSON_IsNumber(it) || !gr_json_as_size(it, &v) || v > INT32_MAX - 1) {
            st = gr_fail(err, GROOT_ERR_FORMAT, "'%s': token '%s' has no valid id", path,
                         it->string);
            goto done;
        }
        if ((int32_t)v > max_id)
            max_id = (int32_t)v;
        count++;
        bytes += strlen(it->string) + 1;
    }
    if (bytes >= NO_OFFSET) {
        st = gr_fail(err, GROOT_ERR_FORMAT, "'%s': vocabulary too large", path);
        goto done;
    }
    bpe->num_ids = max_id + 1;
    size_t slots = table_size(count);
    bpe->strings = malloc(bytes ? bytes : 1);
    bpe->tok_off = malloc(((size_t)bpe->num_ids + 1) * sizeof *bpe->tok_off);
    bpe->tok_len = malloc(((size_t)bpe->num_ids + 1) * sizeof *bpe->tok_len);
    bpe->tok_slots = malloc(slots * sizeof *bpe->tok_slots);
    if (!bpe->strings || !bpe->tok_off || !bpe->tok_len || !bpe->tok_slots) {
        st = gr_fail(err, GROOT_ERR_NOMEM, "out of memory loading '%s'", path);
        goto done;
    }
    bpe->tok_mask = slots - 1;
    memset(bpe->tok_slots, 0xFF, slots * sizeof *bpe->tok_slots);
    for (int32_t i = 0; i < bpe->num_ids; i++) {
        bpe->tok_off[i] = NO_OFFSET;
        bpe->tok_len[i] = 0;
    }
    size_t used = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        int32_t id = (int32_t)it->valuedouble;
        size_t len = strlen(it->string);
        if (bpe->tok_off[id] != NO_OFFSET) {
            st = gr_fail(err, GROOT_ERR_FORMAT, "'%s': id %d is given to both '%s' and '%s'", path,
                         (int)id, bpe->strings + bpe->tok_off[id], it->string);
            goto done;
        }
        if (gr_bpe_token_id(bpe, it->string, len) >= 0) {
            st = gr_fail(err, GROOT_ERR_FORMAT, "'%s': token '%s' appears twice", path, it->string);
            goto done;
        }
        memcpy(bpe->strings + used, it->string, len + 1);
        bpe->tok_off[id] = (uint32_t)used;
        bpe->tok_len[id] = (uint32_t)len;
        used += len + 1;
        size_t i = gr_text_hash(it->string, len) & bpe->tok_mask;
        while (bpe->tok_slots[i] >= 0)
            i = (i + 1) & bpe->tok_mask;
        bpe->tok_slots[i] = id;
    }
done:
    cJSON_Delete(root);
    return st;
}

static groot_status build_alphabet(gr_bpe *bpe, const char *vocab_path, gr_error *err)
{
    int extra = 0;
    for (int i = 0; i < 512; i++)
        bpe->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int cp = byte_codepoint(b, &extra);
        unsigned char s[2];
        size_t n = utf8_put(s, cp);
        bpe->byte_token[b] = gr_bpe_token_id(bpe, (const char *)s, n);
        if (bpe->byte_token[b] < 0)
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "'%s': no token for byte 0x%02X (code point U+%04X): not a byte-level "
                           "BPE vocabulary",
                           vocab_path, b, cp);
        bpe->cp_byte[cp] = (int16_t)b;
    }
    return GROOT_OK;
}

static groot_status add_merge(gr_bpe *bpe, const char *path, int line, const char *a, size_t alen,
                              const char *b, size_t blen, char **joined, size_t *joined_cap,
                              gr_error *err)
{
    int32_t left = gr_bpe_token_id(bpe, a, alen), right = gr_bpe_token_id(bpe, b, blen);
    if (left < 0 || right < 0)
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s' line %d: '%.*s' is not in the vocabulary",
                       path, line, (int)(left < 0 ? alen : blen), left < 0 ? a : b);
    GR_TRY(gr_text_reserve((void **)joined, joined_cap, alen + blen, 1, err));
    memcpy(*joined, a, alen);
    memcpy(*joined + alen, b, blen);
    int32_t result = gr_bpe_token_id(bpe, *joined, alen + blen);
    if (result < 0)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "'%s' line %d: the merged token '%.*s' is not in the vocabulary", path, line,
                       (int)(alen + blen), *joined);
    int32_t rank = bpe->num_merges++;
    bpe->merges[rank] = (merge){left, right, result};
    uint64_t key = pair_key(left, right);
    size_t i = pair_hash(key) & bpe->pair_mask;
    while (bpe->pair_keys[i] != EMPTY_PAIR && bpe->pair_keys[i] != key)
        i = (i + 1) & bpe->pair_mask;
    /* A repeated pair keeps its later rank, as the reference's map does. */
    bpe->pair_keys[i] = key;
    bpe->pair_rank[i] = rank;
    return GROOT_OK;
}

static groot_status load_merges(gr_bpe *bpe, const char *path, gr_error *err)
{
    char *text = NULL, *joined = NULL;
    size_t len = 0, joined_cap = 0;
    GR_TRY(gr_read_file(path, &text, &len, err));
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    groot_status st = GROOT_OK;
    size_t slots = table_size(lines);
    bpe->merges = malloc(lines * sizeof *bpe->merges);
    bpe->pair_keys = malloc(slots * sizeof *bpe->pair_keys);
    bpe->pair_rank = malloc(slots * sizeof *bpe->pair_rank);
    if (!bpe->merges || !bpe->pair_keys || !bpe->pair_rank) {
        st = gr_fail(err, GROOT_ERR_NOMEM, "out of memory loading '%s'", path);
        goto done;
    }
    bpe->pair_mask = slots - 1;
    memset(bpe->pair_keys, 0xFF, slots * sizeof *bpe->pair_keys);
    int line = 0;
    for (size_t pos = 0; pos < len && st == GROOT_OK;) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + 1;
        line++;
        if (n && s[n - 1] == '\r')
            n--;
        if (n == 0 || (line == 1 && n >= 8 && !memcmp(s, "#version", 8)))
            continue;
        const char *sp = memchr(s, ' ', n);
        if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1))) {
            st = gr_fail(err, GROOT_ERR_FORMAT, "'%s' line %d: expected two tokens separated by one space",
                         path, line);
            break;
        }
        size_t alen = (size_t)(sp - s);
        st = add_merge(bpe, path, line, s, alen, sp + 1, n - alen - 1, &joined, &joined_cap, err);
    }
done:
    free(joined);
    free(text);
    return st;
}

groot_status gr_bpe_load(const char *vocab_path, const char *merges_path, gr_bpe **out,
                         gr_error *err)
{
    *out = NULL;
    gr_bpe *bpe = calloc(1, sizeof *bpe);
    if (!bpe)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory creating the tokenizer");
    groot_status st = load_vocab(bpe, vocab_path, err);
    if (st == GROOT_OK)
        st = build_alphabet(bpe, vocab_path, err);
    if (st == GROOT_OK)
        st = load_merges(bpe, merges_path, err);
    if (st != GROOT_OK) {
        gr_bpe_free(bpe);
        return st;
    }
    *out = bpe;
    return GROOT_OK;
}

void gr_bpe_free(gr_bpe *bpe)
{
    if (!bpe)
        return;
    free(bpe->strings);
    free(bpe->tok_off);
    free(bpe->tok_len);
    free(bpe->tok_slots);
    free(bpe->merges);
    free(bpe->pair_keys);
    free(bpe->pair_rank);
    free(bpe->sym);
    free(bpe->prev);
    free(bpe->next);
    free(bpe->heap);
    free(bpe);
}

/* ---- the merge loop ----
 * A min-heap of candidate merges ordered by (rank, position) replays the
 * reference's order exactly: the lowest-ranked pair anywhere merges first,
 * and equal pairs merge left to right, so "aaa" becomes "aa"+"a". Entries go
 * stale when a neighbour merges; they are recognised on pop because the
 * symbols at their position no longer form the merge's pair (a symbol only
 * ever grows, so a stale pair never comes back). */

static int cand_less(candidate a, candidate b)
{
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(candidate *h, size_t *n, candidate c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(c, h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = c;
}

static candidate heap_pop(candidate *h, size_t *n)
{
    candidate top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && cand_less(h[c + 1], h[c]))
            c++;
        if (!cand_less(h[c], last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

static void push_pair(gr_bpe *bpe, size_t *nheap, int32_t pos)
{
    if (pos < 0)
        return;
    int32_t nx = bpe->next[pos];
    if (nx < 0)
        return;
    int32_t rank = pair_rank(bpe, bpe->sym[pos], bpe->sym[nx]);
    if (rank >= 0)
        heap_push(bpe->heap, nheap, (candidate){rank, pos});
}

groot_status gr_bpe_encode_piece(gr_bpe *bpe, const unsigned char *piece, size_t len,
                                 int32_t **ids, size_t *n, size_t *cap, gr_error *err)
{
    if (len == 0)
        return GROOT_OK;
    if (len > INT32_MAX / 4)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "text piece of %zu bytes is too long", len);
    if (len > bpe->sym_cap) {
        /* Three arrays of one length: each grows from the same old capacity
         * to the same new one; sym_cap moves only once all three have. */
        size_t c1 = bpe->sym_cap, c2 = bpe->sym_cap, c3 = bpe->sym_cap;
        GR_TRY(gr_text_reserve((void **)&bpe->sym, &c1, len, sizeof *bpe->sym, err));
        GR_TRY(gr_text_reserve((void **)&bpe->prev, &c2, len, sizeof *bpe->prev, err));
        GR_TRY(gr_text_reserve((void **)&bpe->next, &c3, len, sizeof *bpe->next, err));
        bpe->sym_cap = c1;
    }
    /* n-1 initial candidates plus at most two per merge */
    GR_TRY(gr_text_reserve((void **)&bpe->heap, &bpe->heap_cap, 3 * len, sizeof *bpe->heap, err));

    int32_t count = (int32_t)len;
    for (int32_t i = 0; i < count; i++) {
        bpe->sym[i] = bpe->byte_token[piece[i]];
        bpe->prev[i] = i - 1;
        bpe->next[i] = i + 1 < count ? i + 1 : -1;
    }
    size_t nheap = 0;
    for (int32_t i = 0; i + 1 < count; i++)
        push_pair(bpe, &nheap, i);
    size_t out = (size_t)count;
    while (nheap) {
        candidate c = heap_pop(bpe->heap, &nheap);
        int32_t pos = c.pos, nx = bpe->sym[pos] >= 0 ? bpe->next[pos] : -1;
        if (nx < 0)
            continue;
        const merge *m = &bpe->merges[c.rank];
        if (m->left != bpe->sym[pos] || m->right != bpe->sym[nx])
            continue;
        bpe->sym[pos] = m->result;
        bpe->sym[nx] = -1;
        bpe->next[pos] = bpe->next[nx];
        if (bpe->next[nx] >= 0)
            bpe->prev[bpe->next[nx]] = pos;
        out--;
        push_pair(bpe, &nheap, bpe->prev[pos]);
        push_pair(bpe, &nheap, pos);
    }
    GR_TRY(gr_text_reserve((void **)ids, cap, *n + out, sizeof **ids, err));
    for (int32_t i = 0; i >= 0; i = bpe->next[i])
        (*ids)[(*n)++] = bpe->sym[i];
    return GROOT_OK;
}

groot_status gr_bpe_decode_id(const gr_bpe *bpe, int32_t id, char **buf, size_t *len,
                              size_t *cap, gr_error *err)
{
    if (id < 0 || id >= bpe->num_ids || bpe->tok_off[id] == NO_OFFSET)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "token id %d is not in the vocabulary", (int)id);
    const unsigned char *s = (const unsigned char *)bpe->strings + bpe->tok_off[id];
    size_t n = bpe->tok_len[id];
    GR_TRY(gr_text_reserve((void **)buf, cap, *len + n, 1, err));
    for (size_t i = 0; i < n;) {
        int cp = -1;
        size_t w = 1;
        if (s[i] < 0x80)
            cp = s[i];
        else if ((s[i] & 0xE0) == 0xC0 && i + 1 < n)
            cp = (s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F), w = 2;
        if (cp >= 0 && cp < 512 && bpe->cp_byte[cp] >= 0) {
            (*buf)[(*len)++] = (char)bpe->cp_byte[cp];
        } else {
            /* Outside the alphabet (not in a byte-level vocabulary): keep the
             * character as written rather than lose it. */
            w = 1;
            while (i + w < n && (s[i + w] & 0xC0) == 0x80)
                w++;
            memcpy(*buf + *len, s + i, w);
            *len += w;
        }
        i += w;
    }
    return GROOT_OK;
}
