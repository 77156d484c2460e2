/*
 * .npy codec. Layout: "\x93NUMPY", major, minor, header length (2 bytes LE for
 * 1.0, 4 bytes for 2.0/3.0), then a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (16, 7), } padded with
 * spaces and a newline, then the raw C-order data.
 */
#include "server/npy.h"
#include "server/server_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *descr;
    groot_dtype dt;
    size_t size;
} DTYPES[] = {
    {"|u1", GROOT_U8, 1},  {"|i1", GROOT_I8, 1},  {"<i2", GROOT_I16, 2}, {"<i4", GROOT_I32, 4},
    {"<i8", GROOT_I64, 8}, {"<f2", GROOT_F16, 2}, {"<f4", GROOT_F32, 4}, {"<f8", GROOT_F64, 8},
    {"|b1", GROOT_BOOL, 1},
};
#define NUM_DTYPES (sizeof DTYPES / sizeof DTYPES[0])

const char *npy_descr(groot_dtype dt)
{
    for (size_t i = 0; i < NUM_DTYPES; i++)
        if (DTYPES[i].dt == dt) return DTYPES[i].descr;
    return NULL;
}

size_t npy_itemsize(groot_dtype dt)
{
    for (size_t i = 0; i < NUM_DTYPES; i++)
        if (DTYPES[i].dt == dt) return DTYPES[i].size;
    return 0;
}

int npy_dtype_from_descr(const char *descr, groot_dtype *dt)
{
    for (size_t i = 0; i < NUM_DTYPES; i++) {
        /* One-byte types have no byte order; writers differ on '|' vs '<'/'='. */
        const char *d = DTYPES[i].descr;
        if (strcmp(descr, d) == 0 ||
            (DTYPES[i].size == 1 && (descr[0] == '<' || descr[0] == '=') && strcmp(descr + 1, d + 1) == 0)) {
            *dt = DTYPES[i].dt;
            return 0;
        }
    }
    return -1;
}

int npy_nbytes(groot_dtype dt, int ndim, const int64_t *shape, size_t *nbytes)
{
    size_t n = npy_itemsize(dt);
    if (n == 0 || ndim < 0 || ndim > GROOT_MAX_DIMS) return -1;
    /* Any zero dim makes an empty array, whatever the others claim. */
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            *nbytes = 0;
            return 0;
        }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX / n) return -1;
        n *= (size_t)shape[i];
    }
    *nbytes = n;
    return 0;
}

/* ---- the header's dict literal ---- */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes (none of the three keys or any dtype needs one). */
static int parse_str(cursor *c, char *out, size_t outsz)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= outsz) return -1;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[n] = 0;
    return 0;
}

static int parse_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

static int parse_shape(cursor *c, int *ndim, int64_t *shape, char *err, size_t errsz)
{
    if (!eat(c, '(')) return srv_fail(err, errsz, "npy header: 'shape' is not a tuple");
    *ndim = 0;
    for (;;) {
        if (eat(c, ')')) return 0;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return srv_fail(err, errsz, "npy header: 'shape' holds something other than non-negative integers");
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            int d = *c->p++ - '0';
            if (v > (INT64_MAX - d) / 10) return srv_fail(err, errsz, "npy header: a dimension overflows 64 bits");
            v = v * 10 + d;
        }
        if (*ndim >= GROOT_MAX_DIMS)
            return srv_fail(err, errsz, "npy header: more than %d dimensions", GROOT_MAX_DIMS);
        shape[(*ndim)++] = v;
        /* Python needs the comma in a 1-tuple and allows one after the last item. */
        if (eat(c, ',')) continue;
        if (eat(c, ')')) return *ndim == 1 ? srv_fail(err, errsz, "npy header: 'shape' (n) is not a tuple") : 0;
        return srv_fail(err, errsz, "npy header: malformed 'shape' tuple");
    }
}

static int parse_header(const char *h, size_t hlen, groot_dtype *dt, int *ndim, int64_t *shape, char *err,
                        size_t errsz)
{
    cursor c = {h, h + hlen};
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!eat(&c, '{')) return srv_fail(err, errsz, "npy header is not a dict literal");
    for (;;) {
        if (eat(&c, '}')) break;
        char key[32], descr[32];
        if (parse_str(&c, key, sizeof key) != 0) return srv_fail(err, errsz, "npy header: malformed key");
        if (!eat(&c, ':')) return srv_fail(err, errsz, "npy header: missing ':' after '%s'", key);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (parse_str(&c, descr, sizeof descr) != 0)
                return srv_fail(err, errsz, "npy header: 'descr' is not a simple type string "
                                        "(structured or object arrays are not accepted)");
            if (npy_dtype_from_descr(descr, dt) != 0)
                return srv_fail(err, errsz,
                            "npy: unsupported dtype '%s' (accepted: |u1 |i1 <i2 <i4 <i8 <f2 <f4 <f8 |b1)", descr);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (parse_word(&c, "True"))
                return srv_fail(err, errsz, "npy: fortran_order True is not accepted (send a C-order array)");
            if (!parse_word(&c, "False")) return srv_fail(err, errsz, "npy header: 'fortran_order' is not a bool");
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (parse_shape(&c, ndim, shape, err, errsz) != 0) return -1;
            have_shape = 1;
        } else {
            return srv_fail(err, errsz, "npy header: unexpected or repeated key '%s'", key);
        }
        if (eat(&c, '}')) break;
        if (!eat(&c, ',')) return srv_fail(err, errsz, "npy header: missing ',' after '%s'", key);
    }
    skip_ws(&c);
    if (c.p != c.end) return srv_fail(err, errsz, "npy header: trailing bytes after the dict");
    if (!have_descr || !have_order || !have_shape)
        return srv_fail(err, errsz, "npy header: missing '%s'",
                    !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return 0;
}

