/* The HTTP transport (libmicrohttpd, its own polling thread): POST /act with
 * {"observation": {...}} (json_numpy arrays), GET /health. Errors are JSON
 * {"detail": MESSAGE} with 400 (the request's fault), 401, 404, 405, 413 or
 * 500 (the server's). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "server/json_numpy.h"
#include "server/protocol.h"
#include "server/server_error.h"

struct http_server {
    struct MHD_Daemon *daemon;
    proto_server *proto;
};

typedef struct conn_state {
    char *buf;
    size_t len, cap;
    int too_big;
} conn_state;

/* {"detail": msg}; falls back to a fixed string when even that fails. */
static char *detail_json(const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (o && cJSON_AddStringToObject(o, "detail", msg)) s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s ? s : strdup("{\"detail\":\"out of memory\"}");
}

static int set_error(int code, const char *msg, int *status, char **json, proto_log *log)
{
    *status = code;
    *json = detail_json(msg);
    proto_log_fail(log, msg);
    return 0;
}

static int decode_language(const cJSON *v, const char *key, obs_builder *b, char *err, size_t errsz)
{
    int is_list = cJSON_IsArray(v);
    int n = is_list ? cJSON_GetArraySize(v) : 1;
    if (!is_list && !cJSON_IsString(v)) return srv_fail(err, errsz, "'%s' must be a string or a list of strings", key);
    if (n == 0) return srv_fail(err, errsz, "'%s' is an empty list", key);
    char **strs = calloc((size_t)n, sizeof *strs);
    if (!strs) return srv_fail(err, errsz, "out of memory");
    int i = 0;
    const cJSON *e = is_list ? v->child : v;
    for (; i < n && e; i++, e = is_list ? e->next : NULL) {
        const cJSON *s = e;
        if (cJSON_IsArray(s) && cJSON_GetArraySize(s) == 1) s = s->child;
        if (!cJSON_IsString(s) || !(strs[i] = strdup(s->valuestring))) {
            for (int k = 0; k < i; k++) free(strs[k]);
            free(strs);
            return srv_fail(err, errsz, "'%s' must be a string or a list of strings (item %d is not)", key, i);
        }
    }
    return obs_set_language(b, key, strs, n, is_list, err, errsz);
}

static int decode_observation(proto_server *s, const cJSON *obs, obs_builder *b, char *err, size_t errsz)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, obs)
    {
        const char *key = v->string;
        if (!key) return srv_fail(err, errsz, "malformed observation");
        if (strncmp(key, "video.", 6) == 0 || strncmp(key, "state.", 6) == 0) {
            if (!json_numpy_is_array(v))
                return srv_fail(err, errsz,
                            "'%s' must be a json_numpy array ({\"__numpy__\": base64, \"dtype\": ..., \"shape\": [...]})",
                            key);
            groot_array a;
            char e2[256];
            if (json_numpy_decode(v, s->max_message_bytes, &a, e2, sizeof e2) != 0)
                return srv_fail(err, errsz, "'%s': %s", key, e2);
            if (obs_add_array(b, key, &a, err, errsz) != 0) return -1;
        } else if (proto_is_language_key(s, key)) {
            if (decode_language(v, key, b, err, errsz) != 0) return -1;
        }
    }
    return 0;
}

static char *actions_json(const action_set *acts, char *err, size_t errsz)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (int i = 0; i < acts->num; i++) {
        cJSON *a = json_numpy_encode(&acts->arrays[i], err, errsz);
        if (!a) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToObject(o, acts->arrays[i].name, a);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) srv_fail(err, errsz, "out of memory");
    return s;
}

