/* Requests to policy calls and back: the logic both transports share, and the
 * msgpack side of it (the JSON side lives in http_server.c). */
#include "server/protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "server/msgpack_codec.h"
#include "server/npy.h"
#include "server/server_error.h"

double proto_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Client-chosen text goes into logs and replies: keep it printable and short. */
static void sanitize(char *dst, size_t dstsz, const char *src, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < dstsz; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (dstsz) dst[o] = 0;
}

void proto_log_init(proto_log *log)
{
    memset(log, 0, sizeof *log);
    log->batch = -1;
}

void proto_log_fail(proto_log *log, const char *msg)
{
    size_t n = strlen(msg);
    if (n >= sizeof log->message) n = sizeof log->message - 1;
    memcpy(log->message, msg, n);
    log->message[n] = 0;
    log->failed = 1;
}

void proto_log_print(const proto_log *log, const char *transport)
{
    char batch[24] = "-";
    if (log->batch >= 0) snprintf(batch, sizeof batch, "%d", log->batch);
    fprintf(stderr, "groot serve: %s %s batch=%s decode=%.3fms compute=%.3fms encode=%.3fms %s%s\n", transport,
            log->endpoint[0] ? log->endpoint : "?", batch, log->decode_ms, log->compute_ms, log->encode_ms,
            log->failed ? "error: " : "ok", log->failed ? log->message : "");
}

int proto_server_init(proto_server *s, const proto_backend *backend, const char *api_token,
                      size_t max_message_bytes, char *err, size_t errsz)
{
    memset(s, 0, sizeof *s);
    s->backend = *backend;
    s->api_token = (api_token && api_token[0]) ? api_token : NULL;
    s->max_message_bytes = max_message_bytes;
    if (pthread_mutex_init(&s->lock, NULL) != 0) return srv_fail(err, errsz, "cannot create a mutex");
    const char *json = backend->modality_json ? backend->modality_json(backend->ctx) : NULL;
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        pthread_mutex_destroy(&s->lock);
        return srv_fail(err, errsz, "the policy's modality description is not a JSON object");
    }
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "language"), "modality_keys");
    int n = cJSON_IsArray(keys) ? cJSON_GetArraySize(keys) : 0;
    s->language_keys = calloc((size_t)n + 1, sizeof *s->language_keys);
    if (!s->language_keys) {
        cJSON_Delete(root);
        pthread_mutex_destroy(&s->lock);
        return srv_fail(err, errsz, "out of memory");
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        if (cJSON_IsString(k) && (s->language_keys[s->num_language_keys] = strdup(k->valuestring)))
            s->num_language_keys++;
    }
    cJSON_Delete(root);
    return 0;
}

void proto_server_destroy(proto_server *s)
{
    for (int i = 0; i < s->num_language_keys; i++) free(s->language_keys[i]);
    free(s->language_keys);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof *s);
}

/* ---- observations ---- */

void obs_builder_init(obs_builder *b) { memset(b, 0, sizeof *b); }

void obs_builder_free(obs_builder *b)
{
    for (int i = 0; i < b->num_arrays; i++) {
        free((void *)b->arrays[i].name);
        free((void *)b->arrays[i].data);
    }
    free(b->arrays);
    for (int i = 0; i < b->num_instructions; i++) free(b->instructions[i]);
    free(b->instructions);
    memset(b, 0, sizeof *b);
}

int proto_is_language_key(const proto_server *s, const char *key)
{
    if (s->num_language_keys == 0) return strncmp(key, "annotation.", 11) == 0;
    for (int i = 0; i < s->num_language_keys; i++)
        if (strcmp(key, s->language_keys[i]) == 0) return 1;
    return 0;
}

#define MAX_OBS_ARRAYS 64

