/* libFuzzer target for the server's .npy decoder: any bytes give an array or
 * an error, never a crash, a leak or a read past the bytes given; an array
 * that decodes has a sane shape and re-encodes to bytes that decode to the
 * same array.
 *   fuzz_npy -max_total_time=30 [corpus dir] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/npy.h"

#define MAX_BYTES ((size_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so that ASan sees any over-read. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);
    char err[256] = "";
    groot_array a;
    /* A tight data limit too, from the first byte, to cover the cap. */
    size_t cap = size && (buf[0] & 1) ? (size_t)buf[0] * 8 : MAX_BYTES;
    if (npy_decode(buf, size, cap, &a, err, sizeof err) != 0) {
        if (!err[0])
            abort();
        free(buf);
        return 0;
    }
    size_t nbytes;
    if (a.ndim < 0 || a.ndim > GROOT_MAX_DIMS || !a.data || a.name ||
        npy_nbytes(a.dtype, a.ndim, a.shape, &nbytes) != 0 || nbytes > cap || nbytes > size)
        abort();
    /* Every byte of the copy is readable. */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < nbytes; i++)
        sum ^= ((const uint8_t *)a.data)[i];
    (void)sum;

    uint8_t *enc;
    size_t enc_len;
    if (npy_encode(&a, &enc, &enc_len, err, sizeof err) != 0)
        abort();
    groot_array b;
    if (npy_decode(enc, enc_len, MAX_BYTES, &b, err, sizeof err) != 0)
        abort();
    if (b.dtype != a.dtype || b.ndim != a.ndim ||
        memcmp(b.shape, a.shape, (size_t)a.ndim * sizeof a.shape[0]) != 0 ||
        (nbytes && memcmp(a.data, b.data, nbytes) != 0))
        abort();
    free((void *)b.data);
    free(enc);
    free((void *)a.data);
    free(buf);
    return 0;
}
