/* Bounded msgpack decoding into mp_node trees, and reply packing helpers. */
#include "server/msgpack_codec.h"
#include "server/server_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mp_limits_default(mp_limits *lim, size_t max_bytes)
{
    lim->max_bytes = max_bytes;
    lim->max_depth = MP_DEFAULT_MAX_DEPTH;
    lim->max_nodes = MP_DEFAULT_MAX_NODES;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Walks the message without allocating: every length is checked against the
 * bytes left, every container count against the bytes that could hold its
 * items (each takes at least one). Counts the nodes for the tree's pool. */
static int check_message(const uint8_t *b, size_t len, const mp_limits *lim, size_t *num_nodes, char *err,
                         size_t errsz)
{
    uint64_t remaining[MP_DEPTH_CAP + 2];
    int max_depth = lim->max_depth < 1 ? 1 : lim->max_depth > MP_DEPTH_CAP ? MP_DEPTH_CAP : lim->max_depth;
    int depth = 0;
    size_t pos = 0, nodes = 1;
    remaining[0] = 1;
    while (depth >= 0) {
        if (remaining[depth] == 0) {
            depth--;
            continue;
        }
        remaining[depth]--;
        if (pos >= len) return srv_fail(err, errsz, "msgpack: message truncated at byte %zu", pos);
        uint8_t t = b[pos++];
        uint64_t payload = 0, items = 0;
        int hdr = 0, is_map = 0, container = 0;
        if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
            /* fixint, nil, bool: the type byte is everything */
        } else if (t >= 0x80 && t <= 0x8f) {
            items = t & 0x0f, is_map = 1, container = 1;
        } else if (t >= 0x90 && t <= 0x9f) {
            items = t & 0x0f, container = 1;
        } else if (t >= 0xa0 && t <= 0xbf) {
            payload = t & 0x1f;
        } else {
            switch (t) {
            case 0xc4: case 0xd9: hdr = 1; break;
            case 0xc5: case 0xda: hdr = 2; break;
            case 0xc6: case 0xdb: hdr = 4; break;
            case 0xca: payload = 4; break;
            case 0xcb: payload = 8; break;
            case 0xcc: case 0xd0: payload = 1; break;
            case 0xcd: case 0xd1: payload = 2; break;
            case 0xce: case 0xd2: payload = 4; break;
            case 0xcf: case 0xd3: payload = 8; break;
            case 0xdc: hdr = 2, container = 1; break;
            case 0xdd: hdr = 4, container = 1; break;
            case 0xde: hdr = 2, container = 1, is_map = 1; break;
            case 0xdf: hdr = 4, container = 1, is_map = 1; break;
            case 0xc1: return srv_fail(err, errsz, "msgpack: invalid type byte 0xc1 at byte %zu", pos - 1);
            default: return srv_fail(err, errsz, "msgpack: ext types are not accepted (byte %zu)", pos - 1);
            }
            if (hdr) {
                if ((size_t)hdr > len - pos) return srv_fail(err, errsz, "msgpack: message truncated at byte %zu", pos);
                uint64_t v = be(b + pos, hdr);
                pos += (size_t)hdr;
                if (container) items = v;
                else payload = v;
            }
        }
        if (payload > len - pos)
            return srv_fail(err, errsz, "msgpack: a value claims %llu bytes but %zu remain (truncated)",
                        (unsigned long long)payload, len - pos);
        pos += (size_t)payload;
        if (container && items) {
            uint64_t slots = is_map ? items * 2 : items;
            if (slots > len - pos)
                return srv_fail(err, errsz, "msgpack: a container claims %llu items but only %zu bytes remain",
                            (unsigned long long)items, len - pos);
            if (depth + 1 > max_depth)
                return srv_fail(err, errsz, "msgpack: nesting deeper than %d levels", max_depth);
            nodes += (size_t)slots;
            if (nodes > lim->max_nodes)
                return srv_fail(err, errsz, "msgpack: more than %zu values in one message", lim->max_nodes);
            remaining[++depth] = slots;
        }
    }
    if (pos != len) return srv_fail(err, errsz, "msgpack: %zu trailing bytes after the message", len - pos);
    *num_nodes = nodes;
    return 0;
}

typedef struct {
    mp_node *pool;
    size_t used, cap;
} pool_t;

static mp_node *take(pool_t *p, size_t n)
{
    if (n > p->cap - p->used) return NULL;
    mp_node *r = p->pool + p->used;
    p->used += n;
    return r;
}

