/*
 * The tensor list of a GR00T N1.5 checkpoint, derived from its config, with
 * the distribution each tensor is drawn from, and the split into shards.
 *
 * Scales. The weights are random, but the engine must be exercised on
 * activations of realistic magnitude through every layer (no overflow in
 * fp16, no collapse to zero), so:
 * - a Linear feeding the block's nonlinearity or attention (q/k/v, fc1,
 *   gate/up, mlp1, encoders) is N(0, 1/sqrt(in)): unit-variance inputs give
 *   unit-variance outputs, and attention logits q.k/sqrt(d) of order 1;
 * - a Linear writing into a residual stream (out_proj, fc2, o_proj,
 *   down_proj, to_out.0, ff.net.2) is further scaled by 1/sqrt(2 * layers),
 *   as GPT-2 does, so the 2*layers additions of a tower sum to a variance
 *   of order 1 instead of growing with depth (27 ViT layers, 12 LLM layers);
 * - the adaLN modulation Linears (norm1.linear, proj_out_1) are halved, so
 *   that (1 + scale) stays mostly positive and the modulated LayerNorm
 *   output keeps its sign and order of magnitude;
 * - biases and LayerNorm biases N(0, 0.02); norm gains (LayerNorm, RMSNorm,
 *   q_norm/k_norm) 1 + N(0, 0.05): close to the identity, but not exactly,
 *   so that a loader mixing up two gains is caught;
 * - embeddings (tokens, positions, future tokens, the pooling probe)
 *   N(0, 0.02), the usual initializer_range: the first norm of each tower
 *   rescales them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/synth.h"

#define BIAS_STD 0.02f
#define NORM_STD 0.05f
#define EMBED_STD 0.02f
#define MODULATION_GAIN 0.5f
/* The DiT's timestep embedder sees a fixed 256-channel sinusoid (SPEC.md section 5). */
#define TIMESTEP_CHANNELS 256
/* Bound on one tensor's header entry beyond its name: quotes, dtype, up to
 * four 20-digit dims and two 20-digit offsets with their punctuation. */
#define HEADER_ENTRY_EXTRA 200
#define HEADER_FIXED "{\"__metadata__\":{\"format\":\"pt\"}"

typedef struct builder {
    gr_synth_plan *plan;
    int cap;
    groot_status status;
    gr_error *err;
} builder;

static void add(builder *b, float mean, float std, int ndim, const int64_t *shape,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add(builder *b, float mean, float std, int ndim, const int64_t *shape,
                const char *fmt, ...)
{
    if (b->status != GROOT_OK)
        return;
    gr_synth_plan *p = b->plan;
    if (p->count == b->cap) {
        int cap = b->cap ? b->cap * 2 : 256;
        gr_synth_tensor *grown = realloc(p->tensors, (size_t)cap * sizeof *grown);
        if (!grown) {
            b->status = gr_fail(b->err, GROOT_ERR_NOMEM, "out of memory planning tensors");
            return;
        }
        p->tensors = grown;
        b->cap = cap;
    }
    gr_synth_tensor *t = &p->tensors[p->count];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof t->name) {
        b->status = gr_fail(b->err, GROOT_ERR_INTERNAL, "tensor name too long: '%s...'", t->name);
        return;
    }
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            b->status = gr_fail(b->err, GROOT_ERR_INVALID_ARG,
                                "tensor '%s': dimension %d is %lld (a config size is not positive)",
                                t->name, i, (long long)shape[i]);
            return;
        }
        t->shape[i] = shape[i];
        t->numel *= shape[i];
    }
    t->mean = mean;
    t->std = std;
    p->count++;
}

/* Formats a name prefix into p (GR_SYNTH_NAME_MAX bytes); too long a name
 * fails the plan instead of silently naming a different tensor. */
static void pfx(builder *b, char *p, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void pfx(builder *b, char *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p, GR_SYNTH_NAME_MAX, fmt, ap);
    va_end(ap);
    if ((n < 0 || n >= GR_SYNTH_NAME_MAX) && b->status == GROOT_OK)
        b->status = gr_fail(b->err, GROOT_ERR_INTERNAL, "tensor name too long: '%s...'", p);
}

