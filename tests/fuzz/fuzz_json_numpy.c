/* libFuzzer target for the HTTP side of the server: the bytes are a POST /act
 * body, answered by proto_handle_http_act against a stand-in policy (JSON
 * parsing, json_numpy arrays, base64, batching checks, the policy's errors,
 * the replies); the same bytes are also decoded as one json_numpy array and
 * as base64. Replies must be JSON objects with a sane status; nothing may
 * crash, leak or read past the body.
 *   fuzz_json_numpy -max_total_time=30 [corpus dir] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/json_numpy.h"
#include "server/npy.h"
#include "server/protocol.h"

#define MAX_BYTES ((size_t)64 << 20)
#define MAX_BATCH 4096 /* proto_run_action's own bound */
#define HORIZON 4

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

/* Checks what it is given; answers by the instruction's first letter. */
static groot_status fake_get_action(void *ctx, const groot_observation *obs, const groot_array **actions,
                                    int *n)
{
    fake_policy *p = ctx;
    p->err[0] = '\0';
    if (obs->batch < 0 || obs->batch > MAX_BATCH || !obs->arrays || obs->num_arrays < 1)
        abort();
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
        return GROOT_ERR_INTERNAL;
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
        p->out[1].name = NULL;
    *actions = p->out;
    *n = 2;
    return GROOT_OK;
}
static const char *fake_modality(void *ctx) { return MODALITY; }
static const char *fake_errmsg(void *ctx) { return ((fake_policy *)ctx)->err; }

static fake_policy *policy;
static proto_server server;

static void cleanup(void)
{
    proto_server_destroy(&server);
    free(policy);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    policy = calloc(1, sizeof *policy);
    if (!policy)
        abort();
    proto_backend be = {policy, fake_get_action, fake_modality, fake_errmsg};
    char err[256];
    if (proto_server_init(&server, &be, NULL, MAX_BYTES, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_json_numpy: %s\n", err);
        abort();
    }
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes (not NUL-terminated), so that ASan sees
     * any over-read. */
    char *body = malloc(size ? size : 1);
    if (!body)
        abort();
    if (size)
        memcpy(body, data, size);

    int status = 0;
    char *json = NULL;
    proto_log log;
    proto_log_init(&log);
    if (proto_handle_http_act(&server, body, size, &status, &json, &log) != 0 || !json)
        abort();
    cJSON *reply = cJSON_Parse(json);
    if (!cJSON_IsObject(reply))
        abort();
    if (status == 200) {
        if (log.failed || cJSON_GetObjectItemCaseSensitive(reply, "detail"))
            abort();
    } else if ((status != 400 && status != 500) || !log.failed ||
               !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(reply, "detail"))) {
        abort();
    }
    cJSON_Delete(reply);
    free(json);

    /* The bytes as one json_numpy array. */
    cJSON *item = cJSON_ParseWithLength(body, size);
    if (json_numpy_is_array(item)) {
        groot_array a;
        char err[256] = "";
        if (json_numpy_decode(item, MAX_BYTES, &a, err, sizeof err) == 0) {
            size_t nbytes;
            if (a.name || npy_nbytes(a.dtype, a.ndim, a.shape, &nbytes) != 0 || !a.data)
                abort();
            cJSON *back = json_numpy_encode(&a, err, sizeof err);
            groot_array b;
            if (!back || json_numpy_decode(back, MAX_BYTES, &b, err, sizeof err) != 0 || b.dtype != a.dtype ||
                b.ndim != a.ndim || (nbytes && memcmp(a.data, b.data, nbytes) != 0))
                abort();
            free((void *)b.data);
            cJSON_Delete(back);
            free((void *)a.data);
        } else if (!err[0]) {
            abort();
        }
    }
    cJSON_Delete(item);

    /* The bytes as base64, and back. */
    uint8_t *raw;
    size_t raw_len;
    if (b64_decode(body, size, size, &raw, &raw_len) == 0) {
        if (raw_len > size)
            abort();
        char *enc = b64_encode(raw, raw_len);
        uint8_t *again;
        size_t again_len;
        if (!enc || b64_decode(enc, strlen(enc), raw_len, &again, &again_len) != 0 || again_len != raw_len ||
            (raw_len && memcmp(raw, again, raw_len) != 0))
            abort();
        free(again);
        free(enc);
        free(raw);
    }
    free(body);
    return 0;
}
