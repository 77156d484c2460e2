/* The .npy and json_numpy codecs: round trips, NumPy's exact header bytes,
 * and hostile input (each must be a clean error, never a crash; run under
 * ASan via GROOT_SANITIZE). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/json_numpy.h"
#include "server/npy.h"
#include "test_util.h"

#define MAXB ((size_t)64 << 20)

/* A .npy file with a given header dict and n data bytes of 0x11. */
static uint8_t *make_npy(int major, const char *dict, size_t ndata, size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, h = strlen(dict) + 1;
    *len = pre + h + ndata;
    uint8_t *b = malloc(*len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major, b[7] = 0;
    if (major == 1) {
        b[8] = (uint8_t)(h & 0xff), b[9] = (uint8_t)(h >> 8);
    } else {
        for (int i = 0; i < 4; i++) b[8 + i] = (uint8_t)(h >> (8 * i));
    }
    memcpy(b + pre, dict, h - 1);
    b[pre + h - 1] = '\n';
    memset(b + pre + h, 0x11, ndata);
    return b;
}

static int decode_ok(const uint8_t *b, size_t n, groot_array *a, char *err)
{
    return npy_decode(b, n, MAXB, a, err, 256) == 0;
}

static void expect_error(int major, const char *dict, size_t ndata, const char *want)
{
    size_t n;
    uint8_t *b = make_npy(major, dict, ndata, &n);
    groot_array a;
    char err[256] = "";
    int ok = decode_ok(b, n, &a, err);
    CHECK(!ok, "accepted %s", dict);
    if (ok) free((void *)a.data);
    CHECK(ok || strstr(err, want), "for %s: error '%s' does not mention '%s'", dict, err, want);
    free(b);
}

static void test_numpy_bytes(void)
{
    /* Headers exactly as np.save writes them (NumPy 2.x). */
    static const char want[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (16, 7), }";
    float data[16 * 7];
    for (int i = 0; i < 16 * 7; i++) data[i] = (float)i * 0.5f;
    groot_array a = {"action.x", GROOT_F32, 2, {16, 7}, data};
    uint8_t *b;
    size_t n;
    char err[256];
    CHECK(npy_encode(&a, &b, &n, err, sizeof err) == 0, "%s", err);
    CHECK(n == 128 + sizeof data, "length %zu", n);
    CHECK(memcmp(b, want, sizeof want - 1) == 0, "header differs from NumPy's");
    for (size_t i = sizeof want - 1; i < 127; i++) CHECK(b[i] == ' ', "byte %zu is not padding", i);
    CHECK(b[127] == '\n', "header does not end in a newline");
    groot_array d;
    CHECK(decode_ok(b, n, &d, err), "%s", err);
    CHECK(d.dtype == GROOT_F32 && d.ndim == 2 && d.shape[0] == 16 && d.shape[1] == 7, "shape lost");
    CHECK(memcmp(d.data, data, sizeof data) == 0, "data lost");
    free((void *)d.data);
    free(b);

    static const char want1[] = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
    static const char want0[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (), }";
    uint8_t u[3] = {1, 2, 3};
    double x = 2.5;
    groot_array a1 = {"u", GROOT_U8, 1, {3}, u}, a0 = {"x", GROOT_F64, 0, {0}, &x};
    CHECK(npy_encode(&a1, &b, &n, err, sizeof err) == 0 && n == 131 && memcmp(b + 10, want1, sizeof want1 - 1) == 0,
          "1-d header");
    free(b);
    CHECK(npy_encode(&a0, &b, &n, err, sizeof err) == 0 && n == 136 && memcmp(b + 10, want0, sizeof want0 - 1) == 0,
          "0-d header");
    CHECK(decode_ok(b, n, &d, err) && d.ndim == 0 && *(const double *)d.data == 2.5, "0-d round trip: %s", err);
    free((void *)d.data);
    free(b);
}

static void test_round_trips(void)
{
    const groot_dtype dts[] = {GROOT_U8, GROOT_I8, GROOT_I16, GROOT_I32, GROOT_I64,
                               GROOT_F16, GROOT_F32, GROOT_F64, GROOT_BOOL};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        uint8_t raw[2 * 3 * 4 * 8];
        for (size_t i = 0; i < sizeof raw; i++) raw[i] = (uint8_t)(i * 7 + k);
        if (dts[k] == GROOT_BOOL)
            for (size_t i = 0; i < sizeof raw; i++) raw[i] &= 1;
        groot_array a = {"a", dts[k], 3, {2, 3, 4}, raw}, d;
        uint8_t *b;
        size_t n;
        char err[256];
        CHECK(npy_encode(&a, &b, &n, err, sizeof err) == 0, "%s", err);
        CHECK(decode_ok(b, n, &d, err), "%s: %s", npy_descr(dts[k]), err);
        CHECK(d.dtype == dts[k] && d.ndim == 3 && d.shape[2] == 4, "%s: shape", npy_descr(dts[k]));
        CHECK(memcmp(d.data, raw, 24 * npy_itemsize(dts[k])) == 0, "%s: data", npy_descr(dts[k]));
        free((void *)d.data);
        free(b);
    }
    /* Versions 2.0 and 3.0, other spellings NumPy accepts, empty arrays. */
    size_t n;
    groot_array d;
    char err[256];
    const char *good[] = {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                          "{\"descr\": \"<f4\", \"shape\": (2,3), \"fortran_order\": False}",
                          "{'shape': (6,), 'fortran_order': False, 'descr': '<f4'}   "};
    for (int major = 1; major <= 3; major++)
        for (int g = 0; g < 3; g++) {
            uint8_t *b = make_npy(major, good[g], 24, &n);
            CHECK(decode_ok(b, n, &d, err), "v%d %s: %s", major, good[g], err);
            free((void *)d.data);
            free(b);
        }
    uint8_t *b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", 0, &n);
    CHECK(decode_ok(b, n, &d, err) && d.shape[0] == 0, "empty array: %s", err);
    free((void *)d.data);
    free(b);
}