#define SHAPE(...) (sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

static float fan_in_std(int64_t in, float gain) { return gain / sqrtf((float)in); }

/* nn.Linear: weight [out, in], optional bias [out]. */
static void linear(builder *b, const char *prefix, int64_t out, int64_t in, float gain, int bias)
{
    add(b, 0, fan_in_std(in, gain), SHAPE(out, in), "%s.weight", prefix);
    if (bias)
        add(b, 0, BIAS_STD, SHAPE(out), "%s.bias", prefix);
}

static void norm(builder *b, const char *prefix, int64_t dim, int bias)
{
    add(b, 1, NORM_STD, SHAPE(dim), "%s.weight", prefix);
    if (bias)
        add(b, 0, BIAS_STD, SHAPE(dim), "%s.bias", prefix);
}

/* Category-specific linear: W [categories, in, out] (applied x @ W, not transposed), b [categories, out]. */
static void cat_linear(builder *b, const char *prefix, int64_t cats, int64_t in, int64_t out)
{
    add(b, 0, fan_in_std(in, 1), SHAPE(cats, in, out), "%s.W", prefix);
    add(b, 0, BIAS_STD, SHAPE(cats, out), "%s.b", prefix);
}

static float residual_gain(int layers) { return 1.0f / sqrtf(2.0f * (float)layers); }

static void vision(builder *b, const gr_vision_config *v)
{
    const char *vm = "backbone.eagle_model.vision_model.vision_model";
    char p[GR_SYNTH_NAME_MAX];
    int64_t h = v->hidden, in = v->intermediate, grid = v->image_size / v->patch;
    int64_t patch_in = (int64_t)v->channels * v->patch * v->patch;
    float res = residual_gain(v->layers);

    add(b, 0, fan_in_std(patch_in, 1), SHAPE(h, v->channels, v->patch, v->patch),
        "%s.embeddings.patch_embedding.weight", vm);
    add(b, 0, BIAS_STD, SHAPE(h), "%s.embeddings.patch_embedding.bias", vm);
    add(b, 0, EMBED_STD, SHAPE(grid * grid, h), "%s.embeddings.position_embedding.weight", vm);
    for (int l = 0; l < v->layers; l++) {
        static const char *const qkv[] = {"q_proj", "k_proj", "v_proj"};
        pfx(b, p, "%s.encoder.layers.%d.layer_norm1", vm, l);
        norm(b, p, h, 1);
        pfx(b, p, "%s.encoder.layers.%d.layer_norm2", vm, l);
        norm(b, p, h, 1);
        for (int i = 0; i < 3; i++) {
            pfx(b, p, "%s.encoder.layers.%d.self_attn.%s", vm, l, qkv[i]);
            linear(b, p, h, h, 1, 1);
        }
        pfx(b, p, "%s.encoder.layers.%d.self_attn.out_proj", vm, l);
        linear(b, p, h, h, res, 1);
        pfx(b, p, "%s.encoder.layers.%d.mlp.fc1", vm, l);
        linear(b, p, in, h, 1, 1);
        pfx(b, p, "%s.encoder.layers.%d.mlp.fc2", vm, l);
        linear(b, p, h, in, res, 1);
    }
    pfx(b, p, "%s.post_layernorm", vm);
    norm(b, p, h, 1);

    /* The pooling head: never computed, but the released checkpoint has it
     * and so does the golden one. nn.MultiheadAttention packs q/k/v. */
    add(b, 0, fan_in_std(h, 1), SHAPE(3 * h, h), "%s.head.attention.in_proj_weight", vm);
    add(b, 0, BIAS_STD, SHAPE(3 * h), "%s.head.attention.in_proj_bias", vm);
    pfx(b, p, "%s.head.attention.out_proj", vm);
    linear(b, p, h, h, 1, 1);
    pfx(b, p, "%s.head.layernorm", vm);
    norm(b, p, h, 1);
    pfx(b, p, "%s.head.mlp.fc1", vm);
    linear(b, p, in, h, 1, 1);
    pfx(b, p, "%s.head.mlp.fc2", vm);
    linear(b, p, h, in, 1, 1);
    add(b, 0, EMBED_STD, SHAPE(1, 1, h), "%s.head.probe", vm);
}

