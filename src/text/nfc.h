/*
 * Unicode NFC of valid UTF-8 text, the normalization the reference applies
 * between added tokens.
 *
 * utf8proc_map gives the same result but puts combining marks in canonical
 * order with an exchange sort, quadratic in the length of a run of marks:
 * 100k marks in one instruction take it tens of seconds. Here utf8proc still
 * decomposes each character and composes the result; only the reordering is
 * done in linear time (a stable counting sort by combining class).
 */
#ifndef GR_TEXT_NFC_H
#define GR_TEXT_NFC_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Scratch space reused across calls; zero-initialize, release with gr_nfc_free. */
typedef struct gr_nfc {
    int32_t *cps, *tmp_cps;
    uint8_t *cls, *tmp_cls;
    size_t cap, tmp_cap;
} gr_nfc;

/* NFC of len bytes of valid UTF-8 at s. *out points into nfc's scratch
 * (valid until its next use) and holds *out_len bytes. */
groot_status gr_nfc_apply(gr_nfc *nfc, const unsigned char *s, size_t len,
                          const unsigned char **out, size_t *out_len, gr_error *err);

void gr_nfc_free(gr_nfc *nfc);

#endif
