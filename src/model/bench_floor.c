/*
 * The work each benchmarked component must do, from the configuration and
 * the precisions alone, and the floor that work sets on a device.
 *
 * Bytes. A component must read its weights and its inputs and write its
 * outputs at least once:
 *   bytes = weights + batch * (inputs + outputs)
 * Weights count once per call whatever the batch (the samples could share
 * one read), except the DiT's, which the Euler steps read again each step:
 * the steps are sequential and the 3B model's DiT weights (about 1 GB) far
 * exceed any cache. Matrices count at their component's weight dtype,
 * biases, norm weights and the precomputed per-step rows at 4 bytes (they
 * stay float32). Activations count at the dtype the model keeps them in
 * (the stage interfaces are float32; the DiT's k/v and decoder input are
 * in the DiT's activation dtype). Intermediates inside a component are
 * not counted (a fused implementation keeps them on chip); the interfaces
 * between the parts of a composite component (backbone, action_head, all)
 * are, since each part writes them to memory and the next reads them back.
 *
 * In `all`, the uploads and downloads count as bytes moved like any other
 * (the floor does not model the host link). The bandwidth comes from a copy
 * far larger than any cache, so a component whose bytes fit in cache (the
 * tiny test model's smallest parts) can beat its floor: ratio < 1 there
 * means cache-resident, not impossible.
 *
 * FLOPs. Only matrix products: a linear [m, k] x [k, n] is 2*m*k*n, and
 * attention over Lq queries and Lk keys with `heads` heads of width d is
 * 2*Lq*Lk*d per head for q k^T and as much again for p v:
 *   attention = 4 * Lq * Lk * heads * d.
 * The LLM's causal attention only needs key j <= query i: L*(L+1)/2 pairs
 * instead of L*L. Norms, activations, softmax and RoPE are a few FLOPs per
 * element, under 1% of the GEMMs' for every component, and not counted.
 *
 * Per sample of one call (the batch multiplies these):
 *   vit:  R = V*T rows (T tokens per image, width Dv, intermediate Iv)
 *         patch 2*R*(C*p*p)*Dv
 *         + layers * (2*R*Dv*(3Dv + Dv + 2Iv) + V * 4*T*T*Dv)
 *         + mlp1 2*R*Dv*Dt
 *   llm:  layers * (2*L*Dt*(H + 2Hkv)*Dh + 2*L*H*Dh*Dt + 2*L*Dt*2F + 2*L*F*Dt
 *                   + 4*H*Dh * L*(L+1)/2)
 *   vl:   layers * (2*L*D*3i + 2*L*i*D + 2 * 2*L*D*4D + 4*L*L*i), i = heads*head_dim
 *         (nothing when use_vlln is off: the stage is a copy)
 *   state_encoder:  2*(max_state*hidden + hidden*E)
 *   action_encoder: 2*H*(A*E + E*E)   (W1 folded into W2's action half at load,
 *         W2's timestep half precomputed)
 *   dit (one step): S = 1 + future + H tokens of width E, N vl rows, i = E
 *         cross block: 2*S*E*i + 4*S*N*i + 2*S*i*E + 2 * 2*S*E*4E
 *         self block:  2*S*E*3i + 4*S*S*i + 2*S*i*E + 2 * 2*S*E*4E
 *         + proj_out_2 on the H action rows: 2*H*E*Dout
 *         (the cross k/v projection is not in a step: it runs once per call)
 *   action_decoder: 2*H*(Dout*hidden + hidden*A)
 *   action_head: state_encoder + cross k/v 2*N*Dc*2i per cross block
 *         + steps * (action_encoder + dit + action_decoder)
 *   backbone = vit + llm;  all = vit + llm + vl + action_head
 */
#include "model/bench.h"
#include "model/describe.h"

/* One part's work: weights read once per call, activations and FLOPs per sample. */
typedef struct part {
    double weights, acts;
    double flops[GR_COMP_COUNT];
} part;

