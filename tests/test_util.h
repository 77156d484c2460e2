/* A minimal check harness for groot's C tests. Each failed CHECK prints where
 * and why and is counted; tu_finish prints the tally and gives the exit code. */
#ifndef GROOT_TEST_UTIL_H
#define GROOT_TEST_UTIL_H

#include <stddef.h>
#include <stdio.h>

extern int tu_checks, tu_failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        tu_checks++;                                                           \
        if (!(cond)) {                                                         \
            tu_failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* ||out - ref|| / ||ref|| in double; NaN anywhere in out gives +inf. */
double tu_rel_err(const float *out, const float *ref, size_t n);
/* Path under tests/data ("goldens/tiny/cases.safetensors"), in a static buffer. */
const char *tu_data(const char *rel);
/* A fresh empty temporary directory (mkdtemp), in a static buffer per call slot. */
const char *tu_tmpdir(void);
/* Writes text to dir/name (to name alone when dir is NULL); exits on failure. */
void tu_write_file(const char *dir, const char *name, const char *text);
/* A backend refuses allocations no buffer can hold (negative, overflowing
 * and unknown-dtype shapes) with GROOT_ERR_INVALID_ARG, a message naming
 * alloc, and nothing held. */
struct gr_backend;
void tu_check_alloc_refusals(struct gr_backend *be);
int tu_finish(const char *name);

#endif
