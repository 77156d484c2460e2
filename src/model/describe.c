/*
 * Parameter counts by formula. They are derived here independently of the
 * tensor list the synthesizer plans (synth_plan.c), and the tests hold the
 * two against each other: a shape mistake in either shows up as a mismatch.
 */
#include <stdarg.h>
#include <stdio.h>

#include "model/describe.h"

/* The DiT's timestep embedder input: a fixed 256-channel sinusoid. */
#define TIMESTEP_CHANNELS 256

static int64_t linear(int64_t in, int64_t out, int bias) { return in * out + (bias ? out : 0); }

/* diffusers BasicTransformerBlock attention (q from dim, k/v from kv_dim,
 * inner width) plus its 4x GELU feed-forward; all with biases. */
static int64_t attn_ff(int64_t dim, int64_t inner, int64_t kv_dim)
{
    return linear(dim, inner, 1) + 2 * linear(kv_dim, inner, 1) + linear(inner, dim, 1) +
           linear(dim, 4 * dim, 1) + linear(4 * dim, dim, 1);
}

void gr_model_param_counts(const gr_model_config *cfg, gr_param_counts *c)
{
    const gr_vision_config *v = &cfg->vision;
    const gr_text_config *t = &cfg->text;
    const gr_action_config *a = &cfg->action;
    int64_t h = v->hidden, vi = v->intermediate;
    int64_t grid = v->patch > 0 ? v->image_size / v->patch : 0;

    int64_t vit_layer = 2 * 2 * h + 4 * linear(h, h, 1) + linear(h, vi, 1) + linear(vi, h, 1);
    c->vision = linear((int64_t)v->channels * v->patch * v->patch, h, 1) + grid * grid * h +
                v->layers * vit_layer + 2 * h;
    /* probe, packed in_proj, out_proj, layernorm, mlp */
    c->vision_head = h + linear(h, 3 * h, 1) + linear(h, h, 1) + 2 * h + linear(h, vi, 1) +
                     linear(vi, h, 1);
    c->mlp1 = linear(h, cfg->vision_out_dim, 1);

    int64_t d = t->hidden, q = (int64_t)t->heads * t->head_dim;
    int64_t kv = (int64_t)t->kv_heads * t->head_dim;
    int64_t llm_layer = 2 * d + linear(d, q, 0) + 2 * linear(d, kv, 0) + linear(q, d, 0) +
                        2 * t->head_dim + 3 * linear(d, t->intermediate, 0);
    c->embed_tokens = (int64_t)t->vocab * d;
    c->language = t->layers * llm_layer + d;

    int64_t bb = a->backbone_dim, cats = a->num_embodiments, e = a->embed, hs = a->hidden;
    int64_t vl_inner = (int64_t)a->vlsa.heads * a->vlsa.head_dim;
    c->vl = (a->use_vlln ? 2 * bb : 0) + a->vlsa.layers * (4 * bb + attn_ff(bb, vl_inner, bb));

    /* Category-specific layers hold one [in, out] matrix and bias per embodiment. */
    c->state_encoder = cats * (linear(a->max_state_dim, hs, 1) + linear(hs, e, 1));
    c->action_encoder = cats * (linear(a->action_dim, e, 1) + linear(2 * e, e, 1) + linear(e, e, 1));
    c->action_decoder = cats * (linear(hs, hs, 1) + linear(hs, a->action_dim, 1));

    int64_t dd = (int64_t)a->dit.heads * a->dit.head_dim;
    c->dit = linear(TIMESTEP_CHANNELS, dd, 1) + linear(dd, dd, 1) + linear(dd, 2 * dd, 1) +
             linear(dd, a->dit_output_dim, 1);
    for (int l = 0; l < a->dit.layers; l++) {
        int cross = !a->dit_interleave || l % 2 == 0;
        c->dit += linear(dd, 2 * dd, 1) + attn_ff(dd, dd, cross ? a->dit_cross_dim : dd);
    }
    c->tokens = (int64_t)a->future_tokens * e + (a->add_pos_embed ? (int64_t)a->max_seq_len * e : 0);

    c->total = c->vision + c->vision_head + c->mlp1 + c->embed_tokens + c->language + c->vl +
               c->state_encoder + c->action_encoder + c->dit + c->action_decoder + c->tokens;
}

typedef struct out {
    char *buf;
    size_t size, len;
    int truncated;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
    if (o->truncated)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->size - o->len) {
        o->truncated = 1;
        o->len = o->size - 1;
        return;
    }
    o->len += (size_t)n;
}