int obs_add_array(obs_builder *b, const char *name, groot_array *a, char *err, size_t errsz)
{
    for (int i = 0; i < b->num_arrays; i++)
        if (strcmp(b->arrays[i].name, name) == 0) {
            free((void *)a->data);
            return srv_fail(err, errsz, "the observation holds '%s' twice", name);
        }
    if (b->num_arrays >= MAX_OBS_ARRAYS) {
        free((void *)a->data);
        return srv_fail(err, errsz, "the observation holds more than %d arrays", MAX_OBS_ARRAYS);
    }
    if (b->num_arrays == b->cap_arrays) {
        int cap = b->cap_arrays ? 2 * b->cap_arrays : 8;
        groot_array *p = realloc(b->arrays, (size_t)cap * sizeof *p);
        if (!p) {
            free((void *)a->data);
            return srv_fail(err, errsz, "out of memory");
        }
        b->arrays = p, b->cap_arrays = cap;
    }
    char *nm = strdup(name);
    if (!nm) {
        free((void *)a->data);
        return srv_fail(err, errsz, "out of memory");
    }
    groot_array *dst = &b->arrays[b->num_arrays++];
    *dst = *a;
    dst->name = nm;
    a->data = NULL;
    return 0;
}

int obs_set_language(obs_builder *b, const char *key, char **strs, int n, int is_list, char *err, size_t errsz)
{
    if (b->have_language) {
        for (int i = 0; i < n; i++) free(strs[i]);
        free(strs);
        return srv_fail(err, errsz, "the observation holds more than one language input ('%s' is another)", key);
    }
    b->instructions = strs, b->num_instructions = n;
    b->have_language = 1, b->language_is_list = is_list;
    return 0;
}

void action_set_free(action_set *a)
{
    for (int i = 0; i < a->num; i++) {
        free((void *)a->arrays[i].name);
        free((void *)a->arrays[i].data);
    }
    free(a->arrays);
    memset(a, 0, sizeof *a);
}

static void shape_str(const groot_array *a, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < a->ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? ", %lld" : "%lld", (long long)a->shape[i]);
    if (o < n) snprintf(buf + o, n - o, ")");
}

static int copy_actions(const groot_array *src, int n, action_set *out, char *err, size_t errsz)
{
    out->arrays = calloc((size_t)(n > 0 ? n : 1), sizeof *out->arrays);
    if (!out->arrays) return srv_fail(err, errsz, "out of memory");
    for (int i = 0; i < n; i++) {
        size_t nbytes;
        if (!src[i].name || npy_nbytes(src[i].dtype, src[i].ndim, src[i].shape, &nbytes) != 0 ||
            (nbytes && !src[i].data))
            return srv_fail(err, errsz, "the policy returned a malformed action array (#%d)", i);
        groot_array *d = &out->arrays[out->num++];
        *d = src[i];
        d->name = strdup(src[i].name);
        void *data = malloc(nbytes ? nbytes : 1);
        d->data = data;
        if (!d->name || !data) return srv_fail(err, errsz, "out of memory");
        if (nbytes) memcpy(data, src[i].data, nbytes);
    }
    return 0;
}

