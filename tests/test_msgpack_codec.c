/* The msgpack codec and the protocol layer, against a stand-in policy:
 * replies byte for byte where clients depend on them, and hostile input
 * (random bytes, truncation, deep nesting, huge claimed sizes, lying .npy
 * headers) answered by an error reply, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/msgpack_codec.h"
#include "server/npy.h"
#include "server/protocol.h"
#include "test_util.h"

#define MAXB ((size_t)64 << 20)

/* ---- a stand-in policy ---- */

typedef struct fake_policy {
    int calls, last_batch, fail_next;
    char last_instruction[128];
    groot_array out[2];
    float data[2][4 * 16 * 3];
    char err[128];
} fake_policy;

static const char MODALITY[] =
    "{\"video\":{\"delta_indices\":[0],\"modality_keys\":[\"video.ego_view\"]},"
    "\"state\":{\"delta_indices\":[0],\"modality_keys\":[\"state.left_arm\"]},"
    "\"action\":{\"delta_indices\":[0,1],\"modality_keys\":[\"action.left_arm\",\"action.right_arm\"]},"
    "\"language\":{\"delta_indices\":[0],\"modality_keys\":[\"annotation.human.action.task_description\"]}}";

static groot_status fake_get_action(void *ctx, const groot_observation *obs, const groot_array **actions, int *n)
{
    fake_policy *p = ctx;
    p->calls++;
    if (p->fail_next) {
        p->fail_next = 0;
        snprintf(p->err, sizeof p->err, "state.left_arm: expected 7 values, got 3");
        return GROOT_ERR_INVALID_ARG;
    }
    p->last_batch = obs->batch;
    snprintf(p->last_instruction, sizeof p->last_instruction, "%s", obs->instructions[obs->batch ? obs->batch - 1 : 0]);
    int b = obs->batch ? obs->batch : 1;
    for (int k = 0; k < 2; k++) {
        groot_array *a = &p->out[k];
        a->name = k ? "action.right_arm" : "action.left_arm";
        a->dtype = GROOT_F32;
        a->ndim = obs->batch ? 3 : 2;
        int64_t shp3[3] = {b, 16, 3};
        memcpy(a->shape, obs->batch ? shp3 : shp3 + 1, (size_t)a->ndim * sizeof(int64_t));
        for (int i = 0; i < b * 16 * 3 && i < 4 * 16 * 3; i++) p->data[k][i] = (float)(k * 1000 + i);
        a->data = p->data[k];
    }
    *actions = p->out;
    *n = 2;
    p->err[0] = 0;
    return GROOT_OK;
}
static const char *fake_modality(void *ctx) { return MODALITY; }
static const char *fake_errmsg(void *ctx) { return ((fake_policy *)ctx)->err; }

static void server_up(proto_server *s, fake_policy *p, const char *token)
{
    memset(p, 0, sizeof *p);
    proto_backend be = {p, fake_get_action, fake_modality, fake_errmsg};
    char err[256];
    CHECK(proto_server_init(s, &be, token, MAXB, err, sizeof err) == 0, "%s", err);
}

/* ---- building requests ---- */

static void pk_str(msgpack_packer *pk, const char *s) { mp_pack_cstr(pk, s); }

static void pk_ndarray(msgpack_packer *pk, groot_dtype dt, int ndim, const int64_t *shape)
{
    groot_array a = {"x", dt, ndim, {0}, NULL};
    memcpy(a.shape, shape, (size_t)ndim * sizeof *shape);
    size_t nbytes;
    npy_nbytes(dt, ndim, shape, &nbytes);
    void *data = calloc(1, nbytes ? nbytes : 1);
    a.data = data;
    uint8_t *b;
    size_t n;
    char err[128];
    npy_encode(&a, &b, &n, err, sizeof err);
    msgpack_pack_map(pk, 2);
    pk_str(pk, "__ndarray_class__");
    msgpack_pack_true(pk);
    pk_str(pk, "as_npy");
    mp_pack_bin(pk, b, n);
    free(b);
    free(data);
}