/* Bytes in binary units with three significant-ish digits: "1.23 GiB". */
static void human(char *dst, size_t size, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(dst, size, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
}

static void row(out *o, const char *what, int64_t n, int64_t total)
{
    char f32[32], b16[32], b8[32];
    human(f32, sizeof f32, 4.0 * (double)n);
    human(b16, sizeof b16, 2.0 * (double)n);
    human(b8, sizeof b8, (double)n);
    put(o, "  %-26s %15lld %6.2f%%  %11s %11s %11s\n", what, (long long)n,
        total > 0 ? 100.0 * (double)n / (double)total : 0.0, f32, b16, b8);
}

groot_status gr_model_describe_config(const gr_model_config *cfg, char *buf, size_t size)
{
    if (!cfg || !buf || size == 0)
        return GROOT_ERR_INVALID_ARG;
    out o = {.buf = buf, .size = size};
    buf[0] = '\0';
    const gr_vision_config *v = &cfg->vision;
    const gr_text_config *t = &cfg->text;
    const gr_action_config *a = &cfg->action;

    put(&o, "GR00T N1.5 model\n");
    put(&o, "Vision (SigLIP2): hidden %d, intermediate %d, %d heads x %d, %d layers, "
            "patch %d, image %dx%d, %d channels, %d tokens per image, LayerNorm eps %g\n",
        v->hidden, v->intermediate, v->heads, v->heads > 0 ? v->hidden / v->heads : 0, v->layers,
        v->patch, v->image_size, v->image_size, v->channels, cfg->tokens_per_image,
        (double)v->ln_eps);
    put(&o, "mlp1: %d -> %d\n", v->hidden, cfg->vision_out_dim);
    put(&o, "Language (Qwen3): hidden %d, intermediate %d, %d query / %d kv heads x %d, "
            "%d layers (select_layer), vocab %d, RMSNorm eps %g, RoPE theta %g, "
            "image token %d\n",
        t->hidden, t->intermediate, t->heads, t->kv_heads, t->head_dim, t->layers, t->vocab,
        (double)t->rms_eps, t->rope_theta, cfg->image_token_id);
    put(&o, "Action head: hidden %d, input embedding %d, backbone embedding %d, "
            "max state dim %d, action dim %d, horizon %d, %d denoising steps, "
            "%d timestep buckets, %d future tokens, max seq len %d, %d embodiments, "
            "vlln %s, position embedding %s\n",
        a->hidden, a->embed, a->backbone_dim, a->max_state_dim, a->action_dim, a->horizon,
        a->steps, a->timestep_buckets, a->future_tokens, a->max_seq_len, a->num_embodiments,
        a->use_vlln ? "on" : "off", a->add_pos_embed ? "on" : "off");
    put(&o, "  vl_self_attention: %d heads x %d, %d layers\n", a->vlsa.heads, a->vlsa.head_dim,
        a->vlsa.layers);
    put(&o, "  DiT: %d heads x %d, %d layers, output %d, cross-attention from %d, %s\n",
        a->dit.heads, a->dit.head_dim, a->dit.layers, a->dit_output_dim, a->dit_cross_dim,
        a->dit_interleave ? "cross/self interleaved" : "all cross-attention");

    gr_param_counts c;
    gr_model_param_counts(cfg, &c);
    put(&o, "\nParameters and weight memory:\n");
    put(&o, "  %-26s %15s %7s  %11s %11s %11s\n", "component", "parameters", "share", "fp32",
        "bf16/fp16", "fp8/int8");
    row(&o, "vision tower", c.vision, c.total);
    row(&o, "vision pooling head*", c.vision_head, c.total);
    row(&o, "mlp1", c.mlp1, c.total);
    row(&o, "token embedding", c.embed_tokens, c.total);
    row(&o, "language layers", c.language, c.total);
    row(&o, "vlln + vl_self_attention", c.vl, c.total);
    row(&o, "state encoder", c.state_encoder, c.total);
    row(&o, "action encoder", c.action_encoder, c.total);
    row(&o, "DiT", c.dit, c.total);
    row(&o, "action decoder", c.action_decoder, c.total);
    row(&o, "future tokens + pos. emb.", c.tokens, c.total);
    row(&o, "total", c.total, c.total);
    row(&o, "used (total - *)", c.total - c.vision_head, c.total);
    put(&o, "  * stored in checkpoints but never used.\n");
    return o.truncated ? GROOT_ERR_INVALID_ARG : GROOT_OK;
}
