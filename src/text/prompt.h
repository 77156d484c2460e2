/*
 * The backbone's prompt (SPEC.md section 2): the reference's chat template
 * with one user turn, followed by its processor's image expansion, so that
 * each of the V camera views becomes "<image k><img>" + tokens_per_image
 * "<IMG_CONTEXT>" + "</img>" ahead of the instruction.
 */
#ifndef GR_TEXT_PROMPT_H
#define GR_TEXT_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "text/tokenizer.h"

/* Most views and image tokens a prompt may hold (far above any real camera
 * setup; keeps sizes well inside int). */
#define GR_PROMPT_MAX_VIEWS 64
#define GR_PROMPT_MAX_IMAGE_TOKENS 16384

/* The prompt string for num_views images (1..GR_PROMPT_MAX_VIEWS) and a
 * NUL-terminated UTF-8 instruction. *out is malloc'ed and NUL-terminated;
 * len may be NULL. */
groot_status gr_prompt_build(int num_views, const char *instruction, int tokens_per_image,
                             char **out, size_t *len, gr_error *err);

/* The prompt's token ids: the tokenization of gr_prompt_build's string, as the
 * reference tokenizes it (an added token written in the instruction is
 * matched too). *ids is owned by tok and valid until its next call. */
groot_status gr_prompt_ids(gr_tokenizer *tok, int num_views, const char *instruction,
                           int tokens_per_image, const int32_t **ids, size_t *num_ids,
                           gr_error *err);

#endif