/* An observation for B samples (0: unbatched), as robot code sends it. */
static void pk_observation(msgpack_packer *pk, int batch, int lang_as_list)
{
    int64_t v4[4] = {1, 8, 6, 3}, v5[5] = {batch, 1, 8, 6, 3}, s2[2] = {1, 7}, s3[3] = {batch, 1, 7};
    msgpack_pack_map(pk, 3);
    pk_str(pk, "video.ego_view");
    if (batch) pk_ndarray(pk, GROOT_U8, 5, v5);
    else pk_ndarray(pk, GROOT_U8, 4, v4);
    pk_str(pk, "state.left_arm");
    if (batch) pk_ndarray(pk, GROOT_F64, 3, s3);
    else pk_ndarray(pk, GROOT_F32, 2, s2);
    pk_str(pk, "annotation.human.action.task_description");
    if (lang_as_list) {
        int n = batch ? batch : 1;
        msgpack_pack_array(pk, (size_t)n);
        for (int i = 0; i < n; i++) {
            char t[32];
            snprintf(t, sizeof t, "task %d", i);
            pk_str(pk, t);
        }
    } else {
        pk_str(pk, "pick the apple");
    }
}

typedef struct reply {
    msgpack_sbuffer buf;
    mp_doc doc;
    proto_log log;
} reply;

/* Sends raw bytes; the reply must always decode to a map. */
static const mp_node *send_raw(proto_server *s, const void *msg, size_t len, reply *r)
{
    msgpack_sbuffer_init(&r->buf);
    proto_log_init(&r->log);
    CHECK(proto_handle_msgpack(s, msg, len, &r->buf, &r->log) == 0, "no reply built");
    mp_limits lim;
    mp_limits_default(&lim, MAXB);
    char err[256];
    int ok = mp_parse(r->buf.data, r->buf.size, &lim, &r->doc, err, sizeof err) == 0;
    CHECK(ok, "reply does not decode: %s", err);
    CHECK(ok && r->doc.root->type == MP_MAP, "reply is not a map");
    return ok ? r->doc.root : NULL;
}

static void reply_free(reply *r)
{
    mp_doc_free(&r->doc);
    msgpack_sbuffer_destroy(&r->buf);
}

static void check_error(proto_server *s, const void *msg, size_t len, const char *want, const char *what)
{
    reply r;
    const mp_node *root = send_raw(s, msg, len, &r);
    const mp_node *e = mp_map_get(root, "error");
    char *txt = mp_strdup(e);
    CHECK(txt != NULL, "%s: no error reply", what);
    CHECK(!txt || !want || strstr(txt, want), "%s: error '%s' does not mention '%s'", what, txt ? txt : "", want);
    free(txt);
    reply_free(&r);
}

/* ---- the codec ---- */

