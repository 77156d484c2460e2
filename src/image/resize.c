/*
 * The reference's eval-mode camera preprocessing (SPEC.md section 3):
 * center crop, then torchvision's antialiased bilinear resize on float [0,1],
 * then (x*255) truncated to uint8.
 *
 * The final truncation turns every rounding difference near an integer
 * level into a whole level, so the arithmetic follows the reference kernel
 * step by step: float32 scale, centers, weights, normalization and
 * sequential accumulation; width pass first, then height; a pass whose size
 * does not change is skipped (as the reference skips it).
 *
 * The accumulation is a fused multiply-add (fmaf): the reference's CPU
 * kernel is built for AVX2+FMA and the compiler contracts its
 * `out += t * w`. On the goldens this gives 12 of 1.2M values off by one
 * level instead of 94 with separate multiply and add. fmaf is exact on any
 * machine (glibc uses the instruction when the CPU has it).
 */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

void gr_resizer_init(gr_resizer *r)
{
    memset(r, 0, sizeof *r);
}

void gr_resizer_free(gr_resizer *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->weights);
    free(r->bounds);
    memset(r, 0, sizeof *r);
}

static groot_status grow(void **p, size_t *cap, size_t need, size_t elem, gr_error *err)
{
    if (need <= *cap)
        return GROOT_OK;
    void *q = realloc(*p, need * elem);
    if (!q)
        return gr_fail(err, GROOT_ERR_NOMEM, "image resize: out of memory (%zu bytes)",
                       need * elem);
    *p = q;
    *cap = need;
    return GROOT_OK;
}

groot_status gr_center_crop_box(int height, int width, double scale, int *top, int *left,
                                int *crop_h, int *crop_w, gr_error *err)
{
    if (height <= 0 || width <= 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "image of %dx%d: expected a positive size",
                       height, width);
    if (!(scale > 0.0 && scale <= 1.0))
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "crop scale %g: expected 0 < scale <= 1",
                       scale);
    /* Python: int(H * scale), a double product truncated. */
    int h = (int)((double)height * scale);
    int w = (int)((double)width * scale);
    if (h <= 0 || w <= 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "crop scale %g of a %dx%d image leaves %dx%d: expected at least 1x1",
                       scale, height, width, h, w);
    /* (H - h) / 2 is a whole or half number; rint rounds ties to even as
     * Python's round does (the default rounding mode is never changed here). */
    *top = (int)rint((double)(height - h) / 2.0);
    *left = (int)rint((double)(width - w) / 2.0);
    *crop_h = h;
    *crop_w = w;
    return GROOT_OK;
}

/* One axis's weights, as ATen's antialiased bilinear computes them for a
 * float tensor: scale = (float)in / out; center = scale * (i + 0.5); support
 * = scale when downscaling, else 1; window [int(center - support + 0.5),
 * int(center + support + 0.5)) clipped to the input; each weight the
 * triangle filter of (j - center + 0.5) / max(scale, 1) (multiplied by the
 * float reciprocal, as ATen does), then divided by their float sum. */
int gr_image_axis_taps(int in, int out)
{
    float scale = (float)in / (float)out;
    float support = scale >= 1.0f ? scale : 1.0f;
    return (int)ceilf(support) * 2 + 1;
}

void gr_image_axis_weights(int in, int out, int taps, float *w, int *bounds)
{
    float scale = (float)in / (float)out;
    float support = scale >= 1.0f ? scale : 1.0f;
    float invscale = scale >= 1.0f ? (float)(1.0 / (double)scale) : 1.0f;
    for (int i = 0; i < out; i++) {
        float center = (float)((double)scale * ((double)i + 0.5));
        long lo = (long)((double)(center - support) + 0.5);
        long hi = (long)((double)(center + support) + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in)
            hi = in;
        long n = hi - lo;
        if (n < 0)
            n = 0;
        if (n > taps)
            n = taps;
        float *wi = w + (size_t)i * taps;
        float total = 0.0f;
        for (long j = 0; j < n; j++) {
            float d = (float)(((double)((float)(j + lo) - center) + 0.5) * (double)invscale);
            d = fabsf(d);
            float v = d < 1.0f ? 1.0f - d : 0.0f;
            wi[j] = v;
            total += v;
        }
        if (total != 0.0f)
            for (long j = 0; j < n; j++)
                wi[j] /= total;
        for (long j = n; j < taps; j++)
            wi[j] = 0.0f;
        bounds[2 * i] = (int)lo;
        bounds[2 * i + 1] = (int)n;
    }
}

#define TILE 32
/* Threads pay from crops of about 360x360 up, and four (or fewer, as
 * OpenMP allows) are enough: a
 * frame is about a millisecond of work, and waking more costs what they
 * save (16-core GPU host, policy preprocessing of a 480x640 frame: 0.69-0.82
 * ms with four, 0.97-1.23 with all sixteen; 1280x720 1.26-1.47 either way). */