int proto_handle_http_act(proto_server *s, const char *body, size_t len, int *status, char **json, proto_log *log)
{
    char err[512];
    double t0 = proto_now_ms();
    snprintf(log->endpoint, sizeof log->endpoint, "act");
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        log->decode_ms = proto_now_ms() - t0;
        return set_error(400, "the body must be a JSON object", status, json, log);
    }
    /* {"encoded": "<the same JSON as a string>"} from clients that double-encode. */
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(root, "encoded");
    if (enc) {
        if (!cJSON_IsString(enc) || cJSON_GetArraySize(root) != 1) {
            cJSON_Delete(root);
            log->decode_ms = proto_now_ms() - t0;
            return set_error(400, "'encoded' must be a JSON string and the payload's only key", status, json, log);
        }
        cJSON *inner = cJSON_Parse(enc->valuestring);
        cJSON_Delete(root);
        root = inner;
        if (!cJSON_IsObject(root)) {
            cJSON_Delete(root);
            log->decode_ms = proto_now_ms() - t0;
            return set_error(400, "'encoded' does not hold a JSON object", status, json, log);
        }
    }
    const cJSON *obs = cJSON_GetObjectItemCaseSensitive(root, "observation");
    obs_builder b;
    obs_builder_init(&b);
    int rc;
    if (!cJSON_IsObject(obs)) {
        log->decode_ms = proto_now_ms() - t0;
        rc = set_error(400, "Missing 'observation' field in payload", status, json, log);
    } else if (decode_observation(s, obs, &b, err, sizeof err) != 0) {
        log->decode_ms = proto_now_ms() - t0;
        rc = set_error(400, err, status, json, log);
    } else {
        log->decode_ms = proto_now_ms() - t0;
        action_set acts;
        int client_error;
        if (proto_run_action(s, &b, &acts, log, &client_error, err, sizeof err) != 0) {
            rc = set_error(client_error ? 400 : 500, err, status, json, log);
        } else {
            double t1 = proto_now_ms();
            char *out = actions_json(&acts, err, sizeof err);
            log->encode_ms = proto_now_ms() - t1;
            if (out) {
                *status = 200, *json = out, rc = 0;
            } else {
                rc = set_error(500, err, status, json, log);
            }
            action_set_free(&acts);
        }
    }
    obs_builder_free(&b);
    cJSON_Delete(root);
    return rc;
}

static enum MHD_Result respond(struct MHD_Connection *c, int status, char *json)
{
    if (!json) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(json);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static int authorized(const proto_server *s, struct MHD_Connection *c)
{
    if (!s->api_token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0) return 0;
    const char *t = h + 7;
    size_t n = strlen(s->api_token), m = strlen(t);
    unsigned diff = m != n;
    for (size_t i = 0; i < m; i++) diff |= (unsigned char)t[i] ^ (unsigned char)s->api_token[i % n];
    return diff == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    http_server *h = cls;
    proto_server *s = h->proto;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (!st->too_big && n > s->max_message_bytes - st->len) st->too_big = 1;
        if (!st->too_big) {
            if (st->len + n + 1 > st->cap) {
                size_t cap = st->cap ? st->cap : 65536;
                while (cap < st->len + n + 1) cap *= 2;
                char *p = realloc(st->buf, cap);
                if (!p) {
                    st->too_big = 1;
                } else {
                    st->buf = p, st->cap = cap;
                }
            }
            if (!st->too_big) {
                memcpy(st->buf + st->len, upload_data, n);
                st->len += n;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    proto_log log;
    proto_log_init(&log);
    int status = 200;
    char *json = NULL;
    int is_act = strcmp(url, "/act") == 0, is_health = strcmp(url, "/health") == 0;
    snprintf(log.endpoint, sizeof log.endpoint, "%s", is_act ? "act" : is_health ? "health" : "other");
    if (is_health && strcmp(method, "GET") == 0) {
        json = strdup("{\"status\":\"healthy\",\"model\":\"GR00T\"}");
    } else if (!is_act && !is_health) {
        set_error(404, "Not Found", &status, &json, &log);
    } else if (strcmp(method, "POST") != 0 || !is_act) {
        set_error(405, "Method Not Allowed", &status, &json, &log);
    } else if (!authorized(s, c)) {
        set_error(401, "Unauthorized: Invalid API token", &status, &json, &log);
    } else if (st->too_big) {
        char m[128];
        snprintf(m, sizeof m, "the body is over the %zu-byte limit", s->max_message_bytes);
        set_error(413, m, &status, &json, &log);
    } else {
        proto_handle_http_act(s, st->buf ? st->buf : "", st->len, &status, &json, &log);
    }
    proto_log_print(&log, "http");
    return respond(c, status, json);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    conn_state *st = *con_cls;
    if (st) {
        free(st->buf);
        free(st);
        *con_cls = NULL;
    }
}

int http_start(proto_server *s, const char *host, int port, http_server **out, char *err, size_t errsz)
{
    *out = NULL;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (port < 1 || port > 65535) return srv_fail(err, errsz, "HTTP port %d is out of range", port);
    if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0) addr.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0) addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return srv_fail(err, errsz, "HTTP host '%s' is not an IPv4 address", host);
    http_server *h = calloc(1, sizeof *h);
    if (!h) return srv_fail(err, errsz, "out of memory");
    h->proto = s;
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
                                 on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        return srv_fail(err, errsz, "cannot start the HTTP server on %s:%d (port in use?)", host, port);
    }
    fprintf(stderr, "groot serve: listening on http://%s:%d (POST /act, GET /health)\n", host, port);
    *out = h;
    return 0;
}

void http_stop(http_server *h)
{
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
