/*
 * The public image-preprocessing calls (include/groot.h): thin wrappers that
 * turn gr_error into the caller's errbuf. They allocate their scratch per
 * call; the policy keeps a gr_resizer instead.
 */
#include <stdio.h>
#include <stdlib.h>

#include "image/image.h"

static groot_status report(groot_status st, const gr_error *err, char *errbuf, size_t size)
{
    if (errbuf && size)
        snprintf(errbuf, size, "%s", st == GROOT_OK ? "" : err->msg);
    return st;
}

groot_status groot_image_load(const char *path, uint8_t **pixels, int *height, int *width,
                              char *errbuf, size_t errbuf_size)
{
    gr_error err;
    gr_error_clear(&err);
    groot_status st;
    if (!path || !pixels || !height || !width)
        st = gr_fail(&err, GROOT_ERR_INVALID_ARG, "groot_image_load: NULL argument");
    else
        st = gr_image_load(path, pixels, height, width, &err);
    return report(st, &err, errbuf, errbuf_size);
}

void groot_image_free(uint8_t *pixels)
{
    free(pixels);
}

groot_status groot_image_preprocess(const uint8_t *pixels, int height, int width,
                                    double crop_scale, int out_height, int out_width,
                                    uint8_t *out, char *errbuf, size_t errbuf_size)
{
    gr_error err;
    gr_error_clear(&err);
    gr_resizer r;
    gr_resizer_init(&r);
    groot_status st = gr_image_crop_resize(&r, pixels, height, width, crop_scale, out_height,
                                           out_width, out, &err);
    gr_resizer_free(&r);
    return report(st, &err, errbuf, errbuf_size);
}

groot_status groot_image_save(const char *path, const uint8_t *pixels, int height, int width,
                              char *errbuf, size_t errbuf_size)
{
    gr_error err;
    gr_error_clear(&err);
    groot_status st;
    if (!path || !pixels)
        st = gr_fail(&err, GROOT_ERR_INVALID_ARG, "groot_image_save: NULL argument");
    else
        st = gr_image_save(path, pixels, height, width, &err);
    return report(st, &err, errbuf, errbuf_size);
}