typedef struct shape {
    const gr_model_config *cfg;
    const gr_precision *prec;
    gr_param_counts pc;
    int steps;
    double V, L; /* views, tokens */
} shape;

static double wsize(const shape *s, gr_component c) { return (double)gr_dtype_size(s->prec[c].weight); }
static double asize(const shape *s, gr_component c) { return (double)gr_dtype_size(s->prec[c].act); }

/* Bytes of a linear [in -> out] in component c: matrix at the weight dtype, bias float32. */
static double linear_bytes(const shape *s, gr_component c, double in, double out)
{
    return in * out * wsize(s, c) + out * 4.0;
}

static void add(part *to, const part *p, double times)
{
    to->weights += times * p->weights;
    to->acts += times * p->acts;
    for (int g = 0; g < GR_COMP_COUNT; g++)
        to->flops[g] += times * p->flops[g];
}

static part vit_part(const shape *s)
{
    const gr_vision_config *v = &s->cfg->vision;
    const double T = s->cfg->tokens_per_image, R = s->V * T, Dv = v->hidden, Iv = v->intermediate;
    const double Dt = s->cfg->vision_out_dim, patch_len = (double)v->channels * v->patch * v->patch;
    part p = {0};
    p.weights = (double)(s->pc.vision + s->pc.mlp1) * wsize(s, GR_COMP_VIT);
    p.acts = s->V * v->channels * (double)v->image_size * v->image_size * 4.0 + R * Dt * 4.0;
    double layer = 2.0 * R * Dv * (3 * Dv + Dv + 2 * Iv) + s->V * 4.0 * T * T * Dv;
    p.flops[GR_COMP_VIT] = 2.0 * R * patch_len * Dv + v->layers * layer + 2.0 * R * Dv * Dt;
    return p;
}

static part llm_part(const shape *s)
{
    const gr_text_config *t = &s->cfg->text;
    const double L = s->L, D = t->hidden, H = t->heads, Hkv = t->kv_heads, Dh = t->head_dim, F = t->intermediate;
    part p = {0};
    /* The layers, and only the L rows of the embedding table it gathers. */
    p.weights = ((double)s->pc.language + L * D) * wsize(s, GR_COMP_LLM);
    p.acts = L * 4.0 + s->V * s->cfg->tokens_per_image * D * 4.0 + L * D * 4.0;
    double layer = 2.0 * L * D * (H + 2 * Hkv) * Dh + 2.0 * L * H * Dh * D + 2.0 * L * D * 2 * F +
                   2.0 * L * F * D + 4.0 * H * Dh * (L * (L + 1) / 2);
    p.flops[GR_COMP_LLM] = t->layers * layer;
    return p;
}

static part vl_part(const shape *s)
{
    const gr_action_config *a = &s->cfg->action;
    const double L = s->L, D = a->backbone_dim, i = (double)a->vlsa.heads * a->vlsa.head_dim;
    part p = {0};
    p.acts = 2.0 * L * D * 4.0;
    if (!a->use_vlln)
        return p;
    p.weights = (double)s->pc.vl * wsize(s, GR_COMP_VL);
    double layer = 2.0 * L * D * 3 * i + 2.0 * L * i * D + 2 * 2.0 * L * D * 4 * D + 4.0 * L * L * i;
    p.flops[GR_COMP_VL] = a->vlsa.layers * layer;
    return p;
}

static part state_encoder_part(const shape *s)
{
    const gr_action_config *a = &s->cfg->action;
    const double ms = a->max_state_dim, hs = a->hidden, E = a->embed;
    part p = {0};
    p.weights = linear_bytes(s, GR_COMP_DIT, ms, hs) + linear_bytes(s, GR_COMP_DIT, hs, E);
    p.acts = ms * asize(s, GR_COMP_DIT) + E * 4.0;
    p.flops[GR_COMP_DIT] = 2.0 * (ms * hs + hs * E);
    return p;
}