static void test_codec(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pk_str(&pk, "i"), msgpack_pack_int64(&pk, -5);
    pk_str(&pk, "u"), msgpack_pack_uint64(&pk, UINT64_MAX);
    pk_str(&pk, "f"), msgpack_pack_double(&pk, 0.25);
    pk_str(&pk, "b"), msgpack_pack_false(&pk);
    pk_str(&pk, "n"), msgpack_pack_nil(&pk);
    pk_str(&pk, "a"), msgpack_pack_array(&pk, 2), mp_pack_bin(&pk, "xy", 2), pk_str(&pk, "");
    mp_limits lim;
    mp_limits_default(&lim, MAXB);
    mp_doc doc;
    char err[256];
    CHECK(mp_parse(sb.data, sb.size, &lim, &doc, err, sizeof err) == 0, "%s", err);
    const mp_node *r = doc.root;
    CHECK(mp_map_get(r, "i")->type == MP_INT && mp_map_get(r, "i")->v.i == -5, "int");
    CHECK(mp_map_get(r, "u")->type == MP_UINT && mp_map_get(r, "u")->v.u == UINT64_MAX, "uint");
    CHECK(mp_map_get(r, "f")->type == MP_FLOAT && mp_map_get(r, "f")->v.f == 0.25, "float");
    CHECK(mp_map_get(r, "b")->type == MP_BOOL && !mp_map_get(r, "b")->v.b, "bool");
    CHECK(mp_map_get(r, "n")->type == MP_NIL, "nil");
    const mp_node *a = mp_map_get(r, "a");
    CHECK(a->type == MP_ARRAY && a->len == 2 && a->v.items[0].type == MP_BIN && a->v.items[0].len == 2 &&
              mp_str_eq(&a->v.items[1], ""),
          "array");
    CHECK(mp_map_get(r, "zz") == NULL, "absent key found");
    mp_doc_free(&doc);

    /* Every truncation fails cleanly; a trailing byte too. */
    for (size_t cut = 0; cut < sb.size; cut++)
        CHECK(mp_parse(sb.data, cut, &lim, &doc, err, sizeof err) != 0, "truncation at %zu accepted", cut);
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    CHECK(mp_parse(sb.data, sb.size, &lim, &doc, err, sizeof err) != 0 && strstr(err, "trailing"), "trailing");
    msgpack_sbuffer_destroy(&sb);

    /* Huge claimed sizes: refused before msgpack-c would allocate for them. */
    const struct {
        const char *bytes;
        size_t len;
        const char *want;
    } bad[] = {
        {"\xdd\xff\xff\xff\xff", 5, "container claims"},
        {"\xdf\xff\xff\xff\xff\xc0", 6, "container claims"},
        {"\xdb\xff\xff\xff\xff", 5, "claims"},
        {"\xc6\x80\x00\x00\x00" "abc", 8, "claims"},
        {"\xc7\x01\x05x", 4, "ext"},
        {"\xd4\x01\x00", 3, "ext"},
        {"\xc1", 1, "0xc1"},
        {"", 0, "empty"},
        {"\xcb\x00\x00", 3, "claims"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ok = mp_parse(bad[i].bytes, bad[i].len, &lim, &doc, err, sizeof err) == 0;
        CHECK(!ok && strstr(err, bad[i].want), "case %zu: '%s'", i, ok ? "accepted" : err);
        if (ok) mp_doc_free(&doc);
    }

    /* 10000 nested maps / arrays. */
    size_t deep = 10000;
    uint8_t *d = malloc(3 * deep + 1);
    for (size_t i = 0; i < deep; i++) d[3 * i] = 0x81, d[3 * i + 1] = 0xa1, d[3 * i + 2] = 'k';
    d[3 * deep] = 0xc0;
    CHECK(mp_parse(d, 3 * deep + 1, &lim, &doc, err, sizeof err) != 0 && strstr(err, "nesting"), "deep maps");
    memset(d, 0x91, deep);
    d[deep] = 0xc0;
    CHECK(mp_parse(d, deep + 1, &lim, &doc, err, sizeof err) != 0 && strstr(err, "nesting"), "deep arrays");
    /* The limit itself still decodes through msgpack-c. */
    memset(d, 0x91, MP_DEFAULT_MAX_DEPTH);
    d[MP_DEFAULT_MAX_DEPTH] = 0xc0;
    CHECK(mp_parse(d, MP_DEFAULT_MAX_DEPTH + 1, &lim, &doc, err, sizeof err) == 0, "depth at the limit: %s", err);
    mp_doc_free(&doc);
    free(d);

    /* Message size and node count limits. */
    mp_limits small = lim;
    small.max_bytes = 4;
    CHECK(mp_parse("\x95\x01\x02\x03\x04\x05", 6, &small, &doc, err, sizeof err) != 0 && strstr(err, "limit"),
          "max bytes");
    small = lim;
    small.max_nodes = 3;
    CHECK(mp_parse("\x95\x01\x02\x03\x04\x05", 6, &small, &doc, err, sizeof err) != 0 && strstr(err, "values"),
          "max nodes");

    /* Random bytes. */
    uint64_t rng = 12345;
    uint8_t buf[256];
    for (int it = 0; it < 50000; it++) {
        size_t len = 1 + it % 255;
        for (size_t i = 0; i < len; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (uint8_t)(rng >> 40);
        }
        if (mp_parse(buf, len, &lim, &doc, err, sizeof err) == 0) mp_doc_free(&doc);
    }
}

/* ---- the protocol ---- */

static size_t pack_request(msgpack_sbuffer *sb, const char *endpoint, const char *token, int batch, int list)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int n = (endpoint != NULL) + (token != NULL) + (batch >= 0);
    msgpack_pack_map(&pk, (size_t)n);
    if (endpoint) pk_str(&pk, "endpoint"), pk_str(&pk, endpoint);
    if (batch >= 0) pk_str(&pk, "data"), pk_observation(&pk, batch, list);
    if (token) pk_str(&pk, "api_token"), pk_str(&pk, token);
    return sb->size;
}