static void test_hostile(void)
{
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", 40, "claims 400 data bytes");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 40, "claims 8 data bytes");
    expect_error(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 5), }", 40, "fortran_order");
    expect_error(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, "unsupported dtype '|O'");
    expect_error(1, "{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }", 20, "unsupported dtype");
    expect_error(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4, "unsupported dtype");
    expect_error(1, "{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }", 4, "unsupported dtype");
    expect_error(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4, "structured");
    /* 2 GB claimed with 16 bytes present: refused by size before any allocation. */
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (536870912,), }", 16, "limit");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 16,
                 "overflow");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 16,
                 "overflow");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, "dimensions");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4, "non-negative");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", 16, "not a tuple");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [4], }", 16, "not a tuple");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False}", 4, "missing 'shape'");
    expect_error(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "repeated");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, "unexpected");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", 4, "trailing");
    expect_error(1, "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", 4, "missing ','");
    expect_error(1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}", 4, "npy");
    expect_error(1, "__import__('os').system('true')", 4, "not a dict");
    expect_error(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4, "not a bool");

    char err[256];
    groot_array a;
    size_t n;
    uint8_t *b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12, &n);
    CHECK(npy_decode(b, n, 8, &a, err, sizeof err) != 0 && strstr(err, "limit"), "max_bytes not enforced");
    b[6] = 4;
    CHECK(npy_decode(b, n, MAXB, &a, err, sizeof err) != 0 && strstr(err, "version"), "version 4 accepted");
    b[6] = 1, b[8] = 0xff, b[9] = 0xff;
    CHECK(npy_decode(b, n, MAXB, &a, err, sizeof err) != 0 && strstr(err, "runs past"), "long header accepted");
    b[8] = (uint8_t)(n - 12 - 10 + 1), b[9] = 0;
    b[0] = 'X';
    CHECK(npy_decode(b, n, MAXB, &a, err, sizeof err) != 0 && strstr(err, "magic"), "bad magic accepted");
    free(b);
    b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12, &n);
    b[20] = (uint8_t)0xc3;
    CHECK(npy_decode(b, n, MAXB, &a, err, sizeof err) != 0 && strstr(err, "non-ASCII"), "non-ASCII accepted");
    free(b);
    CHECK(npy_decode(NULL, 0, MAXB, &a, err, sizeof err) != 0, "NULL accepted");

    /* Every truncation of a valid file, and random mutations of it. */
    b = make_npy(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", 32, &n);
    for (size_t cut = 0; cut < n; cut++) {
        int ok = npy_decode(b, cut, MAXB, &a, err, sizeof err) == 0;
        CHECK(!ok, "truncation at %zu accepted", cut);
        if (ok) free((void *)a.data);
    }
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    uint8_t *m = malloc(n);
    for (int it = 0; it < 20000; it++) {
        memcpy(m, b, n);
        for (int k = 0; k < 1 + it % 4; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            m[(rng >> 33) % n] = (uint8_t)(rng >> 17);
        }
        if (npy_decode(m, n, MAXB, &a, err, sizeof err) == 0) free((void *)a.data);
    }
    for (int it = 0; it < 20000; it++) {
        size_t len = it % 200;
        uint8_t r[200];
        for (size_t i = 0; i < len; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            r[i] = (uint8_t)(rng >> 40);
        }
        if (len >= 6) memcpy(r, "\x93NUMPY", 6);
        if (npy_decode(r, len, MAXB, &a, err, sizeof err) == 0) free((void *)a.data);
    }
    free(m);
    free(b);
}