static part action_encoder_part(const shape *s)
{
    const gr_action_config *a = &s->cfg->action;
    const double A = a->action_dim, E = a->embed, H = a->horizon;
    part p = {0};
    /* W1 W2_e (its bias is the precomputed per-step row), W3, and the positions. */
    p.weights = linear_bytes(s, GR_COMP_DIT, A, E) + linear_bytes(s, GR_COMP_DIT, E, E) +
                (a->add_pos_embed ? H * E * 4.0 : 0.0);
    p.acts = H * A * 4.0 + H * E * 4.0;
    p.flops[GR_COMP_DIT] = 2.0 * H * (A * E + E * E);
    return p;
}

static part dit_part(const shape *s)
{
    const gr_model_config *cfg = s->cfg;
    const gr_action_config *a = &cfg->action;
    const double S = (double)gr_dit_tokens(cfg), E = a->embed, i = (double)a->dit.heads * a->dit.head_dim;
    const double N = s->L, H = a->horizon, Dout = a->dit_output_dim;
    part p = {0};
    double cross = 0;
    for (int b = 0; b < a->dit.layers; b++) {
        int is_cross = gr_dit_block_is_cross(cfg, b);
        cross += is_cross;
        double proj = is_cross ? linear_bytes(s, GR_COMP_DIT, E, i) : linear_bytes(s, GR_COMP_DIT, E, 3 * i);
        /* + out, ff1, ff2 and this step's scale/shift row */
        p.weights += proj + linear_bytes(s, GR_COMP_DIT, i, E) + linear_bytes(s, GR_COMP_DIT, E, 4 * E) +
                     linear_bytes(s, GR_COMP_DIT, 4 * E, E) + 2 * E * 4.0;
        double attn = is_cross ? 2.0 * S * E * i + 4.0 * S * N * i : 2.0 * S * E * 3 * i + 4.0 * S * S * i;
        p.flops[GR_COMP_DIT] += attn + 2.0 * S * i * E + 2 * 2.0 * S * E * 4 * E;
    }
    p.weights += linear_bytes(s, GR_COMP_DIT, E, Dout) + 2 * E * 4.0;
    p.flops[GR_COMP_DIT] += 2.0 * H * E * Dout;
    /* tokens in, the prepared k/v read, the action rows' projection out */
    p.acts = S * E * 4.0 + cross * N * 2 * i * asize(s, GR_COMP_DIT) + H * Dout * asize(s, GR_COMP_DIT);
    return p;
}

static part action_decoder_part(const shape *s)
{
    const gr_action_config *a = &s->cfg->action;
    const double H = a->horizon, A = a->action_dim, hs = a->hidden, Dout = a->dit_output_dim;
    part p = {0};
    p.weights = linear_bytes(s, GR_COMP_DIT, Dout, hs) + linear_bytes(s, GR_COMP_DIT, hs, A);
    p.acts = H * Dout * asize(s, GR_COMP_DIT) + H * A * 4.0;
    p.flops[GR_COMP_DIT] = 2.0 * H * (Dout * hs + hs * A);
    return p;
}

/* The k/v of vl for every cross block: once per call, shared by the steps. */
static part cross_kv_part(const shape *s)
{
    const gr_model_config *cfg = s->cfg;
    const gr_action_config *a = &cfg->action;
    const double N = s->L, Dc = a->dit_cross_dim, i = (double)a->dit.heads * a->dit.head_dim;
    double cross = 0;
    for (int b = 0; b < a->dit.layers; b++)
        cross += gr_dit_block_is_cross(cfg, b);
    part p = {0};
    p.weights = cross * linear_bytes(s, GR_COMP_DIT, Dc, 2 * i);
    p.acts = N * Dc * 4.0 + cross * N * 2 * i * asize(s, GR_COMP_DIT);
    p.flops[GR_COMP_DIT] = cross * 2.0 * N * Dc * 2 * i;
    return p;
}