#define PARALLEL_PIXELS ((size_t)1 << 17)
#define RESIZE_THREADS 4

/* Where the compiler can target x86-64-v3 (AVX2 + FMA) a second copy of
 * the resize passes is built for it and picked at load time when the CPU
 * has it: fmaf becomes one instruction, eight lanes wide, where it was a
 * library call per multiply-add. Each lane is one output value with its
 * own sequential sum, and a fused multiply-add is rounded once either
 * way: the same bytes. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__FMA__) && !defined(__clang__)
#define GR_RESIZE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GR_RESIZE_CLONES
#endif

/* out row i = sum_j in row (lo_i + j) * w[i][j], sequentially from j = 0
 * (the first term a plain product, as in the reference), for rows of len
 * floats: the height pass as it is, and the width pass on the transposed
 * image. Every output value keeps its own sum, so the loops over k run
 * across independent values. */
GR_RESIZE_CLONES
static void pass_rows(const float *in, size_t len, int out_rows, const float *w, const int *bounds, int taps,
                      int threads, float *out)
{
#pragma omp parallel for schedule(static) if (threads > 1) num_threads(threads)
    for (int i = 0; i < out_rows; i++) {
        const float *wi = w + (size_t)i * taps;
        const float *src = in + (size_t)bounds[2 * i] * len;
        const int n = bounds[2 * i + 1];
        float *o = out + (size_t)i * len;
        if (n == 0) {
            memset(o, 0, len * sizeof *o);
            continue;
        }
        const float w0 = wi[0];
        for (size_t k = 0; k < len; k++)
            o[k] = src[k] * w0;
        for (int j = 1; j < n; j++) {
            const float *sj = src + (size_t)j * len;
            const float wj = wi[j];
            for (size_t k = 0; k < len; k++)
                o[k] = fmaf(sj[k], wj, o[k]);
        }
    }
}

/* dst[x][y][c] = src[y][x][c] for a rows x cols image of 3 channels, in
 * tiles so that both sides stay in cache. */
static void transpose3(const float *src, int rows, int cols, int threads, float *dst)
{
#pragma omp parallel for schedule(static) if (threads > 1) num_threads(threads)
    for (int x0 = 0; x0 < cols; x0 += TILE)
        for (int y0 = 0; y0 < rows; y0 += TILE) {
            const int x1 = x0 + TILE < cols ? x0 + TILE : cols, y1 = y0 + TILE < rows ? y0 + TILE : rows;
            for (int x = x0; x < x1; x++)
                for (int y = y0; y < y1; y++)
                    for (int c = 0; c < 3; c++)
                        dst[((size_t)x * rows + y) * 3 + c] = src[((size_t)y * cols + x) * 3 + c];
        }
}

/* The crop as float [0,1] (x / 255, one rounding, from a table), row-major
 * or (transposed) column-major; transposed, each thread writes whole
 * columns, contiguous, and reads the bytes in tiles. */
static void crop_to_float(const uint8_t *in, int width, int top, int left, int crop_h, int crop_w, int transposed,
                          int threads, float *dst)
{
    float unit[256];
    for (int v = 0; v < 256; v++)
        unit[v] = (float)v / 255.0f;
    if (!transposed) {
#pragma omp parallel for schedule(static) if (threads > 1) num_threads(threads)
        for (int y = 0; y < crop_h; y++) {
            const uint8_t *row = in + ((size_t)(top + y) * width + left) * 3;
            float *d = dst + (size_t)y * crop_w * 3;
            for (size_t k = 0; k < (size_t)crop_w * 3; k++)
                d[k] = unit[row[k]];
        }
        return;
    }
#pragma omp parallel for schedule(static) if (threads > 1) num_threads(threads)
    for (int x0 = 0; x0 < crop_w; x0 += TILE) {
        const int x1 = x0 + TILE < crop_w ? x0 + TILE : crop_w;
        for (int y0 = 0; y0 < crop_h; y0 += TILE) {
            const int y1 = y0 + TILE < crop_h ? y0 + TILE : crop_h;
            for (int x = x0; x < x1; x++) {
                const uint8_t *col = in + ((size_t)top * width + left + x) * 3;
                float *d = dst + ((size_t)x * crop_h + y0) * 3;
                for (int y = y0; y < y1; y++, d += 3) {
                    const uint8_t *p = col + (size_t)y * width * 3;
                    d[0] = unit[p[0]];
                    d[1] = unit[p[1]];
                    d[2] = unit[p[2]];
                }
            }
        }
    }
}