int proto_run_action(proto_server *s, obs_builder *b, action_set *out, proto_log *log, int *client_error,
                     char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    *client_error = 1;
    if (b->num_arrays == 0) return srv_fail(err, errsz, "the observation holds no video.* or state.* arrays");
    int batched = -1;
    const groot_array *first = NULL;
    for (int i = 0; i < b->num_arrays; i++) {
        const groot_array *a = &b->arrays[i];
        int is_video = strncmp(a->name, "video.", 6) == 0;
        int rank = is_video ? 4 : 2, this_batched;
        char shp[160];
        shape_str(a, shp, sizeof shp);
        if (a->ndim == rank) this_batched = 0;
        else if (a->ndim == rank + 1) this_batched = 1;
        else
            return srv_fail(err, errsz, "'%s' has shape %s; expected %s", a->name, shp,
                        is_video ? "[T,H,W,3] or [B,T,H,W,3] (uint8)" : "[T,D] or [B,T,D]");
        if (batched < 0) {
            batched = this_batched, first = a;
        } else if (batched != this_batched) {
            return srv_fail(err, errsz, "'%s' is %sbatched but '%s' is %sbatched", first->name, batched ? "" : "not ",
                        a->name, this_batched ? "" : "not ");
        } else if (batched && a->shape[0] != first->shape[0]) {
            return srv_fail(err, errsz, "'%s' has batch %lld but '%s' has %lld", first->name,
                        (long long)first->shape[0], a->name, (long long)a->shape[0]);
        }
    }
    if (!b->have_language) {
        if (s->num_language_keys)
            return srv_fail(err, errsz, "the observation lacks the language input '%s'", s->language_keys[0]);
        return srv_fail(err, errsz, "the observation lacks a language input (an annotation.* string)");
    }
    int batch = 0, ninstr = 1;
    if (batched) {
        if (first->shape[0] < 1 || first->shape[0] > 4096)
            return srv_fail(err, errsz, "batch size %lld is out of range (1..4096)", (long long)first->shape[0]);
        batch = ninstr = (int)first->shape[0];
        /* One plain string serves every sample of a batch. */
        if (b->num_instructions != batch && !(b->num_instructions == 1 && !b->language_is_list))
            return srv_fail(err, errsz, "batch of %d but %d instructions", batch, b->num_instructions);
    } else if (b->num_instructions != 1) {
        return srv_fail(err, errsz, "an unbatched observation needs one instruction, got %d", b->num_instructions);
    }
    const char **instr = malloc((size_t)ninstr * sizeof *instr);
    if (!instr) return srv_fail(err, errsz, "out of memory");
    for (int i = 0; i < ninstr; i++) instr[i] = b->instructions[b->num_instructions == 1 ? 0 : i];
    log->batch = batch;

    groot_observation obs = {.arrays = b->arrays, .num_arrays = b->num_arrays, .instructions = instr, .batch = batch};
    const groot_array *actions = NULL;
    int num_actions = 0;
    pthread_mutex_lock(&s->lock);
    double t0 = proto_now_ms();
    groot_status st = s->backend.get_action(s->backend.ctx, &obs, &actions, &num_actions);
    log->compute_ms = proto_now_ms() - t0;
    int rc = 0;
    if (st != GROOT_OK) {
        const char *m = s->backend.errmsg ? s->backend.errmsg(s->backend.ctx) : "";
        rc = srv_fail(err, errsz, "%s", (m && m[0]) ? m : groot_status_name(st));
        *client_error = st == GROOT_ERR_INVALID_ARG;
    } else {
        *client_error = 0;
        rc = copy_actions(actions, num_actions, out, err, errsz);
    }
    pthread_mutex_unlock(&s->lock);
    free(instr);
    if (rc != 0) action_set_free(out);
    return rc;
}

/* ---- msgpack ---- */

static void packer_for(msgpack_packer *pk, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
}

static int reply_error(msgpack_sbuffer *sb, proto_log *log, const char *msg)
{
    msgpack_packer pk;
    packer_for(&pk, sb);
    proto_log_fail(log, msg);
    if (msgpack_pack_map(&pk, 1) || mp_pack_cstr(&pk, "error") || mp_pack_cstr(&pk, msg)) return -1;
    return 0;
}

static int reply_status(msgpack_sbuffer *sb, const char *message)
{
    msgpack_packer pk;
    packer_for(&pk, sb);
    if (msgpack_pack_map(&pk, 2) || mp_pack_cstr(&pk, "status") || mp_pack_cstr(&pk, "ok") ||
        mp_pack_cstr(&pk, "message") || mp_pack_cstr(&pk, message))
        return -1;
    return 0;
}

/* Equal-time comparison so the token cannot be guessed byte by byte. */
static int token_ok(const proto_server *s, const mp_node *tok)
{
    if (!s->api_token) return 1;
    if (!tok || tok->type != MP_STR) return 0;
    size_t n = strlen(s->api_token);
    unsigned diff = tok->len != n;
    for (size_t i = 0; i < tok->len; i++) diff |= (unsigned char)tok->v.bytes[i] ^ (unsigned char)s->api_token[i % (n ? n : 1)];
    return diff == 0;
}

static int is_ndarray(const mp_node *v) { return v->type == MP_MAP && mp_map_get(v, "__ndarray_class__") != NULL; }