static void check_action_reply(const mp_node *root, int batch, const char *what)
{
    CHECK(root && root->len == 2, "%s: %u actions", what, root ? root->len : 0);
    const mp_node *a = mp_map_get(root, "action.right_arm");
    const mp_node *npy = mp_map_get(a, "as_npy");
    const mp_node *cls = mp_map_get(a, "__ndarray_class__");
    CHECK(cls && cls->type == MP_BOOL && cls->v.b, "%s: __ndarray_class__ not true", what);
    CHECK(npy && npy->type == MP_BIN, "%s: as_npy is not bin", what);
    if (!npy || npy->type != MP_BIN) return;
    groot_array arr;
    char err[256];
    CHECK(npy_decode((const uint8_t *)npy->v.bytes, npy->len, MAXB, &arr, err, sizeof err) == 0, "%s", err);
    int b = batch ? batch : 1;
    CHECK(arr.dtype == GROOT_F32 && arr.ndim == (batch ? 3 : 2) && arr.shape[arr.ndim - 1] == 3 &&
              arr.shape[arr.ndim - 2] == 16 && (!batch || arr.shape[0] == batch),
          "%s: action shape", what);
    CHECK(((const float *)arr.data)[b * 48 - 1] == 1000.0f + (float)(b * 48 - 1), "%s: action values", what);
    free((void *)arr.data);
}

