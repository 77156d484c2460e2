/*
 * Device correctness checks that need a GPU (run by scripts/device_check.sh;
 * in CI, without one, they skip with 77):
 *
 *   check_device golden PRECISION TOL
 *       the CUDA engine vs the tiny goldens, every tensor of every sample;
 *   check_device parity MODEL_DIR PRECISION
 *       the CUDA engine at PRECISION vs the CPU fp32 path on one sample of a
 *       (synthetic 3B) checkpoint: backbone_features, velocities, action_pred;
 *   check_device batch MODEL_DIR
 *       a batch of 4 samples with 4 prompt lengths equals the 4 single runs
 *       on CUDA fp32 (SPEC.md, Rule — batching).
 *
 * Figures are printed one per line as "figure NAME VALUE" for the script's
 * table.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groot.h"
#include "io/safetensors.h"
#include "test_util.h"

static const char *tensors[] = {"vit_embeds", "backbone_features", "vl_embs", "state_features", "velocities",
                                "action_pred"};
#define NT 6

typedef struct sample_out_bufs {
    float *t[NT];
    size_t n[NT];
} sample_out_bufs;

static void alloc_outs(const groot_model_dims *d, int L, int V, sample_out_bufs *b, groot_sample_out *o)
{
    size_t D = (size_t)d->backbone_dim, H = (size_t)d->action_horizon * d->action_dim;
    b->n[0] = (size_t)V * d->tokens_per_image * D;
    b->n[1] = b->n[2] = (size_t)L * D;
    b->n[3] = (size_t)d->state_feature_dim;
    b->n[4] = (size_t)d->denoising_steps * H;
    b->n[5] = H;
    for (int i = 0; i < NT; i++) {
        b->t[i] = malloc(b->n[i] * sizeof(float));
        if (!b->t[i])
            exit(2);
    }
    *o = (groot_sample_out){.vit_embeds = b->t[0], .backbone_features = b->t[1], .vl_embs = b->t[2],
                            .state_features = b->t[3], .velocities = b->t[4], .action_pred = b->t[5]};
}

static void free_outs(sample_out_bufs *b)
{
    for (int i = 0; i < NT; i++)
        free(b->t[i]);
}

static groot_model *open_model(const char *dir, const char *device, const char *precision)
{
    groot_model_options o;
    groot_model_options_init(&o);
    o.device = device;
    o.precision = precision;
    groot_model *m = NULL;
    groot_status st = groot_model_open(dir, GROOT_ASSETS_DIR, &o, &m);
    if (st != GROOT_OK) {
        fprintf(stderr, "open %s on %s (%s): %s: %s\n", dir, device, precision, groot_status_name(st),
                groot_errmsg(m));
        groot_model_close(m);
        return NULL;
    }
    return m;
}

static float *golden_f32(const gr_st_file *f, const char *name, size_t *n)
{
    const gr_st_tensor *t = gr_st_find(f, name);
    if (!t) {
        fprintf(stderr, "golden tensor %s missing\n", name);
        exit(2);
    }
    float *x = malloc((size_t)t->numel * sizeof(float));
    if (!x || gr_st_to_f32(t, x, NULL) != GROOT_OK)
        exit(2);
    if (n)
        *n = (size_t)t->numel;
    return x;
}

static int check_golden(const char *precision, double tol)
{
    groot_model *m = open_model(tu_data("goldens/tiny/checkpoint"), "cuda", precision);
    if (!m)
        return 77;
    groot_model_dims d;
    groot_model_get_dims(m, &d);
    gr_st_file *gf;
    gr_error err;
    if (gr_st_open(tu_data("goldens/tiny/cases.safetensors"), &gf, &err) != GROOT_OK)
        return 2;
    const char *samples[] = {"a.0", "b.0", "b.1"};
    double worst[NT] = {0};
    for (int s = 0; s < 3; s++) {
        char name[128];
        const gr_st_tensor *ids = (snprintf(name, sizeof name, "%s.input_ids", samples[s]), gr_st_find(gf, name));
        const gr_st_tensor *pix = (snprintf(name, sizeof name, "%s.pixel_values", samples[s]), gr_st_find(gf, name));
        const gr_st_tensor *emb = (snprintf(name, sizeof name, "%s.embodiment_id", samples[s]), gr_st_find(gf, name));
        snprintf(name, sizeof name, "%s.state", samples[s]);
        float *state = golden_f32(gf, name, NULL);
        snprintf(name, sizeof name, "%s.init_noise", samples[s]);
        float *noise = golden_f32(gf, name, NULL);
        float *pixels = malloc((size_t)pix->numel * sizeof(float));
        gr_st_to_f32(pix, pixels, NULL);
        groot_sample in = {.input_ids = ids->data, .seq_len = (int)ids->numel, .pixel_values = pixels,
                           .num_views = (int)pix->shape[0], .state = state,
                           .embodiment_id = *(const int32_t *)emb->data, .init_noise = noise};
        sample_out_bufs b;
        groot_sample_out o;
        alloc_outs(&d, in.seq_len, in.num_views, &b, &o);
        groot_status st = groot_forward(m, &in, 1, &o, NULL);
        CHECK(st == GROOT_OK, "forward %s: %s", samples[s], groot_errmsg(m));
        for (int t = 0; t < NT && st == GROOT_OK; t++) {
            snprintf(name, sizeof name, "%s.%s", samples[s], tensors[t]);
            size_t n;
            float *ref = golden_f32(gf, name, &n);
            CHECK(n == b.n[t], "%s size", name);
            double e = tu_rel_err(b.t[t], ref, n);
            if (e > worst[t])
                worst[t] = e;
            free(ref);
        }
        free_outs(&b);
        free(state);
        free(noise);
        free(pixels);
    }
    for (int t = 0; t < NT; t++) {
        printf("figure golden_cuda_%s_%s %.3e\n", precision, tensors[t], worst[t]);
        /* Reduced precisions are held to the goldens' bound on action_pred only
         * (goldens README); every figure is printed. */
        int reduced = strcmp(precision, "fp32") && strcmp(precision, "tf32");
        if (!reduced || t == NT - 1)
            CHECK(worst[t] <= tol, "%s %s: %.3e > %.1e", precision, tensors[t], worst[t], tol);
    }
    gr_st_close(gf);
    groot_model_close(m);
    return tu_finish("check_device golden");
}