static int decode_language(const mp_node *v, const char *key, obs_builder *b, char *err, size_t errsz)
{
    int is_list = v->type == MP_ARRAY;
    uint32_t n = is_list ? v->len : 1;
    if (!is_list && v->type != MP_STR) return srv_fail(err, errsz, "'%s' must be a string or a list of strings", key);
    if (n == 0) return srv_fail(err, errsz, "'%s' is an empty list", key);
    char **strs = calloc(n, sizeof *strs);
    if (!strs) return srv_fail(err, errsz, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const mp_node *e = is_list ? &v->v.items[i] : v;
        /* [[str], [str], ...] as newer clients send per-sample lists */
        if (e->type == MP_ARRAY && e->len == 1) e = &e->v.items[0];
        strs[i] = mp_strdup(e);
        if (!strs[i]) {
            for (uint32_t k = 0; k < i; k++) free(strs[k]);
            free(strs);
            return srv_fail(err, errsz, "'%s' must be a string or a list of strings (item %u is not)", key, i);
        }
    }
    return obs_set_language(b, key, strs, (int)n, is_list, err, errsz);
}

static int decode_observation(proto_server *s, const mp_node *data, obs_builder *b, char *err, size_t errsz)
{
    if (!data || data->type != MP_MAP) return srv_fail(err, errsz, "get_action needs an observation map in 'data'");
    for (uint32_t i = 0; i < data->len; i++) {
        const mp_node *k = &data->v.items[2 * i], *v = &data->v.items[2 * i + 1];
        char *key = mp_strdup(k);
        if (!key) return srv_fail(err, errsz, "observation keys must be strings");
        if (strcmp(key, "endpoint") == 0 || strcmp(key, "api_token") == 0) {
            free(key); /* control keys, when the observation is the request itself */
            continue;
        }
        int is_array_key = strncmp(key, "video.", 6) == 0 || strncmp(key, "state.", 6) == 0;
        int rc = 0;
        if (is_array_key) {
            const mp_node *npy = is_ndarray(v) ? mp_map_get(v, "as_npy") : NULL;
            if (!npy || (npy->type != MP_BIN && npy->type != MP_STR)) {
                rc = srv_fail(err, errsz, "'%s' must be an ndarray ({\"__ndarray_class__\": true, \"as_npy\": bytes})",
                          key);
            } else {
                groot_array a;
                char e2[200];
                if (npy_decode((const uint8_t *)npy->v.bytes, npy->len, s->max_message_bytes, &a, e2, sizeof e2) != 0)
                    rc = srv_fail(err, errsz, "'%s': %s", key, e2);
                else
                    rc = obs_add_array(b, key, &a, err, errsz);
            }
        } else if (proto_is_language_key(s, key)) {
            rc = decode_language(v, key, b, err, errsz);
        }
        /* Anything else is ignored, as the reference's transforms ignore it. */
        free(key);
        if (rc != 0) return -1;
    }
    return 0;
}

static int reply_actions(msgpack_sbuffer *sb, const action_set *acts, char *err, size_t errsz)
{
    msgpack_packer pk;
    packer_for(&pk, sb);
    if (msgpack_pack_map(&pk, (size_t)acts->num)) return srv_fail(err, errsz, "out of memory");
    for (int i = 0; i < acts->num; i++) {
        uint8_t *npy;
        size_t n;
        if (npy_encode(&acts->arrays[i], &npy, &n, err, errsz) != 0) return -1;
        int bad = mp_pack_cstr(&pk, acts->arrays[i].name) || msgpack_pack_map(&pk, 2) ||
                  mp_pack_cstr(&pk, "__ndarray_class__") || msgpack_pack_true(&pk) || mp_pack_cstr(&pk, "as_npy") ||
                  mp_pack_bin(&pk, npy, n);
        free(npy);
        if (bad) return srv_fail(err, errsz, "out of memory");
    }
    return 0;
}

