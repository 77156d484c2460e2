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
static int axis_taps(int in, int out)
{
    float scale = (float)in / (float)out;
    float support = scale >= 1.0f ? scale : 1.0f;
    return (int)ceilf(support) * 2 + 1;
}

static void axis_weights(int in, int out, int taps, float *w, int *bounds)
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

/* out[y][x][c] = sum_j in[y][lo+j][c] * w[x][j], sequentially from j = 0,
 * the first term a plain product as in the reference. */
static void pass_width(const float *in, int rows, int in_w, int out_w, const float *w,
                       const int *bounds, int taps, float *out)
{
    for (int y = 0; y < rows; y++) {
        const float *row = in + (size_t)y * in_w * 3;
        float *orow = out + (size_t)y * out_w * 3;
        for (int x = 0; x < out_w; x++) {
            const float *wx = w + (size_t)x * taps;
            const float *src = row + (size_t)bounds[2 * x] * 3;
            int n = bounds[2 * x + 1];
            for (int c = 0; c < 3; c++) {
                float acc = n > 0 ? src[c] * wx[0] : 0.0f;
                for (int j = 1; j < n; j++)
                    acc = fmaf(src[(size_t)j * 3 + c], wx[j], acc);
                orow[(size_t)x * 3 + c] = acc;
            }
        }
    }
}

static void pass_height(const float *in, int in_h, int cols, int out_h, const float *w,
                        const int *bounds, int taps, float *out)
{
    size_t stride = (size_t)cols * 3;
    (void)in_h;
    for (int y = 0; y < out_h; y++) {
        const float *wy = w + (size_t)y * taps;
        const float *src = in + (size_t)bounds[2 * y] * stride;
        int n = bounds[2 * y + 1];
        float *orow = out + (size_t)y * stride;
        for (size_t k = 0; k < stride; k++) {
            float acc = n > 0 ? src[k] * wy[0] : 0.0f;
            for (int j = 1; j < n; j++)
                acc = fmaf(src[(size_t)j * stride + k], wy[j], acc);
            orow[k] = acc;
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
    if (crop_h <= 0 || crop_w <= 0 || top < 0 || left < 0 || top + crop_h > height ||
        left + crop_w > width)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "crop window %dx%d at (%d,%d) does not fit a %dx%d image", crop_h, crop_w,
                       top, left, height, width);
    if (out_h <= 0 || out_w <= 0 || out_h > 16384 || out_w > 16384)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "resize target %dx%d: expected 1..16384 on each side", out_h, out_w);

    int do_w = crop_w != out_w, do_h = crop_h != out_h;
    int taps_w = do_w ? axis_taps(crop_w, out_w) : 0;
    int taps_h = do_h ? axis_taps(crop_h, out_h) : 0;
    size_t nw = (size_t)taps_w * out_w + (size_t)taps_h * out_h;
    size_t nb = 2 * ((size_t)out_w + (size_t)out_h);
    /* Planes: the float crop (crop_h x crop_w), the width-resized plane
     * (crop_h x out_w) and the final plane (out_h x out_w). */
    size_t plane0 = (size_t)crop_h * crop_w * 3;
    size_t plane1 = (size_t)crop_h * out_w * 3;
    size_t plane2 = (size_t)out_h * out_w * 3;
    GR_TRY(grow((void **)&r->weights, &r->weights_cap, nw ? nw : 1, sizeof(float), err));
    GR_TRY(grow((void **)&r->bounds, &r->bounds_cap, nb, sizeof(int), err));
    GR_TRY(grow((void **)&r->buf, &r->buf_cap, plane0 + plane1 + plane2, sizeof(float), err));

    float *ww = r->weights, *wh = r->weights + (size_t)taps_w * out_w;
    int *bw = r->bounds, *bh = r->bounds + 2 * (size_t)out_w;
    if (do_w)
        axis_weights(crop_w, out_w, taps_w, ww, bw);
    if (do_h)
        axis_weights(crop_h, out_h, taps_h, wh, bh);

    float *f0 = r->buf, *f1 = f0 + plane0, *f2 = f1 + plane1;
    for (int y = 0; y < crop_h; y++) {
        const uint8_t *src = in + ((size_t)(top + y) * width + left) * 3;
        float *dst = f0 + (size_t)y * crop_w * 3;
        for (size_t k = 0; k < (size_t)crop_w * 3; k++)
            dst[k] = (float)src[k] / 255.0f;
    }
    const float *cur = f0;
    if (do_w) {
        pass_width(cur, crop_h, crop_w, out_w, ww, bw, taps_w, f1);
        cur = f1;
    }
    if (do_h) {
        pass_height(cur, crop_h, out_w, out_h, wh, bh, taps_h, f2);
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
    size_t plane = (size_t)height * width;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++)
            out[(size_t)c * plane + p] = ((float)in[p * 3 + c] / 255.0f - 0.5f) / 0.5f;
}
