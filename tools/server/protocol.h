/*
 * The policy server's protocol, shared by its two transports:
 *  - ZeroMQ REP + msgpack, as the reference's robot clients speak it
 *    (requests {"endpoint": NAME, "data": {...}, "api_token": T}; arrays as
 *    {"__ndarray_class__": true, "as_npy": .npy bytes}; failures as {"error": MSG});
 *  - HTTP + JSON (POST /act, GET /health), arrays as json_numpy objects.
 *
 * The policy sits behind proto_backend so that the protocol can be tested
 * with a stand-in; cmd_serve plugs in groot_policy_*.
 */
#ifndef GROOT_SERVER_PROTOCOL_H
#define GROOT_SERVER_PROTOCOL_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include <msgpack.h>

#include "groot.h"

typedef struct proto_backend {
    void *ctx;
    groot_status (*get_action)(void *ctx, const groot_observation *obs, const groot_array **actions,
                               int *num_actions);
    const char *(*modality_json)(void *ctx);
    const char *(*errmsg)(void *ctx);
} proto_backend;

typedef struct proto_server {
    proto_backend backend;
    const char *api_token; /* NULL or "": none required */
    size_t max_message_bytes;
    char **language_keys; /* from the modality description's "language" */
    int num_language_keys;
    /* The policy handle is not thread-safe and the HTTP transport runs on its
     * own thread: every backend call holds this lock. */
    pthread_mutex_t lock;
} proto_server;

/* Reads the language keys from the backend's modality description. */
int proto_server_init(proto_server *s, const proto_backend *backend, const char *api_token,
                      size_t max_message_bytes, char *err, size_t errsz);
void proto_server_destroy(proto_server *s);

/* What one request did, for the server's one log line per request. */
typedef struct proto_log {
    char endpoint[48];
    int batch; /* -1: no observation; 0: unbatched; B: batched */
    double decode_ms, compute_ms, encode_ms;
    int failed;
    int stop; /* kill: stop serving once this reply is out */
    char message[256];
} proto_log;

void proto_log_init(proto_log *log);
/* Marks the request failed with msg (cut to fit). */
void proto_log_fail(proto_log *log, const char *msg);
/* One line on stderr: transport, endpoint, batch, decode/compute/encode ms. */
void proto_log_print(const proto_log *log, const char *transport);
double proto_now_ms(void);

/* ---- observations, whichever transport they came by ---- */

/* Arrays and instructions collected from a request; owns all its memory. */
typedef struct obs_builder {
    groot_array *arrays; /* names and data malloc'd */
    int num_arrays, cap_arrays;
    char **instructions;
    int num_instructions;
    int have_language, language_is_list;
} obs_builder;

void obs_builder_init(obs_builder *b);
void obs_builder_free(obs_builder *b);
/* Whether a key names a language input (the description's language keys, or
 * "annotation.*" when the description names none). */
int proto_is_language_key(const proto_server *s, const char *key);
/* Takes ownership of a->data; copies name. */
int obs_add_array(obs_builder *b, const char *name, groot_array *a, char *err, size_t errsz);
/* Takes ownership of strs (an array of n malloc'd strings). */
int obs_set_language(obs_builder *b, const char *key, char **strs, int n, int is_list, char *err,
                     size_t errsz);

/* Actions copied out of the policy (whose own copies die at its next call). */
typedef struct action_set {
    groot_array *arrays; /* names and data malloc'd */
    int num;
} action_set;
void action_set_free(action_set *a);

/* Checks shapes, works out the batch and runs the policy under the lock.
 * Returns 0; or -1 with err, *client_error set when the request (not the
 * server) is at fault. */
int proto_run_action(proto_server *s, obs_builder *b, action_set *out, proto_log *log, int *client_error,
                     char *err, size_t errsz);

/* ---- ZeroMQ + msgpack ---- */

/* Answers one request message; the reply is always a complete msgpack
 * message, {"error": ...} when anything failed. Returns -1 only when not even
 * that could be built (out of memory). */
int proto_handle_msgpack(proto_server *s, const void *msg, size_t len, msgpack_sbuffer *reply, proto_log *log);

/* Serves tcp://host:port until *stop becomes non-zero or a kill request.
 * Returns 0 on a clean stop, -1 with err when the socket cannot be set up. */
int zmq_serve(proto_server *s, const char *host, int port, volatile sig_atomic_t *stop, char *err,
              size_t errsz);

/* ---- HTTP + JSON ---- */

typedef struct http_server http_server;
/* Starts serving on its own thread. */
int http_start(proto_server *s, const char *host, int port, http_server **out, char *err, size_t errsz);
void http_stop(http_server *h);

/* The /act exchange without the transport: body in, status and JSON out
 * (malloc'd). Public for tests. */
int proto_handle_http_act(proto_server *s, const char *body, size_t len, int *status, char **json,
                          proto_log *log);

#endif