int npy_decode(const uint8_t *buf, size_t len, size_t max_bytes, groot_array *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (!buf || len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return srv_fail(err, errsz, "not a .npy file (bad magic)");
    unsigned major = buf[6], minor = buf[7];
    size_t prefix, hlen;
    if (major == 1) {
        prefix = 10;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if (major == 2 || major == 3) {
        if (len < 12) return srv_fail(err, errsz, "npy: truncated header");
        prefix = 12;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    } else {
        return srv_fail(err, errsz, "npy: unsupported format version %u.%u", major, minor);
    }
    if (minor != 0) return srv_fail(err, errsz, "npy: unsupported format version %u.%u", major, minor);
    if (hlen > len - prefix)
        return srv_fail(err, errsz, "npy: header length %zu runs past the %zu bytes present", hlen, len - prefix);
    for (size_t i = 0; i < hlen; i++)
        if (buf[prefix + i] == 0 || buf[prefix + i] > 0x7e)
            return srv_fail(err, errsz, "npy: header holds a non-ASCII byte at offset %zu", prefix + i);

    groot_dtype dt = GROOT_F32;
    int ndim = 0;
    int64_t shape[GROOT_MAX_DIMS] = {0};
    if (parse_header((const char *)buf + prefix, hlen, &dt, &ndim, shape, err, errsz) != 0) return -1;

    size_t nbytes;
    if (npy_nbytes(dt, ndim, shape, &nbytes) != 0) return srv_fail(err, errsz, "npy: the shape's size overflows");
    if (nbytes > max_bytes)
        return srv_fail(err, errsz, "npy: the array claims %zu bytes, over the %zu-byte limit", nbytes, max_bytes);
    size_t have = len - prefix - hlen;
    if (nbytes != have)
        return srv_fail(err, errsz, "npy: the header claims %zu data bytes but %zu are present", nbytes, have);

    void *data = malloc(nbytes ? nbytes : 1);
    if (!data) return srv_fail(err, errsz, "npy: out of memory for %zu bytes", nbytes);
    if (nbytes) memcpy(data, buf + prefix + hlen, nbytes);
    out->dtype = dt;
    out->ndim = ndim;
    memcpy(out->shape, shape, sizeof shape);
    out->data = data;
    return 0;
}

int npy_encode(const groot_array *a, uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    *out = NULL;
    *out_len = 0;
    const char *descr = npy_descr(a->dtype);
    if (!descr) return srv_fail(err, errsz, "npy: dtype %d has no NumPy equivalent", (int)a->dtype);
    size_t nbytes;
    if (npy_nbytes(a->dtype, a->ndim, a->shape, &nbytes) != 0)
        return srv_fail(err, errsz, "npy: bad shape for '%s'", a->name ? a->name : "?");
    if (nbytes && !a->data) return srv_fail(err, errsz, "npy: '%s' has no data", a->name ? a->name : "?");

    /* The dict exactly as np.save words it, so a byte comparison with NumPy holds. */
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < a->ndim; i++)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, i ? ", %lld" : "%lld", (long long)a->shape[i]);
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%s), }", a->ndim == 1 ? "," : "");
    if (a->ndim > 0) {
        /* np.save leaves room for the first axis to grow to 21 digits. */
        char first[32];
        int w = snprintf(first, sizeof first, "%lld", (long long)a->shape[0]);
        for (int i = w; i < 21; i++) hdr[n++] = ' ';
        hdr[n] = 0;
    }
    size_t body = (size_t)n + 1; /* + '\n' */
    size_t pad = 64 - (10 + body) % 64; /* NumPy pads a full 64 rather than 0 */
    size_t hlen = body + pad;
    if (hlen > 65535) return srv_fail(err, errsz, "npy: header too long");
    size_t total = 10 + hlen + nbytes;
    uint8_t *b = malloc(total);
    if (!b) return srv_fail(err, errsz, "npy: out of memory for %zu bytes", total);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)(hlen & 0xff);
    b[9] = (uint8_t)(hlen >> 8);
    memcpy(b + 10, hdr, (size_t)n);
    memset(b + 10 + n, ' ', pad);
    b[10 + hlen - 1] = '\n';
    if (nbytes) memcpy(b + 10 + hlen, a->data, nbytes);
    *out = b;
    *out_len = total;
    return 0;
}