static uint8_t to_u8(float v)
{
    float x = v * 255.0f;
    if (!(x > 0.0f))
        return 0;
    if (x >= 255.0f)
        return 255;
    return (uint8_t)x; /* truncation, as tensor.to(torch.uint8) */
}

groot_status gr_image_resize_window(gr_resizer *r, const uint8_t *in, int height, int width,
                                    int top, int left, int crop_h, int crop_w, int out_h,
                                    int out_w, uint8_t *out, gr_error *err)
{
    if (!in || !out || !r)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "image resize: NULL argument");
    if (!gr_image_window_ok(height, width, top, left, crop_h, crop_w))
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "crop window %dx%d at (%d,%d) does not fit a %dx%d image", crop_h, crop_w,
                       top, left, height, width);
    if (!gr_image_size_ok(out_h, out_w))
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "resize target %dx%d: expected 1..%d on each side", out_h,
                       out_w, GR_IMAGE_SIDE_MAX);

    int do_w = crop_w != out_w, do_h = crop_h != out_h;
    int taps_w = do_w ? gr_image_axis_taps(crop_w, out_w) : 0;
    int taps_h = do_h ? gr_image_axis_taps(crop_h, out_h) : 0;
    size_t nw = (size_t)taps_w * out_w + (size_t)taps_h * out_h;
    size_t nb = 2 * ((size_t)out_w + (size_t)out_h);
    /* Planes: the float crop (crop_h x crop_w, column-major when the width
     * changes), the width-resized plane column-major and again row-major
     * (crop_h x out_w each), and the final plane (out_h x out_w). */
    size_t plane0 = (size_t)crop_h * crop_w * 3;
    size_t plane1 = (size_t)crop_h * out_w * 3;
    size_t plane2 = (size_t)out_h * out_w * 3;
    GR_TRY(grow((void **)&r->weights, &r->weights_cap, nw ? nw : 1, sizeof(float), err));
    GR_TRY(grow((void **)&r->bounds, &r->bounds_cap, nb, sizeof(int), err));
    GR_TRY(grow((void **)&r->buf, &r->buf_cap, plane0 + 2 * plane1 + plane2, sizeof(float), err));

    float *ww = r->weights, *wh = r->weights + (size_t)taps_w * out_w;
    int *bw = r->bounds, *bh = r->bounds + 2 * (size_t)out_w;
    if (do_w)
        gr_image_axis_weights(crop_w, out_w, taps_w, ww, bw);
    if (do_h)
        gr_image_axis_weights(crop_h, out_h, taps_h, wh, bh);

    const int most = omp_get_max_threads() < RESIZE_THREADS ? omp_get_max_threads() : RESIZE_THREADS;
    const int threads = (size_t)crop_h * crop_w >= PARALLEL_PIXELS ? most : 1;
    float *f0 = r->buf, *f1t = f0 + plane0, *f1 = f1t + plane1, *f2 = f1 + plane1;
    crop_to_float(in, width, top, left, crop_h, crop_w, do_w, threads, f0);
    const float *cur = f0;
    if (do_w) {
        /* Columns of the crop are rows of f0: the width pass runs down them. */
        pass_rows(f0, (size_t)crop_h * 3, out_w, ww, bw, taps_w, threads, f1t);
        transpose3(f1t, out_w, crop_h, threads, f1);
        cur = f1;
    }
    if (do_h) {
        pass_rows(cur, (size_t)out_w * 3, out_h, wh, bh, taps_h, threads, f2);
        cur = f2;
    }
    for (size_t k = 0; k < plane2; k++)
        out[k] = to_u8(cur[k]);
    return GROOT_OK;
}

groot_status gr_image_crop_resize(gr_resizer *r, const uint8_t *in, int height, int width,
                                  double crop_scale, int out_h, int out_w, uint8_t *out,
                                  gr_error *err)
{
    int top = 0, left = 0, ch = 0, cw = 0;
    GR_TRY(gr_center_crop_box(height, width, crop_scale, &top, &left, &ch, &cw, err));
    return gr_image_resize_window(r, in, height, width, top, left, ch, cw, out_h, out_w, out, err);
}

void gr_image_to_pixels(const uint8_t *in, int height, int width, float *out)
{
    /* A byte has 256 values: the arithmetic once per value, then a table. */
    float norm[256];
    for (int v = 0; v < 256; v++)
        norm[v] = ((float)v / 255.0f - 0.5f) / 0.5f;
    const size_t plane = (size_t)height * width;
    float *r = out, *g = out + plane, *b = out + 2 * plane;
    for (size_t p = 0; p < plane; p++) {
        r[p] = norm[in[3 * p]];
        g[p] = norm[in[3 * p + 1]];
        b[p] = norm[in[3 * p + 2]];
    }
}
