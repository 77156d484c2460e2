/* groot_checkpoint_describe: a checkpoint's report from its configs and its
 * tensor headers, without loading a single weight. */
#include <stdio.h>
#include <string.h>

#include "io/checkpoint.h"
#include "model/config.h"
#include "model/describe.h"
#include "model/weights.h"

#ifndef GROOT_ASSETS_DIR
#define GROOT_ASSETS_DIR "assets"
#endif

static groot_status fail_into(char *out, size_t size, const gr_error *err)
{
    if (out && size)
        snprintf(out, size, "%s", err->msg);
    return err->status;
}

groot_status groot_checkpoint_describe(const char *dir, const char *assets_dir, char *out, size_t size)
{
    gr_error err;
    gr_error_clear(&err);
    if (!dir || !out || size < 64) {
        gr_fail(&err, GROOT_ERR_INVALID_ARG, "groot_checkpoint_describe: bad arguments");
        return fail_into(out, size, &err);
    }
    gr_model_config cfg;
    groot_status st = gr_model_config_load(dir, assets_dir ? assets_dir : GROOT_ASSETS_DIR, &cfg, &err);
    if (st != GROOT_OK)
        return fail_into(out, size, &err);
    gr_checkpoint *ckpt = NULL;
    if ((st = gr_checkpoint_open(dir, &ckpt, &err)) != GROOT_OK)
        return fail_into(out, size, &err);
    st = gr_model_weights_check(ckpt, &cfg, &err);
    size_t file_bytes = 0;
    int tensors = 0;
    for (int i = 0; i < ckpt->num_shards; i++) {
        file_bytes += ckpt->shards[i]->map_size;
        tensors += ckpt->shards[i]->count;
    }
    int shards = ckpt->num_shards;
    gr_checkpoint_close(ckpt);
    if (st != GROOT_OK)
        return fail_into(out, size, &err);

    int n = snprintf(out, size, "checkpoint %s\n  %d shard(s), %d tensors, %.2f GiB on disk; every tensor the network "
                                "needs is present with the right shape\n\n",
                     dir, shards, tensors, file_bytes / (1024.0 * 1024.0 * 1024.0));
    if (n < 0 || (size_t)n >= size)
        return GROOT_ERR_INVALID_ARG;
    st = gr_model_describe_config(&cfg, out + n, size - (size_t)n);
    if (st != GROOT_OK)
        snprintf(out, size, "report does not fit in %zu bytes", size);
    return st;
}