static part action_head_part(const shape *s)
{
    part p = state_encoder_part(s), step = action_encoder_part(s), dit = dit_part(s), dec = action_decoder_part(s);
    part kv = cross_kv_part(s);
    add(&step, &dit, 1);
    add(&step, &dec, 1);
    add(&p, &kv, 1);
    add(&p, &step, s->steps);
    return p;
}

static part component_part(const shape *s, gr_bench_component c)
{
    part p = {0}, q;
    switch (c) {
    case GR_BENCH_VIT:
        return vit_part(s);
    case GR_BENCH_LLM:
        return llm_part(s);
    case GR_BENCH_VL:
        return vl_part(s);
    case GR_BENCH_STATE_ENCODER:
        return state_encoder_part(s);
    case GR_BENCH_ACTION_ENCODER:
        return action_encoder_part(s);
    case GR_BENCH_DIT:
        return dit_part(s);
    case GR_BENCH_ACTION_DECODER:
        return action_decoder_part(s);
    case GR_BENCH_ACTION_HEAD:
        return action_head_part(s);
    case GR_BENCH_BACKBONE:
    case GR_BENCH_ALL:
        q = vit_part(s);
        add(&p, &q, 1);
        q = llm_part(s);
        add(&p, &q, 1);
        if (c == GR_BENCH_ALL) {
            q = vl_part(s);
            add(&p, &q, 1);
            q = action_head_part(s);
            add(&p, &q, 1);
        }
        return p;
    case GR_BENCH_COUNT:
        break;
    }
    return p;
}

groot_status gr_bench_work_count(const gr_model_config *cfg, const gr_precision prec[GR_COMP_COUNT], int steps,
                                 gr_bench_component c, int batch, int views, int seq_len, gr_bench_work *out,
                                 gr_error *err)
{
    if ((int)c < 0 || c >= GR_BENCH_COUNT)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bench: component %d is unknown (expected one of %s)", (int)c,
                       gr_bench_component_list());
    if (batch < 1 || views < 1 || seq_len < 1 || steps < 1)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "bench: batch %d, views %d, seq_len %d, steps %d must be >= 1",
                       batch, views, seq_len, steps);
    shape s = {.cfg = cfg, .prec = prec, .steps = steps, .V = views, .L = seq_len};
    gr_model_param_counts(cfg, &s.pc);
    part p = component_part(&s, c);
    out->bytes = p.weights + batch * p.acts;
    for (int g = 0; g < GR_COMP_COUNT; g++)
        out->flops[g] = batch * p.flops[g];
    return GROOT_OK;
}

void gr_bench_floor(const gr_bench_work *w, const gr_bench_rates *rates, gr_bench_result *r)
{
    double flops = 0, flop_ms = 0;
    int rated = rates && rates->measured && rates->bandwidth_gbs > 0;
    for (int g = 0; g < GR_COMP_COUNT; g++) {
        flops += w->flops[g];
        if (w->flops[g] > 0) {
            if (rated && rates->matrix_tflops[g] > 0)
                flop_ms += w->flops[g] / (rates->matrix_tflops[g] * 1e9);
            else
                rated = 0;
        }
    }
    r->bytes = w->bytes;
    r->flops = flops;
    r->bandwidth_gbs = r->matrix_tflops = r->floor_ms = r->ratio = 0;
    if (!rated)
        return;
    r->bandwidth_gbs = rates->bandwidth_gbs;
    /* The one rate that does all the FLOPs in the time the groups take at theirs. */
    r->matrix_tflops = flop_ms > 0 ? flops / (flop_ms * 1e9) : 0;
    double byte_ms = w->bytes / (rates->bandwidth_gbs * 1e6);
    r->floor_ms = byte_ms > flop_ms ? byte_ms : flop_ms;
    r->ratio = r->floor_ms > 0 ? r->median_ms / r->floor_ms : 0;
}
