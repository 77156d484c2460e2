#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *cli_opt(int argc, char **argv, int *i, const char *name, int *bad)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=') {
        return a + n + 1;
    }
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "option %s needs a value\n", name);
        *bad = 1;
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

int cli_parse_long(const char *opt, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "option %s: '%s' is not a whole number in [%ld, %ld]\n", opt, s, min, max);
        return 0;
    }
    *out = v;
    return 1;
}

void cli_report(const char *cmd, const char *what, groot_status st, const void *handle)
{
    fprintf(stderr, "groot %s: %s: %s: %s\n", cmd, what, groot_status_name(st),
            handle ? groot_errmsg(handle) : "");
}

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
