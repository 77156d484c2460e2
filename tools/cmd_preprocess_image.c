/* groot preprocess-image: what the model sees of a camera frame (center
 * crop, antialiased bilinear resize, uint8), written as .png or .npy. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: groot preprocess-image --input IN --crop-scale S --output OUT [--size N]\n\n"
            "Center-crops IN to (int(H*S), int(W*S)), resizes it to NxN with the\n"
            "reference's antialiased bilinear filter and writes the uint8 result\n"
            "(SPEC.md section 3). The data configs use S = 0.95 and N = 224.\n\n"
            "  --input IN        .png, .jpg/.jpeg, or .npy (uint8, shape (H, W, 3));\n"
            "                    RGBA drops alpha, grayscale is replicated to RGB\n"
            "  --crop-scale S    0 < S <= 1 (1 keeps the whole frame)\n"
            "  --output OUT      .png or .npy (uint8, shape (N, N, 3))\n"
            "  --size N          output side (default 224)\n");
}

static int parse_scale(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || !(v > 0.0 && v <= 1.0)) {
        fprintf(stderr, "groot preprocess-image: --crop-scale '%s': expected a number in (0, 1]\n",
                s);
        return 0;
    }
    *out = v;
    return 1;
}

int cmd_preprocess_image(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *scale_s = NULL, *size_s = NULL, *v;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--input", &bad))) {
            in = v;
        } else if ((v = cli_opt(argc, argv, &i, "--output", &bad))) {
            out = v;
        } else if ((v = cli_opt(argc, argv, &i, "--crop-scale", &bad))) {
            scale_s = v;
        } else if ((v = cli_opt(argc, argv, &i, "--size", &bad))) {
            size_s = v;
        } else if (!bad) {
            fprintf(stderr, "groot preprocess-image: unknown argument '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!in || !out || !scale_s)) {
        fprintf(stderr, "groot preprocess-image: --input, --crop-scale and --output are required\n");
        bad = 1;
    }
    double scale = 1.0;
    long size = 224;
    if (!bad && !parse_scale(scale_s, &scale))
        bad = 1;
    if (!bad && size_s && !cli_parse_long("--size", size_s, 1, 4096, &size))
        bad = 1;
    if (bad) {
        usage(stderr);
        return 2;
    }

    char err[1024];
    uint8_t *pixels = NULL;
    int h = 0, w = 0;
    groot_status st = groot_image_load(in, &pixels, &h, &w, err, sizeof err);
    if (st != GROOT_OK) {
        fprintf(stderr, "groot preprocess-image: %s: %s\n", groot_status_name(st), err);
        return 1;
    }
    size_t n = (size_t)size * (size_t)size * 3;
    uint8_t *res = malloc(n);
    if (!res) {
        groot_image_free(pixels);
        fprintf(stderr, "groot preprocess-image: out of memory\n");
        return 1;
    }
    st = groot_image_preprocess(pixels, h, w, scale, (int)size, (int)size, res, err, sizeof err);
    groot_image_free(pixels);
    if (st == GROOT_OK)
        st = groot_image_save(out, res, (int)size, (int)size, err, sizeof err);
    free(res);
    if (st != GROOT_OK) {
        fprintf(stderr, "groot preprocess-image: %s: %s\n", groot_status_name(st), err);
        return 1;
    }
    return 0;
}