/* Recursion depth is bounded by the checker's depth limit. */
static int convert(const msgpack_object *o, mp_node *out, pool_t *pool)
{
    memset(out, 0, sizeof *out);
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: out->type = MP_NIL; return 0;
    case MSGPACK_OBJECT_BOOLEAN: out->type = MP_BOOL, out->v.b = o->via.boolean ? 1 : 0; return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: out->type = MP_UINT, out->v.u = o->via.u64; return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: out->type = MP_INT, out->v.i = o->via.i64; return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: out->type = MP_FLOAT, out->v.f = o->via.f64; return 0;
    case MSGPACK_OBJECT_STR:
        out->type = MP_STR, out->len = o->via.str.size, out->v.bytes = o->via.str.ptr;
        return 0;
    case MSGPACK_OBJECT_BIN:
        out->type = MP_BIN, out->len = o->via.bin.size, out->v.bytes = o->via.bin.ptr;
        return 0;
    case MSGPACK_OBJECT_ARRAY: {
        out->type = MP_ARRAY, out->len = o->via.array.size;
        out->v.items = take(pool, out->len);
        if (!out->v.items && out->len) return -1;
        for (uint32_t i = 0; i < out->len; i++)
            if (convert(&o->via.array.ptr[i], &out->v.items[i], pool) != 0) return -1;
        return 0;
    }
    case MSGPACK_OBJECT_MAP: {
        out->type = MP_MAP, out->len = o->via.map.size;
        out->v.items = take(pool, 2 * (size_t)out->len);
        if (!out->v.items && out->len) return -1;
        for (uint32_t i = 0; i < out->len; i++) {
            if (convert(&o->via.map.ptr[i].key, &out->v.items[2 * i], pool) != 0) return -1;
            if (convert(&o->via.map.ptr[i].val, &out->v.items[2 * i + 1], pool) != 0) return -1;
        }
        return 0;
    }
    default: return -1;
    }
}

int mp_parse(const void *buf, size_t len, const mp_limits *lim, mp_doc *doc, char *err, size_t errsz)
{
    memset(doc, 0, sizeof *doc);
    if (!buf || len == 0) return srv_fail(err, errsz, "msgpack: empty message");
    if (len > lim->max_bytes)
        return srv_fail(err, errsz, "message of %zu bytes is over the %zu-byte limit", len, lim->max_bytes);
    size_t nodes = 0;
    if (check_message(buf, len, lim, &nodes, err, errsz) != 0) return -1;

    msgpack_unpacked_init(&doc->unpacked);
    doc->has_unpacked = 1;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&doc->unpacked, buf, len, &off);
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        mp_doc_free(doc);
        return srv_fail(err, errsz, "msgpack: the message does not decode (%s)",
                    r == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory" : "malformed");
    }
    doc->pool = malloc(nodes * sizeof *doc->pool);
    if (!doc->pool) {
        mp_doc_free(doc);
        return srv_fail(err, errsz, "msgpack: out of memory for %zu values", nodes);
    }
    pool_t pool = {doc->pool, 0, nodes};
    doc->root = take(&pool, 1);
    if (convert(&doc->unpacked.data, doc->root, &pool) != 0) {
        mp_doc_free(doc);
        return srv_fail(err, errsz, "msgpack: decoder and checker disagree on the message's structure");
    }
    return 0;
}

void mp_doc_free(mp_doc *doc)
{
    if (doc->has_unpacked) msgpack_unpacked_destroy(&doc->unpacked);
    free(doc->pool);
    memset(doc, 0, sizeof *doc);
}

int mp_str_eq(const mp_node *node, const char *s)
{
    size_t n = strlen(s);
    if (!node || node->type != MP_STR || node->len != n) return 0;
    return n == 0 || memcmp(node->v.bytes, s, n) == 0;
}

const mp_node *mp_map_get(const mp_node *map, const char *key)
{
    if (!map || map->type != MP_MAP) return NULL;
    for (uint32_t i = 0; i < map->len; i++)
        if (mp_str_eq(&map->v.items[2 * i], key)) return &map->v.items[2 * i + 1];
    return NULL;
}

char *mp_strdup(const mp_node *node)
{
    if (!node || node->type != MP_STR || (node->len && memchr(node->v.bytes, 0, node->len))) return NULL;
    char *s = malloc((size_t)node->len + 1);
    if (!s) return NULL;
    if (node->len) memcpy(s, node->v.bytes, node->len);
    s[node->len] = 0;
    return s;
}

int mp_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    if (msgpack_pack_str(pk, n) != 0) return -1;
    return msgpack_pack_str_body(pk, s, n);
}

int mp_pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
    if (msgpack_pack_bin(pk, n) != 0) return -1;
    return n ? msgpack_pack_bin_body(pk, p, n) : 0;
}
