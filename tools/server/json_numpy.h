/*
 * Arrays in JSON as the json_numpy package writes them, for the HTTP API:
 * {"__numpy__": BASE64 of the raw C-order bytes, "dtype": "<f4", "shape": [16, 7]}.
 */
#ifndef GROOT_SERVER_JSON_NUMPY_H
#define GROOT_SERVER_JSON_NUMPY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "groot.h"

/* Standard base64 with padding. b64_encode returns a malloc'd string or NULL. */
char *b64_encode(const void *data, size_t len);
/* Decodes into a malloc'd buffer; -1 on a bad character, bad padding or when
 * the result would exceed max_len. */
int b64_decode(const char *s, size_t slen, size_t max_len, uint8_t **out, size_t *out_len);

/* Whether a JSON value is a json_numpy array object. */
int json_numpy_is_array(const cJSON *item);
/* Decodes one; out->data is malloc'd (free it), out->name is left NULL. */
int json_numpy_decode(const cJSON *item, size_t max_bytes, groot_array *out, char *err, size_t errsz);
/* Encodes one as a new cJSON object, or NULL with a message in err. */
cJSON *json_numpy_encode(const groot_array *a, char *err, size_t errsz);

#endif
