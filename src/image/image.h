/*
 * Camera frames: decoding, the eval-mode crop + antialiased resize that the
 * reference applies (SPEC.md section 3), the model's pixel normalization, and
 * the small file formats the CLI and tests exchange (.npy, .png).
 *
 * Images are always uint8 H x W x 3 RGB, row-major, unless stated otherwise.
 */
#ifndef GR_IMAGE_IMAGE_H
#define GR_IMAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* ---- crop + resize ---- */

/* The largest side of a camera frame or a resize target. */
#define GR_IMAGE_SIDE_MAX 16384

/* 1 .. GR_IMAGE_SIDE_MAX on each side. */
static inline int gr_image_size_ok(int height, int width)
{
    return height >= 1 && width >= 1 && height <= GR_IMAGE_SIDE_MAX && width <= GR_IMAGE_SIDE_MAX;
}

/* A non-empty window (top, left, crop_h, crop_w) inside a height x width image. */
static inline int gr_image_window_ok(int height, int width, int top, int left, int crop_h, int crop_w)
{
    return crop_h >= 1 && crop_w >= 1 && top >= 0 && left >= 0 && top <= height - crop_h &&
           left <= width - crop_w;
}

/* The reference's center crop for a crop scale: size (int(H*scale),
 * int(W*scale)) in double arithmetic as Python does it, offset
 * round((H-h)/2) with ties to even. GROOT_ERR_INVALID_ARG when the crop
 * would be empty or larger than the image. */
groot_status gr_center_crop_box(int height, int width, double scale, int *top, int *left,
                                int *crop_h, int *crop_w, gr_error *err);

/* Scratch for gr_image_crop_resize: weight tables and the intermediate float
 * planes, grown on demand and kept, so that repeated calls on frames of the
 * same size allocate nothing. Zero-initialize, or use gr_resizer_init. */
typedef struct gr_resizer {
    float *buf;       /* float crop, the width-resized plane (twice), the final plane */
    size_t buf_cap;   /* in floats */
    float *weights;   /* both axes' weight tables */
    int *bounds;      /* per output index: first input index, count */
    size_t weights_cap, bounds_cap;
} gr_resizer;

void gr_resizer_init(gr_resizer *r);
void gr_resizer_free(gr_resizer *r);

/* Crops the window (top, left, crop_h, crop_w) of in (height x width x 3) and
 * resizes it to out_h x out_w with torchvision's antialiased bilinear filter
 * on float [0,1], writing uint8 by truncation of x*255. */
groot_status gr_image_resize_window(gr_resizer *r, const uint8_t *in, int height, int width,
                                    int top, int left, int crop_h, int crop_w, int out_h,
                                    int out_w, uint8_t *out, gr_error *err);

/* Center crop by scale, then resize: what the model sees of a frame. */
groot_status gr_image_crop_resize(gr_resizer *r, const uint8_t *in, int height, int width,
                                  double crop_scale, int out_h, int out_w, uint8_t *out,
                                  gr_error *err);

/* One axis of the resize, for a device that runs the passes itself: the
 * number of taps per output index (the table's row length), and for each of
 * the out indices its weights [out, taps] (zero past its count) and bounds
 * [out, 2] (first input index, count). A pass whose size does not change is
 * skipped, not run with these. Output index i's value is in[first] * w[0]
 * rounded, then fmaf(in[first + j], w[j], sum) for j = 1 .. count-1, with
 * in = u8 / 255.0f; after both passes, u8 = trunc(v * 255) clamped to
 * [0, 255] (NaN and <= 0 give 0). */
int gr_image_axis_taps(int in, int out);
void gr_image_axis_weights(int in, int out, int taps, float *w, int *bounds);

/* Eagle's normalization: pixel = (u8/255 - 0.5)/0.5 in float32, transposed
 * from H x W x 3 to channels-first [3, H, W]. */
void gr_image_to_pixels(const uint8_t *in, int height, int width, float *out);

/* ---- files ---- */

/* Reads PNG or JPEG (by content) or .npy (by the ".npy" extension) into a
 * malloc'd H x W x 3 buffer. PNG/JPEG: 3 channels as is; RGBA drops alpha
 * (no compositing: the reference feeds RGB frames and alpha carries no
 * colour); gray and gray+alpha replicate the gray level. 16-bit PNGs are
 * reduced to 8 bits by stb_image. */
groot_status gr_image_load(const char *path, uint8_t **pixels, int *height, int *width,
                           gr_error *err);

/* Writes by extension: ".npy" (uint8 [H,W,3]) or ".png". */
groot_status gr_image_save(const char *path, const uint8_t *pixels, int height, int width,
                           gr_error *err);

/* .npy uint8 [H, W, 3]: header versions 1.0 and 2.0 (3.0 too: same layout,
 * UTF-8 header), dtype '|u1' (or '<u1'/'u1'), fortran_order False. Anything
 * else is GROOT_ERR_FORMAT naming what was found. The parser works on a
 * buffer so that it can be tested (and fuzzed) without files. */
groot_status gr_npy_parse_u8(const uint8_t *buf, size_t len, const char *what,
                             const uint8_t **data, int *height, int *width, gr_error *err);
groot_status gr_npy_read_u8(const char *path, uint8_t **pixels, int *height, int *width,
                            gr_error *err);
groot_status gr_npy_write_u8(const char *path, const uint8_t *pixels, int height, int width,
                             gr_error *err);

/* PNG, 8-bit RGB, stored (uncompressed) deflate blocks: simple and exact;
 * size is not a concern for the CLI's 224x224 output. */
groot_status gr_png_write_rgb(const char *path, const uint8_t *pixels, int height, int width,
                              gr_error *err);

#endif
