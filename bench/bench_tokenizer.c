/* Tokenizer throughput on a 10 kB mixed text (ASCII prose, accents, CJK,
 * emoji, digits, newlines): tokens per second, median of several runs, with
 * a cold piece cache (first encode of a fresh tokenizer) and a warm one, and
 * the time to build and encode a two-view policy prompt. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/prompt.h"
#include "text/tokenizer.h"

#define RUNS 21

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* Words drawn with a fixed xorshift sequence, so every run sees the same text. */
static char *mixed_text(size_t target, size_t *len)
{
    static const char *const parts[] = {
        "pick ", "the ", "pear ", "from ", "the counter ", "and place it ", "in the plate. ",
        "Open the drawer, ", "then put the red cube inside! ", "It's ", "we'll ", "don't ",
        "caf\xC3\xA9 ", "na\xC3\xAFve ", "Stra\xC3\x9F" "e ", "\xC3\xA0 la carte ",
        "\xE6\x9C\xBA\xE5\x99\xA8\xE4\xBA\xBA", "\xE6\x8A\x93\xE5\x8F\x96\xE8\x8B\xB9\xE6\x9E\x9C",
        "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF", "\xF0\x9F\xA4\x96 ",
        "\xF0\x9F\x91\x8D ", "42 ", "3.14159 ", "2025-01-01 ", "\n", "\n\n", "    ", "\t",
        "(x, y) = [1, 2]; ", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 "};
    size_t np = sizeof parts / sizeof parts[0];
    char *s = malloc(target + 64);
    size_t n = 0;
    uint64_t x = 0x2545F4914F6CDD1Dull;
    while (s && n < target) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const char *p = parts[x % np];
        memcpy(s + n, p, strlen(p));
        n += strlen(p);
    }
    *len = n;
    return s;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : GROOT_ASSETS_DIR "/eagle2_hg_model";
    size_t len;
    char *text = mixed_text(10 * 1024, &len);
    gr_error err = {0};
    double load[5], cold[5], warm[RUNS], prompt[RUNS];
    size_t n = 0;
    const int32_t *ids;
    for (int r = 0; r < 5; r++) {
        gr_tokenizer *tok;
        double t0 = now_s();
        if (gr_tokenizer_load(dir, &tok, &err) != GROOT_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            return 1;
        }
        double t1 = now_s();
        if (gr_tokenizer_encode(tok, text, len, &ids, &n, &err) != GROOT_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            return 1;
        }
        double t2 = now_s();
        load[r] = t1 - t0;
        cold[r] = t2 - t1;
        if (r == 4) {
            for (int k = 0; k < RUNS; k++) {
                double a = now_s();
                gr_tokenizer_encode(tok, text, len, &ids, &n, &err);
                warm[k] = now_s() - a;
            }
            size_t pn = 0;
            for (int k = 0; k < RUNS; k++) {
                double a = now_s();
                gr_prompt_ids(tok, 2, "Open the drawer, then put the red cube inside!", 256, &ids,
                              &pn, &err);
                prompt[k] = now_s() - a;
            }
            printf("prompt (2 views x 256 image tokens, %zu ids): %.1f us median\n", pn,
                   median(prompt, RUNS) * 1e6);
        }
        gr_tokenizer_free(tok);
    }
    double c = median(cold, 5), w = median(warm, RUNS);
    printf("text: %zu bytes -> %zu tokens\n", len, n);
    printf("load (vocab.json + merges.txt + added_tokens.json): %.1f ms median\n",
           median(load, 5) * 1e3);
    printf("cold cache: %.0f tokens/s (%.2f MB/s), %.3f ms per encode, median of 5\n", (double)n / c,
           (double)len / c / 1e6, c * 1e3);
    printf("warm cache: %.0f tokens/s (%.2f MB/s), %.3f ms per encode, median of %d\n",
           (double)n / w, (double)len / w / 1e6, w * 1e3, RUNS);
    free(text);
    return 0;
}
