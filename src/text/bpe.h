/*
 * The byte-level BPE model of Qwen2 (SPEC.md section 2): the vocabulary
 * (vocab.json), the ranked merges (merges.txt) and the GPT-2 byte alphabet.
 *
 * Tokens are strings over the byte alphabet: each byte 0..255 stands for one
 * printable code point, so every token is valid UTF-8 and every byte has a
 * single-character token. A piece of text is split into its bytes' tokens
 * and adjacent pairs are merged lowest rank first until no merge applies.
 */
#ifndef GR_TEXT_BPE_H
#define GR_TEXT_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct gr_bpe gr_bpe;

/* Loads vocab.json and merges.txt. Any inconsistency (a merge whose parts or
 * result are not in the vocabulary, a missing byte token, a duplicate id) is
 * GROOT_ERR_FORMAT naming the file and line or token. */
groot_status gr_bpe_load(const char *vocab_path, const char *merges_path, gr_bpe **out,
                         gr_error *err);
void gr_bpe_free(gr_bpe *bpe);

/* Appends the ids of one pre-tokenized piece (raw UTF-8 bytes, before the
 * byte alphabet) to *ids, growing it (capacity *cap) with realloc. Uses
 * scratch space inside bpe, so one bpe serves one thread at a time. */
groot_status gr_bpe_encode_piece(gr_bpe *bpe, const unsigned char *piece, size_t len,
                                 int32_t **ids, size_t *n, size_t *cap, gr_error *err);

/* Number of id slots (largest vocabulary id + 1). */
int32_t gr_bpe_num_ids(const gr_bpe *bpe);

/* Id of a token given in the byte alphabet ("Ġthe"), or -1. */
int32_t gr_bpe_token_id(const gr_bpe *bpe, const char *token, size_t len);

/* Appends the raw bytes that token id stands for to buf (size *len, capacity
 * *cap). GROOT_ERR_INVALID_ARG when id is not in the vocabulary. */
groot_status gr_bpe_decode_id(const gr_bpe *bpe, int32_t id, char **buf, size_t *len,
                              size_t *cap, gr_error *err);

/* 64-bit FNV-1a, shared by the tokenizer's tables. */
uint64_t gr_text_hash(const void *data, size_t len);

/* Grows a buffer of elem-sized items so that it holds at least need items
 * (doubling), keeping its contents. */
groot_status gr_text_reserve(void **buf, size_t *cap, size_t need, size_t elem, gr_error *err);

#endif