static void test_json_numpy(void)
{
    const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = b64_encode(cases[i], strlen(cases[i]));
        CHECK(e && strcmp(e, want[i]) == 0, "b64(%s) = %s", cases[i], e ? e : "NULL");
        uint8_t *d;
        size_t n;
        CHECK(b64_decode(want[i], strlen(want[i]), 100, &d, &n) == 0 && n == strlen(cases[i]) &&
                  memcmp(d, cases[i], n) == 0,
              "unb64(%s)", want[i]);
        free(d);
        free(e);
    }
    const char *bad[] = {"Zg=", "Z===", "Zg==Zg==", "Zm9v!", "Zm=v", "===="};
    for (int i = 0; i < 6; i++) {
        uint8_t *d;
        size_t n;
        CHECK(b64_decode(bad[i], strlen(bad[i]), 100, &d, &n) != 0, "accepted base64 '%s'", bad[i]);
    }

    float v[6] = {1, 2, 3, 4, 5, 6};
    groot_array a = {"state.x", GROOT_F32, 2, {1, 6}, v}, d;
    char err[256];
    cJSON *j = json_numpy_encode(&a, err, sizeof err);
    CHECK(j && json_numpy_is_array(j), "encode: %s", err);
    CHECK(json_numpy_decode(j, MAXB, &d, err, sizeof err) == 0 && d.shape[1] == 6 && memcmp(d.data, v, 24) == 0,
          "json_numpy round trip: %s", err);
    free((void *)d.data);
    cJSON_Delete(j);

    const char *hostile[] = {
        "{\"__numpy__\": \"AAAA\", \"dtype\": \"<f4\", \"shape\": [2]}",          /* 3 bytes for 8 */
        "{\"__numpy__\": \"AAAAAA==\", \"dtype\": \"|O\", \"shape\": [1]}",        /* object dtype */
        "{\"__numpy__\": \"AAAA\", \"dtype\": \"<f4\", \"shape\": [536870912]}",  /* 2 GB claimed */
        "{\"__numpy__\": \"AAAA\", \"dtype\": \"<f4\", \"shape\": [-1]}",
        "{\"__numpy__\": \"AAAA\", \"dtype\": \"<f4\", \"shape\": [1.5]}",
        "{\"__numpy__\": \"AAAA\", \"dtype\": \"<f4\", \"shape\": \"[1]\"}",
        "{\"__numpy__\": 5, \"dtype\": \"<f4\", \"shape\": [1]}",
        "{\"__numpy__\": \"A!AA\", \"dtype\": \"|u1\", \"shape\": [3]}",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        cJSON *h = cJSON_Parse(hostile[i]);
        int ok = json_numpy_decode(h, MAXB, &d, err, sizeof err) == 0;
        CHECK(!ok, "accepted %s", hostile[i]);
        if (ok) free((void *)d.data);
        cJSON_Delete(h);
    }
}

int main(void)
{
    test_numpy_bytes();
    test_round_trips();
    test_hostile();
    test_json_numpy();
    return tu_finish("test_npy_codec");
}
