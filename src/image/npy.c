/*
 * NumPy .npy files holding one uint8 [H, W, 3] image, read and written.
 *
 * The header is a Python dict literal; the parser accepts exactly the three
 * keys numpy writes ('descr', 'fortran_order', 'shape') in any order, with
 * any spacing and an optional trailing comma, and rejects everything else by
 * name rather than guessing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "io/json_util.h" /* gr_read_file */

#define NPY_MAX_DIMS 8

typedef struct npy_cursor {
    const char *p, *end;
} npy_cursor;

static void skip_ws(npy_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(npy_cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes (numpy never writes any). */
static int read_str(npy_cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap)
            return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int read_word(npy_cursor *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* "(480, 640, 3)", "(5,)" or "()"; dims must be non-negative and < 2^31. */
static int read_shape(npy_cursor *c, long long *dims, int *ndim)
{
    if (!eat(c, '('))
        return 0;
    *ndim = 0;
    for (;;) {
        if (eat(c, ')'))
            return 1;
        skip_ws(c);
        long long v = 0;
        int digits = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            v = v * 10 + (*c->p++ - '0');
            if (v > 0x7fffffffLL)
                return 0;
            digits++;
        }
        if (!digits)
            return 0;
        if (*ndim >= NPY_MAX_DIMS)
            return 0;
        dims[(*ndim)++] = v;
        if (!eat(c, ',')) {
            if (eat(c, ')'))
                return 1;
            return 0;
        }
    }
}

groot_status gr_npy_parse_u8(const uint8_t *buf, size_t len, const char *what,
                             const uint8_t **data, int *height, int *width, gr_error *err)
{
    static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (len < 10 || memcmp(buf, magic, 6) != 0)
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: not a .npy file (expected the \\x93NUMPY magic)",
                       what);
    int major = buf[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: truncated .npy header", what);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: .npy format version %d.%d: expected 1.0 or 2.0",
                       what, major, buf[7]);
    }
    if (hlen > len - hstart)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: truncated .npy header (%zu header bytes announced, %zu present)", what,
                       hlen, len - hstart);

    npy_cursor c = {(const char *)buf + hstart, (const char *)buf + hstart + hlen};
    char descr[32] = "", key[32];
    int fortran = -1, have_shape = 0, ndim = 0;
    long long dims[NPY_MAX_DIMS];
    if (!eat(&c, '{'))
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: .npy header is not a dict literal", what);
    for (;;) {
        if (eat(&c, '}'))
            break;
        if (!read_str(&c, key, sizeof key) || !eat(&c, ':'))
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: malformed .npy header dict", what);
        if (strcmp(key, "descr") == 0) {
            if (!read_str(&c, descr, sizeof descr))
                return gr_fail(err, GROOT_ERR_FORMAT,
                               "%s: .npy 'descr' is not a simple dtype string (structured "
                               "dtypes are not images)", what);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (read_word(&c, "True"))
                fortran = 1;
            else if (read_word(&c, "False"))
                fortran = 0;
            else
                return gr_fail(err, GROOT_ERR_FORMAT,
                               "%s: .npy 'fortran_order' must be True or False", what);
        } else if (strcmp(key, "shape") == 0) {
            if (!read_shape(&c, dims, &ndim))
                return gr_fail(err, GROOT_ERR_FORMAT,
                               "%s: .npy 'shape' is not a tuple of non-negative integers", what);
            have_shape = 1;
        } else {
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: unknown .npy header key '%s'", what, key);
        }
        if (!eat(&c, ',')) {
            if (eat(&c, '}'))
                break;
            return gr_fail(err, GROOT_ERR_FORMAT, "%s: malformed .npy header dict", what);
        }
    }
    if (!descr[0] || fortran < 0 || !have_shape)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: .npy header lacks %s", what,
                       !descr[0] ? "'descr'" : fortran < 0 ? "'fortran_order'" : "'shape'");
    if (strcmp(descr, "|u1") != 0 && strcmp(descr, "<u1") != 0 && strcmp(descr, "u1") != 0 &&
        strcmp(descr, ">u1") != 0)
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: .npy dtype '%s': expected uint8 ('|u1')", what,
                       descr);
    if (fortran)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: .npy in Fortran order: expected C order (np.ascontiguousarray)", what);
    if (ndim != 3 || dims[2] != 3 || dims[0] <= 0 || dims[1] <= 0) {
        char shp[128] = "";
        size_t o = 0;
        for (int i = 0; i < ndim && o < sizeof shp; i++)
            o += (size_t)snprintf(shp + o, sizeof shp - o, i ? ", %lld" : "%lld", dims[i]);
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: .npy shape (%s): expected (H, W, 3) with H, W > 0",
                       what, shp);
    }
    size_t need = (size_t)dims[0] * (size_t)dims[1] * 3;
    size_t have = len - hstart - hlen;
    if (have < need)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: .npy data truncated: shape (%lld, %lld, 3) needs %zu bytes, %zu present",
                       what, dims[0], dims[1], need, have);
    *data = buf + hstart + hlen;
    *height = (int)dims[0];
    *width = (int)dims[1];
    return GROOT_OK;
}

groot_status gr_npy_read_u8(const char *path, uint8_t **pixels, int *height, int *width,
                            gr_error *err)
{
    char *text = NULL;
    size_t len = 0;
    GR_TRY(gr_read_file(path, &text, &len, err));
    const uint8_t *data;
    int h, w;
    groot_status st = gr_npy_parse_u8((const uint8_t *)text, len, path, &data, &h, &w, err);
    if (st != GROOT_OK) {
        free(text);
        return st;
    }
    size_t n = (size_t)h * w * 3;
    /* Move the pixels to the front of the buffer we already own. */
    memmove(text, data, n);
    *pixels = (uint8_t *)text;
    *height = h;
    *width = w;
    return GROOT_OK;
}

groot_status gr_npy_write_u8(const char *path, const uint8_t *pixels, int height, int width,
                             gr_error *err)
{
    if (height <= 0 || width <= 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "%s: image of %dx%d: expected a positive size",
                       path, height, width);
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, 3), }",
                     height, width);
    /* Version 1.0; magic + version + length + dict + padding + '\n' is a
     * multiple of 64, as numpy aligns it. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    uint8_t head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff),
                        (uint8_t)(hlen >> 8)};
    FILE *f = fopen(path, "wb");
    if (!f)
        return gr_fail(err, GROOT_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    size_t npx = (size_t)height * width * 3;
    int ok = fwrite(head, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
    for (size_t i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(pixels, 1, npx, f) == npx;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        return gr_fail(err, GROOT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return GROOT_OK;
}