/* A realistic sample: a prompt of `text_tokens` ordinary ids around V image
 * blocks, pixels in [-1, 1], state and noise N(0,1)-like, from a fixed seed. */
static void make_sample(const groot_model_dims *d, int text_tokens, int V, unsigned seed, int32_t **ids_out,
                        float **pix_out, float **state_out, float **noise_out, groot_sample *s)
{
    int L = text_tokens + V * d->tokens_per_image;
    int32_t *ids = malloc((size_t)L * sizeof *ids);
    size_t np = (size_t)V * 3 * d->image_size * d->image_size;
    float *pix = malloc(np * sizeof *pix), *state = malloc((size_t)d->max_state_dim * sizeof(float));
    size_t nn = (size_t)d->action_horizon * d->action_dim;
    float *noise = malloc(nn * sizeof(float));
    unsigned long long x = 0x9e3779b97f4a7c15ull * (seed + 1);
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    int pos = 0, head = text_tokens / 2;
    for (int i = 0; i < head; i++)
        ids[pos++] = (int32_t)(NEXT() % 150000);
    for (int i = 0; i < V * d->tokens_per_image; i++)
        ids[pos++] = d->image_token_id;
    while (pos < L)
        ids[pos++] = (int32_t)(NEXT() % 150000);
    for (size_t i = 0; i < np; i++)
        pix[i] = (float)((NEXT() % 2001) / 1000.0 - 1.0);
    for (int i = 0; i < d->max_state_dim; i++)
        state[i] = i < 44 ? (float)((NEXT() % 2001) / 1000.0 - 1.0) : 0.0f;
    for (size_t i = 0; i < nn; i++) {
        double u1 = (NEXT() % 1000000 + 1) / 1000001.0, u2 = (NEXT() % 1000000) / 1000000.0;
        noise[i] = (float)(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
    }
#undef NEXT
    *s = (groot_sample){.input_ids = ids, .seq_len = L, .pixel_values = pix, .num_views = V, .state = state,
                        .embodiment_id = 24, .init_noise = noise};
    *ids_out = ids, *pix_out = pix, *state_out = state, *noise_out = noise;
}

static int check_parity(const char *dir, const char *precisions)
{
    groot_model *cpu = open_model(dir, "cpu", "fp32");
    if (!cpu)
        return 2;
    groot_model_dims d;
    groot_model_get_dims(cpu, &d);
    int32_t *ids;
    float *pix, *state, *noise;
    groot_sample s;
    make_sample(&d, 38, 1, 7, &ids, &pix, &state, &noise, &s);
    sample_out_bufs ref;
    groot_sample_out ro;
    alloc_outs(&d, s.seq_len, 1, &ref, &ro);
    groot_timings t;
    groot_status st = groot_forward(cpu, &s, 1, &ro, &t);
    CHECK(st == GROOT_OK, "cpu forward: %s", groot_errmsg(cpu));
    printf("figure cpu_fp32_forward_ms %.1f\n", t.total_ms);
    groot_model_close(cpu);

    char list[256];
    snprintf(list, sizeof list, "%s", precisions);
    for (char *p = strtok(list, ","); p; p = strtok(NULL, ",")) {
        groot_model *gpu = open_model(dir, "cuda", p);
        if (!gpu)
            return 77;
        sample_out_bufs b;
        groot_sample_out o;
        alloc_outs(&d, s.seq_len, 1, &b, &o);
        st = groot_forward(gpu, &s, 1, &o, NULL);
        CHECK(st == GROOT_OK, "cuda %s forward: %s", p, groot_errmsg(gpu));
        for (int k = 1; k < NT && st == GROOT_OK; k++) {
            if (k == 2 || k == 3)
                continue;
            double e = tu_rel_err(b.t[k], ref.t[k], b.n[k]);
            printf("figure parity_%s_%s %.3e\n", p, tensors[k], e);
            if (!strcmp(p, "fp32"))
                CHECK(e <= 1e-4, "fp32 %s %.3e", tensors[k], e);
            else
                CHECK(isfinite(e) && e < 0.1, "%s %s %.3e", p, tensors[k], e);
        }
        free_outs(&b);
        groot_model_close(gpu);
    }
    free_outs(&ref);
    free(ids), free(pix), free(state), free(noise);
    return tu_finish("check_device parity");
}

static int check_batch(const char *dir)
{
    groot_model *m = open_model(dir, "cuda", "fp32");
    if (!m)
        return 77;
    groot_model_dims d;
    groot_model_get_dims(m, &d);
    enum { B = 4 };
    const int text[B] = {38, 45, 61, 90};
    groot_sample s[B];
    int32_t *ids[B];
    float *pix[B], *state[B], *noise[B];
    sample_out_bufs single[B], batch[B];
    groot_sample_out so[B], bo[B];
    for (int i = 0; i < B; i++) {
        make_sample(&d, text[i], 1, 100 + i, &ids[i], &pix[i], &state[i], &noise[i], &s[i]);
        s[i].embodiment_id = (int[]){24, 31, 17, 26}[i];
        alloc_outs(&d, s[i].seq_len, 1, &single[i], &so[i]);
        alloc_outs(&d, s[i].seq_len, 1, &batch[i], &bo[i]);
        CHECK(groot_forward(m, &s[i], 1, &so[i], NULL) == GROOT_OK, "single %d: %s", i, groot_errmsg(m));
    }
    CHECK(groot_forward(m, s, B, bo, NULL) == GROOT_OK, "batch: %s", groot_errmsg(m));
    double worst = 0;
    for (int i = 0; i < B; i++)
        for (int k = 0; k < NT; k++) {
            double e = tu_rel_err(batch[i].t[k], single[i].t[k], single[i].n[k]);
            if (e > worst)
                worst = e;
        }
    printf("figure batch4_vs_single_fp32 %.3e\n", worst);
    CHECK(worst <= 1e-5, "batch vs single %.3e", worst);
    for (int i = 0; i < B; i++) {
        free_outs(&single[i]), free_outs(&batch[i]);
        free(ids[i]), free(pix[i]), free(state[i]), free(noise[i]);
    }
    groot_model_close(m);
    return tu_finish("check_device batch");
}

/* Prompt length buckets: on the GPU a sample's tokens are padded to a
 * multiple of 16 rows, so two lengths of one bucket share the recorded
 * call (timings.replayed) and each still equals the CPU's exact-length
 * result; a length of the next bucket records anew. */
static int check_bucket(const char *dir)
{
    groot_model *cpu = open_model(dir, "cpu", "fp32");
    groot_model *gpu = open_model(dir, "cuda", "fp32");
    if (!cpu || !gpu) {
        groot_model_close(cpu);
        groot_model_close(gpu);
        return gpu ? 2 : 77;
    }
    groot_model_dims d;
    groot_model_get_dims(cpu, &d);
    const int tpi = d.tokens_per_image, a = 40;
    const int rows = (a + tpi + 15) / 16 * 16;
    const int b = a + tpi == rows ? a - 1 : rows - tpi; /* same bucket, other length */
    const int c = rows - tpi + 1;                        /* the next bucket */
    const int text[3] = {a, b, c};
    const int expect_replayed[5] = {0, 0, 1, 1, 0}; /* a (eager), a (capture), a, b, c */
    const int order[5] = {0, 0, 0, 1, 2};
    groot_sample s[3];
    int32_t *ids[3];
    float *pix[3], *state[3], *noise[3];
    sample_out_bufs ref[3];
    groot_sample_out ro[3];
    for (int i = 0; i < 3; i++) {
        make_sample(&d, text[i], 1, 200 + i, &ids[i], &pix[i], &state[i], &noise[i], &s[i]);
        alloc_outs(&d, s[i].seq_len, 1, &ref[i], &ro[i]);
        CHECK(groot_forward(cpu, &s[i], 1, &ro[i], NULL) == GROOT_OK, "cpu %d: %s", i, groot_errmsg(cpu));
    }
    printf("bucket: lengths %d, %d (rows %d) and %d\n", s[0].seq_len, s[1].seq_len, rows, s[2].seq_len);
    double worst = 0;
    for (int r = 0; r < 5; r++) {
        const int i = order[r];
        sample_out_bufs g;
        groot_sample_out go;
        alloc_outs(&d, s[i].seq_len, 1, &g, &go);
        groot_timings t;
        CHECK(groot_forward(gpu, &s[i], 1, &go, &t) == GROOT_OK, "cuda %d: %s", i, groot_errmsg(gpu));
        CHECK(t.replayed == expect_replayed[r], "call %d (length %d): replayed %d, expected %d", r, s[i].seq_len,
              t.replayed, expect_replayed[r]);
        for (int k = 0; k < NT; k++) {
            double e = tu_rel_err(g.t[k], ref[i].t[k], ref[i].n[k]);
            CHECK(e <= 1e-4, "call %d (length %d) %s vs cpu %.3e", r, s[i].seq_len, tensors[k], e);
            worst = e > worst ? e : worst;
        }
        free_outs(&g);
    }
    printf("figure bucket_vs_cpu_fp32 %.3e\n", worst);
    for (int i = 0; i < 3; i++) {
        free_outs(&ref[i]);
        free(ids[i]), free(pix[i]), free(state[i]), free(noise[i]);
    }
    groot_model_close(cpu);
    groot_model_close(gpu);
    return tu_finish("check_device bucket");
}

/* groot_policy_warmup on CUDA: afterwards a first call with an instruction
 * of up to 65 words replays a recorded call; one of 120 words (a bucket the
 * warm-up did not reach) does not. dir: a synthesized checkpoint with
 * metadata (groot synth), fourier_gr1_arms_only / gr1. */
static int check_warmup(const char *dir, const char *precision)
{
    groot_policy_options o;
    groot_policy_options_init(&o);
    o.model.device = "cuda";
    o.model.precision = precision;
    o.data_config = "fourier_gr1_arms_only";
    o.embodiment_tag = "gr1";
    o.assets_dir = GROOT_ASSETS_DIR;
    groot_policy *p = NULL;
    groot_status st = groot_policy_open(dir, &o, &p);
    if (st != GROOT_OK) {
        fprintf(stderr, "open policy %s on cuda: %s: %s\n", dir, groot_status_name(st), groot_errmsg(p));
        groot_policy_close(p);
        return st == GROOT_ERR_UNSUPPORTED ? 77 : 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(groot_policy_warmup(p) == GROOT_OK, "warm-up: %s", groot_errmsg(p));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("figure warmup_%s_ms %.1f\n", precision,
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    groot_model *cpu = open_model(dir, "cpu", "fp32"); /* for its image size */
    groot_model_dims d;
    CHECK(cpu && groot_model_get_dims(cpu, &d) == GROOT_OK, "dims of %s", dir);
    groot_model_close(cpu);
    if (!cpu) {
        groot_policy_close(p);
        return 2;
    }
    const int S = d.image_size;
    uint8_t *frame = malloc((size_t)S * S * 3);
    for (size_t i = 0; i < (size_t)S * S * 3; i++)
        frame[i] = (uint8_t)(i * 7 % 251);
    double arm[7] = {0.1, -0.2, 0.3, -0.4, 0.5, -0.1, 0.2}, hand[6] = {0, 0.1, 0.2, 0.3, 0.4, 0.5};
    groot_array arrays[5] = {{"video.ego_view", GROOT_U8, 4, {1, S, S, 3}, frame},
                             {"state.left_arm", GROOT_F64, 2, {1, 7}, arm},
                             {"state.right_arm", GROOT_F64, 2, {1, 7}, arm},
                             {"state.left_hand", GROOT_F64, 2, {1, 6}, hand},
                             {"state.right_hand", GROOT_F64, 2, {1, 6}, hand}};
    const int words[] = {3, 12, 25, 40, 60, 65, 120};
    char text[1024];
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t len = 0;
        for (int i = 0; i < words[w]; i++) /* other words than the warm-up's */
            len += (size_t)snprintf(text + len, sizeof text - len, i ? " pick" : "pick");
        const char *instr[1] = {text};
        groot_observation obs = {.arrays = arrays, .num_arrays = 5, .instructions = instr};
        CHECK(groot_policy_get_action(p, &obs, NULL, NULL) == GROOT_OK, "%d words: %s", words[w], groot_errmsg(p));
        groot_timings t;
        groot_policy_timings(p, &t);
        const int expect = words[w] <= 65;
        printf("warm-up: first call with %d words: %.2f ms, replayed %d\n", words[w], t.total_ms, t.replayed);
        CHECK(t.replayed == expect, "%d words: replayed %d, expected %d", words[w], t.replayed, expect);
    }
    free(frame);
    groot_policy_close(p);
    return tu_finish("check_device warmup");
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "golden"))
        return check_golden(argv[2], atof(argv[3]));
    if (argc >= 4 && !strcmp(argv[1], "parity"))
        return check_parity(argv[2], argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "batch"))
        return check_batch(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "bucket"))
        return check_bucket(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "warmup"))
        return check_warmup(argv[2], argc >= 4 ? argv[3] : "fp32");
    fprintf(stderr,
            "usage: check_device golden PRECISION TOL | parity MODEL_DIR P1,P2,... | batch MODEL_DIR |\n"
            "       bucket MODEL_DIR | warmup SYNTH_MODEL_DIR [PRECISION]\n");
    return 2;
}
