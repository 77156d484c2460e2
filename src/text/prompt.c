#include "text/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the chat template writes around a single user message, with the
 * system message the reference's processor adds. */
static const char HEAD[] = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                           "<|im_start|>user\n";
static const char TAIL[] = "<|im_end|>\n<|im_start|>assistant\n";
static const char IMAGE_TOKEN[] = "<IMG_CONTEXT>";

groot_status gr_prompt_build(int num_views, const char *instruction, int tokens_per_image,
                             char **out, size_t *len, gr_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (num_views < 1 || num_views > GR_PROMPT_MAX_VIEWS)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "prompt: %d camera views (expected 1..%d)",
                       num_views, GR_PROMPT_MAX_VIEWS);
    if (tokens_per_image < 1 || tokens_per_image > GR_PROMPT_MAX_IMAGE_TOKENS)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "prompt: %d tokens per image (expected 1..%d)",
                       tokens_per_image, GR_PROMPT_MAX_IMAGE_TOKENS);
    if (!instruction)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "prompt: the instruction is NULL");
    size_t ilen = strlen(instruction);
    size_t bad = gr_utf8_invalid_offset(instruction, ilen);
    if (bad < ilen)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "prompt: the instruction is not valid UTF-8 (byte 0x%02X at byte offset %zu)",
                       (unsigned char)instruction[bad], bad);

    /* "<image k><img>" + image tokens + "</img>" per view; k has at most 2 digits. */
    size_t per_view = strlen("<image 99><img></img>") + (size_t)tokens_per_image * strlen(IMAGE_TOKEN);
    size_t cap = strlen(HEAD) + (size_t)num_views * per_view + ilen + strlen(TAIL) + 1;
    char *s = malloc(cap);
    if (!s)
        return gr_fail(err, GROOT_ERR_NOMEM, "prompt: out of memory (%zu bytes)", cap);
    size_t n = 0;
    memcpy(s, HEAD, strlen(HEAD));
    n += strlen(HEAD);
    for (int v = 1; v <= num_views; v++) {
        n += (size_t)snprintf(s + n, cap - n, "<image %d><img>", v);
        for (int t = 0; t < tokens_per_image; t++) {
            memcpy(s + n, IMAGE_TOKEN, strlen(IMAGE_TOKEN));
            n += strlen(IMAGE_TOKEN);
        }
        memcpy(s + n, "</img>", strlen("</img>"));
        n += strlen("</img>");
    }
    memcpy(s + n, instruction, ilen);
    n += ilen;
    memcpy(s + n, TAIL, strlen(TAIL) + 1);
    n += strlen(TAIL);
    *out = s;
    if (len)
        *len = n;
    return GROOT_OK;
}

groot_status gr_prompt_ids(gr_tokenizer *tok, int num_views, const char *instruction,
                           int tokens_per_image, const int32_t **ids, size_t *num_ids,
                           gr_error *err)
{
    *ids = NULL;
    *num_ids = 0;
    char *prompt = NULL;
    size_t len = 0;
    GR_TRY(gr_prompt_build(num_views, instruction, tokens_per_image, &prompt, &len, err));
    groot_status st = gr_tokenizer_encode(tok, prompt, len, ids, num_ids, err);
    free(prompt);
    return st;
}
