/*
 * What a whole policy call costs beyond the network: groot_policy_get_action
 * on a camera frame of H x W (cropped and resized to the model's image
 * size), the GR1 arms' state and a 12-word instruction, repeated; prints
 * the median, min and p90 of the call (host clock around the call) and of
 * its parts from groot_policy_timings: preprocess (tokenizer, crop windows,
 * state), network (groot_forward's own total: upload with the frame's resize
 * on the model's device, network, download) and postprocess (unnormalize,
 * split per key).
 *
 *   bench_policy MODEL_DIR [DEVICE cpu] [PRECISION fp32] [H 480] [W 640] [ITERS 50] [BATCH 0]
 *
 * BATCH 0 sends one unbatched observation; B >= 1 a batched one of B
 * samples (the same frame, state and instruction in each).
 * MODEL_DIR: a checkpoint with metadata for fourier_gr1_arms_only / gr1
 * (groot synth makes one).
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

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median, min and p90 of v[0..n) (sorted in place). */
static void print_row(const char *name, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("%-12s %10.3f %10.3f %10.3f\n", name, v[n / 2], v[0], v[(int)(0.9 * (n - 1))]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [DEVICE cpu] [PRECISION fp32] [H 480] [W 640] [ITERS 50] [BATCH 0]\n",
                argv[0]);
        return 2;
    }
    const int H = argc > 4 ? atoi(argv[4]) : 480, W = argc > 5 ? atoi(argv[5]) : 640;
    const int iters = argc > 6 ? atoi(argv[6]) : 50, batch = argc > 7 ? atoi(argv[7]) : 0;
    if (H < 1 || W < 1 || H > 8192 || W > 8192 || iters < 1 || iters > 100000 || batch < 0 || batch > 64) {
        fprintf(stderr, "H and W must be 1..8192, ITERS 1..100000, BATCH 0..64\n");
        return 2;
    }
    const int B = batch ? batch : 1;
    groot_policy_options o;
    groot_policy_options_init(&o);
    o.model.device = argc > 2 ? argv[2] : "cpu";
    o.model.precision = argc > 3 ? argv[3] : "fp32";
    o.data_config = "fourier_gr1_arms_only";
    o.embodiment_tag = "gr1";
    groot_policy *p = NULL;
    if (groot_policy_open(argv[1], &o, &p) != GROOT_OK) {
        fprintf(stderr, "open policy %s: %s\n", argv[1], groot_errmsg(p));
        groot_policy_close(p);
        return 1;
    }
    uint8_t *frame = malloc((size_t)B * H * W * 3);
    double *arm = malloc((size_t)B * 7 * sizeof *arm), *hand = malloc((size_t)B * 6 * sizeof *hand);
    double *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = malloc((size_t)iters * sizeof(double));
    if (!frame || !arm || !hand || !t[0] || !t[1] || !t[2] || !t[3] || !t[4]) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)H * W * 3; i++)
        frame[i] = (uint8_t)(i * 7 % 251);
    for (int b = 1; b < B; b++)
        memcpy(frame + (size_t)b * H * W * 3, frame, (size_t)H * W * 3);
    for (int b = 0; b < B; b++) {
        const double a[7] = {0.1, -0.2, 0.3, -0.4, 0.5, -0.1, 0.2}, h[6] = {0, 0.1, 0.2, 0.3, 0.4, 0.5};
        memcpy(arm + 7 * b, a, sizeof a);
        memcpy(hand + 6 * b, h, sizeof h);
    }
    /* Unbatched: [1,H,W,3] and [1,d]; batched: a leading B on each. */
    const int lead = batch ? 1 : 0;
    groot_array arrays[5] = {{"video.ego_view", GROOT_U8, 4 + lead, {0}, frame},
                             {"state.left_arm", GROOT_F64, 2 + lead, {0}, arm},
                             {"state.right_arm", GROOT_F64, 2 + lead, {0}, arm},
                             {"state.left_hand", GROOT_F64, 2 + lead, {0}, hand},
                             {"state.right_hand", GROOT_F64, 2 + lead, {0}, hand}};
    const int64_t dims[5][4] = {{1, H, W, 3}, {1, 7}, {1, 7}, {1, 6}, {1, 6}};
    for (int k = 0; k < 5; k++) {
        if (batch)
            arrays[k].shape[0] = B;
        for (int d = 0; d < arrays[k].ndim - lead; d++)
            arrays[k].shape[lead + d] = dims[k][d];
    }
    const char *instr[64];
    for (int b = 0; b < B; b++)
        instr[b] = "pick up the red apple from the table and place it in the basket";
    groot_observation obs = {.arrays = arrays, .num_arrays = 5, .instructions = instr, .batch = batch};
    int rc = 0;
    for (int i = -3; i < iters && !rc; i++) { /* three calls first: tuning and capture */
        const double a = now_ms();
        if (groot_policy_get_action(p, &obs, NULL, NULL) != GROOT_OK) {
            fprintf(stderr, "get_action: %s\n", groot_errmsg(p));
            rc = 1;
            break;
        }
        const double b = now_ms();
        groot_timings tm;
        groot_policy_timings(p, &tm);
        if (i >= 0) {
            t[0][i] = b - a;
            t[1][i] = tm.preprocess_ms;
            t[2][i] = tm.total_ms - tm.preprocess_ms - tm.postprocess_ms;
            t[3][i] = tm.postprocess_ms;
            t[4][i] = tm.upload_ms;
        }
    }
    if (!rc) {
        printf("policy call, %s %s, %dx%d frame, batch %d, %d calls (ms)\n", o.model.device, o.model.precision, H, W,
               batch, iters);
        printf("%-12s %10s %10s %10s\n", "part", "median", "min", "p90");
        print_row("call", t[0], iters);
        print_row("preprocess", t[1], iters);
        print_row("network", t[2], iters);
        print_row("  upload", t[4], iters);
        print_row("postprocess", t[3], iters);
    }
    free(frame);
    free(arm);
    free(hand);
    for (int i = 0; i < 5; i++)
        free(t[i]);
    groot_policy_close(p);
    return rc;
}
