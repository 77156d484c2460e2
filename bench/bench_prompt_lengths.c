/*
 * What a robot's changing instructions cost: calls with prompt lengths
 * first, first+1, ..., first+count-1, then the same lengths again, each
 * timed on the host clock around groot_forward (so a call's GEMM tuning
 * and graph capture count), with whether it replayed a recorded call.
 * Run it with GROOT_SEQ_BUCKET=1 for one recording per exact length.
 *
 *   bench_prompt_lengths MODEL_DIR [DEVICE cuda] [PRECISION bf16] [FIRST 294] [COUNT 8]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groot.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Ordinary ids, one image block after a quarter of the text, a constant
 * frame and state: only the length matters here. */
static int32_t *make_ids(const groot_model_dims *d, int len)
{
    int32_t *ids = malloc((size_t)len * sizeof *ids);
    if (!ids)
        return NULL;
    const int text = len - d->tokens_per_image, head = text / 4;
    for (int i = 0, t = 0; i < len; i++) {
        const int in_image = i >= head && i < head + d->tokens_per_image;
        ids[i] = in_image ? d->image_token_id : (int32_t)(1000 + 37 * t++ % 90000);
    }
    return ids;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [DEVICE cuda] [PRECISION bf16] [FIRST 294] [COUNT 8]\n", argv[0]);
        return 2;
    }
    groot_model_options o;
    groot_model_options_init(&o);
    o.device = argc > 2 ? argv[2] : "cuda";
    o.precision = argc > 3 ? argv[3] : "bf16";
    const int first = argc > 4 ? atoi(argv[4]) : 294, count = argc > 5 ? atoi(argv[5]) : 8;
    groot_model *m = NULL;
    if (groot_model_open(argv[1], NULL, &o, &m) != GROOT_OK) {
        fprintf(stderr, "open %s: %s\n", argv[1], groot_errmsg(m));
        groot_model_close(m);
        return 1;
    }
    groot_model_dims d;
    groot_model_get_dims(m, &d);
    if (count < 1 || first <= d.tokens_per_image) {
        fprintf(stderr, "FIRST must exceed the %d image tokens and COUNT be positive\n", d.tokens_per_image);
        groot_model_close(m);
        return 2;
    }
    const size_t np = (size_t)3 * d.image_size * d.image_size, na = (size_t)d.action_horizon * d.action_dim;
    float *pix = calloc(np, sizeof *pix), *state = calloc((size_t)d.max_state_dim, sizeof *state);
    float *noise = calloc(na, sizeof *noise), *act = malloc(na * sizeof *act);
    const char *bucket = getenv("GROOT_SEQ_BUCKET");
    printf("device %s, precision %s, GROOT_SEQ_BUCKET=%s\n", o.device, o.precision, bucket ? bucket : "(default)");
    printf("%5s %6s %10s %9s\n", "pass", "length", "call ms", "replayed");
    int rc = 0;
    for (int pass = 1; pass <= 2 && !rc; pass++)
        for (int i = 0; i < count && !rc; i++) {
            const int len = first + i;
            int32_t *ids = make_ids(&d, len);
            groot_sample s = {.input_ids = ids, .seq_len = len, .pixel_values = pix, .num_views = 1,
                              .state = state, .embodiment_id = 0, .init_noise = noise};
            groot_sample_out out;
            memset(&out, 0, sizeof out);
            out.action_pred = act;
            groot_timings t;
            const double t0 = now_ms();
            groot_status st = ids && pix && state && noise && act ? groot_forward(m, &s, 1, &out, &t)
                                                                  : GROOT_ERR_NOMEM;
            const double ms = now_ms() - t0;
            if (st != GROOT_OK) {
                fprintf(stderr, "length %d: %s\n", len, groot_errmsg(m));
                rc = 1;
            } else {
                printf("%5d %6d %10.2f %9d\n", pass, len, ms, t.replayed);
            }
            free(ids);
        }
    free(pix), free(state), free(noise), free(act);
    groot_model_close(m);
    return rc;
}
