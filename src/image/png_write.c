/*
 * A minimal PNG encoder: 8-bit RGB, filter 0 on every row, and a zlib stream
 * made of stored (uncompressed) deflate blocks. Every decoder reads it, and
 * it needs no compression library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    /* Bitwise CRC-32 (poly 0xEDB88320): no table, so no global state; the
     * CLI writes one small image, so speed does not matter. */
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

typedef struct png_out {
    FILE *f;
    int ok;
    uint32_t crc;  /* of the current chunk's type + data */
    uint32_t a, b; /* Adler-32 halves of the zlib payload */
} png_out;

static void put(png_out *o, const void *p, size_t n)
{
    if (o->ok && fwrite(p, 1, n, o->f) != n)
        o->ok = 0;
}

static void put_be32(png_out *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 4);
}

/* Chunk data goes through chunk_data so that the CRC follows it. */
static void chunk_begin(png_out *o, const char type[4], uint32_t len)
{
    put_be32(o, len);
    put(o, type, 4);
    o->crc = crc_update(0, (const uint8_t *)type, 4);
}

static void chunk_data(png_out *o, const void *p, size_t n)
{
    put(o, p, n);
    o->crc = crc_update(o->crc, (const uint8_t *)p, n);
}

static void chunk_end(png_out *o)
{
    put_be32(o, o->crc);
}

static void adler(png_out *o, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        o->a = (o->a + p[i]) % 65521u;
        o->b = (o->b + o->a) % 65521u;
    }
}

groot_status gr_png_write_rgb(const char *path, const uint8_t *pixels, int height, int width,
                              gr_error *err)
{
    if (height <= 0 || width <= 0 || width > (1 << 24) || height > (1 << 24))
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "%s: image of %dx%d: unsupported size for PNG",
                       path, height, width);
    size_t row = (size_t)width * 3 + 1; /* filter byte + pixels */
    size_t raw = row * (size_t)height;
    size_t blocks = raw / 65535 + (raw % 65535 != 0);
    size_t zlen = 2 + raw + 5 * blocks + 4;
    if (zlen > 0x7fffffffu)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "%s: image of %dx%d too large for one IDAT",
                       path, height, width);

    png_out o = {.f = fopen(path, "wb"), .ok = 1, .a = 1, .b = 0};
    if (!o.f)
        return gr_fail(err, GROOT_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put(&o, sig, 8);

    uint8_t ihdr[13] = {(uint8_t)(width >> 24), (uint8_t)(width >> 16), (uint8_t)(width >> 8),
                        (uint8_t)width, (uint8_t)(height >> 24), (uint8_t)(height >> 16),
                        (uint8_t)(height >> 8), (uint8_t)height,
                        8 /* bit depth */, 2 /* RGB */, 0, 0, 0};
    chunk_begin(&o, "IHDR", 13);
    chunk_data(&o, ihdr, 13);
    chunk_end(&o);

    chunk_begin(&o, "IDAT", (uint32_t)zlen);
    static const uint8_t zhead[2] = {0x78, 0x01};
    chunk_data(&o, zhead, 2);
    /* Walk the raw stream (row filter bytes interleaved with pixel rows)
     * in stored blocks of at most 65535 bytes. */
    size_t pos = 0;
    static const uint8_t filter0 = 0;
    while (pos < raw) {
        size_t n = raw - pos < 65535 ? raw - pos : 65535;
        uint8_t bh[5] = {(uint8_t)(pos + n == raw), (uint8_t)n, (uint8_t)(n >> 8),
                         (uint8_t)~n, (uint8_t)(~n >> 8)};
        chunk_data(&o, bh, 5);
        size_t end = pos + n;
        while (pos < end) {
            size_t r = pos / row, c = pos % row;
            size_t take = row - c < end - pos ? row - c : end - pos;
            const uint8_t *src;
            if (c == 0) {
                src = &filter0;
                take = 1;
            } else {
                src = pixels + r * (row - 1) + (c - 1);
            }
            chunk_data(&o, src, take);
            adler(&o, src, take);
            pos += take;
        }
    }
    uint8_t ad[4] = {(uint8_t)(o.b >> 8), (uint8_t)o.b, (uint8_t)(o.a >> 8), (uint8_t)o.a};
    chunk_data(&o, ad, 4);
    chunk_end(&o);

    chunk_begin(&o, "IEND", 0);
    chunk_end(&o);
    if (fclose(o.f) != 0)
        o.ok = 0;
    if (!o.ok)
        return gr_fail(err, GROOT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return GROOT_OK;
}
