/* libFuzzer target for the tokenizer: any bytes must give either ids or
 * GROOT_ERR_INVALID_ARG (exactly when they are not UTF-8), never a crash; and
 * text without added tokens must decode back to its NFC form.
 *   fuzz_tokenizer -max_total_time=30 [corpus dir] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "text/prompt.h"
#include "text/tokenizer.h"

/* libFuzzer calls back into one process: the tokenizer is loaded once. */
static gr_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    gr_error err = {0};
    if (gr_tokenizer_load(GROOT_ASSETS_DIR "/eagle2_hg_model", &tok, &err) != GROOT_OK) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
        abort();
    }
    return 0;
}

/* utf8proc's own reading of the bytes, as an independent validity check. */
static int utf8proc_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t w = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (w <= 0)
            return 0;
        i += (size_t)w;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gr_error err = {0};
    const int32_t *ids;
    size_t n;
    int valid = gr_utf8_invalid_offset((const char *)data, size) == size;
    if (valid != utf8proc_valid(data, size))
        abort();
    groot_status st = gr_tokenizer_encode(tok, (const char *)data, size, &ids, &n, &err);
    if (st != (valid ? GROOT_OK : GROOT_ERR_INVALID_ARG))
        abort();
    if (!valid)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= gr_tokenizer_num_ids(tok))
            abort();

    if (!memchr(data, '<', size)) {
        int32_t *copy = malloc((n ? n : 1) * sizeof *copy);
        if (n)
            memcpy(copy, ids, n * sizeof *copy);
        const char *back;
        size_t blen;
        if (gr_tokenizer_decode(tok, copy, n, &back, &blen, &err) != GROOT_OK)
            abort();
        utf8proc_uint8_t *nfc = NULL;
        utf8proc_ssize_t nlen = utf8proc_map(data, (utf8proc_ssize_t)size, &nfc,
                                             UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (nlen < 0 || (size_t)nlen != blen || memcmp(nfc, back, blen))
            abort();
        free(nfc);
        free(copy);
    }

    /* The same bytes as an instruction (up to the first NUL). */
    char *instr = malloc(size + 1);
    memcpy(instr, data, size);
    instr[size] = '\0';
    if (gr_prompt_ids(tok, 1 + (size % 3), instr, 4, &ids, &n, &err) != GROOT_OK)
        abort();
    free(instr);
    return 0;
}
