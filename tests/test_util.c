#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

int tu_checks, tu_failures;

double tu_rel_err(const float *out, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i]))
            return INFINITY;
        double d = (double)out[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    if (den == 0)
        return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

const char *tu_data(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", GROOT_TEST_DATA, rel);
    return buf;
}

const char *tu_tmpdir(void)
{
    static char bufs[8][256];
    static int next;
    char *b = bufs[next++ % 8];
    const char *base = getenv("TMPDIR");
    snprintf(b, 256, "%s/groot-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(b)) {
        perror("mkdtemp");
        exit(2);
    }
    return b;
}

void tu_write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

int tu_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, tu_checks, tu_failures);
    return tu_failures ? 1 : 0;
}

void tu_check_alloc_refusals(gr_backend *be)
{
    const struct {
        int64_t rows, cols;
        gr_dtype dt;
        const char *needle;
    } bad[] = {{-1, 4, GR_F32, "bad shape"},
               {4, -1, GR_F32, "bad shape"},
               {INT64_MAX / 2, INT64_MAX / 2, GR_F32, "bad shape"},
               {(int64_t)1 << 40, (int64_t)1 << 30, GR_BF16, "bad shape"},
               {4, 4, GR_DTYPE_COUNT, "unknown dtype"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gr_tensor t;
        groot_status st = be->ops->alloc(be, &t, bad[i].rows, bad[i].cols, bad[i].dt);
        CHECK(st == GROOT_ERR_INVALID_ARG && strstr(be->err.msg, "alloc") && strstr(be->err.msg, bad[i].needle) &&
                  t.data == NULL,
              "alloc [%lld, %lld] dtype %d: %s (%s)", (long long)bad[i].rows, (long long)bad[i].cols,
              (int)bad[i].dt, groot_status_name(st), be->err.msg);
    }
}
