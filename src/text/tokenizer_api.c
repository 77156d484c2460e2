/* The public tokenizer handle (include/groot.h) over gr_tokenizer. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "text/tokenizer.h"

#ifndef GROOT_ASSETS_DIR
#define GROOT_ASSETS_DIR "assets"
#endif

struct groot_tokenizer {
    gr_handle h; /* first, so that groot_errmsg reads any handle */
    gr_tokenizer *impl;
};

groot_status groot_tokenizer_open(const char *assets_dir, groot_tokenizer **out)
{
    if (!out)
        return GROOT_ERR_INVALID_ARG;
    groot_tokenizer *t = calloc(1, sizeof *t);
    *out = t;
    if (!t)
        return GROOT_ERR_NOMEM;
    gr_handle_init(&t->h);
    char dir[4096];
    const char *base = assets_dir ? assets_dir : GROOT_ASSETS_DIR;
    int n = snprintf(dir, sizeof dir, "%s/eagle2_hg_model", base);
    if (n < 0 || (size_t)n >= sizeof dir)
        return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG, "assets path too long: '%s'", base);
    groot_status st = gr_tokenizer_load(dir, &t->impl, &t->h.err);
    if (st != GROOT_OK)
        gr_error_prefix(&t->h.err, "opening the tokenizer in '%s'", dir);
    return st;
}

void groot_tokenizer_close(groot_tokenizer *tok)
{
    if (!tok)
        return;
    gr_tokenizer_free(tok->impl);
    free(tok);
}

groot_status groot_tokenize(groot_tokenizer *tok, const char *text, size_t len,
                            const int32_t **ids, size_t *num_ids)
{
    if (!tok)
        return GROOT_ERR_INVALID_ARG;
    gr_error_clear(&tok->h.err);
    if (!ids || !num_ids)
        return gr_fail(&tok->h.err, GROOT_ERR_INVALID_ARG, "groot_tokenize: ids and num_ids are required");
    *ids = NULL;
    *num_ids = 0;
    if (!tok->impl)
        return gr_fail(&tok->h.err, GROOT_ERR_INVALID_ARG, "the tokenizer did not open");
    return gr_tokenizer_encode(tok->impl, text, len, ids, num_ids, &tok->h.err);
}