static void language(builder *b, const gr_text_config *t)
{
    const char *lm = "backbone.eagle_model.language_model.model";
    char p[GR_SYNTH_NAME_MAX];
    int64_t d = t->hidden, q = (int64_t)t->heads * t->head_dim, kv = (int64_t)t->kv_heads * t->head_dim;
    float res = residual_gain(t->layers);

    add(b, 0, EMBED_STD, SHAPE(t->vocab, d), "%s.embed_tokens.weight", lm);
    for (int l = 0; l < t->layers; l++) {
        pfx(b, p, "%s.layers.%d.input_layernorm", lm, l);
        norm(b, p, d, 0);
        pfx(b, p, "%s.layers.%d.post_attention_layernorm", lm, l);
        norm(b, p, d, 0);
        pfx(b, p, "%s.layers.%d.self_attn.q_proj", lm, l);
        linear(b, p, q, d, 1, 0);
        pfx(b, p, "%s.layers.%d.self_attn.k_proj", lm, l);
        linear(b, p, kv, d, 1, 0);
        pfx(b, p, "%s.layers.%d.self_attn.v_proj", lm, l);
        linear(b, p, kv, d, 1, 0);
        pfx(b, p, "%s.layers.%d.self_attn.o_proj", lm, l);
        linear(b, p, d, q, res, 0);
        pfx(b, p, "%s.layers.%d.self_attn.q_norm", lm, l);
        norm(b, p, t->head_dim, 0);
        pfx(b, p, "%s.layers.%d.self_attn.k_norm", lm, l);
        norm(b, p, t->head_dim, 0);
        pfx(b, p, "%s.layers.%d.mlp.gate_proj", lm, l);
        linear(b, p, t->intermediate, d, 1, 0);
        pfx(b, p, "%s.layers.%d.mlp.up_proj", lm, l);
        linear(b, p, t->intermediate, d, 1, 0);
        pfx(b, p, "%s.layers.%d.mlp.down_proj", lm, l);
        linear(b, p, d, t->intermediate, res, 0);
    }
    pfx(b, p, "%s.norm", lm);
    norm(b, p, d, 0);
}

/* A diffusers BasicTransformerBlock's attention and feed-forward (4x). */
static void attn_ff(builder *b, const char *blk, int64_t dim, int64_t inner, int64_t kv_dim,
                    float res)
{
    char p[GR_SYNTH_NAME_MAX];
    pfx(b, p, "%s.attn1.to_q", blk);
    linear(b, p, inner, dim, 1, 1);
    pfx(b, p, "%s.attn1.to_k", blk);
    linear(b, p, inner, kv_dim, 1, 1);
    pfx(b, p, "%s.attn1.to_v", blk);
    linear(b, p, inner, kv_dim, 1, 1);
    pfx(b, p, "%s.attn1.to_out.0", blk);
    linear(b, p, dim, inner, res, 1);
    pfx(b, p, "%s.ff.net.0.proj", blk);
    linear(b, p, 4 * dim, dim, 1, 1);
    pfx(b, p, "%s.ff.net.2", blk);
    linear(b, p, dim, 4 * dim, res, 1);
}

