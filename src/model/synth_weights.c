/*
 * Generating one tensor's bf16 values straight into a shard file. Only one
 * chunk is ever in memory, so the 3B checkpoint's 600 MB embedding table
 * costs 8 MB of buffer, not 600 MB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "model/synth.h"
#include "model/synth_rng.h"

/* safetensors is little-endian and the values are written as they lie in memory. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "groot_synth writes host-order bf16: big-endian hosts need a byte swap here"
#endif

/* The unit of reproducibility: each block of elements has its own stream,
 * so blocks can be generated in any order, on any thread. Changing this
 * changes every synthesized checkpoint. */
#define BLOCK_ELEMS ((int64_t)1 << 16)
/* Blocks generated (in parallel) per write. */
#define CHUNK_BLOCKS 64

static void fill_block(uint16_t *dst, int64_t n, const gr_synth_tensor *t, uint64_t seed,
                       uint64_t key, uint64_t block)
{
    gr_rng r;
    gr_rng_init(&r, seed, key, block);
    for (int64_t i = 0; i < n; i++)
        dst[i] = gr_f32_to_bf16(t->mean + t->std * gr_rng_normal(&r));
}

groot_status gr_synth_write_tensor(FILE *f, const char *path, const gr_synth_tensor *t,
                                   uint64_t seed, gr_error *err)
{
    const int64_t chunk = BLOCK_ELEMS * CHUNK_BLOCKS;
    int64_t cap = t->numel < chunk ? t->numel : chunk;
    uint16_t *buf = malloc((size_t)cap * sizeof *buf);
    if (!buf)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory generating '%s'", t->name);
    uint64_t key = gr_rng_hash(t->name);
    for (int64_t start = 0; start < t->numel; start += chunk) {
        int64_t n = t->numel - start < chunk ? t->numel - start : chunk;
        int64_t nblocks = (n + BLOCK_ELEMS - 1) / BLOCK_ELEMS;
        int64_t first = start / BLOCK_ELEMS;
#pragma omp parallel for schedule(static) if (nblocks > 1)
        for (int64_t b = 0; b < nblocks; b++) {
            int64_t off = b * BLOCK_ELEMS;
            int64_t len = n - off < BLOCK_ELEMS ? n - off : BLOCK_ELEMS;
            fill_block(buf + off, len, t, seed, key, (uint64_t)(first + b));
        }
        if (fwrite(buf, sizeof *buf, (size_t)n, f) != (size_t)n) {
            int e = errno;
            free(buf);
            return gr_fail(err, GROOT_ERR_IO, "writing tensor '%s' to '%s': %s", t->name, path,
                           e ? strerror(e) : "short write");
        }
    }
    free(buf);
    return GROOT_OK;
}
