#include "core/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

groot_status gr_env_choice(const char *name, const char *const *choices, int n, int *index, gr_error *err)
{
    *index = -1;
    const char *v = getenv(name);
    if (!v || !*v)
        return GROOT_OK;
    for (int i = 0; i < n; i++)
        if (strcmp(v, choices[i]) == 0) {
            *index = i;
            return GROOT_OK;
        }
    char list[128] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof list; i++) {
        const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
        int w = snprintf(list + len, sizeof list - len, "%s%s", sep, choices[i]);
        len += w > 0 ? (size_t)w : 0;
    }
    return gr_fail(err, GROOT_ERR_INVALID_ARG, "%s=%.40s: expected %s (or unset)", name, v, list);
}

groot_status gr_env_int(const char *name, long lo, long hi, long *value, gr_error *err)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return GROOT_OK;
    char *end = NULL;
    errno = 0;
    const long x = strtol(v, &end, 10);
    if (errno || *end != '\0' || x < lo || x > hi)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "%s=%.40s: expected a whole number from %ld to %ld", name, v, lo,
                       hi);
    *value = x;
    return GROOT_OK;
}