static void action_head(builder *b, const gr_action_config *a)
{
    char p[GR_SYNTH_NAME_MAX], blk[GR_SYNTH_NAME_MAX];
    int64_t bb = a->backbone_dim, cats = a->num_embodiments, e = a->embed, h = a->hidden;

    if (a->use_vlln)
        norm(b, "action_head.vlln", bb, 1);
    int64_t vl_inner = (int64_t)a->vlsa.heads * a->vlsa.head_dim;
    for (int l = 0; l < a->vlsa.layers; l++) {
        pfx(b, blk, "action_head.vl_self_attention.transformer_blocks.%d", l);
        pfx(b, p, "%s.norm1", blk);
        norm(b, p, bb, 1);
        pfx(b, p, "%s.norm3", blk);
        norm(b, p, bb, 1);
        attn_ff(b, blk, bb, vl_inner, bb, residual_gain(a->vlsa.layers));
    }

    cat_linear(b, "action_head.state_encoder.layer1", cats, a->max_state_dim, h);
    cat_linear(b, "action_head.state_encoder.layer2", cats, h, e);
    cat_linear(b, "action_head.action_encoder.W1", cats, a->action_dim, e);
    cat_linear(b, "action_head.action_encoder.W2", cats, 2 * e, e);
    cat_linear(b, "action_head.action_encoder.W3", cats, e, e);
    cat_linear(b, "action_head.action_decoder.layer1", cats, h, h);
    cat_linear(b, "action_head.action_decoder.layer2", cats, h, a->action_dim);
    add(b, 0, EMBED_STD, SHAPE(a->future_tokens, e), "action_head.future_tokens.weight");
    if (a->add_pos_embed)
        add(b, 0, EMBED_STD, SHAPE(a->max_seq_len, e), "action_head.position_embedding.weight");

    /* The DiT runs at its own inner width heads*head_dim (equal to embed in a
     * valid config; the shapes follow the reference's construction). */
    int64_t d = (int64_t)a->dit.heads * a->dit.head_dim;
    linear(b, "action_head.model.timestep_encoder.timestep_embedder.linear_1", d,
           TIMESTEP_CHANNELS, 1, 1);
    linear(b, "action_head.model.timestep_encoder.timestep_embedder.linear_2", d, d, 1, 1);
    for (int l = 0; l < a->dit.layers; l++) {
        int cross = !a->dit_interleave || l % 2 == 0;
        pfx(b, blk, "action_head.model.transformer_blocks.%d", l);
        pfx(b, p, "%s.norm1.linear", blk);
        linear(b, p, 2 * d, d, MODULATION_GAIN, 1);
        attn_ff(b, blk, d, d, cross ? a->dit_cross_dim : d, residual_gain(a->dit.layers));
    }
    linear(b, "action_head.model.proj_out_1", 2 * d, d, MODULATION_GAIN, 1);
    linear(b, "action_head.model.proj_out_2", a->dit_output_dim, d, 1, 1);
}

static int by_name(const void *x, const void *y)
{
    return strcmp(((const gr_synth_tensor *)x)->name, ((const gr_synth_tensor *)y)->name);
}

