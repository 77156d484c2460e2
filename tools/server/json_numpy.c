/* json_numpy arrays <-> groot_array, with a base64 codec of our own. */
#include "server/json_numpy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/npy.h"
#include "server/server_error.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *b64_encode(const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3) return NULL;
    size_t n = (len + 2) / 3 * 4;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        s[o++] = B64[v >> 18], s[o++] = B64[v >> 12 & 63], s[o++] = B64[v >> 6 & 63], s[o++] = B64[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        s[o++] = B64[v >> 18], s[o++] = B64[v >> 12 & 63], s[o++] = '=', s[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        s[o++] = B64[v >> 18], s[o++] = B64[v >> 12 & 63], s[o++] = B64[v >> 6 & 63], s[o++] = '=';
    }
    s[o] = 0;
    return s;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int b64_decode(const char *s, size_t slen, size_t max_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (slen % 4 != 0) return -1;
    size_t pad = 0;
    if (slen >= 1 && s[slen - 1] == '=') pad++;
    if (slen >= 2 && s[slen - 2] == '=') pad++;
    size_t n = slen / 4 * 3 - pad;
    if (n > max_len) return -1;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return -1;
    size_t o = 0;
    for (size_t i = 0; i < slen; i += 4) {
        int last = i + 4 == slen;
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = b64_value(s[i + k]);
            /* '=' only as the padding of the last group */
            if (v[k] < 0 && !(last && s[i + k] == '=' && k >= 4 - (int)pad)) {
                free(b);
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
        if (v[2] >= 0) w |= (uint32_t)v[2] << 6;
        if (v[3] >= 0) w |= (uint32_t)v[3];
        b[o++] = (uint8_t)(w >> 16);
        if (o < n) b[o++] = (uint8_t)(w >> 8 & 0xff);
        if (o < n) b[o++] = (uint8_t)(w & 0xff);
    }
    *out = b;
    *out_len = n;
    return 0;
}

int json_numpy_is_array(const cJSON *item)
{
    return cJSON_IsObject(item) && cJSON_GetObjectItemCaseSensitive(item, "__numpy__") != NULL;
}

int json_numpy_decode(const cJSON *item, size_t max_bytes, groot_array *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(item, "__numpy__");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsString(data) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape))
        return srv_fail(err, errsz, "a json_numpy array needs \"__numpy__\" (string), \"dtype\" (string) and \"shape\" (list)");
    groot_dtype dt;
    if (npy_dtype_from_descr(dtype->valuestring, &dt) != 0)
        return srv_fail(err, errsz, "unsupported dtype '%s' (accepted: |u1 |i1 <i2 <i4 <i8 <f2 <f4 <f8 |b1)",
                    dtype->valuestring);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > GROOT_MAX_DIMS) return srv_fail(err, errsz, "more than %d dimensions", GROOT_MAX_DIMS);
    int64_t dims[GROOT_MAX_DIMS] = {0};
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape)
    {
        double v = cJSON_IsNumber(d) ? d->valuedouble : -1;
        if (!(v >= 0 && v <= 9007199254740992.0) || floor(v) != v)
            return srv_fail(err, errsz, "\"shape\" holds something other than non-negative integers");
        dims[i++] = (int64_t)v;
    }
    size_t nbytes;
    if (npy_nbytes(dt, ndim, dims, &nbytes) != 0) return srv_fail(err, errsz, "the shape's size overflows");
    if (nbytes > max_bytes)
        return srv_fail(err, errsz, "the array claims %zu bytes, over the %zu-byte limit", nbytes, max_bytes);
    uint8_t *bytes;
    size_t got;
    if (b64_decode(data->valuestring, strlen(data->valuestring), nbytes, &bytes, &got) != 0)
        return srv_fail(err, errsz, "\"__numpy__\" is not base64 of at most %zu bytes", nbytes);
    if (got != nbytes) {
        free(bytes);
        return srv_fail(err, errsz, "the shape and dtype claim %zu bytes but \"__numpy__\" holds %zu", nbytes, got);
    }
    out->dtype = dt;
    out->ndim = ndim;
    memcpy(out->shape, dims, sizeof dims);
    out->data = bytes;
    return 0;
}

cJSON *json_numpy_encode(const groot_array *a, char *err, size_t errsz)
{
    const char *descr = npy_descr(a->dtype);
    size_t nbytes;
    if (!descr || npy_nbytes(a->dtype, a->ndim, a->shape, &nbytes) != 0) {
        srv_fail(err, errsz, "array '%s' has no json_numpy form", a->name ? a->name : "?");
        return NULL;
    }
    char *b64 = b64_encode(a->data, nbytes);
    cJSON *o = cJSON_CreateObject();
    cJSON *shape = cJSON_CreateArray();
    if (!b64 || !o || !shape) goto oom;
    for (int i = 0; i < a->ndim; i++) {
        cJSON *n = cJSON_CreateNumber((double)a->shape[i]);
        if (!n) goto oom;
        cJSON_AddItemToArray(shape, n);
    }
    if (!cJSON_AddStringToObject(o, "__numpy__", b64) || !cJSON_AddStringToObject(o, "dtype", descr)) goto oom;
    cJSON_AddItemToObject(o, "shape", shape);
    free(b64);
    return o;
oom:
    free(b64);
    cJSON_Delete(shape);
    cJSON_Delete(o);
    srv_fail(err, errsz, "out of memory encoding '%s'", a->name ? a->name : "?");
    return NULL;
}
