/*
 * The Qwen2 tokenizer of SPEC.md section 2: added tokens matched literally
 * (leftmost, longest first, never split), the text between them NFC-normalized,
 * split by the pre-tokenization regex, and each piece byte-level BPE encoded.
 * No BOS/EOS is added.
 *
 * A tokenizer object owns its output buffers and scratch space: one object
 * serves one thread at a time.
 */
#ifndef GR_TEXT_TOKENIZER_H
#define GR_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct gr_tokenizer gr_tokenizer;

/* Loads vocab.json, merges.txt and added_tokens.json from dir (the
 * eagle2_hg_model directory). */
groot_status gr_tokenizer_load(const char *dir, gr_tokenizer **out, gr_error *err);
void gr_tokenizer_free(gr_tokenizer *tok);

/* Encodes len bytes of UTF-8 text. *ids is owned by tok and valid until its
 * next encode. Invalid UTF-8 is GROOT_ERR_INVALID_ARG naming the byte offset. */
groot_status gr_tokenizer_encode(gr_tokenizer *tok, const char *text, size_t len,
                                 const int32_t **ids, size_t *num_ids, gr_error *err);

/* The bytes the ids stand for (added tokens as their literal text), NUL-
 * terminated; *text is owned by tok and valid until its next decode. Decoding
 * an encoding gives back the NFC-normalized input. */
groot_status gr_tokenizer_decode(gr_tokenizer *tok, const int32_t *ids, size_t num_ids,
                                 const char **text, size_t *len, gr_error *err);

/* Id of an added token ("<IMG_CONTEXT>"), or -1. */
int32_t gr_tokenizer_added_id(const gr_tokenizer *tok, const char *content);

/* One more than the largest id (vocabulary and added tokens). */
int32_t gr_tokenizer_num_ids(const gr_tokenizer *tok);

/* Offset of the first byte that does not start a well-formed UTF-8 sequence
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), or len
 * when all of s is well formed. */
size_t gr_utf8_invalid_offset(const char *s, size_t len);

#endif
