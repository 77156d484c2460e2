/*
 * Image files in and out: PNG/JPEG decoding through stb_image (the only
 * translation unit that instantiates it), .npy by extension, and saving by
 * extension.
 */
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
/* Decode errors come back as messages, never as asserts; files are read by
 * gr_read_file. stb keeps its failure reason thread-local. */
#define STBI_ASSERT(x) ((void)0)
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#include <stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "image/image.h"
#include "io/json_util.h" /* gr_read_file */

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    if (n < e)
        return 0;
    const char *p = path + n - e;
    for (size_t i = 0; i < e; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != ext[i])
            return 0;
    }
    return 1;
}

groot_status gr_image_load(const char *path, uint8_t **pixels, int *height, int *width,
                           gr_error *err)
{
    if (has_ext(path, ".npy"))
        return gr_npy_read_u8(path, pixels, height, width, err);

    char *bytes = NULL;
    size_t len = 0;
    GR_TRY(gr_read_file(path, &bytes, &len, err));
    if (len > 0x7fffffff) {
        free(bytes);
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: image file too large (%zu bytes)", path, len);
    }
    int w = 0, h = 0, channels = 0;
    /* Ask for the file's own channel count, then convert ourselves, so that
     * the conversion is the documented one rather than stb's luma rules. */
    uint8_t *img = stbi_load_from_memory((const stbi_uc *)bytes, (int)len, &w, &h, &channels, 0);
    free(bytes);
    if (!img)
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: cannot decode as PNG or JPEG: %s", path,
                       stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
    if (w <= 0 || h <= 0 || channels < 1 || channels > 4) {
        stbi_image_free(img);
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: decoded %dx%d with %d channels: unsupported",
                       path, h, w, channels);
    }
    size_t n = (size_t)w * h;
    uint8_t *out = malloc(n * 3);
    if (!out) {
        stbi_image_free(img);
        return gr_fail(err, GROOT_ERR_NOMEM, "%s: out of memory for a %dx%d image", path, h, w);
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = img + i * (size_t)channels;
        if (channels >= 3) { /* RGB, or RGBA with alpha dropped */
            out[i * 3] = s[0];
            out[i * 3 + 1] = s[1];
            out[i * 3 + 2] = s[2];
        } else { /* gray or gray+alpha: replicate the level */
            out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = s[0];
        }
    }
    stbi_image_free(img);
    *pixels = out;
    *height = h;
    *width = w;
    return GROOT_OK;
}

groot_status gr_image_save(const char *path, const uint8_t *pixels, int height, int width,
                           gr_error *err)
{
    if (has_ext(path, ".npy"))
        return gr_npy_write_u8(path, pixels, height, width, err);
    if (has_ext(path, ".png"))
        return gr_png_write_rgb(path, pixels, height, width, err);
    return gr_fail(err, GROOT_ERR_INVALID_ARG,
                   "%s: unknown output format: expected a .png or .npy file name", path);
}
