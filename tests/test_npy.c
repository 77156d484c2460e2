/* .npy uint8 [H,W,3]: round trip through a file, headers of both versions,
 * and hostile headers, each rejected with a message naming what is wrong. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "test_util.h"

/* Builds a .npy in buf: magic, version, header dict (padded to 64), data. */
static size_t make_npy(uint8_t *buf, int major, const char *dict, const uint8_t *data,
                       size_t ndata)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t dl = strlen(dict);
    size_t hlen = dl + 1;
    hlen += (64 - (pre + hlen) % 64) % 64;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    if (major == 1) {
        buf[8] = (uint8_t)hlen;
        buf[9] = (uint8_t)(hlen >> 8);
    } else {
        for (int i = 0; i < 4; i++)
            buf[8 + i] = (uint8_t)(hlen >> (8 * i));
    }
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hlen - dl - 1);
    buf[pre + hlen - 1] = '\n';
    memcpy(buf + pre + hlen, data, ndata);
    return pre + hlen + ndata;
}

static void expect_fail(const uint8_t *buf, size_t len, const char *needle, const char *why)
{
    gr_error err;
    gr_error_clear(&err);
    const uint8_t *d;
    int h, w;
    groot_status st = gr_npy_parse_u8(buf, len, "t.npy", &d, &h, &w, &err);
    CHECK(st == GROOT_ERR_FORMAT, "%s: accepted (status %d)", why, st);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", why, err.msg,
          needle);
}

int main(void)
{
    static uint8_t buf[4096], px[2 * 3 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 17);
    gr_error err;
    const uint8_t *d;
    int h, w;

    /* Well-formed, both versions, keys in any order, spacing numpy-like. */
    size_t n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 3), }",
                        px, sizeof px);
    CHECK(gr_npy_parse_u8(buf, n, "t.npy", &d, &h, &w, &err) == GROOT_OK, "%s", err.msg);
    CHECK(h == 2 && w == 3 && memcmp(d, px, sizeof px) == 0, "v1 content");
    n = make_npy(buf, 2, "{'shape':(2,3,3),'fortran_order':False,'descr':'<u1'}", px, sizeof px);
    CHECK(gr_npy_parse_u8(buf, n, "t.npy", &d, &h, &w, &err) == GROOT_OK, "%s", err.msg);
    CHECK(h == 2 && w == 3 && memcmp(d, px, sizeof px) == 0, "v2 content");

    /* Hostile or unsupported. */
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 3), }", px,
                 sizeof px);
    uint8_t bad[4096];
    memcpy(bad, buf, n);
    bad[1] = 'X';
    expect_fail(bad, n, "magic", "wrong magic");
    expect_fail(buf, 8, "not a .npy", "shorter than the preamble");
    expect_fail(buf, 40, "truncated .npy header", "cut inside the header");
    expect_fail(buf, n - 1, "data truncated", "cut inside the data");
    memcpy(bad, buf, n);
    bad[6] = 9;
    expect_fail(bad, n, "version 9", "unknown version");

    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (200, 300, 3), }", px,
                 sizeof px);
    expect_fail(buf, n, "needs 180000 bytes", "shape larger than the data");
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3, 3), }", px,
                 sizeof px);
    expect_fail(buf, n, "Fortran order", "fortran order");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 3), }", px,
                 sizeof px);
    expect_fail(buf, n, "'<f4'", "float dtype");
    n = make_npy(buf, 1, "{'descr': [('a', '|u1')], 'fortran_order': False, 'shape': (2,), }", px,
                 sizeof px);
    expect_fail(buf, n, "descr", "structured dtype");
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }", px,
                 sizeof px);
    expect_fail(buf, n, "(2, 3, 4)", "4 channels");
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (18,), }", px,
                 sizeof px);
    expect_fail(buf, n, "(18)", "one dimension");
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (-2, 3, 3), }", px,
                 sizeof px);
    expect_fail(buf, n, "shape", "negative dimension");
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999, 3, 3), }",
                 px, sizeof px);
    expect_fail(buf, n, "shape", "huge dimension");
    n = make_npy(buf, 1, "{'descr': '|u1', 'shape': (2, 3, 3), }", px, sizeof px);
    expect_fail(buf, n, "'fortran_order'", "missing key");
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 3), 'x': 1}",
                 px, sizeof px);
    expect_fail(buf, n, "'x'", "extra key");
    n = make_npy(buf, 1, "['descr']", px, sizeof px);
    expect_fail(buf, n, "dict", "not a dict");
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 3)", px, 0);
    expect_fail(buf, n, "malformed", "unterminated dict");

    /* File round trip. */
    const char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/img.npy", dir);
    int H = 37, W = 53;
    uint8_t *img = malloc((size_t)H * W * 3);
    for (size_t i = 0; i < (size_t)H * W * 3; i++)
        img[i] = (uint8_t)(i * 31 + 7);
    CHECK(gr_npy_write_u8(path, img, H, W, &err) == GROOT_OK, "%s", err.msg);
    uint8_t *back = NULL;
    CHECK(gr_npy_read_u8(path, &back, &h, &w, &err) == GROOT_OK, "%s", err.msg);
    CHECK(back && h == H && w == W && memcmp(back, img, (size_t)H * W * 3) == 0,
          "round trip differs");
    free(back);
    /* numpy aligns data to 64 bytes; so must our writer. */
    FILE *f = fopen(path, "rb");
    uint8_t pre[10];
    CHECK(f && fread(pre, 1, 10, f) == 10, "reread");
    if (f)
        fclose(f);
    CHECK((10 + (pre[8] | pre[9] << 8)) % 64 == 0, "header not 64-aligned");
    CHECK(gr_npy_read_u8("/nonexistent/x.npy", &back, &h, &w, &err) == GROOT_ERR_IO,
          "missing file");
    free(img);
    return tu_finish("test_npy");
}