/* Appends printf output to a growing buffer; 0 on out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return 0;
        if (*buf && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return 1;
        }
        size_t cap2 = (*cap ? *cap * 2 : 4096) + (size_t)n + 1;
        char *grown = realloc(*buf, cap2);
        if (!grown)
            return 0;
        *buf = grown;
        *cap = cap2;
    }
}

groot_status gr_synth_shard_header(const gr_synth_plan *plan, int shard, char **out, size_t *len,
                                   gr_error *err)
{
    *out = NULL;
    *len = 0;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    /* Room for the length prefix, filled in at the end. */
    int ok = append(&buf, &n, &cap, "%s", "01234567" HEADER_FIXED);
    for (int i = 0; ok && i < plan->count; i++) {
        const gr_synth_tensor *t = &plan->tensors[i];
        if (t->shard != shard)
            continue;
        ok = append(&buf, &n, &cap, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[", t->name);
        for (int d = 0; ok && d < t->ndim; d++)
            ok = append(&buf, &n, &cap, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        if (ok)
            ok = append(&buf, &n, &cap, "],\"data_offsets\":[%llu,%llu]}",
                        (unsigned long long)t->offset,
                        (unsigned long long)(t->offset + 2 * (uint64_t)t->numel));
    }
    if (ok)
        ok = append(&buf, &n, &cap, "}");
    /* Space padding (valid JSON whitespace) so the data starts 8-byte aligned. */
    while (ok && n % 8 != 0)
        ok = append(&buf, &n, &cap, " ");
    if (!ok) {
        free(buf);
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory building the header of shard %d",
                       shard + 1);
    }
    uint64_t json_len = n - 8;
    for (int i = 0; i < 8; i++)
        buf[i] = (char)((json_len >> (8 * i)) & 0xff);
    *out = buf;
    *len = n;
    return GROOT_OK;
}

void gr_synth_shard_name(int shard, int num_shards, char *buf, size_t size)
{
    snprintf(buf, size, "model-%05d-of-%05d.safetensors", shard + 1, num_shards);
}

static groot_status split(gr_synth_plan *p, uint64_t max_shard_bytes, gr_error *err)
{
    const uint64_t fixed = 8 + sizeof HEADER_FIXED + 8; /* length, braces, padding */
    uint64_t header = fixed, data = 0;
    int shard = 0;
    for (int i = 0; i < p->count; i++) {
        gr_synth_tensor *t = &p->tensors[i];
        uint64_t bytes = 2 * (uint64_t)t->numel;
        uint64_t entry = strlen(t->name) + HEADER_ENTRY_EXTRA;
        if (data > 0 && header + entry + data + bytes > max_shard_bytes) {
            shard++;
            header = fixed;
            data = 0;
        }
        t->shard = shard;
        t->offset = data;
        header += entry;
        data += bytes;
    }
    p->num_shards = shard + 1;
    p->shard_data_bytes = calloc((size_t)p->num_shards, sizeof *p->shard_data_bytes);
    p->shard_header_bytes = calloc((size_t)p->num_shards, sizeof *p->shard_header_bytes);
    if (!p->shard_data_bytes || !p->shard_header_bytes)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory planning shards");
    for (int i = 0; i < p->count; i++) {
        p->shard_data_bytes[p->tensors[i].shard] += 2 * (uint64_t)p->tensors[i].numel;
        p->total_bytes += 2 * (uint64_t)p->tensors[i].numel;
        p->total_params += p->tensors[i].numel;
    }
    for (int s = 0; s < p->num_shards; s++) {
        char *h;
        size_t len;
        GR_TRY(gr_synth_shard_header(p, s, &h, &len, err));
        free(h);
        p->shard_header_bytes[s] = len;
    }
    return GROOT_OK;
}

groot_status gr_synth_plan_build(const gr_model_config *cfg, uint64_t max_shard_bytes,
                                 gr_synth_plan *plan, gr_error *err)
{
    memset(plan, 0, sizeof *plan);
    if (cfg->vision.patch <= 0 || cfg->vision.image_size % cfg->vision.patch != 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "vision patch_size %d does not divide image_size %d", cfg->vision.patch,
                       cfg->vision.image_size);
    builder b = {.plan = plan, .status = GROOT_OK, .err = err};
    vision(&b, &cfg->vision);
    linear(&b, "backbone.eagle_model.mlp1.0", cfg->vision_out_dim, cfg->vision.hidden, 1, 1);
    language(&b, &cfg->text);
    action_head(&b, &cfg->action);
    GR_TRY(b.status);
    qsort(plan->tensors, (size_t)plan->count, sizeof *plan->tensors, by_name);
    for (int i = 1; i < plan->count; i++)
        if (strcmp(plan->tensors[i - 1].name, plan->tensors[i].name) == 0)
            return gr_fail(err, GROOT_ERR_INTERNAL, "tensor '%s' planned twice",
                           plan->tensors[i].name);
    return split(plan, max_shard_bytes, err);
}

void gr_synth_plan_free(gr_synth_plan *plan)
{
    if (!plan)
        return;
    free(plan->tensors);
    free(plan->shard_data_bytes);
    free(plan->shard_header_bytes);
    memset(plan, 0, sizeof *plan);
}
