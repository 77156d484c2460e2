/* libFuzzer target for the ZeroMQ side of the server: the bytes are one
 * request message, answered by proto_handle_msgpack against a stand-in
 * policy (so decoding, ndarray extraction, batching checks, the policy's
 * errors and the replies are all exercised), with and without an API token.
 * The reply must always be one well-formed msgpack map; nothing may crash,
 * leak or read past the message. The codec is also run on its own under
 * tight limits.
 *   fuzz_msgpack -max_total_time=30 [corpus dir] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/msgpack_codec.h"
#include "server/npy.h"
#include "server/protocol.h"

#define MAX_BYTES ((size_t)64 << 20)
#define MAX_BATCH 4096 /* proto_run_action's own bound */
#define HORIZON 4

/* ---- a stand-in policy: checks what it is given, answers by the rules
 * of the instruction's first letter ---- */

typedef struct fake_policy {
    groot_array out[2];
    float data[2][MAX_BATCH * HORIZON * 2];
    char err[128];
} fake_policy;

static const char MODALITY[] =
    "{\"video\":{\"delta_indices\":[0],\"modality_keys\":[\"video.ego_view\"]},"
    "\"state\":{\"delta_indices\":[0],\"modality_keys\":[\"state.left_arm\"]},"
    "\"action\":{\"delta_indices\":[0,1],\"modality_keys\":[\"action.left_arm\",\"action.right_arm\"]},"
    "\"language\":{\"delta_indices\":[0],\"modality_keys\":[\"annotation.human.action.task_description\"]}}";

static groot_status fake_get_action(void *ctx, const groot_observation *obs, const groot_array **actions,
                                    int *n)
{
    fake_policy *p = ctx;
    p->err[0] = '\0';
    if (obs->batch < 0 || obs->batch > MAX_BATCH || !obs->arrays || obs->num_arrays < 1)
        abort();
    /* Everything handed over must be readable to its last byte. */
    volatile unsigned sum = 0;
    for (int i = 0; i < obs->num_arrays; i++) {
        const groot_array *a = &obs->arrays[i];
        size_t nbytes;
        if (!a->name || npy_nbytes(a->dtype, a->ndim, a->shape, &nbytes) != 0 || !a->data)
            abort();
        for (size_t k = 0; k < nbytes; k++)
            sum += ((const uint8_t *)a->data)[k];
    }
    int ninstr = obs->batch ? obs->batch : 1;
    for (int i = 0; i < ninstr; i++)
        sum += (unsigned)strlen(obs->instructions[i]);
    (void)sum;
    switch (obs->instructions[0][0]) {
    case 'x':
        snprintf(p->err, sizeof p->err, "state.left_arm: expected 7 values, got 3");
        return GROOT_ERR_INVALID_ARG;
    case 'y':
        return GROOT_ERR_INTERNAL; /* no message: the status name answers */
    default: break;
    }
    int b = obs->batch ? obs->batch : 1;
    for (int k = 0; k < 2; k++) {
        groot_array *a = &p->out[k];
        a->name = k ? "action.right_arm" : "action.left_arm";
        a->dtype = GROOT_F32;
        a->ndim = obs->batch ? 3 : 2;
        int64_t shp3[3] = {b, HORIZON, 2};
        memcpy(a->shape, obs->batch ? shp3 : shp3 + 1, (size_t)a->ndim * sizeof(int64_t));
        for (int i = 0; i < b * HORIZON * 2; i++)
            p->data[k][i] = (float)(k * 1000 + i);
        a->data = p->data[k];
    }
    if (obs->instructions[0][0] == 'z')
        p->out[1].name = NULL; /* a malformed reply: the server must say so */
    *actions = p->out;
    *n = 2;
    return GROOT_OK;
}
static const char *fake_modality(void *ctx) { return MODALITY; }
static const char *fake_errmsg(void *ctx) { return ((fake_policy *)ctx)->err; }

static fake_policy *policy;
static proto_server open_server, token_server;

static void cleanup(void)
{
    proto_server_destroy(&open_server);
    proto_server_destroy(&token_server);
    free(policy);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    policy = calloc(1, sizeof *policy);
    if (!policy)
        abort();
    proto_backend be = {policy, fake_get_action, fake_modality, fake_errmsg};
    char err[256];
    if (proto_server_init(&open_server, &be, NULL, MAX_BYTES, err, sizeof err) != 0 ||
        proto_server_init(&token_server, &be, "secret", MAX_BYTES, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_msgpack: %s\n", err);
        abort();
    }
    atexit(cleanup);
    return 0;
}

static void handle(proto_server *s, const uint8_t *msg, size_t len)
{
    msgpack_sbuffer reply;
    msgpack_sbuffer_init(&reply);
    proto_log log;
    proto_log_init(&log);
    if (proto_handle_msgpack(s, msg, len, &reply, &log) != 0)
        abort();
    mp_limits lim;
    mp_limits_default(&lim, MAX_BYTES);
    mp_doc doc;
    char err[256];
    if (mp_parse(reply.data, reply.size, &lim, &doc, err, sizeof err) != 0 || doc.root->type != MP_MAP)
        abort();
    /* An error reply is exactly {"error": STR}, flagged in the log. */
    const mp_node *e = mp_map_get(doc.root, "error");
    if (e && (e->type != MP_STR || doc.root->len != 1 || !log.failed))
        abort();
    if (!e && log.failed)
        abort();
    mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so that ASan sees any over-read. */
    uint8_t *msg = malloc(size ? size : 1);
    if (!msg)
        abort();
    if (size)
        memcpy(msg, data, size);
    handle(&open_server, msg, size);
    handle(&token_server, msg, size);

    /* The codec alone, under tight limits. */
    mp_limits lim;
    mp_limits_default(&lim, size ? size : 1);
    lim.max_depth = 4;
    lim.max_nodes = 64;
    mp_doc doc;
    char err[256] = "";
    if (mp_parse(msg, size, &lim, &doc, err, sizeof err) == 0) {
        char *s = mp_strdup(doc.root);
        free(s);
        (void)mp_map_get(doc.root, "endpoint");
    } else if (!err[0]) {
        abort();
    }
    mp_doc_free(&doc);
    free(msg);
    return 0;
}
