/*
 * .npy files (NumPy's array format) <-> groot_array, for the wire protocol:
 * the reference clients send every array as the bytes np.save writes.
 *
 * Decoding is strict because the bytes come from the network: the header is
 * parsed by a small literal parser (never eval'd), and every size is checked
 * against the bytes actually present before anything is allocated.
 */
#ifndef GROOT_SERVER_NPY_H
#define GROOT_SERVER_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "groot.h"

/* Decodes one .npy file. On success out->data points at a fresh malloc'd copy
 * (aligned for any dtype) that the caller frees with free((void *)out->data);
 * out->name is left NULL. max_bytes caps the array's data size (the server's
 * message limit). Returns 0, or -1 with a message in err. */
int npy_decode(const uint8_t *buf, size_t len, size_t max_bytes, groot_array *out, char *err,
               size_t errsz);

/* Encodes an array as format 1.0 bytes laid out as np.save lays them out
 * (header padded to 64 bytes). *out is malloc'd; free it. Returns 0, or -1
 * with a message in err. */
int npy_encode(const groot_array *a, uint8_t **out, size_t *out_len, char *err, size_t errsz);

/* The NumPy type string of a dtype ("<f4"), or NULL when it has none. */
const char *npy_descr(groot_dtype dt);
/* The dtype of a NumPy type string; -1 when unsupported. */
int npy_dtype_from_descr(const char *descr, groot_dtype *dt);
/* Bytes per element of a dtype (0 for an unknown value). */
size_t npy_itemsize(groot_dtype dt);
/* Product of the shape times itemsize, or -1 on a negative dim or overflow. */
int npy_nbytes(groot_dtype dt, int ndim, const int64_t *shape, size_t *nbytes);

#endif
