/*
 * msgpack for the wire protocol: a bounded decode into a small tree of our
 * own, and packing helpers for replies.
 *
 * Requests come from the network, so the bytes are walked once by a checker
 * before msgpack-c sees them: msgpack-c allocates a container's slots from
 * the count its header claims, so a 5-byte message claiming 2^32 items would
 * otherwise make it allocate ~100 GB. The checker rejects counts that the
 * remaining bytes cannot hold, nesting deeper than the limit, too many nodes
 * in all, ext types, truncation and trailing bytes.
 */
#ifndef GROOT_SERVER_MSGPACK_CODEC_H
#define GROOT_SERVER_MSGPACK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

typedef enum mp_type { MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP } mp_type;

typedef struct mp_node {
    mp_type type;
    uint32_t len; /* bytes of STR/BIN, items of ARRAY, key/value pairs of MAP */
    union {
        int b;
        uint64_t u;  /* MP_UINT: non-negative integers */
        int64_t i;   /* MP_INT: negative integers */
        double f;
        const char *bytes;    /* STR/BIN: points into the message buffer, not NUL-terminated */
        struct mp_node *items; /* ARRAY: len items; MAP: 2*len nodes, key then value */
    } v;
} mp_node;

typedef struct mp_limits {
    size_t max_bytes; /* whole message */
    int max_depth;    /* containers nested (at most MP_DEPTH_CAP) */
    size_t max_nodes; /* values in all, keys included */
} mp_limits;

#define MP_DEPTH_CAP 30 /* msgpack-c's own parse stack holds 32 */
#define MP_DEFAULT_MAX_DEPTH 30
#define MP_DEFAULT_MAX_NODES (1u << 20)

/* A decoded message. STR/BIN nodes point into the buffer given to mp_parse,
 * which must outlive the doc. */
typedef struct mp_doc {
    mp_node *root;
    mp_node *pool;
    msgpack_unpacked unpacked;
    int has_unpacked;
} mp_doc;

void mp_limits_default(mp_limits *lim, size_t max_bytes);

/* Checks and decodes one message that must fill buf exactly. Returns 0, or
 * -1 with a message in err (doc is then empty; mp_doc_free is still safe). */
int mp_parse(const void *buf, size_t len, const mp_limits *lim, mp_doc *doc, char *err, size_t errsz);
void mp_doc_free(mp_doc *doc);

/* The value under a string key in a map, or NULL (also when not a map). */
const mp_node *mp_map_get(const mp_node *map, const char *key);
/* Whether node is a STR equal to s. */
int mp_str_eq(const mp_node *node, const char *s);
/* A malloc'd NUL-terminated copy of a STR node, or NULL (not a STR, holds a
 * NUL byte, or out of memory). */
char *mp_strdup(const mp_node *node);

/* Reply packing on msgpack-c's packer. */
int mp_pack_cstr(msgpack_packer *pk, const char *s);
int mp_pack_bin(msgpack_packer *pk, const void *p, size_t n);

#endif
