/*
 * Error reporting inside the library. A gr_error travels down every call
 * chain that can fail; the first failure writes its message and the status
 * climbs back up unchanged. There is no global error state.
 */
#ifndef GR_CORE_ERROR_H
#define GR_CORE_ERROR_H

#include "groot.h"

#define GR_ERRMSG_MAX 1024

typedef struct gr_error {
    groot_status status;
    char msg[GR_ERRMSG_MAX];
} gr_error;

/* Records status and a printf-style message in err (if err is not NULL) and
 * returns status, so that callers can write `return gr_fail(err, ...)`. */
groot_status gr_fail(gr_error *err, groot_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in err with more context ("loading X: ..."). */
groot_status gr_error_prefix(gr_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void gr_error_clear(gr_error *err);

/* Every public handle starts with this, so that groot_errmsg can read any of
 * them. The magic catches a pointer that is not a groot handle. */
#define GR_HANDLE_MAGIC 0x67726f6fu /* "groo" */
typedef struct gr_handle {
    unsigned magic;
    gr_error err;
} gr_handle;

void gr_handle_init(gr_handle *h);

/* Propagate a failure: evaluate expr (a groot_status) and return it if not OK. */
#define GR_TRY(expr)                                  \
    do {                                              \
        groot_status gr_try_status_ = (expr);         \
        if (gr_try_status_ != GROOT_OK)               \
            return gr_try_status_;                    \
    } while (0)

#endif