static void test_protocol(void)
{
    proto_server s;
    fake_policy p;
    server_up(&s, &p, NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    reply r;

    /* ping: the exact bytes the reference's Python server sends. */
    pack_request(&sb, "ping", NULL, -1, 0);
    send_raw(&s, sb.data, sb.size, &r);
    static const char ping[] = "\x82\xa6status\xa2ok\xa7message\xb1Server is running";
    CHECK(r.buf.size == sizeof ping - 1 && memcmp(r.buf.data, ping, sizeof ping - 1) == 0, "ping bytes");
    CHECK(strcmp(r.log.endpoint, "ping") == 0 && !r.log.failed, "ping log");
    reply_free(&r);

    /* get_modality_config: one ModalityConfig per modality, compact JSON. */
    pack_request(&sb, "get_modality_config", NULL, -1, 0);
    const mp_node *root = send_raw(&s, sb.data, sb.size, &r);
    CHECK(root && root->len == 4, "modality count");
    const mp_node *v = mp_map_get(root, "video");
    char *js = mp_strdup(mp_map_get(v, "as_json"));
    CHECK(js && strcmp(js, "{\"delta_indices\":[0],\"modality_keys\":[\"video.ego_view\"]}") == 0, "video json %s",
          js ? js : "NULL");
    CHECK(mp_map_get(v, "__ModalityConfig_class__") && mp_map_get(v, "__ModalityConfig_class__")->v.b, "class flag");
    CHECK(root && mp_str_eq(&root->v.items[0], "video") && mp_str_eq(&root->v.items[6], "language"), "order");
    free(js);
    reply_free(&r);

    /* get_action: unbatched, batched, language as a list, endpoint absent. */
    pack_request(&sb, "get_action", NULL, 0, 0);
    check_action_reply(send_raw(&s, sb.data, sb.size, &r), 0, "unbatched");
    CHECK(p.last_batch == 0 && strcmp(p.last_instruction, "pick the apple") == 0, "unbatched obs");
    CHECK(r.log.batch == 0 && !r.log.failed, "log batch");
    reply_free(&r);
    pack_request(&sb, "get_action", NULL, 3, 1);
    check_action_reply(send_raw(&s, sb.data, sb.size, &r), 3, "batched");
    CHECK(p.last_batch == 3 && strcmp(p.last_instruction, "task 2") == 0, "batched obs");
    reply_free(&r);
    pack_request(&sb, "get_action", NULL, 2, 0); /* one string for the whole batch */
    check_action_reply(send_raw(&s, sb.data, sb.size, &r), 2, "batched, one instruction");
    reply_free(&r);
    pack_request(&sb, NULL, NULL, 0, 1);
    check_action_reply(send_raw(&s, sb.data, sb.size, &r), 0, "no endpoint");
    reply_free(&r);
    {
        /* The observation as the request itself (no "data"). */
        msgpack_sbuffer_clear(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pk_observation(&pk, 0, 0);
        check_action_reply(send_raw(&s, sb.data, sb.size, &r), 0, "flat observation");
        reply_free(&r);
    }

    /* Errors: the policy's own message, unknown endpoint, bad shapes and keys. */
    p.fail_next = 1;
    pack_request(&sb, "get_action", NULL, 0, 0);
    check_error(&s, sb.data, sb.size, "expected 7 values", "policy error");
    pack_request(&sb, "get_actoin", NULL, -1, 0);
    check_error(&s, sb.data, sb.size, "Unknown endpoint: get_actoin", "unknown endpoint");
    check_error(&s, "\x93\x01\x02\x03", 4, "must be a msgpack map", "array request");
    check_error(&s, "\x81\xa8" "endpoint\x05", 11, "'endpoint' must be a string", "int endpoint");
    check_error(&s, "\x81\xa8" "endpoint\xa4ping\x00", 16, "trailing", "trailing byte");
    pack_request(&sb, "get_action", NULL, -1, 0);
    check_error(&s, sb.data, sb.size, "observation", "get_action without data");
    {
        msgpack_packer pk;
        int64_t bad3[3] = {8, 6, 3}, s2[2] = {1, 7};
        const char *cases[] = {"rank", "missing language", "not ndarray", "lying npy", "2 GB npy", "mixed batch",
                               "lang int", "object npy"};
        const char *want[] = {"expected [T,H,W,3]", "lacks the language", "must be an ndarray", "claims",
                              "limit", "batched", "string", "unsupported dtype"};
        for (int c = 0; c < 8; c++) {
            msgpack_sbuffer_clear(&sb);
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            msgpack_pack_map(&pk, 2);
            pk_str(&pk, "endpoint"), pk_str(&pk, "get_action");
            pk_str(&pk, "data");
            msgpack_pack_map(&pk, c == 1 ? 2 : 3);
            pk_str(&pk, "video.ego_view");
            if (c == 0) pk_ndarray(&pk, GROOT_U8, 3, bad3);
            else if (c == 2) pk_str(&pk, "not an array");
            else if (c == 3 || c == 4 || c == 7) {
                const char *dict = c == 3   ? "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 8, 6, 3), }"
                                   : c == 4 ? "{'descr': '<f4', 'fortran_order': False, 'shape': (536870912,), }"
                                            : "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
                char npy[200];
                size_t h = strlen(dict) + 1;
                memcpy(npy, "\x93NUMPY\x01\x00", 8);
                npy[8] = (char)h, npy[9] = 0;
                memcpy(npy + 10, dict, h - 1);
                npy[10 + h - 1] = '\n';
                memset(npy + 10 + h, 0, 16);
                msgpack_pack_map(&pk, 2);
                pk_str(&pk, "__ndarray_class__"), msgpack_pack_true(&pk);
                pk_str(&pk, "as_npy"), mp_pack_bin(&pk, npy, 10 + h + 16);
            } else {
                int64_t v4[4] = {1, 8, 6, 3}, v5[5] = {2, 1, 8, 6, 3};
                if (c == 5) pk_ndarray(&pk, GROOT_U8, 5, v5);
                else pk_ndarray(&pk, GROOT_U8, 4, v4);
            }
            pk_str(&pk, "state.left_arm"), pk_ndarray(&pk, GROOT_F32, 2, s2);
            if (c != 1) {
                pk_str(&pk, "annotation.human.action.task_description");
                if (c == 6) msgpack_pack_int(&pk, 3);
                else pk_str(&pk, "task");
            }
            check_error(&s, sb.data, sb.size, want[c], cases[c]);
        }
    }
    /* Hostile bytes still get a reply, and the server still answers ping. */
    check_error(&s, "\xdd\xff\xff\xff\xff", 5, "container claims", "huge array");
    uint8_t *deep = malloc(30000);
    for (int i = 0; i < 10000; i++) deep[3 * i] = 0x81, deep[3 * i + 1] = 0xa1, deep[3 * i + 2] = 'k';
    check_error(&s, deep, 30000, "nesting", "deep nesting");
    free(deep);
    uint64_t rng = 99;
    uint8_t buf[128];
    for (int it = 0; it < 3000; it++) {
        size_t len = 1 + it % 127;
        for (size_t i = 0; i < len; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (uint8_t)(rng >> 40);
        }
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        proto_log log;
        proto_log_init(&log);
        CHECK(proto_handle_msgpack(&s, buf, len, &out, &log) == 0 && out.size > 0, "no reply to random bytes");
        msgpack_sbuffer_destroy(&out);
    }
    pack_request(&sb, "get_action", NULL, 1, 1);
    for (size_t cut = 0; cut + 1 < sb.size; cut += 7) check_error(&s, sb.data, cut, NULL, "truncated request");
    pack_request(&sb, "ping", NULL, -1, 0);
    root = send_raw(&s, sb.data, sb.size, &r);
    CHECK(mp_str_eq(mp_map_get(root, "status"), "ok"), "ping after hostile input");
    reply_free(&r);

    /* kill replies, then asks the transport to stop. */
    pack_request(&sb, "kill", NULL, -1, 0);
    root = send_raw(&s, sb.data, sb.size, &r);
    CHECK(r.log.stop && mp_str_eq(mp_map_get(root, "status"), "ok"), "kill");
    reply_free(&r);
    proto_server_destroy(&s);

    /* Tokens. */
    server_up(&s, &p, "s3cret");
    const char *tokens[] = {NULL, "wrong", "s3cre", "s3cret!", ""};
    for (int i = 0; i < 5; i++) {
        pack_request(&sb, "ping", tokens[i], -1, 0);
        send_raw(&s, sb.data, sb.size, &r);
        static const char unauth[] = "\x81\xa5" "error\xbfUnauthorized: Invalid API token";
        CHECK(r.buf.size == sizeof unauth - 1 && memcmp(r.buf.data, unauth, sizeof unauth - 1) == 0,
              "token '%s' let in", tokens[i] ? tokens[i] : "(none)");
        reply_free(&r);
    }
    pack_request(&sb, "get_action", "s3cret", 0, 0);
    check_action_reply(send_raw(&s, sb.data, sb.size, &r), 0, "with token");
    reply_free(&r);
    pack_request(&sb, "kill", "nope", -1, 0);
    send_raw(&s, sb.data, sb.size, &r);
    CHECK(!r.log.stop, "kill without the token stopped the server");
    reply_free(&r);
    proto_server_destroy(&s);
    msgpack_sbuffer_destroy(&sb);
}

static void test_http_act(void)
{
    proto_server s;
    fake_policy p;
    server_up(&s, &p, NULL);
    /* video [1,2,2,3] u8 (12 zero bytes), state [1,7] f4 (28 zero bytes). */
    const char *obs =
        "{\"observation\": {\"video.ego_view\": {\"__numpy__\": \"AAAAAAAAAAAAAAAA\", \"dtype\": \"|u1\", "
        "\"shape\": [1, 2, 2, 3]}, \"state.left_arm\": {\"__numpy__\": "
        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\", \"dtype\": \"<f4\", \"shape\": [1, 7]}, "
        "\"annotation.human.action.task_description\": [\"wave\"]}}";
    int status;
    char *json;
    proto_log log;
    proto_log_init(&log);
    proto_handle_http_act(&s, obs, strlen(obs), &status, &json, &log);
    CHECK(status == 200, "status %d: %s", status, json);
    cJSON *r = cJSON_Parse(json);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "action.left_arm");
    CHECK(a && strcmp(cJSON_GetObjectItemCaseSensitive(a, "dtype")->valuestring, "<f4") == 0 &&
              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "shape")) == 2,
          "act reply %s", json);
    CHECK(strcmp(p.last_instruction, "wave") == 0, "instruction");
    cJSON_Delete(r);
    free(json);

    /* The double-encoded form. */
    cJSON *enc = cJSON_CreateObject();
    cJSON_AddStringToObject(enc, "encoded", obs);
    char *body = cJSON_PrintUnformatted(enc);
    proto_handle_http_act(&s, body, strlen(body), &status, &json, &log);
    CHECK(status == 200, "encoded: status %d: %s", status, json);
    free(json);
    free(body);
    cJSON_Delete(enc);

    const char *bad[] = {"not json", "[1,2]", "{\"obs\": {}}", "{\"encoded\": 5}",
                         "{\"observation\": {\"video.ego_view\": [1,2,3]}}",
                         "{\"observation\": {\"video.ego_view\": {\"__numpy__\": \"AAAA\", \"dtype\": \"|u1\", "
                         "\"shape\": [1, 2000000000, 2, 3]}}}"};
    for (int i = 0; i < 6; i++) {
        proto_handle_http_act(&s, bad[i], strlen(bad[i]), &status, &json, &log);
        r = cJSON_Parse(json);
        CHECK(status == 400 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "detail")), "bad %d: %d %s", i,
              status, json);
        cJSON_Delete(r);
        free(json);
    }
    p.fail_next = 1;
    proto_handle_http_act(&s, obs, strlen(obs), &status, &json, &log);
    CHECK(status == 400 && strstr(json, "expected 7 values"), "policy error: %d %s", status, json);
    free(json);
    proto_server_destroy(&s);
}

int main(void)
{
    test_codec();
    test_protocol();
    test_http_act();
    return tu_finish("test_msgpack_codec");
}
