/*
 * The sizes groot_synth can produce. "tiny" matches the golden tiny model
 * (tests/data/goldens/tiny/checkpoint) so that a synthesized tiny checkpoint
 * exercises exactly the shapes the goldens do; "n1.5-3b" is the released
 * nvidia/GR00T-N1.5-3B (SPEC.md section 1), for timing and memory work.
 */
#include <string.h>

#include "model/synth.h"

static const gr_synth_preset presets[] = {
    {
        .name = "tiny",
        .cfg = {
            .vision = {.hidden = 64, .intermediate = 96, .heads = 4, .layers = 2, .patch = 14,
                       .image_size = 224, .channels = 3, .ln_eps = 1e-6f},
            .text = {.hidden = 48, .intermediate = 80, .heads = 4, .kv_heads = 2, .head_dim = 16,
                     .layers = 3, .vocab = 151680, .rms_eps = 1e-6f, .rope_theta = 1e6},
            .action = {.action_dim = 32, .horizon = 16, .hidden = 40, .embed = 32,
                       .backbone_dim = 48, .max_state_dim = 64, .steps = 4,
                       .timestep_buckets = 1000, .future_tokens = 32, .max_seq_len = 1024,
                       .num_embodiments = 32, .add_pos_embed = 1, .use_vlln = 1,
                       .dit = {.heads = 4, .head_dim = 8, .layers = 4}, .dit_output_dim = 40,
                       .dit_cross_dim = 48, .dit_interleave = 1,
                       .vlsa = {.heads = 4, .head_dim = 12, .layers = 2}},
            .image_token_id = 151669,
            .tokens_per_image = 256,
            .vision_out_dim = 48,
        },
        .text_config_layers = 4,
        /* 16 MB (the total is just over it) so that the tiny checkpoint is
         * split in two, as the golden one is, and loaders see an index. */
        .max_shard_bytes = 16000000,
    },
    {
        .name = "n1.5-3b",
        .cfg = {
            .vision = {.hidden = 1152, .intermediate = 4304, .heads = 16, .layers = 27,
                       .patch = 14, .image_size = 224, .channels = 3, .ln_eps = 1e-6f},
            .text = {.hidden = 2048, .intermediate = 6144, .heads = 16, .kv_heads = 8,
                     .head_dim = 128, .layers = 12, .vocab = 151680, .rms_eps = 1e-6f,
                     .rope_theta = 1e6},
            .action = {.action_dim = 32, .horizon = 16, .hidden = 1024, .embed = 1536,
                       .backbone_dim = 2048, .max_state_dim = 64, .steps = 4,
                       .timestep_buckets = 1000, .future_tokens = 32, .max_seq_len = 1024,
                       .num_embodiments = 32, .add_pos_embed = 1, .use_vlln = 1,
                       .dit = {.heads = 32, .head_dim = 48, .layers = 16},
                       .dit_output_dim = 1024, .dit_cross_dim = 2048, .dit_interleave = 1,
                       .vlsa = {.heads = 32, .head_dim = 64, .layers = 4}},
            .image_token_id = 151669,
            .tokens_per_image = 256,
            .vision_out_dim = 2048,
        },
        .text_config_layers = 28,
        .max_shard_bytes = 4ull << 30,
    },
};

const gr_synth_preset *gr_synth_find_preset(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}
