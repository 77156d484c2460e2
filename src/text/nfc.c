#include "text/nfc.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "text/bpe.h"

/* The options utf8proc_map would be given for NFC, so that decomposition
 * and composition here are exactly its own. */
#define NFC_OPTIONS (UTF8PROC_STABLE | UTF8PROC_COMPOSE)

/* Runs up to this long are insertion-sorted; longer ones counting-sorted. */
#define SHORT_RUN 32

void gr_nfc_free(gr_nfc *nfc)
{
    if (!nfc)
        return;
    free(nfc->cps);
    free(nfc->cls);
    free(nfc->tmp_cps);
    free(nfc->tmp_cls);
    memset(nfc, 0, sizeof *nfc);
}

static groot_status reserve(gr_nfc *nfc, size_t need, gr_error *err)
{
    if (need <= nfc->cap)
        return GROOT_OK;
    size_t c1 = nfc->cap, c2 = nfc->cap;
    GR_TRY(gr_text_reserve((void **)&nfc->cps, &c1, need, sizeof *nfc->cps, err));
    GR_TRY(gr_text_reserve((void **)&nfc->cls, &c2, need, sizeof *nfc->cls, err));
    nfc->cap = c1;
    return GROOT_OK;
}

/* The code point at s (valid UTF-8), advancing *i past it. */
static int32_t next_cp(const unsigned char *s, size_t *i)
{
    unsigned c = s[*i];
    if (c < 0x80) {
        *i += 1;
        return (int32_t)c;
    }
    if (c < 0xE0) {
        *i += 2;
        return (int32_t)((c & 0x1F) << 6 | (s[*i - 1] & 0x3F));
    }
    if (c < 0xF0) {
        *i += 3;
        return (int32_t)((c & 0x0F) << 12 | (s[*i - 2] & 0x3F) << 6 | (s[*i - 1] & 0x3F));
    }
    *i += 4;
    return (int32_t)((c & 0x07) << 18 | (s[*i - 3] & 0x3F) << 12 | (s[*i - 2] & 0x3F) << 6 |
                     (s[*i - 1] & 0x3F));
}

/* Stable sort of one run of combining marks (all classes > 0) by class:
 * Unicode's canonical ordering. */
static groot_status sort_run(gr_nfc *nfc, size_t a, size_t b, gr_error *err)
{
    int32_t *cp = nfc->cps;
    uint8_t *cl = nfc->cls;
    if (b - a <= SHORT_RUN) {
        for (size_t i = a + 1; i < b; i++) {
            int32_t c = cp[i];
            uint8_t k = cl[i];
            size_t j = i;
            for (; j > a && cl[j - 1] > k; j--) {
                cp[j] = cp[j - 1];
                cl[j] = cl[j - 1];
            }
            cp[j] = c;
            cl[j] = k;
        }
        return GROOT_OK;
    }
    size_t n = b - a;
    if (n > nfc->tmp_cap) {
        size_t c1 = nfc->tmp_cap, c2 = nfc->tmp_cap;
        GR_TRY(gr_text_reserve((void **)&nfc->tmp_cps, &c1, n, sizeof *nfc->tmp_cps, err));
        GR_TRY(gr_text_reserve((void **)&nfc->tmp_cls, &c2, n, sizeof *nfc->tmp_cls, err));
        nfc->tmp_cap = c1;
    }
    size_t start[257] = {0};
    for (size_t i = a; i < b; i++)
        start[cl[i] + 1]++;
    for (int k = 1; k <= 256; k++)
        start[k] += start[k - 1];
    for (size_t i = a; i < b; i++) {
        size_t to = start[cl[i]]++;
        nfc->tmp_cps[to] = cp[i];
        nfc->tmp_cls[to] = cl[i];
    }
    memcpy(cp + a, nfc->tmp_cps, n * sizeof *cp);
    memcpy(cl + a, nfc->tmp_cls, n * sizeof *cl);
    return GROOT_OK;
}

groot_status gr_nfc_apply(gr_nfc *nfc, const unsigned char *s, size_t len,
                          const unsigned char **out, size_t *out_len, gr_error *err)
{
    *out = NULL;
    *out_len = 0;
    /* Canonical decompositions are at most 4 code points long. */
    enum { MAX_DECOMP = 8 };
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp = next_cp(s, &i);
        GR_TRY(reserve(nfc, n + MAX_DECOMP + 1, err));
        int boundclass = 0;
        utf8proc_ssize_t k =
            utf8proc_decompose_char(cp, nfc->cps + n, MAX_DECOMP, NFC_OPTIONS, &boundclass);
        if (k < 0 || k > MAX_DECOMP)
            return gr_fail(err, GROOT_ERR_INTERNAL, "NFC: decomposing U+%04X: %s", (unsigned)cp,
                           k < 0 ? utf8proc_errmsg(k) : "decomposition too long");
        for (utf8proc_ssize_t j = 0; j < k; j++)
            nfc->cls[n + (size_t)j] =
                (uint8_t)utf8proc_get_property(nfc->cps[n + (size_t)j])->combining_class;
        n += (size_t)k;
    }
    for (size_t i = 0; i < n;) {
        if (!nfc->cls[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && nfc->cls[j])
            j++;
        if (j - i > 1)
            GR_TRY(sort_run(nfc, i, j, err));
        i = j;
    }
    /* Composition and UTF-8 encoding in place: the UTF-8 form of n code
     * points fits in their n 32-bit slots, plus the terminating NUL. */
    GR_TRY(reserve(nfc, n + 1, err));
    utf8proc_ssize_t bytes = utf8proc_reencode(nfc->cps, (utf8proc_ssize_t)n, NFC_OPTIONS);
    if (bytes < 0)
        return gr_fail(err, GROOT_ERR_INTERNAL, "NFC: composing: %s", utf8proc_errmsg(bytes));
    *out = (const unsigned char *)nfc->cps;
    *out_len = (size_t)bytes;
    return GROOT_OK;
}