static int reply_modality(proto_server *s, msgpack_sbuffer *sb, char *err, size_t errsz)
{
    pthread_mutex_lock(&s->lock);
    const char *json = s->backend.modality_json(s->backend.ctx);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    pthread_mutex_unlock(&s->lock);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return srv_fail(err, errsz, "the policy's modality description is not a JSON object");
    }
    msgpack_packer pk;
    packer_for(&pk, sb);
    int rc = msgpack_pack_map(&pk, (size_t)cJSON_GetArraySize(root));
    const cJSON *m;
    cJSON_ArrayForEach(m, root)
    {
        /* Each modality as its own compact JSON, as pydantic's model_dump_json writes it. */
        char *one = cJSON_PrintUnformatted(m);
        if (!one || !m->string) {
            free(one);
            rc = -1;
            break;
        }
        rc |= mp_pack_cstr(&pk, m->string) || msgpack_pack_map(&pk, 2) ||
              mp_pack_cstr(&pk, "__ModalityConfig_class__") || msgpack_pack_true(&pk) ||
              mp_pack_cstr(&pk, "as_json") || mp_pack_cstr(&pk, one);
        free(one);
    }
    cJSON_Delete(root);
    return rc ? srv_fail(err, errsz, "out of memory") : 0;
}

int proto_handle_msgpack(proto_server *s, const void *msg, size_t len, msgpack_sbuffer *reply, proto_log *log)
{
    char err[512];
    double t0 = proto_now_ms();
    mp_limits lim;
    mp_limits_default(&lim, s->max_message_bytes);
    mp_doc doc;
    if (mp_parse(msg, len, &lim, &doc, err, sizeof err) != 0) {
        log->decode_ms = proto_now_ms() - t0;
        return reply_error(reply, log, err);
    }
    const mp_node *root = doc.root;
    int rc;
    if (root->type != MP_MAP) {
        rc = reply_error(reply, log, "a request must be a msgpack map");
    } else if (!token_ok(s, mp_map_get(root, "api_token"))) {
        rc = reply_error(reply, log, "Unauthorized: Invalid API token");
    } else {
        const mp_node *ep = mp_map_get(root, "endpoint");
        if (!ep) snprintf(log->endpoint, sizeof log->endpoint, "get_action");
        else if (ep->type == MP_STR) sanitize(log->endpoint, sizeof log->endpoint, ep->v.bytes, ep->len);
        if (ep && ep->type != MP_STR) {
            rc = reply_error(reply, log, "'endpoint' must be a string");
        } else if (mp_str_eq(ep, "ping")) {
            rc = reply_status(reply, "Server is running");
        } else if (mp_str_eq(ep, "kill")) {
            /* The reference replies nil, which its own client then fails to
             * test for "error"; a status map serves every client. */
            log->stop = 1;
            rc = reply_status(reply, "Server is stopping");
        } else if (mp_str_eq(ep, "get_modality_config")) {
            rc = reply_modality(s, reply, err, sizeof err) != 0 ? reply_error(reply, log, err) : 0;
        } else if (!ep || mp_str_eq(ep, "get_action")) {
            const mp_node *data = mp_map_get(root, "data");
            obs_builder b;
            obs_builder_init(&b);
            action_set acts = {0};
            int client_error;
            if (decode_observation(s, data ? data : root, &b, err, sizeof err) != 0) {
                log->decode_ms = proto_now_ms() - t0;
                rc = reply_error(reply, log, err);
            } else {
                log->decode_ms = proto_now_ms() - t0;
                if (proto_run_action(s, &b, &acts, log, &client_error, err, sizeof err) != 0) {
                    rc = reply_error(reply, log, err);
                } else {
                    double t1 = proto_now_ms();
                    rc = reply_actions(reply, &acts, err, sizeof err) != 0 ? reply_error(reply, log, err) : 0;
                    log->encode_ms = proto_now_ms() - t1;
                }
            }
            action_set_free(&acts);
            obs_builder_free(&b);
        } else {
            char name[128], m[200];
            sanitize(name, sizeof name, ep->v.bytes, ep->len);
            snprintf(m, sizeof m, "Unknown endpoint: %s", name);
            rc = reply_error(reply, log, m);
        }
    }
    if (log->decode_ms == 0 && log->compute_ms == 0) log->decode_ms = proto_now_ms() - t0;
    mp_doc_free(&doc);
    return rc;
}
