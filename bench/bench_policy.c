/*
 * What a whole policy call costs beyond the network: groot_policy_get_action
 * on a camera frame of H x W (cropped and resized to the model's image
 * size), the GR1 arms' state and a 12-word instruction, repeated; prints
 * the median, min and p90 of the call (host clock around the call) and of
 * its parts from groot_policy_timings: preprocess (tokenizer, image, state),
 * network (groot_forward's own total: upload, network, download) and
 * postprocess (unnormalize, split per key).
 *
 *   bench_policy MODEL_DIR [DEVICE cpu] [PRECISION fp32] [H 480] [W 640] [ITERS 50]
 *
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
        fprintf(stderr, "usage: %s MODEL_DIR [DEVICE cpu] [PRECISION fp32] [H 480] [W 640] [ITERS 50]\n", argv[0]);
        return 2;
    }
    const int H = argc > 4 ? atoi(argv[4]) : 480, W = argc > 5 ? atoi(argv[5]) : 640;
    const int iters = argc > 6 ? atoi(argv[6]) : 50;
    if (H < 1 || W < 1 || H > 8192 || W > 8192 || iters < 1 || iters > 100000) {
        fprintf(stderr, "H and W must be 1..8192, ITERS 1..100000\n");
        return 2;
    }
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
    uint8_t *frame = malloc((size_t)H * W * 3);
    double *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = malloc((size_t)iters * sizeof(double));
    if (!frame || !t[0] || !t[1] || !t[2] || !t[3] || !t[4]) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)H * W * 3; i++)
        frame[i] = (uint8_t)(i * 7 % 251);
    double arm[7] = {0.1, -0.2, 0.3, -0.4, 0.5, -0.1, 0.2}, hand[6] = {0, 0.1, 0.2, 0.3, 0.4, 0.5};
    groot_array arrays[5] = {{"video.ego_view", GROOT_U8, 4, {1, H, W, 3}, frame},
                             {"state.left_arm", GROOT_F64, 2, {1, 7}, arm},
                             {"state.right_arm", GROOT_F64, 2, {1, 7}, arm},
                             {"state.left_hand", GROOT_F64, 2, {1, 6}, hand},
                             {"state.right_hand", GROOT_F64, 2, {1, 6}, hand}};
    const char *instr[1] = {"pick up the red apple from the table and place it in the basket"};
    groot_observation obs = {.arrays = arrays, .num_arrays = 5, .instructions = instr};
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
        printf("policy call, %s %s, %dx%d frame, %d calls (ms)\n", o.model.device, o.model.precision, H, W, iters);
        printf("%-12s %10s %10s %10s\n", "part", "median", "min", "p90");
        print_row("call", t[0], iters);
        print_row("preprocess", t[1], iters);
        print_row("network", t[2], iters);
        print_row("  upload", t[4], iters);
        print_row("postprocess", t[3], iters);
    }
    free(frame);
    for (int i = 0; i < 5; i++)
        free(t[i]);
    groot_policy_close(p);
    return rc;
}
